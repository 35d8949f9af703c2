"""What a route sees of one resident message: the message, its committee and compound, and
the conversation's state (saved by the pipeline after the turn)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain import Committee, Compound, IncomingMessage, Reply


@dataclass(slots=True)
class Turn:
    msg: IncomingMessage
    text: str
    """The resident's text, trimmed and bounded in length (the log keeps the original)."""
    committee: Committee
    compound: Compound | None
    state: dict[str, Any] = field(default_factory=dict)
    """Conversation state (slots, pending choices, mode); the pipeline persists it."""

    @property
    def is_group(self) -> bool:
        return self.msg.chat.type.value == "group"


class Route(Protocol):
    """One way of answering. Returns replies when it handled the turn, None to pass it on."""

    name: str
    capability: str | None
    """What this route lets Linli do, in Chinese, for the fallback's list (None: not listed)."""

    async def __call__(self, turn: Turn) -> list[Reply] | None: ...

"""What a route sees of one resident message: the message, its committee and compound, the
NLU's reading, and the conversation (whose state the pipeline saves after the turn)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.domain import ChatType, Committee, Compound, IncomingMessage, Reply
from bot.nlu.types import ParseResult
from bot.storage.conversations import Conversation


class Understanding(Protocol):
    """The NLU as the dialogue uses it."""

    async def aparse(
        self, text: str, *, committee: str | None = None, scan: str | None = None
    ) -> ParseResult:
        """``scan``: the whole message when ``text`` is its bounded head (crisis rules)."""
        ...


@dataclass(slots=True)
class Turn:
    msg: IncomingMessage
    text: str
    """The resident's text, trimmed and bounded in length (the log keeps the original)."""
    committee: Committee
    compound: Compound | None
    parse: ParseResult
    conversation: Conversation

    @property
    def state(self) -> dict[str, Any]:
        """Dialogue state that survives restarts (slots, pending choices, counters)."""
        return self.conversation.state

    @property
    def is_group(self) -> bool:
        return self.msg.chat.type is ChatType.GROUP

    def remember_compound(self, compound: Compound) -> None:
        self.compound = compound
        self.conversation.compound = compound.id


def state_time(value: object) -> datetime | None:
    """A time kept in conversation state (ISO 8601, with its zone), or None when there is
    none or it does not read as one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


HandOver = Callable[["Turn", str], Awaitable[list[Reply]]]
"""Hand the turn's conversation to a caseworker for a reason; returns what to tell the resident."""

AlertStaff = Callable[[str, str], Awaitable[bool]]
"""Push a text to a committee's staff group; False when it could not be sent."""


class Route(Protocol):
    """One way of answering. Returns replies when it handled the turn, None to pass it on."""

    @property
    def name(self) -> str: ...

    @property
    def capability(self) -> str | None:
        """What this route lets Linli do, in Chinese, for the fallback's list (None: unlisted)."""

    async def __call__(self, turn: Turn) -> list[Reply] | None: ...

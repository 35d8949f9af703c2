"""The transport-neutral core: ``handle(IncomingMessage) -> list[Reply]``.

Order of work for a message: events and non-text first, then under the conversation lock:
load state → each route in turn (the first that answers wins) → the fallback → save state.
Routes are added by later capabilities; the pipeline does not change for them.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

from bot.dialogue import texts
from bot.dialogue.turn import Route, Turn
from bot.domain import (
    ChatType,
    Committee,
    Compound,
    IncomingMessage,
    MessageType,
    Registry,
    Reply,
    ReplyKind,
)
from bot.storage import keys
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

MAX_TEXT = 500
"""Characters of a message the routes look at; the conversation log keeps all of it."""


class Pipeline:
    def __init__(
        self,
        registry: Registry,
        state: StateStore,
        routes: Sequence[Route] = (),
        *,
        conversation_ttl_s: float = 24 * 3600,
    ) -> None:
        self._registry = registry
        self._state = state
        self._routes = list(routes)
        self._ttl = conversation_ttl_s

    @property
    def capabilities(self) -> list[str]:
        return [r.capability for r in self._routes if r.capability]

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        committee = self._registry.committee(msg.committee)
        if msg.type is MessageType.EVENT:
            return self._event(msg, committee)
        text = _clean(msg.text)
        if not text:
            return self._non_text(msg)
        if msg.chat.type is ChatType.GROUP and not msg.mentioned:
            # Residents talk among themselves in the group; Linli answers when addressed.
            return []
        prefix: list[Reply] = []
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT]
            prefix.append(Reply(texts.TOO_LONG, ReplyKind.NOTICE))
        state_key = keys.conversation(msg.conversation_key)
        async with self._state.lock(keys.lock(msg.conversation_key)):
            state = await self._state.get_json(state_key) or {}
            turn = Turn(msg, text, committee, self._compound(msg, committee, state), state)
            replies = await self._route(turn)
            await self._state.set_json(state_key, turn.state, self._ttl)
        return prefix + replies

    async def _route(self, turn: Turn) -> list[Reply]:
        for route in self._routes:
            replies = await route(turn)
            if replies is not None:
                log.info("routed", extra={"route": route.name, "replies": len(replies)})
                return replies
        return [Reply(texts.fallback(turn.committee, self.capabilities), ReplyKind.FALLBACK)]

    def _compound(
        self, msg: IncomingMessage, committee: Committee, state: dict[str, object]
    ) -> Compound | None:
        if msg.chat.type is ChatType.GROUP:
            found = committee.compound_for_chat(msg.chat.id)
            if found is not None:
                return found
        remembered = state.get("compound")
        return committee.compound(remembered) if isinstance(remembered, str) else None

    def _event(self, msg: IncomingMessage, committee: Committee) -> list[Reply]:
        if msg.event in {"subscribe", "enter_chat"}:
            return [Reply(texts.welcome(committee, self.capabilities), ReplyKind.WELCOME)]
        return []

    def _non_text(self, msg: IncomingMessage) -> list[Reply]:
        if msg.chat.type is ChatType.GROUP and not msg.mentioned:
            return []
        if msg.type is MessageType.IMAGE:
            return [Reply(texts.IMAGE, ReplyKind.MEDIA)]
        if msg.type is MessageType.VOICE:
            return [Reply(texts.VOICE, ReplyKind.MEDIA)]
        if msg.type is MessageType.OTHER:
            return [Reply(texts.OTHER, ReplyKind.MEDIA)]
        return [Reply(texts.EMPTY, ReplyKind.FALLBACK)]


def _clean(text: str) -> str:
    """Trim whitespace and invisible characters; keep emoji and mixed scripts."""
    cleaned = "".join(
        ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf"} or ch in "\n\t"
    )
    return cleaned.strip()

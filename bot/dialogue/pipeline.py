"""The transport-neutral core: ``handle(IncomingMessage) -> list[Reply]``.

Order of work for a message:
1. events (subscribe → welcome) and non-text messages;
2. the NLU reads the text (stateless, no lock);
3. an emergency skips everything else — no lock, no mode gate, even unaddressed in a group;
4. in a group, Linli answers only when addressed;
5. under the conversation lock: load the conversation; if a caseworker has it, stay silent and
   pass the message on; otherwise each route in turn (the first that answers wins), else the
   fallback — repeated fallbacks hand over to a caseworker; save the conversation.
Routes are added by capabilities; the pipeline does not change for them.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from bot.background import BackgroundTasks
from bot.dialogue import texts
from bot.dialogue.turn import HandOver, Route, Turn, Understanding
from bot.domain import (
    ChatType,
    Committee,
    Compound,
    IncomingMessage,
    MessageType,
    Registry,
    Reply,
    ReplyKind,
    TicketRef,
)
from bot.nlu.types import ParseResult
from bot.storage import keys
from bot.storage.conversations import Conversation, ConversationStore
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

APPLIED = "applied"
"""Conversation state: the last message applied to it and the replies it got."""

MAX_TEXT = 500
"""Characters of a message the routes look at; the conversation log keeps all of it."""

HUMAN_OUTCOME = ReplyKind.HUMAN.value
"""The outcome of a message the bot stays silent on because a caseworker has it."""

Emergency = Callable[
    [IncomingMessage, Committee, Compound | None, ParseResult], Awaitable[list[Reply]]
]
Forward = Callable[[Conversation, str], Awaitable[None]]
RecordOutcome = Callable[[IncomingMessage, str], Awaitable[None]]
"""Note what the bot did with a message that gets no reply (``MessageLog.record_outcome``)."""


class Pipeline:
    def __init__(
        self,
        registry: Registry,
        state: StateStore,
        conversations: ConversationStore,
        nlu: Understanding,
        routes: Sequence[Route] = (),
        *,
        emergency: Emergency | None = None,
        handoff: HandOver | None = None,
        forward: Forward | None = None,
        record_outcome: RecordOutcome | None = None,
        tasks: BackgroundTasks | None = None,
        handoff_after_fallbacks: int = 2,
    ) -> None:
        self._registry = registry
        self._state = state
        self._conversations = conversations
        self._nlu = nlu
        self._routes = list(routes)
        self._emergency = emergency
        self._handoff = handoff
        self._forward = forward
        self._record_outcome = record_outcome
        self._tasks = tasks
        self._fallback_limit = handoff_after_fallbacks

    @property
    def capabilities(self) -> list[str]:
        caps = [r.capability for r in self._routes if r.capability]
        if self._emergency is not None:
            caps.append("紧急情况（被困电梯、燃气、火情、漏水、有人晕倒）立即提醒并通知值班社工")
        return caps

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        committee = self._registry.committee(msg.committee)
        if msg.type is MessageType.EVENT:
            return self._event(msg, committee)
        text = _clean(msg.text)
        if not text and msg.type is MessageType.IMAGE and msg.media_id:
            return await self._photo(msg)
        if not text:
            return self._non_text(msg)
        prefix: list[Reply] = []
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT]
            if msg.mentioned or msg.chat.type is ChatType.PRIVATE:
                prefix.append(Reply(texts.TOO_LONG, ReplyKind.NOTICE))
        parse = await self._nlu.aparse(text, committee=committee.id)
        if parse.is_emergency and self._emergency is not None:
            compound = self._quick_compound(msg, committee, parse)
            replies = await self._emergency(msg, committee, compound, parse)
            # The console opens the resident's conversation from the alert: make sure there
            # is one, without holding up the reply (the lock may be busy, the store slow).
            remember = self._remember(msg, compound)
            if self._tasks is not None:
                self._tasks.spawn(remember, name="emergency conversation")
            else:
                await remember
            return replies
        if msg.chat.type is ChatType.GROUP and not msg.mentioned:
            # Residents talk among themselves in the group; Linli answers when addressed.
            return []
        async with self._state.lock(keys.lock(msg.conversation_key)) as lease:
            conv = await self._conversations.get(msg.conversation_key) or _new(msg)
            conv.sender_name = msg.sender.name or conv.sender_name
            conv.last_message_at = datetime.now(UTC)
            applied = conv.state.get(APPLIED)
            if isinstance(applied, dict) and applied.get("key") == msg.dedup_key:
                # A retry of a message whose turn was saved but never acknowledged (the store
                # failed afterwards): answer as before instead of applying it twice.
                return prefix + _replies_from(applied.get("replies"))
            if conv.silent:
                await self._conversations.save(conv, fence=lease.token)
                if self._forward is not None:
                    await self._forward(conv, text)
                if self._record_outcome is not None:
                    await self._record_outcome(msg, HUMAN_OUTCOME)
                return []
            turn = Turn(msg, text, committee, self._compound(msg, committee, conv), parse, conv)
            replies = await self._route(turn)
            conv.state[APPLIED] = {"key": msg.dedup_key, "replies": _replies_to(replies)}
            await self._conversations.save(conv, fence=lease.token)
        return prefix + replies

    async def _remember(self, msg: IncomingMessage, compound: Compound | None) -> None:
        """Create or refresh the conversation record of a resident who raised an emergency."""
        async with self._state.lock(keys.lock(msg.conversation_key)) as lease:
            conv = await self._conversations.get(msg.conversation_key) or _new(msg)
            conv.sender_name = msg.sender.name or conv.sender_name
            conv.last_message_at = datetime.now(UTC)
            if compound is not None and not conv.compound:
                conv.compound = compound.id
            await self._conversations.save(conv, fence=lease.token)

    async def _route(self, turn: Turn) -> list[Reply]:
        for route in self._routes:
            replies = await route(turn)
            if replies is not None:
                log.info(
                    "routed",
                    extra={"route": route.name, "intent": turn.parse.intent, "n": len(replies)},
                )
                turn.state.pop("fallbacks", None)
                return replies
        misses = int(turn.state.get("fallbacks", 0)) + 1
        turn.state["fallbacks"] = misses
        if self._handoff is not None and misses >= self._fallback_limit:
            turn.state.pop("fallbacks", None)
            lead = Reply("抱歉，我好像没能理解您的意思。", ReplyKind.HANDOFF)
            return [lead, *await self._handoff(turn, "not_understood")]
        log.info("fallback", extra={"intent": turn.parse.intent, "misses": misses})
        return [Reply(texts.fallback(turn.committee, self.capabilities), ReplyKind.FALLBACK)]

    def _compound(
        self, msg: IncomingMessage, committee: Committee, conv: Conversation
    ) -> Compound | None:
        """The group chat's compound, else the one the resident told us before."""
        return _group_compound(msg, committee) or (
            committee.compound(conv.compound) if conv.compound else None
        )

    def _quick_compound(
        self, msg: IncomingMessage, committee: Committee, parse: ParseResult
    ) -> Compound | None:
        """The compound of an emergency without waiting for any store."""
        named = parse.value("compound")
        return _group_compound(msg, committee) or (committee.compound(named) if named else None)

    async def _photo(self, msg: IncomingMessage) -> list[Reply]:
        """A photo during a report is attached to it (the caseworker sees the media id)."""
        if msg.chat.type is ChatType.GROUP and not msg.mentioned:
            return []
        async with self._state.lock(keys.lock(msg.conversation_key)) as lease:
            conv = await self._conversations.get(msg.conversation_key)
            draft = conv.state.get("draft") if conv is not None else None
            if conv is None or not isinstance(draft, dict):
                return self._non_text(msg)
            photos = [str(p) for p in draft.get("attachments", [])]
            if msg.media_id not in photos:
                photos.append(str(msg.media_id))
            draft["attachments"] = photos[-9:]
            conv.last_message_at = datetime.now(UTC)
            await self._conversations.save(conv, fence=lease.token)
        return [Reply(texts.PHOTO_ATTACHED, ReplyKind.SLOT)]

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


def _group_compound(msg: IncomingMessage, committee: Committee) -> Compound | None:
    if msg.chat.type is ChatType.GROUP:
        return committee.compound_for_chat(msg.chat.id)
    return None


def _new(msg: IncomingMessage) -> Conversation:
    return Conversation(
        key=msg.conversation_key,
        committee=msg.committee,
        channel=msg.channel,
        account=msg.account,
        chat_id=msg.chat.id,
        chat_type=msg.chat.type.value,
        sender_id=msg.sender.id,
        sender_name=msg.sender.name,
    )


def _clean(text: str) -> str:
    """Trim whitespace and invisible characters; keep emoji and mixed scripts."""
    cleaned = "".join(
        ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf"} or ch in "\n\t"
    )
    return cleaned.strip()


def _replies_to(replies: list[Reply]) -> list[dict[str, object]]:
    return [
        {
            "text": r.text,
            "kind": r.kind.value,
            "ticket": None
            if r.ticket is None
            else [r.ticket.number, r.ticket.status, r.ticket.priority],
        }
        for r in replies
    ]


def _replies_from(raw: object) -> list[Reply]:
    out: list[Reply] = []
    for item in raw if isinstance(raw, list) else []:
        ticket = item.get("ticket")
        out.append(
            Reply(
                str(item["text"]),
                ReplyKind(item["kind"]),
                ticket=TicketRef(*ticket) if isinstance(ticket, list) else None,
            )
        )
    return out

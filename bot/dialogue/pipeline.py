"""The transport-neutral core: ``handle(IncomingMessage) -> list[Reply]``.

A message goes through the steps of ``Pipeline.steps`` in order; the first step that answers
(replies, or ``[]`` for silence) ends it, a step that returns None passes the message on:

1. ``events``: subscribe → welcome (silent while a caseworker has the conversation);
2. ``media``: photos (attached to a report being registered) and other non-text messages;
3. ``understand``: the NLU reads the text (stateless, no lock); the crisis rules read all of
   it (mentions of the bot were removed before, and count as addressing it);
4. ``emergency``: a crisis skips everything else — no lock, no mode gate, even unaddressed in
   a group, even while a caseworker has the conversation (then that caseworker is alerted and
   the reply is one safety line);
5. ``mention_gate``: in a group, Linli answers only when addressed (every group message is
   first shown to group etiquette, ``bot.dialogue.etiquette``: a neighbour who speaks answers
   a waiting question; an unaddressed clear question may get a delayed answer);
6. ``etiquette``: an addressed group message — "别在群里回我", personal data (one line in the
   group, the rest privately where the channel allows), the merge window, a resident who asked
   for private replies;
7. ``conversation``: under the conversation lock, the ``turn_steps`` in order —
   ``journal`` (a message whose turn was applied already gets the same answer,
   ``bot.domain.once``), ``human_gate`` (a caseworker has the conversation: silent, the
   message passed on), ``check_in`` (the answer to "is someone in danger now?": "是" makes
   the message asked about an emergency), ``address`` (the address asked for after an
   emergency fills in the urgent ticket), ``routes`` (each route in turn, the first that
   answers wins), ``fallback`` (repeated fallbacks hand over to a caseworker); the turn is
   saved with its journal entry.

Routes are added by capabilities; the pipeline does not change for them. Middleware
(``bot.dialogue.middleware``: metrics, bounded concurrency) wraps ``handle``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.background import BackgroundTasks
from bot.dialogue import texts
from bot.dialogue.etiquette import Etiquette, privately
from bot.dialogue.letters import read_letter, split_questions
from bot.dialogue.mentions import Mentions, restated
from bot.dialogue.middleware import Handler, Middleware
from bot.dialogue.routes.care import (
    CHECK_IN,
    CHECK_IN_DECLINED_AT,
    CHECK_IN_SAFE,
    CHECK_IN_TTL,
    check_in_answer,
    confirmed,
)
from bot.dialogue.routes.emergency import CrisisOutcome
from bot.dialogue.turn import HandOver, Route, Turn, Understanding, state_time
from bot.domain import (
    ChatType,
    Committee,
    Compound,
    IncomingMessage,
    MessageType,
    Registry,
    Reply,
    ReplyKind,
    StoreUnavailable,
    once,
)
from bot.nlu.types import EMERGENCY, EmergencyCategory, ParseResult
from bot.storage import keys
from bot.storage.conversations import Conversation, ConversationStore, Mode
from bot.storage.messages import ANSWER_WITH_TURN
from bot.storage.state import Lease, StateStore

log = logging.getLogger(__name__)

MAX_TEXT = 500
"""Characters of a message the routes look at; the conversation log keeps all of it."""

HUMAN_OUTCOME = ReplyKind.HUMAN.value
"""The outcome of a message the bot stays silent on because a caseworker has it."""

PENDING_LOCATION = "emergency_location"
"""Conversation state: an urgent ticket waiting for the address the bot asked for."""

CRISIS_REASON = "crisis"
"""Handoff reason of a conversation a self-harm message put with a person."""

CRISIS_FOLLOW_UP = "crisis_follow_up"
HELD_LINE_AT = "held_line_at"
"""When a resident waiting for a person was last told their messages reach the caseworkers."""
HELD_LINE_AFTER_S = 3 * 60
"""A resident writing this long after being handed over hears that their messages reach the
caseworkers (right after the handover they were just told)."""
HELD_LINE_EVERY_S = 30 * 60
"""A resident who keeps writing while waiting hears that once in this long, not every time."""
"""Conversation state: the line a resident gets on every message while a self-harm
conversation waits for a person and no staff alert got through (never silence)."""

AWAITING_KEYS = (
    "draft",
    "faq_choices",
    "faq_choices_question",
    "faq_ask_compound",
    "letter",
    "household_bind",
)
"""Conversation state of a question the bot asked and awaits the answer to (a ticket being
registered, "did you mean" choices, the compound, a letter to record): while one is open, a
message is that answer, never split into parts."""
WHOLE_MESSAGE_ROUTES = frozenset({"pending_choice", "satisfaction", "letter"})
"""Routes that read a whole message, not one question of a paragraph."""


class Emergency(Protocol):
    async def __call__(
        self,
        msg: IncomingMessage,
        committee: Committee,
        compound: Compound | None,
        parse: ParseResult,
        *,
        holder: str | None = None,
        someone_else: bool = False,
    ) -> CrisisOutcome: ...


SetLocation = Callable[[str, str, dict[str, str]], Awaitable[str]]
"""Fill in an urgent ticket's place: (committee, ticket number or source key, parts) →
a Chinese description of the place now on the ticket."""
Forward = Callable[[Conversation, str], Awaitable[None]]
RecordOutcome = Callable[[IncomingMessage, str], Awaitable[None]]
"""Note what the bot did with a message that gets no reply (``MessageLog.record_outcome``)."""


@dataclass(slots=True)
class Inbound:
    """One message on its way through the steps."""

    msg: IncomingMessage
    committee: Committee
    text: str
    """The text with mentions of the bot removed, trimmed (empty: not a text message)."""
    head: str
    """``text`` bounded to ``MAX_TEXT`` characters: what the NLU and the routes read."""
    addressed: bool
    notice: list[Reply]
    """Said before the answer (the message was too long to read whole)."""
    parse: ParseResult | None = None
    """The NLU's reading, once the ``understand`` step ran."""
    fence: int | None = None
    """The conversation lock's token, once the ``conversation`` step holds it."""
    lead: list[Reply] = field(default_factory=list)
    """Replies of a turn step that answered part of the message and passed it on."""
    private: bool = False
    """Group etiquette: the replies go to the resident privately."""
    public: list[Reply] = field(default_factory=list)
    """Group etiquette: said before the replies (in the group, unless marked private)."""

    @property
    def reading(self) -> ParseResult:
        if self.parse is None:
            raise RuntimeError("the message is not read yet: a step runs before 'understand'")
        return self.parse


@dataclass(frozen=True, slots=True)
class Step:
    """A named step: replies (``[]`` for silence) end the message's way, None passes it on."""

    name: str
    run: Callable[[Inbound], Awaitable[list[Reply] | None]]


@dataclass(frozen=True, slots=True)
class TurnStep:
    """A named step under the conversation lock."""

    name: str
    run: Callable[[Inbound, Turn], Awaitable[list[Reply] | None]]
    applies: bool = True
    """Its answer is a turn applied to the conversation: saved with its journal entry. A step
    that does not apply a turn answers as it is (and saves what it must itself)."""


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
        set_location: SetLocation | None = None,
        etiquette: Etiquette | None = None,
        tasks: BackgroundTasks | None = None,
        handoff_after_fallbacks: int = 2,
        bot_names: Sequence[str] = ("邻里",),
        middleware: Sequence[Middleware] = (),
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
        self._set_location = set_location
        self._etiquette = etiquette
        self._tasks = tasks
        self._fallback_limit = handoff_after_fallbacks
        self._mentions = Mentions(bot_names)
        # The way of a message, in order (the README's flow).
        self.steps: tuple[Step, ...] = (
            Step("events", self._events),
            Step("media", self._media),
            Step("understand", self._understand),
            Step("emergency", self._emergency_step),
            Step("mention_gate", self._mention_gate),
            Step("etiquette", self._etiquette_step),
            Step("conversation", self._conversation),
        )
        self.turn_steps: tuple[TurnStep, ...] = (
            TurnStep("journal", self._journal, applies=False),
            TurnStep("human_gate", self._human_gate, applies=False),
            TurnStep("check_in", self._check_in),
            TurnStep("address", self._address),
            TurnStep("routes", self._routes_step),
            TurnStep("fallback", self._fallback),
        )
        # The first middleware is the outermost.
        handle: Handler = self._run_steps
        for outer in reversed(middleware):
            handle = _wrap(handle, outer)
        self._handle = handle

    @property
    def capabilities(self) -> list[str]:
        caps = [r.capability for r in self._routes if r.capability]
        if self._emergency is not None:
            caps.append(
                "紧急情况（被困电梯、燃气、火情、漏水、有人晕倒、独居老人联系不上）立即给出安全提示并提醒值班社工"
            )
        return caps

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """The replies to ``msg`` (through the middleware, then the steps)."""
        return await self._handle(msg)

    async def _run_steps(self, msg: IncomingMessage) -> list[Reply]:
        inbound = self._inbound(msg)
        for step in self.steps:
            replies = await step.run(inbound)
            if replies is not None:
                return replies
        raise RuntimeError("no step answered the message")

    def _inbound(self, msg: IncomingMessage) -> Inbound:
        text, named = self._mentions.strip(_clean(msg.text))
        text = restated(text)
        addressed = msg.mentioned or named or msg.chat.type is ChatType.PRIVATE
        head, notice = text, []
        if len(text) > MAX_TEXT:
            head = text[:MAX_TEXT]
            if addressed:
                notice.append(Reply(texts.TOO_LONG, ReplyKind.NOTICE))
        committee = self._registry.committee(msg.committee)
        return Inbound(msg, committee, text, head, addressed, notice)

    # The steps, in their order.

    async def _events(self, inbound: Inbound) -> list[Reply] | None:
        if inbound.msg.type is not MessageType.EVENT:
            return None
        return await self._event(inbound.msg, inbound.committee)

    async def _media(self, inbound: Inbound) -> list[Reply] | None:
        msg = inbound.msg
        if inbound.text:
            return None
        if self._etiquette is not None and msg.type is not MessageType.EVENT:
            await self._etiquette.spoke(msg)  # a photo or a voice message answers too
        if msg.type is MessageType.IMAGE and msg.media_id:
            return await self._photo(msg, inbound.addressed)
        return await self._non_text(msg, inbound.addressed)

    async def _understand(self, inbound: Inbound) -> list[Reply] | None:
        inbound.parse = await self._nlu.aparse(
            inbound.head, committee=inbound.committee.id, scan=inbound.text
        )
        return None

    async def _emergency_step(self, inbound: Inbound) -> list[Reply] | None:
        if self._emergency is None or not inbound.reading.is_emergency:
            return None
        return await self._crisis(inbound.msg, inbound.committee, inbound.reading)

    async def _mention_gate(self, inbound: Inbound) -> list[Reply] | None:
        # Residents talk among themselves in the group; Linli answers when addressed.
        if self._etiquette is not None:
            await self._etiquette.heard(
                inbound.msg,
                inbound.committee,
                inbound.head,
                inbound.reading,
                addressed=inbound.addressed,
            )
        return None if inbound.addressed else []

    async def _etiquette_step(self, inbound: Inbound) -> list[Reply] | None:
        """Group etiquette for an addressed group message (``bot.dialogue.etiquette``)."""
        if self._etiquette is None:
            return None
        verdict = await self._etiquette.addressed(
            inbound.msg, inbound.committee, inbound.head, inbound.reading
        )
        if verdict.replies is not None:
            return verdict.replies
        inbound.private = verdict.private
        inbound.public = verdict.public
        return None

    async def _conversation(self, inbound: Inbound) -> list[Reply]:
        """The turn steps under the conversation lock; a turn that applies is saved with
        its journal entry (and, where the intake stores it so, with its answer: the replies
        are final before they are saved, group etiquette's included)."""
        msg, committee = inbound.msg, inbound.committee
        async with self._state.lock(keys.lock(msg.conversation_key)) as lease:
            conv = await self._read_conversation(msg, lease) or Conversation.of(msg)
            conv.sender_name = msg.sender.name or conv.sender_name
            conv.last_message_at = datetime.now(UTC)
            inbound.fence = lease.token
            compound = self._compound(msg, committee, conv)
            turn = Turn(msg, inbound.head, committee, compound, inbound.reading, conv)
            for step in self.turn_steps:
                answer = await step.run(inbound, turn)
                if answer is None:
                    continue
                if not step.applies:
                    return _etiquette(inbound, answer)
                replies = [*inbound.lead, *answer]
                once.remember_applied(conv.state, msg.dedup_key, replies)
                if not any(r.kind is ReplyKind.LETTER for r in replies):
                    # A letter is read whole: no "answered the first part" notice.
                    replies = inbound.notice + replies
                replies = _etiquette(inbound, replies)
                await self._save_turn(msg, conv, lease, replies)
                break
            else:
                raise RuntimeError("no turn step answered the message")
        return replies

    async def _read_conversation(self, msg: IncomingMessage, lease: Lease) -> Conversation | None:
        """The conversation under its lock: as the intake read it with the message when
        still current (``ANSWER_WITH_TURN``), else from the store."""
        answer = ANSWER_WITH_TURN.get()
        known = None if answer is None else answer.known(msg, lease)
        return known or await self._conversations.get(msg.conversation_key)

    async def _save_turn(
        self, msg: IncomingMessage, conv: Conversation, lease: Lease, replies: list[Reply]
    ) -> None:
        """Save the turn with its journal entry: together with the message's answer, in one
        transaction, when the intake stores it that way (``ANSWER_WITH_TURN``)."""
        answer = ANSWER_WITH_TURN.get()
        if answer is None or not await answer(msg, replies, conv, lease):
            await self._conversations.save(conv, fence=lease.token)

    async def _journal(self, inbound: Inbound, turn: Turn) -> list[Reply] | None:
        """A retry of a message whose turn was saved but never acknowledged (the store
        failed afterwards, or the worker died): answer as before, not a second turn."""
        applied = once.applied(turn.state, inbound.msg.dedup_key)
        return None if applied is None else inbound.notice + applied

    async def _human_gate(self, inbound: Inbound, turn: Turn) -> list[Reply] | None:
        """A caseworker has the conversation: stay silent and pass the message on. Waiting
        after a crisis, the address asked for still fills in the urgent ticket, and with no
        staff alert through the resident gets the hotlines and the duty phone again."""
        conv = turn.conversation
        if not conv.silent:
            return None
        replies = await self._while_waiting(turn)
        await self._conversations.save(conv, fence=inbound.fence)
        if self._forward is not None:
            await self._forward(conv, inbound.head)
        if self._record_outcome is not None:
            await self._record_outcome(inbound.msg, HUMAN_OUTCOME)
        return replies

    async def _while_waiting(self, turn: Turn) -> list[Reply]:
        """What a resident hears while their conversation waits for a person (nothing once
        a caseworker holds it)."""
        conv = turn.conversation
        if conv.mode is not Mode.WAITING:
            return []
        # The address may come after a word or two: it is awaited as long as nobody has
        # taken the conversation.
        named = any(turn.parse.value(k) for k in ("compound", "building", "unit", "room"))
        replies = (await self._location(turn) or []) if named else []
        line = conv.state.get(CRISIS_FOLLOW_UP)
        if conv.handoff_reason == CRISIS_REASON and isinstance(line, str) and line:
            replies.append(Reply(line, ReplyKind.CRISIS))
        elif not replies and turn.text.strip() and _hold_line_due(conv):
            # "喂 有人吗" after being handed over: silence would look like a dead line.
            conv.state[HELD_LINE_AT] = datetime.now(UTC).isoformat()
            replies.append(Reply(texts.STILL_WAITING, ReplyKind.HANDOFF))
        return replies

    async def _check_in(self, inbound: Inbound, turn: Turn) -> list[Reply] | None:
        """The answer to a check-in (``bot.dialogue.routes.care``): "是" makes the message it
        asked about an emergency (the urgent ticket, the staff alert and the safety reply, as
        when the crisis layer finds one); "没事" ends it; anything else is answered as it is."""
        pending = turn.state.pop(CHECK_IN, None)
        if not isinstance(pending, dict):
            return None
        asked = state_time(pending.get("at"))
        if asked is None or datetime.now(UTC) - asked > CHECK_IN_TTL:
            return None
        answer = check_in_answer(turn.text)
        if answer is None:
            return None
        if not answer:
            turn.state[CHECK_IN_DECLINED_AT] = datetime.now(UTC).isoformat()
            return [Reply(CHECK_IN_SAFE, ReplyKind.CARE)]
        if self._emergency is None:
            return None
        asked_text = str(pending.get("text") or "")
        told = f"{asked_text}（问是否有人有危险，居民回复：{turn.text}）"
        original = await self._nlu.aparse(asked_text, committee=turn.committee.id)
        hit = confirmed(pending)
        msg = replace(inbound.msg, text=told)
        parse = replace(original, text=told, intent=EMERGENCY, emergency=hit)
        outcome = await self._emergency(msg, turn.committee, turn.compound, parse)
        _note_crisis(turn.conversation, msg, turn.compound, outcome)
        log.info("check-in confirmed", extra={"category": outcome.category.value})
        return outcome.replies

    async def _address(self, inbound: Inbound, turn: Turn) -> list[Reply] | None:
        """The address asked for after an emergency: the answer when the message is only
        that address; otherwise said before the answer to the rest of the message."""
        located = await self._location(turn)
        if not located:
            return None
        if _only_an_address(turn):
            return located
        inbound.lead.extend(located)
        return None

    async def _routes_step(self, inbound: Inbound, turn: Turn) -> list[Reply] | None:
        """Each route in turn, the first that answers wins (each question of a paragraph
        that asks several)."""
        parts = self._parts(turn)
        if parts:
            return await self._route_parts(turn, parts)
        for route in self._routes:
            replies = await route(turn)
            if replies is not None:
                log.info(
                    "routed",
                    extra={"route": route.name, "intent": turn.parse.intent, "n": len(replies)},
                )
                turn.state.pop("fallbacks", None)
                return replies
        return None

    async def _fallback(self, inbound: Inbound, turn: Turn) -> list[Reply]:
        """Not understood: the fallback; repeated, a caseworker takes over."""
        misses = int(turn.state.get("fallbacks", 0)) + 1
        turn.state["fallbacks"] = misses
        if self._handoff is not None and misses >= self._fallback_limit:
            turn.state.pop("fallbacks", None)
            lead = Reply("抱歉，我好像没能理解您的意思。", ReplyKind.HANDOFF)
            return [lead, *await self._handoff(turn, "not_understood")]
        log.info("fallback", extra={"intent": turn.parse.intent, "misses": misses})
        return [Reply(texts.fallback(turn.committee, self.capabilities), ReplyKind.FALLBACK)]

    # What the steps use.

    async def _crisis(
        self, msg: IncomingMessage, committee: Committee, parse: ParseResult
    ) -> list[Reply]:
        """Safety reply, urgent ticket and staff alert at once; the conversation record is
        updated in the background (the lock may be busy, the store slow)."""
        assert self._emergency is not None
        compound = self._quick_compound(msg, committee, parse)
        holder = await self._holder(msg)
        hit = parse.emergency
        outcome = await self._emergency(
            msg,
            committee,
            compound,
            parse,
            holder=holder,
            someone_else=hit.someone_else if hit is not None else False,
        )
        remember = self._remember(msg, compound, outcome)
        if self._tasks is not None:
            self._tasks.spawn(remember, name="emergency conversation")
        else:
            await remember
        return outcome.replies

    async def _holder(self, msg: IncomingMessage) -> str | None:
        """The caseworker holding the conversation (console user id), read without the lock
        and without waiting long: a crisis reply is never held up by the store."""
        try:
            conv = await asyncio.wait_for(self._conversations.get(msg.conversation_key), 0.3)
        except (TimeoutError, StoreUnavailable):
            return None
        if conv is None or conv.mode is not Mode.HUMAN:
            return None
        return conv.assignee_id

    async def _location(self, turn: Turn) -> list[Reply] | None:
        """The address asked for after an emergency: fill in the urgent ticket."""
        pending = turn.state.get(PENDING_LOCATION)
        if not isinstance(pending, dict) or self._set_location is None:
            return None
        parts = {
            k: v for k in ("compound", "building", "unit", "room") if (v := turn.parse.value(k))
        }
        if not parts:
            # Not an address: stop waiting for one and answer the message as it is.
            turn.state.pop(PENDING_LOCATION, None)
            return None
        turn.state.pop(PENDING_LOCATION, None)
        compound = turn.committee.compound(parts["compound"]) if "compound" in parts else None
        if compound is not None:
            turn.remember_compound(compound)
        ref = str(pending.get("ticket") or pending.get("source_key") or "")
        try:
            where = await self._set_location(turn.committee.id, ref, parts)
        except LookupError:
            log.warning("urgent ticket for the address not found")
            return None
        # Only an alert that got through lets the reply speak for the duty caseworker.
        who = (
            "值班社工会按这个地址尽快联系和上门。"
            if pending.get("staff_told", True)
            else "社工看到后会按这个地址联系您。"
        )
        return [
            Reply(
                f"收到，地址“{where}”已补充到紧急工单，{who}有危险请先拨打 110、119 或 120。",
                ReplyKind.SLOT,
            )
        ]

    async def _remember(
        self, msg: IncomingMessage, compound: Compound | None, outcome: CrisisOutcome
    ) -> None:
        """Create or refresh the conversation record of a resident who raised a crisis: the
        console opens it from the alert; self-harm puts it with a person (and keeps it
        there); an address asked for is awaited."""
        async with self._state.lock(keys.lock(msg.conversation_key)) as lease:
            conv = await self._conversations.get(msg.conversation_key) or Conversation.of(msg)
            conv.sender_name = msg.sender.name or conv.sender_name
            conv.last_message_at = datetime.now(UTC)
            _note_crisis(conv, msg, compound, outcome)
            await self._conversations.save(conv, fence=lease.token)

    def _parts(self, turn: Turn) -> list[str]:
        """The questions of a paragraph that asks several (none while an answer is awaited,
        and none in a letter, which is read whole)."""
        if any(k in turn.state for k in AWAITING_KEYS):
            return []
        parts = split_questions(turn.text)
        if parts and read_letter(turn.msg.text) is not None:
            return []
        return parts

    async def _route_parts(self, turn: Turn, parts: list[str]) -> list[Reply]:
        """Each question understood and answered in order; those no route answers are named
        and handed to a person together. A question that asks something back (choices, a
        ticket's details) keeps that open after the others are answered; the last one wins."""
        out: list[Reply] = []
        unanswered: list[int] = []
        held: dict[str, Any] = {}
        for i, part in enumerate(parts, 1):
            parse = await self._nlu.aparse(part, committee=turn.committee.id)
            sub = Turn(turn.msg, part, turn.committee, turn.compound, parse, turn.conversation)
            got: list[Reply] | None = None
            for route in self._routes:
                if route.name in WHOLE_MESSAGE_ROUTES:
                    continue
                got = await route(sub)
                if got is not None:
                    log.info("routed part", extra={"route": route.name, "part": i})
                    break
            awaiting = {k: turn.state.pop(k) for k in AWAITING_KEYS if k in turn.state}
            if awaiting:
                held = awaiting  # the last question asked back wins
            turn.compound = sub.compound
            if not got:
                unanswered.append(i)
                continue
            head = f"（{i}）关于“{part}”：\n"
            out.append(Reply(head + got[0].text, got[0].kind, ticket=got[0].ticket))
            out.extend(got[1:])
        turn.state.update(held)
        turn.state.pop("fallbacks", None)
        if not unanswered:
            return out
        which = "、".join(f"第{i}个问题" for i in unanswered)
        asked = "；".join(parts[i - 1] for i in unanswered)
        if self._handoff is None:
            note = (
                f"{which}（{asked}）我暂时答不了，"
                f"请{turn.committee.contact_line()}，工作人员会帮您解答。"
            )
            return [*out, Reply(note, ReplyKind.FALLBACK)]
        rest = Turn(turn.msg, asked, turn.committee, turn.compound, turn.parse, turn.conversation)
        lead = Reply(f"{which}（{asked}）我暂时答不了，转给社工来回答。", ReplyKind.HANDOFF)
        return [*out, lead, *await self._handoff(rest, "not_understood")]

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

    async def _photo(self, msg: IncomingMessage, addressed: bool) -> list[Reply]:
        """A photo during a report is attached to it (the caseworker sees the media id)."""
        async with self._state.lock(keys.lock(msg.conversation_key)) as lease:
            conv = await self._conversations.get(msg.conversation_key)
            if conv is not None and conv.silent:
                return await self._hold(msg, conv, "[图片]")
            if not addressed:
                return []
            draft = conv.state.get("draft") if conv is not None else None
            if conv is None or not isinstance(draft, dict):
                return _non_text_reply(msg)
            photos = [str(p) for p in draft.get("attachments", [])]
            if msg.media_id not in photos:
                photos.append(str(msg.media_id))
            draft["attachments"] = photos[-9:]
            conv.last_message_at = datetime.now(UTC)
            await self._conversations.save(conv, fence=lease.token)
        return [Reply(texts.PHOTO_ATTACHED, ReplyKind.SLOT)]

    async def _event(self, msg: IncomingMessage, committee: Committee) -> list[Reply]:
        if msg.event not in {"subscribe", "enter_chat"}:
            return []
        conv = await self._conversations.get(msg.conversation_key)
        if conv is not None and conv.silent:
            # A caseworker has the conversation: no welcome from the bot in between.
            return await self._hold(msg, conv, f"[事件：{msg.event}]")
        return [Reply(texts.welcome(committee, self.capabilities), ReplyKind.WELCOME)]

    async def _non_text(self, msg: IncomingMessage, addressed: bool) -> list[Reply]:
        """Voice without recognition, video, location, a blank text…: a short hint, or
        silence while a caseworker has the conversation (they see what arrived)."""
        conv = await self._conversations.get(msg.conversation_key)
        if conv is not None and conv.silent:
            return await self._hold(msg, conv, _placeholder(msg))
        if not addressed:
            return []
        return _non_text_reply(msg)

    async def _hold(self, msg: IncomingMessage, conv: Conversation, note: str) -> list[Reply]:
        """The bot stays silent; the caseworker holding the conversation sees the message."""
        if self._forward is not None:
            await self._forward(conv, note)
        if self._record_outcome is not None:
            await self._record_outcome(msg, HUMAN_OUTCOME)
        return []


def _non_text_reply(msg: IncomingMessage) -> list[Reply]:
    if msg.type is MessageType.IMAGE:
        return [Reply(texts.IMAGE, ReplyKind.MEDIA)]
    if msg.type is MessageType.VOICE:
        return [Reply(texts.VOICE, ReplyKind.MEDIA)]
    if msg.type is MessageType.OTHER:
        return [Reply(texts.OTHER, ReplyKind.MEDIA)]
    return [Reply(texts.EMPTY, ReplyKind.FALLBACK)]


def _placeholder(msg: IncomingMessage) -> str:
    return {
        MessageType.IMAGE: "[图片]",
        MessageType.VOICE: "[语音]",
        MessageType.OTHER: "[其他消息]",
    }.get(msg.type, "[空消息]")


def _note_crisis(
    conv: Conversation, msg: IncomingMessage, compound: Compound | None, outcome: CrisisOutcome
) -> None:
    """What a crisis answered changes in its conversation: the compound and the urgent ticket;
    self-harm puts it with a person (and keeps it there); an address asked for is awaited; a
    check-in is answered by the crisis itself."""
    if compound is not None and not conv.compound:
        conv.compound = compound.id
    if outcome.ticket:
        conv.ticket_number = outcome.ticket
    if outcome.category is EmergencyCategory.SELF_HARM and conv.mode is Mode.BOT:
        conv.mode = Mode.WAITING
        conv.handoff_reason = CRISIS_REASON
        conv.handoff_at = datetime.now(UTC)
    if outcome.follow_up:
        conv.state[CRISIS_FOLLOW_UP] = outcome.follow_up
    elif outcome.category is EmergencyCategory.SELF_HARM:
        conv.state.pop(CRISIS_FOLLOW_UP, None)
    if outcome.location_asked:
        conv.state[PENDING_LOCATION] = {
            "ticket": outcome.ticket,
            "source_key": msg.dedup_key,
            "staff_told": outcome.staff_told,
        }
    conv.state.pop(CHECK_IN, None)


def _only_an_address(turn: Turn) -> bool:
    """Whether the message is just the address asked for ("普陀一村5号楼302"), not a new
    question that happens to name a compound."""
    spans = sorted(
        (e.start, e.end)
        for e in turn.parse.entities
        if e.entity in {"compound", "building", "unit", "room", "floor"}
    )
    rest, at = [], 0
    for start, end in spans:
        rest.append(turn.text[at:start])
        at = max(at, end)
    rest.append(turn.text[at:])
    left = re.sub(r"[\s，,。.、！!？?~～的在是住我家妈爸那里这里呀啊哦了号楼室]", "", "".join(rest))
    return len(left) <= 4


def _group_compound(msg: IncomingMessage, committee: Committee) -> Compound | None:
    if msg.chat.type is ChatType.GROUP:
        return committee.compound_for_chat(msg.chat.id)
    return None


def _clean(text: str) -> str:
    """Trim whitespace and invisible characters; keep emoji and mixed scripts."""
    cleaned = "".join(
        ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf"} or ch in "\n\t"
    )
    return cleaned.strip()


def _wrap(inner: Handler, middleware: Middleware) -> Handler:
    async def handle(msg: IncomingMessage) -> list[Reply]:
        return await middleware(msg, inner)

    return handle


def _etiquette(inbound: Inbound, replies: list[Reply]) -> list[Reply]:
    """Group etiquette's lines before the replies, and the replies marked for the resident
    alone when they must not be said in the group."""
    if not inbound.private:
        return [*inbound.public, *replies] if inbound.public else replies
    return [*inbound.public, *privately(replies)]


def _hold_line_due(conv: Conversation) -> bool:
    """Whether a resident waiting for a person should hear the holding line now: not in the
    first minutes after the handover, then at most every ``HELD_LINE_EVERY_S``."""
    now = datetime.now(UTC)
    if conv.handoff_at is not None and (now - conv.handoff_at).total_seconds() < HELD_LINE_AFTER_S:
        return False
    last = conv.state.get(HELD_LINE_AT)
    if not isinstance(last, str):
        return True
    try:
        then = datetime.fromisoformat(last)
    except ValueError:
        return True
    return (now - then).total_seconds() >= HELD_LINE_EVERY_S

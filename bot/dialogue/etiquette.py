"""Group etiquette: how Linli behaves in a compound's group chat, per group
(``[committees.<id>.groups]`` and ``[committees.<id>.group_chats.<chat id>]`` in the settings).

- **Answer when addressed.** Unaddressed messages get no reply at once (the pipeline's
  ``mention_gate``); the ``etiquette`` step after it reads the addressed ones.
- **A question nobody answered** (``answer_unanswered``, off by default, then after
  ``unanswered_after_s``, 3 minutes): an unaddressed message that is a clear question to the
  committee — it asks (a question word or mark), names nobody with "@", holds no personal data,
  and the FAQ answers it outright (no "did you mean") — is kept as a pending group post. It is
  posted once, quoting the question ("「…」" and the answer), unless someone answered first.
  "Answered" is kept simple and honest: *another group member posted any message in that group
  after it* (Linli cannot tell whether the message answers; a neighbour who speaks has seen
  the question). Residents asking the same question meanwhile join the post instead of
  cancelling it.
- **The same question from several residents** becomes one reply mentioning them all: waiting
  unaddressed questions merge by the FAQ entry that answers them; with ``merge_window_s`` > 0,
  addressed FAQ questions are held that long and merged the same way.
- **Never echo personal data in a group.** An addressed message with a phone, ID or bank card
  number, a flat named with a person, or someone's health condition (``bot.logs.personal_data``)
  gets one line in the group asking to continue in private, never its content; where the channel
  delivers private replies from a group (the generic webhook: ``"private": true``), the answer
  follows privately. The conversation log keeps group messages masked (``bot.logs.mask_personal``,
  in the message log), and a question with personal data is never quoted in a delayed answer.
- **Rate limits: queue and merge, never drop.** Group posts go out from the periodic loop
  (``flush``), one post per group per round, all that is due for the group merged into it; a
  group whose channel has no free slot keeps its posts queued for the next round.
- **"别在群里回我"** (and variants) is remembered in the resident's group conversation: from then
  on Linli's replies to them are private where the channel allows ("可以在群里回我" undoes it).

Where the group's channel cannot post into the group unprompted (a WeCom AI bot without a group
robot key, an Official Account), there are no delayed or merged answers: every question is
answered as it comes, when addressed. ``GroupOut`` (the channel layer) says what a channel can do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.dialogue.letters import asks
from bot.dialogue.routes.faq import SKIP_INTENTS, FaqRoute
from bot.dialogue.turn import Turn
from bot.domain import ChatType, Committee, IncomingMessage, Reply, ReplyKind
from bot.domain.once import DeliveryReport
from bot.logs import personal_data
from bot.nlu.types import ParseResult
from bot.storage import keys
from bot.storage.conversations import Conversation, ConversationStore
from bot.storage.group_posts import (
    Asker,
    GroupPost,
    GroupPostStore,
    GroupRules,
    NewPost,
    PostKind,
    PostState,
)
from bot.storage.messages import MessageLog
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

PREFERS_PRIVATE = "prefers_private"
"""Conversation state: the resident asked not to be answered in the group."""
QUOTE_CHARS = 80
"""Longest quote of a question in a group post."""

_NOT_IN_GROUP = re.compile(
    r"(?:别|不要|不用|勿|莫|请勿|不必)\s*(?:在)?\s*群里\s*(?:回复?|答复?|回答|@|艾特|说)\s*我?"
    r"|(?:私信|私聊|单独|私下)\s*(?:回复?|答复?|回答|告诉|联系|找)\s*我"
    r"|(?:回复?|答复?|回答)\s*我.{0,3}(?:私信|私聊|单独)"
)
_IN_GROUP_OK = re.compile(
    r"(?:可以|还是|就|直接)\s*(?:在)?\s*群里\s*(?:回复?|答复?|回答)\s*我|群里回我就?(?:行|好|可以)"
)
_OTHER_MENTION = re.compile(r"[@＠]\S")
_HAN = re.compile(r"[\u4e00-\u9fff]")

KIND_WORDS = {
    "phone": "电话号码",
    "id": "身份证号",
    "card": "银行卡号",
    "room": "门牌和姓名",
    "health": "健康情况",
}


class GroupOut(Protocol):
    """What the channel layer tells and does for a group chat (``bot.channels.group``)."""

    def rules(self, msg: IncomingMessage) -> GroupRules: ...

    def can_post(self, msg: IncomingMessage) -> bool:
        """Whether Linli can post into the message's group unprompted."""
        ...

    def private_replies(self, msg: IncomingMessage) -> bool:
        """Whether a reply marked private reaches the resident privately from this group."""
        ...

    async def ready(self, post: GroupPost) -> bool:
        """Take a slot of the group's rate limit; False: none free now (try next round)."""
        ...

    async def post(self, post: GroupPost, text: str, askers: Sequence[Asker]) -> DeliveryReport:
        """Post ``text`` into the post's group mentioning ``askers``: how it went (sent,
        ``pull``, ``failed`` with the platform's error, ``undeliverable``)."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    topic: str
    """The FAQ entry that answers the question (what merges questions)."""
    answer: str


Decide = Callable[[IncomingMessage, Committee, str, ParseResult], Awaitable[Decision | None]]
"""The FAQ's outright answer to a group question (None: no clear answer)."""
RecordOutcome = Callable[[IncomingMessage, str], Awaitable[None]]


@dataclass(slots=True)
class Verdict:
    """What the ``etiquette`` step decided for an addressed group message."""

    replies: list[Reply] | None = None
    """Answer now with these (the message goes no further); None: the conversation answers."""
    private: bool = False
    """The conversation's replies go to the resident privately."""
    public: list[Reply] = field(default_factory=list)
    """Said in the group before the private replies."""


class FaqDecider:
    """``Decide`` over the FAQ route: an outright answer for the group's compound."""

    def __init__(self, faq: FaqRoute) -> None:
        self._faq = faq

    async def __call__(
        self, msg: IncomingMessage, committee: Committee, text: str, parse: ParseResult
    ) -> Decision | None:
        if parse.intent in SKIP_INTENTS and parse.confidence >= 0.6:
            return None
        if parse.intent == "out_of_scope" and parse.confidence >= 0.85:
            return None
        compound = committee.compound_for_chat(msg.chat.id)
        turn = Turn(msg, text, committee, compound, parse, Conversation.of(msg))
        outcome = await self._faq.search(turn)
        if outcome is None or outcome.kind != "answer" or outcome.answer is None:
            return None
        replies = self._faq.answer(turn, outcome.answer)
        if len(replies) != 1 or replies[0].kind is not ReplyKind.FAQ:
            return None
        return Decision(outcome.answer.id, replies[0].text)


class Etiquette:
    def __init__(
        self,
        out: GroupOut,
        posts: GroupPostStore,
        decide: Decide,
        conversations: ConversationStore,
        state: StateStore,
        message_log: MessageLog,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        record_outcome: RecordOutcome | None = None,
    ) -> None:
        self._out = out
        self._posts = posts
        self._decide = decide
        self._conversations = conversations
        self._state = state
        self._log = message_log
        self._clock = clock
        self._record_outcome = record_outcome

    # --- the pipeline's side ----------------------------------------------------------------
    async def heard(
        self,
        msg: IncomingMessage,
        committee: Committee,
        text: str,
        parse: ParseResult,
        *,
        addressed: bool,
    ) -> None:
        """Every group text message: cancels the questions it counts as an answer to, and
        keeps an unaddressed clear question for a delayed answer when the group wants one."""
        if msg.chat.type is not ChatType.GROUP:
            return
        decision: Decision | None = None
        rules = self._out.rules(msg)
        if (
            not addressed
            and rules.answer_unanswered
            and self._out.can_post(msg)
            and _clear_question(text)
        ):
            decision = await self._decide(msg, committee, text, parse)
        now = self._clock()
        await self._posts.spoke(
            msg.channel,
            msg.account,
            msg.chat.id,
            msg.sender.id,
            now,
            joining=decision.topic if decision is not None else "",
        )
        if decision is None:
            return
        post, created = await self._posts.add(
            self._new_post(msg, PostKind.UNANSWERED, decision, text, now, rules.unanswered_after_s)
        )
        log.info(
            "group question kept for a delayed answer",
            extra={"post": post.id, "new": created, "askers": len(post.askers)},
        )

    async def spoke(self, msg: IncomingMessage) -> None:
        """A group message without text (a photo, a voice message): it counts as an answer
        to the questions waiting in the group."""
        if msg.chat.type is ChatType.GROUP:
            await self._posts.spoke(
                msg.channel, msg.account, msg.chat.id, msg.sender.id, self._clock()
            )

    async def addressed(
        self, msg: IncomingMessage, committee: Committee, text: str, parse: ParseResult
    ) -> Verdict:
        """An addressed group message: the preference phrases, personal data, the merge
        window and a remembered preference, in that order."""
        if msg.chat.type is not ChatType.GROUP or not text:
            return Verdict()
        private_ok = self._out.private_replies(msg)
        name = msg.sender.name
        if _IN_GROUP_OK.search(text):
            await self._prefer_private(msg, False)
            return Verdict([Reply(_at(name) + "好的，以后我在群里回复您。", ReplyKind.NOTICE)])
        wish = _NOT_IN_GROUP.search(text)
        if wish is not None:
            await self._prefer_private(msg, True)
            rest = (text[: wish.start()] + text[wish.end() :]).strip(" ，,。.！!")
            if not private_ok:
                note = (
                    _at(name) + "好的，我记下了。不过这个群所在的平台不支持我私信您，"
                    "请直接单独给我发消息（私聊邻里），我在私聊里回复您。"
                )
                return Verdict([Reply(note, ReplyKind.NOTICE)])
            note = "好的，以后我私信回复您，不在群里回复。"
            if len(_HAN.findall(rest)) >= 4:
                return Verdict(private=True, public=[Reply(note, ReplyKind.NOTICE, private=True)])
            return Verdict([Reply(note, ReplyKind.NOTICE, private=True)])
        found = personal_data(text)
        if found:
            return self._personal(msg, found, private_ok)
        prefers = await self._prefers_private(msg)
        if prefers and private_ok:
            return Verdict(private=True)
        rules = self._out.rules(msg)
        if rules.merge_window_s > 0 and not prefers and self._out.can_post(msg):
            decision = await self._decide(msg, committee, text, parse)
            if decision is not None:
                now = self._clock()
                post, _ = await self._posts.add(
                    self._new_post(msg, PostKind.MERGED, decision, text, now, rules.merge_window_s)
                )
                if self._record_outcome is not None:
                    await self._record_outcome(msg, ReplyKind.FAQ.value)
                log.info("group question held to merge", extra={"post": post.id})
                return Verdict([])
        return Verdict()

    # --- the periodic side ------------------------------------------------------------------
    async def flush(self) -> int:
        """Send the group posts that are due: one post per group, everything due for it
        merged; a group without a free rate slot keeps its posts for the next round.
        Returns how many group posts went out."""
        due = await self._posts.due(self._clock())
        groups: dict[tuple[str, str, str], list[GroupPost]] = {}
        for post in due:
            groups.setdefault(post.group_key, []).append(post)
        sent = 0
        for posts in groups.values():
            if not await self._out.ready(posts[0]):
                log.info("group post queued: rate limit", extra={"posts": len(posts)})
                continue
            claimed = [p for p in posts if await self._posts.claim(p.id)]
            if not claimed:
                continue
            askers = _askers(claimed)
            text = compose(claimed)
            report = await self._out.post(claimed[0], text, askers)
            ok = report.delivered
            delivery = report.status.value
            for p in claimed:
                await self._posts.finish(p.id, PostState.SENT if ok else PostState.FAILED, delivery)
            for asker in askers:
                await self._log.record_proactive(
                    claimed[0].conversation_of(asker),
                    text,
                    kind=ReplyKind.FAQ.value,
                    direction="out",
                    sender_name="邻里",
                    delivery=delivery,
                    error_code=report.error_code,
                    error=report.error,
                )
            log.info(
                "group post sent" if ok else "group post not delivered",
                extra={"posts": len(claimed), "askers": len(askers), "delivery": delivery},
            )
            sent += ok
        return sent

    # --- helpers ----------------------------------------------------------------------------
    def _personal(self, msg: IncomingMessage, found: list[str], private_ok: bool) -> Verdict:
        what = "、".join(KIND_WORDS[k] for k in found)
        if private_ok:
            public = Reply(
                f"{_at(msg.sender.name)}您的消息里有{what}，为保护您的隐私，我不在群里回复，"
                "已私信您，我们在私聊里继续。",
                ReplyKind.NOTICE,
            )
            lead = Reply(
                "您刚才在群里发的消息涉及个人信息，我们在私聊里继续，群里的其他人看不到：",
                ReplyKind.NOTICE,
                private=True,
            )
            return Verdict(private=True, public=[public, lead])
        public = Reply(
            f"{_at(msg.sender.name)}您的消息里有{what}，为保护您的隐私，我不在群里回复。"
            "请单独给我发消息（私聊邻里）继续，个人信息请不要发在群里。",
            ReplyKind.NOTICE,
        )
        return Verdict([public])

    async def _prefer_private(self, msg: IncomingMessage, on: bool) -> None:
        async with self._state.lock(keys.lock(msg.conversation_key)) as lease:
            conv = await self._conversations.get(msg.conversation_key) or Conversation.of(msg)
            if on:
                conv.state[PREFERS_PRIVATE] = True
            else:
                conv.state.pop(PREFERS_PRIVATE, None)
            conv.last_message_at = datetime.now(UTC)
            await self._conversations.save(conv, fence=lease.token)

    async def _prefers_private(self, msg: IncomingMessage) -> bool:
        conv = await self._conversations.get(msg.conversation_key)
        return conv is not None and bool(conv.state.get(PREFERS_PRIVATE))

    def _new_post(
        self,
        msg: IncomingMessage,
        kind: PostKind,
        decision: Decision,
        text: str,
        now: datetime,
        delay_s: float,
    ) -> NewPost:
        quote = text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"
        return NewPost(
            committee=msg.committee,
            channel=msg.channel,
            account=msg.account,
            chat_id=msg.chat.id,
            kind=kind,
            topic=decision.topic,
            question=quote,
            answer=decision.answer,
            asker=Asker(msg.sender.id, msg.sender.name, msg.conversation_key),
            asked_at=now,
            due_at=now + timedelta(seconds=delay_s),
        )


def compose(posts: Sequence[GroupPost]) -> str:
    """One group message for the posts due in a group: the askers mentioned once, then
    each question quoted with its answer."""
    askers = _askers(posts)
    names = " ".join(f"@{a.name}" for a in askers if a.name)
    parts: list[str] = []
    for post in posts:
        if post.kind is PostKind.UNANSWERED:
            head = f"「{post.question}」\n群里还没人回答，邻里来答："
        elif len(post.askers) > 1:
            head = f"「{post.question}」\n{len(post.askers)}位邻居问了同一个问题，统一回复："
        else:
            head = f"「{post.question}」"
        parts.append(f"{head}\n{post.answer}")
    body = "\n\n".join(parts)
    return f"{names}\n{body}" if names else body


def _clear_question(text: str) -> bool:
    """Asks something (a question word or mark), names no one with "@", holds no personal
    data, and is long enough to be a question to the committee."""
    return (
        len(_HAN.findall(text)) >= 4
        and asks(text)
        and _OTHER_MENTION.search(text) is None
        and not personal_data(text)
    )


def _askers(posts: Sequence[GroupPost]) -> list[Asker]:
    seen: dict[str, Asker] = {}
    for post in posts:
        for asker in post.askers:
            seen.setdefault(asker.id, asker)
    return list(seen.values())


def _at(name: str) -> str:
    return f"@{name} " if name else ""


def privately(replies: list[Reply]) -> list[Reply]:
    """``replies`` marked for the resident alone."""
    return [r if r.private else replace(r, private=True) for r in replies]

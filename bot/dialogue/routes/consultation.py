"""征询意见 in chat: questions about a consultation answered from it ("换电梯什么时候征询",
"征询什么时候截止", "我投了没有", "我投的是什么"), votes in a private chat, and the signed
link to the voting page ("投票页面").

Ordinary messages are never taken as votes. A bare answer ("1", "1 同意", "同意", "弃权")
is a vote only while a consultation is open for the resident's household *and* it was put
to them: they asked about it in this conversation (within a day), or its invitation or a
reminder reached them. Otherwise a vote needs an explicit form: "投票 1", "投同意", or an
option with words of the consultation's title ("我同意换电梯"). Crisis routes run before
this one (the pipeline's emergency step), and a pending "did you mean" choice or a
satisfaction rating, placed before it, keeps its digits."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.consultations import Consultations, texts
from bot.consultations.service import Refusal
from bot.dialogue.turn import Turn
from bot.domain import Reply, ReplyKind
from bot.domain.tickets import ResidentId
from bot.storage.consultations import Consultation

STATE = "consultation"
"""Conversation state: the consultation last put to the resident, and when."""
PRESENTED_FOR = timedelta(hours=24)
ABOUT = re.compile(r"征询|表决|意见征求|投票|投了|投的")
VOTED_Q = re.compile(r"(投|投票)了?(没有|没|吗|么|嘛)|有没有投|是否投|投过")
WHAT_Q = re.compile(r"投的(是)?(什么|啥|哪个|哪一个)|投了(什么|啥|哪个)")
PAGE = re.compile(r"^(?:给我|发我|发一下|打开)?(?:投票页面|投票链接|投票网页|网页投票)[。！!？?]*$")
EXPLICIT = re.compile(r"^(?:我要|我)?投(?:票)?\s*[:：]?\s*(.{1,12})$")
BARE_DIGIT = re.compile(r"^([1-9])(?:\s*[.、．:：]?\s*(\S{1,6}))?$")
QUESTION = re.compile(r"[?？吗么嘛呢]|什么|啥|几|多少|怎么|哪")
VOTE_WORDS = re.compile(r"同意|弃权|赞成|反对")
GENERIC = {"征询", "意见", "方案", "关于", "居民", "投票", "表决", "事项", "号楼", "小区"}
PUNCT = str.maketrans("０１２３４５６７８９", "0123456789", "。！!，,~～ ")


class ConsultationRoute:
    name = "consultation"
    capability = "征询意见：查询征询时间、投票（私聊）、查看是否已投票"

    def __init__(self, consultations: Consultations, page_url: Callable[[str], str]) -> None:
        self._service = consultations
        self._page_url = page_url

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        text = turn.text.strip()
        if not text or len(text) > 60:
            return None
        state = turn.state.get(STATE)
        if state is not None and _stale(state, self._service.now()):
            turn.state.pop(STATE, None)
        if not self._maybe_ours(turn, text):
            return None  # most messages: no store is asked
        committee = turn.committee.id
        resident = ResidentId.from_message(turn.msg)
        now = self._service.now()
        mine = [] if turn.is_group else await self._service.for_resident(committee, resident)
        open_now = [c for c in mine if c.is_open(now)]
        if not turn.is_group and PAGE.match(text):
            return await self._page(turn, resident, open_now)
        if not turn.is_group and not mine and _explicit_vote(text):
            # "投票 1" with no household bound: say how to vote, never that nothing is open.
            who = await self._service.voter(committee, resident)
            if who.refusal is Refusal.NOT_BOUND:
                return [Reply(texts.NOT_BOUND, ReplyKind.STATUS)]
        if not turn.is_group and open_now and not QUESTION.search(text):
            vote = await self._vote(turn, resident, open_now, text, now)
            if vote is not None:
                return vote
        if not ABOUT.search(text):
            return None
        if VOTED_Q.search(text) or WHAT_Q.search(text):
            if turn.is_group:
                return [Reply("是否已投票属于个人信息，请私聊我查询。", ReplyKind.STATUS)]
            return await self._mine(turn, resident, mine)
        known = mine or await self._compound_ones(turn)
        if not known:
            return None  # no consultation here: the FAQ may know (e.g. 业委会选举投票)
        chosen = _pick(text, known)
        return [await self._present(turn, resident, chosen, now)]

    @staticmethod
    def _maybe_ours(turn: Turn, text: str) -> bool:
        """Cheap test before any store is asked: words of consultations and votes, a bare
        number, or a consultation put to the resident lately."""
        cleaned = text.translate(PUNCT)
        return bool(
            ABOUT.search(text)
            or PAGE.match(text)
            or EXPLICIT.match(cleaned)
            or BARE_DIGIT.match(cleaned)
            or VOTE_WORDS.search(text)
            or STATE in turn.state
        )

    async def _compound_ones(self, turn: Turn) -> list[Consultation]:
        if turn.compound is None:
            return []
        return await self._service.store.published_in(turn.committee.id, turn.compound.id)

    async def _present(
        self, turn: Turn, resident: ResidentId, c: Consultation, now: datetime
    ) -> Reply:
        scope = self._service.scope(c)
        is_open = c.is_open(now)
        if c.result is not None:
            lead = texts.CLOSED + "\n" if EXPLICIT.match(turn.text.translate(PUNCT)) else ""
            summary = str(c.result.get("summary", ""))
            return Reply(lead + texts.closed(c.title, summary), ReplyKind.STATUS)
        status = ""
        if not turn.is_group:
            vote = await self._service.vote_of(turn.committee.id, c.id, resident)
            if vote is not None:
                status = texts.voted(
                    c.options[vote.choice], vote.receipt, vote.changed_at, c.secret
                )
            else:
                who = await self._service.voter(turn.committee.id, resident)
                status = who.refusal.text(who.voter_name) if who.refusal else texts.NOT_VOTED
            if is_open:
                turn.state[STATE] = {"id": c.id, "at": now.isoformat()}
        else:  # votes are private: a group is only told when, and to vote in private
            text = texts.in_group(c.title, scope, c.opens_at, c.closes_at, now)
            return Reply(text, ReplyKind.STATUS)
        text = texts.presented(c.title, scope, c.opens_at, c.closes_at, c.options, is_open, status)
        return Reply(text, ReplyKind.STATUS)

    async def _mine(
        self, turn: Turn, resident: ResidentId, mine: list[Consultation]
    ) -> list[Reply]:
        if not mine:
            who = await self._service.voter(turn.committee.id, resident)
            if who.refusal is Refusal.NOT_BOUND:
                return [Reply(texts.NOT_BOUND, ReplyKind.STATUS)]
            return [Reply(texts.NOTHING_OPEN, ReplyKind.STATUS)]
        lines = []
        for c in mine:
            vote = await self._service.vote_of(turn.committee.id, c.id, resident)
            if vote is None:
                lines.append(f"“{c.title}”：{texts.NOT_VOTED}截止时间 {texts.when(c.closes_at)}。")
            else:
                shown = texts.voted(c.options[vote.choice], vote.receipt, vote.changed_at, c.secret)
                lines.append(f"“{c.title}”：{shown}")
        if len(mine) == 1 and mine[0].is_open(self._service.now()):
            turn.state[STATE] = {"id": mine[0].id, "at": self._service.now().isoformat()}
        return [Reply("\n".join(lines), ReplyKind.STATUS)]

    async def _vote(
        self,
        turn: Turn,
        resident: ResidentId,
        open_now: list[Consultation],
        text: str,
        now: datetime,
    ) -> list[Reply] | None:
        cleaned = text.translate(PUNCT)
        presented = await self._presented(turn, resident, open_now, now)
        target: Consultation | None = None
        choice: int | None = None
        explicit = EXPLICIT.match(cleaned)
        if explicit is not None:
            # "投票 1", "投同意", "投票：不同意"
            body = explicit[1]
            named = [c for c in open_now if _keywords(c.title) & _bigrams(body)]
            target = presented or (named[0] if named else None)
            if target is None and len(open_now) == 1:
                target = open_now[0]
            if target is None:
                return [Reply(texts.WHICH, ReplyKind.CLARIFY)]
            choice = _choice(body, target.options, allow_suffix=True)
            if choice is None:
                return None
        else:
            named = [
                c
                for c in open_now
                if _keywords(c.title) & _bigrams(cleaned)
                and _option_in(cleaned, c.options) is not None  # 0 is the approval
            ]
            if named and len(cleaned) <= 20:
                # "我同意换电梯"
                target = named[0]
                choice = _option_in(cleaned, target.options)
            elif presented is not None:
                target = presented
                choice = _choice(cleaned.removeprefix("我"), target.options, allow_suffix=False)
            if target is None or choice is None:
                return None
        cast = await self._service.vote(turn.committee.id, target.id, resident, choice, "chat")
        turn.state[STATE] = {"id": target.id, "at": now.isoformat()}
        return [Reply(cast.message, ReplyKind.STATUS)]

    async def _presented(
        self, turn: Turn, resident: ResidentId, open_now: list[Consultation], now: datetime
    ) -> Consultation | None:
        """The open consultation put to the resident: asked about here, or reached them by
        invitation or reminder."""
        state = turn.state.get(STATE)
        if isinstance(state, dict) and not _stale(state, now):
            for c in open_now:
                if c.id == state.get("id"):
                    return c
        who = await self._service.voter(turn.committee.id, resident)
        if who.binding is None:
            return None
        for c in open_now:
            sent = await self._service.reminders(turn.committee.id, c.id)
            if any(r.binding_id == who.binding.id and r.delivered for r in sent):
                return c
        return None

    async def _page(
        self, turn: Turn, resident: ResidentId, open_now: list[Consultation]
    ) -> list[Reply]:
        if not open_now:
            return [Reply(texts.NOTHING_OPEN, ReplyKind.STATUS)]
        presented = await self._presented(turn, resident, open_now, self._service.now())
        c = presented or open_now[0]
        token = await self._service.issue_link(turn.committee.id, c.id, resident)
        if isinstance(token, Refusal):
            return [Reply(token.text(), ReplyKind.STATUS)]
        hours = max(1, int(self._service.link_ttl.total_seconds() // 3600))
        turn.state[STATE] = {"id": c.id, "at": self._service.now().isoformat()}
        return [Reply(texts.page_link(c.title, self._page_url(token), hours), ReplyKind.STATUS)]


def _stale(state: object, now: datetime) -> bool:
    """The consultation was put to the resident longer ago than ``PRESENTED_FOR``."""
    if not isinstance(state, dict):
        return True
    try:
        at = datetime.fromisoformat(str(state.get("at")))
    except ValueError:
        return True
    return at.tzinfo is None or now - at > PRESENTED_FOR


def _explicit_vote(text: str) -> bool:
    """An explicit vote ("投票 1", "投同意"), not "我要投诉"."""
    explicit = EXPLICIT.match(text.translate(PUNCT))
    return explicit is not None and bool(
        BARE_DIGIT.match(explicit[1]) or VOTE_WORDS.search(explicit[1])
    )


def _choice(body: str, options: tuple[str, ...], *, allow_suffix: bool) -> int | None:
    """The option a short answer names: its number (optionally followed by the option's
    words, "1 同意"), or the option's words alone."""
    digit = BARE_DIGIT.match(body)
    if digit is not None:
        n = int(digit[1]) - 1
        if not 0 <= n < len(options):
            return None
        tail = digit[2]
        if tail and tail != options[n] and not (allow_suffix and tail in options[n]):
            return None
        return n
    for i in sorted(range(len(options)), key=lambda k: -len(options[k])):
        if body == options[i]:
            return i
    return None


def _option_in(text: str, options: tuple[str, ...]) -> int | None:
    """The longest option named in the text ("不同意" before "同意")."""
    for i in sorted(range(len(options)), key=lambda k: -len(options[k])):
        if options[i] in text:
            return i
    return None


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _keywords(title: str) -> set[str]:
    return {b for b in _bigrams(title) if b not in GENERIC and not any(ch.isdigit() for ch in b)}


def _pick(text: str, known: list[Consultation]) -> Consultation:
    for c in known:
        if _keywords(c.title) & _bigrams(text):
            return c
    return known[0]

"""Answers from the committee's FAQ, for the resident's compound (马上办、一次办).

Three outcomes of a search: an answer (with everything to bring), "did you mean" (2–3 numbered
choices; the resident replies with a number), or nothing (the next route or the fallback).
In a private chat, an answer that differs per compound asks the resident's compound once and
remembers it."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from bot.dialogue.answers import OUTCOME, AnswerCache, OutcomeKey
from bot.dialogue.routes.intake import DRAFT, OFFER_CATEGORY, OFFER_TICKET
from bot.dialogue.routes.status import asks_after_a_report, is_project_question
from bot.dialogue.turn import Turn
from bot.domain import Compound, Reply, ReplyKind, StoreUnavailable
from bot.domain.faq import FaqEntry
from bot.retrieval import RetrievalService
from bot.retrieval.formatting import format_answer, format_clarify, parse_choice
from bot.retrieval.service import NoIndexError, SearchOutcome

log = logging.getLogger(__name__)

CHOICES = "faq_choices"
CHOICES_QUESTION = "faq_choices_question"
"""The question "did you mean" was asked for: learnt as the picked entry's phrasing."""
ASK_COMPOUND = "faq_ask_compound"
ASKED_COMPOUND = "compound_asked"
LAST_ANSWER = "faq_last"
"""State: the FAQ entry last answered and when (``{"id", "at"}``): what a follow-up such as
"伊拉礼拜天开伐" or "要带啥" leans on."""
FOLLOW_UP_WITHIN = timedelta(minutes=30)
FOLLOW_UP_MAX_CHARS = 16
# A follow-up points back ("伊拉", "它", "那…呢", "也一样伐") …
LEANS_BACK = re.compile(
    r"伊拉|他们|她们|它们|它|^(?:那|那么|还有|另外|还)|那个|这个|那里|那边|这里|这边|"
    r"也|一样|呢[\s?？!！。.~～]*$"
)
# … or asks one more thing about it — when, where, how much, what to bring, how long, who,
# on what terms ("礼拜天开伐", "多少钞票", "要带啥", "要多久") — with no topic of its own.
ASPECT = re.compile(
    r"几点|几号|啥辰光|辰光|什么时候|啥时候|多久|几天|礼拜|星期|周末|周[一二三四五六日天]|"
    r"中午|上午|下午|晚上|早上|夜里|开门|关门|上班|下班|开伐|开吗|开不开|休息|放假|"
    r"哪里|哪儿|哪块|啥地方|什么地方|在哪|多远|"
    r"多少钱|多少钞票|钞票|铜钿|收费|收钱|要钱|免费|费用|贵伐|"
    r"带啥|带什么|材料|证件|户口本|身份证|"
    r"找谁|找啥人|啥人|条件|资格|网上|随申办|手机上|代办|本人"
)
CHATTER = frozenset({"greet", "thank", "goodbye", "affirm", "deny"})
SKIP_INTENTS = {"report_repair", "complain", "request_human", "ticket_status"}
RULE_FIRST_TOPICS = frozenset({"neighbours", "renovation", "pets"})
"""Complaints about neighbours (noise, renovation hours, dogs, clutter) get the rule first."""
OFFER_TEXT = "如果需要居委会出面协调或上门调解，回复“登记”，我帮您记下来交给社工跟进。"
OFFER_REPAIR = "需要的话，回复“报修”，我帮您登记工单，转给物业并跟进（会问您几号楼）。"
OFFER_FOLLOW = "需要居委会跟进处理的，回复“登记”，我帮您记下来交给社工。"
ASKS_FOR_A_TICKET = re.compile(
    r"报修|报个修|登记|派人|派个人|来修|来人|上门|修一下|修修|帮我修|帮忙修|快点修|快来|"
    r"投诉|举报|反映一下|处理一下|工单"
)
"""Words that ask the committee to act (open a ticket), not what the rule or remedy is."""
PLACE_ENTITIES = ("building", "unit", "room", "phone")
"""A report naming the building, room or a phone number is told for a ticket: intake at once
(a compound alone is how residents start any question in a group)."""


def offer_text(category: str, topic: str) -> str:
    """The offer of a ticket after the FAQ's answer to a report or complaint."""
    if category == "repair":
        return OFFER_REPAIR
    return OFFER_TEXT if topic in RULE_FIRST_TOPICS else OFFER_FOLLOW


# "这个表格怎么填", "救命啊那张单子到底怎么写": a form, a paper or a procedure pointed at as
# "this one" and nothing else said about it. Any FAQ entry would be a guess: ask which one.
GENERIC_THING = re.compile(
    r"(?:这|那)(?:个|张|份|些|种)?(表格|表|单子|材料|资料|文件|证明|手续|东西)"
)
FILLER = re.compile(
    r"救命啊?|救救我|天哪|我的天|哎呀|哎|唉|急死(?:人|我)?了?|烦死了?|愁死了?|头大|"
    r"到底|究竟|真的|实在|请问|帮帮忙|帮帮我|帮我|麻烦|你们|我|要|该|应该|得|能|"
    r"怎么|怎样|如何|咋|哪能|啥|什么|看看|一下|"
    r"填|写|弄|搞|办|交|准备|用|伐|吗|呢|啊|呀|哦|嘛|吧|了|的|[\s\W_]"
)
FRUSTRATED = re.compile(r"救命|救救|天哪|我的天|急死|烦死|愁死|头大|到底|究竟|[!！]")
THING_KEY = {
    "表格": "表",
    "表": "表",
    "单子": "单",
    "材料": "材料",
    "资料": "资料",
    "文件": "文件",
    "证明": "证明",
}


def vague_thing(text: str) -> str | None:
    """The generic thing ("表格", "材料", …) a question points at without naming it, or None
    when the question says more than that."""
    m = GENERIC_THING.search(text)
    if m is None:
        return None
    rest = text[: m.start()] + text[m.end() :]
    return m.group(1) if not FILLER.sub("", rest) else None


def ask_which(thing: str, choices: list[FaqEntry], *, calm: bool) -> str:
    """Which form (paper, procedure) the resident means; the FAQ's matching entries as
    numbered choices."""
    which = {
        "表格": "哪一张表",
        "表": "哪一张表",
        "单子": "哪一张单子",
        "手续": "哪件事的手续",
        "东西": "哪一样东西",
    }.get(thing, f"哪一份{thing}")
    lines = ["别着急，我们一步一步来。" if calm else ""]
    lines.append(
        f"您说的是{which}？告诉我它的名称，或者是办什么事用的（比如办敬老卡、开证明、"
        "申请补贴），我帮您查清楚怎么填、要带什么。"
    )
    if choices:
        lines.append("如果是下面这些里的，回复数字即可：")
        lines += [f"{i}. {e.question}" for i, e in enumerate(choices, 1)]
    return "\n".join(line for line in lines if line)


def public_matter_reply(turn: Turn) -> Reply:
    """A question about a public matter's progress (a building after a fire, a road, a
    project) the FAQ cannot answer: honest, with who knows, never the general menu."""
    return Reply(
        "这件事现在的进展我这里查不到（我只能查到您自己登记过的工单）。"
        f"想了解的话，可以{turn.committee.contact_line()}问问；"
        "也可以回复“找社工”，我帮您转给社工来回答。",
        ReplyKind.FALLBACK,
    )


def compound_of(turn: Turn) -> str | None:
    """The compound a question is for: the group's or the one the resident told before, else
    the one it names ("燕宁苑湿垃圾几点扔" in a private chat; not remembered for later)."""
    if turn.compound is not None:
        return turn.compound.id
    named = turn.parse.value("compound")
    found = turn.committee.compound(named) if named else None
    return found.id if found is not None else None


def without_compound(turn: Turn) -> str:
    """The question with the compound it names taken out ("我在普陀一村租了间房子，要去登记伐"
    → "我在租了间房子，要去登记伐"): the compound scopes the search (``compound_of``), and
    its name, matching no entry's words, only lowered the right entry's score."""
    text = turn.text
    for entity in turn.parse.entities:
        if entity.entity == "compound" and len(entity.text) >= 2:
            text = text.replace(entity.text, " ")
    rest = text.strip()
    return rest if len(rest) >= 2 else turn.text


Learn = Callable[[str, str, str, str], Awaitable[object]]
"""Record a resident's phrasing as a proposed alternate: (committee, FAQ id, text, source)."""


class FaqRoute:
    name = "faq"
    capability = (
        "回答居委会常见问题（垃圾分类、证明办理、养老助餐、医保、电梯、物业等），办事材料一次说清"
    )

    def __init__(
        self,
        retrieval: RetrievalService,
        today: Callable[[], date],
        learn: Learn | None = None,
        answers: AnswerCache | None = None,
    ) -> None:
        """``answers``: the answer cache of repeated questions (``bot.dialogue.answers``):
        searched before the FAQ, and given what this route answers or offers choices from."""
        self._retrieval = retrieval
        self.today = today
        self._learn = learn
        self._answers = answers

    async def learn(self, committee: str, faq_id: str, text: str) -> None:
        """The resident picked ``faq_id`` for ``text``: propose it as an alternate. Never in
        the way of the answer: a store that is down only loses the proposal."""
        if self._learn is None or not text:
            return
        try:
            await self._learn(committee, faq_id, text, "choice")
        except StoreUnavailable:
            log.warning("proposal not recorded: store unavailable")

    def entry(self, committee: str, faq_id: str) -> FaqEntry | None:
        try:
            entries = self._retrieval.index(committee).entries
        except NoIndexError:
            return None
        return next((e for e in entries if e.id == faq_id), None)

    def entries(self, committee: str) -> Sequence[FaqEntry]:
        """The committee's indexed entries (raises NoIndexError before the first build)."""
        return self._retrieval.index(committee).entries

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        parse = turn.parse
        # Read as a status question, but about a project or not about any earlier report:
        # the FAQ is asked all the same.
        not_mine = parse.intent == "ticket_status" and (
            is_project_question(turn.text) or not asks_after_a_report(turn.text)
        )
        if parse.intent in SKIP_INTENTS and parse.confidence >= 0.6 and not not_mine:
            return None
        thing = vague_thing(turn.text)
        if thing is not None:
            return await self._ask_which(turn, thing)
        if parse.intent == "out_of_scope" and parse.confidence >= 0.85:
            return None
        outcome, key = await self._search(turn)
        if outcome is None:
            return None
        if outcome.kind == "none" and _asks_after_a_public_matter(turn):
            return [public_matter_reply(turn)]
        if outcome.kind == "answer" and outcome.answer is not None:
            self._keep(turn, key, outcome)
            return self.answer(turn, outcome.answer)
        if outcome.kind == "clarify" and outcome.choices:
            self._keep(turn, key, outcome)
            turn.state[CHOICES] = [h.entry.id for h in outcome.choices]
            turn.state[CHOICES_QUESTION] = turn.text[:200]
            return [Reply(format_clarify(outcome.choices), ReplyKind.CLARIFY)]
        return None

    async def _ask_which(self, turn: Turn, thing: str) -> list[Reply]:
        """A form or paper pointed at without its name: ask which, offering the entries
        about such things the search finds (never answering one of them as a guess)."""
        key = THING_KEY.get(thing, "")
        outcome = (await self._search(turn))[0] if key else None
        hits = outcome.hits if outcome is not None else ()
        choices = [h.entry for h in hits if key in h.entry.question][:3]
        if choices:
            turn.state[CHOICES] = [e.id for e in choices]
        calm = bool(FRUSTRATED.search(turn.text))
        return [Reply(ask_which(thing, choices, calm=calm), ReplyKind.CLARIFY)]

    async def search(self, turn: Turn) -> SearchOutcome | None:
        """Search the committee's FAQ for the turn's text (None: no index yet)."""
        return (await self._search(turn))[0]

    async def _search(self, turn: Turn) -> tuple[SearchOutcome | None, OutcomeKey | None]:
        """The outcome (from the answer cache when this question was answered before) and
        its cache key, taken before the search: an outcome is never kept under a newer
        corpus revision than the one it was searched in."""
        compound_id = compound_of(turn)
        day = self.today()
        text = without_compound(turn)
        key = self._key(turn.committee.id, text, compound_id, day)
        if key is not None and self._answers is not None:
            held = self._answers.outcome(key)
            if held is not None:
                return held, key
        try:
            outcome = await self._retrieval.asearch(turn.committee.id, text, compound_id, day)
        except NoIndexError:
            log.warning("no FAQ index for committee", extra={"committee": turn.committee.id})
            return None, None
        return outcome, key

    def _key(
        self, committee: str, text: str, compound_id: str | None, day: date
    ) -> OutcomeKey | None:
        if self._answers is None or not self._answers.enabled:
            return None
        revision = self._retrieval.revision(committee)
        if revision is None:
            return None
        query, truncated = self._retrieval.query_key(text)
        return (OUTCOME, committee, revision, compound_id, day, query, truncated)

    def _keep(self, turn: Turn, key: OutcomeKey | None, outcome: SearchOutcome) -> None:
        """Cache what this answer or these choices were made from: the outcome, and the
        reading when it is the NLU's reading of exactly this text."""
        if key is None or self._answers is None:
            return
        if self._retrieval.revision(turn.committee.id) != key[2]:
            return  # the FAQ changed during the search: the next message searches again
        reading = turn.parse if turn.parse.text == turn.text else None
        self._answers.remember(key, outcome, reading)

    def answer(self, turn: Turn, entry: FaqEntry) -> list[Reply]:
        compound_id = compound_of(turn)
        if (
            compound_id is None
            and entry.variants
            and not turn.is_group
            and not turn.state.get(ASKED_COMPOUND)
        ):
            turn.state[ASK_COMPOUND] = entry.id
            turn.state[ASKED_COMPOUND] = True
            names = "\n".join(f"{i}. {c.name}" for i, c in enumerate(turn.committee.compounds, 1))
            return [
                Reply(
                    f"这个问题各小区的安排不一样。请问您住在哪个小区？回复数字或小区名：\n{names}",
                    ReplyKind.SLOT,  # a question matched; only the compound is missing
                )
            ]
        text = format_answer(entry, compound_id, committee=turn.committee, as_of=self.today())
        turn.state[LAST_ANSWER] = {"id": entry.id, "at": datetime.now(UTC).isoformat()}
        return [Reply(text, ReplyKind.FAQ)]


class RuleFirstRoute:
    """A report or complaint the FAQ answers outright gets that answer first and the offer
    of a ticket second, instead of going straight into ticket intake: "楼梯灯坏了好几天了"
    (who repairs it and how), "垃圾房就在我家窗口下面，臭死了" (who decides and cleans),
    "楼上漏水 我家天花板都黄了" (the steps and who pays), complaints about neighbours (装修时间,
    夜间噪声, 养犬: the rule). Replying "报修" / "登记" opens the ticket with the first message
    as its description. A message that asks for action ("报修", "派人来修", "投诉", "登记"),
    names the building, room or a phone number, or that the FAQ has no clear answer for, passes to
    intake as before. Runs before intake."""

    name = "rule_first"
    capability = None

    def __init__(self, faq: FaqRoute) -> None:
        self._faq = faq

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        intent = turn.parse.intent
        if intent not in ("complain", "report_repair") or turn.state.get(DRAFT):
            return None
        if ASKS_FOR_A_TICKET.search(turn.text) or any(turn.parse.value(e) for e in PLACE_ENTITIES):
            return None
        outcome = await self._faq.search(turn)
        if outcome is None:
            return None
        category = "repair" if intent == "report_repair" else "complaint"
        if outcome.kind == "answer" and outcome.answer is not None:
            topic = outcome.answer.topic
            # the rule, or first the question which compound's rule (it follows the reply)
            replies = self._faq.answer(turn, outcome.answer)
        elif intent == "complain" and outcome.kind == "clarify" and outcome.choices:
            # two neighbour rules fit (夜间噪声 / 装修噪声): let the resident pick
            if any(h.entry.topic not in RULE_FIRST_TOPICS for h in outcome.choices):
                return None
            topic = outcome.choices[0].entry.topic
            turn.state[CHOICES] = [h.entry.id for h in outcome.choices]
            replies = [Reply(format_clarify(outcome.choices), ReplyKind.CLARIFY)]
        else:
            return None
        turn.state[OFFER_TICKET] = turn.text
        turn.state[OFFER_CATEGORY] = category
        if replies[-1].kind is ReplyKind.SLOT:
            # Which compound's rule? One question at a time: the offer follows the rule.
            return replies
        replies.append(Reply(offer_text(category, topic), ReplyKind.FAQ))
        return replies


class FollowUpRoute:
    """A short follow-up to the FAQ answer just given ("伊拉礼拜天开伐", "那要带啥", "收钱伐"):
    read against the entry last answered, so "伊拉/它/那个" is that entry's subject. Only a
    message with no topic of its own (no other entry's tag in it, no direct answer of its
    own) that points back or asks one more thing about it; anything else goes on."""

    name = "follow_up"
    capability = None

    def __init__(self, faq: FaqRoute) -> None:
        self._faq = faq

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        last = self._last(turn)
        if last is None:
            return None
        text = turn.text.strip()
        parse = turn.parse
        if len(text) > FOLLOW_UP_MAX_CHARS or any(k in turn.state for k in FOLLOW_UP_BUSY):
            return None
        if parse.intent in CHATTER and parse.confidence >= 0.5:
            return None
        if not (LEANS_BACK.search(text) or ASPECT.search(text)):
            return None  # "今天天气怎么样" right after an answer is not about it
        if self._own_topic(turn, last, text):
            return None
        alone = await self._faq.search(turn)
        if alone is None or alone.kind == "answer":
            return None  # it asks something of its own: the FAQ route answers it
        asked = Turn(
            turn.msg,
            f"{last.question} {text}",
            turn.committee,
            turn.compound,
            parse,
            turn.conversation,
        )
        outcome = await self._faq.search(asked)
        if outcome is None:
            return None
        if outcome.kind == "answer" and outcome.answer is not None:
            entry = outcome.answer
            replies = self._faq.answer(turn, entry)
            if entry.id == last.id and replies[0].kind is ReplyKind.FAQ:
                lead = f"您问的还是“{last.question}”这件事，再给您完整说一遍：\n"
                replies[0] = Reply(lead + replies[0].text, ReplyKind.FAQ)
            return replies
        if outcome.kind == "clarify" and outcome.choices:
            turn.state[CHOICES] = [h.entry.id for h in outcome.choices]
            turn.state[CHOICES_QUESTION] = asked.text[:200]
            return [Reply(format_clarify(outcome.choices), ReplyKind.CLARIFY)]
        return None

    def _last(self, turn: Turn) -> FaqEntry | None:
        held = turn.state.get(LAST_ANSWER)
        if not isinstance(held, dict):
            return None
        try:
            at = datetime.fromisoformat(str(held.get("at")))
        except ValueError:
            return None
        if datetime.now(UTC) - at > FOLLOW_UP_WITHIN:
            turn.state.pop(LAST_ANSWER, None)
            return None
        entry = self._faq.entry(turn.committee.id, str(held.get("id")))
        if entry is None or not entry.is_valid_on(self._faq.today()):
            return None
        return entry

    def _own_topic(self, turn: Turn, last: FaqEntry, text: str) -> bool:
        """Whether ``text`` names a topic of another entry ("那干垃圾呢", "那居住证呢")."""
        try:
            entries = self._faq.entries(turn.committee.id)
        except NoIndexError:
            return True
        mine = set(last.tags)
        return any(
            len(tag) >= 2 and tag not in mine and tag in text
            for e in entries
            if e.id != last.id
            for tag in e.tags
        )


FOLLOW_UP_BUSY = (DRAFT, CHOICES, ASK_COMPOUND, OFFER_TICKET)
"""A question Linli asked is awaiting its answer: no follow-up reading then."""
NAMED_CHOICE_MIN = 0.4
"""The least score a reply in words needs for its best entry to count as naming that choice."""
NAMED_CHOICE_LEAD = 0.1
"""How far that choice must lead the other offered ones (unless the reply's own search offers
choices again, led by it: then the resident has said more and it still leads)."""


class PendingChoiceRoute:
    """The reply to a question Linli just asked: a "did you mean" number, or the compound."""

    name = "pending_choice"
    capability = None

    def __init__(self, faq: FaqRoute) -> None:
        self._faq = faq

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        choices = turn.state.pop(CHOICES, None)
        question = turn.state.pop(CHOICES_QUESTION, None)
        asked_for = turn.state.pop(ASK_COMPOUND, None)
        if isinstance(asked_for, str):
            compound = _compound_reply(turn)
            if compound is not None:
                turn.remember_compound(compound)
                entry = self._faq.entry(turn.committee.id, asked_for)
                if entry is not None:
                    replies = self._faq.answer(turn, entry)
                    if turn.state.get(OFFER_TICKET):
                        # the rule asked for with a report or complaint: now the offer
                        category = str(turn.state.get(OFFER_CATEGORY) or "complaint")
                        replies.append(Reply(offer_text(category, entry.topic), ReplyKind.FAQ))
                    return replies
        if isinstance(choices, list) and choices:
            picked = parse_choice(turn.text, len(choices))
            if picked is not None:
                entry = self._faq.entry(turn.committee.id, str(choices[picked]))
                if entry is not None and entry.is_valid_on(self._faq.today()):
                    if isinstance(question, str):
                        await self._faq.learn(turn.committee.id, entry.id, question)
                    return self._faq.answer(turn, entry)
            else:
                entry = await self._named(turn, [str(c) for c in choices])
                if entry is not None:
                    return self._faq.answer(turn, entry)
        return None

    async def _named(self, turn: Turn, choices: list[str]) -> FaqEntry | None:
        """The offered choice a reply in words picks: "户口那个", "涨价的", or the question
        asked again more fully ("新生儿落户口要带啥材料") whose search still leads with one of
        the choices just offered — answered, never the same "did you mean" again. A reply
        the FAQ answers outright, or that leads elsewhere, is a new question (None)."""
        parse = turn.parse
        if parse.intent in CHATTER and parse.confidence >= 0.5:
            return None  # "好的", "都不是", "谢谢"
        outcome = await self._faq.search(turn)
        if outcome is None or outcome.kind == "answer" or not outcome.hits:
            return None
        top = outcome.hits[0]
        if top.entry.id not in choices or top.score < NAMED_CHOICE_MIN:
            return None
        others = [h.score for h in outcome.hits[1:] if h.entry.id in choices]
        lead = top.score - max(others, default=0.0)
        if outcome.kind != "clarify" and lead < NAMED_CHOICE_LEAD:
            return None
        return top.entry if top.entry.is_valid_on(self._faq.today()) else None


def _asks_after_a_public_matter(turn: Turn) -> bool:
    """ "上个月着火那栋楼现在修好了吗": how a public matter stands, not one's own report."""
    if not is_project_question(turn.text):
        return False
    return turn.parse.intent == "ticket_status" or asks_after_a_report(turn.text)


def _compound_reply(turn: Turn) -> Compound | None:
    compounds = turn.committee.compounds
    picked = parse_choice(turn.text, len(compounds))
    if picked is not None:
        return compounds[picked]
    named = turn.parse.value("compound")
    if named:
        return turn.committee.compound(named)
    return turn.committee.compound(turn.text.strip())

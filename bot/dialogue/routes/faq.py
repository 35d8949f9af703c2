"""Answers from the committee's FAQ, for the resident's compound (马上办、一次办).

Three outcomes of a search: an answer (with everything to bring), "did you mean" (2–3 numbered
choices; the resident replies with a number), or nothing (the next route or the fallback).
In a private chat, an answer that differs per compound asks the resident's compound once and
remembers it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date

from bot.dialogue.answers import OUTCOME, AnswerCache, OutcomeKey
from bot.dialogue.routes.intake import DRAFT, OFFER_TICKET
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
SKIP_INTENTS = {"report_repair", "complain", "request_human", "ticket_status"}
RULE_FIRST_TOPICS = frozenset({"neighbours", "renovation", "pets"})
"""Complaints about neighbours (noise, renovation hours, dogs, clutter) get the rule first."""
OFFER_TEXT = "如果需要居委会出面协调或上门调解，回复“登记”，我帮您记下来交给社工跟进。"

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

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        parse = turn.parse
        # Read as a status question, but about a project or not about any earlier report:
        # the FAQ is asked all the same.
        not_mine = parse.intent == "ticket_status" and (
            is_project_question(turn.text) or not asks_after_a_report(turn.text)
        )
        if parse.intent in SKIP_INTENTS and parse.confidence >= 0.6 and not not_mine:
            return None
        if parse.intent == "out_of_scope" and parse.confidence >= 0.85:
            return None
        outcome, key = await self._search(turn)
        if outcome is None:
            return None
        if outcome.kind == "answer" and outcome.answer is not None:
            self._keep(turn, key, outcome)
            return self.answer(turn, outcome.answer)
        if outcome.kind == "clarify" and outcome.choices:
            self._keep(turn, key, outcome)
            turn.state[CHOICES] = [h.entry.id for h in outcome.choices]
            turn.state[CHOICES_QUESTION] = turn.text[:200]
            return [Reply(format_clarify(outcome.choices), ReplyKind.CLARIFY)]
        return None

    async def search(self, turn: Turn) -> SearchOutcome | None:
        """Search the committee's FAQ for the turn's text (None: no index yet)."""
        return (await self._search(turn))[0]

    async def _search(self, turn: Turn) -> tuple[SearchOutcome | None, OutcomeKey | None]:
        """The outcome (from the answer cache when this question was answered before) and
        its cache key, taken before the search: an outcome is never kept under a newer
        corpus revision than the one it was searched in."""
        compound_id = turn.compound.id if turn.compound else None
        day = self.today()
        key = self._key(turn.committee.id, turn.text, compound_id, day)
        if key is not None and self._answers is not None:
            held = self._answers.outcome(key)
            if held is not None:
                return held, key
        try:
            outcome = await self._retrieval.asearch(turn.committee.id, turn.text, compound_id, day)
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
        compound_id = turn.compound.id if turn.compound else None
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
        return [Reply(text, ReplyKind.FAQ)]


class RuleFirstRoute:
    """A complaint about neighbours gets the FAQ's rule first (装修时间, 夜间噪声, 养犬) and
    the offer of a ticket (mediation) second, instead of going straight into ticket intake.
    Runs before intake; any other complaint, or one the FAQ has no clear rule for, passes."""

    name = "rule_first"
    capability = None

    def __init__(self, faq: FaqRoute) -> None:
        self._faq = faq

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        if turn.parse.intent != "complain" or turn.state.get(DRAFT):
            return None
        outcome = await self._faq.search(turn)
        if outcome is None:
            return None
        if outcome.kind == "answer" and outcome.answer is not None:
            if outcome.answer.topic not in RULE_FIRST_TOPICS:
                return None
            # the rule, or first the question which compound's rule (it follows the reply)
            replies = self._faq.answer(turn, outcome.answer)
        elif outcome.kind == "clarify" and outcome.choices:
            # two neighbour rules fit (夜间噪声 / 装修噪声): let the resident pick
            if any(h.entry.topic not in RULE_FIRST_TOPICS for h in outcome.choices):
                return None
            turn.state[CHOICES] = [h.entry.id for h in outcome.choices]
            replies = [Reply(format_clarify(outcome.choices), ReplyKind.CLARIFY)]
        else:
            return None
        turn.state[OFFER_TICKET] = turn.text
        replies.append(Reply(OFFER_TEXT, ReplyKind.FAQ))
        return replies


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
                    return self._faq.answer(turn, entry)
        if isinstance(choices, list) and choices:
            picked = parse_choice(turn.text, len(choices))
            if picked is not None:
                entry = self._faq.entry(turn.committee.id, str(choices[picked]))
                if entry is not None and entry.is_valid_on(self._faq.today()):
                    if isinstance(question, str):
                        await self._faq.learn(turn.committee.id, entry.id, question)
                    return self._faq.answer(turn, entry)
        return None


def _compound_reply(turn: Turn) -> Compound | None:
    compounds = turn.committee.compounds
    picked = parse_choice(turn.text, len(compounds))
    if picked is not None:
        return compounds[picked]
    named = turn.parse.value("compound")
    if named:
        return turn.committee.compound(named)
    return turn.committee.compound(turn.text.strip())

"""The answer cache of repeated questions (``bot.dialogue.answers``), on the whole bot: a
question asked again is answered from the cache (``/metrics`` counts it), exactly as the
first time; an FAQ change is answered at once; a crisis never comes from the cache; each
compound keeps its own answer."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import Any

from conversation_helpers import Resident, kinds, texts

from bot import appkeys
from bot.dialogue.answers import OUTCOME, READING, AnswerCache
from bot.domain import Chat, ChatType, IncomingMessage, Sender
from bot.nlu.types import ParseResult
from bot.retrieval.service import SearchOutcome

QUESTION = "大件垃圾怎么处理"
CRISIS = "电梯困人了，我被关在里面出不来"


async def cache_counts(bot: Any) -> dict[tuple[str, str], float]:
    """The answer cache's look-ups as ``/metrics`` shows them: (part, result) → count."""
    resp = await bot.get("/metrics")
    assert resp.status == 200
    counts: dict[tuple[str, str], float] = {}
    pattern = r'^linli_answer_cache_total\{part="(\w+)",result="(\w+)"\} ([0-9.e+]+)$'
    for part, result, value in re.findall(pattern, await resp.text(), re.M):
        counts[(part, result)] = float(value)
    return counts


def hits(counts: dict[tuple[str, str], float], part: str) -> float:
    return counts.get((part, "hit"), 0.0)


async def test_a_repeated_question_is_answered_from_the_cache(bot: Any) -> None:
    first = await Resident(bot, "ac1").say(QUESTION)
    assert kinds(first) == ["faq"]
    before = await cache_counts(bot)
    again = await Resident(bot, "ac2").say(QUESTION)
    after = await cache_counts(bot)
    # the same answer, neither classified nor searched again
    assert again["replies"] == first["replies"]
    assert hits(after, READING) == hits(before, READING) + 1
    assert hits(after, OUTCOME) == hits(before, OUTCOME) + 1


async def test_an_faq_change_is_answered_at_once(bot: Any) -> None:
    resident = Resident(bot, "ac3")
    first = await resident.say(QUESTION)
    await resident.say(QUESTION)  # now cached
    faqs = bot.app[appkeys.FAQS]
    entry_id = next(
        e.id for e in await faqs.entries("puxiong") if e.question.startswith("旧家具、旧沙发")
    )
    entry = await faqs.entry("puxiong", entry_id)
    assert entry is not None
    assert entry.answer in texts(first)
    changed = dataclasses.replace(entry, answer="大件垃圾请先预约，每周六上午在小区东门集中收运。")
    assert await faqs.update("puxiong", changed, "admin") is not None
    before = await cache_counts(bot)
    edited = await resident.say(QUESTION)
    assert "每周六上午在小区东门集中收运" in texts(edited)
    assert hits(await cache_counts(bot), OUTCOME) == hits(before, OUTCOME)
    # the new answer is cached in turn
    assert texts(await Resident(bot, "ac4").say(QUESTION)) == texts(edited)
    assert hits(await cache_counts(bot), OUTCOME) == hits(before, OUTCOME) + 1


async def test_a_crisis_never_comes_from_the_cache(bot: Any) -> None:
    before = await cache_counts(bot)
    for n in range(2):
        data = await Resident(bot, f"ac5-{n}").say(CRISIS)
        assert kinds(data) == ["emergency"]
    after = await cache_counts(bot)
    assert hits(after, READING) == hits(before, READING)
    assert hits(after, OUTCOME) == hits(before, OUTCOME)


async def test_a_cached_reading_never_passes_the_emergency_step(bot: Any) -> None:
    """Even a calm reading of the very text in the cache (as if it had once been answered
    as a question) does not keep the crisis layer from reading the message."""
    nlu = bot.app[appkeys.NLU]
    pipeline = bot.app[appkeys.PIPELINE]
    understanding = pipeline._nlu
    key = understanding.key("puxiong", CRISIS)
    assert key is not None
    reading = nlu.parse(CRISIS, committee="puxiong")
    assert reading.is_emergency
    calm = dataclasses.replace(reading, intent="faq", emergency=None)
    outcome = SearchOutcome("answer", CRISIS, None)
    cache = understanding._cache
    cache.remember(("outcome", *key[1:3], None, key[3], CRISIS, False), outcome, calm)
    assert cache.reading(key) == calm
    message = IncomingMessage(
        "ac6-1",
        "webhook",
        "default",
        "puxiong",
        Chat("p-ac6", ChatType.PRIVATE),
        Sender("ac6"),
        CRISIS,
    )
    replies = await pipeline.handle(message)
    assert [r.kind.value for r in replies] == ["emergency"]


async def test_compounds_do_not_share_their_answers(bot: Any) -> None:
    question = "物业费怎么交"
    old_estate = Resident(bot, "ac7", chat="g-putuoyicun", group=True)
    new_estate = Resident(bot, "ac8", chat="g-yanningyuan", group=True)
    first = texts(await old_estate.say(question))
    assert "普陀一村是老旧小区" in first
    other = texts(await new_estate.say(question))
    assert "普陀一村" not in other
    assert "物业服务中心缴纳" in other
    before = await cache_counts(bot)
    assert texts(await old_estate.say(question)) == first
    assert texts(await new_estate.say(question)) == other
    assert hits(await cache_counts(bot), OUTCOME) == hits(before, OUTCOME) + 2


def _reading(text: str) -> ParseResult:
    return ParseResult(text, "faq", 0.9)


def test_the_cache_is_bounded_and_forgets_a_committee_whose_corpus_changed() -> None:
    cache = AnswerCache(3)
    day = date(2026, 12, 5)
    for n in range(4):
        text = f"问题{n}"
        key = (OUTCOME, "c", "rev1", None, day, text, False)
        cache.remember(key, SearchOutcome("answer", text, None), _reading(text))
    assert len(cache) == 3  # least recently used first out
    assert cache.reading((READING, "c", "rev1", day, "问题0")) is None
    assert cache.reading((READING, "c", "rev1", day, "问题3")) == _reading("问题3")
    # another compound, another day, another revision: other keys
    assert cache.outcome((OUTCOME, "c", "rev1", "yanningyuan", day, "问题3", False)) is None
    assert cache.outcome((OUTCOME, "c", "rev1", None, date(2026, 12, 6), "问题3", False)) is None
    # the first key of a new revision drops the committee's older entries
    assert cache.outcome((OUTCOME, "c", "rev2", None, day, "问题3", False)) is None
    assert len(cache) == 0
    # nothing is kept without room, nor an outcome that answers nothing
    off = AnswerCache(0)
    off.remember(key, SearchOutcome("answer", "x", None), _reading("x"))
    cache.remember(key, SearchOutcome("none", "x", None), _reading("x"))
    assert len(off) == len(cache) == 0

"""The pipeline's declared steps, in the order of the README's flow, and the middleware
around it, on the whole bot."""

from __future__ import annotations

from typing import Any

from conversation_helpers import Resident

from bot import appkeys
from bot.domain import Chat, ChatType, IncomingMessage, Sender, once
from bot.storage.conversations import Mode


def test_the_steps_read_like_the_readme(bot: Any) -> None:
    """emergency → mention gate → group etiquette → human gate → check-in answer → address →
    routes → fallback (messages without text are answered before the NLU reads anything; the
    turn journal answers a message applied already before anything else under the lock)."""
    pipeline = bot.app[appkeys.PIPELINE]
    assert [s.name for s in pipeline.steps] == [
        "events",
        "media",
        "understand",
        "emergency",
        "mention_gate",
        "etiquette",
        "conversation",
    ]
    assert [s.name for s in pipeline.turn_steps] == [
        "journal",
        "human_gate",
        "check_in",
        "address",
        "routes",
        "fallback",
    ]


async def test_a_message_through_ingress_is_timed_and_counted_by_the_middleware(bot: Any) -> None:
    sample = bot.app[appkeys.METRICS].registry.get_sample_value
    before = sample("linli_pipeline_seconds_count") or 0
    data = await Resident(bot, "s1").say("你好")
    kinds = [r["kind"] for r in data["replies"]]
    assert kinds
    assert sample("linli_pipeline_seconds_count") == before + 1
    for kind in set(kinds):
        counted = sample("linli_messages_total", {"committee": "puxiong", "kind": kind})
        assert counted == kinds.count(kind)


async def test_the_journal_answers_before_the_human_gate(bot: Any) -> None:
    """A message whose turn was applied gets the same answer even after a caseworker took the
    conversation; a new message then meets the human gate: silence, and no turn applied."""
    pipeline, conversations = bot.app[appkeys.PIPELINE], bot.app[appkeys.CONVERSATIONS]

    def message(mid: str, text: str) -> IncomingMessage:
        return IncomingMessage(
            mid, "webhook", "default", "puxiong", Chat("p-s2", ChatType.PRIVATE), Sender("s2"), text
        )

    first = await pipeline.handle(message("a", "我要报修"))
    assert first
    conv = await conversations.get(message("a", "").conversation_key)
    assert conv is not None
    conv.mode = Mode.HUMAN
    await conversations.save(conv)
    assert await pipeline.handle(message("a", "我要报修")) == first
    assert await pipeline.handle(message("b", "客厅的灯坏了")) == []
    held = await conversations.get(message("a", "").conversation_key)
    assert held is not None
    assert once.applied(held.state, message("a", "").dedup_key) == first
    assert once.applied(held.state, message("b", "").dedup_key) is None
    assert held.state["draft"] == conv.state["draft"]

"""Unanswered questions are grouped by meaning (the real encoder), ranked, and leave the
list once reviewed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender
from bot.encoders import Encoder
from bot.insights import UnansweredQuestions
from bot.insights.unanswered import star_clusters
from bot.nlu import CrisisRules
from bot.storage.messages import InboundRecord
from bot.storage.sql import Database, SqlMessageLog

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)

CHICKENS = ["小区里能养鸡吗", "可以在小区养鸡吗", "楼下养鸡允许吗", "我想在院子里养几只鸡可以吗"]
BARBECUE = ["楼下能烧烤吗", "小区里可以烧烤吗", "在楼下搞烧烤允许不"]
EBIKES = ["电动车可以进电梯吗", "电瓶车能推进电梯吗"]
LONERS = ["明天会下雨吗", "社区有没有瑜伽班"]


def _records(texts: list[str], outcome: str = "fallback") -> list[InboundRecord]:
    return [
        InboundRecord(i + 1, f"k{i}", t, outcome, T0 + timedelta(minutes=i), None)
        for i, t in enumerate(texts)
    ]


def _clusters_of(service: UnansweredQuestions, texts: list[str]) -> list[set[str]]:
    return [{m.text for m in c.messages} for c in service.cluster_records(_records(texts))]


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[SqlMessageLog]:
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}")
    await db.migrate()
    yield SqlMessageLog(db)
    await db.close()


def test_paraphrases_end_up_together_and_apart_from_other_questions(
    log: SqlMessageLog, encoder: Encoder
) -> None:
    service = UnansweredQuestions(log, encoder)
    texts = [*CHICKENS, *LONERS, *BARBECUE, *EBIKES]
    clusters = service.cluster_records(_records(texts))
    found = [{m.text for m in c.messages} for c in clusters]
    assert found[:3] == [set(CHICKENS), set(BARBECUE), set(EBIKES)]
    assert sorted(map(sorted, found[3:])) == [["明天会下雨吗"], ["社区有没有瑜伽班"]]
    biggest = clusters[0]
    assert biggest.representative in CHICKENS
    assert set(biggest.alternates()) == set(CHICKENS) - {biggest.representative}
    assert biggest.last_seen == max(m.created_at for m in biggest.messages)
    # The same input always gives the same clusters.
    assert _clusters_of(service, texts) == found


def test_noise_is_skipped_and_repeats_count(log: SqlMessageLog, encoder: Encoder) -> None:
    service = UnansweredQuestions(log, encoder)
    texts = ["😀😀", "？", "1", "  ", "[捂脸]", "能养鸡吗！", "能 养鸡吗", "能养鸡吗", "下雨吗"]
    clusters = service.cluster_records(_records(texts))
    assert [c.size for c in clusters] == [3, 1]
    assert {m.text for m in clusters[0].messages} == {"能 养鸡吗", "能养鸡吗", "能养鸡吗！"}
    # The newest wording of the centre speaks for the cluster; a different spacing of the
    # same words is not another wording.
    assert clusters[0].representative == "能养鸡吗"
    assert clusters[0].alternates() == ["能养鸡吗！"]
    assert service.cluster_records([]) == []
    assert service.cluster_records(_records(["😀"])) == []
    single = service.cluster_records(_records(["火星上能停车吗"]))
    assert [(c.representative, c.size, c.alternates()) for c in single] == [
        ("火星上能停车吗", 1, [])
    ]


def test_star_clustering_never_chains_loosely_related_questions() -> None:
    # a~b and b~c are similar, a and c are not: b (most neighbours) takes both only as
    # direct neighbours — every member is similar to the centre.
    angle = np.deg2rad(40)
    a = [1.0, 0.0]
    b = [np.cos(angle), np.sin(angle)]
    c = [np.cos(2 * angle), np.sin(2 * angle)]
    d = [-1.0, 0.0]
    vecs = np.array([a, b, c, d], dtype=np.float32)
    assert star_clusters(vecs, [1, 1, 1, 1], threshold=0.7) == [[1, 0, 2], [3]]
    # Weight decides the centre: a repeated question wins.
    assert star_clusters(vecs[:2], [1, 5], threshold=0.99) == [[1], [0]]
    assert star_clusters(np.zeros((0, 2), dtype=np.float32), [], 0.6) == []


def test_five_thousand_messages_cluster_in_bounded_time(
    log: SqlMessageLog, encoder: Encoder
) -> None:
    service = UnansweredQuestions(log, encoder)
    rng = np.random.default_rng(7)
    words = list("水电煤气停车垃圾电梯物业证明养老医保快递噪音宠物维修租房绿化门禁消防")
    texts = ["".join(rng.choice(words, size=6)) + "怎么办" for _ in range(5000)]
    started = time.perf_counter()
    clusters = service.cluster_records(_records(texts))
    elapsed = time.perf_counter() - started
    assert sum(c.size for c in clusters) == 5000
    assert elapsed < 60, elapsed


async def test_the_service_reads_unreviewed_unanswered_messages_and_dismisses_them(
    log: SqlMessageLog, encoder: Encoder
) -> None:
    service = UnansweredQuestions(log, encoder)
    assert await service.clusters("puxiong") == []
    for i, text in enumerate([*CHICKENS, "湿垃圾几点扔"]):
        msg = IncomingMessage(
            message_id=f"m{i}",
            channel="webhook",
            account="default",
            committee="puxiong",
            chat=Chat(f"p{i}", ChatType.PRIVATE),
            sender=Sender(f"u{i}"),
            text=text,
        )
        await log.record_inbound(msg)
        kind = ReplyKind.FAQ if text == "湿垃圾几点扔" else ReplyKind.CLARIFY
        await log.record_outbound(msg, [Reply("…", kind)], "passive")
    clusters = await service.clusters("puxiong")
    assert [sorted(m.text for m in c.messages) for c in clusters] == [sorted(CHICKENS)]
    assert await service.clusters("other") == []
    assert await service.dismiss("other", clusters[0].message_ids) == 0
    assert await service.dismiss("puxiong", clusters[0].message_ids) == 4
    assert await service.clusters("puxiong") == []


def test_a_crisis_is_never_offered_as_an_faq_gap(log: SqlMessageLog, encoder: Encoder) -> None:
    """A self-harm message logged as a fallback (before its rule existed) stays out of the
    clusters: nobody should see "一键生成常见问题" next to it."""
    rules = CrisisRules.load(Path(__file__).resolve().parents[2] / "intents")
    service = UnansweredQuestions(log, encoder, is_crisis=lambda t: rules.detect(t) is not None)
    crisis = ["我真的不想活了", "活着真没意思，不想活了"]
    found = _clusters_of(service, [*CHICKENS, *crisis])
    assert found == [set(CHICKENS)]
    unfiltered = _clusters_of(UnansweredQuestions(log, encoder), [*CHICKENS, *crisis])
    assert any(set(crisis) & group for group in unfiltered)

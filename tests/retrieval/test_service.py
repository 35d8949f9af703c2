"""Index lifecycle: atomic swap under load, persistence and reload, embedding cache."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.faq import FaqEntry
from bot.encoders import Encoder
from bot.retrieval.service import NoIndexError, RetrievalService, SearchOutcome

from .conftest import TODAY, CountingEncoder, entry

QUESTIONS = [
    ("wet", "湿垃圾几点可以扔？", ["湿垃圾什么时候倒", "厨余垃圾投放时间"]),
    ("lift", "电梯坏了怎么报修？", ["电梯不动了找谁", "电梯报修电话"]),
    ("fee", "物业费怎么交？", ["物业费在哪里交", "管理费去哪付"]),
    ("dog", "养狗要办狗证吗？", ["狗证在哪里办", "犬只登记怎么弄"]),
]


def corpus(version: str) -> list[FaqEntry]:
    return [
        entry(f"{version}-{key}", q, f"版本{version}：{q}的回答。", alternates=alts)
        for key, q, alts in QUESTIONS
    ]


def test_rebuild_swaps_atomically_while_searching(encoder: Encoder) -> None:
    service = RetrievalService(encoder, today=lambda: TODAY)
    service.rebuild("c", corpus("a"))
    stop = threading.Event()
    outcomes: list[SearchOutcome] = []
    failures: list[BaseException] = []

    def search_loop() -> None:
        while not stop.is_set():
            try:
                outcomes.append(service.search("c", "湿垃圾啥时候可以倒"))
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=search_loop) for _ in range(3)]
    for t in threads:
        t.start()

    def wait_for(version: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not failures:
            if any(o.hits and o.hits[0].entry.id == f"{version}-wet" for o in outcomes[-50:]):
                return
            time.sleep(0.01)

    try:
        wait_for("a")
        for version in ("b", "a", "b", "a", "b"):
            service.rebuild("c", corpus(version))
        wait_for("b")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures
    assert len(outcomes) >= 2
    for outcome in outcomes:
        assert outcome.kind == "answer"
        versions = {h.entry.id.split("-")[0] for h in outcome.hits}
        assert len(versions) == 1  # one search never mixes two indexes
    assert {o.hits[0].entry.id for o in outcomes} == {"a-wet", "b-wet"}
    assert service.index("c").entries[0].id == "b-wet"


async def test_async_rebuild_and_search_together(encoder: Encoder) -> None:
    service = RetrievalService(encoder, today=lambda: TODAY)
    await service.arebuild("c", corpus("a"))
    results = await asyncio.gather(
        service.arebuild("c", corpus("b")),
        *(service.asearch("c", "物业费在什么地方交") for _ in range(8)),
    )
    for outcome in results[1:]:
        assert isinstance(outcome, SearchOutcome)
        assert outcome.answer is not None
        assert outcome.answer.id in {"a-fee", "b-fee"}
    after = await service.asearch("c", "物业费在什么地方交")
    assert after.answer is not None
    assert after.answer.id == "b-fee"


def test_persisted_index_is_reloaded_without_encoding(tmp_path: Path, encoder: Encoder) -> None:
    entries = corpus("a")
    first_encoder = CountingEncoder(encoder)
    first = RetrievalService(first_encoder, index_dir=tmp_path, today=lambda: TODAY)
    first.load_or_build("puxiong", entries)
    assert first_encoder.encoded == 12
    committee_dir = tmp_path / "puxiong"
    current = (committee_dir / "CURRENT").read_text()
    assert (committee_dir / current / "manifest.json").is_file()
    assert (committee_dir / "embeddings.npz").is_file()
    before = first.search("puxiong", "电梯不动了怎么办")

    second_encoder = CountingEncoder(encoder)
    second = RetrievalService(second_encoder, today=lambda: TODAY)
    loaded = second.load_or_build("puxiong", entries, tmp_path)
    assert second_encoder.encoded == 0
    assert loaded.fingerprint == first.index("puxiong").fingerprint
    after = second.search("puxiong", "电梯不动了怎么办")
    assert [(h.entry.id, h.score) for h in after.hits] == [
        (h.entry.id, h.score) for h in before.hits
    ]
    assert (committee_dir / "CURRENT").read_text() == current  # nothing rebuilt


def test_edits_rebuild_and_encode_only_changed_text(tmp_path: Path, encoder: Encoder) -> None:
    counting = CountingEncoder(encoder)
    service = RetrievalService(counting, index_dir=tmp_path, today=lambda: TODAY)
    entries = corpus("a")
    service.load_or_build("puxiong", entries)
    counting.encoded = 0

    new_answer = [dataclasses.replace(entries[0], answer="新的回答。"), *entries[1:]]
    service.load_or_build("puxiong", new_answer)
    assert counting.encoded == 0  # the answer changed, no indexed text did
    assert service.search("puxiong", "湿垃圾什么时候倒").answer == new_answer[0]

    new_alt = [dataclasses.replace(new_answer[0], alternates=("倒湿垃圾是几点",)), *new_answer[1:]]
    counting.encoded = 0
    service.rebuild("puxiong", new_alt)
    assert counting.encoded == 1
    versions = [p for p in (tmp_path / "puxiong").iterdir() if p.name.startswith("v-")]
    assert len(versions) == 2  # the current one and the previous one
    assert not [p for p in (tmp_path / "puxiong").iterdir() if p.name.startswith(".")]


def test_broken_index_on_disk_is_rebuilt(tmp_path: Path, encoder: Encoder) -> None:
    service = RetrievalService(encoder, index_dir=tmp_path, today=lambda: TODAY)
    service.load_or_build("puxiong", corpus("a"))
    current = tmp_path / "puxiong" / (tmp_path / "puxiong" / "CURRENT").read_text()
    manifest = json.loads((current / "manifest.json").read_text())
    manifest["n_texts"] = 999
    (current / "manifest.json").write_text(json.dumps(manifest))
    fresh = RetrievalService(encoder, index_dir=tmp_path, today=lambda: TODAY)
    index = fresh.load_or_build("puxiong", corpus("a"))
    assert index.n_texts == 12
    assert (tmp_path / "puxiong" / "CURRENT").read_text() != current.name


def test_repeated_questions_are_answered_from_the_cache_until_the_faq_changes(
    encoder: Encoder,
) -> None:
    counting = CountingEncoder(encoder)
    service = RetrievalService(counting, today=lambda: TODAY)
    service.rebuild("c", corpus("a"))
    question = "湿垃圾啥时候可以倒"
    first = service.search("c", question)
    assert first.hits[0].entry.id == "a-wet"
    encoded = counting.encoded
    again = service.search("c", question)
    assert counting.encoded == encoded  # neither encoded nor ranked again
    assert dataclasses.replace(again, latency_ms=0) == dataclasses.replace(first, latency_ms=0)
    # The compound and the day are part of the key (eligibility depends on both).
    service.search("c", question, "yanningyuan")
    service.search("c", question, today=TODAY + timedelta(days=1))
    assert counting.encoded == encoded + 2
    # Any FAQ change builds a new index, and the cached outcomes go with the old one.
    service.rebuild("c", corpus("b"))
    assert service.search("c", question).hits[0].entry.id == "b-wet"
    service.drop("c")
    with pytest.raises(NoIndexError):
        service.search("c", question)

"""Prometheus metrics, one registry per application (no module-level collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "linli_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.messages = Counter(
            "linli_messages",
            "Resident messages handled by the pipeline, by reply kind",
            ["committee", "kind"],
            registry=self.registry,
        )
        self.answer_cache = Counter(
            "linli_answer_cache",
            "Answer cache look-ups of repeated questions: the NLU's reading and the FAQ search's"
            " outcome, hit or miss",
            ["part", "result"],
            registry=self.registry,
        )
        self.pipeline_seconds = Histogram(
            "linli_pipeline_seconds",
            "Time the pipeline took to answer one message",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8),
            registry=self.registry,
        )

"""Unanswered questions: residents' messages the bot could not answer (outcome ``fallback``)
or only guessed at (``clarify``: "did you mean …" choices), grouped into clusters of the same
question so an admin can turn each cluster into one new FAQ.

How:

1. the committee's latest unreviewed such messages (at most ``max_messages``);
2. each text normalised like a search query (``bot.retrieval.normalize``); texts with fewer
   than ``MIN_CHARS`` letters/digits (emoji, "？", "1", "嗯") and bare numbers are skipped;
   identical normalised texts become one node (weighted by how often it was asked);
3. nodes embedded with the shared sentence encoder (cached per text), off the event loop;
4. star clustering on cosine similarity: every node's weight of neighbours at or above
   ``threshold`` is counted; the node with the most (ties: most recent) becomes the centre of
   a cluster holding every still-free neighbour, and so on. Every member is directly similar
   to its centre (no chaining of loosely related questions), and the result depends only on
   the input (deterministic);
5. clusters ranked by how many messages they hold, then by the newest message; the centre's
   latest wording is the representative question.

The similarity matrix is computed in row blocks, so 5,000 messages take a few seconds of one
core (``bench/unanswered.py``)."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from bot.encoders import Encoder, Vectors
from bot.retrieval.normalize import MAX_QUERY_CHARS, Normalizer, core_text
from bot.storage.messages import InboundRecord, MessageLog

UNANSWERED_OUTCOMES = frozenset({"fallback", "clarify"})
"""No answer, or a low-confidence "did you mean" instead of an answer."""
MIN_CHARS = 2
"""Letters/digits a message needs to be a question worth clustering."""
THRESHOLD = 0.6
"""Cosine similarity from which two questions are the same question (USE multilingual v3:
paraphrases score 0.6–0.9, related but different questions up to about 0.55)."""
MAX_MESSAGES = 5000
BLOCK = 512
"""Rows of the similarity matrix computed at once (``BLOCK × n`` floats)."""


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    id: int
    text: str
    conversation_key: str
    outcome: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Cluster:
    representative: str
    """The question the cluster asks, in the most central member's latest wording."""
    messages: tuple[ClusterMessage, ...]
    """Newest first."""

    @property
    def size(self) -> int:
        return len(self.messages)

    @property
    def last_seen(self) -> datetime:
        return self.messages[0].created_at

    @property
    def first_seen(self) -> datetime:
        return self.messages[-1].created_at

    @property
    def message_ids(self) -> tuple[int, ...]:
        return tuple(m.id for m in self.messages)

    @property
    def fallbacks(self) -> int:
        return sum(m.outcome == "fallback" for m in self.messages)

    def alternates(self, limit: int = 10) -> list[str]:
        """Other wordings of the question (distinct, newest first), for the new FAQ."""
        seen = {_key(self.representative)}
        out: list[str] = []
        for m in self.messages:
            wording = clean(m.text)
            if wording and _key(wording) not in seen:
                seen.add(_key(wording))
                out.append(wording)
            if len(out) >= limit:
                break
        return out


def clean(text: str) -> str:
    """A message as a question for the FAQ form: one line, trimmed, at most 200 characters."""
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def _key(text: str) -> str:
    return "".join(text.split()).lower()


@dataclass(slots=True)
class _Node:
    key: str
    """Normalised text."""
    records: list[InboundRecord]
    """Newest first."""


def star_clusters(vectors: Vectors, weights: Sequence[int], threshold: float) -> list[list[int]]:
    """Star clustering of L2-normalised rows (see the module docstring). Nodes come newest
    first, so ties go to the newer one. Returns clusters of node indices, centre first."""
    n = len(vectors)
    if n == 0:
        return []
    w = np.asarray(weights, dtype=np.float64)
    neighbours: list[NDArray[np.int64]] = []
    degree = np.zeros(n, dtype=np.float64)
    for start in range(0, n, BLOCK):
        sims = vectors[start : start + BLOCK] @ vectors.T
        for offset, row in enumerate(sims):
            idx = np.flatnonzero(row >= threshold)
            i = start + offset
            if i not in idx:  # a zero vector is not similar to itself
                idx = np.append(idx, i)
            neighbours.append(idx)
            degree[i] = w[idx].sum()
    # Highest weighted degree first; stable sort keeps the newer node first on ties.
    order = np.argsort(-degree, kind="stable")
    free = np.ones(n, dtype=bool)
    clusters: list[list[int]] = []
    for centre in order:
        if not free[centre]:
            continue
        members = [int(i) for i in neighbours[centre] if free[i] and i != centre]
        free[centre] = False
        free[members] = False
        clusters.append([int(centre), *members])
    return clusters


class EmbeddingMemo:
    """Vectors of recently clustered texts (bounded, thread-safe): reloading the page does
    not encode the same questions again."""

    def __init__(self, encoder: Encoder, capacity: int = 20_000) -> None:
        self.encoder = encoder
        self._capacity = capacity
        self._vectors: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        fresh = self.encoder.encode(missing) if missing else None
        with self._lock:
            if fresh is not None:
                for t, v in zip(missing, fresh, strict=True):
                    self._vectors[t] = v
            out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
            for i, t in enumerate(texts):
                vec = self._vectors.get(t)
                if vec is None:  # evicted meanwhile by a concurrent call
                    vec = self.encoder.encode([t])[0]
                self._vectors[t] = vec
                self._vectors.move_to_end(t)
                out[i] = vec
            while len(self._vectors) > self._capacity:
                self._vectors.popitem(last=False)
        return out


class UnansweredQuestions:
    """The unanswered-questions service the console and the API use."""

    def __init__(
        self,
        message_log: MessageLog,
        encoder: Encoder,
        *,
        normalizer: Normalizer | None = None,
        threshold: float = THRESHOLD,
        max_messages: int = MAX_MESSAGES,
        is_crisis: Callable[[str], bool] | None = None,
    ) -> None:
        """``is_crisis``: the crisis rules; a crisis message is never an FAQ gap (messages
        logged before a rule existed, or that only the classifier missed, stay out too)."""
        self._is_crisis = is_crisis
        self._log = message_log
        self._memo = EmbeddingMemo(encoder)
        self._normalizer = normalizer or Normalizer()
        self.threshold = threshold
        self.max_messages = max_messages

    async def clusters(self, committee: str) -> list[Cluster]:
        """The committee's unreviewed unanswered questions, clustered and ranked."""
        records = await self._log.recent_inbound(
            committee,
            limit=self.max_messages,
            outcomes=UNANSWERED_OUTCOMES,
            include_reviewed=False,
        )
        if not records:
            return []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.cluster_records, records)

    async def dismiss(self, committee: str, message_ids: Sequence[int]) -> int:
        """Mark messages reviewed (忽略): they leave the list. Returns how many did."""
        return await self._log.mark_reviewed(committee, message_ids)

    def cluster_records(self, records: Sequence[InboundRecord]) -> list[Cluster]:
        """Cluster messages (newest first) synchronously — CPU work, run it off the loop."""
        nodes: dict[str, _Node] = {}
        for record in sorted(records, key=lambda r: (r.created_at, r.id), reverse=True):
            if self._is_crisis is not None and self._is_crisis(record.text):
                continue
            key = self._normalizer.normalize(record.text)
            core = core_text(key)
            if len(core) < MIN_CHARS or core.isdigit():
                continue
            node = nodes.get(key)
            if node is None:
                nodes[key] = _Node(key, [record])
            else:
                node.records.append(record)
        ordered = list(nodes.values())
        if not ordered:
            return []
        vectors = self._memo.embed([n.key for n in ordered])
        groups = star_clusters(vectors, [len(n.records) for n in ordered], self.threshold)
        clusters = []
        for group in groups:
            members = [r for i in group for r in ordered[i].records]
            members.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            clusters.append(
                Cluster(
                    representative=clean(ordered[group[0]].records[0].text),
                    messages=tuple(
                        ClusterMessage(r.id, r.text, r.conversation_key, r.outcome, r.created_at)
                        for r in members
                    ),
                )
            )
        clusters.sort(key=lambda c: (-c.size, -c.last_seen.timestamp(), c.representative))
        return clusters

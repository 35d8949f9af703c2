"""Each message once: the one exactly-once mechanism, its key and its records.

One key: a message's ``IncomingMessage.dedup_key`` (``channel:account:message_id``). It names
the message everywhere it must count once: the intake claim in the state store
(``bot.storage.keys.dedup``), the message log's unique inbound row, a ticket's source key, and
the conversation's turn journal below.

The mechanism holds at two points, because a message has two kinds of effect that no single
store commits together:

1. **Intake** (``bot.channels.ingress``): a platform's duplicate deliveries and retries, and a
   message taken up again after its worker died, are answered from the stored ``Answer``
   instead of being processed again; replies that went out actively are not sent twice. It
   guards everything a message does, the crisis path and events included, but its answer is
   stored only after the pipeline ran.
2. **Turn journal** (conversation state ``applied``, kept by the pipeline): the dialogue
   turn and the journal entry are saved in the same fenced write of the conversation. A
   worker that saved the turn and died (or hit a store failure) before the intake stored the
   answer leaves the message unanswered; when it is processed again, the journal answers as
   before instead of applying the turn a second time (slots, counters, drafts move once).

On the normal path (a turn applied under the conversation lock) the two halves are written in
one transaction (``bot.storage.messages.ANSWER_WITH_TURN``): the stored answer, the outcome and
the outbound rows with the conversation and its journal entry. The journal still answers a
message whose turn was saved without its answer (a turn saved outside the intake, or by a
worker of an older release). The intake's claim stays a transaction of its own, before the
pipeline runs: it is what stops a replay when the state store lost its keys, and what fences
a dead worker's message before anything of it (a crisis alert, a ticket) is done again.

Both read and write replies in the one stored form, ``Reply.to_dict`` / ``Reply.from_dict``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from bot.domain.messages import Reply


class Delivery(enum.StrEnum):
    """How an outbound message went out: the one vocabulary of the message log's
    ``delivery``, for the bot's replies and for messages Linli or a caseworker started
    (set by the channel layer, where the send happens)."""

    PASSIVE = "passive"
    """In the platform's response to the message itself (it may have been lost)."""
    ACTIVE = "active"
    """Sent: accepted by the platform's API (a late reply, a push)."""
    PULL = "pull"
    """Fetched by the client from the conversation log (the /try page)."""
    FAILED = "failed"
    """The platform refused it or could not be reached (``DeliveryReport`` has its error)."""
    UNDELIVERABLE = "undeliverable"
    """The channel cannot send it: no active sender, or its push window is closed."""
    SENDING = "sending"
    """A caseworker's retry of a failed message is under way (held for ``RETRY_HOLD_S``)."""
    PENDING = "pending"
    """A late reply stored with its turn and not yet accepted by the platform: the late
    sender is sending it, and renews its claim while it does. Still pending after
    ``late_send_lease_s`` (its worker died), it is sent again by any worker's recovery; its
    real outcome (``active``, ``failed``, ``undeliverable``) replaces it once known."""


RETRY_HOLD_S = 300.0
"""How long a retry holds a failed message (``Delivery.SENDING``) before another retry may
take it: far longer than a send with its retries takes."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """How one send went, with the platform's error when it failed."""

    status: Delivery
    error_code: int | None = None
    """The platform's ``errcode`` (or HTTP status) when it sent one."""
    error: str = ""
    """What went wrong, safe to show to a caseworker (never a secret or a phone number)."""

    @property
    def delivered(self) -> bool:
        """Handed to the platform (or to the client that pulls it)."""
        return self.status in (Delivery.PASSIVE, Delivery.ACTIVE, Delivery.PULL)


@dataclass(frozen=True, slots=True)
class Answer:
    """A message's stored answer: its replies and how they went out."""

    replies: list[Reply]
    delivery: Delivery

    def dump(self) -> str:
        return json.dumps(
            {"delivery": self.delivery.value, "replies": [r.to_dict() for r in self.replies]},
            ensure_ascii=False,
        )

    @classmethod
    def load(cls, raw: str) -> Answer:
        data = json.loads(raw)
        return cls([Reply.from_dict(r) for r in data["replies"]], Delivery(data["delivery"]))

    def for_retry(self) -> list[Reply]:
        """What a retry of the message gets: replies that go out actively (sent, or still
        pending: the late sender or recovery sends them) must not be sent a second time;
        ones sent passively (the response may have been lost) or that could not be
        delivered are offered again."""
        if self.delivery in (Delivery.ACTIVE, Delivery.PENDING):
            return []
        return list(self.replies)


APPLIED = "applied"
"""Conversation state: the turn journal, the latest messages applied to the conversation
(``APPLIED_KEPT``), each with the replies it got."""

APPLIED_KEPT = 8


def _entries(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = state.get(APPLIED)
    if isinstance(raw, dict):  # one entry, as saved before several were kept
        raw = [raw]
    return [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []


def applied(state: Mapping[str, Any], key: str) -> list[Reply] | None:
    """The replies of message ``key`` if its turn was applied to this conversation."""
    for entry in _entries(state):
        if entry.get("key") == key:
            raw = entry.get("replies")
            return (
                [Reply.from_dict(r) for r in raw if isinstance(r, Mapping)]
                if isinstance(raw, list)
                else []
            )
    return None


def remember_applied(state: MutableMapping[str, Any], key: str, replies: list[Reply]) -> None:
    """Note in the journal that message ``key``'s turn is applied (saved with the turn)."""
    entries = [e for e in _entries(state) if e.get("key") != key]
    entries.append({"key": key, "replies": [r.to_dict() for r in replies]})
    state[APPLIED] = entries[-APPLIED_KEPT:]

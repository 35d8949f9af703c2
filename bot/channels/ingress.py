"""Exactly-once intake shared by every channel.

For each message: claim its dedup key, store it in the conversation log, run the pipeline,
store the replies, and hand them back within the reply budget (passive reply) or, when the
pipeline is slower, deliver them later through the channel's active sender. A retried message
gets the stored answer (or nothing, if that answer already went out actively) and is never
processed twice. A store that is down raises ``StoreUnavailable`` before anything is
acknowledged, so the channel answers 503 and the platform retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.background import BackgroundTasks
from bot.domain import IncomingMessage, Reply, ReplyKind, StoreUnavailable, TicketRef
from bot.storage import keys
from bot.storage.messages import MessageLog
from bot.storage.state import PROCESSING, StateStore

log = logging.getLogger(__name__)

Handler = Callable[[IncomingMessage], Awaitable[list[Reply]]]
LateDelivery = Callable[[IncomingMessage, list[Reply]], Awaitable[None]]

APOLOGY = "抱歉，系统刚才出了点问题，您的消息已记录，工作人员会尽快处理。如有急事请直接联系居委会。"


@dataclass(frozen=True, slots=True)
class IngressResult:
    replies: list[Reply]
    """Replies to send back passively now (empty: nothing to send in this response)."""
    duplicate: bool = False
    pending: bool = False
    """The replies were not ready within the budget; they go out through the active sender."""


@dataclass(slots=True)
class _Flight:
    waiting: bool = True


class Ingress:
    def __init__(
        self,
        handler: Handler,
        state: StateStore,
        message_log: MessageLog,
        tasks: BackgroundTasks,
        *,
        lease_s: float,
        dedup_ttl_s: float,
        late_retry_attempts: int = 5,
        late_retry_delay_s: float = 1.0,
    ) -> None:
        self._handler = handler
        self._state = state
        self._log = message_log
        self._tasks = tasks
        self._lease_s = lease_s
        self._dedup_ttl_s = dedup_ttl_s
        self._late_attempts = late_retry_attempts
        self._late_delay_s = late_retry_delay_s

    async def receive(
        self, msg: IncomingMessage, budget_s: float, late: LateDelivery | None
    ) -> IngressResult:
        """Process ``msg`` once. ``late`` delivers replies that miss ``budget_s``; without it
        the replies are logged as undeliverable once the budget has passed."""
        key = keys.dedup(msg.dedup_key)
        if not await self._state.claim(key, self._lease_s):
            return await self._duplicate(key, budget_s)
        try:
            await self._log.record_inbound(msg)
        except BaseException:
            await _quietly(self._state.release(key))
            raise
        flight = _Flight()
        task = self._tasks.spawn(self._process(msg, key, flight, late), name=f"msg {key}")
        await asyncio.wait({task}, timeout=budget_s)
        if task.done():
            return IngressResult(task.result())
        flight.waiting = False
        return IngressResult([], pending=True)

    async def _process(
        self, msg: IncomingMessage, key: str, flight: _Flight, late: LateDelivery | None
    ) -> list[Reply]:
        started = time.perf_counter()
        replies = await self._run_handler(msg, key, flight)
        if flight.waiting:
            try:
                await self._log.record_outbound(msg, replies, "passive")
                await self._state.finish(key, _dump(replies, "passive"), self._dedup_ttl_s)
            except StoreUnavailable:
                # Not acknowledged: give the claim back so the platform's retry answers.
                await _quietly(self._state.release(key))
                raise
            log.info(
                "message answered",
                extra={"key": key, "replies": len(replies), "ms": _ms(started)},
            )
            return replies
        delivery = "active" if late is not None and replies else "undeliverable"
        if not replies:
            delivery = "passive"
        await self._log.record_outbound(msg, replies, delivery)
        await self._state.finish(key, _dump(replies, delivery), self._dedup_ttl_s)
        if late is not None and replies:
            await late(msg, replies)
        elif replies:
            log.warning("late reply has no active channel", extra={"key": key})
        log.info("message answered late", extra={"key": key, "ms": _ms(started)})
        return replies

    async def _run_handler(self, msg: IncomingMessage, key: str, flight: _Flight) -> list[Reply]:
        attempt = 0
        while True:
            try:
                return await self._handler(msg)
            except StoreUnavailable:
                attempt += 1
                if flight.waiting:
                    # Nothing acknowledged yet: give the claim back; the platform retries.
                    await _quietly(self._state.release(key))
                    raise
                if attempt >= self._late_attempts:
                    log.error("store down while answering late", extra={"key": key})
                    return [Reply(APOLOGY, ReplyKind.FALLBACK)]
                await asyncio.sleep(self._late_delay_s * attempt)
            except Exception:
                log.exception("pipeline failed", extra={"key": key})
                return [Reply(APOLOGY, ReplyKind.FALLBACK)]

    async def _duplicate(self, key: str, budget_s: float) -> IngressResult:
        deadline = time.monotonic() + budget_s
        while True:
            stored = await self._state.peek(key)
            if stored is not None and stored != PROCESSING:
                replies, delivery = _load(stored)
                # Replies that already went out actively must not be sent a second time;
                # ones that could not be delivered are offered again to the retry.
                resend = delivery in {"passive", "undeliverable"}
                return IngressResult(replies if resend else [], duplicate=True)
            if stored is None or time.monotonic() >= deadline:
                return IngressResult([], duplicate=True, pending=stored is not None)
            await asyncio.sleep(0.05)


def _dump(replies: list[Reply], delivery: str) -> str:
    return json.dumps(
        {
            "delivery": delivery,
            "replies": [
                {
                    "text": r.text,
                    "kind": r.kind.value,
                    "private": r.private,
                    "ticket": None
                    if r.ticket is None
                    else {
                        "number": r.ticket.number,
                        "status": r.ticket.status,
                        "priority": r.ticket.priority,
                    },
                }
                for r in replies
            ],
        },
        ensure_ascii=False,
    )


def _load(raw: str) -> tuple[list[Reply], str]:
    data = json.loads(raw)
    replies = [
        Reply(
            text=r["text"],
            kind=ReplyKind(r["kind"]),
            private=bool(r.get("private")),
            ticket=None if r.get("ticket") is None else TicketRef(**r["ticket"]),
        )
        for r in data["replies"]
    ]
    return replies, str(data["delivery"])


async def _quietly(aw: Awaitable[None]) -> None:
    try:
        await aw
    except StoreUnavailable:
        log.warning("could not release a claim; it expires with its lease")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

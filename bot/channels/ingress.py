"""Exactly-once intake shared by every channel.

The conversation log (database) is the source of truth; the state store (Redis or
in-process) is the fast path. For each message: claim its dedup key (a lease with a fencing
token), store it in the log under that token, run the pipeline while a heartbeat renews both
leases, store the replies (only while the token still holds the message), and hand them back
within the reply budget (passive reply) or, when the pipeline is slower, deliver them later
through the channel's active sender.

This is the intake half of the one exactly-once mechanism (``bot.domain.once``: one key,
the message's ``dedup_key``; one stored ``Answer``). A retried message gets the stored answer
(``Answer.for_retry``: nothing, if it already went out actively) and is not processed again
once answered; while another worker processes it, the retry waits
for that answer within its budget, and takes the message over if that worker's lease runs
out. When the state store lost its keys, the log's unique inbound key still recognises the
retry and answers it from the log. A message is acknowledged only once it is stored: a
stored message without an answer whose lease ran out (its worker died, or gave it back) is
taken up again by ``recover``, on any worker, and answered through the channel's late
sender (``register_late``). A late answer is stored as pending (``Delivery.PENDING``) with
its turn, before it is sent, and its real outcome once the platform answered; its sender
renews its claim meanwhile, and a pending answer whose claim ran out (its worker died before
the platform took it) is sent again by ``recover``: at least once, never lost, and a retry
of the message gets nothing while it is pending. A store that is down raises
``StoreUnavailable`` before anything is acknowledged, so the channel answers 503 and the
platform retries. A message processed again because its answer was never stored (its worker
died, or the store failed after the pipeline saved the turn) is answered by the pipeline's
turn journal, the other half of the mechanism, instead of being applied to the conversation
twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.background import BackgroundTasks
from bot.domain import ChatType, IncomingMessage, Reply, ReplyKind, StoreUnavailable
from bot.domain.once import Answer, Delivery, DeliveryReport
from bot.storage import keys
from bot.storage.conversations import Conversation
from bot.storage.messages import ANSWER_WITH_TURN, Intake, MessageLog, Superseded
from bot.storage.state import (
    PRETAKEN,
    PROCESSING,
    Fenced,
    Finish,
    Lease,
    LockTimeout,
    Pretaken,
    StateStore,
)

log = logging.getLogger(__name__)

Handler = Callable[[IncomingMessage], Awaitable[list[Reply]]]

OPEN_CHECK_S = 0.25
"""How often a request waiting for its replies checks that its connection is still open (an
answer being stored checks it then and there; this only frees the waiting request)."""
LateDelivery = Callable[[IncomingMessage, list[Reply]], Awaitable[DeliveryReport]]
"""Sends a message's replies actively; how it went (sent, or failed with the platform's
error: recorded on the replies)."""
LateSender = Callable[[IncomingMessage, str], LateDelivery | None]
"""A channel's late delivery rebuilt for a stored message and its ``reply_to`` (None: the
channel cannot deliver it)."""

APOLOGY = "抱歉，系统刚才出了点问题，您的消息已记录，工作人员会尽快处理。如有急事请直接联系居委会。"


@dataclass(frozen=True, slots=True)
class IngressResult:
    replies: list[Reply]
    """Replies to send back passively now (empty: nothing to send in this response)."""
    duplicate: bool = False
    pending: bool = False
    """The replies were not ready within the budget; they go out through the active sender."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The request a message came with, as the intake sees it: when it arrived (its reply
    budget counts from then, not from when the intake got to it) and whether its connection
    is still open (a passive reply written after the platform hung up reaches nobody)."""

    arrived: float
    """``time.monotonic()`` when the request reached its handler."""
    is_open: Callable[[], bool]


@dataclass(slots=True)
class _Flight:
    waiting: bool = True
    """The request that brought the message still waits for its replies."""
    answering: bool = False
    """The replies are ready and being stored for that request: it waits for them."""
    given_back: bool = False
    """This worker gave the message back unanswered (left for recovery)."""
    stored: Answer | None = None
    """The answer stored with the pipeline's turn (``_TurnAnswer``), once it is."""
    known: Conversation | None = None
    """The conversation read with the claim, until the pipeline takes it (``_TurnAnswer``)."""
    pretaken: Pretaken | None = None
    """The conversation lock taken with the claim, until the pipeline takes it up."""
    caller: Caller | None = None

    def still_waiting(self) -> bool:
        """Whether the request still waits for a passive reply: not once it stopped waiting,
        nor once its connection closed (the platform timed out: its retry, or nobody, would
        be handed an answer stored for it, so the answer goes out actively instead)."""
        if self.waiting and self.caller is not None and not self.caller.is_open():
            self.waiting = False
        return self.waiting


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
        late_send_lease_s: float = 20.0,
        max_attempts: int = 5,
        recovery_batch: int = 50,
        poll_s: float = 0.05,
    ) -> None:
        self._handler = handler
        self._state = state
        self._log = message_log
        self._tasks = tasks
        self._lease_s = lease_s
        self._dedup_ttl_s = dedup_ttl_s
        self._late_attempts = late_retry_attempts
        self._late_delay_s = late_retry_delay_s
        self._late_lease_s = late_send_lease_s
        self._max_attempts = max_attempts
        self._batch = recovery_batch
        self._poll_s = poll_s
        self._late_senders: dict[str, LateSender] = {}

    def register_late(self, channel: str, sender: LateSender) -> None:
        """How ``channel`` delivers the answer to a message taken up again by ``recover``."""
        self._late_senders[channel] = sender

    async def receive(
        self,
        msg: IncomingMessage,
        budget_s: float,
        late: LateDelivery | None,
        *,
        reply_to: str = "",
        caller: Caller | None = None,
    ) -> IngressResult:
        """Process ``msg`` once. ``late`` delivers replies that miss ``budget_s``; without it
        the replies are logged as undeliverable once the budget has passed. ``reply_to`` is
        what the channel's late sender needs besides the message (kept with it in the log).
        ``caller``: the HTTP request, whose arrival starts the budget and whose closed
        connection ends the wait at once."""
        start = time.monotonic() if caller is None else min(caller.arrived, time.monotonic())
        deadline = start + budget_s
        key = keys.dedup(msg.dedup_key)
        # In a private chat the pipeline answers under the conversation lock: it comes with
        # the claim, in the same round trip (``PRETAKEN``), if free.
        lock = keys.lock(msg.conversation_key) if msg.chat.type is ChatType.PRIVATE else None
        token, lease = await self._state.claim_with_lock(key, self._lease_s, lock)
        if token is None:
            return await self._duplicate(msg, key, deadline, late, reply_to, caller)
        pretaken = None if lease is None else Pretaken(lease)
        return await self._claimed(msg, key, token, deadline, late, reply_to, caller, pretaken)

    async def recover(self) -> int:
        """Take up stored messages whose lease ran out unanswered (a worker died or gave them
        back) and answer them through their channel's late sender, and send again late
        answers left pending longer than ``late_send_lease_s`` (their sender died before
        the platform took them). Returns how many were taken up; each is processed in the
        background."""
        taken = 0
        for item in await self._log.unfinished(self._batch):
            msg = item.message
            key = keys.dedup(msg.dedup_key)
            token = await self._state.claim(key, self._lease_s)
            if token is None:
                continue  # a live worker (or a waiting retry) has it
            try:
                status = await self._log.claim_inbound(msg, fence=token, lease_s=self._lease_s)
            except BaseException:
                await _quietly(self._state.release(key, token))
                raise
            if not status.held:
                if status.intake is Intake.DONE and status.result is not None:
                    await _quietly(self._state.finish(key, status.result, self._dedup_ttl_s))
                else:
                    await _quietly(self._state.release(key, token))
                continue
            late = self._late_for(msg, item.reply_to)
            if item.attempts >= self._max_attempts:
                work = self._abandon(msg, key, token, late, item.attempts)
            else:
                work = self._finish_late(msg, key, token, late)
            self._tasks.spawn(work, name=f"recover {key}")
            log.info("message taken up again", extra={"key": key, "attempt": item.attempts + 1})
            taken += 1
        # Each pending answer is claimed by one worker (``take_late``): never sent by two.
        for pending in await self._log.take_late(self._late_lease_s, self._batch):
            msg = pending.message
            key = keys.dedup(msg.dedup_key)
            late = self._late_for(msg, pending.reply_to)
            self._tasks.spawn(
                self._send_late(msg, key, pending.replies, late), name=f"resend {key}"
            )
            log.warning("late answer left pending by its sender; sending it", extra={"key": key})
            taken += 1
        return taken

    def _late_for(self, msg: IncomingMessage, reply_to: str) -> LateDelivery | None:
        sender = self._late_senders.get(msg.channel)
        return None if sender is None else sender(msg, reply_to)

    async def _claimed(
        self,
        msg: IncomingMessage,
        key: str,
        token: int,
        deadline: float,
        late: LateDelivery | None,
        reply_to: str,
        caller: Caller | None,
        pretaken: Pretaken | None = None,
    ) -> IngressResult:
        """This request holds the dedup claim ``token`` (and perhaps the conversation lock,
        ``pretaken``): store the message under it (or take over a stored one whose lease ran
        out) and process it."""
        while True:
            try:
                # The conversation comes along in the same transaction: the pipeline uses it
                # if nothing was saved under the conversation lock since (``_TurnAnswer``).
                status = await self._log.claim_inbound(
                    msg,
                    fence=token,
                    lease_s=self._lease_s,
                    reply_to=reply_to,
                    read_conversation=True,
                )
            except BaseException:
                await _quietly(self._state.release(key, token))
                await self._let_go(pretaken)
                raise
            if status.held:
                break
            await self._let_go(pretaken)
            if status.intake is Intake.DONE:
                # The state store had lost the message (restart, flush): the log answers.
                return await self._answered(key, status.result)
            # Stored and held by a live lease elsewhere: wait for its answer, or its lapse.
            if _gone(deadline, caller):
                await _quietly(self._state.release(key, token))
                return IngressResult([], duplicate=True, pending=True)
            await asyncio.sleep(self._poll_s * 2)
        flight = _Flight(known=status.conversation, pretaken=pretaken, caller=caller)
        task = self._tasks.spawn(self._process(msg, key, token, flight, late), name=f"msg {key}")
        await _wait_while_waiting(task, flight, deadline)
        if not task.done() and flight.answering:
            # The replies are ready and being stored for this very response.
            await asyncio.wait({task})
        if task.done():
            replies = task.result()
            if replies is not None:
                if caller is not None and not caller.is_open():
                    # Stored for this request as it hung up: the platform's retry gets it.
                    log.warning("passive reply ready as the request closed", extra={"key": key})
                return IngressResult(replies)
            if flight.given_back:
                # Stored, unanswered, free to be taken up again: acknowledged, not dropped.
                return IngressResult([], pending=True)
            # A newer claim took the message over: answer the request like a retry.
            return await self._duplicate(msg, key, deadline, late, reply_to, caller)
        flight.waiting = False
        return IngressResult([], pending=True)

    async def _duplicate(
        self,
        msg: IncomingMessage,
        key: str,
        deadline: float,
        late: LateDelivery | None,
        reply_to: str,
        caller: Caller | None,
    ) -> IngressResult:
        """The message is claimed (or done): wait for its answer within the budget; take it
        over if the holder's claim lapses meanwhile."""
        while True:
            stored = await self._state.peek(key)
            if stored is not None and stored != PROCESSING:
                return _resend(stored)
            if stored is None:
                token = await self._state.claim(key, self._lease_s)
                if token is not None:
                    return await self._claimed(msg, key, token, deadline, late, reply_to, caller)
                continue
            if _gone(deadline, caller):
                # Acknowledge only a stored message: the holder may have died before storing
                # it. Stored unclaimed, it is taken up by ``recover`` once the claim lapses.
                status = await self._log.claim_inbound(msg, fence=0, lease_s=0, reply_to=reply_to)
                if status.intake is Intake.DONE:
                    return await self._answered(key, status.result)
                return IngressResult([], duplicate=True, pending=True)
            await asyncio.sleep(self._poll_s)

    async def _answered(self, key: str, result: str | None) -> IngressResult:
        """A retry of a message the log has answered already."""
        if result is None:
            return IngressResult([], duplicate=True)
        await _quietly(self._state.finish(key, result, self._dedup_ttl_s))
        return _resend(result)

    async def _process(
        self,
        msg: IncomingMessage,
        key: str,
        token: int,
        flight: _Flight,
        late: LateDelivery | None,
    ) -> list[Reply] | None:
        """Run the pipeline and store its answer under ``token``. None: not answered by this
        worker (another claim took the message over, or it was given back for later)."""
        started = time.perf_counter()
        heartbeat = asyncio.create_task(
            self._heartbeat(msg, key, token, flight), name=f"lease {key}"
        )
        try:
            replies = await self._run_handler(msg, key, token, flight, late)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await self._let_go(flight.pretaken)
        if replies is None:
            return None
        if flight.stored is not None:
            return await self._stored_with_turn(msg, key, flight.stored, replies, late, started)
        if flight.still_waiting():
            flight.answering = True
            result = Answer(replies, Delivery.PASSIVE).dump()
            try:
                accepted = await self._log.record_outbound(
                    msg, replies, Delivery.PASSIVE, fence=token, result=result
                )
            except StoreUnavailable:
                # Not acknowledged: give the message back so the platform's retry answers.
                await self._give_back(msg, key, token)
                raise
            if not accepted:
                log.warning("answer refused: message taken over", extra={"key": key})
                return None
            await _quietly(self._state.finish(key, result, self._dedup_ttl_s))
            log.info(
                "message answered",
                extra={"key": key, "replies": len(replies), "ms": _ms(started)},
            )
            return replies
        if await self._store_late(msg, key, token, replies, late):
            log.info("message answered late", extra={"key": key, "ms": _ms(started)})
        return replies

    async def _stored_with_turn(
        self,
        msg: IncomingMessage,
        key: str,
        stored: Answer,
        replies: list[Reply],
        late: LateDelivery | None,
        started: float,
    ) -> list[Reply]:
        """The pipeline stored the answer with its turn (and marked the message done when
        it released the conversation lock): hand it back, or send it now if it goes out
        actively."""
        if replies != stored.replies:
            log.error("the pipeline changed an answer it had stored", extra={"key": key})
        if stored.delivery is Delivery.PASSIVE:
            log.info(
                "message answered",
                extra={"key": key, "replies": len(stored.replies), "ms": _ms(started)},
            )
        elif stored.delivery is Delivery.PENDING:
            await self._send_late(msg, key, stored.replies, late)
            log.info("message answered late", extra={"key": key, "ms": _ms(started)})
        elif stored.replies:
            log.warning("late reply has no active channel", extra={"key": key})
        return stored.replies

    async def _finish_late(
        self, msg: IncomingMessage, key: str, token: int, late: LateDelivery | None
    ) -> None:
        await self._process(msg, key, token, _Flight(waiting=False), late)

    async def _abandon(
        self, msg: IncomingMessage, key: str, token: int, late: LateDelivery | None, tries: int
    ) -> None:
        """A message that failed every attempt: apologise instead of trying forever."""
        log.error("message abandoned after repeated failures", extra={"key": key, "tries": tries})
        await self._store_late(msg, key, token, [Reply(APOLOGY, ReplyKind.FALLBACK)], late)

    async def _store_late(
        self,
        msg: IncomingMessage,
        key: str,
        token: int,
        replies: list[Reply],
        late: LateDelivery | None,
    ) -> bool:
        """Store replies that go out actively as pending, then send them (``_send_late``: a
        crash in between leaves them pending, and recovery sends them). False when nothing
        was sent (refused, or left for recovery)."""
        delivery = _late_delivery(replies, late)
        result = Answer(replies, delivery).dump()
        attempt = 0
        while True:
            try:
                accepted = await self._log.record_outbound(
                    msg, replies, delivery, fence=token, result=result
                )
                break
            except StoreUnavailable:
                attempt += 1
                if attempt >= self._late_attempts:
                    log.error(
                        "store down while answering late; left for recovery", extra={"key": key}
                    )
                    await self._give_back(msg, key, token)
                    return False
                await asyncio.sleep(self._late_delay_s * attempt)
        if not accepted:
            log.warning("answer refused: message taken over", extra={"key": key})
            return False
        await _quietly(self._state.finish(key, result, self._dedup_ttl_s))
        if delivery is Delivery.PENDING:
            await self._send_late(msg, key, replies, late)
        elif replies:
            log.warning("late reply has no active channel", extra={"key": key})
        return True

    async def _send_late(
        self, msg: IncomingMessage, key: str, replies: list[Reply], late: LateDelivery | None
    ) -> DeliveryReport:
        """Send the pending late answer to ``msg``, renewing its claim while the platform
        takes its time, and record how it went. At least once: a worker that dies after the
        platform accepted the send but before the outcome is recorded leaves it pending, and
        recovery sends it a second time; one that dies before loses nothing."""
        if late is None:
            log.warning("late reply has no active channel", extra={"key": key})
            report = DeliveryReport(Delivery.UNDELIVERABLE)
        else:
            keeper = asyncio.create_task(self._keep_late_claim(msg, key), name=f"late {key}")
            try:
                report = await late(msg, replies)
            except Exception:
                # Not a platform's answer (those come back as a report): recorded as failed,
                # not left pending to be sent again and again.
                log.exception("late sender failed", extra={"key": key})
                report = DeliveryReport(Delivery.FAILED, error="发送出错")
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
        attempt = 0
        while True:
            try:
                await self._log.record_late_delivery(msg, report)
                return report
            except StoreUnavailable:
                attempt += 1
                if attempt >= self._late_attempts:
                    # Left pending: recovery sends it again (the resident may get it twice).
                    log.error("late delivery status not recorded", extra={"key": key})
                    return report
                await asyncio.sleep(self._late_delay_s * attempt)

    async def _keep_late_claim(self, msg: IncomingMessage, key: str) -> None:
        """Renew the claim on a pending late answer while this worker sends it, so that no
        other worker's recovery sends it too."""
        while True:
            await asyncio.sleep(self._late_lease_s / 3)
            try:
                if not await self._log.renew_late(msg):
                    return
            except StoreUnavailable:
                log.warning("could not renew a late answer's claim", extra={"key": key})

    async def _run_handler(
        self,
        msg: IncomingMessage,
        key: str,
        token: int,
        flight: _Flight,
        late: LateDelivery | None,
    ) -> list[Reply] | None:
        attempt = 0
        while True:
            answer = _TurnAnswer(self, msg, key, token, flight, late)
            context = ANSWER_WITH_TURN.set(answer)
            lock_context = PRETAKEN.set(flight.pretaken)
            try:
                return await self._handler(msg)
            except Superseded:
                log.warning("answer refused: message taken over", extra={"key": key})
                return None
            except StoreUnavailable:
                attempt += 1
                if flight.still_waiting():
                    # Nothing acknowledged yet: give the message back; the platform retries.
                    await self._give_back(msg, key, token)
                    raise
                if attempt >= self._late_attempts:
                    log.error(
                        "store down while answering late; left for recovery", extra={"key": key}
                    )
                    await self._give_back(msg, key, token)
                    flight.given_back = True
                    return None
                await asyncio.sleep(self._late_delay_s * attempt)
            except Fenced:
                # This worker lost the conversation lock while it worked (it stalled past its
                # lease): its turn is void. The message goes back, unanswered, to be taken up
                # again (a no-op if a newer claim holds it already).
                log.warning("turn refused: the conversation moved on", extra={"key": key})
                await self._give_back(msg, key, token)
                flight.given_back = True
                return None
            except LockTimeout:
                # The conversation stayed busy: not the resident's fault, and not dropped. The
                # message goes back unanswered; ``recover`` (or the platform's retry) takes it up.
                log.warning("conversation busy; message left for recovery", extra={"key": key})
                await self._give_back(msg, key, token)
                flight.given_back = True
                return None
            except Exception:
                log.exception("pipeline failed", extra={"key": key})
                return [Reply(APOLOGY, ReplyKind.FALLBACK)]
            finally:
                PRETAKEN.reset(lock_context)
                ANSWER_WITH_TURN.reset(context)

    async def _heartbeat(self, msg: IncomingMessage, key: str, token: int, flight: _Flight) -> None:
        """Renew the message's leases (log and state store) while this worker processes it."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            if flight.stored is not None:
                if flight.stored.delivery is not Delivery.PENDING:
                    return  # answered: no lease left to renew
                # Answered late, not sent yet (the pipeline still finishes its turn): keep
                # the answer's claim, so that no other worker sends it meanwhile.
                try:
                    await self._log.renew_late(msg)
                except StoreUnavailable:
                    log.warning("could not renew a late answer's claim", extra={"key": key})
                continue
            try:
                if not await self._log.renew_inbound(msg, token, self._lease_s):
                    log.warning("message lease lost to another worker", extra={"key": key})
                    return
                await self._state.renew(key, token, self._lease_s)
            except StoreUnavailable:
                log.warning("could not renew a message lease", extra={"key": key})

    async def _let_go(self, pretaken: Pretaken | None) -> None:
        """Release the conversation lock taken with the claim if the pipeline did not take
        it up (it answered without it, or never ran)."""
        if pretaken is None or pretaken.lease is None:
            return
        lease, pretaken.lease = pretaken.lease, None
        await _quietly(self._state.unlock(lease.name, lease.token))

    async def _give_back(self, msg: IncomingMessage, key: str, token: int) -> None:
        """End this worker's leases on an unanswered message so that it is taken up again."""
        await _quietly(self._log.release_inbound(msg, token))
        await _quietly(self._state.release(key, token))


class _TurnAnswer:
    """``ANSWER_WITH_TURN`` for one message this worker holds: the pipeline stores the
    answer in the transaction that saves its turn, under the message's claim (``token``),
    passive while the request still waits for it, else for the late sender."""

    def __init__(
        self,
        ingress: Ingress,
        msg: IncomingMessage,
        key: str,
        token: int,
        flight: _Flight,
        late: LateDelivery | None,
    ) -> None:
        self._ingress = ingress
        self._msg = msg
        self._key = key
        self._token = token
        self._flight = flight
        self._late = late

    def known(self, msg: IncomingMessage, lease: Lease) -> Conversation | None:
        flight = self._flight
        known, flight.known = flight.known, None
        if known is None or msg.dedup_key != self._msg.dedup_key:
            return None
        # Current only if the last save noted under the lock is the version read (a save
        # not noted is caught anyway: the fenced write checks the version read).
        return known if known.version and lease.previous == str(known.version) else None

    async def __call__(
        self, msg: IncomingMessage, replies: list[Reply], conversation: Conversation, lease: Lease
    ) -> bool:
        flight = self._flight
        if msg.dedup_key != self._msg.dedup_key or flight.stored is not None:
            return False
        ingress = self._ingress
        if flight.still_waiting():
            flight.answering = True  # the request waits for this answer now
            delivery = Delivery.PASSIVE
        else:
            delivery = _late_delivery(replies, self._late)
        answer = Answer(list(replies), delivery)
        result = answer.dump()
        accepted = await ingress._log.record_answer(
            msg,
            answer.replies,
            delivery,
            fence=self._token,
            result=result,
            conversation=conversation,
            conversation_fence=lease.token,
        )
        if not accepted:
            raise Superseded(f"message {self._key} taken over")
        flight.stored = answer
        lease.note = str(conversation.version)
        lease.finish = Finish(self._key, result, ingress._dedup_ttl_s)
        return True


def _gone(deadline: float, caller: Caller | None) -> bool:
    """The request can wait no longer: its budget is spent, or its connection closed."""
    return time.monotonic() >= deadline or (caller is not None and not caller.is_open())


async def _wait_while_waiting(task: asyncio.Task[Any], flight: _Flight, deadline: float) -> None:
    """Wait for ``task`` until the deadline, or until the request's connection closes."""
    while not task.done():
        left = deadline - time.monotonic()
        if left <= 0 or not flight.still_waiting():
            return
        step = left if flight.caller is None else min(left, OPEN_CHECK_S)
        await asyncio.wait({task}, timeout=step)


def _late_delivery(replies: list[Reply], late: LateDelivery | None) -> Delivery:
    """How replies that miss the response are stored: pending until the late sender has
    sent them (then their real outcome replaces it), undeliverable without one."""
    if not replies:
        return Delivery.PASSIVE
    return Delivery.PENDING if late is not None else Delivery.UNDELIVERABLE


def _resend(stored: str) -> IngressResult:
    """The answer for a retry (``Answer.for_retry``)."""
    return IngressResult(Answer.load(stored).for_retry(), duplicate=True)


async def _quietly(aw: Awaitable[None]) -> None:
    try:
        await aw
    except StoreUnavailable:
        log.warning("store unavailable; the lease or cache entry expires on its own")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

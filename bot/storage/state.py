"""The shared short-lived state store: message dedup, per-conversation locks, conversation
state with a TTL, throttles, cached tokens and live events.

Two implementations share one contract (tests/storage/test_state_contract.py): in-process
(`MemoryStateStore`, one worker) and Redis (`RedisStateStore`, any number of workers).
Every method raises `StoreUnavailable` when the backing store cannot be reached.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from bot.domain.errors import LinliError, StoreUnavailable
from bot.storage import keys

log = logging.getLogger(__name__)

PROCESSING = "\x00processing"
"""What ``peek`` returns while a message is claimed (the stored marker also holds the
claim's fencing token: ``PROCESSING:<token>``)."""

DEFAULT_LOCK_LEASE_S = 10.0

NOTE_TTL_S = 86400.0
"""How long a lock holder's note (``Lease.note``) is kept for the next holder."""


class LockTimeout(TimeoutError):
    """A lock could not be acquired within its wait time."""


class Fenced(LinliError):
    """A write under a lease or claim was refused: a newer holder (a larger fencing token)
    has taken over, so this holder's work must not be saved."""


def processing_marker(token: int) -> str:
    return f"{PROCESSING}:{token}"


def is_processing(value: str | None) -> bool:
    return value is not None and value.startswith(PROCESSING)


@dataclass(slots=True)
class Lease:
    """A held lock: its fencing token (larger than every earlier holder's) and whether the
    holder has noticed that it lost the lock (its lease ran out and someone else took it)."""

    name: str
    token: int
    lost: bool = False
    previous: str | None = None
    """The note the last holder left at release (None: none, or lost with the store's keys)."""
    note: str | None = None
    """A note for the next holder, left at release (e.g. the version of what this holder
    saved under the lock, so that the next one knows whether what it read before is current).
    Only a hint: a note never stands in for a fenced write."""
    finish: Finish | None = None
    """A message to mark done when the lock is released (in the same round trip where the
    store can): its answer was stored under this lock."""


@dataclass(frozen=True, slots=True)
class Finish:
    """``StateStore.finish`` of one message: its dedup key, stored answer and how long to keep
    it."""

    key: str
    result: str
    ttl_s: float


@dataclass(slots=True)
class Pretaken:
    """A lock taken together with a message's claim (``StateStore.claim_with_lock``), until
    the message's handler takes it up (``StateStore.lock`` of the same name, set in
    ``PRETAKEN``) or the intake lets it go unused."""

    lease: Lease | None


PRETAKEN: ContextVar[Pretaken | None] = ContextVar("pretaken_lock", default=None)
"""Set by the intake while the handler of a message whose lock it took runs."""


class Subscription(abc.ABC):
    """Messages of one channel, in order; ``close()`` stops listening."""

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    @abc.abstractmethod
    async def __anext__(self) -> str: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


class StateStore(abc.ABC):
    lock_lease_s: float = DEFAULT_LOCK_LEASE_S
    """How long a lock outlives its holder's last renewal (``lock()`` renews it while held)."""

    # --- message dedup --------------------------------------------------------------------
    @abc.abstractmethod
    async def claim(self, key: str, lease_s: float) -> int | None:
        """Atomically claim a message for processing: its fencing token (a positive integer
        larger than every token handed out before, by any worker), or None if the message is
        claimed or done already.

        The claim is a lease: it lapses ``lease_s`` after it was taken or last renewed, so a
        worker that died mid-message blocks a retry for seconds, not minutes."""

    async def claim_with_lock(
        self, key: str, lease_s: float, lock: str | None
    ) -> tuple[int | None, Lease | None]:
        """``claim``, and with a successful claim the lock ``lock`` too (for ``lock_lease_s``)
        if it is free at once and the store takes both in one round trip (Redis); the lease
        is None otherwise (``lock`` None, busy, or this store would gain nothing). The lock
        is then the caller's: used under ``PRETAKEN``, or released with ``unlock``."""
        return await self.claim(key, lease_s), None

    @abc.abstractmethod
    async def renew(self, key: str, token: int, lease_s: float) -> bool:
        """Extend the claim ``token`` holds by ``lease_s``. False if the claim is no longer
        this token's (it lapsed and another worker claimed the message, or it is done); a
        claim lost with the store's keys is taken again."""

    @abc.abstractmethod
    async def finish(self, key: str, result: str, ttl_s: float) -> None:
        """Mark a claimed message done and keep its result for ``ttl_s`` (answers duplicates)."""

    @abc.abstractmethod
    async def release(self, key: str, token: int | None = None) -> None:
        """Drop a claim after a failure, so a retry processes the message again (only the
        claim of ``token`` when given; never a finished result)."""

    @abc.abstractmethod
    async def peek(self, key: str) -> str | None:
        """The stored result, ``PROCESSING`` while claimed, or None if unknown."""

    @abc.abstractmethod
    async def next_fence(self) -> int:
        """A fresh fencing token, larger than every token handed out before (claims and
        locks draw from the same sequence). Tokens keep growing across restarts and lost
        keys: they are at least the store's clock in microseconds."""

    # --- key/value with TTL (conversation state, cached tokens) ---------------------------
    @abc.abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abc.abstractmethod
    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None: ...

    async def get_json(self, key: str) -> dict[str, Any] | None:
        raw = await self.get(key)
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    async def set_json(self, key: str, value: dict[str, Any], ttl_s: float | None = None) -> None:
        await self.set(key, json.dumps(value, ensure_ascii=False), ttl_s)

    # --- locks ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def acquire(self, name: str, lease_s: float, wait_s: float) -> Lease:
        """Take the lock ``name`` for ``lease_s`` (waiting up to ``wait_s``, then LockTimeout).
        A lock whose holder stopped renewing it lapses after its lease and can be taken. The
        lease carries the note the last holder left (``Lease.previous``)."""

    @abc.abstractmethod
    async def renew_lock(self, name: str, token: int, lease_s: float) -> bool:
        """Extend a held lock by ``lease_s``; False if ``token`` no longer holds it."""

    @abc.abstractmethod
    async def unlock(self, name: str, token: int) -> None:
        """Release the lock if ``token`` still holds it."""

    def lock(
        self, name: str, timeout_s: float | None = None, wait_s: float = 10.0
    ) -> AbstractAsyncContextManager[Lease]:
        """A mutex shared by every worker, held as a lease of ``timeout_s`` (default
        ``lock_lease_s``) renewed every third of it while the holder lives: a dead worker's
        lock is taken over within one lease. Raises LockTimeout after waiting ``wait_s``.

        Yields the Lease: writes made under the lock pass its ``token`` so that a holder
        that lost the lock (stalled past its lease) cannot overwrite its successor's work."""
        return self._leased(name, self.lock_lease_s if timeout_s is None else timeout_s, wait_s)

    @asynccontextmanager
    async def _leased(self, name: str, lease_s: float, wait_s: float) -> AsyncIterator[Lease]:
        pre = PRETAKEN.get()
        if (
            pre is not None
            and pre.lease is not None
            and pre.lease.name == name
            and lease_s == self.lock_lease_s
        ):
            lease, pre.lease = pre.lease, None  # taken with the message's claim
        else:
            lease = await self.acquire(name, lease_s, wait_s)
        heartbeat = asyncio.create_task(self._keep(lease, lease_s), name=f"lease {name}")
        try:
            yield lease
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            try:
                await self.release_lease(lease)
            except StoreUnavailable:
                log.warning("could not release a lock; it lapses with its lease")

    async def release_lease(self, lease: Lease) -> None:
        """Release a held lock, leaving ``lease.note`` for the next holder (or no note), and
        mark ``lease.finish``'s message done (a store that can does it in one round trip).
        The message's result is only a cache of the stored answer: losing it costs a look-up
        in the log, never a second answer."""
        # Before the lock is free: the next holder sees this holder's note, or none (a note
        # left by an earlier holder may no longer be true).
        if lease.note is not None:
            await self.set(keys.lock_note(lease.name), lease.note, NOTE_TTL_S)
        elif lease.previous is not None:
            await self.delete(keys.lock_note(lease.name))
        await self.unlock(lease.name, lease.token)
        if lease.finish is not None:
            await self.finish(lease.finish.key, lease.finish.result, lease.finish.ttl_s)

    async def _keep(self, lease: Lease, lease_s: float) -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                if not await self.renew_lock(lease.name, lease.token, lease_s):
                    lease.lost = True
                    log.warning("lock lost to another holder", extra={"lock": lease.name})
                    return
            except StoreUnavailable:
                log.warning("could not renew a lock", extra={"lock": lease.name})

    # --- throttle -------------------------------------------------------------------------
    @abc.abstractmethod
    async def reserve(self, key: str, limit: int, window_s: float) -> float:
        """Sliding-window rate limit. Takes a slot and returns 0.0 if one of ``limit`` slots in
        the last ``window_s`` seconds is free; otherwise takes nothing and returns how many
        seconds to wait before trying again."""

    # --- live events ----------------------------------------------------------------------
    @abc.abstractmethod
    async def publish(self, channel: str, payload: str) -> None: ...

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> Subscription:
        """Start listening: every message published on ``channel`` after this returns."""

    # --- lifecycle ------------------------------------------------------------------------
    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None: ...

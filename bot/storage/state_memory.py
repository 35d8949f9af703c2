"""In-process state store: the embedded default for a single worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Callable

from bot.storage import keys
from bot.storage.state import (
    DEFAULT_LOCK_LEASE_S,
    PROCESSING,
    Lease,
    LockTimeout,
    StateStore,
    Subscription,
    is_processing,
    processing_marker,
)

RESULTS_KEPT_S = 60.0
"""How long the in-process store keeps an answered message's result (``finish``) at most,
whatever the TTL asked: the platforms retry within seconds (WeChat: three times in 15 s), and
every result is also in the message log, which answers a later retry with the same stored
answer (``Ingress._claimed``: the store lost the message, the log answers), at the cost of
one transaction. Kept for the settings' three days, a busy embedded worker held some 1.1 KB
per message it answered (24,000 messages: some 26 MB); now at most a minute's messages and
the 4,096 puts between two sweeps."""


class MemoryStateStore(StateStore):
    def __init__(
        self,
        *,
        lock_lease_s: float = DEFAULT_LOCK_LEASE_S,
        clock: Callable[[], float] = time.monotonic,
        results_kept_s: float = RESULTS_KEPT_S,
    ) -> None:
        self.lock_lease_s = lock_lease_s
        self.results_kept_s = results_kept_s
        self._now = clock
        """Monotonic seconds: expiry, leases and rate windows (a test may move it by hand)."""
        self._data: dict[str, tuple[str, float | None]] = {}
        self._held: dict[str, tuple[int, float]] = {}
        """Locks: name → (holder's token, monotonic time its lease ends)."""
        self._freed: dict[str, asyncio.Event] = {}
        self._fence = 0
        self._windows: dict[str, deque[float]] = {}
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._now():
            del self._data[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl_s: float | None) -> None:
        self._data[key] = (value, None if ttl_s is None else self._now() + ttl_s)
        if len(self._data) % 4096 == 0:
            self._sweep()

    def _sweep(self) -> None:
        now = self._now()
        for k in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
            del self._data[k]

    async def next_fence(self) -> int:
        # Wall-clock microseconds: tokens keep growing across a restart of the process.
        self._fence = max(self._fence + 1, time.time_ns() // 1000)
        return self._fence

    async def claim(self, key: str, lease_s: float) -> int | None:
        if self._live(key) is not None:
            return None
        token = await self.next_fence()
        self._put(key, processing_marker(token), lease_s)
        return token

    async def renew(self, key: str, token: int, lease_s: float) -> bool:
        current = self._live(key)
        if current is not None and current != processing_marker(token):
            return False
        self._put(key, processing_marker(token), lease_s)
        return True

    async def finish(self, key: str, result: str, ttl_s: float) -> None:
        self._put(key, result, min(ttl_s, self.results_kept_s))

    async def release(self, key: str, token: int | None = None) -> None:
        current = self._live(key)
        if is_processing(current) and (token is None or current == processing_marker(token)):
            del self._data[key]

    async def peek(self, key: str) -> str | None:
        value = self._live(key)
        return PROCESSING if is_processing(value) else value

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        self._put(key, value, ttl_s)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)
        self._windows.pop(key, None)  # a rate-limit window is a key too (as in Redis)

    async def acquire(self, name: str, lease_s: float, wait_s: float) -> Lease:
        deadline = self._now() + wait_s
        while True:
            now = self._now()
            held = self._held.get(name)
            if held is None or held[1] <= now:
                token = await self.next_fence()
                self._held[name] = (token, now + lease_s)
                return Lease(name, token, previous=self._live(keys.lock_note(name)))
            if now >= deadline:
                raise LockTimeout(f"lock {name!r} busy for {wait_s}s")
            # Woken when the holder lets go, or when its lease runs out.
            freed = self._freed.setdefault(name, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed.wait(), min(deadline, held[1]) - now)

    async def renew_lock(self, name: str, token: int, lease_s: float) -> bool:
        held = self._held.get(name)
        if held is None or held[0] != token or held[1] <= self._now():
            return False
        self._held[name] = (token, self._now() + lease_s)
        return True

    async def unlock(self, name: str, token: int) -> None:
        held = self._held.get(name)
        if held is not None and held[0] == token:
            del self._held[name]
            freed = self._freed.pop(name, None)
            if freed is not None:
                freed.set()

    async def release_lease(self, lease: Lease) -> None:
        held = self._held.get(lease.name)
        if held is None or held[0] != lease.token:
            # Only the lock's holder leaves a note (or clears one).
            lease = dataclasses.replace(lease, note=None, previous=None)
        await super().release_lease(lease)

    async def reserve(self, key: str, limit: int, window_s: float) -> float:
        now = self._now()
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - window_s:
            window.popleft()
        if len(window) < limit:
            window.append(now)
            return 0.0
        return max(window[0] + window_s - now, 0.001)

    async def publish(self, channel: str, payload: str) -> None:
        for queue in self._subscribers.get(channel, ()):
            queue.put_nowait(payload)

    async def subscribe(self, channel: str) -> Subscription:
        queue: asyncio.Queue[str] = asyncio.Queue()
        subscribers = self._subscribers.setdefault(channel, set())
        subscribers.add(queue)
        return _MemorySubscription(queue, subscribers)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


class _MemorySubscription(Subscription):
    def __init__(self, queue: asyncio.Queue[str], subscribers: set[asyncio.Queue[str]]) -> None:
        self._queue = queue
        self._subscribers = subscribers

    async def __anext__(self) -> str:
        return await self._queue.get()

    async def close(self) -> None:
        self._subscribers.discard(self._queue)

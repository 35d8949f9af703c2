"""In-process state store: the embedded default for a single worker."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from bot.storage.state import PROCESSING, LockTimeout, StateStore, Subscription


class MemoryStateStore(StateStore):
    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}
        self._windows: dict[str, deque[float]] = {}
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}

    @staticmethod
    def _now() -> float:
        return time.monotonic()

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

    async def claim(self, key: str, lease_s: float) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, PROCESSING, lease_s)
        return True

    async def finish(self, key: str, result: str, ttl_s: float) -> None:
        self._put(key, result, ttl_s)

    async def release(self, key: str) -> None:
        if self._live(key) == PROCESSING:
            del self._data[key]

    async def peek(self, key: str) -> str | None:
        return self._live(key)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        self._put(key, value, ttl_s)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def lock(
        self, name: str, timeout_s: float = 30.0, wait_s: float = 10.0
    ) -> AbstractAsyncContextManager[None]:
        return self._lock(name, wait_s)

    @asynccontextmanager
    async def _lock(self, name: str, wait_s: float) -> AsyncIterator[None]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        self._lock_users[name] = self._lock_users.get(name, 0) + 1
        try:
            try:
                await asyncio.wait_for(lock.acquire(), wait_s)
            except TimeoutError as exc:
                raise LockTimeout(f"lock {name!r} busy for {wait_s}s") from exc
            try:
                yield
            finally:
                lock.release()
        finally:
            self._lock_users[name] -= 1
            if self._lock_users[name] == 0:
                del self._lock_users[name]
                del self._locks[name]

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

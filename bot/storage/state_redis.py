"""Redis state store: shared by every worker. Keys come from ``bot.storage.keys``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.domain.errors import StoreUnavailable
from bot.storage.state import PROCESSING, LockTimeout, StateStore, Subscription

T = TypeVar("T")

# Sliding window: drop expired entries, take a slot if one is free, else say how long to wait.
_RESERVE = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""

# Release a claim only while it is still the processing marker (never drop a finished result).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStateStore(StateStore):
    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, max_connections: int = 64) -> RedisStateStore:
        # A bounded, blocking pool: under a burst, callers wait for a free connection
        # instead of failing with "Too many connections".
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=10,
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=2,
        )
        return cls(redis.Redis.from_pool(pool))

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc

    async def claim(self, key: str, lease_s: float) -> bool:
        ok = await self._call(lambda: self._r.set(key, PROCESSING, nx=True, px=_ms(lease_s)))
        return bool(ok)

    async def finish(self, key: str, result: str, ttl_s: float) -> None:
        await self._call(lambda: self._r.set(key, result, px=_ms(ttl_s)))

    async def release(self, key: str) -> None:
        await self._call(lambda: self._release(keys=[key], args=[PROCESSING]))

    async def peek(self, key: str) -> str | None:
        return await self.get(key)

    async def get(self, key: str) -> str | None:
        value: Any = await self._call(lambda: self._r.get(key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        px = None if ttl_s is None else _ms(ttl_s)
        await self._call(lambda: self._r.set(key, value, px=px))

    async def delete(self, key: str) -> None:
        await self._call(lambda: self._r.delete(key))

    def lock(
        self, name: str, timeout_s: float = 30.0, wait_s: float = 10.0
    ) -> AbstractAsyncContextManager[None]:
        return self._lock(name, timeout_s, wait_s)

    @asynccontextmanager
    async def _lock(self, name: str, timeout_s: float, wait_s: float) -> AsyncIterator[None]:
        lock = self._r.lock(name, timeout=timeout_s, blocking_timeout=wait_s, sleep=0.01)
        try:
            acquired = await self._call(lambda: lock.acquire(token=uuid.uuid4().hex))
        except LockError as exc:  # pragma: no cover - redis-py raises only on misuse
            raise LockTimeout(str(exc)) from exc
        if not acquired:
            raise LockTimeout(f"lock {name!r} busy for {wait_s}s")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:
                # The lock expired while held (a very slow holder); nothing left to release.
                pass
            except (RedisError, OSError):
                # Redis went away: the lock expires on its own after timeout_s.
                pass

    async def reserve(self, key: str, limit: int, window_s: float) -> float:
        now = time.time()
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        wait = await self._call(
            lambda: self._reserve(keys=[key], args=[now, window_s, limit, member])
        )
        return max(float(wait), 0.0) if float(wait) > 0 else 0.0

    async def publish(self, channel: str, payload: str) -> None:
        await self._call(lambda: self._r.publish(channel, payload))

    async def subscribe(self, channel: str) -> Subscription:
        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        await self._call(lambda: pubsub.subscribe(channel))
        return _RedisSubscription(pubsub)

    async def ping(self) -> None:
        await self._call(lambda: self._r.ping())

    async def ping_with_retries(self, attempts: int = 5, delay_s: float = 0.2) -> None:
        for attempt in range(attempts):
            try:
                await self.ping()
                return
            except StoreUnavailable:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(delay_s * (2**attempt))

    async def close(self) -> None:
        await self._r.aclose()


class _RedisSubscription(Subscription):
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    async def __anext__(self) -> str:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                raise StoreUnavailable(f"redis subscription lost: {exc}") from exc
            if message is not None and message.get("type") == "message":
                return str(message["data"])

    async def close(self) -> None:
        await self._pubsub.aclose()


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)

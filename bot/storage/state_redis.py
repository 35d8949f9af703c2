"""Redis state store: shared by every worker. Keys come from ``bot.storage.keys``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.domain.errors import StoreUnavailable
from bot.storage import keys
from bot.storage.state import (
    DEFAULT_LOCK_LEASE_S,
    NOTE_TTL_S,
    PROCESSING,
    Lease,
    LockTimeout,
    StateStore,
    Subscription,
    is_processing,
    processing_marker,
)

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

# The fencing sequence: the next token is above the last one and at least Redis's clock in
# microseconds, so tokens keep growing when Redis restarts without its keys.
_FENCE = """
local function fence(key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', key) or '0')
  local token = math.max(last + 1, now)
  redis.call('SET', key, string.format('%d', token))
  return token
end
"""

# KEYS: the key to take, the fence counter. ARGV: lease ms, value prefix. The key is set to
# prefix .. token unless it exists; returns the token, or 0 when taken.
_TAKE = (
    _FENCE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = fence(KEYS[2])
redis.call('SET', KEYS[1], ARGV[2] .. string.format('%d', token), 'PX', ARGV[1])
return token
"""
)

# ``_TAKE``, then when taken also a lock if free: KEYS the key, the fence counter, the lock,
# the lock's note; ARGV lease ms, value prefix, the lock's lease ms. Returns the claim's token
# (0: taken), the lock's (0: not taken) and the note its last holder left.
_TAKE_WITH_LOCK = (
    _FENCE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0, false} end
local token = fence(KEYS[2])
redis.call('SET', KEYS[1], ARGV[2] .. string.format('%d', token), 'PX', ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then return {token, 0, false} end
local lock = fence(KEYS[2])
redis.call('SET', KEYS[3], string.format('%d', lock), 'PX', ARGV[3])
return {token, lock, redis.call('GET', KEYS[4])}
"""
)

_NEXT_FENCE = _FENCE + "return fence(KEYS[1])"

# Extend a claim or lock held by ARGV[1]; ARGV[3] = 1: take it again if its key was lost.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if v == false and ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# Drop a claim or lock only while it is still the given holder's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Take a lock: KEYS the lock, the fence counter, the lock's note; ARGV lease ms. Returns the
# token (0 when taken) and the note its last holder left.
_TAKE_LOCK = (
    _FENCE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, false} end
local token = fence(KEYS[2])
redis.call('SET', KEYS[1], string.format('%d', token), 'PX', ARGV[1])
return {token, redis.call('GET', KEYS[3])}
"""
)

# Release a lock held by ARGV[1] (KEYS[1]), leaving a note (KEYS[2]: ARGV[2] for ARGV[3] ms;
# empty: none) and keeping a message's result (KEYS[3]: ARGV[4] for ARGV[5] ms, unless empty).
# Only the lock's holder leaves a note.
_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  else redis.call('DEL', KEYS[2]) end
  redis.call('DEL', KEYS[1])
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
return 1
"""

# Drop any processing claim (never a finished result).
_RELEASE_ANY = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class _Script:
    """A Lua script run by its SHA (loaded again if the server lost it): redis-py's own
    ``AsyncScript`` does the same but checks its client against two pipeline classes on every
    call, one of them a runtime protocol, a cost that showed in the per-message profile."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._client = client
        self._script = client.register_script(source)

    async def __call__(self, keys: list[str], args: list[Any] | None = None) -> Any:
        try:
            return await self._client.evalsha(self._script.sha, len(keys), *keys, *(args or ()))
        except NoScriptError:
            return await self._script(keys=keys, args=args or [])


class RedisStateStore(StateStore):
    def __init__(self, client: redis.Redis, *, lock_lease_s: float = DEFAULT_LOCK_LEASE_S) -> None:
        self._r = client
        self.lock_lease_s = lock_lease_s
        # Keys live in the URL's database, but Redis pub/sub channels are server-wide: the
        # database number in the channel's name keeps two deployments (or test workers) on
        # one server, each on its own database, out of each other's events.
        self._db = int(client.connection_pool.connection_kwargs.get("db", 0))
        self._reserve = _Script(client, _RESERVE)
        self._take = _Script(client, _TAKE)
        self._take_with_lock = _Script(client, _TAKE_WITH_LOCK)
        self._next_fence = _Script(client, _NEXT_FENCE)
        self._renew = _Script(client, _RENEW)
        self._release = _Script(client, _RELEASE)
        self._release_any = _Script(client, _RELEASE_ANY)
        self._take_lock = _Script(client, _TAKE_LOCK)
        self._release_lease = _Script(client, _RELEASE_LEASE)

    @classmethod
    def from_url(
        cls, url: str, max_connections: int = 64, *, lock_lease_s: float = DEFAULT_LOCK_LEASE_S
    ) -> RedisStateStore:
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
        return cls(redis.Redis.from_pool(pool), lock_lease_s=lock_lease_s)

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc

    async def next_fence(self) -> int:
        return int(await self._call(lambda: self._next_fence(keys=[keys.fence()])))

    async def claim(self, key: str, lease_s: float) -> int | None:
        prefix = processing_marker(0)[:-1]
        token = await self._call(
            lambda: self._take(keys=[key, keys.fence()], args=[_ms(lease_s), prefix])
        )
        return int(token) or None

    async def claim_with_lock(
        self, key: str, lease_s: float, lock: str | None
    ) -> tuple[int | None, Lease | None]:
        if lock is None:
            return await self.claim(key, lease_s), None
        prefix = processing_marker(0)[:-1]
        names = [key, keys.fence(), lock, keys.lock_note(lock)]
        args = [_ms(lease_s), prefix, _ms(self.lock_lease_s)]
        token, lock_token, note = await self._call(lambda: self._take_with_lock(names, args))
        if not int(token):
            return None, None
        if not int(lock_token):
            return int(token), None
        previous = None if note is None else str(note)
        return int(token), Lease(lock, int(lock_token), previous=previous)

    async def renew(self, key: str, token: int, lease_s: float) -> bool:
        marker = processing_marker(token)
        ok = await self._call(lambda: self._renew(keys=[key], args=[marker, _ms(lease_s), 1]))
        return bool(ok)

    async def finish(self, key: str, result: str, ttl_s: float) -> None:
        await self._call(lambda: self._r.set(key, result, px=_ms(ttl_s)))

    async def release(self, key: str, token: int | None = None) -> None:
        if token is None:
            await self._call(lambda: self._release_any(keys=[key], args=[PROCESSING]))
        else:
            marker = processing_marker(token)
            await self._call(lambda: self._release(keys=[key], args=[marker]))

    async def peek(self, key: str) -> str | None:
        value = await self.get(key)
        return PROCESSING if is_processing(value) else value

    async def get(self, key: str) -> str | None:
        value: Any = await self._call(lambda: self._r.get(key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        px = None if ttl_s is None else _ms(ttl_s)
        await self._call(lambda: self._r.set(key, value, px=px))

    async def delete(self, key: str) -> None:
        await self._call(lambda: self._r.delete(key))

    async def acquire(self, name: str, lease_s: float, wait_s: float) -> Lease:
        deadline = time.monotonic() + wait_s
        pause = 0.01
        while True:
            token, note = await self._call(
                lambda: self._take_lock(
                    keys=[name, keys.fence(), keys.lock_note(name)], args=[_ms(lease_s)]
                )
            )
            if int(token):
                return Lease(name, int(token), previous=None if note is None else str(note))
            if time.monotonic() >= deadline:
                raise LockTimeout(f"lock {name!r} busy for {wait_s}s")
            await asyncio.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 1.5, 0.05)

    async def renew_lock(self, name: str, token: int, lease_s: float) -> bool:
        ok = await self._call(lambda: self._renew(keys=[name], args=[str(token), _ms(lease_s), 0]))
        return bool(ok)

    async def unlock(self, name: str, token: int) -> None:
        await self._call(lambda: self._release(keys=[name], args=[str(token)]))

    async def release_lease(self, lease: Lease) -> None:
        if lease.note is None and lease.previous is None and lease.finish is None:
            await self.unlock(lease.name, lease.token)
            return
        done = lease.finish
        args: list[str | int] = [
            str(lease.token),
            lease.note or "",
            _ms(NOTE_TTL_S),
            "" if done is None else done.result,
            1 if done is None else _ms(done.ttl_s),
        ]
        names = [lease.name, keys.lock_note(lease.name), lease.name if done is None else done.key]
        await self._call(lambda: self._release_lease(keys=names, args=args))

    async def reserve(self, key: str, limit: int, window_s: float) -> float:
        now = time.time()
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        wait = await self._call(
            lambda: self._reserve(keys=[key], args=[now, window_s, limit, member])
        )
        return max(float(wait), 0.0) if float(wait) > 0 else 0.0

    def _server_channel(self, channel: str) -> str:
        return f"{channel}@db{self._db}"

    async def publish(self, channel: str, payload: str) -> None:
        await self._call(lambda: self._r.publish(self._server_channel(channel), payload))

    async def subscribe(self, channel: str) -> Subscription:
        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        await self._call(lambda: pubsub.subscribe(self._server_channel(channel)))
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

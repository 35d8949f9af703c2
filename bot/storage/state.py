"""The shared short-lived state store: message dedup, per-conversation locks, conversation
state with a TTL, throttles, cached tokens and live events.

Two implementations share one contract (tests/storage/test_state_contract.py): in-process
(`MemoryStateStore`, one worker) and Redis (`RedisStateStore`, any number of workers).
Every method raises `StoreUnavailable` when the backing store cannot be reached.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

PROCESSING = "\x00processing"


class LockTimeout(TimeoutError):
    """A lock could not be acquired within its wait time."""


class Subscription(abc.ABC):
    """Messages of one channel, in order; ``close()`` stops listening."""

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    @abc.abstractmethod
    async def __anext__(self) -> str: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


class StateStore(abc.ABC):
    # --- message dedup --------------------------------------------------------------------
    @abc.abstractmethod
    async def claim(self, key: str, lease_s: float) -> bool:
        """Atomically claim a message for processing. False if already claimed or done.

        The claim expires after ``lease_s`` so a worker that died mid-message does not block
        WeChat's retry forever."""

    @abc.abstractmethod
    async def finish(self, key: str, result: str, ttl_s: float) -> None:
        """Mark a claimed message done and keep its result for ``ttl_s`` (answers duplicates)."""

    @abc.abstractmethod
    async def release(self, key: str) -> None:
        """Drop a claim after a failure, so a retry processes the message again."""

    @abc.abstractmethod
    async def peek(self, key: str) -> str | None:
        """The stored result, ``PROCESSING`` while claimed, or None if unknown."""

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
    def lock(
        self, name: str, timeout_s: float = 30.0, wait_s: float = 10.0
    ) -> AbstractAsyncContextManager[None]:
        """A mutex shared by every worker. ``timeout_s`` bounds how long a holder keeps it
        (a dead worker's lock expires); raises LockTimeout after waiting ``wait_s``."""

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

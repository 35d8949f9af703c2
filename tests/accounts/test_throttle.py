"""Login throttling on both state stores (in-process and the real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.accounts import LoginThrottle, LoginThrottled
from bot.storage.state import StateStore
from bot.storage.state_memory import MemoryStateStore
from bot.storage.state_redis import RedisStateStore


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[StateStore]:
    s: StateStore = (
        MemoryStateStore() if request.param == "memory" else RedisStateStore.from_url(redis_url)
    )
    yield s
    await s.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_tenth_failure_locks_the_user_name_for_every_address(state: StateStore) -> None:
    clock = Clock()
    throttle = LoginThrottle(state, user_limit=10, ip_limit=100, lockout_s=900, clock=clock)
    for i in range(9):
        await throttle.check("wang", f"10.0.0.{i}")
        await throttle.failed("wang", f"10.0.0.{i}")
    await throttle.check("wang", "10.0.0.99")
    with pytest.raises(LoginThrottled) as locked:
        await throttle.failed("Wang", "10.0.0.9")  # the name is normalized
    assert locked.value.scope == "user"
    assert locked.value.retry_after_s == 900
    for ip in ("10.0.0.9", "192.168.1.5"):
        with pytest.raises(LoginThrottled) as refused:
            await throttle.check("WANG", ip)
        assert refused.value.scope == "user"
        assert 0 < refused.value.retry_after_s <= 900
    await throttle.check("li", "10.0.0.9")  # other users are not affected
    clock.now += 901
    await throttle.check("wang", "10.0.0.9")


async def test_failures_from_one_address_lock_that_address(state: StateStore) -> None:
    throttle = LoginThrottle(state, user_limit=10, ip_limit=3)
    await throttle.failed("a", "203.0.113.7")
    await throttle.failed("b", "203.0.113.7")
    with pytest.raises(LoginThrottled) as locked:
        await throttle.failed("c", "203.0.113.7")
    assert locked.value.scope == "ip"
    with pytest.raises(LoginThrottled):
        await throttle.check("d", "203.0.113.7")
    await throttle.check("d", "203.0.113.8")


async def test_odd_user_names_are_counted_under_fixed_size_keys(state: StateStore) -> None:
    throttle = LoginThrottle(state, user_limit=2, ip_limit=100)
    name = "管理员\n" + "x" * 5000
    await throttle.failed(name, "10.1.1.1")
    with pytest.raises(LoginThrottled):
        await throttle.failed(name, "10.1.1.2")
    with pytest.raises(LoginThrottled):
        await throttle.check(name, "10.1.1.3")


def test_limits_below_two_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        LoginThrottle(MemoryStateStore(), user_limit=1)

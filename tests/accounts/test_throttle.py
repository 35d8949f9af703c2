"""Login throttling on both state stores (in-process and the real Redis): a per-address lock
and a per-name backoff that slows guessing but never locks a caseworker out."""

from __future__ import annotations

import asyncio
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


async def fail(throttle: LoginThrottle, name: str, ip: str) -> float:
    """One wrong password: admitted, then counted."""
    await throttle.check(name, ip)
    return await throttle.failed(name, ip)


async def test_the_limit_th_failure_locks_that_address_for_every_name(state: StateStore) -> None:
    clock = Clock()
    throttle = LoginThrottle(
        state, ip_limit=10, ip_lockout_s=900, free_failures=100, backoff_max_s=1, clock=clock
    )
    for i in range(9):
        await fail(throttle, f"user{i}", "203.0.113.7")
    await throttle.check("anyone", "203.0.113.7")
    with pytest.raises(LoginThrottled) as locked:
        await throttle.failed("user9", "203.0.113.7")
    assert locked.value.scope == "ip"
    assert locked.value.retry_after_s == 900
    for name in ("user9", "wang"):  # even a name that never failed: nothing is checked
        with pytest.raises(LoginThrottled) as refused:
            await throttle.check(name, "203.0.113.7")
        assert refused.value.scope == "ip"
        assert 0 < refused.value.retry_after_s <= 900
    await throttle.check("wang", "203.0.113.8")  # other addresses are not affected
    clock.now += 901
    await throttle.check("wang", "203.0.113.7")


async def test_failures_on_a_name_space_its_attempts_out_up_to_the_cap(
    state: StateStore,
) -> None:
    throttle = LoginThrottle(
        state, ip_limit=1000, free_failures=3, backoff_base_s=0.2, backoff_max_s=0.8
    )
    assert [throttle.delay_s(n) for n in range(8)] == [0, 0, 0, 0, 0.2, 0.4, 0.8, 0.8]
    # Three free failures, each from another address: no wait yet.
    assert [await fail(throttle, "wang", f"10.0.0.{i}") for i in range(3)] == [0, 0, 0]
    # The first attempt past the free ones is let through; its failure starts a wait.
    assert await fail(throttle, "Wang", "10.0.0.3") == pytest.approx(0.2)
    for ip in ("10.0.0.3", "192.168.1.5"):  # the wait holds for the name from anywhere
        with pytest.raises(LoginThrottled) as waiting:
            await throttle.check("WANG", ip)
        assert waiting.value.scope == "user"
        assert 0 < waiting.value.retry_after_s <= 0.8
    await throttle.check("li", "10.0.0.3")  # other names are not affected
    await asyncio.sleep(waiting.value.retry_after_s + 0.05)
    # After the wait one attempt goes in (here the right password): its address is known
    # from now on and has free attempts of its own.
    await throttle.check("wang", "192.168.1.5")
    await throttle.succeeded("wang", "192.168.1.5")
    for _ in range(3):
        await throttle.check("wang", "192.168.1.5")
    # The success reset nothing for anyone else: a guesser elsewhere still waits.
    with pytest.raises(LoginThrottled) as waiting:
        await throttle.check("wang", "10.0.0.50")
    assert waiting.value.scope == "user"


async def test_a_parallel_burst_past_the_free_attempts_gets_one_guess(state: StateStore) -> None:
    throttle = LoginThrottle(
        state, ip_limit=1000, free_failures=3, backoff_base_s=30, backoff_max_s=60
    )
    outcomes = await asyncio.gather(
        *(throttle.check("wang", f"10.9.0.{i}") for i in range(40)), return_exceptions=True
    )
    admitted = [o for o in outcomes if o is None]
    refused = [o for o in outcomes if isinstance(o, LoginThrottled)]
    assert (len(admitted), len(refused)) == (4, 36)
    assert all(r.scope == "user" and 0 < r.retry_after_s <= 30 for r in refused)


async def test_a_known_address_is_not_slowed_by_guessing_elsewhere(state: StateStore) -> None:
    throttle = LoginThrottle(
        state, ip_limit=1000, free_failures=3, backoff_base_s=30, backoff_max_s=60
    )
    await throttle.check("wang", "10.0.0.1")
    await throttle.succeeded("wang", "10.0.0.1")  # the caseworker's desk
    for i in range(3):  # someone guesses from elsewhere until the name must wait
        await fail(throttle, "wang", f"203.0.113.{i}")
    with pytest.raises(LoginThrottled):
        await throttle.check("wang", "203.0.113.9")
    # The desk has free attempts of its own (a typo or two included), then waits too.
    for _ in range(3):
        await throttle.check("wang", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        await throttle.check("wang", "10.0.0.1")
    # Another name's known address is no pass for this one.
    await throttle.succeeded("li", "203.0.113.9")
    with pytest.raises(LoginThrottled):
        await throttle.check("wang", "203.0.113.9")


async def test_the_wait_never_exceeds_the_cap_however_many_failures(state: StateStore) -> None:
    throttle = LoginThrottle(
        state, ip_limit=1000, free_failures=1, backoff_base_s=0.05, backoff_max_s=0.1
    )
    assert throttle.delay_s(10_000) == 0.1
    waits: list[float] = []
    for _ in range(6):
        for _ in range(50):
            try:
                await throttle.check("wang", "10.0.0.1")
                break
            except LoginThrottled as waiting:
                waits.append(waiting.retry_after_s)
                await asyncio.sleep(waiting.retry_after_s)
        else:
            pytest.fail("never admitted")
        waits.append(await throttle.failed("wang", "10.0.0.1"))
    assert waits
    assert max(waits) <= 0.1


async def test_odd_user_names_are_counted_under_fixed_size_keys(state: StateStore) -> None:
    throttle = LoginThrottle(state, ip_limit=100, free_failures=1, backoff_base_s=60)
    name = "管理员\n" + "x" * 5000
    await fail(throttle, name, "10.1.1.1")
    await throttle.check(name, "10.1.1.2")  # the first attempt past the free one
    with pytest.raises(LoginThrottled):
        await throttle.check(name, "10.1.1.3")


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        LoginThrottle(MemoryStateStore(), ip_limit=1)
    with pytest.raises(ValueError, match="free attempt"):
        LoginThrottle(MemoryStateStore(), free_failures=0)
    with pytest.raises(ValueError, match="backoff"):
        LoginThrottle(MemoryStateStore(), backoff_base_s=10, backoff_max_s=5)
    with pytest.raises(ValueError, match="positive"):
        LoginThrottle(MemoryStateStore(), known_address_s=0)

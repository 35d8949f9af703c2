"""One contract for both state stores: in-process, and Redis against the real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_async

from bot.domain import StoreUnavailable
from bot.storage import keys
from bot.storage.state import PROCESSING, Finish, LockTimeout, StateStore
from bot.storage.state_memory import RESULTS_KEPT_S, MemoryStateStore
from bot.storage.state_redis import RedisStateStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[StateStore]:
    s: StateStore = (
        MemoryStateStore() if request.param == "memory" else RedisStateStore.from_url(redis_url)
    )
    await s.ping()
    yield s
    await s.close()


async def test_a_message_is_claimed_once(store: StateStore) -> None:
    key = keys.dedup("wechat_mp:demo:123")
    assert await store.claim(key, lease_s=5)
    assert not await store.claim(key, lease_s=5)
    assert await store.peek(key) == PROCESSING
    await store.finish(key, "answer", ttl_s=5)
    assert not await store.claim(key, lease_s=5)
    assert await store.peek(key) == "answer"


async def test_an_expired_lease_lets_a_retry_claim_again(store: StateStore) -> None:
    key = keys.dedup("x:y:lease")
    assert await store.claim(key, lease_s=0.05)
    await asyncio.sleep(0.1)
    assert await store.claim(key, lease_s=5)


async def test_release_gives_back_a_claim_but_never_a_result(store: StateStore) -> None:
    claimed, done = keys.dedup("a"), keys.dedup("b")
    assert await store.claim(claimed, 5)
    await store.release(claimed)
    assert await store.claim(claimed, 5)
    assert await store.claim(done, 5)
    await store.finish(done, "kept", 5)
    await store.release(done)
    assert await store.peek(done) == "kept"


async def test_values_expire(store: StateStore) -> None:
    await store.set_json(keys.conversation("c1"), {"slots": {"building": "5号楼"}}, ttl_s=0.05)
    assert await store.get_json(keys.conversation("c1")) == {"slots": {"building": "5号楼"}}
    await asyncio.sleep(0.1)
    assert await store.get_json(keys.conversation("c1")) is None
    await store.set(keys.token("t"), "v")
    await store.delete(keys.token("t"))
    assert await store.get(keys.token("t")) is None


async def test_a_lock_serialises_holders_in_order(store: StateStore) -> None:
    order: list[str] = []

    async def hold(tag: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with store.lock(keys.lock("conv"), timeout_s=5, wait_s=5):
            order.append(f"{tag}+")
            await asyncio.sleep(0.05)
            order.append(f"{tag}-")

    await asyncio.gather(hold("a", 0), hold("b", 0.01))
    assert order == ["a+", "a-", "b+", "b-"]


async def test_a_busy_lock_times_out(store: StateStore) -> None:
    async with store.lock(keys.lock("busy"), timeout_s=5, wait_s=1):
        with pytest.raises(LockTimeout):
            async with store.lock(keys.lock("busy"), timeout_s=5, wait_s=0.1):
                pass


async def test_reserve_limits_a_sliding_window(store: StateStore) -> None:
    key = keys.throttle("robot")
    waits = [await store.reserve(key, limit=3, window_s=0.3) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0 < waits[3] <= 0.3
    await asyncio.sleep(waits[3] + 0.02)
    assert await store.reserve(key, limit=3, window_s=0.3) == 0.0


async def test_published_events_reach_subscribers(store: StateStore) -> None:
    sub = await store.subscribe(keys.channel("corpus"))
    try:
        await store.publish(keys.channel("corpus"), "puxiong")
        await store.publish(keys.channel("other"), "ignored")
        await store.publish(keys.channel("corpus"), "second")
        got = [await asyncio.wait_for(sub.__anext__(), 3) for _ in range(2)]
    finally:
        await sub.close()
    assert got == ["puxiong", "second"]


async def test_events_stay_in_their_redis_database(redis_url: str, spare_redis_url: str) -> None:
    """Redis pub/sub is server-wide: a store hears the publishers on its own database only
    (two deployments, or two test workers, share a server on different databases)."""
    mine = RedisStateStore.from_url(redis_url)
    other = RedisStateStore.from_url(spare_redis_url)
    sub = await mine.subscribe(keys.channel("corpus"))
    try:
        await other.publish(keys.channel("corpus"), "another database")
        await mine.publish(keys.channel("corpus"), "this database")
        assert await asyncio.wait_for(sub.__anext__(), 3) == "this database"
    finally:
        await sub.close()
        await mine.close()
        await other.close()


async def test_redis_down_is_reported_as_unavailable() -> None:
    store = RedisStateStore.from_url("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(StoreUnavailable):
            await store.claim(keys.dedup("k"), 5)
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await store.close()


# --- leases and fencing -----------------------------------------------------------------


async def test_claims_carry_growing_fencing_tokens(store: StateStore) -> None:
    first = await store.claim(keys.dedup("fence:a"), lease_s=5)
    second = await store.claim(keys.dedup("fence:b"), lease_s=5)
    fresh = await store.next_fence()
    assert first is not None
    assert second is not None
    assert 0 < first < second < fresh


async def test_a_claim_whose_holder_stops_renewing_is_taken_over(store: StateStore) -> None:
    """A worker killed mid-message: its claim lapses after one lease, the next claim gets a
    larger token, and the dead worker's token can neither renew nor release it."""
    key = keys.dedup("x:y:killed")
    dead = await store.claim(key, lease_s=0.3)
    assert dead is not None
    assert await store.renew(key, dead, lease_s=0.3)  # alive for a moment
    assert await store.claim(key, lease_s=5) is None
    await asyncio.sleep(0.4)
    heir = await store.claim(key, lease_s=5)
    assert heir is not None
    assert heir > dead
    assert not await store.renew(key, dead, lease_s=5)
    await store.release(key, dead)
    assert await store.peek(key) == PROCESSING
    await store.release(key, heir)
    assert await store.peek(key) is None


async def test_a_renewed_claim_outlives_its_first_lease(store: StateStore) -> None:
    key = keys.dedup("x:y:renewed")
    token = await store.claim(key, lease_s=0.3)
    assert token is not None
    for _ in range(3):
        await asyncio.sleep(0.15)
        assert await store.renew(key, token, lease_s=0.3)
    assert await store.claim(key, lease_s=5) is None


async def test_an_orphaned_lock_is_taken_over_after_its_lease(store: StateStore) -> None:
    name = keys.lock("conv:orphan")
    dead = await store.acquire(name, lease_s=0.3, wait_s=0)
    with pytest.raises(LockTimeout):
        await store.acquire(name, lease_s=5, wait_s=0.05)
    async with store.lock(name, timeout_s=5, wait_s=2) as lease:
        assert lease.token > dead.token
        assert not await store.renew_lock(name, dead.token, 5)
        await store.unlock(name, dead.token)  # the dead holder's late release changes nothing
        with pytest.raises(LockTimeout):
            await store.acquire(name, lease_s=5, wait_s=0.05)


async def test_a_held_lock_is_renewed_while_its_holder_works(store: StateStore) -> None:
    name = keys.lock("conv:slow")
    async with store.lock(name, timeout_s=0.3, wait_s=1) as lease:
        await asyncio.sleep(0.8)  # more than two leases
        with pytest.raises(LockTimeout):
            await store.acquire(name, lease_s=5, wait_s=0.05)
        assert not lease.lost
    taken = await store.acquire(name, lease_s=5, wait_s=0.05)
    assert taken.token > lease.token


async def test_fencing_tokens_keep_growing_when_the_store_loses_its_keys(
    store: StateStore, redis_url: str
) -> None:
    before = await store.next_fence()
    if isinstance(store, RedisStateStore):
        client = redis_async.Redis.from_url(redis_url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()
        after = await store.next_fence()
    else:
        after = await MemoryStateStore().next_fence()  # a restarted worker
    assert after > before


async def test_the_next_holder_of_a_lock_sees_the_note_the_last_one_left(
    store: StateStore,
) -> None:
    """What a holder saved under the lock (e.g. a conversation's version) reaches the next
    holder; a holder that notes nothing clears it, and one that lost the lock notes nothing."""
    name = keys.lock("conv:noted")
    async with store.lock(name, timeout_s=5, wait_s=1) as first:
        assert first.previous is None
        first.note = "7"
    async with store.lock(name, timeout_s=5, wait_s=1) as second:
        assert second.previous == "7"
    async with store.lock(name, timeout_s=5, wait_s=1) as third:
        assert third.previous is None  # the second holder left no note: nothing is known
        third.note = "8"
    stalled = await store.acquire(name, lease_s=0.2, wait_s=1)
    assert stalled.previous == "8"
    await asyncio.sleep(0.3)  # its lease runs out, and another holder takes the lock
    successor = await store.acquire(name, lease_s=5, wait_s=1)
    stalled.note = "9"
    await store.release_lease(stalled)
    successor.note = "10"
    await store.release_lease(successor)
    assert (await store.acquire(name, lease_s=5, wait_s=1)).previous == "10"


async def test_a_message_is_marked_done_with_the_release_of_the_lock_it_was_answered_under(
    store: StateStore,
) -> None:
    key = keys.dedup("wechat_mp:demo:released")
    token = await store.claim(key, lease_s=5)
    assert token is not None
    async with store.lock(keys.lock("conv:answered"), timeout_s=5, wait_s=1) as lease:
        lease.finish = Finish(key, "the answer", 5)
        assert await store.peek(key) == PROCESSING
    assert await store.peek(key) == "the answer"
    assert await store.claim(key, lease_s=5) is None


async def test_redis_scripts_are_loaded_again_when_the_server_forgot_them(redis_url: str) -> None:
    """A Redis restarted (or flushed) loses its script cache: claims and locks go on."""
    store = RedisStateStore.from_url(redis_url)
    admin = redis_async.Redis.from_url(redis_url)
    try:
        first, second = keys.dedup("flush:1"), keys.dedup("flush:2")
        assert await store.claim(first, 5)
        await admin.script_flush()
        assert await store.claim(second, 5)
        assert not await store.claim(first, 5)
        await admin.script_flush()
        async with store.lock("flushed", timeout_s=5, wait_s=1) as lease:
            assert lease.token
    finally:
        await admin.aclose()
        await store.close()


async def test_the_in_process_store_keeps_an_answer_for_minutes_not_days() -> None:
    """Whatever TTL ``finish`` asks, the embedded store lets a result go after
    ``results_kept_s`` (the message log answers a later retry); a claim in progress, a lock
    note or a plain key keep their own TTL."""
    now = [1000.0]
    store = MemoryStateStore(clock=lambda: now[0])
    key = keys.dedup("wechat_mp:demo:kept")
    await store.finish(key, "answer", ttl_s=3 * 24 * 3600)
    await store.set("plain", "v", ttl_s=3600)
    now[0] += RESULTS_KEPT_S - 1
    assert await store.get(key) == "answer"
    now[0] += 2.0
    assert await store.get(key) is None
    assert await store.claim(key, lease_s=5)  # answered again through the log
    assert await store.get("plain") == "v"
    short = keys.dedup("wechat_mp:demo:short")
    await store.finish(short, "answer", ttl_s=5)
    now[0] += 6.0
    assert await store.get(short) is None

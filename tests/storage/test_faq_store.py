"""The FAQ store's single-entry writes on SQLite and PostgreSQL: preconditions, "nothing
changed", retiring and reviving, each change recorded with its action."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.storage.faqs import FaqConflict
from bot.storage.sql import Database, SqlFaqStore


@pytest.fixture
async def store(backend: dict[str, str]) -> AsyncIterator[SqlFaqStore]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield SqlFaqStore(database)
    await database.close()


async def test_single_writes_are_recorded_and_checked(store: SqlFaqStore) -> None:
    one, two = {"id": "a", "answer": "1"}, {"id": "a", "answer": "2"}
    created = await store.write("puxiong", "a", one, "李主任", "create", expect="absent")
    assert created is not None
    assert (created.action, created.before, created.after) == ("create", None, one)
    with pytest.raises(FaqConflict):
        await store.write("puxiong", "a", one, "李主任", "create", expect="absent")
    assert await store.write("puxiong", "a", one, "李主任", "update") is None  # unchanged
    updated = await store.write("puxiong", "a", two, "李主任", "update", expect="present")
    assert updated is not None
    assert updated.before == one

    retired = await store.write("puxiong", "a", None, "李主任", "delete")
    assert retired is not None
    assert retired.after is None
    assert await store.write("puxiong", "a", None, "李主任", "delete") is None
    with pytest.raises(FaqConflict):
        await store.write("puxiong", "a", two, "李主任", "update", expect="present")
    stored = await store.get("puxiong", "a")
    assert stored is not None
    assert stored.deleted
    assert stored.data == two
    assert await store.load("puxiong") == []

    revived = await store.write("puxiong", "a", one, "李主任", "revert")
    assert revived is not None
    assert revived.before is None
    assert await store.load("puxiong") == [one]
    history = await store.history("puxiong", "a")
    assert [r.action for r in history] == ["create", "update", "delete", "revert"]
    assert await store.revision_of("puxiong", "a", history[1].id) == history[1]
    assert await store.revision_of("other", "a", history[1].id) is None
    assert await store.get("other", "a") is None


async def test_two_creates_of_one_id_leave_one_winner(store: SqlFaqStore) -> None:
    results = await asyncio.gather(
        *(
            store.write(
                "puxiong", "same", {"id": "same", "answer": str(i)}, "x", "create", expect="absent"
            )
            for i in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(isinstance(r, FaqConflict) for r in results if isinstance(r, BaseException))
    assert len(await store.history("puxiong", "same")) == 1

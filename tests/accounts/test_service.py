"""The account service on the SQL store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher
from sqlalchemy import select

from bot.accounts import (
    AccountDisabled,
    AccountService,
    InvalidAccount,
    InvalidCredentials,
    Passwords,
    Role,
    UnknownToken,
    UnknownUser,
    UserExists,
)
from bot.accounts.tokens import digest
from bot.domain import Registry
from bot.storage.sql import Database
from bot.storage.sql.account_models import ApiTokenRow, UserRow, UserSessionRow
from bot.storage.sql.account_repo import SqlAccountStore

from .support import PASSWORD, fast_passwords

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def registry() -> Registry:
    data = yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8"))
    data["committees"].append(
        {"id": "other", "name": "测试居委会", "ticket_prefix": "OT", "compounds": []}
    )
    return Registry.from_mapping(data)


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    await database.migrate()  # idempotent
    yield database
    await database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(db: Database, registry: Registry, clock: Clock) -> AccountService:
    return AccountService(SqlAccountStore(db), fast_passwords(), registry, clock=clock)


async def test_users_are_created_normalized_and_bound_to_their_committee(
    service: AccountService,
) -> None:
    user = await service.add_user(" WangFang ", Role.CASEWORKER, "puxiong", PASSWORD, "王芳")
    assert (user.name, user.display_name, user.role, user.committee) == (
        "wangfang",
        "王芳",
        Role.CASEWORKER,
        "puxiong",
    )
    assert not user.disabled
    assert user.created_at.tzinfo is not None
    street = await service.add_user("zhang", "street_admin", None, PASSWORD)
    assert street.committee is None
    assert (await service.get_user("WANGFANG")).id == user.id
    with pytest.raises(UserExists):
        await service.add_user("wangFANG", Role.ADMIN, "puxiong", PASSWORD)


@pytest.mark.parametrize(
    ("name", "role", "committee", "password"),
    [
        ("x", "caseworker", "puxiong", PASSWORD),  # name too short
        ("bad name", "caseworker", "puxiong", PASSWORD),  # space
        ("a" * 65, "caseworker", "puxiong", PASSWORD),
        ("wang", "mayor", "puxiong", PASSWORD),  # unknown role
        ("wang", "caseworker", None, PASSWORD),  # caseworker without committee
        ("wang", "admin", "nowhere", PASSWORD),  # unknown committee
        ("wang", "street_admin", "puxiong", PASSWORD),  # street admin bound to one
        ("wang", "caseworker", "puxiong", "short"),
        ("wang", "caseworker", "puxiong", " " * 12),
    ],
)
async def test_invalid_accounts_are_refused(
    service: AccountService, name: str, role: str, committee: str | None, password: str
) -> None:
    with pytest.raises(InvalidAccount):
        await service.add_user(name, role, committee, password)
    assert await service.list_users() == []


async def test_password_check_and_rehash_on_login(
    db: Database, registry: Registry, clock: Clock
) -> None:
    old = AccountService(SqlAccountStore(db), fast_passwords(), registry, clock=clock)
    await old.add_user("wang", "caseworker", "puxiong", PASSWORD)
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    service = AccountService(SqlAccountStore(db), stronger, registry, clock=clock)

    with pytest.raises(InvalidCredentials):
        await service.check_password("wang", "wrong password")
    with pytest.raises(InvalidCredentials):
        await service.check_password("nobody", PASSWORD)

    async def stored_hash() -> str:
        async with db.session() as s:
            value = await s.scalar(select(UserRow.password_hash).where(UserRow.name == "wang"))
        assert value is not None
        return value

    assert "m=8,t=1,p=1" in await stored_hash()
    principal = await service.check_password("Wang", PASSWORD)
    assert (principal.name, principal.role, principal.committee) == (
        "wang",
        Role.CASEWORKER,
        "puxiong",
    )
    assert "m=16,t=2,p=1" in await stored_hash()
    assert (await service.get_user("wang")).last_login_at == clock.now
    # The renewed hash still verifies, with no further rehash.
    await service.check_password("wang", PASSWORD)
    assert "m=16,t=2,p=1" in await stored_hash()


async def test_disabled_user_cannot_log_in_and_loses_sessions_and_tokens(
    service: AccountService,
) -> None:
    await service.add_user("wang", "caseworker", "puxiong", PASSWORD)
    principal = await service.check_password("wang", PASSWORD)
    sid = await service.open_session(principal, "10.0.0.1")
    token, _ = await service.create_token("wang", "夜间脚本")
    assert await service.session_principal(sid) == principal
    assert await service.token_principal(token) is not None

    await service.set_disabled("wang")
    with pytest.raises(AccountDisabled):
        await service.check_password("wang", PASSWORD)
    with pytest.raises(InvalidCredentials):
        await service.check_password("wang", "wrong password")
    assert await service.session_principal(sid) is None
    assert await service.token_principal(token) is None

    await service.set_disabled("wang", False)
    assert await service.session_principal(sid) is None  # ended, not merely suspended
    assert await service.token_principal(token) is not None
    assert (await service.check_password("wang", PASSWORD)).name == "wang"


async def test_sessions_expire_end_on_logout_and_on_password_change(
    service: AccountService, clock: Clock, db: Database
) -> None:
    await service.add_user("wang", "caseworker", "puxiong", PASSWORD)
    principal = await service.check_password("wang", PASSWORD)
    first = await service.open_session(principal)
    second = await service.open_session(principal)
    async with db.session() as s:
        stored = set(await s.scalars(select(UserSessionRow.sid_digest)))
    assert stored == {digest(first), digest(second)}  # never the session ids themselves

    await service.close_session(first)
    assert await service.session_principal(first) is None
    assert await service.session_principal(second) == principal

    clock.now += timedelta(seconds=service.session_ttl_s + 1)
    assert await service.session_principal(second) is None
    third = await service.open_session(principal)  # also drops the expired rows
    async with db.session() as s:
        assert set(await s.scalars(select(UserSessionRow.sid_digest))) == {digest(third)}

    await service.set_password("wang", "a brand new one")
    assert await service.session_principal(third) is None
    with pytest.raises(InvalidCredentials):
        await service.check_password("wang", PASSWORD)
    assert (await service.check_password("wang", "a brand new one")).name == "wang"


async def test_api_tokens_are_stored_hashed_inherit_the_user_and_can_be_revoked(
    service: AccountService, db: Database, clock: Clock
) -> None:
    await service.add_user("street", "street_admin", None, PASSWORD)
    await service.add_user("wang", "caseworker", "other", PASSWORD)
    token, record = await service.create_token("wang", "导出脚本")
    assert token.startswith("linli_")
    assert len(token) > 40
    assert record.prefix == token[:12]
    async with db.session() as s:
        row = await s.scalar(select(ApiTokenRow))
    assert row is not None
    assert row.token_digest == digest(token)
    assert token not in (row.token_digest, row.prefix)

    principal = await service.token_principal(token)
    assert principal is not None
    assert (principal.name, principal.committee, principal.via_token) == ("wang", "other", True)
    assert (await service.list_tokens("wang"))[0].last_used_at == clock.now
    assert await service.token_principal(token + "x") is None
    assert await service.token_principal("not-a-linli-token") is None

    street_token, _ = await service.create_token("street")
    street = await service.token_principal(street_token)
    assert street is not None
    assert street.committee is None

    revoked = await service.revoke_token(record.id)
    assert revoked.revoked_at == clock.now
    assert await service.token_principal(token) is None
    assert await service.token_principal(street_token) is not None
    again = await service.revoke_token(record.id)  # idempotent
    assert again.revoked_at == clock.now
    with pytest.raises(UnknownToken):
        await service.revoke_token(9999)
    with pytest.raises(UnknownUser):
        await service.create_token("nobody")


async def test_users_are_listed_per_committee(service: AccountService) -> None:
    await service.add_user("b-worker", "caseworker", "puxiong", PASSWORD)
    await service.add_user("a-admin", "admin", "puxiong", PASSWORD)
    await service.add_user("c-other", "caseworker", "other", PASSWORD)
    await service.add_user("d-street", "street_admin", None, PASSWORD)
    assert [u.name for u in await service.list_users("puxiong")] == ["a-admin", "b-worker"]
    assert [u.name for u in await service.list_users()] == [
        "a-admin",
        "b-worker",
        "c-other",
        "d-street",
    ]

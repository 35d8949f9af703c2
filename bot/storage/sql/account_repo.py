"""SQL implementation of the account store (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.accounts import ApiToken, Role, User, UserExists
from bot.storage.accounts import AccountStore
from bot.storage.sql.account_models import ApiTokenRow, UserRow, UserSessionRow
from bot.storage.sql.database import Database

TOUCH_EVERY = timedelta(minutes=5)
"""A token's ``last_used_at`` is written at most this often (not on every request)."""


class SqlAccountStore(AccountStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- users ----------------------------------------------------------------------------
    async def add_user(
        self,
        name: str,
        display_name: str,
        role: Role,
        committee: str | None,
        password_hash: str,
        now: datetime,
    ) -> User:
        row = UserRow(
            name=name,
            display_name=display_name,
            role=role.value,
            committee=committee,
            password_hash=password_hash,
            disabled=False,
            created_at=now,
            updated_at=now,
            last_login_at=None,
        )
        try:
            async with self._db.session() as s:
                taken = await s.scalar(select(UserRow.id).where(UserRow.name == name))
                if taken is not None:
                    raise UserExists(f"user {name!r} already exists")
                s.add(row)
                await s.flush()
        except IntegrityError:
            # Another writer took the name between the check and the insert.
            raise UserExists(f"user {name!r} already exists") from None
        return _user(row)

    async def user_by_name(self, name: str) -> User | None:
        async with self._db.session() as s:
            row = await s.scalar(select(UserRow).where(UserRow.name == name))
        return None if row is None else _user(row)

    async def credentials(self, name: str) -> tuple[User, str] | None:
        async with self._db.session() as s:
            row = await s.scalar(select(UserRow).where(UserRow.name == name))
        return None if row is None else (_user(row), row.password_hash)

    async def list_users(self, committee: str | None = None) -> list[User]:
        stmt = select(UserRow).order_by(UserRow.name)
        if committee is not None:
            stmt = stmt.where(UserRow.committee == committee)
        async with self._db.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [_user(r) for r in rows]

    async def set_password_hash(
        self, user_id: int, password_hash: str, now: datetime, *, end_sessions: bool
    ) -> None:
        async with self._db.session() as s:
            await s.execute(
                update(UserRow)
                .where(UserRow.id == user_id)
                .values(password_hash=password_hash, updated_at=now)
            )
            if end_sessions:
                await s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == user_id))

    async def set_disabled(self, user_id: int, disabled: bool, now: datetime) -> None:
        async with self._db.session() as s:
            await s.execute(
                update(UserRow)
                .where(UserRow.id == user_id)
                .values(disabled=disabled, updated_at=now)
            )
            if disabled:
                await s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == user_id))

    async def record_login(self, user_id: int, now: datetime) -> None:
        async with self._db.session() as s:
            await s.execute(update(UserRow).where(UserRow.id == user_id).values(last_login_at=now))

    # --- console sessions -----------------------------------------------------------------
    async def add_session(
        self, sid_digest: str, user_id: int, now: datetime, expires_at: datetime, ip: str
    ) -> None:
        async with self._db.session() as s:
            await s.execute(delete(UserSessionRow).where(UserSessionRow.expires_at <= now))
            s.add(
                UserSessionRow(
                    sid_digest=sid_digest,
                    user_id=user_id,
                    created_at=now,
                    expires_at=expires_at,
                    ip=ip,
                )
            )

    async def session_user(self, sid_digest: str, now: datetime) -> User | None:
        stmt = (
            select(UserRow)
            .join(UserSessionRow, UserSessionRow.user_id == UserRow.id)
            .where(
                UserSessionRow.sid_digest == sid_digest,
                UserSessionRow.expires_at > now,
                UserRow.disabled.is_(False),
            )
        )
        async with self._db.session() as s:
            row = await s.scalar(stmt)
        return None if row is None else _user(row)

    async def end_session(self, sid_digest: str) -> None:
        async with self._db.session() as s:
            await s.execute(delete(UserSessionRow).where(UserSessionRow.sid_digest == sid_digest))

    async def end_sessions(self, user_id: int) -> int:
        async with self._db.session() as s:
            result = await s.execute(
                delete(UserSessionRow).where(UserSessionRow.user_id == user_id)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- API tokens -----------------------------------------------------------------------
    async def add_token(
        self, user_id: int, token_digest: str, prefix: str, label: str, now: datetime
    ) -> ApiToken:
        row = ApiTokenRow(
            user_id=user_id,
            token_digest=token_digest,
            prefix=prefix,
            label=label,
            created_at=now,
            last_used_at=None,
            revoked_at=None,
        )
        async with self._db.session() as s:
            s.add(row)
            await s.flush()
        return _token(row)

    async def token_user(self, token_digest: str, now: datetime) -> User | None:
        stmt = (
            select(UserRow, ApiTokenRow)
            .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
            .where(
                ApiTokenRow.token_digest == token_digest,
                ApiTokenRow.revoked_at.is_(None),
                UserRow.disabled.is_(False),
            )
        )
        async with self._db.session() as s:
            found = (await s.execute(stmt)).first()
            if found is None:
                return None
            user, token = found
            if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
                await s.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token.id).values(last_used_at=now)
                )
        return _user(user)

    async def list_tokens(self, user_id: int) -> list[ApiToken]:
        stmt = (
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == user_id)
            .order_by(ApiTokenRow.id.desc())
        )
        async with self._db.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [_token(r) for r in rows]

    async def revoke_token(self, token_id: int, now: datetime) -> ApiToken | None:
        async with self._db.session() as s:
            row = await s.get(ApiTokenRow, token_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = now
            await s.flush()
            return _token(row)


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        role=Role(row.role),
        committee=row.committee,
        disabled=row.disabled,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        user_id=row.user_id,
        prefix=row.prefix,
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )

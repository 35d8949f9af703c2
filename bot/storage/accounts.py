"""The account store interface: users, console sessions and API tokens.

Implemented by ``bot.storage.sql.account_repo.SqlAccountStore`` (SQLite or PostgreSQL).
Every method raises ``StoreUnavailable`` when the database cannot be reached. Session ids and
tokens reach the store only as digests (``bot.accounts.tokens.digest``)."""

from __future__ import annotations

import abc
from datetime import datetime

from bot.domain.accounts import ApiToken, Role, User


class AccountStore(abc.ABC):
    # --- users ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_user(
        self,
        name: str,
        display_name: str,
        role: Role,
        committee: str | None,
        password_hash: str,
        now: datetime,
    ) -> User:
        """Create a user; raise UserExists if the (normalized) name is taken."""

    @abc.abstractmethod
    async def user_by_name(self, name: str) -> User | None: ...

    @abc.abstractmethod
    async def credentials(self, name: str) -> tuple[User, str] | None:
        """The user and its password hash."""

    @abc.abstractmethod
    async def list_users(self, committee: str | None = None) -> list[User]:
        """Users ordered by name; only those of ``committee`` when given (street admins,
        bound to none, are listed only without a filter)."""

    @abc.abstractmethod
    async def set_password_hash(
        self, user_id: int, password_hash: str, now: datetime, *, end_sessions: bool
    ) -> None:
        """Store a new hash; with ``end_sessions`` every console session of the user ends."""

    @abc.abstractmethod
    async def set_disabled(self, user_id: int, disabled: bool, now: datetime) -> None:
        """Disable (ending every console session) or re-enable a user."""

    @abc.abstractmethod
    async def record_login(self, user_id: int, now: datetime) -> None: ...

    # --- console sessions -----------------------------------------------------------------
    @abc.abstractmethod
    async def add_session(
        self, sid_digest: str, user_id: int, now: datetime, expires_at: datetime, ip: str
    ) -> None:
        """Record a new session (and drop every expired one)."""

    @abc.abstractmethod
    async def session_user(self, sid_digest: str, now: datetime) -> User | None:
        """The enabled user of a live (unexpired) session, else None."""

    @abc.abstractmethod
    async def end_session(self, sid_digest: str) -> None: ...

    @abc.abstractmethod
    async def end_sessions(self, user_id: int) -> int:
        """End every session of a user; return how many there were."""

    # --- API tokens -----------------------------------------------------------------------
    @abc.abstractmethod
    async def add_token(
        self, user_id: int, token_digest: str, prefix: str, label: str, now: datetime
    ) -> ApiToken: ...

    @abc.abstractmethod
    async def token_user(self, token_digest: str, now: datetime) -> User | None:
        """The enabled user of an unrevoked token, else None; notes when it was last used."""

    @abc.abstractmethod
    async def list_tokens(self, user_id: int) -> list[ApiToken]:
        """A user's tokens, newest first, revoked ones included."""

    @abc.abstractmethod
    async def revoke_token(self, token_id: int, now: datetime) -> ApiToken | None:
        """Revoke a token (idempotent); None if there is no such token."""

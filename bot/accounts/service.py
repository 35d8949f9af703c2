"""Account use cases: manage users, check passwords, open and resolve console sessions and API
tokens. ``Authenticator`` adds login throttling around the password check."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.accounts.passwords import Passwords
from bot.accounts.throttle import LoginThrottle
from bot.accounts.tokens import (
    TOKEN_PREFIX,
    digest,
    display_prefix,
    new_api_token,
    new_session_id,
)
from bot.domain import Registry
from bot.domain.accounts import (
    MAX_PASSWORD_LEN,
    USERNAME_RE,
    AccountDisabled,
    ApiToken,
    InvalidAccount,
    InvalidCredentials,
    Principal,
    Role,
    UnknownToken,
    UnknownUser,
    User,
    normalize_username,
    validate_password,
    validate_role_committee,
    validate_username,
)
from bot.domain.tickets import Actor
from bot.storage.accounts import AccountStore

SESSION_TTL_S = 12 * 3600
MAX_LABEL_LEN = 100
MAX_DISPLAY_NAME_LEN = 100


_USER_ID = re.compile(r"[1-9][0-9]{0,17}", re.ASCII)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _takes_tickets(user: User, committee: str) -> bool:
    return (
        not user.disabled
        and user.role in (Role.CASEWORKER, Role.ADMIN)
        and user.committee == committee
    )


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        passwords: Passwords,
        registry: Registry,
        *,
        session_ttl_s: float = SESSION_TTL_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.passwords = passwords
        self._registry = registry
        self._session_ttl = timedelta(seconds=session_ttl_s)
        self._clock = clock

    @property
    def session_ttl_s(self) -> float:
        return self._session_ttl.total_seconds()

    # --- user management ------------------------------------------------------------------
    async def add_user(
        self,
        name: str,
        role: Role | str,
        committee: str | None,
        password: str,
        display_name: str = "",
    ) -> User:
        """Create a user (InvalidAccount on bad input, UserExists if the name is taken)."""
        username = validate_username(name)
        try:
            role = Role(role)
        except ValueError:
            raise InvalidAccount(f"unknown role {role!r}") from None
        committee = validate_role_committee(role, committee)
        if committee is not None and not self._registry.has_committee(committee):
            raise InvalidAccount(f"unknown committee {committee!r}")
        display_name = display_name.strip()
        if len(display_name) > MAX_DISPLAY_NAME_LEN:
            raise InvalidAccount(f"display name longer than {MAX_DISPLAY_NAME_LEN} characters")
        password_hash = await self.passwords.hash_async(validate_password(password))
        return await self._store.add_user(
            username, display_name, role, committee, password_hash, self._clock()
        )

    async def get_user(self, name: str) -> User:
        user = await self._store.user_by_name(normalize_username(name))
        if user is None:
            raise UnknownUser(f"no user {name!r}")
        return user

    async def list_users(self, committee: str | None = None) -> list[User]:
        return await self._store.list_users(committee)

    async def assignees(self, committee: str) -> list[User]:
        """Who may be given the committee's tickets: its active caseworkers and admins (not
        street admins, not disabled users), by name."""
        return [u for u in await self._store.list_users(committee) if _takes_tickets(u, committee)]

    async def assignee(self, committee: str, staff_id: str) -> Actor | None:
        """The ticket actor for user ``staff_id`` (a decimal user id) if that user may be
        given the committee's tickets, named as the account is; else None (unknown id,
        disabled, another committee, a street admin, or not an id at all)."""
        if not _USER_ID.fullmatch(staff_id):
            return None
        user_id = int(staff_id)
        for user in await self.assignees(committee):
            if user.id == user_id:
                return Actor.caseworker(str(user.id), user.label)
        return None

    async def set_password(self, name: str, password: str) -> User:
        """Set a new password; every console session of the user ends."""
        user = await self.get_user(name)
        password_hash = await self.passwords.hash_async(validate_password(password))
        await self._store.set_password_hash(
            user.id, password_hash, self._clock(), end_sessions=True
        )
        return user

    async def set_disabled(self, name: str, disabled: bool = True) -> User:
        """Disable (sessions end, tokens stop working, login refused) or re-enable a user."""
        user = await self.get_user(name)
        await self._store.set_disabled(user.id, disabled, self._clock())
        return user

    # --- passwords and sessions -----------------------------------------------------------
    async def check_password(self, name: str, password: str) -> Principal:
        """The principal of a user whose password is right.

        Raises InvalidCredentials (unknown name or wrong password, indistinguishable, in
        time too) or AccountDisabled (right password, disabled account). A hash made with
        older Argon2 parameters is replaced on success."""
        username = normalize_username(name)
        if not USERNAME_RE.fullmatch(username) or len(password) > MAX_PASSWORD_LEN:
            raise InvalidCredentials("wrong user name or password")
        found = await self._store.credentials(username)
        if found is None:
            await self.passwords.verify_dummy_async(password)
            raise InvalidCredentials("wrong user name or password")
        user, stored_hash = found
        check = await self.passwords.verify_async(stored_hash, password)
        if not check.ok:
            raise InvalidCredentials("wrong user name or password")
        if user.disabled:
            raise AccountDisabled(f"user {user.name!r} is disabled")
        now = self._clock()
        if check.new_hash is not None:
            await self._store.set_password_hash(user.id, check.new_hash, now, end_sessions=False)
        await self._store.record_login(user.id, now)
        return Principal.of(user)

    async def open_session(self, principal: Principal, ip: str = "") -> str:
        """A new session id for a logged-in principal (keep it only in the encrypted cookie)."""
        sid = new_session_id()
        now = self._clock()
        await self._store.add_session(
            digest(sid), principal.user_id, now, now + self._session_ttl, ip[:64]
        )
        return sid

    async def session_principal(self, sid: str) -> Principal | None:
        """The principal of a live session; None once it expired, was ended, or its user was
        disabled."""
        user = await self._store.session_user(digest(sid), self._clock())
        return None if user is None else Principal.of(user)

    async def close_session(self, sid: str) -> None:
        await self._store.end_session(digest(sid))

    async def end_sessions(self, name: str) -> int:
        """Log a user out everywhere (every console session ends, open event streams close
        within seconds); returns how many sessions there were."""
        user = await self.get_user(name)
        return await self._store.end_sessions(user.id)

    # --- API tokens -----------------------------------------------------------------------
    async def create_token(self, name: str, label: str = "") -> tuple[str, ApiToken]:
        """A new API token for ``name``: the token (shown once, never stored) and its record."""
        user = await self.get_user(name)
        label = label.strip()
        if len(label) > MAX_LABEL_LEN:
            raise InvalidAccount(f"label longer than {MAX_LABEL_LEN} characters")
        token = new_api_token()
        record = await self._store.add_token(
            user.id, digest(token), display_prefix(token), label, self._clock()
        )
        return token, record

    async def list_tokens(self, name: str) -> list[ApiToken]:
        user = await self.get_user(name)
        return await self._store.list_tokens(user.id)

    async def revoke_token(self, token_id: int) -> ApiToken:
        record = await self._store.revoke_token(token_id, self._clock())
        if record is None:
            raise UnknownToken(f"no API token {token_id}")
        return record

    async def token_principal(self, token: str) -> Principal | None:
        """The principal of a valid token; None if unknown, revoked, or its user is disabled."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        user = await self._store.token_user(digest(token), self._clock())
        return None if user is None else Principal.of(user, via_token=True)


class Authenticator:
    """Password login with throttling per client address and per user name
    (``bot.accounts.throttle``)."""

    def __init__(self, accounts: AccountService, throttle: LoginThrottle) -> None:
        self._accounts = accounts
        self._throttle = throttle

    async def login(self, name: str, password: str, ip: str) -> Principal:
        """The principal, or LoginThrottled / InvalidCredentials / AccountDisabled.

        While the address is locked, or the name is waiting out its backoff, nothing is
        checked, so even the right password is refused; the wait on a name is short (at most
        the backoff cap) and the right password after it succeeds. An InvalidCredentials
        carries the wait its failure started (``retry_after_s``)."""
        await self._throttle.check(name, ip)
        try:
            principal = await self._accounts.check_password(name, password)
        except InvalidCredentials as exc:
            exc.retry_after_s = await self._throttle.failed(name, ip)
            raise
        except AccountDisabled:
            await self._throttle.succeeded(name, ip)  # the password was right
            raise
        await self._throttle.succeeded(name, ip)
        return principal

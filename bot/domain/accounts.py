"""Account types: roles, users, the principal a request acts as, API token records, errors.

Pure values; nothing here touches a store or the network."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.errors import LinliError

USERNAME_RE = re.compile(r"^[\w.@-]{2,64}$")
MIN_PASSWORD_LEN = 8
MAX_PASSWORD_LEN = 1024


class Role(enum.StrEnum):
    CASEWORKER = "caseworker"
    """社工: works the tickets and conversations of one committee."""
    ADMIN = "admin"
    """居委管理员: a caseworker who also keeps the committee's FAQ and settings."""
    STREET_ADMIN = "street_admin"
    """街道管理员: sees and manages every committee of the street office."""

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]

    @property
    def spans_committees(self) -> bool:
        return self is Role.STREET_ADMIN


_ROLE_LABELS = {
    Role.CASEWORKER: "社工",
    Role.ADMIN: "居委管理员",
    Role.STREET_ADMIN: "街道管理员",
}


class AccountError(LinliError):
    """Root of the account errors."""


class InvalidAccount(AccountError, ValueError):
    """A user name, role, committee or password does not meet the rules."""


class UserExists(AccountError):
    """A user with this name already exists."""


class UnknownUser(AccountError, LookupError):
    """No user with this name (or id)."""


class UnknownToken(AccountError, LookupError):
    """No API token with this id."""


class InvalidCredentials(AccountError):
    """Wrong user name or password (deliberately not saying which)."""

    retry_after_s: float = 0.0
    """How long the user name must now wait before its next attempt (0: none)."""


class AccountDisabled(AccountError):
    """The password is right but the account is disabled."""


class LoginThrottled(AccountError):
    """A login attempt refused before any password was checked: this address is locked
    after too many failures, or this user name must wait out its backoff."""

    def __init__(self, retry_after_s: float, scope: str) -> None:
        super().__init__(f"login throttled ({scope}) for {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s
        self.scope = scope
        """``user`` (this user name must wait) or ``ip`` (this address is locked)."""


def normalize_username(raw: str) -> str:
    """The canonical form of a user name: NFKC, trimmed, case-folded (``Wang`` is ``wang``)."""
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def validate_username(raw: str) -> str:
    """The normalized name, or InvalidAccount (2–64 letters, digits, ``_ . @ -``)."""
    name = normalize_username(raw)
    if not USERNAME_RE.fullmatch(name):
        raise InvalidAccount(
            "user name must be 2-64 characters: letters, digits, '_', '.', '@' or '-'"
        )
    return name


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LEN:
        raise InvalidAccount(f"password must have at least {MIN_PASSWORD_LEN} characters")
    if len(password) > MAX_PASSWORD_LEN:
        raise InvalidAccount(f"password must have at most {MAX_PASSWORD_LEN} characters")
    if not password.strip():
        raise InvalidAccount("password must not be blank")
    return password


def validate_role_committee(role: Role, committee: str | None) -> str | None:
    """A street admin has no committee; every other role has exactly one."""
    if role.spans_committees:
        if committee:
            raise InvalidAccount("a street_admin spans all committees: give no committee")
        return None
    if not committee:
        raise InvalidAccount(f"a {role.value} must be bound to a committee")
    return committee


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    display_name: str
    role: Role
    committee: str | None
    """None exactly for a street admin."""
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None = None

    @property
    def label(self) -> str:
        """The name shown in the console."""
        return self.display_name or self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for the API and ``linli user list --json`` (no credentials in a User)."""
        return {
            "id": self.id,
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role.value,
            "committee": self.committee,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as (a logged-in browser session or an API token's user)."""

    user_id: int
    name: str
    display_name: str
    role: Role
    committee: str | None
    """The one committee this principal may see; None for a street admin (all committees)."""
    via_token: bool = False
    """True when authenticated with an API token (no CSRF applies)."""

    @classmethod
    def of(cls, user: User, *, via_token: bool = False) -> Principal:
        return cls(user.id, user.name, user.display_name, user.role, user.committee, via_token)

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def is_admin(self) -> bool:
        """An admin of its committee or a street admin."""
        return self.role in (Role.ADMIN, Role.STREET_ADMIN)

    @property
    def is_street_admin(self) -> bool:
        return self.role is Role.STREET_ADMIN


def committee_scope(principal: Principal, committee_id: str) -> bool:
    """True if ``principal`` may see and change data of ``committee_id``."""
    return principal.committee is None or principal.committee == committee_id


def committee_filter(principal: Principal) -> str | None:
    """The committee a query must be restricted to, or None for "every committee"."""
    return principal.committee


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record; the token itself is shown once and only its hash is stored."""

    id: int
    user_id: int
    prefix: str
    """The first characters of the token, to recognise it in listings."""
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

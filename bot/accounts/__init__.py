"""Accounts and access: users bound to a committee (caseworker, admin) or to the whole street
office (street_admin), Argon2 passwords, login throttling, console sessions and API tokens.

HTTP helpers (``current_user``, ``require_user``, ``require_role``, ``ensure_committee``, the
admin API middleware) live in ``bot.accounts.http``."""

from bot.accounts.passwords import PasswordCheck, Passwords
from bot.accounts.service import AccountService, Authenticator
from bot.accounts.throttle import LoginThrottle
from bot.domain.accounts import (
    AccountDisabled,
    AccountError,
    ApiToken,
    InvalidAccount,
    InvalidCredentials,
    LoginThrottled,
    Principal,
    Role,
    UnknownToken,
    UnknownUser,
    User,
    UserExists,
    committee_filter,
    committee_scope,
)
from bot.storage.accounts import AccountStore

__all__ = [
    "AccountDisabled",
    "AccountError",
    "AccountService",
    "AccountStore",
    "ApiToken",
    "Authenticator",
    "InvalidAccount",
    "InvalidCredentials",
    "LoginThrottle",
    "LoginThrottled",
    "PasswordCheck",
    "Passwords",
    "Principal",
    "Role",
    "UnknownToken",
    "UnknownUser",
    "User",
    "UserExists",
    "committee_filter",
    "committee_scope",
]

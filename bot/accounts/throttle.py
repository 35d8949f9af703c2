"""Login throttling on the shared state store (in-process or Redis, so every worker agrees).

Failed logins are counted per user name and per client address in a sliding window
(``StateStore.reserve``). The failure that reaches a limit locks that user name (or address)
for ``lockout_s``: while locked every attempt is refused, even with the right password, before
any password is checked. Successful logins are not counted."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from bot.accounts.types import LoginThrottled, normalize_username
from bot.storage import keys
from bot.storage.state import StateStore

USER_LIMIT = 10
IP_LIMIT = 50
"""Per address the limit is higher: a street office's caseworkers may share one NAT address."""
WINDOW_S = 15 * 60
LOCKOUT_S = 15 * 60


class LoginThrottle:
    def __init__(
        self,
        state: StateStore,
        *,
        user_limit: int = USER_LIMIT,
        ip_limit: int = IP_LIMIT,
        window_s: float = WINDOW_S,
        lockout_s: float = LOCKOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if user_limit < 2 or ip_limit < 2:
            raise ValueError("login limits must be at least 2")
        self._state = state
        self._limits = {"user": user_limit, "ip": ip_limit}
        self._window_s = window_s
        self._lockout_s = lockout_s
        self._clock = clock

    async def check(self, username: str, ip: str) -> None:
        """Raise LoginThrottled while the user name or the address is locked."""
        for scope, subject in self._subjects(username, ip):
            raw = await self._state.get(keys.throttle(f"login-lock:{scope}:{subject}"))
            if raw is None:
                continue
            remaining = float(raw) - self._clock()
            if remaining > 0:
                raise LoginThrottled(remaining, scope)

    async def failed(self, username: str, ip: str) -> None:
        """Count a failed login; raise LoginThrottled if this failure reached a limit."""
        locked: LoginThrottled | None = None
        for scope, subject in self._subjects(username, ip):
            # The limit-th failure finds the limit-1 slots taken: that failure locks.
            wait = await self._state.reserve(
                keys.throttle(f"login-fail:{scope}:{subject}"),
                self._limits[scope] - 1,
                self._window_s,
            )
            if wait > 0:
                until = self._clock() + self._lockout_s
                await self._state.set(
                    keys.throttle(f"login-lock:{scope}:{subject}"), repr(until), self._lockout_s
                )
                locked = locked or LoginThrottled(self._lockout_s, scope)
        if locked is not None:
            raise locked

    @staticmethod
    def _subjects(username: str, ip: str) -> tuple[tuple[str, str], ...]:
        return (("user", _subject(normalize_username(username))), ("ip", _subject(ip)))


def _subject(value: str) -> str:
    # Attacker-chosen names of any length and alphabet become short, fixed-form keys.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]

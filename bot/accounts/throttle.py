"""Login throttling on the shared state store (in-process or Redis, so every worker agrees).

Two brakes that slow an attacker without letting anyone lock a caseworker out:

- **Per client address** (a lock): ``ip_limit`` failed logins from one address within
  ``ip_window_s`` lock that address for ``ip_lockout_s``. While it is locked every attempt
  from it is refused before any password is checked, even the right one. Nobody elsewhere is
  affected. The address is the one ``bot.accounts.http.client_ip`` derives (the peer, or the
  right-most untrusted ``X-Forwarded-For`` hop behind a configured proxy).
- **Per user name** (a backoff, never a lock): the first ``free_failures`` attempts cost
  nothing; after them attempts on the name are let through one at a time, each waiting
  ``backoff_base_s`` doubled for every further failure, capped at ``backoff_max_s``. The
  wait applies from every address and is taken atomically, so a parallel burst gets a single
  guess. The right password after the wait succeeds: a caseworker whose name is under
  attack waits at most ``backoff_max_s``. A success does not reset the name's failures (they
  expire ``failure_window_s`` after the last one), so logging in hands a guesser nothing.
- **Known addresses** skip the name's wait: an address the name logged in from within
  ``known_address_s`` gets ``free_failures`` attempts of its own, so a caseworker at their
  usual desk is not slowed at all by someone guessing their password elsewhere (an attacker
  does not know, or cannot use, that address).

Failures are forgotten ``failure_window_s`` after the last one. Names and addresses become
fixed-size hashed keys (attacker-chosen names of any length and alphabet)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from bot.domain.accounts import LoginThrottled, normalize_username
from bot.settings import Settings
from bot.storage import keys
from bot.storage.state import StateStore

IP_LIMIT = 20
"""Failures per address before it is locked. Not lower: a street office's caseworkers may
share one NAT address, and their typos add up."""
IP_WINDOW_S = 15 * 60
IP_LOCKOUT_S = 15 * 60
FREE_FAILURES = 3
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
FAILURE_WINDOW_S = 15 * 60
KNOWN_ADDRESS_S = 30 * 24 * 3600
_MAX_DOUBLINGS = 30


class LoginThrottle:
    def __init__(
        self,
        state: StateStore,
        *,
        ip_limit: int = IP_LIMIT,
        ip_window_s: float = IP_WINDOW_S,
        ip_lockout_s: float = IP_LOCKOUT_S,
        free_failures: int = FREE_FAILURES,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        failure_window_s: float = FAILURE_WINDOW_S,
        known_address_s: float = KNOWN_ADDRESS_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ip_limit < 2:
            raise ValueError("the address limit must be at least 2")
        if free_failures < 1:
            raise ValueError("at least 1 free attempt per user name")
        if not 0 < backoff_base_s <= backoff_max_s:
            raise ValueError("need 0 < backoff_base_s <= backoff_max_s")
        if min(ip_window_s, ip_lockout_s, failure_window_s, known_address_s) <= 0:
            raise ValueError("windows and lockouts must be positive")
        self._state = state
        self._ip_limit = ip_limit
        self._ip_window_s = ip_window_s
        self._ip_lockout_s = ip_lockout_s
        self._free = free_failures
        self._base_s = backoff_base_s
        self._max_s = backoff_max_s
        self._failure_window_s = failure_window_s
        self._known_s = known_address_s
        self._clock = clock

    @classmethod
    def from_settings(cls, state: StateStore, settings: Settings) -> LoginThrottle:
        return cls(
            state,
            ip_limit=settings.login_ip_limit,
            ip_window_s=settings.login_ip_window_s,
            ip_lockout_s=settings.login_ip_lockout_s,
            free_failures=settings.login_free_failures,
            backoff_base_s=settings.login_backoff_base_s,
            backoff_max_s=settings.login_backoff_max_s,
        )

    def delay_s(self, failures: int) -> float:
        """The wait before the next attempt on a name after ``failures`` failures: none for
        the free ones, then ``backoff_base_s`` doubling with every further failure, capped."""
        if failures <= self._free:
            return 0.0
        doublings = min(failures - self._free - 1, _MAX_DOUBLINGS)
        return float(min(self._base_s * 2**doublings, self._max_s))

    async def check(self, username: str, ip: str) -> None:
        """Admit one attempt, or raise LoginThrottled: the address is locked (``ip``) or the
        name must wait (``user``). Admitting takes the name's turn: call it once per attempt,
        before checking the password."""
        raw = await self._state.get(self._key("ip-lock", ip))
        if raw is not None:
            remaining = float(raw) - self._clock()
            if remaining > 0:
                raise LoginThrottled(remaining, "ip")
        user = _subject(normalize_username(username))
        # An address the name logged in from has free attempts of its own.
        known = self._known_key(user, ip)
        if await self._state.get(known) is not None:
            own = await self._state.reserve(f"{known}:free", self._free, self._failure_window_s)
            if own == 0:
                return
        # The free attempts are slots taken atomically, so a burst cannot pass them all.
        free = await self._state.reserve(
            keys.throttle(f"login-free:{user}"), self._free, self._failure_window_s
        )
        if free == 0:
            return
        # Past them, one attempt per wait (at least the base: attempts still in flight
        # have not failed yet).
        failures = await self._failures(user)
        wait = await self._state.reserve(
            keys.throttle(f"login-turn:{user}"), 1, max(self.delay_s(failures), self._base_s)
        )
        if wait > 0:
            raise LoginThrottled(wait, "user")

    async def failed(self, username: str, ip: str) -> float:
        """Count a failed login. Returns how long the name must wait before its next attempt
        (0 while its attempts are free); raises LoginThrottled when this failure locked the
        address."""
        user = _subject(normalize_username(username))
        failures = await self._failures(user) + 1
        await self._state.set(
            keys.throttle(f"login-failures:{user}"), str(failures), self._failure_window_s
        )
        # The limit-th failure finds the limit-1 slots taken: that failure locks.
        full = await self._state.reserve(
            self._key("ip-failures", ip), self._ip_limit - 1, self._ip_window_s
        )
        if full > 0:
            until = self._clock() + self._ip_lockout_s
            await self._state.set(self._key("ip-lock", ip), repr(until), self._ip_lockout_s)
            raise LoginThrottled(self._ip_lockout_s, "ip")
        return self.delay_s(failures)

    async def succeeded(self, username: str, ip: str) -> None:
        """The right password: ``ip`` becomes a known address of the name, with its free
        attempts renewed. The name's failures stay until they expire."""
        user = _subject(normalize_username(username))
        known = self._known_key(user, ip)
        await self._state.set(known, "1", self._known_s)
        await self._state.delete(f"{known}:free")

    async def _failures(self, user: str) -> int:
        raw = await self._state.get(keys.throttle(f"login-failures:{user}"))
        try:
            return int(raw) if raw is not None else 0
        except ValueError:
            return 0

    @staticmethod
    def _known_key(user: str, ip: str) -> str:
        return keys.throttle(f"login-known:{user}:{_subject(ip)}")

    @staticmethod
    def _key(kind: str, ip: str) -> str:
        return keys.throttle(f"login-{kind}:{_subject(ip)}")


def _subject(value: str) -> str:
    # Attacker-chosen names of any length and alphabet become short, fixed-form keys.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]

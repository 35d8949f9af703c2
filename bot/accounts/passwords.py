"""Password hashing with Argon2id (argon2-cffi).

Hashing and verifying are CPU- and memory-bound (tens of milliseconds, 64 MiB with the default
RFC 9106 low-memory profile): the sync methods do the work, the ``*_async`` twins run it in the
loop's default executor so the event loop never blocks on them."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    new_hash: str | None = None
    """A fresh hash when the password is right but was hashed with other parameters."""


class Passwords:
    """Hash, verify and rehash passwords with one set of Argon2 parameters."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    @property
    def hasher(self) -> PasswordHasher:
        return self._hasher

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> PasswordCheck:
        """Check ``password``; on success also say whether the hash must be renewed."""
        try:
            self._hasher.verify(stored_hash, password)
        except VerifyMismatchError:
            return PasswordCheck(False)
        except (InvalidHashError, VerificationError):
            log.warning("unusable password hash")
            return PasswordCheck(False)
        if self._hasher.check_needs_rehash(stored_hash):
            return PasswordCheck(True, self._hasher.hash(password))
        return PasswordCheck(True)

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verification (for unknown user names: no timing oracle)."""
        self.verify(self._dummy_hash, password)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    async def hash_async(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.hash, password)

    async def verify_async(self, stored_hash: str, password: str) -> PasswordCheck:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.verify, stored_hash, password)

    async def verify_dummy_async(self, password: str) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.verify_dummy, password)

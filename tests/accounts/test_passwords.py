"""Argon2 hashing, verification and rehashing (no store involved)."""

from __future__ import annotations

import asyncio
import threading

from argon2 import PasswordHasher

from bot.accounts import Passwords
from bot.accounts.passwords import PasswordCheck

from .support import fast_passwords


def test_default_hasher_makes_argon2id_hashes_that_verify() -> None:
    passwords = Passwords()
    stored = passwords.hash("居委会 2026 秘密")
    assert stored.startswith("$argon2id$")
    assert "居委会" not in stored
    assert passwords.verify(stored, "居委会 2026 秘密") == PasswordCheck(True)
    assert passwords.verify(stored, "居委会 2026 秘密 ") == PasswordCheck(False)


def test_same_password_gets_a_new_salt_each_time() -> None:
    passwords = fast_passwords()
    assert passwords.hash("same password") != passwords.hash("same password")


def test_hash_with_other_parameters_verifies_and_asks_for_a_rehash() -> None:
    old = fast_passwords()
    stored = old.hash("long enough pw")
    current = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    check = current.verify(stored, "long enough pw")
    assert check.ok
    assert check.new_hash is not None
    assert "m=16,t=2,p=1" in check.new_hash
    assert current.verify(check.new_hash, "long enough pw") == PasswordCheck(True)
    # A wrong password never produces a new hash.
    assert current.verify(stored, "wrong") == PasswordCheck(False)


def test_garbage_hash_is_a_refusal_not_a_crash() -> None:
    passwords = fast_passwords()
    assert passwords.verify("not-a-hash", "whatever") == PasswordCheck(False)
    assert passwords.verify("$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB", "x") == PasswordCheck(False)


class _ThreadSpy(Passwords):
    def __init__(self) -> None:
        super().__init__(fast_passwords().hasher)
        self.threads: list[int] = []

    def hash(self, password: str) -> str:
        self.threads.append(threading.get_ident())
        return super().hash(password)

    def verify(self, stored_hash: str, password: str) -> PasswordCheck:
        self.threads.append(threading.get_ident())
        return super().verify(stored_hash, password)


async def test_async_twins_run_off_the_event_loop_thread() -> None:
    passwords = _ThreadSpy()
    stored = await passwords.hash_async("off the loop")
    check, _ = await asyncio.gather(
        passwords.verify_async(stored, "off the loop"),
        passwords.verify_dummy_async("anything"),
    )
    assert check.ok
    assert len(passwords.threads) == 3
    assert threading.get_ident() not in passwords.threads

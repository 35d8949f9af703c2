"""The console's session cookie: aiohttp-session's EncryptedCookieStorage (Fernet: AES-128-CBC
plus HMAC-SHA256) with a 32-byte key.

The key comes from the ``session_secret`` setting (any string of at least 32 characters,
stretched with HKDF-SHA256) or, when that is empty, from ``<data_dir>/session.key``: generated
once with mode 0600 and reused, so sessions survive restarts and every worker sharing the data
directory reads the same key."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.domain import LinliError
from bot.settings import Settings

log = logging.getLogger(__name__)

KEY_FILE = "session.key"
MIN_SECRET_LEN = 32
COOKIE_NAME = "linli_session"
SECURE_COOKIE_NAME = "__Host-linli_session"
"""In production the ``__Host-`` prefix makes browsers insist on Secure, Path=/ and no Domain."""


class ConsoleConfigError(LinliError):
    """The console cannot start with this configuration (bad secret, unreadable key file)."""


def session_key(settings: Settings) -> bytes:
    """The 32-byte cookie encryption key for these settings."""
    if settings.session_secret:
        return derive_key(settings.session_secret)
    return load_or_create_key(settings.data_dir / KEY_FILE)


def derive_key(secret: str) -> bytes:
    if len(secret) < MIN_SECRET_LEN:
        raise ConsoleConfigError(f"session_secret must have at least {MIN_SECRET_LEN} characters")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"linli console session")
    return hkdf.derive(secret.encode("utf-8"))


def load_or_create_key(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600, atomically) when it does not exist yet."""
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("session key file was readable by others; restricting it to 0600")
        path.chmod(0o600)
    try:
        key = base64.urlsafe_b64decode(path.read_text(encoding="ascii").strip())
    except (ValueError, binascii.Error) as exc:
        raise ConsoleConfigError(f"unreadable session key file {path}") from exc
    if len(key) != 32:
        raise ConsoleConfigError(f"session key file {path} does not hold a 32-byte key")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = base64.urlsafe_b64encode(secrets.token_bytes(32)) + b"\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        # A hard link never replaces an existing file: when two workers start at once, the
        # first key wins and both read it.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("generated a new console session key", extra={"path": str(path)})


def cookie_storage(settings: Settings, max_age_s: int) -> EncryptedCookieStorage:
    production = settings.env == "production"
    return EncryptedCookieStorage(
        session_key(settings),
        cookie_name=SECURE_COOKIE_NAME if production else COOKIE_NAME,
        max_age=max_age_s,
        path="/",
        secure=production,
        httponly=True,
        samesite="Lax",
    )

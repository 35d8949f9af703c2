"""Opaque secrets handed to clients (API tokens, session ids) and their stored digests.

Only the SHA-256 digest of a token or session id is stored: a copy of the database does not
let anyone act as a user. The secrets carry 256 random bits, so a plain (unsalted) digest is
enough and allows an indexed lookup."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "linli_"  # noqa: S105 - a public marker of Linli tokens, not a secret
PREFIX_CHARS = 12


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Hex SHA-256 of a token or session id (what the database keeps)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(token: str) -> str:
    """The first characters of a token, kept to recognise it in listings."""
    return token[:PREFIX_CHARS]


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))

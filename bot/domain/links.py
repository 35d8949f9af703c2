"""Signed links residents open from the chat without logging in (the voting page, a notice's
page): ``<committee>.<id>.<expires>.<signature>``, the signature an HMAC-SHA256 over the
purpose, the committee, the id the link stands for and its expiry (Unix seconds), with a key
derived from the app's secret. The purpose keeps a token for one page from opening another.
Verifying says only whether the token is the one Linli made; what the id names, and whether
it is still usable, is for its owner to check."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

MAX_TOKEN = 200


@dataclass(frozen=True, slots=True)
class SignedLink:
    committee: str
    item: int
    """What the link stands for (a voting link's row, a notice delivery), by its id."""
    expires: int
    """Unix seconds."""


def sign(key: bytes, purpose: str, committee: str, item: int, expires: int) -> str:
    message = f"linli-{purpose}|{committee}|{item}|{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return f"{committee}.{item}.{expires}.{sig}"


def verify(key: bytes, purpose: str, token: str) -> SignedLink | None:
    """The link a token carries, or None when it is malformed or not signed with ``key``
    for ``purpose`` (expiry is not checked here)."""
    parts = token.split(".")
    if len(parts) != 4 or len(token) > MAX_TOKEN:
        return None
    committee, raw_id, raw_exp, _sig = parts
    if not raw_id.isdigit() or not raw_exp.isdigit() or len(raw_id) > 18 or len(raw_exp) > 12:
        return None
    expected = sign(key, purpose, committee, int(raw_id), int(raw_exp))
    if not hmac.compare_digest(expected.encode(), token.encode()):
        return None
    return SignedLink(committee, int(raw_id), int(raw_exp))

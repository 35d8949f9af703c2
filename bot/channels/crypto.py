"""WeChat / WeCom message crypto ("安全模式"), shared by the Official Account, WeCom apps
and WeCom AI bots.

- AESKey = base64(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = AESKey[:16].
- Plain buffer = random(16) + big-endian uint32 length + message + receive_id, padded with
  PKCS#7 to a 32-byte block (pad 1..32; a 16-byte unpadder rejects real traffic).
- msg_signature = sha1 of the sorted, concatenated [token, timestamp, nonce, encrypt].

Signatures are compared in constant time. Randomness and the clock are injectable so the
official test vectors can be reproduced exactly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.errors import (
    BadRequestError,
    DecryptError,
    ReceiveIdMismatch,
    ReplayError,
    SignatureError,
)

BLOCK = 32
_KEY_RE = re.compile(r"[A-Za-z0-9]{43}")
_NONCE_RE = re.compile(r"[A-Za-z0-9]{1,64}")


def sha1_signature(*parts: str) -> str:
    """sha1 hex of the parts sorted lexicographically and concatenated (WeChat's scheme)."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - protocol


def verify_signature(signature: str | None, *parts: str) -> None:
    """Raise SignatureError unless ``signature`` is the WeChat signature of ``parts``."""
    if not signature:
        raise SignatureError("missing signature")
    expected = sha1_signature(*parts)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise SignatureError("signature mismatch")


def check_timestamp(timestamp: str | None, window_s: float, now: float) -> int:
    """The request timestamp as an int; ReplayError when it is further than ``window_s``
    from ``now``, BadRequestError when it is not a number."""
    if not timestamp:
        raise SignatureError("missing timestamp")
    try:
        value = int(timestamp)
    except ValueError:
        raise BadRequestError("timestamp must be an integer (seconds)") from None
    if abs(now - value) > window_s:
        raise ReplayError("timestamp outside the accepted window")
    return value


def safe_nonce(nonce: str | None) -> str:
    """The request nonce when it is plain alphanumerics (it is echoed in replies), else a fresh
    one."""
    if nonce and _NONCE_RE.fullmatch(nonce):
        return nonce
    return str(secrets.randbelow(10**10))


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key encoded in a 43-character EncodingAESKey."""
    if not _KEY_RE.fullmatch(encoding_aes_key):
        raise ValueError("EncodingAESKey must be 43 characters [A-Za-z0-9]")
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:  # pragma: no cover - 43 base64 characters always give 32 bytes
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


class MessageCrypto:
    """Encrypt/decrypt and sign for one account. ``receive_id`` is the OA AppID, the WeCom
    CorpID, or "" for a WeCom AI bot."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str,
        *,
        random_bytes: Callable[[], bytes] = lambda: os.urandom(16),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = token
        self._key = aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode()
        self._random = random_bytes
        self._clock = clock
        self._algorithm = algorithms.AES(self._key)
        self._mode = modes.CBC(self._key[:16])

    @property
    def token(self) -> str:
        return self._token

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return sha1_signature(self._token, timestamp, nonce, encrypted)

    # --- decrypt ------------------------------------------------------------------------
    def decrypt(self, encrypted: str) -> bytes:
        """The message inside ``encrypted`` (base64). Raises DecryptError on anything
        malformed and ReceiveIdMismatch when it was meant for another receive id. The
        signature must have been checked before (see ``verify_and_decrypt``)."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("encrypted payload is not valid base64") from None
        if not data or len(data) % 16:
            raise DecryptError("encrypted payload has an invalid length")
        decryptor = Cipher(self._algorithm, self._mode).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise DecryptError("invalid padding (wrong EncodingAESKey?)")
        body = plain[16:-pad]
        if len(body) < 4:
            raise DecryptError("decrypted payload too short")
        (length,) = struct.unpack(">I", body[:4])
        if length > len(body) - 4:
            raise DecryptError("decrypted length prefix exceeds the payload")
        msg = body[4 : 4 + length]
        receive_id = body[4 + length :]
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise ReceiveIdMismatch("message addressed to another receive id")
        return msg

    def verify_and_decrypt(
        self, msg_signature: str | None, timestamp: str, nonce: str, encrypted: str
    ) -> bytes:
        verify_signature(msg_signature, self._token, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    # --- encrypt ------------------------------------------------------------------------
    def encrypt(self, message: bytes | str, random16: bytes | None = None) -> str:
        """base64 ciphertext of ``message``; ``random16`` overrides the random prefix."""
        msg = message.encode() if isinstance(message, str) else message
        prefix = self._random() if random16 is None else random16
        if len(prefix) != 16:
            raise ValueError("the random prefix must be 16 bytes")
        buf = prefix + struct.pack(">I", len(msg)) + msg + self._receive_id
        pad = BLOCK - len(buf) % BLOCK
        buf += bytes([pad]) * pad
        encryptor = Cipher(self._algorithm, self._mode).encryptor()
        return base64.b64encode(encryptor.update(buf) + encryptor.finalize()).decode()

    def _envelope(
        self, message: bytes | str, nonce: str | None, timestamp: str | None, random16: bytes | None
    ) -> tuple[str, str, str, str]:
        encrypted = self.encrypt(message, random16)
        ts = timestamp if timestamp is not None else str(int(self._clock()))
        nc = safe_nonce(nonce)
        return encrypted, self.signature(ts, nc, encrypted), ts, nc

    def encrypt_xml(
        self,
        message: bytes | str,
        nonce: str | None = None,
        timestamp: str | None = None,
        random16: bytes | None = None,
    ) -> str:
        """An encrypted passive reply in the Tencent XML template."""
        encrypted, signature, ts, nc = self._envelope(message, nonce, timestamp, random16)
        return (
            "<xml>\n"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
            f"<TimeStamp>{ts}</TimeStamp>\n"
            f"<Nonce><![CDATA[{nc}]]></Nonce>\n"
            "</xml>"
        )

    def encrypt_json(
        self,
        message: bytes | str,
        nonce: str | None = None,
        timestamp: str | None = None,
        random16: bytes | None = None,
    ) -> str:
        """An encrypted passive reply in the Tencent JSON template (WeCom AI bot)."""
        encrypted, signature, ts, nc = self._envelope(message, nonce, timestamp, random16)
        return json.dumps(
            {"encrypt": encrypted, "msgsignature": signature, "timestamp": ts, "nonce": nc}
        )

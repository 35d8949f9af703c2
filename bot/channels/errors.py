"""Channel errors. Each carries the HTTP status the callback answers with, so the web layer
maps any of them to a clear response and never to a 500.

Choice for replays: a request whose timestamp is outside ``settings.signature_window_s`` is
answered 403, like a bad signature. It is an authenticity failure (the signed timestamp says
the request is stale or forged), and WeChat does not retry 4xx answers it gets in time.
"""

from __future__ import annotations

from bot.domain import ChannelError


class ChannelRequestError(ChannelError):
    """A request a channel refuses. ``status`` is the HTTP status to answer with; the message
    is safe to show to the caller (it never contains secrets)."""

    status = 400


class BadRequestError(ChannelRequestError):
    """Malformed XML/JSON, a DTD or entity declaration, a missing or invalid field."""

    status = 400


class UnauthorizedError(ChannelRequestError):
    """Missing or wrong bearer token (generic webhook)."""

    status = 401


class SignatureError(ChannelRequestError):
    """Missing or wrong ``signature``/``msg_signature``."""

    status = 403


class PlainModeRefused(ChannelRequestError):
    """A plain-mode (unencrypted) POST to an Official Account configured for safe mode
    (``encoding_aes_key`` set) without ``compatible_mode``."""

    status = 403


class ReplayError(ChannelRequestError):
    """The signed timestamp is outside the accepted window."""

    status = 403


class DecryptError(ChannelRequestError):
    """The ciphertext does not decrypt to a well-formed message with this EncodingAESKey."""

    status = 403


class ReceiveIdMismatch(DecryptError):
    """The message decrypted but was addressed to another AppID/CorpID/ReceiveId."""

    status = 403


class UnknownAccount(ChannelRequestError):
    """No account/bot of that name is configured."""

    status = 404


class BodyTooLarge(ChannelRequestError):
    """The body is larger than ``settings.max_body_bytes``."""

    status = 413


class OutboundError(ChannelError):
    """Sending to a platform API failed. ``errcode`` is the platform's code when it sent one."""

    def __init__(self, message: str, *, errcode: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.errcode = errcode
        self.retryable = retryable


class PermanentOutboundError(OutboundError):
    """The platform refused the message for good (bad credentials, quota, invalid user, …);
    retrying the same request cannot succeed."""

"""Generic JSON webhook channel ``POST /api/v1/messages`` and the ``/try`` playground."""

from bot.channels.webhook.channel import (
    ACCOUNT,
    CHANNEL,
    DEFAULT_BUDGET_S,
    TRY_ACCOUNT,
    ChatIn,
    InvalidPayload,
    MessageIn,
    SenderIn,
    TryMessageIn,
    WebhookChannel,
    WebhookResult,
    parse_json,
    render_result,
)

__all__ = [
    "ACCOUNT",
    "CHANNEL",
    "DEFAULT_BUDGET_S",
    "TRY_ACCOUNT",
    "ChatIn",
    "InvalidPayload",
    "MessageIn",
    "SenderIn",
    "TryMessageIn",
    "WebhookChannel",
    "WebhookResult",
    "parse_json",
    "render_result",
]

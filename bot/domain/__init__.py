"""Pure domain types. Imports nothing else from ``bot``."""

from bot.domain.errors import (
    ChannelError,
    InvalidMessage,
    LinliError,
    RegistryError,
    StoreUnavailable,
)
from bot.domain.messages import (
    Chat,
    ChatType,
    IncomingMessage,
    MessageType,
    Reply,
    ReplyKind,
    Sender,
    TicketRef,
)
from bot.domain.registry import Committee, Compound, Contacts, Registry

__all__ = [
    "ChannelError",
    "Chat",
    "ChatType",
    "Committee",
    "Compound",
    "Contacts",
    "IncomingMessage",
    "InvalidMessage",
    "LinliError",
    "MessageType",
    "Registry",
    "RegistryError",
    "Reply",
    "ReplyKind",
    "Sender",
    "StoreUnavailable",
    "TicketRef",
]

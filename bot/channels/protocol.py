"""The one shape of a channel (in the spirit of Rasa's input/output channels).

A channel is one package under ``bot/channels/`` holding one ``Channel`` subclass. It
provides:

- ``routes()``: its aiohttp route definitions, each a named handler (a bound method);
- ``to_message(account, payload)``: the platform's parsed payload → ``IncomingMessage``
  (None for what Linli ignores);
- ``late_delivery(msg, reply_to)``: how replies that missed the passive window, or a message
  taken up again after its worker died, reach the resident (None: they cannot); it
  returns a ``DeliveryReport`` (sent, or failed with the platform's error) that ingress
  records on the replies;
- ``push(to, text, kind)``: a message Linli starts itself (a caseworker's reply, ticket
  news) into a conversation; returns how it went (``Delivery``: ``active`` once the
  platform accepted it, ``pull``, ``undeliverable``) and raises ``OutboundError`` when the
  platform refused it (the registry records it as ``failed`` with the platform's error);
- ``session_moved(conv)``: the conversation's mode changed in Linli (handed to a person,
  given back to the bot); platforms with their own session states follow it;
- ``capabilities``: what the platform allows (passive reply window, push window, groups).

The composition root builds the channels with a ``ChannelContext`` and adds each to the
``ChannelRegistry`` (one line per channel); ingress, handoff and the outbox ask the
registry, never which platform a conversation is on.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from bot.background import BackgroundTasks
from bot.channels.ingress import Ingress, LateDelivery
from bot.channels.platform import PlatformClient
from bot.domain import IncomingMessage
from bot.domain.once import Delivery
from bot.settings import Settings
from bot.storage.conversations import Conversation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Capabilities:
    passive_reply_s: float | None
    """How long the platform waits for an answer in the callback's response (None: the
    callback cannot carry an answer; every reply goes out actively)."""
    push_window_s: float | None
    """How long after the resident's last message Linli may still write to them (None: it
    cannot start messages at all; ``float("inf")``: no limit)."""
    groups: bool
    """Whether the channel carries group chats."""
    private_from_groups: bool = False
    """Whether a reply marked private (``Reply.private``) to a group message reaches the
    resident privately (otherwise the channel leaves it out of the group)."""


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What every channel may use; channel-specific stores go to the channel's own
    constructor."""

    settings: Settings
    ingress: Ingress
    platform: PlatformClient | None
    """HTTP to the platform APIs; None: no active delivery (late replies are logged as
    undeliverable)."""
    clock: Callable[[], float] = time.time
    """Wall clock (seconds) for signature timestamp windows and reply timestamps."""
    tasks: BackgroundTasks | None = None
    """Where channels run work that outlives a request (pulls, deliveries)."""


class Channel(abc.ABC):
    """Base of every channel. A channel must name itself and provide its routes and
    ``to_message``; the other defaults describe a channel that can only answer."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities(None, None, False)

    @abc.abstractmethod
    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """The channel's routes, each a named handler (a bound method)."""

    @abc.abstractmethod
    def to_message(self, account: str, payload: Any) -> IncomingMessage | None:
        """The platform's parsed payload for ``account`` → the domain message (None: an
        event Linli does not answer)."""

    def late_delivery(self, msg: IncomingMessage, reply_to: str) -> LateDelivery | None:
        return None

    async def push(self, to: Conversation, text: str, kind: str) -> Delivery:
        log.warning("no way to push to this channel", extra={"channel": self.name})
        return Delivery.UNDELIVERABLE

    async def session_moved(self, conv: Conversation) -> None:
        """The conversation's mode changed (``conv.mode``, ``conv.assignee_name``)."""
        return None

    def posts_into_groups(self, account: str) -> bool:
        """Whether ``push`` to a group conversation posts into the group (group etiquette's
        delayed and merged answers)."""
        return False

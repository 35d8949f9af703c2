"""The outbox: ticket news for residents (claimed, progress, waiting, resolved, closed,
reopened), written by the workflow in the same transaction as the change and drained by the
app's delivery loop."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.domain.tickets import Notification
from bot.storage.tickets import TicketStore
from bot.tickets.changes import Clock, checked_now, utc_now

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)


class TicketOutbox:
    def __init__(self, store: TicketStore, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def pending_notifications(
        self, limit: int = 50, *, lease: timedelta = timedelta(minutes=2)
    ) -> list[Notification]:
        """Undelivered messages for residents, oldest first. Each is leased for ``lease`` so
        that another worker does not send it too; report the outcome with
        :meth:`mark_delivered` or :meth:`mark_failed` (an unreported one comes back after
        the lease)."""
        now = checked_now(self._clock)
        return await self._store.lease_notifications(now, now + lease, limit)

    async def mark_delivered(self, notification_id: int) -> bool:
        return await self._store.mark_delivered(notification_id, checked_now(self._clock))

    @staticmethod
    def last_attempt(notification: Notification) -> bool:
        """Whether a failure of this attempt gives the message up (``mark_failed``)."""
        return notification.attempts + 1 >= MAX_ATTEMPTS

    async def mark_failed(self, notification: Notification, error: str) -> bool:
        """Retry later with exponential backoff (30 s, 1 min, … up to 1 h); after 8 attempts
        the message is given up (kept, no longer pending)."""
        attempts = notification.attempts + 1
        now = checked_now(self._clock)
        retry_at = None
        if attempts < MAX_ATTEMPTS:
            retry_at = now + min(timedelta(seconds=30) * 2 ** (attempts - 1), MAX_BACKOFF)
        else:
            log.warning(
                "notification given up",
                extra={"notification": notification.id, "ticket": notification.ticket_number},
            )
        return await self._store.mark_failed(notification.id, error, retry_at, now)

"""The work a running bot does on its own, beside the requests: ticket news to residents
(the outbox), handoff time-outs, auto-closing unrated tickets, recovery of messages whose
processing was interrupted, the staff alert sweep, group posts that are due (group
etiquette's delayed and merged answers), notices to send, consultations' invitations and
closing, and index rebuilds when another process changed a committee's FAQ. ``periodic_work``
is the application's cleanup context that starts the loops and, at shutdown, stops them and
drains the background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot import appkeys
from bot.domain import StoreUnavailable
from bot.domain.once import DeliveryReport
from bot.domain.tickets import Notification, ResidentId
from bot.storage import keys
from bot.storage.conversations import Conversation
from bot.storage.messages import MessageLog
from bot.storage.state import Subscription

log = logging.getLogger(__name__)


async def periodic_work(app: web.Application) -> AsyncIterator[None]:
    """Start the loops (see the module doc); at shutdown stop them and drain the background
    tasks, cancelling what outlasts ``drain_timeout_s``."""
    tasks, settings = app[appkeys.TASKS], app[appkeys.SETTINGS]
    loops = [
        tasks.spawn(
            every(settings.outbox_interval_s, lambda: deliver_notifications(app)), name="outbox"
        ),
        tasks.spawn(
            every(settings.sweep_interval_s, app[appkeys.HANDOFF].sweep), name="handoff sweep"
        ),
        tasks.spawn(
            every(3600, app[appkeys.TICKETS].satisfaction.auto_close_unrated), name="auto close"
        ),
        tasks.spawn(
            every(settings.recovery_interval_s, app[appkeys.INGRESS].recover), name="recovery"
        ),
        tasks.spawn(every(settings.alert_sweep_s, app[appkeys.ALERTS].sweep), name="alert sweep"),
        tasks.spawn(
            every(settings.group_post_interval_s, app[appkeys.ETIQUETTE].flush), name="group posts"
        ),
        tasks.spawn(corpus_changes(app), name="corpus changes"),
        tasks.spawn(
            every(settings.household_purge_interval_s, lambda: purge_households(app)),
            name="household retention",
        ),
        tasks.spawn(
            every(settings.notice_send_interval_s, app[appkeys.NOTICES].send_due),
            name="notice sends",
        ),
        tasks.spawn(
            every(settings.consultation_close_interval_s, app[appkeys.CONSULTATIONS].tick),
            name="consultations closing",
        ),
    ]
    yield
    for loop in loops:
        loop.cancel()
    cancelled = await app[appkeys.TASKS].drain(app[appkeys.SETTINGS].drain_timeout_s)
    if cancelled:
        log.warning("background work cancelled at shutdown", extra={"cancelled": cancelled})


async def every(interval_s: float, work: Callable[[], Awaitable[object]]) -> None:
    """Run ``work`` every ``interval_s``; a failed round is logged and the next one runs."""
    while True:
        try:
            await work()
        except StoreUnavailable:
            log.warning("store unavailable in periodic work; retrying next round")
        except Exception:
            log.exception("periodic work failed")
        await asyncio.sleep(interval_s)


async def deliver_notifications(app: web.Application) -> int:
    """Send pending ticket news (the outbox) to residents through their channels."""
    outbox, channels = app[appkeys.TICKETS].outbox, app[appkeys.CHANNELS]
    conversations, message_log = app[appkeys.CONVERSATIONS], app[appkeys.MESSAGE_LOG]
    sent = 0
    for note in await outbox.pending_notifications():
        conv = await conversations.get(note.conversation_key)
        if conv is None:
            conv = conversation_for_notification(note)
        report = await channels.push(conv, note.text, "notice")
        if not report.delivered:
            error = report.error or "no channel could deliver it"
            if await outbox.mark_failed(note, error) and outbox.last_attempt(note):
                # Given up: the conversation shows it as not delivered, with the last error.
                await _log_notice(message_log, conv, note.text, report)
            continue
        await _log_notice(message_log, conv, note.text, report)
        await outbox.mark_delivered(note.id)
        sent += 1
    return sent


async def _log_notice(
    message_log: MessageLog, conv: Conversation, text: str, report: DeliveryReport
) -> None:
    await message_log.record_proactive(
        conv,
        text,
        kind="notice",
        direction="out",
        sender_name="邻里",
        delivery=report.status,
        error_code=report.error_code,
        error=report.error,
    )


async def push_to_resident(
    app: web.Application, committee: str, resident: ResidentId, text: str
) -> bool:
    """Send ``text`` privately to a resident through the channel of their private chat with
    Linli (where it allows pushes), logged like any notice; True when it went out."""
    key = f"{committee}:{resident.channel}:{resident.account}:p:{resident.sender_id}"
    conv = await app[appkeys.CONVERSATIONS].get(key)
    if conv is None:
        return False
    report = await app[appkeys.CHANNELS].push(conv, text, "notice")
    await _log_notice(app[appkeys.MESSAGE_LOG], conv, text, report)
    return report.delivered


async def purge_households(app: web.Application) -> int:
    """PIPL retention: delete household bindings kept longer than configured, and one-time
    codes used or expired."""
    purged = await app[appkeys.HOUSEHOLDS].purge()
    if purged.bindings or purged.codes:
        log.info(
            "household data purged", extra={"bindings": purged.bindings, "codes": purged.codes}
        )
    return purged.bindings


async def corpus_changes(app: web.Application) -> None:
    """Rebuild a committee's index when its corpus changed: at once when a process publishes
    it (Redis), and by polling the database's revision otherwise (e.g. ``linli kb import``
    while the bot runs on the embedded default)."""
    state, settings = app[appkeys.STATE], app[appkeys.SETTINGS]
    faqs = app[appkeys.FAQS]

    async def refresh(committee: str, force: bool) -> None:
        # A change this process saved was applied already (FaqService.apply): its revision
        # is the one built, so only other processes' changes rebuild here.
        if await faqs.refresh(committee, force=force):
            log.info("index rebuilt", extra={"committee": committee})

    subscription = None
    while True:
        try:
            if subscription is None:
                subscription = await state.subscribe(keys.channel("corpus"))
            try:
                changed = await asyncio.wait_for(subscription.__anext__(), settings.corpus_poll_s)
                await refresh(changed, force=False)
            except TimeoutError:
                for c in app[appkeys.REGISTRY].committees:
                    await refresh(c.id, force=False)
        except StoreUnavailable:
            if subscription is not None:
                await _close_quietly(subscription)
                subscription = None
            await asyncio.sleep(settings.corpus_poll_s)
        except asyncio.CancelledError:
            if subscription is not None:
                await _close_quietly(subscription)
            raise


async def _close_quietly(subscription: Subscription) -> None:
    try:
        await subscription.close()
    except (StoreUnavailable, OSError):
        log.warning("could not close a subscription")


def conversation_for_notification(note: Notification) -> Conversation:
    """Where a ticket notification goes when its conversation record is gone."""
    return Conversation(
        key=note.conversation_key,
        committee=note.committee,
        channel=note.channel,
        account=note.account,
        chat_id=note.chat_id,
        chat_type=note.chat_type.value,
        sender_id=note.recipient_id,
    )

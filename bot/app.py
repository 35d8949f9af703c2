"""The one composition root: builds every store, client and service, wires the channels,
the pipeline and the HTTP routes. Nothing connects at import time; I/O starts in the
application's cleanup contexts and stops there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import appkeys
from bot.accounts import AccountService, Passwords
from bot.accounts.http import ACCOUNTS
from bot.alerts import StaffAlerts
from bot.api import add_api_routes
from bot.background import BackgroundTasks
from bot.channels.ingress import Ingress
from bot.channels.outbound import OutboundSender
from bot.channels.protocol import Channel, ChannelContext
from bot.channels.registry import ChannelRegistry
from bot.channels.webhook import WebhookChannel
from bot.channels.wechat_kf import WeChatKfChannel
from bot.channels.wechat_mp import WeChatMpChannel
from bot.channels.wecom_bot import WeComBotChannel
from bot.console import setup_console_auth
from bot.dialogue import Pipeline, Route
from bot.dialogue.events import LiveEvents
from bot.dialogue.handoff import Handoff, HandoffRoute
from bot.dialogue.middleware import bounded, timed
from bot.dialogue.routes.emergency import EmergencyResponder
from bot.dialogue.routes.faq import FaqRoute, PendingChoiceRoute, RuleFirstRoute
from bot.dialogue.routes.intake import IntakeRoute
from bot.dialogue.routes.letter import LetterRoute
from bot.dialogue.routes.satisfaction import SatisfactionRoute
from bot.dialogue.routes.smalltalk import SmallTalkRoute
from bot.dialogue.routes.status import StatusRoute
from bot.domain import Contacts, Registry, StoreUnavailable
from bot.domain.clock import shanghai_today
from bot.domain.tickets import Notification
from bot.edge import body_deadline, check_metrics_access
from bot.encoders import Encoder, MemoEncoder
from bot.faq_service import FaqService
from bot.insights import UnansweredQuestions
from bot.insights.stats import DashboardFigures
from bot.metrics import Metrics
from bot.nlu import NluService
from bot.playground import add_try_routes
from bot.retrieval import RetrievalService, load_encoder
from bot.retrieval.calibration import Calibration, CalibrationError, load_for
from bot.settings import Settings
from bot.storage import keys
from bot.storage.conversations import Conversation
from bot.storage.sql import (
    Database,
    SqlAlertStore,
    SqlConversationStore,
    SqlCursorStore,
    SqlFaqStore,
    SqlMessageLog,
    SqlProposalStore,
    SqlTicketStore,
)
from bot.storage.sql.account_repo import SqlAccountStore
from bot.storage.state import StateStore, Subscription
from bot.storage.state_memory import MemoryStateStore
from bot.storage.state_redis import RedisStateStore
from bot.tickets import SlaPolicy, Tickets

log = logging.getLogger(__name__)


def load_registry(settings: Settings) -> Registry:
    """The committee registry from ``knowledge/registry.yaml`` with contacts from settings."""
    path = settings.knowledge_dir / "registry.yaml"
    registry = Registry.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
    return registry.with_contacts(
        {
            cid: Contacts(c.office_phone, c.duty_phone, dict(c.property_phones))
            for cid, c in settings.committees.items()
        }
    )


def build_state(settings: Settings) -> StateStore:
    if settings.redis_url:
        return RedisStateStore.from_url(settings.redis_url, lock_lease_s=settings.lock_lease_s)
    return MemoryStateStore(lock_lease_s=settings.lock_lease_s)


def _calibration(knowledge_dir: Path) -> Calibration | None:
    """The answer / choices / none calibration kept beside the corpus; without a usable one
    the fixed thresholds decide (logged, never fatal: answering still works)."""
    try:
        return load_for(knowledge_dir)
    except CalibrationError as exc:
        logging.getLogger("bot.app").warning(
            "FAQ calibration unusable; using fixed thresholds", extra={"reason": str(exc)}
        )
        return None


ChannelFactory = Callable[[ChannelContext], Channel]


async def build_app(
    settings: Settings,
    *,
    extra_channels: Sequence[ChannelFactory] = (),
    encoder: Encoder | None = None,
    load_models: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """The whole bot as an aiohttp application (``linli serve`` runs it).

    ``extra_channels`` adds channels built outside this package (a deployment's own gateway,
    tests). ``encoder``: one already made, to share between the applications of one process
    (the tests do); it must be the model ``settings.encoder`` names. ``load_models=False``
    starts without loading the NLU model and the FAQ indexes, for a console and API that serve
    no resident (tests): the NLU then loads on the first message (whose answer will likely miss
    the passive reply budget), and a committee answers FAQs only once a change to its corpus
    has built its index. ``clock``: the time the ticket service and the handoff read (office
    hours, deadlines); the system clock unless a test sets it."""
    now = clock or (lambda: datetime.now(UTC))
    encoder = _encoder(settings, encoder)  # before anything that would need closing
    # Channels enforce max_body_bytes themselves; this bounds console and API requests.
    app = web.Application(client_max_size=max(settings.max_upload_bytes, settings.max_body_bytes))
    metrics = Metrics()
    registry = load_registry(settings)
    db = Database.connect(
        settings.effective_database_url, pool_connections=settings.db_pool_connections
    )
    state = build_state(settings)
    tasks = BackgroundTasks()
    message_log = SqlMessageLog(db)
    conversations = SqlConversationStore(db)
    events = LiveEvents(state)
    # The session is closed by the _http_client cleanup context; nothing is connected yet.
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10, connect=3))
    outbound = OutboundSender(http, state, settings)
    # Filled below, once ingress exists; handoff and the outbox push through it.
    channels = ChannelRegistry()
    accounts = AccountService(SqlAccountStore(db), Passwords(), registry)
    tickets = Tickets.build(
        SqlTicketStore(db),
        registry,
        sla=SlaPolicy.from_mapping(settings.ticket_sla),
        staff=accounts,  # transfers only to the committee's active caseworkers and admins
        clock=now,
    )
    alerts = StaffAlerts(
        SqlAlertStore(db),
        settings,
        outbound,
        tickets.queries,
        tickets.workflow,
        registry,
        user_names=lambda user_id: console_user_name(app, user_id),
        tasks=tasks,
    )
    retrieval = RetrievalService(
        encoder,
        index_dir=settings.effective_index_dir,
        calibration=_calibration(settings.knowledge_dir),
    )
    nlu = NluService(
        registry, settings.effective_models_dir, settings, encoder=encoder, session=http
    )
    handoff = Handoff(
        conversations,
        tickets.intake,
        registry,
        events,
        channels.push,
        message_log,
        state,
        wait_s=settings.handoff_wait_s,
        calendar=tickets.sla.calendar,
        around_the_clock=settings.handoff_around_the_clock,
        clock=now,
        moved=channels.session_moved,
    )
    emergency = EmergencyResponder(tickets.intake, alerts, events, tasks)
    faq_store = SqlFaqStore(db)
    faqs = FaqService(
        faq_store,
        state,
        registry,
        retrieval,
        seed_dir=settings.knowledge_dir,
        proposals=SqlProposalStore(db),
    )
    faq = FaqRoute(retrieval, shanghai_today, learn=faqs.propose)
    intake = IntakeRoute(tickets.intake, handoff.begin)
    routes: list[Route] = [
        PendingChoiceRoute(faq),
        SatisfactionRoute(tickets.satisfaction, outbound.alert_staff, events),
        LetterRoute(intake, faq),
        RuleFirstRoute(faq),
        intake,
        HandoffRoute(handoff),
        StatusRoute(tickets.queries),
        SmallTalkRoute(),
        faq,
    ]
    pipeline = Pipeline(
        registry,
        state,
        conversations,
        nlu,
        routes,
        emergency=emergency.respond,
        handoff=handoff.begin,
        forward=handoff.resident_message,
        record_outcome=message_log.record_outcome,
        set_location=tickets.intake.locate_urgent,
        tasks=tasks,
        handoff_after_fallbacks=settings.handoff_after_fallbacks,
        bot_names=settings.bot_names,
        middleware=(timed(metrics), bounded(settings.max_concurrent_pipelines)),
    )

    app[appkeys.SETTINGS] = settings
    app[appkeys.METRICS] = metrics
    app[appkeys.REGISTRY] = registry
    app[appkeys.DATABASE] = db
    app[appkeys.STATE] = state
    app[appkeys.TASKS] = tasks
    app[appkeys.MESSAGE_LOG] = message_log
    app[appkeys.FAQ_STORE] = faq_store
    app[appkeys.FAQS] = faqs
    app[appkeys.CONVERSATIONS] = conversations
    app[appkeys.EVENTS] = events
    app[appkeys.HTTP] = http
    app[appkeys.OUTBOUND] = outbound
    app[appkeys.CHANNELS] = channels
    app[appkeys.TICKETS] = tickets
    app[appkeys.RETRIEVAL] = retrieval
    app[appkeys.NLU] = nlu
    app[appkeys.HANDOFF] = handoff
    app[appkeys.UNANSWERED] = UnansweredQuestions(
        message_log, encoder, is_crisis=lambda text: nlu.crisis.detect(text) is not None
    )
    app[appkeys.DASHBOARD] = DashboardFigures(message_log, tickets.queries)
    app[appkeys.PIPELINE] = pipeline
    app[appkeys.ALERTS] = alerts

    ingress = Ingress(
        pipeline.handle,
        state,
        message_log,
        tasks,
        lease_s=settings.processing_lease_s,
        dedup_ttl_s=settings.dedup_ttl_s,
        max_attempts=settings.recovery_max_attempts,
    )
    app[appkeys.INGRESS] = ingress
    # The channels: one line each. Ingress learns their late senders from the registry.
    ctx = ChannelContext(settings, ingress, outbound, tasks=tasks)
    webhook = WebhookChannel(ctx)
    channels.add(WeChatMpChannel(ctx))
    channels.add(WeComBotChannel(ctx))
    channels.add(webhook)
    channels.add(WeChatKfChannel(ctx, SqlCursorStore(db)))
    for make_channel in extra_channels:
        channels.add(make_channel(ctx))
    channels.attach(ingress)

    app.cleanup_ctx.append(_stores)
    app.cleanup_ctx.append(_http_client)
    if load_models:
        app.cleanup_ctx.append(_models)
    app.cleanup_ctx.append(_background)
    app.middlewares.append(body_deadline(settings.request_body_timeout_s))
    app.middlewares.append(_count_requests)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    channels.mount(app)
    setup_console_auth(app, settings, accounts=accounts)
    add_api_routes(app)
    if settings.try_enabled:
        add_try_routes(
            app,
            registry.committee(settings.channels.webhook.committee),
            webhook.post_try,
            message_log,
            faqs.entries,
        )
    return app


def _encoder(settings: Settings, given: Encoder | None) -> Encoder:
    """The model, behind one memo shared by the NLU and the FAQ search: each message is
    encoded once per process, whoever reads it first."""
    wanted = load_encoder(settings.encoder)  # loads nothing until the first encode
    if given is None:
        return MemoEncoder.over(wanted)
    if given.name != wanted.name:
        raise ValueError(f"encoder {given.name!r} given, settings name {wanted.name!r}")
    return MemoEncoder.over(given)


async def _models(app: web.Application) -> AsyncIterator[None]:
    """Load (or train/build) the NLU model and every committee's FAQ index before serving."""
    settings = app[appkeys.SETTINGS]
    await app[appkeys.NLU].astart()
    faqs = app[appkeys.FAQS]
    for committee in app[appkeys.REGISTRY].committees:
        # The revision is read before the entries: a change saved meanwhile by another
        # worker then shows as a newer revision and is picked up by the next refresh.
        revision = await faqs.store.revision(committee.id)
        entries = await faqs.entries(committee.id)
        if entries:
            await app[appkeys.RETRIEVAL].aload_or_build(
                committee.id, entries, settings.effective_index_dir
            )
        faqs.remember(committee.id, revision)
    yield


async def _stores(app: web.Application) -> AsyncIterator[None]:
    db, state = app[appkeys.DATABASE], app[appkeys.STATE]
    await db.migrate()
    if isinstance(state, RedisStateStore):
        await state.ping_with_retries()
    log.info(
        "stores ready",
        extra={"database": db.dialect, "state": type(state).__name__},
    )
    warn_alert_channels(app)
    yield
    await state.close()
    await db.close()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[appkeys.HTTP].close()


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Periodic work: ticket news to residents, handoff time-outs, auto-closing unrated
    tickets, and index rebuilds when another process changed the corpus."""
    tasks, settings = app[appkeys.TASKS], app[appkeys.SETTINGS]
    loops = [
        tasks.spawn(
            _every(settings.outbox_interval_s, lambda: deliver_notifications(app)), name="outbox"
        ),
        tasks.spawn(
            _every(settings.sweep_interval_s, app[appkeys.HANDOFF].sweep), name="handoff sweep"
        ),
        tasks.spawn(
            _every(3600, app[appkeys.TICKETS].satisfaction.auto_close_unrated), name="auto close"
        ),
        tasks.spawn(
            _every(settings.recovery_interval_s, app[appkeys.INGRESS].recover), name="recovery"
        ),
        tasks.spawn(_every(settings.alert_sweep_s, app[appkeys.ALERTS].sweep), name="alert sweep"),
        tasks.spawn(_corpus_changes(app), name="corpus changes"),
    ]
    yield
    for loop in loops:
        loop.cancel()
    cancelled = await app[appkeys.TASKS].drain(app[appkeys.SETTINGS].drain_timeout_s)
    if cancelled:
        log.warning("background work cancelled at shutdown", extra={"cancelled": cancelled})


async def _every(interval_s: float, work: Callable[[], Awaitable[object]]) -> None:
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
        delivery = await channels.push(conv, note.text, "notice")
        if delivery == "undeliverable":
            await outbox.mark_failed(note, "no channel could deliver it")
            continue
        await message_log.record_proactive(
            conv, note.text, kind="notice", direction="out", sender_name="邻里", delivery=delivery
        )
        await outbox.mark_delivered(note.id)
        sent += 1
    return sent


async def _corpus_changes(app: web.Application) -> None:
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


@web.middleware
async def _count_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    metrics = request.app[appkeys.METRICS]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        metrics.http_requests.labels(name, str(exc.status)).inc()
        raise
    metrics.http_requests.labels(name, str(response.status)).inc()
    return response


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, str] = {}
    for name, ping in (
        ("database", app[appkeys.DATABASE].ping),
        ("state", app[appkeys.STATE].ping),
    ):
        try:
            await ping()
            checks[name] = "ok"
        except StoreUnavailable as exc:
            checks[name] = f"unavailable: {exc}"
    ok = all(v == "ok" for v in checks.values())
    # Visible, but not "degraded": a committee without a robot still works (console only).
    alerts: dict[str, str] = {}
    if ok:
        for committee in app[appkeys.REGISTRY].committees:
            try:
                alerts[committee.id] = await app[appkeys.ALERTS].channel_state(committee.id)
            except StoreUnavailable:
                alerts[committee.id] = "unknown"
    return web.json_response(
        {"status": "ok" if ok else "degraded", **checks, "alerts": alerts},
        status=200 if ok else 503,
    )


async def console_user_name(app: web.Application, user_id: str) -> str | None:
    """A console user's login name from their id (who holds a conversation → the rota)."""
    if not user_id.isdigit():
        return None
    for user in await app[ACCOUNTS].list_users():
        if str(user.id) == user_id:
            return user.name
    return None


def warn_alert_channels(app: web.Application) -> None:
    """One WARNING per committee whose urgent alerts would reach nobody but the console."""
    alerts = app[appkeys.ALERTS]
    for committee in app[appkeys.REGISTRY].committees:
        if not alerts.has_channel(committee.id):
            log.warning(
                "no staff alert channel: urgent alerts only reach the console; set "
                f"committees.{committee.id}.staff_robot_key (or street.staff_robot_key)",
                extra={
                    "committee": committee.id,
                    "duty_phone_set": bool(alerts.duty_phone(committee.id)),
                },
            )


async def metrics_view(request: web.Request) -> web.Response:
    check_metrics_access(request, request.app[appkeys.SETTINGS].metrics_token)
    body = generate_latest(request.app[appkeys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def static_dir(name: str) -> Path:
    return Path(__file__).resolve().parent / name

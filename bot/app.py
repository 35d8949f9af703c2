"""The one composition root: builds every store, client and service, wires the channels,
the pipeline and the HTTP routes. Nothing connects at import time; I/O starts in the
application's cleanup contexts and stops there."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import aiohttp_session
import yaml
from aiohttp import web

from bot import appkeys
from bot.accounts import AccountService, Authenticator, LoginThrottle, Passwords
from bot.accounts.http import ACCOUNTS, AUTHENTICATOR, TRUSTED_PROXIES, trusted_networks
from bot.accounts.service import SESSION_TTL_S
from bot.alerts import StaffAlerts
from bot.api import PREFIX as API_PREFIX
from bot.api import api_app
from bot.background import BackgroundTasks
from bot.channels.group import GroupPoster
from bot.channels.ingress import Ingress
from bot.channels.outbound import OutboundSender
from bot.channels.protocol import Channel, ChannelContext
from bot.channels.registry import ChannelRegistry
from bot.channels.webhook import WebhookChannel
from bot.channels.wechat_kf import WeChatKfChannel
from bot.channels.wechat_mp import WeChatMpChannel
from bot.channels.wecom_bot import WeComBotChannel
from bot.console import PREFIX as CONSOLE_PREFIX
from bot.console import STREAMS as CONSOLE_STREAMS
from bot.console import console_app, stop_streams
from bot.console.notice_page import NOTICE_PATH, add_notice_page_routes
from bot.console.session import cookie_storage, session_key
from bot.console.voting import VOTE_PATH, add_voting_routes
from bot.consultations import Consultations
from bot.dialogue import Pipeline, Route
from bot.dialogue.answers import AnswerCache, CachedUnderstanding
from bot.dialogue.etiquette import Etiquette, FaqDecider
from bot.dialogue.events import LiveEvents
from bot.dialogue.handoff import Handoff, HandoffRoute
from bot.dialogue.middleware import bounded, timed
from bot.dialogue.routes.care import CareRoute, CheckInRoute
from bot.dialogue.routes.consultation import ConsultationRoute
from bot.dialogue.routes.emergency import EmergencyResponder
from bot.dialogue.routes.faq import (
    FaqRoute,
    FollowUpRoute,
    PendingChoiceRoute,
    RuleFirstRoute,
)
from bot.dialogue.routes.household import HouseholdRoute
from bot.dialogue.routes.intake import IntakeRoute
from bot.dialogue.routes.letter import LetterRoute
from bot.dialogue.routes.notice import NoticeRoute
from bot.dialogue.routes.satisfaction import SatisfactionRoute
from bot.dialogue.routes.smalltalk import SmallTalkRoute
from bot.dialogue.routes.status import StatusRoute
from bot.domain import Contacts, Registry
from bot.domain.clock import shanghai_today
from bot.edge import body_deadline
from bot.encoders import BatchingEncoder, Encoder, MemoEncoder
from bot.faqs.service import FaqService
from bot.heap import release_free_memory
from bot.households import Households
from bot.insights import UnansweredQuestions
from bot.insights.stats import DashboardFigures
from bot.metrics import Metrics
from bot.nlu import NluService
from bot.notices import Notices
from bot.operations import add_operations_routes, count_requests
from bot.periodic import every, periodic_work, push_to_resident
from bot.playground import add_try_routes
from bot.readiness import Readiness
from bot.retrieval import RetrievalService, load_encoder
from bot.retrieval.calibration import Calibration, CalibrationError, load_for
from bot.segmenter import share_dictionary
from bot.settings import Settings
from bot.storage.sql import (
    Database,
    SqlAlertStore,
    SqlConsultationStore,
    SqlConversationStore,
    SqlCursorStore,
    SqlFaqStore,
    SqlGroupPostStore,
    SqlHouseholdStore,
    SqlMessageLog,
    SqlNoticeStore,
    SqlProposalStore,
    SqlTicketStore,
)
from bot.storage.sql.account_repo import SqlAccountStore
from bot.storage.state import StateStore
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
    extra_console_routes: Iterable[web.AbstractRouteDef] = (),
    extra_api_routes: Iterable[web.AbstractRouteDef] = (),
    encoder: Encoder | None = None,
    load_models: bool = True,
    listen_while_loading: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """The whole bot as an aiohttp application (``linli serve`` runs it).

    ``extra_channels`` adds channels built outside this package (a deployment's own gateway,
    tests); ``extra_console_routes`` and ``extra_api_routes`` add pages to the console and
    the admin API (paths below their prefixes, behind their guards). ``encoder``: one already
    made, to share between the applications of one process (the tests do); it must be the
    model ``settings.encoder`` names. ``load_models=False`` starts without loading the NLU
    model and the FAQ indexes, for a console and API that serve no resident (tests): the NLU
    then loads on the first message (whose answer will likely miss the passive reply budget),
    and a committee answers FAQs only once a change to its corpus has built its index.
    ``listen_while_loading`` (``linli serve``): the models and indexes load in the background
    while the application already serves (``bot.readiness``): messages are taken and stored
    at once and answered once they are loaded; the heap is settled after (``settle_heap``).
    ``clock``: the time the ticket service and the handoff read (office hours, deadlines); the
    system clock unless a test sets it."""
    now = clock or (lambda: datetime.now(UTC))
    encoder = _encoder(settings, encoder)  # before anything that would need closing
    # Channels enforce max_body_bytes themselves; this bounds console and API requests.
    app = web.Application(client_max_size=max(settings.max_upload_bytes, settings.max_body_bytes))
    metrics = Metrics()
    registry = load_registry(settings)
    db = Database.connect(
        settings.effective_database_url,
        pool_connections=settings.db_pool_connections,
        pgbouncer=settings.db_pgbouncer,
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
        registry,
        settings.effective_models_dir,
        settings,
        encoder=encoder,
        session=http,
        # a model the folder lacks is trained by a child process: the worker never holds
        # scikit-learn and the training's buffers
        train_apart=settings.encoder,
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
    answers = AnswerCache(settings.answer_cache_size, metrics)
    faq = FaqRoute(retrieval, shanghai_today, learn=faqs.propose, answers=answers)
    intake = IntakeRoute(tickets.intake, handoff.begin)
    households = Households(
        SqlHouseholdStore(db),
        registry,
        retention_days=settings.household_binding_retention_days,
        code_ttl=timedelta(hours=settings.household_code_ttl_hours),
        clock=now,
    )
    group_poster = GroupPoster(settings, channels, outbound, state)
    notices = Notices(
        SqlNoticeStore(db),
        households,
        registry,
        settings,
        group_poster,
        conversations,
        message_log,
        clock=now,
        link_key=link_key(settings),
        page_url=lambda token: page_url(settings, NOTICE_PATH, token),
    )
    consultations = Consultations(
        SqlConsultationStore(db),
        households,
        registry,
        link_key=link_key(settings),
        link_ttl=timedelta(hours=settings.consultation_link_ttl_hours),
        clock=now,
    )
    consultations.push = lambda committee, resident, text: push_to_resident(
        app, committee, resident, text
    )
    routes: list[Route] = [
        NoticeRoute(notices),  # a valid notice first; crises were answered before any route
        HouseholdRoute(households),
        PendingChoiceRoute(faq),
        SatisfactionRoute(tickets.satisfaction, outbound.alert_staff, events),
        ConsultationRoute(consultations, lambda token: page_url(settings, VOTE_PATH, token)),
        LetterRoute(intake, faq),
        RuleFirstRoute(faq),
        intake,
        HandoffRoute(handoff),
        FollowUpRoute(faq),  # "伊拉礼拜天开伐" right after an answer: read against it
        StatusRoute(tickets.queries),
        # words of dying judged calm: a caring line, never a goodbye or the menu
        CareRoute(faq, lambda text: nlu.crisis.needs_care(text)),
        # possibly urgent, below the crisis threshold: "is someone in danger now?"
        CheckInRoute(faq, settings.crisis_check_in),
        SmallTalkRoute(),
        faq,
    ]
    # Group etiquette posts through the channels (filled in below) and the group robots.
    etiquette = Etiquette(
        group_poster,
        SqlGroupPostStore(db),
        FaqDecider(faq),
        conversations,
        state,
        message_log,
        clock=now,
        record_outcome=message_log.record_outcome,
    )
    pipeline = Pipeline(
        registry,
        state,
        conversations,
        CachedUnderstanding(nlu, retrieval, answers, shanghai_today),
        routes,
        emergency=emergency.respond,
        handoff=handoff.begin,
        forward=handoff.resident_message,
        record_outcome=message_log.record_outcome,
        set_location=tickets.intake.locate_urgent,
        etiquette=etiquette,
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
    app[appkeys.ETIQUETTE] = etiquette
    app[appkeys.ALERTS] = alerts
    app[appkeys.HOUSEHOLDS] = households
    app[appkeys.NOTICES] = notices
    app[appkeys.CONSULTATIONS] = consultations

    readiness = Readiness()
    app[appkeys.READINESS] = readiness
    if not load_models:
        readiness.set_ready()  # the NLU loads on the first message
    ingress = Ingress(
        readiness.gate(pipeline.handle),
        state,
        message_log,
        tasks,
        lease_s=settings.processing_lease_s,
        dedup_ttl_s=settings.dedup_ttl_s,
        late_send_lease_s=settings.late_send_lease_s,
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
        app.cleanup_ctx.append(_models_in_background if listen_while_loading else _models)
    app.cleanup_ctx.append(periodic_work)
    app.middlewares.append(body_deadline(settings.request_body_timeout_s))
    app.middlewares.append(count_requests)
    add_operations_routes(app)
    channels.mount(app)
    # The console and the admin API: sub-applications over the services above. They share
    # the accounts and the login session (an encrypted cookie on "/"), installed here.
    app[ACCOUNTS] = accounts
    app[AUTHENTICATOR] = Authenticator(accounts, LoginThrottle.from_settings(state, settings))
    app[TRUSTED_PROXIES] = trusted_networks(settings.trusted_proxies)
    aiohttp_session.setup(app, cookie_storage(settings, SESSION_TTL_S))
    app[CONSOLE_STREAMS] = set()  # the console's live event streams, ended at shutdown
    app.on_shutdown.append(stop_streams)
    app.add_subapp(CONSOLE_PREFIX, console_app(settings, registry, extra_console_routes))
    app.add_subapp(API_PREFIX, api_app(extra_api_routes))
    add_voting_routes(app)
    add_notice_page_routes(app)
    if settings.try_enabled:
        add_try_routes(
            app,
            registry.committee(settings.channels.webhook.committee),
            webhook.post_try,
            message_log,
            faqs.entries,
        )
    return app


def link_key(settings: Settings) -> bytes:
    """The key that signs the links residents open from the chat (the voting page, a
    notice's page; each link names its purpose: ``bot.domain.links``): derived from the
    console's session key (the app's secret), never the key itself."""
    return hmac.new(session_key(settings), b"linli consultation links", hashlib.sha256).digest()


def page_url(settings: Settings, path: str, token: str) -> str:
    """A residents' page's address for a signed token (``path``: the voting page's, a
    notice page's), as residents reach it."""
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    return f"{base}{path}{token}"


def _encoder(settings: Settings, given: Encoder | None) -> Encoder:
    """The model, behind one memo shared by the NLU and the FAQ search: each message is
    encoded once per process, whoever reads it first; the texts of messages read at the
    same time are encoded together (``settings.encoder_batch``)."""
    # loads nothing until the first encode; the workers of a host share its table file
    wanted = load_encoder(settings.encoder, share_dir=settings.effective_models_dir)
    # and jieba's dictionary file, from the first segmentation on
    share_dictionary(settings.effective_models_dir)
    if given is None:
        if settings.encoder_batch > 1:
            return MemoEncoder(BatchingEncoder(wanted, settings.encoder_batch))
        return MemoEncoder.over(wanted)
    if given.name != wanted.name:
        raise ValueError(f"encoder {given.name!r} given, settings name {wanted.name!r}")
    return MemoEncoder.over(given)


async def _models(app: web.Application) -> AsyncIterator[None]:
    """Load (or train/build) the NLU model and every committee's FAQ index before serving."""
    await _load_models(app)
    app[appkeys.READINESS].set_ready()
    async with _heap_trimming():
        yield


async def _models_in_background(app: web.Application) -> AsyncIterator[None]:
    """Load them while the application serves (``bot.readiness``), then settle the heap. A
    failed load shuts the process down (``linli serve`` then exits 1): it would otherwise
    hold the messages it took for ever."""
    readiness = app[appkeys.READINESS]

    async def load() -> None:
        started = time.monotonic()
        try:
            await _load_models(app)
        except Exception as exc:
            readiness.failure = f"{type(exc).__name__}: {exc}"
            log.exception("loading the models failed; shutting down")
            signal.raise_signal(signal.SIGTERM)
            return
        await settle_heap(app)
        readiness.set_ready()
        log.info("ready", extra={"ms": round((time.monotonic() - started) * 1000)})

    loading = asyncio.create_task(load(), name="load models")
    async with _heap_trimming():
        yield
    loading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loading


async def _load_models(app: web.Application) -> None:
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
    release_free_memory()


@contextlib.asynccontextmanager
async def _heap_trimming() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    trim = asyncio.create_task(
        every(HEAP_TRIM_S, lambda: loop.run_in_executor(None, release_free_memory))
    )
    try:
        yield
    finally:
        trim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trim


HEAP_TRIM_S = 60.0
"""How often a serving worker gives freed heap pages back to the system."""


GC_THRESHOLDS = (10_000, 20, 20)
"""The cyclic collector's thresholds in a serving process once its models are loaded (the
default is (700, 10, 10)): a message allocates thousands of objects, nearly all freed by
reference counting, so young collections every 10,000 allocations find as much garbage as
more frequent ones would, for a fraction of the passes."""


async def settle_heap(app: web.Application) -> None:
    """Once the models are loaded in a serving process (``listen_while_loading``): collect
    once, then move everything start-up left (modules, the models, the FAQ index: millions
    of objects that live as long as the process) out of the cyclic collector's sight
    (``gc.freeze``), so its full collections scan only what serving allocates, and raise
    the young generation's threshold. Frozen objects are still freed by reference
    counting; only garbage cycles among them would stay. Not done for the applications
    tests build (one process, many applications, each of whose cycles must still be
    collected)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    release_free_memory()


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

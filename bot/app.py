"""The one composition root: builds every store, client and service, wires the channels,
the pipeline and the HTTP routes. Nothing connects at import time; I/O starts in the
application's cleanup contexts and stops there."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import appkeys
from bot.background import BackgroundTasks
from bot.channels.ingress import Ingress
from bot.channels.outbound import OutboundSender
from bot.channels.web import ChannelDeps, add_channel_routes, make_try_handler
from bot.dialogue import Pipeline, Route
from bot.domain import Contacts, IncomingMessage, Registry, Reply, StoreUnavailable
from bot.metrics import Metrics
from bot.playground import add_try_routes
from bot.settings import Settings
from bot.storage.sql import Database, SqlFaqStore, SqlMessageLog
from bot.storage.state import StateStore
from bot.storage.state_memory import MemoryStateStore
from bot.storage.state_redis import RedisStateStore

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
        return RedisStateStore.from_url(settings.redis_url)
    return MemoryStateStore()


async def build_app(settings: Settings) -> web.Application:
    """The whole bot as an aiohttp application (``linli serve`` runs it)."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    metrics = Metrics()
    registry = load_registry(settings)
    db = Database.connect(settings.effective_database_url)
    state = build_state(settings)
    tasks = BackgroundTasks()
    message_log = SqlMessageLog(db)
    routes: list[Route] = []
    pipeline = Pipeline(registry, state, routes, conversation_ttl_s=settings.conversation_ttl_s)

    app[appkeys.SETTINGS] = settings
    app[appkeys.METRICS] = metrics
    app[appkeys.REGISTRY] = registry
    app[appkeys.DATABASE] = db
    app[appkeys.STATE] = state
    app[appkeys.TASKS] = tasks
    app[appkeys.MESSAGE_LOG] = message_log
    app[appkeys.FAQ_STORE] = SqlFaqStore(db)
    app[appkeys.PIPELINE] = pipeline

    # The session is closed by the _http_client cleanup context; nothing is connected yet.
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10, connect=3))
    app[appkeys.HTTP] = http
    outbound = OutboundSender(http, state, settings)
    app[appkeys.OUTBOUND] = outbound
    ingress = Ingress(
        timed_handler(app),
        state,
        message_log,
        tasks,
        lease_s=settings.processing_lease_s,
        dedup_ttl_s=settings.dedup_ttl_s,
    )
    deps = ChannelDeps(settings=settings, ingress=ingress, outbound=outbound)

    app.cleanup_ctx.append(_stores)
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_background)
    app.middlewares.append(_count_requests)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    add_channel_routes(app, deps)
    if settings.try_enabled:
        add_try_routes(
            app, registry.committee(settings.channels.webhook.committee), make_try_handler(deps)
        )
    return app


async def _stores(app: web.Application) -> AsyncIterator[None]:
    db, state = app[appkeys.DATABASE], app[appkeys.STATE]
    await db.migrate()
    if isinstance(state, RedisStateStore):
        await state.ping_with_retries()
    log.info(
        "stores ready",
        extra={"database": db.dialect, "state": type(state).__name__},
    )
    yield
    await state.close()
    await db.close()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[appkeys.HTTP].close()


async def _background(app: web.Application) -> AsyncIterator[None]:
    yield
    cancelled = await app[appkeys.TASKS].drain(app[appkeys.SETTINGS].drain_timeout_s)
    if cancelled:
        log.warning("background work cancelled at shutdown", extra={"cancelled": cancelled})


def timed_handler(
    app: web.Application,
) -> Callable[[IncomingMessage], Awaitable[list[Reply]]]:
    """The pipeline's ``handle`` with metrics around it (what the channels receive)."""
    pipeline, metrics = app[appkeys.PIPELINE], app[appkeys.METRICS]

    async def handle(msg: IncomingMessage) -> list[Reply]:
        started = time.perf_counter()
        replies = await pipeline.handle(msg)
        metrics.pipeline_seconds.observe(time.perf_counter() - started)
        for reply in replies or ():
            metrics.messages.labels(msg.committee, reply.kind.value).inc()
        return replies

    return handle


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
    return web.json_response(
        {"status": "ok" if ok else "degraded", **checks}, status=200 if ok else 503
    )


async def metrics_view(request: web.Request) -> web.Response:
    body = generate_latest(request.app[appkeys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def static_dir(name: str) -> Path:
    return Path(__file__).resolve().parent / name

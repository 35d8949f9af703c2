"""What operators and their tools read from a running bot: ``GET /healthz`` (the stores, the
models (``bot.readiness``) and each committee's staff alert channel), ``GET /metrics``
(Prometheus, behind the metrics token) and the middleware that counts every HTTP request by
route and status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import appkeys
from bot.domain import StoreUnavailable
from bot.edge import check_metrics_access


def add_operations_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)


@web.middleware
async def count_requests(
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
    # A worker still loading its models takes messages (they wait for the models) but is
    # not yet ready for new traffic: "starting", 503, until they are in.
    readiness = app[appkeys.READINESS]
    models = (
        "ok"
        if readiness.ready
        else f"failed: {readiness.failure}"
        if readiness.failure
        else "loading"
    )
    status = "degraded" if not ok else "ok" if readiness.ready else "starting"
    return web.json_response(
        {"status": status, **checks, "models": models, "alerts": alerts},
        status=200 if status == "ok" else 503,
    )


async def metrics_view(request: web.Request) -> web.Response:
    check_metrics_access(request, request.app[appkeys.SETTINGS].metrics_token)
    body = generate_latest(request.app[appkeys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

"""Middleware around the pipeline: each gets the message and the handler it wraps, and
returns the replies (``Pipeline(middleware=[outermost, …, innermost])``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.domain import IncomingMessage, Reply
from bot.metrics import Metrics

Handler = Callable[[IncomingMessage], Awaitable[list[Reply]]]
Middleware = Callable[[IncomingMessage, Handler], Awaitable[list[Reply]]]


def timed(metrics: Metrics) -> Middleware:
    """How long a message took (waiting for a slot included), and its replies by kind."""

    async def middleware(msg: IncomingMessage, handler: Handler) -> list[Reply]:
        started = time.perf_counter()
        replies = await handler(msg)
        metrics.pipeline_seconds.observe(time.perf_counter() - started)
        for reply in replies:
            metrics.messages.labels(msg.committee, reply.kind.value).inc()
        return replies

    return middleware


def bounded(limit: int) -> Middleware:
    """At most ``limit`` messages in the pipeline at once: under a burst, messages queue
    here (cheaply) instead of holding database connections and Redis sockets until their
    timeouts fire."""
    slots = asyncio.Semaphore(limit)

    async def middleware(msg: IncomingMessage, handler: Handler) -> list[Reply]:
        async with slots:
            return await handler(msg)

    return middleware

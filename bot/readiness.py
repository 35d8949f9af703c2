"""Whether a serving process has loaded what answering residents needs (the NLU models and
every committee's FAQ index).

``linli serve`` listens before they are loaded (``build_app(listen_while_loading=True)``):
a restarted worker then takes messages within a few seconds of its start instead of
refusing connections for as long as the models take to load (which grows with the crisis
training data; a platform that retries only for 15 s gives up meanwhile). A message taken
while loading is stored and acknowledged at once; its pipeline waits here, and its answer
goes out once the models are in (passively if that is within the reply budget, else
through the channel's active sender). A retry of a message already answered is answered
from the log without waiting. ``GET /healthz`` says "starting" (503) until then, so a load
balancer sends new traffic elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.domain import IncomingMessage, Reply

Handler = Callable[[IncomingMessage], Awaitable[list[Reply]]]


class Readiness:
    def __init__(self) -> None:
        self._loaded = asyncio.Event()
        self.failure: str | None = None
        """Why loading failed (the process then shuts down), None while it has not."""

    @property
    def ready(self) -> bool:
        return self._loaded.is_set()

    def set_ready(self) -> None:
        self._loaded.set()

    async def wait(self) -> None:
        await self._loaded.wait()

    def gate(self, handle: Handler) -> Handler:
        """``handle``, run only once the models are loaded."""

        async def handle_when_ready(msg: IncomingMessage) -> list[Reply]:
            if not self._loaded.is_set():
                await self._loaded.wait()
            return await handle(msg)

        return handle_when_ready

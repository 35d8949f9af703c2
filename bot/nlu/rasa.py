"""Client for a Rasa server's HTTP API (``rasa run --enable-api``): ``POST /model/parse``.

The aiohttp ``ClientSession`` belongs to the caller (the composition root); this client
never creates one. Every failure — timeout, connection error, non-200 status, a body that
is not the parse shape — becomes ``RasaUnavailable`` so the caller can fall back.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bot.nlu.errors import RasaUnavailable
from bot.nlu.types import Entity, IntentScore, ParseResult


class RasaNluClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout_s: float = 2.0,
        token: str | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"rasa_url must be an http(s) URL, got {base_url!r}")
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._params = {"token": token} if token else {}

    @property
    def base_url(self) -> str:
        return self._base

    async def _request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        url = f"{self._base}{path}"
        try:
            async with self._session.request(
                method, url, json=body, params=self._params, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise RasaUnavailable(f"{method} {url}: timed out") from exc
        except (aiohttp.ClientError, asyncio.CancelledError, OSError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise RasaUnavailable(f"{method} {url}: {exc!r}") from exc
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RasaUnavailable(f"{method} {url}: HTTP {status}, body is not JSON") from exc
        if status != 200:
            message = data.get("message") if isinstance(data, dict) else None
            raise RasaUnavailable(f"{method} {url}: HTTP {status}: {message or data!r}")
        if not isinstance(data, dict):
            raise RasaUnavailable(f"{method} {url}: expected a JSON object")
        return data

    async def parse_raw(self, text: str) -> dict[str, Any]:
        """The server's ``/model/parse`` answer as JSON."""
        return await self._request("POST", "/model/parse", {"text": text})

    async def parse(self, text: str) -> ParseResult:
        """Parse ``text`` on the Rasa server; raises RasaUnavailable on any failure."""
        data = await self.parse_raw(text)
        return result_from_rasa(text, data)

    async def version(self) -> str:
        data = await self._request("GET", "/version")
        return str(data.get("version", ""))

    async def status(self) -> dict[str, Any]:
        return await self._request("GET", "/status")


def result_from_rasa(text: str, data: dict[str, Any]) -> ParseResult:
    """Convert a ``/model/parse`` response; raises RasaUnavailable if it has not that shape."""
    try:
        intent = data.get("intent") or {}
        name = intent.get("name")
        confidence = float(intent.get("confidence") or 0.0)
        ranking = tuple(
            IntentScore(str(r["name"]), float(r["confidence"]))
            for r in data.get("intent_ranking") or []
        )
        entities = []
        for e in data.get("entities") or []:
            start, end = int(e["start"]), int(e["end"])
            entities.append(
                Entity(
                    entity=str(e["entity"]),
                    value=str(e.get("value", text[start:end])),
                    start=start,
                    end=end,
                    text=text[start:end],
                    extractor=str(e.get("extractor") or "rasa"),
                    confidence=float(e.get("confidence_entity") or 1.0),
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RasaUnavailable(f"unexpected /model/parse response: {exc!r}") from exc
    if not name:
        raise RasaUnavailable("the Rasa server returned no intent (is a model loaded?)")
    return ParseResult(
        text=text,
        intent=str(name),
        confidence=confidence,
        ranking=ranking,
        entities=tuple(entities),
        backend="rasa",
    )

"""The optional Rasa backend, against real HTTP: a local aiohttp server replays the
responses a Rasa 3.6.21 server gave (shared/rasa/parse_responses.jsonl)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.domain import Registry
from bot.nlu import NluError, NluService, RasaNluClient, RasaUnavailable, Usem3SentenceEncoder
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT.parent / "shared" / "rasa" / "parse_responses.jsonl"

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
HITS = web.AppKey("hits", list[str])


def _records() -> list[dict[str, Any]]:
    lines = RECORDS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _replay_app() -> web.Application:
    """Answers as the recorded Rasa server did; unknown texts get its recorded 500."""
    records = _records()
    parses = {r["request"]["text"]: r for r in records if "text" in r["request"]}
    gets = {r["request"]["GET"]: r for r in records if "GET" in r["request"]}
    failure = next(r for r in records if "raw_body" in r["request"])
    app = web.Application()
    app[HITS] = []

    def _failure() -> web.Response:
        return web.Response(
            status=failure["status"],
            text=failure["response"]
            if isinstance(failure["response"], str)
            else json.dumps(failure["response"]),
            content_type="application/json",
        )

    async def parse(request: web.Request) -> web.Response:
        app[HITS].append(request.path)
        if request.path.startswith("/slow"):
            await asyncio.sleep(2)
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _failure()
        rec = parses.get(body.get("text"))
        if rec is None:
            return _failure()
        return web.json_response(rec["response"], status=rec["status"])

    async def get(request: web.Request) -> web.Response:
        rec = gets[request.path]
        return web.json_response(rec["response"], status=rec["status"])

    app.router.add_post("/model/parse", parse)
    app.router.add_post("/slow/model/parse", parse)
    app.router.add_get("/version", get)
    app.router.add_get("/status", get)
    return app


@pytest.fixture
async def rasa_server(aiohttp_server: ServerFactory) -> TestServer:
    return await aiohttp_server(_replay_app())


@pytest.fixture
async def session() -> Any:
    async with aiohttp.ClientSession() as s:
        yield s


def _url(server: TestServer, path: str = "") -> str:
    return str(server.make_url(path)).rstrip("/")


def test_records_cover_the_cases() -> None:
    texts = [r["request"].get("text") for r in _records()]
    assert "" in texts
    assert "   " in texts
    assert any(t and len(t) >= 2000 for t in texts)


async def test_parse_matches_every_recorded_response(
    rasa_server: TestServer, session: aiohttp.ClientSession
) -> None:
    client = RasaNluClient(session, _url(rasa_server))
    recorded = [r for r in _records() if "text" in r["request"]]
    assert len(recorded) >= 10
    for rec in recorded:
        text = rec["request"]["text"]
        expected = rec["response"]
        result = await client.parse(text)
        assert result.backend == "rasa"
        assert result.intent == expected["intent"]["name"]
        assert result.confidence == pytest.approx(expected["intent"]["confidence"])
        assert [s.name for s in result.ranking] == [r["name"] for r in expected["intent_ranking"]]
        assert len(result.entities) == len(expected["entities"])
    assert await client.version() == "3.6.21"
    assert (await client.status())["num_active_training_jobs"] == 0


async def test_server_error_is_rasa_unavailable(
    rasa_server: TestServer, session: aiohttp.ClientSession
) -> None:
    client = RasaNluClient(session, _url(rasa_server))
    with pytest.raises(RasaUnavailable, match=r"HTTP 500.*parsing body as json"):
        await client.parse("这句话没有录过")
    # the replay server behaves like Rasa on a malformed body
    async with session.post(rasa_server.make_url("/model/parse"), data=b"{not json") as resp:
        assert resp.status == 500
        assert (await resp.json())["reason"] == "ParsingError"


async def test_timeout_and_refused_connection(
    rasa_server: TestServer, session: aiohttp.ClientSession
) -> None:
    slow = RasaNluClient(session, _url(rasa_server, "/slow"), timeout_s=0.2)
    with pytest.raises(RasaUnavailable, match="timed out"):
        await slow.parse("我想写一个邮件")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = RasaNluClient(session, f"http://127.0.0.1:{port}", timeout_s=1)
    with pytest.raises(RasaUnavailable):
        await refused.parse("你好")


def test_client_needs_an_http_url() -> None:
    with pytest.raises(ValueError, match="http"):
        RasaNluClient(None, "localhost:5005")  # type: ignore[arg-type]


def _service(
    settings: Settings,
    session: aiohttp.ClientSession,
    registry: Registry,
    models: Path,
    encoder: Usem3SentenceEncoder,
) -> NluService:
    service = NluService(
        registry, models, settings, intents_dir=ROOT / "intents", encoder=encoder, session=session
    )
    service.start()
    return service


async def test_service_uses_rasa_and_falls_back(
    rasa_server: TestServer,
    session: aiohttp.ClientSession,
    nlu: NluService,
    registry: Registry,
    nlu_models_dir: Path,
    encoder: Usem3SentenceEncoder,
) -> None:
    settings = Settings(nlu_backend="rasa", rasa_url=_url(rasa_server), rasa_timeout_s=1.0)
    service = _service(settings, session, registry, nlu_models_dir, encoder)
    assert service.info()["backend"] == "rasa"

    remote = await service.aparse("明天北京天气怎么样")
    assert (remote.backend, remote.intent) == ("rasa", "weather")
    # entities come from Linli's extractor as well
    assert remote.value("date") is not None

    fallback = await service.aparse("湿垃圾几点可以扔")
    assert (fallback.backend, fallback.intent) == ("rasa", "nlu_fallback")
    assert fallback.confidence == pytest.approx(0.3)

    # the server fails on this one: the built-in model answers, emergency layer included
    hits_before = len(rasa_server.app[HITS])
    local = await service.aparse("电梯里有人困住了 快来")
    assert len(rasa_server.app[HITS]) == hits_before + 1
    assert local.backend == "builtin"
    assert local.intent == "report_emergency"

    # empty text never goes over the network
    empty = await service.aparse("   ")
    assert empty.intent == "nlu_fallback"
    assert len(rasa_server.app[HITS]) == hits_before + 1


async def test_service_falls_back_on_timeout(
    rasa_server: TestServer,
    session: aiohttp.ClientSession,
    nlu: NluService,
    registry: Registry,
    nlu_models_dir: Path,
    encoder: Usem3SentenceEncoder,
) -> None:
    settings = Settings(nlu_backend="rasa", rasa_url=_url(rasa_server, "/slow"), rasa_timeout_s=0.2)
    service = _service(settings, session, registry, nlu_models_dir, encoder)
    result = await service.aparse("转人工")
    assert (result.backend, result.intent) == ("builtin", "request_human")


def test_rasa_backend_needs_url_and_session(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(NluError, match="rasa_url"):
        NluService(registry, tmp_path, Settings(nlu_backend="rasa", rasa_url=""))
    with pytest.raises(NluError, match="session"):
        NluService(registry, tmp_path, Settings(nlu_backend="rasa", rasa_url="http://127.0.0.1:1"))

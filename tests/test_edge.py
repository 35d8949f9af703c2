"""The HTTP edge of a real server started like ``linli serve`` (``build_app`` behind an aiohttp
``AppRunner`` with ``bot.edge.server_options``): slow headers and slow bodies are cut off,
``/metrics`` is not public, and the shipped nginx does not proxy it."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from bot.app import build_app
from bot.edge import server_options
from bot.encoders import Encoder
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
HOOK = "edge-hook-token"
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
TRICKLE_S = 30.0
"""How long a slow client keeps trickling; the server must cut it off long before."""


@dataclass
class Server:
    host: str
    port: int


def outward_address() -> str:
    """An address of this machine that is not loopback (the source of its default route)."""
    candidates: list[str] = []
    for target in ("10.255.255.254", "192.0.2.1", "8.8.8.8"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((target, 9))  # a UDP connect sends nothing
            except OSError:
                continue
            candidates.append(str(s.getsockname()[0]))
    candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    found = [a for a in candidates if not a.startswith("127.") and a != "0.0.0.0"]
    assert found, "this test needs a non-loopback IPv4 address on the machine"
    return found[0]


@pytest.fixture
async def serve(
    settings_factory: Callable[..., Settings], tmp_path: Path, encoder: Encoder
) -> AsyncIterator[Callable[..., object]]:
    """``await serve(host=…, **settings)`` → a running server; stopped afterwards."""
    runners: list[web.AppRunner] = []

    async def start(host: str = "127.0.0.1", **overrides: object) -> Server:
        settings = settings_factory(
            database_url=f"sqlite+aiosqlite:///{tmp_path / f'edge-{len(runners)}.db'}",
            request_header_timeout_s=HEADER_TIMEOUT_S,
            request_body_timeout_s=BODY_TIMEOUT_S,
            channels={
                "webhook": {"tokens": [HOOK], "committee": "puxiong"},
                "wechat_mp": {"plain": {"token": "t", "committee": "puxiong"}},
            },
            **overrides,
        )
        runner = web.AppRunner(
            await build_app(settings, encoder=encoder),
            access_log=None,
            **server_options(settings),
        )
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, host, 0).start()
        return Server(host, int(runner.addresses[0][1]))

    yield start  # type: ignore[misc]
    for runner in reversed(runners):
        await runner.cleanup()


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    data = b""
    try:
        while chunk := await reader.read(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


async def _trickle(server: Server, head: bytes, drip: bytes) -> tuple[bytes, float]:
    """Send ``head`` then one byte of ``drip`` every 0.2 s (for at most TRICKLE_S) until
    the server closes the connection; what it answered and how long the client kept going."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    started = time.monotonic()
    answer = asyncio.create_task(_read_until_closed(reader))
    try:
        writer.write(head)
        await writer.drain()
        for i in range(int(TRICKLE_S / 0.2)):
            if answer.done():
                break
            writer.write(drip[i % len(drip) : i % len(drip) + 1])
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.2)
        data = await asyncio.wait_for(answer, 10)
        return data, time.monotonic() - started
    finally:
        answer.cancel()
        writer.close()


async def test_slow_headers_are_cut_off(serve: Callable[..., object]) -> None:
    server = await serve()  # type: ignore[misc]
    head = b"POST /api/v1/messages HTTP/1.1\r\nHost: linli\r\n"
    data, kept = await _trickle(server, head, b"X-Slow-Header-Never-Ending: aaaaaaaaaa")
    assert data == b""  # closed without an answer: the request never started
    assert kept < TRICKLE_S / 2


async def test_an_idle_connection_is_closed(serve: Callable[..., object]) -> None:
    server = await serve()  # type: ignore[misc]
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        data = await asyncio.wait_for(_read_until_closed(reader), TRICKLE_S / 2)
    finally:
        writer.close()
    assert data == b""


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/messages", f"Authorization: Bearer {HOOK}\r\nContent-Type: application/json"),
        ("/wechat/mp/plain", "Content-Type: text/xml"),
        ("/try/messages", "Content-Type: application/json"),
        ("/api/v1/faqs", "Authorization: Bearer not-a-token\r\nContent-Type: application/json"),
    ],
)
async def test_slow_bodies_get_408_and_a_closed_connection(
    serve: Callable[..., object], path: str, headers: str
) -> None:
    server = await serve()  # type: ignore[misc]
    head = (
        f"POST {path} HTTP/1.1\r\nHost: linli\r\n{headers}\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    data, kept = await _trickle(server, head + b'{"text": "', b"a")
    assert kept < TRICKLE_S / 2
    # 408 when the handler was reading the body; a handler that refuses before reading
    # (the admin API without a valid token: 401) answers at once, and the connection closes.
    expected = b"HTTP/1.1 401 " if path == "/api/v1/faqs" else b"HTTP/1.1 408 "
    assert data.startswith(expected), data[:300]
    if expected.endswith(b"408 "):
        assert b"not received within" in data


async def test_a_slow_console_form_gets_408(serve: Callable[..., object]) -> None:
    """A console form with a valid session and CSRF token whose body trickles in."""
    server = await serve()  # type: ignore[misc]
    base = f"http://{server.host}:{server.port}"
    # unsafe: keep the cookies of an IP-address host
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page = await (await http.get(f"{base}/console/login")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None, page[:500]
        cookies = "; ".join(
            f"{k}={m.value}" for k, m in http.cookie_jar.filter_cookies(URL(base)).items()
        )
    head = (
        "POST /console/login HTTP/1.1\r\nHost: linli\r\n"
        f"Cookie: {cookies}\r\nX-CSRF-Token: {token[1]}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    data, kept = await _trickle(server, head + b"username=", b"a")
    assert kept < TRICKLE_S / 2
    assert data.startswith(b"HTTP/1.1 408 "), data[:300]


async def test_a_complete_request_is_still_answered(serve: Callable[..., object]) -> None:
    server = await serve()  # type: ignore[misc]
    body = json.dumps({"text": "你好"}, ensure_ascii=False).encode()
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"http://{server.host}:{server.port}/try/messages",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["replies"]


# --- /metrics -------------------------------------------------------------------------------
async def test_metrics_without_a_token_are_for_loopback_clients_only(
    serve: Callable[..., object],
) -> None:
    server = await serve(host="0.0.0.0")  # type: ignore[misc]
    async with aiohttp.ClientSession() as http:
        local = await http.get(f"http://127.0.0.1:{server.port}/metrics")
        assert local.status == 200
        assert "linli_http_requests" in await local.text()
        proxied = await http.get(
            f"http://127.0.0.1:{server.port}/metrics", headers={"X-Forwarded-For": "1.2.3.4"}
        )
        assert proxied.status == 403
        remote = await http.get(f"http://{outward_address()}:{server.port}/metrics")
        assert remote.status == 403
        assert "loopback" in await remote.text()


async def test_metrics_with_a_token_need_it(serve: Callable[..., object]) -> None:
    server = await serve(host="0.0.0.0", metrics_token="scrape-secret")  # type: ignore[misc]
    url = f"http://{outward_address()}:{server.port}/metrics"
    async with aiohttp.ClientSession() as http:
        assert (await http.get(url)).status == 401
        wrong = await http.get(url, headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        local = await http.get(f"http://127.0.0.1:{server.port}/metrics")
        assert local.status == 401  # with a token, loopback needs it too
        right = await http.get(url, headers={"Authorization": "Bearer scrape-secret"})
        assert right.status == 200
        assert "linli_http_requests" in await right.text()


def test_the_shipped_nginx_does_not_proxy_metrics() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    block = conf[conf.index("location = /metrics") :]
    block = block[: block.index("}")]
    assert "return 404;" in block
    assert "proxy_pass" not in block

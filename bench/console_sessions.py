"""Console session ends and login throttling, measured over real HTTP on the real stores
(SQLite + in-process state by default; ``--database-url`` / ``--redis-url`` for PostgreSQL and
Redis).

1. **Streams end with their session.** ``--users`` caseworkers each open ``/console/events``;
   each then logs out from another request. Measured: from the logout's response to the end of
   that user's stream. Target (issue #11): within a couple of seconds (the re-check interval,
   ``console_stream_check_s``, default 2 s).
2. **Nobody can lock a caseworker out.** An attacker guesses a caseworker's password as fast as
   the throttle lets it, from one address and from ``--attacker-ips`` rotating addresses (both
   through a trusted proxy), for ``--attack-s`` seconds, while the caseworker logs in with the
   right password from their own address every second. Measured: the attacker's guesses that
   reached the password check, and the caseworker's longest wait for a successful login
   (bounded by ``--backoff-max-s``, the ``login_backoff_max_s`` setting; 60 s in production,
   shorter here so the run is short).

Run: ``.venv/bin/python bench/console_sessions.py [--users 20] [--attack-s 20] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web

from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse 1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, base: str, ip: str) -> None:
        self.base = base
        self.ip = ip
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
        )

    async def csrf(self, path: str = "/console/login") -> str:
        async with self.http.get(self.base + path, allow_redirects=False) as r:
            match = CSRF_RE.search(await r.text())
        assert match, path
        return match.group(1)

    async def login(self, name: str, password: str = PASSWORD) -> tuple[int, float]:
        """The status and the Retry-After (0 if none)."""
        token = await self.csrf()
        async with self.http.post(
            self.base + "/console/login",
            data={"username": name, "password": password, "csrf_token": token},
            headers={"X-Forwarded-For": self.ip},
            allow_redirects=False,
        ) as r:
            await r.read()
            return r.status, float(r.headers.get("Retry-After", "0"))

    async def logout(self) -> None:
        # Any console page carries the session's token (the header's logout form); a 404
        # page needs nothing but the session.
        token = await self.csrf("/console/no-such-page")
        async with self.http.post(
            self.base + "/console/logout", data={"csrf_token": token}, allow_redirects=False
        ) as r:
            assert r.status == 303, r.status

    async def close(self) -> None:
        await self.http.close()


async def stream_ends(base: str, users: int) -> list[float]:
    """Seconds from each logout's response to the end of that user's event stream."""
    browsers = [Browser(base, f"198.51.100.{i + 1}") for i in range(users)]
    try:
        for i, b in enumerate(browsers):
            assert (await b.login(f"worker{i}"))[0] == 303
        streams = [await b.http.get(base + "/console/events") for b in browsers]
        for s in streams:
            assert s.status == 200
            await s.content.readline()  # the "ready" event has begun
        ends: list[float] = []

        async def one(b: Browser, s: aiohttp.ClientResponse) -> None:
            await b.logout()
            out = time.perf_counter()
            await asyncio.wait_for(s.content.read(), 30)
            ends.append(time.perf_counter() - out)

        await asyncio.gather(*(one(b, s) for b, s in zip(browsers, streams, strict=True)))
        return ends
    finally:
        for b in browsers:
            await b.close()


async def attack(base: str, seconds: float, attacker_ips: int, victim: str) -> dict[str, Any]:
    attackers = [Browser(base, f"203.0.113.{i + 1}") for i in range(attacker_ips)]
    caseworker = Browser(base, "198.51.100.200")
    stop = time.perf_counter() + seconds
    checked = refused_wait = refused_locked = 0
    waits: list[float] = []

    async def guesser(b: Browser) -> None:
        nonlocal checked, refused_wait, refused_locked
        while time.perf_counter() < stop:
            status, retry = await b.login(victim, "wrong guess")
            if status == 401:
                checked += 1
            elif retry >= 60:
                refused_locked += 1  # this address is locked: give it up
                return
            else:
                refused_wait += 1
                await asyncio.sleep(0.05)

    async def rightful() -> None:
        while time.perf_counter() < stop:
            began = time.perf_counter()
            while True:
                status, _ = await caseworker.login(victim)
                if status == 303:
                    break
                await asyncio.sleep(0.1)
            waits.append(time.perf_counter() - began)
            caseworker.http.cookie_jar.clear()
            await asyncio.sleep(1.0)

    try:
        await asyncio.gather(rightful(), *(guesser(b) for b in attackers))
    finally:
        for b in (*attackers, caseworker):
            await b.close()
    return {
        "attacker_addresses": attacker_ips,
        "guesses_checked": checked,
        "guesses_per_minute": round(checked * 60 / seconds, 1),
        "refused_backoff": refused_wait,
        "addresses_locked": refused_locked,
        "caseworker_logins": len(waits),
        "caseworker_wait_s": {
            "p50": round(statistics.median(waits), 2) if waits else None,
            "max": round(max(waits), 2) if waits else None,
        },
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            data_dir=Path(tmp),
            knowledge_dir=ROOT / "knowledge",
            database_url=args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            redis_url=args.redis_url,
            log_json=False,
            trusted_proxies=["127.0.0.1"],
            login_backoff_max_s=args.backoff_max_s,
            console_stream_check_s=args.check_s,
        )
        # The whole application with the production Argon2 parameters; the event stream and
        # the login need no NLU model and no FAQ index.
        app = await build_app(settings, load_models=False)
        runner = web.AppRunner(app)
        await runner.setup()  # the stores are migrated and connected here
        try:
            accounts = app[ACCOUNTS]
            run_id = time.time_ns() % 10**6
            names = [f"worker{i}" for i in range(args.users)]
            for name in names:
                await accounts.add_user(name, "caseworker", "puxiong", PASSWORD)
            victim = f"victim{run_id}"
            await accounts.add_user(victim, "caseworker", "puxiong", PASSWORD)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}"
            ends = await stream_ends(base, args.users)
            one_ip = await attack(base, args.attack_s, 1, victim)
            many_ips = await attack(base, args.attack_s, args.attacker_ips, victim)
        finally:
            await runner.cleanup()  # closes the stores
    return {
        "database": settings.effective_database_url.split(":", 1)[0],
        "state": "redis" if settings.redis_url else "memory",
        "stream_check_s": args.check_s,
        "logout_to_stream_end_s": {
            "n": len(ends),
            "p50": round(statistics.median(ends), 2),
            "max": round(max(ends), 2),
        },
        "backoff_max_s": args.backoff_max_s,
        "attack_s": args.attack_s,
        "attack_one_address": one_ip,
        "attack_rotating_addresses": many_ips,
    }


def main() -> None:
    logging.getLogger("bot").setLevel(logging.ERROR)  # refusals are this run's normal case
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--check-s", type=float, default=2.0, help="console_stream_check_s")
    ap.add_argument("--attack-s", type=float, default=20.0)
    ap.add_argument("--attacker-ips", type=int, default=30)
    ap.add_argument("--backoff-max-s", type=float, default=5.0, help="login_backoff_max_s")
    ap.add_argument("--database-url", default="")
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))


if __name__ == "__main__":
    main()

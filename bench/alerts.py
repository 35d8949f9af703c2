"""Staff alert latency: from ``StaffAlerts.raise_alert`` being called to the alert arriving at
a local stand-in for the WeCom group-robot API, and until ``raise_alert`` returns (the reply
waits for that), on the real stores (SQLite by default, PostgreSQL with ``--database-url``).

Each alert is a new inbound message (recorded, then sent). WeCom's 20-messages-a-minute limit
per robot is lifted here (``group_robot_per_minute``) so that the figure is Linli's own time,
not the platform's quota. Target (issue #10): staff alert sent < 1 s after receipt, p99.

Run: ``.venv/bin/python bench/alerts.py [--n 200] [--database-url postgresql+asyncpg://…]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

from bot.alerts import StaffAlerts
from bot.app import load_registry
from bot.background import BackgroundTasks
from bot.channels.outbound import OutboundSender
from bot.settings import load_settings
from bot.storage.sql import Database, SqlAlertStore, SqlTicketStore
from bot.storage.state_memory import MemoryStateStore
from bot.tickets import Tickets

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(n: int, database_url: str) -> dict[str, Any]:
    arrivals: dict[str, float] = {}

    async def robot(request: web.Request) -> web.Response:
        body = await request.json()
        marker = body["text"]["content"].split("#", 1)[1].split("）", 1)[0]
        arrivals.setdefault(marker, time.perf_counter())
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    stand_in = web.Application()
    stand_in.router.add_post("/cgi-bin/webhook/send", robot)
    runner = web.AppRunner(stand_in)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            data_dir=Path(tmp),
            knowledge_dir=ROOT / "knowledge",
            database_url=database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            wecom_api_base=f"http://127.0.0.1:{port}",
            group_robot_per_minute=100_000,
            committees={
                "puxiong": {
                    "staff_robot_key": "bench",
                    "duty_phone": "021-0000-0000",
                    "rota": {"shifts": [{"name": "值班", "mobile": "13800000000"}]},
                }
            },
        )
        db = Database.connect(settings.effective_database_url, pgbouncer=settings.db_pgbouncer)
        await db.migrate()
        http = aiohttp.ClientSession()
        tasks = BackgroundTasks()
        registry = load_registry(settings)
        tickets = Tickets.build(SqlTicketStore(db), registry)
        alerts = StaffAlerts(
            SqlAlertStore(db),
            settings,
            OutboundSender(http, MemoryStateStore(), settings),
            tickets.queries,
            tickets.workflow,
            registry,
            tasks=tasks,
        )
        returned: list[float] = []
        starts: dict[str, float] = {}
        outcomes: dict[str, int] = {}
        run_id = time.time_ns()
        try:
            for i in range(n):
                started = time.perf_counter()
                result = await alerts.raise_alert(
                    committee="puxiong",
                    source_key=f"bench:{run_id}:{i}",
                    kind="crisis",
                    category="self_harm",
                    text="【紧急·自伤风险】普陀一村：居民说不想活了。请值班社工立即处置。",
                )
                returned.append((time.perf_counter() - started) * 1000)
                outcomes[result.delivery.value] = outcomes.get(result.delivery.value, 0) + 1
                starts[str(result.alert_id)] = started
            await tasks.drain(30.0)  # sends still in flight (answered "queued")
        finally:
            await http.close()
            await db.close()
            await runner.cleanup()

    delivered = [(arrivals[k] - t) * 1000 for k, t in starts.items() if k in arrivals]

    def summary(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {
            "p50": round(statistics.median(values), 1),
            "p99": round(percentile(values, 0.99), 1),
            "max": round(max(values), 1),
        }

    return {
        "n": n,
        "database": settings.effective_database_url.split(":", 1)[0],
        "outcomes": outcomes,
        "delivered": len(delivered),
        "receipt_to_robot_ms": summary(delivered),
        "raise_returns_ms": summary(returned),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = asyncio.run(run(args.n, args.database_url))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    robot, back = result["receipt_to_robot_ms"], result["raise_returns_ms"]
    print(f"{result['n']} alerts on {result['database']}: {result['outcomes']}")
    print(
        f"raise → robot received: p50 {robot['p50']} ms, p99 {robot['p99']} ms, "
        f"max {robot['max']} ms (delivered {result['delivered']})"
    )
    print(f"raise → returned (the reply waits this): p50 {back['p50']} ms, p99 {back['p99']} ms")


if __name__ == "__main__":
    main()

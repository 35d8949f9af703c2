"""Channel intake throughput on one core: verify + decrypt + parse + dedup (Ingress over the
in-process state store) + encrypt the passive reply, per message.

The pipeline's own work is excluded: the handler answers a fixed Chinese reply and the
conversation log is an in-memory list (the SQL log is measured by the storage benchmarks).
Messages are processed one after another on one event loop, so the figures are for one core.

Run: ``.venv/bin/python bench/ingest.py [--n 5000]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Collection, Sequence
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.background import BackgroundTasks
from bot.channels.crypto import MessageCrypto, sha1_signature
from bot.channels.ingress import Ingress
from bot.channels.protocol import ChannelContext
from bot.channels.wechat_mp import WeChatMpChannel
from bot.channels.wecom_bot import WeComBotChannel
from bot.domain import IncomingMessage, Reply, ReplyKind
from bot.domain.once import DeliveryReport
from bot.settings import load_settings
from bot.storage.conversations import Conversation
from bot.storage.messages import (
    DeliveryCount,
    InboundRecord,
    InboundStatus,
    Intake,
    LoggedMessage,
    MessageLog,
    OutcomeCount,
    PendingLate,
    Unfinished,
)
from bot.storage.state_memory import MemoryStateStore

MP_TOKEN, MP_KEY, MP_APPID = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxbench01"
WC_TOKEN, WC_KEY = "benchtoken", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
REPLY = Reply("湿垃圾每天早上7:00—9:00、傍晚18:00—20:00投放，请破袋后投入湿垃圾桶。", ReplyKind.FAQ)


class ListLog(MessageLog):
    def __init__(self) -> None:
        self.rows = 0

    async def claim_inbound(
        self,
        msg: IncomingMessage,
        *,
        fence: int,
        lease_s: float,
        reply_to: str = "",
        read_conversation: bool = False,
    ) -> InboundStatus:
        self.rows += 1
        return InboundStatus(Intake.NEW)

    async def renew_inbound(self, msg: IncomingMessage, fence: int, lease_s: float) -> bool:
        return True

    async def release_inbound(self, msg: IncomingMessage, fence: int) -> None:
        return None

    async def inbound_status(self, msg: IncomingMessage) -> InboundStatus | None:
        return None

    async def unfinished(self, limit: int = 50) -> list[Unfinished]:
        return []

    async def record_outbound(
        self,
        msg: IncomingMessage,
        replies: list[Reply],
        delivery: str,
        *,
        fence: int | None = None,
        result: str | None = None,
    ) -> bool:
        self.rows += len(replies)
        return True

    async def record_proactive(
        self,
        to: Conversation,
        text: str,
        *,
        kind: str,
        direction: str,
        sender_name: str,
        delivery: str,
        error_code: int | None = None,
        error: str = "",
    ) -> int:
        self.rows += 1
        return self.rows

    async def record_answer(
        self,
        msg: IncomingMessage,
        replies: list[Reply],
        delivery: str,
        *,
        fence: int,
        result: str,
        conversation: Conversation,
        conversation_fence: int,
    ) -> bool:
        self.rows += len(replies)
        return True

    async def record_late_delivery(self, msg: IncomingMessage, report: DeliveryReport) -> int:
        return 0

    async def renew_late(self, msg: IncomingMessage) -> bool:
        return False

    async def take_late(self, lease_s: float, limit: int = 50) -> list[PendingLate]:
        return []

    async def since(self, conversation_key: str, after_id: int) -> list[LoggedMessage]:
        return []

    async def conversation(self, conversation_key: str, limit: int = 200) -> list[LoggedMessage]:
        return []

    # The console's readers: intake never calls them, and this sink keeps no rows to read.
    async def record_outcome(self, msg: IncomingMessage, outcome: str) -> None:
        return None

    async def recent_inbound(
        self,
        committee: str,
        *,
        limit: int = 500,
        outcomes: Collection[str] | None = None,
        include_reviewed: bool = True,
    ) -> list[InboundRecord]:
        return []

    async def mark_reviewed(self, committee: str, message_ids: Sequence[int]) -> int:
        return 0

    async def outcome_counts(
        self, start: date, end: date, committee: str | None = None
    ) -> list[OutcomeCount]:
        return []

    async def message(self, message_id: int) -> LoggedMessage | None:
        return None

    async def hold_for_retry(self, conversation_key: str, message_id: int) -> bool:
        return False

    async def record_delivery(self, message_id: int, report: DeliveryReport) -> None:
        return None

    async def delivery_counts(
        self, start: date, end: date, committee: str | None = None
    ) -> list[DeliveryCount]:
        return []


async def answer(msg: IncomingMessage) -> list[Reply]:
    return [REPLY]


Request = tuple[dict[str, str], bytes]


def mp_requests(n: int, now: int, safe: bool) -> list[Request]:
    crypto = MessageCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    out: list[Request] = []
    for i in range(n):
        xml = (
            "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
            f"<FromUserName><![CDATA[oBench{i % 500:06d}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[湿垃圾几点可以扔？]]></Content>"
            f"<MsgId>{7000000000000000000 + i}</MsgId></xml>"
        )
        ts, nonce = str(now), str(100000 + i)
        query = {"signature": sha1_signature(MP_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
        if not safe:
            out.append((query, xml.encode()))
            continue
        encrypted = crypto.encrypt(xml)
        query.update(encrypt_type="aes", msg_signature=crypto.signature(ts, nonce, encrypted))
        body = (
            "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        out.append((query, body.encode()))
    return out


def wecom_requests(n: int, now: int) -> list[Request]:
    crypto = MessageCrypto(WC_TOKEN, WC_KEY, "")
    out: list[Request] = []
    for i in range(n):
        payload = {
            "msgid": f"bench-{i}",
            "aibotid": "AIBOT",
            "chatid": "g-putuoyicun",
            "chattype": "group",
            "from": {"userid": f"user{i % 500}"},
            "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=X",
            "msgtype": "text",
            "text": {"content": "@邻里 湿垃圾几点可以扔？"},
        }
        encrypted = crypto.encrypt(json.dumps(payload, ensure_ascii=False))
        ts, nonce = str(now), str(100000 + i)
        query = {
            "msg_signature": crypto.signature(ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }
        out.append((query, json.dumps({"encrypt": encrypted}).encode()))
    return out


async def run(
    name: str, channel: WeChatMpChannel | WeComBotChannel, requests: list[Request]
) -> None:
    async def handle(query: dict[str, str], body: bytes) -> int:
        resp = await channel.handle("bench", query, body)
        if not resp.body or resp.body == "success":
            raise SystemExit(f"{name}: no passive reply")
        return resp.status

    for query, body in requests[:200]:  # warm-up (distinct ids: the rest are not duplicates)
        await handle(query, body)
    timed = requests[200:]
    latencies: list[float] = []
    gc.collect()
    started = time.perf_counter()
    for query, body in timed:
        t0 = time.perf_counter()
        status = await handle(query, body)
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"{name}: unexpected status {status}")
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"{name:<28} {len(timed) / elapsed:>9.0f} msg/s   p50 {p50:.3f} ms   p99 {p99:.3f} ms"
        f"   (n={len(timed)})"
    )


async def main(n: int) -> None:
    settings = load_settings(
        None,
        channels={
            "wechat_mp": {
                "bench": {
                    "token": MP_TOKEN,
                    "encoding_aes_key": MP_KEY,
                    "app_id": MP_APPID,
                    "committee": "puxiong",
                    # Compatible mode (兼容模式) accepts both, so one account measures both.
                    "compatible_mode": True,
                }
            },
            "wecom_bot": {
                "bench": {"token": WC_TOKEN, "encoding_aes_key": WC_KEY, "committee": "puxiong"}
            },
        },
    )
    now = int(time.time())
    print(f"channel intake, one event loop (one core), {n} messages per case")
    cases: list[tuple[str, Callable[[], list[Request]]]] = [
        ("wechat_mp safe mode (AES)", lambda: mp_requests(n + 200, now, True)),
        ("wechat_mp plain mode", lambda: mp_requests(n + 200, now, False)),
        ("wecom_bot JSON (AES)", lambda: wecom_requests(n + 200, now)),
    ]
    for label, make in cases:
        tasks = BackgroundTasks()
        ingress = Ingress(
            answer, MemoryStateStore(), ListLog(), tasks, lease_s=60, dedup_ttl_s=3600
        )
        requests = make()
        ctx = ChannelContext(settings, ingress, None, tasks=tasks)
        channel: WeChatMpChannel | WeComBotChannel = (
            WeComBotChannel(ctx) if label.startswith("wecom") else WeChatMpChannel(ctx)
        )
        await run(label, channel, requests)
        await tasks.drain(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=5000, help="messages per case")
    asyncio.run(main(parser.parse_args().n))

"""Stats, unanswered questions, the registry and users through the admin API with real API
tokens: figures of a known scenario per committee and for the street, committee scoping,
roles (403) and validation."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from bot import appkeys
from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender
from bot.domain.tickets import Actor, Reporter, TicketCategory, TicketDraft
from bot.encoders import Encoder
from bot.settings import Settings

Client = TestClient[web.Request, web.Application]
HOOK = "hook-token"
ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["embedded"], indirect=True)
PASSWORD = "Str0ng-pass-123"
BARBECUE = ["楼下能烧烤吗", "小区里可以烧烤吗", "小区楼下可以烧烤不"]


class Api:
    def __init__(self, client: Client, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    async def call(self, method: str, path: str, who: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()

    async def say(self, sender: str, text: str) -> str:
        body = {
            "message_id": f"{sender}-{time.monotonic_ns()}",
            "chat": {"id": f"p-{sender}", "type": "private"},
            "sender": {"id": sender, "name": "居民"},
            "text": text,
        }
        resp = await self.client.post(
            "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {HOOK}"}
        )
        assert resp.status == 200
        kinds: list[str] = [r["kind"] for r in (await resp.json())["replies"]]
        return kinds[0]


@pytest.fixture
async def api(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
    tmp_path: Path,
) -> Api:
    """Two committees (普雄路 from the sample, 江宁路 added), a caseworker and an admin of
    普雄路, and a street admin, each with an API token."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    with (knowledge / "registry.yaml").open("a", encoding="utf-8") as f:
        f.write(
            "  - id: jiangning\n    name: 江宁路居委会\n    ticket_prefix: JN\n    compounds:\n"
            "      - id: jiangningyuan\n        name: 江宁苑\n"
            "        group_chats: [g-jiangningyuan]\n"
        )
    settings = settings_factory(
        **backend,
        knowledge_dir=knowledge,
        handoff_around_the_clock=True,
        channels={"webhook": {"tokens": [HOOK], "committee": "puxiong"}},
    )
    app = await build_app(settings, encoder=encoder)
    accounts = app[ACCOUNTS]
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client: Client = await aiohttp_client(app)
    users = {
        "worker": ("caseworker", "puxiong"),
        "admin": ("admin", "puxiong"),
        "street": ("street_admin", None),
    }
    tokens = {}
    for name, (role, committee) in users.items():
        await accounts.add_user(name, role, committee, PASSWORD)
        tokens[name] = (await accounts.create_token(name, "test"))[0]
    return Api(client, tokens)


def _reporter(committee: str, sender: str) -> Reporter:
    msg = IncomingMessage(
        message_id="m",
        channel="webhook",
        account="default",
        committee=committee,
        chat=Chat(f"p-{sender}", ChatType.PRIVATE),
        sender=Sender(sender),
        text="",
    )
    return Reporter.from_message(msg)


async def _ticket(api: Api, committee: str, sender: str) -> str:
    draft = TicketDraft(
        committee=committee,
        category=TicketCategory.REPAIR,
        description="楼道灯坏了",
        reporter=_reporter(committee, sender),
    )
    return (await api.client.app[appkeys.TICKETS].intake.create(draft)).ticket.number


async def scenario(api: Api) -> None:
    """普雄路: an FAQ answer, a miss, a handoff; two tickets, one resolved and rated 满意.
    江宁路: one answered message, one open ticket."""
    assert await api.say("d1", "小区里能养鸡吗") == "faq"
    assert await api.say("d2", "明天会下雨吗") == "fallback"
    assert await api.say("d3", "我要找社工，转人工") == "handoff"
    tickets = api.client.app[appkeys.TICKETS]
    done = await _ticket(api, "puxiong", "d4")
    await _ticket(api, "puxiong", "d5")
    worker = Actor.caseworker("1", "王芳")
    await tickets.workflow.claim("puxiong", done, actor=worker)
    await tickets.workflow.resolve("puxiong", done, actor=worker, summary="已修好。")
    await tickets.satisfaction.rate(
        "puxiong", done, 1, actor=Actor.resident(_reporter("puxiong", "d4"))
    )
    log = api.client.app[appkeys.MESSAGE_LOG]
    msg = IncomingMessage(
        message_id="jn-1",
        channel="webhook",
        account="default",
        committee="jiangning",
        chat=Chat("p-j1", ChatType.PRIVATE),
        sender=Sender("j1"),
        text="居委会在哪",
    )
    await log.record_inbound(msg)
    await log.record_outbound(msg, [Reply("在江宁路", ReplyKind.FAQ)], "passive")
    await _ticket(api, "jiangning", "j2")


async def test_stats_of_a_committee_and_of_the_street(api: Api) -> None:
    await scenario(api)
    status, mine = await api.call("GET", "/api/v1/stats", "worker")
    assert status == 200
    assert mine["scope"] == "committee"
    assert mine["committee"] == "puxiong"
    assert len(mine["messages"]["days"]) == 30
    total = mine["messages"]["total"]
    assert (total["received"], total["to_bot"], total["answered"], total["handed_over"]) == (
        3,
        3,
        1,
        1,
    )
    assert total["unanswered"] == 1
    assert total["answered_rate"] == pytest.approx(1 / 3)
    assert total["handoff_rate"] == pytest.approx(1 / 3)
    assert mine["messages"]["by_outcome"] == {"fallback": 1, "faq": 1, "handoff": 1}
    tickets = mine["tickets"]
    assert (tickets["opened"], tickets["resolved"]) == (2, 1)
    assert tickets["sla"]["first_response"] == {"good": 1, "total": 1, "rate": 1.0}
    assert tickets["sla"]["resolution"] == {"good": 1, "total": 1, "rate": 1.0}
    assert tickets["satisfaction"]["rate"] == 1.0
    assert tickets["satisfaction"]["ratings"] == {"1": 1, "2": 0, "3": 0}
    assert mine["committees"] == []
    # A committee's user always gets their own committee.
    _, same = await api.call("GET", "/api/v1/stats?committee=jiangning", "worker")
    assert same["committee"] == "puxiong"

    status, street = await api.call("GET", "/api/v1/stats", "street")
    assert status == 200
    assert street["scope"] == "street"
    assert street["committee"] == "all"
    assert street["messages"]["total"]["received"] == 4
    assert street["messages"]["total"]["answered_rate"] == 0.5
    assert street["messages"]["total"]["handoff_rate"] == 0.25
    assert street["tickets"]["opened"] == 3
    assert street["tickets"]["satisfaction"]["rate"] == 1.0
    per = {c["committee"]: c for c in street["committees"]}
    assert set(per) == {"puxiong", "jiangning"}
    assert per["jiangning"]["messages"]["total"]["answered"] == 1
    assert per["jiangning"]["tickets"]["opened"] == 1
    assert per["jiangning"]["tickets"]["satisfaction"]["rate"] is None
    assert per["puxiong"]["messages"]["total"] == total

    _, one = await api.call("GET", "/api/v1/stats?committee=jiangning", "street")
    assert (one["scope"], one["messages"]["total"]["received"]) == ("committee", 1)
    status, _ = await api.call("GET", "/api/v1/stats?committee=nowhere", "street")
    assert status == 404


@EMBEDDED_ONLY
async def test_stats_refuse_bad_dates(api: Api) -> None:
    status, err = await api.call("GET", "/api/v1/stats?start=2026-13-01", "worker")
    assert (status, err["error"]["code"]) == (400, "bad_date")
    assert "YYYY-MM-DD" in err["error"]["message"]
    status, err = await api.call("GET", "/api/v1/stats?start=2026-03-02&end=2026-03-01", "worker")
    assert (status, err["error"]["code"]) == (400, "bad_range")
    status, _ = await api.call("GET", "/api/v1/stats?start=2024-01-01&end=2026-01-01", "worker")
    assert status == 400
    status, old = await api.call("GET", "/api/v1/stats?start=2026-01-01&end=2026-01-03", "worker")
    assert status == 200
    assert [d["day"] for d in old["messages"]["days"]] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert old["messages"]["total"]["answered_rate"] is None
    for far in ("end=0001-01-05", "start=0001-01-01&end=0001-01-02", "end=9999-12-31"):
        status, err = await api.call("GET", f"/api/v1/stats?{far}", "worker")
        assert (status, err["error"]["code"]) == (400, "bad_date"), far


async def test_unanswered_questions_through_the_api(api: Api) -> None:
    for i, text in enumerate(BARBECUE):
        assert await api.say(f"b{i}", text) in {"fallback", "clarify"}
    status, data = await api.call("GET", "/api/v1/unanswered", "worker")
    assert status == 200
    assert data["committee"] == "puxiong"
    first = data["clusters"][0]
    assert sorted(m["text"] for m in first["messages"]) == sorted(BARBECUE)
    assert first["size"] == 3
    assert first["representative"] in BARBECUE
    status, err = await api.call(
        "POST", "/api/v1/unanswered/dismiss", "worker", json={"message_ids": first["message_ids"]}
    )
    assert status == 403
    assert "管理员" in err["error"]["message"]
    status, done = await api.call(
        "POST", "/api/v1/unanswered/dismiss", "admin", json={"message_ids": first["message_ids"]}
    )
    assert (status, done) == (200, {"dismissed": 3})
    _, after = await api.call("GET", "/api/v1/unanswered", "worker")
    assert after["clusters"] == []
    status, _ = await api.call("POST", "/api/v1/unanswered/dismiss", "admin", json={})
    assert status == 422
    status, _ = await api.call("GET", "/api/v1/unanswered", "street")
    assert status == 400  # a street admin names the committee
    status, _ = await api.call("GET", "/api/v1/unanswered?committee=nowhere", "street")
    assert status == 404


@EMBEDDED_ONLY
async def test_compounds_and_group_chats_per_committee_and_street(api: Api) -> None:
    status, mine = await api.call("GET", "/api/v1/compounds", "worker")
    assert status == 200
    names = {c["name"] for c in mine["compounds"]}
    assert names == {"燕宁苑", "普雄馨苑", "普陀一村", "西沙洪滨小区"}
    assert {c["committee"] for c in mine["compounds"]} == {"puxiong"}
    xinyuan = next(c for c in mine["compounds"] if c["id"] == "puxiongxinyuan")
    assert "馨苑" in xinyuan["aliases"]
    assert xinyuan["group_chats"] == ["g-puxiongxinyuan"]

    _, everything = await api.call("GET", "/api/v1/compounds", "street")
    assert "江宁苑" in {c["name"] for c in everything["compounds"]}
    _, one = await api.call("GET", "/api/v1/compounds?committee=jiangning", "street")
    assert [c["name"] for c in one["compounds"]] == ["江宁苑"]

    _, chats = await api.call("GET", "/api/v1/group-chats", "worker")
    assert {"chat_id": "g-yanningyuan", "committee": "puxiong", "compound": "yanningyuan",
            "compound_name": "燕宁苑"} in chats["group_chats"]  # fmt: skip
    assert "g-jiangningyuan" not in {c["chat_id"] for c in chats["group_chats"]}
    _, street_chats = await api.call("GET", "/api/v1/group-chats?committee=all", "street")
    assert "g-jiangningyuan" in {c["chat_id"] for c in street_chats["group_chats"]}


async def test_users_are_listed_and_created_by_admins_only(api: Api) -> None:
    status, err = await api.call("GET", "/api/v1/users", "worker")
    assert status == 403
    assert err["error"]["code"] == "forbidden"
    new = {"name": "lina", "display_name": "李娜", "password": PASSWORD}
    status, _ = await api.call("POST", "/api/v1/users", "worker", json=new)
    assert status == 403

    status, created = await api.call("POST", "/api/v1/users", "admin", json=new)
    assert status == 201
    assert created["committee"] == "puxiong"
    assert created["role"] == "caseworker"
    assert created["display_name"] == "李娜"
    assert "password" not in json.dumps(created)
    status, err = await api.call("POST", "/api/v1/users", "admin", json=new)
    assert (status, err["error"]["code"]) == (409, "user_exists")
    for bad, code in (
        ({**new, "name": "x2", "committee": "jiangning"}, 403),
        ({**new, "name": "x3", "role": "street_admin"}, 403),
        ({**new, "name": "x4", "password": "short"}, 422),
        ({**new, "name": "x5", "password": "        "}, 422),
        ({**new, "name": "x 6"}, 422),
    ):
        status, err = await api.call("POST", "/api/v1/users", "admin", json=bad)
        assert status == code, bad
        assert err["error"]["message"]

    status, listed = await api.call("GET", "/api/v1/users", "admin")
    assert status == 200
    assert [u["name"] for u in listed["users"]] == ["admin", "lina", "worker"]
    assert "password" not in json.dumps(listed)

    status, other = await api.call(
        "POST",
        "/api/v1/users",
        "street",
        json={"name": "jnadmin", "role": "admin", "committee": "jiangning", "password": PASSWORD},
    )
    assert (status, other["committee"]) == (201, "jiangning")
    status, err = await api.call(
        "POST", "/api/v1/users", "street", json={"name": "nobody", "password": PASSWORD}
    )
    assert status == 422
    assert "居委会" in err["error"]["message"]
    _, everyone = await api.call("GET", "/api/v1/users", "street")
    assert {u["name"] for u in everyone["users"]} == {
        "admin",
        "jnadmin",
        "lina",
        "street",
        "worker",
    }
    _, theirs = await api.call("GET", "/api/v1/users?committee=jiangning", "street")
    assert [u["name"] for u in theirs["users"]] == ["jnadmin"]
    _, still_mine = await api.call("GET", "/api/v1/users?committee=jiangning", "admin")
    assert "jnadmin" not in {u["name"] for u in still_mine["users"]}

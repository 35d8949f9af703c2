"""The admin API's FAQ endpoints through the real application and real API tokens: CRUD,
history and revert, the bot answering from a change at once, roles (403), committee
scoping (404) and validation (422)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot import appkeys
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings

Client = TestClient[web.Request, web.Application]
HOOK = "hook-token"
EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["embedded"], indirect=True)

ENTRY: dict[str, Any] = {
    "id": "library-weekend",
    "topic": "community",
    "question": "社区图书角周末开放吗？",
    "alternates": ["图书角周六周日开门吗", "社区图书室周末能借书吗"],
    "answer": "社区图书角周六上午9点到11点开放，可凭身份证借书。",
    "materials": ["身份证"],
    "variants": {"燕宁苑": {"answer": "燕宁苑的图书角在会所二楼，周末全天开放。"}},
}


class Api:
    def __init__(self, client: Client, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    async def call(
        self, method: str, path: str, who: str = "admin", **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()

    async def ask(self, text: str, chat: str = "g-putuoyicun") -> str:
        body = {
            "message_id": f"m-{time.monotonic_ns()}",
            "chat": {"id": chat, "type": "group"},
            "sender": {"id": "r1", "name": "居民"},
            "text": text,
            "mentioned": True,
        }
        resp = await self.client.post(
            "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {HOOK}"}
        )
        assert resp.status == 200
        return "\n".join(r["text"] for r in (await resp.json())["replies"])


@pytest.fixture
async def api(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
) -> Api:
    settings = settings_factory(
        **backend, channels={"webhook": {"tokens": [HOOK], "committee": "puxiong"}}
    )
    app = await build_app(settings, encoder=encoder)
    client: Client = await aiohttp_client(app)
    accounts = app[ACCOUNTS]
    users = {
        "admin": ("lizhuren", "admin", "puxiong"),
        "caseworker": ("wangfang", "caseworker", "puxiong"),
        "street": ("jiedao", "street_admin", None),
    }
    tokens = {}
    for who, (name, role, committee) in users.items():
        await accounts.add_user(name, role, committee, "Str0ng-pass-123", f"{name}显示名")
        tokens[who] = (await accounts.create_token(name, "test"))[0]
    return Api(client, tokens)


async def test_create_edit_history_revert_and_delete(api: Api) -> None:
    status, created = await api.call("POST", "/api/v1/faqs", json=ENTRY)
    assert status == 201, created
    assert created["id"] == "library-weekend"
    assert created["state"] == "active"
    assert created["variants"] == {
        "yanningyuan": {"answer": "燕宁苑的图书角在会所二楼，周末全天开放。", "materials": []}
    }
    assert created["updated"]
    assert ENTRY["answer"] in await api.ask("社区图书角周末开放吗")
    assert "会所二楼" in await api.ask("社区图书角周末开放吗", chat="g-yanningyuan")

    changed = {k: v for k, v in ENTRY.items() if k != "id"} | {"answer": "周六周日都开放。"}
    status, updated = await api.call("PUT", "/api/v1/faqs/library-weekend", json=changed)
    assert status == 200, updated
    assert updated["answer"] == "周六周日都开放。"
    assert "周六周日都开放。" in await api.ask("社区图书角周末开放吗")

    status, history = await api.call("GET", "/api/v1/faqs/library-weekend/history")
    assert status == 200
    revisions = history["revisions"]
    assert [r["action"] for r in revisions] == ["create", "update"]
    assert revisions[1]["actor"] == "lizhuren显示名（lizhuren）"
    assert {"field": "answer", "before": ENTRY["answer"], "after": "周六周日都开放。"} in revisions[
        1
    ]["changes"]

    status, reverted = await api.call(
        "POST", "/api/v1/faqs/library-weekend/revert", json={"revision": revisions[0]["id"]}
    )
    assert status == 200, reverted
    assert reverted["answer"] == ENTRY["answer"]
    assert ENTRY["answer"] in await api.ask("社区图书角周末开放吗")

    status, gone = await api.call("DELETE", "/api/v1/faqs/library-weekend")
    assert status == 200
    assert gone["deleted"] is True
    assert (await api.call("GET", "/api/v1/faqs/library-weekend"))[0] == 404
    assert (await api.call("DELETE", "/api/v1/faqs/library-weekend"))[0] == 404
    assert ENTRY["answer"] not in await api.ask("社区图书角周末开放吗")
    status, history = await api.call("GET", "/api/v1/faqs/library-weekend/history")
    assert [r["action"] for r in history["revisions"]] == ["create", "update", "revert", "delete"]
    deletion = history["revisions"][-1]["id"]
    status, refused = await api.call(
        "POST", "/api/v1/faqs/library-weekend/revert", json={"revision": deletion}
    )
    assert status == 422
    assert "删除" in refused["error"]["message"]
    status, revived = await api.call(
        "POST", "/api/v1/faqs/library-weekend/revert", json={"revision": revisions[1]["id"]}
    )
    assert status == 200
    assert revived["answer"] == "周六周日都开放。"


@EMBEDDED_ONLY
async def test_list_filters_and_reading(api: Api) -> None:
    assert (await api.call("POST", "/api/v1/faqs", json=ENTRY))[0] == 201
    old = {**ENTRY, "id": "library-old", "question": "去年的图书角活动", "alternates": []}
    old |= {"valid_until": "2020-01-31", "variants": {}}
    assert (await api.call("POST", "/api/v1/faqs", json=old))[0] == 201

    status, listed = await api.call("GET", "/api/v1/faqs", who="caseworker")
    assert status == 200
    assert listed["count"] == len(listed["faqs"]) > 2  # the sample corpus too
    status, found = await api.call("GET", "/api/v1/faqs", params={"q": "图书室周末"})
    assert [f["id"] for f in found["faqs"]] == ["library-weekend"]
    status, expired = await api.call(
        "GET", "/api/v1/faqs", params={"state": "expired", "topic": "community"}
    )
    assert [f["id"] for f in expired["faqs"]] == ["library-old"]
    assert expired["faqs"][0]["state"] == "expired"
    assert (await api.call("GET", "/api/v1/faqs", params={"state": "soon"}))[0] == 422
    status, one = await api.call("GET", "/api/v1/faqs/library-weekend", who="caseworker")
    assert status == 200
    assert one["question"] == ENTRY["question"]

    status, scoped = await api.call(
        "GET", "/api/v1/faqs", who="street", params={"committee": "puxiong", "q": "图书角"}
    )
    assert status == 200
    assert {f["id"] for f in scoped["faqs"]} == {"library-weekend", "library-old"}
    assert (await api.call("GET", "/api/v1/faqs", who="street"))[0] == 400


@EMBEDDED_ONLY
async def test_roles_scoping_and_validation(api: Api) -> None:
    store = api.client.app[appkeys.FAQ_STORE]
    await store.upsert_many(
        "jiangning", [{"id": "jn-1", "question": "江宁的问题", "answer": "江宁的答案"}], "seed"
    )
    assert (await api.call("GET", "/api/v1/faqs/jn-1"))[0] == 404
    assert (await api.call("GET", "/api/v1/faqs/jn-1/history"))[0] == 404
    assert (await api.call("DELETE", "/api/v1/faqs/jn-1"))[0] == 404
    street = await api.call("GET", "/api/v1/faqs/jn-1", who="street", params={"committee": "x"})
    assert street[0] == 404
    assert (await store.get("jiangning", "jn-1")) is not None

    status, refused = await api.call("POST", "/api/v1/faqs", who="caseworker", json=ENTRY)
    assert status == 403
    assert refused["error"]["code"] == "forbidden"
    assert "管理员" in refused["error"]["message"]
    assert (await api.call("POST", "/api/v1/faqs", json=ENTRY))[0] == 201
    body = {k: v for k, v in ENTRY.items() if k != "id"}
    assert (await api.call("PUT", "/api/v1/faqs/library-weekend", "caseworker", json=body))[
        0
    ] == 403
    assert (await api.call("DELETE", "/api/v1/faqs/library-weekend", "caseworker"))[0] == 403

    status, dup = await api.call("POST", "/api/v1/faqs", json=ENTRY)
    assert status == 409
    assert "library-weekend" in dup["error"]["message"]

    cases = [
        ({**body, "question": ""}, "question"),
        ({**body, "valid_from": "2026-05-01", "valid_until": "2026-04-01"}, "失效日期"),
        ({**body, "variants": {"火星小区": {"answer": "x"}}}, "不属于本居委会"),
        ({**body, "compounds": ["putuoyicun"], "variants": {"燕宁苑": {"answer": "x"}}}, "不适用"),
        ({**body, "surprise": 1}, "surprise"),
    ]
    for bad, words in cases:
        status, error = await api.call("PUT", "/api/v1/faqs/library-weekend", json=bad)
        assert status == 422, bad
        assert error["error"]["code"] == "invalid"
        assert words in error["error"]["message"], error
    status, error = await api.call("POST", "/api/v1/faqs", json={**ENTRY, "id": "new"})
    assert status == 422
    status, generated = await api.call("POST", "/api/v1/faqs", json={**ENTRY, "id": ""})
    assert status == 201
    assert generated["id"].startswith("community-")
    assert (
        await api.call("POST", "/api/v1/faqs/library-weekend/revert", json={"revision": 999999})
    )[0] == 404
    bad_json = await api.client.put(
        "/api/v1/faqs/library-weekend",
        data="{",
        headers={"Authorization": f"Bearer {api.tokens['admin']}"},
    )
    assert bad_json.status == 400


@EMBEDDED_ONLY
async def test_proposed_phrasings_are_listed_and_accepted_through_the_api(api: Api) -> None:
    faqs = api.client.app[appkeys.FAQS]
    entry = next(e for e in await faqs.entries("puxiong") if e.question == "居委会能开证明吗？")
    proposal = await faqs.propose("puxiong", entry.id, "开个条子找哪个", "caseworker")
    assert proposal is not None
    path = f"/api/v1/faqs/{entry.id}/proposals"

    status, listed = await api.call("GET", path, who="caseworker")
    assert status == 200
    assert [(p["text"], p["count"], p["source"]) for p in listed["proposals"]] == [
        ("开个条子找哪个", 1, "caseworker")
    ]
    status, _ = await api.call(
        "POST", f"{path}/{proposal.id}", who="caseworker", json={"decision": "accept"}
    )
    assert status == 403
    status, accepted = await api.call("POST", f"{path}/{proposal.id}", json={"decision": "accept"})
    assert status == 200, accepted
    assert "开个条子找哪个" in accepted["alternates"]
    assert entry.answer[:20] in await api.ask("开个条子找哪个")
    status, _ = await api.call("POST", f"{path}/{proposal.id}", json={"decision": "dismiss"})
    assert status == 404
    assert (await api.call("GET", path))[1] == {"proposals": []}

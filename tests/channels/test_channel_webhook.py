"""The generic JSON webhook and the /try playground over real HTTP."""

from __future__ import annotations

from typing import Any

from channel_helpers import HOOK_TOKEN, Rig, RigFactory, json_body

from bot.domain import ChatType, Reply, ReplyKind, StoreUnavailable, TicketRef
from bot.storage.state_memory import MemoryStateStore

URL = "/api/v1/messages"
AUTH = {"Authorization": f"Bearer {HOOK_TOKEN}", "Content-Type": "application/json"}


def message(text: Any = "湿垃圾几点扔", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": "m1",
        "chat": {"id": "g-putuoyicun", "type": "group"},
        "sender": {"id": "u1", "name": "王阿姨"},
        "text": text,
        "mentioned": True,
    }
    body.update(overrides)
    return body


async def post(rig: Rig, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, str) else json_body(body)
    resp = await rig.client.post(
        URL, data=data.encode(), headers=AUTH if headers is None else headers
    )
    return resp.status, await resp.json()


async def test_a_message_gets_replies(rig: Rig) -> None:
    status, body = await post(rig, message())
    assert status == 200
    assert body == {"replies": [{"text": "收到：湿垃圾几点扔", "kind": "faq"}], "ticket": None}
    [msg] = rig.handler.calls
    assert (msg.channel, msg.account, msg.committee, msg.message_id) == (
        "webhook",
        "default",
        "puxiong",
        "m1",
    )
    assert (msg.chat.id, msg.chat.type, msg.sender.id, msg.sender.name, msg.mentioned) == (
        "g-putuoyicun",
        ChatType.GROUP,
        "u1",
        "王阿姨",
        True,
    )


async def test_missing_or_wrong_token_is_401_and_nothing_processed(rig: Rig) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": HOOK_TOKEN},
        {"Authorization": f"Basic {HOOK_TOKEN}"},
        {"Authorization": "Bearer "},
    ):
        status, body = await post(rig, message(), headers=headers)
        assert status == 401
        assert "token" in body["error"]
    assert rig.handler.calls == []
    assert await rig.logged() == 0


async def test_validation_errors_name_the_field(rig: Rig) -> None:
    cases: list[tuple[Any, str]] = [
        (message(chat={"id": "g1"}), "chat.type"),
        (message(chat={"id": "g1", "type": "channel"}), "chat.type"),
        (message(text=5), "text"),
        ({k: v for k, v in message().items() if k != "message_id"}, "message_id"),
        (message(sender={"name": "x"}), "sender.id"),
        (message(message_id=""), "message_id"),
        (message(text="长" * 20_001), "text"),
    ]
    for body, field in cases:
        status, answer = await post(rig, body)
        assert status == 400, body
        assert field in answer["error"]
        assert any(d["field"] == field for d in answer["details"])
    for raw in ("not json", "[1, 2]", "null"):
        status, answer = await post(rig, raw)
        assert status == 400
        assert answer["error"]
    assert rig.handler.calls == []


async def test_duplicate_message_id_returns_the_first_response(rig: Rig) -> None:
    rig.handler.extra = [
        Reply("已为您登记工单。", ReplyKind.TICKET, ticket=TicketRef("PX-0001", "open", "normal"))
    ]
    first = await post(rig, message("楼道灯坏了"))
    second = await post(rig, message("楼道灯坏了"))
    assert first[0] == second[0] == 200
    assert first[1]["replies"] == second[1]["replies"]
    assert (
        first[1]["ticket"]
        == second[1]["ticket"]
        == {"number": "PX-0001", "status": "open", "priority": "normal"}
    )
    assert second[1]["duplicate"] is True
    assert len(rig.handler.calls) == 1


async def test_mentioned_defaults_and_private_flag(rig: Rig) -> None:
    rig.handler.extra = [Reply("请留下联系电话。", ReplyKind.SLOT, private=True)]
    group = message(message_id="g")
    del group["mentioned"]
    await post(rig, group)
    private = message(message_id="p", chat={"id": "u1", "type": "private"})
    del private["mentioned"]
    status, body = await post(rig, private)
    assert status == 200
    assert [m.mentioned for m in rig.handler.calls] == [False, True]
    assert body["replies"][1] == {"text": "请留下联系电话。", "kind": "slot", "private": True}


async def test_edge_texts_reach_the_handler(rig: Rig) -> None:
    texts = ["", "  \n ", "🙂👍", "长" * 10_000]
    for i, text in enumerate(texts):
        status, body = await post(rig, message(text, message_id=f"e{i}"))
        assert status == 200
        assert body["replies"][0]["text"] == f"收到：{text}"
    assert [m.text for m in rig.handler.calls] == texts


async def test_slow_pipeline_gives_202_pending(make_rig: RigFactory) -> None:
    rig = await make_rig(delay=0.5, webhook_budget_s=0.1)
    status, body = await post(rig, message())
    assert status == 202
    assert body == {"replies": [], "ticket": None, "pending": True}


async def test_body_over_the_limit_is_413(rig: Rig) -> None:
    status, body = await post(rig, message("长" * 30_000))
    assert status == 413
    assert body["error"]


async def test_store_down_is_503(make_rig: RigFactory) -> None:
    class DownStore(MemoryStateStore):
        async def claim(self, key: str, lease_s: float) -> bool:
            raise StoreUnavailable("down")

    rig = await make_rig(state=DownStore())
    status, body = await post(rig, message())
    assert status == 503
    assert "retry" in body["error"]


async def test_try_playground_needs_no_token_and_uses_its_own_account(rig: Rig) -> None:
    resp = await rig.client.post("/try/api/messages", json={"text": "你好"})
    assert resp.status == 200
    assert (await resp.json())["replies"] == [{"text": "收到：你好", "kind": "faq"}]
    resp = await rig.client.post(
        "/try/api/messages",
        json={
            "text": "垃圾几点扔",
            "chat": {"id": "g-yanningyuan", "type": "group"},
            "mentioned": True,
        },
    )
    assert resp.status == 200
    first, second = rig.handler.calls
    assert (first.channel, first.account, first.chat.type) == ("webhook", "try", ChatType.PRIVATE)
    assert first.message_id != second.message_id
    assert (second.chat.id, second.chat.type) == ("g-yanningyuan", ChatType.GROUP)
    resp = await rig.client.post("/try/api/messages", json={"chat": {"id": "x"}})
    assert resp.status == 400
    assert "text" in (await resp.json())["error"]

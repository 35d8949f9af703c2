"""OutboundSender against a local server standing in for the Tencent APIs."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest
from aiohttp import ClientSession
from channel_helpers import MP_APPID, OPENID, ROBOT_KEY, Rig, RigFactory

from bot.channels.errors import OutboundError, PermanentOutboundError
from bot.channels.outbound import OutboundSender
from bot.channels.render import split_bytes, truncate_bytes
from bot.storage import keys

ROBOT = "/cgi-bin/webhook/send"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_split_bytes_keeps_every_part_within_the_limit() -> None:
    lines = [f"第{i}行：" + "内容" * 40 for i in range(60)]
    text = "\n".join(lines)
    parts = split_bytes(text, 2048, 10, "…")
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts) == text
    one_line = "长" * 2000  # 6000 bytes, no line break
    parts = split_bytes(one_line, 2048, 10, "…")
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "".join(parts) == one_line
    cut = split_bytes("长" * 10_000, 2048, 2, "（截断）")
    assert len(cut) == 2
    assert cut[-1].endswith("（截断）")
    assert all(len(p.encode()) <= 2048 for p in cut)
    assert split_bytes("", 2048, 5, "…") == [""]


def test_truncate_bytes_cuts_at_a_character_boundary() -> None:
    assert truncate_bytes("短", 10) == "短"
    cut = truncate_bytes("长" * 100, 20, "…")
    assert len(cut.encode()) <= 20
    assert cut.endswith("…")


async def test_5xx_is_retried_with_exponential_backoff(rig: Rig) -> None:
    rig.platform.fail[ROBOT] = [(500, {}), (502, {"errcode": -1})]
    assert await rig.outbound.send_group_robot_text(ROBOT_KEY, "测试消息") == 1
    assert len(rig.platform.of(ROBOT)) == 3
    assert rig.sleeps == [0.01, 0.02]


async def test_busy_errcode_is_retried_but_permanent_errors_are_not(rig: Rig) -> None:
    rig.platform.fail[ROBOT] = [(200, {"errcode": -1, "errmsg": "system busy"})]
    await rig.outbound.send_group_robot_markdown(ROBOT_KEY, "**通知**")
    assert len(rig.platform.of(ROBOT)) == 2

    rig.platform.fail[ROBOT] = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    with pytest.raises(PermanentOutboundError) as info:
        await rig.outbound.send_group_robot_text(ROBOT_KEY, "测试")
    assert info.value.errcode == 93000
    assert len(rig.platform.of(ROBOT)) == 3
    rig.platform.fail[ROBOT] = [(404, {})]
    with pytest.raises(PermanentOutboundError):
        await rig.outbound.send_group_robot_text(ROBOT_KEY, "测试")
    assert len(rig.platform.of(ROBOT)) == 4


async def test_retries_give_up_after_the_configured_attempts(rig: Rig) -> None:
    rig.platform.fail[ROBOT] = [(503, {})] * 10
    with pytest.raises(OutboundError) as info:
        await rig.outbound.send_group_robot_text(ROBOT_KEY, "测试")
    assert info.value.retryable
    assert len(rig.platform.of(ROBOT)) == 4  # outbound_retries=3 → 4 attempts
    assert rig.sleeps == [0.01, 0.02, 0.04]


async def test_network_errors_are_retried(make_rig: RigFactory) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    rig = await make_rig(wecom_api_base=dead)
    with pytest.raises(OutboundError, match="ClientConnectorError"):
        await rig.outbound.send_group_robot_text(ROBOT_KEY, "测试")
    assert len(rig.sleeps) == 3


async def test_group_robot_throttle_spaces_messages(make_rig: RigFactory) -> None:
    rig = await make_rig(group_robot_per_minute=2)  # window 0.3 s in the rig
    granted: list[float] = []
    reserve = rig.state.reserve

    async def recording_reserve(key: str, limit: int, window_s: float) -> float:
        wait = await reserve(key, limit, window_s)
        if wait <= 0:
            granted.append(time.monotonic())  # the memory store's own clock
        return wait

    rig.state.reserve = recording_reserve  # type: ignore[method-assign]
    for i in range(5):
        await rig.outbound.send_group_robot_text(ROBOT_KEY, f"第{i}条")
    contents = [b["text"]["content"] for _, b in rig.platform.of(ROBOT)]
    assert contents == [f"第{i}条" for i in range(5)]  # all sent, in order
    assert len(granted) == 5
    # Never a third post inside any 0.3 s window: posts i and i+2 are at least a window apart.
    assert all(later - earlier >= 0.3 for earlier, later in zip(granted, granted[2:], strict=False))
    assert len(rig.sleeps) >= 2  # posts 3 and 5 had to wait for a free slot
    # The first two go at once: the limit is a rate, not a delay on every message.
    assert [kind for kind, _ in rig.platform.events[:2]] == ["arrive", "arrive"]


async def test_concurrent_robot_posts_all_arrive_within_the_limit(make_rig: RigFactory) -> None:
    rig = await make_rig(group_robot_per_minute=2)
    await asyncio.gather(
        *(rig.outbound.send_group_robot_text(ROBOT_KEY, f"并发{i}") for i in range(5))
    )
    contents = sorted(b["text"]["content"] for _, b in rig.platform.of(ROBOT))
    assert contents == sorted(f"并发{i}" for i in range(5))
    assert len(rig.sleeps) >= 3  # three posts had to wait for a free slot


async def test_long_text_is_split_and_markdown_is_cut(rig: Rig) -> None:
    text = "\n".join(f"第{i}条注意事项：" + "请带好身份证原件。" * 5 for i in range(40))
    sent = await rig.outbound.send_group_robot_text(ROBOT_KEY, text, mentioned_list=["@all"])
    bodies = [b for _, b in rig.platform.of(ROBOT)]
    assert sent == len(bodies) > 1
    assert all(len(b["text"]["content"].encode()) <= 2048 for b in bodies)
    assert bodies[0]["text"]["mentioned_list"] == ["@all"]
    assert "mentioned_list" not in bodies[1]["text"]
    assert "\n".join(b["text"]["content"] for b in bodies) == text

    await rig.outbound.send_group_robot_markdown(ROBOT_KEY, "# 通知\n" + "内容" * 3000)
    markdown = rig.platform.of(ROBOT)[-1][1]
    assert markdown["msgtype"] == "markdown"
    assert len(markdown["markdown"]["content"].encode()) <= 4096


async def test_alert_staff_posts_to_the_committee_robot(rig: Rig) -> None:
    assert await rig.outbound.alert_staff("puxiong", "【紧急】普雄馨苑3号楼有人被困电梯")
    [(query, body)] = rig.platform.of(ROBOT)
    assert query == {"key": ROBOT_KEY}
    assert body == {"msgtype": "text", "text": {"content": "【紧急】普雄馨苑3号楼有人被困电梯"}}
    assert not await rig.outbound.alert_staff("other", "x")
    rig.platform.fail[ROBOT] = [(200, {"errcode": 93000})]
    assert not await rig.outbound.alert_staff("puxiong", "x")


async def test_access_token_is_cached_in_the_state_store(rig: Rig) -> None:
    await rig.outbound.send_mp_text("demo", OPENID, "您好")
    await rig.outbound.send_mp_text("demo", OPENID, "再次您好")
    assert rig.platform.tokens_issued == 1
    assert await rig.state.get(keys.token(f"wechat_mp:{MP_APPID}")) == "ACCESS1"
    # Another sender sharing the store (another worker) reuses the token.
    async with ClientSession() as session:
        other = OutboundSender(session, rig.state, rig.settings)
        await other.send_mp_text("demo", OPENID, "第三条")
    assert rig.platform.tokens_issued == 1
    assert [q["access_token"] for q, _ in rig.platform.of("/cgi-bin/message/custom/send")] == [
        "ACCESS1"
    ] * 3


async def test_token_and_credential_errors_are_permanent(rig: Rig) -> None:
    rig.platform.fail["/cgi-bin/token"] = [(200, {"errcode": 40125, "errmsg": "invalid appsecret"})]
    with pytest.raises(PermanentOutboundError) as info:
        await rig.outbound.send_mp_text("demo", OPENID, "您好")
    assert info.value.errcode == 40125
    assert rig.platform.of("/cgi-bin/message/custom/send") == []
    with pytest.raises(PermanentOutboundError, match="app_id"):
        await rig.outbound.send_mp_text("plain", OPENID, "您好")
    with pytest.raises(PermanentOutboundError):
        await rig.outbound.reply_response_url("file:///etc/passwd", "x")


async def test_secrets_never_reach_the_logs(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.platform.fail[ROBOT] = [(500, {}), (200, {"errcode": 93000, "errmsg": "bad key"})]
    with pytest.raises(PermanentOutboundError):
        await rig.outbound.send_group_robot_text(ROBOT_KEY, "测试")
    rig.platform.fail["/cgi-bin/message/custom/send"] = [(200, {"errcode": 40001}), (500, {})]
    await rig.outbound.send_mp_text("demo", OPENID, "您好")
    url = f"{rig.platform.base_url}/cgi-bin/aibot/response?response_code=SECRETCODE"
    rig.platform.fail["/cgi-bin/aibot/response"] = [(500, {})]
    await rig.outbound.reply_response_url(url, "您好")
    ours = [r for r in caplog.records if r.name.startswith("bot.")]  # not the fake server's
    dumped = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    assert "retried" in dumped
    for secret in (ROBOT_KEY, "app-secret-xyz", "ACCESS1", "ACCESS2", "SECRETCODE", OPENID):
        assert secret not in dumped

"""Notices end to end, through the real HTTP server on both store back-ends: 普雄馨苑's four
buildings imported, residents bound; a 停水 notice for 20号楼 reaches the compound's group
(a local server stands in for the WeCom group robot) but not 21号楼's own group, and the
bound residents of 20号楼 privately (the gateway's push endpoint), nobody else; sending it again
sends nothing twice; three residents acknowledge with "收到" and its variants, a fourth asks
"怎么没水了" and gets the notice first; the follow-up list shows the rest with the 独居
household first and records a visit; unbound residents asking in the compound's group or naming
the compound get the notice; an emergency in a lift is still an emergency while a 电梯维保
notice is valid."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from channel_helpers import ROBOT_KEY, Platform
from conversation_helpers import PUSH_PATH, ROBOT_PATH, Resident, kinds, texts

from bot import appkeys
from bot.accounts.http import ACCOUNTS
from bot.app import link_key
from bot.domain import links

XINYUAN = [
    {"compound": "普雄馨苑", "building": str(b), "room": str(r), "floor_area": 58.5}
    for b in (18, 19, 20, 21)
    for r in (801, 802, 901, 902, 1201, 1202)
]
COMPOUND_ROBOT = "robot-of-xinyuan"
BUILDING_21_ROBOT = "robot-of-xinyuan-21"


async def _token(client: Any, name: str, role: str) -> dict[str, str]:
    accounts = client.app[ACCOUNTS]
    await accounts.add_user(name, role, "puxiong", "Str0ng-pass-123", name)
    token, _ = await accounts.create_token(name, "tests")
    return {"Authorization": f"Bearer {token}"}


async def _json(resp: Any, status: int) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _bind(bot: Any, sender: str, name: str, room: str) -> Resident:
    resident = Resident(bot, sender, name=name)
    await resident.say("绑定门牌")
    await resident.say("同意")
    claimed = await resident.say(f"普雄馨苑{room}")
    assert "待核实" in texts(claimed), texts(claimed)
    return resident


async def _verify(bot: Any, headers: dict[str, str], name: str) -> None:
    pending = await _json(
        await bot.get("/api/v1/household-bindings?status=claimed", headers=headers), 200
    )
    (binding,) = [b for b in pending["bindings"] if b["sender_name"] == name]
    await _json(
        await bot.post(f"/api/v1/household-bindings/{binding['id']}/verify", headers=headers), 200
    )


async def _pushes_settle(platform: Platform, count: int) -> None:
    await platform.wait_for(PUSH_PATH, count)
    await asyncio.sleep(0.3)  # anything more that would (wrongly) follow


def _notice_body(kind: str, title: str, text: str, building: str = "20") -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "kind": kind,
        "title": title,
        "body": text,
        "valid_from": (now - timedelta(minutes=5)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(),
        "audience": {"buildings": [{"compound": "普雄馨苑", "building": building}]},
    }


async def test_water_notice_reaches_group_and_residents_acknowledged_followed_up(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(
        notice_send_interval_s=0.05,
        committees={
            "puxiong": {
                "staff_robot_key": ROBOT_KEY,
                "group_chats": {
                    "g-puxiongxinyuan": {"robot_key": COMPOUND_ROBOT},
                    "g-xinyuan-21": {
                        "robot_key": BUILDING_21_ROBOT,
                        "compound": "普雄馨苑",
                        "buildings": ["21"],
                    },
                },
            }
        },
    )
    admin = await _token(bot, "admin1", "admin")
    caseworker = await _token(bot, "zhangmin", "caseworker")
    done = await _json(
        await bot.post("/api/v1/households/import", json={"rows": XINYUAN}, headers=admin), 200
    )
    assert done["created"] == 24
    found = await _json(await bot.get("/api/v1/households?building=20号楼", headers=admin), 200)
    ids = {h["room"]: h["id"] for h in found["households"]}
    for room, label in (("902室", "独居"), ("802室", "高龄")):
        await _json(
            await bot.put(
                f"/api/v1/households/{ids[room]}/labels", json={"labels": [label]}, headers=admin
            ),
            200,
        )

    # Residents bind: three of 20号楼 verified or claimed, one claimed, one in 21号楼.
    wang = await _bind(bot, "wang", "王阿姨", "20号楼801")
    zhao = await _bind(bot, "zhao", "赵师傅", "20号楼901")
    qian = await _bind(bot, "qian", "钱老师", "20号楼1201")
    li = await _bind(bot, "li", "李先生", "20号楼1202")
    sun = await _bind(bot, "sun", "孙阿姨", "21号楼801")
    await _verify(bot, caseworker, "王阿姨")
    await _verify(bot, caseworker, "赵师傅")

    # A 停水 notice for 20号楼, written as a draft, then sent.
    draft = await _json(
        await bot.post(
            "/api/v1/notices",
            json=_notice_body(
                "water", "20号楼停水", "今天9:00-17:00二次供水水箱清洗，全楼停水，请提前储水。"
            ),
            headers=caseworker,
        ),
        201,
    )
    assert draft["state"] == "draft"
    assert draft["audience"]["buildings"] == [{"compound": "puxiongxinyuan", "building": "20号楼"}]
    assert platform.of(PUSH_PATH) == []
    sent = await _json(
        await bot.post(f"/api/v1/notices/{draft['id']}/send", headers=caseworker), 200
    )
    assert sent == {"households": 6, "recipients": 5}  # four residents, one group

    # A second send, and two workers' rounds at once, send nothing twice.
    again = await bot.post(f"/api/v1/notices/{draft['id']}/send", headers=caseworker)
    assert again.status == 409
    assert "不会重复发送" in (await again.json())["error"]["message"]
    notices = bot.app[appkeys.NOTICES]
    await asyncio.gather(notices.send_due(), notices.send_due())
    await _pushes_settle(platform, 4)
    pushes = platform.of(PUSH_PATH)
    assert sorted(b["recipient"]["id"] for _, b in pushes) == ["li", "qian", "wang", "zhao"]
    assert all(b["kind"] == "notice" and "回复“收到”" in b["text"] for _, b in pushes)
    assert all("20号楼停水" in b["text"] for _, b in pushes)
    posts = [(q["key"], b) for q, b in platform.of(ROBOT_PATH) if q["key"] != ROBOT_KEY]
    assert [key for key, _ in posts] == [COMPOUND_ROBOT]  # not 21号楼's group
    assert "【停水通知】20号楼停水" in posts[0][1]["text"]["content"]
    assert "收到" not in posts[0][1]["text"]["content"]

    # Three acknowledge; the fourth asks and gets the notice first; 21号楼 is not told.
    assert "已记录您收到通知《20号楼停水》" in texts(await wang.say("收到"))
    assert "已记录" in texts(await zhao.say("好的收到"))
    assert "已记录" in texts(await qian.say("已收到"))
    assert "已经确认过" in texts(await wang.say("收到了"))
    asked = await li.say("怎么没水了")
    assert kinds(asked) == ["notice"]
    assert "20号楼停水" in texts(asked)
    assert "20号楼停水" not in texts(await sun.say("今天为什么停水"))

    detail = await _json(await bot.get(f"/api/v1/notices/{draft['id']}", headers=caseworker), 200)
    assert detail["totals"] == {"households": 6, "reached": 4, "read": 4, "acknowledged": 3}
    assert [(g["chat_id"], g["delivery"]) for g in detail["groups"]] == [
        ("g-puxiongxinyuan", "active")
    ]
    by_room = {h["address"][-5:]: h for h in detail["households"]}
    assert by_room["1202室"]["read"]
    assert not by_room["1202室"]["acknowledged"]

    # The follow-up list: the households no message reached, 独居 first.
    unreached = await _json(
        await bot.get(f"/api/v1/notices/{draft['id']}/follow-up", headers=caseworker), 200
    )
    assert [(h["address"], h["labels"]) for h in unreached["households"]] == [
        ("普雄馨苑20号楼902室", ["独居"]),
        ("普雄馨苑20号楼802室", ["高龄"]),
    ]
    unacked = await _json(
        await bot.get(
            f"/api/v1/notices/{draft['id']}/follow-up?show=unacknowledged", headers=caseworker
        ),
        200,
    )
    assert [h["address"] for h in unacked["households"]] == [
        "普雄馨苑20号楼902室",
        "普雄馨苑20号楼802室",
        "普雄馨苑20号楼1202室",
    ]
    visit = await _json(
        await bot.post(
            f"/api/v1/notices/{draft['id']}/follow-ups",
            json={"household_id": ids["902室"], "outcome": "visited", "note": "当面告知并帮忙储水"},
            headers=caseworker,
        ),
        201,
    )
    assert visit["outcome_label"] == "已上门告知"
    assert visit["actor_name"] == "zhangmin"
    other = await _json(await bot.get("/api/v1/households?building=21号楼", headers=admin), 200)
    not_targeted = await bot.post(
        f"/api/v1/notices/{draft['id']}/follow-ups",
        json={"household_id": other["households"][0]["id"], "outcome": "phoned"},
        headers=caseworker,
    )
    assert not_targeted.status == 404
    log = await _json(await bot.get("/api/v1/household-access-log", headers=admin), 200)
    actions = {(e["actor_name"], e["action"]) for e in log["entries"]}
    assert {("zhangmin", "notice_send"), ("zhangmin", "notice_view")} <= actions
    assert ("zhangmin", "notice_follow_up") in actions

    # Unbound residents: in the compound's group, or naming the compound, get the notice.
    group = Resident(bot, "g1", chat="g-puxiongxinyuan", group=True, name="邻居")
    assert "20号楼停水" in texts(await group.say("@邻里 今天为什么停水"))
    stranger = Resident(bot, "zhou", name="周先生")
    assert "20号楼停水" in texts(await stranger.say("普雄馨苑怎么没水了"))
    elsewhere = Resident(bot, "g2", chat="g-putuoyicun", group=True, name="别的小区")
    assert "20号楼停水" not in texts(await elsewhere.say("@邻里 今天为什么停水"))

    # A lift notice never hides an emergency in the lift.
    lift = await _json(
        await bot.post(
            "/api/v1/notices",
            json=_notice_body("lift", "20号楼电梯维保", "今天下午2号电梯维保，请走1号电梯。"),
            headers=caseworker,
        ),
        201,
    )
    await _json(await bot.post(f"/api/v1/notices/{lift['id']}/send", headers=caseworker), 200)
    assert "20号楼电梯维保" in texts(await wang.say("电梯怎么停了"))
    trapped = await wang.say("电梯里关了人")
    assert kinds(trapped)[0] == "emergency"
    assert "电梯维保" not in texts(trapped)

    assert (await bot.get("/api/v1/notices/999999", headers=caseworker)).status == 404


async def test_the_notice_page_marks_read_and_acknowledged_and_drafts_are_edited(
    start: Callable[..., Any], platform: Platform
) -> None:
    """A draft is edited until it is sent (409 after); each private message carries a link
    to the notice's page: opening it marks the household read, pressing 收到 acknowledges;
    a forged, expired or cross-site use gets a polite Chinese page and changes nothing. The
    compound's group, with no robot, gets the notice through the webhook's gateway."""
    bot = await start(notice_send_interval_s=0.05)
    admin = await _token(bot, "admin1", "admin")
    caseworker = await _token(bot, "zhangmin", "caseworker")
    await _json(
        await bot.post("/api/v1/households/import", json={"rows": XINYUAN}, headers=admin), 200
    )
    wang = await _bind(bot, "wang", "王阿姨", "20号楼801")
    zhao = await _bind(bot, "zhao", "赵师傅", "20号楼901")
    await _verify(bot, caseworker, "王阿姨")

    # The draft is edited: new title, text and period; nothing is sent yet.
    draft = await _json(
        await bot.post(
            "/api/v1/notices",
            json=_notice_body("power", "20号楼停电", "配电检修。"),
            headers=caseworker,
        ),
        201,
    )
    changed = _notice_body(
        "power", "20号楼明天停电", "明天8:00至12:00配电房检修，全楼停电，电梯停运。"
    )
    edited = await _json(
        await bot.put(f"/api/v1/notices/{draft['id']}", json=changed, headers=caseworker), 200
    )
    assert (edited["title"], edited["state"]) == ("20号楼明天停电", "draft")
    assert edited["body"].startswith("明天8:00至12:00")
    backwards = {**changed, "valid_until": changed["valid_from"]}
    refused = await bot.put(f"/api/v1/notices/{draft['id']}", json=backwards, headers=caseworker)
    assert refused.status == 422
    assert "结束时间必须晚于开始时间" in (await refused.json())["error"]["message"]
    missing = await bot.put("/api/v1/notices/999999", json=changed, headers=caseworker)
    assert missing.status == 404
    assert platform.of(PUSH_PATH) == []

    sent = await _json(
        await bot.post(f"/api/v1/notices/{draft['id']}/send", headers=caseworker), 200
    )
    assert sent == {"households": 6, "recipients": 3}  # two residents, the compound's group
    late = await bot.put(f"/api/v1/notices/{draft['id']}", json=changed, headers=caseworker)
    assert late.status == 409
    assert "不能再修改" in (await late.json())["error"]["message"]
    await _pushes_settle(platform, 3)
    # The compound's group has no robot: the gateway posts the notice there (no link in it).
    (group,) = [b for _, b in platform.of(PUSH_PATH) if b["chat"]["type"] == "group"]
    assert group["chat"]["id"] == "g-puxiongxinyuan"
    assert group["text"].startswith("【停电通知】20号楼明天停电")
    assert "/notice/" not in group["text"]
    assert "收到" not in group["text"]
    pages = {}
    for _, pushed in platform.of(PUSH_PATH):
        if pushed["chat"]["type"] == "group":
            continue
        assert "20号楼明天停电" in pushed["text"]
        found = re.search(r"(/notice/\S+)", pushed["text"])
        assert found, pushed["text"]
        pages[pushed["recipient"]["id"]] = found[1]
    assert sorted(pages) == ["wang", "zhao"]
    assert pages["wang"] != pages["zhao"]

    async def statuses() -> dict[str, tuple[bool, bool]]:
        got = await _json(await bot.get(f"/api/v1/notices/{draft['id']}", headers=caseworker), 200)
        return {h["address"][-4:]: (h["read"], h["acknowledged"]) for h in got["households"]}

    # 王阿姨 opens her link: the notice in full; her household is read, not acknowledged.
    opened = await bot.get(pages["wang"])
    assert opened.status == 200
    html = await opened.text()
    for part in ("20号楼明天停电", "停电", "配电房检修", "普雄路居委会", "收到"):
        assert part in html
    assert opened.headers["Cache-Control"] == "no-store"
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    now = await statuses()
    assert now["801室"] == (True, False)
    assert now["901室"] == (False, False)

    # Another site's form, or a form without the token, acknowledges nothing.
    evil = await bot.post(
        pages["wang"],
        data={"token": pages["wang"].removeprefix("/notice/")},
        headers={"Origin": "https://evil.example"},
    )
    assert evil.status == 403
    assert "请从聊天里的通知链接打开" in await evil.text()
    bare = await bot.post(pages["wang"], data={"token": "x"})
    assert bare.status == 403
    assert (await statuses())["801室"] == (True, False)
    detail = await _json(await bot.get(f"/api/v1/notices/{draft['id']}", headers=caseworker), 200)
    assert [(g["chat_id"], g["delivery"]) for g in detail["groups"]] == [
        ("g-puxiongxinyuan", "active")
    ]

    # She presses 收到: acknowledged, as a "收到" reply would; opening it again says so.
    pressed = await bot.post(pages["wang"], data={"token": pages["wang"].removeprefix("/notice/")})
    assert pressed.status == 200
    assert "已确认收到" in await pressed.text()
    assert (await statuses())["801室"] == (True, True)
    assert "您已确认收到这条通知" in await (await bot.get(pages["wang"])).text()
    assert "已经确认过" in texts(await wang.say("收到"))
    assert "已记录" in texts(await zhao.say("收到"))
    assert (await statuses())["901室"] == (True, True)

    # The conversation log never shows the resident's link (staff could open it as them).
    log = bot.app[appkeys.MESSAGE_LOG]
    logged = " ".join(m.text for m in await log.conversation("puxiong:webhook:default:p:wang"))
    assert "/notice/" not in logged
    assert "个人链接" in logged

    # A forged link (another delivery's number, the signature kept) and an expired one.
    token = pages["zhao"].removeprefix("/notice/")
    committee, item, expires, sig = token.split(".")
    forged = await bot.get(f"/notice/{committee}.{int(item) + 100}.{expires}.{sig}")
    assert forged.status == 404
    assert "这个通知链接无效" in await forged.text()
    assert (await bot.get("/notice/not-a-token")).status == 404
    key = link_key(bot.app[appkeys.SETTINGS])
    past = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
    expired = await bot.get("/notice/" + links.sign(key, "notice", committee, int(item), past))
    assert expired.status == 410
    assert "有效期已过" in await expired.text()
    # A voting link's signature never opens a notice.
    vote_signed = links.sign(key, "vote", committee, int(item), int(expires))
    assert (await bot.get("/notice/" + vote_signed)).status == 404

"""Issue #14's acceptance as one story, through the real HTTP server on both store back-ends.

普雄馨苑's four buildings are imported from an XLSX file in the console (floor areas, one
household 独居 and one 高龄). Ten residents bind by private chat: two verified by the
counter's one-time code, seven by a caseworker, one rejected. A 停水 notice for 20号楼 reaches
20号楼's group chat once (a local server stands in for the WeCom group robot) and its bound
residents privately; three acknowledge, a fourth asks "怎么没水了" and gets the notice first;
the follow-up list shows the rest with the 独居 household first. Then the lift-replacement
consultation for 20号楼 under the Civil Code's rule for using the maintenance fund: votes by
chat and on the signed voting page, a changed vote, a second member of a household and the
rejected binding refused, one reminder round to the households that have not voted (only
them), "我投了没有" answered; closing passes on owners but fails on area, and the XLSX export
opens in openpyxl with the right totals."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
from aiohttp import FormData
from channel_helpers import ROBOT_KEY, Platform
from conversation_helpers import PUSH_PATH, ROBOT_PATH, Resident, kinds, texts

from bot.accounts.http import ACCOUNTS

PASSWORD = "Str0ng-pass-123"
ROBOT_20 = "robot-of-xinyuan-20"
ROBOT_21 = "robot-of-xinyuan-21"
# 20号楼: four flats of 60 m² and two of 150 m² (540 m² in all). Four households taking part
# are two thirds of the owners, but 801+802+901+1202 hold only 330 m²: not two thirds of the
# area.
AREAS = {"801": 60.0, "802": 60.0, "901": 60.0, "902": 60.0, "1201": 150.0, "1202": 150.0}
LABELS = {("20", "902"): "独居", ("20", "1201"): "高龄"}
PLAN = (
    "20号楼两部电梯已运行28年，去年曾从8楼滑落到7楼，拟整体更换。\n"
    "费用约 96 万元，从本楼住宅专项维修资金中列支。施工期约 60 天。"
)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FOLLOW_UP_RE = re.compile(r'<td data-label="门牌" class="lead"><a href="[^"]*">([^<]+)</a>')


def _workbook() -> bytes:
    """The committee's household list as a caseworker keeps it in Excel."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "households"
    ws.append(["小区", "楼号", "门牌", "面积", "标签"])
    for building in ("18", "19", "20", "21"):
        for room, area in AREAS.items():
            ws.append(
                [
                    "普雄馨苑",
                    f"{building}号楼",
                    int(room),
                    area,
                    LABELS.get((building, room), ""),
                ]
            )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def _token(client: Any, name: str, role: str) -> dict[str, str]:
    accounts = client.app[ACCOUNTS]
    await accounts.add_user(name, role, "puxiong", PASSWORD, name)
    token, _ = await accounts.create_token(name, "tests")
    return {"Authorization": f"Bearer {token}"}


async def _json(resp: Any, status: int) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _csrf(client: Any, path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200, path
    match = CSRF_RE.search(await resp.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def _console_login(client: Any, username: str) -> str:
    """Log in to the console like a browser; the session's CSRF token."""
    token = await _csrf(client, "/console/login")
    resp = await client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    return await _csrf(client, "/console/")


async def _household(bot: Any, staff: dict[str, str], building: str, room: str) -> int:
    found = await _json(
        await bot.get(f"/api/v1/households?building={building}号楼", headers=staff), 200
    )
    (match,) = [h for h in found["households"] if h["room"] == f"{room}室"]
    return int(match["id"])


def _pushed(platform: Platform, since: int, kind: str) -> list[dict[str, Any]]:
    return [b for _, b in platform.of(PUSH_PATH)[since:] if b["kind"] == kind]


async def test_lift_replacement_story_end_to_end(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(
        notice_send_interval_s=0.05,
        committees={
            "puxiong": {
                "staff_robot_key": ROBOT_KEY,
                "group_chats": {
                    # The registry's group of 普雄馨苑 is 20号楼's; 21号楼 has its own.
                    "g-puxiongxinyuan": {"robot_key": ROBOT_20, "buildings": ["20"]},
                    "g-xinyuan-21": {
                        "robot_key": ROBOT_21,
                        "compound": "普雄馨苑",
                        "buildings": ["21"],
                    },
                },
            }
        },
    )
    await bot.app[ACCOUNTS].add_user("admin1", "admin", "puxiong", PASSWORD, "赵主任")
    staff = await _token(bot, "zhangmin", "caseworker")

    # 1. The admin imports the four buildings from the committee's XLSX file in the console.
    csrf = await _console_login(bot, "admin1")
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field(
        "file",
        _workbook(),
        filename="普雄馨苑住户.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    imported = await bot.post("/console/households/import", data=form, allow_redirects=False)
    assert imported.status == 303, await imported.text()
    listing = await (await bot.get(imported.headers["Location"])).text()
    assert "新增24户" in listing
    twenty = await _json(await bot.get("/api/v1/households?building=20号楼", headers=staff), 200)
    assert {(h["room"], h["floor_area"], tuple(h["labels"])) for h in twenty["households"]} == {
        ("801室", 60.0, ()),
        ("802室", 60.0, ()),
        ("901室", 60.0, ()),
        ("902室", 60.0, ("独居",)),
        ("1201室", 150.0, ("高龄",)),
        ("1202室", 150.0, ()),
    }

    # 2. Ten residents bind in private chat; two verify with the counter's code, a caseworker
    # verifies seven and rejects one.
    people = {
        "wang": ("王阿姨", "20", "801", "code"),
        "li": ("李先生", "20", "802", "caseworker"),
        "zhao": ("赵师傅", "20", "901", "caseworker"),
        "qian": ("钱阿姨", "20", "901", "caseworker"),  # zhao's wife: same household
        "sun": ("孙先生", "20", "1201", "reject"),  # not the 高龄 household's family
        "zhou": ("周女士", "20", "1202", "code"),
        "wu": ("吴先生", "18", "801", "caseworker"),
        "zheng": ("郑老师", "19", "802", "caseworker"),
        "feng": ("冯阿姨", "21", "801", "caseworker"),
        "chen": ("陈先生", "21", "1202", "caseworker"),
    }
    residents: dict[str, Resident] = {}
    for n, (sender, (name, building, room, how)) in enumerate(people.items()):
        r = residents[sender] = Resident(bot, sender, name=name)
        consent = await r.say("绑定门牌")
        assert "用途" in texts(consent)
        if n % 2:  # step by step: compound, building, room
            assert "哪个小区" in texts(await r.say("同意"))
            assert "几号楼" in texts(await r.say("普雄馨苑"))
            assert "门牌号" in texts(await r.say(building))
            claimed = await r.say(room)
        else:  # the one-line form
            await r.say("同意")
            claimed = await r.say(f"普雄馨苑{building}号楼{room}")
        assert f"普雄馨苑{building}号楼{room}室" in texts(claimed)
        assert "待核实" in texts(claimed)
        if how == "code":
            household = await _household(bot, staff, building, room)
            issued = await _json(
                await bot.post(f"/api/v1/households/{household}/codes", headers=staff), 201
            )
            assert "验证成功" in texts(await r.say(issued["code"]))
    pending = await _json(
        await bot.get("/api/v1/household-bindings?status=claimed", headers=staff), 200
    )
    claimed_names = {b["sender_name"]: b["id"] for b in pending["bindings"]}
    assert set(claimed_names) == {n for n, _, _, how in people.values() if how != "code"}
    for name, _, _, how in people.values():
        if how in {"caseworker", "reject"}:
            action = "verify" if how == "caseworker" else "reject"
            await _json(
                await bot.post(
                    f"/api/v1/household-bindings/{claimed_names[name]}/{action}", headers=staff
                ),
                200,
            )
    everyone = await _json(await bot.get("/api/v1/household-bindings", headers=staff), 200)
    statuses = sorted(b["status"] for b in everyone["bindings"])
    assert statuses == ["rejected"] + ["verified"] * 9
    assert "已核实" in texts(await residents["wang"].say("我的门牌"))
    wang, li, zhao, qian = (residents[k] for k in ("wang", "li", "zhao", "qian"))
    sun, zhou, feng = residents["sun"], residents["zhou"], residents["feng"]

    # 3. A 停水 notice for 20号楼: 20号楼's group once, its bound residents privately.
    now = datetime.now(UTC)
    pushed_before = len(platform.of(PUSH_PATH))
    notice = await _json(
        await bot.post(
            "/api/v1/notices",
            json={
                "kind": "water",
                "title": "20号楼明天停水",
                "body": "明天9:00-17:00二次供水水箱清洗，20号楼全楼停水，请提前储水。",
                "valid_from": (now - timedelta(minutes=5)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
                "audience": {"buildings": [{"compound": "普雄馨苑", "building": "20"}]},
            },
            headers=staff,
        ),
        201,
    )
    nid = notice["id"]
    sent = await _json(await bot.post(f"/api/v1/notices/{nid}/send", headers=staff), 200)
    # Five residents (孙先生's binding was rejected) and one group.
    assert sent == {"households": 6, "recipients": 6}
    await platform.wait_for(PUSH_PATH, pushed_before + 5)
    await platform.wait_for(ROBOT_PATH, 1)
    private = _pushed(platform, pushed_before, "notice")
    assert sorted(b["recipient"]["id"] for b in private) == ["li", "qian", "wang", "zhao", "zhou"]
    assert all("20号楼明天停水" in b["text"] and "收到" in b["text"] for b in private)
    again = await bot.post(f"/api/v1/notices/{nid}/send", headers=staff)
    assert again.status == 409
    group_posts = [(q["key"], b) for q, b in platform.of(ROBOT_PATH) if q["key"] != ROBOT_KEY]
    assert [key for key, _ in group_posts] == [ROBOT_20]  # once, and not 21号楼's group
    assert "【停水通知】20号楼明天停水" in group_posts[0][1]["text"]["content"]

    # Three acknowledge; a fourth asks why there is no water and gets the notice first.
    for resident, text in ((wang, "收到"), (zhao, "收到了"), (zhou, "好的收到")):
        assert "已记录您收到通知《20号楼明天停水》" in texts(await resident.say(text))
    asked = await li.say("怎么没水了")
    assert kinds(asked)[0] == "notice"
    assert "20号楼明天停水" in asked["replies"][0]["text"]
    assert "20号楼明天停水" not in texts(await feng.say("怎么没水了"))  # 21号楼

    detail = await _json(await bot.get(f"/api/v1/notices/{nid}", headers=staff), 200)
    assert detail["totals"] == {"households": 6, "reached": 4, "read": 4, "acknowledged": 3}
    # The rest, for a phone call or a visit: the 独居 household first.
    rest = await _json(
        await bot.get(f"/api/v1/notices/{nid}/follow-up?show=unacknowledged", headers=staff),
        200,
    )
    assert [(h["address"], h["labels"]) for h in rest["households"]] == [
        ("普雄馨苑20号楼902室", ["独居"]),
        ("普雄馨苑20号楼1201室", ["高龄"]),
        ("普雄馨苑20号楼802室", []),
    ]
    page = await bot.get(f"/console/notices/{nid}?show=unacknowledged")
    assert page.status == 200
    html = await page.text()
    table = html[html.index('id="follow-up-list"') :]
    table = table[: table.index("</table>")]
    assert FOLLOW_UP_RE.findall(table) == [
        "普雄馨苑20号楼902室",
        "普雄馨苑20号楼1201室",
        "普雄馨苑20号楼802室",
    ]
    visit = await _json(
        await bot.post(
            f"/api/v1/notices/{nid}/follow-ups",
            json={
                "household_id": await _household(bot, staff, "20", "902"),
                "outcome": "visited",
                "note": "上门告知，帮忙接好两桶水",
            },
            headers=staff,
        ),
        201,
    )
    assert visit["outcome_label"] == "已上门告知"
    # All this while the group got the notice once, never again.
    assert [q["key"] for q, _ in platform.of(ROBOT_PATH) if q["key"] != ROBOT_KEY] == [ROBOT_20]

    # 4. The lift-replacement consultation for 20号楼.
    pushed_before = len(platform.of(PUSH_PATH))
    created = await _json(
        await bot.post(
            "/api/v1/consultations",
            json={
                "title": "20号楼电梯更换方案征询",
                "plan": PLAN,
                "compound": "普雄馨苑",
                "buildings": ["20号楼"],
                "opens_at": (now - timedelta(minutes=1)).isoformat(),
                "closes_at": (now + timedelta(days=7)).isoformat(),
                "rule": "civil_majority",
                "max_reminders": 1,
            },
            headers=staff,
        ),
        201,
    )
    cid = created["id"]
    assert created["options"] == ["同意", "不同意", "弃权"]
    await _json(await bot.post(f"/api/v1/consultations/{cid}/publish", headers=staff), 200)
    # Invitations to the voter of each household with a verified binding: 801, 802, 901
    # (赵师傅, verified before his wife), 1202.
    invited = [b for _, b in platform.of(PUSH_PATH)[pushed_before:]]
    assert sorted(b["recipient"]["id"] for b in invited) == ["li", "wang", "zhao", "zhou"]
    assert all("【征询意见】20号楼电梯更换方案征询" in b["text"] for b in invited)

    # By chat: 王阿姨 answers the invitation; 赵师傅 votes against, then changes his mind.
    voted = await wang.say("同意")
    assert "已记录您家的投票：同意" in texts(voted)
    assert re.search(r"回执号：ZX\d{3}-[0-9A-F]{6}", texts(voted))
    assert "已记录您家的投票：不同意" in texts(await zhao.say("投票 2"))
    assert "已改为：同意" in texts(await zhao.say("1 同意"))
    # His wife is refused: one vote per household, and it stays 同意.
    duplicate = await qian.say("投票 2")
    assert "每户只能投一票" in texts(duplicate)
    assert "赵师傅" in texts(duplicate)
    # The rejected binding is refused.
    assert "没有通过核实" in texts(await sun.say("投票 1"))

    # One reminder round: only the households that have not voted (802 and 1202).
    assert "还没有投票" in texts(await li.say("我投了没有"))
    pushed_before = len(platform.of(PUSH_PATH))
    reminded = await _json(
        await bot.post(f"/api/v1/consultations/{cid}/reminders", headers=staff), 200
    )
    assert reminded == {"round": 1, "households": 2, "delivered": 2}
    reminders = [b for _, b in platform.of(PUSH_PATH)[pushed_before:]]
    assert sorted(b["recipient"]["id"] for b in reminders) == ["li", "zhou"]
    assert all("征询提醒" in b["text"] for b in reminders)
    assert (await bot.post(f"/api/v1/consultations/{cid}/reminders", headers=staff)).status == 409

    # 李先生 votes on the page from a signed one-time link; 周女士 votes against in chat.
    link = re.search(r"(/vote/\S+)", texts(await li.say("投票页面")))
    assert link is not None
    path = link[1]
    token = path.removeprefix("/vote/")
    voting_page = await bot.get(path)
    assert voting_page.status == 200
    assert "从本楼住宅专项维修资金中列支" in await voting_page.text()
    cast = await bot.post(path, data={"token": token, "choice": "0"})
    assert cast.status == 200, await cast.text()
    assert "投票成功" in await cast.text()
    assert "同意" in texts(await li.say("我投了没有"))
    assert "已记录您家的投票：不同意" in texts(await zhou.say("2"))

    votes = await _json(
        await bot.get(f"/api/v1/consultations/{cid}/households", headers=staff), 200
    )
    by_room = {v["address"].removeprefix("普雄馨苑20号楼"): v for v in votes["households"]}
    assert {room: (v["choice"], v["via"]) for room, v in by_room.items()} == {
        "801室": ("同意", "chat"),
        "802室": ("同意", "page"),
        "901室": ("同意", "chat"),
        "902室": (None, None),
        "1201室": (None, None),
        "1202室": ("不同意", "chat"),
    }

    # 5. Closing: 4 of 6 owners took part (two thirds, met) and 3 of 4 approve, 180 of 330 m²
    # approve; but only 330 of 540 m² took part — the area condition fails.
    closed = await _json(await bot.post(f"/api/v1/consultations/{cid}/close", headers=staff), 200)
    assert closed["status"] == "closed"
    result = await _json(await bot.get(f"/api/v1/consultations/{cid}", headers=staff), 200)
    tally = result["tally"]
    assert (tally["eligible"], tally["eligible_area"]) == (6, 540.0)
    assert (tally["voted"], tally["voted_area"]) == (4, 330.0)
    assert {o["option"]: (o["households"], o["floor_area"]) for o in tally["options"]} == {
        "同意": (3, 180.0),
        "不同意": (1, 150.0),
        "弃权": (0, 0.0),
    }
    assert [(c["name"], c["reached"], c["needed"], c["met"]) for c in tally["checks"]] == [
        ("参与表决户数占全体户数", "66.67%", "66.67%", True),
        ("参与表决面积占总面积", "61.11%", "66.67%", False),
        ("同意户数占参与表决户数", "75.00%", "50.00%", True),
        ("同意面积占参与表决面积", "54.55%", "50.00%", True),
    ]
    assert tally["passed"] is False
    late = await wang.say("投票 2")
    assert "已经截止，不能再投票" in texts(late)

    # 6. The export from the console opens in openpyxl with the right totals.
    export = await bot.get(f"/console/consultations/{cid}/export.xlsx")
    assert export.status == 200
    book = openpyxl.load_workbook(io.BytesIO(await export.read()))
    summary = {row[0]: row[1:] for row in book["结果"].iter_rows(values_only=True) if row[0]}
    assert summary["应参与户数"][0] == 6
    assert summary["应参与面积（㎡）"][0] == 540.0
    assert summary["实际参与户数"][0] == 4
    assert summary["实际参与面积（㎡）"][0] == 330.0
    assert summary["同意"][:2] == (3, 180.0)
    assert summary["不同意"][:2] == (1, 150.0)
    assert summary["弃权"][:2] == (0, 0.0)
    assert "未通过" in str(summary["结论"][0])
    assert summary["参与表决面积占总面积"][:3] == ("61.11%", "达到66.67%", "不符合")
    rows = list(book["各户投票"].iter_rows(values_only=True))[1:]
    assert len(rows) == 6
    assert sum(r[1] for r in rows) == 540.0
    assert [r[2] for r in rows].count("同意") == 3
    assert [r[2] for r in rows].count("不同意") == 1

"""The lift-replacement consultation end to end, through the real HTTP server on both store
back-ends: 普雄馨苑's four buildings imported, residents bound (some verified by a code from
the counter, some by a caseworker, one rejected), a 20号楼 consultation under the Civil
Code's rule for using the maintenance fund, votes by chat and on the signed voting page, a
changed vote, a second member of a household and an unverified binding refused, ordinary
messages never taken as votes, questions answered from the consultation, reminders sent,
and a result that passes on owners but fails on area — exported as an XLSX workbook whose
totals are right."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
from channel_helpers import Platform
from conversation_helpers import PUSH_PATH, Resident, texts

from bot import appkeys
from bot.accounts.http import ACCOUNTS
from bot.consultations.export import report, to_xlsx

AREAS = {"801": 58.5, "802": 58.5, "1201": 58.5, "1202": 58.5, "1501": 150.0, "1502": 150.0}
ROWS = [
    {"compound": "普雄馨苑", "building": b, "room": room, "floor_area": area}
    for b in ("18", "19", "20", "21")
    for room, area in AREAS.items()
]
PLAN = (
    "20号楼两部电梯已运行28年，拟整体更换为新电梯。\n"
    "费用约 96 万元，从本楼住宅专项维修资金中列支，不足部分由政府补贴。\n"
    "施工期约 60 天，期间安排临时助老服务。"
)


async def _token(client: Any, name: str, role: str) -> dict[str, str]:
    accounts = client.app[ACCOUNTS]
    await accounts.add_user(name, role, "puxiong", "Str0ng-pass-123", name)
    token, _ = await accounts.create_token(name, "tests")
    return {"Authorization": f"Bearer {token}"}


async def _json(resp: Any, status: int) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _bind(resident: Resident, building: str, room: str) -> None:
    await resident.say("绑定门牌")
    await resident.say("同意")
    claimed = await resident.say(f"普雄馨苑{building}号楼{room}")
    assert "待核实" in texts(claimed), texts(claimed)


async def _household(bot: Any, staff: dict[str, str], building: str, room: str) -> int:
    found = await _json(
        await bot.get(f"/api/v1/households?building={building}号楼", headers=staff), 200
    )
    (match,) = [h for h in found["households"] if h["room"] == f"{room}室"]
    return int(match["id"])


async def _binding(bot: Any, staff: dict[str, str], name: str) -> int:
    found = await _json(await bot.get("/api/v1/household-bindings", headers=staff), 200)
    (match,) = [b for b in found["bindings"] if b["sender_name"] == name]
    return int(match["id"])


async def _code(bot: Any, staff: dict[str, str], building: str, room: str) -> str:
    household = await _household(bot, staff, building, room)
    issued = await _json(
        await bot.post(f"/api/v1/households/{household}/codes", headers=staff), 201
    )
    return str(issued["code"])


async def test_lift_replacement_consultation_end_to_end(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start()
    admin = await _token(bot, "admin1", "admin")
    staff = await _token(bot, "zhangmin", "caseworker")
    done = await _json(
        await bot.post("/api/v1/households/import", json={"rows": ROWS}, headers=admin), 200
    )
    assert done["created"] == 24

    # Ten residents bind; three verify with the counter's code, six by a caseworker, one is
    # rejected, and one stays claimed.
    people = {
        "wang": ("王阿姨", "20", "801", "caseworker"),
        "li": ("李先生", "20", "802", "code"),
        "zhao": ("赵师傅", "20", "1201", "caseworker"),
        "qian": ("钱阿姨", "20", "1201", "caseworker"),
        "sun": ("孙先生", "20", "1202", "claimed"),
        "zhou": ("周女士", "20", "1202", "code"),
        "wu": ("吴先生", "20", "1501", "reject"),
        "zheng": ("郑老师", "20", "1502", "caseworker"),
        "feng": ("冯阿姨", "19", "801", "code"),
        "chen": ("陈先生", "21", "802", "caseworker"),
    }
    residents: dict[str, Resident] = {}
    for sender, (name, building, room, how) in people.items():
        r = Resident(bot, sender, name=name)
        residents[sender] = r
        await _bind(r, building, room)
        if how == "code":
            code = await _code(bot, staff, building, room)
            assert "验证成功" in texts(await r.say(code))
        elif how in {"caseworker", "reject"}:
            action = "verify" if how == "caseworker" else "reject"
            binding = await _binding(bot, staff, name)
            await _json(
                await bot.post(f"/api/v1/household-bindings/{binding}/{action}", headers=staff),
                200,
            )
    wang, li, zhao, qian = (residents[k] for k in ("wang", "li", "zhao", "qian"))
    sun, zhou, wu, zheng = (residents[k] for k in ("sun", "zhou", "wu", "zheng"))

    # The caseworker writes the consultation for 20号楼 and publishes it.
    now = datetime.now(UTC)
    draft = {
        "title": "20号楼电梯更换方案征询",
        "plan": PLAN,
        "compound": "普雄馨苑",
        "buildings": ["20号楼"],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=7)).isoformat(),
        "rule": "civil_majority",
        "max_reminders": 1,
    }
    bad = dict(draft, buildings=["25号楼"])
    refused = await _json(await bot.post("/api/v1/consultations", json=bad, headers=staff), 409)
    assert "25号楼" in refused["error"]["message"]
    created = await _json(await bot.post("/api/v1/consultations", json=draft, headers=staff), 201)
    cid = created["id"]
    assert created["status"] == "draft"
    assert created["options"] == ["同意", "不同意", "弃权"]
    edited = await _json(
        await bot.put(
            f"/api/v1/consultations/{cid}",
            json=dict(draft, plan=PLAN + "\n附：厂家比选表。"),
            headers=staff,
        ),
        200,
    )
    assert edited["plan"].endswith("厂家比选表。")
    pushed_before = len(platform.of(PUSH_PATH))
    published = await _json(
        await bot.post(f"/api/v1/consultations/{cid}/publish", headers=staff), 200
    )
    assert published["is_open"] is True
    # The invitation reaches the voter of each household with one: 801, 802, 1201 (赵师傅,
    # verified first), 1202 (周女士: 孙先生 is not verified) and 1502; 1501's only binding
    # was rejected.
    invitations = platform.of(PUSH_PATH)[pushed_before:]
    assert len(invitations) == 5
    assert all("【征询意见】20号楼电梯更换方案征询" in str(body) for _, body in invitations)
    again = await bot.put(f"/api/v1/consultations/{cid}", json=draft, headers=staff)
    assert again.status == 409

    # In the compound's group chat the question is answered without anyone's vote, and
    # voting is sent to the private chat.
    group = Resident(bot, "g1", chat="g-puxiongxinyuan", group=True)
    in_group = texts(await group.say("换电梯什么时候征询"))
    assert "20号楼电梯更换方案征询" in in_group
    assert "私聊" in in_group

    # An ordinary message is not a vote: the consultation was never put to 钱阿姨 (the
    # invitation went to her household's voter), so her "1" and "同意" are no votes.
    for text in ("1", "同意"):
        reply = texts(await qian.say(text))
        assert "已记录" not in reply, reply
        assert "每户只能投一票" not in reply, reply

    # Asked about it, the resident gets it from the consultation; then "同意" is a vote.
    asked = await wang.say("换电梯什么时候征询")
    assert "20号楼电梯更换方案征询" in texts(asked)
    assert "截止" in texts(asked)
    assert "还没有投票" in texts(asked)
    voted = await wang.say("同意")
    assert "已记录您家的投票：同意" in texts(voted)
    assert re.search(r"回执号：ZX\d{3}-[0-9A-F]{6}", texts(voted))
    assert "时间：" in texts(voted)
    assert "同意" in texts(await wang.say("我投的是什么"))

    # An explicit vote, then changed before closing.
    first = await zhao.say("投票 2")
    assert "已记录您家的投票：不同意" in texts(first)
    changed = await zhao.say("1 同意")
    assert "已改为：同意" in texts(changed)
    # A second member of the same household is refused politely, nothing changes.
    refused_member = await qian.say("投票 3")
    assert "每户只能投一票" in texts(refused_member)
    assert "赵师傅" in texts(refused_member)
    # An unverified (claimed) binding is told how to get verified; a rejected one too.
    unverified = await sun.say("投票 1")
    assert "还没有核实" in texts(unverified)
    assert "验证码" in texts(unverified)
    assert "没有通过核实" in texts(await wu.say("投票 1"))
    # "我不同意换电梯" names the consultation: an explicit vote.
    against = await zhou.say("我不同意换电梯")
    assert "已记录您家的投票：不同意" in texts(against)
    deadline = await zhou.say("征询什么时候截止")
    assert "截止" in texts(deadline)
    assert "不同意" in texts(deadline)

    # 李先生 votes on the page from a signed one-time link.
    link_reply = texts(await li.say("投票页面"))
    match = re.search(r"(/vote/\S+)", link_reply)
    assert match is not None, link_reply
    path = match[1]
    token = path.removeprefix("/vote/")
    page = await bot.get(path)
    assert page.status == 200
    html = await page.text()
    assert "厂家比选表" in html
    assert "不同意" in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    # A forged link (another household's number, the signature kept) shows nothing.
    forged = path.replace(token.split(".")[1], str(int(token.split(".")[1]) + 1), 1)
    assert (await bot.get(forged)).status == 404
    # A cross-site POST without the token in its body is refused.
    csrf = await bot.post(path, data={"choice": "1"})
    assert csrf.status == 403
    cast = await bot.post(path, data={"token": token, "choice": "0"})
    assert cast.status == 200, await cast.text()
    receipt_page = await cast.text()
    assert "投票成功" in receipt_page
    assert "回执号" in receipt_page
    # The link is used up.
    reused = await bot.post(path, data={"token": token, "choice": "1"})
    assert reused.status == 410
    assert "已经用过" in await reused.text()
    assert "同意" in texts(await li.say("我投了没有"))

    # The live tally: by household and by floor area.
    detail = await _json(await bot.get(f"/api/v1/consultations/{cid}", headers=staff), 200)
    tally = detail["tally"]
    assert tally["eligible"] == 6
    assert tally["voted"] == 4
    counts = {o["option"]: o["households"] for o in tally["options"]}
    assert counts == {"同意": 3, "不同意": 1, "弃权": 0}
    assert tally["voted_area"] == 234.0
    votes = await _json(
        await bot.get(f"/api/v1/consultations/{cid}/households", headers=staff), 200
    )
    by_room = {v["address"]: v for v in votes["households"]}
    assert by_room["普雄馨苑20号楼1201室"]["choice"] == "同意"
    assert by_room["普雄馨苑20号楼802室"]["via"] == "page"
    assert by_room["普雄馨苑20号楼1502室"]["voted"] is False

    # Reminders reach the verified voter of each household that has not voted, once.
    pushed_before = len(platform.of(PUSH_PATH))
    reminded = await _json(
        await bot.post(f"/api/v1/consultations/{cid}/reminders", headers=staff), 200
    )
    assert reminded == {"round": 1, "households": 1, "delivered": 1}
    pushes = platform.of(PUSH_PATH)[pushed_before:]
    assert len(pushes) == 1
    assert "征询提醒" in str(pushes[0][1])
    over = await bot.post(f"/api/v1/consultations/{cid}/reminders", headers=staff)
    assert over.status == 409
    assert "还没有投票" in texts(await zheng.say("我投了没有"))

    # A second link, fresh, for after closing; hostile tokens show nothing.
    later = re.search(r"(/vote/\S+)", texts(await li.say("投票页面")))
    assert later is not None
    for junk in ("x" * 300, "puxiong.1.1.%00", "puxiong.99999999999999999999.1.a", "..."):
        assert (await bot.get(f"/vote/{junk}")).status == 404

    # Closing computes the Civil Code result: owners 4 of 6 took part (2/3, met) and 3 of 4
    # approve; but only 234 of 534 m² took part — the area condition fails.
    closed = await _json(await bot.post(f"/api/v1/consultations/{cid}/close", headers=staff), 200)
    assert closed["status"] == "closed"
    result = await _json(await bot.get(f"/api/v1/consultations/{cid}", headers=staff), 200)
    checks = {c["name"]: c["met"] for c in result["tally"]["checks"]}
    assert checks == {
        "参与表决户数占全体户数": True,
        "参与表决面积占总面积": False,
        "同意户数占参与表决户数": True,
        "同意面积占参与表决面积": True,
    }
    assert result["tally"]["passed"] is False
    # A vote after closing is refused and changes nothing.
    late = await wang.say("投票 2")
    assert "已经截止，不能再投票" in texts(late)
    assert "未通过" in texts(late)
    late_token = later[1].removeprefix("/vote/")
    late_page = await bot.post(later[1], data={"token": late_token, "choice": "1"})
    assert late_page.status == 409
    assert "已经截止" in await late_page.text()
    after = await _json(await bot.get(f"/api/v1/consultations/{cid}", headers=staff), 200)
    assert after["tally"]["options"][0]["households"] == 3

    # The audit trail has every change with who and when.
    audit = await _json(await bot.get(f"/api/v1/consultations/{cid}/audit", headers=staff), 200)
    actions = [e["action"] for e in audit["entries"]]
    assert actions[:4] == ["created", "edited", "published", "invited"]
    assert actions.count("vote_cast") == 4
    assert actions.count("vote_changed") == 1
    assert "reminder" in actions
    assert actions[-1] == "closed"

    # The export opens in openpyxl with the right totals and every household's vote.
    data = to_xlsx(await report(bot.app[appkeys.CONSULTATIONS], "puxiong", cid))
    book = openpyxl.load_workbook(io.BytesIO(data))
    summary = {row[0]: row[1:] for row in book["结果"].iter_rows(values_only=True) if row[0]}
    assert summary["应参与户数"][0] == 6
    assert summary["实际参与户数"][0] == 4
    assert summary["应参与面积（㎡）"][0] == 534.0
    assert summary["实际参与面积（㎡）"][0] == 234.0
    assert summary["同意"][0] == 3
    assert summary["不同意"][0] == 1
    assert "未通过" in str(summary["结论"][0])
    rows = list(book["各户投票"].iter_rows(values_only=True))[1:]
    assert len(rows) == 6
    assert sum(1 for r in rows if r[2] == "同意") == 3


async def test_an_unbound_resident_voting_is_told_to_bind_not_that_nothing_is_open(
    bot: Any,
) -> None:
    """While 20号楼's consultation is open, a resident with no binding who writes "投票 1" or
    "投同意" hears that voting needs a verified binding — not that no consultation needs them;
    "我要投诉物业" is no vote at all. Asked in the group, it is open, not "not started"."""
    admin = await _token(bot, "admin1", "admin")
    await _json(
        await bot.post("/api/v1/households/import", json={"rows": ROWS}, headers=admin), 200
    )
    now = datetime.now(UTC)
    made = await _json(
        await bot.post(
            "/api/v1/consultations",
            json={
                "title": "20号楼电梯更换方案征询",
                "plan": PLAN,
                "compound": "普雄馨苑",
                "buildings": ["20号楼"],
                "opens_at": (now - timedelta(minutes=5)).isoformat(),
                "closes_at": (now + timedelta(days=5)).isoformat(),
                "rule": "simple",
            },
            headers=admin,
        ),
        201,
    )
    await _json(await bot.post(f"/api/v1/consultations/{made['id']}/publish", headers=admin), 200)
    stranger = Resident(bot, "stranger", name="陌生人")
    for text in ("投票 1", "投同意", "投不同意"):
        told = texts(await stranger.say(text))
        assert "绑定门牌" in told, (text, told)
        assert "没有需要您回复的征询" not in told, (text, told)
    assert "绑定门牌" not in texts(await stranger.say("我要投诉物业"))
    # In the compound's group the open consultation is open, not "not started yet".
    group = Resident(bot, "g1", chat="g-puxiongxinyuan", group=True)
    in_group = texts(await group.say("换电梯什么时候投票"))
    assert "20号楼电梯更换方案征询" in in_group
    assert "还没有开始" not in in_group, in_group
    assert "私聊" in in_group


async def test_i_agree_naming_the_consultation_is_a_vote_for_approval(bot: Any) -> None:
    """ "我同意换电梯" is as explicit as "我不同意换电梯": the approval (the first option, index 0)
    is recorded, whether or not the consultation was put to the voter first."""
    admin = await _token(bot, "admin1", "admin")
    await _json(
        await bot.post("/api/v1/households/import", json={"rows": ROWS}, headers=admin), 200
    )
    wang = Resident(bot, "wang", name="王阿姨")
    await _bind(wang, "20", "801")
    binding = await _binding(bot, admin, "王阿姨")
    await _json(await bot.post(f"/api/v1/household-bindings/{binding}/verify", headers=admin), 200)
    now = datetime.now(UTC)
    draft = {
        "title": "20号楼电梯更换方案征询",
        "plan": PLAN,
        "compound": "普雄馨苑",
        "buildings": ["20号楼"],
        "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(days=5)).isoformat(),
        "rule": "simple",
    }
    made = await _json(await bot.post("/api/v1/consultations", json=draft, headers=admin), 201)
    await _json(await bot.post(f"/api/v1/consultations/{made['id']}/publish", headers=admin), 200)
    agreed = texts(await wang.say("我同意换电梯"))
    assert "已记录您家的投票：同意" in agreed, agreed
    changed = texts(await wang.say("我不同意换电梯"))
    assert "已改为：不同意" in changed, changed

"""The console's 征询意见 pages: a caseworker writes a consultation (a bad building is
refused, naming it), edits the draft, publishes it, sees the live tally by household and by
floor area as residents vote, reminds, closes it, prints the result and downloads the XLSX
(each export in the audit trail); a secret ballot never shows a household's choice; another
committee's consultation is 404; a form without the CSRF token changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import openpyxl

from bot import appkeys
from bot.domain.clock import SHANGHAI
from bot.storage.households import HouseholdRecord

from .conftest import EMBEDDED_ONLY, Client, Resident, login


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


async def _setup_households(console: Client) -> None:
    households = console.app[appkeys.HOUSEHOLDS]
    records = [
        HouseholdRecord("puxiongxinyuan", "20号楼", "", room, area)
        for room, area in (("801室", 58.5), ("802室", 58.5), ("1501室", 150.0))
    ]
    await households.store.import_households("puxiong", records)
    for sender, room in (("r1", "801室"), ("r2", "802室")):
        resident = Resident(console, sender, name=f"居民{sender}")
        await resident.say("绑定门牌")
        await resident.say("同意")
        await resident.say(f"普雄馨苑20号楼{room[:-1]}")
    for b in await households.store.bindings("puxiong"):
        await households.store.decide(
            "puxiong", b.id, b.status.VERIFIED, "t", "caseworker", b.created_at
        )


def _form(token: str, **extra: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "csrf_token": token,
        "title": "20号楼电梯更换方案征询",
        "plan": "拟整体更换20号楼电梯。\n费用由维修资金列支。",
        "options": "同意\n不同意\n弃权",
        "compound": "puxiongxinyuan",
        "buildings": "20号楼",
        "opens_at": _local(now - timedelta(minutes=5)),
        "closes_at": _local(now + timedelta(days=5)),
        "rule": "civil_majority",
        "max_reminders": "2",
        **extra,
    }


@EMBEDDED_ONLY
async def test_write_publish_tally_close_print_and_export(console: Client) -> None:
    await _setup_households(console)
    token = await login(console)
    listing = await (await console.get("/console/consultations")).text()
    assert "新建征询" in listing
    assert "征询意见" in listing

    # A form without the CSRF token changes nothing.
    forged = await console.post("/console/consultations", data={**_form(token), "csrf_token": "x"})
    assert forged.status == 403
    bad = await console.post("/console/consultations", data=_form(token, buildings="25号楼"))
    assert bad.status == 422
    assert "没有这些楼：25号楼" in await bad.text()
    assert await console.app[appkeys.CONSULTATIONS].all("puxiong") == []

    made = await console.post("/console/consultations", data=_form(token), allow_redirects=False)
    assert made.status == 303
    detail_path = made.headers["Location"]
    edit = await console.post(
        f"{detail_path}/edit",
        data=_form(token, plan="拟整体更换20号楼电梯。\n施工期约60天。"),
        allow_redirects=False,
    )
    assert edit.status == 303
    page = await (await console.get(detail_path)).text()
    assert "施工期约60天" in page
    assert "草稿" in page
    published = await console.post(f"{detail_path}/publish", data={"csrf_token": token})
    page = await published.text()
    assert "投票中" in page
    assert "应参与 3 户" in page

    voter = Resident(console, "r1", name="居民r1")
    reply = await voter.say("投票 1")
    assert "已记录您家的投票：同意" in reply["replies"][0]["text"]
    page = await (await console.get(detail_path)).text()
    assert "已投票 1 户（58.5 ㎡）" in page
    assert "聊天" in page

    reminded = await console.post(f"{detail_path}/remind", data={"csrf_token": token})
    assert "第 1 次提醒：提醒 1 户" in await reminded.text()
    closed = await console.post(f"{detail_path}/close", data={"csrf_token": token})
    page = await closed.text()
    assert "最终结果" in page
    assert "未通过" in page  # 1 of 3 households took part

    printed = await console.get(f"{detail_path}/print")
    assert printed.status == 200
    text = await printed.text()
    assert "各户投票" in text
    assert "普雄馨苑20号楼801室" in text
    download = await console.get(f"{detail_path}/export.xlsx")
    assert download.status == 200
    assert "attachment" in download.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await download.read()))
    summary = {r[0]: r[1] for r in book["结果"].iter_rows(values_only=True) if r[0]}
    assert summary["应参与户数"] == 3
    assert summary["实际参与户数"] == 1
    assert summary["应参与面积（㎡）"] == 267.0
    audit = await (await console.get(detail_path)).text()
    assert audit.count("导出") >= 2

    # Another committee (a street admin choosing it) sees no such consultation.
    await console.post("/console/logout", data={"csrf_token": token})
    await login(console, "street")
    cid = detail_path.rsplit("/", 1)[1]
    assert (await console.get(f"/console/consultations/{cid}?committee=other")).status == 404


@EMBEDDED_ONLY
async def test_a_secret_ballot_shows_only_counts(console: Client) -> None:
    await _setup_households(console)
    token = await login(console)
    made = await console.post(
        "/console/consultations", data=_form(token, secret="1"), allow_redirects=False
    )
    detail_path = made.headers["Location"]
    await console.post(f"{detail_path}/publish", data={"csrf_token": token})
    await Resident(console, "r2", name="居民r2").say("投票 2")
    page = await (await console.get(detail_path)).text()
    assert "不记名" in page
    assert "已投" in page
    households = page.split('id="consultation-households"', 1)[1].split("</table>", 1)[0]
    assert "不同意" not in households
    printed = await (await console.get(f"{detail_path}/print")).text()
    assert "只公布票数" in printed
    assert "普雄馨苑20号楼802室" not in printed

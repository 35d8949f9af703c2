"""The console's 户与门牌 pages: an admin imports a file (a bad row imports nothing and is
named), a caseworker verifies a resident's chat binding, keeps labels, hands out a one-time
code the resident then uses; the access log shows who looked at what."""

from __future__ import annotations

from typing import Any

from aiohttp import FormData

from bot import appkeys
from bot.accounts.http import ACCOUNTS as ACCOUNTS_KEY

from .conftest import EMBEDDED_ONLY, PASSWORD, Client, Resident, csrf_from, login

CSV = "小区,楼号,门牌,面积,标签\n普雄馨苑,20,1201,58.5,独居\n普雄馨苑,20,1202,60,\n"


async def _upload(console: Client, token: str, text: str) -> Any:
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", text.encode("utf-8"), filename="户.csv", content_type="text/csv")
    return await console.post("/console/households/import", data=form, allow_redirects=False)


@EMBEDDED_ONLY
async def test_import_verify_label_code_and_log_in_the_console(console: Client) -> None:
    await console.app[ACCOUNTS_KEY].add_user("admin1", "admin", "puxiong", PASSWORD, "赵主任")
    token = await login(console, "admin1")
    bad = await _upload(console, token, CSV + "普雄馨苑,20,1201室,,\n")
    assert bad.status == 422
    page = await bad.text()
    assert "没有导入任何内容" in page
    assert "第 4 行：与第 2 行是同一户（门牌重复）" in page
    assert await console.app[appkeys.HOUSEHOLDS].store.households("puxiong") == []
    done = await _upload(console, token, CSV)
    assert done.status == 303
    listing = await (await console.get(done.headers["Location"])).text()
    assert "新增2户" in listing
    assert "普雄馨苑20号楼1201室" in listing

    resident = Resident(console, "r1", name="王阿姨")
    await resident.say("绑定门牌")
    await resident.say("同意")
    claimed = await resident.say("普雄馨苑20号楼1202")
    assert "待核实" in claimed["replies"][0]["text"]

    await console.post("/console/logout", data={"csrf_token": token})
    token = await login(console, "wangfang")
    listing = await (await console.get("/console/households")).text()
    assert "待核实的门牌绑定（1）" in listing
    store = console.app[appkeys.HOUSEHOLDS].store
    (binding,) = await store.bindings("puxiong")
    resp = await console.post(
        f"/console/household-bindings/{binding.id}/verify",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status == 303
    page = await (await console.get(resp.headers["Location"])).text()
    assert "已核实" in page
    assert "社工核实" in page

    # Labels and a one-time code for the other household; the code is shown once.
    households = await store.households("puxiong")
    lonely = next(h for h in households if h.room == "1201室")
    path = f"/console/households/{lonely.id}"
    token = await csrf_from(console, path)
    await console.post(path + "/labels", data={"csrf_token": token, "labels": "独居、高龄"})
    assert (await store.household("puxiong", lonely.id)).labels == ("独居", "高龄")  # type: ignore[union-attr]
    resp = await console.post(path + "/codes", data={"csrf_token": token}, allow_redirects=False)
    code = resp.headers["Location"].rsplit("code=", 1)[1]
    assert code.isdigit()
    assert len(code) == 8
    neighbour = Resident(console, "r2", name="李先生")
    await neighbour.say("绑定门牌")
    await neighbour.say("同意")
    await neighbour.say("普雄馨苑20号楼1201")
    verified = await neighbour.say(f"验证码 {code}")
    assert "验证成功" in verified["replies"][0]["text"]

    # Caseworkers cannot read the access log; the admin sees every access.
    assert (await console.get("/console/households/access-log")).status == 403
    await console.post("/console/logout", data={"csrf_token": token})
    await login(console, "admin1")
    log_page = await (await console.get("/console/households/access-log")).text()
    for action in ("导入", "核实绑定", "修改标签", "生成验证码", "查看户信息"):
        assert action in log_page
    assert "王芳" in log_page

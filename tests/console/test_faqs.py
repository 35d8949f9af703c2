"""The FAQ editor through the real application: an admin creates, edits and reverts an entry
and the bot answers from it at once; caseworkers only read; committee scoping, CSRF,
validation, escaping; CSV/XLSX import and export; the match preview."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import openpyxl
import pytest
from aiohttp import FormData

from bot import appkeys
from bot.accounts.http import ACCOUNTS
from bot.retrieval.corpus import COLUMNS

from .conftest import EMBEDDED_ONLY, HOOK, PASSWORD, Client, Resident, login

QUESTION = "社区图书角周末开放吗？"
ALTERNATES = ["图书角周六周日开门吗", "社区图书室周末能借书吗", "周末可以去图书角看书吗"]
GENERAL = "社区图书角周六上午9点到11点开放，可凭身份证借书。"
YANNING = "燕宁苑的图书角设在会所二楼，周末全天开放。"
CHANGED = "社区图书角周六、周日上午9点到11点都开放，借书请带身份证。"


@pytest.fixture
async def admin_console(console: Client) -> Client:
    await console.app[ACCOUNTS].add_user("lizhuren", "admin", "puxiong", PASSWORD, "李主任")
    return console


def entry_form(token: str, **fields: Any) -> list[tuple[str, str]]:
    """The edit form as a browser posts it (repeated ``compounds``)."""
    base: dict[str, Any] = {
        "topic": "community",
        "question": QUESTION,
        "alternates": "\n".join(ALTERNATES),
        "answer": GENERAL,
        "materials": "身份证",
        "tags": "图书角，借书",
        "valid_from": "",
        "valid_until": "",
        "source": "",
    }
    base.update(fields)
    form = [("csrf_token", token)]
    for key, value in base.items():
        if isinstance(value, list):
            form.extend((key, v) for v in value)
        else:
            form.append((key, value))
    return form


async def group_say(client: Client, chat: str, text: str) -> dict[str, Any]:
    """A resident of a compound's group chat @-mentions the bot."""
    body = {
        "message_id": f"{chat}-{time.monotonic_ns()}",
        "chat": {"id": chat, "type": "group"},
        "sender": {"id": "g-resident", "name": "燕宁苑居民"},
        "text": text,
        "mentioned": True,
    }
    resp = await client.post(
        "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {HOOK}"}
    )
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


def reply_text(data: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in data["replies"])


async def create(client: Client, token: str, **fields: Any) -> str:
    resp = await client.post(
        "/console/faqs/new", data=entry_form(token, **fields), allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    location = resp.headers["Location"]
    match = re.match(r"/console/faqs/([^?]+)\?saved=1$", location)
    assert match, location
    return match.group(1)


async def test_an_admin_creates_edits_and_reverts_an_entry_and_the_bot_follows(
    admin_console: Client,
) -> None:
    client = admin_console
    resident = Resident(client, "faq1")
    before = await resident.say(QUESTION)
    assert GENERAL not in reply_text(before)

    token = await login(client, "lizhuren")
    form = await (await client.get("/console/faqs/new")).text()
    assert 'id="faq-form"' in form
    assert 'name="variant_answer_yanningyuan"' in form
    faq_id = await create(
        client,
        token,
        id="library-weekend",
        variant_answer_yanningyuan=YANNING,
        variant_materials_yanningyuan="业主卡",
    )
    assert faq_id == "library-weekend"

    # Live at once: the save returned after this process's index was rebuilt. Answers
    # differ by compound, so a resident whose compound is unknown is asked for it first.
    asked = reply_text(await resident.say(ALTERNATES[1]))
    assert "请问您住在哪个小区" in asked
    assert GENERAL in reply_text(await resident.say("普陀一村"))
    in_yanning = reply_text(await group_say(client, "g-yanningyuan", QUESTION))
    assert YANNING in in_yanning
    assert "业主卡" in in_yanning
    assert GENERAL in reply_text(await group_say(client, "g-putuoyicun", QUESTION))

    page = await (await client.get(f"/console/faqs/{faq_id}?saved=1")).text()
    assert "已保存" in page
    assert 'id="faq-save"' in page
    assert YANNING in page

    saved = await client.post(
        f"/console/faqs/{faq_id}",
        data=entry_form(token, answer=CHANGED, variant_answer_yanningyuan=YANNING),
        allow_redirects=False,
    )
    assert saved.status == 303
    assert CHANGED in reply_text(await resident.say(QUESTION))

    page = await (await client.get(f"/console/faqs/{faq_id}")).text()
    history = page[page.index('id="faq-history"') :]
    assert "李主任（lizhuren）" in history
    assert "修改" in history
    assert "新建" in history
    assert GENERAL in history
    assert CHANGED in history
    revisions = [int(n) for n in re.findall(r'id="revert-(\d+)"', history)]
    assert len(revisions) == 1  # the current state needs no restore button
    created = revisions[0]

    reverted = await client.post(
        f"/console/faqs/{faq_id}/revert/{created}",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert reverted.status == 303
    answer = reply_text(await resident.say(QUESTION))
    assert GENERAL in answer
    assert CHANGED not in answer
    log = await client.app[appkeys.FAQS].history("puxiong", faq_id)
    assert [r.action for r in log] == ["create", "update", "revert"]
    assert log[-1].actor == "李主任（lizhuren）"

    deleted = await client.post(
        f"/console/faqs/{faq_id}/delete", data={"csrf_token": token}, allow_redirects=False
    )
    assert deleted.status == 303
    assert GENERAL not in reply_text(await resident.say(QUESTION))
    gone = await (await client.get(f"/console/faqs/{faq_id}")).text()
    assert "此条目已删除" in gone
    assert 'id="faq-save"' not in gone
    # Restoring any earlier version brings it back.
    restore = re.findall(r'id="revert-(\d+)"', gone)
    assert restore
    back = await client.post(
        f"/console/faqs/{faq_id}/revert/{restore[0]}",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert back.status == 303
    assert GENERAL in reply_text(await resident.say(QUESTION))


@EMBEDDED_ONLY
async def test_the_list_searches_and_filters(admin_console: Client) -> None:
    client = admin_console
    token = await login(client, "lizhuren")
    await create(client, token, id="library-weekend", variant_answer_xishahongbin=YANNING)
    await create(
        client,
        token,
        id="library-old",
        question="去年的图书角活动怎么报名？",
        alternates="",
        valid_until="2020-12-31",
    )
    await create(
        client,
        token,
        id="library-future",
        question="新图书馆什么时候开？",
        alternates="",
        valid_from="2099-01-01",
        compounds=["putuoyicun"],
    )

    listing = await client.get("/console/faqs")
    assert listing.status == 200
    page = await listing.text()
    assert 'name="q"' in page
    assert 'href="/console/faqs/library-weekend"' in page
    assert "已过期" in page
    assert "未生效" in page
    assert "有效" in page

    found = await (await client.get("/console/faqs", params={"q": "周六周日开门"})).text()
    assert "library-weekend" in found  # an alternate matches
    assert "library-old" not in found
    expired = await (await client.get("/console/faqs", params={"state": "expired"})).text()
    assert "library-old" in expired
    assert "library-weekend" not in expired
    upcoming = await (await client.get("/console/faqs", params={"state": "upcoming"})).text()
    assert "library-future" in upcoming
    # A compound sees general entries and its own; not entries of other compounds only.
    xisha = await (
        await client.get("/console/faqs", params={"compound": "xishahongbin", "q": "图书"})
    ).text()
    assert "library-weekend" in xisha
    assert "library-old" in xisha
    assert "library-future" not in xisha
    topic = await (await client.get("/console/faqs", params={"topic": "community"})).text()
    assert re.search(r"共 3 条", topic)


@EMBEDDED_ONLY
async def test_a_caseworker_reads_but_cannot_change(admin_console: Client) -> None:
    client = admin_console
    admin_token = await login(client, "lizhuren")
    faq_id = await create(client, admin_token, id="library-weekend")
    await client.post("/console/logout", data={"csrf_token": admin_token})

    token = await login(client, "wangfang")
    listing = await (await client.get("/console/faqs")).text()
    assert "library-weekend" in listing
    assert 'id="faq-new"' not in listing
    assert 'id="faq-import"' not in listing
    page = await client.get(f"/console/faqs/{faq_id}")
    assert page.status == 200
    text = await page.text()
    assert GENERAL in text
    assert 'id="faq-save"' not in text
    assert 'id="faq-delete"' not in text
    assert "revert-" not in text

    for path, data in (
        (f"/console/faqs/{faq_id}", entry_form(token, answer="社工改的答案")),
        (f"/console/faqs/{faq_id}/delete", [("csrf_token", token)]),
        ("/console/faqs/new", entry_form(token, id="by-caseworker")),
    ):
        refused = await client.post(path, data=data)
        assert refused.status == 403, path
        assert "没有权限" in await refused.text()
    assert (await client.get("/console/faqs/new")).status == 403
    entry = await client.app[appkeys.FAQS].entry("puxiong", faq_id)
    assert entry is not None
    assert entry.answer == GENERAL
    assert await client.app[appkeys.FAQS].entry("puxiong", "by-caseworker") is None


@EMBEDDED_ONLY
async def test_another_committees_faq_is_not_found_and_forms_need_csrf(
    admin_console: Client,
) -> None:
    client = admin_console
    store = client.app[appkeys.FAQ_STORE]
    other = {"id": "jn-secret", "question": "江宁的内部问题", "answer": "江宁居委会的答案"}
    await store.upsert_many("jiangning", [other], actor="seed")
    token = await login(client, "lizhuren")

    seen = await client.get("/console/faqs/jn-secret")
    assert seen.status == 404
    assert "江宁居委会的答案" not in await seen.text()
    post = await client.post("/console/faqs/jn-secret", data=entry_form(token))
    assert post.status == 404
    assert (await client.get("/console/faqs/jn-secret/preview")).status == 404
    # No id holds NUL or slashes: a clear 404, never a store error.
    assert (await client.get("/console/faqs/a%00b")).status == 404
    assert (await client.get("/console/faqs/a%00b/preview")).status == 404
    assert (await store.get("jiangning", "jn-secret")).data["answer"] == "江宁居委会的答案"  # type: ignore[union-attr]

    refused = await client.post("/console/faqs/new", data=entry_form("")[1:])
    assert refused.status == 403
    assert "CSRF" in await refused.text()
    forged = await client.post("/console/faqs/new", data=entry_form("forged"))
    assert forged.status == 403
    assert "社区图书角" not in await (await client.get("/console/faqs")).text()

    await client.post("/console/logout", data={"csrf_token": token})
    await login(client, "street")
    picker = await (await client.get("/console/faqs")).text()
    assert "/console/faqs?committee=puxiong" in picker
    assert (await client.get("/console/faqs?committee=puxiong")).status == 200
    assert (await client.get("/console/faqs?committee=jiangning")).status == 404
    assert (await client.get("/console/faqs/jn-secret?committee=jiangning")).status == 404


@EMBEDDED_ONLY
async def test_invalid_input_is_shown_in_chinese_and_kept(admin_console: Client) -> None:
    client = admin_console
    token = await login(client, "lizhuren")
    typed = "我输入的<b>相似问法</b>"
    resp = await client.post(
        "/console/faqs/new",
        data=entry_form(
            token,
            question="  ",
            alternates=typed,
            valid_from="2026-05-01",
            valid_until="2026-04-01",
            variant_materials_yanningyuan="只写了材料",
            id="bad id!",
        ),
    )
    assert resp.status == 422
    page = await resp.text()
    assert "问题不能为空" in page
    assert "失效日期不能早于生效日期" in page
    assert "编号只能使用英文字母" in page
    assert "请同时填写这个小区的答案" in page
    assert "我输入的&lt;b&gt;相似问法&lt;/b&gt;" in page  # kept, escaped
    assert "只写了材料" in page
    assert await client.app[appkeys.FAQ_STORE].get("puxiong", "bad id!") is None

    faq_id = await create(client, token, id="library-weekend")
    edit = await client.post(
        f"/console/faqs/{faq_id}", data=entry_form(token, answer="", valid_from="明天")
    )
    assert edit.status == 422
    text = await edit.text()
    assert "答案不能为空" in text
    assert "请填写有效日期" in text
    entry = await client.app[appkeys.FAQS].entry("puxiong", faq_id)
    assert entry is not None
    assert entry.answer == GENERAL


@EMBEDDED_ONLY
async def test_script_in_a_question_is_escaped(admin_console: Client) -> None:
    client = admin_console
    token = await login(client, "lizhuren")
    faq_id = await create(client, token, id="xss", question="<script>alert(1)</script>图书角")
    for path in ("/console/faqs", f"/console/faqs/{faq_id}"):
        page = await (await client.get(path)).text()
        assert "<script>alert(1)" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;图书角" in page, path


async def test_import_is_all_or_nothing_and_reads_bom_and_gbk(admin_console: Client) -> None:
    client = admin_console
    token = await login(client, "lizhuren")
    faqs = client.app[appkeys.FAQS]
    count = len(await faqs.entries("puxiong"))

    def upload(name: str, content: bytes) -> FormData:
        form = FormData()
        form.add_field("csrf_token", token)
        form.add_field("file", content, filename=name, content_type="application/octet-stream")
        return form

    bad = "编号,问题,答案\nlib-a,社区图书角在哪,在居委会二楼\nlib-b,,没有问题的答案\n"
    resp = await client.post("/console/faqs/import", data=upload("图书.csv", bad.encode()))
    assert resp.status == 422
    page = await resp.text()
    assert "没有导入任何内容" in page
    assert "第 3 行：问题不能为空" in page
    assert len(await faqs.entries("puxiong")) == count
    assert await faqs.entry("puxiong", "lib-a") is None

    good = "编号,问题,答案,小区\nlib-a,社区图书角在哪,在居委会二楼,\nlib-a,,燕宁苑在会所,燕宁苑\n"
    resp = await client.post(
        "/console/faqs/import",
        data=upload("图书.csv", good.encode("utf-8-sig")),
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    done = await (await client.get(resp.headers["Location"])).text()
    assert "导入成功：新增 1 条" in done
    entry = await faqs.entry("puxiong", "lib-a")
    assert entry is not None
    assert entry.variants["yanningyuan"].answer == "燕宁苑在会所"
    assert "在居委会二楼" in reply_text(await group_say(client, "g-putuoyicun", "社区图书角在哪"))
    assert "燕宁苑在会所" in reply_text(await group_say(client, "g-yanningyuan", "社区图书角在哪"))

    gbk = "编号,问题,答案\nlib-b,社区图书角能捐书吗,可以，捐到居委会\n"
    resp = await client.post(
        "/console/faqs/import", data=upload("gbk.csv", gbk.encode("gbk")), allow_redirects=False
    )
    assert resp.status == 303
    gbk_entry = await faqs.entry("puxiong", "lib-b")
    assert gbk_entry is not None
    assert gbk_entry.question == "社区图书角能捐书吗"

    wrong = await client.post("/console/faqs/import", data=upload("faq.txt", b"x"))
    assert wrong.status == 422
    assert "只能导入 .csv 或 .xlsx 文件" in await wrong.text()


@EMBEDDED_ONLY
async def test_xlsx_and_csv_export_round_trip(admin_console: Client) -> None:
    client = admin_console
    token = await login(client, "lizhuren")
    await create(client, token, id="library-weekend", variant_answer_yanningyuan=YANNING)
    faqs = client.app[appkeys.FAQS]
    before = {e.id: e for e in await faqs.entries("puxiong")}

    csv_resp = await client.get("/console/faqs/export", params={"format": "csv"})
    assert csv_resp.status == 200
    assert csv_resp.headers["Content-Type"].startswith("text/csv")
    assert re.match(
        r'attachment; filename="faq-puxiong-\d{8}\.csv"', csv_resp.headers["Content-Disposition"]
    )
    csv_bytes = await csv_resp.read()
    assert csv_bytes.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM correctly
    assert QUESTION in csv_bytes.decode("utf-8-sig")

    xlsx = await client.get("/console/faqs/export", params={"format": "xlsx"})
    assert xlsx.status == 200
    assert xlsx.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx.headers["Content-Disposition"].endswith('.xlsx"')
    data = await xlsx.read()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == list(COLUMNS)

    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", data, filename="faq.xlsx")
    resp = await client.post("/console/faqs/import", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert "created=0&updated=0" in resp.headers["Location"]
    after = {e.id: e for e in await faqs.entries("puxiong")}
    assert after == before
    assert after["library-weekend"].variants["yanningyuan"].answer == YANNING
    assert (await client.get("/console/faqs/export", params={"format": "pdf"})).status == 400


@EMBEDDED_ONLY
async def test_a_new_entry_from_unanswered_messages_and_its_preview(
    admin_console: Client,
) -> None:
    client = admin_console
    resident = Resident(client, "pv1")
    await resident.say(ALTERNATES[0])
    await resident.say("今天天气怎么样")
    log = client.app[appkeys.MESSAGE_LOG]
    asked = [r for r in await log.recent_inbound("puxiong") if r.text == ALTERNATES[0]]
    assert asked
    ids = ",".join(str(r.id) for r in asked)

    token = await login(client, "lizhuren")
    prefill = await client.get(
        "/console/faqs/new",
        params=[("question", QUESTION), ("alternate", ALTERNATES[0]), ("message_ids", ids)],
    )
    page = await prefill.text()
    assert f'value="{QUESTION}"' in page
    assert ALTERNATES[0] in page
    assert f'name="message_ids" value="{ids}"' in page

    form = entry_form(token, alternates=ALTERNATES[0])
    form.append(("message_ids", ids))
    resp = await client.post("/console/faqs/new", data=form, allow_redirects=False)
    assert resp.status == 303
    faq_id = resp.headers["Location"].split("/")[-1].split("?")[0]
    unreviewed = await log.recent_inbound("puxiong", include_reviewed=False)
    assert not [r for r in unreviewed if r.text == ALTERNATES[0]]

    edit = await (await client.get(f"/console/faqs/{faq_id}")).text()
    assert f'data-src="/console/faqs/{faq_id}/preview?fragment=1"' in edit
    preview = await client.get(f"/console/faqs/{faq_id}/preview", params={"fragment": "1"})
    assert preview.status == 200
    fragment = await preview.text()
    assert "<html" not in fragment
    assert ALTERNATES[0] in fragment
    assert "直接回答" in fragment
    assert "今天天气怎么样" not in fragment

    trial = await (
        await client.get(
            f"/console/faqs/{faq_id}/preview",
            params={"q": "周末图书角开不开", "compound": "yanningyuan"},
        )
    ).text()
    assert "<html" in trial
    assert 'id="faq-trial"' in trial
    assert "本条目" in trial

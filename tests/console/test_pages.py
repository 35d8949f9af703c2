"""The console's work pages through the real application: inbox, conversation and ticket
pages, their forms (CSRF, committee scoping) and escaping of resident text."""

from __future__ import annotations

import re
from urllib.parse import quote

from bot import appkeys
from bot.domain.tickets import TicketStatus
from bot.storage.conversations import Conversation, Mode

from .conftest import EMBEDDED_ONLY, Client, Resident, csrf_from, login, tickets_of

EMERGENCY = "普雄馨苑20号楼电梯突然从8楼滑到7楼，门都变形了"


def conv_path(key: str) -> str:
    return "/console/conversations/" + quote(key, safe=":")


async def test_inbox_lists_a_waiting_conversation_and_an_emergency_ticket(
    console: Client,
) -> None:
    waiting = Resident(console, "u1", name="赵老师")
    assert [r["kind"] for r in (await waiting.say("我要找社工，转人工"))["replies"]] == ["handoff"]
    alarmed = Resident(console, "u2", name="李师傅")
    data = await alarmed.say(EMERGENCY)
    number = data["ticket"]["number"]
    await login(console)

    resp = await console.get("/console/")
    assert resp.status == 200
    page = await resp.text()
    assert "赵老师" in page
    assert conv_path(waiting.key()) in page
    assert "等待社工" in page
    assert f'/console/tickets/{number}"' in page
    assert "紧急求助" in page  # category label
    assert "紧急</span>" in page  # priority label
    assert "截止" in page
    assert re.search(r'data-due="\d{4}-\d\d-\d\dT', page)
    assert "sla-ok" in page or "sla-due_soon" in page
    assert 'data-events-url="/console/events"' in page
    assert "inbox.js" in page


@EMBEDDED_ONLY
async def test_a_street_admin_picks_a_committee(console: Client) -> None:
    await login(console, "street")
    picker = await (await console.get("/console/")).text()
    assert "选择居委会" in picker
    assert "/console/?committee=puxiong" in picker
    inbox = await console.get("/console/?committee=puxiong")
    assert inbox.status == 200
    assert "/console/events?committee=puxiong" in await inbox.text()
    unknown = await console.get("/console/?committee=nowhere")
    assert unknown.status == 404


async def test_take_over_reply_and_release_through_the_forms(console: Client) -> None:
    resident = Resident(console, "u3")
    await resident.say("我要找社工，转人工")
    await resident.say("<script>alert('x')</script> 楼上漏水")
    token = await login(console)
    path = conv_path(resident.key())
    conversations = console.app[appkeys.CONVERSATIONS]

    page = await (await console.get(path)).text()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; 楼上漏水" in page
    assert "<script>alert" not in page
    assert "接手会话" in page

    taken = await console.post(
        f"{path}/takeover", data={"csrf_token": token}, allow_redirects=False
    )
    assert taken.status == 303
    assert taken.headers["Location"] == path
    conv = await conversations.get(resident.key())
    assert conv is not None
    assert conv.mode is Mode.HUMAN
    assert conv.assignee_name == "王芳"

    sent = await console.post(
        f"{path}/reply", data={"csrf_token": token, "text": "您好，我是社工王芳。"}
    )
    assert sent.status == 200
    assert "您好，我是社工王芳。" in await sent.text()
    history = await console.app[appkeys.MESSAGE_LOG].conversation(resident.key())
    assert [m.text for m in history if m.direction == "staff"] == ["您好，我是社工王芳。"]

    empty = await console.post(f"{path}/reply", data={"csrf_token": token, "text": "  "})
    assert empty.status == 422
    assert "回复内容不能为空" in await empty.text()

    released = await console.post(
        f"{path}/release", data={"csrf_token": token}, allow_redirects=False
    )
    assert released.status == 303
    conv = await conversations.get(resident.key())
    assert conv is not None
    assert conv.mode is Mode.BOT
    back = await resident.say("湿垃圾几点可以扔")
    assert back["replies"]


async def test_claim_note_transfer_and_resolve_a_ticket_through_the_forms(
    console: Client,
) -> None:
    data = await Resident(console, "u4", name="钱阿姨").say(EMERGENCY)
    number = data["ticket"]["number"]
    token = await login(console)
    path = f"/console/tickets/{number}"
    tickets = tickets_of(console)

    page = await (await console.get(path)).text()
    assert "受理此工单" in page
    assert "李军" in page  # a colleague to transfer to

    claimed = await console.post(f"{path}/claim", data={"csrf_token": token}, allow_redirects=False)
    assert claimed.status == 303
    ticket = await tickets.queries.get("puxiong", number)
    assert ticket.status is TicketStatus.CLAIMED
    assert ticket.assignee is not None
    assert ticket.assignee.name == "王芳"

    noted = await console.post(
        f"{path}/note", data={"csrf_token": token, "text": "<b>已联系物业</b>"}
    )
    assert noted.status == 200
    assert "&lt;b&gt;已联系物业&lt;/b&gt;" in await noted.text()

    page = await (await console.get(path)).text()
    lijun_id = re.search(r'<option value="(\d+)">李军</option>', page)
    assert lijun_id
    moved = await console.post(
        f"{path}/transfer", data={"csrf_token": token, "to_id": lijun_id.group(1)}
    )
    assert moved.status == 200
    ticket = await tickets.queries.get("puxiong", number)
    assert ticket.assignee is not None
    assert ticket.assignee.name == "李军"

    working = await console.post(
        f"{path}/status", data={"csrf_token": token, "status": "in_progress", "note": "已派维保"}
    )
    assert working.status == 200
    assert (await tickets.queries.get("puxiong", number)).status is TicketStatus.IN_PROGRESS
    told = await console.post(
        f"{path}/note", data={"csrf_token": token, "text": "维保人员已到场。", "public": "1"}
    )
    assert told.status == 200
    notes = [e for e in await tickets.queries.history("puxiong", number) if e.kind.value == "note"]
    assert [e.public for e in notes] == [False, True]
    bogus = await console.post(f"{path}/status", data={"csrf_token": token, "status": "claimed"})
    assert bogus.status == 422

    stranger = await console.post(f"{path}/transfer", data={"csrf_token": token, "to_id": "999"})
    assert stranger.status == 422

    resolved = await console.post(
        f"{path}/resolve", data={"csrf_token": token, "summary": "电梯已由维保单位检修完毕。"}
    )
    assert resolved.status == 200
    ticket = await tickets.queries.get("puxiong", number)
    assert ticket.status is TicketStatus.RESOLVED
    page = await resolved.text()
    assert "电梯已由维保单位检修完毕。" in page
    assert "受理此工单" not in page

    again = await console.post(f"{path}/resolve", data={"csrf_token": token, "summary": "再次"})
    assert again.status == 409


@EMBEDDED_ONLY
async def test_another_committees_conversation_or_ticket_is_not_found(console: Client) -> None:
    other = Conversation(
        key="jiangning:webhook:default:p:x1",
        committee="jiangning",
        channel="webhook",
        account="default",
        chat_id="p-x1",
        chat_type="private",
        sender_id="x1",
        sender_name="外居委会居民",
        mode=Mode.WAITING,
    )
    await console.app[appkeys.CONVERSATIONS].save(other)
    token = await login(console)

    seen = await console.get(conv_path(other.key))
    assert seen.status == 404
    page = await seen.text()
    assert "页面不存在" in page
    assert "外居委会居民" not in page
    takeover = await console.post(f"{conv_path(other.key)}/takeover", data={"csrf_token": token})
    assert takeover.status == 404
    assert (await console.app[appkeys.CONVERSATIONS].get(other.key)).mode is Mode.WAITING  # type: ignore[union-attr]

    assert (await console.get("/console/tickets/JN-20260101-0001")).status == 404
    claim = await console.post(
        "/console/tickets/JN-20260101-0001/claim", data={"csrf_token": token}
    )
    assert claim.status == 404
    data = await Resident(console, "u5").say(EMERGENCY)
    await login(console, "street")
    number = data["ticket"]["number"]
    assert (await console.get(f"/console/tickets/{number}?committee=puxiong")).status == 200
    assert (await console.get(f"/console/tickets/{number}?committee=jiangning")).status == 404
    assert (await console.get(f"/console/tickets/{number}")).status == 404


@EMBEDDED_ONLY
async def test_a_form_without_the_csrf_token_is_refused(console: Client) -> None:
    resident = Resident(console, "u6")
    await resident.say("我要找社工，转人工")
    data = await Resident(console, "u7").say(EMERGENCY)
    await login(console)
    path = conv_path(resident.key())

    refused = await console.post(f"{path}/takeover", data={}, allow_redirects=False)
    assert refused.status == 403
    assert "CSRF" in await refused.text()
    forged = await console.post(f"{path}/reply", data={"csrf_token": "forged", "text": "hi"})
    assert forged.status == 403
    conv = await console.app[appkeys.CONVERSATIONS].get(resident.key())
    assert conv is not None
    assert conv.mode is Mode.WAITING

    number = data["ticket"]["number"]
    claim = await console.post(f"/console/tickets/{number}/claim", data={})
    assert claim.status == 403
    assert (await tickets_of(console).queries.get("puxiong", number)).status is TicketStatus.NEW
    assert await csrf_from(console, f"/console/tickets/{number}")


@EMBEDDED_ONLY
async def test_pages_need_a_login(console: Client) -> None:
    resp = await console.get("/console/tickets/PX-1", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/console/login?next=")
    events = await console.get("/console/events", allow_redirects=False)
    assert events.status == 303


@EMBEDDED_ONLY
async def test_a_reply_can_be_drafted_from_the_faq(console: Client) -> None:
    resident = Resident(console, "u8")
    await resident.say("我要找社工，转人工")
    await resident.say("嗯")  # the bot stays silent; nothing in the FAQ answers this
    await login(console)
    path = conv_path(resident.key())
    nothing = await (await console.get(f"{path}?draft=faq")).text()
    assert "没有找到与居民最后一条消息相符的问答" in nothing
    await resident.say("湿垃圾几点可以扔")
    page = await (await console.get(f"{path}?draft=faq")).text()
    assert "草稿来自常见问题「" in page
    draft = re.search(r'<textarea id="reply-text"[^>]*>([^<]+)</textarea>', page)
    assert draft
    assert draft.group(1).strip()
    history = await console.app[appkeys.MESSAGE_LOG].conversation(resident.key())
    assert not [m for m in history if m.direction == "staff"]  # drafted, not sent

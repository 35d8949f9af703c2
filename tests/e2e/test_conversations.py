"""Scenario tests of the committee's work, through the real HTTP server on both store
back-ends: tickets by conversation, emergencies, handoff, status, satisfaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from channel_helpers import ROBOT_KEY, Platform, mp_text, mp_xml, plain_query, xml_fields
from conversation_helpers import (
    PUSH_PATH,
    ROBOT_PATH,
    Resident,
    caseworker_token,
    kinds,
    texts,
)

from bot import appkeys
from bot.domain import Chat, ChatType, IncomingMessage, Sender
from bot.domain.tickets import TicketStatus


async def test_repair_in_one_message_with_everything_given(bot: Any) -> None:
    resident = Resident(bot, "u1")
    data = await resident.say("普陀一村5号楼302室卫生间水龙头坏了关不紧，电话13800138000")
    assert kinds(data) == ["ticket"]
    ticket = data["ticket"]
    assert ticket["number"].startswith("PX-")
    assert ticket["status"] == "new"
    stored = await bot.app[appkeys.TICKETS].queries.get("puxiong", ticket["number"])
    assert stored.compound == "putuoyicun"
    assert stored.building == "5号楼"
    assert stored.room == "302室"
    assert stored.reporter.phone == "13800138000"
    assert ticket["number"] in texts(data)
    assert "预计" in texts(data)


async def test_repair_over_several_turns_with_a_correction(bot: Any) -> None:
    resident = Resident(bot, "u2")
    first = await resident.say("我要报修")
    assert kinds(first) == ["slot"]
    assert "什么问题" in texts(first)
    where = await resident.say("楼道灯不亮了，晚上黑乎乎的")
    assert "哪个小区" in texts(where)
    building = await resident.say("普陀一村")
    assert "几号楼" in texts(building)
    phone = await resident.say("3号楼")
    assert "联系电话" in texts(phone)
    corrected = await resident.say("不对，是5号楼")
    assert "5号楼" in texts(corrected)
    assert "联系电话" in texts(corrected)
    done = await resident.say("13800138000")
    assert done["ticket"] is not None
    stored = await bot.app[appkeys.TICKETS].queries.get("puxiong", done["ticket"]["number"])
    assert (stored.compound, stored.building) == ("putuoyicun", "5号楼")
    assert "楼道灯" in stored.description
    again = await resident.say("谢谢")
    assert again["ticket"] is None


async def test_a_resident_can_cancel_the_report(bot: Any) -> None:
    resident = Resident(bot, "u3")
    await resident.say("我想报修")
    await resident.say("厨房的下水道堵了")
    cancelled = await resident.say("算了")
    assert "已取消" in texts(cancelled)
    assert await bot.app[appkeys.TICKETS].queries.inbox("puxiong") == []
    # The next message is a fresh start, not a slot answer.
    hello = await resident.say("你好")
    assert kinds(hello) == ["smalltalk"]


async def test_an_emergency_in_a_group_alerts_staff_before_the_reply(
    bot: Any, platform: Platform
) -> None:
    neighbour = Resident(bot, "u4", chat="g-puxiongxinyuan", group=True, name="李师傅")
    # Not even addressed to the bot: safety comes first.
    data = await neighbour.say("20号楼电梯突然从8楼滑到7楼，门都变形了", mentioned=False)
    replied_at = neighbour.log[-1][0]
    assert kinds(data) == ["emergency"]
    assert data["ticket"]["priority"] == "urgent"
    assert "110" in texts(data)
    assert "警铃" in texts(data)
    pushes = platform.of(ROBOT_PATH)
    assert pushes, "the staff group robot was not alerted before the reply returned"
    params, sent = pushes[0]
    assert params["key"] == ROBOT_KEY
    assert "普雄馨苑" in sent["text"]["content"]
    assert "紧急" in sent["text"]["content"]
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", data["ticket"]["number"])
    assert ticket.category.value == "emergency"
    assert ticket.compound == "puxiongxinyuan"
    assert replied_at >= 0


async def test_a_caseworker_can_take_over_from_a_resident_whose_first_message_is_an_emergency(
    bot: Any,
) -> None:
    token = await caseworker_token(bot)
    auth = {"Authorization": f"Bearer {token}"}
    stranger = Resident(bot, "u-first", name="")
    data = await stranger.say("燕宁苑4号楼电梯困人了，有人被关在里面")
    assert kinds(data) == ["emergency"]
    path = f"/api/v1/conversations/{stranger.key()}"
    for _ in range(100):  # the record is written in the background, after the reply
        resp = await bot.get(path, headers=auth)
        if resp.status == 200:
            break
        await asyncio.sleep(0.05)
    assert resp.status == 200, "the emergency left no conversation to open from the console"
    assert (await resp.json())["compound"] == "yanningyuan"
    taken = await bot.post(f"{path}/takeover", headers=auth)
    assert taken.status == 200
    assert (await taken.json())["mode"] == "human"


async def test_two_reports_of_the_same_lift_fault_are_linked(bot: Any) -> None:
    first = Resident(bot, "u5", name="赵老师")
    second = Resident(bot, "u6", name="钱阿姨")
    a = await first.say("普雄馨苑20号楼电梯按钮坏了，按了没反应，电话13800138000")
    b = await second.say("普雄馨苑20号楼的电梯按键失灵了，不用留电话")
    tickets = bot.app[appkeys.TICKETS]
    if b["ticket"] is None:
        b = await second.say("不用")
    t1 = await tickets.queries.get("puxiong", a["ticket"]["number"])
    t2 = await tickets.queries.get("puxiong", b["ticket"]["number"])
    assert t1.number != t2.number
    assert t1.number in t2.links
    assert t2.number in t1.links
    assert a["ticket"]["number"] in texts(b)


async def test_handoff_and_release_with_the_bot_silent_in_between(
    bot: Any, platform: Platform
) -> None:
    token = await caseworker_token(bot)
    auth = {"Authorization": f"Bearer {token}"}
    resident = Resident(bot, "u7")
    handed = await resident.say("我要找社工，转人工")
    assert kinds(handed) == ["handoff"]
    waiting = await bot.get("/api/v1/conversations?mode=waiting", headers=auth)
    assert [c["key"] for c in (await waiting.json())["conversations"]] == [resident.key()]
    silent = await resident.say("湿垃圾几点可以扔")
    assert silent["replies"] == []
    taken = await bot.post(f"/api/v1/conversations/{resident.key()}/takeover", headers=auth)
    assert (await taken.json())["mode"] == "human"
    still_silent = await resident.say("你好，在吗")
    assert still_silent["replies"] == []
    sent = await bot.post(
        f"/api/v1/conversations/{resident.key()}/reply",
        json={"text": "王阿姨您好，我是社工张敏，您说的情况我来处理。"},
        headers=auth,
    )
    assert (await sent.json())["delivery"] == "active"
    await platform.wait_for(PUSH_PATH)
    _, pushed = platform.of(PUSH_PATH)[0]
    assert pushed["text"].startswith("王阿姨您好")
    assert pushed["recipient"]["id"] == "u7"
    released = await bot.post(f"/api/v1/conversations/{resident.key()}/release", headers=auth)
    assert (await released.json())["mode"] == "bot"
    back = await resident.say("湿垃圾几点可以扔")
    assert back["replies"]
    history = await bot.get(f"/api/v1/conversations/{resident.key()}", headers=auth)
    directions = [m["direction"] for m in (await history.json())["messages"]]
    assert "staff" in directions
    assert directions.count("in") == 4


async def test_no_caseworker_available_gets_an_honest_answer_and_a_ticket(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(handoff_wait_s=0.2)
    resident = Resident(bot, "u8")
    await resident.say("转人工")
    await platform.wait_for(PUSH_PATH)
    _, pushed = platform.of(PUSH_PATH)[0]
    assert "工单" in pushed["text"]
    number = pushed["text"].split("工单 ")[1].split("，")[0]
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert ticket.category.value == "consultation"
    assert "转人工" in ticket.description
    conv = await bot.app[appkeys.CONVERSATIONS].get(resident.key())
    assert conv is not None
    assert conv.mode.value == "bot"
    answered = await resident.say("湿垃圾几点可以扔")
    assert answered["replies"]


async def test_ticket_status_lists_the_residents_open_tickets(bot: Any) -> None:
    resident = Resident(bot, "u9")
    none_yet = await resident.say("我报的修怎么样了")
    assert "没有正在办理" in texts(none_yet)
    made = await resident.say("燕宁苑3号楼1201室空调外机支架松了，不用留电话")
    if made["ticket"] is None:
        made = await resident.say("不用")
    number = made["ticket"]["number"]
    status = await resident.say("我报的修怎么样了")
    assert kinds(status) == ["status"]
    assert number in texts(status)
    assert "待受理" in texts(status)
    other = Resident(bot, "u10")
    stranger = texts(await other.say(f"{number} 怎么样了"))
    assert "没有找到" in stranger
    assert "待受理" not in stranger


async def test_dissatisfied_rating_reopens_the_ticket_and_alerts_the_assignee(
    bot: Any, platform: Platform
) -> None:
    token = await caseworker_token(bot)
    auth = {"Authorization": f"Bearer {token}"}
    resident = Resident(bot, "u11")
    made = await resident.say("普陀一村2号楼楼道的窗户玻璃碎了，不用留电话")
    if made["ticket"] is None:
        made = await resident.say("不用")
    number = made["ticket"]["number"]
    claimed = await bot.post(f"/api/v1/tickets/{number}/claim", headers=auth)
    assert claimed.status == 200
    resolved = await bot.post(
        f"/api/v1/tickets/{number}/resolve", json={"summary": "已更换玻璃"}, headers=auth
    )
    assert resolved.status == 200
    await platform.wait_for(PUSH_PATH, 2)
    told = [b["text"] for _, b in platform.of(PUSH_PATH)]
    assert any("已由社工张敏受理" in t for t in told)
    assert any("已办结" in t and "1 满意" in t for t in told)
    robot_before = len(platform.of(ROBOT_PATH))
    rated = await resident.say("3 玻璃还是松的")
    assert kinds(rated) == ["feedback"]
    assert "重新打开" in texts(rated)
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert ticket.status is TicketStatus.REOPENED
    alerts = platform.of(ROBOT_PATH)[robot_before:]
    assert any(number in b["text"]["content"] for _, b in alerts)


async def test_a_worker_restart_in_the_middle_of_slot_filling(
    start: Callable[..., Any],
) -> None:
    first_worker = await start()
    resident = Resident(first_worker, "u12")
    await resident.say("我要报修")
    await resident.say("家里的门锁坏了打不开")
    await first_worker.close()
    second_worker = await start()
    resident.client = second_worker
    asked = await resident.say("西沙洪滨小区")
    assert "几号楼" in texts(asked)
    await resident.say("7号楼")
    await resident.say("101室")
    done = await resident.say("不用")
    assert done["ticket"] is not None
    ticket = await second_worker.app[appkeys.TICKETS].queries.get(
        "puxiong", done["ticket"]["number"]
    )
    assert (ticket.compound, ticket.building, ticket.room) == ("xishahongbin", "7号楼", "101室")
    assert "门锁" in ticket.description


async def test_nonsense_at_every_slot_prompt_gets_a_human_not_a_loop(bot: Any) -> None:
    resident = Resident(bot, "u13")
    await resident.say("我要报修")
    replies = [await resident.say(t) for t in ("啊", "嗯嗯", "哦")]
    assert kinds(replies[-1])[-1] == "handoff"
    conv = await bot.app[appkeys.CONVERSATIONS].get(resident.key())
    assert conv is not None
    assert conv.mode.value == "waiting"


async def test_messages_of_one_resident_are_processed_one_at_a_time(bot: Any) -> None:
    resident = Resident(bot, "u14")
    await resident.say("我要报修")

    async def later(text: str) -> dict[str, Any]:
        await asyncio.sleep(0.02)
        return await resident.say(text)

    # Sent together: without the conversation lock both would read the same draft and one
    # answer would be lost; with it, whichever runs second sees the first one's slot.
    first, second = await asyncio.gather(resident.say("阳台的晾衣架掉下来了"), later("燕宁苑"))
    assert "几号楼" in texts(first) + texts(second)
    conv = await bot.app[appkeys.CONVERSATIONS].get(resident.key())
    assert conv is not None
    draft = conv.state["draft"]
    assert draft["compound"] == "yanningyuan"
    assert "晾衣架" in draft["description"]


async def test_the_try_page_shows_a_caseworkers_reply(bot: Any) -> None:
    token = await caseworker_token(bot)
    auth = {"Authorization": f"Bearer {token}"}
    said = await bot.post(
        "/try/messages",
        json={
            "message_id": "try-1",
            "chat": {"id": "try-private", "type": "private"},
            "sender": {"id": "try-abc", "name": "新居民"},
            "text": "转人工",
            "mentioned": True,
        },
    )
    assert (await said.json())["replies"][0]["kind"] == "handoff"
    key = "puxiong:webhook:try:p:try-abc"
    sent = await bot.post(
        f"/api/v1/conversations/{key}/reply", json={"text": "您好，我是社工张敏。"}, headers=auth
    )
    assert (await sent.json())["delivery"] == "pull"
    updates = await bot.get("/try/updates", params={"sender": "try-abc", "after": "0"})
    data = await updates.json()
    assert [m["text"] for m in data["messages"]] == ["您好，我是社工张敏。"]
    again = await bot.get("/try/updates", params={"sender": "try-abc", "after": str(data["last"])})
    assert (await again.json())["messages"] == []
    refused = await bot.get("/try/updates", params={"sender": "u7", "after": "0"})
    assert refused.status == 400


async def test_a_photo_sent_during_a_report_is_attached_to_the_ticket(bot: Any) -> None:
    async def send(xml: str) -> str:
        resp = await bot.post("/wechat/mp/plain", params=plain_query(), data=xml.encode())
        assert resp.status == 200
        body = await resp.text()
        return xml_fields(body)["Content"] if body.startswith("<xml>") else body

    assert "什么问题" in await send(mp_text("我要报修", msg_id="501"))
    assert "小区" in await send(mp_text("厨房水龙头坏了关不紧", msg_id="502"))
    photo = mp_xml(
        "image",
        "<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl>"
        "<MediaId><![CDATA[MEDIA-123]]></MediaId>",
        msg_id="503",
    )
    assert "收到照片" in await send(photo)
    for n, text in enumerate(["燕宁苑", "3号楼", "1201室"]):
        await send(mp_text(text, msg_id=f"51{n}"))
    done = await send(mp_text("不用", msg_id="520"))
    number = done.split("工单 ")[1].split("（")[0]
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert ticket.attachments == ("MEDIA-123",)


async def test_a_turn_saved_but_not_acknowledged_is_not_applied_twice(bot: Any) -> None:
    """The store failed after the conversation was saved (so the platform retries the same
    message): the retry gets the same answer and the dialogue does not move on twice."""
    pipeline = bot.app[appkeys.PIPELINE]

    def message(mid: str, text: str) -> IncomingMessage:
        return IncomingMessage(
            mid,
            "webhook",
            "default",
            "puxiong",
            Chat("p-u15", ChatType.PRIVATE),
            Sender("u15", "周先生"),
            text,
        )

    await pipeline.handle(message("a", "我要报修"))
    first = await pipeline.handle(message("b", "客厅的灯坏了"))
    retried = await pipeline.handle(message("b", "客厅的灯坏了"))
    assert [r.text for r in retried] == [r.text for r in first]
    conv = await bot.app[appkeys.CONVERSATIONS].get(message("c", "").conversation_key)
    assert conv is not None
    assert conv.state["draft"]["awaiting"] == "compound"
    assert conv.state["draft"]["misses"] == 0


async def test_a_resident_still_waiting_hears_once_that_a_person_will_answer(bot: Any) -> None:
    """ "喂 有人吗" minutes after asking for a person: one holding line, not silence, and not
    again at once; nothing once a caseworker holds the conversation."""
    token = await caseworker_token(bot)
    auth = {"Authorization": f"Bearer {token}"}
    resident = Resident(bot, "u7w")
    assert kinds(await resident.say("我要找社工")) == ["handoff"]
    assert (await resident.say("是关于敬老卡的事"))["replies"] == []  # just told
    store = bot.app[appkeys.CONVERSATIONS]
    conv = await store.get(resident.key())
    assert conv is not None
    assert conv.handoff_at is not None
    conv.handoff_at -= timedelta(minutes=5)
    await store.save(conv)
    held = await resident.say("喂 有人吗")
    assert kinds(held) == ["handoff"]
    assert "社工看到后会在这里回复您" in texts(held)
    assert "110" in texts(held)
    assert (await resident.say("还在吗"))["replies"] == []  # not every message
    taken = await bot.post(f"/api/v1/conversations/{resident.key()}/takeover", headers=auth)
    assert taken.status == 200
    conv = await store.get(resident.key())
    assert conv is not None
    conv.state.pop("held_line_at", None)
    await store.save(conv)
    assert (await resident.say("有人吗"))["replies"] == []  # a caseworker has it: silence


async def test_a_plain_acknowledgement_with_no_notice_is_small_talk_not_a_ticket(bot: Any) -> None:
    """ "收到" with no notice to acknowledge is a polite acknowledgement: never "没能找到答案",
    and saying it twice opens no ticket and calls no caseworker."""
    resident = Resident(bot, "ack1")
    for text in ("收到", "收到了谢谢", "收到"):
        reply = await resident.say(text)
        assert kinds(reply) == ["smalltalk"], (text, texts(reply))
        assert "没能找到答案" not in texts(reply)
        assert "工单" not in texts(reply)

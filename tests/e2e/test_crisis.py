"""Crises through the real HTTP server on both store back-ends: self-harm in a private and a
group chat, a welfare worry with the address asked and filled in, honest replies with no
alert channel, escalation of an unacknowledged alert, a caseworker's conversation, retries,
long messages and look-alikes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from channel_helpers import ROBOT_KEY, Platform
from conversation_helpers import ROBOT_PATH, Resident, caseworker_token, kinds, texts

from bot import appkeys
from bot.domain.tickets import EventKind
from bot.storage.conversations import Mode

HOTLINES = ("12356", "962525")


def robot_texts(platform: Platform, key: str = ROBOT_KEY) -> list[str]:
    return [b["text"]["content"] for q, b in platform.of(ROBOT_PATH) if q.get("key") == key]


async def conversation(bot: Any, key: str) -> Any:
    for _ in range(100):  # written in the background after the reply
        conv = await bot.app[appkeys.CONVERSATIONS].get(key)
        if conv is not None and (conv.mode is not Mode.BOT or conv.state):
            return conv
        await asyncio.sleep(0.05)
    return await bot.app[appkeys.CONVERSATIONS].get(key)


async def test_self_harm_in_a_private_chat_gets_a_caring_reply_hotlines_and_a_person(
    bot: Any, platform: Platform
) -> None:
    resident = Resident(bot, "sh-1")
    data = await resident.say("我真的不想活了，活着没意思")
    assert kinds(data) == ["crisis"]
    reply = texts(data)
    for number in (*HOTLINES, "110", "120"):
        assert number in reply
    assert "安全" in reply
    assert "再见" not in reply
    assert "1." not in reply
    assert "已为你登记紧急工单" in reply
    assert "通知了居委会值班社工" in reply
    assert data["ticket"]["priority"] == "urgent"
    alerts = robot_texts(platform)
    assert len(alerts) == 1
    assert "自伤风险" in alerts[0]
    conv = await conversation(bot, resident.key())
    assert conv.mode is Mode.WAITING
    assert conv.handoff_reason == "crisis"
    # The conversation stays with a person: the bot does not chat on.
    after = await resident.say("湿垃圾几点扔")
    assert after["replies"] == []


async def test_self_harm_in_a_group_gets_one_line_there_and_the_rest_privately(
    bot: Any, platform: Platform
) -> None:
    neighbour = Resident(bot, "sh-2", chat="g-putuoyicun", group=True, name="小陈")
    data = await neighbour.say("活着真没意思，吃了一瓶安眠药", mentioned=False)
    public = [r for r in data["replies"] if not r.get("private")]
    private = [r for r in data["replies"] if r.get("private")]
    assert len(public) == 1
    assert public[0]["kind"] == "crisis"
    assert all(n in public[0]["text"] for n in HOTLINES)
    assert len(public[0]["text"]) < 100
    assert private
    assert all(n in private[0]["text"] for n in HOTLINES)
    assert len(robot_texts(platform)) == 1


async def test_welfare_worry_asks_the_address_and_fills_in_the_urgent_ticket(
    bot: Any, platform: Platform
) -> None:
    son = Resident(bot, "wf-1", name="小王")
    data = await son.say("我妈一个人住，两天打她电话都不接，我在外地很着急")
    assert kinds(data) == ["emergency"]
    reply = texts(data)
    assert "110" in reply
    assert "上门" in reply
    assert "哪个小区" in reply
    assert "几号楼" in reply
    number = data["ticket"]["number"]
    assert robot_texts(platform)
    assert "独居" in robot_texts(platform)[0]
    await conversation(bot, son.key())
    where = await son.say("普陀一村5号楼302室")
    assert "已补充到紧急工单" in texts(where)
    tickets = bot.app[appkeys.TICKETS]
    ticket = await tickets.queries.get("puxiong", number)
    assert (ticket.compound, ticket.building, ticket.room) == ("putuoyicun", "5号楼", "302室")
    history = await tickets.queries.history("puxiong", number)
    assert any(e.kind is EventKind.LOCATION for e in history)


async def test_without_an_alert_channel_the_reply_gives_the_duty_phone_and_claims_nothing(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(committees={"puxiong": {"duty_phone": "021-00000000"}})
    resident = Resident(bot, "nc-1")
    data = await resident.say("家里煤气味好重，头好晕")
    reply = texts(data)
    assert kinds(data) == ["emergency"]
    assert "021-00000000" in reply
    assert "通知了" not in reply
    assert "已通知" not in reply
    assert "119" in reply
    assert platform.of(ROBOT_PATH) == []
    await conversation(bot, resident.key())
    where = texts(await resident.say("普陀一村5号楼302室"))
    assert "已补充到紧急工单" in where
    assert "值班社工会" not in where
    health = await (await bot.get("/healthz")).json()
    assert health["alerts"]["puxiong"] == "no_channel"


async def test_an_unacknowledged_alert_is_escalated_along_the_rota_and_stops_when_taken(
    start: Callable[..., Any], platform: Platform
) -> None:
    rota = {
        "ack_timeout_s": 0.3,
        "shifts": [
            {"name": "张敏", "user": "zhangmin", "mobile": "13800000001", "days": "daily"},
            {"name": "李华", "user": "lihua", "mobile": "13800000002", "days": "daily"},
        ],
    }
    bot = await start(
        alert_sweep_s=0.1,
        committees={"puxiong": {"staff_robot_key": ROBOT_KEY, "rota": rota}},
        street={"duty_name": "街道值班", "staff_robot_key": "street-key"},
    )
    resident = Resident(bot, "esc-1")
    data = await resident.say("电梯困人了，我被关在里面出不来")
    number = data["ticket"]["number"]
    for _ in range(200):
        if robot_texts(platform, "street-key"):
            break
        await asyncio.sleep(0.05)
    staff = platform.of(ROBOT_PATH)
    assert len(robot_texts(platform)) >= 2, "not re-sent to the committee's group"
    mobiles = {
        m
        for q, b in staff
        if q["key"] == ROBOT_KEY
        for m in b["text"].get("mentioned_mobile_list", [])
    }
    assert "13800000002" in mobiles, "the next person on the rota was not mentioned"
    assert robot_texts(platform, "street-key"), "not escalated to the street office"
    steps: list[str] = []
    for _ in range(100):  # the street step reaches the ticket's history right after the post
        history = await bot.app[appkeys.TICKETS].queries.history("puxiong", number)
        steps = [e.summary for e in history if e.kind is EventKind.ALERT]
        if len(steps) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(steps) >= 3, steps
    # Taken: no further escalation.
    alerts = bot.app[appkeys.ALERTS]
    (pending,) = await alerts.store.search("puxiong")
    assert await alerts.acknowledge(pending.id, "zhangmin", "张敏")
    sent = len(platform.of(ROBOT_PATH))
    await asyncio.sleep(0.8)
    assert len(platform.of(ROBOT_PATH)) == sent


async def test_a_crisis_while_a_caseworker_holds_the_conversation_alerts_that_caseworker(
    bot: Any, platform: Platform
) -> None:
    token = await caseworker_token(bot)
    auth = {"Authorization": f"Bearer {token}"}
    resident = Resident(bot, "held-1")
    await resident.say("我要找社工，转人工")
    taken = await bot.post(f"/api/v1/conversations/{resident.key()}/takeover", headers=auth)
    assert taken.status == 200
    quiet = await resident.say("你好，在吗")
    assert quiet["replies"] == []
    data = await resident.say("我不想活了")
    assert kinds(data) == ["crisis"]
    assert len(data["replies"]) == 1
    assert len(texts(data)) < 100
    assert all(n in texts(data) for n in HOTLINES)
    assert "110" in texts(data)
    alerts = robot_texts(platform)
    assert len(alerts) == 1
    assert "社工跟进" in alerts[0]


async def test_the_same_crisis_retried_alerts_once(bot: Any, platform: Platform) -> None:
    body = {
        "message_id": "retry-crisis-1",
        "chat": {"id": "p-r1", "type": "private"},
        "sender": {"id": "r1", "name": "居民"},
        "text": "楼下着火了，好多烟往上冒",
    }
    headers = {"Authorization": "Bearer hook-token"}
    answers = [await bot.post("/api/v1/messages", json=body, headers=headers) for _ in range(3)]
    assert all(a.status == 200 for a in answers)
    assert len(robot_texts(platform)) == 1
    assert len(await bot.app[appkeys.TICKETS].queries.inbox("puxiong")) == 1


async def test_a_crisis_buried_in_a_long_message_with_emoji_is_found(
    bot: Any, platform: Platform
) -> None:
    resident = Resident(bot, "long-1")
    text = (
        "想问一下积分卡的事情🙏，" * 40
        + "还有就是隔壁阿婆刚才跌倒在厨房地上起不来了😭😭，"
        + "另外垃圾分类的时间是不是改了，" * 40
    )
    data = await resident.say(text)
    assert "emergency" in kinds(data)
    alerts = robot_texts(platform)
    assert alerts
    assert "跌倒在厨房地上" in alerts[0], "the alert must quote the crisis, not the first lines"


async def test_look_alikes_take_their_normal_route(bot: Any, platform: Platform) -> None:
    resident = Resident(bot, "calm-1")
    for text in (
        "救命啊这个表格到底怎么填",
        "消防通道被堵了谁管",
        "上次着火的那栋楼修好了吗",
        "家里燃气报警器怎么安装",
        "楼上天天半夜装修吵死了",
    ):
        data = await resident.say(text)
        assert not {"emergency", "crisis"} & set(kinds(data)), text
    assert platform.of(ROBOT_PATH) == []


async def test_a_question_after_the_address_was_asked_is_still_answered(bot: Any) -> None:
    resident = Resident(bot, "wf-2")
    data = await resident.say("楼道里一股煤气味，好重")
    assert "哪个小区" in texts(data)
    await conversation(bot, resident.key())
    answer = await resident.say("燕宁苑湿垃圾几点可以扔")
    assert "已补充到紧急工单" in texts(answer)
    assert {"faq", "clarify"} & set(kinds(answer))
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", data["ticket"]["number"])
    assert ticket.compound == "yanningyuan"


async def test_writing_again_after_self_harm_with_no_alert_channel_is_never_met_with_silence(
    start: Callable[..., Any], platform: Platform
) -> None:
    """Nobody was alerted (no robot) and nobody has taken the conversation yet: every later
    message gets a short line with the hotlines, the duty phone and that a person will answer;
    the address asked for still fills in the urgent ticket."""
    bot = await start(committees={"puxiong": {"duty_phone": "021-00000000"}})
    resident = Resident(bot, "nc-sh")
    data = await resident.say("我不想活了")
    assert kinds(data) == ["crisis"]
    number = data["ticket"]["number"]
    conv = await conversation(bot, resident.key())
    assert conv.mode is Mode.WAITING
    for text in ("嗯", "你们能来看看我吗"):
        again = await resident.say(text)
        assert kinds(again) == ["crisis"], text
        line = texts(again)
        assert all(n in line for n in (*HOTLINES, "110", "021-00000000")), line
        assert "社工" in line
        assert "回复" in line
        assert "通知了" not in line
        assert "已通知" not in line
        assert len(line) < 150
    where = await resident.say("普雄馨苑5号楼302")
    assert "已补充到紧急工单" in texts(where)
    assert "值班社工会" not in texts(where)  # nobody on duty was told
    assert "12356" in texts(where)
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert (ticket.compound, ticket.building) == ("puxiongxinyuan", "5号楼")
    assert platform.of(ROBOT_PATH) == []
    # Still with a person: the bot does not chat on about other things.
    other = await resident.say("湿垃圾几点扔")
    assert kinds(other) == ["crisis"]
    assert "湿垃圾" not in texts(other)


async def test_the_address_after_self_harm_fills_in_the_ticket_when_staff_were_alerted(
    bot: Any, platform: Platform
) -> None:
    resident = Resident(bot, "sh-addr")
    data = await resident.say("我不想活了")
    assert "通知了居委会值班社工" in texts(data)
    number = data["ticket"]["number"]
    await conversation(bot, resident.key())
    where = await resident.say("普陀一村5号楼302室")
    assert "已补充到紧急工单" in texts(where)
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert (ticket.compound, ticket.building, ticket.room) == ("putuoyicun", "5号楼", "302室")
    assert (await resident.say("湿垃圾几点扔"))["replies"] == []


async def test_self_harm_told_as_another_danger_gets_the_hotlines_and_that_dangers_advice(
    bot: Any, platform: Platform
) -> None:
    # A farewell that reads like a welfare worry: the self-harm reply, the welfare advice too.
    daughter = Resident(bot, "sh-mixed-1", name="小李")
    data = await daughter.say(
        "我爸昨晚打电话跟我说以后要照顾好自己，今天一整天电话都打不通，他一个人住，敲门也没人应"
    )
    assert kinds(data) == ["crisis"]
    reply = texts(data)
    for number in (*HOTLINES, "110", "120"):
        assert number in reply
    assert "【上门查看】" in reply
    # A cut wrist that bleeds reads as first aid too, but is answered as self-harm.
    resident = Resident(bot, "sh-mixed-2")
    data = await resident.say("我把手腕划开了，血一直在流")
    assert kinds(data) == ["crisis"]
    reply = texts(data)
    for number in (*HOTLINES, "110", "120"):
        assert number in reply
    assert "你现在安全吗" in reply
    alerts = robot_texts(platform)
    assert len(alerts) == 2
    assert all("自伤风险" in a for a in alerts)
    # A knife turned on oneself in a fight, told in a group: the short caring line there.
    neighbour = Resident(bot, "sh-mixed-3", chat="g-putuoyicun", group=True, name="小周")
    data = await neighbour.say("@邻里 我老公喝醉了拿刀对着自己的脖子，孩子吓得在哭", mentioned=True)
    public = [r for r in data["replies"] if not r.get("private")]
    assert public
    assert public[0]["kind"] == "crisis"
    assert all(n in public[0]["text"] for n in HOTLINES)
    assert len(robot_texts(platform)) == 3


async def test_an_overdose_answered_as_first_aid_still_gives_the_hotlines(
    bot: Any, platform: Platform
) -> None:
    # Read as a medical emergency, not as self-harm, but a handful of pills swallowed is a
    # sign of it: the first-aid advice, then the hotlines with 110/120; the alert says so.
    son = Resident(bot, "cue-1", name="小王")
    data = await son.say("我妈刚才吞了一把降压药，现在叫不醒")
    assert kinds(data) == ["emergency"]
    reply = texts(data)
    assert "【急救】" in reply
    for number in (*HOTLINES, "110", "120"):
        assert number in reply
    alerts = robot_texts(platform)
    assert len(alerts) == 1
    assert "疑有自伤风险" in alerts[0]
    # An ordinary emergency carries no such line.
    neighbour = Resident(bot, "cue-2")
    data = await neighbour.say("老人在卫生间摔倒了，头上在流血")
    assert kinds(data) == ["emergency"]
    assert not any(number in texts(data) for number in HOTLINES)
    assert "疑有自伤风险" not in robot_texts(platform)[-1]


async def test_self_harm_told_about_someone_else_speaks_to_the_one_reporting(
    bot: Any, platform: Platform
) -> None:
    """A father said to want to jump: the reply is for the person writing — stay with him if
    it is safe, 110/120 for an immediate danger, the hotlines to call or pass on."""
    son = Resident(bot, "sh-other-1", name="小赵")
    data = await son.say("我爸刚才说要从阳台跳下去，现在一个人在家")
    assert kinds(data) == ["crisis"]
    reply = texts(data)
    for number in (*HOTLINES, "110", "120"):
        assert number in reply
    assert "陪着他/她" in reply
    assert "如果你那边安全" in reply
    assert "转给他/她" in reply
    assert "你现在安全吗" not in reply  # not spoken to as the one at risk
    assert "通知了居委会值班社工" in reply
    alerts = robot_texts(platform)
    assert len(alerts) == 1
    assert "自伤风险" in alerts[0]
    # In a group: the one line there speaks to the neighbour who saw it, not "we worry about you".
    neighbour = Resident(bot, "sh-other-2", chat="g-putuoyicun", group=True, name="小吴")
    data = await neighbour.say("@邻里 楼上那个小伙子坐在窗台外面，腿都伸出去了", mentioned=True)
    public = [r for r in data["replies"] if not r.get("private")]
    assert len(public) == 1
    assert public[0]["kind"] == "crisis"
    line = public[0]["text"]
    assert all(n in line for n in (*HOTLINES, "110", "120"))
    assert "陪着他/她" in line
    assert "担心你" not in line
    assert "社工会尽快联系你" in line
    assert len(line) < 100
    assert len(robot_texts(platform)) == 2


async def test_self_harm_about_someone_else_with_no_alert_channel_claims_no_alert(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(committees={"puxiong": {"duty_phone": "021-00000000"}})
    roommate = Resident(bot, "nc-other")
    data = await roommate.say("室友说不想活了，把自己锁在卫生间里")
    assert kinds(data) == ["crisis"]
    reply = texts(data)
    assert "陪着他/她" in reply
    assert "021-00000000" in reply
    assert "通知了" not in reply
    assert "已通知" not in reply
    assert platform.of(ROBOT_PATH) == []
    await conversation(bot, roommate.key())
    again = await roommate.say("门还是打不开")
    line = texts(again)
    assert kinds(again) == ["crisis"]
    assert all(n in line for n in (*HOTLINES, "110", "021-00000000")), line
    assert "陪着他/她" in line
    assert "通知了" not in line

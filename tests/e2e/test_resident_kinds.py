"""Kinds of resident messages that used to get the general menu or the wrong answer, through
the real pipeline: a repair need at home said in Shanghainese, a request to look a topic up
("帮我查下低保"), a gas alarm that is not a smoke alarm, a follow-up that leans on the answer
just given ("伊拉礼拜天开伐"), and a water question from someone whose compound nobody knows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conversation_helpers import Resident, kinds, texts

from bot import appkeys
from bot.accounts.http import ACCOUNTS

MENU = "没能找到答案"
"""The general fallback's first line: what none of these may get."""


async def test_a_broken_appliance_at_home_gets_who_repairs_it_not_the_menu(bot: Any) -> None:
    for n, text in enumerate(["热死了 空调谁会修伐", "冰箱勿制冷了 哪能弄"]):
        data = await Resident(bot, f"kind-rep-{n}").say(text)
        assert MENU not in texts(data), texts(data)
        assert "fallback" not in kinds(data), texts(data)
        # either who repairs it (the FAQ) or the start of a repair ticket
        assert "售后" in texts(data) or {"slot", "ticket"} & set(kinds(data)), texts(data)


async def test_asking_to_look_a_topic_up_gets_that_topic(bot: Any) -> None:
    data = await Resident(bot, "kind-topic").say("帮我查下低保")
    assert MENU not in texts(data), texts(data)
    assert kinds(data)[0] in {"faq", "clarify"}, texts(data)
    assert "低保" in texts(data)


async def test_a_gas_alarm_question_is_not_answered_with_the_smoke_alarm(bot: Any) -> None:
    data = await Resident(bot, "kind-gas").say("燃气报警器怎么安装")
    assert kinds(data) == ["faq"], texts(data)
    assert "燃气报警器" in texts(data)
    assert "【家里能装烟感报警器吗" not in texts(data)


async def test_a_follow_up_is_read_against_the_answer_just_given(bot: Any) -> None:
    resident = Resident(bot, "kind-follow")
    first = await resident.say("居委会几点上班")
    assert "居委会在哪里，几点上班" in texts(first), texts(first)
    follow = await resident.say("伊拉礼拜天开伐")
    assert kinds(follow) == ["faq"], texts(follow)
    assert "居委会在哪里，几点上班" in texts(follow)

    card = Resident(bot, "kind-follow-2")
    await card.say("敬老卡怎么办")
    bring = await card.say("要带啥")
    assert kinds(bring) == ["faq"], texts(bring)
    assert "敬老卡" in texts(bring)


async def test_a_new_question_after_an_answer_is_not_taken_for_a_follow_up(bot: Any) -> None:
    resident = Resident(bot, "kind-new")
    await resident.say("居委会几点上班")
    other = await resident.say("今天天气怎么样")
    assert "居委会在哪里，几点上班" not in texts(other), texts(other)
    garbage = Resident(bot, "kind-new-2")
    await garbage.say("敬老卡怎么办")
    permit = await garbage.say("那居住证呢")
    assert "居住证" in texts(permit), texts(permit)
    assert "【敬老卡怎么办" not in texts(permit)


async def test_when_the_water_comes_back_without_a_compound_is_answered(bot: Any) -> None:
    """No notice: the FAQ's general answer, never the menu."""
    data = await Resident(bot, "kind-water").say("20号楼几点来水啊")
    assert MENU not in texts(data), texts(data)
    assert kinds(data)[0] in {"faq", "clarify"}, texts(data)
    assert "停水" in texts(data)


async def _json(resp: Any, status: int) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_an_unplaced_resident_asking_about_water_gets_the_notice_with_its_place(
    start: Callable[..., Any],
) -> None:
    """A valid 停水 notice for 普雄馨苑20号楼; a resident not bound, in a private chat, naming
    no compound, asks when the water comes back: the notice, saying where it applies. Asking
    about another building's water gets no notice."""
    bot = await start(notice_send_interval_s=0.05)
    accounts = bot.app[ACCOUNTS]
    await accounts.add_user("zhangmin", "admin", "puxiong", "Str0ng-pass-123", "张敏")
    token, _ = await accounts.create_token("zhangmin", "tests")
    headers = {"Authorization": f"Bearer {token}"}
    rows = [{"compound": "普雄馨苑", "building": "20", "room": str(r)} for r in (801, 802)]
    await _json(
        await bot.post("/api/v1/households/import", json={"rows": rows}, headers=headers), 200
    )
    now = datetime.now(UTC)
    notice = await _json(
        await bot.post(
            "/api/v1/notices",
            json={
                "kind": "water",
                "title": "水箱清洗停水",
                "body": "今天9:00-17:00二次供水水箱清洗，全楼停水，请提前储水。",
                "valid_from": (now - timedelta(minutes=5)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
                "audience": {"buildings": [{"compound": "普雄馨苑", "building": "20"}]},
            },
            headers=headers,
        ),
        201,
    )
    await _json(await bot.post(f"/api/v1/notices/{notice['id']}/send", headers=headers), 200)

    data = await Resident(bot, "kind-unplaced").say("20号楼几点来水啊")
    assert kinds(data) == ["notice"], texts(data)
    assert "水箱清洗停水" in texts(data)
    assert "普雄馨苑20号楼" in texts(data)
    other = await Resident(bot, "kind-unplaced-2").say("5号楼几点来水啊")
    assert "水箱清洗停水" not in texts(other), texts(other)


async def test_a_fault_told_without_asking_for_a_ticket_gets_the_answer_then_the_offer(
    bot: Any,
) -> None:
    """A report such as "楼梯灯坏了好几天了" used to go straight into ticket intake
    ("请问是哪个小区？"): now the FAQ's answer (who repairs it, what to do) and the offer of a
    ticket; "报修" takes it up with the first message as the ticket's description."""
    resident = Resident(bot, "kind-report")
    data = await resident.say("楼梯灯坏了好几天了")
    assert kinds(data)[0] == "faq", texts(data)
    assert "【楼道灯坏了找谁修" in texts(data)
    assert "回复“报修”" in texts(data)
    taken = await resident.say("报修")
    assert kinds(taken) == ["slot"], texts(taken)
    assert "哪个小区" in texts(taken)
    await resident.say("普陀一村")
    await resident.say("5号楼")
    done = await resident.say("不用")
    if done["ticket"] is None:
        done = await resident.say("不用")
    assert done["ticket"] is not None, texts(done)
    ticket = await bot.app[appkeys.TICKETS].queries.get("puxiong", done["ticket"]["number"])
    assert ticket.category.value == "repair"
    assert "楼梯灯" in ticket.description

    smell = Resident(bot, "kind-report-2")
    complaint = await smell.say("垃圾房就在我家窗口下面，臭死了，能不能搬走😡")
    assert "【垃圾投放点在哪里" in texts(complaint), texts(complaint)
    assert "回复“登记”" in texts(complaint)


async def test_asking_for_a_repair_still_opens_the_ticket_at_once(bot: Any) -> None:
    for n, text in enumerate(["我要报修 楼梯灯坏了", "燕宁苑5号楼楼梯灯坏了好几天了"]):
        data = await Resident(bot, f"kind-ask-repair-{n}").say(text)
        assert kinds(data) in (["slot"], ["ticket"]), texts(data)
        assert "【" not in texts(data)


async def test_a_reply_to_did_you_mean_in_words_or_a_loose_number_is_understood(
    bot: Any,
) -> None:
    """After "did you mean", "户口那个", "1️⃣", "第二个吧" or the question said more fully pick
    a choice; they used to get the same menu again, the general fallback or small talk."""
    asked = "小囡刚生出来 报户口去哪里报"
    for n, reply in enumerate(["户口那个", "新生儿落户口要带啥材料"]):
        resident = Resident(bot, f"kind-menu-{n}", chat="g-yanningyuan", group=True)
        menu = await resident.say(asked)
        assert kinds(menu) == ["clarify"], texts(menu)
        assert "户口迁入迁出怎么办理" in texts(menu)
        data = await resident.say(reply)
        assert kinds(data) == ["faq"], (reply, texts(data))
        assert "【户口迁入迁出怎么办理" in texts(data)
    for n, reply in enumerate(["1️⃣", "第一个吧", "选第一个", "1 谢谢"]):
        resident = Resident(bot, f"kind-menu-n{n}", chat="g-yanningyuan", group=True)
        menu = await resident.say(asked)
        first = menu["replies"][0]["text"].splitlines()[1].split(". ", 1)[1]
        data = await resident.say(reply)
        assert kinds(data) == ["faq"], (reply, texts(data))
        assert f"【{first}" in texts(data), (reply, texts(data))
    other = Resident(bot, "kind-menu-new", chat="g-yanningyuan", group=True)
    await other.say(asked)
    fresh = await other.say("今天天气怎么样")
    assert "【" not in texts(fresh), texts(fresh)


async def test_gas_card_top_up_and_a_forgotten_card_password_are_answered(bot: Any) -> None:
    for n, (text, question) in enumerate(
        [
            ("IC卡燃气表去哪里充值", "燃气卡去哪里充值"),
            ("煤气卡充值在哪里充", "燃气卡去哪里充值"),
            ("医保卡密码忘记了怎么办", "密码忘了"),
            ("社保卡密码锁住了", "密码忘了"),
        ]
    ):
        data = await Resident(bot, f"kind-new-entry-{n}").say(text)
        assert kinds(data) == ["faq"], (text, texts(data))
        assert question in texts(data).splitlines()[0], (text, texts(data))


async def test_shopping_waste_and_renewing_an_id_card_are_not_taken_for_shop_service(
    bot: Any,
) -> None:
    for n, (text, question) in enumerate(
        [
            ("外卖盒子怎么扔", "【"),
            ("阿拉姆妈身份证过期了 要换新的到啥地方去换", "【身份证"),
        ]
    ):
        data = await Resident(bot, f"kind-oos-{n}").say(text)
        assert kinds(data) == ["faq"], (text, texts(data))
        assert question in texts(data)


async def test_a_compound_named_in_the_question_does_not_push_the_answer_away(bot: Any) -> None:
    """ "刚搬到西沙洪滨小区租房子住 要去登记伐": the compound's name, searched as words, used
    to lower the right entry to a "did you mean"; it scopes the search instead."""
    data = await Resident(bot, "kind-compound").say("刚搬到西沙洪滨小区租房子住 要去登记伐")
    assert kinds(data) == ["faq"], texts(data)
    assert "【租房住在这里，要办居住登记吗" in texts(data)
    assert "西沙洪滨小区" in texts(data)  # answered for that compound


async def test_thanks_or_never_mind_after_the_repair_answer_opens_no_ticket(bot: Any) -> None:
    for n, reply in enumerate(["好的", "算了"]):
        resident = Resident(bot, f"kind-offer-{n}")
        data = await resident.say("整栋楼停电了")
        assert "【家里停电了怎么办" in texts(data), texts(data)
        after = await resident.say(reply)
        assert after["ticket"] is None, texts(after)
        assert "哪个小区" not in texts(after), texts(after)
    assert await bot.app[appkeys.TICKETS].queries.inbox("puxiong") == []

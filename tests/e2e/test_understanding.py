"""Residents' everyday phrasings reach the right place: a building's project is not a ticket
query, a neighbour complaint gets the rule before a ticket, referrals and the elderly
allowance answer directly."""

from __future__ import annotations

from typing import Any

from conversation_helpers import Resident, kinds, texts

from bot import appkeys


async def test_a_question_about_the_lift_project_is_not_read_as_a_ticket_query(bot: Any) -> None:
    resident = Resident(bot, "und-1")
    data = await resident.say("我们楼换电梯的事进展到哪一步了，什么时候征询意见")
    assert "没有正在办理的工单" not in texts(data)
    assert {"faq", "clarify"} & set(kinds(data)), texts(data)


async def test_a_question_about_a_public_matter_is_not_read_as_a_ticket_query(bot: Any) -> None:
    resident = Resident(bot, "und-6")
    data = await resident.say("上个月着火那栋楼现在修好了吗")
    assert "没有正在办理的工单" not in texts(data)
    assert "status" not in kinds(data), texts(data)


async def test_asking_about_my_own_report_still_lists_tickets(bot: Any) -> None:
    resident = Resident(bot, "und-2")
    data = await resident.say("我报的修怎么样了")
    assert "没有正在办理的工单" in texts(data)
    data = await Resident(bot, "und-2b").say("师傅啥辰光上门")
    assert "没有正在办理的工单" in texts(data)


async def test_asking_who_can_repair_something_is_not_a_ticket_query(bot: Any) -> None:
    """Nothing was reported yet: a status reading without any earlier report or awaited
    visit in the words goes on to the FAQ and the rest, never "您目前没有正在办理的工单"."""
    for n, text in enumerate(["热死了 空调谁会修伐", "我家马桶堵了 谁能来通一下"]):
        data = await Resident(bot, f"und-7{n}").say(text)
        assert "status" not in kinds(data), texts(data)
        assert "没有正在办理的工单" not in texts(data)


async def test_a_noise_complaint_gets_the_rule_first_then_a_ticket_on_request(
    bot: Any,
) -> None:
    resident = Resident(bot, "und-3")
    data = await resident.say("楼上天天半夜装修吵死了")
    assert "ticket" not in kinds(data)
    # renovation hours are each compound's: a resident without one is asked which first,
    # one question at a time: the offer of a ticket follows the rule
    assert "哪个小区" in texts(data), texts(data)
    assert "回复“登记”" not in texts(data)
    rule = await resident.say("1")
    assert kinds(rule) == ["faq", "faq"]
    assert "装修" in texts(rule)
    assert "回复“登记”" in texts(rule)
    assert await bot.app[appkeys.TICKETS].queries.inbox("puxiong") == []
    follow = await resident.say("登记")
    # the complaint goes into intake with its text and compound: the next missing detail
    assert kinds(follow) in (["slot"], ["ticket"]), texts(follow)
    assert "哪个小区" not in texts(follow)


async def test_a_detail_given_for_the_first_time_is_noted_not_called_a_correction(
    bot: Any,
) -> None:
    resident = Resident(bot, "und-noted")
    await resident.say("我要投诉")
    await resident.say("小区门口垃圾桶一直满出来没人清")
    asked = await resident.say("燕宁苑")
    assert "电话" in texts(asked), texts(asked)  # a complaint needs no room: the phone next
    noted = await resident.say("3号楼502室")
    assert "已记下3号楼、502室" in texts(noted), texts(noted)
    assert "已改为" not in texts(noted)
    fixed = await resident.say("不对，是6号楼")
    assert "已改为6号楼" in texts(fixed), texts(fixed)


async def test_the_elderly_allowance_has_its_own_answer(bot: Any) -> None:
    resident = Resident(bot, "und-4")
    data = await resident.say("高龄津贴怎么领")
    assert kinds(data) == ["faq"]
    assert "老年综合津贴" in texts(data)


async def test_a_childs_vaccination_is_referred_to_the_health_centre_not_the_pet_entry(
    bot: Any,
) -> None:
    resident = Resident(bot, "und-5")
    data = await resident.say("小孩打预防针去哪里打啊")
    assert kinds(data) == ["faq"]
    assert "社区卫生服务中心" in texts(data)
    assert "犬只登记" not in texts(data)


async def test_a_form_pointed_at_without_its_name_is_asked_about_calmly(bot: Any) -> None:
    """ "救命啊这个表格到底怎么填": no crisis, and no FAQ entry picked as a guess — which
    form? calmly, with the forms the FAQ knows as numbered choices."""
    resident = Resident(bot, "und-form")
    data = await resident.say("救命啊这个表格到底怎么填")
    assert kinds(data) == ["clarify"], texts(data)
    reply = texts(data)
    assert "哪一张表" in reply
    assert "别着急" in reply
    assert "【" not in reply  # no answer given
    picked = await resident.say("1")
    assert kinds(picked) == ["faq"]
    assert "征询意见表" in texts(picked)
    plain = await Resident(bot, "und-form2").say("那张表怎么写")
    assert kinds(plain) == ["clarify"]
    assert "别着急" not in texts(plain)
    named = await Resident(bot, "und-form3").say("征询意见表怎么填")
    assert "哪一张表" not in texts(named)


async def test_the_progress_of_a_public_matter_gets_an_honest_answer_not_the_menu(
    bot: Any,
) -> None:
    data = await Resident(bot, "und-fire").say("上个月着火那栋楼现在修好了吗")
    reply = texts(data)
    assert "查不到" in reply
    assert "可以帮您：" not in reply
    assert "找社工" in reply
    assert len(data["replies"]) == 1


async def test_a_repair_is_read_as_the_question_it_restates(bot: Any) -> None:
    resident = Resident(bot, "und-repair")
    await resident.say("老年卡哪能办")
    data = await resident.say("不对，我问的是敬老卡怎么充值")
    assert {"faq", "clarify"} & set(kinds(data)), texts(data)
    assert "敬老卡" in texts(data)
    other = Resident(bot, "und-repair2")
    await other.say("垃圾分类怎么分")
    missed = await other.say("不是这个")
    assert "换个说法" in texts(missed)
    assert "明白了" not in texts(missed)
    fine = await Resident(bot, "und-repair3").say("不用了")
    assert "换个说法" not in texts(fine)


async def test_a_bare_topic_is_looked_up_and_feedback_is_never_promised_onwards(
    bot: Any,
) -> None:
    data = await Resident(bot, "und-topic").say("大件垃圾")
    assert {"faq", "clarify", "slot"} & set(kinds(data)), texts(data)
    assert "谢谢您的" not in texts(data)
    praise = await Resident(bot, "und-praise").say("非常满意 师傅很负责")
    assert "转告" not in texts(praise)
    assert "转给居委会" not in texts(praise)

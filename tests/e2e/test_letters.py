"""Long messages through the real application on both store back-ends: a letter is heard
and sent where it goes (a ticket the committee follows, or 12345 / 随申办 with the text to
forward), never the generic menu; a paragraph of questions is answered question by question;
a crisis inside a long message still comes first."""

from __future__ import annotations

from typing import Any

from conversation_helpers import Resident, kinds, texts

from bot import appkeys
from bot.domain.tickets import TicketCategory

GENERIC = "抱歉，这个问题我暂时没能找到答案"
BUS_LETTER = (
    "建议增开一条通往地铁站的公交线路\n"
    "我们这一片新建小区住了上万人，早上去地铁站只有一条公交线路，车少人多，"
    "老人和上班族经常要等半个多小时，希望交通部门能够增开线路或者加密班次。"
)
ESTATE_LETTER = (
    "反映一下我们小区物业的问题：楼道里的杂物堆了好几个月没人清理，电梯经常停，"
    "绿化带里的垃圾也没人收拾，业主们找物业说了很多次，物业一直推诿，希望居委会出面协调一下。"
)


async def test_a_city_matter_is_referred_with_the_text_and_recorded_on_request(
    bot: Any,
) -> None:
    resident = Resident(bot, "letter-1")
    heard = await resident.say(BUS_LETTER)
    assert kinds(heard) == ["letter", "letter"]
    said = texts(heard)
    assert GENERIC not in said
    assert "交通出行" in said
    assert "建议" in said
    assert "不归居委会直接办理" in said
    assert "12345" in said
    assert "随申办" in said
    forward = heard["replies"][1]["text"]
    assert forward.startswith("【建议】建议增开一条通往地铁站的公交线路")
    assert "加密班次" in forward

    asked = await resident.say("登记")
    assert kinds(asked) == ["slot"]
    assert "哪个小区" in texts(asked)
    phone = await resident.say("普陀一村")
    assert "联系电话" in texts(phone)
    done = await resident.say("不用")
    assert done["ticket"] is not None
    stored = await bot.app[appkeys.TICKETS].queries.get("puxiong", done["ticket"]["number"])
    assert stored.category is TicketCategory.SUGGESTION
    assert "公交线路" in stored.description
    assert stored.compound == "putuoyicun"


async def test_the_committees_own_matter_becomes_a_complaint_ticket(bot: Any) -> None:
    resident = Resident(bot, "letter-2")
    heard = await resident.say(ESTATE_LETTER)
    said = texts(heard)
    # A resident clearly reporting something is registered at once, not asked to confirm.
    assert kinds(heard) == ["letter", "slot"]
    assert "小区环境和物业管理" in said
    assert "居委会可以跟进" in said
    assert "投诉工单" in said
    assert "12345" not in said
    assert "哪个小区" in said
    await resident.say("燕宁苑")
    done = await resident.say("13800138000")
    assert done["ticket"] is not None
    stored = await bot.app[appkeys.TICKETS].queries.get("puxiong", done["ticket"]["number"])
    assert stored.category is TicketCategory.COMPLAINT
    assert "物业一直推诿" in stored.description


async def test_a_long_question_the_faq_answers_still_says_where_the_matter_goes(
    bot: Any,
) -> None:
    resident = Resident(bot, "letter-5")
    heard = await resident.say(
        "医保卡丢了到哪里补办\n"
        "前天去菜场买菜的时候把钱包弄丢了，里面的医保卡也一起没了，找了两天也没有找到，"
        "想知道医保卡丢了以后应该到哪里去补办，要带些什么材料。"
    )
    assert kinds(heard) == ["faq", "letter"]
    said = texts(heard)
    assert "挂失" in said  # answered first
    assert GENERIC not in said
    assert "12345" in said  # then where it goes if the answer does not settle it
    assert "登记" in said
    asked = await resident.say("登记")
    assert kinds(asked) == ["slot"]
    assert "哪个小区" in texts(asked)


async def test_a_paragraph_of_questions_is_answered_in_order(bot: Any) -> None:
    resident = Resident(bot, "letter-3")
    data = await resident.say("居委会几点上班？另外医保卡丢了怎么补办？还有能帮我买张火车票吗？")
    replies = data["replies"]
    assert replies[0]["text"].startswith("（1）关于“居委会几点上班？”")
    assert replies[0]["kind"] == "faq"
    assert replies[1]["text"].startswith("（2）关于“医保卡丢了怎么补办？”")
    assert "挂失" in replies[1]["text"]
    # What no route answers is named and handed to a person, not silently dropped.
    assert "第3个问题（能帮我买张火车票吗？）" in texts(data)
    assert "handoff" in kinds(data)
    assert GENERIC not in texts(data)


async def test_a_crisis_inside_a_long_letter_still_comes_first(bot: Any) -> None:
    resident = Resident(bot, "letter-4")
    data = await resident.say(ESTATE_LETTER + "现在楼道里着火了，烟很大！")
    assert kinds(data)[0] == "emergency"
    assert "119" in texts(data)

"""Kinds of resident messages that used to get the general menu or the wrong answer, through
the real pipeline: a repair need at home said in Shanghainese, a request to look a topic up
("帮我查下低保"), a gas alarm that is not a smoke alarm, a follow-up that leans on the answer
just given ("伊拉礼拜天开伐"), and a water question from someone whose compound nobody knows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conversation_helpers import Resident, kinds, texts

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

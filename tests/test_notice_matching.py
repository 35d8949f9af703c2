"""What a resident's words mean for a valid notice: "收到" and its variants acknowledge (a
longer message that contains 收到 does not), each kind of notice answers its own questions
and not another kind's, and a notice of kind 其他 answers questions naming its title's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.notices import matching
from bot.storage.notices import Audience, Notice, NoticeKind, NoticeState

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def _notice(kind: NoticeKind, title: str = "通知") -> Notice:
    return Notice(
        id=1,
        committee="puxiong",
        kind=kind,
        title=title,
        body="……",
        valid_from=NOW,
        valid_until=NOW + timedelta(days=1),
        audience=Audience(),
        post_groups=True,
        state=NoticeState.PUBLISHED,
        created_by_id="7",
        created_by_name="张敏",
        created_at=NOW,
        published_at=NOW,
    )


@pytest.mark.parametrize(
    "text",
    ["收到", "收到了", "好的收到", "已收到", "知道了", "好的，知道了", "收到，谢谢", "收到！"],
)
def test_acknowledgements(text: str) -> None:
    assert matching.is_ack(text)


@pytest.mark.parametrize(
    "text",
    ["没收到", "我收到通知了但是水什么时候来", "怎么没水了", "好的", "收到的快递放哪", "不知道"],
)
def test_not_acknowledgements(text: str) -> None:
    assert not matching.is_ack(text)


@pytest.mark.parametrize(
    ("kind", "asked", "other"),
    [
        (NoticeKind.WATER, "怎么没水了", "电梯怎么停了"),
        (NoticeKind.WATER, "今天为什么停水", "今天停电吗"),
        (NoticeKind.WATER, "水怎么停了", "疫苗在哪里打"),
        (NoticeKind.POWER, "怎么突然停电了", "怎么没水了"),
        (NoticeKind.LIFT, "电梯怎么停了", "垃圾桶怎么不见了"),
        (NoticeKind.BINS, "楼下垃圾桶怎么没了", "今天为什么停水"),
        (NoticeKind.VACCINE, "老人打疫苗去哪里", "电梯坏了"),
    ],
)
def test_each_kind_answers_its_own_questions(kind: NoticeKind, asked: str, other: str) -> None:
    notice = _notice(kind)
    assert matching.answers(notice, asked)
    assert not matching.answers(notice, other)


def test_other_notices_answer_their_titles_words() -> None:
    notice = _notice(NoticeKind.OTHER, "燃气管道检修")
    assert matching.answers(notice, "燃气管道什么时候修好")
    assert matching.answers(notice, "管道检修完了吗")
    assert not matching.answers(notice, "为什么在检修")  # two characters are too little
    assert not matching.answers(notice, "怎么没水了")
    assert not matching.answers(_notice(NoticeKind.OTHER, "关于小区的通知"), "小区几点关门")


@pytest.mark.parametrize(
    "text",
    ["普雄馨苑20号楼1202", "20号楼1201", "20号楼门口的灯坏了", "我住20幢3单元", "今日有空吗"],
)
def test_a_titles_place_and_date_words_answer_nothing(text: str) -> None:
    """A title names where and when ("20号楼今日停水通知"): a message naming the same building
    (a room given while binding a household) or day does not ask about the notice."""
    assert not matching.answers(_notice(NoticeKind.WATER, "20号楼今日停水通知"), text)
    assert not matching.answers(_notice(NoticeKind.OTHER, "20幢今日燃气检修"), text)
    assert matching.answers(_notice(NoticeKind.OTHER, "20幢今日燃气检修"), "燃气检修到几点")

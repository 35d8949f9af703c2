"""Reading long messages: a letter's kind, topic and whether it is the committee's matter; a
paragraph of several questions split into them, and what is not split."""

from __future__ import annotations

import pytest

from bot.dialogue.letters import LetterKind, read_letter, split_questions

BUS_LETTER = (
    "建议增开一条通往地铁站的公交线路\n"
    "我们这一片新建小区住了上万人，早上去地铁站只有一条公交线路，车少人多，"
    "老人和上班族经常要等半个多小时，希望交通部门能够增开线路或者加密班次。"
)
FACTORY_LETTER = (
    "尊敬的领导：您好！我们村旁边的化工厂每天晚上偷偷排放废气，气味刺鼻，"
    "村民开窗都不敢，白天河道里还有污水流出，多次反映都没人管，请有关部门尽快查处。"
)
WAGES_LETTER = (
    "我在一家装修公司干了八个月，老板一直拖欠工资，说好年底一起结，到现在一分钱也没给，"
    "劳动合同也没签，我去公司找了好几次都找不到人，家里老人看病等着用钱，恳请帮助解决。"
)
ESTATE_LETTER = (
    "反映一下我们小区物业的问题：楼道里的杂物堆了好几个月没人清理，电梯经常停，"
    "绿化带里的垃圾也没人收拾，业主们找物业说了很多次，物业一直推诿，希望居委会出面协调一下。"
)


def test_a_city_matter_is_a_letter_with_its_topic_and_kind() -> None:
    bus = read_letter(BUS_LETTER)
    assert bus is not None
    assert (bus.kind, bus.topic.key, bus.local) == (LetterKind.SUGGESTION, "transport", False)
    assert bus.subject == "建议增开一条通往地铁站的公交线路"
    factory = read_letter(FACTORY_LETTER)
    assert factory is not None
    assert (factory.kind, factory.topic.key) == (LetterKind.COMPLAINT, "environment")
    wages = read_letter(WAGES_LETTER)
    assert wages is not None
    assert wages.topic.key == "labour"


def test_the_estate_or_a_named_compound_is_the_committees_matter() -> None:
    estate = read_letter(ESTATE_LETTER)
    assert estate is not None
    assert estate.local
    named = read_letter(BUS_LETTER.replace("新建小区", "普陀一村"), local_names=["普陀一村"])
    assert named is not None
    assert named.local


def test_the_text_to_forward_keeps_the_letter_and_is_bounded() -> None:
    letter = read_letter(BUS_LETTER + "班次" * 300)
    assert letter is not None
    forward = letter.forward_text()
    assert forward.startswith("【建议】建议增开一条通往地铁站的公交线路")
    assert forward.endswith("……")
    assert len(forward) < 320


@pytest.mark.parametrize(
    "text",
    [
        "湿垃圾几点扔",
        "请问一下哈，居住证怎么办",
        "楼上天天半夜装修吵死了，你们到底管不管？",
        "我们楼换电梯的事进展到哪一步了，什么时候征询意见",
        "高龄津贴怎么领？要带什么材料？",  # the second asks more about the first
        "湿垃圾几点扔？谢谢！",
    ],
)
def test_short_questions_are_neither_letters_nor_split(text: str) -> None:
    assert read_letter(text) is None
    assert split_questions(text) == []


def test_a_paragraph_of_questions_is_split_in_order() -> None:
    text = "你好，湿垃圾几点可以扔？还有居住证怎么办？另外楼道灯坏了帮忙修一下"
    assert split_questions(text) == ["湿垃圾几点可以扔？", "居住证怎么办？", "楼道灯坏了帮忙修一下"]
    assert read_letter(text) is None
    follow = "敬老卡怎么办？在哪里办？另外狗要打疫苗吗？"
    assert split_questions(follow) == ["敬老卡怎么办，在哪里办？", "狗要打疫苗吗？"]


def test_a_restated_subject_is_one_question_and_a_story_is_not_split() -> None:
    restated = "居住证怎么办理？\n请问居住证怎么办理，需要什么材料？"
    assert split_questions(restated) == []
    story = (
        "我家老人今年八十五岁了，一个人住，前几天在家里摔了一跤，现在恢复得差不多了，"
        "想问一下有没有上门照护的服务？"
    )
    assert split_questions(story) == []

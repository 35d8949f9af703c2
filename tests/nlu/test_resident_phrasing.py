"""The resident phrasing rules (knowledge/language/resident_phrasing.yml), word by word.

Every rule of the file has a case here (``test_every_rule_has_a_case``), so a rule that a
longer key shadows, or that the base normalisation breaks, fails by name."""

from __future__ import annotations

import pytest
import yaml

from bot.domain.text import (
    DEFAULT_PHRASING,
    PhrasingRules,
    PhrasingRulesError,
    padding_in,
    query_form,
    resident_form,
)
from bot.nlu.normalize import classifier_text
from bot.retrieval.normalize import Normalizer

# (a word as residents write it, what it folds to)
WORDS: list[tuple[str, str]] = [
    # shanghainese
    ("哪能办", "怎么办"),
    ("哪能", "怎么"),
    ("啥辰光", "什么时候"),
    ("啥时候", "什么时候"),
    ("啥时", "什么时候"),
    ("啥地方", "什么地方"),
    ("啥人", "谁"),
    ("做啥", "干什么"),
    ("为啥", "为什么"),
    ("啥", "什么"),
    ("辰光", "时候"),
    ("阿拉", "我们"),
    ("侬", "你"),
    ("伊拉", "他们"),
    ("伊讲", "他说"),
    ("伊勿", "他不"),
    ("伊是", "他是"),
    ("屋里厢", "家里"),
    ("屋里向", "家里"),
    ("小囡", "孩子"),
    ("囡囡", "孩子"),
    ("交关", "很多"),
    ("晓得", "知道"),
    ("勿", "不"),
    ("覅", "不要"),
    ("嫑", "不要"),
    ("搿个", "这个"),
    ("搿", "这"),
    ("迭个", "这个"),
    ("今朝", "今天"),
    ("昨日", "昨天"),
    ("夜里向", "晚上"),
    ("夜到", "晚上"),
    ("早浪", "早上"),
    ("上半日", "上午"),
    ("下半日", "下午"),
    ("钞票", "钱"),
    ("铜钿", "钱"),
    ("困觉", "睡觉"),
    ("物事", "东西"),
    ("忒", "太"),
    ("邪气", "很"),
    ("一眼眼", "一点点"),
    ("欢喜", "喜欢"),
    ("吃力", "累"),
    ("记不牢", "记不住"),
    ("拨我", "给我"),
    ("拨伊", "给他"),
    ("阿是", "是不是"),
    ("老是", "总是"),
    ("老好", "很好"),
    ("老贵", "很贵"),
    ("老多", "很多"),
    ("老远", "很远"),
    ("老早", "很早"),
    ("老难", "很难"),
    ("老差", "很差"),
    ("老厚", "很厚"),
    ("老响", "很响"),
    ("老吵", "很吵"),
    ("老脏", "很脏"),
    ("老臭", "很臭"),
    ("老烦", "很烦"),
    ("老慢", "很慢"),
    ("老长", "很长"),
    ("老灵", "很好"),
    # typos
    ("拉圾", "垃圾"),
    ("垃级", "垃圾"),
    ("拉级", "垃圾"),
    ("做核算", "做核酸"),
    ("核算检测", "核酸检测"),
    ("核算报告", "核酸报告"),
    ("核算证明", "核酸证明"),
    ("电平车", "电瓶车"),
    ("电频车", "电瓶车"),
    ("身分证", "身份证"),
    ("物叶", "物业"),
    ("居住正", "居住证"),
    ("燃汽", "燃气"),
    ("煤汽", "煤气"),
    ("报消", "报销"),
    ("长户险", "长护险"),
    ("医报", "医保"),
    ("社报", "社保"),
    ("装璜", "装潢"),
    # synonyms
    ("泰迪", "泰迪狗"),
    ("柯基", "柯基狗"),
    ("金毛", "金毛狗"),
    ("柴犬", "柴犬狗"),
    ("博美", "博美狗"),
    ("比熊", "比熊狗"),
    ("哈士奇", "哈士奇狗"),
    ("拉布拉多", "拉布拉多狗"),
    ("狗狗", "狗"),
    ("一个礼拜", "一个星期"),
    ("礼拜一", "星期一"),
    ("礼拜二", "星期二"),
    ("礼拜三", "星期三"),
    ("礼拜四", "星期四"),
    ("礼拜五", "星期五"),
    ("礼拜六", "星期六"),
    ("礼拜天", "星期天"),
    ("礼拜日", "星期天"),
    ("日托", "日间照料"),
    ("高龄津贴", "老年综合津贴"),
    ("在外地住院", "在异地住院"),
    ("外地住院", "异地住院"),
    ("外地看病", "异地就医"),
    ("外地就医", "异地就医"),
    ("护理保险", "长护险"),
    ("没上证", "没办证"),
    ("去上证", "去办证"),
    ("要上证", "要办证"),
    ("高龄补贴", "老年综合津贴"),
    ("日光灯", "荧光灯"),
    ("报得掉", "能报销"),
    ("报掉", "报销"),
]

KEEP: list[str] = [
    "伊朗",
    "伊拉克",
    "伊斯兰",
    "伊利",
    "伊犁",
    "伊春",
    "伊人",
    "伊始",
    "伊甸",
    "伊宁",
    "伊蚊",
    "伊丽莎白",
    "木乃伊",
    "阿拉伯",
    "阿拉斯加",
    "阿拉丁",
    "阿拉善",
    "请勿",
    "切勿",
    "步伐",
    "砍伐",
    "采伐",
    "讨伐",
    "征伐",
    "北伐",
    "核算成本",
]

LEAD: list[str] = [
    "请问一下哈",
    "麻烦问一下",
    "麻烦问下",
    "打扰一下",
    "打扰了",
    "在吗",
    "帮我查一下",
    "帮我查下",
    "帮我查查",
    "帮我看一下",
    "帮我看下",
    "帮我看看",
    "帮我问一下",
    "帮我问下",
    "帮我问问",
    "帮我搜一下",
    "帮我了解一下",
    "查询一下",
    "查一下",
    "查下",
    "查查",
    "我想了解一下",
    "想了解一下",
    "想了解下",
    "热死了",
    "冷死了",
]

TAIL: list[str] = [
    "烦死了",
    "气死了",
    "急死了",
    "真是的",
    "你们到底管不管",
    "到底管不管",
    "有没有人管",
    "急急急",
    "热死了",
    "冷死了",
]


@pytest.mark.parametrize(("word", "folded"), WORDS, ids=[w for w, _ in WORDS])
def test_word_folds_inside_a_sentence(word: str, folded: str) -> None:
    assert resident_form(f"我想问{word}这件事") == f"我想问{folded}这件事"


@pytest.mark.parametrize("word", KEEP)
def test_a_keep_word_is_never_folded(word: str) -> None:
    assert resident_form(f"关于{word}的新闻") == f"关于{word}的新闻"


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("侬晓得伐", "你知道吗"),
        ("长期护理保险哪能申请", "长期长护险怎么申请"),  # folded alike in the corpus
        ("有食堂伐，我想去", "有食堂吗,我想去"),
        ("好参加伐 急", "好参加吗 急"),
        ("能报伐啦", "能报吗啦"),
        ("交关好的哦", "很多好的"),
        ("步伐", "步伐"),  # not a particle: a keep word
        ("伐木工", "伐木工"),  # not at the end of a clause
        ("小区楼下可以烧烤不", "小区楼下可以烧烤吗"),
        ("能报名不，我想去", "能报名吗,我想去"),
        ("不好意思打扰了", "不好意思打扰了"),  # not at the end of a clause
    ],
)
def test_particles_fold_only_at_the_end_of_a_clause(raw: str, folded: str) -> None:
    assert resident_form(raw) == folded


@pytest.mark.parametrize("phrase", LEAD)
def test_leading_padding_is_stripped_for_retrieval_and_kept_for_the_nlu(phrase: str) -> None:
    message = f"{phrase}湿垃圾几点倒"
    assert query_form(message) == "湿垃圾几点倒"
    assert phrase in padding_in(message)
    assert phrase in classifier_text(message)
    # inside a clause it is part of the sentence, not padding
    assert phrase in query_form(f"关于{phrase}湿垃圾几点倒")


@pytest.mark.parametrize("phrase", TAIL)
def test_trailing_padding_is_stripped_for_retrieval_and_kept_for_the_nlu(phrase: str) -> None:
    message = f"湿垃圾几点倒？{phrase}！"
    assert query_form(message) == "湿垃圾几点倒? !"
    assert phrase in padding_in(message)
    assert phrase in classifier_text(message)
    assert phrase in query_form(f"湿垃圾{phrase}几点倒")


def test_words_that_only_look_like_padding_stay() -> None:
    assert query_form("气功存在吗") == "气功存在吗"
    assert query_form("求答案谢谢亲的指点") == "求答案谢谢亲的指点"


def test_a_message_that_is_only_padding_keeps_it() -> None:
    assert query_form("谢谢") == "谢谢"
    assert query_form("打扰了 在吗") == "打扰了 在吗"


@pytest.mark.parametrize(
    ("raw", "query"),
    [
        ("请问一下哈 阿拉屋里厢的拉圾啥辰光倒伐？烦死了", "我们家里的垃圾什么时候倒吗?"),
        ("请问湿垃圾几点扔？谢谢", "请问湿垃圾几点扔?谢谢"),
        ("電平車好停伐", "电瓶车好停吗"),
        (
            "阿拉姆妈身份证过期了 要换新的到啥地方去换",
            "我们姆妈身份证过期了 要换新的到什么地方去换",
        ),
        ("你们到底管不管！楼道灯坏了一个礼拜了", "!楼道灯坏了一个星期了"),
        ("第二部 三个字", "第2部 3个字"),
        ("还要做核算伐", "还要做核酸吗"),
        ("老人瘫在床上 护理费老贵的", "老人瘫在床上 护理费很贵的"),
        ("伊拉克新闻", "伊拉克新闻"),
        ("六十五岁有啥补贴", "65岁有什么补贴"),
    ],
)
def test_resident_messages_as_retrieval_sees_them(raw: str, query: str) -> None:
    assert Normalizer().normalize(raw) == query


def test_every_rule_has_a_case() -> None:
    data = yaml.safe_load(DEFAULT_PHRASING.read_text(encoding="utf-8"))
    rules = {k: v for s in ("shanghainese", "typos", "synonyms") for k, v in data[s].items()}
    assert dict(WORDS) == rules
    assert set(KEEP) == set(data["keep"])
    assert set(LEAD) == set(data["padding"]["lead"])
    assert set(TAIL) == set(data["padding"]["tail"])


def test_malformed_rules_are_refused() -> None:
    with pytest.raises(PhrasingRulesError):
        PhrasingRules.from_mapping({"typos": ["拉圾"]})
    with pytest.raises(PhrasingRulesError):
        PhrasingRules.from_mapping({"padding": {"lead": [""]}})
    rules = PhrasingRules.from_mapping({"typos": {"拉圾": "垃圾"}, "keep": ["拉圾场"]})
    assert rules.fold("拉圾袋 拉圾场") == "垃圾袋 拉圾场"

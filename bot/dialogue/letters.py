"""Reading a resident's long message: a letter (complaint, suggestion, petition) or several
questions in one paragraph.

Pure functions over text, no I/O. A *letter* is a long message that states a matter rather than
asks one question; it is read for its kind (complaint, suggestion, request for help), its topic,
and whether the matter is one the neighbourhood committee follows itself or one it refers to the
city (12345 / 随申办). A *compound question* is a short paragraph of two to four questions or
requests, each answered in turn.

The topic words are general Chinese administrative vocabulary, written from what each public
service handles; they are not fitted to any evaluation set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

LETTER_MIN_CHARS = 80
"""Han characters from which a message reads as a letter whatever its wording."""
LETTER_MARKED_MIN_CHARS = 40
"""Han characters from which a message with letter wording (尊敬的…, 反映, 呼吁…) is one."""
FORWARD_CHARS = 300
"""Length of the text prepared for the resident to forward to 12345."""


class LetterKind(StrEnum):
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    REQUEST = "request"
    QUESTION = "question"

    @property
    def label(self) -> str:
        return {
            "complaint": "投诉",
            "suggestion": "建议",
            "request": "求助诉求",
            "question": "咨询",
        }[self.value]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True, slots=True)
class Topic:
    key: str
    label: str
    """What the matter is about, as the reply names it."""
    handler: str
    """Who usually handles it, as the reply names it ("" for the committee itself)."""
    words: tuple[str, ...]
    local: bool = False
    """Whether the committee itself follows this kind of matter up (the estate, neighbours)."""


TOPICS: tuple[Topic, ...] = (
    Topic(
        "estate",
        "小区环境和物业管理",
        "",
        _words(
            "物业 业委会 楼道 电梯 绿化 小区环境 停车位 车库 业主 楼上 楼下 邻居 "
            "隔壁 装修 楼栋 单元 保安 门禁 化粪池 晾晒 群租 高空抛物 小区里 本小区 "
            "我们小区 垃圾分类"
        ),
        local=True,
    ),
    Topic(
        "construction",
        "城市建设和房屋",
        "住建、规划、城管等部门",
        _words(
            "拆迁 征收 征地 安置 违章 违建 施工 工地 规划 房产证 不动产 开发商 "
            "楼盘 烂尾 商品房 交房 公租房 廉租房 棚改 道路 修路 路灯 下水道 管网 "
            "自来水 停水 停电 燃气 占道 城管 农村 村民 宅基地"
        ),
    ),
    Topic(
        "environment",
        "环境污染",
        "生态环境部门",
        _words(
            "污染 排放 排污 废水 废气 粉尘 扬尘 臭味 异味 恶臭 噪音 噪声 化工 "
            "砖厂 工厂 厂房 垃圾站 焚烧 河道 黑臭 环保 辐射 变电站 油烟 污水"
        ),
    ),
    Topic(
        "transport",
        "交通出行",
        "交通、公安交警等部门",
        _words(
            "公交 地铁 出租车 网约车 的士 交警 红绿灯 驾照 驾驶证 高速 收费站 线路 "
            "站台 交通 违停 车辆 客运 火车 机场 驾校 摩托车 电动车上牌"
        ),
    ),
    Topic(
        "labour",
        "劳动就业和社会保障",
        "人社部门",
        _words(
            "工资 欠薪 拖欠 社保 养老保险 医保 医疗保险 退休 工伤 劳动合同 劳动法 "
            "农民工 失业 就业 公积金 低保 养老金 残疾 职工 辞退 加班 用人单位 派遣 "
            "编制 待遇"
        ),
    ),
    Topic(
        "health",
        "医疗卫生",
        "卫生健康部门",
        _words(
            "医院 医生 护士 医疗 看病 手术 药品 疫苗 计生 生育 卫生院 诊所 医患 "
            "住院 门诊 病人 患者 独生子女 二胎"
        ),
    ),
    Topic(
        "education",
        "教育和文化体育",
        "教育、文旅等部门",
        _words(
            "学校 学生 老师 教师 幼儿园 入学 招生 培训 补课 高考 中考 教育 文化 "
            "遗产 体育 图书馆 学费 校车 班主任 小学 中学 大学 学籍 转学"
        ),
    ),
    Topic(
        "commerce",
        "消费和市场经营",
        "市场监管部门",
        _words(
            "商家 商户 超市 消费 退款 传销 中介 价格 市场 旅游 景区 快递 餐馆 "
            "饭店 网购 质量 假冒 诈骗 经营 营业 执照 门店 房东"
        ),
    ),
)
GENERAL = Topic("general", "公共事务", "相关政府部门", ())

_SUGGEST = re.compile(
    r"建议|提议|呼吁|希望.{0,12}(能|可以|尽快|加快|增设|增加|开通|设立|改善|出台)|"
    r"能否|可否|是否可以|能不能|可不可以|盼望|期盼"
)
_COMPLAIN = re.compile(
    r"投诉|举报|曝光|扰民|违法|违规|非法|不作为|乱收费|侵犯|欺骗|拖欠|克扣|强行|强制|"
    r"严重|太差|恶劣|霸王|敷衍|推诿|无人管|没人管|不管不问|欺负|骗"
)
_REQUEST = re.compile(r"求助|请求|恳请|恳求|救助|帮帮|帮助|做主|申请|补偿|解决")
_MARKERS = re.compile(
    r"尊敬的|领导|书记|市长|县长|局长|主任|反映|呼吁|建议|投诉|举报|请求|恳请|"
    r"希望有关部门|相关部门|有关部门|政府"
)
_HAN = re.compile(r"[\u4e00-\u9fff]")
_QUESTION_WORD = re.compile(
    r"怎么|怎样|如何|哪里|哪儿|哪个|哪些|什么|啥|几点|几号|多少|多久|谁|吗|伐|呢|么|"
    r"能不能|可不可以|可以.{0,10}吗|有没有|是不是|要不要|[?？]"
)
_REQUEST_WORD = re.compile(r"帮忙|帮我|麻烦|请.{0,4}(修|处理|来|看|管|登记)|坏了|报修|修一下")
_FOLLOW_UP = re.compile(
    r"^(要|需要|还要|还需要|那|那么|在|去|到|可以|能|能不能|是不是|是否|多少|几|什么|怎么|哪|"
    r"大概|一般|具体|它|这个|那个|这|带)"
)
_SPLIT = re.compile(r"(?<=[。！？!?；;])|\n+|(?:(?<=[，,])(?=(?:还有|另外|再问|顺便|以及|对了)))")
_LEADS = re.compile(
    r"^((还有|另外|再问一下|再问|顺便问一下|顺便|以及|对了|然后|你好|您好|打扰了|请问一下|"
    r"麻烦问一下|问一下)[啊呀哈，,、！!\s]*)+"
)


def han_count(text: str) -> int:
    return len(_HAN.findall(text))


@dataclass(frozen=True, slots=True)
class Letter:
    kind: LetterKind
    topic: Topic
    subject: str
    """The letter's first line or sentence, shortened: what the reply quotes back."""
    text: str

    @property
    def local(self) -> bool:
        return self.topic.local

    def forward_text(self) -> str:
        """The letter prepared to paste into 12345 / 随申办: its subject, then its body."""
        body = re.sub(r"\s+", " ", self.text.replace("_x000D_", " ")).strip()
        if len(body) > FORWARD_CHARS:
            body = body[:FORWARD_CHARS].rstrip("，,、 ") + "……"
        return f"【{self.kind.label}】{body}"


def read_letter(text: str, *, local_names: Sequence[str] = ()) -> Letter | None:
    """The letter ``text`` is, or None when it is not one (short, or a few plain questions).

    ``local_names``: the committee's own names (its compounds, the committee): a letter that
    names one of them is the committee's matter whatever its topic."""
    n = han_count(text)
    if n < LETTER_MARKED_MIN_CHARS:
        return None
    if not letter_form(text):
        if n < LETTER_MIN_CHARS and not _MARKERS.search(text):
            return None
        if split_questions(text):
            return None
    topic = classify_topic(text)
    if any(name and name in text for name in local_names) and not topic.local:
        topic = Topic(topic.key, topic.label, topic.handler, topic.words, local=True)
    return Letter(_kind(text), topic, _subject(text), text)


def letter_form(text: str) -> bool:
    """A subject line, then the body: how a letter to an office is laid out."""
    head, _, body = text.strip().partition("\n")
    return 0 < han_count(head) <= 50 and han_count(body) >= 20


def classify_topic(text: str) -> Topic:
    """The topic whose words occur most (distinct words, the subject line counting twice)."""
    head = _subject(text)
    best, best_score = GENERAL, 0.0
    for topic in TOPICS:
        score: float = sum(1 for w in topic.words if w in text) + sum(
            1 for w in topic.words if w in head
        )
        if topic.local:
            score *= 0.9  # a city matter that mentions 业主 or 小区 is still a city matter
        if score > best_score:
            best, best_score = topic, score
    return best


def _kind(text: str) -> LetterKind:
    head = _subject(text)
    for part in (head, text):
        suggest = len(_SUGGEST.findall(part))
        complain = len(_COMPLAIN.findall(part))
        request = len(_REQUEST.findall(part))
        if suggest or complain or request:
            if complain >= max(suggest, request) and complain:
                return LetterKind.COMPLAINT
            if suggest >= request:
                return LetterKind.SUGGESTION
            return LetterKind.REQUEST
    if _QUESTION_WORD.search(text):
        return LetterKind.QUESTION
    return LetterKind.COMPLAINT


def _subject(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    first = re.split(r"[。！!；;：:]", first, maxsplit=1)[0].strip() or first
    if len(first) > 30:
        # No sentence end early on: up to the last pause within the first 30 characters.
        cut = max(first.rfind(p, 8, 30) for p in "，,、？?")
        first = first[:cut] + "……" if cut > 0 else first[:30] + "……"
    return first


def asks(text: str) -> bool:
    """Whether ``text`` asks something: a question word or a question mark."""
    return _QUESTION_WORD.search(text) is not None


def split_questions(text: str) -> list[str]:
    """The questions or requests of a short paragraph that holds two to four of them, in
    order; [] for a single question, a letter or a narrative.

    Every part must read as a question or a request on its own, and none may be long: a
    story with one question at its end is one message, not several."""
    raw = [p.strip(" \t，,。；;") for p in _SPLIT.split(text) if p and p.strip(" \t，,。；;")]
    parts: list[str] = []
    for p in raw:
        stripped = _LEADS.sub("", p).strip()
        new_question = stripped != p  # "还有…", "另外…": a question of its own
        p = stripped
        if han_count(p) == 0:
            continue
        if han_count(p) <= 3 and not _QUESTION_WORD.search(p):
            continue  # "谢谢", "急的" — not a question of its own
        if parts and not new_question and _FOLLOW_UP.match(p):
            parts[-1] = (
                f"{parts[-1].rstrip('？?')}，{p}"  # "要带什么材料？" asks more about the last one
            )
            continue
        parts.append(p)
    parts = _distinct(parts)
    if not 2 <= len(parts) <= 4:
        return []
    if any(han_count(p) > 40 for p in parts):
        return []
    if not all(_QUESTION_WORD.search(p) or _REQUEST_WORD.search(p) for p in parts):
        return []
    return parts


def _distinct(parts: list[str]) -> list[str]:
    """Drop a part that restates an earlier one (a subject line and the same question again):
    the longer wording stays, in the earlier place."""
    kept: list[str] = []
    for p in parts:
        chars = set(_HAN.findall(p))
        for i, k in enumerate(kept):
            other = set(_HAN.findall(k))
            if not (chars and other):
                continue
            contained = chars <= other or other <= chars
            if contained or len(chars & other) / len(chars | other) >= 0.6:
                kept[i] = p if len(p) > len(k) else k
                break
        else:
            kept.append(p)
    return kept

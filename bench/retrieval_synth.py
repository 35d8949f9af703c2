"""Synthetic FAQ corpora for the retrieval benchmark: many distinct, plausible entries.

Each entry is a (subject, place, intent) combination; its question and five alternates are
that intent's phrasings filled with the subject and place, so every entry has six distinct
texts of realistic length (10–20 characters). Deterministic for a given seed.
"""

from __future__ import annotations

import random

from bot.domain.faq import FaqEntry

SUBJECTS = (
    "电梯",
    "楼道灯",
    "水管",
    "门禁",
    "停车位",
    "垃圾箱房",
    "物业费",
    "居住证",
    "医保卡",
    "长护险",
    "敬老卡",
    "犬证",
    "充电桩",
    "下水道",
    "燃气表",
    "防盗门",
    "监控",
    "路灯",
    "绿化",
    "信报箱",
    "自行车棚",
    "快递柜",
    "消防栓",
    "烟感",
    "外墙",
    "屋顶",
    "窨井盖",
    "水泵",
    "化粪池",
    "空调外机",
    "晾衣架",
    "雨棚",
    "楼梯扶手",
    "单元门",
    "地下车库",
    "公共厕所",
    "健身器材",
    "儿童乐园",
    "助餐点",
    "活动室",
    "阅览室",
    "老年食堂",
    "宣传栏",
    "道闸",
    "岗亭",
    "围墙",
    "排水沟",
    "化粪井",
    "电表箱",
    "水表",
    "宽带",
    "有线电视",
    "门牌",
    "车位锁",
    "地锁",
    "楼顶水箱",
    "避雷针",
    "电动车棚",
    "垃圾桶",
    "旧衣箱",
)
PLACES = (
    *tuple(f"{n}号楼" for n in range(1, 31)),
    "东门",
    "西门",
    "南门",
    "北门",
    "小区花园",
    "中心广场",
    "车库入口",
    "物业楼",
    "老年活动中心",
    "河边步道",
)
INTENTS = (
    (
        "{p}的{s}坏了找谁修？",
        "{p}{s}坏掉了",
        "{s}坏了报修打哪个电话 {p}",
        "{p}那边{s}不能用了",
        "{s}出问题了怎么办{p}",
        "谁来修{p}的{s}",
    ),
    (
        "{p}的{s}怎么申请？",
        "{p}{s}要怎么办",
        "想办{p}的{s}",
        "{s}申请流程是什么 {p}",
        "{p}{s}在哪里申请",
        "申请{s}找谁{p}",
    ),
    (
        "{p}的{s}收费标准是多少？",
        "{p}{s}多少钱",
        "{s}要交多少费用{p}",
        "{p}的{s}怎么收费",
        "{s}价格{p}",
        "{p}{s}贵不贵",
    ),
    (
        "{p}的{s}什么时候开放？",
        "{p}{s}几点开",
        "{s}开放时间{p}",
        "{p}的{s}周末开吗",
        "{s}什么时间能用 {p}",
        "{p}{s}啥辰光开",
    ),
    (
        "{p}的{s}有安全隐患怎么办？",
        "{p}{s}很危险",
        "{s}不安全找谁{p}",
        "{p}{s}要出事了",
        "{s}存在隐患{p}",
        "举报{p}的{s}隐患",
    ),
    (
        "{p}的{s}太吵了怎么处理？",
        "{p}{s}噪音大",
        "{s}声音太响{p}",
        "{p}那边{s}吵得睡不着",
        "{s}扰民投诉{p}",
        "{p}{s}吵死了",
    ),
    (
        "{p}的{s}谁负责管理？",
        "{p}{s}归谁管",
        "{s}管理单位是哪个{p}",
        "{p}的{s}是物业管吗",
        "{s}由谁负责{p}",
        "{p}{s}没人管",
    ),
    (
        "{p}的{s}需要带什么材料？",
        "{p}办{s}要带啥",
        "{s}材料清单{p}",
        "{p}{s}要准备哪些证件",
        "办理{s}需要什么{p}",
        "{p}{s}带身份证就行吗",
    ),
    (
        "{p}的{s}可以改造吗？",
        "{p}{s}能不能改",
        "{s}改造申请{p}",
        "{p}想改一下{s}",
        "{s}可以换新的吗{p}",
        "{p}{s}翻新",
    ),
    (
        "{p}的{s}被占用了怎么办？",
        "{p}{s}被人占了",
        "{s}被占用投诉{p}",
        "{p}有人霸占{s}",
        "{s}让别人占着{p}",
        "{p}{s}被堵住了",
    ),
)


def synthetic_entries(n: int, seed: int = 7) -> list[FaqEntry]:
    """``n`` distinct entries (at most len(SUBJECTS) × len(PLACES) × len(INTENTS))."""
    combos = [(s, p, i) for s in SUBJECTS for p in PLACES for i in range(len(INTENTS))]
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} synthetic entries")
    rng = random.Random(seed)
    rng.shuffle(combos)
    out: list[FaqEntry] = []
    for k, (s, p, i) in enumerate(combos[:n]):
        texts = [t.format(s=s, p=p) for t in INTENTS[i]]
        out.append(
            FaqEntry.from_dict(
                {
                    "id": f"synth-{k:05d}",
                    "topic": f"intent{i}",
                    "question": texts[0],
                    "alternates": texts[1:],
                    "answer": f"关于{p}{s}的问题，请联系物业服务中心或居委会办理（示例答案 {k}）。",
                    "materials": ["身份证"] if i == 7 else [],
                    "tags": [s],
                }
            )
        )
    return out


def synthetic_queries(entries: list[FaqEntry], n: int, seed: int = 11) -> list[tuple[str, str]]:
    """Queries close to, but not copies of, indexed phrasings, with the entry they come from."""
    rng = random.Random(seed)
    fillers = ("请问", "麻烦问下", "你好，", "", "")
    tails = ("啊", "呢", "？", "", "，谢谢")
    out = []
    for _ in range(n):
        e = rng.choice(entries)
        text = rng.choice(e.texts)
        out.append((f"{rng.choice(fillers)}{text}{rng.choice(tails)}", e.id))
    return out

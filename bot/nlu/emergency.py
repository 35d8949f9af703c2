"""The keyword/regex emergency layer: fires regardless of the classifier.

A missed emergency is the worst error Linli can make, so these rules favour recall: any
phrase that plausibly describes a live danger (someone trapped in a lift, a lift that slid,
gas, fire or smoke, water pouring in, someone collapsed) fires. The only suppression is for
messages that are plainly about a drill, a lecture or prevention and carry no urgency
marker. Rules run on the normalised text (simplified, half-width), and the hit is reported
against the original text.
"""

from __future__ import annotations

import re

from bot.nlu.normalize import normalize
from bot.nlu.types import EmergencyCategory, EmergencyHit

_LIFT_WORD = r"(?:电梯|电悌|电t|梯子|轿厢|升降机|货梯|客梯|lift|elevator)"
_TRAP = (
    r"(?:困|关住|关牢|关着|关了人|关人|吃人|关在|卡住|卡牢|卡在|卡人|出不来|出不去|出勿来|"
    r"打不开|开不开|开勿开|下滑|往下滑|滑了|滑下|溜|坠|掉下|往下掉|掉了一层|掉了1层|突然下降|"
    r"下坠|冲顶|蹲底|失控|变形|夹|急停|停在半|停在两层|停在2层中间|停在中间|悬在|有人在里|"
    r"里面有人|里厢有人|里有人|人在里|在里面|在里厢|我在里|关里面|关里厢|停住了.{0,6}人|"
    r"不动了.{0,6}人|报警铃|警铃|中间|之间|冲到顶|掉了.{0,2}层|掉下去)"
)
_LIFT = [
    rf"{_LIFT_WORD}.{{0,14}}?{_TRAP}",
    rf"(?:困|关|卡|锁|闷)(?:在|进|牢在|住在)?.{{0,3}}{_LIFT_WORD}",
    r"溜梯|电梯溜|梯子溜",
]
_GAS_WORD = r"(?:煤气|燃气|天然气|液化气|煤汽|燃汽|瓦斯|煤气罐|液化气罐)"
_GAS = [
    rf"{_GAS_WORD}.{{0,10}}?(?:味|漏|泄|臭|冲|爆|闻到|报警|嘶嘶|呲呲|没关|中毒)",
    rf"(?:闻到|闻着|一股|好大的|老重的|好重的|很重的|有股).{{0,8}}?{_GAS_WORD}",
    r"臭鸡蛋味|一氧化碳|燃气报警器|煤气报警器|可燃气体报警",
    r"(?:煤气|燃气|天然气)(?:管|管子|管道|阀|阀门|表|瓶|罐).{0,4}(?:裂|断|破|爆|坏|松)",
    r"gas\s*(?:leak|smell)|smell(?:s)?\s*(?:of\s*)?gas",
]
_FIRE = [
    r"着火|着伙|起火|失火|火灾|火警|烧起来|烧着了|烧起来了|火烧|冒烟|冒黑烟|浓烟|黑烟|"
    r"火苗|火光|明火|爆燃|爆炸|火着了|火很大|火好大|火势|烟很大|烟好大|好多烟|全是烟|"
    r"都是烟|烟雾报警|焦味|焦糊味|烧焦|烧糊.{0,6}(?:烟|味)|电线.{0,4}(?:烧|冒火|火花|短路)|"
    r"(?:电瓶车|电动车|充电器|插座|电箱|配电箱|电表箱).{0,8}(?:烧|火|冒烟|炸)|走火|放火|纵火|"
    r"(?:好大|很大|很浓|好浓|太大|浓浓)的烟|(?<![油抽])烟(?:雾)?(?:好|很|太|特别)?(?:大|浓)|烟雾弥漫|"
    r"\bfire\b|\bsmoke\b|\bburning\b",
]
_FLOOD = [
    r"(?:水管|管子|自来水管|总水管|水表|阀门|总阀|暖气片|热水器|水箱|消防管|消防栓).{0,6}?"
    r"(?:爆|裂|崩|喷|冲出|飙)",
    r"爆管|水漫|漫水|漫出|漫进|漫到|漫上来|淹了|淹到|淹水|水淹|被淹|进水了|大水|发大水|"
    r"灌进|往里灌|往下灌|倒灌|哗哗|水在喷|喷水|一屋子水|满屋子水|全是水|都是水|一地的水|"
    r"水.{0,4}(?:止不住|停不下来|关不住|关不掉|越来越多|涨上来|没过)|积水.{0,4}(?:很深|好深|没过|齐膝)",
    r"漏水.{0,6}(?:很大|厉害|严重|像下雨|止不住|停不下来|到处)",
    r"(?:总阀|阀门|水龙头|龙头|水管).{0,4}(?:关不住|关不掉|关不上|关勿牢)|水.{0,6}(?:一直喷|涌)|"
    r"\bflood(?:ed|ing)?\b|water\s*(?:everywhere|pouring)",
]
_MEDICAL = [
    r"晕倒|昏倒|晕过去|昏过去|晕到|昏到|晕厥|昏迷|休克|不省人事|倒地|倒在地|倒了不动|瘫倒|"
    r"(?:摔|跌|绊|滚)(?:倒|跤|了一跤|下来|了).{0,8}"
    r"(?:起不来|爬不起|起勿来|爬勿起|不动|流血|出血|昏|晕|动不了|不能动|勿会动)|"
    r"从.{0,8}(?:摔|滚|跌|掉)下来|倒在(?:地|楼|电梯|门|路|家|厕所|卫生间|床边)|一动不动|动不了了|"
    r"快晕|要晕过去|晕了过去|心脏不舒服|胸口(?:痛|疼|闷)|心口(?:痛|疼)|说不出话|嘴歪|"
    r"喝了?农药|吃了?(?:安眠药|老鼠药)|吞了|服毒|(?:有人|人|头|手|脸).{0,4}(?:流血|出血)|"
    r"\bunconscious\b|\bcollapsed?\b|heart\s*attack|not\s*breathing|ambulance|"
    r"没(?:有)?呼吸|没气了|没有气了|喘不上气|喘不过气|呼吸困难|透不过气|叫不醒|喊不醒|喊不应|"
    r"叫不应|(?:人|他|她|老人|阿婆|阿爷|爷爷|奶奶|老头|老太|爸|妈|敲门|喊|叫).{0,6}没(?:有)?反应|人不行了|快不行了|心脏病|心梗|心肌梗|心脏骤停|中风|脑梗|脑溢血|"
    r"抽搐|口吐白沫|大出血|流了好多血|血流不止|好多血|一直流血|噎住|卡住喉咙|触电|电到人|"
    r"中毒|急救|救护车|打120|叫120|拨120|打了120|自杀|轻生|割腕|跳楼|寻短见|想不开",
]
_OTHER = [
    r"救命|救救|快来人|来人啊|有人打人|打人了|打架|持刀|拿刀|砍人|抢劫|入室|小偷.{0,4}(?:在|进)|"
    r"有人撬门|塌了|倒塌|塌下来|坍塌|要塌|掉下来.{0,6}(?:砸|人)|砸到人|砸伤|高空坠物|"
    r"打起来了|落水|掉河里|掉进.{0,4}(?:河|水|湖|池)|跳河|\bhelp\b|trapped|emergency|被锁在|锁在车里|锁在屋里|打110|报警了|快报警|孩子不见了|小孩走丢|"
    r"(?:老人|老太|老头|阿婆|阿爷|爷爷|奶奶|孩子|小孩).{0,4}(?:走失了|走丢了|不见了|找不到了)|好几天没出门|几天没开门|敲门没人应|有人被困|被困",
]

_RULES: tuple[tuple[EmergencyCategory, re.Pattern[str]], ...] = tuple(
    (cat, re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE))
    for cat, pats in (
        (EmergencyCategory.FIRE, _FIRE),
        (EmergencyCategory.GAS, _GAS),
        (EmergencyCategory.LIFT, _LIFT),
        (EmergencyCategory.FLOOD, _FLOOD),
        (EmergencyCategory.MEDICAL, _MEDICAL),
        (EmergencyCategory.OTHER, _OTHER),
    )
)
# Plainly not a live danger: drills, lectures, prevention — unless an urgency marker is there.
_NOT_LIVE = re.compile(
    r"演习|演练|培训|讲座|宣传|知识竞赛|科普|预防|防范|注意事项|应急预案|年检|维保通知|"
    r"以前|上次|去年|上个月|新闻|电视上|电影|小说|游戏"
)
_URGENT = re.compile(r"救命|快|赶紧|马上|现在|正在|急|!|！|帮帮|来人|还在")
# "没人关在里面", "差点砸到人": the danger is denied or did not happen.
_NEGATED = re.compile(r"(?:没有?人|没有|没|无人|(?<!是)不是|差点|差一点|险些|以防)\s*(?:被)?\s*$")
_MAX_SCAN = 2000


def detect_emergency(text: str) -> EmergencyHit | None:
    """The emergency a message describes, or None.

    Categories are checked fire, gas, lift, flood, medical, other: a message that mentions
    several gets the one whose safety advice matters most (fire before the lift it is in).
    """
    if not text or not text.strip():
        return None
    norm = normalize(text[:_MAX_SCAN])
    body = norm.text
    live = not (_NOT_LIVE.search(body) and not _URGENT.search(body))
    for category, rule in _RULES:
        for m in rule.finditer(body):
            if _NEGATED.search(body[max(0, m.start() - 4) : m.start()]) or _negated_inside(m):
                continue
            if not live:
                return None
            start, end = norm.to_original(m.start(), m.end())
            return EmergencyHit(category, text[start:end], start, end, "rules")
    return None


def _negated_inside(m: re.Match[str]) -> bool:
    """A window match like "电梯又停了，没人关在" whose trigger word is itself negated."""
    span = m.group(0)
    return bool(re.search(r"(?:没有?人|无人)(?:被)?(?:困|关|卡)", span))


_GUESS: tuple[tuple[EmergencyCategory, re.Pattern[str]], ...] = (
    (EmergencyCategory.FIRE, re.compile(r"火|烟|烧|炸|fire|smoke", re.IGNORECASE)),
    (EmergencyCategory.GAS, re.compile(r"煤气|燃气|天然气|液化气|气味|漏气|gas", re.IGNORECASE)),
    (EmergencyCategory.LIFT, re.compile(r"电梯|梯|轿厢|lift|elevator", re.IGNORECASE)),
    (EmergencyCategory.FLOOD, re.compile(r"水|淹|漏|flood", re.IGNORECASE)),
    (
        EmergencyCategory.MEDICAL,
        re.compile(r"晕|倒|血|呼吸|喘|药|病|摔|跌|疼|痛|昏|抽|医|伤|噎|卡住", re.IGNORECASE),
    ),
)


def guess_category(text: str) -> EmergencyCategory:
    """A best-effort category for an emergency found by the classifier, not the rules."""
    body = normalize(text[:_MAX_SCAN]).text
    for category, rx in _GUESS:
        if rx.search(body):
            return category
    return EmergencyCategory.OTHER

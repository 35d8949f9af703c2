"""Duplicate reports: two residents reporting the same fault.

The rule, kept simple so a caseworker can check it by eye — a new report matches an earlier
ticket when all of these hold:

1. same committee, same compound and same building (buildings compared by number, so
   "20号楼", "二十号楼" and "20幢" are the same; a report without compound or building never
   matches);
2. same category;
3. the earlier ticket is still open (not resolved, not closed) and was opened within the
   window (24 hours by default) before the new one;
4. both descriptions mention the same fault: each description maps to fault concepts through
   the keyword table :data:`FAULT_KEYWORDS` (电梯, 漏水, 停电 …) and the two sets share at least
   one concept.

A match *links* the tickets (both show the link); nothing is merged, and each resident keeps
their own ticket and hears about it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import cn2an

from bot.domain.tickets import Ticket

FAULT_KEYWORDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "电梯": ("电梯", "困梯", "关在梯", "轿厢", "梯门", "扶梯"),
        "漏水": ("漏水", "渗水", "滴水", "爆管", "水管", "渗漏", "漏雨", "水漫", "积水"),
        "停电": ("停电", "断电", "没电", "跳闸", "没有电", "电闸"),
        "停水": ("停水", "没水", "没有水", "水压"),
        "燃气": ("燃气", "煤气", "天然气"),
        "照明": ("路灯", "楼道灯", "灯不亮", "灯坏", "照明"),
        "门禁": ("门禁", "单元门", "防盗门", "楼道门", "门锁"),
        "堵塞": ("堵塞", "堵了", "下水道", "化粪池", "污水", "返水", "冒水"),
        "垃圾": ("垃圾",),
        "噪音": ("噪音", "噪声", "太吵"),
        "消防": ("消防", "灭火器", "烟感", "消火栓"),
        "外墙": ("外墙", "墙皮", "脱落", "掉落"),
        "屋面": ("屋顶", "屋面", "天台"),
        "监控": ("监控", "摄像头"),
        "充电": ("电瓶车", "电动车", "充电桩", "飞线"),
        "绿化": ("绿化", "树枝", "修剪", "倒树"),
        "停车": ("停车", "车位", "占道", "堵门"),
        "虫害": ("老鼠", "蟑螂", "白蚁", "蚊虫"),
        "信号": ("信号", "宽带", "网络"),
    }
)
"""Fault concept → the words that signal it in a description."""

_DIGITS = re.compile(r"\d+")
_BUILDING_SUFFIX = re.compile(r"(号楼|号|幢|栋|座|楼)$")


def fault_concepts(text: str) -> frozenset[str]:
    """The fault concepts a description mentions (``"电梯又停了"`` → ``{"电梯"}``)."""
    return frozenset(
        concept for concept, words in FAULT_KEYWORDS.items() if any(word in text for word in words)
    )


def building_key(building: str) -> str:
    """A comparable key for a building: its number when it has one ("二十号楼" → "20"),
    otherwise the text without a trailing 号楼/幢/栋/座 ("A座" → "a")."""
    text = building.strip()
    if not text:
        return ""
    try:
        with warnings.catch_warnings():
            # cn2an warns about (and may then reject) odd numerals such as a lone 百
            warnings.simplefilter("ignore")
            text = str(cn2an.transform(text, "cn2an"))
    except Exception:  # noqa: S110 - third-party parser on untrusted text: keep the original
        pass
    m = _DIGITS.search(text)
    if m is not None:
        return str(int(m[0]))
    return _BUILDING_SUFFIX.sub("", text).strip().lower()[:40]


@dataclass(frozen=True, slots=True)
class SimilarTicket:
    """An open ticket that looks like the same fault, and why."""

    ticket: Ticket
    concepts: frozenset[str]
    """The fault concepts both descriptions share."""

    @property
    def reason(self) -> str:
        """A Chinese explanation for the history (``同小区同楼栋同类问题：电梯``)."""
        return f"同小区同楼栋同类问题：{'、'.join(sorted(self.concepts))}"


def shared_concepts(description: str, candidate: Ticket) -> frozenset[str]:
    return fault_concepts(description) & fault_concepts(candidate.description)

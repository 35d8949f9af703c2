"""The rules a consultation must meet, and the result of one: pure arithmetic, no I/O.

Every option but the first counts as "not approving"; the first option (``同意`` by default)
is the approval. Abstentions (弃权) count as participating: they raise the participation
and lower the approval share, as the Civil Code counts them.

- ``simple``: a simple majority of those who took part — more than half of the participating
  households chose the first option. No quorum, floor area not counted.
- ``civil_majority`` (民法典第二百七十八条, ordinary matters, e.g. 使用建筑物及其附属设施的
  维修资金): participation by owners holding two-thirds or more (三分之二以上) of the eligible
  floor area **and** two-thirds or more of the eligible owners (households); approval by
  more than half (过半数) of the participating area **and** more than half of the
  participating owners.
- ``civil_supermajority`` (第二百七十八条第一款第六至八项: 筹集维修资金, 改建、重建建筑物及其
  附属设施, 改变共有部分的用途或者利用共有部分从事经营活动): the same participation; approval
  by three-quarters or more (四分之三以上) of the participating area **and** of the
  participating owners.

"以上" includes the figure itself (民法典第一千二百五十九条); "过半数" does not. All shares are
computed exactly (fractions), never in floating point.

A household without a registered floor area: under a Civil Code rule its area is unknown,
so the area conditions cannot be established — they are reported as not met, naming how
many eligible households have no area, and the consultation does not pass until the
committee records the areas. The simple rule does not use area."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


class Rule(enum.StrEnum):
    SIMPLE = "simple"
    CIVIL_MAJORITY = "civil_majority"
    CIVIL_SUPERMAJORITY = "civil_supermajority"

    @property
    def label(self) -> str:
        return RULE_LABELS[self]

    @property
    def civil(self) -> bool:
        return self is not Rule.SIMPLE


RULE_LABELS = {
    Rule.SIMPLE: "参与投票户数过半数同意",
    Rule.CIVIL_MAJORITY: "民法典第二百七十八条（双三分之二参与、双过半同意，如使用维修资金）",
    Rule.CIVIL_SUPERMAJORITY: (
        "民法典第二百七十八条（双三分之二参与、双四分之三同意，如筹集维修资金、改建重建、改变共有部分用途）"
    ),
}

TWO_THIRDS = Fraction(2, 3)
HALF = Fraction(1, 2)
THREE_QUARTERS = Fraction(3, 4)


@dataclass(frozen=True, slots=True)
class Ballot:
    """One eligible household: its floor area (None: not registered) and its choice (the
    option's index, None: has not voted)."""

    household_id: int
    floor_area: float | None
    choice: int | None


@dataclass(frozen=True, slots=True)
class Check:
    """One condition of the rule: what was needed, what was reached, met or not."""

    name: str
    reached: Fraction
    needed: Fraction
    strict: bool
    """``True``: more than ``needed`` (过半数); ``False``: at least (以上)."""
    met: bool
    note: str = ""

    def describe(self) -> str:
        word = "超过" if self.strict else "达到"
        verdict = "符合" if self.met else "不符合"
        extra = f"（{self.note}）" if self.note else ""
        reached, needed = percent(self.reached), percent(self.needed)
        return f"{self.name}：{reached}，需{word}{needed}，{verdict}{extra}"


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts per option, by household and by floor area, over the eligible households."""

    options: tuple[str, ...]
    eligible: int
    eligible_area: Fraction
    missing_area: int
    """Eligible households without a registered floor area."""
    voted: int
    voted_area: Fraction
    counts: tuple[int, ...]
    areas: tuple[Fraction, ...]

    @property
    def not_voted(self) -> int:
        return self.eligible - self.voted


@dataclass(frozen=True, slots=True)
class Outcome:
    rule: Rule
    tally: Tally
    checks: tuple[Check, ...]
    passed: bool

    def summary(self) -> str:
        head = "通过" if self.passed else "未通过"
        return f"{head}。" + "；".join(c.describe() for c in self.checks) + "。"


def tally(options: Sequence[str], ballots: Sequence[Ballot]) -> Tally:
    counts = [0] * len(options)
    areas = [Fraction(0)] * len(options)
    voted = 0
    voted_area = Fraction(0)
    eligible_area = Fraction(0)
    missing = 0
    for b in ballots:
        area = _area(b.floor_area)
        if area is None:
            missing += 1
        else:
            eligible_area += area
        if b.choice is None or not 0 <= b.choice < len(options):
            continue
        voted += 1
        counts[b.choice] += 1
        if area is not None:
            voted_area += area
            areas[b.choice] += area
    return Tally(
        tuple(options),
        len(ballots),
        eligible_area,
        missing,
        voted,
        voted_area,
        tuple(counts),
        tuple(areas),
    )


def decide(rule: Rule, options: Sequence[str], ballots: Sequence[Ballot]) -> Outcome:
    """The rule applied to the ballots (see the module doc)."""
    t = tally(options, ballots)
    approve = t.counts[0] if t.counts else 0
    approve_area = t.areas[0] if t.areas else Fraction(0)
    checks: list[Check] = []
    if rule is Rule.SIMPLE:
        checks.append(_check("同意户数占参与户数", _share(approve, t.voted), HALF, strict=True))
    else:
        area_note = f"{t.missing_area} 户未登记面积，面积条件无法认定" if t.missing_area else ""
        checks.append(
            _check("参与表决户数占全体户数", _share(t.voted, t.eligible), TWO_THIRDS, strict=False)
        )
        checks.append(
            _check(
                "参与表决面积占总面积",
                _share(t.voted_area, t.eligible_area),
                TWO_THIRDS,
                strict=False,
                blocked=area_note,
            )
        )
        needed = HALF if rule is Rule.CIVIL_MAJORITY else THREE_QUARTERS
        strict = rule is Rule.CIVIL_MAJORITY
        checks.append(
            _check("同意户数占参与表决户数", _share(approve, t.voted), needed, strict=strict)
        )
        checks.append(
            _check(
                "同意面积占参与表决面积",
                _share(approve_area, t.voted_area),
                needed,
                strict=strict,
                blocked=area_note,
            )
        )
    return Outcome(rule, t, tuple(checks), all(c.met for c in checks))


def percent(value: Fraction) -> str:
    """``0.6667`` → ``66.67%`` (rounded for reading; decisions use the exact fraction)."""
    return f"{float(value) * 100:.2f}%"


def _check(
    name: str, reached: Fraction, needed: Fraction, *, strict: bool, blocked: str = ""
) -> Check:
    met = (reached > needed if strict else reached >= needed) and not blocked
    return Check(name, reached, needed, strict, met, blocked)


def _share(part: int | Fraction, whole: int | Fraction) -> Fraction:
    return Fraction(part) / Fraction(whole) if whole else Fraction(0)


def _area(value: float | None) -> Fraction | None:
    if value is None or value <= 0:
        return None
    # Through the decimal text: 58.5 m² is exactly 117/2, not the float's binary fraction.
    return Fraction(str(value))

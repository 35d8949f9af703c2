"""The consultation rules as the Civil Code words them: participation by two-thirds of the
area and of the owners, approval by more than half (ordinary matters, using the maintenance
fund) or three-quarters (rebuilding, changing use) of the participating area and owners;
abstentions take part; "以上" includes the figure, "过半数" does not; a household without a
floor area makes the area conditions unmet, and says so."""

from __future__ import annotations

from fractions import Fraction

from bot.consultations.rules import Ballot, Rule, decide, tally

OPTIONS = ("同意", "不同意", "弃权")
YES, NO, ABSTAIN = 0, 1, 2


def _ballots(*rows: tuple[float | None, int | None]) -> list[Ballot]:
    return [Ballot(i, area, choice) for i, (area, choice) in enumerate(rows, 1)]


def test_passes_on_owners_but_fails_on_area() -> None:
    # Nine households: six small flats take part and approve, three large ones stay away.
    # Owners: 6/9 = 2/3 took part (met), 6/6 approve (met). Area: 6×50 = 300 of 300+3×200
    # = 900 → 1/3 took part: the area condition fails, so the whole rule fails.
    ballots = _ballots(*([(50.0, YES)] * 6), *([(200.0, None)] * 3))
    outcome = decide(Rule.CIVIL_MAJORITY, OPTIONS, ballots)
    by_name = {c.name: c for c in outcome.checks}
    assert by_name["参与表决户数占全体户数"].met
    assert by_name["同意户数占参与表决户数"].met
    assert not by_name["参与表决面积占总面积"].met
    assert by_name["参与表决面积占总面积"].reached == Fraction(1, 3)
    assert not outcome.passed
    assert outcome.summary().startswith("未通过")


def test_two_thirds_exactly_is_enough_and_half_exactly_is_not() -> None:
    # 3 households of equal area, 2 take part (exactly 2/3: "以上" includes it).
    # Of the 2, 1 approves: exactly half — "过半数" is more than half: fails.
    half = decide(Rule.CIVIL_MAJORITY, OPTIONS, _ballots((80, YES), (80, NO), (80, None)))
    assert [c.met for c in half.checks] == [True, True, False, False]
    assert not half.passed
    both = decide(Rule.CIVIL_MAJORITY, OPTIONS, _ballots((80, YES), (80, YES), (80, None)))
    assert both.passed


def test_abstentions_take_part_and_weigh_against_approval() -> None:
    # 4 of 4 take part, 2 approve, 2 abstain: participation met, approval exactly half: fails.
    outcome = decide(
        Rule.CIVIL_MAJORITY, OPTIONS, _ballots((60, YES), (60, YES), (60, ABSTAIN), (60, ABSTAIN))
    )
    assert outcome.tally.voted == 4
    assert outcome.checks[0].met
    assert outcome.checks[1].met
    assert not outcome.passed


def test_three_quarters_for_rebuilding() -> None:
    # 4 take part: 3 approve = exactly 3/4 (以上: met); majority rule passes too.
    rows = _ballots((70, YES), (70, YES), (70, YES), (70, NO))
    assert decide(Rule.CIVIL_SUPERMAJORITY, OPTIONS, rows).passed
    # 5 take part, 3 approve = 60%: more than half, less than three-quarters.
    rows = _ballots((70, YES), (70, YES), (70, YES), (70, NO), (70, NO))
    assert decide(Rule.CIVIL_MAJORITY, OPTIONS, rows).passed
    assert not decide(Rule.CIVIL_SUPERMAJORITY, OPTIONS, rows).passed


def test_area_weighs_the_approval() -> None:
    # Owners: 3 of 4 approve. Area: the one against holds 300 of 450 → approval by area 1/3.
    rows = _ballots((50, YES), (50, YES), (50, YES), (300, NO))
    outcome = decide(Rule.CIVIL_MAJORITY, OPTIONS, rows)
    names = {c.name: c.met for c in outcome.checks}
    assert names["同意户数占参与表决户数"] is True
    assert names["同意面积占参与表决面积"] is False
    assert not outcome.passed


def test_a_household_without_area_blocks_the_area_conditions_and_says_so() -> None:
    rows = _ballots((60, YES), (60, YES), (None, YES))
    outcome = decide(Rule.CIVIL_MAJORITY, OPTIONS, rows)
    assert not outcome.passed
    blocked = [c for c in outcome.checks if c.note]
    assert {c.name for c in blocked} == {"参与表决面积占总面积", "同意面积占参与表决面积"}
    assert "1 户未登记面积" in outcome.summary()
    # The simple rule does not use area.
    assert decide(Rule.SIMPLE, OPTIONS, rows).passed


def test_simple_majority_of_participants() -> None:
    assert decide(Rule.SIMPLE, OPTIONS, _ballots((1, YES), (1, YES), (1, NO), (1, None))).passed
    assert not decide(Rule.SIMPLE, OPTIONS, _ballots((1, YES), (1, NO))).passed
    assert not decide(Rule.SIMPLE, OPTIONS, _ballots((1, None), (1, None))).passed


def test_tally_counts_by_household_and_exact_area() -> None:
    t = tally(OPTIONS, _ballots((58.5, YES), (58.5, NO), (72.3, YES), (90, None)))
    assert t.counts == (2, 1, 0)
    assert t.areas[0] == Fraction("130.8")
    assert t.voted == 3
    assert t.eligible_area == Fraction("279.3")
    assert t.not_voted == 1

"""Isolated vs portfolio margin on the deployed contracts (keel/sim/margin.py)."""

from __future__ import annotations

import pytest

from keel.sim.margin import PORTFOLIOS, Leg, Portfolio, compare

SPOT = 2_000


@pytest.fixture(scope="module")
def rows():
    return {r.portfolio: r for r in compare()}


def test_compare__isolated__is_the_house_lock_of_the_shorts(rows):
    for p in PORTFOLIOS:
        expected = sum(leg.amount * (SPOT if leg.is_call else SPOT * leg.strike_pct / 100) for leg in p.legs if leg.short)
        assert rows[p.name].isolated == pytest.approx(expected, abs=1e-9)


def test_compare__portfolio_margin__needs_less_than_isolated_but_more_than_nothing(rows):
    for row in rows.values():
        assert 0 < row.portfolio_margin < row.isolated
        assert row.saving == pytest.approx(1 - row.portfolio_margin / row.isolated)


def test_compare__a_long_leg__lowers_the_requirement_of_the_same_short():
    # the long at 88 % is in the money in the grid's -16 % scenario (a wing beyond the grid
    # earns credit only in the one-third-weighted extreme)
    short_put = Portfolio("short put", (Leg(False, 95, 10, True),))
    spread = Portfolio("spread", (Leg(False, 95, 10, True), Leg(False, 88, 10, False)))
    alone, hedged = compare([short_put, spread])
    assert alone.isolated == hedged.isolated  # the house does not net a spread
    assert hedged.portfolio_margin < alone.portfolio_margin  # portfolio margin does


def test_compare__strangle__needs_less_than_its_legs_apart(rows):
    put, call, both = (rows[p.name].portfolio_margin for p in PORTFOLIOS[:3])
    assert both < put + call  # the two shorts lose in opposite scenarios

"""VaR and Expected Shortfall (keel/sim/risk.py) against an independent reference: the
empirical quantile function integrated exactly over (alpha, 1]."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from keel.sim.risk import expected_shortfall, figures, value_at_risk
from tests.unit.risk_reference import reference_es, reference_var


@given(
    losses=hs.lists(hs.integers(0, 10**24), min_size=1, max_size=60),
    alpha=hs.sampled_from([Fraction(90, 100), Fraction(95, 100), Fraction(975, 1000), Fraction(99, 100),
                           Fraction(1, 3), Fraction(1, 2)]),
)
def test_var_and_es__any_samples__match_the_quantile_reference(losses, alpha):
    values = [Fraction(x) for x in losses]
    assert value_at_risk(losses, alpha) == reference_var(values, alpha)
    assert expected_shortfall(losses, alpha) == reference_es(values, alpha)
    assert expected_shortfall(losses, alpha) >= value_at_risk(losses, alpha)


def test_var_and_es__hundred_samples__worst_losses():
    losses = list(range(1, 101))  # 1..100
    assert value_at_risk(losses, 0.95) == 95
    assert expected_shortfall(losses, 0.95) == Fraction(96 + 97 + 98 + 99 + 100, 5)
    assert value_at_risk(losses, 0.99) == 99 and expected_shortfall(losses, 0.99) == 100


def test_figures__mostly_zero_losses__var_zero_es_positive():
    """Nine paths in ten lose nothing: VaR at 90 % is 0, ES sees the tail."""
    result = figures([0.0] * 90 + [10.0] * 10, 0.95)
    assert result.var == 10.0 and result.es == 10.0
    result = figures([0.0] * 95 + [20.0] * 5, 0.9)
    assert result.var == 0.0 and result.es == 10.0 and result.worst == 20.0 and result.samples == 100


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1])
def test_var__alpha_outside_zero_one__refused(alpha):
    with pytest.raises(ValueError, match="not in"):
        value_at_risk([1, 2, 3], alpha)


def test_var__no_samples__refused():
    with pytest.raises(ValueError, match="no loss samples"):
        expected_shortfall([], 0.99)

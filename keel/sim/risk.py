"""Value at Risk and Expected Shortfall of protocol losses, from Monte Carlo samples.

Losses are positive numbers (debt tokens of bad debt, or any loss measure); a sample is
one simulated path's loss. With the ``n`` losses sorted ascending, ``L(1) <= ... <= L(n)``,
and a confidence level ``alpha`` (0.99 for 99 %):

- **VaR** is the empirical ``alpha``-quantile: ``L(k)`` with ``k = ceil(alpha * n)``, the
  smallest loss ``x`` such that at least ``alpha`` of the samples are ``<= x``;
- **ES** (Acerbi and Tasche's discrete form) is the mean of the worst ``(1 - alpha)``
  share of the samples, with the quantile's own sample counted by the fraction of it
  inside that share::

      ES = ( sum_{i > k} L(i)  +  (k - alpha * n) * L(k) ) / (n * (1 - alpha))

  so ES >= VaR, and for ``alpha * n`` whole it is the plain mean of the worst
  ``n - alpha * n`` losses.

Exact rational arithmetic (``fractions.Fraction``) under the hood, so integer WAD losses
give exact answers; floats are accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Sequence


@dataclass(frozen=True)
class RiskFigures:
    alpha: float
    samples: int
    var: float
    es: float
    mean: float
    worst: float


def _alpha(alpha: float | Fraction) -> Fraction:
    a = Fraction(str(alpha)) if isinstance(alpha, float) else Fraction(alpha)
    if not 0 < a < 1:
        raise ValueError(f"confidence level {alpha} not in (0, 1)")
    return a


def _sorted(losses: Iterable[float | int]) -> list[Fraction]:
    values = sorted(Fraction(str(x)) if isinstance(x, float) else Fraction(x) for x in losses)
    if not values:
        raise ValueError("no loss samples")
    return values


def value_at_risk(losses: Iterable[float | int], alpha: float | Fraction) -> Fraction:
    """The empirical alpha-quantile of the losses (see the module docstring)."""
    values, a = _sorted(losses), _alpha(alpha)
    k = math.ceil(a * len(values))
    return values[max(k, 1) - 1]


def expected_shortfall(losses: Iterable[float | int], alpha: float | Fraction) -> Fraction:
    """The mean of the worst (1 - alpha) share of the losses (see the module docstring)."""
    values, a = _sorted(losses), _alpha(alpha)
    n = len(values)
    k = max(math.ceil(a * n), 1)
    tail = sum(values[k:], Fraction(0))
    return (tail + (k - a * n) * values[k - 1]) / (n * (1 - a))


def figures(losses: Sequence[float | int], alpha: float) -> RiskFigures:
    """VaR, ES, mean and worst loss at ``alpha``, as floats (for tables and JSON)."""
    values = _sorted(losses)
    return RiskFigures(
        alpha=alpha, samples=len(values), var=float(value_at_risk(values, alpha)),
        es=float(expected_shortfall(values, alpha)), mean=float(sum(values, Fraction(0)) / len(values)),
        worst=float(values[-1]),
    )


__all__ = ["RiskFigures", "expected_shortfall", "figures", "value_at_risk"]

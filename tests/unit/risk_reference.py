"""An independent reference for VaR and Expected Shortfall (keel/sim/risk.py): VaR by brute
force over the samples; ES as the integral of the empirical quantile function
q(u) = inf {x : F(x) >= u} over (alpha, 1], computed exactly."""

from __future__ import annotations

from fractions import Fraction


def reference_es(values: list[Fraction], alpha: Fraction) -> Fraction:
    """(1 / (1 - alpha)) * integral of q(u) du over (alpha, 1], exactly: q is a step
    function, constant on each ((i - 1) / n, i / n]."""
    n = len(values)
    ordered = sorted(values)
    total = Fraction(0)
    for i in range(1, n + 1):
        low, high = max(Fraction(i - 1, n), alpha), Fraction(i, n)
        if high > low:
            total += (high - low) * ordered[i - 1]
    return total / (1 - alpha)


def reference_var(values: list[Fraction], alpha: Fraction) -> Fraction:
    """The smallest sample x with at least alpha of the samples <= x (brute force)."""
    n = len(values)
    return min(x for x in values if Fraction(sum(v <= x for v in values), n) >= alpha)

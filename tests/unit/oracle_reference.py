"""Python reference models for Keel's oracle layer (PriceFeed, ChainlinkAdapter, fixed_point.ln).

Two kinds of model live here:

* integer mirrors that must agree with the contracts *exactly* (``ln_wad``, ``ewma_step``,
  ``sigma_of``, ``seed_variance``, ``within``), written from the contracts' documented rules
  and cross-checked against the chain by the tests;
* exact / float references the integer code is measured against (``ln_exact_wad`` with 60
  significant digits, ``FloatEwma`` with ``math.log``).

Vyper sets Python's global decimal context read-only, so every high-precision operation
uses an explicit ``decimal.Context`` (never ``getcontext()``).
"""

from __future__ import annotations

import math
from decimal import Context, Decimal
from fractions import Fraction
from math import isqrt

WAD = 10**18
BPS = 10_000
SECONDS_PER_YEAR = 31_536_000
MAX_PRICE = 2**128 - 1
MAX_VOLATILITY = 10 * WAD

LN2_WAD = 693147180559945309  # fixed_point.LN2: ln(2) in WAD, rounded down
LN_TERMS = 24
# documented bound of fixed_point.ln: |ln(x) - exact| < 1e-15, i.e. 1000 wei of WAD
LN_ERROR_BOUND_WEI = 1_000

_CTX = Context(prec=60)


# ------------------------------------------------------------------ fixed_point.ln
def ln_wad(x: int) -> int:
    """Integer mirror of fixed_point.ln: ln(x / 1e18) * 1e18 with every step rounded down."""
    if x == 0:
        raise ZeroDivisionError("fixed_point: ln of zero")
    negative = x < WAD
    y = WAD * WAD // x if negative else x
    k = 0
    whole = y // WAD
    for bits in (128, 64, 32, 16, 8, 4, 2, 1):
        if whole >= 1 << bits:
            whole >>= bits
            k += bits
    m = y >> k
    z = (m - WAD) * WAD // (m + WAD)
    z_squared = z * z // WAD
    term = z
    total = z
    for i in range(1, LN_TERMS):
        term = term * z_squared // WAD
        if term == 0:
            break
        total += term // (2 * i + 1)
    result = k * LN2_WAD + 2 * total
    return -result if negative else result


def ln_exact_wad(x: int) -> Decimal:
    """ln(x / 1e18) * 1e18 to 60 significant digits (not rounded to an integer)."""
    value = _CTX.divide(Decimal(x), Decimal(WAD))
    return _CTX.multiply(_CTX.ln(value), Decimal(WAD))


def ln_error_wei(x: int, got: int) -> Decimal:
    """|got - exact| in wei of WAD."""
    return abs(_CTX.subtract(Decimal(got), ln_exact_wad(x)))


# ------------------------------------------------------------------ PriceFeed helpers
def within(price: int, reference: int, bps: int) -> bool:
    """PriceFeed._within: |price - reference| <= reference * bps // 10,000."""
    return abs(price - reference) <= reference * bps // BPS


def ewma_step(variance: int, price: int, previous: int, elapsed: int, lambda_bps: int, ln=ln_wad) -> int:
    """One sample of PriceFeed._accept's integer recurrence (variance per second, WAD):
    var' = (lambda * var + (1 - lambda) * floor(floor(ln(p / prev)^2 / WAD) / dt)) / 10,000,
    ln(p / prev) = ln(floor(p * WAD / prev)) with ``ln`` the on-chain logarithm, dt >= 1;
    `previous` is the last sample's price and dt the seconds since it."""
    if previous == 0:
        return variance
    elapsed = max(elapsed, 1)
    log_return = ln(price * WAD // previous)
    squared = log_return * log_return // WAD
    return (lambda_bps * variance + (BPS - lambda_bps) * (squared // elapsed)) // BPS


class VolatilitySampler:
    """PriceFeed's sampling of accepted prices into the EWMA (integer, exact): the first
    acceptance becomes the anchor (price, time); a later acceptance at t is a sample when
    t >= anchor time + volatility_interval, updating the variance with the log return from
    the anchor over t - anchor time, and becoming the new anchor. Each sample also steps a
    FloatEwma (math.log) kept alongside as the real-number reference."""

    def __init__(self, lambda_bps: int, interval: int = 0, variance: int = 0):
        self.lambda_bps = lambda_bps
        self.interval = interval
        self.variance = variance
        self.anchor: tuple[int, int] | None = None
        self.float = FloatEwma(lambda_bps, variance)

    def accept(self, price: int, timestamp: int) -> bool:
        """Apply one acceptance; returns whether it was a volatility sample."""
        if self.anchor is None:
            self.anchor = (price, timestamp)
            return False
        anchor_price, anchor_time = self.anchor
        if timestamp < anchor_time + self.interval:
            return False
        elapsed = timestamp - anchor_time
        self.variance = ewma_step(self.variance, price, anchor_price, elapsed, self.lambda_bps)
        self.float.step(price, anchor_price, elapsed)
        self.anchor = (price, timestamp)
        return True

    @property
    def sigma(self) -> int:
        return sigma_of(self.variance)


def sigma_of(variance: int) -> int:
    """PriceFeed._sigma: annualised volatility, WAD, sqrt(var * year * WAD) rounded up."""
    squared = variance * SECONDS_PER_YEAR * WAD
    root = isqrt(squared)
    return root + 1 if root * root < squared else root


def seed_variance(sigma: int) -> int:
    """PriceFeed.seed_volatility: the variance stored for an annualised sigma (WAD)."""
    return sigma * sigma // SECONDS_PER_YEAR // WAD


class FloatEwma:
    """The EWMA in real numbers (math.log, floats): what the integer code approximates."""

    def __init__(self, lambda_bps: int, variance_wad: int = 0):
        self.weight = lambda_bps / BPS
        self.variance = variance_wad / WAD  # per second

    def step(self, price: int, previous: int, elapsed: int) -> None:
        log_return = math.log(Fraction(price, previous)) if price != previous else 0.0
        self.variance = self.weight * self.variance + (1 - self.weight) * log_return**2 / max(elapsed, 1)

    @property
    def sigma(self) -> float:
        """Annualised sigma as a fraction (1.0 = 100 %)."""
        return math.sqrt(self.variance * SECONDS_PER_YEAR)


# |integer variance - float variance| bound, wei of WAD per second: each step floors three times
# (ln^2 / WAD, / dt, / 10,000 -> < 1 + (1 - lambda) * (2 + ln error term) wei new error) and the
# old error decays by lambda, so it stays below ~1.1 / (1 - lambda) = 18 wei at lambda 0.94
# (23 wei with ln's documented 1,000 wei bound instead of the ~100 wei measured).
VARIANCE_ERROR_WEI = 25
# sigma's relative error is half the variance's: <= 25 / (2 * variance) <= 1e-6 from here up
# (1.25e7 wei per second is sigma ~2 %/yr)
SIGMA_TOLERANCE_MIN_VARIANCE_WEI = 12_500_000


def sigma_tolerance(sigma_reference: float) -> float:
    """Documented agreement of volatility() with the float EWMA: relative 1e-6 or absolute 1e-9
    (as a fraction of one WAD), whichever is larger."""
    return max(1e-6 * sigma_reference, 1e-9)


# ------------------------------------------------------------------ ChainlinkAdapter
def scale_answer(answer: int, decimals: int) -> int:
    """ChainlinkAdapter.peek's scaling of a positive answer to WAD (rounded down)."""
    if decimals <= 18:
        return answer * 10 ** (18 - decimals)
    return answer // 10 ** (decimals - 18)


# ------------------------------------------------------------------ VaultEngine dynamic margin
def required_ratio(base: int, k_bps: int, cap_bps: int, sigma: int) -> tuple[int, int, int]:
    """VaultEngine.required_ratio: (base, min(ceil(k * sigma / 1e4), cap * WAD / 1e4), total)."""
    if k_bps == 0:
        return base, 0, base
    extra = -(-k_bps * sigma // BPS)
    extra = min(extra, cap_bps * WAD // BPS)
    return base, extra, base + extra

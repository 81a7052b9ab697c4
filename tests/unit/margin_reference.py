"""Python reference models of PortfolioMargin's margin rule (contracts/PortfolioMargin.vy).

Three models of the same rule live here:

* ``health`` -- an integer mirror of ``PortfolioMargin._health`` that must agree with the
  contract *exactly* (same scenario list, same roundings, same bound pricing: a long at its
  intrinsic value, a short at intrinsic + spot * sigma * sqrt(T) / sqrt(2 pi), capped);
* ``health_exact`` -- the same rule in exact rationals (``Fraction``; square roots to 60
  significant digits): no rounding anywhere, so it measures which way the contract rounds;
* ``bs_scenario_values`` / ``bs_losses`` -- every position priced by Black-Scholes (zero rate,
  floats with ``math.erfc``) instead of the bounds, over the same scenarios: what the bound
  pricing is supposed to stay on the safe side of.

Also here: the liquidation ramp (``progress_bps``, ``ramp_price``), a liquidator's pay for a
short (``short_liquidation_collateral``) and a long (``long_liquidation_repaid``), and a
margined short's obligation at expiry (``short_obligation``) and a holder's payoff.

Vyper sets Python's global decimal context read-only, so the high-precision square roots use
an explicit ``decimal.Context`` (never ``getcontext()``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Context, Decimal
from fractions import Fraction
from math import isqrt

WAD = 10**18
BPS = 10_000
SECONDS_PER_YEAR = 31_536_000
MAX_POSITIONS = 16
MAX_STEPS = 8
# 1 / sqrt(2 pi), WAD, rounded up (PortfolioMargin.INV_SQRT_2PI_UP)
INV_SQRT_2PI_UP = 398942280401432678
INV_SQRT_2PI_DOWN = 398942280401432677  # the same, rounded down (today's value rounded up)
MAX_SIGMA = 10 * WAD

_CTX = Context(prec=60)
_PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
# 1 / sqrt(2 pi) to 60 digits, as an exact rational
INV_SQRT_2PI = Fraction(_CTX.divide(Decimal(1), _CTX.sqrt(_CTX.multiply(Decimal(2), _PI))))

# scenario kinds
TODAY = "today"
GRID = "grid"
EXTREME = "extreme"
DEBT = "debt"


@dataclass(frozen=True)
class Params:
    """PortfolioMargin.Params, field for field (the tuple order of ``margin.params()``)."""

    step_bps: int = 400
    steps: int = 4
    vol_up_bps: int = 15_000
    vol_down_bps: int = 7_000
    extreme_down_bps: int = 3_300
    extreme_up_bps: int = 5_000
    extreme_weight_bps: int = 3_333
    initial_factor_bps: int = 12_500
    floor_sigma: int = WAD // 2
    ramp_seconds: int = 3_600
    max_bonus_bps: int = 1_000

    def as_tuple(self) -> tuple:
        return (
            self.step_bps, self.steps, self.vol_up_bps, self.vol_down_bps, self.extreme_down_bps,
            self.extreme_up_bps, self.extreme_weight_bps, self.initial_factor_bps, self.floor_sigma,
            self.ramp_seconds, self.max_bonus_bps,
        )

    def with_(self, **changes) -> "Params":
        return replace(self, **changes)


DEFAULT_PARAMS = Params()


@dataclass(frozen=True)
class Position:
    """One book entry (PortfolioMargin.Position): amount and strike WAD, expiry unix s."""

    is_call: bool
    is_short: bool
    amount: int
    strike: int
    expiry: int
    series_id: int = 0


@dataclass(frozen=True)
class Health:
    """PortfolioMargin.Health, field for field."""

    value: int
    debt: int
    maintenance: int
    initial: int
    healthy: bool
    opening: bool

    def as_tuple(self) -> tuple:
        return (self.value, self.debt, self.maintenance, self.initial, self.healthy, self.opening)


def mul_div(x: int, y: int, denominator: int, roundup: bool) -> int:
    """Mirror of fixed_point.mul_div."""
    quotient, remainder = divmod(x * y, denominator)
    return quotient + 1 if roundup and remainder else quotient


def ceil_div(x: int, y: int) -> int:
    return -(-x // y)


def sigma_used(oracle_volatility: int, params: Params = DEFAULT_PARAMS) -> int:
    """PortfolioMargin._sigma: the oracle's volatility, at least the floor, at most 10 WAD."""
    return min(max(oracle_volatility, params.floor_sigma), MAX_SIGMA)


def positions_from_chain(rows) -> list[Position]:
    """``margin.positions(vault)`` rows (series_id, is_call, is_short, amount, strike, expiry)."""
    return [
        Position(is_call=bool(r[1]), is_short=bool(r[2]), amount=int(r[3]), strike=int(r[4]), expiry=int(r[5]), series_id=int(r[0]))
        for r in rows
    ]


# ------------------------------------------------------------------ the scenarios
def scenarios(price: int, ratio: int, debt: int, params: Params = DEFAULT_PARAMS) -> list[tuple[int, str]]:
    """(spot WAD, kind) in the contract's order: today; the grid, for k = 1..steps the fall
    (rounded down) then the rise (rounded up); the extreme fall and rise; with debt, the
    fall the liquidation ratio covers, price / ratio (rounded down)."""
    spots = [(price, TODAY)]
    for k in range(1, params.steps + 1):
        spots.append((mul_div(price, BPS - k * params.step_bps, BPS, False), GRID))
        spots.append((mul_div(price, BPS + k * params.step_bps, BPS, True), GRID))
    spots.append((mul_div(price, BPS - params.extreme_down_bps, BPS, False), EXTREME))
    spots.append((mul_div(price, BPS + params.extreme_up_bps, BPS, True), EXTREME))
    if debt != 0:
        spots.append((mul_div(price, WAD, ratio, False), DEBT))
    return spots


def exact_scenarios(price: int, ratio: int, debt: int, params: Params = DEFAULT_PARAMS) -> list[tuple[Fraction, str]]:
    """The same scenarios with exact (unrounded) spots."""
    spots = [(Fraction(price), TODAY)]
    for k in range(1, params.steps + 1):
        spots.append((Fraction(price * (BPS - k * params.step_bps), BPS), GRID))
        spots.append((Fraction(price * (BPS + k * params.step_bps), BPS), GRID))
    spots.append((Fraction(price * (BPS - params.extreme_down_bps), BPS), EXTREME))
    spots.append((Fraction(price * (BPS + params.extreme_up_bps), BPS), EXTREME))
    if debt != 0:
        spots.append((Fraction(price * WAD, ratio), DEBT))
    return spots


def volatilities(sigma: int, params: Params = DEFAULT_PARAMS) -> list[int]:
    """[up, same, down] (WAD, the shocked ones rounded up), as the contract computes them."""
    return [mul_div(sigma, params.vol_up_bps, BPS, True), sigma, mul_div(sigma, params.vol_down_bps, BPS, True)]


# ------------------------------------------------------------------ the integer mirror
def short_factors(position: Position, sigma: int, now: int, params: Params = DEFAULT_PARAMS) -> list[int]:
    """A short's spot-free time-value factors at [up, same, down] volatility (WAD, rounded
    up): sigma_v * (isqrt(years * WAD**2) + 1) * INV_SQRT_2PI_UP; zero for a long or at
    or after expiry."""
    if not position.is_short or position.expiry <= now:
        return [0, 0, 0]
    root = isqrt((position.expiry - now) * WAD * WAD // SECONDS_PER_YEAR) + 1
    per_root = mul_div(root, INV_SQRT_2PI_UP, WAD, True)
    return [mul_div(s, per_root, WAD, True) for s in volatilities(sigma, params)]


def _intrinsic_and_cap(position: Position, spot: int) -> tuple[int, int]:
    if position.is_call:
        return max(spot - position.strike, 0), spot
    return max(position.strike - spot, 0), position.strike


def book_value(positions, factors, collateral: int, spot: int, level: int) -> int:
    """The account's value at `spot` with the shorts' time value at volatility `level`
    (0 up, 1 same, 2 down), rounded as the contract does: gains down, costs up."""
    value = collateral * spot // WAD
    for position, factor in zip(positions, factors):
        intrinsic, cap = _intrinsic_and_cap(position, spot)
        if not position.is_short:
            value += intrinsic * position.amount // WAD
            continue
        room = cap - intrinsic
        time_value = min(ceil_div(spot * factor[level], WAD), room)
        value -= ceil_div((intrinsic + time_value) * position.amount, WAD)
    return value


def low_factor(position: Position, sigma: int, now: int) -> int:
    """A short's time-value factor at today's volatility rounded DOWN (sigma * isqrt(years *
    WAD**2) * INV_SQRT_2PI_DOWN), for today's value rounded up."""
    if not position.is_short or position.expiry <= now:
        return 0
    root = isqrt((position.expiry - now) * WAD * WAD // SECONDS_PER_YEAR)
    return sigma * (root * INV_SQRT_2PI_DOWN // WAD) // WAD


def value_up(positions, low_factors, collateral: int, spot: int) -> int:
    """Today's value rounded the other way (gains up, costs down): what the contract
    measures every loss from, so that rounding never shrinks a loss."""
    value = ceil_div(collateral * spot, WAD)
    for position, factor in zip(positions, low_factors):
        intrinsic, cap = _intrinsic_and_cap(position, spot)
        if not position.is_short:
            value += ceil_div(intrinsic * position.amount, WAD)
            continue
        time_value = min(spot * factor // WAD, cap - intrinsic)
        value -= (intrinsic + time_value) * position.amount // WAD
    return value


def scenario_table(positions, collateral, debt, price, ratio, sigma, now, params=DEFAULT_PARAMS):
    """[(spot, kind, worst value over the levels the scenario takes, weighted loss)] in the
    contract's order (the first row is today, loss 0; losses are measured from today's
    value rounded up)."""
    factors = [short_factors(p, sigma, now, params) for p in positions]
    base_up = value_up(positions, [low_factor(p, sigma, now) for p in positions], collateral, price)
    rows = []
    for spot, kind in scenarios(price, ratio, debt, params):
        if kind == GRID:
            worst = min(book_value(positions, factors, collateral, spot, level) for level in (1, 0, 2))
        else:
            worst = book_value(positions, factors, collateral, spot, 1)
        if kind == TODAY:
            rows.append((spot, kind, worst, 0))
            continue
        loss = max(base_up - worst, 0)
        if kind == EXTREME and loss:
            loss = mul_div(loss, params.extreme_weight_bps, BPS, True)
        rows.append((spot, kind, worst, loss))
    return rows


def health(positions, collateral: int, debt: int, price: int, ratio: int, sigma: int, now: int,
           params: Params = DEFAULT_PARAMS) -> Health:
    """Integer mirror of PortfolioMargin._health (`sigma` already floored: see sigma_used;
    `now` the block time the view runs at)."""
    rows = scenario_table(positions, collateral, debt, price, ratio, sigma, now, params)
    base = rows[0][2]
    maintenance = 0
    initial = 0
    for _, kind, _, loss in rows[1:]:
        if loss == 0:
            continue
        maintenance = max(maintenance, loss)
        if kind == DEBT:
            initial = max(initial, loss)
        else:
            initial = max(initial, mul_div(loss, params.initial_factor_bps, BPS, True))
    spare = base - debt
    return Health(
        value=base, debt=debt, maintenance=maintenance, initial=initial,
        healthy=spare >= 0 and spare >= maintenance, opening=spare >= 0 and spare >= initial,
    )


def grid_extreme_maintenance(positions, collateral, debt, price, ratio, sigma, now, params=DEFAULT_PARAMS) -> int:
    """The largest (weighted) loss over the grid and extreme scenarios only (the debt
    scenario, which the initial factor does not apply to, left out)."""
    rows = scenario_table(positions, collateral, debt, price, ratio, sigma, now, params)
    return max([loss for _, kind, _, loss in rows if kind in (GRID, EXTREME)] + [0])


# ------------------------------------------------------------------ exact rationals
def _exact_sqrt(x: Fraction) -> Fraction:
    root = _CTX.sqrt(_CTX.divide(Decimal(x.numerator), Decimal(x.denominator)))
    return Fraction(root)


@dataclass(frozen=True)
class ExactHealth:
    value: Fraction
    maintenance: Fraction
    initial: Fraction


def health_exact(positions, collateral: int, debt: int, price: int, ratio: int, sigma: int, now: int,
                 params: Params = DEFAULT_PARAMS, rounded_spots: bool = False) -> ExactHealth:
    """The margin rule with no rounding at all (WAD units, as Fractions): exact spots,
    exact shocked volatilities, sqrt(T) and 1 / sqrt(2 pi) to 60 digits, exact products.
    With `rounded_spots` the scenarios are the contract's own (the shocked prices rounded as
    the contract rounds them: a scenario's price is a definition, not an amount paid), and
    only the amounts are exact."""
    sigmas = [Fraction(sigma * params.vol_up_bps, BPS), Fraction(sigma), Fraction(sigma * params.vol_down_bps, BPS)]
    factors = []
    for p in positions:
        if p.is_short and p.expiry > now:
            per_root = _exact_sqrt(Fraction(p.expiry - now, SECONDS_PER_YEAR)) * INV_SQRT_2PI
            factors.append([s * per_root / WAD for s in sigmas])  # per unit of spot
        else:
            factors.append([Fraction(0)] * 3)

    def value_at(spot: Fraction, level: int) -> Fraction:
        total = Fraction(collateral) * spot / WAD
        for p, f in zip(positions, factors):
            if p.is_call:
                intrinsic, cap = max(spot - p.strike, Fraction(0)), spot
            else:
                intrinsic, cap = max(p.strike - spot, Fraction(0)), Fraction(p.strike)
            if p.is_short:
                total -= (intrinsic + min(spot * f[level], cap - intrinsic)) * p.amount / WAD
            else:
                total += intrinsic * p.amount / WAD
        return total

    base = None
    maintenance = Fraction(0)
    initial = Fraction(0)
    spots = (
        [(Fraction(spot), kind) for spot, kind in scenarios(price, ratio, debt, params)]
        if rounded_spots else exact_scenarios(price, ratio, debt, params)
    )
    for spot, kind in spots:
        if kind == TODAY:
            base = value_at(spot, 1)
            continue
        worst = min(value_at(spot, level) for level in (0, 1, 2)) if kind == GRID else value_at(spot, 1)
        loss = max(base - worst, Fraction(0))
        if kind == EXTREME:
            loss = loss * params.extreme_weight_bps / BPS
        maintenance = max(maintenance, loss)
        initial = max(initial, loss if kind == DEBT else loss * params.initial_factor_bps / BPS)
    return ExactHealth(value=base, maintenance=maintenance, initial=initial)


# ------------------------------------------------------------------ Black-Scholes (floats)
def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def black_scholes(spot: float, strike: float, sigma: float, years: float, is_call: bool) -> float:
    """Black-Scholes value at zero interest rate, in the units of spot and strike; at or
    after expiry (or with no volatility) the intrinsic value."""
    if years <= 0 or sigma <= 0:
        return max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
    if spot <= 0:
        return 0.0 if is_call else strike
    vol = sigma * math.sqrt(years)
    d1 = (math.log(spot / strike) + vol * vol / 2) / vol
    d2 = d1 - vol
    if is_call:
        return spot * normal_cdf(d1) - strike * normal_cdf(d2)
    return strike * normal_cdf(-d2) - spot * normal_cdf(-d1)


def bs_book_value(positions, collateral: int, spot: float, sigma: float, now: int) -> float:
    """The account's value (kUSD, float) with every position at its Black-Scholes price."""
    total = collateral / WAD * spot
    for p in positions:
        years = max(p.expiry - now, 0) / SECONDS_PER_YEAR
        price = black_scholes(spot, p.strike / WAD, sigma, years, p.is_call)
        total += (-price if p.is_short else price) * p.amount / WAD
    return total


def bs_scenario_values(positions, collateral, debt, price, ratio, sigma, now, params=DEFAULT_PARAMS):
    """[(kind, weight, worst Black-Scholes value over the scenario's volatility levels)]
    for every scenario of the contract's list (exact spots; volatilities up / same / down
    on the grid, the same one elsewhere), kUSD floats; the first row is today."""
    sig = sigma / WAD
    levels = [sig * params.vol_up_bps / BPS, sig, sig * params.vol_down_bps / BPS]
    rows = []
    for spot, kind in exact_scenarios(price, ratio, debt, params):
        s = float(spot) / WAD
        if kind == GRID:
            worst = min(bs_book_value(positions, collateral, s, v, now) for v in levels)
        else:
            worst = bs_book_value(positions, collateral, s, sig, now)
        weight = params.extreme_weight_bps / BPS if kind == EXTREME else 1.0
        rows.append((kind, weight, worst))
    return rows


def bs_losses(positions, collateral, debt, price, ratio, sigma, now, base: float, params=DEFAULT_PARAMS) -> list[tuple[str, float]]:
    """[(kind, weighted loss)]: weight * max(0, base - Black-Scholes value of the scenario),
    kUSD floats, for every scenario but today. `base` is the value the loss is measured
    from: the account's value as the contract reports it (``Health.value / WAD``), or
    its Black-Scholes value today (``bs_book_value`` at the price)."""
    rows = bs_scenario_values(positions, collateral, debt, price, ratio, sigma, now, params)
    return [(kind, weight * max(0.0, base - worst)) for kind, weight, worst in rows[1:]]


# ------------------------------------------------------------------ liquidation and expiry
def progress_bps(started: int, now: int, ramp_seconds: int) -> int:
    """PortfolioMargin._progress_bps: how far the liquidation ramp has run, bps (10,000 at
    its end)."""
    elapsed = now - started
    if elapsed >= ramp_seconds:
        return BPS
    return BPS * elapsed // ramp_seconds


def upper_bound(spot: int, strike: int, is_call: bool, sigma: int, seconds: int) -> int:
    """An option's upper bound as the liquidation ramp computes it (WAD per option):
    intrinsic + spot * sigma * (isqrt(years * WAD**2) + 1) / sqrt(2 pi), every product
    rounded up, at most spot (call) or strike (put); the intrinsic value at expiry."""
    if is_call:
        intrinsic, cap = max(spot - strike, 0), spot
    else:
        intrinsic, cap = max(strike - spot, 0), strike
    if seconds == 0:
        return intrinsic
    root = isqrt(seconds * WAD * WAD // SECONDS_PER_YEAR) + 1
    time_value = mul_div(mul_div(mul_div(spot, sigma, WAD, True), root, WAD, True), INV_SQRT_2PI_UP, WAD, True)
    return min(intrinsic + time_value, cap)


def ramp_price(spot: int, strike: int, is_call: bool, sigma: int, seconds: int, progress: int, max_bonus_bps: int,
               for_short: bool, fair: int = 0) -> int:
    """PortfolioMargin._ramp_price (WAD per option): taking over a short, the pay rises from
    the intrinsic value to upper x (1 + max bonus); buying a long, the price falls from the
    upper bound to max(intrinsic, fair) x (1 - max bonus) (`fair`: the contract's Black-Scholes
    value), at most the upper bound; linear in the ramp's progress, rounded down."""
    intrinsic = max(spot - strike, 0) if is_call else max(strike - spot, 0)
    upper = upper_bound(spot, strike, is_call, sigma, seconds)
    if for_short:
        high = upper * (BPS + max_bonus_bps) // BPS
        return intrinsic + (high - intrinsic) * progress // BPS
    low = min(max(intrinsic, fair) * (BPS - max_bonus_bps) // BPS, upper)
    return upper - (upper - low) * progress // BPS


def short_liquidation_collateral(price: int, amount: int, spot: int, held: int, scale: int = 1) -> int:
    """Collateral (WAD) a liquidator gets for closing `amount` of a short at the ramp's
    `price`: price x amount / spot, rounded down, in whole token units, at most what the
    vault holds."""
    worth = mul_div(price, amount, WAD, False)
    units = min(mul_div(worth, WAD, spot * scale, False), held // scale)
    return units * scale


def long_liquidation_repaid(price: int, amount: int) -> int:
    """Debt tokens (WAD) a liquidator pays for `amount` of a long at the ramp's `price`,
    rounded up."""
    return mul_div(price, amount, WAD, True)


def short_obligation(is_call: bool, amount: int, strike: int, price: int) -> int:
    """What a margined short owes at expiry (WAD, rounded up): a call (S - K) / S of the
    underlying per option, a put K - S debt tokens per option."""
    if is_call:
        return mul_div(amount, mul_div(price - min(price, strike), WAD, price, True), WAD, True)
    return mul_div(amount, max(strike - price, 0), WAD, True)


def holder_payoff(is_call: bool, strike: int, price: int) -> int:
    """A holder's payoff per option (WAD, rounded down): (S - K) / S underlying (call),
    K - S debt tokens (put)."""
    if is_call:
        return 0 if price <= strike else mul_div(price - strike, WAD, price, False)
    return max(strike - price, 0)

"""OptionPricer (modules/option_math behind a stateless contract): Black-Scholes at zero
rate, the value bound PortfolioMargin marks shorts with, the normal CDF and exp, each
pinned against an independent Python reference (math.erfc, decimal.Decimal.exp) over
random inputs. Every check is an eth_call, so the property tests afford many examples."""

import math
from decimal import Decimal, localcontext

import brownie
import pytest
from brownie.test import given, strategy
from hypothesis import Phase, assume, settings

from tests.unit.conftest import WAD, YEAR, mul_div

HOUR = 3_600
MAX_SECONDS = 2 * YEAR
# the accuracy the brief pins (option_math's NatSpec claims 1.5e-7 * (spot + strike))
BS_TOLERANCE = 2e-7
CDF_TOLERANCE = 10**11  # 1e-7 in WAD
EXP_RELATIVE = Decimal("1e-15")
CDF_LIMIT = 10 * WAD
INV_SQRT_2PI_UP = 398942280401432678  # option_math's 1 / sqrt(2 pi), WAD, rounded up


def examples(n: int, **overrides) -> settings:
    """n examples, or the profile's count if it asks for more (KEEL_PROFILE=deep)."""
    return settings(max_examples=max(n, settings.default.max_examples), **overrides)


# ------------------------------------------------------------------ Python references
def normal_cdf(x: float) -> float:
    """N(x), accurate in both tails (erfc, not 1 + erf)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def black_scholes(spot: int, strike: int, sigma: int, seconds: int, is_call: bool) -> float:
    """Black-Scholes at zero interest rate, WAD in, value in WAD (float)."""
    s, k = spot / WAD, strike / WAD
    vol = sigma / WAD * math.sqrt(seconds / YEAR)
    if vol == 0:
        return (max(s - k, 0.0) if is_call else max(k - s, 0.0)) * WAD
    d1 = (math.log(s / k) + vol * vol / 2) / vol
    d2 = d1 - vol
    if is_call:
        value = s * normal_cdf(d1) - k * normal_cdf(d2)
    else:
        value = k * normal_cdf(-d2) - s * normal_cdf(-d1)
    return max(value, 0.0) * WAD


def exact_exp(x: int) -> Decimal:
    """e ** (x / 1e18) * 1e18, to 60 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(x) / Decimal(WAD)).exp() * Decimal(WAD)


def log_uniform(low: float, high: float, step: int, steps: int) -> float:
    """low .. high, log-uniformly: `step` of `steps`."""
    return low * (high / low) ** (step / steps)


STEPS = 10**6
# spot 1 .. 1e6 WAD, strike 0.5x .. 2x spot, sigma 1 % .. 300 %, T 1 hour .. 2 years
inputs = dict(
    spot_step=strategy("uint256", max_value=STEPS),
    spot_wei=strategy("uint256", max_value=WAD - 1),
    moneyness_step=strategy("uint256", max_value=STEPS),
    sigma_step=strategy("uint256", max_value=STEPS),
    seconds=strategy("uint256", min_value=HOUR, max_value=MAX_SECONDS),
)


def draw(spot_step, spot_wei, moneyness_step, sigma_step, seconds):
    spot = int(log_uniform(1.0, 1e6, spot_step, STEPS)) * WAD + spot_wei
    spot = min(spot, 10**6 * WAD)
    strike = int(spot * log_uniform(0.5, 2.0, moneyness_step, STEPS))
    strike = min(max(strike, spot // 2), 2 * spot)
    sigma = int(log_uniform(0.01, 3.0, sigma_step, STEPS) * WAD)
    return spot, strike, sigma, seconds


@pytest.fixture(scope="module")
def pricer(options):
    return options["pricer"]


# ------------------------------------------------------------------ Black-Scholes
@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize(
    "spot, strike, sigma, seconds",
    [
        (2_000 * WAD, 2_000 * WAD, WAD // 2, YEAR),  # at the money, 1 year, 50 %
        (2_000 * WAD, 1_600 * WAD, WAD // 2, 30 * 86_400),
        (2_000 * WAD, 2_400 * WAD, 8 * WAD // 10, 7 * 86_400),
        (WAD, WAD // 2, WAD // 100, HOUR),
        (10**6 * WAD, 2 * 10**6 * WAD, 3 * WAD, MAX_SECONDS),
    ],
)
def test_black_scholes__reference_points__match_python(pricer, spot, strike, sigma, seconds, is_call):
    got = pricer.black_scholes(spot, strike, sigma, seconds, is_call)
    expected = black_scholes(spot, strike, sigma, seconds, is_call)
    assert abs(got - expected) <= BS_TOLERANCE * (spot + strike), (got, expected)


def test_black_scholes__at_the_money_one_year_fifty_percent__textbook_value(pricer):
    # S = K = 100, sigma 0.5, T 1, r 0: C = P = 100 * (2 N(0.25) - 1) = 19.741265...
    value = pricer.black_scholes(100 * WAD, 100 * WAD, WAD // 2, YEAR, True)
    assert abs(value - 100 * (2 * normal_cdf(0.25) - 1) * WAD) <= BS_TOLERANCE * 200 * WAD
    assert abs(pricer.black_scholes(100 * WAD, 100 * WAD, WAD // 2, YEAR, False) - value) <= 2


@pytest.mark.parametrize("is_call", [True, False])
def test_black_scholes__at_or_after_expiry__intrinsic_value(pricer, is_call):
    for spot, strike in ((2_100 * WAD, 2_000 * WAD), (1_900 * WAD, 2_000 * WAD), (2_000 * WAD, 2_000 * WAD)):
        intrinsic = max(spot - strike, 0) if is_call else max(strike - spot, 0)
        assert pricer.black_scholes(spot, strike, WAD // 2, 0, is_call) == intrinsic
        # zero volatility is the same: no time value
        assert pricer.black_scholes(spot, strike, 0, YEAR, is_call) == intrinsic


def test_black_scholes__zero_spot__call_worthless_put_worth_strike(pricer):
    assert pricer.black_scholes(0, 2_000 * WAD, WAD // 2, YEAR, True) == 0
    assert pricer.black_scholes(0, 2_000 * WAD, WAD // 2, YEAR, False) == 2_000 * WAD


@examples(200)
@given(**inputs)
def test_black_scholes__random_inputs__within_2e_7_of_python(pricer, spot_step, spot_wei, moneyness_step, sigma_step, seconds):
    """Property: |on-chain - Python| <= 2e-7 * (spot + strike), for a call and a put."""
    spot, strike, sigma, seconds = draw(spot_step, spot_wei, moneyness_step, sigma_step, seconds)
    for is_call in (True, False):
        got = pricer.black_scholes(spot, strike, sigma, seconds, is_call)
        expected = black_scholes(spot, strike, sigma, seconds, is_call)
        assert abs(got - expected) <= BS_TOLERANCE * (spot + strike), (
            f"{'call' if is_call else 'put'} S={spot} K={strike} sigma={sigma} T={seconds}: "
            f"got {got}, python {expected:.0f}, off by {abs(got - expected) / (spot + strike):.3e} of S+K"
        )
        assert got <= (spot if is_call else strike), "an option is never worth more than its collateral"


# no shrinking: while the parity bug below stands, shrinking a failure costs ~100 s of
# eth_calls; PARITY_CASE pins the shrunk example
@examples(200, phases=[Phase.explicit, Phase.generate])
@given(**inputs)
def test_black_scholes__random_inputs__put_call_parity_within_2_wei(pricer, spot_step, spot_wei, moneyness_step, sigma_step, seconds):
    """Property: at zero rate C - P == S - K, to 2 wei (each of the four products rounds down)."""
    spot, strike, sigma, seconds = draw(spot_step, spot_wei, moneyness_step, sigma_step, seconds)
    call = pricer.black_scholes(spot, strike, sigma, seconds, True)
    put = pricer.black_scholes(spot, strike, sigma, seconds, False)
    assert abs((call - put) - (spot - strike)) <= 2, (
        f"CONTRACT BUG (modules/option_math.vy, black_scholes) if a leg is 0: S={spot} K={strike} sigma={sigma} "
        f"T={seconds}: C={call} P={put}, C-P-(S-K)={(call - put) - (spot - strike)} (the far out-of-the-money leg "
        "came out negative and was clamped to 0)"
    )


# found by the property above (deep in the money, low volatility): the put's two tail
# products come out K * N(-d2) < S * N(-d1), the negative put is clamped to 0, and parity
# breaks by 247,616 wei (5e-19 of spot: harmless in value, but the documented bound is 2 wei)
PARITY_CASE = (497_798_000_000_000_000_036_477, 250_182_076_174_001_233_723_392, 68_621_379_201_119_272, 41_751_058)


def test_black_scholes__deep_in_the_money_low_volatility__put_call_parity_within_2_wei(pricer):
    spot, strike, sigma, seconds = PARITY_CASE
    call = pricer.black_scholes(spot, strike, sigma, seconds, True)
    put = pricer.black_scholes(spot, strike, sigma, seconds, False)
    assert abs(call - black_scholes(spot, strike, sigma, seconds, True)) <= BS_TOLERANCE * (spot + strike)
    assert abs((call - put) - (spot - strike)) <= 2, (
        f"CONTRACT BUG (modules/option_math.vy, black_scholes): C={call} P={put}, C-P-(S-K)="
        f"{(call - put) - (spot - strike)}: the put's raw value K*N(-d2)/WAD - S*N(-d1)/WAD is negative "
        "and max(put, 0) drops it (fix: price the out-of-the-money leg and derive the other by parity)"
    )


# ------------------------------------------------------------------ value bound
@examples(200)
@given(**inputs)
def test_value_bound__random_inputs__never_below_black_scholes(pricer, spot_step, spot_wei, moneyness_step, sigma_step, seconds):
    """Property: the bound is >= the exact (Python) Black-Scholes value and >= the contract's,
    and never above the collateral (spot for a call, strike for a put)."""
    spot, strike, sigma, seconds = draw(spot_step, spot_wei, moneyness_step, sigma_step, seconds)
    for is_call in (True, False):
        bound = pricer.value_bound(spot, strike, sigma, seconds, is_call)
        on_chain = pricer.black_scholes(spot, strike, sigma, seconds, is_call)
        exact = black_scholes(spot, strike, sigma, seconds, is_call)
        kind = "call" if is_call else "put"
        assert bound >= exact, f"{kind} S={spot} K={strike} sigma={sigma} T={seconds}: bound {bound} < python {exact:.0f}"
        assert bound >= on_chain, f"{kind} S={spot} K={strike} sigma={sigma} T={seconds}: bound {bound} < black_scholes {on_chain}"
        assert bound <= (spot if is_call else strike)


def test_value_bound__at_the_money__formula(pricer):
    # intrinsic 0 + spot * sigma * sqrt(T) / sqrt(2 pi): 2,000 * 0.5 * 1 * 0.3989422804 = 398.94228...
    bound = pricer.value_bound(2_000 * WAD, 2_000 * WAD, WAD // 2, YEAR, True)
    assert abs(bound - 398_942_280_401_432_678_000) <= 10**9
    assert bound >= pricer.black_scholes(2_000 * WAD, 2_000 * WAD, WAD // 2, YEAR, True)


def test_value_bound__huge_volatility__capped_at_spot_and_strike(pricer):
    assert pricer.value_bound(2_000 * WAD, 2_000 * WAD, 100 * WAD, MAX_SECONDS, True) == 2_000 * WAD
    assert pricer.value_bound(2_000 * WAD, 2_400 * WAD, 100 * WAD, MAX_SECONDS, False) == 2_400 * WAD


def test_value_bound__no_time_left__intrinsic_plus_rounding_only(pricer):
    # seconds 0: sqrt(T) rounds up to 1 wei, so the time value is
    # ceil(ceil(spot * sigma / WAD) / WAD * INV_SQRT_2PI_UP / WAD): 1,050 wei * 0.3989... -> 419 wei
    time_value = mul_div(mul_div(mul_div(2_100 * WAD, WAD // 2, WAD, True), 1, WAD, True), INV_SQRT_2PI_UP, WAD, True)
    assert time_value == 419
    assert pricer.value_bound(2_100 * WAD, 2_000 * WAD, WAD // 2, 0, True) == 100 * WAD + time_value
    assert pricer.value_bound(2_100 * WAD, 2_000 * WAD, WAD // 2, 0, False) == time_value
    assert pricer.black_scholes(2_100 * WAD, 2_000 * WAD, WAD // 2, 0, True) == 100 * WAD


# ------------------------------------------------------------------ normal CDF
@examples(300)
@given(x=strategy("int256", min_value=-12 * WAD, max_value=12 * WAD))
def test_normal_cdf__random_x__within_1e_7_of_python_and_symmetric(pricer, x):
    """Property: |N(x) - Python| <= 1e-7 and N(x) + N(-x) == WAD exactly (x != 0: x = 0 is
    pinned by its own test below, which fails on a contract bug)."""
    assume(x != 0)
    got = pricer.normal_cdf(x)
    expected = normal_cdf(x / WAD) * WAD
    assert abs(got - expected) <= CDF_TOLERANCE, f"x={x}: got {got}, python {expected:.0f}"
    assert got + pricer.normal_cdf(-x) == WAD, f"x={x}: N(x) + N(-x) != WAD"
    assert 0 <= got <= WAD


@pytest.mark.parametrize("x", [1, -1, WAD, -WAD, 1_959_963_984_540_054_000, CDF_LIMIT - 1, -(CDF_LIMIT - 1)])
def test_normal_cdf__reference_points__within_1e_7_and_symmetric(pricer, x):
    got = pricer.normal_cdf(x)
    assert abs(got - normal_cdf(x / WAD) * WAD) <= CDF_TOLERANCE
    assert got + pricer.normal_cdf(-x) == WAD


def test_normal_cdf__zero__exactly_half_so_symmetry_holds(pricer):
    """N(0) must be WAD / 2 so that N(x) + N(-x) == WAD holds at x = 0 as well
    (option_math.ncdf's NatSpec: "N(-x) = WAD - N(x) exactly")."""
    value = pricer.normal_cdf(0)
    assert abs(value - WAD // 2) <= CDF_TOLERANCE
    assert 2 * value == WAD, (
        f"CONTRACT BUG (modules/option_math.vy, ncdf): N(0) = {value}, so N(0) + N(-0) = {2 * value} != WAD; "
        "x = 0 takes the `x >= 0` branch for both x and -x (fix: return WAD // 2 for x == 0)"
    )


def test_normal_cdf__beyond_ten__exactly_zero_or_one(pricer):
    assert pricer.normal_cdf(CDF_LIMIT) == WAD
    assert pricer.normal_cdf(-CDF_LIMIT) == 0
    assert pricer.normal_cdf(2**255 - 1) == WAD
    assert pricer.normal_cdf(-(2**255)) == 0


def test_normal_cdf__ordered_points__non_decreasing(pricer):
    points = sorted({-CDF_LIMIT, -3 * WAD, -WAD, -WAD // 7, 0, WAD // 7, WAD, 3 * WAD, CDF_LIMIT, 123_456_789})
    values = [pricer.normal_cdf(x) for x in points]
    assert values == sorted(values)


# ------------------------------------------------------------------ exp
@examples(300)
@given(x=strategy("int256", min_value=-40 * WAD, max_value=130 * WAD))
def test_exp__random_x__within_1e_15_relative(pricer, x):
    """Property: |exp(x) - e**x| <= 1e-15 * e**x + 1 wei (the result is an integer: below
    about x = -34 the 1 wei of truncation is the larger term). Not asserted: "rounded down"
    (option_math's NatSpec) -- LN2 is itself rounded down, so for large x the result may
    exceed e**x by up to ~1e-16 relative, well inside the 1e-15 bound."""
    got = Decimal(pricer.exp(x))
    exact = exact_exp(x)
    assert abs(got - exact) <= exact * EXP_RELATIVE + 1, f"x={x}: got {got}, exact {exact:.3f}"


@pytest.mark.parametrize("x", [0, 1, -1, WAD, -WAD, 693_147_180_559_945_309, 10 * WAD, -10 * WAD, 130 * WAD, -40 * WAD])
def test_exp__reference_points__within_1e_15_relative(pricer, x):
    exact = exact_exp(x)
    assert abs(Decimal(pricer.exp(x)) - exact) <= exact * EXP_RELATIVE + 1


def test_exp__zero__exactly_one(pricer):
    assert pricer.exp(0) == WAD


def test_exp__below_minus_42__zero(pricer):
    assert pricer.exp(-42 * WAD - 1) == 0
    assert pricer.exp(-(2**255)) == 0


def test_exp__above_130__reverts(pricer):
    assert pricer.exp(130 * WAD) > 0
    with brownie.reverts("option_math: exp overflow"):
        pricer.exp(130 * WAD + 1)

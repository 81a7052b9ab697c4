"""fixed_point.ln: natural logarithm of a WAD number, pinned against a 60-digit reference.

The module has only internal functions, so a probe contract is compiled from the module's
own source (read from contracts/modules/fixed_point.vy) plus external wrappers: the code
under test is byte-for-byte the shipped `ln`.

Documented bound: |ln(x) - ln_exact(x)| <= 1e-15, i.e. LN_ERROR_BOUND_WEI = 1000 wei of WAD.
"""

import random
from pathlib import Path

import brownie
import pytest
from brownie import compile_source
from brownie.test import given, strategy

from tests.unit.oracle_reference import (
    LN2_WAD,
    LN_ERROR_BOUND_WEI,
    WAD,
    ln_error_wei,
    ln_wad,
)

FIXED_POINT_SOURCE = Path(__file__).resolve().parents[2] / "contracts" / "modules" / "fixed_point.vy"

PROBE_WRAPPERS = """

# ---- test probe: external wrappers around the module's internal ln
@external
@pure
def ln_of(x: uint256) -> int256:
    return self.ln(x)


@external
@pure
def ln_many(xs: DynArray[uint256, 64]) -> DynArray[int256, 64]:
    result: DynArray[int256, 64] = []
    for x: uint256 in xs:
        result.append(self.ln(x))
    return result
"""


@pytest.fixture(scope="module")
def ln_probe(admin):
    source = FIXED_POINT_SOURCE.read_text() + PROBE_WRAPPERS
    project = compile_source(source, vyper_version="0.4.3", evm_version="prague")
    return project.Vyper.deploy({"from": admin})


def _check_batch(ln_probe, xs):
    """On-chain ln equals the integer mirror exactly and is within the bound; returns max error."""
    got = list(ln_probe.ln_many(xs))
    assert got == [ln_wad(x) for x in xs]
    worst = max(ln_error_wei(x, value) for x, value in zip(xs, got))
    assert worst <= LN_ERROR_BOUND_WEI, (worst, xs)
    return worst


# ------------------------------------------------------------------ fixed points
def test_ln__of_one__returns_exactly_zero(ln_probe):
    assert ln_probe.ln_of(WAD) == 0


def test_ln__of_zero__reverts(ln_probe):
    with brownie.reverts("fixed_point: ln of zero"):
        ln_probe.ln_of(0)


def test_ln__of_zero_inside_a_batch__reverts(ln_probe):
    with brownie.reverts("fixed_point: ln of zero"):
        ln_probe.ln_many([WAD, 0, 2 * WAD])


@pytest.mark.parametrize("k", [1, 2, 10, 64, 128, 190])
def test_ln__of_power_of_two__returns_k_times_ln2_constant(ln_probe, k):
    """x = 2**k * 1e18 reduces to m = 1 exactly: ln = k * LN2 (LN2 rounded down, so
    the error grows by < 0.42 wei per doubling)."""
    got = ln_probe.ln_of(WAD << k)
    assert got == k * LN2_WAD
    assert ln_error_wei(WAD << k, got) <= LN_ERROR_BOUND_WEI


@pytest.mark.parametrize("k", [1, 2, 10, 59])
def test_ln__of_one_over_power_of_two__returns_about_minus_k_ln2(ln_probe, k):
    x = WAD // 2**k
    got = ln_probe.ln_of(x)
    assert got < 0
    assert ln_error_wei(x, got) <= LN_ERROR_BOUND_WEI
    # x is 1e18 / 2**k rounded down, which moves ln by at most 2**k / 1e18 (relative)
    assert abs(got + k * LN2_WAD) <= LN_ERROR_BOUND_WEI + 2**k


@pytest.mark.parametrize(
    "x",
    [1, 2, 3, 10**9, WAD - 1, WAD + 1, 2 * WAD, 10 * WAD, 10**36, 2**128 - 1, 2**200, 2**255, 2**256 - 1],
)
def test_ln__edge_inputs__within_bound_of_exact(ln_probe, x):
    got = ln_probe.ln_of(x)
    assert got == ln_wad(x)
    assert ln_error_wei(x, got) <= LN_ERROR_BOUND_WEI


def test_ln__of_one_wei__is_minus_ln_1e18(ln_probe):
    # ln(1e-18) = -41.446531673892822312...
    assert abs(ln_probe.ln_of(1) - (-41_446_531_673_892_822_312)) <= LN_ERROR_BOUND_WEI


# ------------------------------------------------------------------ sign
@pytest.mark.parametrize("delta", [1, 2])
def test_ln__one_or_two_wei_from_one__rounds_to_zero(ln_probe, delta):
    """Within 2 wei of 1e18 the reduction z = (m - 1)/(m + 1) floors to 0: ln is 0 (the exact
    value is +-1..2 wei, inside the bound). Below 1e18 the result is therefore <= 0, not < 0."""
    assert ln_probe.ln_of(WAD - delta) == 0
    assert ln_probe.ln_of(WAD + delta) == 0


@given(x=strategy("uint256", min_value=1, max_value=WAD - 3))
def test_ln__below_one__is_negative(ln_probe, x):
    got = ln_probe.ln_of(x)
    assert got < 0
    assert ln_error_wei(x, got) <= LN_ERROR_BOUND_WEI


@given(x=strategy("uint256", min_value=WAD + 3, max_value=2**256 - 1))
def test_ln__above_one__is_positive(ln_probe, x):
    got = ln_probe.ln_of(x)
    assert got > 0
    assert ln_error_wei(x, got) <= LN_ERROR_BOUND_WEI


# ------------------------------------------------------------------ accuracy properties
@given(xs=strategy("uint256[]", min_length=1, max_length=64, min_value=1, max_value=2**200))
def test_ln__random_inputs_up_to_2_pow_200__within_1000_wei_of_exact(ln_probe, xs):
    _check_batch(ln_probe, xs)


@given(
    exponents=strategy("uint8[]", min_length=1, max_length=64, max_value=200),
    seed=strategy("uint256"),
)
def test_ln__log_uniform_inputs__within_1000_wei_of_exact(ln_probe, exponents, seed):
    """Uniform draws on [1, 2**200] are almost all ~2**199; this spreads inputs over scales."""
    rng = random.Random(seed)
    xs = [rng.randint(1, 2**e) for e in exponents]
    _check_batch(ln_probe, xs)


@given(deltas=strategy("int128[]", min_length=1, max_length=64, min_value=-(10**17), max_value=10**17))
def test_ln__inputs_near_one__within_1000_wei_of_exact(ln_probe, deltas):
    _check_batch(ln_probe, [WAD + d for d in deltas])


@given(deltas=strategy("int64[]", min_length=1, max_length=64, min_value=-(10**6), max_value=10**6))
def test_ln__inputs_within_1e_minus_12_of_one__within_1000_wei_of_exact(ln_probe, deltas):
    _check_batch(ln_probe, [WAD + d for d in deltas])


@given(x=strategy("uint256", min_value=1, max_value=2**200))
def test_ln__reciprocal_input__negates_within_bound(ln_probe, x):
    """ln(1/x) = -ln(x): checked on 1e36 / x when that is exact enough (x <= 1e27)."""
    if x > 10**27:
        x = x % 10**27 + 1
    reciprocal = 10**36 // x
    got, got_reciprocal = ln_probe.ln_many([x, reciprocal])
    assert ln_error_wei(reciprocal, got_reciprocal) <= LN_ERROR_BOUND_WEI
    # flooring 1e36 / x moves its ln by at most x / 1e18 wei (relative x / 1e36)
    assert abs(got + got_reciprocal) <= 2 * LN_ERROR_BOUND_WEI + x // WAD + 1


@given(x=strategy("uint256", min_value=1, max_value=2**200 - 1), gap=strategy("uint256", min_value=1, max_value=2**200))
def test_ln__larger_input__never_smaller_result(ln_probe, x, gap):
    y = min(x + gap, 2**200)
    low, adjacent, high = ln_probe.ln_many([x, x + 1, y])
    assert low <= adjacent
    assert low <= high


def test_ln__deterministic_sweep__worst_error_below_bound(ln_probe):
    """2,048 inputs across every scale up to 2**256 - 1 and around 1e18; prints the worst error."""
    rng = random.Random(20240601)
    xs = [rng.randint(1, 2 ** rng.randint(1, 256) - 1) for _ in range(1024)]
    xs += [WAD + rng.randint(-(10**rng.randint(0, 17)), 10 ** rng.randint(0, 17)) for _ in range(1024)]
    worst = 0
    for start in range(0, len(xs), 64):
        worst = max(worst, _check_batch(ln_probe, xs[start : start + 64]))
    print(f"fixed_point.ln worst |error| over the sweep: {worst:.3f} wei")
    assert worst <= LN_ERROR_BOUND_WEI

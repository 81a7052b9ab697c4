# pragma version ~=0.4.3
"""
@title fixed_point
@notice Fixed-point helpers shared by every Keel contract.
        WAD = 1e18 (amounts, prices, ratios); RAY = 1e27 (per-second rates and
        rate accumulators); RAD = WAD * RAY (internal debt ledger, exact).
        Every helper that divides takes an explicit `roundup` flag: callers round
        in the system's favour (debt up, payouts down, requirements up).
@dev Internal functions only; import it with `from .modules import fixed_point`.
"""

WAD: constant(uint256) = 10 ** 18
RAY: constant(uint256) = 10 ** 27
RAD: constant(uint256) = 10 ** 45


@internal
@pure
def mul_div(x: uint256, y: uint256, denominator: uint256, roundup: bool) -> uint256:
    """
    @notice x * y / denominator, rounded down, or up when `roundup` is set.
    @dev Reverts on overflow of x * y (checked arithmetic) and on a zero denominator.
    """
    product: uint256 = x * y
    quotient: uint256 = product // denominator
    if roundup and product % denominator != 0:
        quotient += 1
    return quotient


@internal
@pure
def rpow(base: uint256, exponent: uint256, roundup: bool) -> uint256:
    """
    @notice base ** exponent for a RAY base, by binary exponentiation.
    @dev Every intermediate product rounds in the direction of `roundup`, so the
         result is a bound on the exact value on that side. The loop is bounded
         by the 64 bits an exponent in seconds may have.
    @param base RAY, e.g. a per-second stability fee of 1.000000001e27.
    @param exponent Plain integer (seconds).
    @return RAY
    """
    assert exponent < 2 ** 64, "fixed_point: exponent too large"
    # mul_div is inlined here: this loop runs on every fee accrual
    bump: uint256 = 0
    if roundup:
        bump = RAY - 1
    result: uint256 = RAY
    factor: uint256 = base
    remaining: uint256 = exponent
    for _: uint256 in range(64):
        if remaining & 1 == 1:
            result = (result * factor + bump) // RAY
        remaining = remaining >> 1
        if remaining == 0:
            break
        factor = (factor * factor + bump) // RAY
    return result


LN2: constant(uint256) = 693147180559945309  # ln(2), WAD, rounded down
LN_TERMS: constant(uint256) = 24


@internal
@pure
def ln(x: uint256) -> int256:
    """
    @notice Natural logarithm of a WAD number: ln(x / 1e18) * 1e18.
    @dev Range reduction x = 2**k * m with m in [1, 2), then
         ln(m) = 2 * atanh(z) = 2 * (z + z**3/3 + z**5/5 + ...), z = (m - 1) / (m + 1) < 1/3.
         Terms are summed until they vanish (at most 24; (1/3)**49 < 1e-23).
         Every step rounds down, so the absolute error stays below 1e-15
         (about 50 wei from the series plus k * 1 wei from LN2); the tests pin it
         against Python's math.log over random inputs.
    @param x WAD, must be positive.
    @return WAD, negative for x < 1e18.
    """
    assert x != 0, "fixed_point: ln of zero"
    negative: bool = x < WAD
    y: uint256 = x
    if negative:
        y = WAD * WAD // x
    # k = floor(log2(y / WAD)) by binary search on the integer part
    k: uint256 = 0
    whole: uint256 = y // WAD
    for bits: uint256 in [128, 64, 32, 16, 8, 4, 2, 1]:
        if whole >= 1 << bits:
            whole = whole >> bits
            k += bits
    m: uint256 = y >> k  # in [WAD, 2 * WAD)
    z: uint256 = (m - WAD) * WAD // (m + WAD)
    z_squared: uint256 = z * z // WAD
    term: uint256 = z
    total: uint256 = z
    for i: uint256 in range(1, LN_TERMS):
        term = term * z_squared // WAD
        if term == 0:
            break
        total += term // (2 * i + 1)
    result: uint256 = k * LN2 + 2 * total
    if negative:
        return -convert(result, int256)
    return convert(result, int256)

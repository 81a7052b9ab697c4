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

# pragma version ~=0.4.3
"""
@title option_math
@notice Fixed-point option pricing: exp, the standard normal CDF, Black-Scholes
        (zero interest rate: the debt token earns none) and an upper bound on an
        option's value that never falls below Black-Scholes.
@dev Internal functions only. WAD throughout; signed values are int256 WAD.
     Accuracy: exp and ln to ~1e-15 relative; the normal CDF is Abramowitz and
     Stegun 26.2.17 (absolute error below 7.5e-8), so a Black-Scholes price is
     within 1.5e-7 * (spot + strike) of the exact one (the tests pin it).
"""

from . import fixed_point

WAD: constant(uint256) = fixed_point.WAD
IWAD: constant(int256) = 10 ** 18
LN2: constant(int256) = 693147180559945309  # ln(2), WAD
SECONDS_PER_YEAR: constant(uint256) = 31_536_000  # 365 days
# 1 / sqrt(2 pi), WAD, rounded up: the time value of a call is at most spot * sigma * sqrt(T) times this
INV_SQRT_2PI_UP: constant(uint256) = 398942280401432678
INV_SQRT_2PI: constant(int256) = 398942280401432677
# Abramowitz and Stegun 26.2.17, WAD
P: constant(int256) = 231641900000000000
B1: constant(int256) = 319381530000000000
B2: constant(int256) = -356563782000000000
B3: constant(int256) = 1781477937000000000
B4: constant(int256) = -1821255978000000000
B5: constant(int256) = 1330274429000000000
# beyond |x| = 10 the CDF is 0 or 1 to far below WAD precision
CDF_LIMIT: constant(int256) = 10 * 10 ** 18
EXP_MIN: constant(int256) = -42 * 10 ** 18  # e**-42 < 1e-18: rounds to 0
EXP_MAX: constant(int256) = 130 * 10 ** 18  # e**130 * 1e18 < 2**256


@internal
@pure
def exp(x: int256) -> uint256:
    """
    @notice e ** (x / 1e18) * 1e18, within 1e-15 relative + 1 wei (LN2 is stored
            rounded down, so the result may sit a hair above or below).
    @dev x = k * ln2 + r with 0 <= r < ln2; e**r by its Taylor series (terms
         vanish by the 20th); the result shifted by k.
    """
    if x < EXP_MIN:
        return 0
    assert x <= EXP_MAX, "option_math: exp overflow"
    k: int256 = x // LN2
    if x < 0 and x % LN2 != 0:
        k -= 1  # floor toward minus infinity
    r: uint256 = convert(x - k * LN2, uint256)  # in [0, ln2), WAD
    # e**r = 1 + r(1 + r/2(1 + r/3(...))) to the 18th term (ln2**19/19! < 1e-19), in
    # 1e36 fixed point; the products stay below 2**240, so unchecked maths is safe
    r36: uint256 = unsafe_mul(r, WAD)
    total: uint256 = 10 ** 36
    for i: uint256 in [18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]:
        total = unsafe_add(10 ** 36, unsafe_div(unsafe_mul(total, r36), unsafe_mul(i, 10 ** 36)))
    if k >= 0:
        return (total // WAD) << convert(k, uint256)
    return (total >> convert(-k, uint256)) // WAD


@internal
@pure
def ncdf(x: int256) -> uint256:
    """
    @notice The standard normal CDF at x (WAD), WAD. N(-x) = WAD - N(x) exactly.
    """
    if x == 0:
        return WAD // 2
    if x >= CDF_LIMIT:
        return WAD
    if x <= -CDF_LIMIT:
        return 0
    a: int256 = abs(x)
    t: int256 = IWAD * IWAD // (IWAD + P * a // IWAD)
    poly: int256 = B5
    for b: int256 in [B4, B3, B2, B1]:
        poly = b + poly * t // IWAD
    poly = poly * t // IWAD
    density: int256 = INV_SQRT_2PI * convert(self.exp(-(a * a // IWAD) // 2), int256) // IWAD
    tail: uint256 = convert(max(density * poly // IWAD, 0), uint256)
    upper: uint256 = WAD - min(tail, WAD)
    if x >= 0:
        return upper
    return WAD - upper


@internal
@pure
def sigma_root_t(sigma: uint256, seconds: uint256) -> uint256:
    """
    @notice sigma * sqrt(T in years), WAD (sigma annualised, WAD), rounded down.
    """
    return sigma * isqrt(seconds * WAD * WAD // SECONDS_PER_YEAR) // WAD


@internal
@pure
def black_scholes(spot: uint256, strike: uint256, sigma: uint256, seconds: uint256, is_call: bool) -> uint256:
    """
    @notice Black-Scholes value (WAD of the quote per unit) of a European call or
            put at zero interest rate; at or after expiry (or with sigma 0), the
            intrinsic value.
    @dev The out-of-the-money leg comes from the formula (its two terms are small and
         close, so the approximation's error is a tiny absolute amount, clamped at
         0); the in-the-money leg from put-call parity, C - P = S - K, which then
         holds exactly.
    """
    if spot == 0:
        if is_call:
            return 0
        return strike
    vol: uint256 = self.sigma_root_t(sigma, seconds)
    if vol == 0:
        if is_call:
            return spot - min(spot, strike)
        return strike - min(strike, spot)
    log_moneyness: int256 = fixed_point.ln(spot * WAD // strike)
    ivol: int256 = convert(vol, int256)
    d1: int256 = (log_moneyness + ivol * ivol // IWAD // 2) * IWAD // ivol
    d2: int256 = d1 - ivol
    if spot <= strike:
        # the call is the out-of-the-money leg
        call: int256 = convert(spot * self.ncdf(d1) // WAD, int256) - convert(strike * self.ncdf(d2) // WAD, int256)
        call_value: uint256 = convert(max(call, 0), uint256)
        if is_call:
            return call_value
        return call_value + strike - spot
    put: int256 = convert(strike * self.ncdf(-d2) // WAD, int256) - convert(spot * self.ncdf(-d1) // WAD, int256)
    put_value: uint256 = convert(max(put, 0), uint256)
    if is_call:
        return put_value + spot - strike
    return put_value


@internal
@pure
def value_bound(spot: uint256, strike: uint256, sigma: uint256, seconds: uint256, is_call: bool) -> uint256:
    """
    @notice An upper bound on the Black-Scholes value (WAD per unit), rounded up:
            intrinsic value + spot * sigma * sqrt(T) / sqrt(2 pi), at most spot
            (call) or strike (put). A call's time value is largest at the money,
            where it equals spot * (2 N(sigma sqrt(T) / 2) - 1) <= this bound;
            parity gives a put the same time value.
    """
    time_value: uint256 = fixed_point.mul_div(fixed_point.mul_div(spot, sigma, WAD, True), isqrt(seconds * WAD * WAD // SECONDS_PER_YEAR) + 1, WAD, True)
    time_value = fixed_point.mul_div(time_value, INV_SQRT_2PI_UP, WAD, True)
    if is_call:
        return min(spot - min(spot, strike) + time_value, spot)
    return min(strike - min(strike, spot) + time_value, strike)

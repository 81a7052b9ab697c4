# pragma version ~=0.4.3
"""
@title OptionPricer
@notice Black-Scholes (zero interest rate) and the option-value bound of
        modules/option_math, as a stateless contract: PortfolioMargin marks
        positions for liquidation with it, and front ends and keepers call it.
@dev No state, no roles. Accuracy: see modules/option_math.vy (a price is within
     1.5e-7 * (spot + strike) of the exact Black-Scholes value; the tests pin it
     against Python over random inputs, and put-call parity within 2 wei).
"""

from .modules import option_math


@external
@pure
def black_scholes(spot: uint256, strike: uint256, sigma: uint256, seconds: uint256, is_call: bool) -> uint256:
    """
    @notice Black-Scholes value (WAD per option) at zero interest rate.
    @param spot WAD debt tokens per whole unit.
    @param strike WAD.
    @param sigma Annualised volatility, WAD.
    @param seconds Time to expiry (0: intrinsic value).
    """
    return option_math.black_scholes(spot, strike, sigma, seconds, is_call)


@external
@pure
def value_bound(spot: uint256, strike: uint256, sigma: uint256, seconds: uint256, is_call: bool) -> uint256:
    """
    @notice An upper bound on the Black-Scholes value (WAD per option), never below
            it: intrinsic + spot * sigma * sqrt(T) / sqrt(2 pi), at most spot (call)
            or strike (put). PortfolioMargin values shorts with it.
    """
    return option_math.value_bound(spot, strike, sigma, seconds, is_call)


@external
@pure
def normal_cdf(x: int256) -> uint256:
    """
    @notice The standard normal CDF at x (WAD, signed), WAD.
    """
    return option_math.ncdf(x)


@external
@pure
def exp(x: int256) -> uint256:
    """
    @notice e ** (x / 1e18), WAD.
    """
    return option_math.exp(x)

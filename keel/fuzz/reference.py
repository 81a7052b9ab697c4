"""Python mirrors of the contracts' arithmetic, for the fuzz suite to predict outcomes
exactly (and so to check every rounding direction): fixed-point helpers, the engine's fee
accrual and safety rule, the auction curves and a take, option payoffs.

Each function names the contract function it mirrors; a mismatch between a mirror and
the chain is a failure of the machine, so these stay as plain as the Vyper they copy.
"""

from __future__ import annotations

from dataclasses import dataclass

WAD = 10**18
RAY = 10**27
BPS = 10_000
CURVE_LINEAR, CURVE_EXPONENTIAL = 1, 2


def mul_div(x: int, y: int, denominator: int, roundup: bool) -> int:
    """fixed_point.mul_div: x * y / denominator, rounded up or down."""
    quotient, remainder = divmod(x * y, denominator)
    return quotient + 1 if roundup and remainder else quotient


def rpow(base: int, exponent: int, roundup: bool) -> int:
    """fixed_point.rpow: base ** exponent for a RAY base, every product rounded one way."""
    bump = RAY - 1 if roundup else 0
    result, factor = RAY, base
    while exponent:
        if exponent & 1:
            result = (result * factor + bump) // RAY
        exponent >>= 1
        if exponent:
            factor = (factor * factor + bump) // RAY
    return result


def rate_now(rate: int, last: int, fee: int, now: int) -> int:
    """VaultEngine._rate_now: the type's rate brought to `now`, rounded up (RAY)."""
    if last >= now or fee == RAY:
        return rate
    return mul_div(rate, rpow(fee, now - last, True), RAY, True)


def debt_of(normalized_debt: int, rate: int) -> int:
    """A vault's debt (WAD) at `rate`, rounded up (the system's favour)."""
    return mul_div(normalized_debt, rate, RAY, True)


def is_safe(collateral: int, normalized_debt: int, rate: int, price: int, ratio: int) -> bool:
    """VaultEngine._is_safe: collateral value (rounded down) covers debt * ratio (rounded up)."""
    if normalized_debt == 0:
        return True
    value = mul_div(collateral, price, WAD, False)
    return value >= mul_div(debt_of(normalized_debt, rate), ratio, WAD, True)


@dataclass(frozen=True)
class Curve:
    """DutchAuction.Curve, as System.TYPES gives it (buf and cusp WAD, cut RAY)."""

    kind: int
    buf: int
    tau: int
    step: int
    cut: int
    tail: int
    cusp: int

    def price(self, top: int, elapsed: int) -> int:
        """DutchAuction._price: non-increasing in `elapsed`, rounded down."""
        if self.kind == CURVE_LINEAR:
            return 0 if elapsed >= self.tau else top * (self.tau - elapsed) // self.tau
        return mul_div(top, rpow(self.cut, elapsed // self.step, False), RAY, False)

    def needs_reset(self, top: int, elapsed: int, price: int) -> bool:
        """DutchAuction._needs_reset (cusp in whole bps, as the auction stores it)."""
        return elapsed > self.tail or price * BPS < (self.cusp * BPS // WAD) * top

    def start_price(self, oracle_price: int) -> int:
        """DutchAuction._start_price: oracle price * buf (buf in whole bps)."""
        return oracle_price * (self.buf * BPS // WAD) // BPS


@dataclass(frozen=True)
class TakeOutcome:
    bought: int  # WAD collateral
    owe: int  # WAD debt tokens
    lot: int  # WAD left
    target: int  # WAD left
    covered: int  # WAD of vault debt the payment covers (the rest of owe is penalty)
    finished: bool
    returned: int  # WAD collateral back into the vault
    bad_debt: int  # WAD


class TakeRefused(Exception):
    """The take would revert; the message is the contract's reason."""


def take(lot: int, target: int, penalty_part: int, price: int, amount: int, auction_dust: int) -> TakeOutcome:
    """DutchAuction.take's arithmetic after its checks of state and price."""
    if amount == 0:
        raise TakeRefused("auction: zero amount")
    bought = min(lot, amount)
    owe = mul_div(bought, price, WAD, True)
    if owe > target:
        owe = target
        bought = min(lot, mul_div(owe, WAD, price, True))
    elif bought < lot and target - owe < auction_dust:
        if target <= auction_dust:
            raise TakeRefused("auction: would leave dust")
        owe = target - auction_dust
        bought = mul_div(owe, WAD, price, True)
    if bought == 0 or owe == 0:
        raise TakeRefused("auction: nothing bought")
    uncovered = max(0, target - penalty_part)
    lot, target = lot - bought, target - owe
    covered = uncovered - max(0, target - penalty_part)
    finished = target == 0 or lot == 0
    return TakeOutcome(bought, owe, lot, target, covered, finished, lot if finished else 0,
                       uncovered - covered if finished else 0)


def reward(target: int, flat: int, percent: int, cap: int) -> int:
    """A keeper reward or reset incentive: flat + percent of the target, capped (WAD)."""
    return min(flat + target * percent // WAD, cap)


def option_payoff(is_call: bool, strike: int, price: int, roundup: bool) -> int:
    """OptionsHouse._payoff: WAD per option, a call in underlying ((S - K) / S), a put in
    debt tokens (K - S); 0 out of the money."""
    if is_call:
        return 0 if price <= strike else mul_div(price - strike, WAD, price, roundup)
    return 0 if strike <= price else strike - price


def option_locked(is_call: bool, strike: int, amount: int, roundup: bool) -> int:
    """What `amount` options lock in full: the amount of underlying (call) or amount *
    strike debt tokens (put), rounded as asked."""
    return amount if is_call else mul_div(amount, strike, WAD, roundup)

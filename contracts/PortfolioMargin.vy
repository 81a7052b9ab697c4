# pragma version ~=0.4.3
# PortfolioMargin is close to EIP-170's 24,576 bytes: compiled for size (measured by `make gas`).
# pragma optimize codesize
"""
@title PortfolioMargin
@notice Cross-margin accounts: a Keel vault (its collateral and its debt) plus up
        to 16 option positions, short or long, on the vault's collateral type,
        margined together by the worst loss over a grid of price and volatility
        scenarios. A hedged book (a short call against its collateral, a long put
        under a loan, a short strangle) needs less collateral than its parts
        held apart. Options are written here partly collateralised, only while
        the initial margin holds; below the maintenance margin anyone may
        liquidate positions at a price that improves for the liquidator with
        time (a Dutch ramp); at expiry the account pays its shorts out of its
        vault (a call in collateral, a put in newly borrowed debt tokens).
@dev The module owns each account's vault (the engine sets MARGIN_FLAG and asks
     this contract, not the ratio, whether the vault is safe) and records the
     user it holds it for. Scenarios (every spot shock k * step for k = -n..n,
     each at volatility x up, x 1 and x down, plus an extreme fall and rise
     counted at a fraction, plus, for an account with debt, the fall its
     liquidation ratio covers, 1 - 1 / ratio, counted in full, so that an account
     without options is exactly as safe as a plain vault):
       value(s) = collateral * S_s + sum(long * lower(s)) - sum(short * upper(s))
       loss(s)  = weight(s) * max(0, value(0) - value(s))
       maintenance = max over s of loss(s); initial: losses x the initial factor
       (the debt scenario excepted)
     and an account is healthy while value(0) - debt >= the requirement. Options
     are priced by a bound: a long at its intrinsic value (never above
     Black-Scholes), a short at intrinsic + spot * sigma * sqrt(T) / sqrt(2 pi)
     (never below Black-Scholes: option_math.value_bound), so the requirement is
     never below the worst Black-Scholes scenario loss. Every rounding makes the
     requirement larger and the account's value smaller.
"""

from ethereum.ercs import IERC20
from .modules import access_control
from .modules import fixed_point

initializes: access_control
exports: (
    access_control.owner,
    access_control.pending_owner,
    access_control.roles,
    access_control.transfer_ownership,
    access_control.accept_ownership,
    access_control.set_roles,
)


interface IVaultEngine:
    def open_vault(collateral_type: uint256, deposit_amount: uint256, borrow_amount: uint256) -> uint256: nonpayable
    def deposit(vault_id: uint256, amount: uint256): nonpayable
    def withdraw(vault_id: uint256, amount: uint256, receiver: address): nonpayable
    def borrow(vault_id: uint256, amount: uint256, receiver: address): nonpayable
    def repay(vault_id: uint256, amount: uint256): nonpayable
    def transfer_vault(vault_id: uint256, new_owner: address): nonpayable
    def vault_position(vault_id: uint256) -> (address, uint256, uint256, uint256): view
    def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256): view
    def current_rate(collateral_type: uint256) -> uint256: view
    def required_ratio(collateral_type: uint256) -> (uint256, uint256, uint256): view
    def fresh_price(collateral_type: uint256) -> uint256: view
    def vault_state(vault_id: uint256) -> (uint256, uint256, uint256, uint256, uint256, address, uint256): view


interface IOptionsHouse:
    def series_terms(series_id: uint256) -> (uint256, bool, uint256, uint256): view
    def settlement(series_id: uint256) -> (uint256, uint256): view
    def token_of(series_id: uint256) -> address: view
    def margin_write(series_id: uint256, amount: uint256, receiver: address): nonpayable
    def margin_close(series_id: uint256, amount: uint256, account: address): nonpayable
    def margin_settle(series_id: uint256, amount: uint256, paid: uint256): nonpayable
    def redeem(series_id: uint256, amount: uint256, receiver: address) -> uint256: nonpayable


interface IPriceOracle:
    def volatility() -> uint256: view


interface IOptionPricer:
    def black_scholes(spot: uint256, strike: uint256, sigma: uint256, seconds: uint256, is_call: bool) -> uint256: pure


struct Position:
    series_id: uint256
    is_call: bool
    is_short: bool
    amount: uint256  # WAD options
    strike: uint256  # WAD
    expiry: uint256  # unix seconds


struct Health:
    value: int256  # WAD debt tokens: collateral + longs - shorts, at today's price (bounds)
    debt: uint256  # WAD, with fees to now
    maintenance: uint256  # WAD, the worst weighted scenario loss
    initial: uint256  # WAD, the same with the initial factor
    healthy: bool  # value - debt >= maintenance
    opening: bool  # value - debt >= initial


# what a margin check needs of the account's vault (VaultEngine.vault_state)
struct VaultState:
    collateral_type: uint256
    collateral: uint256  # WAD
    debt: uint256  # WAD, with fees to now
    price: uint256  # WAD, fresh
    ratio: uint256  # WAD, the required ratio
    oracle: address
    scale: uint256  # 10 ** (18 - token decimals)


struct Params:
    step_bps: uint256  # spot shock per grid step, bps of the price
    steps: uint256  # grid steps each side (9 points for 4)
    vol_up_bps: uint256  # volatility in the "up" scenarios, bps of sigma (>= 10,000)
    vol_down_bps: uint256  # ... in the "down" scenarios (<= 10,000)
    extreme_down_bps: uint256  # the extreme fall, bps of the price
    extreme_up_bps: uint256  # the extreme rise, bps of the price
    extreme_weight_bps: uint256  # how much of an extreme move's loss counts, bps
    initial_factor_bps: uint256  # initial margin = losses x this, bps (> 10,000)
    floor_sigma: uint256  # WAD: sigma never taken below this (oracles without history give 0)
    ramp_seconds: uint256  # the liquidation ramp runs this long
    max_bonus_bps: uint256  # at its end: a short's price is the upper bound x (1 + this), a long's the intrinsic x (1 - this)


# set the risk parameters
ROLE_MARGIN_ADMIN: constant(uint256) = 1

WAD: constant(uint256) = fixed_point.WAD
IWAD: constant(int256) = 10 ** 18
RAY: constant(uint256) = fixed_point.RAY
BPS: constant(uint256) = 10_000
MAX_POSITIONS: constant(uint256) = 16
MAX_STEPS: constant(uint256) = 8
SECONDS_PER_YEAR: constant(uint256) = 31_536_000
# 1 / sqrt(2 pi), WAD, rounded up (modules/option_math.INV_SQRT_2PI_UP): the time value of
# an option is at most spot * sigma * sqrt(T) times this
INV_SQRT_2PI_UP: constant(uint256) = 398942280401432678
INV_SQRT_2PI_DOWN: constant(uint256) = 398942280401432677

MASK_8: constant(uint256) = 2 ** 8 - 1
MASK_16: constant(uint256) = 2 ** 16 - 1
MASK_31: constant(uint256) = 2 ** 31 - 1
MASK_32: constant(uint256) = 2 ** 32 - 1
MASK_40: constant(uint256) = 2 ** 40 - 1
MASK_95: constant(uint256) = 2 ** 95 - 1
MASK_96: constant(uint256) = 2 ** 96 - 1
MASK_160: constant(uint256) = 2 ** 160 - 1

event AccountOpened:
    vault_id: indexed(uint256)
    owner: indexed(address)
    collateral_type: indexed(uint256)

event AccountReleased:
    vault_id: indexed(uint256)
    owner: indexed(address)

event PositionChanged:
    vault_id: indexed(uint256)
    series_id: indexed(uint256)
    is_short: bool
    amount: uint256  # WAD, the position afterwards (0: gone)

event PositionSettled:
    vault_id: indexed(uint256)
    series_id: indexed(uint256)
    is_short: bool
    amount: uint256  # WAD options settled
    paid: uint256  # WAD paid to the house (short), or received (long)
    shortfall: uint256  # WAD a short owed beyond what its vault held

event LiquidationStarted:
    vault_id: indexed(uint256)
    keeper: indexed(address)

event PositionLiquidated:
    vault_id: indexed(uint256)
    series_id: indexed(uint256)
    liquidator: indexed(address)
    is_short: bool
    amount: uint256  # WAD options taken over
    price: uint256  # WAD per option: the ramp's price
    progress_bps: uint256  # how far the ramp has run (10,000: at its end)
    collateral: uint256  # WAD collateral paid to the liquidator (short)
    repaid: uint256  # WAD debt tokens the liquidator paid toward the vault's debt (long)

event DebtLiquidated:
    vault_id: indexed(uint256)
    liquidator: indexed(address)
    repaid: uint256  # WAD debt tokens the liquidator paid toward the vault's debt
    collateral: uint256  # WAD collateral paid to the liquidator
    progress_bps: uint256  # how far the ramp has run (10,000: at its end)

event ParamsSet:
    step_bps: uint256
    steps: uint256
    vol_up_bps: uint256
    vol_down_bps: uint256
    extreme_down_bps: uint256
    extreme_up_bps: uint256
    extreme_weight_bps: uint256
    initial_factor_bps: uint256
    floor_sigma: uint256
    ramp_seconds: uint256
    max_bonus_bps: uint256

engine: public(immutable(address))
house: public(immutable(address))
debt_token: public(immutable(address))
# Black-Scholes, for `mark` (keepers compare it with the liquidation ramp's price)
pricer: public(immutable(address))

# vault => packed: account owner (bits 0-159) | number of positions (bits 160-167) |
#          liquidation started at, unix s (bits 168-207); 0 = not an account
_accounts: HashMap[uint256, uint256]
# vault => index => packed position: series id (bits 0-30) | call (bit 31) | short
#          (bit 32) | amount WAD (bits 33-127) | strike WAD (bits 128-223) | expiry
#          unix s (bits 224-255); the terms are copied from the house so that a
#          margin check reads one slot a position
_positions: HashMap[uint256, HashMap[uint256, uint256]]
# packed Params, one slot (a margin check reads it once): bps fields 16 bits each --
# step (0-15), steps (16-31), vol up (32-47), vol down (48-63), extreme down (64-79),
# extreme up (80-95), extreme weight (96-111), initial factor (112-127), max bonus
# (128-143) -- then ramp seconds (bits 144-175) and floor sigma WAD (bits 176-239)
_params: uint256
# set while this contract's own engine calls settle or liquidate an account: the
# engine's call back (vault_healthy) then answers True, the caller checks itself
_settling: transient(bool)


@deploy
def __init__(engine_address: address, house_address: address, debt_token_address: address, pricer_address: address, initial_owner: address):
    """
    @param engine_address The VaultEngine (this contract must be its margin_module).
    @param house_address The OptionsHouse (this contract needs its ROLE_MARGIN).
    @param debt_token_address The debt token.
    @param pricer_address The OptionPricer.
    @param initial_owner Owner who grants ROLE_MARGIN_ADMIN.
    """
    assert engine_address != empty(address) and house_address != empty(address) and debt_token_address != empty(address) and pricer_address != empty(address), "margin: zero address"
    access_control.__init__(initial_owner)
    engine = engine_address
    house = house_address
    debt_token = debt_token_address
    pricer = pricer_address
    # Deribit-like defaults: +-16 % in 9 steps x volatility up 50 % / same / down 30 %,
    # an extreme 33 % fall or 50 % rise counted at a third; initial = 1.25 x maintenance
    self._params = self._pack_params(Params(
        step_bps=400, steps=4, vol_up_bps=15_000, vol_down_bps=7_000, extreme_down_bps=3_300,
        extreme_up_bps=5_000, extreme_weight_bps=3_333, initial_factor_bps=12_500,
        floor_sigma=WAD // 2, ramp_seconds=3_600, max_bonus_bps=1_000,
    ))


# ================================================================ small checks and token moves
@internal
@pure
def _check_amount(amount: uint256):
    assert amount != 0, "margin: zero amount"


@internal
def _pull(token: address, amount: uint256):
    assert extcall IERC20(token).transferFrom(msg.sender, self, amount, default_return_value=True), "margin: token transfer failed"


@internal
def _send(token: address, receiver: address, amount: uint256):
    assert extcall IERC20(token).transfer(receiver, amount, default_return_value=True), "margin: token transfer failed"


# ================================================================ parameters
@internal
@pure
def _pack_params(p: Params) -> uint256:
    return (
        p.step_bps | (p.steps << 16) | (p.vol_up_bps << 32) | (p.vol_down_bps << 48)
        | (p.extreme_down_bps << 64) | (p.extreme_up_bps << 80) | (p.extreme_weight_bps << 96)
        | (p.initial_factor_bps << 112) | (p.max_bonus_bps << 128) | (p.ramp_seconds << 144)
        | (p.floor_sigma << 176)
    )


@internal
@view
def _load_params() -> Params:
    packed: uint256 = self._params
    return Params(
        step_bps=packed & MASK_16,
        steps=(packed >> 16) & MASK_16,
        vol_up_bps=(packed >> 32) & MASK_16,
        vol_down_bps=(packed >> 48) & MASK_16,
        extreme_down_bps=(packed >> 64) & MASK_16,
        extreme_up_bps=(packed >> 80) & MASK_16,
        extreme_weight_bps=(packed >> 96) & MASK_16,
        initial_factor_bps=(packed >> 112) & MASK_16,
        floor_sigma=packed >> 176,
        ramp_seconds=(packed >> 144) & MASK_32,
        max_bonus_bps=(packed >> 128) & MASK_16,
    )


# ================================================================ books
@internal
@view
def _account(vault_id: uint256) -> uint256:
    account: uint256 = self._accounts[vault_id]
    assert account != 0, "margin: not an account"
    return account


@internal
@view
def _check_owner(account: uint256):
    assert msg.sender == convert(convert(account & MASK_160, uint160), address), "margin: not the account owner"


@internal
@view
def _load(vault_id: uint256, count: uint256) -> DynArray[Position, MAX_POSITIONS]:
    book: DynArray[Position, MAX_POSITIONS] = []
    for i: uint256 in range(MAX_POSITIONS):
        if i >= count:
            break
        packed: uint256 = self._positions[vault_id][i]
        book.append(Position(
            series_id=packed & MASK_31,
            is_call=(packed >> 31) & 1 == 1,
            is_short=(packed >> 32) & 1 == 1,
            amount=(packed >> 33) & MASK_95,
            strike=(packed >> 128) & MASK_96,
            expiry=packed >> 224,
        ))
    return book


@internal
@pure
def _pack(p: Position) -> uint256:
    call_bit: uint256 = 0
    if p.is_call:
        call_bit = 1
    short_bit: uint256 = 0
    if p.is_short:
        short_bit = 1
    assert p.amount <= MASK_95, "margin: position too large"
    return p.series_id | (call_bit << 31) | (short_bit << 32) | (p.amount << 33) | (p.strike << 128) | (p.expiry << 224)


@internal
def _change(vault_id: uint256, account: uint256, series_id: uint256, is_short: bool, amount: uint256, adding: bool) -> uint256:
    """
    @dev Add to (or take from) the account's position in a series; a position that
         reaches zero leaves the book (the last one takes its place).
    @return The position's amount afterwards, WAD.
    """
    count: uint256 = (account >> 160) & MASK_8
    index: uint256 = count
    packed: uint256 = 0
    for i: uint256 in range(MAX_POSITIONS):
        if i >= count:
            break
        candidate: uint256 = self._positions[vault_id][i]
        if candidate & MASK_31 == series_id:
            index = i
            packed = candidate
            break
    after: uint256 = 0
    if index == count:
        assert adding, "margin: no such position"
        assert count < MAX_POSITIONS, "margin: too many positions"
        collateral_type: uint256 = 0
        is_call: bool = False
        strike: uint256 = 0
        expiry: uint256 = 0
        collateral_type, is_call, strike, expiry = staticcall IOptionsHouse(house).series_terms(series_id)
        assert collateral_type == (staticcall IVaultEngine(engine).vault_position(vault_id))[1], "margin: series of another collateral type"
        assert series_id <= MASK_31 and expiry <= MASK_32, "margin: series out of range"
        after = amount
        self._positions[vault_id][index] = self._pack(Position(series_id=series_id, is_call=is_call, is_short=is_short, amount=amount, strike=strike, expiry=expiry))
        self._accounts[vault_id] = account + (1 << 160)
    else:
        assert ((packed >> 32) & 1 == 1) == is_short, "margin: position is the other way"
        held: uint256 = (packed >> 33) & MASK_95
        if adding:
            after = held + amount
            assert after <= MASK_95, "margin: position too large"
        else:
            assert amount <= held, "margin: more than the position"
            after = held - amount
        if after == 0:
            last: uint256 = count - 1
            if index != last:
                self._positions[vault_id][index] = self._positions[vault_id][last]
            self._positions[vault_id][last] = 0
            self._accounts[vault_id] = account - (1 << 160)
        else:
            self._positions[vault_id][index] = (packed & ~(MASK_95 << 33)) | (after << 33)
    log PositionChanged(vault_id=vault_id, series_id=series_id, is_short=is_short, amount=after)
    return after


# ================================================================ the margin rule
@internal
@view
def _sigma(oracle: address) -> uint256:
    """
    @dev The oracle's volatility, at least the floor, at most 1,000 % (so the margin
         maths cannot overflow). WAD.
    """
    return min(max(staticcall IPriceOracle(oracle).volatility(), self._params >> 176), 10 * WAD)


@internal
@view
def _state(vault_id: uint256) -> VaultState:
    state: VaultState = empty(VaultState)
    state.collateral_type, state.collateral, state.debt, state.price, state.ratio, state.oracle, state.scale = staticcall IVaultEngine(engine).vault_state(vault_id)
    return state


@internal
@view
def _health(vault_id: uint256, account: uint256, collateral: uint256, debt: uint256, price: uint256, ratio: uint256, sigma: uint256) -> Health:
    """
    @dev The scenario check (see the contract's @dev). The positions are unpacked
         once into plain arrays and every scenario is priced in this one frame.
         Bounds that make the unchecked maths safe: price < 2**96 (the engine's
         oracles), spots < 2**99, amounts and strikes < 2**96, sigma <= 10 WAD and
         so time-value factors < 2**72, collateral < 2**112; every product stays
         under 2**220 and every account value under 2**211.
    """
    packed_params: uint256 = self._params
    steps: uint256 = (packed_params >> 16) & MASK_16
    step_bps: uint256 = packed_params & MASK_16
    count: uint256 = (account >> 160) & MASK_8
    amounts: uint256[MAX_POSITIONS] = empty(uint256[MAX_POSITIONS])
    strikes: uint256[MAX_POSITIONS] = empty(uint256[MAX_POSITIONS])
    # bit 0: call, bit 1: short
    kinds: uint256[MAX_POSITIONS] = empty(uint256[MAX_POSITIONS])
    # spot-free time-value factors of each short at volatility up, same, down (WAD,
    # rounded up): sigma_v * sqrt(years to expiry) / sqrt(2 pi)
    up_factors: uint256[MAX_POSITIONS] = empty(uint256[MAX_POSITIONS])
    factors: uint256[MAX_POSITIONS] = empty(uint256[MAX_POSITIONS])
    down_factors: uint256[MAX_POSITIONS] = empty(uint256[MAX_POSITIONS])
    # today's factor rounded down: losses are measured from today's value rounded up
    low_factors: uint256[MAX_POSITIONS] = empty(uint256[MAX_POSITIONS])
    sigma_up: uint256 = unsafe_div(unsafe_add(unsafe_mul(sigma, (packed_params >> 32) & MASK_16), BPS - 1), BPS)
    sigma_down: uint256 = unsafe_div(unsafe_add(unsafe_mul(sigma, (packed_params >> 48) & MASK_16), BPS - 1), BPS)
    for i: uint256 in range(MAX_POSITIONS):
        if i >= count:
            break
        packed: uint256 = self._positions[vault_id][i]
        amounts[i] = (packed >> 33) & MASK_95
        strikes[i] = (packed >> 128) & MASK_96
        kinds[i] = (packed >> 31) & 3
        expiry: uint256 = packed >> 224
        if kinds[i] & 2 != 0 and expiry > block.timestamp:
            root: uint256 = isqrt(unsafe_div(unsafe_mul(unsafe_sub(expiry, block.timestamp), WAD * WAD), SECONDS_PER_YEAR)) + 1
            per_root: uint256 = unsafe_div(unsafe_add(unsafe_mul(root, INV_SQRT_2PI_UP), WAD - 1), WAD)
            up_factors[i] = unsafe_div(unsafe_add(unsafe_mul(sigma_up, per_root), WAD - 1), WAD)
            factors[i] = unsafe_div(unsafe_add(unsafe_mul(sigma, per_root), WAD - 1), WAD)
            down_factors[i] = unsafe_div(unsafe_add(unsafe_mul(sigma_down, per_root), WAD - 1), WAD)
            low_root: uint256 = isqrt(unsafe_div(unsafe_mul(unsafe_sub(expiry, block.timestamp), WAD * WAD), SECONDS_PER_YEAR))
            low_factors[i] = unsafe_div(unsafe_mul(sigma, unsafe_div(unsafe_mul(low_root, INV_SQRT_2PI_DOWN), WAD)), WAD)
    # scenario j: 0 today (priced first, below); 1..2n the grid (-1, +1, -2, +2, ... steps); then the extreme
    # fall and rise; then, with debt, the fall the liquidation ratio covers
    grid: uint256 = 2 * steps + 1
    last: uint256 = grid + 2
    if debt != 0:
        last = grid + 3
    # today's value two ways: rounded down (gains down, costs up), the account's value
    # and spare; rounded up (gains up, costs down), what every loss is measured from, so
    # that the rounding of today's value never shrinks a loss
    base: int256 = convert(unsafe_div(unsafe_mul(collateral, price), WAD), int256)
    base_up: int256 = convert(unsafe_div(unsafe_add(unsafe_mul(collateral, price), WAD - 1), WAD), int256)
    for i: uint256 in range(MAX_POSITIONS):
        if i >= count:
            break
        amount: uint256 = amounts[i]
        strike: uint256 = strikes[i]
        intrinsic: uint256 = 0
        cap: uint256 = price
        if kinds[i] & 1 != 0:
            if price > strike:
                intrinsic = unsafe_sub(price, strike)
        else:
            cap = strike
            if strike > price:
                intrinsic = unsafe_sub(strike, price)
        if kinds[i] & 2 == 0:
            base = unsafe_add(base, convert(unsafe_div(unsafe_mul(intrinsic, amount), WAD), int256))
            base_up = unsafe_add(base_up, convert(unsafe_div(unsafe_add(unsafe_mul(intrinsic, amount), WAD - 1), WAD), int256))
            continue
        room: uint256 = unsafe_sub(cap, intrinsic)
        value: uint256 = unsafe_add(intrinsic, min(unsafe_div(unsafe_add(unsafe_mul(price, factors[i]), WAD - 1), WAD), room))
        base = unsafe_sub(base, convert(unsafe_div(unsafe_add(unsafe_mul(value, amount), WAD - 1), WAD), int256))
        value = unsafe_add(intrinsic, min(unsafe_div(unsafe_mul(price, low_factors[i]), WAD), room))
        base_up = unsafe_sub(base_up, convert(unsafe_div(unsafe_mul(value, amount), WAD), int256))
    maintenance: uint256 = 0
    initial: uint256 = 0
    for j: uint256 in range(1, 2 * MAX_STEPS + 4):
        if j >= last:
            break
        spot: uint256 = price
        if j < grid:
            shock: uint256 = unsafe_mul(unsafe_add(j, 1) >> 1, step_bps)
            if j & 1 == 1:
                spot = unsafe_div(unsafe_mul(price, BPS - shock), BPS)
            else:
                spot = unsafe_div(unsafe_add(unsafe_mul(price, BPS + shock), BPS - 1), BPS)
        elif j == grid:
            spot = unsafe_div(unsafe_mul(price, BPS - ((packed_params >> 64) & MASK_16)), BPS)
        elif j == grid + 1:
            spot = unsafe_div(unsafe_add(unsafe_mul(price, BPS + ((packed_params >> 80) & MASK_16)), BPS - 1), BPS)
        else:
            # the fall the liquidation ratio covers: an account without options is then
            # exactly as safe as a plain vault
            spot = price * WAD // ratio
        # the account's value at this spot, at volatility up, same and down (the grid
        # takes all three, the other scenarios the same); gains round down, costs up
        same: int256 = convert(unsafe_div(unsafe_mul(collateral, spot), WAD), int256)
        up: int256 = same
        down: int256 = same
        three: bool = j < grid
        for i: uint256 in range(MAX_POSITIONS):
            if i >= count:
                break
            amount: uint256 = amounts[i]
            strike: uint256 = strikes[i]
            kind: uint256 = kinds[i]
            intrinsic: uint256 = 0
            cap: uint256 = spot
            if kind & 1 != 0:
                if spot > strike:
                    intrinsic = unsafe_sub(spot, strike)
            else:
                cap = strike
                if strike > spot:
                    intrinsic = unsafe_sub(strike, spot)
            if kind & 2 == 0:
                gain: int256 = convert(unsafe_div(unsafe_mul(intrinsic, amount), WAD), int256)
                same = unsafe_add(same, gain)
                up = unsafe_add(up, gain)
                down = unsafe_add(down, gain)
                continue
            room: uint256 = unsafe_sub(cap, intrinsic)
            value: uint256 = unsafe_add(intrinsic, min(unsafe_div(unsafe_add(unsafe_mul(spot, factors[i]), WAD - 1), WAD), room))
            same = unsafe_sub(same, convert(unsafe_div(unsafe_add(unsafe_mul(value, amount), WAD - 1), WAD), int256))
            if three:
                value = unsafe_add(intrinsic, min(unsafe_div(unsafe_add(unsafe_mul(spot, up_factors[i]), WAD - 1), WAD), room))
                up = unsafe_sub(up, convert(unsafe_div(unsafe_add(unsafe_mul(value, amount), WAD - 1), WAD), int256))
                value = unsafe_add(intrinsic, min(unsafe_div(unsafe_add(unsafe_mul(spot, down_factors[i]), WAD - 1), WAD), room))
                down = unsafe_sub(down, convert(unsafe_div(unsafe_add(unsafe_mul(value, amount), WAD - 1), WAD), int256))
        worst: int256 = same
        if three:
            worst = min(same, min(up, down))
        if worst >= base_up:
            continue
        loss: uint256 = convert(unsafe_sub(base_up, worst), uint256)
        if j >= grid + 2:
            # the debt scenario counts in full, for both requirements
            maintenance = max(maintenance, loss)
            initial = max(initial, loss)
            continue
        if j >= grid:
            # an extreme move counts at its weight
            loss = unsafe_div(unsafe_add(unsafe_mul(loss, (packed_params >> 96) & MASK_16), BPS - 1), BPS)
        maintenance = max(maintenance, loss)
        initial = max(initial, unsafe_div(unsafe_add(unsafe_mul(loss, (packed_params >> 112) & MASK_16), BPS - 1), BPS))
    spare: int256 = base - convert(debt, int256)
    return Health(
        value=base,
        debt=debt,
        maintenance=maintenance,
        initial=initial,
        healthy=spare >= 0 and convert(spare, uint256) >= maintenance,
        opening=spare >= 0 and convert(spare, uint256) >= initial,
    )


@internal
@view
def _health_now(vault_id: uint256, account: uint256) -> Health:
    state: VaultState = self._state(vault_id)
    return self._health(vault_id, account, state.collateral, state.debt, state.price, state.ratio, self._sigma(state.oracle))


@external
@view
def vault_healthy(vault_id: uint256, collateral: uint256, debt: uint256, price: uint256, ratio: uint256, for_liquidation: bool) -> bool:
    """
    @notice The engine's question for a vault this module holds: may the vault
            take this action (initial margin), or, `for_liquidation`, must the
            engine's own liquidation wait (the account is healthy, or it still has
            options: they go through `liquidate` here, its debt through
            `liquidate_debt`)?
    """
    if self._settling:
        return True
    account: uint256 = self._accounts[vault_id]
    if for_liquidation and (account >> 160) & MASK_8 != 0:
        return True
    health: Health = self._health(vault_id, account, collateral, debt, price, ratio, self._sigma(self._state(vault_id).oracle))
    if for_liquidation:
        return health.healthy
    return health.opening


@internal
def _require_opening(vault_id: uint256, account: uint256):
    assert self._health_now(vault_id, account).opening, "margin: initial margin"


# ================================================================ accounts
@external
@nonreentrant
def open_account(collateral_type: uint256, amount: uint256) -> uint256:
    """
    @notice Open a margin account: a vault of `collateral_type` this module holds
            for the caller, with `amount` (token units) of collateral from the caller.
    @return The account's vault id.
    """
    word: uint256 = 0
    token: uint256 = 0
    token, word, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
    asset: address = convert(convert(token & MASK_160, uint160), address)
    if amount != 0:
        self._pull(asset, amount)
        extcall IERC20(asset).approve(engine, amount, default_return_value=True)
    vault_id: uint256 = extcall IVaultEngine(engine).open_vault(collateral_type, amount, 0)
    self._accounts[vault_id] = convert(msg.sender, uint256)
    log AccountOpened(vault_id=vault_id, owner=msg.sender, collateral_type=collateral_type)
    return vault_id


@external
@nonreentrant
def release_account(vault_id: uint256):
    """
    @notice Hand an account with no options back to its owner as a plain vault
            (it is then margined by the ratio again). The owner only.
    """
    account: uint256 = self._account(vault_id)
    self._check_owner(account)
    assert (account >> 160) & MASK_8 == 0, "margin: positions open"
    owner: address = convert(convert(account & MASK_160, uint160), address)
    self._accounts[vault_id] = 0
    log AccountReleased(vault_id=vault_id, owner=owner)
    extcall IVaultEngine(engine).transfer_vault(vault_id, owner)


@external
@nonreentrant
def withdraw(vault_id: uint256, amount: uint256, receiver: address):
    """
    @notice Take `amount` (token units) of collateral out of an account; its
            initial margin must hold after. The owner only.
    """
    account: uint256 = self._account(vault_id)
    self._check_owner(account)
    extcall IVaultEngine(engine).withdraw(vault_id, amount, receiver)
    self._require_opening(vault_id, account)


@external
@nonreentrant
def borrow(vault_id: uint256, amount: uint256, receiver: address):
    """
    @notice Borrow `amount` (WAD) debt tokens against an account; the engine asks
            this module, which requires the initial margin. The owner only.
    """
    account: uint256 = self._account(vault_id)
    self._check_owner(account)
    extcall IVaultEngine(engine).borrow(vault_id, amount, receiver)


# ================================================================ options
@external
@nonreentrant
def write(vault_id: uint256, series_id: uint256, amount: uint256, receiver: address):
    """
    @notice Write `amount` (WAD) options of a series on the account's collateral
            type, partly collateralised: the account's initial margin must hold
            after. The options go to `receiver`. The owner only.
    """
    account: uint256 = self._account(vault_id)
    self._check_owner(account)
    self._check_amount(amount)
    self._change(vault_id, account, series_id, True, amount, True)
    extcall IOptionsHouse(house).margin_write(series_id, amount, receiver)
    self._require_opening(vault_id, self._accounts[vault_id])


@external
@nonreentrant
def close(vault_id: uint256, series_id: uint256, amount: uint256):
    """
    @notice Burn `amount` (WAD) of the caller's options of a series against the
            account's short in it. The owner only.
    """
    account: uint256 = self._account(vault_id)
    self._check_owner(account)
    self._check_amount(amount)
    self._change(vault_id, account, series_id, True, amount, False)
    extcall IOptionsHouse(house).margin_close(series_id, amount, msg.sender)


@external
@nonreentrant
def deposit_long(vault_id: uint256, series_id: uint256, amount: uint256):
    """
    @notice Move `amount` (WAD) options of a series from the caller into the
            account, where they count toward its margin. The owner only.
    """
    account: uint256 = self._account(vault_id)
    self._check_owner(account)
    self._check_amount(amount)
    self._change(vault_id, account, series_id, False, amount, True)
    token: address = staticcall IOptionsHouse(house).token_of(series_id)
    self._pull(token, amount)


@external
@nonreentrant
def withdraw_long(vault_id: uint256, series_id: uint256, amount: uint256, receiver: address):
    """
    @notice Take `amount` (WAD) options of a series out of the account; its initial
            margin must hold after. The owner only.
    """
    account: uint256 = self._account(vault_id)
    self._check_owner(account)
    self._check_amount(amount)
    self._change(vault_id, account, series_id, False, amount, False)
    token: address = staticcall IOptionsHouse(house).token_of(series_id)
    self._send(token, receiver, amount)
    self._require_opening(vault_id, self._accounts[vault_id])


# ================================================================ expiry
@external
@nonreentrant
def settle_position(vault_id: uint256, series_id: uint256) -> uint256:
    """
    @notice After a series settled, settle an account's position in it (anyone):
            a short pays what it owes out of the vault (a call in collateral, as
            much as the vault holds, a put in debt tokens borrowed against it); a
            long is redeemed, a call's payoff deposited into the vault, a put's
            repaying its debt (the rest to the owner).
    @return What was paid (short) or received (long), WAD.
    """
    account: uint256 = self._account(vault_id)
    collateral_type: uint256 = 0
    is_call: bool = False
    strike: uint256 = 0
    expiry: uint256 = 0
    collateral_type, is_call, strike, expiry = staticcall IOptionsHouse(house).series_terms(series_id)
    price: uint256 = 0
    payoff: uint256 = 0
    price, payoff = staticcall IOptionsHouse(house).settlement(series_id)
    assert price != 0, "margin: series not settled"
    count: uint256 = (account >> 160) & MASK_8
    is_short: bool = False
    amount: uint256 = 0
    found: bool = False
    for i: uint256 in range(MAX_POSITIONS):
        if i >= count:
            break
        packed: uint256 = self._positions[vault_id][i]
        if packed & MASK_31 == series_id:
            is_short = (packed >> 32) & 1 == 1
            amount = (packed >> 33) & MASK_95
            found = True
            break
    assert found, "margin: no such position"
    self._change(vault_id, account, series_id, is_short, amount, False)
    owner: address = convert(convert(account & MASK_160, uint160), address)
    self._settling = True
    paid: uint256 = 0
    shortfall: uint256 = 0
    if is_short:
        # the writer's side of the payoff: rounded up
        owed: uint256 = 0
        if is_call:
            owed = fixed_point.mul_div(amount, fixed_point.mul_div(price - min(price, strike), WAD, price, True), WAD, True)
        else:
            owed = fixed_point.mul_div(amount, payoff, WAD, True)
        if owed != 0:
            paid, shortfall = self._pay_obligation(vault_id, collateral_type, is_call, owed)
        extcall IOptionsHouse(house).margin_settle(series_id, amount, paid)
    else:
        paid = extcall IOptionsHouse(house).redeem(series_id, amount, self)
        if paid != 0:
            self._credit(vault_id, collateral_type, is_call, paid, owner)
    self._settling = False
    log PositionSettled(vault_id=vault_id, series_id=series_id, is_short=is_short, amount=amount, paid=paid, shortfall=shortfall)
    return paid


@internal
def _pay_obligation(vault_id: uint256, collateral_type: uint256, is_call: bool, owed: uint256) -> (uint256, uint256):
    """
    @dev Pay `owed` (WAD) to the house out of the vault: a call in collateral (what
         the vault holds, in whole token units, rounded up so the house gets at
         least its due), a put in debt tokens borrowed against the vault (at least
         the dust). Returns (paid, shortfall), WAD.
    """
    if is_call:
        token: uint256 = 0
        word: uint256 = 0
        token, word, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
        scale: uint256 = token >> 160
        collateral: uint256 = (staticcall IVaultEngine(engine).vault_position(vault_id))[2]
        units: uint256 = min(fixed_point.mul_div(owed, 1, scale, True), collateral // scale)
        if units != 0:
            extcall IVaultEngine(engine).withdraw(vault_id, units, house)
        return units * scale, owed - min(owed, units * scale)
    # a put: borrow what is owed (or the dust, if this is the vault's first debt:
    # the rest goes to its owner)
    normalized_debt: uint256 = (staticcall IVaultEngine(engine).vault_position(vault_id))[3]
    borrow: uint256 = owed
    if normalized_debt == 0:
        word: uint256 = 0
        limits: uint256 = 0
        word, word, limits, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
        borrow = max(owed, (limits >> 96) & (2 ** 80 - 1))
    extcall IVaultEngine(engine).borrow(vault_id, borrow, self)
    self._send(debt_token, house, owed)
    if borrow != owed:
        owner: address = convert(convert(self._accounts[vault_id] & MASK_160, uint160), address)
        self._send(debt_token, owner, borrow - owed)
    return owed, 0


@internal
def _credit(vault_id: uint256, collateral_type: uint256, is_call: bool, amount: uint256, owner: address):
    """
    @dev A long's payoff (WAD) for the account: collateral into the vault, debt
         tokens against its debt, the rest to the owner.
    """
    if is_call:
        token: uint256 = 0
        word: uint256 = 0
        token, word, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
        asset: address = convert(convert(token & MASK_160, uint160), address)
        units: uint256 = amount // (token >> 160)
        extcall IERC20(asset).approve(engine, units, default_return_value=True)
        extcall IVaultEngine(engine).deposit(vault_id, units)
        return
    state: VaultState = self._state(vault_id)
    left: uint256 = amount
    if state.debt != 0:
        if amount >= state.debt:
            extcall IVaultEngine(engine).repay(vault_id, max_value(uint256))
            left = amount - state.debt
        else:
            # never leave a debt below the dust: repay down to it, the rest to the owner
            word: uint256 = 0
            limits: uint256 = 0
            word, word, limits, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
            dust: uint256 = (limits >> 96) & (2 ** 80 - 1)
            repay: uint256 = amount
            if state.debt - amount <= dust:
                # to 1 wei above the dust: the engine's repayment rounds the debt left up to
                # a wei in its favour, which must not dip below the dust
                repay = state.debt - min(dust + 1, state.debt)
            if repay != 0:
                extcall IVaultEngine(engine).repay(vault_id, repay)
            left = amount - repay
    if left != 0:
        self._send(debt_token, owner, left)


# ================================================================ liquidation
@internal
@view
def _progress_bps(account: uint256) -> uint256:
    """
    @dev How far the liquidation ramp has run, bps (10,000 at its end).
    """
    started: uint256 = (account >> 168) & MASK_40
    ramp: uint256 = (self._params >> 144) & MASK_32
    elapsed: uint256 = block.timestamp - started
    if elapsed >= ramp:
        return BPS
    return BPS * elapsed // ramp


@internal
@pure
def _ramp_price(spot: uint256, strike: uint256, is_call: bool, sigma: uint256, seconds: uint256, progress_bps: uint256, max_bonus_bps: uint256, for_short: bool, fair: uint256) -> uint256:
    """
    @dev The Dutch ramp's price per option (WAD), moving in the liquidator's favour:
         taking over a short, the collateral paid per option rises from the intrinsic
         value to the upper bound x (1 + max bonus); buying a long, the price falls
         from the upper bound to its Black-Scholes value `fair` x (1 - max bonus), so
         a long is never sold further below fair value than the bonus. Fair value
         lies between the two bounds, so a liquidator steps in near it, and later
         ones earn more.
    """
    intrinsic: uint256 = 0
    cap: uint256 = spot
    if is_call:
        intrinsic = spot - min(spot, strike)
    else:
        intrinsic = strike - min(strike, spot)
        cap = strike
    upper: uint256 = intrinsic
    if seconds != 0:
        root: uint256 = isqrt(seconds * WAD * WAD // SECONDS_PER_YEAR) + 1
        time_value: uint256 = fixed_point.mul_div(fixed_point.mul_div(fixed_point.mul_div(spot, sigma, WAD, True), root, WAD, True), INV_SQRT_2PI_UP, WAD, True)
        upper = min(intrinsic + time_value, cap)
    if for_short:
        high: uint256 = upper * (BPS + max_bonus_bps) // BPS
        return intrinsic + (high - intrinsic) * progress_bps // BPS
    low: uint256 = min(max(intrinsic, fair) * (BPS - max_bonus_bps) // BPS, upper)
    return upper - (upper - low) * progress_bps // BPS


@external
def start_liquidation(vault_id: uint256):
    """
    @notice Start the liquidation ramp of an account below its maintenance margin
            (anyone). The ramp's price moves in the liquidator's favour over
            `ramp_seconds` (see `liquidate`); a ramp older than twice that restarts.
    """
    account: uint256 = self._account(vault_id)
    assert not self._health_now(vault_id, account).healthy, "margin: account healthy"
    started: uint256 = (account >> 168) & MASK_40
    assert started == 0 or block.timestamp > started + 2 * self._load_params().ramp_seconds, "margin: liquidation running"
    self._accounts[vault_id] = (account & ~(MASK_40 << 168)) | (block.timestamp << 168)
    log LiquidationStarted(vault_id=vault_id, keeper=msg.sender)


@external
@nonreentrant
def liquidate(vault_id: uint256, series_id: uint256, amount: uint256, receiver: address) -> uint256:
    """
    @notice Take over `amount` (WAD) of an under-margined account's position in a
            series (anyone, once its ramp started), at the ramp's price now (see
            `ramp_price`). A short: burn that many of the caller's options and
            receive collateral worth the ramp price each, a price that rises from
            the options' intrinsic value to their upper bound x (1 + max bonus) over
            `ramp_seconds`. A long: pay the ramp price in debt tokens, which repay
            the vault's debt (falling from the upper bound to the intrinsic value x
            (1 - max bonus)), and receive the options. The account must end no
            worse off (value - debt - requirement does not fall); `receiver` gets
            the collateral or the options.
    @return Collateral paid (short) or debt tokens taken (long), WAD.
    """
    self._check_amount(amount)
    account: uint256 = self._account(vault_id)
    state: VaultState = self._state(vault_id)
    sigma: uint256 = self._sigma(state.oracle)
    before: Health = self._health(vault_id, account, state.collateral, state.debt, state.price, state.ratio, sigma)
    assert not before.healthy, "margin: account healthy"
    assert (account >> 168) & MASK_40 != 0, "margin: liquidation not started"
    progress: uint256 = self._progress_bps(account)
    collateral_type: uint256 = 0
    is_call: bool = False
    strike: uint256 = 0
    expiry: uint256 = 0
    collateral_type, is_call, strike, expiry = staticcall IOptionsHouse(house).series_terms(series_id)
    assert block.timestamp < expiry, "margin: series expired: settle it"
    spot: uint256 = state.price
    count: uint256 = (account >> 160) & MASK_8
    is_short: bool = False
    for i: uint256 in range(MAX_POSITIONS):
        if i >= count:
            break
        packed: uint256 = self._positions[vault_id][i]
        if packed & MASK_31 == series_id:
            is_short = (packed >> 32) & 1 == 1
            break
    fair: uint256 = 0
    if not is_short:
        fair = staticcall IOptionPricer(pricer).black_scholes(spot, strike, sigma, expiry - block.timestamp, is_call)
    price: uint256 = self._ramp_price(spot, strike, is_call, sigma, expiry - block.timestamp, progress, (self._params >> 128) & MASK_16, is_short, fair)
    self._change(vault_id, account, series_id, is_short, amount, False)
    self._settling = True
    collateral: uint256 = 0
    repaid: uint256 = 0
    if is_short:
        extcall IOptionsHouse(house).margin_close(series_id, amount, msg.sender)
        # the liquidator's pay in collateral, rounded down: price x amount / spot
        worth: uint256 = fixed_point.mul_div(price, amount, WAD, False)
        scale: uint256 = state.scale
        units: uint256 = min(fixed_point.mul_div(worth, WAD, spot * scale, False), state.collateral // scale)
        collateral = units * scale
        if units != 0:
            extcall IVaultEngine(engine).withdraw(vault_id, units, receiver)
    else:
        # the liquidator pays price x amount, rounded up, toward the vault's debt
        repaid = fixed_point.mul_div(price, amount, WAD, True)
        assert repaid != 0, "margin: long worth nothing"
        assert repaid <= before.debt, "margin: long worth more than the debt"
        self._pull(debt_token, repaid)
        extcall IVaultEngine(engine).repay(vault_id, repaid)
        token: address = staticcall IOptionsHouse(house).token_of(series_id)
        self._send(token, receiver, amount)
    self._settling = False
    # the same block's price, ratio and volatility; the vault lost the collateral paid
    # (a short) or its debt fell by what was repaid (a long; counted 1 wei short of
    # that, as the engine's repayment may round a wei against the payer)
    after_debt: uint256 = state.debt
    if repaid != 0:
        after_debt = state.debt - min(repaid, state.debt) + 1
    after: Health = self._health(vault_id, self._accounts[vault_id], state.collateral - collateral, after_debt, state.price, state.ratio, sigma)
    assert after.value - convert(after.debt + after.maintenance, int256) >= before.value - convert(before.debt + before.maintenance, int256), "margin: liquidation would worsen the account"
    log PositionLiquidated(vault_id=vault_id, series_id=series_id, liquidator=msg.sender, is_short=is_short, amount=amount, price=price, progress_bps=progress, collateral=collateral, repaid=repaid)
    if is_short:
        return collateral
    return repaid


@external
@nonreentrant
def liquidate_debt(vault_id: uint256, amount: uint256, receiver: address) -> uint256:
    """
    @notice Repay `amount` (WAD) of an under-margined account's debt (anyone, once
            its ramp started) and receive its collateral worth the amount x (1 +
            the ramp's bonus: max bonus x how far the ramp has run), rounded down,
            at most all of it. For an account whose options cannot be taken over
            without worsening it (a covered call hedging its collateral under a
            loan), this is the way out; the account must end no worse off.
            An `amount` at or above the debt repays all of it and pulls only the
            debt: pass max_value(uint256) to repay in full whatever fees accrued
            until the transaction is mined (an exact figure read a block earlier
            falls short by those fees and leaves dust the engine refuses).
            `receiver` gets the collateral.
    @return The collateral paid, WAD.
    """
    self._check_amount(amount)
    account: uint256 = self._account(vault_id)
    state: VaultState = self._state(vault_id)
    sigma: uint256 = self._sigma(state.oracle)
    before: Health = self._health(vault_id, account, state.collateral, state.debt, state.price, state.ratio, sigma)
    assert not before.healthy, "margin: account healthy"
    assert (account >> 168) & MASK_40 != 0, "margin: liquidation not started"
    repaid: uint256 = min(amount, state.debt)  # WAD; above the debt: all of it
    assert repaid != 0, "margin: no debt"
    bonus: uint256 = ((self._params >> 128) & MASK_16) * self._progress_bps(account) // BPS
    worth: uint256 = repaid * (BPS + bonus) // BPS
    units: uint256 = min(fixed_point.mul_div(worth, WAD, state.price * state.scale, False), state.collateral // state.scale)
    collateral: uint256 = units * state.scale
    self._pull(debt_token, repaid)
    self._settling = True
    if repaid == state.debt:
        extcall IVaultEngine(engine).repay(vault_id, max_value(uint256))
    else:
        extcall IVaultEngine(engine).repay(vault_id, repaid)
    if units != 0:
        extcall IVaultEngine(engine).withdraw(vault_id, units, receiver)
    self._settling = False
    # the debt after: 1 wei above the exact fall, as the engine's repayment may round a
    # wei against the payer; none when repaid in full
    after_debt: uint256 = 0
    if repaid != state.debt:
        after_debt = state.debt - repaid + 1
    after: Health = self._health(vault_id, account, state.collateral - collateral, after_debt, state.price, state.ratio, sigma)
    assert after.value - convert(after.debt + after.maintenance, int256) >= before.value - convert(before.debt + before.maintenance, int256), "margin: liquidation would worsen the account"
    log DebtLiquidated(vault_id=vault_id, liquidator=msg.sender, repaid=repaid, collateral=collateral, progress_bps=self._progress_bps(account))
    return collateral


# ================================================================ admin
@external
def set_params(params: Params):
    """
    @notice The scenario grid, volatility shocks, extreme moves, initial factor,
            volatility floor and liquidation ramp. ROLE_MARGIN_ADMIN. Bounds:
            step 1..25 % with 1..8 steps and step * steps <= 50 %; volatility up
            1..3x, down 0.1..1x; extreme fall 0..90 %, rise 0..300 %, weight
            0..100 %; initial factor 1..3x (above 1); floor sigma <= 5 WAD; ramp
            60 s .. 1 day; bonus <= 25 %.
    """
    access_control._check_role(ROLE_MARGIN_ADMIN)
    assert params.step_bps >= 100 and params.step_bps <= 2_500, "margin: step out of bounds"
    assert params.steps >= 1 and params.steps <= MAX_STEPS and params.steps * params.step_bps <= 5_000, "margin: steps out of bounds"
    assert params.vol_up_bps >= BPS and params.vol_up_bps <= 3 * BPS, "margin: vol up out of bounds"
    assert params.vol_down_bps >= BPS // 10 and params.vol_down_bps <= BPS, "margin: vol down out of bounds"
    assert params.extreme_down_bps <= 9_000 and params.extreme_up_bps <= 3 * BPS, "margin: extreme move out of bounds"
    assert params.extreme_weight_bps <= BPS, "margin: extreme weight out of bounds"
    assert params.initial_factor_bps > BPS and params.initial_factor_bps <= 3 * BPS, "margin: initial factor out of bounds"
    assert params.floor_sigma <= 5 * WAD, "margin: floor sigma out of bounds"
    assert params.ramp_seconds >= 60 and params.ramp_seconds <= 86_400, "margin: ramp out of bounds"
    assert params.max_bonus_bps <= 2_500, "margin: bonus out of bounds"
    self._params = self._pack_params(params)
    log ParamsSet(
        step_bps=params.step_bps, steps=params.steps, vol_up_bps=params.vol_up_bps, vol_down_bps=params.vol_down_bps,
        extreme_down_bps=params.extreme_down_bps, extreme_up_bps=params.extreme_up_bps,
        extreme_weight_bps=params.extreme_weight_bps, initial_factor_bps=params.initial_factor_bps,
        floor_sigma=params.floor_sigma, ramp_seconds=params.ramp_seconds, max_bonus_bps=params.max_bonus_bps,
    )


# ================================================================ views
@external
@view
def params() -> Params:
    """
    @notice The risk parameters.
    """
    return self._load_params()


@external
@view
def health(vault_id: uint256) -> Health:
    """
    @notice An account's value, debt, maintenance and initial requirements, WAD,
            and whether each holds, at the oracle's price now.
    """
    return self._health_now(vault_id, self._account(vault_id))


@external
@view
def account(vault_id: uint256) -> (address, uint256, uint256):
    """
    @notice (owner, number of positions, liquidation started at) of an account.
    """
    account: uint256 = self._account(vault_id)
    return convert(convert(account & MASK_160, uint160), address), (account >> 160) & MASK_8, (account >> 168) & MASK_40


@external
@view
def positions(vault_id: uint256) -> DynArray[Position, MAX_POSITIONS]:
    """
    @notice An account's positions.
    """
    account: uint256 = self._account(vault_id)
    return self._load(vault_id, (account >> 160) & MASK_8)


@external
@view
def mark(series_id: uint256) -> uint256:
    """
    @notice A series' Black-Scholes value now (WAD per option) at the oracle's price
            and volatility (not below the floor): what a liquidator weighs the ramp's
            price against.
    """
    collateral_type: uint256 = 0
    is_call: bool = False
    strike: uint256 = 0
    expiry: uint256 = 0
    collateral_type, is_call, strike, expiry = staticcall IOptionsHouse(house).series_terms(series_id)
    spot: uint256 = staticcall IVaultEngine(engine).fresh_price(collateral_type)
    word: uint256 = 0
    risk: uint256 = 0
    word, risk, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
    seconds: uint256 = 0
    if expiry > block.timestamp:
        seconds = expiry - block.timestamp
    return staticcall IOptionPricer(pricer).black_scholes(spot, strike, self._sigma(convert(convert(risk & MASK_160, uint160), address)), seconds, is_call)


@external
@view
def ramp_price(vault_id: uint256, series_id: uint256) -> uint256:
    """
    @notice The price (WAD per option) `liquidate` would use now for an account's
            position in a series: the collateral a liquidator gets per option of a
            short, or pays per option of a long. 0 when no ramp runs.
    """
    account: uint256 = self._account(vault_id)
    if (account >> 168) & MASK_40 == 0:
        return 0
    collateral_type: uint256 = 0
    is_call: bool = False
    strike: uint256 = 0
    expiry: uint256 = 0
    collateral_type, is_call, strike, expiry = staticcall IOptionsHouse(house).series_terms(series_id)
    state: VaultState = self._state(vault_id)
    is_short: bool = False
    for i: uint256 in range(MAX_POSITIONS):
        if i >= (account >> 160) & MASK_8:
            break
        packed: uint256 = self._positions[vault_id][i]
        if packed & MASK_31 == series_id:
            is_short = (packed >> 32) & 1 == 1
            break
    seconds: uint256 = 0
    if expiry > block.timestamp:
        seconds = expiry - block.timestamp
    sigma: uint256 = self._sigma(state.oracle)
    fair: uint256 = 0
    if not is_short:
        fair = staticcall IOptionPricer(pricer).black_scholes(state.price, strike, sigma, seconds, is_call)
    return self._ramp_price(state.price, strike, is_call, sigma, seconds, self._progress_bps(account), (self._params >> 128) & MASK_16, is_short, fair)


@external
@view
def requirement(vault_id: uint256, collateral: uint256, debt: uint256) -> Health:
    """
    @notice What-if: the account's health with `collateral` (WAD) and `debt` (WAD)
            instead of the vault's own, at the oracle's price now (front ends,
            max-borrow searches).
    """
    account: uint256 = self._account(vault_id)
    state: VaultState = self._state(vault_id)
    return self._health(vault_id, account, collateral, debt, state.price, state.ratio, self._sigma(state.oracle))

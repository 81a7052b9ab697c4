# pragma version ~=0.4.3
"""
@title DutchAuction
@notice Descending-price auctions of liquidated collateral, one lot per
        liquidation. A lot starts at `oracle price * buf` and its price falls with
        time along its collateral type's curve: linear to zero over `tau` seconds,
        or stepwise exponential (`cut` per `step` seconds). Anyone may `take` any
        part at the current price, up to their `max_price`; with `data` the
        collateral is sent first and the taker pays in a callback (flash take).
        When the lot's target (debt + penalty) is met, the rest of its collateral
        goes back to the vault owner; when the collateral runs out first, the debt
        still owed becomes bad debt. A lot older than `tail` or whose price fell
        below `cusp * top` can be `reset` by anyone, for a small incentive.
@dev Collateral stays in the vault engine; this contract keeps each lot's books
     and moves collateral and debt through the engine (ROLE_AUCTION there).
"""

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
    def auction_release(collateral_type: uint256, receiver: address, amount: uint256): nonpayable
    def auction_payment(payer: address, amount: uint256, debt: uint256): nonpayable
    def auction_take(collateral_type: uint256, receiver: address, amount: uint256, payer: address, owe: uint256, debt: uint256): nonpayable
    def auction_bad_debt(debt: uint256): nonpayable
    def mint_incentive(receiver: address, amount: uint256): nonpayable
    def set_auction_lock(locked: bool): nonpayable
    def fresh_price(collateral_type: uint256) -> uint256: view
    def collateral_type_info(collateral_type: uint256) -> CollateralTypeInfo: view


interface ILiquidator:
    def auction_finished(collateral_type: uint256, target_removed: uint256): nonpayable


interface ITakeCallee:
    def on_auction_take(taker: address, owe: uint256, collateral: uint256, data: Bytes[1024]): nonpayable


struct CollateralTypeInfo:
    token: address
    oracle: address
    token_scale: uint256
    liquidation_ratio: uint256
    volatility_k_bps: uint256
    volatility_cap_bps: uint256
    debt_ceiling: uint256
    dust: uint256
    stability_fee: uint256
    liquidation_penalty: uint256
    rate: uint256
    last_accrual: uint256
    normalized_debt: uint256
    debt: uint256
    collateral_dust: uint256

struct Curve:
    kind: uint256  # CURVE_LINEAR or CURVE_EXPONENTIAL
    buf: uint256  # WAD, start price = oracle price * buf
    tau: uint256  # seconds to zero (linear)
    step: uint256  # seconds per cut (exponential)
    cut: uint256  # RAY, price factor per step (exponential)
    tail: uint256  # seconds after which a lot may be reset
    cusp: uint256  # WAD, a lot may be reset below cusp * top

struct AuctionStatus:
    auction_id: uint256
    active: bool
    needs_reset: bool
    collateral_type: uint256
    owner: address
    price: uint256  # WAD, now
    top: uint256  # WAD
    lot: uint256  # WAD collateral left
    target: uint256  # WAD debt tokens still to raise
    debt: uint256  # RAD of the vault's debt still uncovered
    started_at: uint256  # unix seconds

# ROLE_LIQUIDATOR here: the Liquidator that starts lots
ROLE_KICKER: constant(uint256) = 1
# set curves, incentives, stop levels
ROLE_AUCTION_ADMIN: constant(uint256) = 2
# the GlobalSettlement: stop for good at shutdown, cancel lots
ROLE_SETTLEMENT: constant(uint256) = 4

CURVE_LINEAR: constant(uint256) = 1
CURVE_EXPONENTIAL: constant(uint256) = 2
WAD: constant(uint256) = fixed_point.WAD
RAY: constant(uint256) = fixed_point.RAY
MAX_BATCH: constant(uint256) = 100
MAX_CALLBACK_DATA: constant(uint256) = 1024

# stop levels: 0 none, 1 no new lots, 2 also no resets, 3 also no takes
STOP_NONE: constant(uint256) = 0
STOP_KICKS: constant(uint256) = 1
STOP_RESETS: constant(uint256) = 2
STOP_TAKES: constant(uint256) = 3
# set by shutdown only, for good: nothing but `cancel`
STOP_SHUTDOWN: constant(uint256) = 4

MASK_32: constant(uint256) = 2 ** 32 - 1
MASK_64: constant(uint256) = 2 ** 64 - 1
MASK_96: constant(uint256) = 2 ** 96 - 1
MASK_128: constant(uint256) = 2 ** 128 - 1
MASK_160: constant(uint256) = 2 ** 160 - 1

event AuctionStarted:
    auction_id: indexed(uint256)
    collateral_type: indexed(uint256)
    owner: indexed(address)
    lot: uint256  # WAD collateral
    target: uint256  # WAD debt + penalty
    debt: uint256  # RAD
    top: uint256  # WAD start price

event Take:
    auction_id: indexed(uint256)
    taker: indexed(address)
    receiver: address
    price: uint256  # WAD
    collateral: uint256  # WAD bought
    owe: uint256  # WAD paid
    lot: uint256  # WAD left
    target: uint256  # WAD left

event AuctionReset:
    auction_id: indexed(uint256)
    keeper: indexed(address)
    top: uint256  # WAD new start price
    incentive: uint256  # WAD

event AuctionFinished:
    auction_id: indexed(uint256)
    collateral_returned: uint256  # WAD back to the owner
    bad_debt: uint256  # RAD left uncovered

event CurveSet:
    collateral_type: indexed(uint256)
    kind: uint256
    buf: uint256
    tau: uint256
    step: uint256
    cut: uint256
    tail: uint256
    cusp: uint256

event IncentivesSet:
    flat: uint256  # WAD
    percent: uint256  # WAD share of the target
    cap: uint256  # WAD

event StopLevelSet:
    level: uint256

event AuctionCancelled:
    auction_id: indexed(uint256)
    collateral_type: indexed(uint256)
    lot: uint256  # WAD collateral handed to settlement
    debt: uint256  # RAD of vault debt still uncovered

event LiquidatorSet:
    liquidator: indexed(address)

event AuctionDustUpdated:
    collateral_type: indexed(uint256)
    dust: uint256  # WAD

# the vault engine
engine: public(immutable(address))
# packed: the liquidator told when lots end (bits 0-159) | circuit breaker level,
#         STOP_* (bits 160-167) | number of lots ever started, ids run 1..count (bits 168-255).
# One slot: a take reads the level, a finishing take the liquidator, a kick all three.
_config: uint256
# A lot lives in three slots (a fourth would cost every liquidation another fresh
# 22,100-gas slot); a partial take and a reset touch only the first two:
# lot => packed: collateral WAD (bits 0-127) | target WAD (bits 128-223) | collateral type (bits 224-231)
_lot_amounts: HashMap[uint256, uint256]
# lot => packed: vault debt still uncovered, WAD (bits 0-95; the engine seizes whole WAD
#        of debt) | start price WAD (bits 96-191) | started_at unix s (bits 192-231);
#        0 = not running
_lot_books: HashMap[uint256, uint256]
# lot => packed: vault owner (bits 0-159) | target at the start WAD (bits 160-255)
_lot_owner: HashMap[uint256, uint256]
# type => packed price curve: kind (bits 0-7) | buf WAD (bits 8-71) | tau s (bits 72-103) |
#         step s (bits 104-135) | cut RAY (bits 136-231)
_curve_price: HashMap[uint256, uint256]
# type => packed reset rule and dust: tail s (bits 0-31) | cusp WAD (bits 32-95) |
#         smallest target a partial take may leave, WAD (bits 96-255)
_curve_reset: HashMap[uint256, uint256]
# reset incentive, packed: flat WAD (bits 0-95) | percent of the target WAD (bits 96-159) |
#         cap WAD (bits 160-255)
_incentives: uint256


@deploy
def __init__(engine_address: address, initial_owner: address):
    """
    @param engine_address The VaultEngine (this contract needs its ROLE_AUCTION).
    """
    assert engine_address != empty(address), "auction: zero engine"
    access_control.__init__(initial_owner)
    engine = engine_address


# ================================================================ packed config
@internal
@view
def _stop_level() -> uint256:
    return (self._config >> 160) & 255


@internal
@view
def _liquidator() -> address:
    return convert(convert(self._config & MASK_160, uint160), address)


@internal
def _set_stop_level(level: uint256):
    self._config = (self._config & ~(255 << 160)) | (level << 160)
    log StopLevelSet(level=level)


# ================================================================ price curves
@internal
@view
def _price(collateral_type: uint256, top: uint256, elapsed: uint256) -> uint256:
    """
    @dev The curve's price after `elapsed` seconds, rounded down. Non-increasing.
    """
    packed: uint256 = self._curve_price[collateral_type]
    if packed & 255 == CURVE_LINEAR:
        tau: uint256 = (packed >> 72) & MASK_32
        if elapsed >= tau:
            return 0
        return top * (tau - elapsed) // tau
    steps: uint256 = elapsed // ((packed >> 104) & MASK_32)
    if steps >= 2 ** 63:
        return 0
    return fixed_point.mul_div(top, fixed_point.rpow(packed >> 136, steps, False), RAY, False)


@internal
@view
def _needs_reset(reset_rule: uint256, top: uint256, elapsed: uint256, price: uint256) -> bool:
    # reset_rule: the type's packed _curve_reset slot
    return elapsed > reset_rule & MASK_32 or price * WAD < ((reset_rule >> 32) & MASK_64) * top


# ================================================================ lots
@external
@nonreentrant
def kick(collateral_type: uint256, lot: uint256, target: uint256, debt: uint256, owner: address, price: uint256) -> uint256:
    """
    @notice Start a lot: `lot` WAD collateral to raise `target` WAD debt tokens,
            of which `debt` RAD is the vault's debt, starting at `price * buf`.
            ROLE_KICKER (the Liquidator).
    """
    access_control._check_role(ROLE_KICKER)
    config: uint256 = self._config
    assert (config >> 160) & 255 < STOP_KICKS, "auction: stopped"
    assert lot != 0 and target != 0, "auction: empty lot"
    assert lot <= MASK_128 and target <= MASK_96 and collateral_type <= 255, "auction: lot too large"
    # the engine seizes whole WAD of debt, so the lot keeps it in WAD (debt <= target)
    assert debt % RAY == 0 and debt // RAY <= target, "auction: debt not whole WAD"
    assert owner != empty(address), "auction: zero owner"
    curve: uint256 = self._curve_price[collateral_type]
    assert curve != 0, "auction: no curve for type"
    top: uint256 = fixed_point.mul_div(price, (curve >> 8) & MASK_64, WAD, False)
    assert top != 0, "auction: zero start price"
    assert top <= MASK_96, "auction: start price too large"
    auction_id: uint256 = (config >> 168) + 1
    self._config = (config & (2 ** 168 - 1)) | (auction_id << 168)
    self._lot_amounts[auction_id] = lot | (target << 128) | (collateral_type << 224)
    self._lot_books[auction_id] = (debt // RAY) | (top << 96) | (block.timestamp << 192)
    self._lot_owner[auction_id] = convert(owner, uint256) | (target << 160)
    log AuctionStarted(auction_id=auction_id, collateral_type=collateral_type, owner=owner, lot=lot, target=target, debt=debt, top=top)
    return auction_id


@internal
def _finish(auction_id: uint256, collateral_type: uint256, owner: address, lot: uint256, debt: uint256, initial_target: uint256):
    """
    @dev End a lot whose books are already cleared: leftover collateral back to
         the owner, uncovered debt to bad debt, the caps' room back to the liquidator.
    """
    if lot != 0:
        extcall IVaultEngine(engine).auction_release(collateral_type, owner, lot)
    if debt != 0:
        extcall IVaultEngine(engine).auction_bad_debt(debt)
    # the liquidator counts a lot's initial target against its caps until it ends
    extcall ILiquidator(self._liquidator()).auction_finished(collateral_type, initial_target)
    log AuctionFinished(auction_id=auction_id, collateral_returned=lot, bad_debt=debt)


@external
@nonreentrant
def take(auction_id: uint256, amount: uint256, max_price: uint256, receiver: address, data: Bytes[MAX_CALLBACK_DATA]) -> uint256:
    """
    @notice Buy up to `amount` (WAD) collateral of a lot at the current price, if
            it is at most `max_price` (WAD). The caller pays in debt tokens.
            With non-empty `data`, `receiver` gets the collateral first and its
            `on_auction_take(taker, owe, collateral, data)` runs before payment
            (flash take); every vault action in the engine is refused meanwhile.
    @return The collateral bought, WAD.
    """
    assert self._stop_level() < STOP_TAKES, "auction: stopped"
    assert receiver != empty(address), "auction: zero receiver"
    books: uint256 = self._lot_books[auction_id]
    assert books != 0, "auction: not running"
    top: uint256 = (books >> 96) & MASK_96
    elapsed: uint256 = block.timestamp - (books >> 192)
    amounts: uint256 = self._lot_amounts[auction_id]
    lot: uint256 = amounts & MASK_128
    target: uint256 = (amounts >> 128) & MASK_96
    collateral_type: uint256 = amounts >> 224
    price: uint256 = self._price(collateral_type, top, elapsed)
    reset_rule: uint256 = self._curve_reset[collateral_type]
    assert not self._needs_reset(reset_rule, top, elapsed, price), "auction: needs reset"
    assert price <= max_price, "auction: price above max"
    assert amount != 0, "auction: zero amount"
    auction_dust: uint256 = reset_rule >> 96

    bought: uint256 = min(lot, amount)
    # the taker owes the price of what it buys, rounded up
    owe: uint256 = fixed_point.mul_div(bought, price, WAD, True)
    # when a rule below lowers `owe`, the collateral for it rounds up (by under
    # 1 wei) so that the taker never pays more than `price` per unit
    if owe > target:
        # the target is met: buy only what it takes
        owe = target
        bought = min(lot, fixed_point.mul_div(owe, WAD, price, True))
    elif bought < lot and target - owe < auction_dust:
        # never leave a target too small to sell: shrink the purchase to leave dust
        assert target > auction_dust, "auction: would leave dust"
        owe = target - auction_dust
        bought = fixed_point.mul_div(owe, WAD, price, True)
    assert bought != 0 and owe != 0, "auction: nothing bought"

    lot -= bought
    target -= owe
    debt: uint256 = books & MASK_96
    # debt tokens cover the vault's debt first, the penalty after (WAD)
    covered: uint256 = min(owe, debt)
    debt -= covered

    # effects before interactions: the lot's books first
    finished: bool = target == 0 or lot == 0
    owner_and_target: uint256 = 0
    if finished:
        owner_and_target = self._lot_owner[auction_id]
        self._lot_amounts[auction_id] = 0
        self._lot_books[auction_id] = 0
        self._lot_owner[auction_id] = 0
    else:
        self._lot_amounts[auction_id] = lot | (target << 128) | (collateral_type << 224)
        if covered != 0:
            self._lot_books[auction_id] = books - covered
    if len(data) == 0:
        extcall IVaultEngine(engine).auction_take(collateral_type, receiver, bought, msg.sender, owe, covered * RAY)
    else:
        extcall IVaultEngine(engine).auction_release(collateral_type, receiver, bought)
        extcall IVaultEngine(engine).set_auction_lock(True)
        extcall ITakeCallee(receiver).on_auction_take(msg.sender, owe, bought, data)
        extcall IVaultEngine(engine).set_auction_lock(False)
        extcall IVaultEngine(engine).auction_payment(msg.sender, owe, covered * RAY)
    log Take(auction_id=auction_id, taker=msg.sender, receiver=receiver, price=price, collateral=bought, owe=owe, lot=lot, target=target)
    if finished:
        owner: address = convert(convert(owner_and_target & MASK_160, uint160), address)
        self._finish(auction_id, collateral_type, owner, lot, debt * RAY, owner_and_target >> 160)
    return bought


@external
@nonreentrant
def reset(auction_id: uint256, keeper: address) -> uint256:
    """
    @notice Restart a lot older than `tail`, or whose price fell below
            `cusp * top`, from the current oracle price * buf; `keeper` gets the
            reset incentive (flat + percent of the target, capped). Anyone.
    @return The new start price, WAD.
    """
    assert self._stop_level() < STOP_RESETS, "auction: stopped"
    books: uint256 = self._lot_books[auction_id]
    assert books != 0, "auction: not running"
    top: uint256 = (books >> 96) & MASK_96
    elapsed: uint256 = block.timestamp - (books >> 192)
    amounts: uint256 = self._lot_amounts[auction_id]
    collateral_type: uint256 = amounts >> 224
    assert self._needs_reset(self._curve_reset[collateral_type], top, elapsed, self._price(collateral_type, top, elapsed)), "auction: no reset needed"
    new_top: uint256 = fixed_point.mul_div(staticcall IVaultEngine(engine).fresh_price(collateral_type), (self._curve_price[collateral_type] >> 8) & MASK_64, WAD, False)
    assert new_top != 0, "auction: zero start price"
    assert new_top <= MASK_96, "auction: start price too large"
    self._lot_books[auction_id] = (books & MASK_96) | (new_top << 96) | (block.timestamp << 192)
    target: uint256 = (amounts >> 128) & MASK_96
    incentive: uint256 = 0
    if keeper != empty(address):
        packed: uint256 = self._incentives
        incentive = min((packed & MASK_96) + fixed_point.mul_div(target, (packed >> 96) & MASK_64, WAD, False), packed >> 160)
    log AuctionReset(auction_id=auction_id, keeper=keeper, top=new_top, incentive=incentive)
    if incentive != 0:
        extcall IVaultEngine(engine).mint_incentive(keeper, incentive)
    return new_top


# ================================================================ admin
@external
def set_liquidator(new_liquidator: address):
    """
    @notice The Liquidator told when lots end. ROLE_AUCTION_ADMIN.
    """
    access_control._check_role(ROLE_AUCTION_ADMIN)
    assert new_liquidator != empty(address), "auction: zero liquidator"
    self._config = (self._config & ~MASK_160) | convert(new_liquidator, uint256)
    log LiquidatorSet(liquidator=new_liquidator)


@external
def set_curve(collateral_type: uint256, curve: Curve):
    """
    @notice Set a type's price curve. ROLE_AUCTION_ADMIN. Bounds: buf 1..2 WAD;
            linear tau 60 s .. 7 days; exponential step 1 s .. 1 day with cut in
            [0.5, 1) RAY; tail 60 s .. 7 days; cusp in (0, 1) WAD.
    """
    access_control._check_role(ROLE_AUCTION_ADMIN)
    assert curve.kind == CURVE_LINEAR or curve.kind == CURVE_EXPONENTIAL, "auction: unknown curve"
    assert curve.buf >= WAD and curve.buf <= 2 * WAD, "auction: buf out of bounds"
    if curve.kind == CURVE_LINEAR:
        assert curve.tau >= 60 and curve.tau <= 7 * 86_400, "auction: tau out of bounds"
    else:
        assert curve.step >= 1 and curve.step <= 86_400, "auction: step out of bounds"
        assert curve.cut >= RAY // 2 and curve.cut < RAY, "auction: cut out of bounds"
    assert curve.tail >= 60 and curve.tail <= 7 * 86_400, "auction: tail out of bounds"
    assert curve.cusp > 0 and curve.cusp < WAD, "auction: cusp out of bounds"
    assert curve.tau <= MASK_32 and curve.step <= MASK_32 and curve.cut < RAY, "auction: curve field too large"
    self._curve_price[collateral_type] = curve.kind | (curve.buf << 8) | (curve.tau << 72) | (curve.step << 104) | (curve.cut << 136)
    # keep the dust; replace tail and cusp
    self._curve_reset[collateral_type] = curve.tail | (curve.cusp << 32) | ((self._curve_reset[collateral_type] >> 96) << 96)
    log CurveSet(collateral_type=collateral_type, kind=curve.kind, buf=curve.buf, tau=curve.tau, step=curve.step, cut=curve.cut, tail=curve.tail, cusp=curve.cusp)


@external
def set_incentives(flat: uint256, percent: uint256, cap: uint256):
    """
    @notice Reset incentive: flat (WAD, <= 1,000) + percent of the target (WAD,
            <= 1 %), capped (WAD, <= 10,000). ROLE_AUCTION_ADMIN.
    """
    access_control._check_role(ROLE_AUCTION_ADMIN)
    assert flat <= 1_000 * WAD and percent <= WAD // 100 and cap <= 10_000 * WAD, "auction: incentive out of bounds"
    self._incentives = flat | (percent << 96) | (cap << 160)
    log IncentivesSet(flat=flat, percent=percent, cap=cap)


@external
def set_stop_level(level: uint256):
    """
    @notice Circuit breaker: 0 none, 1 no new lots, 2 also no resets, 3 also no
            takes. ROLE_AUCTION_ADMIN.
    """
    access_control._check_role(ROLE_AUCTION_ADMIN)
    assert level <= STOP_TAKES, "auction: stop level out of bounds"
    assert self._stop_level() != STOP_SHUTDOWN, "auction: shut down"
    self._set_stop_level(level)


@external
def shut_down():
    """
    @notice Stop for good (stop level 4): no new lots, resets or takes; running
            lots wait for `cancel`. ROLE_SETTLEMENT (global settlement).
    """
    access_control._check_role(ROLE_SETTLEMENT)
    self._set_stop_level(STOP_SHUTDOWN)


@external
@nonreentrant
def cancel(auction_id: uint256) -> (uint256, address, uint256, uint256):
    """
    @notice End a running lot after shutdown without a sale, for global
            settlement; the liquidator's caps get its room back. ROLE_SETTLEMENT.
    @return (collateral type, vault owner, collateral WAD left, vault debt RAD
             still uncovered); the penalty part of the target is dropped.
    """
    access_control._check_role(ROLE_SETTLEMENT)
    assert self._stop_level() == STOP_SHUTDOWN, "auction: not shut down"
    books: uint256 = self._lot_books[auction_id]
    assert books != 0, "auction: not running"
    owner_and_target: uint256 = self._lot_owner[auction_id]
    owner: address = convert(convert(owner_and_target & MASK_160, uint160), address)
    amounts: uint256 = self._lot_amounts[auction_id]
    collateral_type: uint256 = amounts >> 224
    lot: uint256 = amounts & MASK_128
    debt: uint256 = (books & MASK_96) * RAY
    initial_target: uint256 = owner_and_target >> 160
    self._lot_amounts[auction_id] = 0
    self._lot_books[auction_id] = 0
    self._lot_owner[auction_id] = 0
    extcall ILiquidator(self._liquidator()).auction_finished(collateral_type, initial_target)
    log AuctionCancelled(auction_id=auction_id, collateral_type=collateral_type, lot=lot, debt=debt)
    return collateral_type, owner, lot, debt


@external
def update_auction_dust(collateral_type: uint256):
    """
    @notice Refresh a type's smallest remaining target (engine dust * penalty) from
            the engine; anyone may call.
    """
    info: CollateralTypeInfo = staticcall IVaultEngine(engine).collateral_type_info(collateral_type)
    dust: uint256 = fixed_point.mul_div(info.dust, info.liquidation_penalty, WAD, True)
    self._curve_reset[collateral_type] = (self._curve_reset[collateral_type] & MASK_96) | (dust << 96)
    log AuctionDustUpdated(collateral_type=collateral_type, dust=dust)


# ================================================================ views
@internal
@view
def _status(auction_id: uint256) -> AuctionStatus:
    books: uint256 = self._lot_books[auction_id]
    if books == 0:
        return empty(AuctionStatus)
    top: uint256 = (books >> 96) & MASK_96
    elapsed: uint256 = block.timestamp - (books >> 192)
    amounts: uint256 = self._lot_amounts[auction_id]
    collateral_type: uint256 = amounts >> 224
    price: uint256 = self._price(collateral_type, top, elapsed)
    return AuctionStatus(
        auction_id=auction_id,
        active=True,
        needs_reset=self._needs_reset(self._curve_reset[collateral_type], top, elapsed, price),
        collateral_type=collateral_type,
        owner=convert(convert(self._lot_owner[auction_id] & MASK_160, uint160), address),
        price=price,
        top=top,
        lot=amounts & MASK_128,
        target=(amounts >> 128) & MASK_96,
        debt=(books & MASK_96) * RAY,
        started_at=books >> 192,
    )


@external
@view
def status(auction_id: uint256) -> AuctionStatus:
    """
    @notice A lot's state now: active, needs_reset, price, lot, target, debt.
            An ended or unknown id returns active = False.
    """
    result: AuctionStatus = self._status(auction_id)
    result.auction_id = auction_id
    return result


@external
@view
def statuses(auction_ids: DynArray[uint256, MAX_BATCH]) -> DynArray[AuctionStatus, MAX_BATCH]:
    """
    @notice `status` for up to 100 lots (keepers).
    """
    result: DynArray[AuctionStatus, MAX_BATCH] = []
    for auction_id: uint256 in auction_ids:
        entry: AuctionStatus = self._status(auction_id)
        entry.auction_id = auction_id
        result.append(entry)
    return result


@external
@view
def curves(collateral_type: uint256) -> Curve:
    """
    @notice A type's price curve and reset rule, as `set_curve` took them.
    """
    packed: uint256 = self._curve_price[collateral_type]
    reset_rule: uint256 = self._curve_reset[collateral_type]
    return Curve(
        kind=packed & 255,
        buf=(packed >> 8) & MASK_64,
        tau=(packed >> 72) & MASK_32,
        step=(packed >> 104) & MASK_32,
        cut=packed >> 136,
        tail=reset_rule & MASK_32,
        cusp=(reset_rule >> 32) & MASK_64,
    )


@external
@view
def liquidator() -> address:
    """
    @notice The Liquidator told when lots end (its caps get their room back).
    """
    return self._liquidator()


@external
@view
def stop_level() -> uint256:
    """
    @notice Circuit breaker: 0 none, 1 no new lots, 2 also no resets, 3 also no
            takes, 4 shut down for good (global settlement).
    """
    return self._stop_level()


@external
@view
def auction_count() -> uint256:
    """
    @notice Number of lots ever started; ids run 1..auction_count.
    """
    return self._config >> 168


@external
@view
def incentive_flat() -> uint256:
    """
    @notice Reset incentive, flat part, WAD.
    """
    return self._incentives & MASK_96


@external
@view
def incentive_percent() -> uint256:
    """
    @notice Reset incentive, share of the lot's target, WAD.
    """
    return (self._incentives >> 96) & MASK_64


@external
@view
def incentive_cap() -> uint256:
    """
    @notice Reset incentive cap, WAD.
    """
    return self._incentives >> 160


@external
@view
def auction_dust(collateral_type: uint256) -> uint256:
    """
    @notice The smallest target (WAD) a partial take may leave for a type's lots:
            the engine's dust times the penalty, as of `update_auction_dust`.
    """
    return self._curve_reset[collateral_type] >> 96


@external
@view
def price_at(collateral_type: uint256, top: uint256, elapsed: uint256) -> uint256:
    """
    @notice The type's curve: price (WAD) `elapsed` seconds after starting at `top`.
    """
    return self._price(collateral_type, top, elapsed)

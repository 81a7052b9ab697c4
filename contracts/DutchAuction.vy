# pragma version ~=0.4.3
"""
@title DutchAuction
@notice Descending-price auctions of liquidated collateral, one lot per
        liquidated vault. A lot starts at `oracle price * buf` and its price falls
        with time along its collateral type's curve: linear to zero over `tau`
        seconds, or stepwise exponential (`cut` per `step` seconds). Anyone may
        `take` any part at the current price, up to their `max_price`; with `data`
        the collateral is sent first and the taker pays in a callback (flash take).
        When the lot's target (debt + penalty) is met, the rest of its collateral
        goes back into the liquidated vault; when the collateral runs out first,
        the debt still owed becomes bad debt. A lot older than `tail` or whose
        price fell below `cusp * top` can be `reset` by anyone, for a small
        incentive.
@dev Collateral stays in the vault engine; this contract keeps each lot's books
     and moves collateral and debt through the engine (ROLE_AUCTION there). The
     engine keeps each type's totals in auction, which the Liquidator's caps read.
     Storage is packed so that a partial take reads three slots and writes one.
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
    def auction_take(collateral_type: uint256, receiver: address, amount: uint256, payer: address, owe: uint256, covered: uint256, vault_id: uint256, returned: uint256, bad_debt: uint256): nonpayable
    def auction_release(collateral_type: uint256, receiver: address, amount: uint256): nonpayable
    def auction_payment(collateral_type: uint256, payer: address, owe: uint256, covered: uint256, vault_id: uint256, returned: uint256, bad_debt: uint256): nonpayable
    def mint_incentive(receiver: address, amount: uint256): nonpayable
    def set_auction_lock(locked: bool): nonpayable
    def fresh_price(collateral_type: uint256) -> uint256: view
    def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256): view


interface ITakeCallee:
    def on_auction_take(taker: address, owe: uint256, collateral: uint256, data: Bytes[1024]): nonpayable


struct Curve:
    kind: uint256  # CURVE_LINEAR or CURVE_EXPONENTIAL
    buf: uint256  # WAD, whole bps: start price = oracle price * buf
    tau: uint256  # seconds to zero (linear; 0 for exponential)
    step: uint256  # seconds per cut (exponential; 0 for linear)
    cut: uint256  # RAY, price factor per step (exponential; 0 for linear)
    tail: uint256  # seconds after which a lot may be reset
    cusp: uint256  # WAD, whole bps: a lot may be reset below cusp * top

struct AuctionStatus:
    auction_id: uint256
    active: bool
    needs_reset: bool
    collateral_type: uint256
    vault_id: uint256  # the liquidated vault; leftover collateral goes back into it
    price: uint256  # WAD, now
    top: uint256  # WAD
    lot: uint256  # WAD collateral left
    target: uint256  # WAD debt tokens still to raise
    debt: uint256  # WAD of the vault's debt still uncovered (the rest of the target is penalty)
    started_at: uint256  # unix seconds

# the Liquidator that starts lots
ROLE_KICKER: constant(uint256) = 1
# set curves, incentives, stop levels
ROLE_AUCTION_ADMIN: constant(uint256) = 2
# the GlobalSettlement: stop for good at shutdown, cancel lots
ROLE_SETTLEMENT: constant(uint256) = 4

CURVE_LINEAR: constant(uint256) = 1
CURVE_EXPONENTIAL: constant(uint256) = 2
WAD: constant(uint256) = fixed_point.WAD
RAY: constant(uint256) = fixed_point.RAY
BPS: constant(uint256) = 10_000
WAD_PER_BPS: constant(uint256) = 10 ** 14
MAX_BATCH: constant(uint256) = 100
MAX_CALLBACK_DATA: constant(uint256) = 1024
# collateral type ids live in 8 bits of a lot
MAX_COLLATERAL_TYPE: constant(uint256) = 255

# stop levels: 0 none, 1 no new lots, 2 also no resets, 3 also no takes
STOP_NONE: constant(uint256) = 0
STOP_KICKS: constant(uint256) = 1
STOP_RESETS: constant(uint256) = 2
STOP_TAKES: constant(uint256) = 3
# set by shutdown only, for good: nothing but `cancel`
STOP_SHUTDOWN: constant(uint256) = 4

MASK_3: constant(uint256) = 7
MASK_8: constant(uint256) = 255
MASK_14: constant(uint256) = 2 ** 14 - 1
MASK_16: constant(uint256) = 2 ** 16 - 1
MASK_20: constant(uint256) = 2 ** 20 - 1
MASK_40: constant(uint256) = 2 ** 40 - 1
MASK_64: constant(uint256) = 2 ** 64 - 1
MASK_90: constant(uint256) = 2 ** 90 - 1
MASK_96: constant(uint256) = 2 ** 96 - 1
MASK_112: constant(uint256) = 2 ** 112 - 1
MAX_DUST: constant(uint256) = 2 ** 91 - 1

event AuctionStarted:
    auction_id: indexed(uint256)
    collateral_type: indexed(uint256)
    vault_id: indexed(uint256)
    lot: uint256  # WAD collateral
    target: uint256  # WAD debt + penalty
    debt: uint256  # WAD of vault debt in the target
    top: uint256  # WAD start price

event Take:
    auction_id: indexed(uint256)
    taker: indexed(address)
    receiver: address
    price: uint256  # WAD
    collateral: uint256  # WAD bought
    owe: uint256  # WAD paid (vault debt first, then penalty)
    lot: uint256  # WAD left
    target: uint256  # WAD left

event AuctionReset:
    auction_id: indexed(uint256)
    keeper: indexed(address)
    top: uint256  # WAD new start price
    incentive: uint256  # WAD

event AuctionFinished:
    auction_id: indexed(uint256)
    collateral_returned: uint256  # WAD back into the vault
    bad_debt: uint256  # WAD of vault debt left uncovered

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
    debt: uint256  # WAD of vault debt still uncovered

event AuctionDustUpdated:
    collateral_type: indexed(uint256)
    dust: uint256  # WAD

# the vault engine
engine: public(immutable(address))
# packed: number of lots ever started, ids run 1..count (bits 0-63) | circuit
#         breaker level, STOP_* (bits 64-71) | highest type id with a curve (bits 72-79)
_config: uint256
# type => packed, everything a take needs of its type in one slot:
#         curve kind (bits 0-1) | stop level, a copy of the global one (bits 2-4) |
#         buf bps (bits 5-20) | tau (linear) or step (exponential) s (bits 21-40) |
#         tail s (bits 41-60) | cusp bps (bits 61-74) | cut RAY (bits 75-164) |
#         smallest target a partial take may leave WAD (bits 165-255)
_type_config: HashMap[uint256, uint256]
# A lot lives in two slots (each fresh slot costs a liquidation 22,100 gas):
# lot => packed, written by takes: collateral WAD (bits 0-111) | target WAD
#        (bits 112-207) | collateral type (bits 208-215) | vault id (bits 216-255)
_lots: HashMap[uint256, uint256]
# lot => packed, written at start and reset: penalty part of the starting target
#        WAD (bits 0-95) | start price WAD (bits 96-191) | started_at unix s
#        (bits 192-231); 0 = not running. The vault debt still uncovered is
#        max(0, target - penalty part): takes pay the debt first.
_lot_books: HashMap[uint256, uint256]
# reset incentive, packed: flat WAD (bits 0-95) | percent of the target WAD (bits 96-159) |
#         cap WAD (bits 160-255)
_incentives: uint256


@deploy
def __init__(engine_address: address, initial_owner: address):
    """
    @param engine_address The VaultEngine (this contract needs its ROLE_AUCTION).
    @param initial_owner Owner who grants the roles.
    """
    assert engine_address != empty(address), "auction: zero engine"
    access_control.__init__(initial_owner)
    engine = engine_address


# ================================================================ price curves
@internal
@view
def _price(config: uint256, top: uint256, elapsed: uint256) -> uint256:
    """
    @dev The curve's price after `elapsed` seconds, rounded down. Non-increasing.
         `config`: the type's packed _type_config slot.
    """
    period: uint256 = (config >> 21) & MASK_20
    if config & 3 == CURVE_LINEAR:
        if elapsed >= period:
            return 0
        return top * (period - elapsed) // period
    steps: uint256 = elapsed // period
    if steps >= 2 ** 63:
        return 0
    return fixed_point.mul_div(top, fixed_point.rpow((config >> 75) & MASK_90, steps, False), RAY, False)


@internal
@pure
def _needs_reset(config: uint256, top: uint256, elapsed: uint256, price: uint256) -> bool:
    return elapsed > (config >> 41) & MASK_20 or price * BPS < ((config >> 61) & MASK_14) * top


@internal
@pure
def _start_price(config: uint256, price: uint256) -> uint256:
    top: uint256 = price * ((config >> 5) & MASK_16) // BPS
    assert top != 0, "auction: zero start price"
    assert top <= MASK_96, "auction: start price too large"
    return top


@internal
@pure
def _stop(config: uint256) -> uint256:
    return (config >> 2) & MASK_3


@internal
@pure
def _uncovered(target: uint256, penalty: uint256) -> uint256:
    """
    @dev Vault debt still uncovered, WAD: takes pay the debt first, the penalty last.
    """
    if target > penalty:
        return target - penalty
    return 0


# ================================================================ lots
@external
@nonreentrant
def kick(collateral_type: uint256, vault_id: uint256, lot: uint256, debt: uint256, target: uint256, price: uint256) -> uint256:
    """
    @notice Start a lot: `lot` WAD collateral of vault `vault_id` to raise
            `target` WAD debt tokens, of which `debt` WAD is the vault's debt,
            starting at `price * buf`. ROLE_KICKER (the Liquidator).
    @return The new lot's id.
    """
    access_control._check_role(ROLE_KICKER)
    config: uint256 = self._type_config[collateral_type]
    assert config & 3 != 0, "auction: no curve for type"
    assert self._stop(config) < STOP_KICKS, "auction: stopped"
    assert lot != 0 and target != 0, "auction: empty lot"
    assert lot <= MASK_112 and target <= MASK_96, "auction: lot too large"
    assert debt <= target, "auction: debt above target"
    assert vault_id != 0 and vault_id <= MASK_40, "auction: bad vault id"
    top: uint256 = self._start_price(config, price)
    counter: uint256 = self._config
    auction_id: uint256 = (counter & MASK_64) + 1
    self._config = counter + 1
    self._lots[auction_id] = lot | (target << 112) | (collateral_type << 208) | (vault_id << 216)
    self._lot_books[auction_id] = (target - debt) | (top << 96) | (block.timestamp << 192)
    log AuctionStarted(auction_id=auction_id, collateral_type=collateral_type, vault_id=vault_id, lot=lot, target=target, debt=debt, top=top)
    return auction_id


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
    assert receiver != empty(address), "auction: zero receiver"
    books: uint256 = self._lot_books[auction_id]
    assert books != 0, "auction: not running"
    packed: uint256 = self._lots[auction_id]
    collateral_type: uint256 = (packed >> 208) & MASK_8
    config: uint256 = self._type_config[collateral_type]
    assert self._stop(config) < STOP_TAKES, "auction: stopped"
    top: uint256 = (books >> 96) & MASK_96
    elapsed: uint256 = block.timestamp - (books >> 192)
    price: uint256 = self._price(config, top, elapsed)
    assert not self._needs_reset(config, top, elapsed, price), "auction: needs reset"
    assert price <= max_price, "auction: price above max"
    assert amount != 0, "auction: zero amount"
    lot: uint256 = packed & MASK_112
    target: uint256 = (packed >> 112) & MASK_96
    auction_dust: uint256 = config >> 165

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

    penalty: uint256 = books & MASK_96
    uncovered: uint256 = self._uncovered(target, penalty)
    lot -= bought
    target -= owe
    # debt tokens cover the vault's debt first, the penalty after (WAD)
    covered: uint256 = uncovered - self._uncovered(target, penalty)
    vault_id: uint256 = packed >> 216

    # effects before interactions: the lot's books first
    returned: uint256 = 0
    bad_debt: uint256 = 0
    finished: bool = target == 0 or lot == 0
    if finished:
        # the target met: the rest of the collateral goes back into the vault;
        # the collateral gone first: the vault debt still uncovered is bad debt
        returned = lot
        bad_debt = uncovered - covered
        self._lots[auction_id] = 0
        self._lot_books[auction_id] = 0
    else:
        self._lots[auction_id] = lot | (target << 112) | ((packed >> 208) << 208)
    log Take(auction_id=auction_id, taker=msg.sender, receiver=receiver, price=price, collateral=bought, owe=owe, lot=lot, target=target)
    if finished:
        log AuctionFinished(auction_id=auction_id, collateral_returned=returned, bad_debt=bad_debt)
    if len(data) == 0:
        extcall IVaultEngine(engine).auction_take(collateral_type, receiver, bought, msg.sender, owe, covered, vault_id, returned, bad_debt)
    else:
        extcall IVaultEngine(engine).auction_release(collateral_type, receiver, bought)
        extcall IVaultEngine(engine).set_auction_lock(True)
        extcall ITakeCallee(receiver).on_auction_take(msg.sender, owe, bought, data)
        extcall IVaultEngine(engine).set_auction_lock(False)
        extcall IVaultEngine(engine).auction_payment(collateral_type, msg.sender, owe, covered, vault_id, returned, bad_debt)
    return bought


@external
@nonreentrant
def reset(auction_id: uint256, keeper: address) -> uint256:
    """
    @notice Restart a lot older than `tail`, or whose price fell below
            `cusp * top`, from the current oracle price * buf; `keeper` gets the
            reset incentive (flat + percent of the target, capped), unless the
            lot is too small to sell: its target or its collateral's value at
            the oracle price below the auction dust. Anyone.
    @return The new start price, WAD.
    """
    books: uint256 = self._lot_books[auction_id]
    assert books != 0, "auction: not running"
    packed: uint256 = self._lots[auction_id]
    collateral_type: uint256 = (packed >> 208) & MASK_8
    config: uint256 = self._type_config[collateral_type]
    assert self._stop(config) < STOP_RESETS, "auction: stopped"
    top: uint256 = (books >> 96) & MASK_96
    elapsed: uint256 = block.timestamp - (books >> 192)
    assert self._needs_reset(config, top, elapsed, self._price(config, top, elapsed)), "auction: no reset needed"
    price: uint256 = staticcall IVaultEngine(engine).fresh_price(collateral_type)
    new_top: uint256 = self._start_price(config, price)
    self._lot_books[auction_id] = (books & MASK_96) | (new_top << 96) | (block.timestamp << 192)
    incentive: uint256 = 0
    target: uint256 = (packed >> 112) & MASK_96
    auction_dust: uint256 = config >> 165
    # no incentive for a lot too small to sell (its target, or its collateral at
    # the oracle price, below the auction dust): else an unsellable lot could be
    # reset for the flat incentive again and again
    if keeper != empty(address) and target >= auction_dust and fixed_point.mul_div(packed & MASK_112, price, WAD, False) >= auction_dust:
        incentives: uint256 = self._incentives
        incentive = min((incentives & MASK_96) + fixed_point.mul_div(target, (incentives >> 96) & MASK_64, WAD, False), incentives >> 160)
    log AuctionReset(auction_id=auction_id, keeper=keeper, top=new_top, incentive=incentive)
    if incentive != 0:
        extcall IVaultEngine(engine).mint_incentive(keeper, incentive)
    return new_top


# ================================================================ admin
@internal
def _set_stop_level(level: uint256):
    """
    @dev The global level, and its copy in every type's slot (takes read only that).
    """
    config: uint256 = self._config
    self._config = (config & ~(MASK_8 << 64)) | (level << 64)
    highest: uint256 = (config >> 72) & MASK_8
    for collateral_type: uint256 in range(1, MAX_COLLATERAL_TYPE + 1):
        if collateral_type > highest:
            break
        type_config: uint256 = self._type_config[collateral_type]
        if type_config != 0:
            self._type_config[collateral_type] = (type_config & ~(MASK_3 << 2)) | (level << 2)
    log StopLevelSet(level=level)


@internal
@view
def _global_stop_level() -> uint256:
    return (self._config >> 64) & MASK_8


@external
def set_curve(collateral_type: uint256, curve: Curve):
    """
    @notice Set a type's price curve. ROLE_AUCTION_ADMIN. Bounds: buf 1..2 WAD
            in whole bps; linear tau 60 s .. 7 days; exponential step 1 s .. 1
            day with cut in [0.5, 1) RAY; tail 60 s .. 7 days; cusp in (0, 1)
            WAD in whole bps; the fields a kind does not use must be 0.
    """
    access_control._check_role(ROLE_AUCTION_ADMIN)
    assert collateral_type != 0 and collateral_type <= MAX_COLLATERAL_TYPE, "auction: bad collateral type"
    assert curve.buf >= WAD and curve.buf <= 2 * WAD and curve.buf % WAD_PER_BPS == 0, "auction: buf out of bounds"
    period: uint256 = 0
    cut: uint256 = 0
    if curve.kind == CURVE_LINEAR:
        assert curve.tau >= 60 and curve.tau <= 7 * 86_400, "auction: tau out of bounds"
        assert curve.step == 0 and curve.cut == 0, "auction: unused curve field"
        period = curve.tau
    else:
        assert curve.kind == CURVE_EXPONENTIAL, "auction: unknown curve"
        assert curve.step >= 1 and curve.step <= 86_400, "auction: step out of bounds"
        assert curve.cut >= RAY // 2 and curve.cut < RAY, "auction: cut out of bounds"
        assert curve.tau == 0, "auction: unused curve field"
        period = curve.step
        cut = curve.cut
    assert curve.tail >= 60 and curve.tail <= 7 * 86_400, "auction: tail out of bounds"
    assert curve.cusp > 0 and curve.cusp < WAD and curve.cusp % WAD_PER_BPS == 0, "auction: cusp out of bounds"
    # keep the dust; the stop level is the global one
    config: uint256 = self._config
    dust: uint256 = self._type_config[collateral_type] >> 165
    self._type_config[collateral_type] = (
        curve.kind
        | (((config >> 64) & MASK_8) << 2)
        | ((curve.buf // WAD_PER_BPS) << 5)
        | (period << 21)
        | (curve.tail << 41)
        | ((curve.cusp // WAD_PER_BPS) << 61)
        | (cut << 75)
        | (dust << 165)
    )
    if collateral_type > (config >> 72) & MASK_8:
        self._config = (config & ~(MASK_8 << 72)) | (collateral_type << 72)
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
    assert self._global_stop_level() != STOP_SHUTDOWN, "auction: shut down"
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
def cancel(auction_id: uint256) -> (uint256, uint256, uint256, uint256):
    """
    @notice End a running lot after shutdown without a sale, for global
            settlement. ROLE_SETTLEMENT.
    @return (collateral type, vault id, collateral WAD left, vault debt WAD
             still uncovered); the penalty part of the target is dropped.
    """
    access_control._check_role(ROLE_SETTLEMENT)
    assert self._global_stop_level() == STOP_SHUTDOWN, "auction: not shut down"
    books: uint256 = self._lot_books[auction_id]
    assert books != 0, "auction: not running"
    packed: uint256 = self._lots[auction_id]
    collateral_type: uint256 = (packed >> 208) & MASK_8
    lot: uint256 = packed & MASK_112
    debt: uint256 = self._uncovered((packed >> 112) & MASK_96, books & MASK_96)
    self._lots[auction_id] = 0
    self._lot_books[auction_id] = 0
    log AuctionCancelled(auction_id=auction_id, collateral_type=collateral_type, lot=lot, debt=debt)
    return collateral_type, packed >> 216, lot, debt


@external
def update_auction_dust(collateral_type: uint256):
    """
    @notice Refresh a type's smallest remaining target (engine dust * penalty,
            rounded up) from the engine; anyone may call.
    """
    limits: uint256 = 0
    penalty: uint256 = 0
    word: uint256 = 0
    word, word, limits, word, penalty, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
    # limits: dust WAD in bits 96-175; penalty: the factor WAD in bits 0-63
    dust: uint256 = fixed_point.mul_div((limits >> 96) & (2 ** 80 - 1), penalty & MASK_64, WAD, True)
    assert dust <= MAX_DUST, "auction: dust too large"
    config: uint256 = self._type_config[collateral_type]
    self._type_config[collateral_type] = (config & (2 ** 165 - 1)) | (dust << 165)
    log AuctionDustUpdated(collateral_type=collateral_type, dust=dust)


# ================================================================ views
@internal
@view
def _status(auction_id: uint256) -> AuctionStatus:
    books: uint256 = self._lot_books[auction_id]
    if books == 0:
        return empty(AuctionStatus)
    packed: uint256 = self._lots[auction_id]
    collateral_type: uint256 = (packed >> 208) & MASK_8
    config: uint256 = self._type_config[collateral_type]
    top: uint256 = (books >> 96) & MASK_96
    elapsed: uint256 = block.timestamp - (books >> 192)
    price: uint256 = self._price(config, top, elapsed)
    target: uint256 = (packed >> 112) & MASK_96
    return AuctionStatus(
        auction_id=auction_id,
        active=True,
        needs_reset=self._needs_reset(config, top, elapsed, price),
        collateral_type=collateral_type,
        vault_id=packed >> 216,
        price=price,
        top=top,
        lot=packed & MASK_112,
        target=target,
        debt=self._uncovered(target, books & MASK_96),
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
    config: uint256 = self._type_config[collateral_type]
    kind: uint256 = config & 3
    period: uint256 = (config >> 21) & MASK_20
    result: Curve = Curve(
        kind=kind,
        buf=((config >> 5) & MASK_16) * WAD_PER_BPS,
        tau=0,
        step=0,
        cut=(config >> 75) & MASK_90,
        tail=(config >> 41) & MASK_20,
        cusp=((config >> 61) & MASK_14) * WAD_PER_BPS,
    )
    if kind == CURVE_LINEAR:
        result.tau = period
    elif kind == CURVE_EXPONENTIAL:
        result.step = period
    return result


@external
@view
def stop_level() -> uint256:
    """
    @notice Circuit breaker: 0 none, 1 no new lots, 2 also no resets, 3 also no
            takes, 4 shut down for good (global settlement).
    """
    return self._global_stop_level()


@external
@view
def auction_count() -> uint256:
    """
    @notice Number of lots ever started; ids run 1..auction_count.
    """
    return self._config & MASK_64


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
    return self._type_config[collateral_type] >> 165


@external
@view
def price_at(collateral_type: uint256, top: uint256, elapsed: uint256) -> uint256:
    """
    @notice The type's curve: price (WAD) `elapsed` seconds after starting at `top`.
    """
    return self._price(self._type_config[collateral_type], top, elapsed)

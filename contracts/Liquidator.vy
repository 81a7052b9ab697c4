# pragma version ~=0.4.3
"""
@title Liquidator
@notice Who may be liquidated, how much at once, and what the keeper earns.
        Anyone may `liquidate` a vault that is unsafe at a fresh (delayed) oracle
        price: the engine seizes its collateral and debt, a DutchAuction lot starts
        with a target of debt * penalty, and the caller is paid a keeper reward
        (flat + percent of the target, capped, per collateral type).
        Caps on the targets in auction, per type and overall, bound how much
        collateral is for sale at once; when only part of a vault fits, only part
        is liquidated (never leaving less than dust).
        `liquidate_many` clears up to 50 vaults in one transaction, skipping any
        that is not liquidatable, so one vault cannot revert the batch.
@dev Needs ROLE_LIQUIDATOR on the engine and ROLE_KICKER on the auction. A lot's
     initial target stays counted against the caps until the lot ends.
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
    def seize(vault_id: uint256, max_target: uint256) -> (address, uint256, uint256, uint256, uint256, uint256): nonpayable
    def vault_position(vault_id: uint256) -> (address, uint256, uint256, uint256): view
    def mint_incentive(receiver: address, amount: uint256): nonpayable


interface IDutchAuction:
    def kick(collateral_type: uint256, lot: uint256, target: uint256, debt: uint256, owner: address, price: uint256) -> uint256: nonpayable


# caps, rewards, stop
ROLE_LIQUIDATION_ADMIN: constant(uint256) = 1

WAD: constant(uint256) = fixed_point.WAD
MAX_BATCH: constant(uint256) = 50  # vaults per liquidate_many
MAX_UINT128: constant(uint256) = 2 ** 128 - 1
# caps on target in auction: at most 2**96 - 1 WAD (~7.9e10 kUSD), so that every lot's
# target fits the auction's 96-bit field
MAX_LIMIT: constant(uint256) = 2 ** 96 - 1
MAX_REWARD_FLAT: constant(uint256) = 1_000 * WAD
MAX_REWARD_PERCENT: constant(uint256) = WAD // 20  # 5 % of the target
MAX_REWARD_CAP: constant(uint256) = 100_000 * WAD
MASK_96: constant(uint256) = 2 ** 96 - 1
MASK_64: constant(uint256) = 2 ** 64 - 1
MASK_128: constant(uint256) = 2 ** 128 - 1

event Liquidated:
    vault_id: indexed(uint256)
    auction_id: indexed(uint256)
    keeper: indexed(address)
    collateral_type: uint256
    collateral: uint256  # WAD seized
    debt: uint256  # RAD seized
    target: uint256  # WAD debt + penalty to raise
    reward: uint256  # WAD paid to the keeper

event Skipped:
    vault_id: indexed(uint256)

event AuctionRoomReleased:
    collateral_type: indexed(uint256)
    amount: uint256  # WAD of target no longer counted

event LimitsSet:
    collateral_type: indexed(uint256)  # 0 for the global limit
    limit: uint256  # WAD of target in auction

event RewardSet:
    collateral_type: indexed(uint256)
    flat: uint256  # WAD
    percent: uint256  # WAD
    cap: uint256  # WAD

event StoppedSet:
    stopped: bool

# the vault engine and the auction
engine: public(immutable(address))
auction: public(immutable(address))
# type => packed: limit WAD (bits 0-127) | target in auction WAD (bits 128-255)
_type_room: HashMap[uint256, uint256]
# packed: global limit WAD (bits 0-127) | target in auction WAD (bits 128-255)
_global_room: uint256
# type => packed: flat WAD (0-95) | percent WAD (96-159) | cap WAD (160-255)
_reward: HashMap[uint256, uint256]
# no new liquidations while set
stopped: public(bool)


@deploy
def __init__(engine_address: address, auction_address: address, initial_owner: address):
    """
    @param engine_address The VaultEngine.
    @param auction_address The DutchAuction that sells seized collateral.
    """
    assert engine_address != empty(address) and auction_address != empty(address), "liquidator: zero address"
    access_control.__init__(initial_owner)
    engine = engine_address
    auction = auction_address


@internal
def _liquidate(vault_id: uint256, keeper: address) -> uint256:
    assert not self.stopped, "liquidator: stopped"
    owner: address = empty(address)
    collateral_type: uint256 = 0
    collateral: uint256 = 0
    normalized_debt: uint256 = 0
    owner, collateral_type, collateral, normalized_debt = staticcall IVaultEngine(engine).vault_position(vault_id)
    # room under both caps for new target (debt + penalty)
    type_room: uint256 = self._type_room[collateral_type]
    type_used: uint256 = type_room >> 128
    global_room: uint256 = self._global_room
    global_used: uint256 = global_room >> 128
    assert type_room & MASK_128 > type_used, "liquidator: type auction limit reached"
    assert global_room & MASK_128 > global_used, "liquidator: global auction limit reached"
    room: uint256 = min((type_room & MASK_128) - type_used, (global_room & MASK_128) - global_used)
    debt: uint256 = 0
    price: uint256 = 0
    target: uint256 = 0
    owner, collateral_type, collateral, debt, price, target = extcall IVaultEngine(engine).seize(vault_id, room)
    # the engine sizes the seizure so that target <= room
    self._type_room[collateral_type] = (type_room & MASK_128) | ((type_used + target) << 128)
    self._global_room = (global_room & MASK_128) | ((global_used + target) << 128)
    auction_id: uint256 = extcall IDutchAuction(auction).kick(collateral_type, collateral, target, debt, owner, price)
    reward_config: uint256 = self._reward[collateral_type]
    reward: uint256 = min(
        (reward_config & MASK_96) + fixed_point.mul_div(target, (reward_config >> 96) & MASK_64, WAD, False),
        reward_config >> 160,
    )
    if reward != 0:
        extcall IVaultEngine(engine).mint_incentive(keeper, reward)
    log Liquidated(vault_id=vault_id, auction_id=auction_id, keeper=keeper, collateral_type=collateral_type, collateral=collateral, debt=debt, target=target, reward=reward)
    return auction_id


@external
@nonreentrant
def liquidate(vault_id: uint256, keeper: address) -> uint256:
    """
    @notice Liquidate an unsafe vault (all of it, or the part the caps allow) and
            start its auction; `keeper` receives the reward. Anyone may call.
    @return The auction id.
    """
    assert keeper != empty(address), "liquidator: zero keeper"
    return self._liquidate(vault_id, keeper)


@external
def liquidate_many(vault_ids: DynArray[uint256, MAX_BATCH], keeper: address) -> DynArray[uint256, MAX_BATCH]:
    """
    @notice Liquidate up to 50 vaults; one that cannot be liquidated (safe by now,
            closed, caps full, stale price) is skipped (`Skipped`), never reverting
            the batch. Anyone may call.
    @return Auction ids, 0 for each skipped vault.
    """
    assert keeper != empty(address), "liquidator: zero keeper"
    result: DynArray[uint256, MAX_BATCH] = []
    for vault_id: uint256 in vault_ids:
        ok: bool = False
        response: Bytes[32] = b""
        ok, response = raw_call(
            self,
            abi_encode(vault_id, keeper, method_id=method_id("liquidate(uint256,address)")),
            max_outsize=32,
            revert_on_failure=False,
        )
        if ok:
            result.append(abi_decode(response, uint256))
        else:
            result.append(0)
            log Skipped(vault_id=vault_id)
    return result


@external
def auction_finished(collateral_type: uint256, target: uint256):
    """
    @notice The auction ended a lot whose initial target was `target` (WAD): free
            that room under the caps. Called by the auction only.
    """
    assert msg.sender == auction, "liquidator: not the auction"
    type_room: uint256 = self._type_room[collateral_type]
    self._type_room[collateral_type] = (type_room & MASK_128) | (((type_room >> 128) - target) << 128)
    global_room: uint256 = self._global_room
    self._global_room = (global_room & MASK_128) | (((global_room >> 128) - target) << 128)
    log AuctionRoomReleased(collateral_type=collateral_type, amount=target)


# ================================================================ admin
@external
def set_type_limit(collateral_type: uint256, limit: uint256):
    """
    @notice Most target (WAD, at most 2**96 - 1) a collateral type may have in
            auction. ROLE_LIQUIDATION_ADMIN.
    """
    access_control._check_role(ROLE_LIQUIDATION_ADMIN)
    assert collateral_type != 0, "liquidator: type 0 is the global limit"
    assert limit <= MAX_LIMIT, "liquidator: limit out of bounds"
    room: uint256 = self._type_room[collateral_type]
    self._type_room[collateral_type] = limit | ((room >> 128) << 128)
    log LimitsSet(collateral_type=collateral_type, limit=limit)


@external
def set_global_limit(limit: uint256):
    """
    @notice Most target (WAD, at most 2**96 - 1) all types together may have in
            auction. ROLE_LIQUIDATION_ADMIN.
    """
    access_control._check_role(ROLE_LIQUIDATION_ADMIN)
    assert limit <= MAX_LIMIT, "liquidator: limit out of bounds"
    room: uint256 = self._global_room
    self._global_room = limit | ((room >> 128) << 128)
    log LimitsSet(collateral_type=0, limit=limit)


@external
def set_reward(collateral_type: uint256, flat: uint256, percent: uint256, cap: uint256):
    """
    @notice Keeper reward for a type: flat (WAD, <= 1,000) + percent of the target
            (WAD, <= 5 %), at most cap (WAD, <= 100,000). ROLE_LIQUIDATION_ADMIN.
    """
    access_control._check_role(ROLE_LIQUIDATION_ADMIN)
    assert flat <= MAX_REWARD_FLAT and percent <= MAX_REWARD_PERCENT and cap <= MAX_REWARD_CAP, "liquidator: reward out of bounds"
    self._reward[collateral_type] = flat | (percent << 96) | (cap << 160)
    log RewardSet(collateral_type=collateral_type, flat=flat, percent=percent, cap=cap)


@external
def set_stopped(stopped: bool):
    """
    @notice Stop (or resume) new liquidations. ROLE_LIQUIDATION_ADMIN.
    """
    access_control._check_role(ROLE_LIQUIDATION_ADMIN)
    self.stopped = stopped
    log StoppedSet(stopped=stopped)


# ================================================================ views
@external
@view
def room(collateral_type: uint256) -> (uint256, uint256, uint256, uint256):
    """
    @notice (type limit, type target in auction, global limit, global target in auction), WAD.
    """
    type_room: uint256 = self._type_room[collateral_type]
    global_room: uint256 = self._global_room
    return type_room & MASK_128, type_room >> 128, global_room & MASK_128, global_room >> 128


@external
@view
def reward(collateral_type: uint256) -> (uint256, uint256, uint256):
    """
    @notice (flat WAD, percent WAD, cap WAD) of a type's keeper reward.
    """
    config: uint256 = self._reward[collateral_type]
    return config & MASK_96, (config >> 96) & MASK_64, config >> 160

# pragma version ~=0.4.3
"""
@title Liquidator
@notice Who may be liquidated, how much at once, and what the keeper earns.
        Anyone may `liquidate` a vault that is unsafe at a fresh (delayed) oracle
        price: the engine seizes its collateral and debt, a DutchAuction lot starts
        with a target of debt * penalty, and the caller is paid a keeper reward
        (flat + percent of the target, capped, per collateral type).
        Caps on the vault debt in auction, per type and overall, bound how much
        collateral is for sale at once; when only part of a vault fits, only part
        is liquidated (never leaving less than dust).
        `liquidate_many` clears up to 50 vaults in one transaction, skipping any
        that is not liquidatable, so one vault cannot revert the batch.
@dev Needs ROLE_LIQUIDATOR on the engine and ROLE_KICKER on the auction. The
     caps compare the engine's own totals of debt in auction, which takes
     lower as they pay, so nothing here needs telling when a lot ends.
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
    def seize(vault_id: uint256, global_limit: uint256) -> (uint256, uint256, uint256, uint256, uint256): nonpayable
    def set_auction_limit(collateral_type: uint256, limit: uint256): nonpayable
    def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256): view
    def type_debt_in_auction(collateral_type: uint256) -> uint256: view
    def debt_in_auction() -> uint256: view
    def mint_incentive(receiver: address, amount: uint256): nonpayable


interface IDutchAuction:
    def kick(collateral_type: uint256, vault_id: uint256, lot: uint256, debt: uint256, target: uint256, price: uint256) -> uint256: nonpayable


# caps, rewards, stop
ROLE_LIQUIDATION_ADMIN: constant(uint256) = 1

WAD: constant(uint256) = fixed_point.WAD
RAY: constant(uint256) = fixed_point.RAY
MAX_BATCH: constant(uint256) = 50  # vaults per liquidate_many
# caps on debt in auction: at most 2**95 - 1 WAD (~3.96e10 kUSD), so that a lot's
# target (debt * penalty <= 1.5 debt) fits the auction's 96-bit field
MAX_LIMIT: constant(uint256) = 2 ** 95 - 1
MAX_REWARD_FLAT: constant(uint256) = 1_000 * WAD
MAX_REWARD_PERCENT: constant(uint256) = WAD // 20  # 5 % of the target
MAX_REWARD_CAP: constant(uint256) = 100_000 * WAD
MASK_64: constant(uint256) = 2 ** 64 - 1
MASK_96: constant(uint256) = 2 ** 96 - 1

# `liquidate`: one vault. The engine's Seized and the auction's AuctionStarted
# events carry the collateral, debt and target.
event Liquidated:
    vault_id: indexed(uint256)
    auction_id: indexed(uint256)
    keeper: indexed(address)
    reward: uint256  # WAD minted to the keeper

# `liquidate_many`: one event for the batch (each lot has its AuctionStarted event;
# gas matters most when many vaults go under at once)
event BatchLiquidated:
    keeper: indexed(address)
    liquidated: uint256  # vaults liquidated
    skipped: uint256  # vaults skipped (each with a Skipped event)
    reward: uint256  # WAD minted to the keeper, the sum of each lot's reward

event Skipped:
    vault_id: indexed(uint256)

event LimitsSet:
    collateral_type: indexed(uint256)  # 0 for the global limit
    limit: uint256  # WAD of vault debt in auction

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
# packed: global limit WAD (bits 0-95) | stopped flag (bit 96)
_global: uint256
# type => packed: flat WAD (0-95) | percent WAD (96-159) | cap WAD (160-255)
_reward: HashMap[uint256, uint256]


@deploy
def __init__(engine_address: address, auction_address: address, initial_owner: address):
    """
    @param engine_address The VaultEngine.
    @param auction_address The DutchAuction that sells seized collateral.
    @param initial_owner Owner who grants ROLE_LIQUIDATION_ADMIN.
    """
    assert engine_address != empty(address) and auction_address != empty(address), "liquidator: zero address"
    access_control.__init__(initial_owner)
    engine = engine_address
    auction = auction_address


@internal
def _liquidate(vault_id: uint256, keeper: address) -> (uint256, uint256):
    """
    @dev Seize what the caps allow of one vault and start its lot.
    @return (auction id, keeper reward WAD, not yet paid)
    """
    global_config: uint256 = self._global
    assert global_config >> 96 == 0, "liquidator: stopped"
    # the engine sizes the seizure to the room under the type's cap (kept in the
    # engine's liquidation slot, which it reads anyway) and under the global cap
    collateral_type: uint256 = 0
    collateral: uint256 = 0
    debt: uint256 = 0
    price: uint256 = 0
    target: uint256 = 0
    collateral_type, collateral, debt, price, target = extcall IVaultEngine(engine).seize(vault_id, global_config & MASK_96)
    auction_id: uint256 = extcall IDutchAuction(auction).kick(collateral_type, vault_id, collateral, debt, target, price)
    reward_config: uint256 = self._reward[collateral_type]
    reward: uint256 = min(
        (reward_config & MASK_96) + fixed_point.mul_div(target, (reward_config >> 96) & MASK_64, WAD, False),
        reward_config >> 160,
    )
    return auction_id, reward


@internal
def _pay(keeper: address, reward: uint256):
    if reward != 0:
        extcall IVaultEngine(engine).mint_incentive(keeper, reward)


@external
@nonreentrant
def liquidate(vault_id: uint256, keeper: address) -> uint256:
    """
    @notice Liquidate an unsafe vault (all of it, or the part the caps allow) and
            start its auction; `keeper` receives the reward. Anyone may call.
    @return The auction id.
    """
    assert keeper != empty(address), "liquidator: zero keeper"
    auction_id: uint256 = 0
    reward: uint256 = 0
    auction_id, reward = self._liquidate(vault_id, keeper)
    log Liquidated(vault_id=vault_id, auction_id=auction_id, keeper=keeper, reward=reward)
    self._pay(keeper, reward)
    return auction_id


@external
def liquidate_one_of_batch(vault_id: uint256, keeper: address) -> (uint256, uint256):
    """
    @notice One vault of `liquidate_many`, in a call of its own so that its
            failure cannot revert the batch. This contract only (so only from
            inside `liquidate_many`, which holds the reentrancy lock).
    @return (auction id, keeper reward WAD, paid by the batch)
    """
    assert msg.sender == self, "liquidator: batch only"
    return self._liquidate(vault_id, keeper)


@external
@nonreentrant
def liquidate_many(vault_ids: DynArray[uint256, MAX_BATCH], keeper: address) -> DynArray[uint256, MAX_BATCH]:
    """
    @notice Liquidate up to 50 vaults; one that cannot be liquidated (safe by now,
            already liquidated, caps full, stale price) is skipped (`Skipped`),
            never reverting the batch. The rewards are paid in one mint at the
            end. Anyone may call.
    @return Auction ids, 0 for each skipped vault.
    """
    assert keeper != empty(address), "liquidator: zero keeper"
    result: DynArray[uint256, MAX_BATCH] = []
    rewards: uint256 = 0
    liquidated: uint256 = 0
    for vault_id: uint256 in vault_ids:
        ok: bool = False
        response: Bytes[64] = b""
        ok, response = raw_call(
            self,
            abi_encode(vault_id, keeper, method_id=method_id("liquidate_one_of_batch(uint256,address)")),
            max_outsize=64,
            revert_on_failure=False,
        )
        if ok:
            auction_id: uint256 = 0
            reward: uint256 = 0
            auction_id, reward = abi_decode(response, (uint256, uint256))
            result.append(auction_id)
            rewards += reward
            liquidated += 1
        else:
            result.append(0)
            log Skipped(vault_id=vault_id)
    log BatchLiquidated(keeper=keeper, liquidated=liquidated, skipped=len(vault_ids) - liquidated, reward=rewards)
    self._pay(keeper, rewards)
    return result


# ================================================================ admin
@external
def set_type_limit(collateral_type: uint256, limit: uint256):
    """
    @notice Most vault debt (WAD, at most 2**95 - 1) a collateral type may have
            in auction at once. ROLE_LIQUIDATION_ADMIN.
    """
    access_control._check_role(ROLE_LIQUIDATION_ADMIN)
    assert collateral_type != 0, "liquidator: type 0 is the global limit"
    assert limit <= MAX_LIMIT, "liquidator: limit out of bounds"
    log LimitsSet(collateral_type=collateral_type, limit=limit)
    # the engine keeps it beside the penalty, where `seize` reads it for free
    extcall IVaultEngine(engine).set_auction_limit(collateral_type, limit)


@external
def set_global_limit(limit: uint256):
    """
    @notice Most vault debt (WAD, at most 2**95 - 1) all types together may have
            in auction at once. ROLE_LIQUIDATION_ADMIN.
    """
    access_control._check_role(ROLE_LIQUIDATION_ADMIN)
    assert limit <= MAX_LIMIT, "liquidator: limit out of bounds"
    self._global = ((self._global >> 96) << 96) | limit
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
    flag: uint256 = 0
    if stopped:
        flag = 1
    self._global = (self._global & MASK_96) | (flag << 96)
    log StoppedSet(stopped=stopped)


# ================================================================ views
@external
@view
def stopped() -> bool:
    """
    @notice Whether new liquidations are stopped.
    """
    return self._global >> 96 != 0


@external
@view
def room(collateral_type: uint256) -> (uint256, uint256, uint256, uint256):
    """
    @notice (type limit, type debt in auction, global limit, all types' debt in
            auction), WAD; the debt figures are the engine's. Type 0: the global
            figures, with the type's as 0.
    """
    word: uint256 = 0
    liquidation: uint256 = 0
    type_debt: uint256 = 0
    if collateral_type != 0:  # 0: the global figures only
        word, word, word, word, liquidation, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
        type_debt = staticcall IVaultEngine(engine).type_debt_in_auction(collateral_type)
    return (
        liquidation >> 64,  # the engine keeps the type's cap beside its penalty
        type_debt,
        self._global & MASK_96,
        staticcall IVaultEngine(engine).debt_in_auction() // RAY,
    )


@external
@view
def reward(collateral_type: uint256) -> (uint256, uint256, uint256):
    """
    @notice (flat WAD, percent WAD, cap WAD) of a type's keeper reward.
    """
    config: uint256 = self._reward[collateral_type]
    return config & MASK_96, (config >> 96) & MASK_64, config >> 160

# pragma version ~=0.4.3
"""
@title GlobalSettlement
@notice Emergency shutdown and global settlement. After `shutdown` the system
        takes no new debt and runs no auctions; every collateral type's price is
        frozen; each vault's debt is settled against its collateral at that
        price (the rest is the owner's to withdraw); running auction lots are
        cancelled and settled the same way; and debt-token holders hand in their
        tokens for a pro-rata share of each type's settled collateral.
@dev Sequence, every step after `shutdown` permissionless:
       1. `shutdown` (ROLE_SHUTDOWN_ADMIN): engine rates frozen, auctions stopped,
          the debt-token supply recorded, each type's price frozen from its
          oracle (a type whose oracle fails is frozen later by `freeze_price`);
       2. `settle_vault` / `settle_vaults` for every vault with debt, and
          `cancel_auction` for every running lot;
       3. `finalize(type)` once a type has no vault debt and no lot left: its
          redemption pool is fixed;
       4. holders `redeem` debt tokens (any time after shutdown; the tokens stay
          locked here) and `claim` each finalized type:
          claim = redeemed * pool / supply_at_shutdown, rounded down.
     The supply cannot change after shutdown (nothing mints or burns), so the
     claims of all holders together never exceed the pool. Collateral stays in
     the vault engine until claimed (ROLE_SETTLEMENT there).
"""

from ethereum.ercs import IERC20
from .modules import access_control

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
    def shutdown(): nonpayable
    def settle_vault(vault_id: uint256, price: uint256) -> (uint256, uint256): nonpayable
    def settle_lot(collateral_type: uint256, vault_id: uint256, lot: uint256, debt: uint256, price: uint256) -> (uint256, uint256): nonpayable
    def settlement_release(collateral_type: uint256, receiver: address, amount: uint256): nonpayable
    def vault_position(vault_id: uint256) -> (address, uint256, uint256, uint256): view
    def collateral_type_count() -> uint256: view
    def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256): view
    def type_normalized_debt(collateral_type: uint256) -> uint256: view
    def type_collateral_in_auction(collateral_type: uint256) -> uint256: view
    def type_collateral_settled(collateral_type: uint256) -> uint256: view
    def debt_token() -> address: view


interface IDutchAuction:
    def shut_down(): nonpayable
    def cancel(auction_id: uint256) -> (uint256, uint256, uint256, uint256): nonpayable


interface IPriceOracle:
    def peek() -> (uint256, bool): view


# may trigger the shutdown (irreversible)
ROLE_SHUTDOWN_ADMIN: constant(uint256) = 1

MAX_COLLATERAL_TYPES: constant(uint256) = 64  # the engine's bound
MAX_BATCH: constant(uint256) = 100


event ShutdownTriggered:
    caller: indexed(address)
    timestamp: uint256  # unix seconds
    supply: uint256  # WAD debt tokens outstanding, fixed from here on

event PriceFrozen:
    collateral_type: indexed(uint256)
    price: uint256  # WAD debt tokens per whole collateral unit
    fresh: bool  # whether the oracle called it fresh (a stale price is still used)

event VaultSettled:
    vault_id: indexed(uint256)
    collateral_type: indexed(uint256)
    collateral: uint256  # WAD moved to the type's pool
    shortfall: uint256  # WAD the debt needed beyond the vault's collateral

event AuctionSettled:
    auction_id: indexed(uint256)
    collateral_type: indexed(uint256)
    collateral: uint256  # WAD moved to the type's pool
    shortfall: uint256  # WAD

event TypeFinalized:
    collateral_type: indexed(uint256)
    pool: uint256  # WAD collateral shared among all debt tokens
    shortfall: uint256  # WAD, all vaults' and lots' shortfalls of the type

event Redeemed:
    holder: indexed(address)
    amount: uint256  # WAD debt tokens handed in
    total: uint256  # WAD the holder has handed in so far

event Claimed:
    holder: indexed(address)
    collateral_type: indexed(uint256)
    receiver: address
    amount: uint256  # WAD collateral paid


# the vault engine, its auction and its debt token
engine: public(immutable(address))
auction: public(immutable(address))
debt_token: public(immutable(address))

# when shutdown was triggered, unix seconds; 0 while live
shutdown_at: public(uint256)
# debt tokens outstanding at shutdown, WAD; every claim is a share of it
supply_at_shutdown: public(uint256)
# type => frozen price, WAD debt tokens per whole collateral unit; 0 = not frozen
frozen_price: public(HashMap[uint256, uint256])
# type => collateral the debt needed beyond what vaults and lots held, WAD
shortfall: public(HashMap[uint256, uint256])
# type => pool fixed at finalize, WAD; valid once finalized
pool: public(HashMap[uint256, uint256])
finalized: public(HashMap[uint256, bool])
# debt tokens handed in, WAD, in total and per holder
total_redeemed: public(uint256)
redeemed: public(HashMap[address, uint256])
# holder => type => collateral claimed so far, WAD
claimed: public(HashMap[address, HashMap[uint256, uint256]])


@deploy
def __init__(engine_address: address, auction_address: address, initial_owner: address):
    """
    @param engine_address The VaultEngine (grant this contract ROLE_SETTLEMENT there).
    @param auction_address The DutchAuction (grant ROLE_SETTLEMENT there too).
    @param initial_owner Owner who grants ROLE_SHUTDOWN_ADMIN.
    """
    assert engine_address != empty(address) and auction_address != empty(address), "settlement: zero address"
    access_control.__init__(initial_owner)
    engine = engine_address
    auction = auction_address
    debt_token = staticcall IVaultEngine(engine_address).debt_token()


@internal
@view
def _check_shut_down():
    assert self.shutdown_at != 0, "settlement: not shut down"


@internal
def _freeze(collateral_type: uint256, strict: bool) -> bool:
    """
    @dev Freeze a type's price from its oracle's current answer, stale or not.
         With `strict` a failing or zero oracle reverts; without, it is skipped.
    """
    word: uint256 = 0
    risk: uint256 = 0
    word, risk, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
    # the risk word holds the oracle in its low 160 bits
    oracle: address = convert(convert(risk & (2 ** 160 - 1), uint160), address)
    ok: bool = False
    response: Bytes[64] = b""
    ok, response = raw_call(oracle, method_id("peek()"), max_outsize=64, is_static_call=True, revert_on_failure=False)
    price: uint256 = 0
    fresh: bool = False
    if ok and len(response) == 64:
        price, fresh = abi_decode(response, (uint256, bool))
    if price == 0:
        assert not strict, "settlement: oracle gives no price"
        return False
    self.frozen_price[collateral_type] = price
    log PriceFrozen(collateral_type=collateral_type, price=price, fresh=fresh)
    return True


@external
def shutdown():
    """
    @notice Shut Keel down for global settlement. Irreversible.
            ROLE_SHUTDOWN_ADMIN.
    """
    access_control._check_role(ROLE_SHUTDOWN_ADMIN)
    assert self.shutdown_at == 0, "settlement: already shut down"
    self.shutdown_at = block.timestamp
    supply: uint256 = staticcall IERC20(debt_token).totalSupply()
    self.supply_at_shutdown = supply
    log ShutdownTriggered(caller=msg.sender, timestamp=block.timestamp, supply=supply)
    extcall IVaultEngine(engine).shutdown()
    extcall IDutchAuction(auction).shut_down()
    count: uint256 = staticcall IVaultEngine(engine).collateral_type_count()
    for collateral_type: uint256 in range(1, MAX_COLLATERAL_TYPES + 1):
        if collateral_type > count:
            break
        self._freeze(collateral_type, False)


@external
def freeze_price(collateral_type: uint256):
    """
    @notice Freeze the price of a type whose oracle gave none at shutdown.
            Anyone, after shutdown, once per type.
    """
    self._check_shut_down()
    assert collateral_type != 0 and collateral_type <= staticcall IVaultEngine(engine).collateral_type_count(), "settlement: unknown collateral type"
    assert self.frozen_price[collateral_type] == 0, "settlement: price already frozen"
    self._freeze(collateral_type, True)


@internal
def _settle_vault(vault_id: uint256) -> uint256:
    owner: address = empty(address)
    collateral_type: uint256 = 0
    collateral: uint256 = 0
    normalized_debt: uint256 = 0
    owner, collateral_type, collateral, normalized_debt = staticcall IVaultEngine(engine).vault_position(vault_id)
    price: uint256 = self.frozen_price[collateral_type]
    assert price != 0, "settlement: price not frozen"
    taken: uint256 = 0
    short: uint256 = 0
    taken, short = extcall IVaultEngine(engine).settle_vault(vault_id, price)
    if short != 0:
        self.shortfall[collateral_type] += short
    log VaultSettled(vault_id=vault_id, collateral_type=collateral_type, collateral=taken, shortfall=short)
    return taken


@external
def settle_vault(vault_id: uint256) -> uint256:
    """
    @notice Settle one vault's debt at its type's frozen price: collateral worth
            the debt (rounded up, at most all of it) goes to the type's pool,
            the rest stays in the vault for its owner to withdraw. Anyone, after
            shutdown.
    @return Collateral moved to the pool, WAD.
    """
    self._check_shut_down()
    return self._settle_vault(vault_id)


@external
def settle_vaults(vault_ids: DynArray[uint256, MAX_BATCH]) -> uint256:
    """
    @notice `settle_vault` for up to 100 vaults; a vault without debt (or closed),
            unknown, or of a type whose price is not frozen yet is skipped, so one
            dead oracle never blocks the other types. Anyone, after shutdown.
    @return How many vaults were settled.
    """
    self._check_shut_down()
    settled: uint256 = 0
    for vault_id: uint256 in vault_ids:
        ok: bool = False
        response: Bytes[128] = b""
        ok, response = raw_call(
            engine,
            abi_encode(vault_id, method_id=method_id("vault_position(uint256)")),
            max_outsize=128,
            is_static_call=True,
            revert_on_failure=False,
        )
        if not ok:
            continue
        owner: address = empty(address)
        collateral_type: uint256 = 0
        collateral: uint256 = 0
        normalized_debt: uint256 = 0
        owner, collateral_type, collateral, normalized_debt = abi_decode(response, (address, uint256, uint256, uint256))
        if normalized_debt == 0 or self.frozen_price[collateral_type] == 0:
            continue
        self._settle_vault(vault_id)
        settled += 1
    return settled


@external
def cancel_auction(auction_id: uint256) -> uint256:
    """
    @notice Cancel a running auction lot and settle its remaining vault debt at
            the frozen price: collateral worth it goes to the pool, the rest of
            the lot back into the vault; the penalty is dropped. Anyone, after
            shutdown.
    @return Collateral moved to the pool, WAD.
    """
    self._check_shut_down()
    collateral_type: uint256 = 0
    vault_id: uint256 = 0
    lot: uint256 = 0
    debt: uint256 = 0
    collateral_type, vault_id, lot, debt = extcall IDutchAuction(auction).cancel(auction_id)
    price: uint256 = self.frozen_price[collateral_type]
    assert price != 0, "settlement: price not frozen"
    taken: uint256 = 0
    short: uint256 = 0
    taken, short = extcall IVaultEngine(engine).settle_lot(collateral_type, vault_id, lot, debt, price)
    if short != 0:
        self.shortfall[collateral_type] += short
    log AuctionSettled(auction_id=auction_id, collateral_type=collateral_type, collateral=taken, shortfall=short)
    return taken


@external
def finalize(collateral_type: uint256):
    """
    @notice Fix a type's redemption pool once every vault of the type is settled
            and every lot cancelled. Anyone, after shutdown, once per type.
    """
    self._check_shut_down()
    assert not self.finalized[collateral_type], "settlement: already finalized"
    assert self.frozen_price[collateral_type] != 0, "settlement: price not frozen"
    assert staticcall IVaultEngine(engine).type_normalized_debt(collateral_type) == 0, "settlement: vaults left to settle"
    assert staticcall IVaultEngine(engine).type_collateral_in_auction(collateral_type) == 0, "settlement: auctions left to cancel"
    amount: uint256 = staticcall IVaultEngine(engine).type_collateral_settled(collateral_type)
    self.pool[collateral_type] = amount
    self.finalized[collateral_type] = True
    log TypeFinalized(collateral_type=collateral_type, pool=amount, shortfall=self.shortfall[collateral_type])


@external
@nonreentrant
def redeem(amount: uint256):
    """
    @notice Hand in `amount` (WAD) debt tokens for a share of every type's pool;
            the tokens stay locked here. Anyone, after shutdown.
    """
    self._check_shut_down()
    assert amount != 0, "settlement: zero amount"
    total: uint256 = self.total_redeemed + amount
    assert total <= self.supply_at_shutdown, "settlement: above supply at shutdown"
    self.total_redeemed = total
    holder_total: uint256 = self.redeemed[msg.sender] + amount
    self.redeemed[msg.sender] = holder_total
    log Redeemed(holder=msg.sender, amount=amount, total=holder_total)
    assert extcall IERC20(debt_token).transferFrom(msg.sender, self, amount), "settlement: token transfer failed"


@internal
@view
def _claimable(holder: address, collateral_type: uint256) -> uint256:
    if not self.finalized[collateral_type]:
        return 0
    redeemed: uint256 = self.redeemed[holder]
    if redeemed == 0:
        return 0
    # a share of the pool, rounded down: all shares together never exceed it
    entitled: uint256 = redeemed * self.pool[collateral_type] // self.supply_at_shutdown
    return entitled - self.claimed[holder][collateral_type]


@external
@nonreentrant
def claim(collateral_type: uint256, receiver: address) -> uint256:
    """
    @notice Take the caller's share of a finalized type's pool (for the tokens
            redeemed so far, less what it already claimed) to `receiver`.
    @return Collateral paid, WAD (the engine pays whole token units; a
            remainder below one unit stays with the system as dust).
    """
    assert receiver != empty(address), "settlement: zero receiver"
    assert self.finalized[collateral_type], "settlement: type not finalized"
    amount: uint256 = self._claimable(msg.sender, collateral_type)
    assert amount != 0, "settlement: nothing to claim"
    self.claimed[msg.sender][collateral_type] += amount
    log Claimed(holder=msg.sender, collateral_type=collateral_type, receiver=receiver, amount=amount)
    extcall IVaultEngine(engine).settlement_release(collateral_type, receiver, amount)
    return amount


@external
@view
def claimable(holder: address, collateral_type: uint256) -> uint256:
    """
    @notice Collateral (WAD) `holder` could claim of a type now.
    """
    return self._claimable(holder, collateral_type)

# pragma version ~=0.4.3
# The engine is the largest contract, close to EIP-170's 24,576 bytes: compiled for
# size, which costs about 140 gas a call (measured by `make gas`) and saves ~650 bytes.
# pragma optimize codesize
"""
@title VaultEngine
@notice Keel's ledger: collateral types and their risk parameters, vaults
        (collateral + normalised debt), the compounding stability fee and the
        system surplus. Users open vaults, deposit and withdraw collateral,
        borrow and repay the debt token, hand vaults over and approve operators.
@dev Units: collateral and debt amounts are WAD; per-second fees and the rate
     accumulator are RAY; the surplus is kept in RAD (WAD * RAY) so that the
     debt ledger is exact:  supply * RAY + surplus == sum(normalised_debt * rate).
     Collateral enters and leaves in the token's own decimals and is held as WAD.
     Every rounding favours the system: debt rounds up, payouts round down.
     Hot state is bit-packed (see the `_pack_*` helpers) so that a borrow or a
     repay touches as few storage slots as possible.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
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


interface IPriceOracle:
    def peek() -> (uint256, bool): view  # (price WAD debt-token per whole collateral unit, fresh)
    def volatility() -> uint256: view  # annualised sigma, WAD


interface IPortfolioMargin:
    def vault_healthy(vault_id: uint256, collateral: uint256, debt: uint256, price: uint256, ratio: uint256, for_liquidation: bool) -> bool: view


interface IDebtToken:
    def mint(receiver: address, amount: uint256): nonpayable
    def burn(account: address, amount: uint256): nonpayable


# ---------------------------------------------------------------- roles
# add collateral types and change their oracle
ROLE_COLLATERAL_ADMIN: constant(uint256) = 1
# change liquidation ratio, debt ceiling, dust and liquidation penalty
ROLE_RISK_ADMIN: constant(uint256) = 2
# change the stability fee
ROLE_FEE_ADMIN: constant(uint256) = 4
# mint accumulated surplus as debt tokens
ROLE_TREASURY: constant(uint256) = 8
# the Liquidator: seize unsafe vaults, pay keeper rewards
ROLE_LIQUIDATOR: constant(uint256) = 16
# the DutchAuction: pay out auctioned collateral, take payments, record bad debt
ROLE_AUCTION: constant(uint256) = 32
# the GlobalSettlement: shut the system down, settle vaults and lots, pay claims
ROLE_SETTLEMENT: constant(uint256) = 64

# ---------------------------------------------------------------- parameter ids
# `CollateralParameterSet.parameter`: which parameter changed
PARAM_ORACLE: constant(uint256) = 1
PARAM_LIQUIDATION_RATIO: constant(uint256) = 2
PARAM_DEBT_CEILING: constant(uint256) = 3
PARAM_DUST: constant(uint256) = 4
PARAM_STABILITY_FEE: constant(uint256) = 5
PARAM_LIQUIDATION_PENALTY: constant(uint256) = 6
PARAM_VOLATILITY_K_BPS: constant(uint256) = 7
PARAM_VOLATILITY_CAP_BPS: constant(uint256) = 8
PARAM_AUCTION_LIMIT: constant(uint256) = 9

# ---------------------------------------------------------------- bounds
WAD: constant(uint256) = fixed_point.WAD
RAY: constant(uint256) = fixed_point.RAY
# liquidation ratio: above 100 %, at most 1,000 %
MIN_LIQUIDATION_RATIO: constant(uint256) = WAD + 1
MAX_LIQUIDATION_RATIO: constant(uint256) = 10 * WAD
# stability fee: per-second RAY factor; the cap compounds to 2x a year (100 %/yr).
# At the cap the accumulator stays below 2**208 and rate * growth below 2**256 for
# about 75 years without intervention; at 5 %/yr for over 1,000 years.
MAX_STABILITY_FEE: constant(uint256) = RAY + 21_979_553_151 * 10 ** 9
# liquidation penalty: 0 % .. 50 % on top of the debt (WAD factor)
MAX_LIQUIDATION_PENALTY: constant(uint256) = WAD + WAD // 2
MAX_TOKEN_DECIMALS: constant(uint8) = 18
# bounds the shutdown's loop over the types
MAX_COLLATERAL_TYPES: constant(uint256) = 64
# a type's last-accrual time after shutdown: later than any block, so fees stop
FROZEN: constant(uint256) = 2 ** 48 - 1
# WAD amounts in packed slots live in 128 bits
MAX_UINT128: constant(uint256) = 2 ** 128 - 1
# a vault's collateral, WAD: at most 2**112 - 1 (5.2e15 whole units), so that an
# auction lot of it fits the auction's packed slot
MAX_VAULT_COLLATERAL: constant(uint256) = 2 ** 112 - 1
# set in a vault's position slot (above its collateral bits) when a liquidation
# takes everything: the slot stays non-zero, so collateral an auction gives back
# later rewrites a warm-priced slot instead of paying for a fresh one
SEIZED_FLAG: constant(uint256) = 2 ** 112
# set in a vault's meta slot (bit 255) while the portfolio-margin module owns the vault
# (opened by it, or handed to it): its safety is then the module's check
MARGIN_FLAG: constant(uint256) = 2 ** 255
# vault ids stay below 2**40, so that a lot can name its vault in 40 bits
MAX_VAULT_ID: constant(uint256) = 2 ** 40 - 1
# dynamic margin: required ratio = base + min(k * sigma, cap); k and cap in bps
BPS: constant(uint256) = 10_000
MAX_VOLATILITY_K_BPS: constant(uint256) = 50_000  # k <= 5
MAX_VOLATILITY_CAP_BPS: constant(uint256) = 50_000  # cap <= 500 percentage points

MAX_DEBT_CEILING: constant(uint256) = 2 ** 96 - 1  # WAD, about 7.9e10 tokens
MAX_DUST: constant(uint256) = 2 ** 80 - 1  # WAD, about 1.2e6 tokens

MASK_16: constant(uint256) = 2 ** 16 - 1
MASK_64: constant(uint256) = 2 ** 64 - 1
MASK_80: constant(uint256) = 2 ** 80 - 1
MASK_96: constant(uint256) = 2 ** 96 - 1
MASK_128: constant(uint256) = 2 ** 128 - 1
MASK_160: constant(uint256) = 2 ** 160 - 1
MASK_208: constant(uint256) = 2 ** 208 - 1

# ---------------------------------------------------------------- events
event CollateralTypeAdded:
    collateral_type: indexed(uint256)
    token: indexed(address)
    oracle: address
    token_decimals: uint8

event CollateralParameterSet:
    collateral_type: indexed(uint256)
    parameter: indexed(uint256)  # a PARAM_* id (1 oracle ... 8 volatility_cap_bps)
    value: uint256  # in the parameter's unit (WAD, RAY, bps or an address as uint256)

event Accrued:
    collateral_type: indexed(uint256)
    rate: uint256  # RAY, the new accumulator
    fees: uint256  # RAD credited to the surplus

event VaultOpened:
    vault_id: indexed(uint256)
    owner: indexed(address)
    collateral_type: indexed(uint256)

event Deposit:
    vault_id: indexed(uint256)
    payer: indexed(address)
    amount: uint256  # token units (the token's decimals)
    collateral: uint256  # WAD, the vault's collateral afterwards

event Withdraw:
    vault_id: indexed(uint256)
    receiver: indexed(address)
    amount: uint256  # token units
    collateral: uint256  # WAD, afterwards

event Borrow:
    vault_id: indexed(uint256)
    receiver: indexed(address)
    amount: uint256  # WAD debt tokens minted
    normalized_debt: uint256  # WAD, afterwards
    rate: uint256  # RAY, the accumulator used

event Repay:
    vault_id: indexed(uint256)
    payer: indexed(address)
    amount: uint256  # WAD debt tokens burned
    normalized_debt: uint256  # WAD, afterwards
    rate: uint256  # RAY

event VaultClosed:
    vault_id: indexed(uint256)
    receiver: indexed(address)
    debt_repaid: uint256  # WAD debt tokens burned
    collateral_returned: uint256  # token units
    collateral_dust: uint256  # WAD below one token unit, kept by the system

event VaultTransferred:
    vault_id: indexed(uint256)
    previous_owner: indexed(address)
    new_owner: indexed(address)

event OperatorSet:
    owner: indexed(address)
    operator: indexed(address)
    approved: bool

event Seized:
    vault_id: indexed(uint256)
    collateral: uint256  # WAD moved to auction
    normalized_debt: uint256  # WAD removed from the vault (its debt, in WAD, is the lot's
                              # `debt` in the auction's AuctionStarted event)

event AuctionReturned:
    vault_id: indexed(uint256)
    collateral_type: indexed(uint256)
    amount: uint256  # WAD of a finished lot's collateral given back into the vault
    collateral: uint256  # WAD, the vault's collateral afterwards

# the vault was refilled to its bound while its lot ran: the leftover went to its owner
event AuctionReturnedToOwner:
    vault_id: indexed(uint256)
    owner: indexed(address)
    amount: uint256  # WAD paid out (token units rounded down; the rest is tracked dust)

event BadDebtRecorded:
    debt: uint256  # RAD added
    bad_debt: uint256  # RAD total

event BadDebtSettled:
    amount: uint256  # RAD cancelled against the surplus
    surplus: uint256  # RAD after
    bad_debt: uint256  # RAD after

event IncentivePaid:
    receiver: indexed(address)
    amount: uint256  # WAD minted, recorded as bad debt

event SurplusWithdrawn:
    receiver: indexed(address)
    amount: uint256  # WAD debt tokens minted from the surplus

event MarginModuleSet:
    module: indexed(address)

event Shutdown:
    timestamp: uint256  # unix seconds; rates are frozen from here on

event VaultSettled:
    vault_id: indexed(uint256)
    collateral_type: indexed(uint256)
    collateral: uint256  # WAD moved to the redemption pool
    debt: uint256  # RAD of vault debt settled
    shortfall: uint256  # WAD of collateral the debt needed beyond what the vault had

event LotSettled:
    collateral_type: indexed(uint256)
    vault_id: indexed(uint256)
    collateral: uint256  # WAD moved to the redemption pool
    returned: uint256  # WAD given back into the vault
    debt: uint256  # WAD of auctioned debt settled
    shortfall: uint256  # WAD

event SettlementCollateralReleased:
    collateral_type: indexed(uint256)
    receiver: indexed(address)
    amount: uint256  # token units paid out of the redemption pool
    dust: uint256  # WAD below one token unit, kept by the system

# ---------------------------------------------------------------- storage
# debt token this engine mints and burns
debt_token: public(immutable(address))

# number of collateral types; ids run 1..collateral_type_count
collateral_type_count: public(uint256)
# token => its collateral type id (0: none); one type per token
collateral_type_of_token: public(HashMap[address, uint256])
# type => packed: token address (bits 0-159) | 10 ** (18 - decimals) (bits 160-255)
_type_token: HashMap[uint256, uint256]
# type => packed, what a liquidation reads: penalty factor WAD, 1.13e18 = 13 %
#         (bits 0-63) | most vault debt in auction WAD, the Liquidator's cap (bits 64-159)
_type_liquidation: HashMap[uint256, uint256]
# type => packed: oracle (bits 0-159) | base liquidation ratio WAD (bits 160-223) |
#         volatility k bps (bits 224-239) | volatility cap bps (bits 240-255)
_type_risk: HashMap[uint256, uint256]
# type => packed: debt ceiling WAD (bits 0-95) | dust WAD (bits 96-175) |
#         stability fee above RAY, RAY per second (bits 176-255)
_type_limits: HashMap[uint256, uint256]
# type => packed: rate RAY (bits 0-207) | last accrual unix seconds (bits 208-255)
_type_accrual: HashMap[uint256, uint256]
# type => sum of its vaults' normalised debt, WAD
type_normalized_debt: public(HashMap[uint256, uint256])
# type => collateral below one token unit left behind by payouts, WAD
type_collateral_dust: public(HashMap[uint256, uint256])

# number of vaults ever opened; ids run 1..vault_count
vault_count: public(uint256)
# vault => packed: owner (bits 0-159) | collateral type (bits 160-167) | MARGIN_FLAG
#          (bit 255); 0 = none
_vault_meta: HashMap[uint256, uint256]
# vault => packed: collateral WAD (bits 0-111) | SEIZED_FLAG (bit 112) |
#          normalised debt WAD (bits 128-255)
_vault_position: HashMap[uint256, uint256]
# owner => operator => may act on all the owner's vaults
operators: public(HashMap[address, HashMap[address, bool]])

# fees, penalties and rounding gains not yet withdrawn, RAD
surplus: public(uint256)
# debt no auction covered plus keeper incentives, until the surplus cancels it, RAD
bad_debt: public(uint256)
# type => packed, for its running auction lots: collateral WAD (bits 0-127) |
#         vault debt not yet covered WAD (bits 128-255). One slot, so that a take
#         updates both with one write; the Liquidator's caps read the debt part.
_type_auction: HashMap[uint256, uint256]
# set while a flash-take callback runs: every vault action reverts
_auction_lock: transient(bool)
# when the system was shut down, unix seconds; 0 while live
shutdown_at: public(uint256)
# vault and auction debt settled against collateral at the frozen prices, RAD
settled_debt: public(uint256)
# type => collateral taken by settlement, awaiting redemption by holders, WAD
type_collateral_settled: public(HashMap[uint256, uint256])
# the portfolio-margin module: the vaults it owns (on behalf of their users) are margined
# by its scenario check of their debt and options together; empty while none is set
margin_module: public(address)


@deploy
def __init__(debt_token_address: address, initial_owner: address):
    """
    @param debt_token_address The DebtToken; this engine needs its ROLE_MINTER.
    @param initial_owner Owner who grants the admin roles.
    """
    assert debt_token_address != empty(address), "engine: zero debt token"
    access_control.__init__(initial_owner)
    debt_token = debt_token_address


# ================================================================ packing
@internal
@pure
def _pack_position(collateral: uint256, normalized_debt: uint256) -> uint256:
    assert collateral <= MAX_VAULT_COLLATERAL, "engine: collateral overflow"
    assert normalized_debt <= MAX_UINT128, "engine: debt overflow"
    return collateral | (normalized_debt << 128)


@internal
@view
def _vault(vault_id: uint256) -> (address, uint256):
    meta: uint256 = self._vault_meta[vault_id]
    assert meta != 0, "engine: unknown vault"
    return convert(convert(meta & MASK_160, uint160), address), (meta >> 160) & 255


@internal
@pure
def _check_amount(amount: uint256):
    assert amount != 0, "engine: zero amount"


@internal
@pure
def _check_receiver(receiver: address):
    assert receiver != empty(address), "engine: zero receiver"


@internal
@pure
def _check_amount_receiver(amount: uint256, receiver: address):
    self._check_amount(amount)
    self._check_receiver(receiver)


@internal
@view
def _meta(owner: address, collateral_type: uint256) -> uint256:
    """
    @dev A vault's meta word; MARGIN_FLAG when its owner is the margin module.
    """
    if owner == self.margin_module:
        return convert(owner, uint256) | (collateral_type << 160) | MARGIN_FLAG
    return convert(owner, uint256) | (collateral_type << 160)


@internal
@view
def _check_operator(owner: address):
    if msg.sender != owner:
        assert self.operators[owner][msg.sender], "engine: not vault owner or operator"


@internal
@view
def _check_type(collateral_type: uint256):
    # a listed type's accrual slot is never zero (its rate starts at RAY); the
    # slot is read again right after, warm, by whatever checks the type
    assert self._type_accrual[collateral_type] != 0, "engine: unknown collateral type"


@internal
@view
def _token(collateral_type: uint256) -> (address, uint256):
    """
    @dev (token, 10 ** (18 - decimals)) of a collateral type, from one slot.
    """
    packed: uint256 = self._type_token[collateral_type]
    return convert(convert(packed & MASK_160, uint160), address), packed >> 160


# ================================================================ fees
@internal
@view
def _rate_now(collateral_type: uint256) -> (uint256, uint256, uint256):
    """
    @dev (stored rate, rate to now rounded up -- both RAY, last accrual time).
         After shutdown the last accrual time is FROZEN and the rate stays put.
    """
    packed: uint256 = self._type_accrual[collateral_type]
    rate: uint256 = packed & MASK_208
    last: uint256 = packed >> 208
    if last >= block.timestamp:
        return rate, rate, last
    fee: uint256 = RAY + (self._type_limits[collateral_type] >> 176)
    if fee == RAY:
        return rate, rate, last
    growth: uint256 = fixed_point.rpow(fee, block.timestamp - last, True)
    return rate, fixed_point.mul_div(rate, growth, RAY, True), last


@internal
def _accrue(collateral_type: uint256) -> uint256:
    """
    @dev Bring the type's rate to now and credit the fees to the surplus. RAY.
         Every action that changes debt accrues first, so this is where a
         shut-down system refuses them.
    """
    old_rate: uint256 = 0
    new_rate: uint256 = 0
    last: uint256 = 0
    old_rate, new_rate, last = self._rate_now(collateral_type)
    if last >= block.timestamp:
        assert last != FROZEN, "engine: shut down"
        return new_rate
    assert new_rate <= MASK_208, "engine: rate overflow"
    self._type_accrual[collateral_type] = new_rate | (block.timestamp << 208)
    fees: uint256 = 0
    if new_rate != old_rate:
        fees = self.type_normalized_debt[collateral_type] * (new_rate - old_rate)
        self.surplus += fees
    log Accrued(collateral_type=collateral_type, rate=new_rate, fees=fees)
    return new_rate


# ================================================================ safety
@internal
@view
def _price(collateral_type: uint256) -> (uint256, uint256):
    """
    @dev (price WAD, liquidation ratio WAD); reverts on a stale or zero price.
    """
    risk: uint256 = self._type_risk[collateral_type]
    return self._peek(risk), self._required_ratio(risk)


@internal
@view
def _peek(risk: uint256) -> uint256:
    """
    @dev The price (WAD) from the oracle in a type's risk slot; reverts when stale or zero.
    """
    price: uint256 = 0
    fresh: bool = False
    price, fresh = staticcall IPriceOracle(convert(convert(risk & MASK_160, uint160), address)).peek()
    assert fresh, "engine: oracle stale"
    assert price != 0, "engine: oracle price zero"
    return price


@internal
@view
def _required_ratio(risk: uint256) -> uint256:
    """
    @dev base ratio + min(k * sigma, cap), WAD; reads the oracle's volatility only
         when k is set (k = 0 keeps the ratio static and costs nothing).
    """
    base: uint256 = 0
    extra: uint256 = 0
    base, extra = self._ratio_parts(risk)
    return base + extra


@internal
@view
def _ratio_parts(risk: uint256) -> (uint256, uint256):
    base: uint256 = (risk >> 160) & MASK_64
    k_bps: uint256 = (risk >> 224) & MASK_16
    if k_bps == 0:
        return base, 0
    sigma: uint256 = staticcall IPriceOracle(convert(convert(risk & MASK_160, uint160), address)).volatility()
    # rounds up: the requirement is never understated
    extra: uint256 = fixed_point.mul_div(k_bps, sigma, BPS, True)
    return base, min(extra, (risk >> 240) * WAD // BPS)


@internal
@pure
def _is_safe(collateral: uint256, normalized_debt: uint256, rate: uint256, price: uint256, ratio: uint256) -> bool:
    """
    @dev collateral value (rounded down) covers debt * ratio (rounded up).
    """
    if normalized_debt == 0:
        return True
    debt: uint256 = fixed_point.mul_div(normalized_debt, rate, RAY, True)
    value: uint256 = fixed_point.mul_div(collateral, price, WAD, False)
    return value >= fixed_point.mul_div(debt, ratio, WAD, True)


@internal
@view
def _healthy(vault_id: uint256, collateral: uint256, normalized_debt: uint256, rate: uint256, price: uint256, ratio: uint256, for_liquidation: bool) -> bool:
    """
    @dev The vault's safety: the ratio check, or, for a vault the portfolio-margin
         module owns (MARGIN_FLAG), the module's scenario check of its debt and
         options together. For a liquidation the module also answers True while
         the vault's options must be liquidated through it first.
    """
    if self._vault_meta[vault_id] & MARGIN_FLAG == 0:
        return self._is_safe(collateral, normalized_debt, rate, price, ratio)
    debt: uint256 = fixed_point.mul_div(normalized_debt, rate, RAY, True)
    return staticcall IPortfolioMargin(self.margin_module).vault_healthy(vault_id, collateral, debt, price, ratio, for_liquidation)


@internal
@view
def _check_healthy(vault_id: uint256, collateral: uint256, normalized_debt: uint256, rate: uint256, price: uint256, ratio: uint256):
    assert self._healthy(vault_id, collateral, normalized_debt, rate, price, ratio, False), "engine: vault unsafe"


@internal
@view
def _check_dust(collateral_type: uint256, normalized_debt: uint256, rate: uint256):
    if normalized_debt != 0:
        dust: uint256 = (self._type_limits[collateral_type] >> 96) & MASK_80
        assert normalized_debt * rate >= dust * RAY, "engine: debt below dust"


# ================================================================ token moves
@internal
def _pull_collateral(token: address, payer: address, amount: uint256):
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transferFrom(payer, self, amount, default_return_value=True), "engine: token transfer failed"
    assert staticcall IERC20(token).balanceOf(self) - before == amount, "engine: token fee on transfer"


@internal
def _push_collateral(token: address, receiver: address, amount: uint256):
    assert extcall IERC20(token).transfer(receiver, amount, default_return_value=True), "engine: token transfer failed"


# ================================================================ actions (internal)
@internal
def _deposit(vault_id: uint256, collateral_type: uint256, amount: uint256):
    self._check_amount(amount)
    token: address = empty(address)
    scale: uint256 = 0
    token, scale = self._token(collateral_type)
    position: uint256 = self._vault_position[vault_id]
    collateral: uint256 = (position & MAX_VAULT_COLLATERAL) + amount * scale
    self._vault_position[vault_id] = self._pack_position(collateral, position >> 128)
    self._pull_collateral(token, msg.sender, amount)
    log Deposit(vault_id=vault_id, payer=msg.sender, amount=amount, collateral=collateral)


@internal
def _borrow(vault_id: uint256, collateral_type: uint256, amount: uint256, receiver: address):
    self._check_amount_receiver(amount, receiver)
    rate: uint256 = self._accrue(collateral_type)
    added: uint256 = fixed_point.mul_div(amount, RAY, rate, True)
    position: uint256 = self._vault_position[vault_id]
    collateral: uint256 = position & MAX_VAULT_COLLATERAL
    normalized_debt: uint256 = (position >> 128) + added
    type_debt: uint256 = self.type_normalized_debt[collateral_type] + added
    assert type_debt * rate <= (self._type_limits[collateral_type] & MASK_96) * RAY, "engine: debt ceiling reached"
    self._check_dust(collateral_type, normalized_debt, rate)
    price: uint256 = 0
    ratio: uint256 = 0
    price, ratio = self._price(collateral_type)
    self._check_healthy(vault_id, collateral, normalized_debt, rate, price, ratio)
    self._vault_position[vault_id] = self._pack_position(collateral, normalized_debt)
    self.type_normalized_debt[collateral_type] = type_debt
    # normalised debt rounds up: the ledger gains (added * rate - amount * RAY) RAD
    gain: uint256 = added * rate - amount * RAY
    if gain != 0:
        self.surplus += gain
    extcall IDebtToken(debt_token).mint(receiver, amount)
    log Borrow(vault_id=vault_id, receiver=receiver, amount=amount, normalized_debt=normalized_debt, rate=rate)


# ================================================================ user actions
@external
@nonreentrant
def open_vault(collateral_type: uint256, deposit_amount: uint256, borrow_amount: uint256) -> uint256:
    """
    @notice Open a vault owned by the caller, optionally depositing and borrowing in
            the same transaction.
    @param collateral_type Id of a collateral type.
    @param deposit_amount Collateral to deposit, token units (0 for none).
    @param borrow_amount Debt tokens to borrow to the caller, WAD (0 for none).
    @return The new vault's id.
    """
    self._check_unlocked()
    self._check_type(collateral_type)
    vault_id: uint256 = self.vault_count + 1
    assert vault_id <= MAX_VAULT_ID, "engine: too many vaults"
    self.vault_count = vault_id
    self._vault_meta[vault_id] = self._meta(msg.sender, collateral_type)
    log VaultOpened(vault_id=vault_id, owner=msg.sender, collateral_type=collateral_type)
    if deposit_amount != 0:
        self._deposit(vault_id, collateral_type, deposit_amount)
    if borrow_amount != 0:
        self._borrow(vault_id, collateral_type, borrow_amount, msg.sender)
    return vault_id


@external
@nonreentrant
def deposit(vault_id: uint256, amount: uint256):
    """
    @notice Add `amount` (token units) of collateral to a vault. Anyone may deposit.
    """
    self._check_unlocked()
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    self._deposit(vault_id, collateral_type, amount)


@external
@nonreentrant
def withdraw(vault_id: uint256, amount: uint256, receiver: address):
    """
    @notice Take `amount` (token units) of collateral out of a vault to `receiver`;
            the vault must stay safe. Owner or operator only.
    """
    self._check_unlocked()
    self._check_amount_receiver(amount, receiver)
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    self._check_operator(owner)
    token: address = empty(address)
    scale: uint256 = 0
    token, scale = self._token(collateral_type)
    position: uint256 = self._vault_position[vault_id]
    removed: uint256 = amount * scale
    assert removed <= position & MAX_VAULT_COLLATERAL, "engine: insufficient collateral"
    collateral: uint256 = (position & MAX_VAULT_COLLATERAL) - removed
    normalized_debt: uint256 = position >> 128
    if normalized_debt != 0:
        rate: uint256 = self._accrue(collateral_type)
        price: uint256 = 0
        ratio: uint256 = 0
        price, ratio = self._price(collateral_type)
        self._check_healthy(vault_id, collateral, normalized_debt, rate, price, ratio)
    self._vault_position[vault_id] = collateral | (normalized_debt << 128)
    self._push_collateral(token, receiver, amount)
    log Withdraw(vault_id=vault_id, receiver=receiver, amount=amount, collateral=collateral)


@external
@nonreentrant
def borrow(vault_id: uint256, amount: uint256, receiver: address):
    """
    @notice Mint `amount` (WAD) debt tokens to `receiver` against a vault; the vault
            must stay safe, above dust and under the debt ceiling. Owner or operator.
    """
    self._check_unlocked()
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    self._check_operator(owner)
    self._borrow(vault_id, collateral_type, amount, receiver)


@external
@nonreentrant
def repay(vault_id: uint256, amount: uint256):
    """
    @notice Burn the caller's debt tokens to reduce a vault's debt. Anyone may repay.
    @param amount WAD; max_value(uint256) repays the whole debt (rounded up).
    """
    self._check_unlocked()
    self._check_amount(amount)
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    rate: uint256 = self._accrue(collateral_type)
    position: uint256 = self._vault_position[vault_id]
    normalized_debt: uint256 = position >> 128
    assert normalized_debt != 0, "engine: vault has no debt"
    paid: uint256 = amount
    removed: uint256 = 0
    if amount == max_value(uint256):
        removed = normalized_debt
        paid = fixed_point.mul_div(normalized_debt, rate, RAY, True)
    else:
        # debt reduction rounds down: the payer never repays more debt than it paid for
        removed = fixed_point.mul_div(amount, RAY, rate, False)
        assert removed <= normalized_debt, "engine: repay exceeds debt"
    normalized_debt -= removed
    self._check_dust(collateral_type, normalized_debt, rate)
    self._vault_position[vault_id] = (position & MAX_VAULT_COLLATERAL) | (normalized_debt << 128)
    self.type_normalized_debt[collateral_type] -= removed
    gain: uint256 = paid * RAY - removed * rate
    if gain != 0:
        self.surplus += gain
    extcall IDebtToken(debt_token).burn(msg.sender, paid)
    log Repay(vault_id=vault_id, payer=msg.sender, amount=paid, normalized_debt=normalized_debt, rate=rate)


@external
@nonreentrant
def close(vault_id: uint256, receiver: address):
    """
    @notice Repay all of a vault's debt from the caller's tokens and send all its
            collateral to `receiver`, leaving the vault empty (it stays the
            owner's: an auction of it may still return collateral). Owner or operator.
    @dev Collateral below one token unit (only possible after auction returns)
         stays with the system as tracked dust.
    """
    self._check_unlocked()
    self._check_receiver(receiver)
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    self._check_operator(owner)
    position: uint256 = self._vault_position[vault_id]
    collateral: uint256 = position & MAX_VAULT_COLLATERAL
    normalized_debt: uint256 = position >> 128
    debt: uint256 = 0
    if normalized_debt != 0:
        rate: uint256 = self._accrue(collateral_type)
        debt = fixed_point.mul_div(normalized_debt, rate, RAY, True)
        self.type_normalized_debt[collateral_type] -= normalized_debt
        gain: uint256 = debt * RAY - normalized_debt * rate
        if gain != 0:
            self.surplus += gain
    token: address = empty(address)
    scale: uint256 = 0
    token, scale = self._token(collateral_type)
    payout: uint256 = collateral // scale
    dust: uint256 = collateral - payout * scale
    if dust != 0:
        self.type_collateral_dust[collateral_type] += dust
    self._vault_position[vault_id] = 0
    if debt != 0:
        extcall IDebtToken(debt_token).burn(msg.sender, debt)
    if payout != 0:
        self._push_collateral(token, receiver, payout)
    log VaultClosed(vault_id=vault_id, receiver=receiver, debt_repaid=debt, collateral_returned=payout, collateral_dust=dust)


@external
def transfer_vault(vault_id: uint256, new_owner: address):
    """
    @notice Hand a vault to `new_owner`. Owner only (operators may not).
    """
    self._check_unlocked()
    assert new_owner != empty(address), "engine: zero owner"
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    assert msg.sender == owner, "engine: not vault owner"
    self._vault_meta[vault_id] = self._meta(new_owner, collateral_type)
    log VaultTransferred(vault_id=vault_id, previous_owner=owner, new_owner=new_owner)


@external
def set_operator(operator: address, approved: bool):
    """
    @notice Let `operator` withdraw, borrow and close on all of the caller's vaults.
    """
    assert operator != empty(address), "engine: zero operator"
    self.operators[msg.sender][operator] = approved
    log OperatorSet(owner=msg.sender, operator=operator, approved=approved)


@external
def accrue(collateral_type: uint256) -> uint256:
    """
    @notice Compound the stability fee of a collateral type to now; anyone may call.
    @return The new rate accumulator, RAY.
    """
    self._check_type(collateral_type)
    return self._accrue(collateral_type)


# ================================================================ admin
@external
def add_collateral_type(
    token: address,
    oracle: address,
    liquidation_ratio: uint256,
    debt_ceiling: uint256,
    dust: uint256,
    stability_fee: uint256,
    liquidation_penalty: uint256,
) -> uint256:
    """
    @notice List a new collateral token. ROLE_COLLATERAL_ADMIN.
    @dev The token must report at most 18 decimals, and must not take a fee on
         transfer (checked on every deposit). Rebasing tokens must not be listed.
    @param liquidation_ratio WAD, e.g. 1.5e18 for 150 %.
    @param debt_ceiling WAD, the most debt the type may carry.
    @param dust WAD, the least debt a vault with debt may carry.
    @param stability_fee RAY per second, e.g. 1.000000001547125957863212448e27 (5 %/yr).
    @param liquidation_penalty WAD factor on the debt, e.g. 1.13e18.
    @return The new type's id.
    """
    access_control._check_role(ROLE_COLLATERAL_ADMIN)
    self._check_live()
    assert token != empty(address), "engine: zero token"
    assert self.collateral_type_of_token[token] == 0, "engine: token already listed"
    decimals: uint8 = staticcall IERC20Detailed(token).decimals()
    assert decimals <= MAX_TOKEN_DECIMALS, "engine: token decimals above 18"
    collateral_type: uint256 = self.collateral_type_count + 1
    assert collateral_type <= MAX_COLLATERAL_TYPES, "engine: too many collateral types"
    self.collateral_type_count = collateral_type
    self.collateral_type_of_token[token] = collateral_type
    scale: uint256 = 10 ** convert(MAX_TOKEN_DECIMALS - decimals, uint256)
    self._type_token[collateral_type] = convert(token, uint256) | (scale << 160)
    self._type_accrual[collateral_type] = RAY | (block.timestamp << 208)
    log CollateralTypeAdded(collateral_type=collateral_type, token=token, oracle=oracle, token_decimals=decimals)
    self._set_oracle(collateral_type, oracle)
    self._set_liquidation_ratio(collateral_type, liquidation_ratio)
    self._set_limits(collateral_type, debt_ceiling, dust)
    self._set_stability_fee(collateral_type, stability_fee)
    self._set_liquidation_penalty(collateral_type, liquidation_penalty)
    return collateral_type


@internal
def _set_oracle(collateral_type: uint256, oracle: address):
    assert oracle != empty(address), "engine: zero oracle"
    # the oracle must answer the interface (a stale answer is fine here)
    price: uint256 = 0
    fresh: bool = False
    price, fresh = staticcall IPriceOracle(oracle).peek()
    risk: uint256 = self._type_risk[collateral_type]
    if (risk >> 224) & MASK_16 != 0:
        # a volatility margin is set: the new oracle must serve a volatility too
        sigma: uint256 = staticcall IPriceOracle(oracle).volatility()
    self._type_risk[collateral_type] = (risk & ~MASK_160) | convert(oracle, uint256)
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_ORACLE, value=convert(oracle, uint256))


@internal
def _set_liquidation_ratio(collateral_type: uint256, ratio: uint256):
    assert ratio >= MIN_LIQUIDATION_RATIO and ratio <= MAX_LIQUIDATION_RATIO, "engine: liquidation ratio out of bounds"
    risk: uint256 = self._type_risk[collateral_type]
    self._type_risk[collateral_type] = (risk & ~(MASK_64 << 160)) | (ratio << 160)
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_LIQUIDATION_RATIO, value=ratio)


@internal
def _set_limits(collateral_type: uint256, debt_ceiling: uint256, dust: uint256):
    assert debt_ceiling <= MAX_DEBT_CEILING, "engine: debt ceiling out of bounds"
    assert dust <= MAX_DUST, "engine: dust out of bounds"
    limits: uint256 = self._type_limits[collateral_type]
    self._type_limits[collateral_type] = debt_ceiling | (dust << 96) | ((limits >> 176) << 176)
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_DEBT_CEILING, value=debt_ceiling)
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_DUST, value=dust)


@internal
def _set_stability_fee(collateral_type: uint256, fee: uint256):
    assert fee >= RAY and fee <= MAX_STABILITY_FEE, "engine: stability fee out of bounds"
    limits: uint256 = self._type_limits[collateral_type]
    self._type_limits[collateral_type] = (limits & (2 ** 176 - 1)) | ((fee - RAY) << 176)
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_STABILITY_FEE, value=fee)


@internal
def _set_liquidation_penalty(collateral_type: uint256, penalty: uint256):
    assert penalty >= WAD and penalty <= MAX_LIQUIDATION_PENALTY, "engine: liquidation penalty out of bounds"
    self._type_liquidation[collateral_type] = (self._type_liquidation[collateral_type] & ~MASK_64) | penalty
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_LIQUIDATION_PENALTY, value=penalty)


@external
def set_oracle(collateral_type: uint256, oracle: address):
    """
    @notice Point a collateral type at another price oracle. ROLE_COLLATERAL_ADMIN.
    """
    access_control._check_role(ROLE_COLLATERAL_ADMIN)
    self._check_type(collateral_type)
    self._set_oracle(collateral_type, oracle)


@external
def set_liquidation_ratio(collateral_type: uint256, ratio: uint256):
    """
    @notice Set the collateral ratio (WAD, in (1, 10]) below which a vault is unsafe.
            ROLE_RISK_ADMIN.
    """
    access_control._check_role(ROLE_RISK_ADMIN)
    self._check_type(collateral_type)
    self._set_liquidation_ratio(collateral_type, ratio)


@external
def set_volatility_margin(collateral_type: uint256, k_bps: uint256, cap_bps: uint256):
    """
    @notice Make the required ratio rise with the oracle's volatility:
            required = liquidation_ratio + min(k * sigma, cap). k and cap in bps
            (k <= 50,000 i.e. 5; cap <= 50,000 i.e. +500 percentage points);
            k = 0 keeps the ratio static. ROLE_RISK_ADMIN.
    """
    access_control._check_role(ROLE_RISK_ADMIN)
    self._check_type(collateral_type)
    assert k_bps <= MAX_VOLATILITY_K_BPS and cap_bps <= MAX_VOLATILITY_CAP_BPS, "engine: volatility margin out of bounds"
    risk: uint256 = self._type_risk[collateral_type]
    self._type_risk[collateral_type] = (risk & (2 ** 224 - 1)) | (k_bps << 224) | (cap_bps << 240)
    if k_bps != 0:
        # the oracle must serve a volatility
        sigma: uint256 = staticcall IPriceOracle(convert(convert(risk & MASK_160, uint160), address)).volatility()
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_VOLATILITY_K_BPS, value=k_bps)
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_VOLATILITY_CAP_BPS, value=cap_bps)


@external
def set_debt_limits(collateral_type: uint256, debt_ceiling: uint256, dust: uint256):
    """
    @notice Set the type's debt ceiling (WAD, below 2**96) and per-vault dust (WAD,
            below 2**80).
            ROLE_RISK_ADMIN.
    """
    access_control._check_role(ROLE_RISK_ADMIN)
    self._check_type(collateral_type)
    self._set_limits(collateral_type, debt_ceiling, dust)


@external
def set_liquidation_penalty(collateral_type: uint256, penalty: uint256):
    """
    @notice Set the liquidation penalty factor (WAD, in [1, 1.5]). ROLE_RISK_ADMIN.
    """
    access_control._check_role(ROLE_RISK_ADMIN)
    self._check_type(collateral_type)
    self._set_liquidation_penalty(collateral_type, penalty)


@external
def set_stability_fee(collateral_type: uint256, fee: uint256):
    """
    @notice Set the per-second fee factor (RAY, in [1, MAX_STABILITY_FEE]); fees
            accrued so far are charged at the old fee first. ROLE_FEE_ADMIN.
    """
    access_control._check_role(ROLE_FEE_ADMIN)
    self._check_type(collateral_type)
    self._accrue(collateral_type)
    self._set_stability_fee(collateral_type, fee)


@external
def withdraw_surplus(receiver: address, amount: uint256):
    """
    @notice Mint `amount` (WAD) debt tokens out of the surplus. ROLE_TREASURY.
    """
    access_control._check_role(ROLE_TREASURY)
    self._check_live()
    self._check_amount_receiver(amount, receiver)
    surplus: uint256 = self.surplus
    # bad debt is paid out of the surplus first
    assert amount * RAY + self.bad_debt <= surplus, "engine: surplus too small"
    self.surplus = surplus - amount * RAY
    extcall IDebtToken(debt_token).mint(receiver, amount)
    log SurplusWithdrawn(receiver=receiver, amount=amount)


# ================================================================ liquidation (modules only)
@internal
@view
def _check_unlocked():
    assert not self._auction_lock, "engine: locked during auction callback"


@external
def seize(vault_id: uint256, global_limit: uint256) -> (uint256, uint256, uint256, uint256, uint256):
    """
    @notice Move an unsafe vault's collateral and debt into liquidation: as much
            debt as fits under the type's cap and `global_limit` (WAD of vault
            debt in auction over all types), with the collateral pro rata, never
            leaving a remainder below dust. ROLE_LIQUIDATOR.
    @dev The vault must be unsafe at a fresh price. The debt taken, rounded up to
         whole WAD (the rounding goes to the surplus), and the collateral move to
         the type's auction totals.
    @return (collateral type, collateral WAD, debt WAD, price WAD,
             target WAD = debt * penalty rounded up)
    """
    access_control._check_role(ROLE_LIQUIDATOR)
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    rate: uint256 = self._accrue(collateral_type)
    position: uint256 = self._vault_position[vault_id]
    collateral: uint256 = position & MAX_VAULT_COLLATERAL
    normalized_debt: uint256 = position >> 128
    price: uint256 = 0
    ratio: uint256 = 0
    price, ratio = self._price(collateral_type)
    assert not self._healthy(vault_id, collateral, normalized_debt, rate, price, ratio, True), "engine: vault safe"
    # room under both caps on vault debt in auction
    liquidation: uint256 = self._type_liquidation[collateral_type]
    in_auction: uint256 = self._type_auction[collateral_type]
    type_limit: uint256 = liquidation >> 64
    total: uint256 = self._total_debt_in_auction()
    assert type_limit > in_auction >> 128, "engine: type auction limit reached"
    assert global_limit > total, "engine: global auction limit reached"
    max_debt: uint256 = min(type_limit - (in_auction >> 128), global_limit - total)
    taken: uint256 = min(normalized_debt, fixed_point.mul_div(max_debt, RAY, rate, False))
    if taken < normalized_debt:
        dust: uint256 = (self._type_limits[collateral_type] >> 96) & MASK_80
        if (normalized_debt - taken) * rate < dust * RAY:
            # leave exactly the dust rather than less
            keep: uint256 = fixed_point.mul_div(dust, RAY, rate, True)
            assert normalized_debt > keep, "engine: liquidation would leave dust"
            taken = normalized_debt - keep
        # a part below dust would be a lot too small to sell that still earns a
        # full keeper reward (a few wei of room freed by a take, farmed): wait
        # for room under the caps instead
        assert taken * rate >= dust * RAY, "engine: auction room below dust"
    assert taken != 0, "engine: nothing to liquidate"
    seized: uint256 = collateral
    if taken < normalized_debt:
        # rounds up: the auction backs the debt it takes on with at least its share
        seized = fixed_point.mul_div(collateral, taken, normalized_debt, True)
    position = (collateral - seized) | ((normalized_debt - taken) << 128)
    if position == 0:
        position = SEIZED_FLAG
    self._vault_position[vault_id] = position
    self.type_normalized_debt[collateral_type] -= taken
    # the auction keeps debt in whole WAD: rounded up (so at most max_debt, as
    # taken * rate <= max_debt * RAY), the rounding credited to the surplus so
    # that the ledger stays exact
    debt: uint256 = fixed_point.mul_div(taken, rate, RAY, True)
    if debt * RAY != taken * rate:
        self.surplus += debt * RAY - taken * rate
    self._type_auction[collateral_type] = self._pack_auction((in_auction & MASK_128) + seized, (in_auction >> 128) + debt)
    log Seized(vault_id=vault_id, collateral=seized, normalized_debt=taken)
    target: uint256 = fixed_point.mul_div(debt, liquidation & MASK_64, WAD, True)
    return collateral_type, seized, debt, price, target


@internal
@pure
def _pack_auction(collateral: uint256, debt: uint256) -> uint256:
    assert collateral <= MAX_UINT128 and debt <= MAX_UINT128, "engine: auction totals overflow"
    return collateral | (debt << 128)


@internal
def _auction_remove(collateral_type: uint256, collateral: uint256, debt: uint256):
    """
    @dev Take collateral and debt (both WAD) off a type's auction totals.
    """
    in_auction: uint256 = self._type_auction[collateral_type]
    # checked subtractions: neither field can borrow from the other
    self._type_auction[collateral_type] = ((in_auction & MASK_128) - collateral) | (((in_auction >> 128) - debt) << 128)


@internal
def _return_to_vault(vault_id: uint256, collateral_type: uint256, amount: uint256):
    """
    @dev Put `amount` (WAD) of collateral back into a vault. Should the vault's
         collateral have grown meanwhile to where it would overflow, pay it to
         the vault's owner instead.
    """
    position: uint256 = self._vault_position[vault_id]
    collateral: uint256 = (position & MAX_VAULT_COLLATERAL) + amount
    if collateral <= MAX_VAULT_COLLATERAL:
        self._vault_position[vault_id] = collateral | ((position >> 128) << 128)
        log AuctionReturned(vault_id=vault_id, collateral_type=collateral_type, amount=amount, collateral=collateral)
    else:
        owner: address = convert(convert(self._vault_meta[vault_id] & MASK_160, uint160), address)
        self._pay_out(collateral_type, owner, amount)
        log AuctionReturnedToOwner(vault_id=vault_id, owner=owner, amount=amount)


@internal
def _pay_out(collateral_type: uint256, receiver: address, amount: uint256) -> (uint256, uint256):
    """
    @dev Send `amount` WAD of collateral, rounded down to token units; the
         remainder becomes tracked dust. Returns (token units paid, WAD dust).
    """
    token: address = empty(address)
    scale: uint256 = 0
    token, scale = self._token(collateral_type)
    payout: uint256 = amount // scale
    dust: uint256 = amount - payout * scale
    if dust != 0:
        self.type_collateral_dust[collateral_type] += dust
    if payout != 0:
        self._push_collateral(token, receiver, payout)
    return payout, dust


@internal
def _auction_settle(collateral_type: uint256, payer: address, owe: uint256, covered: uint256, vault_id: uint256, returned: uint256, bad_debt: uint256):
    """
    @dev The books of a take: `owe` (WAD) debt tokens burned from `payer`, of
         which `covered` (WAD) pays auctioned debt and the rest is penalty for
         the surplus; when the lot ends, `returned` (WAD) collateral goes back
         into vault `vault_id` and `bad_debt` (WAD) uncovered debt is recorded.
    """
    assert covered <= owe, "engine: payment below debt"
    self._auction_remove(collateral_type, returned, covered + bad_debt)
    if owe != covered:
        self.surplus += (owe - covered) * RAY
    if bad_debt != 0:
        total_bad_debt: uint256 = self.bad_debt + bad_debt * RAY
        self.bad_debt = total_bad_debt
        log BadDebtRecorded(debt=bad_debt * RAY, bad_debt=total_bad_debt)
    if returned != 0:
        self._return_to_vault(vault_id, collateral_type, returned)
    extcall IDebtToken(debt_token).burn(payer, owe)


@external
@nonreentrant
def auction_take(collateral_type: uint256, receiver: address, amount: uint256, payer: address, owe: uint256, covered: uint256, vault_id: uint256, returned: uint256, bad_debt: uint256):
    """
    @notice A take without a callback: pay `amount` (WAD) of auctioned collateral
            to `receiver` (rounded down to token units, the rest kept as dust),
            burn `owe` (WAD) debt tokens from `payer` (`covered` of it auctioned
            debt, the rest penalty); when the lot ends, `returned` (WAD) goes back
            into vault `vault_id` and `bad_debt` (WAD) is recorded. ROLE_AUCTION.
    @dev Emits nothing for the take itself: the auction's `Take` event carries
         every number (docs/LIQUIDATION.md, "Events").
    """
    access_control._check_role(ROLE_AUCTION)
    self._auction_remove(collateral_type, amount, 0)
    self._auction_settle(collateral_type, payer, owe, covered, vault_id, returned, bad_debt)
    self._pay_out(collateral_type, receiver, amount)


@external
@nonreentrant
def auction_release(collateral_type: uint256, receiver: address, amount: uint256):
    """
    @notice Pay `amount` (WAD) of auctioned collateral to `receiver` before a
            flash-take callback, rounded down to token units. ROLE_AUCTION.
    """
    access_control._check_role(ROLE_AUCTION)
    self._auction_remove(collateral_type, amount, 0)
    self._pay_out(collateral_type, receiver, amount)


@external
@nonreentrant
def auction_payment(collateral_type: uint256, payer: address, owe: uint256, covered: uint256, vault_id: uint256, returned: uint256, bad_debt: uint256):
    """
    @notice The payment after a flash-take callback: as `auction_take` without
            the collateral. ROLE_AUCTION.
    """
    access_control._check_role(ROLE_AUCTION)
    self._auction_settle(collateral_type, payer, owe, covered, vault_id, returned, bad_debt)


@external
def mint_incentive(receiver: address, amount: uint256):
    """
    @notice Mint a keeper incentive (WAD), recorded as bad debt until the surplus
            cancels it (`settle_bad_debt`). ROLE_LIQUIDATOR or ROLE_AUCTION.
    """
    assert access_control.roles[msg.sender] & (ROLE_LIQUIDATOR | ROLE_AUCTION) != 0, "access: missing role"
    # no shutdown check here (it would cost every liquidation a cold read): after
    # shutdown neither caller can get this far, as seize reverts and the auction is stopped
    if amount == 0:
        return
    self.bad_debt += amount * RAY
    extcall IDebtToken(debt_token).mint(receiver, amount)
    log IncentivePaid(receiver=receiver, amount=amount)


@external
def set_auction_limit(collateral_type: uint256, limit: uint256):
    """
    @notice The most vault debt (WAD, below 2**95) a type may have in auction at
            once; `seize` enforces it. ROLE_LIQUIDATOR (the Liquidator's admin
            setter forwards here).
    """
    access_control._check_role(ROLE_LIQUIDATOR)
    self._check_type(collateral_type)
    assert limit < 2 ** 95, "engine: auction limit out of bounds"
    self._type_liquidation[collateral_type] = (self._type_liquidation[collateral_type] & MASK_64) | (limit << 64)
    log CollateralParameterSet(collateral_type=collateral_type, parameter=PARAM_AUCTION_LIMIT, value=limit)


@external
def set_margin_module(module: address):
    """
    @notice The portfolio-margin module (PortfolioMargin): vaults it owns are
            margined by its check of their debt and options together.
            ROLE_RISK_ADMIN. Set it before the module holds vaults: changing it
            returns the vaults the old one holds to the ratio check.
    """
    access_control._check_role(ROLE_RISK_ADMIN)
    self.margin_module = module
    log MarginModuleSet(module=module)


@external
def set_auction_lock(locked: bool):
    """
    @notice Refuse every vault action while a flash-take callback runs. ROLE_AUCTION.
    """
    access_control._check_role(ROLE_AUCTION)
    self._auction_lock = locked


@external
def settle_bad_debt() -> uint256:
    """
    @notice Cancel bad debt against the surplus, one for one; anyone may call.
    @return The amount cancelled, RAD.
    """
    settled: uint256 = min(self.surplus, self.bad_debt)
    if settled != 0:
        self.surplus -= settled
        self.bad_debt -= settled
        log BadDebtSettled(amount=settled, surplus=self.surplus, bad_debt=self.bad_debt)
    return settled


# ================================================================ shutdown (GlobalSettlement only)
@internal
@view
def _check_shut_down():
    assert self.shutdown_at != 0, "engine: not shut down"


@internal
@view
def _check_live():
    assert self.shutdown_at == 0, "engine: shut down"


@internal
@pure
def _collateral_for(debt: uint256, price: uint256) -> uint256:
    """
    @dev Collateral (WAD) worth `debt` (RAD) at `price` (WAD per whole unit),
         rounded up: the settled debtor never gives up less than it owes.
    """
    return fixed_point.mul_div(debt, 1, price * 10 ** 9, True)


@external
def shutdown():
    """
    @notice Shut the system down for global settlement: accrue every type's fee
            to now, then freeze the rates. From here on nothing may borrow,
            repay, liquidate, add types, mint incentives or withdraw surplus;
            vaults without debt may still withdraw and close. ROLE_SETTLEMENT.
    """
    access_control._check_role(ROLE_SETTLEMENT)
    self._check_live()
    count: uint256 = self.collateral_type_count
    for collateral_type: uint256 in range(1, MAX_COLLATERAL_TYPES + 1):
        if collateral_type > count:
            break
        rate: uint256 = self._accrue(collateral_type)
        self._type_accrual[collateral_type] = rate | (FROZEN << 208)
    self.shutdown_at = block.timestamp
    log Shutdown(timestamp=block.timestamp)


@external
def settle_vault(vault_id: uint256, price: uint256) -> (uint256, uint256):
    """
    @notice Settle a vault's debt at the frozen `price` (WAD): collateral worth
            the debt (rounded up, at most all of it) moves to the redemption pool,
            the debt to `settled_debt`; the rest stays the owner's to withdraw.
            ROLE_SETTLEMENT, after shutdown.
    @return (collateral moved WAD, shortfall WAD: what the debt needed beyond it)
    """
    access_control._check_role(ROLE_SETTLEMENT)
    self._check_shut_down()
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    position: uint256 = self._vault_position[vault_id]
    collateral: uint256 = position & MAX_VAULT_COLLATERAL
    normalized_debt: uint256 = position >> 128
    assert normalized_debt != 0, "engine: vault has no debt"
    debt: uint256 = normalized_debt * (self._type_accrual[collateral_type] & MASK_208)
    owed: uint256 = self._collateral_for(debt, price)
    taken: uint256 = min(owed, collateral)
    self._vault_position[vault_id] = collateral - taken
    self.type_normalized_debt[collateral_type] -= normalized_debt
    self.settled_debt += debt
    self.type_collateral_settled[collateral_type] += taken
    log VaultSettled(vault_id=vault_id, collateral_type=collateral_type, collateral=taken, debt=debt, shortfall=owed - taken)
    return taken, owed - taken


@external
def settle_lot(collateral_type: uint256, vault_id: uint256, lot: uint256, debt: uint256, price: uint256) -> (uint256, uint256):
    """
    @notice Settle a cancelled auction lot at the frozen `price` (WAD): collateral
            worth its remaining vault debt `debt` (WAD; the penalty is dropped)
            moves to the redemption pool, the rest of `lot` (WAD) goes back into
            vault `vault_id`. ROLE_SETTLEMENT, after shutdown.
    @return (collateral moved WAD, shortfall WAD)
    """
    access_control._check_role(ROLE_SETTLEMENT)
    self._check_shut_down()
    owed: uint256 = self._collateral_for(debt * RAY, price)
    taken: uint256 = min(owed, lot)
    self._auction_remove(collateral_type, lot, debt)
    self.settled_debt += debt * RAY
    self.type_collateral_settled[collateral_type] += taken
    if lot != taken:
        self._return_to_vault(vault_id, collateral_type, lot - taken)
    log LotSettled(collateral_type=collateral_type, vault_id=vault_id, collateral=taken, returned=lot - taken, debt=debt, shortfall=owed - taken)
    return taken, owed - taken


@external
def settlement_release(collateral_type: uint256, receiver: address, amount: uint256):
    """
    @notice Pay `amount` (WAD) out of a type's redemption pool to `receiver`,
            rounded down to token units. ROLE_SETTLEMENT.
    """
    access_control._check_role(ROLE_SETTLEMENT)
    self.type_collateral_settled[collateral_type] -= amount
    payout: uint256 = 0
    dust: uint256 = 0
    payout, dust = self._pay_out(collateral_type, receiver, amount)
    log SettlementCollateralReleased(collateral_type=collateral_type, receiver=receiver, amount=payout, dust=dust)


@external
@view
def fresh_price(collateral_type: uint256) -> uint256:
    """
    @notice The oracle's current price (WAD); reverts when stale or zero.
    """
    # a listed type's risk slot is never zero (it holds the oracle): one read checks both
    risk: uint256 = self._type_risk[collateral_type]
    assert risk != 0, "engine: unknown collateral type"
    return self._peek(risk)


# ================================================================ views
@external
@view
def current_rate(collateral_type: uint256) -> uint256:
    """
    @notice The rate accumulator as `accrue` would set it now, RAY.
    """
    self._check_type(collateral_type)
    stored: uint256 = 0
    rate: uint256 = 0
    last: uint256 = 0
    stored, rate, last = self._rate_now(collateral_type)
    return rate


@external
@view
def required_ratio(collateral_type: uint256) -> (uint256, uint256, uint256):
    """
    @notice (base ratio, volatility add-on, total) in WAD: a vault is safe while
            collateral value >= debt * total.
    """
    self._check_type(collateral_type)
    base: uint256 = 0
    extra: uint256 = 0
    base, extra = self._ratio_parts(self._type_risk[collateral_type])
    return base, extra, base + extra


@external
@view
def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256):
    """
    @notice A collateral type's storage as packed words, for VaultLens (which
            unpacks them into `collateral_type_info`) and the other modules.
    @return (token: token address bits 0-159 | 10 ** (18 - decimals) bits 160-255,
             risk: oracle bits 0-159 | base ratio WAD bits 160-223 | volatility
                   k bps bits 224-239 | volatility cap bps bits 240-255,
             limits: debt ceiling WAD bits 0-95 | dust WAD bits 96-175 |
                   stability fee - RAY bits 176-255,
             accrual: rate RAY bits 0-207 | last accrual unix s bits 208-255,
             liquidation: penalty WAD bits 0-63 | auction limit WAD bits 64-159,
             normalised debt WAD, collateral dust WAD)
    """
    self._check_type(collateral_type)
    return (
        self._type_token[collateral_type],
        self._type_risk[collateral_type],
        self._type_limits[collateral_type],
        self._type_accrual[collateral_type],
        self._type_liquidation[collateral_type],
        self.type_normalized_debt[collateral_type],
        self.type_collateral_dust[collateral_type],
    )


@internal
@view
def _total_debt_in_auction() -> uint256:
    """
    @dev Vault debt awaiting auction proceeds over every type, WAD.
    """
    total: uint256 = 0
    count: uint256 = self.collateral_type_count
    for collateral_type: uint256 in range(1, MAX_COLLATERAL_TYPES + 1):
        if collateral_type > count:
            break
        total += self._type_auction[collateral_type] >> 128
    return total


@external
@view
def debt_in_auction() -> uint256:
    """
    @notice Vault debt seized into auctions and not yet covered, all types, RAD.
    """
    return self._total_debt_in_auction() * RAY


@external
@view
def type_collateral_in_auction(collateral_type: uint256) -> uint256:
    """
    @notice Collateral held for a type's running auction lots, WAD.
    """
    return self._type_auction[collateral_type] & MASK_128


@external
@view
def type_debt_in_auction(collateral_type: uint256) -> uint256:
    """
    @notice Vault debt in a type's running auction lots, not yet covered, WAD.
    """
    return self._type_auction[collateral_type] >> 128


@external
@view
def vault_state(vault_id: uint256) -> (uint256, uint256, uint256, uint256, uint256, address, uint256):
    """
    @notice What a margin check needs of a vault, in one call: (collateral type,
            collateral WAD, debt WAD at the rate to now rounded up, price WAD (reverts
            when stale or zero), required ratio WAD, oracle, 10 ** (18 - token decimals)).
    """
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    position: uint256 = self._vault_position[vault_id]
    stored: uint256 = 0
    rate: uint256 = 0
    last: uint256 = 0
    stored, rate, last = self._rate_now(collateral_type)
    risk: uint256 = self._type_risk[collateral_type]
    return (
        collateral_type,
        position & MAX_VAULT_COLLATERAL,
        fixed_point.mul_div(position >> 128, rate, RAY, True),
        self._peek(risk),
        self._required_ratio(risk),
        convert(convert(risk & MASK_160, uint160), address),
        self._type_token[collateral_type] >> 160,
    )


@external
@view
def vault_position(vault_id: uint256) -> (address, uint256, uint256, uint256):
    """
    @notice (owner, collateral type, collateral WAD, normalised debt WAD) as stored.
    """
    owner: address = empty(address)
    collateral_type: uint256 = 0
    owner, collateral_type = self._vault(vault_id)
    position: uint256 = self._vault_position[vault_id]
    return owner, collateral_type, position & MAX_VAULT_COLLATERAL, position >> 128

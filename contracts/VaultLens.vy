# pragma version ~=0.4.3
"""
@title VaultLens
@notice Read-only views of vaults and collateral types for keepers, front ends
        and indexers: a vault's debt to now, collateral value, ratio, borrowing
        headroom and safety, one vault at a time or up to 100 in one call; a
        collateral type's parameters and totals, unpacked.
@dev Holds no state and no roles; it only reads the VaultEngine and the
     oracles. It lives outside the engine so that the engine's bytecode stays
     well under the 24,576-byte limit. Every number rounds as the engine's own
     checks do (debt up, value down), so `max_borrow` is what a borrow accepts.
"""

from .modules import fixed_point


interface IVaultEngine:
    def vault_position(vault_id: uint256) -> (address, uint256, uint256, uint256): view
    def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256): view
    def current_rate(collateral_type: uint256) -> uint256: view
    def required_ratio(collateral_type: uint256) -> (uint256, uint256, uint256): view
    def shutdown_at() -> uint256: view
    def margin_module() -> address: view


interface IPortfolioMargin:
    def vault_healthy(vault_id: uint256, collateral: uint256, debt: uint256, price: uint256, ratio: uint256, for_liquidation: bool) -> bool: view


interface IPriceOracle:
    def peek() -> (uint256, bool): view  # (price WAD, fresh)


struct CollateralTypeInfo:
    token: address
    oracle: address
    token_scale: uint256  # 10 ** (18 - token decimals)
    liquidation_ratio: uint256  # WAD, the base (static) part
    volatility_k_bps: uint256  # required ratio adds k * sigma (k in bps)
    volatility_cap_bps: uint256  # ... capped at this many bps of ratio
    debt_ceiling: uint256  # WAD
    dust: uint256  # WAD
    stability_fee: uint256  # RAY per second
    liquidation_penalty: uint256  # WAD factor
    rate: uint256  # RAY, as stored
    last_accrual: uint256  # unix seconds
    normalized_debt: uint256  # WAD
    debt: uint256  # WAD, at the current rate, rounded up
    collateral_dust: uint256  # WAD
    auction_limit: uint256  # WAD, most vault debt in auction at once (the Liquidator's cap)


struct VaultInfo:
    vault_id: uint256
    owner: address
    collateral_type: uint256
    collateral: uint256  # WAD
    normalized_debt: uint256  # WAD
    debt: uint256  # WAD with fees to now, rounded up
    collateral_value: uint256  # WAD at the oracle price, rounded down
    collateral_ratio: uint256  # WAD; max_value(uint256) when debt is zero
    max_borrow: uint256  # WAD more debt the vault could take now
    safe: bool  # for a portfolio-margin account: the margin module's answer
    price_fresh: bool


# what a vault's figures need from its collateral type, read once per type per call
struct TypeView:
    rate: uint256  # RAY, to now, rounded up
    ratio: uint256  # WAD, the required ratio with the volatility add-on
    price: uint256  # WAD, the oracle's current answer (even when stale)
    fresh: bool
    debt_ceiling: uint256  # WAD
    dust: uint256  # WAD
    type_normalized_debt: uint256  # WAD


WAD: constant(uint256) = fixed_point.WAD
RAY: constant(uint256) = fixed_point.RAY
MAX_BATCH: constant(uint256) = 100
MASK_16: constant(uint256) = 2 ** 16 - 1
MASK_64: constant(uint256) = 2 ** 64 - 1
MASK_80: constant(uint256) = 2 ** 80 - 1
MASK_96: constant(uint256) = 2 ** 96 - 1
MASK_160: constant(uint256) = 2 ** 160 - 1
MASK_208: constant(uint256) = 2 ** 208 - 1

# the VaultEngine this lens reads
engine: public(immutable(address))


@deploy
def __init__(engine_address: address):
    """
    @param engine_address The VaultEngine to read.
    """
    assert engine_address != empty(address), "lens: zero engine"
    engine = engine_address


@internal
@view
def _collateral_type_info(collateral_type: uint256) -> CollateralTypeInfo:
    token: uint256 = 0
    risk: uint256 = 0
    limits: uint256 = 0
    accrual: uint256 = 0
    penalty: uint256 = 0
    normalized_debt: uint256 = 0
    collateral_dust: uint256 = 0
    token, risk, limits, accrual, penalty, normalized_debt, collateral_dust = staticcall IVaultEngine(engine).collateral_type_words(collateral_type)
    return CollateralTypeInfo(
        token=convert(convert(token & MASK_160, uint160), address),
        oracle=convert(convert(risk & MASK_160, uint160), address),
        token_scale=token >> 160,
        liquidation_ratio=(risk >> 160) & MASK_64,
        volatility_k_bps=(risk >> 224) & MASK_16,
        volatility_cap_bps=risk >> 240,
        debt_ceiling=limits & MASK_96,
        dust=(limits >> 96) & MASK_80,
        stability_fee=RAY + (limits >> 176),
        liquidation_penalty=penalty & MASK_64,
        rate=accrual & MASK_208,
        last_accrual=accrual >> 208,
        normalized_debt=normalized_debt,
        debt=fixed_point.mul_div(normalized_debt, staticcall IVaultEngine(engine).current_rate(collateral_type), RAY, True),
        collateral_dust=collateral_dust,
        auction_limit=penalty >> 64,
    )


@external
@view
def collateral_type_info(collateral_type: uint256) -> CollateralTypeInfo:
    """
    @notice Every parameter and total of a collateral type, unpacked from the
            engine's words; `debt` is at the rate to now, rounded up.
    """
    return self._collateral_type_info(collateral_type)


@internal
@view
def _type_view(collateral_type: uint256) -> TypeView:
    info: CollateralTypeInfo = self._collateral_type_info(collateral_type)
    base: uint256 = 0
    extra: uint256 = 0
    total: uint256 = 0
    base, extra, total = staticcall IVaultEngine(engine).required_ratio(collateral_type)
    price: uint256 = 0
    fresh: bool = False
    price, fresh = staticcall IPriceOracle(info.oracle).peek()
    return TypeView(
        rate=staticcall IVaultEngine(engine).current_rate(collateral_type),
        ratio=total,
        price=price,
        fresh=fresh and price != 0,
        debt_ceiling=info.debt_ceiling,
        dust=info.dust,
        type_normalized_debt=info.normalized_debt,
    )


@internal
@view
def _info(vault_id: uint256, owner: address, collateral_type: uint256, collateral: uint256, normalized_debt: uint256, t: TypeView) -> VaultInfo:
    debt: uint256 = fixed_point.mul_div(normalized_debt, t.rate, RAY, True)
    value: uint256 = fixed_point.mul_div(collateral, t.price, WAD, False)
    collateral_ratio: uint256 = max_value(uint256)
    if debt != 0:
        collateral_ratio = fixed_point.mul_div(value, WAD, debt, False)
    # the most normalised debt the collateral and the ceiling allow, each rounded
    # down, so that borrowing exactly `max_borrow` now passes every engine check
    max_borrow: uint256 = 0
    if t.fresh:
        vault_cap: uint256 = fixed_point.mul_div(fixed_point.mul_div(value, WAD, t.ratio, False), RAY, t.rate, False)
        type_cap: uint256 = fixed_point.mul_div(t.debt_ceiling, RAY, t.rate, False)
        if vault_cap > normalized_debt and type_cap > t.type_normalized_debt:
            room: uint256 = min(vault_cap - normalized_debt, type_cap - t.type_normalized_debt)
            max_borrow = fixed_point.mul_div(room, t.rate, RAY, False)
            # a vault without debt must borrow at least the dust
            if normalized_debt == 0 and max_borrow < t.dust:
                max_borrow = 0
    # safe: collateral value (rounded down) covers debt * ratio (rounded up)
    safe: bool = normalized_debt == 0 or value >= fixed_point.mul_div(debt, t.ratio, WAD, True)
    margin_module: address = staticcall IVaultEngine(engine).margin_module()
    if owner == margin_module and owner != empty(address):
        # a portfolio-margin account: the module's check, as the engine asks it (True
        # while the Liquidator must leave it alone); it borrows through the module
        max_borrow = 0
        safe = staticcall IPortfolioMargin(owner).vault_healthy(vault_id, collateral, debt, t.price, t.ratio, True)
    return VaultInfo(
        vault_id=vault_id,
        owner=owner,
        collateral_type=collateral_type,
        collateral=collateral,
        normalized_debt=normalized_debt,
        debt=debt,
        collateral_value=value,
        collateral_ratio=collateral_ratio,
        max_borrow=max_borrow,
        safe=safe,
        price_fresh=t.fresh,
    )


@internal
@view
def _position(vault_id: uint256) -> (bool, address, uint256, uint256, uint256):
    """
    @dev (open, owner, collateral type, collateral, normalised debt); never reverts.
    """
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
        return False, empty(address), 0, 0, 0
    owner: address = empty(address)
    collateral_type: uint256 = 0
    collateral: uint256 = 0
    normalized_debt: uint256 = 0
    owner, collateral_type, collateral, normalized_debt = abi_decode(response, (address, uint256, uint256, uint256))
    return True, owner, collateral_type, collateral, normalized_debt


@external
@view
def is_liquidatable(vault_id: uint256) -> bool:
    """
    @notice Whether the Liquidator would accept the vault now: it is open, owes
            debt, its price is fresh, it is unsafe at the rate to now, and the
            system is not shut down. Never reverts.
    """
    ok: bool = False
    owner: address = empty(address)
    collateral_type: uint256 = 0
    collateral: uint256 = 0
    normalized_debt: uint256 = 0
    ok, owner, collateral_type, collateral, normalized_debt = self._position(vault_id)
    if not ok or normalized_debt == 0:
        return False
    if staticcall IVaultEngine(engine).shutdown_at() != 0:
        return False
    t: TypeView = self._type_view(collateral_type)
    if not t.fresh:
        return False
    return not self._info(vault_id, owner, collateral_type, collateral, normalized_debt, t).safe


@external
@view
def vault_info(vault_id: uint256) -> VaultInfo:
    """
    @notice A vault's owner, collateral, debt to now, ratio, headroom and safety.
    @dev Reverts "engine: unknown vault" for an id that is not open. `safe` uses
         the oracle's current answer even when it is stale (see `price_fresh`).
    """
    owner: address = empty(address)
    collateral_type: uint256 = 0
    collateral: uint256 = 0
    normalized_debt: uint256 = 0
    owner, collateral_type, collateral, normalized_debt = staticcall IVaultEngine(engine).vault_position(vault_id)
    return self._info(vault_id, owner, collateral_type, collateral, normalized_debt, self._type_view(collateral_type))


@external
@view
def vaults_info(vault_ids: DynArray[uint256, MAX_BATCH]) -> DynArray[VaultInfo, MAX_BATCH]:
    """
    @notice `vault_info` for up to 100 vaults in one call.
    @dev An unknown id (never opened) does not revert the batch: its entry has only
         `vault_id` set (owner is the zero address). A collateral type's figures
         are read once per run of consecutive vaults of that type.
    """
    result: DynArray[VaultInfo, MAX_BATCH] = []
    cached_type: uint256 = 0
    t: TypeView = empty(TypeView)
    for vault_id: uint256 in vault_ids:
        ok: bool = False
        owner: address = empty(address)
        collateral_type: uint256 = 0
        collateral: uint256 = 0
        normalized_debt: uint256 = 0
        ok, owner, collateral_type, collateral, normalized_debt = self._position(vault_id)
        if not ok:
            result.append(empty(VaultInfo))
            result[len(result) - 1].vault_id = vault_id
            continue
        if collateral_type != cached_type:
            t = self._type_view(collateral_type)
            cached_type = collateral_type
        result.append(self._info(vault_id, owner, collateral_type, collateral, normalized_debt, t))
    return result

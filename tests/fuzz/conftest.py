"""Fixtures for the stateful fuzz suite: one system with three collateral types
(18, 8 and 6 decimals), three borrowers, a reporter and a keeper, with the whole
liquidation layer (Liquidator, DutchAuction, FlashTaker) and global settlement
wired in, plus a read-only probe that reads every number the invariants need in
one call."""

import gc

import pytest
from brownie import compile_source

WAD = 10**18
RAY = 10**27
MAX_UINT256 = 2**256 - 1
FEE_5_PCT = 1000000001547125957863212448  # RAY per second, about 5 %/yr
MAX_AGE = 3600  # seconds

CURVE_LINEAR = 1
CURVE_EXPONENTIAL = 2
# (kind, buf, tau, step, cut, tail, cusp): the unit suite's LINEAR_CURVE and
# EXPONENTIAL_CURVE, and a steeper exponential one with a shorter tail (buf and cusp in
# whole bps, the fields a kind does not use 0, as the auction requires)
LINEAR_CURVE = (CURVE_LINEAR, 12 * WAD // 10, 3600, 0, 0, 7200, WAD // 2)
EXPONENTIAL_CURVE = (CURVE_EXPONENTIAL, 12 * WAD // 10, 0, 60, 99 * RAY // 100, 7200, WAD // 2)
STEEP_CURVE = (CURVE_EXPONENTIAL, 11 * WAD // 10, 0, 30, 97 * RAY // 100, 3600, 4 * WAD // 10)

COLLATERALS = [
    # symbol, decimals, initial price (WAD), debt ceiling (WAD), auction curve, auction limit
    # (WAD of vault debt in auction)
    ("WETH", 18, 2_000 * WAD, 50_000_000 * WAD, LINEAR_CURVE, 50_000_000 * WAD),
    # a type limit below the largest vaults' debt: big WBTC vaults are liquidated in parts
    ("WBTC", 8, 30_000 * WAD, 50_000_000 * WAD, EXPONENTIAL_CURVE, 5_000_000 * WAD),
    # the keeper's vault borrows here, hence the high ceiling
    ("USDC", 6, 1 * WAD, 10**10 * WAD, STEEP_CURVE, 50_000_000 * WAD),
]
# far below the sum of the type limits and just above the WBTC one: while the big WBTC
# vault's lot runs, the global cap binds (liquidations sized by it, or refused)
GLOBAL_AUCTION_LIMIT = 5_050_000 * WAD
KEEPER_REWARD = (5 * WAD, WAD // 1000, 1_000 * WAD)  # flat, percent of the target, cap
RESET_INCENTIVE = (10 * WAD, WAD // 1000, 500 * WAD)  # flat, percent of the target, cap
# Vaults every run starts with, so that a crash has something to liquidate: (borrower
# index, type index, whole collateral units, collateral ratio in percent).
STARTING_VAULTS = [
    (0, 0, 10, 160), (1, 0, 30, 200), (2, 0, 100, 300),
    (0, 1, 1, 155), (1, 1, 5, 220), (2, 1, 20, 400),
    # its debt (6,000,000) is above the WBTC auction limit: liquidated in parts
    (0, 1, 500, 250),
    (0, 2, 10_000, 160), (1, 2, 50_000, 200), (2, 2, 200_000, 300),
]
KEEPER_COLLATERAL = 10**11  # whole USDC the keeper's vault holds (1,000x its first loan)
KEEPER_LOAN = 100_000_000 * WAD  # debt tokens the keeper borrows to pay for takes

# engine roles
ROLE_ENGINE_ADMIN = 15  # collateral, risk, fee, treasury
ROLE_LIQUIDATOR = 16
ROLE_AUCTION = 32
ROLE_SETTLEMENT = 64
# auction roles
ROLE_KICKER = 1
ROLE_AUCTION_ADMIN = 2
ROLE_AUCTION_SETTLEMENT = 4
# liquidator / settlement roles
ROLE_LIQUIDATION_ADMIN = 1
ROLE_SHUTDOWN_ADMIN = 1

# Test-only reader: everything the invariants compare, read in one eth_call (a step's
# invariants would otherwise cost dozens of calls). It only copies numbers out;
# every sum and comparison is done in Python by the test.
PROBE_SOURCE = """# pragma version ~=0.4.3

struct LensTypeInfo:
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
    auction_limit: uint256

struct AuctionStatus:
    auction_id: uint256
    active: bool
    needs_reset: bool
    collateral_type: uint256
    vault_id: uint256
    price: uint256
    top: uint256
    lot: uint256
    target: uint256
    debt: uint256
    started_at: uint256

struct TypeSnapshot:
    held: uint256
    token_scale: uint256
    rate: uint256
    normalized_debt: uint256
    collateral_dust: uint256
    in_auction: uint256
    debt_in_auction: uint256
    settled: uint256
    auction_limit: uint256
    room_limit: uint256
    room_used: uint256
    lens_matches: bool

struct VaultSnapshot:
    vault_id: uint256
    owner: address
    collateral_type: uint256
    collateral: uint256
    normalized_debt: uint256

struct Snapshot:
    timestamp: uint256
    supply: uint256
    surplus: uint256
    debt_in_auction: uint256
    bad_debt: uint256
    settled_debt: uint256
    global_room_limit: uint256
    global_room_used: uint256
    types: DynArray[TypeSnapshot, 8]
    vaults: DynArray[VaultSnapshot, 512]
    lots: DynArray[AuctionStatus, 256]

interface IEngine:
    def collateral_type_count() -> uint256: view
    def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256): view
    def vault_count() -> uint256: view
    def vault_position(vault_id: uint256) -> (address, uint256, uint256, uint256): view
    def surplus() -> uint256: view
    def debt_in_auction() -> uint256: view
    def bad_debt() -> uint256: view
    def settled_debt() -> uint256: view
    def type_collateral_in_auction(collateral_type: uint256) -> uint256: view
    def type_debt_in_auction(collateral_type: uint256) -> uint256: view
    def type_collateral_settled(collateral_type: uint256) -> uint256: view

interface ILens:
    def collateral_type_info(collateral_type: uint256) -> LensTypeInfo: view

interface IToken:
    def balanceOf(owner: address) -> uint256: view
    def totalSupply() -> uint256: view

interface IAuction:
    def status(auction_id: uint256) -> AuctionStatus: view

interface ILiquidator:
    def room(collateral_type: uint256) -> (uint256, uint256, uint256, uint256): view

engine: public(immutable(address))
lens: public(immutable(address))
auction: public(immutable(address))
liquidator: public(immutable(address))
debt_token: public(immutable(address))


@deploy
def __init__(engine_address: address, lens_address: address, auction_address: address, liquidator_address: address, token_address: address):
    engine = engine_address
    lens = lens_address
    auction = auction_address
    liquidator = liquidator_address
    debt_token = token_address


@external
@view
def snapshot(auction_ids: DynArray[uint256, 256]) -> Snapshot:
    result: Snapshot = empty(Snapshot)
    result.timestamp = block.timestamp
    result.supply = staticcall IToken(debt_token).totalSupply()
    result.surplus = staticcall IEngine(engine).surplus()
    result.debt_in_auction = staticcall IEngine(engine).debt_in_auction()
    result.bad_debt = staticcall IEngine(engine).bad_debt()
    result.settled_debt = staticcall IEngine(engine).settled_debt()
    a: uint256 = 0
    b: uint256 = 0
    c: uint256 = 0
    d: uint256 = 0
    a, b, c, d = staticcall ILiquidator(liquidator).room(0)
    result.global_room_limit = c
    result.global_room_used = d
    count: uint256 = staticcall IEngine(engine).collateral_type_count()
    for collateral_type: uint256 in range(1, 9):
        if collateral_type > count:
            break
        # the engine's packed words, decoded here by their documented layout: token |
        # scale, risk, limits, accrual (rate bits 0-207), liquidation (auction limit from
        # bit 64), normalised debt, collateral dust
        token: uint256 = 0
        accrual: uint256 = 0
        liquidation: uint256 = 0
        normalized_debt: uint256 = 0
        collateral_dust: uint256 = 0
        token, a, b, accrual, liquidation, normalized_debt, collateral_dust = staticcall IEngine(engine).collateral_type_words(collateral_type)
        info: LensTypeInfo = staticcall ILens(lens).collateral_type_info(collateral_type)
        a, b, c, d = staticcall ILiquidator(liquidator).room(collateral_type)
        result.types.append(TypeSnapshot(
            held=staticcall IToken(convert(convert(token & (2 ** 160 - 1), uint160), address)).balanceOf(engine),
            token_scale=token >> 160,
            rate=accrual & (2 ** 208 - 1),
            normalized_debt=normalized_debt,
            collateral_dust=collateral_dust,
            in_auction=staticcall IEngine(engine).type_collateral_in_auction(collateral_type),
            debt_in_auction=staticcall IEngine(engine).type_debt_in_auction(collateral_type),
            settled=staticcall IEngine(engine).type_collateral_settled(collateral_type),
            auction_limit=liquidation >> 64,
            room_limit=a,
            room_used=b,
            # VaultLens unpacks the same words for keepers and front ends
            lens_matches=(
                info.token == convert(convert(token & (2 ** 160 - 1), uint160), address)
                and info.token_scale == token >> 160
                and info.rate == accrual & (2 ** 208 - 1)
                and info.normalized_debt == normalized_debt
                and info.collateral_dust == collateral_dust
                and info.auction_limit == liquidation >> 64
                and info.liquidation_penalty == liquidation & (2 ** 64 - 1)
            ),
        ))
    # every vault ever opened: vaults are never deleted, and a closed one may get
    # collateral back from an auction
    vault_count: uint256 = staticcall IEngine(engine).vault_count()
    for vault_id: uint256 in range(1, 513):
        if vault_id > vault_count:
            break
        owner: address = empty(address)
        owner, a, b, c = staticcall IEngine(engine).vault_position(vault_id)
        result.vaults.append(VaultSnapshot(
            vault_id=vault_id, owner=owner, collateral_type=a, collateral=b, normalized_debt=c
        ))
    for auction_id: uint256 in auction_ids:
        result.lots.append(staticcall IAuction(auction).status(auction_id))
    return result
"""


@pytest.fixture(scope="session", autouse=True)
def _freeze_heap():
    """brownie runs gc.collect() on every chain revert (every hypothesis example); with the
    compiler's objects on the heap that costs ~0.1 s a time. Freezing what exists at session
    start takes it out of every later collection (speed only, no behaviour)."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def reporter(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def borrowers(accounts):
    return [accounts[1], accounts[2], accounts[3]]


@pytest.fixture(scope="module")
def keeper(accounts):
    """Liquidates, takes (directly and through the FlashTaker) and resets; pays for takes
    with debt tokens it borrows against its own USDC vault."""
    return accounts[4]


@pytest.fixture(scope="module")
def system(
    admin, reporter, borrowers, keeper, DebtToken, VaultEngine, VaultLens, ManualPriceFeed, MockToken,
    DutchAuction, Liquidator, GlobalSettlement, FlashTaker,
):
    # the token names the engine, deployed right after it, as its role-free minter (the
    # production fast path, as keel.deploy predicts it); ROLE_MINTER as well, harmlessly
    predicted_engine = admin.get_deployment_address(admin.nonce + 1)
    token = DebtToken.deploy("Keel USD", "kUSD", admin, predicted_engine, {"from": admin})
    engine = VaultEngine.deploy(token, admin, {"from": admin})
    assert engine.address == predicted_engine and token.engine() == engine.address
    lens = VaultLens.deploy(engine, {"from": admin})
    token.set_roles(engine, 1, {"from": admin})
    engine.set_roles(admin, ROLE_ENGINE_ADMIN, {"from": admin})

    auction = DutchAuction.deploy(engine, admin, {"from": admin})
    liquidator = Liquidator.deploy(engine, auction, admin, {"from": admin})
    settlement = GlobalSettlement.deploy(engine, auction, admin, {"from": admin})
    engine.set_roles(liquidator, ROLE_LIQUIDATOR, {"from": admin})
    engine.set_roles(auction, ROLE_AUCTION, {"from": admin})
    engine.set_roles(settlement, ROLE_SETTLEMENT, {"from": admin})
    auction.set_roles(liquidator, ROLE_KICKER, {"from": admin})
    auction.set_roles(admin, ROLE_AUCTION_ADMIN, {"from": admin})
    auction.set_roles(settlement, ROLE_AUCTION_SETTLEMENT, {"from": admin})
    liquidator.set_roles(admin, ROLE_LIQUIDATION_ADMIN, {"from": admin})
    settlement.set_roles(admin, ROLE_SHUTDOWN_ADMIN, {"from": admin})
    auction.set_incentives(*RESET_INCENTIVE, {"from": admin})
    liquidator.set_global_limit(GLOBAL_AUCTION_LIMIT, {"from": admin})
    flash_taker = FlashTaker.deploy(auction, engine, {"from": admin})

    types = []
    for symbol, decimals, price, ceiling, curve, auction_limit in COLLATERALS:
        collateral = MockToken.deploy(f"Mock {symbol}", symbol, decimals, {"from": admin})
        feed = ManualPriceFeed.deploy(admin, MAX_AGE, {"from": admin})
        feed.set_roles(reporter, 1, {"from": admin})
        feed.set_price(price, {"from": reporter})
        kind_id = engine.add_collateral_type(
            collateral, feed, 15 * WAD // 10, ceiling, 100 * WAD, FEE_5_PCT, 113 * WAD // 100,
            {"from": admin},
        ).return_value
        auction.set_curve(kind_id, curve, {"from": admin})
        auction.update_auction_dust(kind_id, {"from": admin})
        liquidator.set_type_limit(kind_id, auction_limit, {"from": admin})
        liquidator.set_reward(kind_id, *KEEPER_REWARD, {"from": admin})
        for borrower in borrowers:
            collateral.mint(borrower, 10**12 * 10**decimals, {"from": borrower})
            collateral.approve(engine, MAX_UINT256, {"from": borrower})
        types.append({
            "id": kind_id, "symbol": symbol, "token": collateral, "feed": feed, "decimals": decimals,
            "scale": 10 ** (18 - decimals), "price": price, "curve": curve,
        })

    # the keeper's funding: a USDC vault 1,000x over-collateralised
    usdc = types[2]
    usdc["token"].mint(keeper, KEEPER_COLLATERAL * 10 ** usdc["decimals"], {"from": keeper})
    usdc["token"].approve(engine, MAX_UINT256, {"from": keeper})
    keeper_vault = engine.open_vault(
        usdc["id"], KEEPER_COLLATERAL * 10 ** usdc["decimals"], KEEPER_LOAN, {"from": keeper}
    ).return_value
    vaults = []
    for borrower, kind, units, ratio in STARTING_VAULTS:
        spec = types[kind]
        debt = units * spec["price"] * 100 // ratio
        vaults.append(engine.open_vault(
            spec["id"], units * 10 ** spec["decimals"], debt, {"from": borrowers[borrower]}
        ).return_value)
    # holders hand debt tokens to the settlement for redemption
    for holder in [*borrowers, keeper]:
        token.approve(settlement, MAX_UINT256, {"from": holder})

    probe_project = compile_source(PROBE_SOURCE, vyper_version="0.4.3", evm_version="prague")
    probe = probe_project.Vyper.deploy(engine, lens, auction, liquidator, token, {"from": admin})
    return {
        "token": token, "engine": engine, "lens": lens, "types": types, "auction": auction,
        "liquidator": liquidator, "settlement": settlement, "flash_taker": flash_taker,
        "keeper_vault": keeper_vault, "vaults": vaults, "probe": probe,
        "type_limits": [c[5] for c in COLLATERALS], "global_limit": GLOBAL_AUCTION_LIMIT,
    }

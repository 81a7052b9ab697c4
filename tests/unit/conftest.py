"""Shared fixtures for Keel's unit (and adversarial) tests.

Deploys are module-scoped; every test runs in its own snapshot through the autouse
``isolate`` fixture (brownie's ``fn_isolation``), so a test may change anything.

Actors are named after their role; ``admin`` owns every contract and holds every role.
"""

from __future__ import annotations

import gc

import pytest
from brownie import compile_source, web3
from web3 import Web3

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

WAD = 10**18
RAY = 10**27
RAD = WAD * RAY
MAX_UINT256 = 2**256 - 1

# engine roles
ROLE_COLLATERAL_ADMIN = 1
ROLE_RISK_ADMIN = 2
ROLE_FEE_ADMIN = 4
ROLE_TREASURY = 8
ENGINE_ALL_ROLES = 15
# debt token roles
ROLE_MINTER = 1
# feed roles
ROLE_REPORTER = 1
ROLE_ORACLE_ADMIN = 2

MAX_AGE = 3600
LIQUIDATION_RATIO = 15 * WAD // 10
DEBT_CEILING = 10_000_000 * WAD
DUST = 100 * WAD
STABILITY_FEE = 1000000001547125957863212448  # ~5 %/yr, RAY per second
LIQUIDATION_PENALTY = 113 * WAD // 100

# bounds (mirrors of the contracts' constants, as the tests pin them)
MIN_LIQUIDATION_RATIO = WAD + 1
MAX_LIQUIDATION_RATIO = 10 * WAD
MAX_DEBT_CEILING = 2**96 - 1  # WAD (raw value, about 7.9e10 tokens)
MAX_DUST = 2**80 - 1  # WAD (raw value, about 1.2e6 tokens)
MAX_STABILITY_FEE = RAY + 21_979_553_151 * 10**9  # about 100 %/yr (2x a year)
MAX_LIQUIDATION_PENALTY = WAD + WAD // 2
MIN_MAX_AGE = 60
MAX_MAX_AGE = 7 * 86400
MAX_PRICE = 2**128 - 1

# (symbol, decimals, price WAD)
COLLATERALS = {
    "WETH": (18, 2_000 * WAD),
    "WBTC": (8, 30_000 * WAD),
    "USDC": (6, 1 * WAD),
}


# ------------------------------------------------------------------ python references
def mul_div(x: int, y: int, denominator: int, roundup: bool) -> int:
    """Mirror of fixed_point.mul_div."""
    product = x * y
    quotient = product // denominator
    if roundup and product % denominator:
        quotient += 1
    return quotient


def rpow(base: int, exponent: int, roundup: bool) -> int:
    """Mirror of fixed_point.rpow: binary exponentiation, each product rounded."""
    assert exponent < 2**64
    result = RAY
    factor = base
    remaining = exponent
    while remaining:
        if remaining & 1:
            result = mul_div(result, factor, RAY, roundup)
        remaining >>= 1
        if remaining:
            factor = mul_div(factor, factor, RAY, roundup)
    return result


def rpow_up(fee: int, seconds: int) -> int:
    """fixed_point.rpow(fee, seconds, roundup=True)."""
    return rpow(fee, seconds, True)


def grow_rate(rate: int, fee: int, seconds: int) -> int:
    """The engine's rate after `seconds` at `fee` (RAY, rounded up)."""
    if seconds == 0 or fee == RAY:
        return rate
    return mul_div(rate, rpow_up(fee, seconds), RAY, True)


def is_safe(collateral: int, normalized_debt: int, rate: int, price: int, ratio: int) -> bool:
    """Mirror of VaultEngine._is_safe (value rounded down >= debt * ratio rounded up)."""
    if normalized_debt == 0:
        return True
    debt = mul_div(normalized_debt, rate, RAY, True)
    value = mul_div(collateral, price, WAD, False)
    return value >= mul_div(debt, ratio, WAD, True)


def normalize_up(amount: int, rate: int) -> int:
    """Normalised debt a borrow of `amount` adds at `rate` (rounded up)."""
    return mul_div(amount, RAY, rate, True)


def max_safe_borrow(collateral, normalized_debt, rate, price, ratio) -> int:
    """Largest WAD amount a vault can borrow at `rate` and stay safe (binary search)."""
    low, high = 0, mul_div(collateral, price, WAD, False) + 1
    while low < high:
        mid = (low + high + 1) // 2
        if is_safe(collateral, normalized_debt + normalize_up(mid, rate), rate, price, ratio):
            low = mid
        else:
            high = mid - 1
    return low


MASK_16 = 2**16 - 1
MASK_64 = 2**64 - 1
MASK_80 = 2**80 - 1
MASK_96 = 2**96 - 1
MASK_160 = 2**160 - 1
MASK_208 = 2**208 - 1


# VaultEngine's PARAM_* ids: CollateralParameterSet.parameter
PARAM_NAMES = {
    1: "oracle", 2: "liquidation_ratio", 3: "debt_ceiling", 4: "dust", 5: "stability_fee",
    6: "liquidation_penalty", 7: "volatility_k_bps", 8: "volatility_cap_bps", 9: "auction_limit",
}


def type_info(engine, collateral_type: int) -> dict:
    """A collateral type's parameters and totals, unpacked in Python from the engine's
    packed words (the same fields as VaultLens.collateral_type_info, which the lens tests
    compare with this); `debt` is at the rate to now, rounded up."""
    token, risk, limits, accrual, liquidation, normalized_debt, dust = engine.collateral_type_words(collateral_type)
    return {
        "token": to_address(token & MASK_160),
        "oracle": to_address(risk & MASK_160),
        "token_scale": token >> 160,
        "liquidation_ratio": (risk >> 160) & MASK_64,
        "volatility_k_bps": (risk >> 224) & MASK_16,
        "volatility_cap_bps": risk >> 240,
        "debt_ceiling": limits & MASK_96,
        "dust": (limits >> 96) & MASK_80,
        "stability_fee": RAY + (limits >> 176),
        "liquidation_penalty": liquidation & MASK_64,
        "auction_limit": liquidation >> 64,
        "rate": accrual & MASK_208,
        "last_accrual": accrual >> 208,
        "normalized_debt": normalized_debt,
        "debt": mul_div(normalized_debt, engine.current_rate(collateral_type), RAY, True),
        "collateral_dust": dust,
    }


def to_address(value: int) -> str:
    return Web3.to_checksum_address(value.to_bytes(20, "big"))


def ledger_total(engine) -> int:
    """sum over types of type_normalized_debt(t) * stored rate(t), RAD."""
    total = 0
    for t in range(1, engine.collateral_type_count() + 1):
        total += engine.type_normalized_debt(t) * type_info(engine, t)["rate"]
    return total


def ledger_balanced(engine, debt_token) -> bool:
    """supply * RAY + surplus == sum(type normalized debt * stored rate), exactly."""
    return debt_token.totalSupply() * RAY + engine.surplus() == ledger_total(engine)


# ------------------------------------------------------------------ chain time
def _rpc(method: str, params: list):
    response = web3.provider.make_request(method, params)
    assert "error" not in response, response
    return response


def set_next_timestamp(timestamp: int) -> None:
    """The next mined block (the next transaction) gets exactly `timestamp`."""
    _rpc("evm_setNextBlockTimestamp", [timestamp])


def mine_at(timestamp: int) -> None:
    """Mine an empty block at exactly `timestamp` (calls then see that time)."""
    _rpc("evm_mine", [timestamp])


def latest_timestamp() -> int:
    return web3.eth.get_block("latest")["timestamp"]


def schedule(seconds_ahead: int = 10) -> int:
    """Pin the next transaction's block time `seconds_ahead` past the latest block; returns it."""
    timestamp = latest_timestamp() + seconds_ahead
    set_next_timestamp(timestamp)
    return timestamp


def rate_at(engine, collateral_type: int, timestamp: int) -> int:
    """The rate `accrue` would store at `timestamp` (Python reference, exact)."""
    info = type_info(engine, collateral_type)
    return grow_rate(info["rate"], info["stability_fee"], timestamp - info["last_accrual"])


# ------------------------------------------------------------------ isolation
@pytest.fixture(scope="session", autouse=True)
def _freeze_heap():
    """brownie runs gc.collect() on every chain revert (each test, each hypothesis example);
    with the compiler's objects on the heap that costs ~0.1 s a time. Freezing what exists
    at session start takes it out of every later collection (speed only, no behaviour)."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def isolate(fn_isolation):
    pass


# ------------------------------------------------------------------ actors
@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def borrower(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def other_borrower(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def operator(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def treasury(accounts):
    return accounts[5]


@pytest.fixture(scope="module")
def reporter(accounts):
    return accounts[6]


# ------------------------------------------------------------------ contracts
@pytest.fixture(scope="module")
def debt_token(DebtToken, admin):
    # no engine named: the engine fixture mints through ROLE_MINTER (test_debt_token covers
    # the immutable engine's role-free path; keel.deploy and the fuzz suite use it)
    token = DebtToken.deploy("Keel USD", "kUSD", admin, ZERO_ADDRESS, {"from": admin})
    token.set_roles(admin, ROLE_MINTER, {"from": admin})
    return token


@pytest.fixture(scope="module")
def engine(VaultEngine, debt_token, admin, treasury):
    vault_engine = VaultEngine.deploy(debt_token, admin, {"from": admin})
    debt_token.set_roles(vault_engine, ROLE_MINTER, {"from": admin})
    vault_engine.set_roles(admin, ENGINE_ALL_ROLES, {"from": admin})
    vault_engine.set_roles(treasury, ROLE_TREASURY, {"from": admin})
    return vault_engine


@pytest.fixture(scope="module")
def lens(VaultLens, engine, admin):
    """Read-only vault figures (debt to now, ratio, headroom, safety)."""
    return VaultLens.deploy(engine, {"from": admin})


def _feed(ManualPriceFeed, admin, reporter, price):
    feed = ManualPriceFeed.deploy(admin, MAX_AGE, {"from": admin})
    feed.set_roles(admin, ROLE_REPORTER | ROLE_ORACLE_ADMIN, {"from": admin})
    feed.set_roles(reporter, ROLE_REPORTER, {"from": admin})
    feed.set_price(price, {"from": reporter})
    return feed


@pytest.fixture(scope="module")
def weth_feed(ManualPriceFeed, admin, reporter):
    return _feed(ManualPriceFeed, admin, reporter, COLLATERALS["WETH"][1])


@pytest.fixture(scope="module")
def wbtc_feed(ManualPriceFeed, admin, reporter):
    return _feed(ManualPriceFeed, admin, reporter, COLLATERALS["WBTC"][1])


@pytest.fixture(scope="module")
def usdc_feed(ManualPriceFeed, admin, reporter):
    return _feed(ManualPriceFeed, admin, reporter, COLLATERALS["USDC"][1])


@pytest.fixture(scope="module")
def fresh_feed(ManualPriceFeed, admin):
    """A feed nobody reported to yet (price 0, never fresh)."""
    feed = ManualPriceFeed.deploy(admin, MAX_AGE, {"from": admin})
    feed.set_roles(admin, ROLE_REPORTER | ROLE_ORACLE_ADMIN, {"from": admin})
    return feed


ZERO_PRICE_ORACLE_SOURCE = """# pragma version ~=0.4.3
# test double: an oracle that reports a zero price as fresh
@external
@view
def peek() -> (uint256, bool):
    return 0, True
"""


@pytest.fixture(scope="module")
def zero_price_oracle(admin):
    """An oracle answering (0, fresh) -- ManualPriceFeed refuses to store a zero price."""
    project = compile_source(ZERO_PRICE_ORACLE_SOURCE, vyper_version="0.4.3", evm_version="prague")
    return project.Vyper.deploy({"from": admin})


def _mock(MockToken, admin, symbol):
    return MockToken.deploy(f"Mock {symbol}", symbol, COLLATERALS[symbol][0], {"from": admin})


@pytest.fixture(scope="module")
def weth(MockToken, admin):
    return _mock(MockToken, admin, "WETH")


@pytest.fixture(scope="module")
def wbtc(MockToken, admin):
    return _mock(MockToken, admin, "WBTC")


@pytest.fixture(scope="module")
def usdc(MockToken, admin):
    return _mock(MockToken, admin, "USDC")


def _list(engine, token, feed, admin):
    tx = engine.add_collateral_type(
        token, feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY,
        {"from": admin},
    )
    return tx.return_value


@pytest.fixture(scope="module")
def weth_type(engine, weth, weth_feed, admin):
    return _list(engine, weth, weth_feed, admin)


@pytest.fixture(scope="module")
def wbtc_type(engine, wbtc, wbtc_feed, admin, weth_type):
    return _list(engine, wbtc, wbtc_feed, admin)


@pytest.fixture(scope="module")
def usdc_type(engine, usdc, usdc_feed, admin, wbtc_type):
    return _list(engine, usdc, usdc_feed, admin)


@pytest.fixture(scope="module")
def listed(weth_type, wbtc_type, usdc_type, weth, wbtc, usdc, weth_feed, wbtc_feed, usdc_feed):
    """symbol -> (collateral type id, token, feed) for all three listed collaterals."""
    return {
        "WETH": (weth_type, weth, weth_feed),
        "WBTC": (wbtc_type, wbtc, wbtc_feed),
        "USDC": (usdc_type, usdc, usdc_feed),
    }


@pytest.fixture(scope="module")
def funded(listed, engine, borrower, other_borrower, operator, stranger):
    """Every user actor holds 1,000,000 whole units of each collateral, approved to the engine."""
    for _, token, _ in listed.values():
        unit = 10 ** token.decimals()
        for who in (borrower, other_borrower, operator, stranger):
            token.mint(who, 1_000_000 * unit, {"from": who})
            token.approve(engine, MAX_UINT256, {"from": who})
    return listed


@pytest.fixture(scope="module")
def vault(engine, funded, weth_type, borrower):
    """Vault 1: the borrower's WETH vault holding 10 WETH (20,000 kUSD of value), no debt."""
    tx = engine.open_vault(weth_type, 10 * WAD, 0, {"from": borrower})
    return tx.return_value


@pytest.fixture
def vault_with_debt(engine, vault, borrower):
    """The borrower's WETH vault with 5,000 kUSD borrowed (function-scoped: it changes `vault`)."""
    engine.borrow(vault, 5_000 * WAD, borrower, {"from": borrower})
    return vault


# ------------------------------------------------------------------ PriceFeed (oracle layer)
# the parameters every PriceFeed fixture uses unless a test deploys its own
FEED_QUORUM = 2
FEED_REPORT_MAX_AGE = 600
FEED_MAX_AGE = 7200
FEED_DELAY = 600
FEED_CONFIRM_DELAY = 300
FEED_MAX_JUMP_BPS = 2000
FEED_LAMBDA_BPS = 9400


def deploy_price_feed(
    PriceFeed,
    admin,
    reporters,
    quorum=FEED_QUORUM,
    report_max_age=FEED_REPORT_MAX_AGE,
    max_age=FEED_MAX_AGE,
    delay=FEED_DELAY,
    confirm_delay=FEED_CONFIRM_DELAY,
    max_jump_bps=FEED_MAX_JUMP_BPS,
    lambda_bps=FEED_LAMBDA_BPS,
    volatility_interval=0,
):
    """A PriceFeed owned by `admin` (who also gets ROLE_ORACLE_ADMIN) with `reporters` added;
    volatility_interval stays at the contract's default 0 (every acceptance is a sample)
    unless given."""
    feed = PriceFeed.deploy(
        admin, quorum, report_max_age, max_age, delay, confirm_delay, max_jump_bps, lambda_bps,
        {"from": admin},
    )
    feed.set_roles(admin, ROLE_ORACLE_ADMIN, {"from": admin})
    if volatility_interval:
        feed.set_volatility_interval(volatility_interval, {"from": admin})
    for who in reporters:
        feed.add_reporter(who, {"from": admin})
    return feed


def feed_report(feed, who, price, at, observed_at=None):
    """`who` reports `price` in a transaction mined at exactly `at` (observed then, unless given)."""
    set_next_timestamp(at)
    return feed.report(price, at if observed_at is None else observed_at, {"from": who})


def feed_poke(feed, at, sender):
    """`poke` in a transaction mined at exactly `at`."""
    set_next_timestamp(at)
    return feed.poke({"from": sender})


@pytest.fixture(scope="module")
def feed_reporters(reporter, accounts):
    """The three reporters of `price_feed`: `reporter` and two more anvil accounts."""
    return [reporter, accounts[7], accounts[8]]


@pytest.fixture(scope="module")
def price_feed(PriceFeed, admin, feed_reporters):
    """A PriceFeed with the FEED_* parameters and three reporters; nothing reported yet."""
    return deploy_price_feed(PriceFeed, admin, feed_reporters)


@pytest.fixture(scope="module")
def aggregator(MockAggregator, admin):
    """A MockAggregator with 8 decimals (Chainlink USD feeds), no round yet."""
    return MockAggregator.deploy(8, {"from": admin})


@pytest.fixture(scope="module")
def chainlink_adapter(ChainlinkAdapter, aggregator, admin):
    """A ChainlinkAdapter over `aggregator`, max age MAX_AGE; admin holds ROLE_ORACLE_ADMIN."""
    adapter = ChainlinkAdapter.deploy(admin, aggregator, MAX_AGE, {"from": admin})
    adapter.set_roles(admin, ROLE_ORACLE_ADMIN, {"from": admin})
    return adapter


# ------------------------------------------------------------------ liquidation layer
ROLE_LIQUIDATOR = 16
ROLE_AUCTION = 32
ROLE_KICKER = 1
ROLE_AUCTION_ADMIN = 2
ROLE_LIQUIDATION_ADMIN = 1
CURVE_LINEAR = 1
CURVE_EXPONENTIAL = 2
# (kind, buf, tau, step, cut, tail, cusp)
LINEAR_CURVE = (CURVE_LINEAR, 12 * WAD // 10, 3600, 0, 0, 7200, WAD // 2)
EXPONENTIAL_CURVE = (CURVE_EXPONENTIAL, 12 * WAD // 10, 0, 60, 99 * RAY // 100, 7200, WAD // 2)
RESET_INCENTIVE = (10 * WAD, WAD // 1000, 500 * WAD)
TYPE_AUCTION_LIMIT = 1_000_000 * WAD
GLOBAL_AUCTION_LIMIT = 10_000_000 * WAD
KEEPER_REWARD = (5 * WAD, WAD // 1000, 1_000 * WAD)


@pytest.fixture(scope="module")
def keeper(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def liquidation_system(DutchAuction, Liquidator, engine, debt_token, weth, weth_feed, weth_type, funded, admin, keeper):
    """The engine (WETH type 1 at 2,000) with a DutchAuction and a Liquidator wired in:
    linear curve on type 1, reset incentives, type/global limits and keeper rewards set.
    The keeper holds 1,000,000 WETH approved to the engine (it borrows to take)."""
    weth.mint(keeper, 1_000_000 * WAD, {"from": keeper})
    weth.approve(engine, MAX_UINT256, {"from": keeper})
    auction = DutchAuction.deploy(engine, admin, {"from": admin})
    liquidator = Liquidator.deploy(engine, auction, admin, {"from": admin})
    engine.set_roles(liquidator, ROLE_LIQUIDATOR, {"from": admin})
    engine.set_roles(auction, ROLE_AUCTION, {"from": admin})
    auction.set_roles(liquidator, ROLE_KICKER, {"from": admin})
    auction.set_roles(admin, ROLE_AUCTION_ADMIN, {"from": admin})
    liquidator.set_roles(admin, ROLE_LIQUIDATION_ADMIN, {"from": admin})
    auction.set_curve(weth_type, LINEAR_CURVE, {"from": admin})
    auction.update_auction_dust(weth_type, {"from": admin})
    auction.set_incentives(*RESET_INCENTIVE, {"from": admin})
    liquidator.set_type_limit(weth_type, TYPE_AUCTION_LIMIT, {"from": admin})
    liquidator.set_global_limit(GLOBAL_AUCTION_LIMIT, {"from": admin})
    liquidator.set_reward(weth_type, *KEEPER_REWARD, {"from": admin})
    return dict(
        engine=engine, debt_token=debt_token, weth=weth, feed=weth_feed, weth_type=weth_type,
        auction=auction, liquidator=liquidator,
    )


@pytest.fixture(scope="module")
def flash_taker(FlashTaker, liquidation_system, admin):
    return FlashTaker.deploy(liquidation_system["auction"], liquidation_system["engine"], {"from": admin})


def conservation_holds(engine, debt_token, token, collateral_type=1) -> bool:
    """Debt: supply*RAY + surplus == sum(vault nd*rate) + debt_in_auction + bad_debt + settled_debt.
    Collateral: engine balance == sum(vault collateral) + in auction + tracked dust
    + collateral settled for redemption (the last terms of each side are zero before shutdown)."""
    info = type_info(engine, collateral_type)
    rate = info["rate"]
    vault_debt = 0
    vault_collateral = 0
    for vault_id in range(1, engine.vault_count() + 1):
        _, vault_type, collateral, normalized_debt = engine.vault_position(vault_id)
        assert vault_type == collateral_type, "conservation_holds covers one collateral type"
        vault_debt += normalized_debt * rate
        vault_collateral += collateral
    debt_ok = (
        debt_token.totalSupply() * RAY + engine.surplus()
        == vault_debt + engine.debt_in_auction() + engine.bad_debt() + engine.settled_debt()
    )
    # the engine holds token units; every term on the right is WAD (scale 1 at 18 decimals)
    collateral_ok = token.balanceOf(engine) * info["token_scale"] == (
        vault_collateral + engine.type_collateral_in_auction(collateral_type) + engine.type_collateral_dust(collateral_type)
        + engine.type_collateral_settled(collateral_type)
    )
    return debt_ok and collateral_ok


CRASH_PRICE = 1_400 * WAD  # WETH after the drop: 10 WETH / 10,000 kUSD is then unsafe


@pytest.fixture(scope="module")
def positions(liquidation_system, engine, weth_feed, weth_type, keeper, borrower, other_borrower, reporter):
    """Three WETH vaults opened at 2,000, then WETH falls to 1,400:
    keeper 100 WETH / 60,000 kUSD (safe; its tokens pay for takes),
    borrower 10 WETH / 10,000 kUSD (unsafe), other_borrower 10 WETH / 9,500 kUSD (unsafe)."""
    ids = dict(
        keeper=engine.open_vault(weth_type, 100 * WAD, 60_000 * WAD, {"from": keeper}).return_value,
        unsafe=engine.open_vault(weth_type, 10 * WAD, 10_000 * WAD, {"from": borrower}).return_value,
        unsafe2=engine.open_vault(weth_type, 10 * WAD, 9_500 * WAD, {"from": other_borrower}).return_value,
    )
    weth_feed.set_price(CRASH_PRICE, {"from": reporter})
    return ids


@pytest.fixture
def lot(liquidation_system, positions, keeper):
    """The borrower's WETH vault liquidated (auction 1: 10 WETH starting at 1,680, falling
    to 0 over an hour) in a block at a known time (``start``)."""
    s = dict(liquidation_system, **positions)
    tx = s["liquidator"].liquidate(s["unsafe"], keeper, {"from": keeper})
    s["auction_id"] = tx.return_value
    s["start"] = tx.timestamp
    return s


def lot_snapshot(s, *holders):
    """A `lot`'s stored books, the engine's totals and each holder's WETH and kUSD, to
    compare before and after a refused call (the lot's price and needs_reset move with
    time, and a reverted transaction still mines a block, so they are left out)."""
    engine, auction = s["engine"], s["auction"]
    return (
        tuple(v for k, v in auction.status(s["auction_id"]).dict().items() if k not in ("price", "needs_reset")),
        engine.debt_in_auction(), engine.bad_debt(), engine.surplus(),
        engine.type_collateral_in_auction(s["weth_type"]), engine.type_collateral_dust(s["weth_type"]),
        s["debt_token"].totalSupply(),
        tuple(s["weth"].balanceOf(h) for h in holders),
        tuple(s["debt_token"].balanceOf(h) for h in holders),
    )


# ------------------------------------------------------------------ shutdown and global settlement
ENGINE_ROLE_SETTLEMENT = 64  # VaultEngine: shutdown, settle_vault, settle_lot, settlement_release
AUCTION_ROLE_SETTLEMENT = 4  # DutchAuction: shut_down, cancel
ROLE_SHUTDOWN_ADMIN = 1  # GlobalSettlement: shutdown
STOP_SHUTDOWN = 4  # DutchAuction stop level set by shutdown, for good
FROZEN = 2**48 - 1  # a type's last_accrual after shutdown: rates stop


@pytest.fixture(scope="module")
def settlement(GlobalSettlement, liquidation_system, admin):
    """GlobalSettlement over the liquidation system's engine and auction, with its roles
    there (set_roles replaces a bit set, so each grant ORs onto what the account holds);
    admin holds ROLE_SHUTDOWN_ADMIN. Nothing is shut down yet."""
    engine, auction = liquidation_system["engine"], liquidation_system["auction"]
    contract = GlobalSettlement.deploy(engine, auction, admin, {"from": admin})
    engine.set_roles(contract, engine.roles(contract) | ENGINE_ROLE_SETTLEMENT, {"from": admin})
    auction.set_roles(contract, auction.roles(contract) | AUCTION_ROLE_SETTLEMENT, {"from": admin})
    contract.set_roles(admin, contract.roles(admin) | ROLE_SHUTDOWN_ADMIN, {"from": admin})
    return contract


def collateral_for(debt_rad: int, price: int) -> int:
    """Mirror of VaultEngine._collateral_for: collateral (WAD) worth `debt_rad` (RAD) at
    `price` (WAD per whole unit), rounded up."""
    return mul_div(debt_rad, 1, price * 10**9, True)


# ------------------------------------------------------------------ options and portfolio margin
ROLE_MARGIN = 1  # OptionsHouse: the PortfolioMargin module
ROLE_OPTIONS_ADMIN = 2  # OptionsHouse: pause writing
ROLE_MARGIN_ADMIN = 1  # PortfolioMargin: risk parameters
DAY = 86_400
YEAR = 31_536_000
OPTION_STRIKES = (1_600, 1_800, 2_000, 2_200, 2_400)  # whole kUSD; WETH is at 2,000


def next_expiry(days: int = 30) -> int:
    """The first 08:00 UTC at least `days` days after the latest block."""
    at = latest_timestamp() + days * DAY
    expiry = at - at % DAY + 8 * 3_600
    return expiry if expiry >= at else expiry + DAY


@pytest.fixture(scope="module")
def options(OptionToken, OptionsHouse, OptionPricer, PortfolioMargin, engine, debt_token, weth, weth_feed, weth_type,
            admin):
    """The engine (WETH type 1 at 2,000, a ManualPriceFeed without volatility, so sigma is the
    margin module's floor, 50 %) with an OptionsHouse (template, pricer) and a PortfolioMargin
    module wired in (engine margin module, house ROLE_MARGIN); admin holds the admin roles.
    A call and a put series at every OPTION_STRIKES strike, one expiry 30 days out, are
    listed: series[(strike, is_call)] -> id."""
    template = OptionToken.deploy({"from": admin})
    house = OptionsHouse.deploy(engine, debt_token, template, admin, {"from": admin})
    pricer = OptionPricer.deploy({"from": admin})
    margin = PortfolioMargin.deploy(engine, house, debt_token, pricer, admin, {"from": admin})
    engine.set_margin_module(margin, {"from": admin})
    house.set_roles(margin, ROLE_MARGIN, {"from": admin})
    house.set_roles(admin, ROLE_OPTIONS_ADMIN, {"from": admin})
    margin.set_roles(admin, ROLE_MARGIN_ADMIN, {"from": admin})
    expiry = next_expiry(30)
    series = {}
    for strike in OPTION_STRIKES:
        for is_call in (True, False):
            series[(strike, is_call)] = house.create_series(weth_type, strike * WAD, expiry, is_call, {"from": admin}).return_value
    return dict(
        engine=engine, debt_token=debt_token, weth=weth, feed=weth_feed, weth_type=weth_type, template=template,
        house=house, pricer=pricer, margin=margin, expiry=expiry, series=series,
    )


@pytest.fixture(scope="module")
def option_token(options):
    """option_token(series_id) -> the series' OptionToken contract."""
    from brownie import OptionToken

    return lambda series_id: OptionToken.at(options["house"].token_of(series_id))

"""Fixtures for the stateful fuzz suite: one system with three collateral types
(18, 8 and 6 decimals), three borrowers and a reporter."""

import pytest

WAD = 10**18
FEE_5_PCT = 1000000001547125957863212448  # RAY per second, about 5 %/yr
MAX_AGE = 3600  # seconds

COLLATERALS = [
    # symbol, decimals, initial price (WAD)
    ("WETH", 18, 2_000 * WAD),
    ("WBTC", 8, 30_000 * WAD),
    ("USDC", 6, 1 * WAD),
]


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
def system(admin, reporter, borrowers, DebtToken, VaultEngine, VaultLens, ManualPriceFeed, MockToken):
    token = DebtToken.deploy("Keel USD", "kUSD", admin, {"from": admin})
    engine = VaultEngine.deploy(token, admin, {"from": admin})
    lens = VaultLens.deploy(engine, {"from": admin})
    token.set_roles(engine, 1, {"from": admin})
    engine.set_roles(admin, 15, {"from": admin})
    types = []
    for symbol, decimals, price in COLLATERALS:
        collateral = MockToken.deploy(f"Mock {symbol}", symbol, decimals, {"from": admin})
        feed = ManualPriceFeed.deploy(admin, MAX_AGE, {"from": admin})
        feed.set_roles(reporter, 1, {"from": admin})
        feed.set_price(price, {"from": reporter})
        engine.add_collateral_type(
            collateral, feed, 15 * WAD // 10, 50_000_000 * WAD, 100 * WAD, FEE_5_PCT, 113 * WAD // 100,
            {"from": admin},
        )
        for borrower in borrowers:
            collateral.mint(borrower, 10**12 * 10**decimals, {"from": borrower})
            collateral.approve(engine, 2**256 - 1, {"from": borrower})
        types.append({"id": len(types) + 1, "token": collateral, "feed": feed, "decimals": decimals, "price": price})
    return {"token": token, "engine": engine, "lens": lens, "types": types}

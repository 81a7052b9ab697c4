"""ConstantProductMarket (contracts/testing): the risk simulator's market with price impact."""

from __future__ import annotations

import brownie
import pytest

WAD = 10**18
DEPTH = 1_000_000 * WAD
PRICE = 2_000 * WAD


@pytest.fixture(scope="module")
def pool(ConstantProductMarket, MockToken, admin):
    collateral = MockToken.deploy("Wrapped Ether", "WETH", 18, {"from": admin})
    debt = MockToken.deploy("Debt", "DBT", 18, {"from": admin})
    market = ConstantProductMarket.deploy(collateral, debt, 18, PRICE, DEPTH, {"from": admin})
    debt.mint(market, 10 * DEPTH, {"from": admin})
    return market, collateral, debt


def test_sell__a_depth_worth_of_collateral__pays_half_of_it_and_quarters_the_price(pool, admin):
    market, collateral, debt = pool
    amount = DEPTH // 2_000  # 500 WETH: the curve's own collateral reserve
    collateral.mint(admin, amount, {"from": admin})
    collateral.approve(market, amount, {"from": admin})
    quoted = market.quote(amount)
    tx = market.sell(amount, {"from": admin})
    assert tx.return_value == quoted == DEPTH // 2  # x * y = k: doubling x halves y
    assert debt.balanceOf(admin) == DEPTH // 2
    assert market.price() == PRICE // 4
    assert tx.events["Sold"]["price"] == PRICE // 4


def test_quote__larger_sales__pay_less_per_unit(pool):
    market = pool[0]
    small, large = market.quote(WAD), market.quote(100 * WAD)
    assert small < PRICE and large < 100 * small  # price impact


def test_set_price__after_sales__curve_restored_at_its_depth(pool, admin):
    market, collateral, _ = pool
    collateral.mint(admin, 50 * WAD, {"from": admin})
    collateral.approve(market, 50 * WAD, {"from": admin})
    market.sell(50 * WAD, {"from": admin})
    assert market.price() < PRICE
    market.set_price(1_500 * WAD, {"from": admin})
    assert abs(market.price() - 1_500 * WAD) <= 10**4 and market.debt_reserve() == DEPTH  # reserves round


def test_set_price__stranger__refused(pool, stranger):
    with brownie.reverts("market: not owner"):
        pool[0].set_price(WAD, {"from": stranger})
    with brownie.reverts("market: zero price or depth"):
        pool[0].set_price(0, {"from": pool[0].owner()})

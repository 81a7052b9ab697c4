"""ManualPriceFeed: a reporter-set price with a freshness bound."""

import brownie
import pytest
from brownie import chain

from tests.unit.conftest import (
    MAX_AGE,
    MAX_MAX_AGE,
    MAX_PRICE,
    MIN_MAX_AGE,
    WAD,
    mine_at,
)


# ------------------------------------------------------------------ deploy
@pytest.mark.parametrize("max_age", [MIN_MAX_AGE, MAX_AGE, MAX_MAX_AGE])
def test_deploy__max_age_within_bounds__stores_it_and_logs(ManualPriceFeed, admin, max_age):
    feed = ManualPriceFeed.deploy(admin, max_age, {"from": admin})
    assert feed.max_age() == max_age
    assert feed.tx.events["MaxAgeSet"]["max_age"] == max_age
    assert feed.price() == 0
    assert feed.updated_at() == 0


@pytest.mark.parametrize("max_age", [0, MIN_MAX_AGE - 1, MAX_MAX_AGE + 1])
def test_deploy__max_age_out_of_bounds__reverts(ManualPriceFeed, admin, max_age):
    with brownie.reverts("feed: max age out of bounds"):
        ManualPriceFeed.deploy(admin, max_age, {"from": admin})


def test_peek__never_set__returns_zero_and_not_fresh(fresh_feed):
    assert fresh_feed.peek() == (0, False)


def test_peek__never_set_and_max_age_long__still_not_fresh(fresh_feed, admin):
    fresh_feed.set_max_age(MAX_MAX_AGE, {"from": admin})
    chain.sleep(10)
    chain.mine()
    assert fresh_feed.peek() == (0, False)


# ------------------------------------------------------------------ set_price
def test_set_price__by_reporter__stores_price_and_time_and_logs(weth_feed, reporter):
    tx = weth_feed.set_price(2_500 * WAD, {"from": reporter})
    assert weth_feed.price() == 2_500 * WAD
    assert weth_feed.updated_at() == tx.timestamp
    assert weth_feed.peek() == (2_500 * WAD, True)
    assert weth_feed.max_age() == MAX_AGE
    event = tx.events["PriceSet"]
    assert event["reporter"] == reporter
    assert event["price"] == 2_500 * WAD
    assert event["updated_at"] == tx.timestamp


def test_set_price__first_report__makes_feed_fresh(fresh_feed, admin):
    fresh_feed.set_price(7 * WAD, {"from": admin})
    assert fresh_feed.peek() == (7 * WAD, True)


def test_set_price__by_stranger__reverts_and_changes_nothing(weth_feed, stranger):
    before = (weth_feed.price(), weth_feed.updated_at(), weth_feed.max_age())
    with brownie.reverts("access: missing role"):
        weth_feed.set_price(1 * WAD, {"from": stranger})
    assert (weth_feed.price(), weth_feed.updated_at(), weth_feed.max_age()) == before


def test_set_price__by_oracle_admin_without_reporter_role__reverts(weth_feed, admin, stranger):
    weth_feed.set_roles(stranger, 2, {"from": admin})  # ROLE_ORACLE_ADMIN only
    with brownie.reverts("access: missing role"):
        weth_feed.set_price(1 * WAD, {"from": stranger})
    assert weth_feed.price() == 2_000 * WAD


def test_set_price__zero__reverts_and_changes_nothing(weth_feed, reporter):
    updated = weth_feed.updated_at()
    with brownie.reverts("feed: zero price"):
        weth_feed.set_price(0, {"from": reporter})
    assert weth_feed.price() == 2_000 * WAD
    assert weth_feed.updated_at() == updated


def test_set_price__at_max_price__stores_it_without_touching_max_age(weth_feed, reporter):
    tx = weth_feed.set_price(MAX_PRICE, {"from": reporter})
    assert weth_feed.price() == MAX_PRICE
    assert weth_feed.updated_at() == tx.timestamp
    assert weth_feed.max_age() == MAX_AGE
    assert weth_feed.peek() == (MAX_PRICE, True)


def test_set_price__one_above_max_price__reverts_and_changes_nothing(weth_feed, reporter):
    updated = weth_feed.updated_at()
    with brownie.reverts("feed: price out of bounds"):
        weth_feed.set_price(MAX_PRICE + 1, {"from": reporter})
    assert weth_feed.price() == 2_000 * WAD
    assert weth_feed.updated_at() == updated
    assert weth_feed.max_age() == MAX_AGE


def test_set_price__max_uint256__reverts(weth_feed, reporter):
    with brownie.reverts("feed: price out of bounds"):
        weth_feed.set_price(2**256 - 1, {"from": reporter})
    assert weth_feed.price() == 2_000 * WAD


def test_set_price__after_going_stale__makes_feed_fresh_again(weth_feed, reporter):
    chain.sleep(MAX_AGE + 1)
    chain.mine()
    assert weth_feed.peek()[1] is False
    weth_feed.set_price(2_100 * WAD, {"from": reporter})
    assert weth_feed.peek() == (2_100 * WAD, True)


# ------------------------------------------------------------------ freshness
def test_peek__exactly_max_age_after_report__is_fresh(weth_feed):
    mine_at(weth_feed.updated_at() + MAX_AGE)
    assert weth_feed.peek() == (2_000 * WAD, True)


def test_peek__one_second_past_max_age__is_stale_but_keeps_price(weth_feed):
    mine_at(weth_feed.updated_at() + MAX_AGE + 1)
    assert weth_feed.peek() == (2_000 * WAD, False)


# ------------------------------------------------------------------ set_max_age
@pytest.mark.parametrize("max_age", [MIN_MAX_AGE, MAX_MAX_AGE])
def test_set_max_age__at_bound__stores_it_and_logs_without_touching_price(weth_feed, admin, max_age):
    price, updated = weth_feed.price(), weth_feed.updated_at()
    tx = weth_feed.set_max_age(max_age, {"from": admin})
    assert weth_feed.max_age() == max_age
    assert tx.events["MaxAgeSet"]["max_age"] == max_age
    assert (weth_feed.price(), weth_feed.updated_at()) == (price, updated)


@pytest.mark.parametrize("max_age", [0, MIN_MAX_AGE - 1, MAX_MAX_AGE + 1, 2**256 - 1])
def test_set_max_age__out_of_bounds__reverts_and_changes_nothing(weth_feed, admin, max_age):
    with brownie.reverts("feed: max age out of bounds"):
        weth_feed.set_max_age(max_age, {"from": admin})
    assert weth_feed.max_age() == MAX_AGE


def test_set_max_age__by_reporter__reverts_and_changes_nothing(weth_feed, reporter):
    with brownie.reverts("access: missing role"):
        weth_feed.set_max_age(MIN_MAX_AGE, {"from": reporter})
    assert weth_feed.max_age() == MAX_AGE


def test_set_max_age__by_stranger__reverts(weth_feed, stranger):
    with brownie.reverts("access: missing role"):
        weth_feed.set_max_age(MIN_MAX_AGE, {"from": stranger})
    assert weth_feed.max_age() == MAX_AGE


def test_set_max_age__longer__makes_stale_price_fresh_again(weth_feed, admin):
    mine_at(weth_feed.updated_at() + MAX_AGE + 1)
    assert weth_feed.peek()[1] is False
    weth_feed.set_max_age(2 * MAX_AGE, {"from": admin})
    assert weth_feed.peek() == (2_000 * WAD, True)


def test_set_max_age__shorter__makes_fresh_price_stale(weth_feed, admin):
    mine_at(weth_feed.updated_at() + MIN_MAX_AGE + 1)
    assert weth_feed.peek()[1] is True
    weth_feed.set_max_age(MIN_MAX_AGE, {"from": admin})
    assert weth_feed.peek() == (2_000 * WAD, False)

"""Liquidator: who may be liquidated, caps on target in auction, keeper reward, batches."""

import brownie
import pytest

from tests.unit.conftest import (
    CRASH_PRICE,
    DUST,
    KEEPER_REWARD,
    LINEAR_CURVE,
    LIQUIDATION_PENALTY,
    MAX_AGE,
    RAY,
    WAD,
    conservation_holds,
    mul_div,
    rate_at,
    schedule,
)


@pytest.fixture
def sys(liquidation_system, positions, lens):
    return dict(liquidation_system, lens=lens, **positions)


def expected_target(normalized_debt, rate):
    return mul_div(mul_div(normalized_debt, rate, RAY, True), LIQUIDATION_PENALTY, WAD, True)


def lot_debt(normalized_debt, rate):
    """The debt a lot carries, RAD: normalized_debt * rate rounded up to whole WAD (the
    engine credits the rounding to the surplus)."""
    return mul_div(normalized_debt, rate, RAY, True) * RAY


def expected_reward(target):
    flat, percent, cap = KEEPER_REWARD
    return min(flat + mul_div(target, percent, WAD, False), cap)


def conserved(s):
    return conservation_holds(s["engine"], s["debt_token"], s["weth"], s["weth_type"])


def test_liquidate__safe_vault__reverts(sys, keeper):
    with brownie.reverts("engine: vault safe"):
        sys["liquidator"].liquidate(sys["keeper"], keeper, {"from": keeper})


def test_liquidate__stale_price__reverts(sys, keeper):
    brownie.chain.sleep(MAX_AGE + 1)
    brownie.chain.mine()
    assert not sys["lens"].is_liquidatable(sys["unsafe"])
    with brownie.reverts("engine: oracle stale"):
        sys["liquidator"].liquidate(sys["unsafe"], keeper, {"from": keeper})


def test_liquidate__stopped__reverts(sys, keeper, admin):
    sys["liquidator"].set_stopped(True, {"from": admin})
    with brownie.reverts("liquidator: stopped"):
        sys["liquidator"].liquidate(sys["unsafe"], keeper, {"from": keeper})


def test_liquidate__unsafe_vault__seizes_all_kicks_auction_pays_reward(sys, keeper, borrower):
    engine, liquidator, auction, token = sys["engine"], sys["liquidator"], sys["auction"], sys["debt_token"]
    vault_id = sys["unsafe"]
    assert sys["lens"].is_liquidatable(vault_id)
    _, _, collateral, normalized_debt = engine.vault_position(vault_id)
    bad_before = engine.bad_debt()
    balance_before = token.balanceOf(keeper)
    at = schedule(10)
    rate = rate_at(engine, sys["weth_type"], at)
    tx = liquidator.liquidate(vault_id, keeper, {"from": keeper})

    assert engine.collateral_type_info(sys["weth_type"])["rate"] == rate
    target = expected_target(normalized_debt, rate)
    reward = expected_reward(target)
    event = tx.events["Liquidated"]
    auction_id = tx.return_value
    assert auction_id == 1
    assert event["vault_id"] == vault_id and event["auction_id"] == auction_id and event["keeper"] == keeper
    assert event["collateral"] == collateral
    assert event["debt"] == lot_debt(normalized_debt, rate)
    assert event["target"] == target
    assert event["reward"] == reward
    assert engine.vault_position(vault_id)[2:] == (0, 0)
    status = auction.status(auction_id)
    assert status["active"] and status["owner"] == borrower
    assert status["lot"] == collateral and status["target"] == target
    assert status["debt"] == lot_debt(normalized_debt, rate)
    assert status["top"] == mul_div(CRASH_PRICE, LINEAR_CURVE[1], WAD, False)
    assert status["started_at"] == at
    assert token.balanceOf(keeper) == balance_before + reward
    assert engine.bad_debt() == bad_before + reward * RAY
    assert engine.debt_in_auction() == lot_debt(normalized_debt, rate)
    assert engine.type_collateral_in_auction(sys["weth_type"]) == collateral
    assert liquidator.room(sys["weth_type"])[1] == target
    assert liquidator.room(sys["weth_type"])[3] == target
    assert conserved(sys)


def test_liquidate__type_limit_allows_part__liquidates_part(sys, keeper, admin):
    engine, liquidator, auction = sys["engine"], sys["liquidator"], sys["auction"]
    limit = 5_000 * WAD
    liquidator.set_type_limit(sys["weth_type"], limit, {"from": admin})
    vault_id = sys["unsafe"]
    _, _, collateral, normalized_debt = engine.vault_position(vault_id)
    at = schedule(10)
    rate = rate_at(engine, sys["weth_type"], at)
    tx = liquidator.liquidate(vault_id, keeper, {"from": keeper})

    taken = min(normalized_debt, mul_div(mul_div(limit, WAD, LIQUIDATION_PENALTY, False), RAY, rate, False))
    assert taken < normalized_debt
    seized = mul_div(collateral, taken, normalized_debt, True)
    target = expected_target(taken, rate)
    assert target <= limit
    event = tx.events["Liquidated"]
    assert (event["collateral"], event["debt"], event["target"]) == (seized, lot_debt(taken, rate), target)
    assert event["reward"] == expected_reward(target)
    _, _, left_collateral, left_debt = engine.vault_position(vault_id)
    assert (left_collateral, left_debt) == (collateral - seized, normalized_debt - taken)
    assert left_debt * rate >= DUST * RAY
    assert auction.status(tx.return_value)["target"] == target
    assert conserved(sys)


def test_liquidate__type_limit_would_leave_dust__leaves_exactly_dust(sys, keeper, admin):
    engine, liquidator = sys["engine"], sys["liquidator"]
    vault_id = sys["unsafe"]
    _, _, collateral, normalized_debt = engine.vault_position(vault_id)
    # room for all but ~44 kUSD of debt: the remainder would be below the 100 kUSD dust
    full = expected_target(normalized_debt, engine.current_rate(sys["weth_type"]))
    limit = full - 50 * WAD
    liquidator.set_type_limit(sys["weth_type"], limit, {"from": admin})
    at = schedule(10)
    rate = rate_at(engine, sys["weth_type"], at)
    tx = liquidator.liquidate(vault_id, keeper, {"from": keeper})
    keep = mul_div(DUST, RAY, rate, True)
    taken = normalized_debt - keep
    event = tx.events["Liquidated"]
    assert event["debt"] == lot_debt(taken, rate)
    assert event["target"] == expected_target(taken, rate) <= limit
    assert engine.vault_position(vault_id)[3] == keep
    assert keep * rate >= DUST * RAY
    assert conserved(sys)


@pytest.mark.parametrize("which", ["type", "global"])
def test_liquidate__limit_exhausted__reverts(sys, keeper, admin, which):
    engine, liquidator = sys["engine"], sys["liquidator"]
    liquidator.liquidate(sys["unsafe"], keeper, {"from": keeper})
    used = liquidator.room(sys["weth_type"])[1]
    if which == "type":
        liquidator.set_type_limit(sys["weth_type"], used, {"from": admin})
    else:
        liquidator.set_global_limit(used, {"from": admin})
    before = engine.vault_position(sys["unsafe2"])
    with brownie.reverts(f"liquidator: {which} auction limit reached"):
        liquidator.liquidate(sys["unsafe2"], keeper, {"from": keeper})
    assert engine.vault_position(sys["unsafe2"]) == before
    assert conserved(sys)


def test_liquidate_many__mixed_vaults__liquidates_only_unsafe_and_skips_rest(sys, keeper, stranger, weth_type):
    engine, liquidator, auction = sys["engine"], sys["liquidator"], sys["auction"]
    closed = engine.open_vault(weth_type, 1 * WAD, 0, {"from": stranger}).return_value
    engine.close(closed, stranger, {"from": stranger})
    unknown = 999
    ids = [sys["unsafe"], sys["keeper"], closed, unknown, sys["unsafe2"]]
    tx = liquidator.liquidate_many(ids, keeper, {"from": keeper})

    assert tx.return_value == [1, 0, 0, 0, 2]
    assert [e["vault_id"] for e in tx.events["Liquidated"]] == [sys["unsafe"], sys["unsafe2"]]
    assert [e["vault_id"] for e in tx.events["Skipped"]] == [sys["keeper"], closed, unknown]
    assert auction.auction_count() == 2
    assert engine.vault_position(sys["unsafe"])[2:] == (0, 0)
    assert engine.vault_position(sys["keeper"])[2] == 100 * WAD
    assert not sys["lens"].is_liquidatable(sys["keeper"])
    assert conserved(sys)

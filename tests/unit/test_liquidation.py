"""Liquidator: who may be liquidated, caps on vault debt in auction, keeper reward, batches."""

import brownie
import pytest

from tests.unit.conftest import (
    type_info,
    CRASH_PRICE,
    DUST,
    KEEPER_REWARD,
    LINEAR_CURVE,
    LIQUIDATION_PENALTY,
    MAX_AGE,
    RAY,
    WAD,
    ZERO_ADDRESS,
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
    """The debt a lot carries, WAD: normalized_debt * rate rounded up to whole WAD (the
    engine credits the rounding to the surplus)."""
    return mul_div(normalized_debt, rate, RAY, True)


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

    assert type_info(engine, sys["weth_type"])["rate"] == rate
    target = expected_target(normalized_debt, rate)
    reward = expected_reward(target)
    event = tx.events["Liquidated"]
    auction_id = tx.return_value
    assert auction_id == 1
    assert event["vault_id"] == vault_id and event["auction_id"] == auction_id and event["keeper"] == keeper
    assert event["reward"] == reward
    started = tx.events["AuctionStarted"]
    assert (started["vault_id"], started["lot"], started["debt"], started["target"]) == (
        vault_id, collateral, lot_debt(normalized_debt, rate), target,
    )
    seized = tx.events["Seized"]
    assert (seized["vault_id"], seized["collateral"], seized["normalized_debt"]) == (vault_id, collateral, normalized_debt)
    # emptied by the liquidation, still the borrower's
    assert engine.vault_position(vault_id) == (borrower, sys["weth_type"], 0, 0)
    status = auction.status(auction_id)
    assert status["active"] and status["vault_id"] == vault_id
    assert status["lot"] == collateral and status["target"] == target
    assert status["debt"] == lot_debt(normalized_debt, rate)
    assert status["top"] == mul_div(CRASH_PRICE, LINEAR_CURVE[1], WAD, False)
    assert status["started_at"] == at
    assert token.balanceOf(keeper) == balance_before + reward
    assert engine.bad_debt() == bad_before + reward * RAY
    assert engine.debt_in_auction() == lot_debt(normalized_debt, rate) * RAY
    assert engine.type_debt_in_auction(sys["weth_type"]) == lot_debt(normalized_debt, rate)
    assert engine.type_collateral_in_auction(sys["weth_type"]) == collateral
    assert liquidator.room(sys["weth_type"])[1] == lot_debt(normalized_debt, rate)
    assert liquidator.room(sys["weth_type"])[3] == lot_debt(normalized_debt, rate)
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

    # the cap counts vault debt (not the target with its penalty)
    taken = min(normalized_debt, mul_div(limit, RAY, rate, False))
    assert taken < normalized_debt
    seized = mul_div(collateral, taken, normalized_debt, True)
    target = expected_target(taken, rate)
    assert lot_debt(taken, rate) <= limit
    started = tx.events["AuctionStarted"]
    assert (started["lot"], started["debt"], started["target"]) == (seized, lot_debt(taken, rate), target)
    assert tx.events["Liquidated"]["reward"] == expected_reward(target)
    assert engine.type_debt_in_auction(sys["weth_type"]) <= limit
    _, _, left_collateral, left_debt = engine.vault_position(vault_id)
    assert (left_collateral, left_debt) == (collateral - seized, normalized_debt - taken)
    assert left_debt * rate >= DUST * RAY
    assert auction.status(tx.return_value)["target"] == target
    assert conserved(sys)


def test_liquidate__type_limit_would_leave_dust__leaves_exactly_dust(sys, keeper, admin):
    engine, liquidator = sys["engine"], sys["liquidator"]
    vault_id = sys["unsafe"]
    _, _, collateral, normalized_debt = engine.vault_position(vault_id)
    # room for all but ~50 kUSD of debt: the remainder would be below the 100 kUSD dust
    full = lot_debt(normalized_debt, engine.current_rate(sys["weth_type"]))
    limit = full - 50 * WAD
    liquidator.set_type_limit(sys["weth_type"], limit, {"from": admin})
    at = schedule(10)
    rate = rate_at(engine, sys["weth_type"], at)
    tx = liquidator.liquidate(vault_id, keeper, {"from": keeper})
    keep = mul_div(DUST, RAY, rate, True)
    taken = normalized_debt - keep
    started = tx.events["AuctionStarted"]
    assert started["debt"] == lot_debt(taken, rate) <= limit
    assert started["target"] == expected_target(taken, rate)
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
    with brownie.reverts(f"engine: {which} auction limit reached"):
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
    assert [e["vault_id"] for e in tx.events["AuctionStarted"]] == [sys["unsafe"], sys["unsafe2"]]
    assert "Liquidated" not in tx.events  # one BatchLiquidated for the batch
    assert [e["vault_id"] for e in tx.events["Skipped"]] == [sys["keeper"], closed, unknown]
    batch = tx.events["BatchLiquidated"]
    rewards = [expected_reward(e["target"]) for e in tx.events["AuctionStarted"]]
    assert (batch["keeper"], batch["liquidated"], batch["skipped"], batch["reward"]) == (keeper, 2, 3, sum(rewards))
    # the summed reward is minted once
    assert [e["value"] for e in tx.events["Transfer"] if e["sender"] == ZERO_ADDRESS] == [sum(rewards)]
    assert auction.auction_count() == 2
    assert engine.vault_position(sys["unsafe"])[2:] == (0, 0)
    assert engine.vault_position(sys["keeper"])[2] == 100 * WAD
    assert not sys["lens"].is_liquidatable(sys["keeper"])
    assert conserved(sys)


def test_liquidate_many__every_vault_skipped__mints_nothing_and_reverts_nothing(sys, keeper):
    token = sys["debt_token"]
    supply = token.totalSupply()
    tx = sys["liquidator"].liquidate_many([sys["keeper"], 999], keeper, {"from": keeper})
    assert tx.return_value == [0, 0]
    batch = tx.events["BatchLiquidated"]
    assert (batch["liquidated"], batch["skipped"], batch["reward"]) == (0, 2, 0)
    assert token.totalSupply() == supply
    assert conserved(sys)


def test_liquidate__zero_keeper__reverts(sys, keeper):
    for call in (
        lambda: sys["liquidator"].liquidate(sys["unsafe"], ZERO_ADDRESS, {"from": keeper}),
        lambda: sys["liquidator"].liquidate_many([sys["unsafe"]], ZERO_ADDRESS, {"from": keeper}),
    ):
        with brownie.reverts("liquidator: zero keeper"):
            call()
    assert sys["auction"].auction_count() == 0


def test_set_type_limit__by_admin__stored_in_engine_beside_the_penalty(sys, admin):
    engine, liquidator = sys["engine"], sys["liquidator"]
    tx = liquidator.set_type_limit(sys["weth_type"], 1_234 * WAD, {"from": admin})
    assert tx.events["LimitsSet"]["limit"] == 1_234 * WAD
    assert type_info(engine, sys["weth_type"])["auction_limit"] == 1_234 * WAD
    assert type_info(engine, sys["weth_type"])["liquidation_penalty"] == LIQUIDATION_PENALTY  # untouched
    assert liquidator.room(sys["weth_type"])[0] == 1_234 * WAD


@pytest.mark.parametrize("call,message", [
    (lambda l, t: l.set_type_limit(t, 2**95), "liquidator: limit out of bounds"),
    (lambda l, t: l.set_global_limit(2**95), "liquidator: limit out of bounds"),
    (lambda l, t: l.set_type_limit(0, WAD), "liquidator: type 0 is the global limit"),
    (lambda l, t: l.set_reward(t, 1_000 * WAD + 1, 0, 0), "liquidator: reward out of bounds"),
    (lambda l, t: l.set_reward(t, 0, WAD // 20 + 1, 0), "liquidator: reward out of bounds"),
    (lambda l, t: l.set_reward(t, 0, 0, 100_000 * WAD + 1), "liquidator: reward out of bounds"),
])
def test_liquidator_setters__out_of_bounds__revert_and_change_nothing(sys, admin, call, message):
    liquidator, weth_type = sys["liquidator"], sys["weth_type"]
    before = (liquidator.room(weth_type), liquidator.reward(weth_type))
    with brownie.reverts(message):
        call(liquidator, weth_type)
    assert (liquidator.room(weth_type), liquidator.reward(weth_type)) == before


def test_set_auction_limit__engine_bound__reverts(sys, admin):
    engine = sys["engine"]
    engine.set_roles(admin, engine.roles(admin) | 16, {"from": admin})  # ROLE_LIQUIDATOR, to call it directly
    with brownie.reverts("engine: auction limit out of bounds"):
        engine.set_auction_limit(sys["weth_type"], 2**95, {"from": admin})
    with brownie.reverts("engine: unknown collateral type"):
        engine.set_auction_limit(77, WAD, {"from": admin})


def test_set_stopped__toggled__blocks_then_allows(sys, keeper, admin):
    liquidator = sys["liquidator"]
    assert liquidator.set_stopped(True, {"from": admin}).events["StoppedSet"]["stopped"]
    assert liquidator.stopped()
    with brownie.reverts("liquidator: stopped"):
        liquidator.liquidate(sys["unsafe"], keeper, {"from": keeper})
    liquidator.set_stopped(False, {"from": admin})
    assert not liquidator.stopped()
    assert liquidator.room(sys["weth_type"])[2] == liquidator.room(0)[2]  # the global limit kept
    liquidator.liquidate(sys["unsafe"], keeper, {"from": keeper})
    assert conserved(sys)


def test_deploy__zero_address__reverts(Liquidator, sys, admin):
    with brownie.reverts("liquidator: zero address"):
        Liquidator.deploy(ZERO_ADDRESS, sys["auction"], admin, {"from": admin})
    with brownie.reverts("liquidator: zero address"):
        Liquidator.deploy(sys["engine"], ZERO_ADDRESS, admin, {"from": admin})

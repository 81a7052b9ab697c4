"""GlobalSettlement: emergency shutdown, settlement of vaults and auction lots at frozen
prices, each type's redemption pool, and debt-token holders' pro-rata claims.

The world is `positions` (WETH at 1,400: the keeper's safe vault, two unsafe vaults) with
the `settlement` contract wired in; WBTC and USDC are listed too (types 2 and 3, no vaults).
"""

import brownie
import pytest
from brownie import compile_source
from brownie.test import given, strategy

from tests.unit.conftest import (
    type_info,
    COLLATERALS,
    CRASH_PRICE,
    DEBT_CEILING,
    DUST,
    FROZEN,
    LINEAR_CURVE,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_AGE,
    MAX_UINT256,
    RAY,
    STABILITY_FEE,
    STOP_SHUTDOWN,
    WAD,
    ZERO_ADDRESS,
    collateral_for,
    conservation_holds,
    max_safe_borrow,
    mine_at,
    mul_div,
    rate_at,
    schedule,
    set_next_timestamp,
)

TOP = mul_div(CRASH_PRICE, LINEAR_CURVE[1], WAD, False)  # a lot's start price at 1,400: 1,680
TAU = LINEAR_CURVE[2]

BROKEN_ORACLE_SOURCE = """# pragma version ~=0.4.3
# test double: an oracle whose peek() reverts while it is broken
price: public(uint256)
broken: public(bool)

@deploy
def __init__(initial_price: uint256):
    self.price = initial_price

@external
def set_broken(broken: bool):
    self.broken = broken

@external
@view
def peek() -> (uint256, bool):
    assert not self.broken, "oracle: down"
    return self.price, True
"""


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture(scope="module")
def broken_oracle(admin):
    """An oracle answering (1,300, fresh) until `set_broken(True)`, then reverting."""
    project = compile_source(BROKEN_ORACLE_SOURCE, vyper_version="0.4.3", evm_version="prague")
    return project.Vyper.deploy(1_300 * WAD, {"from": admin})


@pytest.fixture(scope="module")
def spare_token(MockToken, admin):
    return MockToken.deploy("Spare", "SPR", 18, {"from": admin})


@pytest.fixture
def system(liquidation_system, positions, settlement):
    return dict(liquidation_system, **positions, settlement=settlement)


def conserved(s):
    return conservation_holds(s["engine"], s["debt_token"], s["weth"], s["weth_type"])


def shut_down(s, admin, seconds_ahead=10):
    schedule(seconds_ahead)
    return s["settlement"].shutdown({"from": admin})


def events_of(tx, name, contract):
    """The `name` events `contract` emitted in `tx` (engine and settlement share some names)."""
    return [e for e in tx.events if e.name == name and e.address == contract.address]


def linear_price(top, elapsed):
    return 0 if elapsed >= TAU else top * (TAU - elapsed) // TAU


def liquidate(s, vault_id, keeper):
    """Liquidate `vault_id` (its lot starts at TOP); returns (auction id, start time)."""
    tx = s["liquidator"].liquidate(vault_id, keeper, {"from": keeper})
    return tx.return_value, tx.timestamp


def take_at(s, auction_id, at, taker, amount):
    set_next_timestamp(at)
    return s["auction"].take(auction_id, amount, MAX_UINT256, taker, b"", {"from": taker})


def vault_ids(engine):
    return range(1, engine.vault_count() + 1)


def indebted_vaults(engine):
    ids = []
    for vault_id in vault_ids(engine):
        try:
            if engine.vault_position(vault_id)[3] != 0:
                ids.append(vault_id)
        except brownie.exceptions.VirtualMachineError:
            continue  # closed
    return ids


def settle_everything(s, caller):
    """Settle every indebted vault, cancel every running lot, finalize WETH."""
    settlement, auction = s["settlement"], s["auction"]
    settlement.settle_vaults(indebted_vaults(s["engine"]), {"from": caller})
    for auction_id in range(1, auction.auction_count() + 1):
        if auction.status(auction_id)["active"]:
            settlement.cancel_auction(auction_id, {"from": caller})
    return settlement.finalize(s["weth_type"], {"from": caller})


def holders_of(debt_token, accounts):
    holders = [a for a in accounts if debt_token.balanceOf(a) > 0]
    assert sum(debt_token.balanceOf(a) for a in holders) == debt_token.totalSupply()
    return holders


def ledger(s, *people):
    """Everything a refused action must leave alone."""
    engine, t = s["engine"], s["weth_type"]
    positions = []
    for vault_id in vault_ids(engine):
        try:
            positions.append(tuple(engine.vault_position(vault_id)))
        except brownie.exceptions.VirtualMachineError:
            positions.append(None)
    return (
        tuple(positions), tuple(type_info(engine, t)), engine.collateral_type_count(),
        engine.surplus(), engine.debt_in_auction(), engine.bad_debt(), engine.settled_debt(),
        engine.type_collateral_in_auction(t), engine.type_collateral_settled(t), engine.type_collateral_dust(t),
        s["debt_token"].totalSupply(), s["auction"].auction_count(),
        tuple(s["weth"].balanceOf(p) for p in people), tuple(s["debt_token"].balanceOf(p) for p in people),
    )


# ------------------------------------------------------------------ shutdown
def test_shutdown__by_stranger__reverts(system, stranger, borrower):
    settlement, engine, auction = system["settlement"], system["engine"], system["auction"]
    for who in (stranger, borrower):
        with brownie.reverts("access: missing role"):
            settlement.shutdown({"from": who})
    assert settlement.shutdown_at() == 0 and engine.shutdown_at() == 0
    assert auction.stop_level() == 0
    assert settlement.supply_at_shutdown() == 0


def test_shutdown__by_admin__freezes_prices_records_supply_and_stops_auctions(system, admin):
    settlement, engine, auction, token = system["settlement"], system["engine"], system["auction"], system["debt_token"]
    at = schedule(10)
    rates = {t: rate_at(engine, t, at) for t in (1, 2, 3)}
    supply = token.totalSupply()
    tx = settlement.shutdown({"from": admin})

    event = tx.events["ShutdownTriggered"]
    assert (event["caller"], event["timestamp"], event["supply"]) == (admin, at, supply)
    frozen = [(e["collateral_type"], e["price"], e["fresh"]) for e in tx.events["PriceFrozen"]]
    assert frozen == [
        (1, CRASH_PRICE, True), (2, COLLATERALS["WBTC"][1], True), (3, COLLATERALS["USDC"][1], True),
    ]
    assert [settlement.frozen_price(t) for t in (1, 2, 3)] == [
        CRASH_PRICE, COLLATERALS["WBTC"][1], COLLATERALS["USDC"][1],
    ]
    assert settlement.supply_at_shutdown() == supply
    assert settlement.shutdown_at() == at
    assert engine.shutdown_at() == at
    assert tx.events["Shutdown"]["timestamp"] == at
    assert auction.stop_level() == STOP_SHUTDOWN
    assert tx.events["StopLevelSet"]["level"] == STOP_SHUTDOWN
    # every type's fee is charged to the shutdown time, then the rate stops
    for t, rate in rates.items():
        info = type_info(engine, t)
        assert (info["rate"], info["last_accrual"]) == (rate, FROZEN)
    assert conserved(system)


def test_shutdown__twice__reverts(system, admin):
    shut_down(system, admin)
    with brownie.reverts("settlement: already shut down"):
        system["settlement"].shutdown({"from": admin})


def test_set_stop_level__after_shutdown__reverts(system, admin):
    shut_down(system, admin)
    with brownie.reverts("auction: shut down"):
        system["auction"].set_stop_level(0, {"from": admin})
    assert system["auction"].stop_level() == STOP_SHUTDOWN


def test_shutdown__stale_oracle__freezes_the_stale_price_marked_not_fresh(system, admin):
    mine_at(system["feed"].updated_at() + MAX_AGE + 1)
    tx = shut_down(system, admin)
    event = tx.events["PriceFrozen"][0]
    assert (event["collateral_type"], event["price"], event["fresh"]) == (1, CRASH_PRICE, False)
    assert system["settlement"].frozen_price(1) == CRASH_PRICE


# ------------------------------------------------------------------ a shut-down system
AFTER_SHUTDOWN = {
    "borrow": lambda s, a: s["engine"].borrow(s["keeper"], WAD, a["keeper"], {"from": a["keeper"]}),
    "repay": lambda s, a: s["engine"].repay(s["keeper"], WAD, {"from": a["keeper"]}),
    "repay_all": lambda s, a: s["engine"].repay(s["keeper"], MAX_UINT256, {"from": a["keeper"]}),
    "open_vault_with_borrow": lambda s, a: s["engine"].open_vault(
        s["weth_type"], 10 * WAD, 1_000 * WAD, {"from": a["stranger"]}),
    "close_with_debt": lambda s, a: s["engine"].close(s["keeper"], a["keeper"], {"from": a["keeper"]}),
    "withdraw_with_debt": lambda s, a: s["engine"].withdraw(s["keeper"], WAD, a["keeper"], {"from": a["keeper"]}),
    "accrue": lambda s, a: s["engine"].accrue(s["weth_type"], {"from": a["stranger"]}),
    "liquidate": lambda s, a: s["liquidator"].liquidate(s["unsafe"], a["keeper"], {"from": a["keeper"]}),
    "withdraw_surplus": lambda s, a: s["engine"].withdraw_surplus(a["treasury"], 1, {"from": a["treasury"]}),
    "add_collateral_type": lambda s, a: s["engine"].add_collateral_type(
        a["spare_token"], s["feed"], LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY,
        {"from": a["admin"]}),
    "set_stability_fee": lambda s, a: s["engine"].set_stability_fee(
        s["weth_type"], STABILITY_FEE, {"from": a["admin"]}),
}


@pytest.mark.parametrize("action", sorted(AFTER_SHUTDOWN))
def test_debt_changing_action__after_shutdown__reverts_shut_down(
    system, action, admin, keeper, stranger, treasury, spare_token,
):
    actors = dict(admin=admin, keeper=keeper, stranger=stranger, treasury=treasury, spare_token=spare_token)
    shut_down(system, admin, seconds_ahead=60)
    before = ledger(system, keeper, stranger, treasury)
    with brownie.reverts("engine: shut down"):
        AFTER_SHUTDOWN[action](system, actors)
    assert ledger(system, keeper, stranger, treasury) == before
    assert conserved(system)


def test_liquidate_many__after_shutdown__skips_every_vault(system, admin, keeper):
    shut_down(system, admin)
    tx = system["liquidator"].liquidate_many([system["unsafe"], system["unsafe2"]], keeper, {"from": keeper})
    assert tx.return_value == [0, 0]
    assert system["auction"].auction_count() == 0


def test_auction_take_and_reset__after_shutdown__revert_stopped(system, admin, keeper):
    auction_id, start = liquidate(system, system["unsafe"], keeper)
    shut_down(system, admin)
    before = ledger(system, keeper)
    with brownie.reverts("auction: stopped"):
        system["auction"].take(auction_id, WAD, MAX_UINT256, keeper, b"", {"from": keeper})
    mine_at(start + LINEAR_CURVE[5] + 1)  # the lot is due a reset
    assert system["auction"].status(auction_id)["needs_reset"]
    with brownie.reverts("auction: stopped"):
        system["auction"].reset(auction_id, keeper, {"from": keeper})
    assert ledger(system, keeper) == before
    assert conserved(system)


def test_collateral_moves__after_shutdown__deposit_withdraw_and_close_without_debt_still_work(
    system, admin, stranger, keeper,
):
    engine, weth = system["engine"], system["weth"]
    free = engine.open_vault(system["weth_type"], 5 * WAD, 0, {"from": stranger}).return_value
    shut_down(system, admin)
    balance = weth.balanceOf(stranger)
    engine.deposit(free, 2 * WAD, {"from": stranger})
    engine.withdraw(free, 3 * WAD, stranger, {"from": stranger})
    assert engine.vault_position(free)[2] == 4 * WAD
    assert weth.balanceOf(stranger) == balance + WAD
    # a vault with debt may be topped up (its owner keeps what settlement does not need)
    engine.deposit(system["keeper"], WAD, {"from": keeper})
    assert engine.vault_position(system["keeper"])[2] == 101 * WAD
    # a new vault without debt may be opened, and a debt-free vault closed
    other = engine.open_vault(system["weth_type"], WAD, 0, {"from": stranger}).return_value
    tx = engine.close(free, stranger, {"from": stranger})
    assert tx.events["VaultClosed"]["collateral_returned"] == 4 * WAD
    assert weth.balanceOf(stranger) == balance + 4 * WAD
    assert engine.vault_position(free)[2:] == (0, 0)
    assert engine.vault_position(other)[2:] == (WAD, 0)
    assert conserved(system)


def test_rates__time_passes_after_shutdown__stay_frozen(system, admin):
    engine, t = system["engine"], system["weth_type"]
    tx = shut_down(system, admin)
    info = type_info(engine, t)
    surplus = engine.surplus()
    mine_at(tx.timestamp + 365 * 86_400)
    later = type_info(engine, t)
    assert later["rate"] == info["rate"] and later["debt"] == info["debt"]
    assert later["last_accrual"] == FROZEN
    assert engine.current_rate(t) == info["rate"]
    assert engine.surplus() == surplus
    assert conserved(system)


# ------------------------------------------------------------------ settle_vault
def test_settle_vault__before_shutdown__reverts(system, stranger):
    with brownie.reverts("settlement: not shut down"):
        system["settlement"].settle_vault(system["keeper"], {"from": stranger})
    with brownie.reverts("settlement: not shut down"):
        system["settlement"].settle_vaults([system["keeper"]], {"from": stranger})


def test_settle_vault__covered_vault__pool_gains_debt_worth_and_owner_withdraws_the_rest(
    system, admin, keeper, stranger,
):
    engine, settlement, weth = system["engine"], system["settlement"], system["weth"]
    vault_id, t = system["keeper"], system["weth_type"]
    shut_down(system, admin)
    rate = type_info(engine, t)["rate"]
    _, _, collateral, normalized_debt = engine.vault_position(vault_id)
    debt = normalized_debt * rate
    owed = collateral_for(debt, CRASH_PRICE)
    assert owed < collateral
    type_debt = engine.type_normalized_debt(t)

    tx = settlement.settle_vault(vault_id, {"from": stranger})  # anyone may settle

    assert tx.return_value == owed
    ours = events_of(tx, "VaultSettled", settlement)[0]
    assert (ours["vault_id"], ours["collateral_type"], ours["collateral"], ours["shortfall"]) == (vault_id, t, owed, 0)
    theirs = events_of(tx, "VaultSettled", engine)[0]
    assert (theirs["collateral"], theirs["debt"], theirs["shortfall"]) == (owed, debt, 0)
    assert engine.vault_position(vault_id) == (keeper, t, collateral - owed, 0)
    assert engine.type_normalized_debt(t) == type_debt - normalized_debt
    assert engine.settled_debt() == debt
    assert engine.type_collateral_settled(t) == owed
    assert settlement.shortfall(t) == 0
    # the collateral handed over is worth at least the debt, by less than one wei more
    assert owed * CRASH_PRICE * 10**9 >= debt > (owed - 1) * CRASH_PRICE * 10**9
    assert conserved(system)

    balance = weth.balanceOf(keeper)
    engine.withdraw(vault_id, collateral - owed, keeper, {"from": keeper})
    assert weth.balanceOf(keeper) == balance + collateral - owed
    assert engine.vault_position(vault_id)[2:] == (0, 0)
    engine.close(vault_id, keeper, {"from": keeper})
    assert conserved(system)


def test_settle_vault__underwater_vault__takes_all_collateral_and_records_shortfall(
    system, admin, reporter, stranger, borrower,
):
    engine, settlement = system["engine"], system["settlement"]
    t = system["weth_type"]
    price = 900 * WAD  # 10 WETH is then worth 9,000: less than either unsafe vault's debt
    system["feed"].set_price(price, {"from": reporter})
    shut_down(system, admin)
    assert settlement.frozen_price(t) == price
    rate = type_info(engine, t)["rate"]
    shortfall = 0
    settled = 0
    for vault_id in (system["unsafe"], system["unsafe2"]):
        _, _, collateral, normalized_debt = engine.vault_position(vault_id)
        owed = collateral_for(normalized_debt * rate, price)
        assert owed > collateral
        tx = settlement.settle_vault(vault_id, {"from": stranger})
        assert tx.return_value == collateral
        assert events_of(tx, "VaultSettled", settlement)[0]["shortfall"] == owed - collateral
        assert events_of(tx, "VaultSettled", engine)[0]["shortfall"] == owed - collateral
        assert engine.vault_position(vault_id)[2:] == (0, 0)
        shortfall += owed - collateral
        settled += normalized_debt * rate
        assert settlement.shortfall(t) == shortfall
        assert engine.settled_debt() == settled
        assert conserved(system)
    # the emptied vault can still be closed by its owner (nothing to pay, nothing returned)
    tx = engine.close(system["unsafe"], borrower, {"from": borrower})
    assert tx.events["VaultClosed"]["collateral_returned"] == 0
    assert conserved(system)


def test_settle_vault__vault_without_debt__reverts(system, admin, stranger):
    engine, settlement = system["engine"], system["settlement"]
    free = engine.open_vault(system["weth_type"], WAD, 0, {"from": stranger}).return_value
    shut_down(system, admin)
    with brownie.reverts("engine: vault has no debt"):
        settlement.settle_vault(free, {"from": stranger})
    settlement.settle_vault(system["keeper"], {"from": stranger})
    before = ledger(system)
    with brownie.reverts("engine: vault has no debt"):
        settlement.settle_vault(system["keeper"], {"from": stranger})
    with brownie.reverts("engine: unknown vault"):
        settlement.settle_vault(999, {"from": stranger})
    assert ledger(system) == before


def test_settle_vaults__mixed_ids__settles_only_indebted_vaults_and_returns_count(system, admin, stranger, keeper):
    engine, settlement = system["engine"], system["settlement"]
    free = engine.open_vault(system["weth_type"], WAD, 0, {"from": stranger}).return_value
    closed = engine.open_vault(system["weth_type"], WAD, 0, {"from": stranger}).return_value
    engine.close(closed, stranger, {"from": stranger})
    liquidate(system, system["unsafe"], keeper)  # fully seized: no debt left in the vault
    shut_down(system, admin)
    ids = [free, system["keeper"], closed, 999, system["unsafe"], system["unsafe2"], system["keeper"]]
    tx = settlement.settle_vaults(ids, {"from": stranger})
    assert tx.return_value == 2
    assert [e["vault_id"] for e in events_of(tx, "VaultSettled", settlement)] == [system["keeper"], system["unsafe2"]]
    assert engine.type_normalized_debt(system["weth_type"]) == 0
    assert settlement.settle_vaults([], {"from": stranger}).return_value == 0
    assert conserved(system)


def test_settle_vaults__a_vault_of_a_type_without_frozen_price__is_skipped_and_the_rest_settled(
    system, admin, borrower, stranger, wbtc_type, zero_price_oracle,
):
    """One dead oracle must not block the other types: the batch skips a vault whose type has
    no frozen price yet (settle_vault alone still reverts for it) and settles the rest."""
    engine, settlement = system["engine"], system["settlement"]
    wbtc_vault = engine.open_vault(wbtc_type, 10**8, 10_000 * WAD, {"from": borrower}).return_value
    engine.set_oracle(system["weth_type"], zero_price_oracle, {"from": admin})
    shut_down(system, admin)
    tx = settlement.settle_vaults([wbtc_vault, system["keeper"]], {"from": stranger})
    assert tx.return_value == 1
    assert [e["vault_id"] for e in events_of(tx, "VaultSettled", settlement)] == [wbtc_vault]
    assert engine.vault_position(wbtc_vault)[3] == 0
    assert engine.vault_position(system["keeper"])[3] != 0
    with brownie.reverts("settlement: price not frozen"):
        settlement.settle_vault(system["keeper"], {"from": stranger})


# ------------------------------------------------------------------ freeze_price
@pytest.fixture(params=["zero_price", "never_reported", "reverting"])
def dead_oracle(request, system, admin, zero_price_oracle, fresh_feed, broken_oracle):
    """Point WETH at an oracle that gives no price at shutdown; returns (repair, price after)."""
    engine, t = system["engine"], system["weth_type"]
    if request.param == "zero_price":
        engine.set_oracle(t, zero_price_oracle, {"from": admin})
        # the engine still lets the collateral admin re-point a type after shutdown
        return (lambda: engine.set_oracle(t, system["feed"], {"from": admin})), CRASH_PRICE
    if request.param == "never_reported":
        engine.set_oracle(t, fresh_feed, {"from": admin})
        return (lambda: fresh_feed.set_price(1_250 * WAD, {"from": admin})), 1_250 * WAD
    engine.set_oracle(t, broken_oracle, {"from": admin})
    broken_oracle.set_broken(True, {"from": admin})
    return (lambda: broken_oracle.set_broken(False, {"from": admin})), 1_300 * WAD


def test_freeze_price__no_price_at_shutdown__type_waits_then_freezes_once(system, dead_oracle, admin, stranger):
    settlement, t = system["settlement"], system["weth_type"]
    repair, price = dead_oracle
    tx = shut_down(system, admin)  # a dead oracle does not block the shutdown
    assert [e["collateral_type"] for e in tx.events["PriceFrozen"]] == [2, 3]
    assert settlement.frozen_price(t) == 0
    with brownie.reverts("settlement: price not frozen"):
        settlement.settle_vault(system["keeper"], {"from": stranger})
    with brownie.reverts("settlement: price not frozen"):
        settlement.finalize(t, {"from": stranger})
    with brownie.reverts("settlement: oracle gives no price"):
        settlement.freeze_price(t, {"from": stranger})

    repair()
    tx = settlement.freeze_price(t, {"from": stranger})
    assert (tx.events["PriceFrozen"]["collateral_type"], tx.events["PriceFrozen"]["price"]) == (t, price)
    assert settlement.frozen_price(t) == price
    with brownie.reverts("settlement: price already frozen"):
        settlement.freeze_price(t, {"from": stranger})
    assert settlement.settle_vault(system["keeper"], {"from": stranger}).return_value > 0
    assert conserved(system)


def test_freeze_price__misuse__reverts(system, admin, stranger):
    settlement = system["settlement"]
    with brownie.reverts("settlement: not shut down"):
        settlement.freeze_price(1, {"from": stranger})
    shut_down(system, admin)
    with brownie.reverts("settlement: price already frozen"):
        settlement.freeze_price(1, {"from": stranger})
    for unknown in (0, 4):
        with brownie.reverts("settlement: unknown collateral type"):
            settlement.freeze_price(unknown, {"from": stranger})


# ------------------------------------------------------------------ cancel_auction
def test_cancel_auction__partly_taken_lot__pool_gets_debt_worth_and_the_vault_the_rest(
    system, admin, keeper, borrower, stranger,
):
    engine, settlement, auction, liquidator, weth = (
        system["engine"], system["settlement"], system["auction"], system["liquidator"], system["weth"],
    )
    t = system["weth_type"]
    auction_id, start = liquidate(system, system["unsafe"], keeper)
    take_at(system, auction_id, start + 600, keeper, WAD)
    shut_down(system, admin)
    status = auction.status(auction_id)
    lot, debt = status["lot"], status["debt"]
    owed = collateral_for(debt * RAY, CRASH_PRICE)  # the vault's debt only: the penalty is dropped
    assert owed < lot
    assert owed < collateral_for(status["target"] * RAY, CRASH_PRICE)
    owner_weth, settled, pool = weth.balanceOf(borrower), engine.settled_debt(), engine.type_collateral_settled(t)
    vault_collateral = engine.vault_position(system["unsafe"])[2]

    tx = settlement.cancel_auction(auction_id, {"from": stranger})

    assert tx.return_value == owed
    cancelled = tx.events["AuctionCancelled"]
    assert (cancelled["auction_id"], cancelled["collateral_type"], cancelled["lot"], cancelled["debt"]) == (
        auction_id, t, lot, debt)
    lot_settled = tx.events["LotSettled"]
    assert (lot_settled["vault_id"], lot_settled["collateral"], lot_settled["returned"], lot_settled["debt"],
            lot_settled["shortfall"]) == (system["unsafe"], owed, lot - owed, debt, 0)
    ours = tx.events["AuctionSettled"]
    assert (ours["auction_id"], ours["collateral"], ours["shortfall"]) == (auction_id, owed, 0)
    # the rest goes back into the vault, where its owner may withdraw it
    assert weth.balanceOf(borrower) == owner_weth
    assert engine.vault_position(system["unsafe"])[2] == vault_collateral + lot - owed
    assert engine.type_collateral_settled(t) == pool + owed
    assert engine.settled_debt() == settled + debt * RAY
    assert engine.debt_in_auction() == 0
    assert engine.type_collateral_in_auction(t) == 0
    assert liquidator.room(t)[1] == 0 and liquidator.room(t)[3] == 0
    assert not auction.status(auction_id)["active"]
    assert settlement.shortfall(t) == 0
    assert conserved(system)


def test_cancel_auction__lot_worth_less_than_its_debt__pool_takes_all_and_records_shortfall(
    system, admin, keeper, borrower, reporter, stranger,
):
    engine, settlement, auction, weth = system["engine"], system["settlement"], system["auction"], system["weth"]
    t = system["weth_type"]
    auction_id, _ = liquidate(system, system["unsafe"], keeper)
    price = 500 * WAD
    system["feed"].set_price(price, {"from": reporter})
    shut_down(system, admin)
    status = auction.status(auction_id)
    owed = collateral_for(status["debt"] * RAY, price)
    assert owed > status["lot"]
    owner_weth = weth.balanceOf(borrower)
    tx = settlement.cancel_auction(auction_id, {"from": stranger})
    assert tx.return_value == status["lot"]
    assert tx.events["AuctionSettled"]["shortfall"] == owed - status["lot"]
    assert tx.events["LotSettled"]["returned"] == 0
    assert settlement.shortfall(t) == owed - status["lot"]
    assert weth.balanceOf(borrower) == owner_weth
    assert engine.type_collateral_settled(t) == status["lot"]
    assert conserved(system)


def test_cancel_auction__lot_debt_already_covered__vault_gets_whole_lot_and_penalty_is_dropped(
    system, admin, keeper, borrower, stranger,
):
    engine, settlement, auction, weth = system["engine"], system["settlement"], system["auction"], system["weth"]
    auction_id, start = liquidate(system, system["unsafe"], keeper)
    price = linear_price(TOP, 600)
    debt = auction.status(auction_id)["debt"]
    # buy enough to cover the vault's debt but not the penalty
    amount = mul_div(debt + WAD, WAD, price, True)
    take_at(system, auction_id, start + 600, keeper, amount)
    status = auction.status(auction_id)
    assert status["active"] and status["debt"] == 0 and status["target"] > 0
    shut_down(system, admin)
    owner_weth, surplus = weth.balanceOf(borrower), engine.surplus()
    vault_collateral = engine.vault_position(system["unsafe"])[2]
    tx = settlement.cancel_auction(auction_id, {"from": stranger})
    assert tx.return_value == 0
    assert tx.events["LotSettled"]["returned"] == status["lot"]
    assert weth.balanceOf(borrower) == owner_weth
    assert engine.vault_position(system["unsafe"])[2] == vault_collateral + status["lot"]
    assert engine.surplus() == surplus
    assert engine.type_collateral_in_auction(system["weth_type"]) == 0
    assert conserved(system)


def test_cancel_auction__unknown_or_finished_lot__reverts(system, admin, keeper, stranger):
    settlement, auction = system["settlement"], system["auction"]
    first, start = liquidate(system, system["unsafe"], keeper)
    second, _ = liquidate(system, system["unsafe2"], keeper)
    take_at(system, first, start + 600, keeper, auction.status(first)["lot"])  # target met: finished
    assert not auction.status(first)["active"]
    shut_down(system, admin)
    for auction_id in (first, 999):
        with brownie.reverts("auction: not running"):
            settlement.cancel_auction(auction_id, {"from": stranger})
    settlement.cancel_auction(second, {"from": stranger})
    with brownie.reverts("auction: not running"):
        settlement.cancel_auction(second, {"from": stranger})
    assert conserved(system)


def test_cancel_auction__before_shutdown__reverts(system, keeper, stranger):
    auction_id, _ = liquidate(system, system["unsafe"], keeper)
    with brownie.reverts("settlement: not shut down"):
        system["settlement"].cancel_auction(auction_id, {"from": stranger})
    assert system["auction"].status(auction_id)["active"]


# ------------------------------------------------------------------ finalize
def test_finalize__vaults_and_lots_left__reverts_until_all_settled_then_fixes_pool(system, admin, keeper, stranger):
    engine, settlement = system["engine"], system["settlement"]
    t = system["weth_type"]
    auction_id, _ = liquidate(system, system["unsafe"], keeper)
    with brownie.reverts("settlement: not shut down"):
        settlement.finalize(t, {"from": stranger})
    shut_down(system, admin)
    with brownie.reverts("settlement: vaults left to settle"):
        settlement.finalize(t, {"from": stranger})
    settlement.settle_vault(system["keeper"], {"from": stranger})
    with brownie.reverts("settlement: vaults left to settle"):
        settlement.finalize(t, {"from": stranger})
    settlement.settle_vault(system["unsafe2"], {"from": stranger})
    with brownie.reverts("settlement: auctions left to cancel"):
        settlement.finalize(t, {"from": stranger})
    settlement.cancel_auction(auction_id, {"from": stranger})

    tx = settlement.finalize(t, {"from": stranger})

    pool = engine.type_collateral_settled(t)
    assert pool > 0
    event = tx.events["TypeFinalized"]
    assert (event["collateral_type"], event["pool"], event["shortfall"]) == (t, pool, settlement.shortfall(t))
    assert settlement.pool(t) == pool and settlement.finalized(t)
    with brownie.reverts("settlement: already finalized"):
        settlement.finalize(t, {"from": stranger})
    # a type without vaults finalizes with an empty pool
    settlement.finalize(2, {"from": stranger})
    assert settlement.finalized(2) and settlement.pool(2) == 0
    with brownie.reverts("settlement: price not frozen"):
        settlement.finalize(4, {"from": stranger})
    assert conserved(system)


# ------------------------------------------------------------------ redeem and claim
def redeem_all(s, holder):
    amount = s["debt_token"].balanceOf(holder)
    s["debt_token"].approve(s["settlement"], amount, {"from": holder})
    return s["settlement"].redeem(amount, {"from": holder}), amount


def test_redeem__misuse__reverts(system, admin, keeper):
    settlement, token = system["settlement"], system["debt_token"]
    token.approve(settlement, MAX_UINT256, {"from": keeper})
    with brownie.reverts("settlement: not shut down"):
        settlement.redeem(WAD, {"from": keeper})
    shut_down(system, admin)
    with brownie.reverts("settlement: zero amount"):
        settlement.redeem(0, {"from": keeper})
    token.approve(settlement, 0, {"from": keeper})
    with brownie.reverts("token: insufficient allowance"):
        settlement.redeem(WAD, {"from": keeper})
    assert settlement.total_redeemed() == 0 and settlement.redeemed(keeper) == 0


def test_redeem__above_supply_at_shutdown__reverts(system, admin, keeper, borrower, other_borrower, stranger):
    """Nothing in Keel mints after shutdown, but a token minted by any other minter (here the
    fixture's admin) cannot be redeemed beyond the supply the pools were shared over."""
    settlement, token = system["settlement"], system["debt_token"]
    shut_down(system, admin)
    token.mint(stranger, WAD, {"from": admin})
    for holder in (keeper, borrower, other_borrower):
        redeem_all(system, holder)
    assert settlement.total_redeemed() == settlement.supply_at_shutdown()
    token.approve(settlement, WAD, {"from": stranger})
    with brownie.reverts("settlement: above supply at shutdown"):
        settlement.redeem(WAD, {"from": stranger})


def test_claim__before_finalize__reverts(system, admin, keeper):
    settlement = system["settlement"]
    shut_down(system, admin)
    redeem_all(system, keeper)
    assert settlement.claimable(keeper, 1) == 0
    with brownie.reverts("settlement: type not finalized"):
        settlement.claim(1, keeper, {"from": keeper})


def test_claim__misuse__reverts(system, admin, keeper, stranger):
    settlement = system["settlement"]
    shut_down(system, admin)
    settle_everything(system, stranger)
    redeem_all(system, keeper)
    with brownie.reverts("settlement: zero receiver"):
        settlement.claim(1, ZERO_ADDRESS, {"from": keeper})
    with brownie.reverts("settlement: nothing to claim"):
        settlement.claim(1, stranger, {"from": stranger})  # redeemed nothing
    settlement.finalize(2, {"from": stranger})
    with brownie.reverts("settlement: nothing to claim"):
        settlement.claim(2, keeper, {"from": keeper})  # an empty pool


def test_redeem_and_claim__every_holder__paid_pro_rata_once(system, admin, keeper, borrower, other_borrower, stranger):
    settlement, engine, token, weth = system["settlement"], system["engine"], system["debt_token"], system["weth"]
    t = system["weth_type"]
    shut_down(system, admin)
    settle_everything(system, stranger)
    pool, supply = settlement.pool(t), settlement.supply_at_shutdown()
    holders = [keeper, borrower, other_borrower]
    assert sum(token.balanceOf(h) for h in holders) == supply

    redeemed = {}
    for holder in holders:
        tx, amount = redeem_all(system, holder)
        event = tx.events["Redeemed"]
        assert (event["holder"], event["amount"], event["total"]) == (holder, amount, amount)
        assert settlement.redeemed(holder) == amount and token.balanceOf(holder) == 0
        redeemed[holder] = amount
        assert conserved(system)
    assert settlement.total_redeemed() == supply
    assert token.balanceOf(settlement) == supply and token.totalSupply() == supply  # locked, not burned

    paid = 0
    for holder in holders:
        entitled = redeemed[holder] * pool // supply
        assert settlement.claimable(holder, t) == entitled
        receiver_balance = weth.balanceOf(stranger)
        tx = settlement.claim(t, stranger, {"from": holder})  # paid to any receiver
        assert tx.return_value == entitled
        event = tx.events["Claimed"]
        assert (event["holder"], event["collateral_type"], event["receiver"], event["amount"]) == (
            holder, t, stranger, entitled)
        assert weth.balanceOf(stranger) == receiver_balance + entitled
        assert settlement.claimed(holder, t) == entitled
        assert settlement.claimable(holder, t) == 0
        with brownie.reverts("settlement: nothing to claim"):
            settlement.claim(t, holder, {"from": holder})
        paid += entitled
        assert conserved(system)
    assert paid <= pool
    assert engine.type_collateral_settled(t) == pool - paid < len(holders)


def test_redeem__more_after_a_claim__claims_only_the_difference(system, admin, keeper, stranger):
    settlement, token, weth = system["settlement"], system["debt_token"], system["weth"]
    t = system["weth_type"]
    shut_down(system, admin)
    settle_everything(system, stranger)
    pool, supply = settlement.pool(t), settlement.supply_at_shutdown()
    balance = token.balanceOf(keeper)
    first = balance // 3
    token.approve(settlement, balance, {"from": keeper})
    settlement.redeem(first, {"from": keeper})
    claimed = settlement.claim(t, keeper, {"from": keeper}).return_value
    assert claimed == first * pool // supply

    tx = settlement.redeem(balance - first, {"from": keeper})
    assert tx.events["Redeemed"]["total"] == balance
    weth_before = weth.balanceOf(keeper)
    more = settlement.claim(t, keeper, {"from": keeper}).return_value
    assert more == balance * pool // supply - claimed
    assert weth.balanceOf(keeper) == weth_before + more
    assert settlement.claimed(keeper, t) == balance * pool // supply
    with brownie.reverts("settlement: nothing to claim"):
        settlement.claim(t, keeper, {"from": keeper})
    assert conserved(system)


# ------------------------------------------------------------------ conservation through a full settlement
def test_full_settlement__every_step__conserves_debt_and_collateral(system, admin, keeper, stranger, accounts):
    """Invariants 1 and 2 (with settled debt and settled collateral) after every step, and
    invariant 5 at the end: what all holders claim plus an undistributed remainder below one
    wei per holder is exactly the pool; the engine then holds only vault collateral, dust and
    that remainder."""
    engine, settlement, auction, token, weth = (
        system["engine"], system["settlement"], system["auction"], system["debt_token"], system["weth"],
    )
    t = system["weth_type"]
    assert conserved(system)
    auction_id, start = liquidate(system, system["unsafe"], keeper)
    assert conserved(system)
    take_at(system, auction_id, start + 600, keeper, 2 * WAD)
    assert conserved(system)
    shut_down(system, admin, seconds_ahead=30 * 86_400)  # a month of fees, charged at shutdown
    assert conserved(system)
    for vault_id in (system["keeper"], system["unsafe2"]):
        settlement.settle_vault(vault_id, {"from": stranger})
        assert conserved(system)
    settlement.cancel_auction(auction_id, {"from": stranger})
    assert conserved(system)
    assert auction.status(auction_id)["active"] is False
    settlement.finalize(t, {"from": stranger})
    assert conserved(system)
    pool, supply = settlement.pool(t), settlement.supply_at_shutdown()
    assert engine.type_collateral_settled(t) == pool
    # the debt side now consists of settled debt and bad debt alone
    assert engine.debt_in_auction() == 0 and engine.type_normalized_debt(t) == 0
    assert supply * RAY + engine.surplus() == engine.settled_debt() + engine.bad_debt()

    holders = holders_of(token, accounts)
    entitled = {}
    for holder in holders:
        _, amount = redeem_all(system, holder)
        entitled[holder] = amount * pool // supply
        assert conserved(system)
    # invariant 5: every claim plus the remainder is the pool, nothing more
    remainder = pool - sum(entitled.values())
    assert 0 <= remainder < len(holders)
    for holder in holders:
        if entitled[holder]:
            settlement.claim(t, holder, {"from": holder})
        assert conserved(system)
    assert engine.type_collateral_settled(t) == remainder

    vault_collateral = sum(engine.vault_position(v)[2] for v in (system["keeper"], system["unsafe"], system["unsafe2"]))
    dust = engine.type_collateral_dust(t)
    assert weth.balanceOf(engine) == vault_collateral + dust + remainder
    # the vault owners take the rest: the engine keeps only dust and the remainder
    for vault_id in (system["keeper"], system["unsafe"], system["unsafe2"]):
        owner = engine.vault_position(vault_id)[0]
        engine.close(vault_id, owner, {"from": owner})
        assert conserved(system)
    assert weth.balanceOf(engine) == engine.type_collateral_dust(t) + remainder


# ------------------------------------------------------------------ property: settle arithmetic
WBTC_PRICE = COLLATERALS["WBTC"][1]


def conserved_every_type(engine, debt_token, tokens):
    """Invariants 1 and 2 with several collateral types (`tokens`: type -> token; every type
    with vaults must be in it): the debt side over every vault, the collateral side per type."""
    info = {t: type_info(engine, t) for t in tokens}
    vault_debt = 0
    vault_collateral = {t: 0 for t in tokens}
    for vault_id in vault_ids(engine):
        try:
            _, t, collateral, normalized_debt = engine.vault_position(vault_id)
        except brownie.exceptions.VirtualMachineError:
            continue  # closed
        vault_debt += normalized_debt * info[t]["rate"]
        vault_collateral[t] += collateral
    debt_ok = (
        debt_token.totalSupply() * RAY + engine.surplus()
        == vault_debt + engine.debt_in_auction() + engine.bad_debt() + engine.settled_debt()
    )
    collateral_ok = all(
        token.balanceOf(engine) * info[t]["token_scale"]
        == vault_collateral[t] + engine.type_collateral_in_auction(t) + engine.type_collateral_dust(t)
        + engine.type_collateral_settled(t)
        for t, token in tokens.items()
    )
    return debt_ok and collateral_ok


@given(
    units=strategy("uint256", min_value=10**6, max_value=50 * 10**8),  # 0.01 .. 50 WBTC
    other_units=strategy("uint256", min_value=10**6, max_value=50 * 10**8),
    fraction_bps=strategy("uint256", max_value=10_000),
    other_fraction_bps=strategy("uint256", max_value=10_000),
    price_percent=strategy("uint256", min_value=20, max_value=300),  # frozen price, % of 30,000
    elapsed=strategy("uint256", min_value=1, max_value=2 * 365 * 86_400),
)
def test_settle__random_prices_and_debts__exact_pro_rata_and_conserved(
    liquidation_system, positions, settlement, wbtc, wbtc_feed, wbtc_type, keeper, borrower, other_borrower,
    reporter, admin, stranger, units, other_units, fraction_bps, other_fraction_bps, price_percent, elapsed,
):
    """Two WBTC (8 decimals) vaults beside the WETH `positions`, borrowed to a random part of
    their room; a random frozen price, 20 % to 300 % of the opening one (a vault borrowed high
    is then often below water), after a random time at fees. Each WBTC vault gives exactly
    min(its debt's worth rounded up, its collateral), the shortfall is the rest, the pool is
    shared pro rata over the whole supply in whole token units, and invariants 1, 2 and 5
    hold once the type is finalized and again at the end. (Amounts are read from events:
    return values need a trace each; each example is about twenty transactions.)"""
    engine, token, weth = liquidation_system["engine"], liquidation_system["debt_token"], liquidation_system["weth"]
    t = wbtc_type
    scale = 10**10
    frozen_price = WBTC_PRICE * price_percent // 100 + 12_345  # not a round number

    def conserved_both():
        return conserved_every_type(engine, token, {liquidation_system["weth_type"]: weth, t: wbtc})

    wbtc_feed.set_price(WBTC_PRICE, {"from": reporter})
    vaults = []
    for owner, amount, bps in ((borrower, units, fraction_bps), (other_borrower, other_units, other_fraction_bps)):
        at = schedule(10)
        rate = rate_at(engine, t, at)
        room = max_safe_borrow(amount * scale, 0, rate, WBTC_PRICE, LIQUIDATION_RATIO)
        assert room >= DUST
        borrow = DUST + (room - DUST) * bps // 10_000
        vaults.append(engine.open_vault(t, amount, borrow, {"from": owner}).events["VaultOpened"]["vault_id"])

    schedule(elapsed)
    wbtc_feed.set_price(frozen_price, {"from": reporter})
    at = schedule(1)
    rate = rate_at(engine, t, at)
    settlement.shutdown({"from": admin})
    assert type_info(engine, t)["rate"] == rate
    assert settlement.frozen_price(t) == frozen_price

    pool = shortfall = 0
    for vault_id in vaults:
        _, _, collateral, normalized_debt = engine.vault_position(vault_id)
        owed = collateral_for(normalized_debt * rate, frozen_price)
        taken = min(owed, collateral)
        event = events_of(settlement.settle_vault(vault_id, {"from": stranger}), "VaultSettled", settlement)[0]
        assert (event["collateral"], event["shortfall"]) == (taken, owed - taken)
        assert engine.vault_position(vault_id)[2:] == (collateral - taken, 0)
        pool += taken
        shortfall += owed - taken
    assert settlement.shortfall(t) == shortfall
    settlement.finalize(t, {"from": stranger})  # the WETH vaults need not be settled for this
    assert settlement.pool(t) == pool == engine.type_collateral_settled(t)
    assert conserved_both()

    supply = settlement.supply_at_shutdown()
    holders = [h for h in (keeper, borrower, other_borrower) if token.balanceOf(h)]
    assert sum(token.balanceOf(h) for h in holders) == supply
    paid = 0
    for holder in holders:
        amount = token.balanceOf(holder)
        token.approve(settlement, amount, {"from": holder})
        settlement.redeem(amount, {"from": holder})
        entitled = amount * pool // supply
        if entitled == 0:
            with brownie.reverts("settlement: nothing to claim"):
                settlement.claim(t, holder, {"from": holder})
            continue
        balance, dust = wbtc.balanceOf(holder), engine.type_collateral_dust(t)
        assert settlement.claim(t, holder, {"from": holder}).events["Claimed"]["amount"] == entitled
        assert wbtc.balanceOf(holder) == balance + entitled // scale  # whole token units ...
        assert engine.type_collateral_dust(t) == dust + entitled % scale  # ... the rest is tracked dust
        paid += entitled
    assert paid <= pool
    assert engine.type_collateral_settled(t) == pool - paid < len(holders)

    for vault_id, owner in zip(vaults, (borrower, other_borrower)):
        engine.close(vault_id, owner, {"from": owner})
    assert conserved_both()
    assert wbtc.balanceOf(engine) * scale == engine.type_collateral_dust(t) + engine.type_collateral_settled(t)

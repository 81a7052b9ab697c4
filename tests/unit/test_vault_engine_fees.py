"""VaultEngine stability fee: accrue, current_rate, set_stability_fee's accrual, and the
surplus they credit -- compared exactly against the Python reference of fixed_point.rpow."""

import brownie
import pytest

from tests.unit.conftest import (
    type_info,
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_STABILITY_FEE,
    RAY,
    STABILITY_FEE,
    WAD,
    grow_rate,
    latest_timestamp,
    ledger_balanced,
    mine_at,
    mul_div,
    rate_at,
    rpow_up,
    schedule,
    set_next_timestamp,
)

YEAR = 365 * 86_400


@pytest.fixture(scope="module")
def spare_token(MockToken, admin):
    return MockToken.deploy("Spare", "SPR", 18, {"from": admin})


def list_spare(engine, spare_token, feed, admin, fee):
    tx = engine.add_collateral_type(
        spare_token, feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, fee, LIQUIDATION_PENALTY, {"from": admin}
    )
    return tx.return_value, tx.timestamp


# ------------------------------------------------------------------ python reference sanity
def test_rpow_up_reference__small_cases__match_hand_computation():
    assert rpow_up(STABILITY_FEE, 0) == RAY
    assert rpow_up(STABILITY_FEE, 1) == STABILITY_FEE
    assert rpow_up(STABILITY_FEE, 2) == mul_div(STABILITY_FEE, STABILITY_FEE, RAY, True)
    # ~5 % a year
    assert 1_049 * RAY // 1_000 < rpow_up(STABILITY_FEE, YEAR) < 1_051 * RAY // 1_000
    # rounding up bounds the exact value from above
    assert rpow_up(STABILITY_FEE, 12_345) >= STABILITY_FEE**12_345 // RAY**12_344


# ------------------------------------------------------------------ accrue
@pytest.mark.parametrize("seconds", [1, 2, 3, 7, 60, 3_599, 86_400, YEAR, 2**25 + 12_345])
@pytest.mark.parametrize("fee", [STABILITY_FEE, MAX_STABILITY_FEE])
def test_accrue__after_n_seconds__rate_equals_python_rpow_up_exactly(engine, spare_token, weth_feed, admin, stranger, seconds, fee):
    collateral_type, listed_at = list_spare(engine, spare_token, weth_feed, admin, fee)
    set_next_timestamp(listed_at + seconds)
    tx = engine.accrue(collateral_type, {"from": stranger})
    info = type_info(engine, collateral_type)
    assert info["rate"] == rpow_up(fee, seconds)
    assert info["last_accrual"] == listed_at + seconds
    assert tx.return_value == info["rate"]
    event = tx.events["Accrued"]
    assert (event["collateral_type"], event["rate"], event["fees"]) == (collateral_type, info["rate"], 0)


def test_accrue__twice__compounds_from_the_stored_rate(engine, spare_token, weth_feed, admin, stranger):
    collateral_type, listed_at = list_spare(engine, spare_token, weth_feed, admin, STABILITY_FEE)
    set_next_timestamp(listed_at + 1_000)
    engine.accrue(collateral_type, {"from": stranger})
    first = rpow_up(STABILITY_FEE, 1_000)
    set_next_timestamp(listed_at + 1_000 + 777)
    engine.accrue(collateral_type, {"from": stranger})
    assert type_info(engine, collateral_type)["rate"] == mul_div(first, rpow_up(STABILITY_FEE, 777), RAY, True)


def test_accrue__in_the_same_second__changes_nothing_and_logs_nothing(engine, spare_token, weth_feed, admin, stranger):
    collateral_type, listed_at = list_spare(engine, spare_token, weth_feed, admin, STABILITY_FEE)
    set_next_timestamp(listed_at + 50)
    engine.accrue(collateral_type, {"from": stranger})
    set_next_timestamp(listed_at + 50)  # a second block in the same second
    tx = engine.accrue(collateral_type, {"from": stranger})
    assert tx.timestamp == listed_at + 50
    assert "Accrued" not in tx.events
    assert tx.return_value == rpow_up(STABILITY_FEE, 50)


def test_accrue__fee_at_one__keeps_rate_but_records_time(engine, spare_token, weth_feed, admin, stranger):
    collateral_type, listed_at = list_spare(engine, spare_token, weth_feed, admin, RAY)
    set_next_timestamp(listed_at + YEAR)
    tx = engine.accrue(collateral_type, {"from": stranger})
    info = type_info(engine, collateral_type)
    assert (info["rate"], info["last_accrual"]) == (RAY, listed_at + YEAR)
    assert (tx.events["Accrued"]["rate"], tx.events["Accrued"]["fees"]) == (RAY, 0)


def test_accrue__with_debt__credits_normalized_debt_times_rate_increase_to_surplus(engine, debt_token, weth_type, vault_with_debt, stranger):
    normalized = engine.type_normalized_debt(weth_type)
    assert normalized > 0
    old_rate = type_info(engine, weth_type)["rate"]
    surplus = engine.surplus()
    timestamp = schedule(YEAR)
    new_rate = rate_at(engine, weth_type, timestamp)
    tx = engine.accrue(weth_type, {"from": stranger})
    assert type_info(engine, weth_type)["rate"] == new_rate
    fees = normalized * (new_rate - old_rate)
    assert engine.surplus() == surplus + fees
    assert tx.events["Accrued"]["fees"] == fees
    assert fees // RAY > 240 * WAD  # ~5 % of 5,000 kUSD
    assert ledger_balanced(engine, debt_token)


def test_accrue__one_type__leaves_other_types_untouched(engine, weth_type, wbtc_type, vault_with_debt, stranger):
    wbtc_before = type_info(engine, wbtc_type)
    schedule(3_600)
    engine.accrue(weth_type, {"from": stranger})
    assert type_info(engine, wbtc_type)["rate"] == wbtc_before["rate"]
    assert type_info(engine, wbtc_type)["last_accrual"] == wbtc_before["last_accrual"]


@pytest.mark.parametrize("bad_type", [0, 4, 2**256 - 1])
def test_accrue__unknown_collateral_type__reverts(engine, listed, stranger, bad_type):
    surplus = engine.surplus()
    with brownie.reverts("engine: unknown collateral type"):
        engine.accrue(bad_type, {"from": stranger})
    assert engine.surplus() == surplus


# ------------------------------------------------------------------ views at the current time
def test_current_rate__later_block__matches_reference_without_storing(engine, weth_type, vault_with_debt, lens):
    info = type_info(engine, weth_type)
    timestamp = latest_timestamp() + 30 * 86_400
    mine_at(timestamp)
    expected = grow_rate(info["rate"], info["stability_fee"], timestamp - info["last_accrual"])
    assert engine.current_rate(weth_type) == expected
    after = type_info(engine, weth_type)
    assert after["rate"] == info["rate"]  # a view: nothing stored
    assert after["debt"] == mul_div(after["normalized_debt"], expected, RAY, True)
    assert lens.vault_info(vault_with_debt)["debt"] == mul_div(engine.vault_position(vault_with_debt)[3], expected, RAY, True)


def test_current_rate__fee_at_one__stays_at_stored_rate(engine, weth_type, admin):
    engine.set_stability_fee(weth_type, RAY, {"from": admin})
    stored = type_info(engine, weth_type)["rate"]
    mine_at(latest_timestamp() + YEAR)
    assert engine.current_rate(weth_type) == stored


# ------------------------------------------------------------------ set_stability_fee accrues first
def test_set_stability_fee__after_elapsed_time__charges_old_fee_first_then_new_fee_applies(engine, debt_token, weth_type, vault_with_debt, admin):
    info = type_info(engine, weth_type)
    normalized = engine.type_normalized_debt(weth_type)
    surplus = engine.surplus()
    first = schedule(10 * 86_400)
    tx = engine.set_stability_fee(weth_type, MAX_STABILITY_FEE, {"from": admin})
    at_old_fee = grow_rate(info["rate"], STABILITY_FEE, first - info["last_accrual"])
    assert type_info(engine, weth_type)["rate"] == at_old_fee
    assert tx.events["Accrued"]["rate"] == at_old_fee
    assert engine.surplus() == surplus + normalized * (at_old_fee - info["rate"])
    second = first + 86_400
    set_next_timestamp(second)
    engine.accrue(weth_type, {"from": admin})
    assert type_info(engine, weth_type)["rate"] == mul_div(at_old_fee, rpow_up(MAX_STABILITY_FEE, 86_400), RAY, True)
    assert ledger_balanced(engine, debt_token)


def test_set_stability_fee__out_of_bounds__accrues_nothing(engine, weth_type, vault_with_debt, admin):
    info = type_info(engine, weth_type)
    surplus = engine.surplus()
    schedule(86_400)
    with brownie.reverts("engine: stability fee out of bounds"):
        engine.set_stability_fee(weth_type, MAX_STABILITY_FEE + 1, {"from": admin})
    assert type_info(engine, weth_type)["rate"] == info["rate"]
    assert engine.surplus() == surplus

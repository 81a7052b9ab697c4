"""ChainlinkAdapter: an AggregatorV3 feed behind the engine's oracle interface, scaled to WAD."""

import brownie
import pytest
from brownie import accounts
from brownie.test import given, strategy
from hypothesis import strategies as st

from tests.unit.conftest import (
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_AGE,
    MAX_MAX_AGE,
    MAX_UINT256,
    MIN_MAX_AGE,
    ROLE_ORACLE_ADMIN,
    STABILITY_FEE,
    WAD,
    ZERO_ADDRESS,
    latest_timestamp,
    mine_at,
    schedule,
    set_next_timestamp,
)
from tests.unit.oracle_reference import scale_answer

ETH_USD_8 = 2_000 * 10**8  # 2,000 with 8 decimals


def _round_now(aggregator, answer, age=0):
    """A round answered in itself, updated `age` seconds before the (pinned) next block; returns
    that block's timestamp."""
    now = schedule(1)
    aggregator.set_round(answer, now - age, {"from": accounts[0]})
    return now


def _peek_at(adapter, timestamp):
    mine_at(timestamp)
    return adapter.peek()


# ------------------------------------------------------------------ deploy
def test_deploy__valid_aggregator__stores_source_decimals_max_age_and_logs(ChainlinkAdapter, aggregator, admin):
    adapter = ChainlinkAdapter.deploy(admin, aggregator, MAX_AGE, {"from": admin})
    assert adapter.source() == aggregator
    assert adapter.source_decimals() == 8
    assert adapter.max_age() == MAX_AGE
    assert adapter.owner() == admin
    assert adapter.tx.events["MaxAgeSet"]["max_age"] == MAX_AGE


def test_deploy__zero_aggregator__reverts(ChainlinkAdapter, admin):
    with brownie.reverts("adapter: zero aggregator"):
        ChainlinkAdapter.deploy(admin, ZERO_ADDRESS, MAX_AGE, {"from": admin})


def test_deploy__aggregator_with_37_decimals__reverts(ChainlinkAdapter, MockAggregator, admin):
    source = MockAggregator.deploy(37, {"from": admin})
    with brownie.reverts("adapter: decimals above 36"):
        ChainlinkAdapter.deploy(admin, source, MAX_AGE, {"from": admin})


@pytest.mark.parametrize("max_age", [0, MIN_MAX_AGE - 1, MAX_MAX_AGE + 1])
def test_deploy__max_age_out_of_bounds__reverts(ChainlinkAdapter, aggregator, admin, max_age):
    with brownie.reverts("adapter: max age out of bounds"):
        ChainlinkAdapter.deploy(admin, aggregator, max_age, {"from": admin})


# ------------------------------------------------------------------ set_max_age
@pytest.mark.parametrize("max_age", [MIN_MAX_AGE, 86_400, MAX_MAX_AGE])
def test_set_max_age__by_oracle_admin_within_bounds__stores_and_logs(chainlink_adapter, admin, max_age):
    tx = chainlink_adapter.set_max_age(max_age, {"from": admin})
    assert chainlink_adapter.max_age() == max_age
    assert tx.events["MaxAgeSet"]["max_age"] == max_age


@pytest.mark.parametrize("max_age", [0, MIN_MAX_AGE - 1, MAX_MAX_AGE + 1, MAX_UINT256])
def test_set_max_age__out_of_bounds__reverts_and_changes_nothing(chainlink_adapter, admin, max_age):
    with brownie.reverts("adapter: max age out of bounds"):
        chainlink_adapter.set_max_age(max_age, {"from": admin})
    assert chainlink_adapter.max_age() == MAX_AGE


def test_set_max_age__by_stranger__reverts_and_changes_nothing(chainlink_adapter, stranger):
    with brownie.reverts("access: missing role"):
        chainlink_adapter.set_max_age(MIN_MAX_AGE, {"from": stranger})
    assert chainlink_adapter.max_age() == MAX_AGE


def test_set_max_age__by_owner_without_role__reverts(ChainlinkAdapter, aggregator, admin):
    adapter = ChainlinkAdapter.deploy(admin, aggregator, MAX_AGE, {"from": admin})  # no roles granted
    with brownie.reverts("access: missing role"):
        adapter.set_max_age(MIN_MAX_AGE, {"from": admin})
    assert adapter.max_age() == MAX_AGE


def test_set_max_age__by_granted_stranger__succeeds(chainlink_adapter, admin, stranger):
    chainlink_adapter.set_roles(stranger, ROLE_ORACLE_ADMIN, {"from": admin})
    chainlink_adapter.set_max_age(MIN_MAX_AGE, {"from": stranger})
    assert chainlink_adapter.max_age() == MIN_MAX_AGE


# ------------------------------------------------------------------ peek: scaling
@pytest.mark.parametrize(
    "decimals, answer, expected",
    [
        (8, 2_000 * 10**8, 2_000 * WAD),
        (8, 1, 10**10),
        (18, 2_000 * WAD, 2_000 * WAD),
        (18, 1, 1),
        (20, 2_000 * 10**20, 2_000 * WAD),
        (20, 12_345, 123),  # rounded down
        (0, 3, 3 * WAD),
        (36, 5 * 10**36, 5 * WAD),
    ],
)
def test_peek__answer_with_decimals__scales_to_wad(ChainlinkAdapter, MockAggregator, admin, decimals, answer, expected):
    source = MockAggregator.deploy(decimals, {"from": admin})
    adapter = ChainlinkAdapter.deploy(admin, source, MAX_AGE, {"from": admin})
    now = _round_now(source, answer)
    assert _peek_at(adapter, now) == (expected, True)


@pytest.fixture(scope="module")
def adapters_by_decimals(ChainlinkAdapter, MockAggregator, admin):
    """decimals -> (aggregator, adapter) for 8, 18 and 20 decimals."""
    result = {}
    for decimals in (8, 18, 20):
        source = MockAggregator.deploy(decimals, {"from": admin})
        result[decimals] = (source, ChainlinkAdapter.deploy(admin, source, MAX_AGE, {"from": admin}))
    return result


@given(
    decimals=st.sampled_from([8, 18, 20]),
    answer=strategy("uint256", min_value=1, max_value=10**40),
    age=strategy("uint256", max_value=MAX_AGE),
)
def test_peek__random_fresh_answer_with_8_18_20_decimals__scales_like_reference(adapters_by_decimals, admin, decimals, answer, age):
    source, adapter = adapters_by_decimals[decimals]
    now = schedule(1)
    source.set_round(answer, now - age, {"from": admin})
    expected = scale_answer(answer, decimals)
    assert adapter.peek() == (expected, expected != 0)


def test_peek__20_decimals_answer_below_one_wad_wei__zero_and_not_fresh(ChainlinkAdapter, MockAggregator, admin):
    source = MockAggregator.deploy(20, {"from": admin})
    adapter = ChainlinkAdapter.deploy(admin, source, MAX_AGE, {"from": admin})
    now = _round_now(source, 99)
    assert _peek_at(adapter, now) == (0, False)


# ------------------------------------------------------------------ peek: freshness
def test_peek__round_exactly_max_age_old__is_fresh(chainlink_adapter, aggregator):
    now = _round_now(aggregator, ETH_USD_8)
    assert _peek_at(chainlink_adapter, now + MAX_AGE) == (2_000 * WAD, True)


def test_peek__round_older_than_max_age__price_but_not_fresh(chainlink_adapter, aggregator):
    now = _round_now(aggregator, ETH_USD_8)
    assert _peek_at(chainlink_adapter, now + MAX_AGE + 1) == (2_000 * WAD, False)


def test_peek__shorter_max_age__makes_an_old_round_stale(chainlink_adapter, aggregator, admin):
    now = _round_now(aggregator, ETH_USD_8, age=100)
    assert _peek_at(chainlink_adapter, now)[1] is True
    set_next_timestamp(now + 1)
    chainlink_adapter.set_max_age(MIN_MAX_AGE, {"from": admin})
    assert chainlink_adapter.peek() == (2_000 * WAD, False)


def test_peek__updated_in_the_future__not_fresh(chainlink_adapter, aggregator, admin):
    now = schedule(1)
    aggregator.set_round(ETH_USD_8, now + 1, {"from": admin})
    assert _peek_at(chainlink_adapter, now) == (2_000 * WAD, False)
    # once the chain catches up the same round is fresh
    assert _peek_at(chainlink_adapter, now + 1) == (2_000 * WAD, True)


def test_peek__never_updated__not_fresh(chainlink_adapter, aggregator, admin):
    aggregator.set_round_data(1, ETH_USD_8, 0, 1, {"from": admin})
    assert chainlink_adapter.peek() == (2_000 * WAD, False)


def test_peek__no_round_at_all__zero_and_not_fresh(chainlink_adapter):
    assert chainlink_adapter.peek() == (0, False)


@pytest.mark.parametrize("answer", [0, -1, -(2_000 * 10**8), -(2**255)])
def test_peek__non_positive_answer__zero_and_not_fresh(chainlink_adapter, aggregator, answer):
    now = _round_now(aggregator, answer)
    assert _peek_at(chainlink_adapter, now) == (0, False)


def test_peek__answer_carried_over_from_earlier_round__not_fresh(chainlink_adapter, aggregator, admin):
    now = schedule(1)
    aggregator.set_round_data(7, ETH_USD_8, now, 6, {"from": admin})
    assert _peek_at(chainlink_adapter, now) == (2_000 * WAD, False)


def test_peek__answered_in_same_round_via_round_data__fresh(chainlink_adapter, aggregator, admin):
    now = schedule(1)
    aggregator.set_round_data(7, ETH_USD_8, now, 7, {"from": admin})
    assert _peek_at(chainlink_adapter, now) == (2_000 * WAD, True)


@given(
    age=strategy("uint256", max_value=2 * MAX_AGE),
    carried=strategy("bool"),
    answer=strategy("int256", min_value=-(10**12), max_value=10**12),
)
def test_peek__random_round__fresh_exactly_when_every_rule_holds(chainlink_adapter, aggregator, admin, age, carried, answer):
    now = schedule(1)
    aggregator.set_round_data(5, answer, now - age, 4 if carried else 5, {"from": admin})
    price, fresh = _peek_at(chainlink_adapter, now)
    assert price == (answer * 10**10 if answer > 0 else 0)
    assert fresh == (answer > 0 and age <= MAX_AGE and not carried)


def test_volatility__always_zero(chainlink_adapter, aggregator):
    _round_now(aggregator, ETH_USD_8)
    assert chainlink_adapter.volatility() == 0


# ------------------------------------------------------------------ in the engine
@pytest.fixture(scope="module")
def adapter_type(engine, weth, chainlink_adapter, aggregator, admin, borrower):
    """WETH listed on the engine with the Chainlink adapter as its oracle; borrower holds WETH."""
    collateral_type = engine.add_collateral_type(
        weth, chainlink_adapter, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY,
        {"from": admin},
    ).return_value
    weth.mint(borrower, 100 * WAD, {"from": borrower})
    weth.approve(engine, MAX_UINT256, {"from": borrower})
    return collateral_type


def test_engine_borrow__adapter_round_fresh__mints(engine, debt_token, adapter_type, aggregator, borrower, lens):
    now = _round_now(aggregator, ETH_USD_8)
    set_next_timestamp(now + 10)
    vault_id = engine.open_vault(adapter_type, 10 * WAD, 0, {"from": borrower}).return_value
    set_next_timestamp(now + 20)
    tx = engine.borrow(vault_id, 5_000 * WAD, borrower, {"from": borrower})
    assert tx.events["Borrow"]["amount"] == 5_000 * WAD
    assert debt_token.balanceOf(borrower) == 5_000 * WAD
    info = lens.vault_info(vault_id)
    assert info["collateral_value"] == 20_000 * WAD
    assert info["price_fresh"] is True


def test_engine_borrow__adapter_round_stale__reverts_oracle_stale(engine, debt_token, adapter_type, aggregator, borrower, lens):
    now = _round_now(aggregator, ETH_USD_8)
    set_next_timestamp(now + 10)
    vault_id = engine.open_vault(adapter_type, 10 * WAD, 0, {"from": borrower}).return_value
    set_next_timestamp(now + MAX_AGE + 1)
    with brownie.reverts("engine: oracle stale"):
        engine.borrow(vault_id, 1_000 * WAD, borrower, {"from": borrower})
    assert engine.vault_position(vault_id)[3] == 0
    assert debt_token.balanceOf(borrower) == 0
    assert lens.vault_info(vault_id)["price_fresh"] is False


def test_engine_borrow__adapter_round_carried_over__reverts_oracle_stale(engine, adapter_type, aggregator, admin, borrower):
    now = schedule(1)
    aggregator.set_round_data(3, ETH_USD_8, now, 2, {"from": admin})
    set_next_timestamp(now + 1)
    vault_id = engine.open_vault(adapter_type, 10 * WAD, 0, {"from": borrower}).return_value
    set_next_timestamp(now + 2)
    with brownie.reverts("engine: oracle stale"):
        engine.borrow(vault_id, 1_000 * WAD, borrower, {"from": borrower})
    assert engine.vault_position(vault_id)[3] == 0


def test_engine_withdraw__adapter_round_stale_with_debt__reverts_oracle_stale(engine, weth, adapter_type, aggregator, borrower):
    now = _round_now(aggregator, ETH_USD_8)
    set_next_timestamp(now + 1)
    vault_id = engine.open_vault(adapter_type, 10 * WAD, 1_000 * WAD, {"from": borrower}).return_value
    set_next_timestamp(now + MAX_AGE + 1)
    balance = weth.balanceOf(borrower)
    with brownie.reverts("engine: oracle stale"):
        engine.withdraw(vault_id, 1 * WAD, borrower, {"from": borrower})
    assert weth.balanceOf(borrower) == balance
    assert engine.vault_position(vault_id)[2] == 10 * WAD


def test_engine_borrow__adapter_round_refreshed__borrows_again(engine, adapter_type, aggregator, borrower):
    now = _round_now(aggregator, ETH_USD_8)
    set_next_timestamp(now + 1)
    vault_id = engine.open_vault(adapter_type, 10 * WAD, 0, {"from": borrower}).return_value
    set_next_timestamp(now + MAX_AGE + 1)
    with brownie.reverts("engine: oracle stale"):
        engine.borrow(vault_id, 1_000 * WAD, borrower, {"from": borrower})
    set_next_timestamp(now + MAX_AGE + 2)
    aggregator.set_round(ETH_USD_8, now + MAX_AGE + 2, {"from": borrower})
    set_next_timestamp(now + MAX_AGE + 3)
    engine.borrow(vault_id, 1_000 * WAD, borrower, {"from": borrower})
    assert engine.vault_position(vault_id)[3] > 0
    assert latest_timestamp() == now + MAX_AGE + 3

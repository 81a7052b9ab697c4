"""VaultEngine user actions: open, deposit, withdraw, borrow, repay, close, hand-over and
operators, and the vault views.

Where an outcome depends on the fee accrued to the block, the test pins the next block's
timestamp (`schedule`) and computes the rate with the Python reference (`rate_at`).
"""

import brownie
import pytest
from brownie import chain

from tests.unit.conftest import (
    type_info,
    COLLATERALS,
    DUST,
    LIQUIDATION_RATIO,
    MAX_AGE,
    MAX_UINT256,
    RAY,
    WAD,
    ZERO_ADDRESS,
    is_safe,
    latest_timestamp,
    ledger_balanced,
    max_safe_borrow,
    mul_div,
    normalize_up,
    rate_at,
    schedule,
    set_next_timestamp,
    grow_rate,
    mine_at,
)

WETH_PRICE = COLLATERALS["WETH"][1]


def position(engine, vault_id):
    return tuple(engine.vault_position(vault_id))


def weth_balances(weth, engine, *accounts):
    return tuple(weth.balanceOf(a) for a in (engine, *accounts))


@pytest.fixture
def kusd_source(engine, funded, weth_type, other_borrower, debt_token):
    """other_borrower's vault: 100 WETH and 50,000 kUSD borrowed; gives kUSD to anyone."""
    vault_id = engine.open_vault(weth_type, 100 * WAD, 50_000 * WAD, {"from": other_borrower}).return_value

    def give(receiver, amount):
        debt_token.transfer(receiver, amount, {"from": other_borrower})

    give.vault_id = vault_id
    return give


@pytest.fixture
def stale(weth_feed):
    """Let the WETH price go stale."""
    chain.sleep(MAX_AGE + 1)
    chain.mine()
    assert weth_feed.peek()[1] is False


# ================================================================== open_vault
def test_open_vault__empty__creates_vault_owned_by_caller_and_logs(engine, funded, weth_type, borrower):
    count = engine.vault_count()
    tx = engine.open_vault(weth_type, 0, 0, {"from": borrower})
    vault_id = tx.return_value
    assert vault_id == count + 1
    assert engine.vault_count() == vault_id
    assert position(engine, vault_id) == (borrower, weth_type, 0, 0)
    event = tx.events["VaultOpened"]
    assert (event["vault_id"], event["owner"], event["collateral_type"]) == (vault_id, borrower, weth_type)
    assert "Deposit" not in tx.events and "Borrow" not in tx.events


def test_open_vault__with_deposit_and_borrow__moves_collateral_mints_debt_and_logs(engine, funded, weth, weth_type, debt_token, borrower):
    weth_before = weth_balances(weth, engine, borrower)
    timestamp = schedule()
    rate = rate_at(engine, weth_type, timestamp)
    tx = engine.open_vault(weth_type, 2 * WAD, 1_000 * WAD, {"from": borrower})
    vault_id = tx.return_value
    normalized = normalize_up(1_000 * WAD, rate)
    assert position(engine, vault_id) == (borrower, weth_type, 2 * WAD, normalized)
    assert weth_balances(weth, engine, borrower) == (weth_before[0] + 2 * WAD, weth_before[1] - 2 * WAD)
    assert debt_token.balanceOf(borrower) == 1_000 * WAD
    deposit, borrow = tx.events["Deposit"], tx.events["Borrow"]
    assert (deposit["vault_id"], deposit["payer"], deposit["amount"], deposit["collateral"]) == (vault_id, borrower, 2 * WAD, 2 * WAD)
    assert (borrow["vault_id"], borrow["receiver"], borrow["amount"]) == (vault_id, borrower, 1_000 * WAD)
    assert (borrow["normalized_debt"], borrow["rate"]) == (normalized, rate)
    assert ledger_balanced(engine, debt_token)


def test_open_vault__deposit_only__holds_collateral_without_debt(engine, funded, usdc, usdc_type, borrower):
    tx = engine.open_vault(usdc_type, 5 * 10**6, 0, {"from": borrower})
    assert position(engine, tx.return_value) == (borrower, usdc_type, 5 * WAD, 0)
    assert "Borrow" not in tx.events


@pytest.mark.parametrize("bad_type", [0, 4])
def test_open_vault__unknown_collateral_type__reverts_and_opens_nothing(engine, funded, borrower, bad_type):
    count = engine.vault_count()
    with brownie.reverts("engine: unknown collateral type"):
        engine.open_vault(bad_type, 0, 0, {"from": borrower})
    assert engine.vault_count() == count


def test_open_vault__borrow_without_collateral__reverts_and_opens_nothing(engine, funded, weth_type, debt_token, borrower):
    count = engine.vault_count()
    with brownie.reverts("engine: vault unsafe"):
        engine.open_vault(weth_type, 0, 1_000 * WAD, {"from": borrower})
    assert engine.vault_count() == count
    assert debt_token.balanceOf(borrower) == 0


def test_open_vault__borrow_above_safe_ratio__reverts_and_keeps_collateral(engine, funded, weth, weth_type, borrower):
    count, balance = engine.vault_count(), weth.balanceOf(borrower)
    with brownie.reverts("engine: vault unsafe"):
        engine.open_vault(weth_type, 1 * WAD, 1_400 * WAD, {"from": borrower})  # 2,000 / 1.5 = 1,333
    assert engine.vault_count() == count
    assert weth.balanceOf(borrower) == balance


def test_open_vault__two_owners__get_consecutive_ids(engine, funded, weth_type, wbtc_type, borrower, other_borrower):
    first = engine.open_vault(weth_type, 0, 0, {"from": borrower}).return_value
    second = engine.open_vault(wbtc_type, 0, 0, {"from": other_borrower}).return_value
    assert second == first + 1
    assert position(engine, first)[:2] == (borrower, weth_type)
    assert position(engine, second)[:2] == (other_borrower, wbtc_type)


# ================================================================== deposit
def test_deposit__by_owner__adds_collateral_and_logs(engine, weth, vault, borrower):
    before = weth_balances(weth, engine, borrower)
    tx = engine.deposit(vault, 3 * WAD, {"from": borrower})
    assert position(engine, vault) == (borrower, 1, 13 * WAD, 0)
    assert weth_balances(weth, engine, borrower) == (before[0] + 3 * WAD, before[1] - 3 * WAD)
    event = tx.events["Deposit"]
    assert (event["vault_id"], event["payer"], event["amount"], event["collateral"]) == (vault, borrower, 3 * WAD, 13 * WAD)


def test_deposit__by_stranger__adds_to_owners_vault_from_strangers_tokens(engine, weth, vault, borrower, stranger):
    stranger_before, borrower_before = weth.balanceOf(stranger), weth.balanceOf(borrower)
    tx = engine.deposit(vault, 1 * WAD, {"from": stranger})
    assert position(engine, vault) == (borrower, 1, 11 * WAD, 0)
    assert weth.balanceOf(stranger) == stranger_before - 1 * WAD
    assert weth.balanceOf(borrower) == borrower_before
    assert tx.events["Deposit"]["payer"] == stranger


def test_deposit__zero_amount__reverts_and_changes_nothing(engine, weth, vault, borrower):
    before = weth_balances(weth, engine, borrower)
    with brownie.reverts("engine: zero amount"):
        engine.deposit(vault, 0, {"from": borrower})
    assert position(engine, vault) == (borrower, 1, 10 * WAD, 0)
    assert weth_balances(weth, engine, borrower) == before


@pytest.mark.parametrize("offset", [0, 1])
def test_deposit__unknown_vault__reverts(engine, vault, borrower, offset):
    bad = 0 if offset == 0 else engine.vault_count() + 1
    with brownie.reverts("engine: unknown vault"):
        engine.deposit(bad, 1 * WAD, {"from": borrower})
    assert position(engine, vault)[2] == 10 * WAD


def test_deposit__without_allowance__reverts_and_changes_nothing(engine, weth, vault, borrower, treasury):
    weth.mint(treasury, 5 * WAD, {"from": treasury})  # treasury never approved the engine
    with brownie.reverts("mock: insufficient allowance"):
        engine.deposit(vault, 5 * WAD, {"from": treasury})
    assert weth.balanceOf(treasury) == 5 * WAD
    assert position(engine, vault)[2] == 10 * WAD


def test_deposit__more_than_balance__reverts_and_changes_nothing(engine, weth, vault, borrower):
    balance = weth.balanceOf(borrower)
    with brownie.reverts("mock: insufficient balance"):
        engine.deposit(vault, balance + 1, {"from": borrower})
    assert weth.balanceOf(borrower) == balance
    assert position(engine, vault)[2] == 10 * WAD


def test_deposit__up_to_112_bit_collateral__passes(engine, weth, vault, borrower):
    """A vault holds at most 2**112 - 1 WAD (5.2e15 whole units), so that any lot cut from
    it fits the auction's packed slot."""
    room = 2**112 - 1 - 10 * WAD
    weth.mint(borrower, room, {"from": borrower})
    engine.deposit(vault, room, {"from": borrower})
    assert position(engine, vault)[2] == 2**112 - 1


def test_deposit__beyond_112_bit_collateral__reverts_and_changes_nothing(engine, weth, vault, borrower):
    too_much = 2**112 - 10 * WAD
    weth.mint(borrower, too_much, {"from": borrower})
    balance = weth.balanceOf(borrower)
    with brownie.reverts("engine: collateral overflow"):
        engine.deposit(vault, too_much, {"from": borrower})
    assert position(engine, vault)[2] == 10 * WAD
    assert weth.balanceOf(borrower) == balance


def test_deposit__stale_oracle__still_works(engine, vault, borrower, stale):
    engine.deposit(vault, 1 * WAD, {"from": borrower})
    assert position(engine, vault)[2] == 11 * WAD


@pytest.mark.parametrize("symbol", ["WETH", "WBTC", "USDC"])
def test_deposit__one_token_unit__is_scaled_to_wad_and_withdraws_exactly(engine, funded, borrower, symbol):
    collateral_type, token, _ = funded[symbol]
    decimals = COLLATERALS[symbol][0]
    scale = 10 ** (18 - decimals)
    vault_id = engine.open_vault(collateral_type, 0, 0, {"from": borrower}).return_value
    balance = token.balanceOf(borrower)
    tx = engine.deposit(vault_id, 1, {"from": borrower})
    assert position(engine, vault_id) == (borrower, collateral_type, scale, 0)
    assert (tx.events["Deposit"]["amount"], tx.events["Deposit"]["collateral"]) == (1, scale)
    assert token.balanceOf(borrower) == balance - 1
    tx = engine.withdraw(vault_id, 1, borrower, {"from": borrower})
    assert token.balanceOf(borrower) == balance
    assert position(engine, vault_id) == (borrower, collateral_type, 0, 0)
    assert (tx.events["Withdraw"]["amount"], tx.events["Withdraw"]["collateral"]) == (1, 0)


@pytest.mark.parametrize("symbol", ["WBTC", "USDC"])
def test_deposit__whole_units_of_low_decimal_token__value_counts_at_price(engine, funded, borrower, symbol, lens):
    collateral_type, token, _ = funded[symbol]
    decimals, price = COLLATERALS[symbol]
    vault_id = engine.open_vault(collateral_type, 3 * 10**decimals, 0, {"from": borrower}).return_value
    info = lens.vault_info(vault_id)
    assert info["collateral"] == 3 * WAD
    assert info["collateral_value"] == 3 * price


# ================================================================== withdraw
def test_withdraw__no_debt_to_other_receiver__sends_tokens_and_logs(engine, weth, vault, borrower, stranger):
    before = weth_balances(weth, engine, borrower, stranger)
    tx = engine.withdraw(vault, 4 * WAD, stranger, {"from": borrower})
    assert position(engine, vault) == (borrower, 1, 6 * WAD, 0)
    assert weth_balances(weth, engine, borrower, stranger) == (before[0] - 4 * WAD, before[1], before[2] + 4 * WAD)
    event = tx.events["Withdraw"]
    assert (event["vault_id"], event["receiver"], event["amount"], event["collateral"]) == (vault, stranger, 4 * WAD, 6 * WAD)


def test_withdraw__everything_without_debt__empties_vault(engine, weth, vault, borrower):
    engine.withdraw(vault, 10 * WAD, borrower, {"from": borrower})
    assert position(engine, vault) == (borrower, 1, 0, 0)


def test_withdraw__with_debt_staying_safe__succeeds(engine, weth, vault_with_debt, borrower):
    vault = vault_with_debt
    normalized = position(engine, vault)[3]
    engine.withdraw(vault, 2 * WAD, borrower, {"from": borrower})
    assert position(engine, vault) == (borrower, 1, 8 * WAD, normalized)


@pytest.mark.parametrize("excess", [0, 1])
def test_withdraw__to_the_safety_edge__passes_and_one_wei_more_reverts(engine, weth, weth_type, vault_with_debt, borrower, excess):
    vault = vault_with_debt
    _, _, collateral, normalized = position(engine, vault)
    timestamp = schedule()
    rate = rate_at(engine, weth_type, timestamp)
    # smallest collateral that stays safe (binary search; safety is monotone in collateral)
    low, high = 0, collateral
    while low < high:
        mid = (low + high) // 2
        if is_safe(mid, normalized, rate, WETH_PRICE, LIQUIDATION_RATIO):
            high = mid
        else:
            low = mid + 1
    keep = low
    assert is_safe(keep, normalized, rate, WETH_PRICE, LIQUIDATION_RATIO)
    assert not is_safe(keep - 1, normalized, rate, WETH_PRICE, LIQUIDATION_RATIO)
    amount = collateral - keep + excess
    if excess == 0:
        engine.withdraw(vault, amount, borrower, {"from": borrower})
        assert position(engine, vault)[2] == keep
    else:
        with brownie.reverts("engine: vault unsafe"):
            engine.withdraw(vault, amount, borrower, {"from": borrower})
        assert position(engine, vault)[2] == collateral


def test_withdraw__all_collateral_with_debt__reverts_and_changes_nothing(engine, weth, vault_with_debt, borrower):
    before = position(engine, vault_with_debt)
    balance = weth.balanceOf(borrower)
    with brownie.reverts("engine: vault unsafe"):
        engine.withdraw(vault_with_debt, 10 * WAD, borrower, {"from": borrower})
    assert position(engine, vault_with_debt) == before
    assert weth.balanceOf(borrower) == balance


def test_withdraw__zero_amount__reverts(engine, vault, borrower):
    with brownie.reverts("engine: zero amount"):
        engine.withdraw(vault, 0, borrower, {"from": borrower})
    assert position(engine, vault)[2] == 10 * WAD


def test_withdraw__zero_receiver__reverts(engine, vault, borrower):
    with brownie.reverts("engine: zero receiver"):
        engine.withdraw(vault, 1 * WAD, ZERO_ADDRESS, {"from": borrower})
    assert position(engine, vault)[2] == 10 * WAD


def test_withdraw__unknown_vault__reverts(engine, vault, borrower):
    with brownie.reverts("engine: unknown vault"):
        engine.withdraw(engine.vault_count() + 1, 1 * WAD, borrower, {"from": borrower})


def test_withdraw__more_than_collateral__reverts_and_changes_nothing(engine, weth, vault, borrower):
    balance = weth.balanceOf(borrower)
    with brownie.reverts("engine: insufficient collateral"):
        engine.withdraw(vault, 10 * WAD + 1, borrower, {"from": borrower})
    assert position(engine, vault)[2] == 10 * WAD
    assert weth.balanceOf(borrower) == balance


def test_withdraw__by_stranger__reverts_and_changes_nothing(engine, weth, vault, stranger):
    balance = weth.balanceOf(stranger)
    with brownie.reverts("engine: not vault owner or operator"):
        engine.withdraw(vault, 1 * WAD, stranger, {"from": stranger})
    assert position(engine, vault)[2] == 10 * WAD
    assert weth.balanceOf(stranger) == balance


def test_withdraw__by_approved_operator__succeeds_to_any_receiver(engine, weth, vault, borrower, operator):
    engine.set_operator(operator, True, {"from": borrower})
    balance = weth.balanceOf(operator)
    engine.withdraw(vault, 1 * WAD, operator, {"from": operator})
    assert weth.balanceOf(operator) == balance + 1 * WAD
    assert position(engine, vault)[2] == 9 * WAD


def test_withdraw__by_revoked_operator__reverts(engine, vault, borrower, operator):
    engine.set_operator(operator, True, {"from": borrower})
    engine.set_operator(operator, False, {"from": borrower})
    with brownie.reverts("engine: not vault owner or operator"):
        engine.withdraw(vault, 1 * WAD, operator, {"from": operator})
    assert position(engine, vault)[2] == 10 * WAD


def test_withdraw__stale_oracle_with_debt__reverts_and_changes_nothing(engine, weth, vault_with_debt, borrower, stale):
    before = position(engine, vault_with_debt)
    balance = weth.balanceOf(borrower)
    with brownie.reverts("engine: oracle stale"):
        engine.withdraw(vault_with_debt, 1 * WAD, borrower, {"from": borrower})
    assert position(engine, vault_with_debt) == before
    assert weth.balanceOf(borrower) == balance


def test_withdraw__stale_oracle_without_debt__still_works(engine, vault, borrower, stale):
    engine.withdraw(vault, 1 * WAD, borrower, {"from": borrower})
    assert position(engine, vault)[2] == 9 * WAD


def test_withdraw__never_reported_oracle_with_debt__reverts(engine, weth_type, vault_with_debt, fresh_feed, admin, borrower):
    engine.set_oracle(weth_type, fresh_feed, {"from": admin})
    with brownie.reverts("engine: oracle stale"):
        engine.withdraw(vault_with_debt, 1 * WAD, borrower, {"from": borrower})
    assert position(engine, vault_with_debt)[2] == 10 * WAD


def test_withdraw__zero_price_oracle_with_debt__reverts(engine, weth_type, vault_with_debt, zero_price_oracle, admin, borrower):
    engine.set_oracle(weth_type, zero_price_oracle, {"from": admin})
    with brownie.reverts("engine: oracle price zero"):
        engine.withdraw(vault_with_debt, 1 * WAD, borrower, {"from": borrower})
    assert position(engine, vault_with_debt)[2] == 10 * WAD


def test_withdraw__after_price_drop__reverts_as_unsafe(engine, weth_feed, vault_with_debt, reporter, borrower):
    weth_feed.set_price(700 * WAD, {"from": reporter})  # 10 WETH = 7,000 < 5,000 * 1.5
    with brownie.reverts("engine: vault unsafe"):
        engine.withdraw(vault_with_debt, 1, borrower, {"from": borrower})
    assert position(engine, vault_with_debt)[2] == 10 * WAD


# ================================================================== borrow
def test_borrow__safe_amount__mints_records_normalized_debt_and_logs(engine, debt_token, weth_type, vault, borrower):
    surplus = engine.surplus()
    timestamp = schedule()
    rate = rate_at(engine, weth_type, timestamp)
    tx = engine.borrow(vault, 5_000 * WAD, borrower, {"from": borrower})
    normalized = normalize_up(5_000 * WAD, rate)
    assert position(engine, vault) == (borrower, weth_type, 10 * WAD, normalized)
    assert engine.type_normalized_debt(weth_type) == normalized
    assert debt_token.balanceOf(borrower) == 5_000 * WAD
    assert type_info(engine, weth_type)["rate"] == rate
    # the rounding-up of normalised debt is the system's gain
    assert engine.surplus() == surplus + normalized * rate - 5_000 * WAD * RAY
    event = tx.events["Borrow"]
    assert (event["vault_id"], event["receiver"], event["amount"]) == (vault, borrower, 5_000 * WAD)
    assert (event["normalized_debt"], event["rate"]) == (normalized, rate)
    assert ledger_balanced(engine, debt_token)


def test_borrow__debt_read_back__is_at_least_the_amount(engine, vault, borrower, lens):
    engine.borrow(vault, 1_234 * WAD + 567, borrower, {"from": borrower})
    assert lens.vault_info(vault)["debt"] >= 1_234 * WAD + 567


def test_borrow__to_other_receiver__mints_to_receiver(engine, debt_token, vault, borrower, stranger):
    tx = engine.borrow(vault, 500 * WAD, stranger, {"from": borrower})
    assert debt_token.balanceOf(stranger) == 500 * WAD
    assert debt_token.balanceOf(borrower) == 0
    assert tx.events["Borrow"]["receiver"] == stranger


def test_borrow__second_time__accrues_fees_on_existing_debt(engine, debt_token, weth_type, vault_with_debt, borrower):
    vault = vault_with_debt
    normalized = position(engine, vault)[3]
    old_rate = type_info(engine, weth_type)["rate"]
    surplus = engine.surplus()
    timestamp = schedule(1_800)  # well inside the price's max age
    rate = rate_at(engine, weth_type, timestamp)
    assert rate > old_rate
    tx = engine.borrow(vault, 100 * WAD, borrower, {"from": borrower})
    added = normalize_up(100 * WAD, rate)
    assert position(engine, vault)[3] == normalized + added
    fees = normalized * (rate - old_rate)
    assert tx.events["Accrued"]["fees"] == fees
    assert engine.surplus() == surplus + fees + added * rate - 100 * WAD * RAY
    assert ledger_balanced(engine, debt_token)


def test_borrow__zero_amount__reverts(engine, debt_token, vault, borrower):
    with brownie.reverts("engine: zero amount"):
        engine.borrow(vault, 0, borrower, {"from": borrower})
    assert position(engine, vault)[3] == 0


def test_borrow__zero_receiver__reverts(engine, vault, borrower):
    with brownie.reverts("engine: zero receiver"):
        engine.borrow(vault, 500 * WAD, ZERO_ADDRESS, {"from": borrower})
    assert position(engine, vault)[3] == 0


def test_borrow__unknown_vault__reverts(engine, debt_token, vault, borrower):
    with brownie.reverts("engine: unknown vault"):
        engine.borrow(engine.vault_count() + 1, 500 * WAD, borrower, {"from": borrower})
    assert debt_token.totalSupply() == 0


def test_borrow__by_stranger__reverts_and_mints_nothing(engine, debt_token, vault, stranger):
    with brownie.reverts("engine: not vault owner or operator"):
        engine.borrow(vault, 500 * WAD, stranger, {"from": stranger})
    assert debt_token.balanceOf(stranger) == 0
    assert position(engine, vault)[3] == 0


def test_borrow__by_approved_operator__mints_to_operator_against_owners_vault(engine, debt_token, vault, borrower, operator):
    engine.set_operator(operator, True, {"from": borrower})
    engine.borrow(vault, 500 * WAD, operator, {"from": operator})
    assert debt_token.balanceOf(operator) == 500 * WAD
    assert position(engine, vault)[3] > 0


def test_borrow__by_revoked_operator__reverts(engine, debt_token, vault, borrower, operator):
    engine.set_operator(operator, True, {"from": borrower})
    engine.set_operator(operator, False, {"from": borrower})
    with brownie.reverts("engine: not vault owner or operator"):
        engine.borrow(vault, 500 * WAD, operator, {"from": operator})
    assert debt_token.balanceOf(operator) == 0


@pytest.mark.parametrize("excess", [0, 1])
def test_borrow__up_to_debt_ceiling__passes_and_one_wei_more_reverts(engine, debt_token, weth_type, vault, admin, borrower, excess):
    ceiling = 1_000 * WAD
    engine.set_debt_limits(weth_type, ceiling, DUST, {"from": admin})
    timestamp = schedule()
    rate = rate_at(engine, weth_type, timestamp)
    # largest amount whose rounded-up normalised debt still fits under the ceiling:
    # at most n = floor(ceiling * RAY / rate) normalised, i.e. amount * RAY <= n * rate
    most_normalized = ceiling * RAY // rate
    amount = most_normalized * rate // RAY
    assert normalize_up(amount, rate) * rate <= ceiling * RAY
    assert normalize_up(amount + 1, rate) * rate > ceiling * RAY
    amount += excess
    if excess == 0:
        engine.borrow(vault, amount, borrower, {"from": borrower})
        assert debt_token.balanceOf(borrower) == amount
        assert engine.type_normalized_debt(weth_type) * rate <= ceiling * RAY
    else:
        with brownie.reverts("engine: debt ceiling reached"):
            engine.borrow(vault, amount, borrower, {"from": borrower})
        assert debt_token.balanceOf(borrower) == 0
        assert engine.type_normalized_debt(weth_type) == 0


def test_borrow__above_ceiling__reverts_and_changes_nothing(engine, debt_token, weth, weth_type, borrower):
    # 10,000,000 kUSD ceiling: 7,600 WETH (15.2M of value) can back it, the ceiling still binds
    vault_id = engine.open_vault(weth_type, 7_600 * WAD, 0, {"from": borrower}).return_value
    with brownie.reverts("engine: debt ceiling reached"):
        engine.borrow(vault_id, 10_000_000 * WAD + 1, borrower, {"from": borrower})
    assert position(engine, vault_id)[3] == 0
    assert debt_token.totalSupply() == 0


def test_borrow__ceiling_shared_by_vaults_of_a_type__second_vault_reverts(engine, debt_token, weth_type, vault, admin, borrower, other_borrower):
    engine.set_debt_limits(weth_type, 1_000 * WAD, DUST, {"from": admin})
    other = engine.open_vault(weth_type, 10 * WAD, 600 * WAD, {"from": other_borrower}).return_value
    with brownie.reverts("engine: debt ceiling reached"):
        engine.borrow(vault, 500 * WAD, borrower, {"from": borrower})
    assert position(engine, vault)[3] == 0
    assert position(engine, other)[3] > 0


def test_borrow__zero_ceiling__reverts(engine, weth_type, vault, admin, borrower):
    engine.set_debt_limits(weth_type, 0, 0, {"from": admin})
    with brownie.reverts("engine: debt ceiling reached"):
        engine.borrow(vault, 1, borrower, {"from": borrower})
    assert position(engine, vault)[3] == 0


@pytest.mark.parametrize("excess", [0, 1])
def test_borrow__up_to_liquidation_ratio__passes_and_one_wei_more_reverts(engine, debt_token, weth_type, vault, borrower, excess, lens):
    timestamp = schedule()
    rate = rate_at(engine, weth_type, timestamp)
    amount = max_safe_borrow(10 * WAD, 0, rate, WETH_PRICE, LIQUIDATION_RATIO)
    assert 13_300 * WAD < amount < 13_334 * WAD  # 20,000 / 1.5
    if excess == 0:
        engine.borrow(vault, amount, borrower, {"from": borrower})
        assert debt_token.balanceOf(borrower) == amount
        assert lens.vault_info(vault)["safe"] is True
    else:
        with brownie.reverts("engine: vault unsafe"):
            engine.borrow(vault, amount + 1, borrower, {"from": borrower})
        assert position(engine, vault)[3] == 0
        assert debt_token.balanceOf(borrower) == 0


def test_borrow__into_unsafe_ratio__reverts_and_changes_nothing(engine, debt_token, vault_with_debt, borrower):
    before = position(engine, vault_with_debt)
    supply = debt_token.totalSupply()
    with brownie.reverts("engine: vault unsafe"):
        engine.borrow(vault_with_debt, 9_000 * WAD, borrower, {"from": borrower})
    assert position(engine, vault_with_debt) == before
    assert debt_token.totalSupply() == supply


def test_borrow__first_borrow_below_dust__reverts(engine, debt_token, vault, borrower):
    with brownie.reverts("engine: debt below dust"):
        engine.borrow(vault, DUST - 1, borrower, {"from": borrower})
    assert position(engine, vault)[3] == 0
    assert debt_token.totalSupply() == 0


def test_borrow__exactly_dust__passes(engine, debt_token, vault, borrower, lens):
    engine.borrow(vault, DUST, borrower, {"from": borrower})
    assert debt_token.balanceOf(borrower) == DUST
    assert lens.vault_info(vault)["debt"] >= DUST


def test_borrow__small_top_up_above_dust__passes(engine, debt_token, vault_with_debt, borrower):
    engine.borrow(vault_with_debt, 1, borrower, {"from": borrower})
    assert debt_token.balanceOf(borrower) == 5_000 * WAD + 1


def test_borrow__stale_oracle__reverts_and_mints_nothing(engine, debt_token, vault, borrower, stale):
    with brownie.reverts("engine: oracle stale"):
        engine.borrow(vault, 500 * WAD, borrower, {"from": borrower})
    assert position(engine, vault)[3] == 0
    assert debt_token.totalSupply() == 0


def test_borrow__never_reported_oracle__reverts(engine, debt_token, weth_type, vault, fresh_feed, admin, borrower):
    engine.set_oracle(weth_type, fresh_feed, {"from": admin})
    with brownie.reverts("engine: oracle stale"):
        engine.borrow(vault, 500 * WAD, borrower, {"from": borrower})
    assert debt_token.totalSupply() == 0


def test_borrow__zero_price_oracle__reverts(engine, debt_token, weth_type, vault, zero_price_oracle, admin, borrower):
    engine.set_oracle(weth_type, zero_price_oracle, {"from": admin})
    with brownie.reverts("engine: oracle price zero"):
        engine.borrow(vault, 500 * WAD, borrower, {"from": borrower})
    assert debt_token.totalSupply() == 0


def test_borrow__after_fresh_report__works_again(engine, debt_token, weth_feed, vault, reporter, borrower, stale):
    weth_feed.set_price(WETH_PRICE, {"from": reporter})
    engine.borrow(vault, 500 * WAD, borrower, {"from": borrower})
    assert debt_token.balanceOf(borrower) == 500 * WAD


# ================================================================== repay
def test_repay__partial__burns_amount_reduces_debt_rounded_down_and_logs(engine, debt_token, weth_type, vault_with_debt, borrower):
    vault = vault_with_debt
    normalized = position(engine, vault)[3]
    surplus, old_rate = engine.surplus(), type_info(engine, weth_type)["rate"]
    timestamp = schedule(3_600)
    rate = rate_at(engine, weth_type, timestamp)
    tx = engine.repay(vault, 1_000 * WAD, {"from": borrower})
    removed = mul_div(1_000 * WAD, RAY, rate, False)
    assert position(engine, vault)[3] == normalized - removed
    assert debt_token.balanceOf(borrower) == 4_000 * WAD
    fees = normalized * (rate - old_rate)
    assert engine.surplus() == surplus + fees + 1_000 * WAD * RAY - removed * rate
    event = tx.events["Repay"]
    assert (event["vault_id"], event["payer"], event["amount"]) == (vault, borrower, 1_000 * WAD)
    assert (event["normalized_debt"], event["rate"]) == (normalized - removed, rate)
    assert ledger_balanced(engine, debt_token)


def test_repay__by_third_party__burns_payers_tokens(engine, debt_token, vault_with_debt, borrower, stranger):
    debt_token.transfer(stranger, 1_000 * WAD, {"from": borrower})
    normalized = position(engine, vault_with_debt)[3]
    tx = engine.repay(vault_with_debt, 1_000 * WAD, {"from": stranger})
    assert debt_token.balanceOf(stranger) == 0
    assert debt_token.balanceOf(borrower) == 4_000 * WAD
    assert position(engine, vault_with_debt)[3] < normalized
    assert tx.events["Repay"]["payer"] == stranger


def test_repay__max_uint__repays_whole_debt_rounded_up(engine, debt_token, weth_type, vault_with_debt, borrower, kusd_source, lens):
    vault = vault_with_debt
    kusd_source(borrower, 1_000 * WAD)  # fees make the debt exceed what was borrowed
    normalized = position(engine, vault)[3]
    balance = debt_token.balanceOf(borrower)
    timestamp = schedule(30 * 86_400)
    rate = rate_at(engine, weth_type, timestamp)
    owed = mul_div(normalized, rate, RAY, True)
    assert owed > 5_000 * WAD
    tx = engine.repay(vault, MAX_UINT256, {"from": borrower})
    assert position(engine, vault)[3] == 0
    assert debt_token.balanceOf(borrower) == balance - owed
    assert lens.vault_info(vault)["debt"] == 0
    assert (tx.events["Repay"]["amount"], tx.events["Repay"]["normalized_debt"]) == (owed, 0)
    assert ledger_balanced(engine, debt_token)


@pytest.mark.parametrize("excess", [0, 1])
def test_repay__largest_amount_removing_all_debt__passes_and_one_wei_more_reverts(engine, debt_token, weth_type, vault_with_debt, borrower, kusd_source, excess):
    vault = vault_with_debt
    kusd_source(borrower, 1_000 * WAD)
    normalized = position(engine, vault)[3]
    timestamp = schedule(30 * 86_400)
    rate = rate_at(engine, weth_type, timestamp)
    # floor(amount * RAY / rate) <= normalized  <=>  amount < ceil((normalized + 1) * rate / RAY)
    largest = mul_div(normalized + 1, rate, RAY, True) - 1
    assert mul_div(largest, RAY, rate, False) == normalized
    if excess == 0:
        engine.repay(vault, largest, {"from": borrower})
        assert position(engine, vault)[3] == 0
    else:
        balance = debt_token.balanceOf(borrower)
        with brownie.reverts("engine: repay exceeds debt"):
            engine.repay(vault, largest + 1, {"from": borrower})
        assert position(engine, vault)[3] == normalized
        assert debt_token.balanceOf(borrower) == balance


@pytest.mark.parametrize("excess", [0, 1])
def test_repay__down_to_dust__passes_and_one_wei_more_reverts(engine, debt_token, weth_type, vault_with_debt, borrower, excess, lens):
    vault = vault_with_debt
    normalized = position(engine, vault)[3]
    timestamp = schedule()
    rate = rate_at(engine, weth_type, timestamp)
    # largest repayment leaving (normalized - removed) * rate >= DUST * RAY, removed rounded down:
    # keep at least m = ceil(DUST * RAY / rate), so removed <= normalized - m
    keep = mul_div(DUST, RAY, rate, True)
    amount = mul_div(normalized - keep + 1, rate, RAY, True) - 1
    assert (normalized - mul_div(amount, RAY, rate, False)) * rate >= DUST * RAY
    assert (normalized - mul_div(amount + 1, RAY, rate, False)) * rate < DUST * RAY
    if excess == 0:
        engine.repay(vault, amount, {"from": borrower})
        assert lens.vault_info(vault)["debt"] >= DUST
    else:
        with brownie.reverts("engine: debt below dust"):
            engine.repay(vault, amount + 1, {"from": borrower})
        assert position(engine, vault)[3] == normalized
        assert debt_token.balanceOf(borrower) == 5_000 * WAD


def test_repay__leaving_debt_below_dust__reverts_and_changes_nothing(engine, debt_token, vault_with_debt, borrower):
    before = position(engine, vault_with_debt)
    with brownie.reverts("engine: debt below dust"):
        engine.repay(vault_with_debt, 4_950 * WAD, {"from": borrower})
    assert position(engine, vault_with_debt) == before
    assert debt_token.balanceOf(borrower) == 5_000 * WAD


def test_repay__more_than_debt__reverts(engine, debt_token, vault_with_debt, borrower, kusd_source):
    kusd_source(borrower, 10_000 * WAD)
    before = position(engine, vault_with_debt)
    with brownie.reverts("engine: repay exceeds debt"):
        engine.repay(vault_with_debt, 6_000 * WAD, {"from": borrower})
    assert position(engine, vault_with_debt) == before
    assert debt_token.balanceOf(borrower) == 15_000 * WAD


def test_repay__zero_amount__reverts(engine, vault_with_debt, borrower):
    before = position(engine, vault_with_debt)
    with brownie.reverts("engine: zero amount"):
        engine.repay(vault_with_debt, 0, {"from": borrower})
    assert position(engine, vault_with_debt) == before


def test_repay__unknown_vault__reverts(engine, debt_token, vault_with_debt, borrower):
    with brownie.reverts("engine: unknown vault"):
        engine.repay(engine.vault_count() + 1, 1 * WAD, {"from": borrower})
    assert debt_token.balanceOf(borrower) == 5_000 * WAD


def test_repay__vault_without_debt__reverts(engine, debt_token, vault, borrower, kusd_source):
    kusd_source(borrower, 100 * WAD)
    with brownie.reverts("engine: vault has no debt"):
        engine.repay(vault, 1 * WAD, {"from": borrower})
    assert debt_token.balanceOf(borrower) == 100 * WAD


def test_repay__more_than_payer_holds__reverts_and_changes_nothing(engine, debt_token, vault_with_debt, borrower, stranger):
    debt_token.transfer(stranger, 10 * WAD, {"from": borrower})
    before = position(engine, vault_with_debt)
    with brownie.reverts("token: insufficient balance"):
        engine.repay(vault_with_debt, 20 * WAD, {"from": stranger})
    assert position(engine, vault_with_debt) == before
    assert debt_token.balanceOf(stranger) == 10 * WAD


def test_repay__after_ceiling_lowered_below_debt__still_works(engine, debt_token, weth_type, vault_with_debt, admin, borrower):
    engine.set_debt_limits(weth_type, 1 * WAD, DUST, {"from": admin})
    engine.repay(vault_with_debt, 1_000 * WAD, {"from": borrower})
    assert debt_token.balanceOf(borrower) == 4_000 * WAD


def test_repay__after_dust_raised_above_debt__partial_reverts_but_full_works(engine, debt_token, weth_type, vault_with_debt, admin, borrower, kusd_source):
    engine.set_debt_limits(weth_type, 10_000_000 * WAD, 6_000 * WAD, {"from": admin})
    with brownie.reverts("engine: debt below dust"):
        engine.repay(vault_with_debt, 1 * WAD, {"from": borrower})
    kusd_source(borrower, 100 * WAD)
    engine.repay(vault_with_debt, MAX_UINT256, {"from": borrower})
    assert position(engine, vault_with_debt)[3] == 0


def test_repay__stale_oracle__still_works(engine, debt_token, vault_with_debt, borrower, stale):
    engine.repay(vault_with_debt, 1_000 * WAD, {"from": borrower})
    assert debt_token.balanceOf(borrower) == 4_000 * WAD


def test_repay__max_uint_on_stale_oracle__clears_debt(engine, vault_with_debt, borrower, kusd_source, stale):
    kusd_source(borrower, 100 * WAD)
    engine.repay(vault_with_debt, MAX_UINT256, {"from": borrower})
    assert position(engine, vault_with_debt)[3] == 0


# ================================================================== close
def test_close__with_debt__burns_exact_debt_returns_collateral_and_deletes_vault(engine, debt_token, weth, weth_type, vault_with_debt, borrower, stranger, kusd_source):
    vault = vault_with_debt
    kusd_source(borrower, 100 * WAD)
    normalized = position(engine, vault)[3]
    type_debt = engine.type_normalized_debt(weth_type)
    kusd, supply = debt_token.balanceOf(borrower), debt_token.totalSupply()
    before = weth_balances(weth, engine, stranger)
    timestamp = schedule(7 * 86_400)
    rate = rate_at(engine, weth_type, timestamp)
    owed = mul_div(normalized, rate, RAY, True)
    tx = engine.close(vault, stranger, {"from": borrower})
    assert debt_token.balanceOf(borrower) == kusd - owed
    assert debt_token.totalSupply() == supply - owed
    assert weth_balances(weth, engine, stranger) == (before[0] - 10 * WAD, before[1] + 10 * WAD)
    assert engine.type_normalized_debt(weth_type) == type_debt - normalized
    # emptied, not deleted: the vault stays the owner's (an auction may yet return collateral)
    assert engine.vault_position(vault) == (borrower, weth_type, 0, 0)
    event = tx.events["VaultClosed"]
    assert (event["vault_id"], event["receiver"], event["debt_repaid"]) == (vault, stranger, owed)
    assert (event["collateral_returned"], event["collateral_dust"]) == (10 * WAD, 0)
    assert ledger_balanced(engine, debt_token)


def test_close__without_debt__returns_collateral_and_burns_nothing(engine, debt_token, weth, vault, borrower):
    balance = weth.balanceOf(borrower)
    tx = engine.close(vault, borrower, {"from": borrower})
    assert weth.balanceOf(borrower) == balance + 10 * WAD
    assert tx.events["VaultClosed"]["debt_repaid"] == 0
    assert "Transfer" not in [e.name for e in tx.events if e.address == debt_token.address]
    assert engine.vault_position(vault)[2:] == (0, 0)


def test_close__empty_vault__leaves_it_empty_without_transfers(engine, funded, weth, weth_type, borrower):
    vault_id = engine.open_vault(weth_type, 0, 0, {"from": borrower}).return_value
    tx = engine.close(vault_id, borrower, {"from": borrower})
    assert (tx.events["VaultClosed"]["debt_repaid"], tx.events["VaultClosed"]["collateral_returned"]) == (0, 0)
    assert engine.vault_position(vault_id) == (borrower, weth_type, 0, 0)


@pytest.mark.parametrize("symbol", ["WETH", "WBTC", "USDC"])
def test_close__any_decimals__returns_exact_token_units(engine, funded, borrower, symbol):
    collateral_type, token, _ = funded[symbol]
    amount = 123 * 10 ** COLLATERALS[symbol][0] + 7  # whole units plus 7 smallest units
    vault_id = engine.open_vault(collateral_type, amount, 0, {"from": borrower}).return_value
    balance, held = token.balanceOf(borrower), token.balanceOf(engine)
    tx = engine.close(vault_id, borrower, {"from": borrower})
    assert token.balanceOf(borrower) == balance + amount
    assert token.balanceOf(engine) == held - amount
    assert (tx.events["VaultClosed"]["collateral_returned"], tx.events["VaultClosed"]["collateral_dust"]) == (amount, 0)
    assert engine.type_collateral_dust(collateral_type) == 0


def test_close__then_reused__closed_vault_takes_deposits_and_closes_again(engine, weth, vault, borrower):
    engine.close(vault, borrower, {"from": borrower})
    engine.deposit(vault, 2 * WAD, {"from": borrower})
    balance = weth.balanceOf(borrower)
    tx = engine.close(vault, borrower, {"from": borrower})
    assert tx.events["VaultClosed"]["collateral_returned"] == 2 * WAD
    assert weth.balanceOf(borrower) == balance + 2 * WAD


def test_close__zero_receiver__reverts_and_keeps_vault(engine, vault_with_debt, borrower):
    before = position(engine, vault_with_debt)
    with brownie.reverts("engine: zero receiver"):
        engine.close(vault_with_debt, ZERO_ADDRESS, {"from": borrower})
    assert position(engine, vault_with_debt) == before


def test_close__unknown_vault__reverts(engine, vault, borrower):
    with brownie.reverts("engine: unknown vault"):
        engine.close(engine.vault_count() + 1, borrower, {"from": borrower})


def test_close__by_stranger__reverts_and_keeps_vault(engine, weth, vault, stranger):
    balance = weth.balanceOf(stranger)
    with brownie.reverts("engine: not vault owner or operator"):
        engine.close(vault, stranger, {"from": stranger})
    assert position(engine, vault)[2] == 10 * WAD
    assert weth.balanceOf(stranger) == balance


def test_close__by_approved_operator__burns_operators_tokens(engine, debt_token, weth, vault_with_debt, borrower, operator, kusd_source):
    engine.set_operator(operator, True, {"from": borrower})
    kusd_source(operator, 6_000 * WAD)
    balance = weth.balanceOf(operator)
    tx = engine.close(vault_with_debt, operator, {"from": operator})
    owed = tx.events["VaultClosed"]["debt_repaid"]
    assert owed > 5_000 * WAD - 1
    assert debt_token.balanceOf(operator) == 6_000 * WAD - owed
    assert debt_token.balanceOf(borrower) == 5_000 * WAD
    assert weth.balanceOf(operator) == balance + 10 * WAD


def test_close__by_revoked_operator__reverts(engine, vault, borrower, operator):
    engine.set_operator(operator, True, {"from": borrower})
    engine.set_operator(operator, False, {"from": borrower})
    with brownie.reverts("engine: not vault owner or operator"):
        engine.close(vault, operator, {"from": operator})
    assert position(engine, vault)[2] == 10 * WAD


def test_close__caller_lacks_debt_tokens__reverts_and_keeps_vault(engine, debt_token, weth, vault_with_debt, borrower, stranger):
    debt_token.transfer(stranger, 1 * WAD, {"from": borrower})  # now holds less than the debt
    before = position(engine, vault_with_debt)
    balance = weth.balanceOf(borrower)
    with brownie.reverts("token: insufficient balance"):
        engine.close(vault_with_debt, borrower, {"from": borrower})
    assert position(engine, vault_with_debt) == before
    assert weth.balanceOf(borrower) == balance


def test_close__stale_oracle__still_works(engine, weth, vault_with_debt, borrower, kusd_source, stale):
    kusd_source(borrower, 100 * WAD)
    balance = weth.balanceOf(borrower)
    engine.close(vault_with_debt, borrower, {"from": borrower})
    assert weth.balanceOf(borrower) == balance + 10 * WAD


# ================================================================== transfer_vault
def test_transfer_vault__by_owner__hands_over_and_logs(engine, vault, borrower, other_borrower):
    tx = engine.transfer_vault(vault, other_borrower, {"from": borrower})
    assert position(engine, vault) == (other_borrower, 1, 10 * WAD, 0)
    event = tx.events["VaultTransferred"]
    assert (event["vault_id"], event["previous_owner"], event["new_owner"]) == (vault, borrower, other_borrower)


def test_transfer_vault__after_hand_over__new_owner_acts_and_old_owner_cannot(engine, weth, vault, borrower, other_borrower):
    engine.transfer_vault(vault, other_borrower, {"from": borrower})
    with brownie.reverts("engine: not vault owner or operator"):
        engine.withdraw(vault, 1 * WAD, borrower, {"from": borrower})
    balance = weth.balanceOf(other_borrower)
    engine.withdraw(vault, 1 * WAD, other_borrower, {"from": other_borrower})
    assert weth.balanceOf(other_borrower) == balance + 1 * WAD


def test_transfer_vault__with_operators__operators_follow_the_owner(engine, vault, borrower, other_borrower, operator, stranger):
    engine.set_operator(operator, True, {"from": borrower})
    engine.set_operator(stranger, True, {"from": other_borrower})
    engine.transfer_vault(vault, other_borrower, {"from": borrower})
    with brownie.reverts("engine: not vault owner or operator"):
        engine.withdraw(vault, 1 * WAD, operator, {"from": operator})
    engine.withdraw(vault, 1 * WAD, stranger, {"from": stranger})
    assert position(engine, vault)[2] == 9 * WAD


def test_transfer_vault__by_operator__reverts(engine, vault, borrower, operator):
    engine.set_operator(operator, True, {"from": borrower})
    with brownie.reverts("engine: not vault owner"):
        engine.transfer_vault(vault, operator, {"from": operator})
    assert position(engine, vault)[0] == borrower


def test_transfer_vault__by_stranger__reverts(engine, vault, borrower, stranger):
    with brownie.reverts("engine: not vault owner"):
        engine.transfer_vault(vault, stranger, {"from": stranger})
    assert position(engine, vault)[0] == borrower


def test_transfer_vault__to_zero_address__reverts(engine, vault, borrower):
    with brownie.reverts("engine: zero owner"):
        engine.transfer_vault(vault, ZERO_ADDRESS, {"from": borrower})
    assert position(engine, vault)[0] == borrower


def test_transfer_vault__unknown_vault__reverts(engine, vault, borrower, stranger):
    with brownie.reverts("engine: unknown vault"):
        engine.transfer_vault(engine.vault_count() + 1, stranger, {"from": borrower})


def test_transfer_vault__vault_with_debt__keeps_debt_and_collateral(engine, vault_with_debt, borrower, other_borrower):
    before = position(engine, vault_with_debt)
    engine.transfer_vault(vault_with_debt, other_borrower, {"from": borrower})
    assert position(engine, vault_with_debt) == (other_borrower, *before[1:])


# ================================================================== set_operator
def test_set_operator__approve_then_revoke__records_and_logs(engine, borrower, operator):
    tx = engine.set_operator(operator, True, {"from": borrower})
    assert engine.operators(borrower, operator) is True
    event = tx.events["OperatorSet"]
    assert (event["owner"], event["operator"], event["approved"]) == (borrower, operator, True)
    tx = engine.set_operator(operator, False, {"from": borrower})
    assert engine.operators(borrower, operator) is False
    assert tx.events["OperatorSet"]["approved"] is False


def test_set_operator__zero_operator__reverts(engine, borrower):
    with brownie.reverts("engine: zero operator"):
        engine.set_operator(ZERO_ADDRESS, True, {"from": borrower})
    assert engine.operators(borrower, ZERO_ADDRESS) is False


def test_set_operator__operator_of_other_owner__cannot_act(engine, vault, other_borrower, operator):
    engine.set_operator(operator, True, {"from": other_borrower})
    with brownie.reverts("engine: not vault owner or operator"):
        engine.withdraw(vault, 1 * WAD, operator, {"from": operator})
    assert position(engine, vault)[2] == 10 * WAD


# ================================================================== views
def test_vault_info__vault_with_debt__reports_value_ratio_headroom_and_safety(engine, weth_type, vault_with_debt, borrower, lens):
    info = lens.vault_info(vault_with_debt)
    _, _, collateral, normalized = position(engine, vault_with_debt)
    kind = type_info(engine, weth_type)
    rate = engine.current_rate(weth_type)
    debt = mul_div(normalized, rate, RAY, True)
    value = 10 * WETH_PRICE
    assert (info["vault_id"], info["owner"], info["collateral_type"]) == (vault_with_debt, borrower, weth_type)
    assert (info["collateral"], info["normalized_debt"], info["debt"]) == (collateral, normalized, debt)
    assert info["collateral_value"] == value
    assert info["collateral_ratio"] == value * WAD // debt
    # headroom is counted in normalised debt, rounded down, so that it can be borrowed
    vault_cap = (value * WAD // LIQUIDATION_RATIO) * RAY // rate
    type_cap = kind["debt_ceiling"] * RAY // rate
    room = min(vault_cap - normalized, type_cap - kind["normalized_debt"])
    assert info["max_borrow"] == room * rate // RAY
    assert info["safe"] is True
    assert info["price_fresh"] is True


def test_vault_info__max_borrow__can_be_borrowed_in_the_same_second(engine, debt_token, weth_type, vault, borrower, lens):
    """`max_borrow` is documented as the "more debt the vault could take now"; a keeper
    that borrows exactly that much in the same second (same rate, same price) must succeed."""
    kind = type_info(engine, weth_type)
    value = mul_div(10 * WAD, WETH_PRICE, WAD, False)
    naive_max = mul_div(value, WAD, LIQUIDATION_RATIO, False)  # capacity - debt, debt = 0
    # pick a second (well inside the price's freshness) whose rate makes a borrow of the
    # naive maximum round its debt up past the capacity
    base = latest_timestamp()
    for offset in range(1, 600):
        timestamp = base + offset
        rate = grow_rate(kind["rate"], kind["stability_fee"], timestamp - kind["last_accrual"])
        if not is_safe(10 * WAD, normalize_up(naive_max, rate), rate, WETH_PRICE, LIQUIDATION_RATIO):
            break
    else:
        pytest.fail("no second in range makes the debt round up")
    true_max = max_safe_borrow(10 * WAD, 0, rate, WETH_PRICE, LIQUIDATION_RATIO)
    mine_at(timestamp)
    max_borrow = lens.vault_info(vault)["max_borrow"]
    set_next_timestamp(timestamp)  # borrow in the same second: same rate, same price
    engine.borrow(vault, max_borrow, borrower, {"from": borrower})
    assert debt_token.balanceOf(borrower) == max_borrow
    assert true_max - 10 <= max_borrow <= true_max  # not over-promised, not needlessly short


def test_vault_info__no_debt__ratio_is_max_uint(engine, vault, lens):
    info = lens.vault_info(vault)
    assert info["debt"] == 0
    assert info["collateral_ratio"] == MAX_UINT256
    assert info["safe"] is True


def test_vault_info__stale_price__no_headroom_and_not_fresh(engine, vault_with_debt, stale, lens):
    info = lens.vault_info(vault_with_debt)
    assert info["price_fresh"] is False
    assert info["max_borrow"] == 0


def test_vault_info__after_price_drop__reports_unsafe(engine, weth_feed, vault_with_debt, reporter, lens):
    weth_feed.set_price(700 * WAD, {"from": reporter})
    info = lens.vault_info(vault_with_debt)
    assert info["safe"] is False
    assert info["max_borrow"] == 0


def test_vault_info__unknown_vault__reverts(engine, vault, lens):
    with brownie.reverts("engine: unknown vault"):
        lens.vault_info(engine.vault_count() + 1)


def test_vaults_info__batch__matches_single_reads(engine, funded, wbtc_type, vault, other_borrower, lens):
    other = engine.open_vault(wbtc_type, 10**8, 0, {"from": other_borrower}).return_value
    batch = lens.vaults_info([vault, other])
    assert [tuple(i) for i in batch] == [tuple(lens.vault_info(vault)), tuple(lens.vault_info(other))]


def test_vaults_info__closed_and_unknown_vaults_in_batch__empty_entries_closed_keeps_owner(engine, vault, borrower, lens):
    engine.close(vault, borrower, {"from": borrower})
    unknown = engine.vault_count() + 1
    batch = lens.vaults_info([vault, unknown])
    for entry, vault_id, owner in zip(batch, [vault, unknown], [borrower, ZERO_ADDRESS]):
        assert entry["vault_id"] == vault_id
        assert entry["owner"] == owner
        assert (entry["collateral"], entry["normalized_debt"], entry["debt"]) == (0, 0, 0)


def test_vaults_info__empty_batch__returns_empty_list(engine, vault, lens):
    assert list(lens.vaults_info([])) == []


def test_vault_position__unknown_vault__reverts(engine, vault):
    with brownie.reverts("engine: unknown vault"):
        engine.vault_position(0)


def test_collateral_type_info__lens__matches_the_engine_words_unpacked(engine, funded, weth_type, vault_with_debt, lens):
    """VaultLens.collateral_type_info unpacks engine.collateral_type_words exactly as the
    Python reference (conftest.type_info) does, field for field."""
    on_chain = lens.collateral_type_info(weth_type).dict()
    assert on_chain == type_info(engine, weth_type)
    assert on_chain["normalized_debt"] > 0 and on_chain["auction_limit"] == 0

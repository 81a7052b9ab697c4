"""Rounding properties of the vault engine (hypothesis, examples from the active profile).

Every rounding favours the system: debt read back after a borrow is at least what was
borrowed, a repayment never reduces debt by more than it paid, a borrow-then-repay-all
cycle never enriches the borrower -- and after each of them the debt ledger balances
exactly:  supply * RAY + surplus == sum over types of normalised debt * stored rate.
"""

import pytest
from brownie import chain
from brownie.test import given, strategy

from tests.unit.conftest import (
    COLLATERALS,
    DUST,
    MAX_UINT256,
    RAY,
    WAD,
    ledger_balanced,
    mul_div,
    rate_at,
    schedule,
)

YEAR = 365 * 86_400
MAX_BORROW = 13_000 * WAD  # 10 WETH at 2,000 back 13,333 at a 150 % ratio
WETH_PRICE = COLLATERALS["WETH"][1]


def age(seconds, weth_feed, reporter):
    """Let `seconds` pass, then report the price again so borrowing stays possible."""
    if seconds:
        chain.sleep(seconds)
        weth_feed.set_price(WETH_PRICE, {"from": reporter})


@pytest.fixture(scope="module")
def fee_buffer(engine, debt_token, weth_type, funded, other_borrower, borrower):
    """Hand the borrower 10,000 kUSD (borrowed by other_borrower) to pay accrued fees with."""
    engine.open_vault(weth_type, 100 * WAD, 10_000 * WAD, {"from": other_borrower})
    debt_token.transfer(borrower, 10_000 * WAD, {"from": other_borrower})
    return 10_000 * WAD


def ceil_div_ray(rate):
    return mul_div(rate, 1, RAY, True)


@given(
    amount=strategy("uint256", min_value=DUST, max_value=MAX_BORROW),
    elapsed=strategy("uint256", max_value=10 * YEAR),
)
def test_borrow__any_amount_at_any_rate__debt_read_back_is_at_least_the_amount(engine, debt_token, weth_feed, reporter, vault, borrower, amount, elapsed, lens):
    age(elapsed, weth_feed, reporter)
    balance = debt_token.balanceOf(borrower)
    tx = engine.borrow(vault, amount, borrower, {"from": borrower})
    rate = tx.events["Borrow"]["rate"]
    debt = lens.vault_info(vault)["debt"]
    assert debt >= amount
    assert debt <= amount + ceil_div_ray(rate)  # and only by rounding
    assert debt_token.balanceOf(borrower) == balance + amount
    assert ledger_balanced(engine, debt_token)


@given(
    amount=strategy("uint256", min_value=DUST + 1, max_value=MAX_BORROW),
    repay_seed=strategy("uint256"),
    elapsed=strategy("uint256", max_value=10 * YEAR),
)
def test_repay__any_amount__reduces_debt_by_at_most_the_amount_paid(engine, debt_token, weth_type, vault, borrower, amount, repay_seed, elapsed, lens):
    engine.borrow(vault, amount, borrower, {"from": borrower})
    repay = 1 + repay_seed % (amount - DUST)  # leaves at least the dust
    normalized = engine.vault_position(vault)[3]
    timestamp = schedule(elapsed + 1)
    rate = rate_at(engine, weth_type, timestamp)
    debt_before = mul_div(normalized, rate, RAY, True)
    balance = debt_token.balanceOf(borrower)
    engine.repay(vault, repay, {"from": borrower})
    debt_after = lens.vault_info(vault)["debt"]
    assert debt_token.balanceOf(borrower) == balance - repay
    assert debt_before - debt_after <= repay
    assert debt_before - debt_after >= repay - ceil_div_ray(rate)
    assert debt_after >= DUST
    assert ledger_balanced(engine, debt_token)


@given(
    amount=strategy("uint256", min_value=DUST, max_value=MAX_BORROW),
    elapsed=strategy("uint256", max_value=10 * YEAR),
)
def test_borrow_then_repay_all__any_amount_and_time__never_leaves_borrower_richer(
    engine, debt_token, vault, borrower, fee_buffer, amount, elapsed
):
    start = debt_token.balanceOf(borrower)
    engine.borrow(vault, amount, borrower, {"from": borrower})
    if elapsed:
        chain.sleep(elapsed)  # repaying needs no fresh price
    tx = engine.repay(vault, MAX_UINT256, {"from": borrower})
    paid = tx.events["Repay"]["amount"]
    assert paid >= amount
    assert engine.vault_position(vault)[3] == 0
    assert debt_token.balanceOf(borrower) == start + amount - paid
    assert debt_token.balanceOf(borrower) <= start
    assert ledger_balanced(engine, debt_token)


@given(
    deposit=strategy("uint256", min_value=1, max_value=10**12),
    withdraw_seed=strategy("uint256"),
)
def test_deposit_then_withdraw__six_decimal_token__wad_scaling_is_exact(engine, funded, usdc_type, usdc, borrower, deposit, withdraw_seed):
    vault_id = engine.open_vault(usdc_type, deposit, 0, {"from": borrower}).return_value
    withdraw = 1 + withdraw_seed % deposit
    balance = usdc.balanceOf(borrower)
    engine.withdraw(vault_id, withdraw, borrower, {"from": borrower})
    assert usdc.balanceOf(borrower) == balance + withdraw
    assert engine.vault_position(vault_id)[2] == (deposit - withdraw) * 10**12

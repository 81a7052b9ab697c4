"""VaultEngine against collateral tokens with non-standard return values: a token that
returns false must never be credited or debited silently, and a token that returns
nothing (USDT-style) must still work (`default_return_value=True`)."""

import brownie
import pytest
from brownie import compile_source

from tests.unit.conftest import (
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    STABILITY_FEE,
    WAD,
)

FALSE_TOKEN = """# pragma version ~=0.4.3
# test double: transfers return false (and move nothing) while `fail` is set
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
decimals: public(uint8)
fail: public(bool)

@deploy
def __init__():
    self.decimals = 18

@external
def set_fail(failing: bool):
    self.fail = failing

@external
def mint(receiver: address, amount: uint256):
    self.balanceOf[receiver] += amount

@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True

@external
def transfer(receiver: address, amount: uint256) -> bool:
    if self.fail:
        return False
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[receiver] += amount
    return True

@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    if self.fail:
        return False
    self.allowance[sender][msg.sender] -= amount
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    return True
"""

NO_RETURN_TOKEN = """# pragma version ~=0.4.3
# test double: USDT-style transfers without a return value, 6 decimals
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
decimals: public(uint8)

@deploy
def __init__():
    self.decimals = 6

@external
def mint(receiver: address, amount: uint256):
    self.balanceOf[receiver] += amount

@external
def approve(spender: address, amount: uint256):
    self.allowance[msg.sender][spender] = amount

@external
def transfer(receiver: address, amount: uint256):
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[receiver] += amount

@external
def transferFrom(sender: address, receiver: address, amount: uint256):
    self.allowance[sender][msg.sender] -= amount
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
"""


def _deploy(source, admin):
    return compile_source(source, vyper_version="0.4.3", evm_version="prague").Vyper.deploy({"from": admin})


def _list_and_fund(engine, token, feed, admin, borrower, amount):
    collateral_type = engine.add_collateral_type(
        token, feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY, {"from": admin}
    ).return_value
    token.mint(borrower, amount, {"from": borrower})
    token.approve(engine, 2**256 - 1, {"from": borrower})
    return collateral_type


@pytest.fixture(scope="module")
def false_token(engine, weth_feed, admin, borrower):
    token = _deploy(FALSE_TOKEN, admin)
    token.collateral_type = _list_and_fund(engine, token, weth_feed, admin, borrower, 100 * WAD)
    return token


@pytest.fixture(scope="module")
def no_return_token(engine, usdc_feed, admin, borrower):
    token = _deploy(NO_RETURN_TOKEN, admin)
    token.collateral_type = _list_and_fund(engine, token, usdc_feed, admin, borrower, 1_000 * 10**6)
    return token


@pytest.fixture
def false_vault(engine, false_token, borrower):
    """A vault holding 10 of the false-returning token (deposited while it still worked)."""
    return engine.open_vault(false_token.collateral_type, 10 * WAD, 0, {"from": borrower}).return_value


def test_deposit__token_returns_false__reverts_and_credits_nothing(engine, false_token, false_vault, borrower):
    false_token.set_fail(True, {"from": borrower})
    with brownie.reverts("engine: token transfer failed"):
        engine.deposit(false_vault, 5 * WAD, {"from": borrower})
    assert engine.vault_position(false_vault)[2] == 10 * WAD
    assert false_token.balanceOf(engine) == 10 * WAD


def test_withdraw__token_returns_false__reverts_and_keeps_collateral(engine, false_token, false_vault, borrower):
    false_token.set_fail(True, {"from": borrower})
    with brownie.reverts("engine: token transfer failed"):
        engine.withdraw(false_vault, 5 * WAD, borrower, {"from": borrower})
    assert engine.vault_position(false_vault)[2] == 10 * WAD
    assert false_token.balanceOf(borrower) == 90 * WAD


def test_close__token_returns_false__reverts_and_keeps_vault(engine, false_token, false_vault, borrower):
    false_token.set_fail(True, {"from": borrower})
    with brownie.reverts("engine: token transfer failed"):
        engine.close(false_vault, borrower, {"from": borrower})
    assert engine.vault_position(false_vault)[2] == 10 * WAD


def test_deposit_withdraw_close__token_without_return_value__work(engine, no_return_token, borrower):
    collateral_type = no_return_token.collateral_type
    vault_id = engine.open_vault(collateral_type, 300 * 10**6, 0, {"from": borrower}).return_value
    assert engine.vault_position(vault_id)[2] == 300 * WAD
    engine.withdraw(vault_id, 100 * 10**6, borrower, {"from": borrower})
    assert engine.vault_position(vault_id)[2] == 200 * WAD
    engine.close(vault_id, borrower, {"from": borrower})
    assert no_return_token.balanceOf(borrower) == 1_000 * 10**6
    assert no_return_token.balanceOf(engine) == 0

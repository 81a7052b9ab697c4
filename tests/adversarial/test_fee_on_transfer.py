"""A collateral token that takes a fee on transfer must be refused: crediting the sent
amount while receiving less would create collateral out of nothing and let its vaults
borrow against (and withdraw) tokens that other depositors own."""

import brownie
import pytest

from tests.unit.conftest import DEBT_CEILING, DUST, LIQUIDATION_PENALTY, LIQUIDATION_RATIO, STABILITY_FEE, WAD


@pytest.fixture(scope="module")
def fot_token(FeeOnTransferToken, admin):
    return FeeOnTransferToken.deploy({"from": admin})


@pytest.fixture(scope="module")
def fot_type(engine, fot_token, weth_feed, admin, borrower, other_borrower):
    # listing cannot detect the fee (no transfer happens); every deposit checks it
    collateral_type = engine.add_collateral_type(
        fot_token, weth_feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY, {"from": admin}
    ).return_value
    for who in (borrower, other_borrower):
        fot_token.mint(who, 1_000 * WAD, {"from": who})
        fot_token.approve(engine, 2**256 - 1, {"from": who})
    return collateral_type


def test_deposit__fee_on_transfer_token__refused(engine, fot_token, fot_type, borrower):
    vault_id = engine.open_vault(fot_type, 0, 0, {"from": borrower}).return_value
    with brownie.reverts("engine: token fee on transfer"):
        engine.deposit(vault_id, 100 * WAD, {"from": borrower})
    assert engine.vault_position(vault_id)[2] == 0
    assert fot_token.balanceOf(borrower) == 1_000 * WAD
    assert fot_token.balanceOf(engine) == 0


def test_open_vault__fee_on_transfer_deposit__refused_and_opens_nothing(engine, fot_token, fot_type, borrower):
    count = engine.vault_count()
    with brownie.reverts("engine: token fee on transfer"):
        engine.open_vault(fot_type, 100 * WAD, 0, {"from": borrower})
    assert engine.vault_count() == count
    assert fot_token.balanceOf(engine) == 0


def test_deposit__fee_on_transfer_token__cannot_drain_other_depositors(engine, fot_token, fot_type, borrower, other_borrower, funded, weth, weth_type):
    # an honest WETH vault alongside; the fee token's refusal leaves it untouched
    honest = engine.open_vault(weth_type, 5 * WAD, 0, {"from": other_borrower}).return_value
    attacker = engine.open_vault(fot_type, 0, 0, {"from": borrower}).return_value
    with brownie.reverts("engine: token fee on transfer"):
        engine.deposit(attacker, 500 * WAD, {"from": borrower})
    with brownie.reverts("engine: insufficient collateral"):
        engine.withdraw(attacker, 1, borrower, {"from": borrower})
    assert engine.vault_position(honest)[2] == 5 * WAD
    assert weth.balanceOf(engine) >= 5 * WAD

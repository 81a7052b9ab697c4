"""access_control (the module): two-step ownership and role bit sets.

Every deployable exports the same functions, so each story runs against the debt token,
the vault engine and a price feed.
"""

import brownie
import pytest

from tests.unit.conftest import ZERO_ADDRESS

OWNED = ["debt_token", "engine", "weth_feed"]


@pytest.fixture(scope="module")
def owned_contracts(debt_token, engine, weth_feed):
    # deployed at module scope (before each test's snapshot); see conftest
    return {"debt_token": debt_token, "engine": engine, "weth_feed": weth_feed}


@pytest.fixture(params=OWNED)
def owned(request, owned_contracts):
    return owned_contracts[request.param]


# ------------------------------------------------------------------ deploy
def test_deploy__initial_owner__is_owner_with_no_pending_owner_and_logs_transfer(owned, admin):
    assert owned.owner() == admin
    assert owned.pending_owner() == ZERO_ADDRESS
    event = owned.tx.events["OwnershipTransferred"]
    assert event["previous_owner"] == ZERO_ADDRESS
    assert event["new_owner"] == admin


def test_deploy_debt_token__zero_owner__reverts(DebtToken, admin):
    with brownie.reverts("access: zero owner"):
        DebtToken.deploy("Keel USD", "kUSD", ZERO_ADDRESS, ZERO_ADDRESS, {"from": admin})


def test_deploy_engine__zero_owner__reverts(VaultEngine, debt_token, admin):
    with brownie.reverts("access: zero owner"):
        VaultEngine.deploy(debt_token, ZERO_ADDRESS, {"from": admin})


def test_deploy_feed__zero_owner__reverts(ManualPriceFeed, admin):
    with brownie.reverts("access: zero owner"):
        ManualPriceFeed.deploy(ZERO_ADDRESS, 3600, {"from": admin})


# ------------------------------------------------------------------ transfer_ownership
def test_transfer_ownership__by_owner__sets_pending_owner_and_logs(owned, admin, stranger):
    tx = owned.transfer_ownership(stranger, {"from": admin})
    assert owned.pending_owner() == stranger
    assert owned.owner() == admin  # nothing moves before acceptance
    event = tx.events["OwnershipTransferStarted"]
    assert event["owner"] == admin
    assert event["pending_owner"] == stranger


def test_transfer_ownership__by_stranger__reverts_and_changes_nothing(owned, admin, stranger):
    with brownie.reverts("access: not owner"):
        owned.transfer_ownership(stranger, {"from": stranger})
    assert owned.owner() == admin
    assert owned.pending_owner() == ZERO_ADDRESS


def test_transfer_ownership__by_role_holder_not_owner__reverts(engine, admin, treasury):
    assert engine.roles(treasury) != 0
    with brownie.reverts("access: not owner"):
        engine.transfer_ownership(treasury, {"from": treasury})
    assert engine.pending_owner() == ZERO_ADDRESS


def test_transfer_ownership__to_zero_address__cancels_pending_transfer(owned, admin, stranger):
    owned.transfer_ownership(stranger, {"from": admin})
    tx = owned.transfer_ownership(ZERO_ADDRESS, {"from": admin})
    assert owned.pending_owner() == ZERO_ADDRESS
    assert tx.events["OwnershipTransferStarted"]["pending_owner"] == ZERO_ADDRESS
    with brownie.reverts("access: not pending owner"):
        owned.accept_ownership({"from": stranger})
    assert owned.owner() == admin


def test_transfer_ownership__proposed_twice__only_latest_can_accept(owned, admin, stranger, treasury):
    owned.transfer_ownership(stranger, {"from": admin})
    owned.transfer_ownership(treasury, {"from": admin})
    with brownie.reverts("access: not pending owner"):
        owned.accept_ownership({"from": stranger})
    owned.accept_ownership({"from": treasury})
    assert owned.owner() == treasury


# ------------------------------------------------------------------ accept_ownership
def test_accept_ownership__by_wrong_account__reverts_and_changes_nothing(owned, admin, stranger, treasury):
    owned.transfer_ownership(stranger, {"from": admin})
    with brownie.reverts("access: not pending owner"):
        owned.accept_ownership({"from": treasury})
    assert owned.owner() == admin
    assert owned.pending_owner() == stranger


def test_accept_ownership__by_current_owner__reverts(owned, admin, stranger):
    owned.transfer_ownership(stranger, {"from": admin})
    with brownie.reverts("access: not pending owner"):
        owned.accept_ownership({"from": admin})
    assert owned.owner() == admin


def test_accept_ownership__without_pending_transfer__reverts(owned, admin, stranger):
    with brownie.reverts("access: not pending owner"):
        owned.accept_ownership({"from": stranger})
    assert owned.owner() == admin


def test_accept_ownership__by_pending_owner__moves_ownership_and_logs(owned, admin, stranger):
    owned.transfer_ownership(stranger, {"from": admin})
    tx = owned.accept_ownership({"from": stranger})
    assert owned.owner() == stranger
    assert owned.pending_owner() == ZERO_ADDRESS
    event = tx.events["OwnershipTransferred"]
    assert event["previous_owner"] == admin
    assert event["new_owner"] == stranger


def test_accept_ownership__twice__second_reverts(owned, admin, stranger):
    owned.transfer_ownership(stranger, {"from": admin})
    owned.accept_ownership({"from": stranger})
    with brownie.reverts("access: not pending owner"):
        owned.accept_ownership({"from": stranger})
    assert owned.owner() == stranger


def test_accept_ownership__old_owner__loses_owner_powers(owned, admin, stranger, treasury):
    owned.transfer_ownership(stranger, {"from": admin})
    owned.accept_ownership({"from": stranger})
    with brownie.reverts("access: not owner"):
        owned.set_roles(treasury, 1, {"from": admin})
    with brownie.reverts("access: not owner"):
        owned.transfer_ownership(admin, {"from": admin})
    assert owned.pending_owner() == ZERO_ADDRESS


def test_accept_ownership__new_owner__can_grant_roles_and_propose(owned, admin, stranger, treasury):
    owned.transfer_ownership(stranger, {"from": admin})
    owned.accept_ownership({"from": stranger})
    owned.set_roles(treasury, 1, {"from": stranger})
    assert owned.roles(treasury) == 1
    owned.transfer_ownership(admin, {"from": stranger})
    assert owned.pending_owner() == admin


def test_accept_ownership__old_owner_roles__kept_until_new_owner_revokes(engine, admin, stranger):
    # roles are separate from ownership: the new owner must revoke the old owner's roles
    engine.transfer_ownership(stranger, {"from": admin})
    engine.accept_ownership({"from": stranger})
    assert engine.roles(admin) == 15
    engine.set_roles(admin, 0, {"from": stranger})
    assert engine.roles(admin) == 0


# ------------------------------------------------------------------ set_roles
def test_set_roles__by_owner__replaces_bit_set_and_logs(owned, admin, stranger):
    tx = owned.set_roles(stranger, 3, {"from": admin})
    assert owned.roles(stranger) == 3
    assert tx.events["RolesUpdated"]["account"] == stranger
    assert tx.events["RolesUpdated"]["roles"] == 3
    owned.set_roles(stranger, 2, {"from": admin})
    assert owned.roles(stranger) == 2  # replaced, not or-ed


def test_set_roles__zero_bits__revokes_every_role(engine, admin, treasury):
    tx = engine.set_roles(treasury, 0, {"from": admin})
    assert engine.roles(treasury) == 0
    assert tx.events["RolesUpdated"]["roles"] == 0
    with brownie.reverts("access: missing role"):
        engine.withdraw_surplus(treasury, 1, {"from": treasury})


def test_set_roles__by_stranger__reverts_and_changes_nothing(owned, stranger):
    with brownie.reverts("access: not owner"):
        owned.set_roles(stranger, 2**256 - 1, {"from": stranger})
    assert owned.roles(stranger) == 0


def test_set_roles__by_role_holder_not_owner__reverts(engine, treasury, stranger):
    with brownie.reverts("access: not owner"):
        engine.set_roles(stranger, 8, {"from": treasury})
    assert engine.roles(stranger) == 0


def test_set_roles__pending_owner_before_accepting__reverts(owned, admin, stranger):
    owned.transfer_ownership(stranger, {"from": admin})
    with brownie.reverts("access: not owner"):
        owned.set_roles(stranger, 1, {"from": stranger})
    assert owned.roles(stranger) == 0


def test_set_roles__zero_account__reverts(owned, admin):
    with brownie.reverts("access: zero account"):
        owned.set_roles(ZERO_ADDRESS, 1, {"from": admin})
    assert owned.roles(ZERO_ADDRESS) == 0

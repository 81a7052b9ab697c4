"""Every privileged function of every contract refuses a stranger, in one table.

A companion test derives the privileged set from the ABIs (every state-changing function
that is not a user action), so a new privileged function without a row here fails it."""

import brownie
import pytest

from tests.unit.conftest import (
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    RAY,
    STABILITY_FEE,
    WAD,
)

MISSING_ROLE = "access: missing role"
NOT_OWNER = "access: not owner"
NOT_PENDING = "access: not pending owner"

# contract fixture -> function -> (args builder, expected revert)
PRIVILEGED = {
    "debt_token": {
        "mint": (lambda c: [c["stranger"], 1 * WAD], MISSING_ROLE),
        "burn": (lambda c: [c["borrower"], 0], MISSING_ROLE),
        "set_roles": (lambda c: [c["stranger"], 1], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    "engine": {
        "add_collateral_type": (
            lambda c: [c["spare_token"], c["weth_feed"], LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY],
            MISSING_ROLE,
        ),
        "set_oracle": (lambda c: [c["weth_type"], c["wbtc_feed"]], MISSING_ROLE),
        "set_liquidation_ratio": (lambda c: [c["weth_type"], 2 * WAD], MISSING_ROLE),
        "set_debt_limits": (lambda c: [c["weth_type"], 1, 1], MISSING_ROLE),
        "set_liquidation_penalty": (lambda c: [c["weth_type"], WAD], MISSING_ROLE),
        "set_volatility_margin": (lambda c: [c["weth_type"], 0, 0], MISSING_ROLE),
        "set_stability_fee": (lambda c: [c["weth_type"], RAY], MISSING_ROLE),
        "withdraw_surplus": (lambda c: [c["stranger"], 1], MISSING_ROLE),
        "set_roles": (lambda c: [c["stranger"], 15], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    "weth_feed": {
        "set_price": (lambda c: [1 * WAD], MISSING_ROLE),
        "set_max_age": (lambda c: [60], MISSING_ROLE),
        "set_roles": (lambda c: [c["stranger"], 3], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
}

# state-changing functions anyone may call (guarded by ownership of a vault or balance)
USER_ACTIONS = {
    "debt_token": {"transfer", "transferFrom", "approve", "permit"},
    "engine": {"open_vault", "deposit", "withdraw", "borrow", "repay", "close", "transfer_vault", "set_operator", "accrue"},
    "weth_feed": set(),
}

CASES = [(contract, function) for contract, functions in PRIVILEGED.items() for function in functions]


@pytest.fixture(scope="module")
def spare_token(MockToken, admin):
    return MockToken.deploy("Spare", "SPR", 18, {"from": admin})


@pytest.fixture(scope="module")
def world(debt_token, engine, weth_feed, wbtc_feed, listed, weth_type, spare_token, admin, borrower, stranger, treasury):
    # a pending ownership transfer to the treasury on each contract, so accepting has a
    # real pending owner that the stranger is not
    for contract in (debt_token, engine, weth_feed):
        contract.transfer_ownership(treasury, {"from": admin})
    return dict(
        debt_token=debt_token, engine=engine, weth_feed=weth_feed, wbtc_feed=wbtc_feed,
        weth_type=weth_type, spare_token=spare_token, admin=admin, borrower=borrower, stranger=stranger,
    )


def snapshot_state(world):
    engine, feed, token = world["engine"], world["weth_feed"], world["debt_token"]
    info = engine.collateral_type_info(world["weth_type"])
    return (
        tuple(c.owner() for c in (token, engine, feed)),
        tuple(c.roles(world["stranger"]) for c in (token, engine, feed)),
        engine.collateral_type_count(), tuple(info), engine.surplus(),
        feed.price(), feed.max_age(), token.totalSupply(),
    )


@pytest.mark.parametrize("contract,function", CASES, ids=[f"{c}.{f}" for c, f in CASES])
def test_admin_setters__called_by_stranger__all_revert(world, contract, function):
    args, message = PRIVILEGED[contract][function]
    before = snapshot_state(world)
    with brownie.reverts(message):
        getattr(world[contract], function)(*args(world), {"from": world["stranger"]})
    assert snapshot_state(world) == before


@pytest.mark.parametrize("contract", sorted(PRIVILEGED))
def test_admin_setters__table__covers_every_state_changing_function(world, contract):
    abi = world[contract].abi
    mutating = {
        item["name"] for item in abi
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    assert mutating - USER_ACTIONS[contract] == set(PRIVILEGED[contract])

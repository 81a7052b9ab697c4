"""Every privileged function of every contract refuses a stranger, in one table.

A companion test derives the privileged set from the ABIs (every state-changing function
that is not a user action), so a new privileged function without a row here fails it."""

import brownie
import pytest

from tests.unit.conftest import (
    DEBT_CEILING,
    LINEAR_CURVE,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    RAY,
    STABILITY_FEE,
    WAD,
    type_info,
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
        "seize": (lambda c: [1, 10**9 * WAD], MISSING_ROLE),
        "auction_release": (lambda c: [c["weth_type"], c["stranger"], 1], MISSING_ROLE),
        "auction_take": (lambda c: [c["weth_type"], c["stranger"], 1, c["borrower"], 1, 0, c["vault_id"], 1, 0], MISSING_ROLE),
        "auction_payment": (lambda c: [c["weth_type"], c["borrower"], 1, 0, c["vault_id"], 1, 0], MISSING_ROLE),
        "set_auction_limit": (lambda c: [c["weth_type"], 1], MISSING_ROLE),
        "set_margin_module": (lambda c: [c["stranger"]], MISSING_ROLE),
        "mint_incentive": (lambda c: [c["stranger"], 1 * WAD], MISSING_ROLE),
        "set_auction_lock": (lambda c: [True], MISSING_ROLE),
        "shutdown": (lambda c: [], MISSING_ROLE),
        "settle_vault": (lambda c: [c["vault_id"], 1 * WAD], MISSING_ROLE),
        "settle_lot": (lambda c: [c["weth_type"], c["vault_id"], 0, 0, 1 * WAD], MISSING_ROLE),
        "settlement_release": (lambda c: [c["weth_type"], c["stranger"], 1], MISSING_ROLE),
        "set_roles": (lambda c: [c["stranger"], 15], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    "liquidator": {
        "set_type_limit": (lambda c: [c["weth_type"], 1], MISSING_ROLE),
        "set_global_limit": (lambda c: [1], MISSING_ROLE),
        "set_reward": (lambda c: [c["weth_type"], 0, 0, 0], MISSING_ROLE),
        "set_stopped": (lambda c: [True], MISSING_ROLE),
        "liquidate_one_of_batch": (lambda c: [c["vault_id"], c["stranger"]], "liquidator: batch only"),
        "set_roles": (lambda c: [c["stranger"], 1], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    "auction": {
        "kick": (lambda c: [c["weth_type"], c["vault_id"], 1 * WAD, 1 * WAD, 1 * WAD, 1 * WAD], MISSING_ROLE),
        "set_curve": (lambda c: [c["weth_type"], LINEAR_CURVE], MISSING_ROLE),
        "set_incentives": (lambda c: [0, 0, 0], MISSING_ROLE),
        "set_stop_level": (lambda c: [3], MISSING_ROLE),
        "shut_down": (lambda c: [], MISSING_ROLE),
        "cancel": (lambda c: [1], MISSING_ROLE),
        "set_roles": (lambda c: [c["stranger"], 3], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    "house": {
        "margin_write": (lambda c: [c["series"], WAD, c["stranger"]], MISSING_ROLE),
        "margin_close": (lambda c: [c["series"], WAD, c["borrower"]], MISSING_ROLE),
        "margin_settle": (lambda c: [c["series"], WAD, 0], MISSING_ROLE),
        "set_writing_paused": (lambda c: [True], MISSING_ROLE),
        "set_roles": (lambda c: [c["stranger"], 3], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    "margin": {
        "set_params": (lambda c: [c["margin"].params()], MISSING_ROLE),
        # an account's owner acts on it; a stranger may not
        "withdraw": (lambda c: [c["account"], 1, c["stranger"]], "margin: not the account owner"),
        "borrow": (lambda c: [c["account"], WAD, c["stranger"]], "margin: not the account owner"),
        "write": (lambda c: [c["account"], c["series"], WAD, c["stranger"]], "margin: not the account owner"),
        "close": (lambda c: [c["account"], c["series"], WAD], "margin: not the account owner"),
        "deposit_long": (lambda c: [c["account"], c["series"], WAD], "margin: not the account owner"),
        "withdraw_long": (lambda c: [c["account"], c["series"], WAD, c["stranger"]], "margin: not the account owner"),
        "release_account": (lambda c: [c["account"]], "margin: not the account owner"),
        "set_roles": (lambda c: [c["stranger"], 1], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    "option": {
        "initialize": (lambda c: [5], "option: already initialised"),
        "mint": (lambda c: [c["stranger"], WAD], "option: not the house"),
        "burn": (lambda c: [c["borrower"], 0], "option: not the house"),
    },
    "settlement": {
        "shutdown": (lambda c: [], MISSING_ROLE),
        "set_roles": (lambda c: [c["stranger"], 1], NOT_OWNER),
        "transfer_ownership": (lambda c: [c["stranger"]], NOT_OWNER),
        "accept_ownership": (lambda c: [], NOT_PENDING),
    },
    # the keeper's flash-take contract (contracts/KeeperTaker.vy)
    "taker": {
        "flash_take": (lambda c: [1, WAD, 10**30, c["stranger"], c["spare_token"], 1, 0], MISSING_ROLE),
        "sweep": (lambda c: [c["spare_token"], c["stranger"], 1], MISSING_ROLE),
        "on_auction_take": (lambda c: [c["stranger"], 1, 1, b"x"], "taker: not the auction"),
        "set_roles": (lambda c: [c["stranger"], 1], NOT_OWNER),
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
    "engine": {
        "open_vault", "deposit", "withdraw", "borrow", "repay", "close", "transfer_vault", "set_operator", "accrue",
        "settle_bad_debt",
    },
    "liquidator": {"liquidate", "liquidate_many"},
    # series listing is permissionless; writing locks the caller's own collateral; settle,
    # redeem and release pay only what the caller's tokens or positions are owed
    "house": {"create_series", "write", "close", "settle", "redeem", "release"},
    # opening an account, settling expired positions and liquidating under-margined ones
    # are anyone's; the rest are the account owner's (rows above)
    "margin": {"open_account", "settle_position", "start_liquidation", "liquidate", "liquidate_debt"},
    "option": {"transfer", "transferFrom", "approve"},
    "auction": {"take", "reset", "update_auction_dust"},
    # every step after the shutdown is permissionless
    "settlement": {"settle_vault", "settle_vaults", "cancel_auction", "finalize", "redeem", "claim", "freeze_price"},
    "taker": set(),
    "weth_feed": set(),
}

CASES = [(contract, function) for contract, functions in PRIVILEGED.items() for function in functions]


@pytest.fixture(scope="module")
def spare_token(MockToken, admin):
    return MockToken.deploy("Spare", "SPR", 18, {"from": admin})


@pytest.fixture(scope="module")
def world(debt_token, engine, weth, weth_feed, wbtc_feed, listed, weth_type, spare_token, admin, borrower, stranger,
          treasury, liquidation_system, settlement, options, option_token, KeeperTaker):
    liquidator, auction = liquidation_system["liquidator"], liquidation_system["auction"]
    house, margin = options["house"], options["margin"]
    # a vault with debt, so that a settle_vault the role check let through would change it
    vault_id = engine.open_vault(weth_type, 10 * WAD, 5_000 * WAD, {"from": borrower}).return_value
    # a margin account of the borrower's with a short call written in it
    series = options["series"][(2_400, True)]
    weth.approve(margin, 2**256 - 1, {"from": borrower})
    account = margin.open_account(weth_type, 10 * WAD, {"from": borrower}).return_value
    margin.write(account, series, WAD, borrower, {"from": borrower})
    # a keeper's taker holding a stray token, so that a sweep the role check let through moves it
    taker = KeeperTaker.deploy(auction, debt_token, admin, {"from": admin})
    taker.set_roles(admin, 1, {"from": admin})
    spare_token.mint(taker, WAD, {"from": admin})
    # a pending ownership transfer to the treasury on each contract, so accepting has a
    # real pending owner that the stranger is not
    for contract in (debt_token, engine, weth_feed, liquidator, auction, settlement, house, margin, taker):
        contract.transfer_ownership(treasury, {"from": admin})
    return dict(
        debt_token=debt_token, engine=engine, weth_feed=weth_feed, wbtc_feed=wbtc_feed,
        weth_type=weth_type, spare_token=spare_token, admin=admin, borrower=borrower, stranger=stranger,
        liquidator=liquidator, auction=auction, settlement=settlement, vault_id=vault_id,
        house=house, margin=margin, option=option_token(series), series=series, account=account, taker=taker,
    )


def snapshot_state(world):
    engine, feed, token = world["engine"], world["weth_feed"], world["debt_token"]
    liquidator, auction, weth_type = world["liquidator"], world["auction"], world["weth_type"]
    settlement = world["settlement"]
    info = type_info(engine, weth_type)
    contracts = (token, engine, feed, liquidator, auction, settlement, world["house"], world["margin"], world["taker"])
    return (
        tuple(c.owner() for c in contracts),
        tuple(c.roles(world["stranger"]) for c in contracts),
        # the type's debt at the current rate moves with time (the world has a vault with debt)
        engine.collateral_type_count(), tuple(v for k, v in info.items() if k != "debt"), engine.surplus(),
        feed.price(), feed.max_age(), token.totalSupply(),
        engine.debt_in_auction(), engine.bad_debt(), engine.type_collateral_in_auction(weth_type),
        engine.type_collateral_dust(weth_type),
        liquidator.stopped(), tuple(liquidator.room(weth_type)), tuple(liquidator.reward(weth_type)),
        tuple(auction.curves(weth_type)), auction.auction_count(), auction.stop_level(),
        auction.auction_dust(weth_type),
        auction.incentive_flat(), auction.incentive_percent(), auction.incentive_cap(),
        tuple(engine.vault_position(world["vault_id"])), engine.shutdown_at(), engine.settled_debt(),
        engine.type_collateral_settled(weth_type), settlement.shutdown_at(), settlement.supply_at_shutdown(),
        settlement.frozen_price(weth_type),
        engine.margin_module(), tuple(world["house"].series(world["series"])), world["house"].writing_paused(),
        tuple(world["margin"].params()), tuple(world["margin"].positions(world["account"])),
        tuple(world["margin"].account(world["account"])), world["option"].totalSupply(),
        world["option"].balanceOf(world["borrower"]), world["option"].balanceOf(world["stranger"]),
        tuple(engine.vault_position(world["account"])), world["spare_token"].balanceOf(world["taker"]),
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

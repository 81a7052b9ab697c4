"""VaultEngine administration: listing collateral, every risk setter (access, bounds at
their edges, events, packing), roles, and withdraw_surplus."""

import brownie
import pytest
from brownie import chain

from tests.unit.conftest import (
    PARAM_NAMES,
    type_info,
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_DEBT_CEILING,
    MAX_DUST,
    MAX_LIQUIDATION_PENALTY,
    MAX_LIQUIDATION_RATIO,
    MAX_STABILITY_FEE,
    MIN_LIQUIDATION_RATIO,
    RAY,
    ROLE_COLLATERAL_ADMIN,
    ROLE_FEE_ADMIN,
    ROLE_RISK_ADMIN,
    ROLE_TREASURY,
    STABILITY_FEE,
    WAD,
    ZERO_ADDRESS,
    ledger_balanced,
)

PARAMS = ["liquidation_ratio", "debt_ceiling", "dust", "stability_fee", "liquidation_penalty"]


@pytest.fixture(scope="module")
def spare_token(MockToken, admin):
    """An 18-decimal token nobody listed yet."""
    return MockToken.deploy("Spare", "SPR", 18, {"from": admin})


@pytest.fixture(scope="module")
def deep_token(MockToken, admin):
    """A 19-decimal token: may not be listed."""
    return MockToken.deploy("Deep", "DEEP", 19, {"from": admin})


@pytest.fixture(scope="module")
def whole_token(MockToken, admin):
    """A 0-decimal token: the largest scale (1e18)."""
    return MockToken.deploy("Whole", "WHL", 0, {"from": admin})


def listing(**overrides):
    params = dict(
        liquidation_ratio=LIQUIDATION_RATIO,
        debt_ceiling=DEBT_CEILING,
        dust=DUST,
        stability_fee=STABILITY_FEE,
        liquidation_penalty=LIQUIDATION_PENALTY,
    )
    params.update(overrides)
    return [params[name] for name in PARAMS]


def info_params(engine, collateral_type):
    info = type_info(engine, collateral_type)
    return {name: info[name] for name in ["oracle", *PARAMS]}


def param_events(tx):
    return [(e["collateral_type"], PARAM_NAMES[e["parameter"]], e["value"]) for e in tx.events["CollateralParameterSet"]]


# ------------------------------------------------------------------ deploy
def test_deploy__valid_arguments__records_debt_token_and_owner_with_empty_ledger(VaultEngine, debt_token, admin, stranger):
    fresh = VaultEngine.deploy(debt_token, stranger, {"from": admin})
    assert fresh.debt_token() == debt_token
    assert fresh.owner() == stranger
    assert fresh.roles(stranger) == 0
    assert fresh.collateral_type_count() == 0
    assert fresh.vault_count() == 0
    assert fresh.surplus() == 0


def test_deploy__zero_debt_token__reverts(VaultEngine, admin):
    with brownie.reverts("engine: zero debt token"):
        VaultEngine.deploy(ZERO_ADDRESS, admin, {"from": admin})


# ------------------------------------------------------------------ add_collateral_type
def test_add_collateral_type__by_collateral_admin__lists_token_and_logs_every_parameter(engine, spare_token, weth_feed, admin):
    count = engine.collateral_type_count()
    tx = engine.add_collateral_type(spare_token, weth_feed, *listing(), {"from": admin})
    collateral_type = tx.return_value
    assert collateral_type == count + 1
    assert engine.collateral_type_count() == collateral_type
    assert engine.collateral_type_of_token(spare_token) == collateral_type
    info = type_info(engine, collateral_type)
    assert info["token"] == spare_token
    assert info["oracle"] == weth_feed
    assert info["token_scale"] == 1
    assert info["liquidation_ratio"] == LIQUIDATION_RATIO
    assert info["debt_ceiling"] == DEBT_CEILING
    assert info["dust"] == DUST
    assert info["stability_fee"] == STABILITY_FEE
    assert info["liquidation_penalty"] == LIQUIDATION_PENALTY
    assert info["rate"] == RAY
    assert info["last_accrual"] == tx.timestamp
    assert info["normalized_debt"] == 0
    assert info["debt"] == 0
    assert info["collateral_dust"] == 0
    added = tx.events["CollateralTypeAdded"]
    assert added["collateral_type"] == collateral_type
    assert added["token"] == spare_token
    assert added["oracle"] == weth_feed
    assert added["token_decimals"] == 18
    assert param_events(tx) == [
        (collateral_type, "oracle", int(weth_feed.address, 16)),
        (collateral_type, "liquidation_ratio", LIQUIDATION_RATIO),
        (collateral_type, "debt_ceiling", DEBT_CEILING),
        (collateral_type, "dust", DUST),
        (collateral_type, "stability_fee", STABILITY_FEE),
        (collateral_type, "liquidation_penalty", LIQUIDATION_PENALTY),
    ]


@pytest.mark.parametrize("symbol,scale", [("WETH", 1), ("WBTC", 10**10), ("USDC", 10**12)])
def test_add_collateral_type__token_decimals__set_wad_scale(listed, engine, symbol, scale):
    collateral_type, token, feed = listed[symbol]
    info = type_info(engine, collateral_type)
    assert info["token_scale"] == scale
    assert info["token"] == token
    assert info["oracle"] == feed
    assert engine.collateral_type_of_token(token) == collateral_type


def test_add_collateral_type__zero_decimal_token__scale_is_one_wad(engine, whole_token, weth_feed, admin):
    tx = engine.add_collateral_type(whole_token, weth_feed, *listing(), {"from": admin})
    assert type_info(engine, tx.return_value)["token_scale"] == WAD
    assert tx.events["CollateralTypeAdded"]["token_decimals"] == 0


def test_add_collateral_type__second_token__gets_next_id(listed, engine, spare_token, weth_feed, admin):
    tx = engine.add_collateral_type(spare_token, weth_feed, *listing(), {"from": admin})
    assert tx.return_value == 4
    assert engine.collateral_type_count() == 4


def test_add_collateral_type__every_bound_at_its_edge__is_stored_exactly(engine, spare_token, whole_token, weth_feed, admin):
    # upper edges together (packing must not let one field bleed into another) ...
    high = dict(liquidation_ratio=MAX_LIQUIDATION_RATIO, debt_ceiling=MAX_DEBT_CEILING, dust=MAX_DUST,
                stability_fee=MAX_STABILITY_FEE, liquidation_penalty=MAX_LIQUIDATION_PENALTY)
    high_type = engine.add_collateral_type(spare_token, weth_feed, *listing(**high), {"from": admin}).return_value
    # ... and lower edges together
    low = dict(liquidation_ratio=MIN_LIQUIDATION_RATIO, debt_ceiling=0, dust=0,
               stability_fee=RAY, liquidation_penalty=WAD)
    low_type = engine.add_collateral_type(whole_token, weth_feed, *listing(**low), {"from": admin}).return_value
    assert info_params(engine, high_type) == {"oracle": weth_feed, **high}
    assert info_params(engine, low_type) == {"oracle": weth_feed, **low}


@pytest.mark.parametrize(
    "param,value,message",
    [
        ("liquidation_ratio", WAD, "engine: liquidation ratio out of bounds"),
        ("liquidation_ratio", MAX_LIQUIDATION_RATIO + 1, "engine: liquidation ratio out of bounds"),
        ("debt_ceiling", MAX_DEBT_CEILING + 1, "engine: debt ceiling out of bounds"),
        ("dust", MAX_DUST + 1, "engine: dust out of bounds"),
        ("stability_fee", RAY - 1, "engine: stability fee out of bounds"),
        ("stability_fee", MAX_STABILITY_FEE + 1, "engine: stability fee out of bounds"),
        ("liquidation_penalty", WAD - 1, "engine: liquidation penalty out of bounds"),
        ("liquidation_penalty", MAX_LIQUIDATION_PENALTY + 1, "engine: liquidation penalty out of bounds"),
    ],
)
def test_add_collateral_type__parameter_one_past_bound__reverts_and_lists_nothing(engine, spare_token, weth_feed, admin, param, value, message):
    count = engine.collateral_type_count()
    with brownie.reverts(message):
        engine.add_collateral_type(spare_token, weth_feed, *listing(**{param: value}), {"from": admin})
    assert engine.collateral_type_count() == count
    assert engine.collateral_type_of_token(spare_token) == 0


def test_add_collateral_type__by_stranger__reverts(engine, spare_token, weth_feed, stranger):
    count = engine.collateral_type_count()
    with brownie.reverts("access: missing role"):
        engine.add_collateral_type(spare_token, weth_feed, *listing(), {"from": stranger})
    assert engine.collateral_type_count() == count


def test_add_collateral_type__zero_token__reverts(engine, weth_feed, admin):
    count = engine.collateral_type_count()
    with brownie.reverts("engine: zero token"):
        engine.add_collateral_type(ZERO_ADDRESS, weth_feed, *listing(), {"from": admin})
    assert engine.collateral_type_count() == count


def test_add_collateral_type__token_already_listed__reverts(listed, engine, weth, wbtc_feed, admin):
    with brownie.reverts("engine: token already listed"):
        engine.add_collateral_type(weth, wbtc_feed, *listing(), {"from": admin})
    assert engine.collateral_type_count() == 3
    assert engine.collateral_type_of_token(weth) == 1


def test_add_collateral_type__more_than_18_decimals__reverts(engine, deep_token, weth_feed, admin):
    count = engine.collateral_type_count()
    with brownie.reverts("engine: token decimals above 18"):
        engine.add_collateral_type(deep_token, weth_feed, *listing(), {"from": admin})
    assert engine.collateral_type_count() == count


def test_add_collateral_type__zero_oracle__reverts(engine, spare_token, admin):
    count = engine.collateral_type_count()
    with brownie.reverts("engine: zero oracle"):
        engine.add_collateral_type(spare_token, ZERO_ADDRESS, *listing(), {"from": admin})
    assert engine.collateral_type_count() == count


def test_add_collateral_type__oracle_without_peek__reverts(engine, spare_token, weth, admin):
    count = engine.collateral_type_count()
    with brownie.reverts():
        engine.add_collateral_type(spare_token, weth, *listing(), {"from": admin})
    assert engine.collateral_type_count() == count


def test_add_collateral_type__never_reported_oracle__is_accepted(engine, spare_token, fresh_feed, admin):
    # a stale (never set) answer is fine at listing; borrowing checks freshness
    tx = engine.add_collateral_type(spare_token, fresh_feed, *listing(), {"from": admin})
    assert type_info(engine, tx.return_value)["oracle"] == fresh_feed


# ------------------------------------------------------------------ unknown types
@pytest.mark.parametrize("setter,value", [
    ("set_oracle", None),
    ("set_liquidation_ratio", LIQUIDATION_RATIO),
    ("set_liquidation_penalty", LIQUIDATION_PENALTY),
    ("set_stability_fee", STABILITY_FEE),
])
@pytest.mark.parametrize("bad_type", [0, 4])
def test_setter__unknown_collateral_type__reverts(listed, engine, weth_feed, admin, setter, value, bad_type):
    arg = weth_feed if value is None else value
    with brownie.reverts("engine: unknown collateral type"):
        getattr(engine, setter)(bad_type, arg, {"from": admin})
    assert engine.collateral_type_count() == 3


@pytest.mark.parametrize("bad_type", [0, 4])
def test_set_debt_limits__unknown_collateral_type__reverts(listed, engine, admin, bad_type):
    with brownie.reverts("engine: unknown collateral type"):
        engine.set_debt_limits(bad_type, DEBT_CEILING, DUST, {"from": admin})


@pytest.mark.parametrize("view", ["collateral_type_words", "current_rate", "accrue"])
def test_type_views__unknown_collateral_type__revert(listed, engine, admin, view):
    with brownie.reverts("engine: unknown collateral type"):
        if view == "accrue":
            engine.accrue(4, {"from": admin})
        else:
            getattr(engine, view)(4)


# ------------------------------------------------------------------ set_oracle
def test_set_oracle__by_collateral_admin__switches_oracle_and_logs(listed, engine, weth_type, wbtc_feed, admin):
    tx = engine.set_oracle(weth_type, wbtc_feed, {"from": admin})
    info = info_params(engine, weth_type)
    assert info["oracle"] == wbtc_feed
    assert info["liquidation_ratio"] == LIQUIDATION_RATIO  # same packed slot, untouched
    assert param_events(tx) == [(weth_type, "oracle", int(wbtc_feed.address, 16))]


def test_set_oracle__by_stranger__reverts_and_changes_nothing(listed, engine, weth_type, weth_feed, wbtc_feed, stranger):
    with brownie.reverts("access: missing role"):
        engine.set_oracle(weth_type, wbtc_feed, {"from": stranger})
    assert type_info(engine, weth_type)["oracle"] == weth_feed


def test_set_oracle__zero_address__reverts_and_changes_nothing(listed, engine, weth_type, weth_feed, admin):
    with brownie.reverts("engine: zero oracle"):
        engine.set_oracle(weth_type, ZERO_ADDRESS, {"from": admin})
    assert type_info(engine, weth_type)["oracle"] == weth_feed


def test_set_oracle__contract_without_peek__reverts_and_changes_nothing(listed, engine, weth_type, weth, weth_feed, admin):
    with brownie.reverts():
        engine.set_oracle(weth_type, weth, {"from": admin})
    assert type_info(engine, weth_type)["oracle"] == weth_feed


# ------------------------------------------------------------------ set_liquidation_ratio
@pytest.mark.parametrize("ratio", [MIN_LIQUIDATION_RATIO, 2 * WAD, MAX_LIQUIDATION_RATIO])
def test_set_liquidation_ratio__within_bounds__stores_and_logs(listed, engine, weth_type, weth_feed, admin, ratio):
    tx = engine.set_liquidation_ratio(weth_type, ratio, {"from": admin})
    info = info_params(engine, weth_type)
    assert info["liquidation_ratio"] == ratio
    assert info["oracle"] == weth_feed  # same packed slot, untouched
    assert param_events(tx) == [(weth_type, "liquidation_ratio", ratio)]


@pytest.mark.parametrize("ratio", [0, MIN_LIQUIDATION_RATIO - 1, MAX_LIQUIDATION_RATIO + 1, 2**64, 2**256 - 1])
def test_set_liquidation_ratio__out_of_bounds__reverts_and_changes_nothing(listed, engine, weth_type, admin, ratio):
    before = info_params(engine, weth_type)
    with brownie.reverts("engine: liquidation ratio out of bounds"):
        engine.set_liquidation_ratio(weth_type, ratio, {"from": admin})
    assert info_params(engine, weth_type) == before


def test_set_liquidation_ratio__by_stranger__reverts(listed, engine, weth_type, stranger):
    with brownie.reverts("access: missing role"):
        engine.set_liquidation_ratio(weth_type, 2 * WAD, {"from": stranger})
    assert type_info(engine, weth_type)["liquidation_ratio"] == LIQUIDATION_RATIO


# ------------------------------------------------------------------ set_debt_limits
@pytest.mark.parametrize("ceiling,dust", [(0, 0), (MAX_DEBT_CEILING, MAX_DUST), (MAX_DEBT_CEILING, 0), (0, MAX_DUST)])
def test_set_debt_limits__at_bounds__stores_both_and_logs_both(listed, engine, weth_type, admin, ceiling, dust):
    tx = engine.set_debt_limits(weth_type, ceiling, dust, {"from": admin})
    info = info_params(engine, weth_type)
    assert info["debt_ceiling"] == ceiling
    assert info["dust"] == dust
    assert info["stability_fee"] == STABILITY_FEE  # same packed slot, untouched
    assert param_events(tx) == [(weth_type, "debt_ceiling", ceiling), (weth_type, "dust", dust)]


@pytest.mark.parametrize("ceiling,dust,message", [
    (MAX_DEBT_CEILING + 1, DUST, "engine: debt ceiling out of bounds"),
    (2**256 - 1, DUST, "engine: debt ceiling out of bounds"),
    (DEBT_CEILING, MAX_DUST + 1, "engine: dust out of bounds"),
    (DEBT_CEILING, 2**256 - 1, "engine: dust out of bounds"),
])
def test_set_debt_limits__one_past_bound__reverts_and_changes_nothing(listed, engine, weth_type, admin, ceiling, dust, message):
    before = info_params(engine, weth_type)
    with brownie.reverts(message):
        engine.set_debt_limits(weth_type, ceiling, dust, {"from": admin})
    assert info_params(engine, weth_type) == before


def test_set_debt_limits__by_stranger__reverts(listed, engine, weth_type, stranger):
    with brownie.reverts("access: missing role"):
        engine.set_debt_limits(weth_type, 1, 1, {"from": stranger})
    assert type_info(engine, weth_type)["debt_ceiling"] == DEBT_CEILING


# ------------------------------------------------------------------ set_liquidation_penalty
@pytest.mark.parametrize("penalty", [WAD, MAX_LIQUIDATION_PENALTY])
def test_set_liquidation_penalty__at_bound__stores_and_logs(listed, engine, weth_type, admin, penalty):
    tx = engine.set_liquidation_penalty(weth_type, penalty, {"from": admin})
    assert type_info(engine, weth_type)["liquidation_penalty"] == penalty
    assert param_events(tx) == [(weth_type, "liquidation_penalty", penalty)]


@pytest.mark.parametrize("penalty", [0, WAD - 1, MAX_LIQUIDATION_PENALTY + 1])
def test_set_liquidation_penalty__one_past_bound__reverts_and_changes_nothing(listed, engine, weth_type, admin, penalty):
    with brownie.reverts("engine: liquidation penalty out of bounds"):
        engine.set_liquidation_penalty(weth_type, penalty, {"from": admin})
    assert type_info(engine, weth_type)["liquidation_penalty"] == LIQUIDATION_PENALTY


def test_set_liquidation_penalty__by_stranger__reverts(listed, engine, weth_type, stranger):
    with brownie.reverts("access: missing role"):
        engine.set_liquidation_penalty(weth_type, WAD, {"from": stranger})
    assert type_info(engine, weth_type)["liquidation_penalty"] == LIQUIDATION_PENALTY


# ------------------------------------------------------------------ set_stability_fee
@pytest.mark.parametrize("fee", [RAY, MAX_STABILITY_FEE])
def test_set_stability_fee__at_bound__stores_and_logs_without_touching_limits(listed, engine, weth_type, admin, fee):
    engine.set_debt_limits(weth_type, MAX_DEBT_CEILING, MAX_DUST, {"from": admin})
    tx = engine.set_stability_fee(weth_type, fee, {"from": admin})
    info = info_params(engine, weth_type)
    assert info["stability_fee"] == fee
    assert info["debt_ceiling"] == MAX_DEBT_CEILING  # same packed slot, untouched
    assert info["dust"] == MAX_DUST
    assert param_events(tx) == [(weth_type, "stability_fee", fee)]


@pytest.mark.parametrize("fee", [0, RAY - 1, MAX_STABILITY_FEE + 1, 2**256 - 1])
def test_set_stability_fee__one_past_bound__reverts_and_changes_nothing(listed, engine, weth_type, admin, fee):
    before = info_params(engine, weth_type)
    with brownie.reverts("engine: stability fee out of bounds"):
        engine.set_stability_fee(weth_type, fee, {"from": admin})
    assert info_params(engine, weth_type) == before


def test_set_stability_fee__by_risk_admin_only__reverts(listed, engine, weth_type, admin, stranger):
    engine.set_roles(stranger, ROLE_RISK_ADMIN, {"from": admin})
    with brownie.reverts("access: missing role"):
        engine.set_stability_fee(weth_type, RAY, {"from": stranger})
    assert type_info(engine, weth_type)["stability_fee"] == STABILITY_FEE


# ------------------------------------------------------------------ role separation
ROLE_FUNCTIONS = {
    ROLE_COLLATERAL_ADMIN: {"add_collateral_type", "set_oracle"},
    ROLE_RISK_ADMIN: {"set_liquidation_ratio", "set_debt_limits", "set_liquidation_penalty"},
    ROLE_FEE_ADMIN: {"set_stability_fee"},
    ROLE_TREASURY: {"withdraw_surplus"},
}


@pytest.mark.parametrize("role", sorted(ROLE_FUNCTIONS))
def test_admin_setters__holder_of_one_role__may_call_exactly_its_functions(listed, engine, spare_token, weth_type, wbtc_feed, admin, stranger, role):
    engine.set_roles(stranger, role, {"from": admin})
    calls = {
        "add_collateral_type": lambda: engine.add_collateral_type(spare_token, wbtc_feed, *listing(), {"from": stranger}),
        "set_oracle": lambda: engine.set_oracle(weth_type, wbtc_feed, {"from": stranger}),
        "set_liquidation_ratio": lambda: engine.set_liquidation_ratio(weth_type, 2 * WAD, {"from": stranger}),
        "set_debt_limits": lambda: engine.set_debt_limits(weth_type, 1, 1, {"from": stranger}),
        "set_liquidation_penalty": lambda: engine.set_liquidation_penalty(weth_type, WAD, {"from": stranger}),
        "set_stability_fee": lambda: engine.set_stability_fee(weth_type, RAY, {"from": stranger}),
        # no surplus: a permitted caller gets past the role check to the surplus check
        "withdraw_surplus": lambda: engine.withdraw_surplus(stranger, 1, {"from": stranger}),
    }
    for name, call in calls.items():
        if name in ROLE_FUNCTIONS[role]:
            if name == "withdraw_surplus":
                with brownie.reverts("engine: surplus too small"):
                    call()
            else:
                assert call().status == 1
        else:
            with brownie.reverts("access: missing role"):
                call()


# ------------------------------------------------------------------ withdraw_surplus
@pytest.fixture
def surplus_wad(engine, vault, weth_type, borrower):
    """Accrue a year of fees on 5,000 kUSD; returns the whole-WAD surplus available."""
    engine.borrow(vault, 5_000 * WAD, borrower, {"from": borrower})
    chain.sleep(365 * 86400)
    engine.accrue(weth_type, {"from": borrower})
    surplus = engine.surplus()
    assert surplus > 200 * WAD * RAY  # ~5 %/yr of 5,000
    return surplus // RAY


def test_withdraw_surplus__by_treasury__mints_from_surplus_and_logs(engine, debt_token, treasury, surplus_wad):
    surplus = engine.surplus()
    tx = engine.withdraw_surplus(treasury, 100 * WAD, {"from": treasury})
    assert debt_token.balanceOf(treasury) == 100 * WAD
    assert engine.surplus() == surplus - 100 * WAD * RAY
    event = tx.events["SurplusWithdrawn"]
    assert event["receiver"] == treasury
    assert event["amount"] == 100 * WAD
    assert ledger_balanced(engine, debt_token)


def test_withdraw_surplus__exactly_all_whole_units__leaves_only_sub_wad_remainder(engine, debt_token, treasury, stranger, surplus_wad):
    surplus = engine.surplus()
    engine.withdraw_surplus(stranger, surplus_wad, {"from": treasury})
    assert debt_token.balanceOf(stranger) == surplus_wad
    assert engine.surplus() == surplus - surplus_wad * RAY
    assert engine.surplus() < RAY


def test_withdraw_surplus__one_more_than_surplus__reverts_and_changes_nothing(engine, debt_token, treasury, surplus_wad):
    surplus = engine.surplus()
    supply = debt_token.totalSupply()
    with brownie.reverts("engine: surplus too small"):
        engine.withdraw_surplus(treasury, surplus_wad + 1, {"from": treasury})
    assert engine.surplus() == surplus
    assert debt_token.totalSupply() == supply


def test_withdraw_surplus__zero_amount__reverts(engine, treasury, surplus_wad):
    surplus = engine.surplus()
    with brownie.reverts("engine: zero amount"):
        engine.withdraw_surplus(treasury, 0, {"from": treasury})
    assert engine.surplus() == surplus


def test_withdraw_surplus__zero_receiver__reverts(engine, treasury, surplus_wad):
    surplus = engine.surplus()
    with brownie.reverts("engine: zero receiver"):
        engine.withdraw_surplus(ZERO_ADDRESS, 1 * WAD, {"from": treasury})
    assert engine.surplus() == surplus


def test_withdraw_surplus__by_stranger__reverts_and_changes_nothing(engine, debt_token, stranger, surplus_wad):
    surplus = engine.surplus()
    with brownie.reverts("access: missing role"):
        engine.withdraw_surplus(stranger, 1 * WAD, {"from": stranger})
    assert engine.surplus() == surplus
    assert debt_token.balanceOf(stranger) == 0


def test_withdraw_surplus__overflowing_amount__reverts(engine, treasury, surplus_wad):
    surplus = engine.surplus()
    with brownie.reverts():
        engine.withdraw_surplus(treasury, 2**256 // RAY + 1, {"from": treasury})
    assert engine.surplus() == surplus

"""VaultEngine dynamic margin: required ratio = base + min(k * sigma, cap), sigma from the oracle.

`volatile_type` is WETH listed on this module's engine with a PriceFeed (three reporters,
quorum 2, report_max_age 600 s, max_age 7,200 s, delay 0, confirm_delay 300 s, max_jump
2,000 bps, lambda 9,400 bps) whose current price is 2,000 (reported, then poked twice).
"""

import brownie
import pytest
from brownie.test import given, strategy
from hypothesis import strategies as st

from tests.unit.conftest import (
    PARAM_NAMES,
    type_info,
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_LIQUIDATION_RATIO,
    MAX_UINT256,
    MIN_LIQUIDATION_RATIO,
    ROLE_COLLATERAL_ADMIN,
    ROLE_RISK_ADMIN,
    STABILITY_FEE,
    deploy_price_feed,
    feed_poke,
    feed_report,
    is_safe,
    latest_timestamp,
    set_next_timestamp,
)
from tests.unit.oracle_reference import MAX_VOLATILITY, WAD, required_ratio

P = 2_000 * WAD
MAX_K_BPS = 50_000
MAX_CAP_BPS = 50_000


@pytest.fixture(scope="module")
def margin_feed(PriceFeed, admin, feed_reporters):
    return deploy_price_feed(PriceFeed, admin, feed_reporters, delay=0)


@pytest.fixture(scope="module")
def volatile_type(engine, weth, margin_feed, feed_reporters, admin, borrower):
    collateral_type = engine.add_collateral_type(
        weth, margin_feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY,
        {"from": admin},
    ).return_value
    at = latest_timestamp() + 10
    for offset, who in enumerate(feed_reporters):
        feed_report(margin_feed, who, P, at + offset)
    feed_poke(margin_feed, at + 2, admin)
    feed_poke(margin_feed, at + 2, admin)
    assert margin_feed.peek() == (P, True)
    weth.mint(borrower, 1_000 * WAD, {"from": borrower})
    weth.approve(engine, MAX_UINT256, {"from": borrower})
    return collateral_type


def _margin(engine, collateral_type):
    info = type_info(engine, collateral_type)
    return info["liquidation_ratio"], info["volatility_k_bps"], info["volatility_cap_bps"], info["oracle"]


def _push_volatile_path(feed, reporters, prices, sender, step=60):
    """Two reporters report each price in turn (the second report moves the median, every move
    within max_jump), one step apart; then two pokes (delay 0) make the last price current.
    Returns the time of the pokes."""
    t = latest_timestamp() + 10
    for price in prices:
        feed_report(feed, reporters[0], price, t)
        feed_report(feed, reporters[1], price, t + 1)
        assert feed.latest() == (price, t + 1)
        t += step
    feed_poke(feed, t, sender)
    feed_poke(feed, t, sender)
    return t


# 2,000 -> 2,300 -> 2,000 -> 1,740 -> 2,000: +-15 % swings, ending where it started
SWINGS = [2_300 * WAD, P, 1_740 * WAD, P]


# ================================================================== set_volatility_margin
def test_set_volatility_margin__by_risk_admin__stores_k_and_cap_and_logs(engine, volatile_type, admin):
    tx = engine.set_volatility_margin(volatile_type, 12_345, 4_321, {"from": admin})
    assert _margin(engine, volatile_type)[:3] == (LIQUIDATION_RATIO, 12_345, 4_321)
    logged = [(e["collateral_type"], PARAM_NAMES[e["parameter"]], e["value"]) for e in tx.events["CollateralParameterSet"]]
    assert logged == [(volatile_type, "volatility_k_bps", 12_345), (volatile_type, "volatility_cap_bps", 4_321)]


def test_set_volatility_margin__at_upper_bounds__stored(engine, volatile_type, admin):
    engine.set_volatility_margin(volatile_type, MAX_K_BPS, MAX_CAP_BPS, {"from": admin})
    assert _margin(engine, volatile_type)[:3] == (LIQUIDATION_RATIO, MAX_K_BPS, MAX_CAP_BPS)


@pytest.mark.parametrize("k_bps, cap_bps", [(MAX_K_BPS + 1, 0), (0, MAX_CAP_BPS + 1), (2**16, 2**16), (MAX_UINT256, 1)])
def test_set_volatility_margin__out_of_bounds__reverts_and_changes_nothing(engine, volatile_type, admin, k_bps, cap_bps):
    engine.set_volatility_margin(volatile_type, 100, 200, {"from": admin})
    with brownie.reverts("engine: volatility margin out of bounds"):
        engine.set_volatility_margin(volatile_type, k_bps, cap_bps, {"from": admin})
    assert _margin(engine, volatile_type)[:3] == (LIQUIDATION_RATIO, 100, 200)


def test_set_volatility_margin__by_stranger__reverts_and_changes_nothing(engine, volatile_type, stranger):
    with brownie.reverts("access: missing role"):
        engine.set_volatility_margin(volatile_type, 10_000, 5_000, {"from": stranger})
    assert _margin(engine, volatile_type)[:3] == (LIQUIDATION_RATIO, 0, 0)


def test_set_volatility_margin__by_collateral_admin_only__reverts(engine, volatile_type, admin, stranger):
    engine.set_roles(stranger, ROLE_COLLATERAL_ADMIN, {"from": admin})
    with brownie.reverts("access: missing role"):
        engine.set_volatility_margin(volatile_type, 10_000, 5_000, {"from": stranger})
    engine.set_roles(stranger, ROLE_RISK_ADMIN, {"from": admin})
    engine.set_volatility_margin(volatile_type, 10_000, 5_000, {"from": stranger})
    assert _margin(engine, volatile_type)[1:3] == (10_000, 5_000)


@pytest.mark.parametrize("bad_type", [0, 99])
def test_set_volatility_margin__unknown_type__reverts(engine, volatile_type, admin, bad_type):
    with brownie.reverts("engine: unknown collateral type"):
        engine.set_volatility_margin(bad_type, 10_000, 5_000, {"from": admin})


@pytest.fixture(scope="module")
def peek_only_type(engine, usdc, zero_price_oracle, admin, volatile_type):
    """USDC listed with an oracle that has peek() but no volatility()."""
    return engine.add_collateral_type(
        usdc, zero_price_oracle, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY,
        {"from": admin},
    ).return_value


def test_set_volatility_margin__k_set_on_oracle_without_volatility__reverts(engine, peek_only_type, admin):
    with brownie.reverts():
        engine.set_volatility_margin(peek_only_type, 10_000, 5_000, {"from": admin})
    assert _margin(engine, peek_only_type)[1:3] == (0, 0)


def test_set_volatility_margin__k_zero_on_oracle_without_volatility__allowed(engine, peek_only_type, admin):
    engine.set_volatility_margin(peek_only_type, 0, 5_000, {"from": admin})
    assert _margin(engine, peek_only_type)[1:3] == (0, 5_000)
    assert engine.required_ratio(peek_only_type) == (LIQUIDATION_RATIO, 0, LIQUIDATION_RATIO)


def test_set_oracle__k_set_and_new_oracle_without_volatility__reverts(engine, volatile_type, zero_price_oracle, admin):
    """BUG (reported): set_volatility_margin refuses k > 0 unless the oracle answers volatility(),
    but set_oracle does not keep that rule: pointing a type with k > 0 at an oracle that has only
    peek() succeeds, after which required_ratio, vault_info, borrow and withdraw of the type all
    revert without a reason. Expected: set_oracle refuses such an oracle while k > 0."""
    engine.set_volatility_margin(volatile_type, 10_000, 5_000, {"from": admin})
    with brownie.reverts():
        engine.set_oracle(volatile_type, zero_price_oracle, {"from": admin})
    assert _margin(engine, volatile_type)[3] != zero_price_oracle.address


# ================================================================== required_ratio
def test_required_ratio__k_zero__equals_base_even_when_volatile(engine, volatile_type, margin_feed, admin):
    margin_feed.seed_volatility(2 * WAD, {"from": admin})
    engine.set_volatility_margin(volatile_type, 0, MAX_CAP_BPS, {"from": admin})
    assert engine.required_ratio(volatile_type) == (LIQUIDATION_RATIO, 0, LIQUIDATION_RATIO)


@pytest.mark.parametrize("bad_type", [0, 99])
def test_required_ratio__unknown_type__reverts(engine, volatile_type, bad_type):
    with brownie.reverts("engine: unknown collateral type"):
        engine.required_ratio(bad_type)


def test_required_ratio__k_set_on_manual_feed__adds_nothing(engine, wbtc, wbtc_feed, volatile_type, admin):
    manual_type = engine.add_collateral_type(
        wbtc, wbtc_feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY, {"from": admin}
    ).return_value
    engine.set_volatility_margin(manual_type, MAX_K_BPS, MAX_CAP_BPS, {"from": admin})
    assert _margin(engine, manual_type)[1:3] == (MAX_K_BPS, MAX_CAP_BPS)
    assert engine.required_ratio(manual_type) == (LIQUIDATION_RATIO, 0, LIQUIDATION_RATIO)


@given(
    k_bps=strategy("uint256", max_value=MAX_K_BPS),
    cap_bps=strategy("uint256", max_value=MAX_CAP_BPS),
    sigma=strategy("uint256", max_value=MAX_VOLATILITY),
)
def test_required_ratio__k_cap_sigma__equals_base_plus_capped_ceiling(engine, volatile_type, margin_feed, admin, k_bps, cap_bps, sigma):
    """required_ratio = (base, min(ceil(k * sigma / 1e4), cap * 1e18 / 1e4), sum)."""
    margin_feed.seed_volatility(sigma, {"from": admin})
    engine.set_volatility_margin(volatile_type, k_bps, cap_bps, {"from": admin})
    volatility = margin_feed.volatility()
    assert engine.required_ratio(volatile_type) == required_ratio(LIQUIDATION_RATIO, k_bps, cap_bps, volatility)


def test_required_ratio__add_on_rounds_up(engine, volatile_type, margin_feed, admin):
    margin_feed.seed_volatility(WAD // 3, {"from": admin})
    sigma = margin_feed.volatility()
    engine.set_volatility_margin(volatile_type, 3, MAX_CAP_BPS, {"from": admin})
    assert (3 * sigma) % 10_000 != 0
    assert engine.required_ratio(volatile_type)[1] == 3 * sigma // 10_000 + 1


def test_required_ratio__sigma_above_cap__add_on_is_the_cap(engine, volatile_type, margin_feed, admin):
    margin_feed.seed_volatility(MAX_VOLATILITY, {"from": admin})
    engine.set_volatility_margin(volatile_type, MAX_K_BPS, 2_500, {"from": admin})
    assert engine.required_ratio(volatile_type) == (LIQUIDATION_RATIO, WAD // 4, LIQUIDATION_RATIO + WAD // 4)


# ================================================================== safety follows volatility
@pytest.fixture
def leveraged_vault(engine, volatile_type, margin_feed, admin, borrower, lens):
    """k = 1 (10,000 bps), cap +0.5; sigma seeded at 10 %: required 1.6. The borrower's vault
    holds 10 WETH (20,000) against 12,000 debt: ratio 1.667, safe."""
    margin_feed.seed_volatility(WAD // 10, {"from": admin})
    engine.set_volatility_margin(volatile_type, 10_000, 5_000, {"from": admin})
    sigma = margin_feed.volatility()
    assert WAD // 10 - 10**9 < sigma <= WAD // 10
    assert engine.required_ratio(volatile_type) == (LIQUIDATION_RATIO, sigma, LIQUIDATION_RATIO + sigma)
    set_next_timestamp(latest_timestamp() + 5)
    vault_id = engine.open_vault(volatile_type, 10 * WAD, 12_000 * WAD, {"from": borrower}).return_value
    assert lens.vault_info(vault_id)["safe"] is True
    return vault_id


def test_vault__volatility_rises__becomes_unsafe_and_borrow_reverts(engine, debt_token, volatile_type, margin_feed, feed_reporters, leveraged_vault, borrower, lens):
    """A vault can become unsafe because volatility rose: same price, higher sigma."""
    volatility_before = margin_feed.volatility()
    _push_volatile_path(margin_feed, feed_reporters, SWINGS, borrower)
    assert margin_feed.peek() == (P, True)  # the price is back where it was
    assert margin_feed.volatility() > 5 * volatility_before
    base, extra, total = engine.required_ratio(volatile_type)
    assert (base, extra, total) == (LIQUIDATION_RATIO, WAD // 2, 2 * WAD)  # k * sigma hit the cap
    info = lens.vault_info(leveraged_vault)
    assert info["collateral_value"] == 20_000 * WAD
    assert info["safe"] is False
    assert info["max_borrow"] == 0
    assert is_safe(info["collateral"], info["normalized_debt"], engine.current_rate(volatile_type), P, total) is False
    balance = debt_token.balanceOf(borrower)
    with brownie.reverts("engine: vault unsafe"):
        engine.borrow(leveraged_vault, DUST, borrower, {"from": borrower})
    with brownie.reverts("engine: vault unsafe"):
        engine.withdraw(leveraged_vault, WAD // 100, borrower, {"from": borrower})
    assert debt_token.balanceOf(borrower) == balance
    assert engine.vault_position(leveraged_vault)[2] == 10 * WAD


def test_vault__same_volatile_path_with_k_zero__stays_safe(engine, volatile_type, margin_feed, feed_reporters, leveraged_vault, admin, borrower, lens):
    """Control for the test above: without the volatility margin the same path changes nothing."""
    engine.set_volatility_margin(volatile_type, 0, 5_000, {"from": admin})
    _push_volatile_path(margin_feed, feed_reporters, SWINGS, borrower)
    assert engine.required_ratio(volatile_type) == (LIQUIDATION_RATIO, 0, LIQUIDATION_RATIO)
    assert lens.vault_info(leveraged_vault)["safe"] is True
    engine.borrow(leveraged_vault, DUST, borrower, {"from": borrower})


def test_vault_info__dynamic_margin__max_borrow_is_borrowable(engine, volatile_type, margin_feed, admin, borrower, lens):
    margin_feed.seed_volatility(WAD // 2, {"from": admin})
    engine.set_volatility_margin(volatile_type, 15_000, 10_000, {"from": admin})
    total = engine.required_ratio(volatile_type)[2]
    assert total > LIQUIDATION_RATIO
    set_next_timestamp(latest_timestamp() + 5)
    vault_id = engine.open_vault(volatile_type, 10 * WAD, 0, {"from": borrower}).return_value
    room = lens.vault_info(vault_id)["max_borrow"]
    assert 20_000 * WAD * WAD // total - room < 10**6  # about value / total ratio
    set_next_timestamp(latest_timestamp())
    engine.borrow(vault_id, room, borrower, {"from": borrower})
    assert lens.vault_info(vault_id)["safe"] is True


# ================================================================== packing (regression)
def test_set_liquidation_ratio__keeps_volatility_bits(engine, volatile_type, margin_feed, admin):
    engine.set_volatility_margin(volatile_type, MAX_K_BPS, MAX_CAP_BPS, {"from": admin})
    engine.set_liquidation_ratio(volatile_type, MAX_LIQUIDATION_RATIO, {"from": admin})
    assert _margin(engine, volatile_type) == (MAX_LIQUIDATION_RATIO, MAX_K_BPS, MAX_CAP_BPS, margin_feed.address)
    engine.set_liquidation_ratio(volatile_type, MIN_LIQUIDATION_RATIO, {"from": admin})
    assert _margin(engine, volatile_type) == (MIN_LIQUIDATION_RATIO, MAX_K_BPS, MAX_CAP_BPS, margin_feed.address)


def test_set_volatility_margin__keeps_ratio_and_oracle(engine, volatile_type, margin_feed, admin):
    engine.set_liquidation_ratio(volatile_type, MAX_LIQUIDATION_RATIO, {"from": admin})
    engine.set_volatility_margin(volatile_type, MAX_K_BPS, MAX_CAP_BPS, {"from": admin})
    engine.set_volatility_margin(volatile_type, 1, 0, {"from": admin})
    assert _margin(engine, volatile_type) == (MAX_LIQUIDATION_RATIO, 1, 0, margin_feed.address)


def test_set_oracle__keeps_ratio_and_volatility_bits(engine, volatile_type, weth_feed, admin):
    engine.set_volatility_margin(volatile_type, MAX_K_BPS, MAX_CAP_BPS, {"from": admin})
    engine.set_oracle(volatile_type, weth_feed, {"from": admin})
    assert _margin(engine, volatile_type) == (LIQUIDATION_RATIO, MAX_K_BPS, MAX_CAP_BPS, weth_feed.address)


@given(
    calls=st.lists(
        st.tuples(
            st.sampled_from(["ratio", "margin", "oracle"]),
            st.integers(min_value=MIN_LIQUIDATION_RATIO, max_value=MAX_LIQUIDATION_RATIO),
            st.integers(min_value=0, max_value=MAX_K_BPS),
            st.integers(min_value=0, max_value=MAX_CAP_BPS),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_risk_setters__random_sequence__collateral_type_info_matches_model(
    engine, volatile_type, margin_feed, weth_feed, admin, calls
):
    """Oracle, base ratio, k and cap share one storage slot; each setter changes only its field."""
    model = {"ratio": LIQUIDATION_RATIO, "k": 0, "cap": 0, "oracle": margin_feed.address}
    for which, ratio, k_bps, cap_bps in calls:
        if which == "ratio":
            engine.set_liquidation_ratio(volatile_type, ratio, {"from": admin})
            model["ratio"] = ratio
        elif which == "margin":
            engine.set_volatility_margin(volatile_type, k_bps, cap_bps, {"from": admin})
            model["k"], model["cap"] = k_bps, cap_bps
        else:
            oracle = weth_feed.address if model["oracle"] == margin_feed.address else margin_feed.address
            engine.set_oracle(volatile_type, oracle, {"from": admin})
            model["oracle"] = oracle
        assert _margin(engine, volatile_type) == (model["ratio"], model["k"], model["cap"], model["oracle"])
    sigma = margin_feed.volatility() if model["oracle"] == margin_feed.address else 0
    assert engine.required_ratio(volatile_type) == required_ratio(model["ratio"], model["k"], model["cap"], sigma)


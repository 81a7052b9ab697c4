"""DutchAuction: price curves, take (plain and flash), finishing a lot, reset, stop levels."""

import brownie
import pytest
from brownie.test import given, strategy

from tests.unit.conftest import (
    CRASH_PRICE,
    EXPONENTIAL_CURVE,
    LINEAR_CURVE,
    MAX_UINT256,
    RAY,
    RESET_INCENTIVE,
    WAD,
    conservation_holds,
    lot_snapshot,
    mine_at,
    mul_div,
    rpow,
    set_next_timestamp,
)

MODE_PAY, MODE_REENTER_ENGINE, MODE_REENTER_AUCTION, MODE_REVERT, MODE_SELL = 0, 1, 2, 3, 4
TOP = mul_div(CRASH_PRICE, LINEAR_CURVE[1], WAD, False)  # 1,680
TAU = LINEAR_CURVE[2]


def linear_price(top, elapsed):
    return 0 if elapsed >= TAU else top * (TAU - elapsed) // TAU


def exponential_price(top, elapsed):
    _, _, _, step, cut, _, _ = EXPONENTIAL_CURVE
    return mul_div(top, rpow(cut, elapsed // step, False), RAY, False)


@pytest.fixture(scope="module")
def exp_curve(liquidation_system, admin):
    liquidation_system["auction"].set_curve(2, EXPONENTIAL_CURVE, {"from": admin})
    return 2


def conserved(s):
    return conservation_holds(s["engine"], s["debt_token"], s["weth"], s["weth_type"])


def take_at(s, at, taker, amount, max_price, receiver=None):
    set_next_timestamp(at)
    return s["auction"].take(s["auction_id"], amount, max_price, receiver or taker, b"", {"from": taker})


# ------------------------------------------------------------------ curves
@pytest.mark.parametrize("elapsed", [0, 1, 59, 600, 1799, 1800, 3599, 3600, 10_000])
def test_price_at__linear_curve__matches_reference(liquidation_system, elapsed):
    top = 1_680 * WAD + 12_345
    assert liquidation_system["auction"].price_at(1, top, elapsed) == linear_price(top, elapsed)


@pytest.mark.parametrize("elapsed", [0, 59, 60, 61, 600, 3_599, 3_600, 86_400, 7 * 86_400])
def test_price_at__exponential_curve__matches_reference(liquidation_system, exp_curve, elapsed):
    top = 1_680 * WAD + 12_345
    assert liquidation_system["auction"].price_at(exp_curve, top, elapsed) == exponential_price(top, elapsed)


@given(
    top=strategy("uint256", min_value=1, max_value=2**128 - 1),
    elapsed=strategy("uint256", max_value=8 * 86_400),
    later=strategy("uint256", max_value=8 * 86_400),
)
def test_price_at__time_passes__never_increases(liquidation_system, exp_curve, top, elapsed, later):
    auction = liquidation_system["auction"]
    for kind in (1, exp_curve):
        first = auction.price_at(kind, top, elapsed)
        assert first <= top
        assert auction.price_at(kind, top, elapsed + later) <= first


def reference_price(curve, top, elapsed):
    """The curve's price in Python, integer for integer (DutchAuction._price)."""
    kind, _, tau, step, cut, _, _ = curve
    if kind == 1:
        return 0 if elapsed >= tau else top * (tau - elapsed) // tau
    steps = elapsed // step
    return 0 if steps >= 2**63 else mul_div(top, rpow(cut, steps, False), RAY, False)


# curves at the edges of what set_curve accepts (kind, buf, tau, step, cut, tail, cusp)
EDGE_CURVES = [
    (1, WAD, 60, 0, 0, 3600, WAD // 2),
    (1, 2 * WAD, 7 * 86_400, 0, 0, 3600, WAD // 2),
    (2, WAD, 0, 1, RAY // 2, 3600, WAD // 2),
    (2, WAD, 0, 86_400, RAY - 1, 3600, WAD // 2),
    (2, WAD, 0, 60, 99 * RAY // 100, 3600, WAD // 2),
    (2, WAD, 0, 7, 123_456_789 * RAY // 123_456_790, 3600, WAD // 2),
]


@pytest.fixture(scope="module")
def edge_curves(liquidation_system, admin):
    """EDGE_CURVES set on types 10, 11, ... (set once: no transaction per example)."""
    auction = liquidation_system["auction"]
    for index, curve in enumerate(EDGE_CURVES):
        auction.set_curve(10 + index, curve, {"from": admin})
    return {10 + index: curve for index, curve in enumerate(EDGE_CURVES)}


@given(
    index=strategy("uint256", max_value=len(EDGE_CURVES) - 1),
    top=strategy("uint256", min_value=1, max_value=2**96 - 1),
    elapsed=strategy("uint256", max_value=30 * 86_400),
)
def test_price_at__edge_curves__match_python_reference_exactly(liquidation_system, edge_curves, index, top, elapsed):
    """Property: for curves at the edges of set_curve's bounds (stored packed, read back),
    the on-chain price equals the reference to the wei and never exceeds the start price."""
    auction = liquidation_system["auction"]
    curve_type = 10 + index
    assert tuple(auction.curves(curve_type)) == edge_curves[curve_type]
    price = auction.price_at(curve_type, top, elapsed)
    assert price == reference_price(edge_curves[curve_type], top, elapsed)
    assert price <= top


# ------------------------------------------------------------------ take
def test_take__part_of_lot__pays_price_and_keeps_lot_running(lot, keeper):
    auction, engine, token, weth = lot["auction"], lot["engine"], lot["debt_token"], lot["weth"]
    status = auction.status(lot["auction_id"])
    price = linear_price(TOP, 600)
    assert status["top"] == TOP
    balance, weth_before = token.balanceOf(keeper), weth.balanceOf(keeper)
    tx = take_at(lot, lot["start"] + 600, keeper, WAD, price)
    event = tx.events["Take"]
    assert (event["price"], event["collateral"], event["owe"]) == (price, WAD, price)
    assert token.balanceOf(keeper) == balance - price
    assert weth.balanceOf(keeper) == weth_before + WAD
    after = auction.status(lot["auction_id"])
    assert after["active"]
    assert after["lot"] == status["lot"] - WAD
    assert after["target"] == status["target"] - price
    assert after["debt"] == status["debt"] - price
    assert engine.debt_in_auction() == (status["debt"] - price) * RAY
    assert engine.type_debt_in_auction(lot["weth_type"]) == status["debt"] - price
    assert conserved(lot)


def test_take__above_max_price__reverts(lot, keeper):
    price = linear_price(TOP, 600)
    before = lot_snapshot(lot, keeper)
    with brownie.reverts("auction: price above max"):
        take_at(lot, lot["start"] + 600, keeper, WAD, price - 1)
    assert lot_snapshot(lot, keeper) == before


def test_take__target_met__returns_leftover_into_the_vault(lot, keeper, borrower):
    auction, engine, liquidator, weth = lot["auction"], lot["engine"], lot["liquidator"], lot["weth"]
    status = auction.status(lot["auction_id"])
    assert status["vault_id"] == lot["unsafe"]
    price = linear_price(TOP, 600)
    assert status["lot"] * price // WAD > status["target"]
    surplus, owner_weth = engine.surplus(), weth.balanceOf(borrower)
    vault_before = engine.vault_position(lot["unsafe"])
    tx = take_at(lot, lot["start"] + 600, keeper, status["lot"], price)
    bought = mul_div(status["target"], WAD, price, True)  # rounds up: never above price per unit
    event = tx.events["Take"]
    assert (event["collateral"], event["owe"], event["lot"], event["target"]) == (
        bought, status["target"], status["lot"] - bought, 0,
    )
    finished = tx.events["AuctionFinished"]
    assert finished["collateral_returned"] == status["lot"] - bought
    assert finished["bad_debt"] == 0
    # back into the vault, not the owner's wallet; the vault stays the owner's
    assert weth.balanceOf(borrower) == owner_weth
    assert engine.vault_position(lot["unsafe"]) == (borrower, lot["weth_type"], vault_before[2] + status["lot"] - bought, 0)
    returned = tx.events["AuctionReturned"]
    assert (returned["vault_id"], returned["amount"], returned["collateral"]) == (
        lot["unsafe"], status["lot"] - bought, vault_before[2] + status["lot"] - bought,
    )
    assert engine.surplus() == surplus + (status["target"] - status["debt"]) * RAY
    assert engine.debt_in_auction() == 0
    assert engine.type_collateral_in_auction(lot["weth_type"]) == 0
    assert liquidator.room(lot["weth_type"])[1] == 0 and liquidator.room(lot["weth_type"])[3] == 0
    assert not auction.status(lot["auction_id"])["active"]
    assert conserved(lot)


@pytest.mark.parametrize("elapsed,amount", [(600, 10 * WAD), (600, 3 * WAD), (1234, 10 * WAD)])
def test_take__at_max_price__never_pays_more_than_max_price_per_unit(lot, keeper, elapsed, amount):
    """Invariant 4: owe <= bought * max_price / WAD (rounded up). Taking the whole lot when
    its value exceeds the target goes through the 'target met' branch, which rounds the
    collateral down while charging the full target."""
    max_price = linear_price(TOP, elapsed)
    tx = take_at(lot, lot["start"] + elapsed, keeper, amount, max_price)
    event = tx.events["Take"]
    assert event["owe"] <= mul_div(event["collateral"], max_price, WAD, True), (
        f"paid {event['owe']} for {event['collateral']} at max {max_price}"
    )


@given(
    elapsed=strategy("uint256", max_value=1_800),
    amount=strategy("uint256", min_value=1, max_value=12 * WAD),
    slack=strategy("uint256", max_value=100 * WAD),
)
def test_take__any_time_amount_and_max_price__never_pays_above_max_price(
    liquidation_system, positions, keeper, elapsed, amount, slack
):
    """Property (invariant 4): whatever is bought, owe <= bought * max_price / WAD rounded up,
    and a max_price below the current price reverts. The lot is started inside the test
    (module-scoped fixtures only): brownie's @given reverts the chain to the state before
    the first example, so every example starts from the same unliquidated vaults."""
    lot = dict(liquidation_system, **positions)
    tx = lot["liquidator"].liquidate(lot["unsafe"], keeper, {"from": keeper})
    lot["auction_id"], lot["start"] = tx.return_value, tx.timestamp
    price = linear_price(TOP, elapsed)
    # max_price at, above or below the price
    max_price = price + slack if slack % 3 else max(price - slack, 0)
    if max_price < price:
        with brownie.reverts("auction: price above max"):
            take_at(lot, lot["start"] + elapsed, keeper, amount, max_price)
        return
    try:
        tx = take_at(lot, lot["start"] + elapsed, keeper, amount, max_price)
    except brownie.exceptions.VirtualMachineError as exc:
        # a take that would leave a dusty remainder is refused, never half-done
        assert exc.revert_msg in ("auction: would leave dust", "auction: nothing bought"), exc.revert_msg
        return
    event = tx.events["Take"]
    assert event["price"] == price <= max_price
    assert event["owe"] <= mul_div(event["collateral"], max_price, WAD, True)
    assert event["owe"] <= mul_div(event["collateral"], price, WAD, True)
    assert conserved(lot)


def test_take__target_met_but_vault_refilled_to_the_bound__leftover_paid_to_owner(lot, keeper, borrower):
    """The vault's collateral is bounded (2**112 - 1 WAD). Should its owner have refilled it
    to the bound while the lot ran, the leftover cannot go back in: it is paid to the owner."""
    auction, engine, weth = lot["auction"], lot["engine"], lot["weth"]
    full = 2**112 - 1
    weth.mint(borrower, full, {"from": borrower})
    engine.deposit(lot["unsafe"], full, {"from": borrower})
    status = auction.status(lot["auction_id"])
    price = linear_price(TOP, 600)
    owner_weth = weth.balanceOf(borrower)
    tx = take_at(lot, lot["start"] + 600, keeper, status["lot"], price)
    returned = tx.events["AuctionFinished"]["collateral_returned"]
    assert returned > 0
    assert weth.balanceOf(borrower) == owner_weth + returned
    assert engine.vault_position(lot["unsafe"])[2] == full
    paid = tx.events["AuctionReturnedToOwner"]
    assert (paid["vault_id"], paid["owner"], paid["amount"]) == (lot["unsafe"], borrower, returned)
    assert "AuctionReturned" not in tx.events
    assert conserved(lot)


def test_take__lot_exhausted_before_target__records_bad_debt(lot, keeper):
    auction, engine, liquidator = lot["auction"], lot["engine"], lot["liquidator"]
    status = auction.status(lot["auction_id"])
    price = linear_price(TOP, 1800)  # exactly cusp * top: the last moment before a reset is due
    assert price * WAD == LINEAR_CURVE[6] * TOP
    bad_before = engine.bad_debt()
    tx = take_at(lot, lot["start"] + 1800, keeper, status["lot"], price)
    owe = status["lot"] * price // WAD
    assert owe < status["target"]
    assert tx.events["Take"]["owe"] == owe and tx.events["Take"]["lot"] == 0
    left = status["debt"] - owe
    assert tx.events["AuctionFinished"]["bad_debt"] == left
    assert tx.events["AuctionFinished"]["collateral_returned"] == 0
    assert engine.bad_debt() == bad_before + left * RAY
    assert tx.events["BadDebtRecorded"]["debt"] == left * RAY
    assert engine.debt_in_auction() == 0
    assert liquidator.room(lot["weth_type"])[1] == 0
    assert conserved(lot)

    surplus, bad = engine.surplus(), engine.bad_debt()
    tx = engine.settle_bad_debt({"from": keeper})
    settled = min(surplus, bad)
    assert tx.return_value == settled
    assert (engine.surplus(), engine.bad_debt()) == (surplus - settled, bad - settled)
    assert conserved(lot)


# ------------------------------------------------------------------ reset
def test_reset__not_needed__reverts(lot, keeper):
    # the reset's own block pinned at exactly cusp time (mining a block at 1800 s and
    # sending after it let the reset land at 1801+ s on a loaded machine: due a reset)
    set_next_timestamp(lot["start"] + 1800)
    with brownie.reverts("auction: no reset needed"):
        lot["auction"].reset(lot["auction_id"], keeper, {"from": keeper})


def test_reset__price_below_cusp__restarts_from_oracle_and_pays_incentive(lot, keeper, reporter):
    auction, engine, token = lot["auction"], lot["engine"], lot["debt_token"]
    set_next_timestamp(lot["start"] + 1801)
    lot["feed"].set_price(1_300 * WAD, {"from": reporter})
    status = auction.status(lot["auction_id"])
    assert status["needs_reset"]
    with brownie.reverts("auction: needs reset"):
        auction.take(lot["auction_id"], WAD, MAX_UINT256, keeper, b"", {"from": keeper})
    balance, bad = token.balanceOf(keeper), engine.bad_debt()
    tx = auction.reset(lot["auction_id"], keeper, {"from": keeper})
    flat, percent, cap = RESET_INCENTIVE
    incentive = min(flat + mul_div(status["target"], percent, WAD, False), cap)
    new_top = mul_div(1_300 * WAD, LINEAR_CURVE[1], WAD, False)
    assert tx.return_value == new_top
    assert tx.events["AuctionReset"]["incentive"] == incentive
    assert token.balanceOf(keeper) == balance + incentive
    assert engine.bad_debt() == bad + incentive * RAY
    after = auction.status(lot["auction_id"])
    assert (after["top"], after["price"], after["started_at"]) == (new_top, new_top, tx.timestamp)
    assert not after["needs_reset"]
    assert (after["lot"], after["target"], after["debt"]) == (status["lot"], status["target"], status["debt"])
    assert conserved(lot)


# ------------------------------------------------------------------ stop levels
@pytest.mark.parametrize("level", [1, 2, 3])
def test_stop_level__set__blocks_kick_reset_take(lot, keeper, admin, level):
    auction, liquidator = lot["auction"], lot["liquidator"]
    auction.set_stop_level(level, {"from": admin})
    with brownie.reverts("auction: stopped"):
        liquidator.liquidate(lot["unsafe2"], keeper, {"from": keeper})
    mine_at(lot["start"] + 1801)  # the lot needs a reset
    if level >= 2:
        with brownie.reverts("auction: stopped"):
            auction.reset(lot["auction_id"], keeper, {"from": keeper})
    else:
        auction.reset(lot["auction_id"], keeper, {"from": keeper})
    if level >= 3:
        with brownie.reverts("auction: stopped"):
            auction.take(lot["auction_id"], WAD, MAX_UINT256, keeper, b"", {"from": keeper})
    elif level == 1:
        auction.take(lot["auction_id"], WAD, MAX_UINT256, keeper, b"", {"from": keeper})
    assert conserved(lot)


# ------------------------------------------------------------------ flash take
def test_flash_take__mode_pay__collateral_first_then_payment(lot, keeper, flash_taker):
    lot["debt_token"].transfer(flash_taker, 20_000 * WAD, {"from": keeper})
    status = lot["auction"].status(lot["auction_id"])
    price = linear_price(TOP, 600)
    set_next_timestamp(lot["start"] + 600)
    tx = flash_taker.flash_take(lot["auction_id"], WAD, price, {"from": keeper})
    assert flash_taker.callbacks() == 1
    assert tx.events["Called"]["owe"] == price and tx.events["Called"]["collateral"] == WAD
    assert lot["weth"].balanceOf(flash_taker) == WAD
    assert lot["debt_token"].balanceOf(flash_taker) == 20_000 * WAD - price
    names = [(e.name, e.address) for e in tx.events]
    weth_in = names.index(("Transfer", lot["weth"].address))
    called = names.index(("Called", flash_taker.address))
    burned = names.index(("Transfer", lot["debt_token"].address))
    assert weth_in < called < burned
    assert lot["auction"].status(lot["auction_id"])["lot"] == status["lot"] - WAD
    assert conserved(lot)


@pytest.fixture
def market(MockMarket, lot, keeper, flash_taker, admin):
    """A market buying WETH for kUSD (10,000 kUSD of float from the keeper); the flash
    taker holds no kUSD and sells what it takes there (MODE_SELL)."""
    m = MockMarket.deploy(lot["weth"], lot["debt_token"], 18, CRASH_PRICE, {"from": admin})
    lot["debt_token"].transfer(m, 10_000 * WAD, {"from": keeper})
    flash_taker.set_market(m, lot["weth"], 1, {"from": keeper})
    flash_taker.set_mode(MODE_SELL, {"from": keeper})
    return m


def test_flash_take__callback_sells_collateral_above_auction_price__pays_and_keeps_profit(
    lot, keeper, flash_taker, market, admin
):
    """A keeper with no capital: the collateral arrives first, the callback sells it on a
    market for more than the auction price, the auction burns what is owed, the rest is profit."""
    price = linear_price(TOP, 600)
    market.set_price(price + 50 * WAD, {"from": admin})
    assert lot["debt_token"].balanceOf(flash_taker) == 0
    set_next_timestamp(lot["start"] + 600)
    tx = flash_taker.flash_take(lot["auction_id"], 2 * WAD, price, {"from": keeper})
    owe = tx.events["Take"]["owe"]
    assert owe == 2 * price and tx.events["Take"]["collateral"] == 2 * WAD
    assert tx.events["Sold"]["proceeds"] == 2 * (price + 50 * WAD)
    assert lot["debt_token"].balanceOf(flash_taker) == 100 * WAD  # the profit
    assert lot["weth"].balanceOf(flash_taker) == 0 and lot["weth"].balanceOf(market) == 2 * WAD
    assert conserved(lot)


def test_flash_take__market_pays_less_than_owed__reverts_and_changes_nothing(
    lot, keeper, flash_taker, market, admin
):
    """The callback sells below the auction price: the taker cannot pay, so the whole take
    (collateral out, sale, callback) reverts and the lot is as it was."""
    price = linear_price(TOP, 600)
    market.set_price(price - 10 * WAD, {"from": admin})
    before = lot_snapshot(lot, keeper, flash_taker, market)
    set_next_timestamp(lot["start"] + 600)
    with brownie.reverts("token: insufficient balance"):
        flash_taker.flash_take(lot["auction_id"], 2 * WAD, price, {"from": keeper})
    assert lot_snapshot(lot, keeper, flash_taker, market) == before
    assert conserved(lot)


@pytest.mark.parametrize("mode,message", [
    (MODE_REVERT, "flash: callback failed"),
    (MODE_REENTER_ENGINE, "engine: locked during auction callback"),
    (MODE_REENTER_AUCTION, None),
])
def test_flash_take__misbehaving_callback__reverts_and_changes_nothing(lot, keeper, flash_taker, mode, message):
    lot["debt_token"].transfer(flash_taker, 20_000 * WAD, {"from": keeper})
    flash_taker.set_mode(mode, {"from": keeper})
    before = lot_snapshot(lot, keeper, flash_taker)
    set_next_timestamp(lot["start"] + 600)
    with brownie.reverts(message):
        flash_taker.flash_take(lot["auction_id"], WAD, MAX_UINT256, {"from": keeper})
    assert lot_snapshot(lot, keeper, flash_taker) == before
    assert flash_taker.callbacks() == 0
    assert conserved(lot)


def test_flash_take__without_debt_tokens__reverts_and_changes_nothing(lot, keeper, flash_taker):
    before = lot_snapshot(lot, keeper, flash_taker)
    set_next_timestamp(lot["start"] + 600)
    with brownie.reverts("token: insufficient balance"):
        flash_taker.flash_take(lot["auction_id"], WAD, MAX_UINT256, {"from": keeper})
    assert lot_snapshot(lot, keeper, flash_taker) == before
    assert conserved(lot)


@pytest.fixture
def kicker(liquidation_system, admin):
    """The admin also holds ROLE_KICKER, to call kick directly."""
    auction = liquidation_system["auction"]
    auction.set_roles(admin, auction.roles(admin) | 1, {"from": admin})
    return admin


# ------------------------------------------------------------------ set_curve and the packed type slot
def test_set_curve__round_trip__curves_view_returns_what_was_set(liquidation_system, admin):
    auction = liquidation_system["auction"]
    for type_id, curve in ((20, LINEAR_CURVE), (21, EXPONENTIAL_CURVE)):
        tx = auction.set_curve(type_id, curve, {"from": admin})
        assert tuple(auction.curves(type_id)) == curve
        event = tx.events["CurveSet"]
        assert (event["collateral_type"], event["kind"], event["buf"], event["cusp"]) == (type_id, curve[0], curve[1], curve[6])


def test_set_curve__replacing_a_curve__keeps_dust_and_stop_level(liquidation_system, admin):
    auction, weth_type = liquidation_system["auction"], liquidation_system["weth_type"]
    dust = auction.auction_dust(weth_type)
    assert dust != 0
    auction.set_stop_level(1, {"from": admin})
    auction.set_curve(weth_type, EXPONENTIAL_CURVE, {"from": admin})
    assert auction.auction_dust(weth_type) == dust
    assert auction.stop_level() == 1
    assert tuple(auction.curves(weth_type)) == EXPONENTIAL_CURVE


BAD_CURVES = [
    # (what is wrong, curve (kind, buf, tau, step, cut, tail, cusp), revert)
    ("kind 0", (0, WAD, 0, 60, RAY // 2, 3600, WAD // 2), "auction: unknown curve"),
    ("kind 3", (3, WAD, 0, 60, RAY // 2, 3600, WAD // 2), "auction: unknown curve"),
    ("buf below 1", (1, WAD - 10**14, 3600, 0, 0, 3600, WAD // 2), "auction: buf out of bounds"),
    ("buf above 2", (1, 2 * WAD + 10**14, 3600, 0, 0, 3600, WAD // 2), "auction: buf out of bounds"),
    ("buf not whole bps", (1, WAD + 1, 3600, 0, 0, 3600, WAD // 2), "auction: buf out of bounds"),
    ("tau below 60", (1, WAD, 59, 0, 0, 3600, WAD // 2), "auction: tau out of bounds"),
    ("tau above 7 days", (1, WAD, 7 * 86_400 + 1, 0, 0, 3600, WAD // 2), "auction: tau out of bounds"),
    ("linear with a step", (1, WAD, 3600, 60, 0, 3600, WAD // 2), "auction: unused curve field"),
    ("linear with a cut", (1, WAD, 3600, 0, RAY // 2, 3600, WAD // 2), "auction: unused curve field"),
    ("step 0", (2, WAD, 0, 0, RAY // 2, 3600, WAD // 2), "auction: step out of bounds"),
    ("step above a day", (2, WAD, 0, 86_401, RAY // 2, 3600, WAD // 2), "auction: step out of bounds"),
    ("cut below 0.5", (2, WAD, 0, 60, RAY // 2 - 1, 3600, WAD // 2), "auction: cut out of bounds"),
    ("cut 1", (2, WAD, 0, 60, RAY, 3600, WAD // 2), "auction: cut out of bounds"),
    ("exponential with a tau", (2, WAD, 3600, 60, RAY // 2, 3600, WAD // 2), "auction: unused curve field"),
    ("tail below 60", (1, WAD, 3600, 0, 0, 59, WAD // 2), "auction: tail out of bounds"),
    ("tail above 7 days", (1, WAD, 3600, 0, 0, 7 * 86_400 + 1, WAD // 2), "auction: tail out of bounds"),
    ("cusp 0", (1, WAD, 3600, 0, 0, 3600, 0), "auction: cusp out of bounds"),
    ("cusp 1", (1, WAD, 3600, 0, 0, 3600, WAD), "auction: cusp out of bounds"),
    ("cusp not whole bps", (1, WAD, 3600, 0, 0, 3600, WAD // 2 + 1), "auction: cusp out of bounds"),
]


@pytest.mark.parametrize("what,curve,message", BAD_CURVES, ids=[b[0] for b in BAD_CURVES])
def test_set_curve__out_of_bounds__reverts_and_keeps_the_old_curve(liquidation_system, admin, what, curve, message):
    auction, weth_type = liquidation_system["auction"], liquidation_system["weth_type"]
    before = tuple(auction.curves(weth_type))
    with brownie.reverts(message):
        auction.set_curve(weth_type, curve, {"from": admin})
    assert tuple(auction.curves(weth_type)) == before


@pytest.mark.parametrize("type_id", [0, 256])
def test_set_curve__type_outside_one_byte__reverts(liquidation_system, admin, type_id):
    with brownie.reverts("auction: bad collateral type"):
        liquidation_system["auction"].set_curve(type_id, LINEAR_CURVE, {"from": admin})


def test_set_incentives__out_of_bounds__reverts(liquidation_system, admin):
    auction = liquidation_system["auction"]
    for flat, percent, cap in ((1_000 * WAD + 1, 0, 0), (0, WAD // 100 + 1, 0), (0, 0, 10_000 * WAD + 1)):
        with brownie.reverts("auction: incentive out of bounds"):
            auction.set_incentives(flat, percent, cap, {"from": admin})
    assert (auction.incentive_flat(), auction.incentive_percent(), auction.incentive_cap()) == RESET_INCENTIVE


def test_set_stop_level__above_takes__reverts(liquidation_system, admin):
    with brownie.reverts("auction: stop level out of bounds"):
        liquidation_system["auction"].set_stop_level(4, {"from": admin})


def test_set_stop_level__set_then_cleared__every_curve_follows(liquidation_system, admin, exp_curve, kicker):
    """The level is copied into each type's packed slot (takes read only that): a type whose
    curve is set after the level inherits it; clearing reaches every type."""
    auction = liquidation_system["auction"]
    tx = auction.set_stop_level(3, {"from": admin})
    assert tx.events["StopLevelSet"]["level"] == 3
    auction.set_curve(30, LINEAR_CURVE, {"from": admin})
    for type_id in (1, exp_curve, 30):
        with brownie.reverts("auction: stopped"):
            auction.kick(type_id, 1, WAD, WAD, WAD, WAD, {"from": kicker})
    auction.set_stop_level(0, {"from": admin})
    assert auction.stop_level() == 0


# ------------------------------------------------------------------ kick (called directly by a kicker)
KICK_REVERTS = [
    # (what, (type, vault, lot, debt, target, price), revert)
    ("type without a curve", (7, 1, WAD, WAD, WAD, WAD), "auction: no curve for type"),
    ("no collateral", (1, 1, 0, WAD, WAD, WAD), "auction: empty lot"),
    ("no target", (1, 1, WAD, 0, 0, WAD), "auction: empty lot"),
    ("collateral above 112 bits", (1, 1, 2**112, WAD, WAD, WAD), "auction: lot too large"),
    ("target above 96 bits", (1, 1, WAD, WAD, 2**96, WAD), "auction: lot too large"),
    ("debt above target", (1, 1, WAD, 2 * WAD, WAD, WAD), "auction: debt above target"),
    ("vault 0", (1, 0, WAD, WAD, WAD, WAD), "auction: bad vault id"),
    ("vault above 40 bits", (1, 2**40, WAD, WAD, WAD, WAD), "auction: bad vault id"),
    ("price 0", (1, 1, WAD, WAD, WAD, 0), "auction: zero start price"),
    ("start price above 96 bits", (1, 1, WAD, WAD, WAD, 2**96), "auction: start price too large"),
]


@pytest.mark.parametrize("what,args,message", KICK_REVERTS, ids=[k[0] for k in KICK_REVERTS])
def test_kick__bad_lot__reverts_and_starts_nothing(liquidation_system, kicker, what, args, message):
    auction = liquidation_system["auction"]
    count = auction.auction_count()
    with brownie.reverts(message):
        auction.kick(*args, {"from": kicker})
    assert auction.auction_count() == count


def test_kick__by_kicker__books_lot_with_penalty_part_and_vault(liquidation_system, kicker):
    auction = liquidation_system["auction"]
    tx = auction.kick(1, 5, 3 * WAD, 1_000 * WAD, 1_130 * WAD, 2_000 * WAD, {"from": kicker})
    status = auction.status(tx.return_value)
    top = mul_div(2_000 * WAD, LINEAR_CURVE[1], WAD, False)
    assert (status["vault_id"], status["lot"], status["target"], status["debt"], status["top"]) == (
        5, 3 * WAD, 1_130 * WAD, 1_000 * WAD, top,
    )
    started = tx.events["AuctionStarted"]
    assert (started["vault_id"], started["debt"], started["top"]) == (5, 1_000 * WAD, top)


def test_take__zero_amount_or_receiver__reverts(lot, keeper):
    set_next_timestamp(lot["start"] + 600)
    with brownie.reverts("auction: zero amount"):
        lot["auction"].take(lot["auction_id"], 0, MAX_UINT256, keeper, b"", {"from": keeper})
    with brownie.reverts("auction: zero receiver"):
        lot["auction"].take(lot["auction_id"], WAD, MAX_UINT256, "0x0000000000000000000000000000000000000000", b"",
                            {"from": keeper})
    assert lot["auction"].status(lot["auction_id"])["active"]


def test_cancel__while_live__reverts(lot, admin):
    auction = lot["auction"]
    auction.set_roles(admin, auction.roles(admin) | 4, {"from": admin})  # ROLE_SETTLEMENT
    with brownie.reverts("auction: not shut down"):
        auction.cancel(lot["auction_id"], {"from": admin})
    assert auction.status(lot["auction_id"])["active"]


def test_deploy__zero_engine__reverts(DutchAuction, admin):
    with brownie.reverts("auction: zero engine"):
        DutchAuction.deploy("0x0000000000000000000000000000000000000000", admin, {"from": admin})

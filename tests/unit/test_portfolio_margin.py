"""PortfolioMargin: the scenario margin rule (against tests/unit/margin_reference.py), partly
collateralised writing, CDP + options in one health check, settlement at expiry and the
liquidation of writers.

Books for the property tests are built once (module scope, ``books``); the examples vary the
oracle price, the time, and the what-if collateral and debt of ``margin.requirement``.
"""

import math
import random

import brownie
import pytest
from brownie.exceptions import VirtualMachineError
from brownie.test import given, strategy
from hypothesis import settings
from hypothesis import strategies as st

from tests.unit import margin_reference as ref
from tests.unit.conftest import (
    DAY,
    DUST,
    MAX_UINT256,
    OPTION_STRIKES,
    RAY,
    WAD,
    latest_timestamp,
    max_safe_borrow,
    mul_div,
    normalize_up,
    rate_at,
    set_next_timestamp,
)

BPS = 10_000
SIGMA = WAD // 2  # ManualPriceFeed.volatility() is 0: the module's floor
PRICE = 2_000 * WAD
BOOK_SIZES = (1, 2, 4, 8, 12, 16)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def pm(module_isolation, options, admin, borrower, other_borrower, stranger, keeper, treasury, reporter):
    """(module_isolation first: the chain is reset before anything here is deployed.) The
    options fixture plus: WETH for every user actor (approved to the margin module, the
    house and the engine), 10,000,000 kUSD for stranger and keeper (approved to the house and
    the module), and a second expiry (60 days) listed at every strike: series60."""
    pm = dict(options)
    weth, token, margin, house, engine = pm["weth"], pm["debt_token"], pm["margin"], pm["house"], pm["engine"]
    for who in (borrower, other_borrower, stranger, keeper, treasury):
        weth.mint(who, 1_000_000 * WAD, {"from": who})
        for spender in (margin, house, engine):
            weth.approve(spender, MAX_UINT256, {"from": who})
    for who in (stranger, keeper):
        token.mint(who, 10_000_000 * WAD, {"from": admin})
        token.approve(house, MAX_UINT256, {"from": who})
        token.approve(margin, MAX_UINT256, {"from": who})
    pm["expiry60"] = pm["expiry"] + 30 * DAY
    pm["series60"] = {
        (strike, is_call): house.create_series(pm["weth_type"], strike * WAD, pm["expiry60"], is_call, {"from": admin}).return_value
        for strike in OPTION_STRIKES
        for is_call in (True, False)
    }
    pm["all_series"] = sorted(list(pm["series"].values()) + list(pm["series60"].values()))
    return pm


@pytest.fixture(scope="module")
def books(pm, option_token, other_borrower, stranger):
    """One account per BOOK_SIZES entry, owned by other_borrower: random distinct series (both
    expiries, calls and puts), long or short, random amounts (0.1..20 options, to the wei);
    2,000 WETH of collateral; books 1 and 4 also borrow. Longs come from stranger writing
    fully collateralised at the house. -> [(vault, positions as the module stores them)]"""
    margin, house = pm["margin"], pm["house"]
    for series_id in pm["all_series"]:
        option_token(series_id).approve(margin, MAX_UINT256, {"from": other_borrower})
    rng = random.Random(20_240_601)
    built = []
    for index, size in enumerate(BOOK_SIZES):
        vault = open_account(pm, other_borrower, 2_000 * WAD)
        for series_id in rng.sample(pm["all_series"], size):
            amount = rng.randint(WAD // 10, 20 * WAD)
            if rng.random() < 0.55:
                margin.write(vault, series_id, amount, other_borrower, {"from": other_borrower})
            else:
                house.write(series_id, amount, other_borrower, {"from": stranger})
                margin.deposit_long(vault, series_id, amount, {"from": other_borrower})
        if index in (1, 4):
            margin.borrow(vault, 150_000 * WAD, other_borrower, {"from": other_borrower})
        built.append((vault, ref.positions_from_chain(margin.positions(vault))))
    return built


# ------------------------------------------------------------------ helpers
def open_account(pm, owner, collateral):
    return pm["margin"].open_account(pm["weth_type"], collateral, {"from": owner}).return_value


def give_long(pm, option_token, owner, vault, series_id, amount, writer):
    """`writer` writes fully collateralised at the house to `owner`, who moves the options
    into the account."""
    pm["house"].write(series_id, amount, owner, {"from": writer})
    option_token(series_id).approve(pm["margin"], MAX_UINT256, {"from": owner})
    pm["margin"].deposit_long(vault, series_id, amount, {"from": owner})


def pin(seconds=10):
    """The next transaction is mined `seconds` after the latest block; returns that time."""
    at = latest_timestamp() + seconds
    set_next_timestamp(at)
    return at


def set_price(pm, reporter, price, at=None):
    """Report `price`, in a block at `at` (default: 10 s on); returns the block time."""
    at = at if at is not None else latest_timestamp() + 10
    set_next_timestamp(at)
    pm["feed"].set_price(price, {"from": reporter})
    return at


def terms(pm, series_id):
    _, is_call, strike, expiry = pm["house"].series_terms(series_id)
    return is_call, strike, expiry


def params_of(pm):
    return ref.Params(*pm["margin"].params())


def vault_state(pm, vault, at=None):
    """(collateral, debt) of a vault; debt at the rate of time `at` (default: now)."""
    engine = pm["engine"]
    _, collateral_type, collateral, normalized_debt = engine.vault_position(vault)
    if normalized_debt == 0:
        return collateral, 0
    rate = engine.current_rate(collateral_type) if at is None else rate_at(engine, collateral_type, at)
    return collateral, mul_div(normalized_debt, rate, RAY, True)


def ratio_of(pm):
    return pm["engine"].required_ratio(pm["weth_type"])[2]


def context(pm, vault, now=None, params=None):
    """What the margin rule reads for an account, from the chain: its positions, collateral,
    debt (at the rate of time `now`), the price, ratio, sigma, time and parameters."""
    params = params or params_of(pm)
    collateral, debt = vault_state(pm, vault, now)
    return dict(
        positions=ref.positions_from_chain(pm["margin"].positions(vault)),
        collateral=collateral,
        debt=debt,
        price=pm["engine"].fresh_price(pm["weth_type"]),
        ratio=ratio_of(pm),
        sigma=ref.sigma_used(pm["feed"].volatility(), params),
        now=now if now is not None else latest_timestamp(),
        params=params,
    )


def health_in(ctx, **overrides):
    """The integer reference over a context, any of its fields overridden (None: kept)."""
    c = dict(ctx, **{k: v for k, v in overrides.items() if v is not None})
    return ref.health(c["positions"], c["collateral"], c["debt"], c["price"], c["ratio"], c["sigma"], c["now"], c["params"])


def reference_health(pm, vault, collateral=None, debt=None, price=None, now=None, positions=None, params=None):
    """The integer reference for an account, from the chain's state unless overridden."""
    return health_in(context(pm, vault, now, params), collateral=collateral, debt=debt, price=price, positions=positions)


def with_position(positions, pm, series_id, is_short, delta, known_terms=None):
    """`positions` with `delta` (WAD, signed) added to the account's position in a series."""
    is_call, strike, expiry = (known_terms or {}).get(series_id) or terms(pm, series_id)
    out, found = [], False
    for p in positions:
        if p.series_id == series_id:
            found = True
            amount = p.amount + delta
            if amount:
                out.append(ref.Position(p.is_call, p.is_short, amount, p.strike, p.expiry, series_id))
        else:
            out.append(p)
    if not found and delta > 0:
        out.append(ref.Position(is_call, is_short, delta, strike, expiry, series_id))
    return out


def largest(predicate, low, high):
    """The largest x in [low, high] with predicate(x), for a predicate true at low and
    monotone (true then false)."""
    assert predicate(low)
    while low < high:
        mid = (low + high + 1) // 2
        if predicate(mid):
            low = mid
        else:
            high = mid - 1
    return low


def max_write(pm, vault, series_id, at, high=1_000 * WAD):
    """The most options of a series the account may write in a transaction at `at`."""
    ctx = context(pm, vault, at)
    is_call, strike, expiry = terms(pm, series_id)
    terms_of = {series_id: (is_call, strike, expiry)}
    return largest(
        lambda amount: amount == 0 or health_in(ctx, positions=with_position(ctx["positions"], pm, series_id, True, amount, terms_of)).opening,
        0, high,
    )


def max_margin_borrow(pm, vault, at):
    """The most an account may borrow (margin.borrow) in a transaction at `at`."""
    engine = pm["engine"]
    normalized_debt = engine.vault_position(vault)[3]
    rate = rate_at(engine, pm["weth_type"], at)
    ctx = context(pm, vault, at)

    def opening(amount):
        if amount == 0:
            return True
        return health_in(ctx, debt=mul_div(normalized_debt + normalize_up(amount, rate), rate, RAY, True)).opening

    return largest(opening, 0, 10_000_000 * WAD)


def spare(health):
    """value - debt - maintenance of a Health (chain tuple or reference)."""
    value, debt, maintenance = (health.value, health.debt, health.maintenance) if isinstance(health, ref.Health) else (health[0], health[1], health[2])
    return value - debt - maintenance


def revert_message(call):
    """Run a transaction; return its revert reason, or None when it went through."""
    try:
        call()
    except VirtualMachineError as exc:
        return exc.revert_msg
    return None


# ================================================================== 1. the margin rule
# (the property tests over the module's prebuilt books come last: see section 7)
def black_scholes_tolerance(positions, collateral, price):
    """Float error allowance (kUSD): 1e-9 of everything the book's values are made of."""
    top = 3 * price / WAD
    return 1e-9 * (collateral / WAD * top + sum(p.amount / WAD * (p.strike / WAD + top) for p in positions)) + 1e-9


def test_requirement__one_short_put__maintenance_and_initial_not_below_exact_rational_requirement(pm, borrower, reporter):
    """Property (d), literally (DESIGN: "the margin requirement rounds up"; PortfolioMargin's
    @dev: "Every rounding makes the requirement larger"): the requirement in exact rationals
    is <= the contract's. One short put at prices 2,000..2,300, no collateral."""
    margin = pm["margin"]
    vault = open_account(pm, borrower, 10 * WAD)
    series_id = pm["series"][(1_800, False)]
    margin.write(vault, series_id, WAD, borrower, {"from": borrower})
    positions = ref.positions_from_chain(margin.positions(vault))
    at = latest_timestamp() + 10
    # the first price from 2,000 up where the reference (equal to the contract, see section 7)
    # falls below the exact rule; the chain then answers at that price
    price = next(
        (
            price for price in range(2_000 * WAD, 2_300 * WAD, WAD)
            if ref.health_exact(positions, 0, 0, price, ratio_of(pm), SIGMA, at).maintenance
            > ref.health(positions, 0, 0, price, ratio_of(pm), SIGMA, at).maintenance
        ),
        2_088 * WAD,
    )
    set_price(pm, reporter, price, at)
    health = margin.requirement(vault, 0, 0)
    exact = ref.health_exact(positions, 0, 0, price, ratio_of(pm), SIGMA, at)
    maintenance_ok, initial_ok = health[2] >= exact.maintenance, health[3] >= exact.initial
    assert maintenance_ok and initial_ok, (
        f"requirement rounds in the account's favour at price {price}: maintenance {health[2]} < exact "
        f"{math.ceil(exact.maintenance)} (by {math.ceil(exact.maintenance - health[2])} wei), initial {health[3]} < exact "
        f"{math.ceil(exact.initial)}: _health measures every loss from today's value rounded DOWN (short costs "
        f"and time-value factors rounded up), so rounding at today's price shrinks every loss"
    )


def test_requirement__long_put__bounds_loss_from_reported_value_not_from_black_scholes_mark(pm, option_token, borrower, stranger, reporter):
    """How (b) reads: the requirement bounds the loss from the account's value as reported
    (a long at its intrinsic value, below Black-Scholes), not from its Black-Scholes mark.
    Five at-the-money puts alone: value 0 and maintenance 0, while their Black-Scholes value
    (~110 kUSD each) would drop on a rise; no scenario takes the account below value -
    maintenance at Black-Scholes prices."""
    margin = pm["margin"]
    vault = open_account(pm, borrower, 0)
    give_long(pm, option_token, borrower, vault, pm["series"][(2_000, False)], 5 * WAD, stranger)
    at = set_price(pm, reporter, PRICE)
    positions = ref.positions_from_chain(margin.positions(vault))
    health = margin.health(vault)
    assert (health[0], health[2], health[3]) == (0, 0, 0)
    bs_today = ref.bs_book_value(positions, 0, PRICE / WAD, SIGMA / WAD, at)
    assert 500 < bs_today < 600
    bs_to_bs = max(loss for _, loss in ref.bs_losses(positions, 0, 0, PRICE, ratio_of(pm), SIGMA, at, bs_today))
    assert bs_to_bs > 400
    worst_bs = min(value for _, _, value in ref.bs_scenario_values(positions, 0, 0, PRICE, ratio_of(pm), SIGMA, at)[1:])
    assert worst_bs >= (health[0] - health[2]) / WAD


@settings(max_examples=300)
@given(
    rows=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.integers(1, 50 * WAD), st.sampled_from(OPTION_STRIKES), st.sampled_from([0, 7, 30, 60, 365])),
        min_size=1, max_size=16,
    ),
    price=st.integers(1_000 * WAD, 3_000 * WAD),
    collateral=st.integers(0, 500 * WAD),
    debt=st.one_of(st.just(0), st.integers(1, 2_000_000 * WAD)),
)
def test_reference__any_random_book__bounds_black_scholes_initial_above_maintenance_rounds_down(rows, price, collateral, debt):
    """Properties (b), (c) and (d) on the reference alone (the tests above pin it to the
    contract to the wei), over many more random books than the chain can build: any positions
    (0 days to a year, 0 = expired), any price, collateral and debt."""
    now = 1_800_000_000
    positions = [
        ref.Position(is_call, is_short, amount, strike * WAD, now + days * DAY) for is_call, is_short, amount, strike, days in rows
    ]
    ratio = 15 * WAD // 10
    health = ref.health(positions, collateral, debt, price, ratio, SIGMA, now)
    losses = ref.bs_losses(positions, collateral, debt, price, ratio, SIGMA, now, health.value / WAD)
    assert health.maintenance / WAD >= max(loss for _, loss in losses) - black_scholes_tolerance(positions, collateral, price)
    assert health.initial >= health.maintenance
    scenario_part = ref.grid_extreme_maintenance(positions, collateral, debt, price, ratio, SIGMA, now)
    if scenario_part:
        assert health.initial > scenario_part
    exact = ref.health_exact(positions, collateral, debt, price, ratio, SIGMA, now, rounded_spots=True)
    assert health.value <= exact.value
    assert health.value - health.maintenance <= exact.value - exact.maintenance


def test_reference__plain_account__as_safe_as_the_ratio():
    """With no options and the default grid, the debt scenario (a fall of 1 - 1 / ratio) binds:
    the account may hold exactly the debt a plain vault may, within a few wei."""
    ratio = 15 * WAD // 10
    for collateral, price in ((10 * WAD, PRICE), (7 * WAD + 123, 1_234 * WAD + 5), (1_000 * WAD, 2_999 * WAD)):
        plain = max_safe_borrow(collateral, 0, RAY, price, ratio)
        margin = largest(lambda d: ref.health([], collateral, d, price, ratio, SIGMA, 0).opening, 0, collateral * price // WAD)
        assert abs(plain - margin) <= collateral // WAD + 2, (plain, margin)


# ================================================================== 2. writing, closing, longs
@pytest.mark.parametrize("strike,is_call", [(2_000, False), (2_200, True)])
def test_write__naked_option_up_to_initial_margin__passes(pm, option_token, borrower, stranger, strike, is_call):
    """A naked put (call) written partly collateralised: exactly the most the initial margin
    allows (the reference's bound, at the block's time) goes through."""
    margin, house = pm["margin"], pm["house"]
    series_id = pm["series"][(strike, is_call)]
    vault = open_account(pm, borrower, 10 * WAD)
    at = latest_timestamp() + 10
    amount = max_write(pm, vault, series_id, at)
    assert 5 * WAD < amount < 200 * WAD  # partly collateralised: 10 WETH backs this many
    set_next_timestamp(at)
    tx = margin.write(vault, series_id, amount, stranger, {"from": borrower})
    assert tx.events["PositionChanged"]["amount"] == amount and tx.events["PositionChanged"]["is_short"]
    assert tx.events["MarginWritten"]["amount"] == amount
    assert option_token(series_id).balanceOf(stranger) == amount
    assert house.series(series_id)["margin_written"] == amount
    (row,) = margin.positions(vault)
    assert (row[0], row[1], row[2], row[3]) == (series_id, is_call, True, amount)
    health = margin.health(vault)
    assert health[5] and tuple(health) == reference_health(pm, vault).as_tuple()


@pytest.mark.parametrize("strike,is_call", [(2_000, False), (2_200, True)])
def test_write__naked_option_one_wei_beyond_initial_margin__reverts(pm, option_token, borrower, stranger, strike, is_call):
    margin, house = pm["margin"], pm["house"]
    series_id = pm["series"][(strike, is_call)]
    vault = open_account(pm, borrower, 10 * WAD)
    at = latest_timestamp() + 10
    amount = max_write(pm, vault, series_id, at) + 1
    set_next_timestamp(at)
    with brownie.reverts("margin: initial margin"):
        margin.write(vault, series_id, amount, stranger, {"from": borrower})
    assert margin.account(vault)[1] == 0 and len(margin.positions(vault)) == 0
    assert option_token(series_id).totalSupply() == 0
    assert house.series(series_id)["margin_written"] == 0


def test_write__seventeenth_position__reverts_too_many_positions(pm, borrower, stranger):
    margin = pm["margin"]
    vault = open_account(pm, borrower, 1_000 * WAD)
    series = pm["all_series"]
    for series_id in series[:16]:
        margin.write(vault, series_id, WAD // 10, stranger, {"from": borrower})
    assert margin.account(vault)[1] == 16
    # an existing position may still grow
    margin.write(vault, series[0], WAD // 10, stranger, {"from": borrower})
    with brownie.reverts("margin: too many positions"):
        margin.write(vault, series[16], WAD // 10, stranger, {"from": borrower})
    assert margin.account(vault)[1] == 16
    assert series[16] not in [row[0] for row in margin.positions(vault)]


def test_deposit_long__seventeenth_position__reverts_too_many_positions(pm, option_token, borrower, stranger):
    margin = pm["margin"]
    vault = open_account(pm, borrower, 1_000 * WAD)
    series = pm["all_series"]
    for series_id in series[:16]:
        margin.write(vault, series_id, WAD // 10, stranger, {"from": borrower})
    pm["house"].write(series[16], WAD, borrower, {"from": stranger})
    option_token(series[16]).approve(margin, MAX_UINT256, {"from": borrower})
    with brownie.reverts("margin: too many positions"):
        margin.deposit_long(vault, series[16], WAD, {"from": borrower})
    assert option_token(series[16]).balanceOf(borrower) == WAD


def test_close__part_then_all_of_a_short__reduces_burns_and_removes(pm, option_token, borrower):
    margin, house = pm["margin"], pm["house"]
    put, call = pm["series"][(2_000, False)], pm["series"][(2_400, True)]
    vault = open_account(pm, borrower, 20 * WAD)
    margin.write(vault, put, 5 * WAD, borrower, {"from": borrower})
    margin.write(vault, call, 3 * WAD, borrower, {"from": borrower})
    tx = margin.close(vault, put, 2 * WAD, {"from": borrower})
    assert tx.events["PositionChanged"]["amount"] == 3 * WAD
    assert tx.events["MarginClosed"]["amount"] == 2 * WAD and tx.events["MarginClosed"]["account"] == borrower
    assert option_token(put).balanceOf(borrower) == option_token(put).totalSupply() == 3 * WAD
    assert house.series(put)["margin_written"] == 3 * WAD
    assert [(row[0], row[3]) for row in margin.positions(vault)] == [(put, 3 * WAD), (call, 3 * WAD)]
    margin.close(vault, put, 3 * WAD, {"from": borrower})
    # the last position takes the closed one's place
    assert [(row[0], row[3]) for row in margin.positions(vault)] == [(call, 3 * WAD)]
    assert margin.account(vault)[1] == 1
    assert option_token(put).totalSupply() == 0 and house.series(put)["margin_written"] == 0


def test_close__more_than_the_short__reverts(pm, option_token, borrower):
    margin = pm["margin"]
    put = pm["series"][(2_000, False)]
    vault = open_account(pm, borrower, 20 * WAD)
    margin.write(vault, put, 5 * WAD, borrower, {"from": borrower})
    with brownie.reverts("margin: more than the position"):
        margin.close(vault, put, 5 * WAD + 1, {"from": borrower})
    with brownie.reverts("margin: no such position"):
        margin.close(vault, pm["series"][(1_600, False)], WAD, {"from": borrower})
    assert margin.positions(vault)[0][3] == 5 * WAD and option_token(put).totalSupply() == 5 * WAD


def test_close__a_long__reverts_other_way(pm, option_token, borrower, stranger):
    margin = pm["margin"]
    put = pm["series"][(1_800, False)]
    vault = open_account(pm, borrower, 20 * WAD)
    give_long(pm, option_token, borrower, vault, put, 2 * WAD, stranger)
    with brownie.reverts("margin: position is the other way"):
        margin.close(vault, put, WAD, {"from": borrower})
    with brownie.reverts("margin: position is the other way"):
        margin.write(vault, put, WAD, borrower, {"from": borrower})
    assert margin.positions(vault)[0][2] is False and margin.positions(vault)[0][3] == 2 * WAD


def test_deposit_long_then_withdraw_long__moves_options_in_and_out(pm, option_token, borrower, stranger, treasury):
    margin = pm["margin"]
    call = pm["series60"][(2_200, True)]
    vault = open_account(pm, borrower, WAD)
    pm["house"].write(call, 4 * WAD, borrower, {"from": stranger})
    token = option_token(call)
    token.approve(margin, MAX_UINT256, {"from": borrower})
    tx = margin.deposit_long(vault, call, 4 * WAD, {"from": borrower})
    assert tx.events["PositionChanged"]["amount"] == 4 * WAD and not tx.events["PositionChanged"]["is_short"]
    assert token.balanceOf(margin) == 4 * WAD and token.balanceOf(borrower) == 0
    row = margin.positions(vault)[0]
    assert (row[0], row[1], row[2], row[3], row[4], row[5]) == (call, True, False, 4 * WAD, 2_200 * WAD, pm["expiry60"])
    margin.withdraw_long(vault, call, WAD, treasury, {"from": borrower})
    assert token.balanceOf(treasury) == WAD and token.balanceOf(margin) == 3 * WAD
    assert margin.positions(vault)[0][3] == 3 * WAD
    with brownie.reverts("margin: more than the position"):
        margin.withdraw_long(vault, call, 3 * WAD + 1, treasury, {"from": borrower})
    margin.withdraw_long(vault, call, 3 * WAD, borrower, {"from": borrower})
    assert margin.account(vault)[1] == 0 and token.balanceOf(borrower) == 3 * WAD


def test_withdraw_long__hedge_of_a_short_beyond_initial_margin__reverts(pm, option_token, borrower, stranger):
    """A put spread (long 1,800 put under a short 2,000 put) needs less than the naked short:
    with just enough collateral for the spread, taking the long out reverts."""
    margin = pm["margin"]
    long_put, short_put = pm["series"][(1_800, False)], pm["series"][(2_000, False)]
    at = latest_timestamp() + 1_000
    spread = [
        ref.Position(False, False, 10 * WAD, 1_800 * WAD, pm["expiry"], long_put),
        ref.Position(False, True, 10 * WAD, 2_000 * WAD, pm["expiry"], short_put),
    ]
    collateral = largest(lambda c: not ref.health(spread, c, 0, PRICE, ratio_of(pm), SIGMA, at).opening, 0, 100 * WAD) + 1
    collateral = -(-collateral // WAD) * WAD  # whole WETH
    assert ref.health(spread, collateral, 0, PRICE, ratio_of(pm), SIGMA, at).opening
    assert not ref.health(spread[1:], collateral, 0, PRICE, ratio_of(pm), SIGMA, at).opening
    vault = open_account(pm, borrower, collateral)
    give_long(pm, option_token, borrower, vault, long_put, 10 * WAD, stranger)
    margin.write(vault, short_put, 10 * WAD, borrower, {"from": borrower})
    with brownie.reverts("margin: initial margin"):
        margin.withdraw_long(vault, long_put, 10 * WAD, borrower, {"from": borrower})
    assert margin.positions(vault)[0][3] == 10 * WAD
    assert option_token(long_put).balanceOf(margin) == 10 * WAD and option_token(long_put).balanceOf(borrower) == 0


def test_withdraw__beyond_initial_margin__reverts(pm, borrower):
    margin, weth = pm["margin"], pm["weth"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, pm["series"][(2_000, False)], 20 * WAD, borrower, {"from": borrower})
    at = latest_timestamp() + 10
    collateral, _ = vault_state(pm, vault)
    ctx = context(pm, vault, at)
    most = largest(lambda w: health_in(ctx, collateral=collateral - w).opening, 0, collateral)
    assert 0 < most < collateral
    set_next_timestamp(at)
    before = weth.balanceOf(borrower)
    with brownie.reverts("margin: initial margin"):
        margin.withdraw(vault, most + 1, borrower, {"from": borrower})
    assert vault_state(pm, vault)[0] == collateral and weth.balanceOf(borrower) == before
    margin.withdraw(vault, most // 2, borrower, {"from": borrower})
    assert weth.balanceOf(borrower) == before + most // 2


OWNER_ONLY = {
    "withdraw": lambda m, v, s: m.withdraw(v, WAD, s, {"from": s}),
    "borrow": lambda m, v, s: m.borrow(v, 100 * WAD, s, {"from": s}),
    "write": lambda m, v, s: m.write(v, 1, WAD, s, {"from": s}),
    "close": lambda m, v, s: m.close(v, 1, WAD, {"from": s}),
    "deposit_long": lambda m, v, s: m.deposit_long(v, 1, WAD, {"from": s}),
    "withdraw_long": lambda m, v, s: m.withdraw_long(v, 1, WAD, s, {"from": s}),
    "release_account": lambda m, v, s: m.release_account(v, {"from": s}),
}


@pytest.mark.parametrize("action", sorted(OWNER_ONLY))
def test_account_action__not_the_owner__reverts(pm, borrower, stranger, action):
    margin = pm["margin"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, 1, WAD, borrower, {"from": borrower})
    # the state (health moves with time itself: the reverted transaction mines a block)
    before = (tuple(margin.account(vault)), pm["engine"].vault_position(vault), tuple(margin.positions(vault)))
    with brownie.reverts("margin: not the account owner"):
        OWNER_ONLY[action](margin, vault, stranger)
    assert (tuple(margin.account(vault)), pm["engine"].vault_position(vault), tuple(margin.positions(vault))) == before


def test_write__series_of_another_collateral_type__reverts(pm, wbtc_type, borrower, admin):
    margin, house = pm["margin"], pm["house"]
    wbtc_series = house.create_series(wbtc_type, 30_000 * WAD, pm["expiry"], True, {"from": admin}).return_value
    vault = open_account(pm, borrower, 10 * WAD)
    with brownie.reverts("margin: series of another collateral type"):
        margin.write(vault, wbtc_series, WAD, borrower, {"from": borrower})
    assert margin.account(vault)[1] == 0 and house.series(wbtc_series)["margin_written"] == 0


def test_open_account__module_owns_the_vault_for_its_user(pm, borrower):
    margin, engine = pm["margin"], pm["engine"]
    tx = margin.open_account(pm["weth_type"], 3 * WAD, {"from": borrower})
    vault = tx.return_value
    assert tx.events["AccountOpened"]["owner"] == borrower and tx.events["AccountOpened"]["vault_id"] == vault
    assert engine.vault_position(vault) == (margin.address, pm["weth_type"], 3 * WAD, 0)
    assert tuple(margin.account(vault)) == (borrower, 0, 0)
    with brownie.reverts("engine: not vault owner or operator"):
        engine.borrow(vault, 100 * WAD, borrower, {"from": borrower})


# ================================================================== 3. CDP + options
def test_borrow__long_put_hedge__borrows_more_than_the_ratio_allows(pm, option_token, borrower, stranger):
    margin, engine = pm["margin"], pm["engine"]
    vault = open_account(pm, borrower, 10 * WAD)
    give_long(pm, option_token, borrower, vault, pm["series"][(2_000, False)], 10 * WAD, stranger)
    plain = engine.open_vault(pm["weth_type"], 10 * WAD, 0, {"from": borrower}).return_value
    at = latest_timestamp() + 10
    plain_max = max_safe_borrow(10 * WAD, 0, rate_at(engine, pm["weth_type"], at), PRICE, ratio_of(pm))
    hedged_max = max_margin_borrow(pm, vault, at)
    assert hedged_max > plain_max + 5_000 * WAD  # the put keeps the account's value at 20,000 in every fall
    set_next_timestamp(at)
    margin.borrow(vault, hedged_max, borrower, {"from": borrower})
    assert vault_state(pm, vault)[1] >= hedged_max
    assert margin.health(vault)[5]
    with brownie.reverts("engine: vault unsafe"):
        engine.borrow(plain, plain_max + WAD, borrower, {"from": borrower})
    with brownie.reverts("engine: vault unsafe"):
        margin.borrow(vault, WAD, borrower, {"from": borrower})


def test_borrow__plain_account__borrows_exactly_what_a_plain_vault_can(pm, borrower):
    margin, engine = pm["margin"], pm["engine"]
    vault = open_account(pm, borrower, 10 * WAD)
    plain = engine.open_vault(pm["weth_type"], 10 * WAD, 0, {"from": borrower}).return_value
    at = latest_timestamp() + 10
    plain_max = max_safe_borrow(10 * WAD, 0, rate_at(engine, pm["weth_type"], at), PRICE, ratio_of(pm))
    account_max = max_margin_borrow(pm, vault, at)
    assert abs(account_max - plain_max) <= 12, (account_max, plain_max)
    set_next_timestamp(at)
    with brownie.reverts("engine: vault unsafe"):
        margin.borrow(vault, account_max + 1, borrower, {"from": borrower})
    set_next_timestamp(at + 1)
    with brownie.reverts("engine: vault unsafe"):
        engine.borrow(plain, max_safe_borrow(10 * WAD, 0, rate_at(engine, pm["weth_type"], at + 1), PRICE, ratio_of(pm)) + 1, borrower, {"from": borrower})
    at = latest_timestamp() + 10
    account_max = max_margin_borrow(pm, vault, at)
    set_next_timestamp(at)
    margin.borrow(vault, account_max, borrower, {"from": borrower})
    at = latest_timestamp() + 10
    plain_max = max_safe_borrow(10 * WAD, 0, rate_at(engine, pm["weth_type"], at), PRICE, ratio_of(pm))
    set_next_timestamp(at)
    engine.borrow(plain, plain_max, borrower, {"from": borrower})
    assert abs(account_max - plain_max) <= 12


def test_borrow__short_call__borrows_less_than_a_plain_vault(pm, borrower):
    margin, engine = pm["margin"], pm["engine"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, pm["series"][(2_200, True)], 5 * WAD, borrower, {"from": borrower})
    at = latest_timestamp() + 10
    plain_max = max_safe_borrow(10 * WAD, 0, rate_at(engine, pm["weth_type"], at), PRICE, ratio_of(pm))
    account_max = max_margin_borrow(pm, vault, at)
    assert account_max < plain_max - 100 * WAD
    set_next_timestamp(at)
    with brownie.reverts("engine: vault unsafe"):
        margin.borrow(vault, plain_max, borrower, {"from": borrower})
    assert vault_state(pm, vault)[1] == 0
    set_next_timestamp(at + 1)
    margin.borrow(vault, account_max - WAD, borrower, {"from": borrower})
    assert margin.health(vault)[5]


def test_liquidator__account_with_options_below_maintenance__refused_vault_safe(pm, liquidation_system, borrower, keeper, reporter):
    margin, engine = pm["margin"], pm["engine"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, pm["series"][(2_000, False)], 5 * WAD, borrower, {"from": borrower})
    margin.borrow(vault, 5_000 * WAD, borrower, {"from": borrower})
    set_price(pm, reporter, 1_300 * WAD)
    assert not margin.health(vault)[4]
    before = engine.vault_position(vault)
    with brownie.reverts("engine: vault safe"):
        liquidation_system["liquidator"].liquidate(vault, keeper, {"from": keeper})
    assert engine.vault_position(vault) == before


def test_release_account__no_options__plain_vault_back_to_its_owner_under_the_ratio(pm, borrower, admin):
    """Released, the vault is its owner's and the ratio decides again. With the liquidation
    ratio at 1.1 the two rules differ (the 16 % grid fall x 1.25 binds the account: at most
    80 % of its value; the ratio allows 1 / 1.1 = 90.9 %)."""
    margin, engine = pm["margin"], pm["engine"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.borrow(vault, 5_000 * WAD, borrower, {"from": borrower})
    engine.set_liquidation_ratio(pm["weth_type"], 11 * WAD // 10, {"from": admin})
    with brownie.reverts("engine: vault unsafe"):
        margin.borrow(vault, 12_000 * WAD, borrower, {"from": borrower})
    tx = margin.release_account(vault, {"from": borrower})
    assert tx.events["AccountReleased"]["owner"] == borrower and tx.events["AccountReleased"]["vault_id"] == vault
    owner, _, collateral, _ = engine.vault_position(vault)
    assert owner == borrower and collateral == 10 * WAD
    with brownie.reverts("margin: not an account"):
        margin.account(vault)
    engine.borrow(vault, 12_000 * WAD, borrower, {"from": borrower})  # the ratio allows it
    at = latest_timestamp() + 10
    _, _, collateral, normalized_debt = engine.vault_position(vault)
    room = max_safe_borrow(collateral, normalized_debt, rate_at(engine, pm["weth_type"], at), PRICE, 11 * WAD // 10)
    set_next_timestamp(at)
    with brownie.reverts("engine: vault unsafe"):
        engine.borrow(vault, room + 1, borrower, {"from": borrower})


def test_release_account__with_positions__reverts(pm, borrower):
    margin, engine = pm["margin"], pm["engine"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, pm["series"][(1_600, False)], WAD, borrower, {"from": borrower})
    with brownie.reverts("margin: positions open"):
        margin.release_account(vault, {"from": borrower})
    assert engine.vault_position(vault)[0] == margin.address and margin.account(vault)[0] == borrower


# ================================================================== 4. expiry
def settle_series(pm, reporter, series_ids, price, after=3_600):
    """Move past the series' expiry, report `price` and settle them."""
    expiry = max(terms(pm, s)[2] for s in series_ids)
    set_price(pm, reporter, price, expiry + after)
    for series_id in series_ids:
        pm["house"].settle(series_id, {"from": reporter})


def test_settle_position__short_call_in_the_money__pays_collateral_and_unblocks_holders(pm, option_token, borrower, stranger, keeper, reporter):
    margin, house, weth = pm["margin"], pm["house"], pm["weth"]
    call = pm["series"][(2_000, True)]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, call, 4 * WAD, stranger, {"from": borrower})
    settle_series(pm, reporter, [call], 2_500 * WAD)
    with brownie.reverts("options: margined writers not settled yet"):
        house.redeem(call, 4 * WAD, stranger, {"from": stranger})
    owed = ref.short_obligation(True, 4 * WAD, 2_000 * WAD, 2_500 * WAD)
    assert owed == 4 * WAD // 5
    house_before = weth.balanceOf(house)
    tx = margin.settle_position(vault, call, {"from": keeper})
    event = tx.events["PositionSettled"]
    assert (event["is_short"], event["amount"], event["paid"], event["shortfall"]) == (True, 4 * WAD, owed, 0)
    assert tx.events["MarginSettled"]["paid"] == owed and tx.events["MarginSettled"]["shortfall"] == 0
    assert tx.return_value == owed
    assert vault_state(pm, vault)[0] == 10 * WAD - owed
    assert weth.balanceOf(house) == house_before + owed
    assert margin.account(vault)[1] == 0 and house.series(call)["margin_written"] == 0
    paid = house.redeem(call, 4 * WAD, stranger, {"from": stranger}).return_value
    assert paid == 4 * ref.holder_payoff(True, 2_000 * WAD, 2_500 * WAD) == owed


def test_settle_position__unsettled_series__reverts(pm, borrower, keeper):
    margin = pm["margin"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, pm["series"][(2_000, True)], WAD, borrower, {"from": borrower})
    with brownie.reverts("margin: series not settled"):
        margin.settle_position(vault, pm["series"][(2_000, True)], {"from": keeper})
    assert margin.account(vault)[1] == 1


def test_settle_position__short_put_on_vault_without_debt__borrows_the_dust_rest_to_owner(pm, borrower, stranger, keeper, reporter):
    margin, house, token, engine = pm["margin"], pm["house"], pm["debt_token"], pm["engine"]
    put = pm["series"][(2_000, False)]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, put, WAD // 10, stranger, {"from": borrower})
    settle_series(pm, reporter, [put], 1_900 * WAD)
    owed = ref.short_obligation(False, WAD // 10, 2_000 * WAD, 1_900 * WAD)
    assert owed == 10 * WAD < DUST
    house_before, owner_before = token.balanceOf(house), token.balanceOf(borrower)
    tx = margin.settle_position(vault, put, {"from": keeper})
    assert tx.events["PositionSettled"]["paid"] == owed and tx.events["PositionSettled"]["shortfall"] == 0
    assert token.balanceOf(house) == house_before + owed
    assert token.balanceOf(borrower) == owner_before + DUST - owed
    assert vault_state(pm, vault)[1] >= DUST
    assert engine.vault_position(vault)[2] == 10 * WAD
    paid = house.redeem(put, WAD // 10, stranger, {"from": stranger}).return_value
    assert paid == owed


def test_settle_position__short_put_on_vault_with_debt__borrows_what_it_owes(pm, borrower, stranger, keeper, reporter):
    margin, house, token = pm["margin"], pm["house"], pm["debt_token"]
    put = pm["series"][(2_200, False)]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.borrow(vault, 1_000 * WAD, borrower, {"from": borrower})
    margin.write(vault, put, 3 * WAD, stranger, {"from": borrower})
    settle_series(pm, reporter, [put], 1_950 * WAD + 7)
    owed = ref.short_obligation(False, 3 * WAD, 2_200 * WAD, 1_950 * WAD + 7)
    normalized_before = pm["engine"].vault_position(vault)[3]
    owner_before = token.balanceOf(borrower)
    at = pin()
    margin.settle_position(vault, put, {"from": keeper})
    rate = rate_at(pm["engine"], pm["weth_type"], at)
    assert pm["engine"].vault_position(vault)[3] == normalized_before + normalize_up(owed, rate)
    assert token.balanceOf(borrower) == owner_before
    assert token.balanceOf(house) >= owed


def test_settle_position__long_call__payoff_deposited_into_the_vault(pm, option_token, borrower, stranger, keeper, reporter):
    margin = pm["margin"]
    call = pm["series"][(1_800, True)]
    vault = open_account(pm, borrower, 10 * WAD)
    give_long(pm, option_token, borrower, vault, call, 2 * WAD, stranger)
    settle_series(pm, reporter, [call], 2_400 * WAD)
    payoff = 2 * ref.holder_payoff(True, 1_800 * WAD, 2_400 * WAD)
    assert payoff == WAD // 2
    tx = margin.settle_position(vault, call, {"from": keeper})
    assert tx.events["PositionSettled"]["paid"] == payoff and not tx.events["PositionSettled"]["is_short"]
    assert vault_state(pm, vault)[0] == 10 * WAD + payoff
    assert margin.account(vault)[1] == 0 and option_token(call).balanceOf(margin) == 0


def test_settle_position__long_put__payoff_repays_debt_rest_to_owner(pm, option_token, borrower, stranger, keeper, reporter):
    margin, token, engine = pm["margin"], pm["debt_token"], pm["engine"]
    put = pm["series"][(2_200, False)]
    vault = open_account(pm, borrower, 10 * WAD)
    give_long(pm, option_token, borrower, vault, put, 5 * WAD, stranger)
    margin.borrow(vault, 1_000 * WAD, borrower, {"from": borrower})
    settle_series(pm, reporter, [put], 1_800 * WAD)
    payoff = 5 * ref.holder_payoff(False, 2_200 * WAD, 1_800 * WAD)
    assert payoff == 2_000 * WAD
    normalized = engine.vault_position(vault)[3]
    owner_before = token.balanceOf(borrower)
    at = pin()
    tx = margin.settle_position(vault, put, {"from": keeper})
    debt = mul_div(normalized, rate_at(engine, pm["weth_type"], at), RAY, True)
    assert 1_000 * WAD < debt < 1_010 * WAD  # 30 days of fees
    assert tx.events["PositionSettled"]["paid"] == payoff
    assert engine.vault_position(vault)[3] == 0
    assert token.balanceOf(borrower) == owner_before + payoff - debt
    assert margin.account(vault)[1] == 0


def test_settle_position__long_put_payoff_below_debt__repays_part(pm, option_token, borrower, stranger, keeper, reporter):
    margin, token, engine = pm["margin"], pm["debt_token"], pm["engine"]
    put = pm["series"][(2_000, False)]
    vault = open_account(pm, borrower, 10 * WAD)
    give_long(pm, option_token, borrower, vault, put, WAD, stranger)
    margin.borrow(vault, 5_000 * WAD, borrower, {"from": borrower})
    settle_series(pm, reporter, [put], 1_500 * WAD)
    normalized_before = engine.vault_position(vault)[3]
    owner_before = token.balanceOf(borrower)
    at = pin()
    margin.settle_position(vault, put, {"from": keeper})
    rate = rate_at(engine, pm["weth_type"], at)
    assert engine.vault_position(vault)[3] == normalized_before - mul_div(500 * WAD, RAY, rate, False)
    assert token.balanceOf(borrower) == owner_before


def test_settle_position__long_put_payoff_just_below_debt__still_settles(pm, option_token, borrower, stranger, keeper, reporter):
    """A long put whose payoff is a little below the vault's debt (less than the dust
    below): settling it must not revert for good. The payoff repays 150 kUSD of a ~200 kUSD
    debt, which would leave ~50 kUSD, below the 100 kUSD dust."""
    margin = pm["margin"]
    put = pm["series"][(2_000, False)]
    vault = open_account(pm, borrower, 10 * WAD)
    give_long(pm, option_token, borrower, vault, put, WAD, stranger)
    margin.borrow(vault, 200 * WAD, borrower, {"from": borrower})
    settle_series(pm, reporter, [put], 1_850 * WAD)
    reason = revert_message(lambda: margin.settle_position(vault, put, {"from": keeper}))
    assert reason is None, (
        f"settle_position of a long put reverts ({reason!r}): PortfolioMargin._credit repays the payoff "
        f"(150 kUSD) against a debt of ~200 kUSD, leaving less than the dust, which the engine refuses; "
        f"the position stays open until the owner repays"
    )
    assert margin.account(vault)[1] == 0


def test_settle_position__call_writer_cannot_cover__shortfall_recorded_holders_paid_pro_rata(pm, borrower, stranger, keeper, treasury, reporter):
    margin, house = pm["margin"], pm["house"]
    call = pm["series"][(2_000, True)]
    vault = open_account(pm, borrower, 2 * WAD)
    at = latest_timestamp() + 10
    written = max_write(pm, vault, call, at) // 10**16 * 10**16
    assert written > 3 * WAD
    set_next_timestamp(at)
    margin.write(vault, call, written, stranger, {"from": borrower})
    house.write(call, 3 * WAD, treasury, {"from": keeper})  # a fully collateralised writer
    settle_price = 20_000 * WAD
    settle_series(pm, reporter, [call], settle_price)
    payoff = ref.holder_payoff(True, 2_000 * WAD, settle_price)
    owed = ref.short_obligation(True, written, 2_000 * WAD, settle_price)
    assert owed > 2 * WAD
    tx = margin.settle_position(vault, call, {"from": keeper})
    assert tx.events["PositionSettled"]["paid"] == 2 * WAD
    assert tx.events["PositionSettled"]["shortfall"] == owed - 2 * WAD
    assert tx.events["MarginSettled"]["shortfall"] == owed - 2 * WAD
    assert vault_state(pm, vault)[0] == 0
    series = house.series(call)
    funds, supply = series["funds"], series["supply"]
    assert supply == written + 3 * WAD
    assert funds == mul_div(3 * WAD, payoff, WAD, True) + 2 * WAD
    first = house.redeem(call, written, stranger, {"from": stranger}).return_value
    second = house.redeem(call, 3 * WAD, treasury, {"from": treasury}).return_value
    assert first == mul_div(written, funds, supply, False)
    assert first <= mul_div(written, payoff, WAD, False) and second <= mul_div(3 * WAD, payoff, WAD, False)
    # pro rata: the same per option, within a wei
    assert abs(first * 3 * WAD - second * written) <= written + 3 * WAD
    assert first + second <= funds


# ================================================================== 5. liquidation of writers
def underwater_puts(pm, borrower, reporter, price=1_650 * WAD):
    """A 10 WETH account short 2,000 puts (30 days), 90 % of what its initial margin allows
    (to 0.01), then WETH falls to `price`: below maintenance. -> (vault, series, amount)"""
    margin = pm["margin"]
    put = pm["series"][(2_000, False)]
    vault = open_account(pm, borrower, 10 * WAD)
    at = latest_timestamp() + 10
    amount = max_write(pm, vault, put, at) * 9 // 10 // 10**16 * 10**16
    set_next_timestamp(at)
    margin.write(vault, put, amount, borrower, {"from": borrower})
    set_price(pm, reporter, price)
    assert not margin.health(vault)[4]
    return vault, put, amount


def test_start_liquidation__healthy_account__reverts(pm, borrower, keeper):
    margin = pm["margin"]
    vault = open_account(pm, borrower, 10 * WAD)
    margin.write(vault, pm["series"][(2_000, False)], WAD, borrower, {"from": borrower})
    with brownie.reverts("margin: account healthy"):
        margin.start_liquidation(vault, {"from": keeper})
    assert margin.account(vault)[2] == 0


def test_liquidate__healthy_account__reverts(pm, borrower, keeper, reporter):
    margin = pm["margin"]
    vault, put, amount = underwater_puts(pm, borrower, reporter)
    margin.start_liquidation(vault, {"from": keeper})
    set_price(pm, reporter, 2_400 * WAD)
    assert margin.health(vault)[4]
    pm["house"].write(put, WAD, keeper, {"from": keeper})
    with brownie.reverts("margin: account healthy"):
        margin.liquidate(vault, put, WAD, keeper, {"from": keeper})
    assert margin.positions(vault)[0][3] == amount


def test_liquidate__ramp_not_started__reverts(pm, borrower, keeper, reporter):
    margin = pm["margin"]
    vault, put, amount = underwater_puts(pm, borrower, reporter)
    pm["house"].write(put, WAD, keeper, {"from": keeper})
    with brownie.reverts("margin: liquidation not started"):
        margin.liquidate(vault, put, WAD, keeper, {"from": keeper})
    assert margin.positions(vault)[0][3] == amount


def test_start_liquidation__running__reverts_until_twice_the_ramp(pm, borrower, keeper, reporter):
    margin = pm["margin"]
    vault, _, _ = underwater_puts(pm, borrower, reporter)
    started = pin()
    tx = margin.start_liquidation(vault, {"from": keeper})
    assert tx.events["LiquidationStarted"]["keeper"] == keeper and margin.account(vault)[2] == started
    set_price(pm, reporter, 1_650 * WAD, started + 2 * 3_600 - 1)
    # exactly twice the ramp, pinned: the block after the report would otherwise take the
    # wall clock's next second on a loaded machine, past the bound
    set_next_timestamp(started + 2 * 3_600)
    with brownie.reverts("margin: liquidation running"):
        margin.start_liquidation(vault, {"from": keeper})
    set_price(pm, reporter, 1_650 * WAD, started + 2 * 3_600 + 1)
    restarted = pin(1)
    margin.start_liquidation(vault, {"from": keeper})
    assert margin.account(vault)[2] == restarted


def predicted_ramp_price(pm, vault, series_id, at, is_short):
    """The ramp's price (WAD per option) for a position at time `at`, from the reference."""
    is_call, strike, expiry = terms(pm, series_id)
    params = params_of(pm)
    progress = ref.progress_bps(pm["margin"].account(vault)[2], at, params.ramp_seconds)
    price = pm["engine"].fresh_price(pm["weth_type"])
    fair = 0 if is_short else pm["pricer"].black_scholes(price, strike, SIGMA, expiry - at, is_call)
    return ref.ramp_price(price, strike, is_call, SIGMA, expiry - at, progress, params.max_bonus_bps, is_short,
                          fair), progress


def liquidate_short_at(pm, vault, series_id, amount, at, liquidator):
    """Liquidate `amount` of a short at `at`; checks the pay against the reference and the
    account never worse off; returns the collateral paid."""
    margin = pm["margin"]
    price = pm["engine"].fresh_price(pm["weth_type"])
    collateral, debt = vault_state(pm, vault, at)
    positions = ref.positions_from_chain(margin.positions(vault))
    before = reference_health(pm, vault, now=at, positions=positions, collateral=collateral, debt=debt)
    ramp, progress = predicted_ramp_price(pm, vault, series_id, at, True)
    expected = ref.short_liquidation_collateral(ramp, amount, price, collateral)
    weth_before = pm["weth"].balanceOf(liquidator)
    supply_before = pm["house"].series(series_id)["supply"]
    set_next_timestamp(at)
    tx = margin.liquidate(vault, series_id, amount, liquidator, {"from": liquidator})
    event = tx.events["PositionLiquidated"]
    assert (event["is_short"], event["amount"], event["price"], event["progress_bps"], event["collateral"], event["repaid"]) == (
        True, amount, ramp, progress, expected, 0,
    )
    assert tx.return_value == expected
    assert pm["weth"].balanceOf(liquidator) == weth_before + expected
    assert vault_state(pm, vault)[0] == collateral - expected
    assert pm["house"].series(series_id)["supply"] == supply_before - amount
    after = margin.health(vault)
    assert spare(after) >= spare(before)
    assert tuple(after) == reference_health(pm, vault).as_tuple()
    return expected


def test_ramp_price__no_ramp__zero_then_moves_from_intrinsic_to_bound_plus_bonus(pm, borrower, keeper, reporter):
    """The short's ramp price: 0 before a start; then from the intrinsic value up to the
    option's upper bound (OptionPricer.value_bound) x (1 + max bonus) at the ramp's end,
    linearly; the view agrees with the reference at every block."""
    margin, pricer = pm["margin"], pm["pricer"]
    vault, put, _ = underwater_puts(pm, borrower, reporter)
    assert margin.ramp_price(vault, put) == 0
    started = pin()
    margin.start_liquidation(vault, {"from": keeper})
    _, strike, expiry = terms(pm, put)
    spot = pm["engine"].fresh_price(pm["weth_type"])
    seen = []
    for elapsed in (0, 900, 1_800, 3_599, 3_600, 5_000):
        if elapsed:
            set_price(pm, reporter, spot, started + elapsed)  # a block then, the price fresh
        at = latest_timestamp()
        assert at == started + elapsed
        expected, progress = predicted_ramp_price(pm, vault, put, at, True)
        assert margin.ramp_price(vault, put) == expected
        assert progress == min(BPS, BPS * elapsed // 3_600)
        seen.append(expected)
        if elapsed == 0:
            assert expected == strike - spot  # the intrinsic value
        if elapsed >= 3_600:
            upper = pricer.value_bound(spot, strike, SIGMA, expiry - at, False)
            assert expected == upper * (BPS + 1_000) // BPS
    during = seen[:-1]  # 0 .. 3,600 s: the ramp runs; after it, only the time value decays
    assert during == sorted(during) and during[0] < during[-1]


def test_liquidate__short_later_in_the_ramp__pays_more_collateral_partially(pm, borrower, keeper, reporter):
    """Partial liquidations of a short put at 600 s and 1,800 s into the ramp: the liquidator
    burns options it wrote at the house and receives the ramp's price / spot in WETH per
    option (rounded down); the later one pays more."""
    margin = pm["margin"]
    vault, put, amount = underwater_puts(pm, borrower, reporter)
    pm["house"].write(put, 10 * WAD, keeper, {"from": keeper})
    started = pin()
    margin.start_liquidation(vault, {"from": keeper})
    early = liquidate_short_at(pm, vault, put, WAD, started + 600, keeper)
    assert margin.positions(vault)[0][3] == amount - WAD
    assert not margin.health(vault)[4]
    late = liquidate_short_at(pm, vault, put, WAD, started + 1_800, keeper)
    assert late > early
    assert margin.positions(vault)[0][3] == amount - 2 * WAD


def test_liquidate__short_at_the_ramp_end__whole_position(pm, borrower, keeper, reporter):
    margin = pm["margin"]
    vault, put, amount = underwater_puts(pm, borrower, reporter)
    pm["house"].write(put, amount, keeper, {"from": keeper})
    started = pin()
    margin.start_liquidation(vault, {"from": keeper})
    set_price(pm, reporter, 1_650 * WAD, started + 3_600 + 5)
    liquidate_short_at(pm, vault, put, amount, started + 3_600 + 10, keeper)
    assert margin.account(vault)[1] == 0 and len(margin.positions(vault)) == 0


def test_liquidate__without_the_options__reverts(pm, borrower, keeper, stranger, reporter):
    margin = pm["margin"]
    vault, put, amount = underwater_puts(pm, borrower, reporter)
    margin.start_liquidation(vault, {"from": keeper})
    with brownie.reverts("option: insufficient balance"):
        margin.liquidate(vault, put, WAD, stranger, {"from": stranger})
    assert margin.positions(vault)[0][3] == amount


def covered_call_with_loan(pm, borrower, stranger, strike, calls, expiry_key, collateral, loan):
    margin = pm["margin"]
    call = pm[expiry_key][(strike, True)]
    vault = open_account(pm, borrower, collateral)
    margin.write(vault, call, calls, stranger, {"from": borrower})
    margin.borrow(vault, loan, borrower, {"from": borrower})
    return vault, call


def excess_change(pm, vault, series_id, amount, at, max_bonus_bps, ctx=None):
    """value - debt - maintenance after minus before liquidating `amount` of a short at `at`
    with `max_bonus_bps` (reference, over the chain's state or a context of it)."""
    is_call, strike, expiry = terms(pm, series_id)
    ctx = dict(ctx or context(pm, vault, at), now=at)
    ctx["debt"] = vault_state(pm, vault, at)[1] if ctx["debt"] else 0
    progress = ref.progress_bps(pm["margin"].account(vault)[2], at, ctx["params"].ramp_seconds)
    ramp = ref.ramp_price(ctx["price"], strike, is_call, ctx["sigma"], expiry - at, progress, max_bonus_bps, True)
    paid = ref.short_liquidation_collateral(ramp, amount, ctx["price"], ctx["collateral"])
    before = health_in(ctx)
    after = health_in(ctx, collateral=ctx["collateral"] - paid,
                      positions=with_position(ctx["positions"], pm, series_id, True, -amount, {series_id: (is_call, strike, expiry)}))
    return spare(after) - spare(before)


def test_liquidate__oversized_bonus__reverts_would_worsen_the_account(pm, borrower, stranger, keeper, reporter, admin):
    """Covered calls under a loan (16 WETH, 3 calls at 1,600, 60 days, 20,000 kUSD) after WETH
    falls to 1,650. Half-way through the ramp, with a 25 % max bonus the pay for the calls
    exceeds what closing them frees and the module refuses; with the default 10 % the same
    liquidation improves the account and goes through."""
    margin = pm["margin"]
    vault, call = covered_call_with_loan(pm, borrower, stranger, 1_600, 3 * WAD, "series60", 16 * WAD, 20_000 * WAD)
    set_price(pm, reporter, 1_650 * WAD)
    assert not margin.health(vault)[4]
    tx = margin.set_params(ref.DEFAULT_PARAMS.with_(max_bonus_bps=2_500).as_tuple(), {"from": admin})
    assert tx.events["ParamsSet"]["max_bonus_bps"] == 2_500
    started = pin()
    margin.start_liquidation(vault, {"from": keeper})
    # the premise (reference): a moment where 25 % worsens the account and 10 % does not,
    # a second later too
    ctx = context(pm, vault)
    at = next(
        started + elapsed for elapsed in range(60, 3_600, 30)
        if excess_change(pm, vault, call, WAD, started + elapsed, 2_500, ctx) < 0
        and excess_change(pm, vault, call, WAD, started + elapsed + 2, 1_000, ctx) > 0
    )
    set_next_timestamp(at)
    with brownie.reverts("margin: liquidation would worsen the account"):
        margin.liquidate(vault, call, WAD, stranger, {"from": stranger})
    assert margin.positions(vault)[0][3] == 3 * WAD and vault_state(pm, vault)[0] == 16 * WAD
    set_next_timestamp(at + 1)
    margin.set_params(ref.DEFAULT_PARAMS.as_tuple(), {"from": admin})
    liquidate_short_at(pm, vault, call, WAD, at + 2, stranger)
    assert margin.positions(vault)[0][3] == 2 * WAD


def test_liquidate_debt__covered_calls_in_the_money_under_a_loan__debt_liquidation_is_the_way_out(pm, liquidation_system, borrower, stranger, keeper, reporter):
    """An account below maintenance must be liquidatable. 10 WETH, 10 covered calls at 1,600
    (30 days), 12,000 kUSD borrowed at 2,000; WETH falls to 1,750 (a plain vault with this
    loan would be liquidatable too). Closing any part of the short call removes the hedge of
    the collateral, so value - debt - maintenance falls at any point of the ramp, and the
    engine's liquidation waits for the options to go first."""
    margin = pm["margin"]
    vault, call = covered_call_with_loan(pm, borrower, stranger, 1_600, 10 * WAD, "series", 10 * WAD, 12_000 * WAD)
    set_price(pm, reporter, 1_750 * WAD)
    assert not margin.health(vault)[4]
    assert not ref.health([], 10 * WAD, 12_000 * WAD, 1_750 * WAD, ratio_of(pm), SIGMA, 0).healthy
    started = pin()
    margin.start_liquidation(vault, {"from": keeper})
    outcomes = {}
    for elapsed in (1, 3_600):
        if elapsed > 1:
            set_price(pm, reporter, 1_750 * WAD, started + elapsed - 1)
        for amount in (WAD // 10, WAD, 10 * WAD):
            set_next_timestamp(started + elapsed)
            outcomes[f"margin.liquidate({amount / WAD} calls) at {elapsed} s"] = revert_message(
                lambda: margin.liquidate(vault, call, amount, stranger, {"from": stranger})
            )
    # the short hedges the collateral: taking it over worsens the account; the engine's
    # liquidation waits while the account holds options
    assert all(reason == "margin: liquidation would worsen the account" for key, reason in outcomes.items()), outcomes
    assert revert_message(lambda: liquidation_system["liquidator"].liquidate(vault, keeper, {"from": keeper})) == "engine: vault safe"
    # the way out: repay part of the debt for collateral at the ramp's bonus
    before = margin.health(vault)
    weth_before = pm["weth"].balanceOf(keeper)
    tx = margin.liquidate_debt(vault, 3_000 * WAD, keeper, {"from": keeper})
    event = tx.events["DebtLiquidated"]
    assert event["repaid"] == 3_000 * WAD and event["progress_bps"] == 10_000
    # 3,000 kUSD x (1 + 10 % bonus at the ramp's end) of WETH at 1,750, rounded down
    assert event["collateral"] == 3_000 * WAD * 11_000 // 10_000 * WAD // (1_750 * WAD)
    assert pm["weth"].balanceOf(keeper) == weth_before + event["collateral"]
    after = margin.health(vault)
    assert after[0] - after[1] - after[2] >= before[0] - before[1] - before[2]


def test_liquidate__long_under_a_loan__liquidator_repays_debt_at_the_falling_ramp_price(pm, option_token, liquidation_system, borrower, stranger, keeper, reporter):
    """Longs go too: the liquidator pays the ramp's price (from the upper bound down to
    intrinsic x (1 - max bonus)) x amount, rounded up, toward the vault's debt and receives
    the options; the later liquidation pays less per option. With every position gone, the
    engine's own liquidation takes the vault."""
    margin, token, engine = pm["margin"], pm["debt_token"], pm["engine"]
    call = pm["series"][(2_000, True)]
    vault = open_account(pm, borrower, 10 * WAD)
    give_long(pm, option_token, borrower, vault, call, 10 * WAD, stranger)
    margin.borrow(vault, 13_000 * WAD, borrower, {"from": borrower})
    set_price(pm, reporter, 1_700 * WAD)
    assert not margin.health(vault)[4]
    started = pin()
    margin.start_liquidation(vault, {"from": keeper})
    per_option = []
    for amount, at in ((4 * WAD, started + 900), (6 * WAD, started + 2_700)):
        ramp, progress = predicted_ramp_price(pm, vault, call, at, False)
        repaid = ref.long_liquidation_repaid(ramp, amount)
        assert repaid > 0
        per_option.append(ramp)
        before = reference_health(pm, vault, now=at)
        normalized_before = engine.vault_position(vault)[3]
        kusd_before = token.balanceOf(keeper)
        set_next_timestamp(at)
        tx = margin.liquidate(vault, call, amount, keeper, {"from": keeper})
        event = tx.events["PositionLiquidated"]
        assert (event["is_short"], event["price"], event["progress_bps"], event["repaid"], event["collateral"]) == (False, ramp, progress, repaid, 0)
        assert tx.return_value == repaid
        assert token.balanceOf(keeper) == kusd_before - repaid
        rate = rate_at(engine, pm["weth_type"], at)
        assert engine.vault_position(vault)[3] == normalized_before - mul_div(repaid, RAY, rate, False)
        assert spare(margin.health(vault)) >= spare(before)
    assert per_option[1] < per_option[0]
    assert margin.account(vault)[1] == 0
    assert option_token(call).balanceOf(keeper) == 10 * WAD
    assert not margin.health(vault)[4]
    tx = liquidation_system["liquidator"].liquidate(vault, keeper, {"from": keeper})
    assert tx.events["Liquidated"]["vault_id"] == vault
    assert engine.vault_position(vault)[2] == 0 and engine.vault_position(vault)[3] == 0


# ================================================================== 6. parameters and the mark
PARAM_FIELDS = (
    "step_bps", "steps", "vol_up_bps", "vol_down_bps", "extreme_down_bps", "extreme_up_bps",
    "extreme_weight_bps", "initial_factor_bps", "floor_sigma", "ramp_seconds", "max_bonus_bps",
)

# (changes, revert reason): each one field (or pair) just outside its bound
BAD_PARAMS = [
    (dict(step_bps=99), "margin: step out of bounds"),
    (dict(step_bps=2_501, steps=1), "margin: step out of bounds"),
    (dict(steps=0), "margin: steps out of bounds"),
    (dict(steps=9, step_bps=100), "margin: steps out of bounds"),
    (dict(steps=8, step_bps=626), "margin: steps out of bounds"),
    (dict(vol_up_bps=9_999), "margin: vol up out of bounds"),
    (dict(vol_up_bps=30_001), "margin: vol up out of bounds"),
    (dict(vol_down_bps=999), "margin: vol down out of bounds"),
    (dict(vol_down_bps=10_001), "margin: vol down out of bounds"),
    (dict(extreme_down_bps=9_001), "margin: extreme move out of bounds"),
    (dict(extreme_up_bps=30_001), "margin: extreme move out of bounds"),
    (dict(extreme_weight_bps=10_001), "margin: extreme weight out of bounds"),
    (dict(initial_factor_bps=10_000), "margin: initial factor out of bounds"),
    (dict(initial_factor_bps=30_001), "margin: initial factor out of bounds"),
    (dict(floor_sigma=5 * WAD + 1), "margin: floor sigma out of bounds"),
    (dict(ramp_seconds=59), "margin: ramp out of bounds"),
    (dict(ramp_seconds=86_401), "margin: ramp out of bounds"),
    (dict(max_bonus_bps=2_501), "margin: bonus out of bounds"),
]

GOOD_PARAMS = [
    dict(step_bps=100, steps=1),
    dict(step_bps=2_500, steps=2),
    dict(steps=8, step_bps=625),
    dict(vol_up_bps=10_000, vol_down_bps=10_000),
    dict(vol_up_bps=30_000, vol_down_bps=1_000),
    dict(extreme_down_bps=9_000, extreme_up_bps=30_000, extreme_weight_bps=10_000),
    dict(extreme_down_bps=0, extreme_up_bps=0, extreme_weight_bps=0),
    dict(initial_factor_bps=10_001),
    dict(initial_factor_bps=30_000),
    dict(floor_sigma=0),
    dict(floor_sigma=5 * WAD),
    dict(ramp_seconds=60, max_bonus_bps=0),
    dict(ramp_seconds=86_400, max_bonus_bps=2_500),
]


@pytest.mark.parametrize("changes,reason", BAD_PARAMS, ids=[r.split(": ")[1] + "-" + "-".join(f"{k}={v}" for k, v in c.items()) for c, r in BAD_PARAMS])
def test_set_params__out_of_bounds__reverts(pm, admin, changes, reason):
    margin = pm["margin"]
    with brownie.reverts(reason):
        margin.set_params(ref.DEFAULT_PARAMS.with_(**changes).as_tuple(), {"from": admin})
    assert tuple(margin.params()) == ref.DEFAULT_PARAMS.as_tuple()


@pytest.mark.parametrize("changes", GOOD_PARAMS, ids=["-".join(f"{k}={v}" for k, v in c.items()) for c in GOOD_PARAMS])
def test_set_params__at_the_bounds__stored_and_logged(pm, admin, changes):
    margin = pm["margin"]
    params = ref.DEFAULT_PARAMS.with_(**changes)
    tx = margin.set_params(params.as_tuple(), {"from": admin})
    assert tuple(margin.params()) == params.as_tuple()
    event = tx.events["ParamsSet"]
    assert tuple(event[field] for field in PARAM_FIELDS) == params.as_tuple()


def test_set_params__without_role__reverts(pm, stranger):
    margin = pm["margin"]
    with brownie.reverts("access: missing role"):
        margin.set_params(ref.DEFAULT_PARAMS.with_(steps=2).as_tuple(), {"from": stranger})
    assert tuple(margin.params()) == ref.DEFAULT_PARAMS.as_tuple()


def test_params__defaults(pm):
    assert tuple(pm["margin"].params()) == ref.DEFAULT_PARAMS.as_tuple()


@pytest.mark.parametrize("price", [1_000 * WAD, 1_999 * WAD + 123_456_789, 2_000 * WAD, 3_000 * WAD])
def test_mark__every_series__equals_pricer_black_scholes_at_the_oracle_price(pm, reporter, price):
    margin, pricer = pm["margin"], pm["pricer"]
    at = set_price(pm, reporter, price)
    for series_id in pm["all_series"]:
        is_call, strike, expiry = terms(pm, series_id)
        mark = margin.mark(series_id)
        assert mark == pricer.black_scholes(price, strike, SIGMA, expiry - at, is_call)
        exact = ref.black_scholes(price / WAD, strike / WAD, SIGMA / WAD, (expiry - at) / ref.SECONDS_PER_YEAR, is_call)
        assert abs(mark / WAD - exact) <= 1.5e-7 * (price + strike) / WAD + 1e-9


def test_mark__after_expiry__intrinsic_value(pm, reporter):
    margin = pm["margin"]
    set_price(pm, reporter, 2_100 * WAD, pm["expiry"] + 10)
    assert margin.mark(pm["series"][(2_000, True)]) == 100 * WAD
    assert margin.mark(pm["series"][(2_200, False)]) == 100 * WAD
    assert margin.mark(pm["series"][(1_800, False)]) == 0
    assert margin.mark(pm["series60"][(2_000, True)]) > 100 * WAD


# ------------------------------------------------------------------ gas
def test_health__gas_for_1_4_and_16_positions(pm, borrower, stranger):
    margin = pm["margin"]
    vault = open_account(pm, borrower, 1_000 * WAD)
    gas = {}
    for index, series_id in enumerate(pm["all_series"][:16]):
        margin.write(vault, series_id, WAD, stranger, {"from": borrower})
        if index + 1 in (1, 4, 16):
            gas[index + 1] = margin.health.estimate_gas(vault)
    print(f"\nhealth() gas by positions: {gas}")
    assert gas[1] < gas[4] < gas[16] < 1_000_000


# ================================================================== 7. the margin rule over prebuilt books
# Last in the module: the module-scoped `books` fixture, once built, stays for the tests after it
# (its margined shorts would hold up redemptions, its options count in supplies).
@settings(max_examples=60)
@given(
    index=strategy("uint8", max_value=len(BOOK_SIZES) - 1),
    price=strategy("uint256", min_value=1_000 * WAD, max_value=3_000 * WAD),
    collateral=strategy("uint256", max_value=2_000 * WAD),
    debt=strategy("uint256", max_value=3_000_000 * WAD),
    no_debt=strategy("bool"),
    elapsed=strategy("uint32", min_value=1, max_value=70 * DAY),
)
def test_requirement__random_books_prices_and_what_ifs__equals_integer_reference(pm, books, reporter, index, price, collateral, debt, no_debt, elapsed):
    """Property (a): for books of 1..16 positions at any price 1,000..3,000 and any time (up to
    and past both expiries), requirement(vault, collateral, debt) and health(vault) equal the
    Python mirror of _health, field for field, to the wei."""
    vault, positions = books[index]
    debt = 0 if no_debt else debt
    at = set_price(pm, reporter, price, latest_timestamp() + elapsed)
    margin = pm["margin"]
    expected = reference_health(pm, vault, collateral=collateral, debt=debt, now=at, positions=positions)
    assert tuple(margin.requirement(vault, collateral, debt)) == expected.as_tuple()
    own = reference_health(pm, vault, now=at, positions=positions)
    assert tuple(margin.health(vault)) == own.as_tuple()


@settings(max_examples=30)
@given(
    index=strategy("uint8", max_value=len(BOOK_SIZES) - 1),
    price=strategy("uint256", min_value=1_000 * WAD, max_value=3_000 * WAD),
    collateral=strategy("uint256", max_value=2_000 * WAD),
    debt=strategy("uint256", max_value=3_000_000 * WAD),
    elapsed=strategy("uint32", min_value=1, max_value=40 * DAY),
)
def test_requirement__random_books__maintenance_covers_worst_black_scholes_loss(pm, books, reporter, index, price, collateral, debt, elapsed):
    """Property (b): the maintenance requirement is never below the worst weighted loss over the
    same scenarios with every position priced by Black-Scholes (floats), measured from the
    account's value as the contract reports it (longs at intrinsic, shorts at the bound): so a
    healthy account's Black-Scholes value stays >= its debt in every fully weighted scenario."""
    vault, positions = books[index]
    at = set_price(pm, reporter, price, latest_timestamp() + elapsed)
    health = pm["margin"].requirement(vault, collateral, debt)
    value, _, maintenance = health[0], health[1], health[2]
    losses = ref.bs_losses(positions, collateral, debt, price, ratio_of(pm), SIGMA, at, value / WAD)
    tolerance = black_scholes_tolerance(positions, collateral, price)
    worst_kind, worst = max(losses, key=lambda row: row[1])
    assert maintenance / WAD >= worst - tolerance, f"maintenance {maintenance / WAD} < Black-Scholes {worst_kind} loss {worst}"
    if health[4]:
        for kind, weight, bs_value in ref.bs_scenario_values(positions, collateral, debt, price, ratio_of(pm), SIGMA, at)[1:]:
            if weight == 1.0:
                assert bs_value >= debt / WAD - tolerance, f"healthy, yet worth {bs_value} < debt {debt / WAD} in a {kind} scenario"


@settings(max_examples=30)
@given(
    index=strategy("uint8", max_value=len(BOOK_SIZES) - 1),
    price=strategy("uint256", min_value=1_000 * WAD, max_value=3_000 * WAD),
    collateral=strategy("uint256", max_value=2_000 * WAD),
    debt=strategy("uint256", max_value=3_000_000 * WAD),
    no_debt=strategy("bool"),
    elapsed=strategy("uint32", min_value=1, max_value=40 * DAY),
)
def test_requirement__random_books__initial_above_maintenance(pm, books, reporter, index, price, collateral, debt, no_debt, elapsed):
    """Property (c): initial >= maintenance, and initial > maintenance whenever the maintenance
    comes from a grid or extreme scenario (the debt scenario alone is not scaled)."""
    vault, positions = books[index]
    debt = 0 if no_debt else debt
    at = set_price(pm, reporter, price, latest_timestamp() + elapsed)
    health = pm["margin"].requirement(vault, collateral, debt)
    maintenance, initial = health[2], health[3]
    assert initial >= maintenance
    scenario_part = ref.grid_extreme_maintenance(positions, collateral, debt, price, ratio_of(pm), SIGMA, at)
    if scenario_part > 0:
        assert initial >= mul_div(scenario_part, params_of(pm).initial_factor_bps, BPS, True) > scenario_part
    if maintenance > 0 and maintenance == scenario_part:
        assert initial > maintenance
    if debt == 0:
        assert maintenance == scenario_part


@settings(max_examples=30)
@given(
    index=strategy("uint8", max_value=len(BOOK_SIZES) - 1),
    price=strategy("uint256", min_value=1_000 * WAD, max_value=3_000 * WAD),
    collateral=strategy("uint256", max_value=2_000 * WAD),
    debt=strategy("uint256", max_value=3_000_000 * WAD),
    elapsed=strategy("uint32", min_value=1, max_value=40 * DAY),
)
def test_requirement__random_books__value_and_margin_excess_round_against_the_account(pm, books, reporter, index, price, collateral, debt, elapsed):
    """Property (d), what the health decision reads: against the rule in exact rationals (over
    the contract's scenario spots), the contract's value is never above the exact value and
    its maintenance excess (value - maintenance) never above the exact one."""
    vault, positions = books[index]
    at = set_price(pm, reporter, price, latest_timestamp() + elapsed)
    health = pm["margin"].requirement(vault, collateral, debt)
    exact = ref.health_exact(positions, collateral, debt, price, ratio_of(pm), SIGMA, at, rounded_spots=True)
    assert health[0] <= exact.value
    assert health[0] - health[2] <= exact.value - exact.maintenance


@settings(max_examples=8)
@given(
    index=strategy("uint8", max_value=len(BOOK_SIZES) - 1),
    price=strategy("uint256", min_value=1_000 * WAD, max_value=3_000 * WAD),
    elapsed=strategy("uint32", min_value=1, max_value=20 * DAY),
)
def test_requirement__other_params__equals_integer_reference(pm, books, admin, reporter, index, price, elapsed):
    """The reference follows the parameters: a finer, wider grid, stronger volatility shocks,
    heavier extremes, a larger initial factor and a higher volatility floor."""
    params = ref.Params(
        step_bps=300, steps=8, vol_up_bps=25_000, vol_down_bps=2_000, extreme_down_bps=8_000,
        extreme_up_bps=20_000, extreme_weight_bps=7_000, initial_factor_bps=20_000, floor_sigma=9 * WAD // 10,
        ramp_seconds=600, max_bonus_bps=500,
    )
    pm["margin"].set_params(params.as_tuple(), {"from": admin})
    vault, positions = books[index]
    at = set_price(pm, reporter, price, latest_timestamp() + elapsed)
    expected = reference_health(pm, vault, collateral=50 * WAD, debt=30_000 * WAD, now=at, positions=positions, params=params)
    assert tuple(pm["margin"].requirement(vault, 50 * WAD, 30_000 * WAD)) == expected.as_tuple()

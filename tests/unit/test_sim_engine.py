"""The Monte Carlo engine (keel/sim/engine.py) on titanoboa: the book, one path from the
snapshot, the keeper's rules, the loss, and runs that do not depend on what ran before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keel.oracle import PricePoint
from keel.sim.engine import BookSpec, Params, SimBook
from keel.sim.montecarlo import PathSpec, merton_path

WAD = 10**18


def _path(*prices: float, dt: int = 1_800) -> list[PricePoint]:
    return [PricePoint(i * dt, Decimal(str(p))) for i, p in enumerate(prices)]


@pytest.fixture(scope="module")
def book():
    return SimBook(BookSpec(vaults=24, seed=7), Params(keeper_interval=300))


def test_book_spec__same_seed__same_vaults_within_the_ratio_range():
    spec = BookSpec(vaults=200, seed=3, ratios=(1.6, 2.0))
    drawn = spec.draw()
    assert drawn == BookSpec(vaults=200, seed=3, ratios=(1.6, 2.0)).draw()
    assert drawn != BookSpec(vaults=200, seed=4, ratios=(1.6, 2.0)).draw()
    for collateral, debt in drawn:
        ratio = collateral * 2_000 / debt
        assert 1.6 <= ratio <= 2.0 * 1.01  # the debt is rounded down to whole kUSD
        assert WAD <= collateral <= 40 * WAD


def test_book_spec__skewed__crowds_toward_the_floor():
    uniform = [c * 2_000 / d for c, d in BookSpec(vaults=400, seed=1).draw()]
    skewed = [c * 2_000 / d for c, d in BookSpec(vaults=400, seed=1, distribution="skewed").draw()]
    assert sum(skewed) / len(skewed) < sum(uniform) / len(uniform) - 0.2


@pytest.mark.parametrize("bad", [dict(ratios=(0.9, 2.0)), dict(ratios=(2.0, 1.8)), dict(distribution="normal")])
def test_book_spec__bad_input__raises(bad):
    with pytest.raises(ValueError):
        BookSpec(vaults=3, **bad).draw()


def test_sim_book__built__holds_the_drawn_book(book):
    assert len(book.vaults) == 24
    assert book.book_debt == sum(d for _, d in BookSpec(vaults=24, seed=7).draw())
    info = book.s.view(book.s.lens, "vaults_info", [v for v, _, _ in book.vaults])
    assert all(v[9] for v in info)  # every vault safe at the deployed price


def test_run__calm_path__nothing_liquidated_no_loss(book):
    result = book.run(_path(2_000, 1_990, 2_010, 1_995))
    assert result.liquidated == 0 and result.lots == 0 and result.loss == 0
    assert result.first_liquidation == -1 and result.time_to_clear == 0


def test_run__slow_fall_below_every_ratio__all_liquidated_lots_end_no_bad_debt(book):
    # -50 % over 12 hours in 30-minute steps of ~2.8 %: every vault (1.6-3.0) falls below 1.5
    prices = [2_000 * (0.5 ** (i / 24)) for i in range(25)]
    result = book.run(_path(*prices), series=True)
    unsafe_at_low = sum(1 for _, c, d in book.vaults if c * 1_000 < d * 3 // 2)
    assert unsafe_at_low >= 20
    assert result.liquidated == unsafe_at_low and result.lots == unsafe_at_low
    assert result.lots_open_at_end == 0 and result.open_lot_debt == 0
    assert result.loss == 0 and result.bad_debt == 0
    assert len(result.takes) >= unsafe_at_low and all(t.price <= t.market for t in result.takes)
    assert result.keeper_profit > 0
    assert 0 <= result.first_liquidation <= result.last_lot_end
    assert result.prices and result.ratios  # the series for the charts
    assert result.prices[0][1] == 2_000 * WAD


def test_run__gap_far_below_the_debt__loss_is_the_uncovered_debt(book):
    # a 70 % gap in one step: collateral worth 0.48-0.9 of the debt; lots cannot cover it
    result = book.run(_path(2_000, 600, 600, 600))
    assert result.liquidated == 24 and result.lots_open_at_end == 0
    assert result.bad_debt > 0 and result.loss == result.bad_debt
    # the keeper buys below the market (600), so a lot raises at most collateral x 600: the
    # loss is at least the rest of the debt
    floor = sum(max(0, d - c * 600) for _, c, d in book.vaults)
    assert floor > 0 and result.loss >= floor
    assert result.loss <= book.book_debt


def test_run__after_other_runs__same_result_as_on_a_fresh_book(book):
    path = _path(*[2_000 * (0.55 ** (i / 6)) for i in range(7)])
    book.run(_path(2_000, 700, 700))  # something heavy first
    again = book.run(path)
    fresh = SimBook(BookSpec(vaults=24, seed=7), Params(keeper_interval=300)).run(path)
    assert (again.loss, again.liquidated, len(again.takes), again.keeper_gas, again.last_lot_end) == \
        (fresh.loss, fresh.liquidated, len(fresh.takes), fresh.keeper_gas, fresh.last_lot_end)
    assert [(t.auction_id, t.price, t.bought) for t in again.takes] == [(t.auction_id, t.price, t.bought) for t in fresh.takes]


def test_params__applied_through_the_admin_setters():
    sim = SimBook(BookSpec(vaults=2, seed=1), Params(liquidation_ratio=1.7, penalty=1.1, curve_tau=5_400,
                                                    curve_buf=1.1, type_limit=123_456))
    info = sim.type_info()
    assert info["liquidation_ratio"] == 17 * WAD // 10 and info["liquidation_penalty"] == 11 * WAD // 10
    curve = sim.s.view(sim.s.auction, "curves", sim.weth.type_id)
    assert curve[1] == 11 * WAD // 10 and curve[2] == 5_400
    assert sim.s.view(sim.s.liquidator, "room", sim.weth.type_id)[0] == 123_456 * WAD
    assert "liquidation_ratio=1.7" in sim.params.label()


def test_params__zero_keeper_interval__raises():
    with pytest.raises(ValueError, match="keeper_interval"):
        SimBook(BookSpec(vaults=1), Params(keeper_interval=0))


def test_keeper_latency__slower_keeper__liquidates_later():
    prices = [2_000 * (0.5 ** (i / 12)) for i in range(13)]
    fast = SimBook(BookSpec(vaults=10, seed=2), Params(keeper_interval=120)).run(_path(*prices))
    slow = SimBook(BookSpec(vaults=10, seed=2), Params(keeper_interval=3_600)).run(_path(*prices))
    assert fast.first_liquidation < slow.first_liquidation
    assert fast.ticks > slow.ticks


def test_merton_path__seeded__reproducible_positive_with_jumps():
    a = merton_path(Decimal(2_000), 0.8, 2.0, -0.3, 0.05, 1_800, 48, seed=11)
    assert a == merton_path(Decimal(2_000), 0.8, 2.0, -0.3, 0.05, 1_800, 48, seed=11)
    assert len(a) == 49 and a[0].price == 2_000 and all(p.price > 0 for p in a)
    # with two jumps a day of about -30 %, some step falls by more than 20 %
    assert any(b.price / x.price < Decimal("0.8") for x, b in zip(a, a[1:]))
    calm = merton_path(Decimal(2_000), 0.8, 0.0, -0.3, 0.05, 1_800, 48, seed=11)
    assert all(b.price / x.price > Decimal("0.9") for x, b in zip(calm, calm[1:]))


@pytest.mark.parametrize("kind", ["gbm", "jump", "merton"])
def test_path_spec__kinds__one_point_per_dt(kind):
    path = PathSpec(kind=kind, hours=6).draw(3)
    assert len(path) == 13 and path[-1].offset == 6 * 3_600


def test_path_spec__unknown_kind__raises():
    with pytest.raises(ValueError, match="path kind"):
        PathSpec(kind="brownian").draw(1)


def test_market_depth__thin_curve__sales_move_the_price_and_leave_bad_debt():
    """The margin-call feedback loop: on a curve shallower than the book's debt the keeper's
    sales push the price the reporters report below the path; on no curve nothing is lost."""
    path = _path(*[2_000 * (0.5 ** (i / 16)) for i in range(17)])
    flat = SimBook(BookSpec(vaults=30, seed=3), Params()).run(path)
    thin_book = SimBook(BookSpec(vaults=30, seed=3), Params(market_depth=200_000))
    thin = thin_book.run(path)
    assert thin_book.book_debt > 200_000 * WAD
    assert flat.loss == 0 and thin.loss > 0
    assert min(t.market for t in thin.takes) < 1_000 * WAD <= min(t.market for t in flat.takes)
    assert thin.lots_open_at_end == 0


@pytest.fixture(scope="module")
def writers_book():
    return SimBook(BookSpec(vaults=4, seed=3, writers=6), Params())


def test_writers__crash__accounts_fall_below_maintenance_and_are_measured(writers_book):
    sim = writers_book
    assert len(sim.writers) == 6
    start = sim.writer_health()
    assert all(healthy for *_, healthy in start)  # written within the initial margin
    assert all(maintenance > 0 for _, _, maintenance, _ in start)  # every account wrote something
    calm = sim.run(_path(2_000, 2_000, 2_000))
    assert calm.writers_below_maintenance == 0 and calm.writer_shortfall == 0
    assert calm.margin_starts == calm.margin_takeovers == calm.writers_liquidated == 0
    crash = sim.run(_path(*[2_000 * (0.6 ** (i / 8)) for i in range(9)]))
    assert crash.writers_below_maintenance > 0
    assert crash.summary()["writers_below_maintenance"] == crash.writers_below_maintenance


def test_writers__slow_crash__keeper_ramps_and_takes_over_shorts_and_all_end_healthy(writers_book):
    sim = writers_book
    path = _path(*[2_000 * (0.6 ** (i / 24)) for i in range(25)])
    sim.params = Params(liquidate_writers=False)
    try:
        alone = sim.run(path)
    finally:
        sim.params = Params()
    liquidated = sim.run(path)
    # left alone, accounts stay below maintenance; the keeper starts their ramps and takes
    # their shorts over once the ramp pays beyond the mark, until every account is healthy
    assert alone.margin_starts == alone.margin_takeovers == alone.margin_profit == 0
    assert alone.writers_below_maintenance_end > 0
    assert liquidated.margin_starts > 0 and liquidated.margin_takeovers > 0
    assert liquidated.writers_liquidated > 0
    assert liquidated.writers_below_maintenance_end == 0 and liquidated.writer_shortfall_end == 0
    # the take-overs pay: collateral received beyond the shorts' mark, counted in the profit
    assert liquidated.margin_profit > 0
    assert liquidated.keeper_profit > alone.keeper_profit
    # the vault book is the same either way
    assert liquidated.loss == alone.loss and liquidated.liquidated == alone.liquidated


def test_writers_with_loans__slow_crash__keeper_repays_their_debt_in_full_and_all_end_healthy():
    """Writers that borrowed 80 % of their room: the keeper takes their shorts over and then
    repays their debt for collateral (in full: the debt grows by a second's fees between the
    keeper's read and its transaction; the exact figure read used to leave dust and fail)."""
    sim = SimBook(BookSpec(vaults=4, seed=3, writers=6, writer_debt=0.8), Params())
    assert sim.writer_debt > 0
    owed = sum(debt for _, debt, _, _ in sim.writer_health())
    assert sim.writer_debt <= owed <= sim.writer_debt * 10_001 // 10_000  # borrowed, plus fees since
    path = _path(*[2_000 * (0.6 ** (i / 24)) for i in range(25)])
    sim.params = Params(liquidate_writers=False)
    alone = sim.run(path)
    sim.params = Params()
    liquidated = sim.run(path)
    assert alone.writers_below_maintenance_end > 0 and alone.writer_shortfall_end > 0
    assert liquidated.margin_debt_repaid > 0 and liquidated.margin_takeovers > 0
    assert liquidated.writers_below_maintenance_end == 0 and liquidated.writer_shortfall_end == 0
    assert liquidated.summary()["margin_debt_repaid"] == liquidated.margin_debt_repaid / WAD


def test_book_spec__writer_debt_out_of_range__refused():
    with pytest.raises(ValueError, match="writer_debt"):
        SimBook(BookSpec(vaults=2, seed=3, writers=1, writer_debt=1.0), Params())


def test_params__writers_left_alone__label_says_so():
    assert "writers not liquidated" in Params(liquidate_writers=False).label()
    assert "writers" not in Params().label()


def test_liquidation_ratio__above_the_books_floor__book_keeps_its_buffer():
    # the drawn ratios (1.6-3.0 at the deployment's 1.5) scale with the ratio: 1.92-3.6 at 1.8
    sim = SimBook(BookSpec(vaults=12, seed=5), Params(liquidation_ratio=1.8))
    ratios = [c * 2_000 / d for _, c, d in sim.vaults]
    assert min(ratios) >= 1.6 * 1.8 / 1.5 * 0.999 and max(ratios) <= 3.0 * 1.8 / 1.5 * 1.01
    assert sim.book_debt == sum(d for _, d in BookSpec(vaults=12, seed=5).draw(1.8 / 1.5))

"""``keel simulate``'s replay (keel/sim/replay.py) on a real Anvil: the Black Thursday path
(ETH -53.6 % in 27 hours, keel/sim/data/black_thursday.csv) on a small WETH book, coarse
ticks. The aim of the issue: zero bad debt; every vault the fall made unsafe liquidated,
every lot ended, every take below the market price at its moment."""

from __future__ import annotations

import json
from decimal import Decimal

from keel.oracle import load_csv
from keel.sim.cli import DEFAULT_CSV
from keel.sim.replay import replay, write

WAD = 10**18


def test_replay__black_thursday_on_24_vaults__all_liquidated_no_bad_debt(tmp_path):
    path = load_csv(DEFAULT_CSV)
    assert len(path) == 73 and path[0].price == Decimal(194) and min(p.price for p in path) == Decimal(90)
    result = replay(path, vaults=24, seed=5, tick_seconds=300, directory=tmp_path / "chain", log=lambda m: None)
    assert abs(result.low_price * 194 / result.start_price - 90) < 1e-6  # the returns, on the deployed price
    assert result.unsafe_at_low == 24  # ratios 1.6-3.0 all fall below 1.5 at -53.6 %
    assert result.liquidated >= result.unsafe_at_low
    assert result.lots == result.liquidated and result.lots_open_at_end == 0
    assert result.bad_debt == 0
    assert result.takes and all(t.price <= t.market for t in result.takes)  # bought below the market
    assert result.keeper_profit > 0
    write(result, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert data["bad_debt"] == 0 and data["bad_debt_share"] == 0.0 and len(data["takes"]) == len(result.takes)
    assert (tmp_path / "out" / "takes.csv").read_text().count("\n") == len(result.takes) + 1


def test_monte_carlo__production_keeper_per_path__var_and_es_match_the_reference_on_the_same_losses(tmp_path):
    """The ``anvil-keeper`` backend: each path on its own Anvil with the production keeper
    over JSON-RPC (the engine's backends: tests/integration/test_sim_backends.py)."""
    from fractions import Fraction

    from keel.sim.montecarlo import LEVELS, PathSpec, run_batch
    from keel.sim.montecarlo import write as write_batch
    from tests.unit.risk_reference import reference_es, reference_var

    spec = PathSpec(kind="jump", hours=6, jump=-0.4)
    batch = run_batch(spec, runs=4, vaults=6, seed=3, workers=2, tick=900, backend="anvil-keeper", log=lambda m: None)
    assert batch.backend == "anvil-keeper"
    assert [x.run for x in batch.losses] == [0, 1, 2, 3] and [x.seed for x in batch.losses] == [3, 4, 5, 6]
    assert all(x.low < 0.65 for x in batch.losses)  # every path carries the -40 % jump
    assert all(x.liquidated > 0 and x.lots_open_at_end == 0 for x in batch.losses)
    samples = [Fraction(str(x.bad_debt)) for x in batch.losses]
    for level, risk in zip(LEVELS, batch.risk):
        alpha = Fraction(str(level))
        assert risk.samples == 4
        assert risk.var == float(reference_var(samples, alpha))
        assert risk.es == float(reference_es(samples, alpha))
    write_batch(batch, tmp_path)
    rows = (tmp_path / "losses.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("run,seed,low")


def test_replay__market_impact__thin_curve_leaves_bad_debt_deep_curve_none(tmp_path):
    """The margin-call feedback loop: on a constant-product curve a tenth as deep as the
    book's debt, the keeper's sales move the price the reporters then report, and lots sell
    short of their debt or find no buyer; on a curve a thousand times deeper nothing is lost."""
    path = load_csv(DEFAULT_CSV)
    thin = replay(path, vaults=8, seed=2, tick_seconds=900, depth=4_000 * WAD, directory=tmp_path / "thin",
                  log=lambda m: None)
    deep = replay(path, vaults=8, seed=2, tick_seconds=900, depth=4_000_000 * WAD, directory=tmp_path / "deep",
                  log=lambda m: None)
    assert thin.book_debt == deep.book_debt and thin.book_debt > 10 * 4_000 * WAD  # the same book
    assert deep.lots_open_at_end == 0 and deep.bad_debt == 0
    # thin: lots the curve cannot absorb sell short of their debt or stay unsold (reset
    # again and again as they fall through their cusp)
    assert thin.bad_debt > 0 or thin.lots_open_at_end > 0
    assert thin.resets > deep.resets

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

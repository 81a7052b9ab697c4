"""The Monte Carlo engine across backends and schedulers, and the HTML report in a browser.

* the same paths give the same losses on titanoboa and on an Anvil node (the engine's
  transactions are the same; only the keeper's gas accounting differs, as Anvil counts the
  intrinsic gas);
* a local Dask cluster gives the same losses as the local process pool, and the batch's
  VaR and ES match the Python reference (tests/unit/risk_reference.py) on those losses;
* ``keel sim-report``'s HTML opens in headless Chromium and its charts are drawn.
"""

from __future__ import annotations

import json
import socket
import time
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest

from keel.sim import montecarlo
from keel.sim.engine import BookSpec, Params
from keel.sim.montecarlo import LEVELS, PathSpec, run_batch
from tests.unit.risk_reference import reference_es, reference_var

SPEC = PathSpec(kind="jump", hours=8, jump=-0.45)
BOOK = BookSpec(vaults=30, seed=2)
QUIET = lambda message: None  # noqa: E731


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _figures(batch):
    return [(x.run, x.seed, x.bad_debt, x.liquidated, x.takes, x.resets, x.time_to_clear) for x in batch.losses]


def test_batch__boa_and_anvil__same_losses_for_the_same_seeds():
    boa = run_batch(SPEC, runs=3, book=BOOK, seed=4, workers=1, backend="boa", log=QUIET)
    anvil = run_batch(SPEC, runs=3, book=BOOK, seed=4, workers=1, backend="anvil", log=QUIET)
    port = next(b for b in montecarlo._BOOKS.values()).backend.node.port  # cached here, its node running
    assert _listening(port)
    montecarlo.release_books()
    assert not montecarlo._BOOKS
    deadline = time.monotonic() + 10
    while _listening(port) and time.monotonic() < deadline:  # the binary exits just after its wrapper
        time.sleep(0.1)
    assert not _listening(port)
    assert _figures(boa) == _figures(anvil)
    assert any(x.bad_debt > 0 for x in boa.losses)  # the -45 % jump leaves some: the match is not 0 == 0
    assert all(x.liquidated > 0 for x in boa.losses)
    for a, b in zip(boa.losses, anvil.losses):  # the keeper's profit differs only by gas
        assert abs(a.keeper_profit - b.keeper_profit) < 0.01 * max(1.0, abs(a.keeper_profit))


def test_batch__dask_local_cluster__same_losses_as_the_process_pool_and_reference_var_es():
    from distributed import LocalCluster

    pool = run_batch(SPEC, runs=6, book=BOOK, seed=9, workers=2, log=QUIET)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = run_batch(SPEC, runs=6, book=BOOK, seed=9, scheduler=cluster.scheduler_address, log=QUIET)
    assert _figures(dask) == _figures(pool)
    assert [x.run for x in dask.losses] == list(range(6)) and dask.scheduler == cluster.scheduler_address
    samples = [Fraction(str(x.bad_debt)) for x in dask.losses]
    assert len(set(samples)) > 1
    for level, risk in zip(LEVELS, dask.risk):
        assert risk.samples == 6
        assert risk.var == float(reference_var(samples, Fraction(str(level))))
        assert risk.es == float(reference_es(samples, Fraction(str(level))))


def test_sweep__keeper_latency__same_paths_slower_keeper_liquidates_no_sooner():
    from keel.sim.montecarlo import run_sweep

    sweep = run_sweep(SPEC, "keeper_interval", [120, 3_600], runs=2, book=BOOK, seed=4, workers=2, log=QUIET)
    fast, slow = sweep.batches
    assert [x.seed for x in fast.losses] == [x.seed for x in slow.losses] == [4, 5]
    assert fast.params.keeper_interval == 120 and slow.params.keeper_interval == 3_600
    assert sum(x.bad_debt for x in slow.losses) >= sum(x.bad_debt for x in fast.losses)


def test_sim_report__small_book__html_renders_in_chromium_with_its_charts(tmp_path):
    from keel.sim.cli import DEFAULT_CSV
    from keel.sim.report import build, write
    from keel.sim.screenshot import ink, screenshot

    data = build(BookSpec(vaults=30, seed=3, writers=4), Params(), SPEC, runs=6,
                 sweeps={"liquidation_ratio": [1.4, 1.6]}, sweep_runs=2, csv=str(DEFAULT_CSV), seed=4, workers=2,
                 log=QUIET)
    html = write(data, tmp_path)
    text = html.read_text()
    # the writers: the replay again from the same snapshot with the keeper leaving them alone
    assert data.unliquidated is not None and data.unliquidated.margin_takeovers == 0
    assert data.replay.writers_liquidated > 0
    assert data.replay.writer_shortfall_end <= data.unliquidated.writer_shortfall_end
    assert "<h3>Option writers</h3>" in text and "left alone" in text
    assert json.loads((tmp_path / "replay.json").read_text())["writers_left_alone"]["margin_starts"] == 0
    assert "nan" not in text.lower().replace("nanc", "")  # no NaN anywhere ("finance" aside)
    svgs = [ET.fromstring(part[:part.index("</svg>") + 6]) for part in ("<svg" + p for p in text.split("<svg")[1:])]
    assert len(svgs) == 6  # price, ratios, takes, losses, the batch's first path, the sweep: all parse
    assert data.replay.loss == 0 and data.replay.liquidated > 0  # Black Thursday: no bad debt, vaults liquidated
    for name in ("replay.json", "takes.csv", "batch.json", "losses.csv", "sweeps.json", "sweeps.csv", "margin.csv"):
        assert (tmp_path / name).stat().st_size > 0
    png = screenshot(html, tmp_path / "report.png")
    seen = ink(png, {"blue": "#1f6feb", "red": "#d1242f", "green": "#1a7f37", "purple": "#8250df"})
    assert seen.width == 1100 and seen.inked > 100_000
    # every chart colour is on the page: the lines, bands, points and bars were drawn
    assert all(count > 200 for count in seen.by_colour.values()), seen.by_colour


def test_run_batch__unknown_backend__raises():
    with pytest.raises(ValueError, match="backend"):
        run_batch(SPEC, runs=1, book=BOOK, backend="ganache", log=QUIET)

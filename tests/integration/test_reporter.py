"""keel.oracle's Reporter and `keel reporter` on an embedded Anvil (keel.chain.Anvil).

One Anvil for the module (a free port from KEEL_PORT_RANGE, default 8623-8699); each test
deploys its own system into it. WETH's volatility is not seeded here, so a positive
volatility() can only come from the prices pushed.
"""

from __future__ import annotations

import random
import statistics
from decimal import Decimal

import pytest

from keel.chain import Anvil, increase_time
from keel.cli import main as keel_main
from keel.client import KeelClient
from keel.deploy import CollateralConfig, DeployConfig, deploy_system
from keel.oracle import (
    OracleError, PricePoint, Reporter, feed_state, gbm_path, jump_path, load_csv, local_reporter_senders,
    make_current, submission_order,
)
from keel.tx import Sender
from keel.units import to_wad

STEPS = 20
DT = 3_600  # seconds between prices: longer than report_max_age (900 s) and the delay (1,800 s)


@pytest.fixture(scope="module")
def node():
    with Anvil() as anvil:
        yield anvil


def _deploy(node, tmp_path, name: str):
    w3 = node.w3
    config = DeployConfig(collateral=[
        CollateralConfig("WETH", decimals=18, price=Decimal(2000)),  # volatility not seeded: 0
        CollateralConfig("WBTC", decimals=8, price=Decimal(30000), volatility=Decimal("0.5")),
    ])
    manifest = deploy_system(w3, Sender.unlocked(w3, 0), config, tmp_path / f"{name}.json", force=True,
                             log=lambda _: None)
    return w3, manifest


def test_gbm_path_pushed_through_the_reporters(node, tmp_path):
    w3, manifest = _deploy(node, tmp_path, "gbm")
    feed = KeelClient(w3, manifest).oracle("WETH").functions
    assert feed.volatility().call() == 0  # nothing seeded, no history yet
    reporter = Reporter(w3, manifest, local_reporter_senders(w3, manifest))
    assert len(reporter.reporters_for("WETH")) == 3
    path = gbm_path(Decimal(2000), mu=0.0, sigma=0.8, dt=DT, steps=STEPS, seed=7)
    assert len(path) == STEPS + 1 and path[0] == PricePoint(0, Decimal(2000))
    assert [p.offset for p in path] == [i * DT for i in range(STEPS + 1)]
    assert gbm_path(Decimal(2000), 0.0, 0.8, DT, STEPS, seed=7) == path  # reproducible

    rng = random.Random(3)
    medians: list[int] = []
    for i, point in enumerate(path):
        if i:
            increase_time(w3, point.offset - path[i - 1].offset)
        result = reporter.push("WETH", point.price, noise_bps=25, rng=rng, poke=True)
        pushed = [price for _, price in result.reports]
        assert len(pushed) == 3 and len(set(pushed)) > 1  # the noise made the reporters disagree
        median = statistics.median_low(pushed)
        medians.append(median)
        # the feed accepted exactly the median of what was pushed, and nothing was held
        assert result.outcome == "accepted", result
        assert result.accepted_price == median == result.median
        assert feed.latest().call()[0] == median
        assert tuple(feed.held().call()) == (0, 0)
        assert not result.held
        assert result.accepted[-1] == median
        if i:  # the previous step's reports have expired and the reports went in median-first,
            # so every acceptance of this push was the median (one EWMA step, not a zigzag)
            assert set(result.accepted) == {median}
        if i >= 2:  # poked every step: the current price is the previous step's median
            assert result.poked
            assert result.state.current_price == medians[i - 1] and result.state.current_fresh
            assert result.state.next_price == median
    volatility = feed.volatility().call()
    assert volatility > 0
    assert feed_state(KeelClient(w3, manifest), "WETH").volatility == volatility


def test_csv_replay_with_a_held_jump(node, tmp_path):
    w3, manifest = _deploy(node, tmp_path, "csv")
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text(
        "timestamp,price\n"
        "1700000000,2000\n"
        "1700003600,2030.5\n"
        "# a bad print: +40 %, then back\n"
        "1700007200,2842.7\n"
        "\n"
        "1700007260,2050\n"
        "1700010800,2040.25\n"
    )
    path = load_csv(csv_file)
    assert [p.offset for p in path] == [0, 3600, 7200, 7260, 10800]
    assert [p.price for p in path] == [Decimal(x) for x in ("2000", "2030.5", "2842.7", "2050", "2040.25")]

    reporter = Reporter(w3, manifest, local_reporter_senders(w3, manifest))
    outcomes = []
    for i, point in enumerate(path):
        if i:
            increase_time(w3, point.offset - path[i - 1].offset)
        result = reporter.push("WETH", point.price, poke=True)
        outcomes.append(result.outcome)
        if result.outcome != "held":
            assert result.accepted_price == to_wad(point.price) == result.median
    assert outcomes == ["accepted", "accepted", "held", "cancelled", "accepted"]
    assert tuple(KeelClient(w3, manifest).oracle("WETH").functions.held().call()) == (0, 0)

    # the same file through `keel reporter`, one line per step
    csv_file.write_text("timestamp_offset_s,price\n0,2041\n3600,2045.5\n")
    code = keel_main([
        "reporter", "--manifest", str(tmp_path / "csv.json"), "--rpc", node.url, "--symbol", "WETH",
        "--csv", str(csv_file), "--advance-time", "--poke",
    ])
    assert code == 0


def test_reporter_cli_gbm(node, tmp_path, capsys):
    w3, manifest = _deploy(node, tmp_path, "cli")
    code = keel_main([
        "reporter", "--manifest", str(tmp_path / "cli.json"), "--rpc", node.url, "--symbol", "WBTC",
        "--gbm", "--sigma", "0.8", "--steps", "5", "--dt", "3600", "--seed", "1", "--advance-time", "--poke",
    ])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    assert len(lines) == 6 and all("accepted" in line for line in lines)
    assert "done: 6 pushes (6 accepted)" in out
    state = feed_state(KeelClient(w3, manifest), "WBTC")
    assert state.current_fresh and state.volatility > 0


def test_make_current_after_time_passes(node, tmp_path):
    w3, manifest = _deploy(node, tmp_path, "current")
    client = KeelClient(w3, manifest)
    increase_time(w3, 3 * 86_400)
    assert client.price("WETH")[1] is False  # observed three days ago: stale
    result = make_current(w3, manifest, prices={"WETH": Decimal("2100.5"), "WBTC": Decimal(31000)})
    assert result.advanced >= 1_800  # the delay had to pass between the two pokes
    assert client.price("WETH") == (to_wad("2100.5"), True)
    assert client.price("WBTC") == (to_wad(31000), True)


def test_paths_and_csv_errors(tmp_path):
    jump = jump_path(Decimal(100), jump=0.4, at=2, steps=5, length=2)
    assert [p.price for p in jump] == [Decimal(100), Decimal(100), Decimal(140), Decimal(140),
                                       Decimal(100), Decimal(100)]
    assert submission_order([5, 1, 9]) == [0, 2, 1]  # median, above, below
    assert submission_order([7, 7, 7]) == [0, 1, 2]
    bad = tmp_path / "bad.csv"
    bad.write_text("when,price\n0,1\n")
    with pytest.raises(OracleError, match="header"):
        load_csv(bad)
    bad.write_text("timestamp_offset_s,price\n10,1\n5,2\n")
    with pytest.raises(OracleError, match="backwards"):
        load_csv(bad)
    bad.write_text("timestamp_offset_s,price\n0,-3\n")
    with pytest.raises(OracleError, match="positive"):
        load_csv(bad)

"""The keeper bot against a real Anvil: the acceptance story of the keeper issue.

A crash on 200 vaults over WETH and WBTC: ``keel keeper`` runs as a separate process (as a
user runs it: key in KEEL_PRIVATE_KEY, flash takes through its KeeperTaker selling into a
market per type), while this test plays the world: the reporters push a 40 % fall, the
clock moves (auctions run on block time) and the feeds are kept fresh. Midway the node is
stopped and restarted (its state dumped and loaded): the keeper must ride it out. Mining
is stopped before the dump (keel.keeper.book.restart_node; test_node_restart shows why).

At the end: every vault unsafe after the crash was liquidated, every lot ended, no lot
left bad debt (the collateral covered every debt) and the keeper's rewards are the only
bad debt until the surplus settles them; the keeper made money net of its gas.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from keel.keeper import book as bk
from keel.tx import Sender

WAD = 10**18
KEEPER_KEY = "0x" + "4b" * 32
VAULTS = 200
CRASH = Decimal("0.6")  # -40 %
DEADLINE = 420  # seconds for the keeper to clear everything


def _events(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


@pytest.fixture(scope="module")
def crash_world(tmp_path_factory):
    """A node with state on disk, Keel deployed, 200 vaults, a market per type, a funded keeper."""
    tmp = tmp_path_factory.mktemp("keeper-bot")
    with bk.crash_chain(tmp, anvil_args=["--state", str(tmp / "anvil-state.json")]) as (node, admin):
        w3 = admin.w3
        book = bk.open_book(admin, VAULTS, seed=8)
        markets = bk.deploy_markets(admin, 20_000_000 * WAD)
        keeper = Sender.from_private_key(w3, KEEPER_KEY)
        Sender.unlocked(w3, 0).send({"to": keeper.address, "value": 100 * WAD})
        yield {"node": node, "tmp": tmp, "admin": admin, "book": book, "markets": markets, "keeper": keeper,
               "manifest_path": tmp / "manifest.json"}


def _start_keeper(world: dict, log_path: Path, summary: Path) -> subprocess.Popen:
    admin = world["admin"]
    args = [
        sys.executable, "-m", "keel.cli", "keeper", "--rpc", world["node"].url,
        "--manifest", str(world["manifest_path"]), "--state-dir", str(world["tmp"] / "keeper-state"),
        "--interval", "0.3", "--log-json", "--no-status", "--summary", str(summary), "--stuck-after", "10",
    ]
    for type_id, address in world["markets"].items():
        args += ["--market", f"{admin.manifest.collateral_entry(type_id).symbol}={address}"]
    env = {**os.environ, "KEEL_PRIVATE_KEY": KEEPER_KEY, "KEEL_QUIET": "1"}
    return subprocess.Popen(args, stdout=log_path.open("w"), stderr=subprocess.STDOUT, env=env,
                            cwd=Path(__file__).resolve().parents[2])


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the keeper exited ({proc.returncode}) while waiting for {what}")
        try:
            if predicate():
                return
        except Exception:  # the node may be restarting
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def _why_not_seized(admin, missing: list[int], clock, log_path: Path) -> str:
    """What a failure of 'every unsafe vault seized' needs to be read: the vaults left, the
    feeds, the clock's errors and the keeper's last lines."""
    lines = [f"{len(missing)} unsafe vaults never seized: {missing[:20]}"]
    for v in admin.vaults_info(missing[:5]):
        lines.append(f"  vault {v.vault_id}: type {v.collateral_type} normalized_debt {v.normalized_debt} "
                     f"safe {v.safe} price_fresh {v.price_fresh}")
    from keel.oracle import Reporter, local_reporter_senders
    reporter = clock.reporter if clock is not None else Reporter(admin.w3, admin.manifest,
                                                                 local_reporter_senders(admin.w3, admin.manifest))
    now = admin.w3.eth.get_block("latest")["timestamp"]
    for e in admin.manifest.collateral:
        st = reporter.state(e.symbol)
        lines.append(f"  feed {e.symbol}: current {st.current_price} fresh {st.current_fresh} next {st.next_price} "
                     f"next_at {st.next_at} latest {st.latest_price}@{st.latest_at} held {st.held_price} "
                     f"fresh_reports {st.fresh_reports}/{st.quorum} block time {now}")
    if clock is not None:
        lines.append(f"  clock: advanced {clock.advanced} s, {clock.errors} errors, last: {clock.last_error}")
    lines.append("  keeper log tail:\n" + "\n".join(log_path.read_text().splitlines()[-15:]))
    return "\n".join(lines)


def test_keeper__40pct_crash_on_200_vaults_with_node_restart__liquidates_all_clears_all_and_profits(crash_world):
    world = crash_world
    admin, book, node = world["admin"], world["book"], world["node"]
    keeper = world["keeper"].address
    tmp = world["tmp"]
    log_path, summary = tmp / "keeper.log", tmp / "summary.json"
    eth_before = admin.w3.eth.get_balance(keeper)
    proc = _start_keeper(world, log_path, summary)
    clock = None
    try:
        # the keeper is up (its taker deployed, the first tick done) before the crash
        _wait_for(lambda: any(e["event"] == "start" for e in _events(log_path)), 120, "the keeper to start", proc)
        before = admin.vaults_info(book.vault_ids)
        ratios = {t.collateral_type: admin.required_ratio(t.collateral_type).total for t in admin.manifest.collateral}
        # the reporters push the fall and the market follows; the feeds' delayed price
        # catches up at the clock's next pokes (block time moves 20 s every 0.25 s)
        prices = bk.crash(admin, CRASH, world["markets"], settle=False)
        # unsafe at the new prices
        price_of = {e.collateral_type: prices[e.symbol] for e in admin.manifest.collateral}
        unsafe = [v.vault_id for v in before
                  if v.collateral * price_of[v.collateral_type] // WAD < v.debt * ratios[v.collateral_type] // WAD]
        assert 60 <= len(unsafe) <= 140, f"{len(unsafe)} unsafe: the book is not the intended mix"

        assert not bk.liquidatable(admin, book.vault_ids)  # not yet: the delay
        clock = bk.ChainClock(admin, step=20, period=0.25)
        clock.start()
        # mid-run: some lots started, not all done -> stop the node, bring it back
        _wait_for(lambda: len(bk.active_auctions(admin)) >= 10, 180, "lots to be running", proc)
        clock.pause()
        bk.restart_node(node, down=6.0)
        clock.resume()
        _wait_for(lambda: not bk.liquidatable(admin, book.vault_ids) and not bk.active_auctions(admin),
                  DEADLINE, "every vault liquidated and every lot ended", proc, interval=1.0)
    finally:
        if clock is not None:
            clock.stop()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    events = _events(log_path)
    assert proc.returncode == 0, log_path.read_text()[-3000:]

    # the keeper noticed the outage and carried on after it
    # (between ticks the loop logs an rpc error; while a transaction is pending the
    # transaction manager's poll logs "node unreachable" and keeps it)
    errors = [i for i, e in enumerate(events)
              if (e["event"] == "error" and e.get("kind") == "rpc")
              or (e["event"] == "tx" and "node unreachable" in e.get("message", ""))]
    assert errors, "the node restart went unnoticed"
    assert any(e["event"] == "mined" for e in events[errors[-1]:]), "nothing mined after the outage"

    # every unsafe vault liquidated (by this keeper), every lot ended without bad debt
    auction, engine = admin.auction, admin.engine
    start = admin.manifest.block
    seized = {int(e["args"]["vault_id"]) for e in engine.events.Seized().get_logs(from_block=start)}
    missing = sorted(set(unsafe) - seized)
    assert not missing, _why_not_seized(admin, missing, clock, log_path)
    started = auction.events.AuctionStarted().get_logs(from_block=start)
    finished = auction.events.AuctionFinished().get_logs(from_block=start)
    assert len(finished) == len(started) >= len(unsafe)
    assert sum(int(e["args"]["bad_debt"]) for e in finished) == 0
    assert not bk.active_auctions(admin)
    # the only bad debt is the keeper's rewards, which the surplus (penalties) settles
    rewards = sum(int(e["args"]["amount"]) for e in engine.events.IncentivePaid().get_logs(from_block=start)
                  if e["args"]["receiver"] == keeper)
    assert rewards > 0 and admin.bad_debt() == rewards * 10**27
    admin.settle_bad_debt()
    assert admin.bad_debt() == 0
    assert admin.ledger_check().ok

    # the keeper made money: debt tokens earned beyond the gas it paid (ETH at the oracle)
    totals = json.loads(summary.read_text())
    assert totals["liquidated"] >= len(unsafe) and totals["takes"] >= len(started)
    earned = admin.debt_balance(keeper)
    gas_wei = eth_before - admin.w3.eth.get_balance(keeper)
    eth_price, _ = admin.price("WETH")
    assert earned > gas_wei * eth_price // WAD > 0
    assert Decimal(totals["profit_kusd"]) > 0
    taker_events = [e for e in events if e["event"] == "mined" and str(e.get("key", "")).startswith("take:")]
    assert len(taker_events) == totals["takes"]

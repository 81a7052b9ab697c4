"""Two keepers racing for the same lots on a real Anvil: nobody loses funds, and the
loser of a race pays only the gas of its reverted transaction.

The node stops mining on its own (``evm_setAutomine false``) so that both keepers see the
same state, estimate successfully and send their takes into the same block; one take per
lot wins, the other reverts on chain. Also here: dry-run mode sends nothing; the CLI's
help; the metrics endpoint; the discovery cache makes a restart read no old logs.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from keel.chain import free_port, increase_time, rpc_request
from keel.client import KeelClient
from keel.keeper import book as bk
from keel.keeper.bot import EventLog, Keeper, KeeperConfig, ensure_taker
from keel.keeper.metrics import Metrics, serve
from keel.keeper.rpc import counting_web3
from keel.keeper.txmanager import FeePolicy
from keel.tx import Sender

WAD = 10**18
RIVAL_KEYS = {"first": "0x" + "5a" * 32, "second": "0x" + "6b" * 32}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """20 vaults, half unsafe after a 40 % fall made current before any keeper looks."""
    tmp = tmp_path_factory.mktemp("keeper-race")
    with bk.crash_chain(tmp) as (node, admin):
        w3 = admin.w3
        book = bk.open_book(admin, 20, seed=3)
        markets = bk.deploy_markets(admin, 2_000_000 * WAD)
        for key in RIVAL_KEYS.values():
            Sender.unlocked(w3, 0).send({"to": Sender.from_private_key(w3, key).address, "value": 10 * WAD})
        bk.crash(admin, Decimal("0.6"), markets)
        yield {"node": node, "tmp": tmp, "admin": admin, "book": book, "markets": markets}


def _keeper(world: dict, name: str, **changes) -> Keeper:
    w3 = counting_web3(world["node"].url)
    sender = Sender.from_private_key(w3, RIVAL_KEYS[name])
    client = KeelClient(w3, world["admin"].manifest)
    state = world["tmp"] / name
    taker = ensure_taker(client, sender, state)
    config = KeeperConfig(markets=world["markets"], taker=taker, state_dir=state, interval=0.1, tx_wait=0.5,
                          fees=FeePolicy(stuck_after=600))
    return Keeper(client, sender, replace(config, **changes), events=EventLog(quiet=True))


def _balances(admin: KeelClient, who: str) -> tuple[int, int, int, int]:
    """(debt tokens, WETH units, WBTC units, ETH wei)."""
    return (admin.debt_balance(who), admin.collateral_balance("WETH", who), admin.collateral_balance("WBTC", who),
            admin.w3.eth.get_balance(who))


def test_keeper_dry_run__unsafe_vaults__prints_actions_sends_nothing(world):
    admin = world["admin"]
    keeper = _keeper(world, "first", dry_run=True, state_dir=world["tmp"] / "dry")
    nonce = admin.w3.eth.get_transaction_count(keeper.address)
    report = keeper.tick()
    assert report.unsafe >= 5 and report.actions and all(a.startswith("liquidate:") for a in report.actions)
    assert admin.w3.eth.get_transaction_count(keeper.address) == nonce
    assert bk.liquidatable(admin, world["book"].vault_ids)  # still there


def test_keepers_racing__same_lots_same_block__one_take_per_lot_loser_pays_only_gas(world):
    admin, node = world["admin"], world["node"]
    first, second = _keeper(world, "first"), _keeper(world, "second")
    unsafe = bk.liquidatable(admin, world["book"].vault_ids)
    assert len(unsafe) >= 5

    # liquidations: the first keeper gets them all; the second finds nothing left
    first.tick()
    assert first.totals.liquidated == len(unsafe)
    second.tick()
    assert second.totals.liquidated == 0 and not bk.liquidatable(admin, world["book"].vault_ids)
    lots = bk.active_auctions(admin)
    assert len(lots) == len(unsafe)

    # the lots fall below what the market pays
    increase_time(admin.w3, 900)
    keepers = (first, second)
    before = {k.address: (_balances(admin, k.address), k.totals.take_profit, k.totals.gas_wei) for k in keepers}
    rpc_request(node.url, "evm_setAutomine", [False])
    try:
        first.tick()
        second.tick()
        assert len(first.tx.pending) == len(second.tx.pending) == len(lots)  # both bid on every lot
        rpc_request(node.url, "evm_mine")
    finally:
        rpc_request(node.url, "evm_setAutomine", [True])
    first.tick()
    second.tick()

    assert not bk.active_auctions(admin)
    # one take per lot won, the rival's take of it reverted on chain
    assert first.totals.takes + second.totals.takes == len(lots)
    assert first.totals.reverted + second.totals.reverted == len(lots)
    assert second.totals.reverted > 0  # the later bidder lost at least one race
    for keeper in keepers:
        (debt0, _weth0, _wbtc0, eth0), profit0, gas0 = before[keeper.address]
        debt, weth, wbtc, eth = _balances(admin, keeper.address)
        # no funds lost: debt tokens moved only by the profits of won takes, no collateral
        # stranded, the taker contract empty; ETH moved only by the gas of both kinds of take
        assert debt - debt0 == keeper.totals.take_profit - profit0 >= 0
        assert weth == wbtc == 0
        assert keeper.taker is not None and admin.debt_balance(keeper.taker.address) == 0
        assert eth0 - eth == keeper.totals.gas_wei - gas0 > 0
    assert first.totals.profit(first.eth_price()) > 0
    finished = admin.auction.events.AuctionFinished().get_logs(from_block=admin.manifest.block)
    assert sum(int(e["args"]["bad_debt"]) for e in finished) == 0


def test_keeper_restart__discovery_cache__reads_only_new_logs(world):
    keeper = _keeper(world, "first")
    keeper.tick()
    assert keeper.discovery.loaded_from_cache and keeper.discovery.rescans == 0
    index = keeper.discovery.index
    assert len(index.vaults) >= 20
    restarted = _keeper(world, "first")
    assert restarted.discovery.loaded_from_cache
    assert restarted.discovery.index.block == index.block
    assert restarted.discovery.sync() == 0  # nothing new since: no old logs read again


def test_keeper_discovery__cache_from_another_chain__rescanned(world, tmp_path):
    keeper = _keeper(world, "first", state_dir=tmp_path)
    keeper.tick()
    cache = next(tmp_path.glob("discovery-*.json"))
    text = cache.read_text().replace(keeper.discovery.index.block_hash, "0x" + "00" * 32)
    cache.write_text(text)
    again = _keeper(world, "first", state_dir=tmp_path)
    again.discovery.sync()
    assert again.discovery.rescans == 1
    assert set(again.discovery.index.vaults) == set(keeper.discovery.index.vaults)


def test_keeper_metrics__served__prometheus_text(world):
    keeper = _keeper(world, "second")
    metrics = Metrics()
    keeper.metrics = metrics
    keeper.tick()
    port = free_port()
    stop = serve(metrics, port)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        stop()
    assert "# TYPE keel_keeper_vaults_watched gauge" in body
    watched = next(line for line in body.splitlines() if line.startswith("keel_keeper_vaults_watched "))
    assert float(watched.split()[1]) >= 20
    assert "keel_keeper_rpc_calls_total" in body


def test_keeper_cli__help__documents_key_handling():
    out = subprocess.run([sys.executable, "-m", "keel.cli", "keeper", "--help"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    for option in ("--rpc", "--manifest", "--keystore", "--market", "--dry-run", "--metrics-port", "--max-fee-gwei"):
        assert option in out
    assert "KEEL_PRIVATE_KEY" in out and "never an" in out


def test_keeper_cli__no_key__refuses_with_a_clear_error(world, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "KEEL_QUIET": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "keel.cli", "keeper", "--rpc", world["node"].url, "--manifest",
         str(world["tmp"] / "manifest.json"), "--state-dir", str(tmp_path), "--max-ticks", "1"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert run.returncode == 1
    assert "no key: set KEEL_PRIVATE_KEY" in run.stderr


def test_keeper_discovery__logs_missed__ids_taken_in_from_the_counts(world, tmp_path):
    """A node restarted from a state dump can lose logs: a cache that misses vaults and
    lots is completed from the engine's vault count and the auction's lot count."""
    keeper = _keeper(world, "first", state_dir=tmp_path)
    keeper.tick()
    index = keeper.discovery.index
    known = set(index.vaults)
    for vault_id in list(known)[:5]:
        del index.vaults[vault_id]
    index.auctions_seen = 0
    keeper.discovery.save()
    again = _keeper(world, "first", state_dir=tmp_path)
    assert again.discovery.loaded_from_cache and len(again.discovery.index.vaults) == len(known) - 5
    again.tick()
    recovered = again.discovery.index
    assert set(recovered.vaults) == known
    assert recovered.auctions_seen == world["admin"].auction_count() > 0
    assert recovered.auctions == set()  # every lot read, found ended, dropped

"""``keel keeper-bench``: what the keeper costs and how fast it clears a crash.

For each book size (default 1,000 and 5,000 vaults) on a fresh embedded Anvil:

1. deploy (auction caps raised so the whole crash fits at once: the keeper's own speed
   is measured, not the caps'), open the book (WETH and WBTC, ratios 2.0-3.0), deploy a
   market per type;
2. **discovery**: a cold start (every log since deployment) and a warm one (from the
   cache): seconds, HTTP requests and JSON-RPC calls;
3. **scan**: a tick with nothing to do (types, every vault with debt through
   ``VaultLens.vaults_info``, lots), the median of three after a first one: seconds and
   RPC cost;
4. **crash** -40 %, made current at once; from then the keeper ticks until no vault is
   unsafe: seconds from the price drop to the last liquidation, ticks, gas per
   liquidation (``liquidate_many`` gasUsed / vaults);
5. the clock then moves 60 s per tick until every lot is taken: takes, gas per take,
   bad debt, the keeper's profit.

A benchmark, not a test: wall times depend on the machine (this one: 2 cores). The
markdown goes to stdout and ``--out`` (``make keeper-bench``: docs/keeper-benchmark.md).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Sequence

from .. import log as _log
from ..chain import Anvil, increase_time
from ..client import KeelClient
from ..tx import Sender
from ..units import WAD
from . import book as bk
from .bot import EventLog, Keeper, KeeperConfig, ensure_taker
from .discovery import Discovery
from .rpc import counters_of, counting_web3

BENCH_KEY = "0x" + "7c" * 32
CRASH = Decimal("0.6")


@dataclass
class Cost:
    seconds: float
    http: int
    calls: int


@dataclass
class BenchResult:
    vaults: int
    with_debt: int = 0
    unsafe: int = 0
    open_seconds: float = 0.0
    cold: Cost | None = None
    warm: Cost | None = None
    scan: Cost | None = None
    to_last_liquidation: float = 0.0
    liquidation_ticks: int = 0
    liquidated: int = 0
    liquidation_txs: int = 0
    gas_per_liquidation: float = 0.0
    takes: int = 0
    gas_per_take: float = 0.0
    clear_seconds: float = 0.0  # wall
    clear_chain_seconds: int = 0
    bad_debt: int = 0  # WAD, lots' shortfalls
    profit: int = 0  # WAD
    gas_eth: Decimal = Decimal(0)
    notes: list[str] = field(default_factory=list)


def _measure(w3, fn: Callable[[], object]) -> Cost:  # type: ignore[no-untyped-def]
    counters = counters_of(w3)
    assert counters is not None
    h0, c0 = counters.snapshot()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    h1, c1 = counters.snapshot()
    return Cost(seconds, h1 - h0, c1 - c0)


def run_one(n: int, *, log: Callable[[str], None] = _log.progress, seed: int = 11) -> BenchResult:
    result = BenchResult(n)
    tmp = Path(tempfile.mkdtemp(prefix="keel-keeper-bench-"))
    with Anvil(accounts=12) as node:
        w3 = node.w3
        config = bk.crash_config(type_limit=Decimal(2**90) / WAD, global_limit=Decimal(2**90) / WAD)
        manifest = bk.deploy_for_crash(w3, tmp / "manifest.json", config)
        admin = KeelClient(w3, manifest, Sender.unlocked(w3, 0))
        started = time.perf_counter()
        book = bk.open_book(admin, n, seed=seed)
        result.open_seconds = time.perf_counter() - started
        log(f"{n} vaults: opened in {result.open_seconds:.1f} s")
        markets = bk.deploy_markets(admin, n * 3_000 * WAD)  # more than every lot fetches
        kw3 = counting_web3(node.url)
        sender = Sender.from_private_key(kw3, BENCH_KEY)
        Sender.unlocked(w3, 0).send({"to": sender.address, "value": 1_000 * WAD})
        client = KeelClient(kw3, manifest)
        taker = ensure_taker(client, sender, tmp)
        keeper = Keeper(client, sender, KeeperConfig(markets=markets, taker=taker, state_dir=tmp, tx_wait=600),
                        events=EventLog(quiet=True))

        # discovery, cold (the keeper's constructor found no cache) and warm
        result.cold = _measure(kw3, keeper.discovery.sync)
        keeper.discovery.save()
        def warm() -> None:
            again = Discovery(kw3, engine=client.engine, auction=client.auction, margin=client.margin,
                              start_block=manifest.block, cache_path=keeper.discovery.cache_path)
            again.sync()
        result.warm = _measure(kw3, warm)
        log(f"{n} vaults: discovery cold {result.cold.seconds:.2f} s, warm {result.warm.seconds:.2f} s")

        # a tick with nothing to do: the scan (after a first tick, which also reads each
        # type's governance parameters once)
        keeper.tick()
        scans = []
        for _ in range(3):
            report = keeper.tick()
            scans.append(Cost(report.seconds, report.http_requests, report.rpc_calls))
        result.with_debt = report.with_debt
        mid = statistics.median(s.seconds for s in scans)
        best = min(scans, key=lambda s: abs(s.seconds - mid))
        result.scan = best
        log(f"{n} vaults: scan {best.seconds:.2f} s, {best.http} HTTP requests, {best.calls} RPC calls")

        # the crash, then liquidations
        before = admin.vaults_info(book.vault_ids)
        prices = bk.crash(admin, CRASH, markets)
        price_of = {e.collateral_type: prices[e.symbol] for e in manifest.collateral}
        ratios = {e.collateral_type: admin.required_ratio(e.collateral_type).total for e in manifest.collateral}
        unsafe = {v.vault_id for v in before
                  if v.collateral * price_of[v.collateral_type] // WAD < v.debt * ratios[v.collateral_type] // WAD}
        result.unsafe = len(unsafe)
        drop = time.perf_counter()
        liquidation_gas = 0
        while True:
            report = keeper.tick()
            result.liquidation_ticks += 1
            for r in report.results:
                if r.key and r.key.startswith("liquidate:") and r.ok:
                    liquidation_gas += r.gas_used
                    result.liquidation_txs += 1
            if keeper.totals.liquidated >= len(unsafe) or result.liquidation_ticks > 50:
                break
        result.to_last_liquidation = time.perf_counter() - drop
        result.liquidated = keeper.totals.liquidated
        result.gas_per_liquidation = liquidation_gas / max(1, result.liquidated)
        log(f"{n} vaults: {result.liquidated} liquidated {result.to_last_liquidation:.1f} s after the drop")

        # the lots: the clock moves, the keeper takes
        clear = time.perf_counter()
        take_gas = 0
        ticks = 0
        while bk.active_auctions(admin) and ticks < 200:
            increase_time(w3, 60)
            result.clear_chain_seconds += 60
            report = keeper.tick()
            ticks += 1
            for r in report.results:
                if r.key and r.key.startswith("take:") and r.ok:
                    take_gas += r.gas_used
        result.clear_seconds = time.perf_counter() - clear
        result.takes = keeper.totals.takes
        result.gas_per_take = take_gas / max(1, result.takes)
        finished = admin.auction.events.AuctionFinished().get_logs(from_block=manifest.block)
        result.bad_debt = sum(int(e["args"]["bad_debt"]) for e in finished)
        result.profit = keeper.profit()
        result.gas_eth = Decimal(keeper.totals.gas_wei) / 10**18
        if bk.active_auctions(admin):
            result.notes.append("lots still running at the end")
        log(f"{n} vaults: {result.takes} takes in {result.clear_seconds:.1f} s; profit {result.profit / WAD:,.0f} kUSD")
    return result


def markdown(results: Sequence[BenchResult], anvil_version: str) -> str:
    def cost(c: Cost | None) -> str:
        return f"{c.seconds:.2f} s, {c.http} HTTP / {c.calls} RPC" if c else "-"

    lines = [
        "# Keeper benchmark",
        "",
        "Generated by `make keeper-bench` (`keel keeper-bench --out docs/keeper-benchmark.md`); a benchmark,",
        f"not a test. Embedded Anvil ({anvil_version}), this machine (2 cores), the keeper in process over HTTP",
        "(a CountingProvider counts round trips and JSON-RPC calls). Books: WETH and WBTC vaults alternating,",
        "collateral ratios drawn from 2.0-3.0, a -40 % crash made current at once; auction caps raised so the",
        "whole crash fits (the keeper's speed, not the caps', is measured). Liquidations in batches of 50;",
        "takes are flash takes through KeeperTaker into a market per type; the clock moves 60 s per tick",
        "while lots run.",
        "",
        "| vaults | with debt | unsafe after -40 % | discovery, cold | discovery, warm (cache) | scan (one tick) |",
        "|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.vaults:,} | {r.with_debt:,} | {r.unsafe:,} | {cost(r.cold)} | {cost(r.warm)} | "
                     f"{cost(r.scan)} |")
    lines += [
        "",
        "| vaults | price drop -> last liquidation | ticks | liquidated | gas per liquidation | takes | "
        "gas per take | lots cleared in | bad debt | keeper profit | keeper gas |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.vaults:,} | {r.to_last_liquidation:.1f} s | {r.liquidation_ticks} | {r.liquidated:,} | "
            f"{r.gas_per_liquidation:,.0f} | {r.takes:,} | {r.gas_per_take:,.0f} | {r.clear_seconds:.1f} s "
            f"({r.clear_chain_seconds:,} s of chain time) | {r.bad_debt / WAD:,.2f} kUSD | "
            f"{r.profit / WAD:,.0f} kUSD | {r.gas_eth:.3f} ETH |")
    lines += [
        "",
        "- *discovery*: reading every engine/auction/margin log since deployment into the index (cold), or",
        "  loading the cache and reading only newer blocks (warm, what a restart costs).",
        "- *scan*: one tick with nothing to act on: prices and caps per type, every vault with debt",
        "  (`VaultLens.vaults_info`, 100 vaults a call, 50 calls an HTTP request), running lots, balance.",
        "- *price drop -> last liquidation*: wall time from the block where the new price is current to the",
        "  tick in which the last unsafe vault's liquidation was mined (the keeper waits for its receipts).",
        "- *gas per liquidation*: `liquidate_many` gasUsed / vaults liquidated (batches of 50, the reward",
        "  minted once per batch); *gas per take*: KeeperTaker.flash_take gasUsed (take, callback, market",
        "  sale, payment, profit transfer).",
    ]
    for r in results:
        for note in r.notes:
            lines.append(f"- {r.vaults:,} vaults: {note}")
    return "\n".join(lines) + "\n"


def run(sizes: Sequence[int], out: Path | None = None, log: Callable[[str], None] = _log.progress) -> str:
    results = [run_one(n, log=log) for n in sizes]
    with Anvil() as node:
        version = node.version()
    text = markdown(results, version)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text


__all__ = ["BenchResult", "Cost", "markdown", "run", "run_one"]

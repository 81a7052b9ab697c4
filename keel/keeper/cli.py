"""``keel keeper``: run the liquidation keeper until stopped (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..chain import DEFAULT_RPC, ChainError, is_local_chain
from ..client import KeelClient
from ..manifest import Manifest, ManifestError, default_manifest_path
from ..tx import KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, Sender, SignerError
from ..units import WAD
from . import strategy as st
from .bot import EventLog, Keeper, KeeperConfig, ensure_taker
from .metrics import Metrics, serve
from .rpc import counting_web3
from .txmanager import FeePolicy

DEFAULT_STATE_DIR = ".keel-keeper"


def _wad(text: str | Decimal) -> int:
    return int(Decimal(str(text)) * WAD)


def _markets(manifest: Manifest, specs: list[str]) -> dict[int, str]:
    markets: dict[int, str] = {}
    for spec in specs:
        symbol, sep, address = spec.partition("=")
        if not sep or not address.startswith("0x") or len(address) != 42:
            raise SignerError(f"--market {spec!r}: expected SYMBOL=0xADDRESS")
        markets[manifest.collateral_entry(symbol).collateral_type] = address
    return markets


def _signer(w3, args: argparse.Namespace) -> Sender:  # type: ignore[no-untyped-def]
    sender = Sender.from_env(w3, keystore=args.keystore)
    if sender is not None:
        return sender
    if args.sender and is_local_chain(w3):
        return Sender.unlocked(w3, args.sender)
    raise SignerError(
        f"no key: set {PRIVATE_KEY_ENV}, or --keystore FILE (or KEEL_KEYSTORE) with {KEYSTORE_PASSWORD_ENV}"
        + ("; on a local chain --from ADDRESS uses an account the node holds" if is_local_chain(w3) else "")
    )


def _connect_with_retry(url: str, events: EventLog, stop: threading.Event, wait: float) -> Any:
    """A Web3 once the node answers (the keeper may start before its node)."""
    deadline = time.monotonic() + wait
    pause = 1.0
    while True:
        w3 = counting_web3(url)
        try:
            w3.eth.chain_id
            return w3
        except Exception as exc:
            if time.monotonic() > deadline or stop.is_set():
                raise ChainError(f"cannot reach a node at {url}: {exc}") from exc
            events("waiting-for-node", rpc=url, error=type(exc).__name__, retry_in=pause)
            stop.wait(pause)
            pause = min(pause * 2, 15.0)


def cmd_keeper(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    out = sys.stdout
    events = EventLog(out, json_lines=args.log_json)
    manifest = Manifest.load(args.manifest) if args.manifest else None
    url = args.rpc or (manifest.rpc if manifest else None) or DEFAULT_RPC
    w3 = _connect_with_retry(url, events, stop, args.connect_wait)
    if manifest is None:
        manifest = Manifest.load(default_manifest_path(w3.eth.chain_id))
    if manifest.chain_id != w3.eth.chain_id:
        raise ManifestError(f"the manifest is for chain {manifest.chain_id}, the node is chain {w3.eth.chain_id}")
    sender = _signer(w3, args)
    client = KeelClient(w3, manifest)
    state_dir = Path(args.state_dir)
    markets = _markets(manifest, args.market or [])
    taker = args.taker
    if markets and not taker and not args.dry_run:
        taker = ensure_taker(client, sender, state_dir, log=lambda m: events("taker", message=m))
    settings = st.Settings(
        batch=args.batch, min_profit=_wad(args.min_profit), altruistic=args.altruistic,
        debt_reserve=_wad(args.debt_reserve),
    )
    config = KeeperConfig(
        pricing=args.pricing, margin_bps=args.margin_bps, slippage_bps=args.slippage_bps, markets=markets,
        taker=taker, settings=settings, eth_price=_wad(args.eth_price) if args.eth_price is not None else None,
        interval=args.interval, dry_run=args.dry_run, state_dir=state_dir, margin=not args.no_margin,
        fees=FeePolicy(max_fee_gwei=args.max_fee_gwei, priority_fee_gwei=args.priority_fee_gwei,
                       bump_percent=args.bump_percent, stuck_after=args.stuck_after),
    )
    metrics = Metrics()
    stop_metrics = serve(metrics, args.metrics_port) if args.metrics_port else None
    keeper = Keeper(client, sender, config, events=events, metrics=metrics)
    events("start", keeper=sender.address, chain=manifest.chain_id, rpc=url, taker=taker, pricing=args.pricing,
           markets={manifest.collateral_entry(t).symbol: a for t, a in markets.items()}, dry_run=args.dry_run,
           cached_block=keeper.discovery.index.block, metrics_port=args.metrics_port)
    tty = sys.stderr.isatty() and not args.no_status
    last_status = [0.0]

    def status(line: str) -> None:
        if args.no_status:
            return
        if tty:
            print("\r" + line[:200].ljust(200), end="", file=sys.stderr, flush=True)
        elif time.monotonic() - last_status[0] >= args.status_every:
            last_status[0] = time.monotonic()
            print(f"status: {line}", file=sys.stderr, flush=True)

    try:
        totals = keeper.run(stop=stop, max_ticks=args.max_ticks, status=status)
    finally:
        if tty:
            print(file=sys.stderr)
        if stop_metrics:
            stop_metrics()
    summary = {
        "liquidated": totals.liquidated, "takes": totals.takes, "resets": totals.resets,
        "margin_steps": totals.margin_steps, "sent": totals.sent, "reverted": totals.reverted,
        "refused": totals.refused, "rpc_errors": totals.errors,
        "rewards_kusd": str(Decimal(totals.rewards) / WAD), "take_profit_kusd": str(Decimal(totals.take_profit) / WAD),
        "gas_eth": str(Decimal(totals.gas_wei) / 10**18), "profit_kusd": str(Decimal(keeper.profit()) / WAD),
    }
    events("stop", **summary)
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def add_parser(sub: Any) -> None:
    keeper = sub.add_parser(
        "keeper", help="run the liquidation keeper until stopped",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Watch a Keel deployment and keep it solvent: liquidate every unsafe vault (in batches of up to "
            "50), reset stale auctions, take lots whose price is below what the collateral fetches (a flash "
            "take through a KeeperTaker contract that sells on --market: no capital needed), start and work "
            "margin-account liquidations. Acts only when the reward or profit pays for the gas. Vaults, lots "
            "and accounts come from events (cached in --state-dir) and are read in batches each tick. "
            "Transactions use EIP-1559 fees, are replaced with bumped fees when stuck, and are journalled so "
            "a restart neither loses nor repeats one. Runs until Ctrl-C or SIGTERM; prints a summary.", 78),
        epilog=textwrap.fill(
            f"Key: {PRIVATE_KEY_ENV}, or --keystore FILE / KEEL_KEYSTORE with {KEYSTORE_PASSWORD_ENV}; never an "
            "argument. Output: one structured log line per event on stdout (--log-json for JSON lines), a "
            "live status line on stderr, Prometheus metrics on --metrics-port (/metrics).", 78)
        + "\n\nexample:\n  KEEL_PRIVATE_KEY=0x... keel keeper --rpc http://127.0.0.1:8545 \\\n"
          "      --market WETH=0xMarket... --metrics-port 9464",
    )
    keeper.add_argument("--rpc", help=f"node URL (default: the manifest's, else {DEFAULT_RPC})")
    keeper.add_argument("--manifest", help="deployment manifest (default deployments/[local/]<chain_id>.json)")
    keeper.add_argument("--keystore", help=f"keystore file to sign with (password in {KEYSTORE_PASSWORD_ENV})")
    keeper.add_argument("--from", dest="sender", metavar="ADDRESS",
                        help="local chains only: an account the node holds unlocked")
    keeper.add_argument("--market", action="append", metavar="SYMBOL=ADDRESS",
                        help="a market (sell(units) / quote(units)) to flash-sell a type's collateral into; "
                             "repeatable. Types without one are taken with the keeper's own debt tokens")
    keeper.add_argument("--taker", metavar="ADDRESS", help="the keeper's KeeperTaker (default: the one in "
                                                            "--state-dir, else deploy one)")
    keeper.add_argument("--pricing", choices=["market", "oracle"], default="market",
                        help="what collateral fetches: the market's quote (default) or the oracle less --margin-bps")
    keeper.add_argument("--margin-bps", type=int, default=300, help="oracle pricing: discount insisted on (default 300)")
    keeper.add_argument("--slippage-bps", type=int, default=50, help="market pricing: allowance (default 50)")
    keeper.add_argument("--min-profit", type=Decimal, default=Decimal(0), help="kUSD a take must earn after gas")
    keeper.add_argument("--altruistic", action="store_true",
                        help="liquidate even when the reward does not cover the gas")
    keeper.add_argument("--debt-reserve", type=Decimal, default=Decimal(0),
                        help="kUSD of its own the keeper never spends on margin liquidations")
    keeper.add_argument("--eth-price", type=Decimal, help="kUSD per ETH for gas costs (default: the WETH oracle)")
    keeper.add_argument("--batch", type=int, default=50, choices=range(1, 51), metavar="1..50",
                        help="vaults per liquidate_many (default 50)")
    keeper.add_argument("--max-fee-gwei", type=float, help="gas price cap: nothing is sent above it")
    keeper.add_argument("--priority-fee-gwei", type=float, help="tip (default: the node's suggestion)")
    keeper.add_argument("--bump-percent", type=float, default=12.5, help="fee bump of a replacement (default 12.5)")
    keeper.add_argument("--stuck-after", type=float, default=30.0, help="seconds before a replacement (default 30)")
    keeper.add_argument("--interval", type=float, default=2.0, help="seconds between ticks (default 2)")
    keeper.add_argument("--dry-run", action="store_true", help="estimate and print what it would send; send nothing")
    keeper.add_argument("--no-margin", action="store_true", help="leave portfolio-margin accounts alone")
    keeper.add_argument("--state-dir", default=os.environ.get("KEEL_KEEPER_STATE", DEFAULT_STATE_DIR),
                        help=f"discovery cache, tx journal, taker address (default {DEFAULT_STATE_DIR}/)")
    keeper.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    keeper.add_argument("--log-json", action="store_true", help="log JSON lines")
    keeper.add_argument("--no-status", action="store_true", help="no status line")
    keeper.add_argument("--status-every", type=float, default=10.0,
                        help="seconds between status lines when stderr is not a terminal (default 10)")
    keeper.add_argument("--max-ticks", type=int, help="stop after this many ticks")
    keeper.add_argument("--connect-wait", type=float, default=300.0,
                        help="seconds to wait for the node at start (default 300)")
    keeper.add_argument("--summary", metavar="FILE", help="write the final totals as JSON")
    keeper.set_defaults(func=cmd_keeper)

    bench = sub.add_parser(
        "keeper-bench", help="measure the keeper: scan cost, time to liquidate a crash, gas",
        description="For each book size, on a fresh embedded Anvil: discovery (cold and from the cache), "
                    "the cost of one scan (seconds, HTTP requests, JSON-RPC calls), a -40%% crash: seconds "
                    "from the price drop to the last liquidation and gas per liquidation, then the lots "
                    "taken (gas per take, bad debt, profit). Markdown on stdout (make keeper-bench: "
                    "docs/keeper-benchmark.md). A benchmark, not a test.",
    )
    bench.add_argument("--vaults", type=int, nargs="+", default=[1_000, 5_000], help="book sizes (default 1000 5000)")
    bench.add_argument("--out", help="also write the markdown here")
    bench.set_defaults(func=cmd_keeper_bench)


def cmd_keeper_bench(args: argparse.Namespace) -> int:
    from ..artifacts import ensure_compiled, project_root
    from .bench import run

    ensure_compiled(project_root())
    print(run(args.vaults, Path(args.out) if args.out else None), end="")
    return 0


__all__ = ["add_parser", "cmd_keeper", "cmd_keeper_bench"]

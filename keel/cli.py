"""``keel``: the command line.

    keel demo                       the demo scenario on an embedded Anvil
    keel deploy [--rpc URL] ...     deploy (or reuse) a system, write its manifest
    keel gas [--out docs/gas.md]    measure gas and code sizes, write the markdown table
    keel info [--manifest PATH]     collateral types, oracles, vaults and the ledger of a deployment
    keel fuzz [--profile ci|deep] [--backend boa|anvil] [--seed S] ...
                                    the whole-protocol stateful fuzz suite (docs/INVARIANTS.md)
    keel fuzz-bench [--out docs/fuzz-benchmark.md]
                                    fuzz throughput, steps per second on each backend
    keel reporter --symbol WETH (--csv FILE | --gbm | --jump SIZE) [--advance-time] [--poke]
                                    push a price path through a PriceFeed's reporters
    keel keeper [--rpc URL] [--market WETH=0x..] [--dry-run] [--metrics-port P] ...
                                    the liquidation keeper, until stopped (docs/KEEPER.md)
    keel simulate [--csv PATH] [--vaults N] [--out DIR]
                                    replay a price path on a book of vaults with the keeper

Results go to stdout, progress lines to stderr. Private keys are never arguments: set
KEEL_PRIVATE_KEY, or point --keystore (or KEEL_KEYSTORE) at a keystore file and put its
password in KEEL_KEYSTORE_PASSWORD; reporters sign with KEEL_REPORTER_KEYS
(comma-separated private keys; on local chains the node's unlocked reporter accounts).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Sequence

from . import log as _log
from .artifacts import ArtifactError, ensure_compiled, project_root
from .chain import DEFAULT_RPC, ChainError, connect, is_local_chain
from .client import ClientError, KeelClient
from .deploy import DeployConfig, DeployError, deploy_system
from .manifest import Manifest, ManifestError, default_manifest_path
from .oracle import REPORTER_KEYS_ENV, OracleError
from .text import heading, short_address, table
from .tx import KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, KeelTxError, Sender, SignerError
from .units import annual_rate, fmt_percent, fmt_rad, fmt_ratio, fmt_ray, fmt_wad, from_wad

EXPECTED_ERRORS = (
    ArtifactError, ChainError, ClientError, DeployError, KeelTxError, ManifestError, OracleError, SignerError,
)


# ---------------------------------------------------------------------------- commands
def cmd_demo(args: argparse.Namespace) -> int:
    from .scenario import run_scenario

    result = run_scenario(port=args.port, days=args.days)
    return 0 if result.invariant_ok else 1


def cmd_deploy(args: argparse.Namespace) -> int:
    root = project_root()
    ensure_compiled(root)
    w3 = connect(args.rpc)
    sender = _deployer(w3, args)
    config = DeployConfig.from_file(args.config) if args.config else DeployConfig()
    manifest_path = Path(args.manifest) if args.manifest else default_manifest_path(w3.eth.chain_id, root)
    manifest = deploy_system(w3, sender, config, manifest_path, force=args.force, root=root, rpc=args.rpc)
    print(f"manifest: {manifest_path}")
    for name, address in manifest.contracts.items():
        print(f"  {name:<12} {address}")
    for entry in manifest.collateral:
        print(f"  {entry.symbol:<12} type {entry.collateral_type}  token {entry.token}  oracle {entry.oracle}")
    return 0


def _deployer(w3, args: argparse.Namespace) -> Sender:  # type: ignore[no-untyped-def]
    """KEEL_PRIVATE_KEY / keystore, else --from or the node's first unlocked account."""
    sender = Sender.from_env(w3, keystore=args.keystore)
    if sender is not None:
        return sender
    if args.sender:
        return Sender.unlocked(w3, args.sender)
    if not is_local_chain(w3):
        raise SignerError(
            f"no signer: set {PRIVATE_KEY_ENV}, or --keystore FILE with {KEYSTORE_PASSWORD_ENV} "
            "(node-held accounts are only used on local chains unless --from is given)"
        )
    return Sender.unlocked(w3, 0)


def cmd_gas(args: argparse.Namespace) -> int:
    from .gas import measure, write_report

    report = measure(port=args.port)
    text = report.markdown()
    if args.out:
        write_report(report, args.out)
        _log.progress(f"wrote {args.out}")
    print(text, end="")
    failed = any(not r.passed for r in report.rows) or any(s.headroom < 0 for s in report.sizes)
    return 2 if (args.strict and failed) else 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    import dataclasses
    import os

    from .fuzz.runner import PROFILES, cross_backend, run_profile

    profile = PROFILES[args.profile]
    changes: dict = {}
    if args.examples is not None:
        changes["examples"] = args.examples
    if args.run_steps is not None:
        changes["run_steps"] = args.run_steps
    if args.seed is not None or args.seeds is not None:
        changes.update(seeds=1 if args.seed is not None else args.seeds, steps=0)
    if args.steps is not None:
        changes.update(steps=args.steps, seeds=0)
    profile = dataclasses.replace(profile, **changes)
    first_seed = args.seed if args.seed is not None else args.first_seed
    workers = args.workers or min(os.cpu_count() or 1, profile.seeds or os.cpu_count() or 1)
    if args.backend == "anvil":
        workers = min(workers, 2)
    if args.path_csv and not Path(args.path_csv).is_file():
        print(f"keel: error: --path-csv: no such file {args.path_csv}", file=sys.stderr)
        return 2
    goal = f"{profile.steps:,} steps" if profile.steps else f"{profile.seeds} seed(s) from {first_seed}"
    _log.progress(f"fuzz: profile {profile.name}, {args.backend}, {goal}, {profile.examples} examples x "
                  f"{profile.run_steps} steps a seed, {workers} worker(s)")
    summary = run_profile(profile, backend=args.backend, workers=workers, first_seed=first_seed,
                          csv_path=args.path_csv)
    compare = None
    if args.cross_backend or (profile.anvil_seeds and args.backend == "boa" and args.seed is None
                              and not args.no_cross_backend):
        seed = first_seed
        _log.progress(f"fuzz: seed {seed} on titanoboa and on Anvil ({profile.anvil_examples} examples x "
                      f"{profile.anvil_run_steps} steps): the final states must agree")
        compare = cross_backend(seed, profile.anvil_examples, profile.anvil_run_steps)
        summary.cross_backend = {k: v for k, v in compare.items() if k not in ("boa", "anvil")}
        summary.cross_backend["runs_compared"] = len(compare["boa"])
    rows = [
        ["profile", summary.profile], ["backend", summary.backend], ["workers", str(summary.workers)],
        ["seeds", _seed_list(summary.seeds)], ["steps", f"{summary.steps:,}"], ["runs", f"{summary.runs:,}"],
        ["transactions", f"{summary.transactions:,}"], ["wall time", f"{summary.wall_seconds:,.1f} s"],
        ["steps per second", f"{summary.steps_per_second:,.1f}"], ["failures", str(len(summary.failures))],
    ]
    if compare is not None:
        rows.append(["anvil vs titanoboa", f"{'equal' if compare['equal'] else 'DIFFERENT'} over "
                                           f"{len(compare['boa'])} runs (seed {compare['seed']})"])
    print("\n".join(heading("Fuzz summary") + table(["measure", "value"], rows, align="ll")))
    refused = {k: v for k, v in summary.actions.items() if " refused" in k}
    done = sum(v for k, v in summary.actions.items() if k.endswith(" ok"))
    print(f"\nactions: {done:,} done, {sum(refused.values()):,} refused as predicted "
          f"({len(summary.actions)} kinds; --summary FILE has them all)")
    for failure in summary.failures:
        print(f"\nFAILED seed {failure['seed']}; replay: {failure['replay']}")
    if args.summary:
        Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
        Path(args.summary).write_text(summary.to_json() + "\n")
        _log.progress(f"wrote {args.summary}")
    if args.report:
        command = "keel fuzz " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 and sys.argv[1] == "fuzz" else ""
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(summary.markdown(command))
        _log.progress(f"wrote {args.report}")
    ok = not summary.failures and (compare is None or compare["equal"])
    return 0 if ok else 1


def _seed_list(seeds: list[int]) -> str:
    if not seeds:
        return "-"
    ordered = sorted(seeds)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{ordered[0]}..{ordered[-1]} ({len(ordered)})"
    return ", ".join(map(str, ordered))


def cmd_fuzz_bench(args: argparse.Namespace) -> int:
    from .fuzz.bench import benchmark

    text = benchmark(steps=args.steps, anvil_steps=args.anvil_steps)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        _log.progress(f"wrote {args.out}")
    print(text, end="")
    return 0


def _open_manifest(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(w3, manifest) from --manifest / --rpc (the manifest's rpc, else the default node)."""
    if args.manifest:
        manifest = Manifest.load(args.manifest)
        w3 = connect(args.rpc or manifest.rpc or DEFAULT_RPC)
    else:
        w3 = connect(args.rpc or DEFAULT_RPC)
        manifest = Manifest.load(default_manifest_path(w3.eth.chain_id))
    if manifest.chain_id != w3.eth.chain_id:
        raise ManifestError(f"the manifest is for chain {manifest.chain_id}, the node is chain {w3.eth.chain_id}")
    return w3, manifest


def cmd_info(args: argparse.Namespace) -> int:
    from .oracle import oracle_table

    w3, manifest = _open_manifest(args)
    client = KeelClient(w3, manifest)
    lines = heading(f"Keel on chain {manifest.chain_id}")
    lines += [
        f"  DebtToken    {manifest.address('DebtToken')}",
        f"  VaultEngine  {manifest.address('VaultEngine')}",
        f"  deployed by  {manifest.deployer} in block {manifest.block}",
    ]
    lines += heading("Collateral types")
    rows = []
    for t in client.collateral_types():
        price, fresh = client.price(t.collateral_type)
        rows.append([
            f"{t.collateral_type} {t.symbol or short_address(t.token)}", fmt_wad(price), "yes" if fresh else "STALE",
            fmt_ratio(t.liquidation_ratio, 0), fmt_percent(annual_rate(t.stability_fee)), fmt_ray(t.rate),
            fmt_wad(t.debt), fmt_wad(t.debt_ceiling, 0), fmt_wad(t.dust, 0),
        ])
    lines += table(["type", "price", "fresh", "ratio", "fee/yr", "rate", "debt", "ceiling", "dust"], rows)
    lines += heading("Oracles")
    lines += oracle_table(client)
    lines += heading("Vaults")
    ids = client.open_vault_ids()
    symbols = {e.collateral_type: e.symbol for e in manifest.collateral}
    vault_rows = [
        [v.vault_id, short_address(v.owner), symbols.get(v.collateral_type, v.collateral_type),
         fmt_wad(v.collateral, 4), fmt_wad(v.debt), fmt_ratio(v.collateral_ratio), fmt_wad(v.max_borrow),
         "yes" if v.safe else "NO"]
        for v in client.vaults_info(ids)
    ]
    lines += table(["vault", "owner", "type", "collateral", "debt", "ratio", "can borrow", "safe"], vault_rows,
                   align="rllrrrrl") if vault_rows else ["  (no open vaults)"]
    check = client.ledger_check()
    lines += heading("Ledger")
    lines += [
        f"  kUSD supply  {fmt_wad(check.supply)}",
        f"  surplus      {fmt_rad(check.surplus, 4)}",
        f"  in auction   {fmt_rad(check.debt_in_auction, 4)}",
        f"  bad debt     {fmt_rad(check.bad_debt, 4)}",
        "  invariant    supply*RAY + surplus == sum(normalized_debt*rate) + debt_in_auction + bad_debt -> "
        f"{'OK' if check.ok else 'FAIL'}",
    ]
    print("\n".join(lines))
    return 0 if check.ok else 1


def cmd_reporter(args: argparse.Namespace) -> int:
    import random

    from .chain import increase_time, latest_timestamp
    from .oracle import Reporter, feed_state, gbm_path, jump_path, load_csv, reporter_senders

    w3, manifest = _open_manifest(args)
    local = is_local_chain(w3)
    if args.advance_time and not local:
        raise OracleError("--advance-time moves the chain's clock: local chains only")
    entry = manifest.collateral_entry(args.symbol)
    senders = reporter_senders(w3, manifest, [entry.symbol])
    reporter = Reporter(w3, manifest, senders)
    state = reporter.state(entry.symbol)
    if not state.is_price_feed:
        raise OracleError(f"{entry.symbol} is priced by a {state.contract}, not a PriceFeed: no reporters")
    mine = reporter.reporters_for(entry.symbol)
    start = args.start if args.start is not None else from_wad(state.latest_price or state.current_price)
    if args.csv:
        path = load_csv(args.csv)
    elif args.gbm:
        if not start:
            raise OracleError(f"{entry.symbol}: the feed has no price yet; pass --start")
        sigma = args.sigma if args.sigma is not None else 0.8
        path = gbm_path(start, args.mu, sigma, args.dt, args.steps, args.seed)
    else:
        if not start:
            raise OracleError(f"{entry.symbol}: the feed has no price yet; pass --start")
        path = jump_path(start, args.jump, args.jump_at, args.steps, args.dt, args.jump_length,
                         mu=args.mu, sigma=args.sigma or 0.0, seed=args.seed)
    print(f"{entry.symbol} PriceFeed {entry.oracle} on chain {manifest.chain_id}: {len(mine)} of "
          f"{len(state.reporters)} reporters held here, quorum {state.quorum}, delay {state.delay:,} s, "
          f"max jump {state.max_jump_bps / 100:g}%")
    print(f"pushing {len(path)} prices" + (" (clock advanced between steps)" if args.advance_time else "")
          + (", poking when due" if args.poke else ", not poking (--poke to poke when due)"))
    header = f"{'step':>4}  {'t+s':>9}  {'pushed':>14}  {'result':<10} {'accepted':>14}  " \
             f"{'current':>14} {'':<5}  {'next':>14}  {'vol':>8}  poke"
    print(header)
    rng = random.Random(args.seed)
    counts: dict[str, int] = {}
    previous = path[0].offset
    for i, point in enumerate(path):
        if args.advance_time and point.offset > previous:
            increase_time(w3, point.offset - previous)
        previous = point.offset
        result = reporter.push(entry.symbol, point.price, noise_bps=args.noise_bps, rng=rng, poke=args.poke)
        st = result.state
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        print(f"{i:>4}  {point.offset:>9}  {fmt_wad(result.price):>14}  {result.outcome:<10} "
              f"{fmt_wad(st.latest_price):>14}  {fmt_wad(st.current_price):>14} "
              f"{'fresh' if st.current_fresh else 'STALE':<5}  {fmt_wad(st.next_price):>14}  "
              f"{fmt_percent(from_wad(st.volatility)):>8}  {'yes' if result.poked else '-'}", flush=True)
    final = feed_state(reporter.client, entry.symbol)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"done: {len(path)} pushes ({summary}); chain time {latest_timestamp(w3)}; current "
          f"{fmt_wad(final.current_price)} ({'fresh' if final.current_fresh else 'stale'}), next "
          f"{fmt_wad(final.next_price)}, accepted {fmt_wad(final.latest_price)}, volatility "
          f"{fmt_percent(from_wad(final.volatility))}")
    return 0


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keel",
        description="Keel CDP protocol: deploy, inspect, push oracle prices, run the keeper, demo, gas report "
                    "and fuzz suite.",
        epilog=f"Signing: {PRIVATE_KEY_ENV}, or --keystore/KEEL_KEYSTORE with {KEYSTORE_PASSWORD_ENV}. "
               "Set KEEL_QUIET=1 to silence progress lines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="run the demo scenario on an embedded Anvil",
                          description="Deploy to a fresh embedded Anvil (prices from three reporters "
                                      "through a delayed PriceFeed); three users open vaults, fees accrue "
                                      "for --days, the reporters push new prices, a 40% jump trips the "
                                      "circuit breaker and is cancelled, users repay and close; print the "
                                      "oracle state and a summary with the ledger invariant (exit 1 if it "
                                      "fails).")
    demo.add_argument("--days", type=int, default=30, help="days that pass (default 30)")
    demo.add_argument("--port", type=int, help="anvil port (default: a free one in 8623-8699)")
    demo.set_defaults(func=cmd_demo)

    deploy = sub.add_parser("deploy", help="deploy Keel (or reuse the deployment) and write the manifest",
                            description="Deploy DebtToken, VaultEngine and, per collateral, a PriceFeed "
                                        "with its reporters (or a ChainlinkAdapter; mock tokens on local "
                                        "chains). On a local chain the reporters report, the feed is poked, "
                                        "the clock moves past the delay and it is poked again, so prices are "
                                        "current; on a public chain the reporters must report (keel reporter) "
                                        "and someone must poke() twice, the delay apart. Re-running reuses a "
                                        "live deployment from the manifest.")
    deploy.add_argument("--rpc", default=DEFAULT_RPC, help=f"node URL (default {DEFAULT_RPC})")
    deploy.add_argument("--manifest", help="manifest path (default deployments/[local/]<chain_id>.json)")
    deploy.add_argument("--config", help="deploy config, JSON or YAML (default: WETH and WBTC mocks)")
    deploy.add_argument("--force", action="store_true", help="redeploy even if the manifest is live")
    deploy.add_argument("--keystore", help=f"keystore file to sign with (password in {KEYSTORE_PASSWORD_ENV})")
    deploy.add_argument("--from", dest="sender", metavar="ADDRESS",
                        help="an account the node holds unlocked (default on local chains: its first)")
    deploy.set_defaults(func=cmd_deploy)

    gas = sub.add_parser("gas", help="measure gas per user operation and bytecode sizes",
                         description="Measure gasUsed of each user operation (second user, warm storage, "
                                     "1 hour between operations) against MakerDAO's, and runtime code "
                                     "sizes against EIP-170; print markdown.")
    gas.add_argument("--out", help="also write the markdown here (make gas: docs/gas.md)")
    gas.add_argument("--port", type=int, help="anvil port (default: a free one in 8623-8699)")
    gas.add_argument("--strict", action="store_true", help="exit 2 if a target is missed or a contract is too big")
    gas.set_defaults(func=cmd_gas)

    fuzz = sub.add_parser(
        "fuzz", help="run the whole-protocol stateful fuzz suite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Hypothesis drives one state machine over the whole protocol (vaults, fees, oracle reports and "
            "price paths, liquidations, takes, resets, options, margin accounts, settlement, shutdown) and "
            "checks every invariant of docs/INVARIANTS.md after every step. A run is a list of seeds; each "
            "seed is one hypothesis test of EXAMPLES examples of up to RUN_STEPS steps, from the freshly "
            "deployed protocol. Progress per seed on stderr; a summary on stdout; a failing seed prints "
            "its story (every step labelled) and the command that replays it. Exit 1 on any failure.", 78),
        epilog="profiles:\n"
               "  ci    4 seeds x 40 examples x 120 steps on titanoboa, then seed 1 again on titanoboa\n"
               "        and on Anvil (5 x 30 steps): the final states must be equal\n"
               "  deep  seeds until 1,000,000 steps (100 examples x 200 steps a seed), all cores\n\n"
               "replay a failure:  keel fuzz --seed 7 --examples 40 --run-steps 120 [--backend anvil]",
    )
    fuzz.add_argument("--profile", choices=["ci", "deep"], default="ci", help="ci (default) or deep")
    fuzz.add_argument("--backend", choices=["boa", "anvil"], default="boa",
                      help="titanoboa, in process (default), or an embedded Anvil node")
    fuzz.add_argument("--seed", type=int, help="run just this seed (replay)")
    fuzz.add_argument("--first-seed", type=int, default=1, help="first seed of the run (default 1)")
    fuzz.add_argument("--seeds", type=int, help="run this many seeds (instead of the profile's)")
    fuzz.add_argument("--steps", type=int, help="add seeds until this many steps ran (deep: 1,000,000)")
    fuzz.add_argument("--examples", type=int, help="hypothesis examples per seed")
    fuzz.add_argument("--run-steps", type=int, help="steps per example, at most")
    fuzz.add_argument("--workers", type=int, help="processes (default: one per core, at most one per seed)")
    fuzz.add_argument("--path-csv", metavar="FILE", help="price path replayed by the CSV strategy (default "
                                                         "tests/fuzz/paths/drawdown_72h.csv)")
    fuzz.add_argument("--summary", metavar="FILE", help="also write the summary as JSON")
    fuzz.add_argument("--report", metavar="FILE", help="also write the summary as markdown (docs/fuzz-deep.md)")
    cross = fuzz.add_mutually_exclusive_group()
    cross.add_argument("--cross-backend", action="store_true",
                       help="also run the first seed on both backends and compare final states")
    cross.add_argument("--no-cross-backend", action="store_true", help="skip the ci profile's Anvil sample")
    fuzz.set_defaults(func=cmd_fuzz)

    bench = sub.add_parser("fuzz-bench", help="measure fuzz throughput on each backend",
                           description="Run the whole-protocol machine for a fixed number of steps on "
                                       "titanoboa (one process, then one per core) and on Anvil, and print "
                                       "steps per second as markdown (make fuzz-bench: "
                                       "docs/fuzz-benchmark.md). A benchmark, not a test.")
    bench.add_argument("--steps", type=int, default=20_000, help="titanoboa steps per measurement (default 20,000)")
    bench.add_argument("--anvil-steps", type=int, default=1_500, help="Anvil steps (default 1,500)")
    bench.add_argument("--out", help="also write the markdown here")
    bench.set_defaults(func=cmd_fuzz_bench)

    info = sub.add_parser("info", help="show a deployment's collateral types, vaults and ledger",
                          description="Read a deployment through its manifest: collateral types, oracles "
                                      "(current, next, accepted, volatility, required ratio), vaults, ledger.")
    info.add_argument("--manifest", help="manifest path (default: deployments/[local/]<chain_id>.json of --rpc)")
    info.add_argument("--rpc", help=f"node URL (default: the manifest's, else {DEFAULT_RPC})")
    info.set_defaults(func=cmd_info)

    rep = sub.add_parser(
        "reporter", help="push a price path through a PriceFeed's reporters",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Every reporter held here reports each price of a path (a CSV file, a generated GBM path or a "
            "jump) to the collateral type's PriceFeed, then, with --poke, the feed is poked when the "
            "security-module delay allows. One line per step: the price pushed, the outcome (accepted / "
            "held / cancelled / confirmed / no quorum), the accepted median, the current (delayed) price "
            "and its freshness, next, the EWMA volatility, whether it poked.", 78),
        epilog=textwrap.fill(
            f"Reporter keys: {REPORTER_KEYS_ENV} (comma-separated private keys), never arguments; on local "
            "chains without it, the node's unlocked accounts that are reporters of the feed (anvil 7-9 "
            "after `keel deploy`).", 78) + "\n\n"
               "CSV format: a header, then one row per price, in time order; either\n"
               "  timestamp_offset_s,price     seconds since the start of the path\n"
               "or\n"
               "  timestamp,price              unix seconds (offsets from the first row)\n"
               "prices in debt-token units (e.g. 2012.5); blank lines and lines starting with #\n"
               "are skipped. The timing is used only with --advance-time.",
    )
    rep.add_argument("--manifest", help="manifest path (default: deployments/[local/]<chain_id>.json of --rpc)")
    rep.add_argument("--rpc", help=f"node URL (default: the manifest's, else {DEFAULT_RPC})")
    rep.add_argument("--symbol", required=True, help="collateral symbol, e.g. WETH")
    source = rep.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", metavar="FILE", help="replay prices from a CSV file (format below)")
    source.add_argument("--gbm", action="store_true", help="a geometric Brownian motion path (--sigma, --mu, "
                                                             "--steps, --dt, --seed, --start)")
    source.add_argument("--jump", type=float, metavar="SIZE",
                        help="a flat path (GBM with --sigma) with one jump of SIZE (0.4: +40%%) at --jump-at")
    rep.add_argument("--start", type=Decimal, help="first price of a generated path (default: the feed's "
                                                    "accepted price)")
    rep.add_argument("--sigma", type=float, default=None, help="annual volatility (default 0.8 for --gbm, "
                                                                 "0 for --jump)")
    rep.add_argument("--mu", type=float, default=0.0, help="annual drift (default 0)")
    rep.add_argument("--steps", type=int, default=100, help="steps of a generated path (default 100; "
                                                             "steps + 1 prices)")
    rep.add_argument("--dt", type=int, default=3600, help="seconds between generated prices (default 3600)")
    rep.add_argument("--seed", type=int, default=1, help="random seed of the path and the noise (default 1)")
    rep.add_argument("--jump-at", type=int, default=1, help="step of the jump (default 1)")
    rep.add_argument("--jump-length", type=int, help="steps the jump lasts (default: to the end)")
    rep.add_argument("--noise-bps", type=float, default=0.0,
                     help="each reporter's price is off by up to this many bps (uniform; default 0)")
    rep.add_argument("--advance-time", action="store_true",
                     help="local chains: move the clock by each step's time difference before pushing it")
    rep.add_argument("--poke", action="store_true", help="poke the feed after a push when the delay allows")
    rep.set_defaults(func=cmd_reporter)

    from .keeper.cli import add_parser as add_keeper_parser
    from .sim.cli import add_parser as add_simulate_parser

    add_keeper_parser(sub)
    add_simulate_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EXPECTED_ERRORS as exc:
        print(f"keel: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

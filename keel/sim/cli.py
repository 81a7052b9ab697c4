"""``keel simulate`` (one replay with the production keeper, a Monte Carlo batch or a
parameter sweep) and ``keel sim-report`` (the HTML risk report)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..artifacts import ensure_compiled, project_root
from ..oracle import load_csv
from ..units import WAD, from_wad

DEFAULT_CSV = Path(__file__).resolve().parent / "data" / "black_thursday.csv"


def _book(args: argparse.Namespace) -> Any:
    from .engine import BookSpec

    return BookSpec(vaults=args.vaults, seed=args.seed, ratios=(float(args.ratios[0]), float(args.ratios[1])),
                    sizes=(float(args.sizes[0]), float(args.sizes[1])), distribution=args.distribution,
                    writers=args.writers, writer_debt=args.writer_debt)


def _params(args: argparse.Namespace) -> Any:
    from .engine import Params

    return Params(liquidation_ratio=args.liquidation_ratio, penalty=args.penalty, curve_tau=args.curve_tau,
                  curve_buf=args.curve_buf, type_limit=args.type_limit, keeper_interval=args.tick,
                  market_depth=args.market_depth, liquidate_writers=not args.no_writer_liquidation)


def _spec(args: argparse.Namespace) -> Any:
    from .montecarlo import PathSpec

    return PathSpec(kind=args.path, hours=args.hours, sigma=args.sigma, jump=args.jump,
                    jumps_per_day=args.jumps_per_day, jump_sd=args.jump_sd,
                    csv=args.csv if args.path == "csv" else None)


def _sweep(text: str) -> tuple[str, list[float]]:
    from .montecarlo import SWEEPABLE

    name, _, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if name not in SWEEPABLE or not values:
        raise argparse.ArgumentTypeError(f"--sweep NAME=V1,V2,...: NAME one of {', '.join(SWEEPABLE)}")
    try:
        return name, [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sweep {text!r}: values must be numbers") from None


def cmd_simulate(args: argparse.Namespace) -> int:
    ensure_compiled(project_root())
    if args.sweep:
        return _run_sweep(args)
    if args.runs:
        return _batch(args)
    from .replay import replay, write

    path = load_csv(args.csv)
    result = replay(path, vaults=args.vaults, symbol=args.symbol, seed=args.seed,
                    ratios=(Decimal(args.ratios[0]), Decimal(args.ratios[1])), tick_seconds=args.tick,
                    depth=int(Decimal(args.depth) * WAD) if args.depth else None)
    out = Path(args.out)
    write(result, out)
    if args.report:
        from .replay import markdown

        Path(args.report).write_text(markdown(result, f"{Path(args.csv).name} on {args.vaults:,} vaults"))
    summary = result.to_json()
    summary.pop("takes")
    print(json.dumps(summary, indent=2))
    print(f"{result.symbol} {from_wad(result.start_price):,.2f} -> low {from_wad(result.low_price):,.2f}: "
          f"{result.liquidated} of {result.vaults} vaults liquidated ({result.unsafe_at_low} unsafe at the low), "
          f"{len(result.takes)} takes, {result.resets} resets, bad debt {result.bad_debt / WAD:,.2f} kUSD "
          f"of {result.book_debt / WAD:,.0f} borrowed; keeper profit {result.keeper_profit / WAD:,.0f} kUSD. "
          f"Results in {out}/")
    return 0 if result.lots_open_at_end == 0 else 1


def _batch(args: argparse.Namespace) -> int:
    from .montecarlo import run_batch, write

    spec = _spec(args)
    batch = run_batch(spec, runs=args.runs, book=_book(args), params=_params(args), seed=args.seed,
                      workers=args.workers, backend=args.backend, scheduler=args.scheduler)
    write(batch, Path(args.out))
    print(f"{batch.runs} {spec.kind} paths on {batch.vaults} vaults, backend {batch.backend} "
          f"({batch.seconds:.0f} s of compute on {batch.workers if not args.scheduler else 'Dask'} workers); "
          "loss = bad debt, kUSD")
    for r in batch.risk:
        print(f"  {r.alpha:.0%}: VaR {r.var:,.2f}  ES {r.es:,.2f}  (mean {r.mean:,.2f}, worst {r.worst:,.2f})")
    if args.writers:
        losses = batch.losses
        print(f"  writers: {sum(x.writers_liquidated for x in losses) / len(losses):.1f} of {args.writers} liquidated "
              f"a path on average; under water at the end: worst {max(x.writer_shortfall_end for x in losses):,.2f} "
              "kUSD")
    print(f"results in {args.out}/ (batch.json, losses.csv)")
    return 0


def _run_sweep(args: argparse.Namespace) -> int:
    from .montecarlo import run_sweep, write

    name, values = args.sweep
    sweep = run_sweep(_spec(args), name, values, runs=args.runs or 20, book=_book(args), params=_params(args),
                      seed=args.seed, workers=args.workers, backend=args.backend, scheduler=args.scheduler)
    out = Path(args.out)
    for value, batch in zip(sweep.values, sweep.batches):
        write(batch, out / f"{name}={value:g}")
    (out / "sweep.json").write_text(json.dumps(sweep.to_json(), indent=2) + "\n")
    print(f"sweep of {name} over {len(values)} values, {sweep.batches[0].runs} paths each ({sweep.seconds:.0f} s)")
    print(f"  {name:>18}  {'mean':>12}  {'VaR 95%':>12}  {'ES 99%':>12}")
    for value, batch in zip(sweep.values, sweep.batches):
        print(f"  {value:>18g}  {batch.risk[0].mean:>12,.2f}  {batch.risk[0].var:>12,.2f}  {batch.risk[1].es:>12,.2f}")
    print(f"results in {out}/")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import build, write

    ensure_compiled(project_root())
    sweeps = dict(args.sweep) if args.sweep else {}
    command = "keel sim-report " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 1 else ""
    data = build(_book(args), _params(args), _spec(args), runs=args.runs, sweeps=sweeps, sweep_runs=args.sweep_runs,
                 csv=args.csv, seed=args.seed, workers=args.workers, backend=args.backend, scheduler=args.scheduler,
                 maker_debt=args.maker_debt, margin=not args.no_margin, command=command.strip())
    html = write(data, Path(args.out))
    if args.screenshot:
        from .screenshot import screenshot

        png = screenshot(html, html.with_suffix(".png"))
        print(f"screenshot: {png}")
    r = data.replay
    print(f"Black Thursday on {data.book.vaults} vaults: bad debt {r.loss / WAD:,.2f} kUSD of "
          f"{r.book_debt / WAD:,.0f}; Monte Carlo {data.batch.runs} paths: "
          + ", ".join(f"VaR {x.alpha:.0%} {x.var:,.2f} ES {x.es:,.2f}" for x in data.batch.risk))
    print(f"report: {html} ({data.seconds:.0f} s)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import bench

    ensure_compiled(project_root())
    print(bench(runs=args.runs, vaults=args.vaults, workers=args.workers, sample=args.sample, out=Path(args.out)))
    return 0


def _common(p: argparse.ArgumentParser, *, runs_default: int | None) -> None:
    from .montecarlo import BACKENDS

    book = p.add_argument_group("the book")
    book.add_argument("--vaults", type=int, default=500, help="vaults in the book (default 500)")
    book.add_argument("--seed", type=int, default=1, help="seed of the book and the first path (default 1)")
    book.add_argument("--ratios", nargs=2, default=["1.6", "3.0"], metavar=("LOW", "HIGH"),
                      help="collateral ratios drawn between these (default 1.6 3.0)")
    book.add_argument("--distribution", choices=["uniform", "skewed"], default="uniform",
                      help="ratio distribution: uniform, or skewed toward LOW (u^2) (default uniform)")
    book.add_argument("--sizes", nargs=2, default=["1", "40"], metavar=("MIN", "MAX"),
                      help="vault sizes, whole ETH, log-uniform (default 1 40)")
    book.add_argument("--writers", type=int, default=0,
                      help="option writers: PortfolioMargin accounts writing 30-day puts or calls (sizes as the "
                           "vaults'); the keeper liquidates the under-margined ones (Dutch ramp) and they are "
                           "measured at each 5 %% low of the oracle (default 0)")
    book.add_argument("--writer-debt", type=float, default=0.0, metavar="SHARE",
                      help="each writer borrows this share (0 to <1) of its borrowing room after writing "
                           "(value - debt - initial margin); the keeper may then repay debt (liquidate_debt) "
                           "(default 0)")
    book.add_argument("--no-writer-liquidation", action="store_true",
                      help="the keeper leaves the writers alone: only measure them (what liquidation saves)")
    params = p.add_argument_group("risk parameters of WETH (default: the deployment's, keel/fuzz/system.py)")
    params.add_argument("--liquidation-ratio", type=float, help="e.g. 1.5")
    params.add_argument("--penalty", type=float, help="e.g. 1.13")
    params.add_argument("--curve-tau", type=int, help="seconds for the auction price to fall to zero")
    params.add_argument("--curve-buf", type=float, help="auction start price / oracle price, e.g. 1.2")
    params.add_argument("--type-limit", type=float, help="kUSD of WETH vault debt in auction at once")
    params.add_argument("--market-depth", type=float,
                        help="market impact: kUSD on a constant-product curve the keeper sells into (its sales "
                             "move the price the reporters report); default: none")
    params.add_argument("--tick", type=int, default=None,
                        help="seconds between keeper ticks (keeper latency; default 300, replay 120)")
    paths = p.add_argument_group("paths")
    paths.add_argument("--runs", type=int, default=runs_default, help="Monte Carlo paths (seeds --seed, --seed + 1, ...)")
    paths.add_argument("--path", choices=["merton", "jump", "gbm", "csv"], default="merton",
                       help="merton: GBM + Poisson jumps (default); jump: one jump each path (stress); gbm; csv")
    paths.add_argument("--hours", type=int, default=24, help="length of a drawn path (default 24; 30-min points)")
    paths.add_argument("--sigma", type=float, default=0.8, help="annual volatility (default 0.8)")
    paths.add_argument("--jump", type=float, default=-0.3, help="the jump (jump), the mean jump (merton) (default -0.3)")
    paths.add_argument("--jumps-per-day", type=float, default=0.1, help="merton: jump arrivals a day (default 0.1)")
    paths.add_argument("--jump-sd", type=float, default=0.1, help="merton: sd of the log jump (default 0.1)")
    paths.add_argument("--csv", default=str(DEFAULT_CSV),
                       help="price path (timestamp_offset_s,price; default: keel/sim/data/black_thursday.csv)")
    run = p.add_argument_group("where the paths run")
    run.add_argument("--backend", choices=BACKENDS, default="boa",
                     help="boa: titanoboa in process (default); anvil: the same engine on an Anvil node; "
                          "anvil-keeper: the production keeper over JSON-RPC, a node per path (slowest)")
    run.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the paths on a Dask distributed cluster (tcp://host:8786) instead")


def add_parser(sub: Any) -> None:
    sim = sub.add_parser(
        "simulate", help="replay a path with the keeper, or a Monte Carlo batch / sweep of paths",
        description="Without --runs: deploy on an embedded Anvil, open a book of vaults, run the production "
                    "keeper and replay the price path of --csv (its returns applied to the deployed price); "
                    "writes result.json and takes.csv; exit 1 if lots were still running at the end. With "
                    "--runs N: a Monte Carlo batch of N drawn paths on one book built once (each path from its "
                    "snapshot), VaR and ES of the bad debt at 95 % and 99 %; batch.json and losses.csv. With "
                    "--sweep NAME=V1,V2,...: the same paths for each value of one parameter.",
    )
    _common(sim, runs_default=None)
    sim.add_argument("--symbol", default="WETH", help="replay: collateral the path prices (default WETH)")
    sim.add_argument("--depth", help="replay (no --runs): market impact, the replayed type trades on a "
                                     "constant-product curve holding this many kUSD; default none")
    sim.add_argument("--report", metavar="FILE", help="replay: also write a markdown summary here")
    sim.add_argument("--sweep", type=_sweep, metavar="NAME=V1,V2,...",
                     help="sweep one of liquidation_ratio, penalty, curve_tau, curve_buf, type_limit, "
                          "keeper_interval, market_depth (--runs paths each, default 20)")
    sim.add_argument("--out", default="reports/simulate", help="output directory (default reports/simulate)")
    sim.set_defaults(func=_with_tick(cmd_simulate, replay_default=120))

    rep = sub.add_parser(
        "sim-report", help="the HTML risk report: Black Thursday, Monte Carlo VaR/ES, sweeps, margin",
        description="Run the Black Thursday replay, a Monte Carlo batch, parameter sweeps and the isolated vs "
                    "portfolio margin comparison on the engine, and write report.html (self-contained: inline "
                    "SVG charts) with its CSV and JSON beside it.",
    )
    _common(rep, runs_default=200)
    rep.add_argument("--sweep", type=_sweep, action="append", metavar="NAME=V1,V2,...",
                     help="a sweep to include (repeatable); default: none")
    rep.add_argument("--sweep-runs", type=int, default=40, help="paths per sweep value (default 40)")
    rep.add_argument("--maker-debt", type=float, default=None,
                     help="Dai outstanding before 12 March 2020, for scaling Maker's 5.67M loss (default 100e6, "
                          "an assumption)")
    rep.add_argument("--no-margin", action="store_true", help="skip the isolated vs portfolio margin section")
    rep.add_argument("--screenshot", action="store_true",
                     help="also render report.png with headless Chromium (Debian's chromium, or KEEL_CHROMIUM)")
    rep.add_argument("--out", default="reports/sim-report", help="output directory (default reports/sim-report)")
    rep.set_defaults(func=_with_tick(cmd_report, replay_default=300))

    bench = sub.add_parser("sim-bench", help="Monte Carlo benchmark: 1,000 paths of a 500-vault book",
                           description="Run the Monte Carlo benchmark (keel/sim/bench.py) and write its table.")
    bench.add_argument("--runs", type=int, default=1_000, help="paths (default 1000)")
    bench.add_argument("--vaults", type=int, default=500, help="vaults in the book (default 500)")
    bench.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    bench.add_argument("--sample", type=int, default=3, help="paths re-run on Anvil to compare (default 3)")
    bench.add_argument("--out", default="docs/sim-benchmark.md", help="markdown output (default docs/sim-benchmark.md)")
    bench.set_defaults(func=cmd_bench)


def _with_tick(func: Any, replay_default: int) -> Any:
    """Fill --tick's default (the replay keeps its finer 120 s; the engine uses 300 s) and
    --maker-debt's."""

    def run(args: argparse.Namespace) -> int:
        from .report import MAKER_DEBT

        if args.tick is None:
            args.tick = replay_default if not (getattr(args, "runs", None) or getattr(args, "sweep", None)) else 300
        if getattr(args, "maker_debt", "absent") is None:
            args.maker_debt = MAKER_DEBT
        if args.vaults <= 0 or (args.runs is not None and args.runs <= 0):
            raise SystemExit("keel: error: --vaults and --runs must be positive")
        return func(args)

    return run


__all__ = ["add_parser", "cmd_report", "cmd_simulate"]

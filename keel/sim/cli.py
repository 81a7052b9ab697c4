"""``keel simulate``: replay a price path on a book of vaults with the keeper (first slice of
the risk simulator: one path on Anvil; Monte Carlo, VaR/ES and the report come next)."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..artifacts import ensure_compiled, project_root
from ..oracle import load_csv
from ..units import WAD, from_wad

DEFAULT_CSV = Path(__file__).resolve().parent / "data" / "black_thursday.csv"


def cmd_simulate(args: argparse.Namespace) -> int:
    from .replay import replay, write

    ensure_compiled(project_root())
    if args.runs:
        return _batch(args)
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
    from .montecarlo import PathSpec, run_batch, write

    spec = PathSpec(kind=args.path, hours=args.hours, sigma=args.sigma, jump=args.jump,
                    csv=args.csv if args.path == "csv" else None)
    batch = run_batch(spec, runs=args.runs, vaults=args.vaults, seed=args.seed, workers=args.workers, tick=args.tick)
    write(batch, Path(args.out))
    print(f"{batch.runs} runs of {spec.kind} paths on {batch.vaults} vaults ({batch.seconds:.0f} s, "
          f"{batch.workers} workers); loss = bad debt left by lots, kUSD")
    for r in batch.risk:
        print(f"  {r.alpha:.0%}: VaR {r.var:,.2f}  ES {r.es:,.2f}  (mean {r.mean:,.2f}, worst {r.worst:,.2f})")
    print(f"results in {args.out}/ (batch.json, losses.csv)")
    return 0


def add_parser(sub: Any) -> None:
    sim = sub.add_parser(
        "simulate", help="replay a price path on a book of vaults with the keeper (embedded Anvil)",
        description="Deploy on an embedded Anvil, open a book of vaults of one collateral type (sizes and "
                    "collateral ratios drawn with --seed), run the keeper, and replay the price path of --csv "
                    "(its returns applied to the deployed price): the market moves at each point, the "
                    "reporters report, the delayed oracle follows at its pokes, the clock moves --tick seconds "
                    "between keeper ticks. Writes result.json and takes.csv to --out; exit 1 if lots were still "
                    "running at the end.",
    )
    sim.add_argument("--csv", default=str(DEFAULT_CSV),
                     help="price path (timestamp_offset_s,price; default: the Black Thursday path, "
                          "keel/sim/data/black_thursday.csv)")
    sim.add_argument("--symbol", default="WETH", help="collateral the path prices (default WETH)")
    sim.add_argument("--vaults", type=int, default=500, help="vaults in the book (default 500)")
    sim.add_argument("--seed", type=int, default=1, help="seed of the book (default 1)")
    sim.add_argument("--ratios", nargs=2, default=["1.6", "3.0"], metavar=("LOW", "HIGH"),
                     help="collateral ratios drawn uniformly between these (default 1.6 3.0)")
    sim.add_argument("--tick", type=int, default=120, help="chain seconds between keeper ticks (default 120)")
    sim.add_argument("--out", default="reports/simulate", help="output directory (default reports/simulate)")
    sim.add_argument("--report", metavar="FILE", help="also write a markdown summary here")
    sim.add_argument("--depth", help="market impact: the replayed type trades on a constant-product curve "
                                     "holding this many kUSD (the keeper's sales move its price, which the "
                                     "reporters then report); default: no impact")
    batch = sim.add_argument_group("Monte Carlo (--runs N): one loss per path, VaR and ES at 95 % and 99 %")
    batch.add_argument("--runs", type=int, help="replay this many drawn paths (seeds --seed, --seed + 1, ...)")
    batch.add_argument("--path", choices=["jump", "gbm", "csv"], default="jump",
                       help="jump: GBM with one downward jump at a random step (default); gbm; csv: --csv each run")
    batch.add_argument("--hours", type=int, default=24, help="length of a drawn path (default 24; 30-min points)")
    batch.add_argument("--sigma", type=float, default=1.2, help="annual volatility of drawn paths (default 1.2)")
    batch.add_argument("--jump", type=float, default=-0.35, help="the jump of jump paths (default -0.35)")
    batch.add_argument("--workers", type=int, default=2, help="processes, each with its own node (default 2)")
    sim.set_defaults(func=cmd_simulate)


__all__ = ["add_parser", "cmd_simulate"]

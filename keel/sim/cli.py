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
    path = load_csv(args.csv)
    result = replay(path, vaults=args.vaults, symbol=args.symbol, seed=args.seed,
                    ratios=(Decimal(args.ratios[0]), Decimal(args.ratios[1])), tick_seconds=args.tick)
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
    sim.set_defaults(func=cmd_simulate)


__all__ = ["add_parser", "cmd_simulate"]

"""The risk report: one self-contained HTML file (inline SVG charts, no scripts, no network)
with the CSV and JSON it was drawn from beside it.

:func:`build` runs everything a report needs on the Monte Carlo engine (:mod:`keel.sim.engine`):

1. the Black Thursday replay (``keel/sim/data/black_thursday.csv``) on the book, with its
   series: price path (market and oracle), the distribution of collateral ratios over time,
   every auction take against the oracle; the bad debt next to MakerDAO's 5.67M DAI on the
   day, scaled to the book; with option writers, the replay runs again from the same snapshot
   with the keeper leaving them alone, to show what their liquidation saves;
2. a Monte Carlo batch: the loss distribution, VaR and ES at 95 % and 99 %, per-path metrics;
3. parameter sweeps (liquidation ratio, penalty, auction curve, caps, keeper latency):
   loss against the parameter on the same paths;
4. the collateral option portfolios need under isolated and portfolio margin
   (:mod:`keel.sim.margin`).

:func:`render` turns those results into HTML; :func:`write` writes ``report.html`` and the
data files.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from html import escape
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import log as _log
from ..oracle import load_csv
from .engine import WAD, BookSpec, Params, RunResult, SimBook
from .margin import MarginRow
from .montecarlo import BatchResult, PathSpec, SweepResult, run_batch, run_sweep
from .svg import Chart, histogram, percentile

MAKER_LOSS = 5_670_000  # DAI: MakerDAO's protocol loss on 12-13 March 2020
# An assumption, not a measurement: Dai outstanding just before the crash, roughly 100
# million (Multi-Collateral Dai's supply in early 2020; the exact figure on the day is not
# in our sources). Override with --maker-debt.
MAKER_DEBT = 100_000_000
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1000px;
color:#1f2328;line-height:1.45;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem} td,th{border:1px solid #d0d7de;padding:.3rem .6rem}
th{background:#f6f8fa;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#57606a;font-size:.9rem} .chart{display:block;margin:1rem 0;max-width:100%;height:auto}
.big{font-size:1.25rem;font-weight:600}
"""


@dataclass
class ReportData:
    book: BookSpec
    params: Params
    replay: RunResult
    replay_source: str
    batch: BatchResult
    sweeps: list[SweepResult] = field(default_factory=list)
    margin: list[MarginRow] = field(default_factory=list)
    maker_debt: float = MAKER_DEBT
    seconds: float = 0.0
    command: str = ""
    unliquidated: RunResult | None = None  # the replay with the writers left alone (writers only)


def build(book: BookSpec, params: Params, spec: PathSpec, *, runs: int, sweeps: dict[str, list[float]],
          sweep_runs: int, csv: str, seed: int = 1, workers: int = 2, backend: str = "boa",
          scheduler: str | None = None, maker_debt: float = MAKER_DEBT, margin: bool = True, command: str = "",
          log: Callable[[str], None] = _log.progress) -> ReportData:
    """Run the replay, the batch, the sweeps and the margin comparison (module docstring)."""
    from .margin import compare

    started = time.monotonic()
    log(f"report: Black Thursday replay on {book.vaults} vaults ({backend})")
    replay_book = book
    sim = SimBook(book, params, backend if backend != "anvil-keeper" else "boa")
    path = load_csv(csv)
    replay = sim.run(path, run=0, seed=0, series=True)
    log(f"report: replay done: bad debt {replay.loss / WAD:,.2f} kUSD of {replay.book_debt / WAD:,.0f}")
    unliquidated = None
    if book.writers and params.liquidate_writers:
        # the same book and path with the keeper leaving the writers alone (a keeper rule,
        # not a contract parameter: the snapshot serves both)
        sim.params = replace(params, liquidate_writers=False)
        unliquidated = sim.run(path, run=0, seed=0)
        log(f"report: writers left alone: {unliquidated.writers_below_maintenance_end} below maintenance, "
            f"{unliquidated.writer_shortfall_end / WAD:,.0f} kUSD under water at the end")
    sim.backend.close()
    # the option writers are measured in the replay; the batch and the sweeps run the vaults
    # only (a writer check costs a PortfolioMargin.health per account at each 5 % low)
    book = replace(book, writers=0)
    batch = run_batch(spec, runs=runs, book=book, params=params, seed=seed, workers=workers, backend=backend,
                      scheduler=scheduler, example=True, log=log)
    done = []
    for name, values in sweeps.items():
        done.append(run_sweep(spec, name, values, runs=sweep_runs, book=book, params=params, seed=seed,
                              workers=workers, backend=backend, scheduler=scheduler, log=log))
    rows = compare() if margin else []
    return ReportData(replay_book, params, replay, Path(csv).name, batch, done, rows, maker_debt,
                      time.monotonic() - started, command, unliquidated)


# -- rendering ------------------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f'<td class="n">{v:,.2f}</td>'
        if isinstance(v, int):
            return f'<td class="n">{v:,}</td>'
        return f"<td>{escape(str(v))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def price_chart(r: RunResult, title: str) -> str:
    hours = [(o / 3_600, m / WAD, f / WAD) for o, m, f in r.prices]
    chart = Chart(title, "hours into the path", "kUSD per ETH")
    chart.line([(h, m) for h, m, _ in hours], "market (the path)")
    chart.line([(h, f) for h, _, f in hours if f], "oracle (PriceFeed, delayed)", dashed=True)
    return chart.svg()


def ratio_chart(r: RunResult, liquidation_ratio: float, title: str) -> str:
    chart = Chart(title, "hours into the path", "collateral ratio (vaults with debt)")
    bands = []
    for offset, ratios in r.ratios:
        values = sorted(min(x, 5.0) for x in ratios)
        if values:
            bands.append((offset / 3_600, [percentile(values, q) for q in (0.05, 0.25, 0.5, 0.75, 0.95)]))
    if bands:
        chart.band([(h, q[0]) for h, q in bands], [(h, q[4]) for h, q in bands], "5-95th percentile",
                   color="#1f6feb")
        chart.band([(h, q[1]) for h, q in bands], [(h, q[3]) for h, q in bands], "25-75th percentile",
                   color="#8250df")
        chart.line([(h, q[2]) for h, q in bands], "median", color="#1a7f37")
    chart.hline(liquidation_ratio, f"liquidation ratio {liquidation_ratio:.2f}", color="#d1242f")
    return chart.svg()


def takes_chart(r: RunResult, title: str) -> str:
    chart = Chart(title, "hours into the path", "take price / reference price")
    chart.points([(t.offset / 3_600, t.price / t.oracle) for t in r.takes if t.oracle], "vs the oracle's price")
    chart.points([(t.offset / 3_600, t.price / t.market) for t in r.takes if t.market], "vs the market's price")
    chart.hline(1.0, "", color="#57606a")
    return chart.svg()


def loss_chart(batch: BatchResult) -> str:
    losses = [x.bad_debt for x in batch.losses]
    edges, counts = histogram(losses, 30)
    chart = Chart(f"Loss per path ({batch.runs:,} paths)", "bad debt, kUSD", "paths", y_from_zero=True)
    chart.bars(edges, counts, "paths")
    for r, color in zip(batch.risk, ("#9a6700", "#d1242f")):
        chart.vline(r.var, f"VaR {r.alpha:.0%} {r.var:,.0f}", color=color)
        chart.vline(r.es, f"ES {r.alpha:.0%} {r.es:,.0f}", color="#8250df" if r.alpha > 0.96 else "#bf3989")
    return chart.svg()


def sweep_chart(sweep: SweepResult) -> str:
    chart = Chart(f"Loss against {sweep.name}", sweep.name, "kUSD", y_from_zero=True)
    chart.line([(v, b.risk[0].mean) for v, b in zip(sweep.values, sweep.batches)], "mean loss")
    chart.line([(v, b.risk[1].es) for v, b in zip(sweep.values, sweep.batches)], "ES 99 %")
    chart.line([(v, b.risk[0].var) for v, b in zip(sweep.values, sweep.batches)], "VaR 95 %", dashed=True)
    return chart.svg()


def maker_comparison(r: RunResult, maker_debt: float) -> tuple[float, float]:
    """(Maker's loss as a share of its debt, that share applied to the book's debt in kUSD)."""
    share = MAKER_LOSS / maker_debt
    return share, share * r.book_debt / WAD


def render(d: ReportData) -> str:
    r, b = d.replay, d.batch
    liquidation_ratio = d.params.liquidation_ratio or 1.5
    share, scaled = maker_comparison(r, d.maker_debt)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Keel risk report</title>", f"<style>{CSS}</style></head><body>",
        "<h1>Keel risk report</h1>",
        f"<p class='note'>Generated by <code>{escape(d.command or 'keel sim-report')}</code> in {d.seconds:,.0f} s. "
        f"Backend: {escape(b.backend)}; paths on {b.workers} worker(s)"
        f"{' via Dask at ' + escape(b.scheduler) if b.scheduler else ''}. Every number below came from the "
        "deployed contracts driven by the keeper's rules (keel/keeper/strategy.py); the data files beside this "
        "page hold them all.</p>",
        "<h2>The book</h2>",
        _table(["", ""], [
            ["vaults (WETH)", d.book.vaults],
            ["collateral ratios", f"{d.book.distribution} between {d.book.ratios[0]} and {d.book.ratios[1]}"],
            ["sizes", f"log-uniform {d.book.sizes[0]}-{d.book.sizes[1]} ETH"],
            ["option writers", f"{d.book.writers} PortfolioMargin accounts (30-day puts 85-95 % or calls 105-115 %, "
                               "2-8 options per ETH) in the Black Thursday replay, liquidated by the keeper; the "
                               "Monte Carlo batch and the sweeps run the vaults only" if d.book.writers else "none"],
            ["debt", f"{r.book_debt / WAD:,.0f} kUSD"],
            ["parameters", d.params.label() + " (others: keel/fuzz/system.py)"],
            ["seed", d.book.seed],
        ]),
        f"<h2>Black Thursday replay ({escape(d.replay_source)})</h2>",
        "<p>ETH 194 &rarr; 90 (-53.6 %) in 27 hours, 30-minute steps (the path and its anchors: "
        "keel/sim/data/black_thursday.csv), its returns applied to the deployed price.</p>",
        f"<p class='big'>Bad debt: {r.loss / WAD:,.2f} kUSD "
        f"({100 * r.loss / r.book_debt if r.book_debt else 0:.4f} % of the book's debt)</p>",
        f"<p>MakerDAO lost {MAKER_LOSS / 1e6:.2f}M DAI on 12-13 March 2020, about {100 * share:.1f} % of the "
        f"~{d.maker_debt / 1e6:,.0f}M Dai outstanding (an assumed figure; see keel/sim/report.py). Scaled to "
        f"this book's debt that is <b>{scaled:,.0f} kUSD</b>; the aim is zero. Maker's loss came from keepers "
        "stuck behind congestion and zero bids in English auctions; here the Dutch auction cannot clear at zero "
        "and the keeper needs no capital (flash takes), but the network is not congested: the comparison is of "
        "the mechanism.</p>",
        _table(["measure", "value"], [
            ["vaults liquidated", r.liquidated], ["liquidated in part (the caps' room)", r.partial],
            ["saved by partial liquidation (safe with debt at the end)", r.saved],
            ["lots / takes / resets", f"{r.lots} / {len(r.takes)} / {r.resets}"],
            ["lots still running at the end", r.lots_open_at_end],
            ["time to clear (first liquidation to last lot's end)", f"{r.time_to_clear / 3_600:.1f} h"],
            ["keeper profit (rewards + take profits - gas)", f"{r.keeper_profit / WAD:,.0f} kUSD"],
        ]),
        *_writers_section(d),
        price_chart(r, "Price path: market and oracle"),
        ratio_chart(r, liquidation_ratio, "Collateral ratios over time (vaults with debt, capped at 5)"),
        takes_chart(r, "Auction clearing prices"),
        f"<h2>Monte Carlo: {b.runs:,} {escape(b.spec.kind)} paths</h2>",
        f"<p>Paths: {escape(json.dumps(asdict(b.spec)))}; seeds {b.seed}..{b.seed + b.runs - 1}. Loss of a path: "
        "the debt its lots left uncovered plus the debt of lots still running at the end, kUSD.</p>",
        _table(["confidence", "VaR", "ES", "mean", "worst"],
               [[f"{x.alpha:.0%}", x.var, x.es, x.mean, x.worst] for x in b.risk]),
        loss_chart(b),
        _table(["per path", "mean", "max"], _per_path(b)),
    ]
    if b.example is not None and b.example.prices:
        parts.append(price_chart(b.example, "First path of the batch: market and oracle"))
    if d.sweeps:
        parts.append("<h2>Parameter sweeps</h2><p>The same paths for every value (common random numbers).</p>")
        for sweep in d.sweeps:
            rows = [[v, bb.risk[0].mean, bb.risk[0].var, bb.risk[1].es, bb.risk[1].worst,
                     sum(x.liquidated for x in bb.losses) / max(1, len(bb.losses))]
                    for v, bb in zip(sweep.values, sweep.batches)]
            parts.append(f"<h3>{escape(sweep.name)}</h3>")
            parts.append(_table([sweep.name, "mean loss", "VaR 95 %", "ES 99 %", "worst", "liquidations / path"],
                                rows))
            parts.append(sweep_chart(sweep))
    if d.margin:
        parts.append("<h2>Isolated vs portfolio margin</h2>")
        parts.append("<p>Collateral needed to write each portfolio (30-day options on WETH at 2,000 kUSD): "
                     "isolated covers every short in full (OptionsHouse), portfolio margin needs the scenario "
                     "grid's worst loss times the initial factor (PortfolioMargin), measured by bisection on the "
                     "contract. The portfolio's collateral is WETH, which falls in the down scenarios too.</p>")
        parts.append(_table(["portfolio", "isolated, kUSD", "portfolio margin, kUSD", "saving"],
                            [[m.portfolio, m.isolated, m.portfolio_margin, f"{100 * m.saving:.1f} %"]
                             for m in d.margin]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _per_path(b: BatchResult) -> list[list[Any]]:
    rows = []
    for name, get in (("vaults liquidated", lambda x: x.liquidated), ("saved by partial liquidation", lambda x: x.saved),
                      ("takes", lambda x: x.takes), ("resets", lambda x: x.resets),
                      ("time to clear, h", lambda x: x.time_to_clear / 3_600),
                      ("keeper profit, kUSD", lambda x: x.keeper_profit),
                      ("take price / oracle (paths with takes)", lambda x: x.take_vs_oracle or None),
                      ("seconds of compute", lambda x: x.seconds)):
        values = [v for v in (get(x) for x in b.losses) if v is not None]
        rows.append([name, float(sum(values) / len(values)) if values else 0.0, float(max(values, default=0))])
    return rows


def _writers_section(d: ReportData) -> list[str]:
    """The option writers in the replay: liquidated by the keeper, and left alone."""
    if not d.book.writers:
        return []
    r, u = d.replay, d.unliquidated
    first = "keeper liquidates them" if d.params.liquidate_writers else "left alone"
    runs = [(first, r)] + ([("left alone", u)] if u is not None else [])
    header = ["option writers (" + f"{d.book.writers} accounts)"] + [name for name, _ in runs]
    rows = [
        ["below maintenance, worst 5 % low"] + [x.writers_below_maintenance for _, x in runs],
        ["under water then (obligations - assets), kUSD"] + [round(x.writer_shortfall / WAD) for _, x in runs],
        ["below maintenance at the end"] + [x.writers_below_maintenance_end for _, x in runs],
        ["under water at the end, kUSD"] + [round(x.writer_shortfall_end / WAD) for _, x in runs],
        ["ramps started / take-overs"] + [f"{x.margin_starts} / {x.margin_takeovers}" for _, x in runs],
        ["accounts liquidated"] + [x.writers_liquidated for _, x in runs],
        ["keeper's margin profit (received - given up, at oracle and mark), kUSD"]
        + [round(x.margin_profit / WAD) for _, x in runs],
    ]
    return [
        "<h3>Option writers</h3>",
        "<p>The keeper starts the liquidation ramp of each writer account below its maintenance margin "
        "(<code>PortfolioMargin.start_liquidation</code>) and, once the ramp pays beyond the options' mark, takes "
        "the shorts over (<code>liquidate</code>, writing the same options in the house), by the production "
        "bot's rules (<code>strategy.plan_margin</code>). Under water: what an account's obligations exceed "
        "its assets by, a shortfall its option holders would bear at expiry.</p>",
        _table(header, rows),
    ]


def write(d: ReportData, out: Path) -> Path:
    """``report.html`` plus ``replay.json``, ``takes.csv``, ``batch.json``, ``losses.csv``,
    ``sweeps.json``, ``sweeps.csv`` and ``margin.csv`` in ``out``; the HTML's path."""
    from . import montecarlo
    from .replay import write_outputs

    r = d.replay
    replay = r.summary()
    replay["maker_loss_scaled_kusd"] = maker_comparison(r, d.maker_debt)[1]
    replay["maker_debt_assumed"] = d.maker_debt
    if d.unliquidated is not None:
        replay["writers_left_alone"] = d.unliquidated.summary()
    write_outputs(out, "replay.json", replay, "takes.csv", "offset_s,auction_id,price,oracle,market,bought,profit",
                  (f"{t.offset},{t.auction_id},{t.price / WAD},{t.oracle / WAD},{t.market / WAD},{t.bought / WAD},"
                   f"{t.profit / WAD}" for t in r.takes))
    montecarlo.write(d.batch, out)
    write_outputs(out, "sweeps.json", [s.to_json() for s in d.sweeps], "sweeps.csv",  # type: ignore[arg-type]
                  "parameter,value,mean_loss,var95,es95,var99,es99,worst",
                  (f"{s.name},{v},{b.risk[0].mean:.6f},{b.risk[0].var:.6f},{b.risk[0].es:.6f},"
                   f"{b.risk[1].var:.6f},{b.risk[1].es:.6f},{b.risk[1].worst:.6f}"
                   for s in d.sweeps for v, b in zip(s.values, s.batches)))
    (out / "margin.csv").write_text("portfolio,isolated_kusd,portfolio_margin_kusd,saving\n" + "".join(
        f"\"{m.portfolio}\",{m.isolated:.6f},{m.portfolio_margin:.6f},{m.saving:.6f}\n" for m in d.margin))
    html = out / "report.html"
    html.write_text(render(d))
    return html


__all__ = ["MAKER_DEBT", "MAKER_LOSS", "ReportData", "build", "render", "write"]

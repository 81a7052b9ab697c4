"""Price paths, a first-class strategy of the fuzz suite: random walks, jumps, crashes,
recoveries and replays of a recorded path (a CSV file).

A path is a list of :class:`Move`: a relative price change in basis points, how the three
reporters report it, and how long the market then waits. The machine applies a path to one
collateral type (keel.fuzz.machine, rule ``price_path``).

CSV format (``tests/fuzz/paths/*.csv``, or any file given to ``keel fuzz --path-csv``): a
header ``seconds,price`` then one row per observation: seconds since the first row and a
price (any unit: only ratios between rows are used). A replay picks a window of rows and
applies each row's ratio to the previous one.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

BPS = 10_000
# How the reporters report a move (quorum 2 of 3): a quorum, the third silent (the usual
# case: the cheapest that moves the price); all three; the first two honest and the third
# lying (a price 50x off); two silent (no quorum: the price holds and, given time, goes
# stale).
REPORT_ALL, REPORT_LIAR, REPORT_ONE_SILENT, REPORT_TWO_SILENT = "all", "liar", "one silent", "two silent"
REPORT_QUORUM = REPORT_ONE_SILENT
CSV_ENV = "KEEL_FUZZ_PATH_CSV"
DEFAULT_CSV = Path(__file__).resolve().parents[2] / "tests" / "fuzz" / "paths" / "drawdown_72h.csv"


@dataclass(frozen=True)
class Move:
    bps: int  # relative change, basis points (-9_000 .. +30_000)
    gap: int  # seconds the market waits after the reports
    reporting: str = REPORT_QUORUM
    label: str = "walk"


def _moves(label: str, bps: st.SearchStrategy[int], gaps: st.SearchStrategy[int], size: tuple[int, int],
           reporting: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[list[Move]]:
    reporting = reporting or st.just(REPORT_QUORUM)
    move = st.builds(Move, bps=bps, gap=gaps, reporting=reporting, label=st.just(label))
    return st.lists(move, min_size=size[0], max_size=size[1])


def random_walk() -> st.SearchStrategy[list[Move]]:
    """Small moves either way, reported every ten minutes to an hour, now and then by a
    lying or silent reporter."""
    reporting = st.sampled_from([REPORT_QUORUM, REPORT_QUORUM, REPORT_ALL, REPORT_LIAR, REPORT_TWO_SILENT])
    return _moves("walk", st.integers(-500, 500), st.integers(600, 3_600), (1, 2), reporting)


def jump() -> st.SearchStrategy[list[Move]]:
    """One jump beyond the feed's 20 % limit (held until confirmed), either way."""
    return _moves("jump", st.sampled_from([-5_000, -3_500, -2_500, 2_500, 4_000, 8_000]), st.integers(601, 1_800),
                  (1, 1))


def crash() -> st.SearchStrategy[list[Move]]:
    """A fall of 10-70 % in steps: vaults become liquidatable, auctions start."""
    return _moves("crash", st.integers(-2_400, -800), st.integers(601, 1_200), (2, 3))


def recovery() -> st.SearchStrategy[list[Move]]:
    """A rise in steps (after a crash: auctions end with collateral to spare)."""
    return _moves("recovery", st.integers(500, 2_000), st.integers(601, 1_800), (1, 2))


def load_csv(path: Path) -> list[tuple[int, int]]:
    """(seconds, price) rows of a CSV path (see the module docstring)."""
    rows = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append((int(float(row["seconds"])), float(row["price"])))
    if len(rows) < 2:
        raise ValueError(f"{path}: a price path needs at least two rows")
    return rows


def csv_moves(rows: list[tuple[int, int]], start: int, length: int) -> list[Move]:
    """The moves between rows start .. start + length of a recorded path."""
    moves = []
    for (t0, p0), (t1, p1) in zip(rows[start:start + length], rows[start + 1:start + length + 1]):
        bps = max(-9_000, min(30_000, round((p1 / p0 - 1) * BPS)))
        moves.append(Move(bps=bps, gap=max(601, t1 - t0), label="csv"))
    return moves


def csv_replay(path: Path = DEFAULT_CSV) -> st.SearchStrategy[list[Move]]:
    """A window of up to three rows of a recorded path."""
    rows = load_csv(path)
    return st.builds(lambda start, length: csv_moves(rows, start, length),
                     st.integers(0, len(rows) - 2), st.integers(1, 3)).filter(bool)


def price_paths(csv_path: Path | None = None) -> st.SearchStrategy[list[Move]]:
    """Every kind of path; the CSV replayed is `csv_path`, else $KEEL_FUZZ_PATH_CSV, else
    the recorded drawdown shipped in tests/fuzz/paths."""
    chosen = csv_path or Path(os.environ.get(CSV_ENV) or DEFAULT_CSV)
    return st.one_of(random_walk(), jump(), crash(), recovery(), csv_replay(chosen))

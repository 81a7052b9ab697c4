"""Monte Carlo batches and parameter sweeps: many price paths, one loss each, VaR and ES.

A batch is a list of :class:`Job` s, one per path (seeded ``seed + run``), all on the same
book (:class:`keel.sim.engine.BookSpec`) and parameters (:class:`keel.sim.engine.Params`).
:func:`run_job` runs one on a :class:`keel.sim.engine.SimBook` that each worker process
builds once per (backend, book, parameters) and reuses: every path starts from the book's
snapshot. Jobs go to

* a local process pool (``workers`` processes, the default), or
* a Dask distributed cluster (``scheduler``: the scheduler's address), when one machine is
  not enough; the jobs and their results are the same, so the same seeds give the same
  losses on either (tests/integration/test_sim_backends.py runs both).

Backends: ``boa`` (titanoboa in process, the default), ``anvil`` (the same engine against an
Anvil node over JSON-RPC: equal losses), and ``anvil-keeper``
(:func:`keel.sim.replay.replay`: the production keeper, ``keel/keeper``, over JSON-RPC, a node
per path; the slowest, for checking the bot itself).

Paths (:class:`PathSpec`): ``gbm`` (geometric Brownian motion, ``sigma`` a year), ``jump``
(GBM with one downward jump of ``jump`` at a random step: a stress path), ``merton`` (GBM
plus Poisson jumps: ``jumps_per_day`` arrivals of a log-normal jump around ``jump``; most
days have none), or ``csv`` (one file, the same every run).

The loss of a path is the protocol's bad debt (kUSD); :func:`keel.sim.risk.figures` gives
VaR and Expected Shortfall at 95 % and 99 %. A sweep runs the same paths (common random
numbers) for each value of one parameter.
"""

from __future__ import annotations

import math
import os
import random
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .. import log as _log
from ..oracle import PricePoint, gbm_path, jump_path, load_csv
from ..units import WAD
from .engine import BookSpec, Params, RunResult
from .risk import RiskFigures, figures

LEVELS = (0.95, 0.99)
BACKENDS = ("boa", "anvil", "anvil-keeper")
SWEEPABLE = ("liquidation_ratio", "penalty", "curve_tau", "curve_buf", "type_limit", "keeper_interval", "market_depth")


@dataclass(frozen=True)
class PathSpec:
    kind: str = "merton"  # gbm | jump | merton | csv
    hours: int = 24
    dt: int = 1_800  # seconds between points
    sigma: float = 0.8  # annual volatility
    jump: float = -0.3  # the jump's size (jump), the mean jump (merton)
    jumps_per_day: float = 0.1  # merton: Poisson arrivals a day
    jump_sd: float = 0.1  # merton: sd of the log jump
    csv: str | None = None

    def draw(self, seed: int, start: Decimal = Decimal(2_000)) -> list[PricePoint]:
        steps = self.hours * 3_600 // self.dt
        if self.kind == "csv":
            if not self.csv:
                raise ValueError("a csv path needs a file")
            return load_csv(self.csv)
        if self.kind == "gbm":
            return gbm_path(start, 0.0, self.sigma, self.dt, steps, seed)
        if self.kind == "jump":
            at = random.Random(seed).randrange(1, max(2, steps))
            return jump_path(start, self.jump, at, steps, self.dt, mu=0.0, sigma=self.sigma, seed=seed)
        if self.kind == "merton":
            return merton_path(start, self.sigma, self.jumps_per_day, self.jump, self.jump_sd, self.dt, steps, seed)
        raise ValueError(f"path kind {self.kind!r}: gbm, jump, merton or csv")


def merton_path(start: Decimal, sigma: float, jumps_per_day: float, jump: float, jump_sd: float, dt: int,
                steps: int, seed: int) -> list[PricePoint]:
    """GBM (``sigma`` a year, no drift) times Poisson jumps: at each step ``N ~
    Poisson(jumps_per_day * dt / 1 day)`` jumps, each ``exp(J)`` with ``J ~ Normal(log(1 +
    jump), jump_sd)``. Seeded by ``seed``."""
    if jump <= -1 or sigma < 0 or jumps_per_day < 0 or jump_sd < 0:
        raise ValueError("merton_path: jump > -1, sigma, jumps_per_day and jump_sd >= 0")
    rng = random.Random(seed)
    years = dt / (365 * 86_400)
    drift, scale = -sigma * sigma / 2 * years, sigma * math.sqrt(years)
    lam = jumps_per_day * dt / 86_400
    price = float(start)
    points = [PricePoint(0, Decimal(str(round(price, 8))))]
    for i in range(1, steps + 1):
        log_move = drift + scale * rng.gauss(0.0, 1.0)
        # Poisson(lam) by inversion (lam is small)
        n, p, u = 0, math.exp(-lam), rng.random()
        cumulative = p
        while u > cumulative and n < 20:
            n += 1
            p *= lam / n
            cumulative += p
        for _ in range(n):
            log_move += rng.gauss(math.log(1 + jump), jump_sd)
        price *= math.exp(log_move)
        points.append(PricePoint(i * dt, Decimal(str(round(price, 8)))))
    return points


@dataclass(frozen=True)
class Job:
    backend: str
    book: BookSpec
    params: Params
    spec: PathSpec
    run: int
    seed: int
    series: bool = False  # keep the per-step series (for the report's charts)


@dataclass
class RunLoss:
    """One path's figures (kUSD floats), without the per-take and per-step series."""

    run: int
    seed: int
    low: float  # lowest price of the path / its first
    liquidated: int
    bad_debt: float  # the loss: kUSD
    lots_open_at_end: int
    seconds: float
    partial: int = 0
    saved: int = 0
    takes: int = 0
    resets: int = 0
    keeper_profit: float = 0.0
    time_to_clear: int = 0  # seconds from the first liquidation to the last lot's end
    take_vs_oracle: float = 0.0  # mean take price / the feed's price then
    take_vs_market: float = 0.0  # mean take price / the market's price then
    writers_below_maintenance: int = 0  # option writers' accounts unhealthy at the worst check
    writer_shortfall: float = 0.0  # kUSD under-water writer accounts lack then
    writers_liquidated: int = 0  # writer accounts the keeper took positions or debt from
    writer_shortfall_end: float = 0.0  # kUSD under-water writer accounts lack at the end
    margin_debt_repaid: float = 0.0  # kUSD of writers' debt the keeper repaid (liquidate_debt)

    @classmethod
    def of(cls, r: RunResult, low: float) -> "RunLoss":
        def mean(values: list[float]) -> float:
            return sum(values) / len(values) if values else 0.0

        return cls(
            run=r.run, seed=r.seed, low=low, liquidated=r.liquidated, bad_debt=r.loss / WAD,
            lots_open_at_end=r.lots_open_at_end, seconds=r.seconds, partial=r.partial, saved=r.saved,
            takes=len(r.takes), resets=r.resets, keeper_profit=r.keeper_profit / WAD, time_to_clear=r.time_to_clear,
            take_vs_oracle=mean([t.price / t.oracle for t in r.takes if t.oracle]),
            take_vs_market=mean([t.price / t.market for t in r.takes if t.market]),
            writers_below_maintenance=r.writers_below_maintenance, writer_shortfall=r.writer_shortfall / WAD,
            writers_liquidated=r.writers_liquidated, writer_shortfall_end=r.writer_shortfall_end / WAD,
            margin_debt_repaid=r.margin_debt_repaid / WAD,
        )


@dataclass
class BatchResult:
    spec: PathSpec
    runs: int
    vaults: int
    seed: int
    workers: int
    backend: str = "boa"
    params: Params = field(default_factory=Params)
    book: BookSpec | None = None
    scheduler: str | None = None
    losses: list[RunLoss] = field(default_factory=list)
    risk: list[RiskFigures] = field(default_factory=list)
    seconds: float = 0.0
    book_debt: float = 0.0  # kUSD
    example: RunResult | None = None  # the first run with its series (for charts)

    def to_json(self) -> dict:
        return {
            "spec": asdict(self.spec), "runs": self.runs, "vaults": self.vaults, "seed": self.seed,
            "workers": self.workers, "backend": self.backend, "scheduler": self.scheduler,
            "params": asdict(self.params), "book": asdict(self.book) if self.book else None,
            "book_debt": self.book_debt, "seconds": self.seconds,
            "losses": [asdict(x) for x in self.losses], "risk": [asdict(r) for r in self.risk],
        }


# -- one job, in whatever process runs it ------------------------------------------------------
_BOOKS: dict[tuple, Any] = {}
_LOCK = threading.Lock()  # a Dask worker may run tasks on threads: one book, one path at a time


def _book(job: Job) -> Any:
    from .engine import SimBook

    key = (job.backend, job.book, job.params)
    book = _BOOKS.get(key)
    if book is None:
        if job.backend not in ("boa", "anvil"):
            raise ValueError(f"backend {job.backend!r}: boa or anvil")
        # one book per process at a time: an Anvil book holds a node
        for old in list(_BOOKS.values()):
            old.backend.close()
        _BOOKS.clear()
        book = _BOOKS[key] = SimBook(job.book, job.params, job.backend)
    return book


def run_job(job: Job) -> "Outcome":
    """(the path's figures, the full result when ``job.series``, the book's debt in kUSD)."""
    path = job.spec.draw(job.seed)
    low = float(min(p.price for p in path) / path[0].price)
    if job.backend == "anvil-keeper":
        return _run_keeper(job, path, low)
    with _LOCK:
        book = _book(job)
        result = book.run(path, run=job.run, seed=job.seed, series=job.series)
    return RunLoss.of(result, low), (result if job.series else None), book.book_debt / WAD


def _run_keeper(job: Job, path: list[PricePoint], low: float) -> tuple[RunLoss, None, float]:
    from .replay import replay

    started = time.monotonic()
    lo, hi = job.book.ratios
    r = replay(path, vaults=job.book.vaults, seed=job.book.seed, tick_seconds=job.params.keeper_interval,
               ratios=(Decimal(str(lo)), Decimal(str(hi))), log=_log.silent)
    loss = RunLoss(job.run, job.seed, low, r.liquidated, (r.bad_debt) / WAD, r.lots_open_at_end,
                   time.monotonic() - started, takes=len(r.takes), resets=r.resets,
                   keeper_profit=r.keeper_profit / WAD)
    return loss, None, r.book_debt / WAD


# -- executors -----------------------------------------------------------------------------------
Outcome = tuple[RunLoss, "RunResult | None", float]


def _indexed(item: tuple[int, Job]) -> tuple[int, Outcome]:
    return item[0], run_job(item[1])


def release_books() -> None:
    """Close and forget the books this process cached (an Anvil book holds a node)."""
    with _LOCK:
        for book in list(_BOOKS.values()):
            book.backend.close()
        _BOOKS.clear()


def _local(jobs: list[Job], workers: int) -> Iterator[tuple[int, Outcome]]:
    items = list(enumerate(jobs))
    if workers <= 1:
        # in the caller's process: the book stays cached for the next batch on it (an Anvil
        # book keeps its node: release_books() when done)
        yield from map(_indexed, items)
        return
    with ProcessPoolExecutor(workers) as pool:
        for future in as_completed([pool.submit(_indexed, item) for item in items]):
            yield future.result()


def _dask(jobs: list[Job], scheduler: str) -> Iterator[tuple[int, Outcome]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler) as client:
        futures = client.map(_indexed, list(enumerate(jobs)), pure=False)
        for future in dask_completed(futures):
            yield future.result()


def execute(jobs: list[Job], *, workers: int = 2, scheduler: str | None = None, label: str = "paths",
            log: Callable[[str], None] = _log.progress) -> list[Outcome]:
    """Run ``jobs`` on the local pool (``workers`` processes) or on the Dask cluster at
    ``scheduler``, with a progress bar on stderr; the outcomes in the jobs' order."""
    from tqdm import tqdm

    quiet = log is not _log.progress or os.environ.get("KEEL_QUIET", "").strip() not in ("", "0")
    source = _dask(jobs, scheduler) if scheduler else _local(jobs, workers)
    out: dict[int, Outcome] = {}
    with tqdm(total=len(jobs), desc=f"keel: {label}", unit="path", file=sys.stderr, disable=quiet,
              mininterval=1.0, dynamic_ncols=True) as bar:
        for index, outcome in source:
            out[index] = outcome
            bar.set_postfix_str(f"last loss {outcome[0].bad_debt:,.0f} kUSD", refresh=False)
            bar.update(1)
    return [out[i] for i in range(len(jobs))]


def run_batch(
    spec: PathSpec, *, runs: int, vaults: int = 50, seed: int = 1, workers: int = 2, tick: int | None = None,
    backend: str = "boa", book: BookSpec | None = None, params: Params | None = None, scheduler: str | None = None,
    example: bool = False, log: Callable[[str], None] = _log.progress,
) -> BatchResult:
    """``runs`` paths (seeds ``seed + run``) on one book; VaR and ES at 95 % and 99 %. With
    ``example``, the first run keeps its series for the report's charts."""
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: one of {', '.join(BACKENDS)}")
    book = book or BookSpec(vaults=vaults, seed=seed)
    params = params or Params()
    if tick is not None:
        params = replace(params, keeper_interval=tick)
    started = time.monotonic()
    jobs = [Job(backend, book, params, spec, run, seed + run, series=example and run == 0) for run in range(runs)]
    results = execute(jobs, workers=workers, scheduler=scheduler, label=f"{runs} {spec.kind} paths ({backend})",
                      log=log)
    batch = _batch_of(spec, book, params, backend, workers, scheduler, seed, results)
    batch.seconds = time.monotonic() - started
    return batch


def _batch_of(spec: PathSpec, book: BookSpec, params: Params, backend: str, workers: int, scheduler: str | None,
              seed: int, results: list[Outcome]) -> BatchResult:
    batch = BatchResult(spec, len(results), book.vaults, seed, workers, backend, params, book, scheduler)
    batch.losses = [loss for loss, _, _ in results]
    batch.example = next((full for _, full, _ in results if full is not None), None)
    batch.book_debt = results[0][2] if results else 0.0
    samples = [x.bad_debt for x in batch.losses]
    batch.risk = [figures(samples, level) for level in LEVELS] if samples else []
    batch.seconds = sum(x.seconds for x in batch.losses)
    return batch


@dataclass
class SweepResult:
    name: str  # the parameter
    values: list[float]
    batches: list[BatchResult]
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"parameter": self.name, "values": self.values, "seconds": self.seconds,
                "batches": [b.to_json() for b in self.batches]}


def run_sweep(
    spec: PathSpec, name: str, values: Iterable[float], *, runs: int, book: BookSpec, params: Params | None = None,
    seed: int = 1, workers: int = 2, backend: str = "boa", scheduler: str | None = None,
    log: Callable[[str], None] = _log.progress,
) -> SweepResult:
    """For each value of parameter ``name``: the same ``runs`` paths (common random numbers)
    on the same book, all jobs on one pool; a batch per value."""
    if name not in SWEEPABLE:
        raise ValueError(f"sweep parameter {name!r}: one of {', '.join(SWEEPABLE)}")
    if backend == "anvil-keeper":
        raise ValueError("sweeps run on the engine: backend boa or anvil")
    started = time.monotonic()
    values = list(values)
    base = params or Params()
    cast = int if name in ("curve_tau", "keeper_interval") else float
    variants = [replace(base, **{name: cast(v)}) for v in values]
    jobs = [Job(backend, book, p, spec, run, seed + run) for p in variants for run in range(runs)]
    results = execute(jobs, workers=workers, scheduler=scheduler,
                      label=f"sweep {name} x {len(values)} ({runs} paths each)", log=log)
    batches = []
    for i, p in enumerate(variants):
        part = results[i * runs:(i + 1) * runs]
        batches.append(_batch_of(spec, book, p, backend, workers, scheduler, seed, part))
    return SweepResult(name, values, batches, time.monotonic() - started)


def write(batch: BatchResult, out: Path) -> None:
    """``batch.json`` and ``losses.csv`` in ``out``."""
    from .replay import write_outputs

    header = ",".join(RunLoss.__dataclass_fields__)
    rows = (",".join(_cell(getattr(x, f)) for f in RunLoss.__dataclass_fields__) for x in batch.losses)
    write_outputs(out, "batch.json", batch.to_json(), "losses.csv", header, rows)


def _cell(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)


__all__ = ["BACKENDS", "BatchResult", "Job", "LEVELS", "PathSpec", "RunLoss", "SWEEPABLE", "SweepResult",
           "execute", "merton_path", "release_books", "run_batch", "run_job", "run_sweep", "write"]

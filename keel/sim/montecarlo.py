"""A Monte Carlo batch of replays: many price paths, one loss each, VaR and ES of the losses.

Each run draws a path (seeded: ``seed + run``), replays it on its own embedded Anvil with
the keeper (:func:`keel.sim.replay.replay`: a fresh book from the same book seed, so runs
differ only by their path) and records the protocol's loss: the bad debt its lots left
(kUSD). Runs go to a local process pool (``workers``; each run starts its own node).
:func:`keel.sim.risk.figures` turns the losses into VaR and Expected Shortfall.

Paths (``kind``): ``gbm`` (geometric Brownian motion, ``sigma`` a year), ``jump`` (GBM
with one downward jump of ``jump`` at a random step, the merton-style crash), or ``csv``
(one file, replayed as is: every run the same path).
"""

from __future__ import annotations

import contextlib
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

from .. import log as _log
from ..oracle import PricePoint, gbm_path, jump_path, load_csv
from ..units import WAD
from .risk import RiskFigures, figures

LEVELS = (0.95, 0.99)


@dataclass(frozen=True)
class PathSpec:
    kind: str = "jump"  # gbm | jump | csv
    hours: int = 24
    dt: int = 1_800  # seconds between points
    sigma: float = 1.2  # annual volatility
    jump: float = -0.35  # the jump's size (jump paths)
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
        raise ValueError(f"path kind {self.kind!r}: gbm, jump or csv")


@dataclass
class RunLoss:
    run: int
    seed: int
    low: float  # lowest price of the path / its first
    liquidated: int
    bad_debt: float  # kUSD
    lots_open_at_end: int
    seconds: float


@dataclass
class BatchResult:
    spec: PathSpec
    runs: int
    vaults: int
    seed: int
    workers: int
    losses: list[RunLoss] = field(default_factory=list)
    risk: list[RiskFigures] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "spec": asdict(self.spec), "runs": self.runs, "vaults": self.vaults, "seed": self.seed,
            "workers": self.workers, "seconds": self.seconds, "losses": [asdict(x) for x in self.losses],
            "risk": [asdict(r) for r in self.risk],
        }


def _one(args: tuple[PathSpec, int, int, int, int]) -> RunLoss:
    from .replay import replay

    spec, run, seed, vaults, tick = args
    path = spec.draw(seed + run)
    started = time.monotonic()
    result = replay(path, vaults=vaults, seed=seed, tick_seconds=tick, log=_log.silent)
    low = float(min(p.price for p in path) / path[0].price)
    return RunLoss(run, seed + run, low, result.liquidated, result.bad_debt / WAD, result.lots_open_at_end,
                   time.monotonic() - started)


def run_batch(
    spec: PathSpec, *, runs: int, vaults: int = 50, seed: int = 1, workers: int = 2, tick: int = 300,
    log: Callable[[str], None] = _log.progress,
) -> BatchResult:
    """``runs`` replays on ``workers`` processes; VaR and ES at 95 % and 99 %."""
    started = time.monotonic()
    batch = BatchResult(spec, runs, vaults, seed, workers)
    jobs = [(spec, run, seed, vaults, tick) for run in range(runs)]
    with contextlib.ExitStack() as stack:
        results = map(_one, jobs) if workers <= 1 else stack.enter_context(ProcessPoolExecutor(workers)).map(_one, jobs)
        for i, loss in enumerate(results, start=1):
            batch.losses.append(loss)
            log(f"run {i}/{runs}: low {loss.low:.2f}, bad debt {loss.bad_debt:,.2f} kUSD ({loss.seconds:.0f} s)")
    samples = [x.bad_debt for x in batch.losses]
    batch.risk = [figures(samples, level) for level in LEVELS]
    batch.seconds = time.monotonic() - started
    return batch


def write(batch: BatchResult, out: Path) -> None:
    """``batch.json`` and ``losses.csv`` in ``out``."""
    from .replay import write_outputs

    rows = (f"{x.run},{x.seed},{x.low:.6f},{x.liquidated},{x.bad_debt:.6f},{x.lots_open_at_end},{x.seconds:.1f}"
            for x in batch.losses)
    write_outputs(out, "batch.json", batch.to_json(), "losses.csv",
                  "run,seed,low,liquidated,bad_debt_kusd,lots_open_at_end,seconds", rows)


__all__ = ["BatchResult", "LEVELS", "PathSpec", "RunLoss", "run_batch", "write"]

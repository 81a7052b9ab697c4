"""Run the whole-protocol machine (keel.fuzz.machine) under a profile: ``keel fuzz``.

A run is a list of seeds; each seed is one hypothesis test of the machine (``examples``
examples of up to ``run_steps`` steps each, every example starting from the freshly
deployed protocol). Seeds are spread over worker processes (each deploys once on its own
backend); progress is printed as each seed finishes, with steps, steps per second and
the seed, and a failing seed prints hypothesis' shrunk story and the one command that
replays it (``keel fuzz --seed S --examples E --run-steps N [--backend anvil]``).

Profiles (``--profile``):

* ``ci``: bounded, for the test command: a few seeds on titanoboa, plus a short sample on
  Anvil whose final states must equal titanoboa's for the same seed;
* ``deep``: opt-in, at least a million steps on every core (``--steps`` to change).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test


@dataclass(frozen=True)
class Profile:
    name: str
    examples: int  # hypothesis examples per seed
    run_steps: int  # steps per example, at most (hypothesis' stateful_step_count)
    seeds: int  # seeds to run (or until `steps` when set)
    steps: int = 0  # with it: keep adding seeds until this many steps ran
    anvil_seeds: int = 0  # seeds also run on Anvil, their final states compared with titanoboa's
    anvil_examples: int = 3
    anvil_run_steps: int = 25


PROFILES = {
    "ci": Profile("ci", examples=40, run_steps=120, seeds=4, anvil_seeds=1, anvil_examples=5, anvil_run_steps=30),
    "deep": Profile("deep", examples=100, run_steps=200, seeds=0, steps=1_000_000),
}
FIRST_SEED = 1


@dataclass
class SeedResult:
    seed: int
    backend: str
    examples: int
    run_steps: int
    steps: int = 0
    runs: int = 0
    transactions: int = 0
    seconds: float = 0.0
    failure: str | None = None
    digests: list[str] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)  # "action ok|refused" -> transactions

    @property
    def rate(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    def replay_command(self) -> str:
        backend = f" --backend {self.backend}" if self.backend != "boa" else ""
        return f"keel fuzz --seed {self.seed} --examples {self.examples} --run-steps {self.run_steps}{backend}"


def run_seed(backend: str, seed: int, examples: int, run_steps: int, csv_path: str | None = None,
             record_digests: bool = False, shrink: bool = True) -> SeedResult:
    """One hypothesis test of the machine with `seed` (in this process)."""
    import hypothesis.core

    from . import machine as fuzz_machine

    if csv_path:
        os.environ["KEEL_FUZZ_PATH_CSV"] = csv_path
    digests: list[str] | None = [] if record_digests else None
    machine = fuzz_machine.machine_class(backend, run_steps, digests=digests)
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
    # built on hypothesis' own defaults, not on whatever profile is loaded (under pytest,
    # brownie's and tests/conftest.py's: derandomize=True there would ignore the seed)
    profile = settings(parent=settings.get_profile("default"), max_examples=examples, stateful_step_count=run_steps,
                       deadline=None, database=None, derandomize=False, phases=phases,
                       suppress_health_check=list(HealthCheck), print_blob=False)
    result = SeedResult(seed, backend, examples, run_steps)
    before = dict(fuzz_machine.STATS)
    actions_before = dict(fuzz_machine.STATS["actions"])
    captured = io.StringIO()
    previous_seed = hypothesis.core.global_force_seed
    hypothesis.core.global_force_seed = seed  # what pytest's --hypothesis-seed sets
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(captured):
            run_state_machine_as_test(machine, settings=profile)
    except Exception as exc:  # noqa: BLE001 - a failing seed is reported, not raised
        result.failure = f"{captured.getvalue()}\n{type(exc).__name__}: {exc}"
    finally:
        hypothesis.core.global_force_seed = previous_seed
    result.seconds = time.perf_counter() - start
    result.runs = fuzz_machine.STATS["runs"] - before["runs"]
    # the machine counts a check after every step and one before the first of each run
    result.steps = fuzz_machine.STATS["steps"] - before["steps"] - result.runs
    result.transactions = fuzz_machine.STATS["txs"] - before["txs"]
    result.digests = digests or []
    result.actions = fuzz_machine.actions_since(actions_before)
    return result


def _work(job: tuple) -> SeedResult:
    return run_seed(*job)


@dataclass
class Summary:
    profile: str
    backend: str
    workers: int
    seeds: list[int]
    steps: int
    runs: int
    transactions: int
    wall_seconds: float
    steps_per_second: float
    failures: list[dict]
    machine: str
    actions: dict[str, int] = field(default_factory=dict)
    cross_backend: dict | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def markdown(self, command: str = "") -> str:
        """The summary as a short report (docs/fuzz-deep.md)."""
        done = {k[:-3]: v for k, v in self.actions.items() if k.endswith(" ok")}
        refused = {k: v for k, v in self.actions.items() if " refused" in k}
        lines = [
            f"# Fuzz run: profile `{self.profile}`",
            "",
            f"`{command}`" if command else "",
            "",
            "| | |",
            "|---|---|",
            f"| result | {'**no invariant broken**' if not self.failures else f'**{len(self.failures)} failing seeds**'} |",
            f"| steps | {self.steps:,} |",
            f"| runs (hypothesis examples) | {self.runs:,} |",
            f"| transactions | {self.transactions:,} |",
            f"| seeds | {min(self.seeds) if self.seeds else '-'} .. {max(self.seeds) if self.seeds else '-'} "
            f"({len(self.seeds)}) |",
            f"| backend | {self.backend}, {self.workers} worker processes |",
            f"| wall time | {self.wall_seconds:,.0f} s ({self.wall_seconds / 60:.1f} min) |",
            f"| steps per second | {self.steps_per_second:,.1f} |",
            f"| machine | {self.machine} |",
            "",
            "Every step is followed by the full invariant check (docs/INVARIANTS.md). Actions",
            "carried out (transactions that went through), by kind:",
            "",
            "| action | done |",
            "|---|---:|",
            *(f"| {name} | {count:,} |" for name, count in sorted(done.items())),
            "",
            "Refusals the machine predicted (reason and count):",
            "",
            "| action (reason) | count |",
            "|---|---:|",
            *(f"| {name} | {count:,} |" for name, count in sorted(refused.items())),
            "",
        ]
        for failure in self.failures:
            lines += [f"FAILED seed {failure['seed']}: `{failure['replay']}`", ""]
        return "\n".join(lines)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_built() -> None:
    """Compile the contracts the fuzz system deploys when the build is missing or stale
    (once, before workers start: they would otherwise each find no artifacts)."""
    from ..artifacts import SYSTEM_CONTRACTS, ensure_compiled

    ensure_compiled(names=(*SYSTEM_CONTRACTS, "FlashTaker"))


def run_profile(profile: Profile, backend: str = "boa", workers: int = 1, first_seed: int = FIRST_SEED,
                steps: int | None = None, csv_path: str | None = None, out=sys.stdout) -> Summary:
    """Run a profile's seeds (in `workers` processes); returns the summary."""
    ensure_built()
    target = profile.steps if steps is None else steps
    fixed = profile.seeds if not target else 0
    start = time.perf_counter()
    results: list[SeedResult] = []
    next_seed = first_seed
    total = 0

    def jobs():
        nonlocal next_seed
        while True:
            if fixed and next_seed >= first_seed + fixed:
                return
            if target and total >= target:
                return
            yield (backend, next_seed, profile.examples, profile.run_steps, csv_path)
            next_seed += 1

    def record(result: SeedResult) -> None:
        nonlocal total
        results.append(result)
        total += result.steps
        status = "FAILED" if result.failure else "ok"
        goal = f" ({total:,}/{target:,})" if target else ""
        _progress(f"seed {result.seed} [{backend}]: {result.steps:,} steps, {result.runs} runs, "
                  f"{result.transactions:,} txs in {result.seconds:.1f} s ({result.rate:,.0f} steps/s) "
                  f"{status}{goal}")
        if result.failure:
            print(result.failure, file=out)
            print(f"replay: {result.replay_command()}", file=out)

    if workers <= 1:
        for job in jobs():
            record(_work(job))
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            pending = []
            source = jobs()
            for job in source:
                pending.append(pool.apply_async(_work, (job,)))
                if len(pending) >= workers:
                    break
            while pending:
                result = pending.pop(0).get()
                record(result)
                job = next(source, None)
                if job is not None:
                    pending.append(pool.apply_async(_work, (job,)))
    wall = time.perf_counter() - start
    steps_run = sum(r.steps for r in results)
    return Summary(
        profile=profile.name, backend=backend, workers=workers, seeds=[r.seed for r in results], steps=steps_run,
        runs=sum(r.runs for r in results), transactions=sum(r.transactions for r in results),
        wall_seconds=round(wall, 1), steps_per_second=round(steps_run / wall, 1) if wall else 0.0,
        failures=[{"seed": r.seed, "replay": r.replay_command(), "story": r.failure} for r in results if r.failure],
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        actions=_merge([r.actions for r in results]),
    )


def _merge(counts: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            merged[key] = merged.get(key, 0) + value
    return dict(sorted(merged.items()))


def cross_backend(seed: int, examples: int, run_steps: int) -> dict:
    """Run one seed on titanoboa and on Anvil: the same draws must reach the same state.
    Returns each backend's per-run digests and whether they agree."""
    ensure_built()
    boa = run_seed("boa", seed, examples, run_steps, record_digests=True, shrink=False)
    anvil = run_seed("anvil", seed, examples, run_steps, record_digests=True, shrink=False)
    return {
        "seed": seed, "examples": examples, "run_steps": run_steps, "boa": boa.digests, "anvil": anvil.digests,
        "boa_steps": boa.steps, "anvil_steps": anvil.steps, "boa_failure": boa.failure, "anvil_failure": anvil.failure,
        "boa_steps_per_second": round(boa.rate, 1), "anvil_steps_per_second": round(anvil.rate, 1),
        "equal": boa.digests == anvil.digests and bool(boa.digests),
    }


__all__ = ["PROFILES", "Profile", "SeedResult", "Summary", "run_seed", "run_profile", "cross_backend"]

"""The whole-protocol fuzz suite under the `ci` profile (keel.fuzz.runner.PROFILES):
hypothesis drives keel.fuzz.machine on titanoboa over fixed seeds, every invariant of
docs/INVARIANTS.md checked after every step; a short sample runs the same seed on Anvil,
whose final states must equal titanoboa's. `keel fuzz --profile deep` is the long run."""

import os

from keel.fuzz.runner import PROFILES, cross_backend, run_profile, run_seed

# actions each ci run must have carried out at least once (the machine's "<action> ok"
# counts): a run that stopped reaching liquidations, takes, options or settlement would
# otherwise pass while testing little
MUST_HAPPEN = [
    "open", "deposit", "withdraw", "borrow", "repay", "close", "transfer", "accrue", "report", "poke",
    "liquidate", "take", "reset", "settle_bad_debt", "create_series", "write", "settle", "release", "redeem",
    "margin_open", "margin_write", "margin_borrow", "margin_release", "shutdown", "cancel", "finalize",
    "redeem_debt", "claim",
]


def test_fuzz__ci_profile_on_titanoboa__no_invariant_broken():
    profile = PROFILES["ci"]
    summary = run_profile(profile, "boa", workers=min(2, os.cpu_count() or 1))
    stories = "\n\n".join(f"{f['replay']}\n{f['story']}" for f in summary.failures)
    assert not summary.failures, stories
    assert len(summary.seeds) == profile.seeds
    # each seed runs its examples to (near) full length
    assert summary.steps >= profile.seeds * profile.examples * profile.run_steps // 2
    missing = [action for action in MUST_HAPPEN if not summary.actions.get(f"{action} ok")]
    assert not missing, f"never carried out: {missing}"
    # and refusals happen too: the machine predicts reverts, it does not only avoid them
    assert sum(v for k, v in summary.actions.items() if " refused" in k) > 0


def test_fuzz__same_seed_on_anvil_and_titanoboa__same_final_states():
    profile = PROFILES["ci"]
    result = cross_backend(1, profile.anvil_examples, profile.anvil_run_steps)
    assert result["boa_failure"] is None and result["anvil_failure"] is None, result
    assert result["anvil_steps"] == result["boa_steps"] > 0
    assert len(result["boa"]) >= profile.anvil_examples
    assert result["boa"] == result["anvil"]


def test_fuzz__seed_replayed__same_runs_to_the_wei():
    """What `keel fuzz --seed S` promises: the same seed draws the same steps again."""
    first = run_seed("boa", 5, 6, 40, record_digests=True)
    again = run_seed("boa", 5, 6, 40, record_digests=True)
    assert first.failure is None and first.steps > 0
    assert first.digests == again.digests and (first.steps, first.transactions) == (again.steps, again.transactions)

"""Hypothesis profiles for Keel's test suite, chosen with ``KEEL_PROFILE`` (default ``ci``).

``make test`` exports ``KEEL_PROFILE`` from ``PROFILE`` (``make test PROFILE=deep``).

Why this is done in ``pytest_configure`` and not at import time: brownie (1.22) registers
and *loads* its own hypothesis profiles -- ``brownie-base`` when ``brownie._config`` is
imported, and ``brownie`` from the ``hypothesis:`` section of brownie-config.yaml when the
project is loaded in its ``pytest_load_initial_conftests`` hook.  A profile loaded before
that would be silently replaced.  ``pytest_configure`` runs after the project is loaded;
``tryfirst`` puts ours before brownie's own ``pytest_configure``, which layers
``brownie-verbose`` (``-v``) and ``brownie-failfast`` (``--failfast``) on top of the
*current* profile, so those flags keep working.  Our profiles inherit from whatever brownie
loaded (its example database, phases) and override the knobs below.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

PROFILE_ENV = "KEEL_PROFILE"
DEFAULT_PROFILE = "ci"

PROFILES: dict[str, dict] = {
    # Small and fully reproducible: derandomize=True makes every run draw the same examples
    # (and implies database=None).  The `reuse` phase is dropped as well, because brownie's
    # `-v`/`-s` profile ("brownie-verbose") re-attaches its example database on top of ours,
    # and replaying saved examples would make runs differ between machines.
    "ci": dict(
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ),
    # Long randomized fuzzing; a failure prints @reproduce_failure(...) to replay it.
    "deep": dict(
        max_examples=2000,
        stateful_step_count=100,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ),
}


def selected_profile() -> str:
    name = os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
    if name not in PROFILES:
        raise pytest.UsageError(f"{PROFILE_ENV}={name!r}: expected one of {sorted(PROFILES)}")
    return name


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    parent = settings.default  # what brownie loaded (brownie-base / brownie)
    for name, values in PROFILES.items():
        settings.register_profile(f"keel-{name}", parent=parent, **values)
    settings.load_profile(f"keel-{selected_profile()}")


@pytest.fixture(scope="session", autouse=True)
def _await_receipts():
    """brownie's confirmation thread calls a transaction dropped ("Tx dropped without known
    replacement") when the sender's nonce has moved past it but its receipt is not found
    yet; on a busy 2-core machine anvil can show the one a moment before the other, and a
    suite of thousands of transactions then fails now and again for nothing. Wait for the
    receipt (up to 10 s) before brownie looks (reliability only, no behaviour)."""
    import time

    from brownie import web3
    from brownie.network.transaction import TransactionReceipt
    from web3.exceptions import TransactionNotFound

    original = TransactionReceipt._await_confirmation

    def await_confirmation(self, block_number=None, required_confs=1):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if web3.eth.get_transaction_receipt(self.txid)["blockHash"] is not None:
                    break
            except TransactionNotFound:
                pass
            time.sleep(0.02)
        return original(self, block_number, required_confs)

    TransactionReceipt._await_confirmation = await_confirmation
    yield
    TransactionReceipt._await_confirmation = original

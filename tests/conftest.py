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


def _brownie_node_port() -> tuple[str, int] | None:
    """(host, port) of the node brownie is about to launch for the default development
    network, or None when it would not launch one."""
    from urllib.parse import urlparse

    from brownie._config import CONFIG
    from brownie._expansion import expand_posix_vars

    network = CONFIG.networks.get(CONFIG.argv.get("network") or CONFIG.settings["networks"]["default"], {})
    if "cmd" not in network or not isinstance(network.get("cmd_settings"), dict):
        return None
    settings_ = expand_posix_vars(dict(network["cmd_settings"]), dict(os.environ))
    host = urlparse(str(network.get("host", "http://127.0.0.1"))).hostname or "127.0.0.1"
    return host, int(settings_.get("port", 8545))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse to share a chain. brownie *attaches* to any node already listening on its port
    instead of launching its own, and its isolation fixtures then revert and reset that
    chain under whoever owns it (a second test run on the same port hangs the first one,
    waiting for receipts of transactions the revert erased). ``make test`` picks a free
    port; a run by hand needs ``KEEL_ANVIL_PORT`` set to one."""
    import socket

    if not session.items:
        return
    target = _brownie_node_port()
    if target is None:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        busy = sock.connect_ex(target) == 0
    if busy:
        raise pytest.UsageError(
            f"tests: a node already listens on {target[0]}:{target[1]}, where brownie would launch its own; it "
            "would attach to it and revert that chain under its owner (another test run?). Set KEEL_ANVIL_PORT "
            "to a free port (make test picks one)."
        )


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

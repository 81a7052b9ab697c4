"""The demo scenario (keel demo) end to end, on its own embedded Anvil.

The Anvil listens on a port the free-port picker takes from 8623-8699 (brownie's own node
is on KEEL_ANVIL_PORT); the scenario is run once for the module.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from keel.chain import DEFAULT_PORT_RANGE
from keel.scenario import run_scenario


@pytest.fixture(scope="module")
def result():
    return run_scenario(out=None, log=lambda _: None)


def test_ran_on_an_embedded_anvil(result):
    port = urlparse(result.manifest.rpc).port
    lo, hi = DEFAULT_PORT_RANGE
    assert lo <= port <= hi


def test_invariant_ok(result):
    assert result.invariant_ok
    assert "supply*RAY + surplus == sum(normalized_debt*rate) -> OK" in result.text
    assert "FAIL" not in result.text


def test_surplus_after_30_days(result):
    assert result.days == 30
    assert result.surplus > 0
    assert set(result.fees) == {"WETH", "WBTC"}
    assert all(fee > 0 for fee in result.fees.values())
    assert result.surplus >= sum(result.fees.values())  # fees, plus rounding in the system's favour


def test_summary_shows_repaid_and_closed_vaults(result):
    open_ids = [v.vault_id for v in result.vaults]
    assert open_ids == [1, 3]  # bob's vault 2 and carol's vault 4 were closed
    alice = result.vaults[0]
    assert alice.safe and alice.debt > 0
    assert "closed vaults: 2, 4" in result.text
    for header in ("1. Users open vaults", "2. 30 days pass", "3. Repayments", "Summary"):
        assert header in result.text

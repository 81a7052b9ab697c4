"""The demo scenario (keel demo) end to end, on its own embedded Anvil.

The Anvil listens on a port the free-port picker takes from 8623-8699 (brownie's own node
is on KEEL_ANVIL_PORT); the scenario is run once for the module.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlparse

import pytest

from keel.chain import DEFAULT_PORT_RANGE
from keel.scenario import COLLATERAL_TEXT, LEDGER_TEXT, run_scenario


@pytest.fixture(scope="module")
def result():
    return run_scenario(out=None, log=lambda _: None)


def test_ran_on_an_embedded_anvil(result):
    port = urlparse(result.manifest.rpc).port
    lo, hi = DEFAULT_PORT_RANGE
    assert lo <= port <= hi


def test_invariant_ok(result):
    assert result.invariant_ok
    assert f"{LEDGER_TEXT} -> OK" in result.text
    assert f"{COLLATERAL_TEXT} -> OK" in result.text
    assert result.collateral_ok
    assert "type totals == sum of their vaults' normalized debt -> OK" in result.text
    assert "FAIL" not in result.text


def test_surplus_after_30_days(result):
    assert result.days == 30
    assert result.surplus > 0
    assert set(result.fees) == {"WETH", "WBTC"}
    assert all(fee > 0 for fee in result.fees.values())
    assert result.surplus >= sum(result.fees.values())  # fees, plus rounding in the system's favour


def test_summary_shows_repaid_and_closed_vaults(result):
    open_ids = [v.vault_id for v in result.vaults]
    assert open_ids[:2] == [1, 3] and 2 not in open_ids and 4 not in open_ids  # bob's 2, carol's 4 closed
    alice = result.vaults[0]
    assert alice.safe and alice.debt > 0
    assert "empty vaults (closed, still their owners'): 2, 4" in result.text
    for header in ("1. Users open vaults", "2. 30 days pass", "3. Oracle circuit breaker", "4. Repayments",
                   "5. Crash and liquidation", "6. Options", "Summary"):
        assert header in result.text


def test_oracle_section(result):
    text = result.text
    assert "== Oracle ==" in text
    oracle = text.split("== Oracle ==", 1)[1].split("== 1. Users open vaults", 1)[0]
    for column in ("current (delayed)", "next", "accepted median", "reporters/quorum", "volatility",
                   "required ratio = base + vol"):
        assert column in oracle
    weth = next(line for line in oracle.splitlines() if line.strip().startswith("1 WETH"))
    assert "2,000.00 fresh" in weth and "3 / 2" in weth and "60.00%" in weth
    assert "180.0% = 150.0% + 30.0%" in weth  # k 0.5 x sigma 0.6
    wbtc = next(line for line in oracle.splitlines() if line.strip().startswith("2 WBTC"))
    assert "150.0% = 150.0% + 0.0%" in wbtc  # k = 0
    # after 30 days: the reporters pushed new prices, the delay passed, they are current
    assert "WETH 2,100.00 current" in text and "WBTC 31,500.00 current" in text
    assert "2,100.00 fresh" in text


def test_circuit_breaker_event(result):
    assert result.breaker == ["held", "cancelled"]
    breaker = result.text.split("3. Oracle circuit breaker", 1)[1].split("4. Repayments", 1)[0]
    assert "2,940.00 (+40%)" in breaker
    assert "HELD (PriceHeld)" in breaker and "held" in breaker
    assert "hold CANCELLED" in breaker
    assert "the engine never saw 2,940.00" in breaker


def test_crash_and_liquidation(result):
    keeper = result.keeper
    assert keeper is not None
    assert len(keeper.liquidations) >= 1 and len(keeper.takes) >= 1
    assert all(lq.reward > 0 and lq.target > 0 for lq in keeper.liquidations)
    # every take paid at most 97 % of the oracle price
    assert all(t.price * 100 <= t.oracle_price * 97 for t in keeper.takes)
    # a lot's debt is the vault's, in WAD; its target adds the 13 % penalty, rounded up
    assert all(lq.target == -(-lq.debt * 113 // 100) for lq in keeper.liquidations)
    crash = result.text.split("5. Crash and liquidation", 1)[1].split("== Summary", 1)[0]
    assert "liquidate_many(" in crash and "settle_bad_debt()" in crash
    assert crash.count("-> OK") == 2 and "FAIL" not in crash
    # alice and carol topped up and stayed safe
    assert all(v.safe for v in result.vaults)
    # what a finished lot did not need went back into its vault (not to the owner's
    # wallet): a vault liquidated whole holds exactly its lots' leftovers
    vault_of = {lq.auction_id: lq.vault_id for lq in keeper.liquidations}
    returned: dict[int, int] = {}
    for take in keeper.takes:
        if take.finished:
            returned[vault_of[take.auction_id]] = returned.get(vault_of[take.auction_id], 0) + take.returned
    assert sum(returned.values()) > 0
    in_use = {v.vault_id: v for v in result.vaults}
    emptied = [vault_id for vault_id in returned if in_use[vault_id].normalized_debt == 0]
    assert emptied, "the demo's vaults are liquidated whole"
    for vault_id in emptied:
        assert in_use[vault_id].collateral == returned[vault_id], vault_id


def test_surplus_is_explained(result):
    """The summary splits the surplus into fees + penalties - bad debt settled; what is left
    is rounding in the system's favour, under a wei per borrow, repay and liquidation."""
    summary = result.text.split("== Summary", 1)[1]
    line = next(line for line in summary.splitlines() if line.strip().startswith("surplus ") and "penalties" in line)
    penalties = Decimal(line.split("penalties ", 1)[1].split(" ", 1)[0].replace(",", ""))
    rounding = Decimal(line.split(", plus ", 1)[1].split(" wei", 1)[0].replace(",", ""))
    assert penalties > 0, line
    assert 0 <= rounding < 100, line


def test_shutdown_settles_everything_and_holders_redeem(result):
    settlement = result.settlement
    assert settlement is not None and settlement.invariant_ok
    assert set(settlement.frozen) == {"WETH", "WBTC"} and all(p > 0 for p in settlement.frozen.values())
    # alice's and carol's vaults and the keeper's still had debt
    assert settlement.settled_vaults >= 3
    assert settlement.pools["WETH"] > 0
    # every holder handed in all its kUSD; together they claimed the whole pool but for
    # less than one wei per holder
    for symbol, pool in settlement.pools.items():
        claimed = sum(c[symbol] for c in settlement.claims.values())
        assert claimed <= pool
        assert pool - claimed == settlement.remainders[symbol] < max(1, len(settlement.claims))
    section = result.text.split("7. Emergency shutdown", 1)[1]
    assert "invariant 5 WETH" in section and section.count("-> OK") == 4 and "FAIL" not in section


def test_options_section(result):
    """The options section: a covered call ends in the money and a cash-secured put out of
    it; what holders got plus what writers took back is what was locked (rounding to the
    house); a long put lets a loan grow; a short strangle needs less than its legs in full."""
    o = result.options
    assert o is not None and o.call and o.put
    assert o.call_payoff > 0 and o.put_payoff == 0  # WETH rose 15 %: the call in the money
    # the call: 2 locked WETH split between holder and writer, never more
    assert o.holder_paid["call"] == 2 * o.call_payoff
    assert o.holder_paid["call"] + o.writer_released["call"] <= o.locked["call"]
    assert o.locked["call"] - (o.holder_paid["call"] + o.writer_released["call"]) <= 2  # wei of rounding
    # the put expired worthless: the writer takes back everything
    assert o.holder_paid["put"] == 0 and o.writer_released["put"] == o.locked["put"]
    # portfolio margin: hedging helps
    assert o.hedged_max_borrow > o.plain_max_borrow > 0
    assert 0 < o.strangle_margin < o.strangle_isolated
    section = result.text.split("6. Options", 1)[1].split("== Summary", 1)[0]
    assert "Keel option WETH-" in section and "margin account" in section

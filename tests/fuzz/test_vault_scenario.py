"""One fixed walk through every rule of the fuzz machine, invariants checked after each
step, so that each rule's checks run in every CI run whatever hypothesis happens to draw
(the settlement end game, for one, needs a long lucky run to reach).

The walk: crashes, a full and a partial liquidation (a WBTC vault whose debt is above
the room left under the caps: the global one binds), the owner of a vault liquidated whole closing it while its lot
runs, partial, flash and whole takes, a lot that meets its target and gives the rest
back into its vault, a lot that runs dry into bad debt, a reset, bad debt cancelled
against surplus; then shutdown with lots still running, live actions refused, lots
cancelled (their leftovers back into the vaults, the closed one included), vaults
settled, every type finalized, holders redeeming and claiming, and owners taking out
what settlement left them.
"""

import pytest

import tests.fuzz.test_vault_invariants as fuzz
from tests.fuzz.test_vault_invariants import VaultStateMachine


@pytest.fixture
def machine(monkeypatch, system, admin, borrowers, keeper, reporter):
    monkeypatch.setattr(fuzz, "note", print)  # hypothesis.note needs a running example
    # as brownie's state_machine does: __init__ sets the class-wide fixtures
    VaultStateMachine.__init__(VaultStateMachine, system, admin, borrowers, keeper, reporter, 0)
    instance = VaultStateMachine.__new__(VaultStateMachine)
    instance.setup()
    instance.invariant_ledger()
    return instance


def test_every_rule_keeps_invariants(machine):
    def step(rule, **arguments):
        getattr(machine, rule)(**arguments)
        machine.invariant_ledger()

    engine = machine.engine
    # WETH -60 %: the 160 % vault owes more than its lot can raise; WBTC -40 %
    step("rule_crash", st_type=0, st_crash=6_000)
    step("rule_crash", st_type=1, st_crash=4_000)
    step("rule_liquidate", pick=1)
    step("rule_liquidate_many", pick=1, count=4)
    assert len(machine.lots) == 5
    big_wbtc_vault = machine.starting_vaults[6]
    assert engine.vault_position(big_wbtc_vault)[3] > 0, "the big WBTC vault was liquidated in part"
    type_limit, type_used, global_limit, global_used = machine.liquidator.room(2)
    assert type_used == engine.type_debt_in_auction(2), "the caps count the engine's vault debt in auction"
    assert global_used * 10**27 == engine.debt_in_auction()
    assert global_limit - global_used < 10**18 < type_limit - type_used, "... as far as the global cap allows"
    # a WBTC vault liquidated whole: empty, still its owner's, who closes it while its lot runs
    emptied_wbtc_vault = machine.starting_vaults[4]
    owner = engine.vault_position(emptied_wbtc_vault)[0]
    assert tuple(engine.vault_position(emptied_wbtc_vault)) == (owner, 2, 0, 0)
    assert emptied_wbtc_vault in [lot["vault"] for lot in machine.lots.values()]
    step("rule_close", st_pick=4)
    assert emptied_wbtc_vault in machine.closed
    step("rule_take", pick=0, fraction=3_000, slack=100)
    step("rule_flash_take", pick=1, fraction=5_000, slack=100)
    step("rule_auction_clock", st_auction_seconds=1_000)
    step("rule_take_all", pick=0, excess=12_000, slack=0)
    step("rule_flash_take", pick=0, fraction=12_000, slack=0)
    assert engine.bad_debt() > 0, "a lot ran dry: its uncovered debt is bad debt"
    weth_vault = machine.starting_vaults[2]  # 100 WETH at 300 %: its lot met its target
    assert 0 < engine.vault_position(weth_vault)[2], "a lot met its target: the rest went back into its vault"
    step("rule_time_passes", st_seconds=8_000, st_report=False)  # past every tail, oracles stale
    epochs = {aid: lot["epoch"] for aid, lot in machine.lots.items()}
    step("rule_reset", pick=0, paid=True, report=False)  # refused: the oracle is stale
    assert all(lot["epoch"] == epochs[aid] for aid, lot in machine.lots.items())
    step("rule_reset", pick=0, paid=True, report=True)  # the reporter reports first
    step("rule_reset", pick=1, paid=False, report=True)
    assert sum(lot["epoch"] != epochs[aid] for aid, lot in machine.lots.items()) == 2, "two lots restarted"
    step("rule_auction_clock", st_auction_seconds=600)
    step("rule_take", pick=0, fraction=2_000, slack=0)
    step("rule_settle_bad_debt")
    step("rule_crash", st_type=2, st_crash=3_000)
    step("rule_liquidate_many", pick=1, count=4)
    running = len(machine.lots)
    assert running >= 2

    step("rule_shutdown")
    for action in range(6):
        step("rule_live_actions_refused", pick=action, action=action)
    step("rule_cancel_auction", pick=0, everything=False)
    assert len(machine.lots) == running - 1
    step("rule_settle_vaults", pick=0, size=1)
    step("rule_finalize")
    assert len(machine.pools) < 3, "a type finalizes only once its vaults and lots are all settled"
    step("rule_settle_vaults", pick=0, size=100)
    step("rule_cancel_auction", pick=0, everything=True)
    assert engine.vault_position(emptied_wbtc_vault)[2] > 0, "a cancelled lot's rest went back into the closed vault"
    step("rule_finalize")
    assert sorted(machine.pools) == [1, 2, 3]
    step("rule_redeem", holder=3, fraction=5_000)
    step("rule_redeem", holder=0, fraction=12_000)
    step("rule_claim", holder=3, redeem_first=0)
    step("rule_claim", holder=0, redeem_first=0)
    step("rule_claim", holder=0, redeem_first=0)  # nothing more to claim
    step("rule_claim", holder=3, redeem_first=12_000)
    assert all(machine.claimed[machine.keeper.address].values())
    # the partly liquidated WBTC vault: settled, its owner takes out what is left
    step("rule_withdraw", st_pick=6, st_fraction=5_000)
    step("rule_close", st_pick=6)
    assert big_wbtc_vault in machine.closed
    # ... and the closed one takes out what its lot gave back
    refilled = engine.vault_position(emptied_wbtc_vault)[2]
    step("rule_withdraw", st_pick=4, st_fraction=10_000)
    assert engine.vault_position(emptied_wbtc_vault)[2] < min(refilled, 10**10), "all but sub-unit dust withdrawn"
    assert engine.settled_debt() > 0 and engine.debt_in_auction() == 0

"""One fixed walk through every rule of the whole-protocol machine (keel.fuzz.machine) on
titanoboa, with every invariant checked after each step, so each rule's own checks and
predictions run in every CI run whatever hypothesis happens to draw (the settlement end
game, for one, needs a long lucky run to reach).

The walk, as a story: WETH crashes 45 % (held by the feed's breaker, then confirmed), an
unsafe vault is liquidated alone and more in a batch; a lot is taken in part, by flash
take and in full; lots age past their tail and are reset; bad debt is cancelled against
surplus; a call and a put series are written in full and on margin, the price moves,
they expire, settle, are redeemed and released; margin accounts borrow, are liquidated
and released; then shutdown with lots running: vaults settle, lots are cancelled, types
finalize, holders redeem kUSD and claim collateral.
"""

import pytest

from keel.fuzz import machine as fuzz_machine
from keel.fuzz.paths import REPORT_ALL, Move


@pytest.fixture
def machine():
    """A fresh machine on titanoboa (the deployed protocol, rolled back); its story (the
    note of every step) goes to fuzz_machine.STORY, printed when a step fails."""
    instance = fuzz_machine.machine_class("boa", run_steps=30)()
    instance.invariants_hold()
    fuzz_machine.STORY.clear()
    yield instance
    instance.teardown()


def walk(machine, steps):
    """Run (rule, arguments) steps, every invariant checked after each; on a failure the
    walk so far is printed as a story."""
    for rule, arguments in steps:
        try:
            getattr(machine, rule)(**arguments)
            machine.invariants_hold()
        except Exception:
            print("\n".join(fuzz_machine.STORY))
            raise


def test_walk__every_rule_in_turn__invariants_hold_after_each_step(machine):
    before = dict(fuzz_machine.STATS["actions"])

    def step(rule, **arguments):
        walk(machine, [(rule, arguments)])

    # options first, while prices are calm: a call and a put on WETH, written in full and on margin
    step("create_series", type_index=0, moneyness=-1_000, days=2, is_call=True)
    step("create_series", type_index=0, moneyness=1_000, days=2, is_call=False)
    assert len(machine.series) == 2
    step("write_option", pick=0, writer=fuzz_machine.WRITER, tenths=20, to_holder=False)
    step("write_option", pick=1, writer=fuzz_machine.WRITER, tenths=20, to_holder=False)
    step("close_option", pick=1, writer=fuzz_machine.WRITER, fraction=2_000)
    step("margin_open", owner=fuzz_machine.MARGIN_OWNERS[0], type_index=0, tenths=50)
    step("margin_write", pick=0, series_pick=0, tenths=10, to_holder=True)
    step("margin_borrow", pick=0, fraction=5_000)
    step("margin_close", pick=0, series_pick=0, fraction=2_000)
    step("margin_deposit_long", pick=0, series_pick=1, fraction=2_000)
    # vaults: open, deposit, borrow, repay, withdraw, transfer, close
    step("open_vault", who=fuzz_machine.BORROWERS[0], type_index=0, tenths=20, fraction=5_000)
    step("deposit", pick=0, hundredths=100)
    step("borrow", pick=0, fraction=3_000)
    step("repay", pick=0, fraction=2_000)
    step("withdraw", pick=0, fraction=100)
    step("transfer_vault", pick=3, new_owner=fuzz_machine.BORROWERS[1])
    step("accrue", type_index=1)
    step("time_passes", seconds=3_600, refresh="all")
    # WETH crashes 45 %: held by the breaker, confirmed by a quorum, then delayed a poke
    step("price_path", type_index=0, path=[Move(-4_500, 900, REPORT_ALL, "crash")])
    step("auction_clock", seconds=1_200, type_index=0)
    step("auction_clock", seconds=1_200, type_index=0)
    assert machine._candidates(machine.t), "the crash made no vault unsafe"
    step("liquidate", pick=1)
    step("liquidate_many", pick=1, count=4)
    assert machine.lots, "no lot started"
    step("auction_clock", seconds=300, type_index=0)
    step("take", pick=0, fraction=2_000, slack=0)
    step("flash_take", pick=0, fraction=3_000, slack=100)
    step("take_all", pick=0, excess=15_000, slack=100)
    # the rest run past their tail: reset (paid), and one is taken dry later
    step("auction_clock", seconds=1_200, type_index=0)
    for _ in range(8):
        step("auction_clock", seconds=1_200, type_index=0)
    step("reset", pick=1, paid=True)
    step("take_all", pick=0, excess=20_000, slack=3_000)
    if machine.snap.bad_debt:
        step("settle_bad_debt")
    step("margin_start_liquidation", pick=0)
    step("margin_liquidate_debt", pick=0, fraction=50)
    step("margin_liquidate", pick=0, series_pick=0, fraction=5_000)
    # expiry: settle, redeem, release (the margin account's position too)
    step("to_expiry", pick=0, extra=60, refresh=True)
    step("to_expiry", pick=1, extra=60, refresh=True)
    step("settle_series", pick=0)
    step("settle_series", pick=1)
    step("margin_settle", pick=0, series_pick=0)
    step("margin_settle", pick=0, series_pick=1)
    step("redeem_option", pick=0, holder=fuzz_machine.HOLDER, fraction=10_000)
    step("redeem_option", pick=1, holder=fuzz_machine.WRITER, fraction=10_000)
    step("release_option", pick=0, writer_pick=1)
    step("release_option", pick=1, writer_pick=1)
    step("margin_release", pick=0)
    step("repay_all", pick=1)
    step("close", pick=1)
    # a liquidation leaves a lot running into the shutdown
    step("price_path", type_index=1, path=[Move(-5_000, 900, REPORT_ALL, "crash")])
    step("auction_clock", seconds=1_200, type_index=1)
    step("auction_clock", seconds=1_200, type_index=1)
    step("liquidate_many", pick=0, count=4)
    machine.steps = machine.run_steps  # shutdown is allowed late in a run
    step("shutdown")
    step("settle_vaults", pick=0, size=50)
    while machine.lots:
        step("cancel_auction", pick=0)
    step("settle_vaults", pick=0, size=50)
    step("time_passes", seconds=3 * 86_400, refresh="none")
    step("finalize", type_index=0)
    step("finalize", type_index=1)
    for holder in fuzz_machine.ACTORS:
        step("redeem_debt", holder=holder, fraction=10_000)
    for holder in range(len(fuzz_machine.ACTORS)):
        for type_index in (0, 1):
            step("claim", pick=holder, type_index=type_index)

    done = fuzz_machine.actions_since(before)
    missing = [rule for rule in RULES_THAT_MUST_SUCCEED if not done.get(f"{rule} ok")]
    assert not missing, f"never went through: {missing}; {done}"


# the action names the machine counts ("<action> ok"); flash takes count as takes
RULES_THAT_MUST_SUCCEED = [
    "create_series", "write", "close", "margin_open", "margin_write", "margin_borrow", "margin_close",
    "margin_deposit_long", "open", "deposit", "borrow", "repay", "withdraw", "transfer", "accrue", "report", "poke",
    "liquidate", "take", "reset", "settle_bad_debt", "margin_start", "margin_liquidate_debt", "margin_liquidate",
    "settle", "margin_settle", "redeem", "release", "margin_release", "shutdown", "cancel", "finalize",
    "redeem_debt", "claim",
]


# ---------------------------------------------------------------- regressions
# Failures the deep profile found, replayed step by step (the machine's own mistakes in
# these cases; kept so that the rules stay right).

def test_margin_settle__call_short_on_an_8_decimal_token__pays_whole_units_rounded_up(machine):
    """Deep seed 3: a margined WBTC call settles in the money; the vault pays whole
    satoshis, rounded up, so a hair more than the WAD obligation (the house's favour)."""
    walk(machine, [
        ("margin_open", dict(owner=fuzz_machine.HOLDER, type_index=1, tenths=77)),
        ("create_series", dict(type_index=1, moneyness=-454, days=1, is_call=True)),
        ("margin_write", dict(pick=0, series_pick=0, tenths=8, to_holder=True)),
        ("time_passes", dict(seconds=2 * 86_400, refresh="WBTC")),
        ("settle_series", dict(pick=0)),
    ])
    sid = machine.series[0]
    before = machine.snap.series[sid]
    assert before.books_high == 8 * 10**17, "the margined short awaits settlement"
    walk(machine, [("margin_settle", dict(pick=1, series_pick=0))])
    after = machine.snap.series[sid]
    assert after.books_high == 0
    owed = 8 * 10**17 * (before.settlement_price - before.strike) // before.settlement_price
    paid = after.books_low - before.books_low
    assert owed <= paid < owed + 10**10, "paid in whole satoshis, at least what was owed"


def test_margin_settle__long_before_the_margined_shorts__refused_then_redeemed(machine):
    """Deep seed 4: an account's long in a series whose margined writers have not
    settled is refused (the house pays no holder yet); once the short settles, it pays."""
    walk(machine, [
        ("margin_open", dict(owner=fuzz_machine.WRITER, type_index=0, tenths=50)),
        ("margin_open", dict(owner=fuzz_machine.HOLDER, type_index=0, tenths=50)),
        ("create_series", dict(type_index=0, moneyness=-1_000, days=1, is_call=True)),
        ("margin_write", dict(pick=0, series_pick=0, tenths=10, to_holder=True)),
        ("margin_deposit_long", dict(pick=1, series_pick=0, fraction=10_000)),
        ("time_passes", dict(seconds=2 * 86_400, refresh="WETH")),
        ("settle_series", dict(pick=0)),
    ])
    short_account, long_account = sorted(machine.accounts)
    assert [a for _, a in machine._positions(long_account)] == [10**18]
    walk(machine, [("margin_settle", dict(pick=1, series_pick=0))])  # the long: refused
    assert machine._positions(long_account), "the long settled before the short"
    walk(machine, [("margin_settle", dict(pick=2, series_pick=0))])  # the short pays
    assert not machine._positions(short_account)
    collateral = machine.snap.vaults[long_account].collateral
    walk(machine, [("margin_settle", dict(pick=1, series_pick=0))])  # now the long is paid
    assert not machine._positions(long_account)
    assert machine.snap.vaults[long_account].collateral > collateral, "a call's payoff goes into the vault"


def test_margin_settle__put_short_on_a_debt_free_account__borrows_the_dust_rest_to_owner(machine):
    """Deep seeds 42 and 47: a margined put short settling out of a vault without debt
    borrows at least the dust; the obligation goes to the house, the rest to the owner."""
    owner = fuzz_machine.WRITER
    walk(machine, [
        ("margin_open", dict(owner=owner, type_index=0, tenths=1)),
        ("create_series", dict(type_index=0, moneyness=1, days=1, is_call=False)),
        ("margin_write", dict(pick=0, series_pick=0, tenths=1, to_holder=False)),
        ("to_expiry", dict(pick=0, extra=86_401, refresh=False)),
        ("settle_series", dict(pick=0)),
        # a second series, only so that time runs to its expiry with prices reported
        ("create_series", dict(type_index=0, moneyness=0, days=1, is_call=False)),
        ("to_expiry", dict(pick=0, extra=0, refresh=True)),
    ])
    kusd = machine.snap.balances[("kUSD", owner)]
    walk(machine, [("margin_settle", dict(pick=0, series_pick=0))])
    (account,) = machine.accounts
    assert machine.snap.vaults[account].normalized_debt != 0, "the account borrowed to pay the put"
    assert machine.snap.balances[("kUSD", owner)] > kusd, "the dust above the obligation went to the owner"

"""The whole-protocol stateful machine: every user and keeper action of Keel, over price
paths, with DESIGN.md's invariants (and more) checked after every step.

Written once against keel.backends (titanoboa in process, or Anvil), so the same seed
drives the same story on either. :func:`machine_class` gives the machine for a backend;
``keel fuzz`` (keel.fuzz.runner) runs it under a hypothesis profile.

Each step is one rule: a vault action (open, deposit, withdraw, borrow, repay, repay all,
close, transfer), a fee accrual, a price path on one collateral (a random walk, a jump the
feed holds, a crash, a recovery, a window of a recorded CSV path; reporters honest, one
lying, one or two silent), time passing (short, or long enough for prices to go stale),
a liquidation (one vault, or a batch), a take (partial, whole, flash), a reset, bad debt
cancelled against surplus; option series created, written against locked collateral
(covered calls, cash-secured puts), closed, settled at or after expiry, redeemed,
released; portfolio-margin accounts opened, writing partly collateralised, borrowing,
taking longs in, closing, settling at expiry, liquidated (positions and debt), released;
late in a run, shutdown and global settlement (vaults settled, lots cancelled, types
finalized, debt tokens redeemed, collateral claimed). Rules pick their inputs from the
state read after the last step, so most steps do something; every step is written with
``note`` so that a failing example reads as a story. Where the outcome of a step can be
computed (keel.fuzz.reference mirrors the contracts' arithmetic), the rule checks it to
the wei: the roundings are all checked to go the system's way.

After every step, one read of storage (System.snapshot) is checked against:

1. collateral: per type, tokens the engine holds == vault collateral + lots + tracked dust
   + settled for redemption; per asset, the options house holds at least what it owes
   (locked collateral, holders' funds, writers' releases) plus its tracked dust;
2. debt: supply * RAY + surplus == sum(vault normalised debt * rate) + debt in auction +
   bad debt + settled debt, and each type's normalised debt is the sum of its vaults';
3. no vault is made unsafe by its own owner's action (checked by the rules that could);
4. every lot's price is its curve's at the block time, at most its start, never higher
   than last seen between resets; lots add up to the engine's auction totals, within the
   type and global caps;
5. after shutdown the supply is frozen; a finalized pool less the claims is what the
   engine still holds as settled; all shares together stay within the pool;
6. a settled series pays no holder more than max(0, S - K) (or (S - K) / S underlying)
   per option, and its funds back every option in full unless a margined writer fell
   short (the machine records each shortfall as the house computes it);
7. every actor's token, debt-token and option balances are exactly what the rules
   expected them to be: nobody gets more than it deposited plus what it was paid.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import note as hypothesis_note
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidDefinition
from hypothesis.stateful import RuleBasedStateMachine, RuleStrategy, invariant, precondition, rule

from ..backends import Backend, BackendError, make_backend
from . import paths as price_paths
from . import reference as ref
from .reference import RAY, WAD
from .system import (ACTORS, BORROWERS, DAY, FEED, GLOBAL_AUCTION_LIMIT, HOLDER, KEEPER, KEEPER_REWARD, MARGIN, MAX_UINT256,
                     REPORTERS, RESET_INCENTIVE, SERIES_WRITERS, TYPES, WRITER, State, System)

FROZEN = 2**48 - 1  # VaultEngine: the last-accrual time after shutdown
MIN_PRICE, MAX_PRICE = 10**12, 10**27  # WAD: the price paths stay within a millionth .. a billion
MARGIN_OWNERS = (WRITER, HOLDER)
SHUT_DOWN = "engine: shut down"
STALE = "engine: oracle stale"

# Reasons an action may revert with when the machine cannot tell in advance (everything
# else it predicts: a revert it did not expect, or a reason not listed here, fails the run).
MAY_REVERT = {
    "open": {"engine: debt ceiling reached"},
    "borrow": {"engine: debt ceiling reached"},
    "report": set(),
    "margin_write": {"margin: initial margin", "margin: too many positions", "margin: position is the other way",
                     "margin: position too large", STALE},
    "margin_borrow": {"engine: vault unsafe", STALE, "engine: debt below dust", "engine: debt ceiling reached"},
    "margin_deposit_long": {"margin: too many positions", "margin: position is the other way",
                            "margin: position too large"},
    "margin_close": set(),
    "margin_settle": {"margin: series not settled", "engine: debt ceiling reached", "engine: vault unsafe",
                      SHUT_DOWN, STALE},
    "margin_start": {"margin: account healthy", STALE},
    "margin_liquidate": {"margin: account healthy", "margin: liquidation not started",
                         "margin: liquidation would worsen the account", "margin: long worth nothing",
                         "margin: long worth more than the debt", "margin: more than the position", STALE,
                         "margin: series expired: settle it", SHUT_DOWN, "engine: vault unsafe"},
    "margin_liquidate_debt": {"margin: account healthy", "margin: liquidation not started",
                              "margin: liquidation would worsen the account", STALE, SHUT_DOWN,
                              "engine: debt below dust", "margin: no debt"},
    "margin_release": {"margin: positions open"},
}


STORY: list[str] = []  # notes made outside a hypothesis test (a replayed regression)


def note(text: str) -> None:
    """hypothesis' note inside a test (printed with a failing example); outside one (a
    regression replayed by hand) the line goes to STORY."""
    try:
        current_build_context()
    except Exception:  # noqa: BLE001 - no test running
        STORY.append(text)
        return
    hypothesis_note(text)


def fmt(amount: int, decimals: int = 18) -> str:
    return f"{amount / 10**decimals:,.4f}"


@dataclass
class LotTrack:
    collateral_type: int
    vault_id: int
    epoch: tuple[int, int]  # (started_at, top): changes only at a reset the machine made
    price: int  # the last price seen in this epoch


# ----------------------------------------------------------------------------- worlds
@dataclass
class _World:
    backend: Backend
    system: System
    snapshot: Any
    python_state: dict


_WORLDS: dict[str, _World] = {}
STATS: dict[str, Any] = {"steps": 0, "runs": 0, "txs": 0, "actions": {}}  # actions: "name ok|refused" -> count


def _python_state(system: System) -> dict:
    return {"now": system.now, "faucet": dict(system.faucet), "option_tokens": dict(system.option_tokens)}


def actions_since(before: dict[str, int]) -> dict[str, int]:
    """The action counts (STATS["actions"]) added since `before`, a copy taken earlier."""
    return {k: v - before.get(k, 0) for k, v in STATS["actions"].items() if v != before.get(k, 0)}


def fresh_system(backend_name: str) -> System:
    """The deployed protocol in its starting state: deployed once per process and backend,
    then rolled back to that point for every run."""
    world = _WORLDS.get(backend_name)
    if world is None:
        backend = make_backend(backend_name, accounts=12)
        system = System(backend)
        world = _WORLDS[backend_name] = _World(backend, system, backend.snapshot(), _python_state(system))
        return system
    world.backend.revert(world.snapshot)
    world.snapshot = world.backend.snapshot()
    system = world.system
    system.now = world.python_state["now"]
    system.b.set_time(system.now)
    system.faucet = dict(world.python_state["faucet"])
    system.option_tokens = dict(world.python_state["option_tokens"])
    return system


def close_worlds() -> None:
    for world in _WORLDS.values():
        world.backend.close()
    _WORLDS.clear()


class _RuleChoice(RuleStrategy):
    """hypothesis' RuleStrategy, drawing the same choices, without rebuilding its rule
    strategy on every step: hypothesis 6.27 (brownie's pin) builds ``sampled_from(rules)``
    with two filter lambdas per draw, and keys its strategy cache by their source text,
    which it recompiles each time: with 40 rules that cost more than a transaction."""

    def __init__(self, machine: RuleBasedStateMachine) -> None:
        super().__init__(machine)
        self._flags = None
        self._choice = st.sampled_from(self.rules).filter(self._eligible)

    def _eligible(self, candidate) -> bool:
        return self.is_valid(candidate) and self._flags.is_enabled(candidate.function.__name__)

    def do_draw(self, data):
        if not any(self.is_valid(candidate) for candidate in self.rules):
            raise InvalidDefinition(f"No progress can be made from state {self.machine!r}")
        self._flags = data.draw(self.enabled_rules_strategy)
        chosen = data.draw(self._choice)
        return chosen, data.draw(chosen.arguments_strategy)


# ----------------------------------------------------------------------------- the machine
class KeelMachine(RuleBasedStateMachine):
    """See the module docstring. Subclassed per backend and run length by machine_class."""

    backend_name = "boa"
    run_steps = 100  # the profile's steps per run: shutdown is allowed in the last third
    csv_path: Path | None = None
    digests: list[str] | None = None  # when a list, each run's final-state digest is appended

    def __init__(self) -> None:
        super().__init__()
        self._rules_strategy = _RuleChoice(self)
        self.s = fresh_system(self.backend_name)
        STATS["runs"] += 1
        self.steps = 0
        self.shut = False
        self.lots: dict[int, LotTrack] = {}
        self.series: list[int] = []
        self.series_terms: set[tuple] = set()
        self.accounts: dict[int, int] = {}  # margin vault -> owner actor
        self.shortfall: dict[int, int] = {}  # series -> WAD margined writers fell short
        self.keeper_vault, self.writer_vault = 1, 2
        self.snap: State = self.s.snapshot([], [])
        self.ledger = dict(self.snap.balances)  # (symbol, actor) -> expected balance
        self.option_ledger: dict[tuple[int, int], int] = {}
        self.targets = [c.spec.price for c in self.s.types]
        self.poked_at = [ts.poked_at for ts in self.snap.types]  # the price each type's reporters report
        self.kusd_held = dict(self.snap.kusd_held)
        self.supply_at_shutdown = 0
        self.put_writes = 0
        self._margin_checks: dict[tuple, bool] = {}  # (vault, time) -> engine-liquidatable; ("health", vault, time)

    # ------------------------------------------------------------ plumbing
    @property
    def t(self) -> int:
        """The block time of the next transaction."""
        return self.s.now + 1

    def send(self, action: str, actor: int, handle, fn: str, *args: Any, expect: str | None = None,
             may: set[str] | frozenset = frozenset()):
        """Send a transaction. With `expect`, it must revert with that reason; otherwise it
        may revert only with a reason in `may` or MAY_REVERT[action]. Returns the Result."""
        result = self.s.tx(actor, handle, fn, *args)
        STATS["txs"] += 1
        key = f"{action if action != 'report' else fn} " + ("ok" if result.ok else f"refused ({result.reason or 'no reason'})")
        STATS["actions"][key] = STATS["actions"].get(key, 0) + 1
        if expect is not None:
            assert not result.ok, f"{action}: expected the revert {expect!r}, it went through"
            assert result.reason == expect, f"{action}: expected the revert {expect!r}, got {result.reason!r}"
            note(f"  -> refused as predicted: {expect}")
            return result
        if not result.ok:
            allowed = set(may) | MAY_REVERT.get(action, set())
            assert result.reason in allowed, f"{action}: unexpected revert {result.reason!r}"
            note(f"  -> refused: {result.reason}")
        return result

    def fund(self, actor: int, type_index: int, units: int) -> None:
        """Make sure `actor` holds `units` of a collateral (minting the shortfall)."""
        c = self.s.types[type_index]
        lacking = units - self.ledger[(c.symbol, actor)]
        if lacking > 0:
            whole = -(-lacking // 10**c.spec.decimals) + 1
            self.s.fund(actor, c, whole)
            self.ledger[(c.symbol, actor)] += whole * 10**c.spec.decimals

    def credit(self, symbol: str, actor: int, amount: int) -> None:
        self.ledger[(symbol, actor)] += amount

    def type_state(self, type_id: int):
        return self.snap.type(type_id)

    def rate_at(self, type_id: int, t: int) -> int:
        ts = self.type_state(type_id)
        if ts.last_accrual == FROZEN:
            return ts.rate
        return ref.rate_now(ts.rate, ts.last_accrual, ts.fee, t)

    def plain_vaults(self, owners=BORROWERS) -> list[int]:
        return [v for v, p in self.snap.vaults.items() if not p.margin and p.owner in owners]

    def pick(self, items: list, index: int):
        return items[index % len(items)] if items else None

    def unsafe(self, vault_id: int, t: int) -> bool:
        v = self.snap.vaults[vault_id]
        ts = self.type_state(v.collateral_type)
        return (not v.margin and v.normalized_debt != 0 and ts.fresh_at(t)
                and not ref.is_safe(v.collateral, v.normalized_debt, self.rate_at(v.collateral_type, t), ts.price,
                                    ts.ratio))

    def check_safe_after(self, vault_id: int, action: str) -> None:
        """Invariant 3: the owner's action left the vault safe (at the price and rate of
        its block)."""
        after = self.s.snapshot([], [])
        v = after.vaults[vault_id]
        ts = after.type(v.collateral_type)
        assert ref.is_safe(v.collateral, v.normalized_debt, ts.rate, ts.price, ts.ratio), \
            f"{action} left vault {vault_id} unsafe"

    def lot_price(self, lot, t: int) -> tuple[int, bool]:
        curve = ref.Curve(*TYPES[lot.collateral_type - 1].curve)
        elapsed = t - lot.started_at
        price = curve.price(lot.top, elapsed)
        return price, curve.needs_reset(lot.top, elapsed, price)

    # ------------------------------------------------------------ rules: vaults
    @precondition(lambda self: not self.shut)
    @rule(who=st.sampled_from(BORROWERS), type_index=st.integers(0, len(TYPES) - 1), tenths=st.integers(1, 200),
          fraction=st.integers(0, 10_000))
    def open_vault(self, who, type_index, tenths, fraction):
        c = self.s.types[type_index]
        ts = self.snap.types[type_index]
        units = tenths * 10**c.spec.decimals // 10
        collateral = units * c.scale
        value = collateral * ts.price // WAD
        borrow = value * 2 // 3 * fraction // 10_000
        if borrow < DUST_WAD:
            borrow = 0 if fraction % 4 else borrow  # now and then below dust, to be refused
        self.fund(who, type_index, units)
        t = self.t
        note(f"open: borrower {who} deposits {fmt(units, c.spec.decimals)} {c.symbol}, borrows {fmt(borrow)}")
        rate = self.rate_at(c.type_id, t)
        nd = ref.mul_div(borrow, RAY, rate, True)
        expect = None
        if 0 < borrow and nd * rate < DUST_WAD * RAY:
            expect = "engine: debt below dust"
        elif borrow and not ts.fresh_at(t):
            expect = STALE
        elif borrow and not ref.is_safe(collateral, nd, rate, ts.price, ts.ratio):
            expect = "engine: vault unsafe"
        result = self.send("open", who, self.s.engine, "open_vault", c.type_id, units, borrow, expect=expect)
        if not result.ok:
            return
        vault_id = result.value
        assert vault_id == self.snap.vault_count + 1
        self.credit(c.symbol, who, -units)
        self.credit("kUSD", who, borrow)
        after = self.s.snapshot([], [])
        v = after.vaults[vault_id]
        assert (v.owner, v.collateral_type, v.collateral, v.normalized_debt) == (who, c.type_id, collateral, nd), \
            f"vault {v} is not the {collateral} collateral and {nd} normalised debt predicted"
        assert nd * rate >= borrow * RAY, "borrowed debt must round up"
        note(f"  -> vault {vault_id}")
        if borrow:
            self.check_safe_after(vault_id, "open")

    @rule(pick=st.integers(0, 2**16), hundredths=st.integers(1, 5_000))
    def deposit(self, pick, hundredths):
        vault_id = self.pick(self.plain_vaults(), pick)
        if vault_id is None:
            return
        v = self.snap.vaults[vault_id]
        c = self.s.types[v.collateral_type - 1]
        units = hundredths * 10**c.spec.decimals // 100
        self.fund(v.owner, v.collateral_type - 1, units)
        note(f"deposit: {fmt(units, c.spec.decimals)} {c.symbol} into vault {vault_id}")
        if self.send("deposit", v.owner, self.s.engine, "deposit", vault_id, units).ok:
            self.credit(c.symbol, v.owner, -units)

    @rule(pick=st.integers(0, 2**16), fraction=st.integers(1, 10_000))
    def withdraw(self, pick, fraction):
        vault_id = self.pick(self.plain_vaults(), pick)
        if vault_id is None:
            return
        v = self.snap.vaults[vault_id]
        c = self.s.types[v.collateral_type - 1]
        ts = self.type_state(v.collateral_type)
        units = v.collateral // c.scale * fraction // 10_000
        if units == 0:
            return
        t = self.t
        note(f"withdraw: {fmt(units, c.spec.decimals)} {c.symbol} from vault {vault_id}")
        left = v.collateral - units * c.scale
        expect = None
        if self.shut and v.normalized_debt:
            expect = SHUT_DOWN
        elif v.normalized_debt and not ts.fresh_at(t):
            expect = STALE
        elif not ref.is_safe(left, v.normalized_debt, self.rate_at(v.collateral_type, t), ts.price, ts.ratio):
            expect = "engine: vault unsafe"
        if self.send("withdraw", v.owner, self.s.engine, "withdraw", vault_id, units, self.s.accounts[v.owner],
                     expect=expect).ok:
            self.credit(c.symbol, v.owner, units)
            self.check_safe_after(vault_id, "withdraw")

    @precondition(lambda self: not self.shut)
    @rule(pick=st.integers(0, 2**16), fraction=st.integers(1, 12_000))
    def borrow(self, pick, fraction):
        vault_id = self.pick(self.plain_vaults(), pick)
        if vault_id is None:
            return
        self._borrow(vault_id, fraction)

    def _borrow(self, vault_id: int, fraction: int, quiet: bool = False) -> bool:
        v = self.snap.vaults[vault_id]
        ts = self.type_state(v.collateral_type)
        t = self.t
        rate = self.rate_at(v.collateral_type, t)
        room = max(0, v.collateral * ts.price // ts.ratio - ref.debt_of(v.normalized_debt, rate))
        amount = max(room * fraction // 10_000, DUST_WAD)
        added = ref.mul_div(amount, RAY, rate, True)
        note(f"borrow: {fmt(amount)} against vault {vault_id} (room {fmt(room)})")
        expect = None
        if not ts.fresh_at(t):
            expect = STALE
        elif (v.normalized_debt + added) * rate < DUST_WAD * RAY:
            expect = "engine: debt below dust"
        elif not ref.is_safe(v.collateral, v.normalized_debt + added, rate, ts.price, ts.ratio):
            expect = "engine: vault unsafe"
        result = self.send("borrow", v.owner, self.s.engine, "borrow", vault_id, amount, self.s.accounts[v.owner],
                           expect=expect)
        if not result.ok:
            return False
        self.credit("kUSD", v.owner, amount)
        after = self.s.snapshot([], []).vaults[vault_id]
        assert after.normalized_debt == v.normalized_debt + added, "borrowed debt must round up"
        self.check_safe_after(vault_id, "borrow")
        return True

    @precondition(lambda self: not self.shut)
    @rule(pick=st.integers(0, 2**16), fraction=st.integers(1, 10_000))
    def repay(self, pick, fraction):
        vaults = [v for v in self.plain_vaults() if self.snap.vaults[v].normalized_debt]
        vault_id = self.pick(vaults, pick)
        if vault_id is None:
            return
        v = self.snap.vaults[vault_id]
        t = self.t
        rate = self.rate_at(v.collateral_type, t)
        debt = ref.debt_of(v.normalized_debt, rate)
        amount = max(debt * fraction // 10_000, 1)
        cancelled = ref.mul_div(amount, RAY, rate, False)
        left = v.normalized_debt - cancelled
        note(f"repay: {fmt(amount)} of vault {vault_id}'s {fmt(debt)}")
        expect = None
        if left and left * rate < DUST_WAD * RAY:
            expect = "engine: debt below dust"
        elif self.ledger[("kUSD", v.owner)] < amount:
            expect = "token: insufficient balance"
        if self.send("repay", v.owner, self.s.engine, "repay", vault_id, amount, expect=expect).ok:
            self.credit("kUSD", v.owner, -amount)
            after = self.s.snapshot([], []).vaults[vault_id]
            assert after.normalized_debt == left, "a repayment cancels debt rounded down"

    @precondition(lambda self: not self.shut)
    @rule(pick=st.integers(0, 2**16))
    def repay_all(self, pick):
        vaults = [v for v in self.plain_vaults() if self.snap.vaults[v].normalized_debt]
        vault_id = self.pick(vaults, pick)
        if vault_id is None:
            return
        v = self.snap.vaults[vault_id]
        debt = ref.debt_of(v.normalized_debt, self.rate_at(v.collateral_type, self.t))
        note(f"repay all: vault {vault_id} owes {fmt(debt)}")
        expect = "token: insufficient balance" if self.ledger[("kUSD", v.owner)] < debt else None
        if self.send("repay", v.owner, self.s.engine, "repay", vault_id, MAX_UINT256, expect=expect).ok:
            self.credit("kUSD", v.owner, -debt)

    @rule(pick=st.integers(0, 2**16))
    def close(self, pick):
        vault_id = self.pick(self.plain_vaults(), pick)
        if vault_id is None:
            return
        v = self.snap.vaults[vault_id]
        c = self.s.types[v.collateral_type - 1]
        debt = ref.debt_of(v.normalized_debt, self.rate_at(v.collateral_type, self.t))
        note(f"close: vault {vault_id} ({fmt(v.collateral)} {c.symbol}, debt {fmt(debt)})")
        expect = None
        if self.shut and v.normalized_debt:
            expect = SHUT_DOWN
        elif self.ledger[("kUSD", v.owner)] < debt:
            expect = "token: insufficient balance"
        if self.send("close", v.owner, self.s.engine, "close", vault_id, self.s.accounts[v.owner], expect=expect).ok:
            self.credit("kUSD", v.owner, -debt)
            self.credit(c.symbol, v.owner, v.collateral // c.scale)
            after = self.s.snapshot([], []).vaults[vault_id]
            assert (after.owner, after.collateral, after.normalized_debt) == (v.owner, 0, 0), "a closed vault stays, empty"

    @rule(pick=st.integers(0, 2**16), new_owner=st.sampled_from(BORROWERS))
    def transfer_vault(self, pick, new_owner):
        vault_id = self.pick(self.plain_vaults(), pick)
        if vault_id is None:
            return
        owner = self.snap.vaults[vault_id].owner
        note(f"transfer: vault {vault_id} from {owner} to {new_owner}")
        self.send("transfer", owner, self.s.engine, "transfer_vault", vault_id, self.s.accounts[new_owner])

    @precondition(lambda self: not self.shut)
    @rule(type_index=st.integers(0, len(TYPES) - 1))
    def accrue(self, type_index):
        c = self.s.types[type_index]
        ts = self.snap.types[type_index]
        rate = self.rate_at(c.type_id, self.t)
        note(f"accrue: {c.symbol}")
        self.send("accrue", REPORTERS[0], self.s.engine, "accrue", c.type_id)
        after = self.s.snapshot([], [])
        assert after.type(c.type_id).rate == rate, "the accrued rate is not the reference's"
        assert after.surplus - self.snap.surplus == ts.normalized_debt * (rate - ts.rate), "fees must go to surplus"

    # ------------------------------------------------------------ rules: prices and time
    @rule(type_index=st.integers(0, len(TYPES) - 1), path=st.deferred(lambda: price_paths.price_paths()))
    def price_path(self, type_index, path):
        c = self.s.types[type_index]
        for move in path:
            price = min(max(self.targets[type_index] * (10_000 + move.bps) // 10_000, MIN_PRICE), MAX_PRICE)
            self.targets[type_index] = price
            note(f"price ({move.label}): {c.symbol} {move.bps / 100:+.2f}% to {fmt(price)}, reporters {move.reporting}, "
                 f"then {move.gap} s pass")
            self._report(type_index, move.reporting)
            self.s.tick(move.gap)
        self._poke(type_index)

    def _report(self, type_index: int, reporting: str = price_paths.REPORT_QUORUM) -> None:
        c = self.s.types[type_index]
        price = self.targets[type_index]
        reporters = {price_paths.REPORT_ALL: REPORTERS, price_paths.REPORT_LIAR: REPORTERS,
                     price_paths.REPORT_ONE_SILENT: REPORTERS[:2], price_paths.REPORT_TWO_SILENT: REPORTERS[:1]}[reporting]
        for r in reporters:
            lie = reporting == price_paths.REPORT_LIAR and r == REPORTERS[-1]
            reported = min(price * 50, MAX_PRICE) if lie else price
            self.send("report", r, c.feed, "report", reported, self.t)
        self._poke(type_index)

    def _poke(self, type_index: int) -> None:
        """Poke the feed (next price becomes current) if its delay has passed since the last."""
        if self.t >= self.poked_at[type_index] + FEED["delay"]:
            self.send("report", REPORTERS[0], self.s.types[type_index].feed, "poke")
            self.poked_at[type_index] = self.s.now

    def _refresh(self, type_indexes=None) -> None:
        """A quorum of reporters reports the types' prices (all types by default), and the
        feeds are poked once the delay passed: those prices are current and fresh."""
        chosen = range(len(TYPES)) if type_indexes is None else type_indexes
        for i in chosen:
            self._report(i)
        self.s.tick(FEED["delay"] + 1)
        for i in chosen:
            self._poke(i)

    @rule(seconds=st.integers(1, 3 * DAY), refresh=st.sampled_from(["none", "all", "WETH", "WBTC"]))
    def time_passes(self, seconds, refresh):
        """Long gaps: fees accrue, lots pass their tail, series expire; prices go stale
        unless reported (all of them, or one type's)."""
        note(f"time: {seconds} s pass, prices refreshed: {refresh}")
        self.s.tick(seconds)
        if refresh != "none":
            self._refresh(None if refresh == "all" else [["WETH", "WBTC"].index(refresh)])

    @rule(seconds=st.integers(1, 1_200), type_index=st.integers(0, len(TYPES) - 1))
    def auction_clock(self, seconds, type_index):
        """Auction-sized gaps, one type's price kept fresh."""
        note(f"time: {seconds} s pass, {TYPES[type_index].symbol}'s price refreshed")
        self.s.tick(seconds)
        self._refresh([type_index])

    # ------------------------------------------------------------ rules: liquidation
    def _margin_unsafe(self, vault_id: int) -> bool:
        """A margin account the engine itself would liquidate: no options left (those go
        through the module's own liquidation) and below its maintenance margin."""
        key = (vault_id, self.s.now)
        if key not in self._margin_checks:
            account = self.s.b.storage(self.s.margin.address, [self.s.slot(MARGIN["accounts"], vault_id)])[0]
            self._margin_checks[key] = (account >> 160) & 255 == 0 and not self._healthy(vault_id)
        return self._margin_checks[key]

    def _seize(self, vault_id: int, v, t: int, used: dict[int, int]):
        """VaultEngine.seize's outcome for vault `vault_id` (`v`: its position), or the reason
        it refuses: (collateral, normalised debt taken, debt, target) at time t, with `used`
        the debt in auction per type."""
        ts = self.type_state(v.collateral_type)
        if self.shut:
            return SHUT_DOWN
        if not ts.fresh_at(t):
            return STALE
        rate = self.rate_at(v.collateral_type, t)
        if v.normalized_debt == 0:
            return "engine: vault safe"
        if v.margin:
            if not self._margin_unsafe(vault_id):
                return "engine: vault safe"
        elif ref.is_safe(v.collateral, v.normalized_debt, rate, ts.price, ts.ratio):
            return "engine: vault safe"
        in_type, total = used[v.collateral_type], sum(used.values())
        if ts.auction_limit <= in_type:
            return "engine: type auction limit reached"
        if GLOBAL_AUCTION_LIMIT <= total:
            return "engine: global auction limit reached"
        max_debt = min(ts.auction_limit - in_type, GLOBAL_AUCTION_LIMIT - total)
        taken = min(v.normalized_debt, ref.mul_div(max_debt, RAY, rate, False))
        if taken < v.normalized_debt and (v.normalized_debt - taken) * rate < ts.dust * RAY:
            keep = ref.mul_div(ts.dust, RAY, rate, True)
            if v.normalized_debt <= keep:
                return "engine: liquidation would leave dust"
            taken = v.normalized_debt - keep
        if taken < v.normalized_debt and taken * rate < ts.dust * RAY:
            return "engine: auction room below dust"
        if taken == 0:
            return "engine: nothing to liquidate"
        seized = v.collateral if taken == v.normalized_debt else ref.mul_div(v.collateral, taken, v.normalized_debt, True)
        if seized == 0:
            return "auction: empty lot"
        debt = ref.mul_div(taken, rate, RAY, True)
        target = ref.mul_div(debt, ts.penalty, WAD, True)
        return seized, taken, debt, target

    def _candidates(self, t: int) -> list[int]:
        plain = [v for v in self.snap.vaults if self.unsafe(v, t)]
        margined = [v for v, p in self.snap.vaults.items() if p.margin and p.normalized_debt
                    and self.type_state(p.collateral_type).fresh_at(t) and self._margin_unsafe(v)]
        return sorted(plain + margined)

    def _track_lot(self, auction_id: int, vault_id: int, v, outcome, t: int, after: State) -> int:
        """Check a new lot of vault `vault_id` (`v`: the vault as the seizure found it)
        against the predicted seizure; returns its keeper reward."""
        seized, taken, debt, target = outcome
        ts = self.type_state(v.collateral_type)
        lot = after.lots[auction_id]
        curve = ref.Curve(*TYPES[v.collateral_type - 1].curve)
        assert (lot.collateral, lot.target, lot.collateral_type, lot.vault_id) == (seized, target, v.collateral_type,
                                                                                   vault_id)
        assert lot.debt == debt and lot.penalty_part == target - debt, "the lot's debt is the vault's, rounded up"
        assert lot.top == curve.start_price(ts.price) and lot.started_at == t, "a lot starts at oracle price * buf"
        self.lots[auction_id] = LotTrack(v.collateral_type, vault_id, (lot.started_at, lot.top), lot.top)
        reward = ref.reward(target, *KEEPER_REWARD)
        note(f"  -> lot {auction_id}: {fmt(seized)} for target {fmt(target)} (debt {fmt(debt)}), "
             f"top {fmt(lot.top)}, reward {fmt(reward)}")
        return reward

    @precondition(lambda self: not self.shut)
    @rule(pick=st.integers(0, 2**16))
    def liquidate(self, pick):
        t = self.t
        candidates = self._candidates(t)
        vault_id = self.pick(candidates, pick) if candidates and pick % 8 else self.pick(list(self.snap.vaults), pick)
        used = {ts.type_id: ts.auction_debt for ts in self.snap.types}
        outcome = self._seize(vault_id, self.snap.vaults[vault_id], t, used)
        note(f"liquidate: vault {vault_id} ({'unsafe' if vault_id in candidates else 'not unsafe'})")
        expect = outcome if isinstance(outcome, str) else None
        result = self.send("liquidate", KEEPER, self.s.liquidator, "liquidate", vault_id, self.s.accounts[KEEPER],
                           expect=expect)
        if not result.ok:
            return
        after = self.s.snapshot(sorted(self.lots) + [result.value], [])
        self.credit("kUSD", KEEPER, self._track_lot(result.value, vault_id, self.snap.vaults[vault_id], outcome, t, after))
        v, seized = self.snap.vaults[vault_id], after.vaults[vault_id]
        assert (seized.collateral, seized.normalized_debt) == (v.collateral - outcome[0], v.normalized_debt - outcome[1])

    @precondition(lambda self: not self.shut)
    @rule(pick=st.integers(0, 2**16), count=st.integers(2, 4))
    def liquidate_many(self, pick, count):
        t = self.t
        candidates = self._candidates(t)
        everyone = list(self.snap.vaults)
        ids = candidates[pick % max(len(candidates), 1):][:count]
        while len(ids) < count:
            ids.append(everyone[(pick + len(ids)) % len(everyone)])
        note(f"liquidate_many: vaults {ids} (unsafe: {candidates})")
        used = {ts.type_id: ts.auction_debt for ts in self.snap.types}
        vaults = {v: dataclasses.replace(self.snap.vaults[v]) for v in ids}  # as each seizure leaves them
        predicted = []
        for vault_id in ids:
            v = vaults[vault_id]
            outcome = self._seize(vault_id, v, t, used)
            if isinstance(outcome, str):
                predicted.append((vault_id, None, None))
                continue
            predicted.append((vault_id, outcome, dataclasses.replace(v)))
            used[v.collateral_type] += outcome[2]
            v.collateral -= outcome[0]
            v.normalized_debt -= outcome[1]
        result = self.send("liquidate", KEEPER, self.s.liquidator, "liquidate_many", ids, self.s.accounts[KEEPER])
        assert result.ok, "a batch never reverts"
        started = [a for a in result.value if a]
        if [bool(a) for a in result.value] != [o is not None for _, o, _ in predicted]:
            raise AssertionError(f"batch outcome {result.value} differs from the prediction "
                                 f"{[o is not None for _, o, _ in predicted]}: alone, {self._why(ids)}")
        if not started:
            note("  -> every vault skipped")
            return
        after = self.s.snapshot(sorted(self.lots) + started, [])
        # the batch's lots were seized one after another: each saw the vaults as the one
        # before left them (a vault twice in a batch is skipped the second time)
        rewards = 0
        for (vault_id, outcome, vault), auction_id in zip(predicted, result.value):
            if auction_id:
                rewards += self._track_lot(auction_id, vault_id, vault, outcome, t, after)
                final = vaults[vault_id]
                assert (after.vaults[vault_id].collateral, after.vaults[vault_id].normalized_debt) == \
                    (final.collateral, final.normalized_debt), "the batch seized other than predicted"
        self.credit("kUSD", KEEPER, rewards)

    def _why(self, vault_ids: list[int]) -> list[str]:
        """What a liquidation of each vault alone would do now (a dry run), for failure messages."""
        reasons = []
        for vault_id in vault_ids:
            mark = self.s.b.snapshot()
            result = self.s.b.send(self.s.accounts[KEEPER], self.s.liquidator, "liquidate", vault_id,
                                   self.s.accounts[KEEPER])
            self.s.b.revert(mark)
            reasons.append(f"{vault_id}: {'lot ' + str(result.value) if result.ok else repr(result.reason)}")
        return reasons

    def _live_lots(self, t: int, want_reset: bool | None) -> list[int]:
        lots = []
        for auction_id in sorted(self.lots):
            _, needs = self.lot_price(self.snap.lots[auction_id], t)
            if want_reset is None or needs == want_reset:
                lots.append(auction_id)
        return lots

    def _ensure_kusd(self, payer: int, amount: int) -> bool:
        """The keeper borrows what it lacks (and a margin) against its own vault."""
        lacking = amount - self.ledger[("kUSD", payer)]
        if lacking <= 0:
            return True
        return self._borrow_exact(self.keeper_vault, lacking + 1_000 * WAD)

    def _borrow_exact(self, vault_id: int, amount: int) -> bool:
        v = self.snap.vaults[vault_id]
        ts = self.type_state(v.collateral_type)
        t = self.t
        rate = self.rate_at(v.collateral_type, t)
        added = ref.mul_div(amount, RAY, rate, True)
        if not ts.fresh_at(t) or not ref.is_safe(v.collateral, v.normalized_debt + added, rate, ts.price, ts.ratio):
            note("  (and cannot borrow it)")
            return False
        note(f"  the keeper borrows {fmt(amount)} against vault {vault_id}")
        self.send("borrow", v.owner, self.s.engine, "borrow", vault_id, amount, self.s.accounts[v.owner])
        self.credit("kUSD", v.owner, amount)
        self.snap = self.s.snapshot(sorted(self.lots), self.series)
        return True

    @precondition(lambda self: not self.shut and self.lots)
    @rule(pick=st.integers(0, 2**16), fraction=st.integers(1, 10_000), slack=st.integers(-300, 3_000))
    def take(self, pick, fraction, slack):
        """Buy part of a lot (it may be all that is left) at up to `slack` bps over its price."""
        self._take(pick, fraction, slack, False)

    @precondition(lambda self: not self.shut and self.lots)
    @rule(pick=st.integers(0, 2**16), excess=st.integers(10_000, 20_000), slack=st.integers(0, 3_000))
    def take_all(self, pick, excess, slack):
        """Ask for the whole lot or more: the lot ends, its target met or not."""
        self._take(pick, excess, slack, False)

    @precondition(lambda self: not self.shut and self.lots)
    @rule(pick=st.integers(0, 2**16), fraction=st.integers(1, 12_000), slack=st.integers(-300, 3_000))
    def flash_take(self, pick, fraction, slack):
        """The same through the FlashTaker: collateral first, payment in its callback."""
        self._take(pick, fraction, slack, True)

    def _take(self, pick, fraction, slack, flash):
        # mostly a lot that can be taken (at the block time the funding leaves us at)
        lots = (pick % 8 and self._live_lots(self.t + 2, False)) or self._live_lots(self.t + 2, None)
        auction_id = self.pick(lots, pick)
        if auction_id is None:
            return
        lot = self.snap.lots[auction_id]
        c = self.s.types[lot.collateral_type - 1]
        amount = max(lot.collateral * fraction // 10_000, 1)
        # the payment first (a borrow, a transfer to the FlashTaker): prices only fall, so
        # what the lot costs now is enough when the take goes through
        estimate, _ = self.lot_price(lot, self.t)  # the highest price the take can meet
        cost = min(ref.mul_div(min(amount, lot.collateral), estimate, WAD, True), lot.target)
        if not self._ensure_kusd(KEEPER, cost):
            return
        if flash and cost:
            self.send("transfer", KEEPER, self.s.debt_token, "transfer", self.s.flash.address, cost)
            self.credit("kUSD", KEEPER, -cost)
        t = self.t
        price, needs_reset = self.lot_price(lot, t)
        max_price = price * (10_000 + slack) // 10_000
        note(f"{'flash take' if flash else 'take'}: {fmt(min(amount, lot.collateral))} of lot {auction_id}'s "
             f"{fmt(lot.collateral)} {c.symbol} (target {fmt(lot.target)}) at {fmt(price)}, max {fmt(max_price)}")
        expect = None
        outcome = None
        if needs_reset:
            expect = "auction: needs reset"
        elif price > max_price:
            expect = "auction: price above max"
        else:
            try:
                outcome = ref.take(lot.collateral, lot.target, lot.penalty_part, price, amount, c.auction_dust)
            except ref.TakeRefused as refused:
                expect = str(refused)
        if flash:
            result = self.send("take", KEEPER, self.s.flash, "flash_take", auction_id, amount, max_price, expect=expect)
        else:
            result = self.send("take", KEEPER, self.s.auction, "take", auction_id, amount, max_price,
                               self.s.accounts[KEEPER], b"", expect=expect)
        if not result.ok:
            return
        assert result.value == outcome.bought, f"bought {result.value}, the reference says {outcome.bought}"
        assert outcome.owe <= ref.mul_div(outcome.bought, price, WAD, True), "a take pays at most the price per unit"
        assert price <= max_price and price <= self.lots[auction_id].price, "a take's price rose"
        if not flash:
            self.credit("kUSD", KEEPER, -outcome.owe)
            self.credit(c.symbol, KEEPER, outcome.bought // c.scale)
        after = self.s.snapshot(sorted(self.lots), [])
        vault_before, vault_after = self.snap.vaults[lot.vault_id], after.vaults[lot.vault_id]
        assert after.surplus - self.snap.surplus == (outcome.owe - outcome.covered) * RAY, \
            "the penalty part of a payment, and only it, is surplus"
        assert vault_after.collateral - vault_before.collateral == outcome.returned, "the rest goes back into the vault"
        assert after.bad_debt - self.snap.bad_debt == outcome.bad_debt * RAY
        note(f"  -> bought {fmt(outcome.bought)} for {fmt(outcome.owe)}; lot {fmt(outcome.lot)}, target "
             f"{fmt(outcome.target)} left")
        if outcome.finished:
            assert after.lots[auction_id].started_at == 0, "a finished lot still runs"
            del self.lots[auction_id]
            note(f"  -> lot {auction_id} finished: {fmt(outcome.returned)} back into vault {lot.vault_id}, "
                 f"bad debt {fmt(outcome.bad_debt)}")
        else:
            left = after.lots[auction_id]
            assert (left.collateral, left.target) == (outcome.lot, outcome.target)

    @precondition(lambda self: not self.shut and self.lots)
    @rule(pick=st.integers(0, 2**16), paid=st.booleans())
    def reset(self, pick, paid):
        """Reset a lot that needs it (one time in four, one that does not, to be refused)."""
        t = self.t
        wanted = self._live_lots(t, pick % 4 != 0)
        auction_id = self.pick(wanted, pick)
        if auction_id is None:
            return
        lot = self.snap.lots[auction_id]
        ts = self.type_state(lot.collateral_type)
        _, needs = self.lot_price(lot, t)
        note(f"reset: lot {auction_id} ({'needs it' if needs else 'does not need it'})")
        keeper = self.s.accounts[KEEPER] if paid else ZERO_ADDRESS
        expect = None
        if not needs:
            expect = "auction: no reset needed"
        elif not ts.fresh_at(t):
            expect = STALE
        result = self.send("reset", KEEPER, self.s.auction, "reset", auction_id, keeper, expect=expect)
        if not result.ok:
            return
        curve = ref.Curve(*TYPES[lot.collateral_type - 1].curve)
        top = curve.start_price(ts.price)
        assert result.value == top, "a reset restarts at oracle price * buf"
        c = self.s.types[lot.collateral_type - 1]
        sellable = lot.target >= c.auction_dust and ref.mul_div(lot.collateral, ts.price, WAD, False) >= c.auction_dust
        incentive = ref.reward(lot.target, *RESET_INCENTIVE) if paid and sellable else 0
        self.credit("kUSD", KEEPER, incentive)
        after = self.s.snapshot(sorted(self.lots), [])
        assert after.bad_debt - self.snap.bad_debt == incentive * RAY, "an incentive is bad debt until surplus cancels it"
        again = after.lots[auction_id]
        assert (again.collateral, again.target, again.top, again.started_at) == (lot.collateral, lot.target, top, t)
        self.lots[auction_id].epoch = (t, top)
        self.lots[auction_id].price = top
        note(f"  -> restarted at {fmt(top)}, incentive {fmt(incentive)}")

    @precondition(lambda self: self.snap.bad_debt)
    @rule()
    def settle_bad_debt(self):
        surplus, bad = self.snap.surplus, self.snap.bad_debt
        if bad == 0:
            return
        note(f"settle bad debt: surplus {fmt(surplus // RAY)}, bad debt {fmt(bad // RAY)}")
        result = self.send("settle_bad_debt", REPORTERS[0], self.s.engine, "settle_bad_debt")
        assert result.value == min(surplus, bad)

    # ------------------------------------------------------------ rules: options
    @rule(type_index=st.integers(0, len(TYPES) - 1), moneyness=st.integers(-3_000, 3_000), days=st.integers(1, 6),
          is_call=st.booleans())
    def create_series(self, type_index, moneyness, days, is_call):
        c = self.s.types[type_index]
        if len(self.series) >= 12:
            return
        strike = max(self.snap.types[type_index].price * (10_000 + moneyness) // 10_000 // 10**16 * 10**16, 10**16)
        expiry = (self.t + days * DAY) // DAY * DAY + 8 * 3_600
        note(f"create series: {c.symbol} {'call' if is_call else 'put'} strike {fmt(strike)}, expiry in {days} days")
        terms = (c.type_id, strike, expiry, is_call)
        duplicate = terms in self.series_terms
        result = self.send("create_series", HOLDER, self.s.house, "create_series", c.type_id, strike, expiry, is_call,
                           expect="options: duplicate series" if duplicate else None)
        if not result.ok:
            return
        sid = result.value
        self.series.append(sid)
        self.series_terms.add(terms)
        self.s.option_tokens[sid] = self.s.view(self.s.house, "token_of", sid)
        token = self.s.b.at("OptionToken", self.s.option_tokens[sid])
        for actor in ACTORS:
            self.option_ledger[(sid, actor)] = 0
            self.send("approve", actor, token, "approve", self.s.margin.address, MAX_UINT256)
        note(f"  -> series {sid}")

    def _series(self, pick: int, live: bool | None = None, settled: bool | None = None) -> int | None:
        t = self.t
        chosen = [sid for sid in self.series
                  if (live is None or (t < self.snap.series[sid].expiry) == live)
                  and (settled is None or (self.snap.series[sid].mode != 0) == settled)]
        return self.pick(chosen, pick)

    @precondition(lambda self: self.series)
    @rule(pick=st.integers(0, 2**16), writer=st.sampled_from(SERIES_WRITERS), tenths=st.integers(1, 50),
          to_holder=st.booleans())
    def write_option(self, pick, writer, tenths, to_holder):
        sid = self._series(pick, live=True)
        if sid is None:
            return
        se = self.snap.series[sid]
        c = self.s.types[se.collateral_type - 1]
        amount = tenths * WAD // 10
        locked = ref.option_locked(se.is_call, se.strike, amount, True)
        receiver = HOLDER if to_holder else writer
        if se.is_call:
            self.fund(writer, se.collateral_type - 1, locked // c.scale)
        elif self.ledger[("kUSD", writer)] < locked:
            return
        note(f"write: {writer} writes {fmt(amount)} of series {sid} ({'call' if se.is_call else 'put'} "
             f"{fmt(se.strike)}) for {receiver}, locking {fmt(locked)}")
        result = self.send("write", writer, self.s.house, "write", sid, amount, self.s.accounts[receiver])
        assert result.value == locked
        self.credit(c.symbol if se.is_call else "kUSD", writer, -(locked // c.scale if se.is_call else locked))
        self.option_ledger[(sid, receiver)] += amount
        self.put_writes += not se.is_call

    @precondition(lambda self: self.series)
    @rule(pick=st.integers(0, 2**16), writer=st.sampled_from(SERIES_WRITERS), fraction=st.integers(1, 10_000))
    def close_option(self, pick, writer, fraction):
        sid = self._series(pick, live=True)
        if sid is None:
            return
        se = self.snap.series[sid]
        c = self.s.types[se.collateral_type - 1]
        most = min(self.snap.written.get((sid, writer), 0), self.option_ledger[(sid, writer)])
        amount = most * fraction // 10_000
        if amount == 0:
            return
        released = ref.option_locked(se.is_call, se.strike, amount, False)
        note(f"close: {writer} burns {fmt(amount)} of series {sid}, releasing {fmt(released)}")
        result = self.send("close", writer, self.s.house, "close", sid, amount, self.s.accounts[writer])
        scale = c.scale if se.is_call else 1
        assert result.value == released // scale * scale
        self.credit(c.symbol if se.is_call else "kUSD", writer, released // scale)
        self.option_ledger[(sid, writer)] -= amount

    @precondition(lambda self: self.series)
    @rule(pick=st.integers(0, 2**16), extra=st.integers(0, 2 * DAY), refresh=st.booleans())
    def to_expiry(self, pick, extra, refresh):
        """Time runs to a series' expiry (and `extra` seconds on), prices reported or not."""
        pending = sorted({self.snap.series[s].expiry for s in self.series if self.snap.series[s].mode == 0})
        expiry = self.pick([e for e in pending if e >= self.t] or pending, pick)
        if expiry is None:
            return
        note(f"time: to an expiry and {extra} s on{', prices reported' if refresh else ''}")
        self.s.tick(max(1, expiry - self.t + extra))
        if refresh:
            self._refresh()

    @precondition(lambda self: self.series)
    @rule(pick=st.integers(0, 2**16))
    def settle_series(self, pick):
        sid = self._series(pick, settled=False)
        if sid is None:
            return
        se = self.snap.series[sid]
        ts = self.type_state(se.collateral_type)
        t = self.t
        note(f"settle: series {sid} (expiry {'passed' if t >= se.expiry else 'ahead'})")
        expect = None
        if t < se.expiry:
            expect = "options: not expired"
        elif t <= se.expiry + DAY:
            if not ts.fresh_at(t):
                expect = "options: no fresh price yet"
            price, mode = ts.price, 1
        elif ts.price:
            price, mode = ts.price, 2
        else:
            price, mode = se.strike, 3
        result = self.send("settle", KEEPER, self.s.house, "settle", sid, expect=expect)
        if not result.ok:
            return
        assert result.value == price
        after = self.s.snapshot([], [sid]).series[sid]
        assert (after.mode, after.settlement_price) == (mode, price)
        funds = ref.mul_div(se.books_low, ref.option_payoff(se.is_call, se.strike, price, True), WAD, True)
        assert after.books_low == funds and after.books_high == se.books_high and after.obligations_left == funds
        note(f"  -> settled at {fmt(price)} (mode {mode}), funds {fmt(funds)}")

    @precondition(lambda self: self.series)
    @rule(pick=st.integers(0, 2**16), holder=st.sampled_from((HOLDER, WRITER, KEEPER)), fraction=st.integers(1, 12_000))
    def redeem_option(self, pick, holder, fraction):
        sid = self._series(pick, settled=True)
        if sid is None:
            return
        se = self.snap.series[sid]
        balance = self.option_ledger[(sid, holder)]
        amount = min(balance, max(balance * fraction // 10_000, 1))
        if amount == 0:
            return
        c = self.s.types[se.collateral_type - 1]
        scale = c.scale if se.is_call else 1
        payoff = ref.option_payoff(se.is_call, se.strike, se.settlement_price, False)
        note(f"redeem: {holder} hands in {fmt(amount)} of series {sid} (payoff {fmt(payoff)} each)")
        expect = "options: margined writers not settled yet" if se.books_high else None
        result = self.send("redeem", holder, self.s.house, "redeem", sid, amount, self.s.accounts[holder], expect=expect)
        if not result.ok:
            return
        payout = min(ref.mul_div(amount, se.books_low, se.supply, False), ref.mul_div(amount, payoff, WAD, False))
        # invariant 6: never more than the payoff per option, and in full unless a
        # margined writer fell short
        intrinsic = (max(0, se.settlement_price - se.strike) * WAD // se.settlement_price if se.is_call
                     else max(0, se.strike - se.settlement_price))
        assert payout * WAD <= amount * intrinsic, "a holder got more than the payoff"
        if not self.shortfall.get(sid):
            assert payout == ref.mul_div(amount, payoff, WAD, False), "a fully backed series paid a holder short"
        assert result.value == payout // scale * scale
        self.credit(c.symbol if se.is_call else "kUSD", holder, payout // scale)
        self.option_ledger[(sid, holder)] -= amount

    @precondition(lambda self: self.series)
    @rule(pick=st.integers(0, 2**16), writer_pick=st.integers(0, 2**16))
    def release_option(self, pick, writer_pick):
        """A writer takes back what its position locked less its obligation (one time in
        eight, a writer with nothing written, to be refused)."""
        sid = self._series(pick, settled=True)
        if sid is None:
            return
        se = self.snap.series[sid]
        writers = [w for w in SERIES_WRITERS if self.snap.written.get((sid, w))]
        writer = self.pick(writers, writer_pick) if writers and writer_pick % 8 else SERIES_WRITERS[writer_pick % 4]
        written = self.snap.written.get((sid, writer), 0)
        note(f"release: writer {writer} in series {sid} (written {fmt(written)})")
        if written == 0:
            self.send("release", writer, self.s.house, "release", sid, self.s.accounts[writer],
                      expect="options: nothing written")
            return
        c = self.s.types[se.collateral_type - 1]
        scale = c.scale if se.is_call else 1
        obligation = ref.mul_div(written, ref.option_payoff(se.is_call, se.strike, se.settlement_price, True), WAD, True)
        locked = ref.option_locked(se.is_call, se.strike, written, False)
        released = locked - min(obligation, locked)
        result = self.send("release", writer, self.s.house, "release", sid, self.s.accounts[writer])
        assert result.value == released // scale * scale
        self.credit(c.symbol if se.is_call else "kUSD", writer, released // scale)
        note(f"  -> released {fmt(released)}, obligation {fmt(obligation)}")

    # ------------------------------------------------------------ rules: portfolio margin
    def _account(self, pick: int, owner: int | None = None, prefer=None) -> int | None:
        """A margin account (of `owner`); with `prefer`, seven times in eight one for which
        prefer(vault_id) holds, when there is one (else any: often to be refused)."""
        accounts = [v for v, o in self.accounts.items() if owner is None or o == owner]
        if prefer is not None and pick % 8:
            preferred = [v for v in accounts if prefer(v)]
            if preferred:
                return self.pick(preferred, pick)
        return self.pick(accounts, pick)

    def _healthy(self, vault_id: int) -> bool:
        """The margin module's `health` view says the account meets maintenance margin
        (read once per account and block time; the cache is cleared every step)."""
        key = ("health", vault_id, self.s.now)
        if key not in self._margin_checks:
            self._margin_checks[key] = self.s.view(self.s.margin, "health", vault_id)[4]
        return self._margin_checks[key]

    def _under_margined(self, vault_id: int) -> bool:
        """Below maintenance margin now (a preference for picking accounts: the rule
        still predicts nothing from it)."""
        try:
            return not self._healthy(vault_id)
        except BackendError:  # no fresh price: nothing to liquidate anyway
            return False

    def _has_live_series(self, vault_id: int) -> bool:
        type_id = self.snap.vaults[vault_id].collateral_type
        return any(self.snap.series[s].collateral_type == type_id and self.t < self.snap.series[s].expiry
                   for s in self.series)

    def _has_settled_position(self, vault_id: int) -> bool:
        return any(self.snap.series[sid].mode for sid, _ in self._positions(vault_id))

    @precondition(lambda self: not self.shut)
    @rule(owner=st.sampled_from(MARGIN_OWNERS), type_index=st.integers(0, len(TYPES) - 1), tenths=st.integers(1, 100))
    def margin_open(self, owner, type_index, tenths):
        if len(self.accounts) >= 6:
            return
        c = self.s.types[type_index]
        units = tenths * 10**c.spec.decimals // 10
        self.fund(owner, type_index, units)
        note(f"margin: {owner} opens an account with {fmt(units, c.spec.decimals)} {c.symbol}")
        result = self.send("margin_open", owner, self.s.margin, "open_account", c.type_id, units)
        self.credit(c.symbol, owner, -units)
        self.accounts[result.value] = owner
        note(f"  -> account {result.value}")

    @precondition(lambda self: not self.shut and self.accounts)
    @rule(pick=st.integers(0, 2**16), series_pick=st.integers(0, 2**16), tenths=st.integers(1, 30),
          to_holder=st.booleans())
    def margin_write(self, pick, series_pick, tenths, to_holder):
        vault_id = self._account(pick, prefer=self._has_live_series)
        if vault_id is None:
            return
        owner = self.accounts[vault_id]
        type_id = self.snap.vaults[vault_id].collateral_type
        live = [s for s in self.series if self.snap.series[s].collateral_type == type_id
                and self.t < self.snap.series[s].expiry]
        sid = self.pick(live, series_pick)
        if sid is None:
            return
        amount = tenths * WAD // 10
        receiver = HOLDER if to_holder else owner
        note(f"margin: account {vault_id} writes {fmt(amount)} of series {sid} for {receiver}")
        if self.send("margin_write", owner, self.s.margin, "write", vault_id, sid, amount,
                     self.s.accounts[receiver]).ok:
            self.option_ledger[(sid, receiver)] += amount

    @precondition(lambda self: not self.shut and self.accounts)
    @rule(pick=st.integers(0, 2**16), series_pick=st.integers(0, 2**16), fraction=st.integers(1, 10_000))
    def margin_deposit_long(self, pick, series_pick, fraction):
        vault_id = self._account(pick)
        if vault_id is None:
            return
        owner = self.accounts[vault_id]
        type_id = self.snap.vaults[vault_id].collateral_type
        held = [s for s in self.series if self.snap.series[s].collateral_type == type_id
                and self.t < self.snap.series[s].expiry and self.option_ledger[(s, owner)]]
        sid = self.pick(held, series_pick)
        if sid is None:
            return
        amount = max(self.option_ledger[(sid, owner)] * fraction // 10_000, 1)
        note(f"margin: {owner} moves {fmt(amount)} options of series {sid} into account {vault_id}")
        if self.send("margin_deposit_long", owner, self.s.margin, "deposit_long", vault_id, sid, amount).ok:
            self.option_ledger[(sid, owner)] -= amount

    @precondition(lambda self: not self.shut and self.accounts)
    @rule(pick=st.integers(0, 2**16), series_pick=st.integers(0, 2**16), fraction=st.integers(1, 10_000))
    def margin_close(self, pick, series_pick, fraction):
        vault_id = self._account(pick)
        if vault_id is None:
            return
        owner = self.accounts[vault_id]
        positions = {sid: amount for sid, amount in self._positions(vault_id) if amount < 0}
        held = [s for s in positions if self.option_ledger[(s, owner)] and self.t < self.snap.series[s].expiry]
        sid = self.pick(held, series_pick)
        if sid is None:
            return
        amount = max(min(-positions[sid], self.option_ledger[(sid, owner)]) * fraction // 10_000, 1)
        note(f"margin: account {vault_id} buys back {fmt(amount)} of series {sid}")
        if self.send("margin_close", owner, self.s.margin, "close", vault_id, sid, amount).ok:
            self.option_ledger[(sid, owner)] -= amount

    def _positions(self, vault_id: int) -> list[tuple[int, int]]:
        """(series, signed WAD amount: negative short) of an account."""
        # Position: (series_id, is_call, is_short, amount, strike, expiry)
        return [(p[0], -p[3] if p[2] else p[3]) for p in self.s.view(self.s.margin, "positions", vault_id)]

    @precondition(lambda self: not self.shut and self.accounts)
    @rule(pick=st.integers(0, 2**16), fraction=st.integers(1, 10_000))
    def margin_borrow(self, pick, fraction):
        vault_id = self._account(pick)
        if vault_id is None:
            return
        owner = self.accounts[vault_id]
        if self.type_state(self.snap.vaults[vault_id].collateral_type).fresh_at(self.s.now):
            health = self.s.view(self.s.margin, "health", vault_id)
            room = max(0, health[0] - health[1] - health[3])
        else:
            room = 0  # the price is stale: the borrow must be refused
        amount = max(room * fraction // 10_000, DUST_WAD)
        note(f"margin: account {vault_id} borrows {fmt(amount)} (room {fmt(room)})")
        if self.send("margin_borrow", owner, self.s.margin, "borrow", vault_id, amount, self.s.accounts[owner]).ok:
            self.credit("kUSD", owner, amount)

    @precondition(lambda self: self.accounts)
    @rule(pick=st.integers(0, 2**16), series_pick=st.integers(0, 2**16))
    def margin_settle(self, pick, series_pick):
        """At expiry an account's position settles (anyone may ask): a short pays out of the
        vault, a long is redeemed into it."""
        vault_id = self._account(pick, prefer=self._has_settled_position)
        if vault_id is None:
            return
        positions = self._positions(vault_id)
        due = [(sid, amount) for sid, amount in positions if self.snap.series[sid].mode]
        if not due:
            return
        sid, amount = self.pick(due, series_pick)
        se = self.snap.series[sid]
        note(f"margin: settle account {vault_id}'s {fmt(abs(amount))} {'short' if amount < 0 else 'long'} in series {sid}")
        # a long is redeemed at the house, which pays no holder before every margined
        # writer has settled
        expect = "options: margined writers not settled yet" if amount > 0 and se.books_high else None
        result = self.send("margin_settle", KEEPER, self.s.margin, "settle_position", vault_id, sid, expect=expect)
        if not result.ok:
            return
        after = self.s.snapshot([], [sid]).series[sid]
        if amount < 0:
            owed = ref.mul_div(-amount, ref.option_payoff(se.is_call, se.strike, se.settlement_price, True), WAD, True)
            paid = after.books_low - se.books_low
            assert after.books_high == se.books_high + amount, "the margined short is settled"
            # a call's obligation leaves the vault in whole token units, rounded up (the
            # house gets at least its due); a put's in debt tokens, exactly
            scale = self.s.types[se.collateral_type - 1].scale if se.is_call else 1
            assert paid <= -(-owed // scale) * scale, "a margined short paid more than it owed"
            assert paid == result.value
            if paid < owed:
                self.shortfall[sid] = self.shortfall.get(sid, 0) + owed - paid
                note(f"  -> short paid {fmt(paid)} of {fmt(owed)}: the holders bear {fmt(owed - paid)}")
            v = self.snap.vaults[vault_id]
            if not se.is_call and owed and v.normalized_debt == 0:
                # a put's first debt is borrowed at least at the dust; what is above the
                # obligation goes to the account's owner
                extra = max(owed, self.type_state(v.collateral_type).dust) - owed
                self.credit("kUSD", self.accounts[vault_id], extra)
                note(f"  -> borrowed the dust: {fmt(extra)} kUSD to the owner")
        else:
            note(f"  -> long redeemed: {fmt(result.value)}")
            owner = self.accounts[vault_id]
            if not se.is_call:
                # a put's payoff repays the vault's debt; the rest goes to the owner
                now = self.s.snapshot([], [])
                rest = now.balances[("kUSD", owner)] - self.ledger[("kUSD", owner)]
                assert 0 <= rest <= result.value, "a long put paid its owner more than its payoff"
                self.credit("kUSD", owner, rest)

    @precondition(lambda self: not self.shut and self.accounts)
    @rule(pick=st.integers(0, 2**16))
    def margin_start_liquidation(self, pick):
        vault_id = self._account(pick, prefer=self._under_margined)
        if vault_id is None:
            return
        note(f"margin: start the liquidation of account {vault_id}")
        self.send("margin_start", KEEPER, self.s.margin, "start_liquidation", vault_id,
                  may={"margin: liquidation running"})

    @precondition(lambda self: not self.shut and self.accounts)
    @rule(pick=st.integers(0, 2**16), series_pick=st.integers(0, 2**16), fraction=st.integers(1, 10_000))
    def margin_liquidate(self, pick, series_pick, fraction):
        """Take over a position of an under-margined account: a short by burning the
        holder's options for collateral, a long by the keeper paying debt tokens."""
        vault_id = self._account(pick, prefer=self._under_margined)
        if vault_id is None:
            return
        positions = [(s, a) for s, a in self._positions(vault_id) if self.t < self.snap.series[s].expiry]
        if not positions:
            return
        sid, position = self.pick(positions, series_pick)
        se = self.snap.series[sid]
        c = self.s.types[se.collateral_type - 1]
        liquidator = HOLDER if position < 0 else KEEPER
        most = -position if position > 0 else min(-position, self.option_ledger[(sid, HOLDER)])
        amount = max(abs(most) * fraction // 10_000, 1) if position > 0 else most * fraction // 10_000
        if amount == 0:
            return
        if position > 0 and not self._ensure_kusd(KEEPER, 10 * WAD):
            return
        note(f"margin: {liquidator} takes over {fmt(amount)} of account {vault_id}'s "
             f"{'short' if position < 0 else 'long'} in series {sid}")
        kusd_before = self.s.snapshot([], []).balances[("kUSD", liquidator)]
        result = self.send("margin_liquidate", liquidator, self.s.margin, "liquidate", vault_id, sid, amount,
                           self.s.accounts[liquidator], may={"token: insufficient balance"})
        if not result.ok:
            return
        if position < 0:
            self.option_ledger[(sid, HOLDER)] -= amount
            self.credit(c.symbol, HOLDER, result.value // c.scale)
        else:
            self.option_ledger[(sid, KEEPER)] += amount
            paid = kusd_before - self.s.snapshot([], []).balances[("kUSD", KEEPER)]
            assert paid == result.value, "the liquidator pays what liquidate returns"
            self.credit("kUSD", KEEPER, -paid)
        note(f"  -> {fmt(result.value)}")

    @precondition(lambda self: not self.shut and self.accounts)
    @rule(pick=st.integers(0, 2**16), fraction=st.integers(1, 12_000))
    def margin_liquidate_debt(self, pick, fraction):
        """``fraction`` bps of the debt; above 10,000: all of it (max_value), fees to mining included."""
        vault_id = self._account(pick, prefer=self._under_margined)
        if vault_id is None:
            return
        v = self.snap.vaults[vault_id]
        if v.normalized_debt == 0:
            return
        c = self.s.types[v.collateral_type - 1]
        if not self._ensure_kusd(KEEPER, ref.debt_of(v.normalized_debt, self.rate_at(v.collateral_type, self.t + 2))):
            return
        debt = ref.debt_of(v.normalized_debt, self.rate_at(v.collateral_type, self.t))
        in_full = fraction > 10_000
        amount = MAX_UINT256 if in_full else max(debt * fraction // 10_000, 1)
        note(f"margin: the keeper repays {'all' if in_full else fmt(amount)} of account {vault_id}'s debt "
             "for its collateral")
        kusd_before = self.ledger[("kUSD", KEEPER)]
        result = self.send("margin_liquidate_debt", KEEPER, self.s.margin, "liquidate_debt", vault_id, amount,
                           self.s.accounts[KEEPER])
        if not result.ok:
            return
        after = self.s.snapshot([], [])
        paid = kusd_before - after.balances[("kUSD", KEEPER)]
        if in_full:  # the debt as mined: at least as read, and none left
            assert paid >= debt and after.vaults[vault_id].normalized_debt == 0, "a repayment in full left debt"
        else:
            assert paid == amount, "the keeper paid other than it asked"
        self.credit("kUSD", KEEPER, -paid)
        self.credit(c.symbol, KEEPER, result.value // c.scale)
        note(f"  -> paid {fmt(paid)}, received {fmt(result.value)} {c.symbol}")

    @precondition(lambda self: self.accounts)
    @rule(pick=st.integers(0, 2**16))
    def margin_release(self, pick):
        vault_id = self._account(pick)
        if vault_id is None:
            return
        owner = self.accounts[vault_id]
        note(f"margin: {owner} takes account {vault_id} back as a plain vault")
        if self.send("margin_release", owner, self.s.margin, "release_account", vault_id).ok:
            del self.accounts[vault_id]

    # ------------------------------------------------------------ rules: shutdown and settlement
    @precondition(lambda self: not self.shut and self.steps >= self.run_steps * 2 // 3)
    @rule()
    def shutdown(self):
        note(f"SHUTDOWN with {len(self.lots)} lots running, supply {fmt(self.snap.supply)}")
        self.send("shutdown", 0, self.s.settlement, "shutdown")
        self.shut = True
        self.supply_at_shutdown = self.snap.supply
        after = self.s.snapshot([], [])
        assert after.supply_at_shutdown == self.snap.supply
        for ts in self.snap.types:
            assert after.frozen[ts.type_id] == ts.price, "prices freeze at the oracle's, stale or not"

    @precondition(lambda self: self.shut)
    @rule(pick=st.integers(0, 2**16), size=st.sampled_from([1, 4, 50]))
    def settle_vaults(self, pick, size):
        ids = list(self.snap.vaults)
        chosen = [ids[(pick + i) % len(ids)] for i in range(min(size, len(ids)))]
        note(f"settle vaults {chosen}")
        settled = self.send("settle", REPORTERS[0], self.s.settlement, "settle_vaults", chosen).value
        expected = [v for v in dict.fromkeys(chosen) if self.snap.vaults[v].normalized_debt
                    and self.snap.frozen[self.snap.vaults[v].collateral_type]]
        assert settled == len(expected)
        after = self.s.snapshot([], [])
        for v in expected:
            before = self.snap.vaults[v]
            ts = self.type_state(before.collateral_type)
            owed = ref.mul_div(before.normalized_debt * ts.rate, 1, self.snap.frozen[before.collateral_type] * 10**9, True)
            taken = min(owed, before.collateral)
            assert (after.vaults[v].collateral, after.vaults[v].normalized_debt) == (before.collateral - taken, 0), \
                "a vault settles at the frozen price, rounded up"

    @precondition(lambda self: self.shut and self.lots)
    @rule(pick=st.integers(0, 2**16))
    def cancel_auction(self, pick):
        auction_id = self.pick(sorted(self.lots), pick)
        if auction_id is None:
            return
        lot = self.snap.lots[auction_id]
        note(f"cancel lot {auction_id}: {fmt(lot.collateral)} collateral, debt {fmt(lot.debt)}")
        result = self.send("cancel", REPORTERS[0], self.s.settlement, "cancel_auction", auction_id)
        owed = ref.mul_div(lot.debt * RAY, 1, self.snap.frozen[lot.collateral_type] * 10**9, True)
        taken = min(owed, lot.collateral)
        assert result.value == taken
        after = self.s.snapshot([], [])
        moved = after.vaults[lot.vault_id].collateral - self.snap.vaults[lot.vault_id].collateral
        assert moved == lot.collateral - taken, "the rest of a cancelled lot goes back into the vault"
        assert after.settled_debt - self.snap.settled_debt == lot.debt * RAY
        del self.lots[auction_id]

    @precondition(lambda self: self.shut)
    @rule(type_index=st.integers(0, len(TYPES) - 1))
    def finalize(self, type_index):
        ts = self.snap.types[type_index]
        note(f"finalize type {ts.type_id}")
        expect = None
        if ts.type_id in self.snap.finalized:
            expect = "settlement: already finalized"
        elif not self.snap.frozen[ts.type_id]:
            expect = "settlement: price not frozen"
        elif ts.normalized_debt:
            expect = "settlement: vaults left to settle"
        elif ts.auction_collateral:
            expect = "settlement: auctions left to cancel"
        if self.send("finalize", REPORTERS[0], self.s.settlement, "finalize", ts.type_id, expect=expect).ok:
            assert self.s.snapshot([], []).pool[ts.type_id] == ts.settled, "the pool is all the collateral settled"

    @precondition(lambda self: self.shut)
    @rule(holder=st.sampled_from(ACTORS), fraction=st.integers(1, 12_000))
    def redeem_debt(self, holder, fraction):
        balance = self.ledger[("kUSD", holder)]
        amount = min(balance, max(balance * fraction // 10_000, 1))
        if amount == 0:
            return
        note(f"redeem: {holder} hands in {fmt(amount)} kUSD of {fmt(balance)}")
        self.send("redeem_debt", holder, self.s.settlement, "redeem", amount)
        self.credit("kUSD", holder, -amount)

    @precondition(lambda self: self.shut)
    @rule(pick=st.integers(0, 2**16), type_index=st.integers(0, len(TYPES) - 1))
    def claim(self, pick, type_index):
        """A holder that redeemed claims its share of a type (one time in eight, anyone)."""
        redeemers = [a for a in ACTORS if self.snap.redeemed[a]]
        holder = self.pick(redeemers, pick) if redeemers and pick % 8 else ACTORS[pick % len(ACTORS)]
        ts = self.snap.types[type_index]
        c = self.s.types[type_index]
        entitled = (self.snap.redeemed[holder] * self.snap.pool[ts.type_id] // self.supply_at_shutdown
                    if ts.type_id in self.snap.finalized else 0)
        amount = entitled - self.snap.claimed[(holder, ts.type_id)]
        note(f"claim: {holder} claims {fmt(amount)} {c.symbol}")
        expect = None
        if ts.type_id not in self.snap.finalized:
            expect = "settlement: type not finalized"
        elif amount == 0:
            expect = "settlement: nothing to claim"
        result = self.send("claim", holder, self.s.settlement, "claim", ts.type_id, self.s.accounts[holder],
                           expect=expect)
        if result.ok:
            assert result.value == amount
            self.credit(c.symbol, holder, amount // c.scale)

    # ------------------------------------------------------------ the invariants
    @invariant()
    def invariants_hold(self):
        self.snap = snap = self.s.snapshot(sorted(self.lots), self.series)
        self._margin_checks.clear()
        STATS["steps"] += 1
        self.steps += 1
        self._check_collateral(snap)
        self._check_debt(snap)
        self._check_lots(snap)
        self._check_options(snap)
        self._check_settlement(snap)
        self._check_ledger(snap)

    def _check_collateral(self, snap: State) -> None:
        """Invariant 1 (engine side): tokens held == vaults + lots + dust + settled."""
        for ts in snap.types:
            in_vaults = sum(v.collateral for v in snap.vaults.values() if v.collateral_type == ts.type_id)
            accounted = in_vaults + ts.auction_collateral + ts.collateral_dust + ts.settled
            assert ts.held * ts.scale == accounted, f"type {ts.type_id}: collateral is not conserved"

    def _check_debt(self, snap: State) -> None:
        """Invariant 2: debt is conserved, each type's debt is its vaults'."""
        total = 0
        for ts in snap.types:
            normalized = sum(v.normalized_debt for v in snap.vaults.values() if v.collateral_type == ts.type_id)
            assert normalized == ts.normalized_debt, f"type {ts.type_id}: vault debts do not add up"
            total += normalized * ts.rate + ts.auction_debt * RAY
        total += snap.bad_debt + snap.settled_debt
        assert snap.supply * RAY + snap.surplus == total, "debt is not conserved"

    def _check_lots(self, snap: State) -> None:
        """Invariant 4 and the auction totals: each lot follows its curve, never above its
        start, never rising between resets; lots add up to the engine's totals; caps hold."""
        for ts in snap.types:
            own = [lot for lot in snap.lots.values() if lot.collateral_type == ts.type_id]
            assert sum(lot.collateral for lot in own) == ts.auction_collateral, "lots' collateral does not add up"
            assert sum(lot.debt for lot in own) == ts.auction_debt, "lots' debt does not add up"
            assert ts.auction_debt <= ts.auction_limit, "debt in auction above the type cap"
        assert sum(ts.auction_debt for ts in snap.types) <= GLOBAL_AUCTION_LIMIT, "debt in auction above the global cap"
        for auction_id, lot in snap.lots.items():
            track = self.lots[auction_id]
            assert lot.started_at, f"lot {auction_id} ended unseen"
            assert (lot.started_at, lot.top) == track.epoch, f"lot {auction_id} restarted unseen"
            price, _ = self.lot_price(lot, snap.timestamp)
            assert price <= lot.top, "a price above the start"
            assert price <= track.price, "a price rose between resets"
            track.price = price

    def _check_options(self, snap: State) -> None:
        """Invariant 1 (house side) and 6: the house holds at least what it owes, per asset;
        a settled series' funds back its options in full unless a margined writer fell short."""
        owed = {c.symbol: 0 for c in self.s.types} | {"kUSD": 0}
        for sid in self.series:
            se = snap.series[sid]
            asset = self.s.types[se.collateral_type - 1].symbol if se.is_call else "kUSD"
            writers = [snap.written[(sid, w)] for w in SERIES_WRITERS]
            if se.mode == 0:
                owed[asset] += sum(ref.option_locked(se.is_call, se.strike, w, False) for w in writers)
                assert se.books_low == sum(writers), f"series {sid}: the books and the writers disagree"
                continue
            owed[asset] += se.books_low
            up = ref.option_payoff(se.is_call, se.strike, se.settlement_price, True)
            for w in writers:
                locked = ref.option_locked(se.is_call, se.strike, w, False)
                owed[asset] += locked - min(locked, ref.mul_div(w, up, WAD, True))
            if se.books_high == 0:
                payoff = ref.option_payoff(se.is_call, se.strike, se.settlement_price, False)
                assert se.books_low + self.shortfall.get(sid, 0) >= ref.mul_div(se.supply, payoff, WAD, False), \
                    f"series {sid}: holders' funds fall short of the payoff with no shortfall recorded"
        for ts in snap.types:
            symbol = self.s.types[ts.type_id - 1].symbol
            assert ts.house_held * ts.scale >= owed[symbol] + snap.house_dust[symbol], f"the house owes more {symbol} than it holds"
        assert snap.kusd_held["house"] >= owed["kUSD"] + snap.house_dust["kUSD"], "the house owes more kUSD than it holds"

    def _check_settlement(self, snap: State) -> None:
        """Invariant 5."""
        if not self.shut:
            assert snap.settled_debt == 0 and all(ts.settled == 0 for ts in snap.types)
            return
        assert snap.supply == self.supply_at_shutdown, "the supply moved after shutdown"
        for type_id in snap.finalized:
            claimed = sum(snap.claimed[(a, type_id)] for a in ACTORS)
            assert snap.pool[type_id] - claimed == snap.type(type_id).settled, "claims and pool disagree"
            shares = sum(r * snap.pool[type_id] // self.supply_at_shutdown for r in snap.redeemed.values())
            assert shares <= snap.pool[type_id], "the holders' shares exceed the pool"

    def _check_ledger(self, snap: State) -> None:
        """Every actor holds exactly what the rules expected: no one is paid what it was not owed."""
        for key, expected in self.ledger.items():
            assert snap.balances[key] == expected, f"{key}: holds {snap.balances[key]}, expected {expected}"
        for key, expected in self.option_ledger.items():
            assert snap.options[key] == expected, f"options {key}: holds {snap.options[key]}, expected {expected}"

    def teardown(self):
        if self.digests is not None:
            self.digests.append(digest(self.s, self.snap))


DUST_WAD = 100 * WAD
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def digest(system: System, snap: State) -> str:
    """A backend-independent fingerprint of a state (addresses as actor indexes)."""
    import hashlib

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return plain(dataclasses.asdict(value))
        if isinstance(value, dict):
            return sorted((repr(k), plain(v)) for k, v in value.items())
        if isinstance(value, (list, tuple, set)):
            return [plain(v) for v in (sorted(value) if isinstance(value, set) else value)]
        return value

    fields = dataclasses.asdict(snap)
    fields.pop("kusd_held", None)  # keyed by role already; kept below
    text = repr((plain(fields), sorted(snap.kusd_held.items())))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def machine_class(backend: str = "boa", run_steps: int = 100, csv_path: Path | None = None,
                  digests: list[str] | None = None) -> type[KeelMachine]:
    """The machine for a backend and run length (steps per hypothesis example)."""
    return type(f"KeelMachine_{backend}", (KeelMachine,),
                {"backend_name": backend, "run_steps": run_steps, "csv_path": csv_path, "digests": digests})


__all__ = ["KeelMachine", "machine_class", "fresh_system", "close_worlds", "STATS", "actions_since", "digest"]

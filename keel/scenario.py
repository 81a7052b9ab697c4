"""The demo scenario: a fresh Keel system, three users, a month of stability fees.

Story (``keel demo``):

1. deploy (WETH at 2,000 and WBTC at 30,000 kUSD, 5 %/yr fee, 150 % base ratio; WETH's
   required ratio adds 0.5 x its volatility, at most 50 points). Each type is priced by
   a PriceFeed with three reporters (anvil accounts 7-9, quorum 2) and a 1,800 s
   security-module delay: the deploy has them report, pokes, lets the delay pass and
   pokes again. The "Oracle" section shows each feed: current (delayed) price, next,
   accepted median, reporters, volatility and the required ratio;
2. alice, bob and carol (anvil accounts 1-3) take collateral from the mock faucets and
   open vaults in both types, borrowing kUSD;
3. 30 days pass (the feeds go stale: the current price was observed 30 days ago); the
   reporters push new prices, the feed is poked, the delay passes, they re-report and
   it is poked again: the new prices are current. Both types accrue: the rate grows and
   the fees land in the surplus;
4. the circuit breaker: two reporters (a shared bad source) post WETH 40 % higher; the
   median jumps more than 20 % and is held (``PriceHeld``), not accepted; the reporters
   return to the real price and the hold is cancelled;
5. alice repays part of her debt and withdraws some collateral; bob repays everything
   (carol sends him the kUSD his fees cost) and closes; carol closes one of her vaults
   with its debt in one call;
6. crash and liquidation: dave and erin (anvil accounts 4-5) open five WETH vaults a few
   points above the required ratio; a keeper (account 6) opens a well-collateralised
   vault for kUSD; alice and carol add collateral. The reporters push a ~30 % WETH crash
   in two steps, each within the breaker's 20 %, and the delay passes so the current
   price falls. :class:`keel.keeper_simple.SimpleKeeper` scans, liquidates in one batch,
   waits until each lot's price is at most 97 % of the oracle's and takes with its own
   kUSD; leftovers go back into the liquidated vaults; keeper rewards are bad debt until
   ``settle_bad_debt`` cancels them against the surplus;
7. summary: the open vaults, fees per type, surplus, supply and the invariants
   ``supply * RAY + surplus == sum(normalized_debt * rate) + debt_in_auction + bad_debt``
   and, per type, ``balanceOf(engine) * scale == sum(vault collateral) + in auction + dust``.

:func:`run_scenario` runs it on its own embedded Anvil (or a given chain whose first four
accounts are unlocked) and returns a :class:`ScenarioResult`.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, TextIO

from web3 import Web3
from web3.logs import DISCARD

from . import log as _log
from .artifacts import ensure_compiled, project_root
from .chain import Anvil, increase_time, is_local_chain, latest_timestamp
from .client import CollateralCheck, KeelClient, LedgerCheck, OptionsClient, VaultInfo, next_expiry
from .keeper_simple import KeeperReport, SimpleKeeper
from .deploy import LOCAL_REPORTER_ACCOUNTS, DeployConfig, default_collateral, deploy_system
from .manifest import Manifest
from .oracle import PushResult, Reporter, feed_state, local_reporter_senders, make_current, oracle_table
from .text import heading, short_address, table
from .tx import Sender
from .units import (
    RAY, WAD, annual_rate, fmt_decimal, fmt_percent, fmt_rad, fmt_ratio, fmt_ray, fmt_wad,
    from_wad, to_fixed, to_wad,
)

USERS = ("alice", "bob", "carol")
DAY = 86_400
#: WETH's dynamic margin in the demo: required ratio = 150 % + min(0.5 * sigma, 50 points)
DEMO_WETH_K_BPS = 5_000
DEMO_WETH_CAP_BPS = 5_000
BREAKER_JUMP = Decimal("0.4")  # the bad source's WETH price is 40 % high
#: the crash: WETH falls in these steps (each within the breaker's 20 %), ~30 % in all
CRASH_STEPS = (Decimal("0.85"), Decimal("0.82"))
#: dave's and erin's risky WETH vaults: (owner, WETH deposited); they borrow at
#: required ratio + RISKY_MARGIN
RISKY_VAULTS = (("dave", "4"), ("dave", "5"), ("erin", "6"), ("erin", "8"), ("dave", "10"))
RISKY_MARGIN = Decimal("0.05")
CRASH_USERS = {"dave": 4, "erin": 5, "keeper": 6}
KEEPER_DEPOSIT, KEEPER_BORROW = "200", "90000"  # WETH, kUSD


def demo_config() -> DeployConfig:
    """The default deployment, with WETH's volatility margin switched on (k 0.5, cap 50 points)."""
    collateral = default_collateral()
    for c in collateral:
        if c.symbol == "WETH":
            c.volatility_k_bps, c.volatility_cap_bps = DEMO_WETH_K_BPS, DEMO_WETH_CAP_BPS
    return DeployConfig(collateral=collateral)


@dataclass
class ScenarioResult:
    """What the demo printed, and the numbers a test wants."""

    text: str
    invariant_ok: bool
    supply: int  # WAD
    surplus: int  # RAD
    fees: dict[str, int] = field(default_factory=dict)  # symbol -> RAD accrued
    vaults: list[VaultInfo] = field(default_factory=list)  # open at the end
    manifest: Manifest | None = None
    days: int = 30
    breaker: list[str] = field(default_factory=list)  # outcomes of the breaker pushes ("held", "cancelled")
    keeper: KeeperReport | None = None  # the crash section's liquidations and takes
    collateral_ok: bool = False
    bad_debt: int = 0  # RAD after settlement
    settlement: "SettlementReport | None" = None  # the shutdown section, when run
    options: "OptionsReport | None" = None  # the options section


@dataclass
class OptionsReport:
    """What the options section did and measured (all WAD)."""

    call: int = 0  # series ids
    put: int = 0
    settlement_price: int = 0
    call_payoff: int = 0  # underlying per option
    put_payoff: int = 0  # kUSD per option
    holder_paid: dict[str, int] = field(default_factory=dict)  # "call"/"put" -> paid to the holder
    writer_released: dict[str, int] = field(default_factory=dict)  # "call"/"put" -> released to the writer
    locked: dict[str, int] = field(default_factory=dict)  # "call"/"put" -> locked when written
    plain_max_borrow: int = 0  # kUSD a margin account with no options may owe
    hedged_max_borrow: int = 0  # the same account with a long put
    strangle_isolated: int = 0  # collateral value a short strangle locks when written in full (kUSD)
    strangle_margin: int = 0  # its initial margin in a margin account (kUSD)


@dataclass
class SettlementReport:
    """What the emergency-shutdown section did and checked."""

    frozen: dict[str, int] = field(default_factory=dict)  # symbol -> frozen price WAD
    settled_vaults: int = 0
    cancelled_auctions: int = 0
    pools: dict[str, int] = field(default_factory=dict)  # symbol -> pool WAD at finalize
    claims: dict[str, dict[str, int]] = field(default_factory=dict)  # holder -> symbol -> WAD claimed
    redeemed: dict[str, int] = field(default_factory=dict)  # holder -> WAD debt tokens handed in
    remainders: dict[str, int] = field(default_factory=dict)  # symbol -> WAD of pool nobody can claim
    invariant_ok: bool = False  # invariants 1, 2 and 5 at the end


class _Printer:
    """Collects the report's lines and echoes them as they come."""

    def __init__(self, out: TextIO | None) -> None:
        self.lines: list[str] = []
        self.out = out

    def __call__(self, *lines: str) -> None:
        for line in lines:
            self.lines.append(line)
            if self.out is not None:
                print(line, file=self.out, flush=True)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def run_scenario(
    *,
    w3: Web3 | None = None,
    port: int | None = None,
    days: int = 30,
    out: TextIO | None = sys.stdout,
    log: Callable[[str], None] = _log.progress,
    root: Path | None = None,
) -> ScenarioResult:
    """Run the demo. Without ``w3`` an Anvil is started (on ``port``, else a free one)
    and stopped afterwards; with ``w3`` its accounts 0-3 must be unlocked."""
    root = root or project_root()
    ensure_compiled(root, log=log)
    if w3 is not None:
        return _run(w3, days, out, log, root, node_label=str(getattr(w3.provider, "endpoint_uri", "")))
    log("starting anvil ...")
    with Anvil(port) as node:
        log(f"anvil {node.version()} on {node.url}")
        return _run(node.w3, days, out, log, root, node_label=f"{node.version()} at {node.url}")


def _run(
    w3: Web3, days: int, out: TextIO | None, log: Callable[[str], None], root: Path, node_label: str
) -> ScenarioResult:
    if not is_local_chain(w3):
        raise RuntimeError("the demo mints mock tokens and moves the clock: local chains only")
    say = _Printer(out)
    accounts = w3.eth.accounts
    if len(accounts) <= max(LOCAL_REPORTER_ACCOUNTS):
        raise RuntimeError("the demo needs ten unlocked accounts (deployer, alice, bob, carol; reporters 7-9)")
    deployer = Sender.unlocked(w3, accounts[0])
    names = {accounts[0]: "deployer", **{accounts[i + 1]: n for i, n in enumerate(USERS)}}

    # -- deploy (into a scratch manifest: the demo's addresses are throwaway)
    with tempfile.TemporaryDirectory(prefix="keel-demo-") as scratch:
        log("deploying ...")
        config = demo_config()
        manifest = deploy_system(
            w3, deployer, config, Path(scratch) / "manifest.json", force=True, root=root, log=log
        )
        admin = KeelClient(w3, manifest, deployer)
        reporter = Reporter(w3, manifest, local_reporter_senders(w3, manifest))
        reporter_names = {s.address: f"reporter {i + 1}" for i, s in enumerate(reporter.senders)}  # 1-3
        user = {n: admin.as_sender(deployer.with_address(accounts[i + 1])) for i, n in enumerate(USERS)}
        symbols = {e.collateral_type: e.symbol for e in manifest.collateral}

        def units(symbol: str, amount: str) -> int:
            return to_fixed(amount, manifest.collateral_entry(symbol).decimals)

        say(*heading("Keel demo"))
        say(f"  chain        {node_label} (chain id {manifest.chain_id})")
        say(f"  DebtToken    {manifest.address('DebtToken')}  (kUSD)")
        say(f"  VaultEngine  {manifest.address('VaultEngine')}")
        say(*table(
            ["type", "token", "oracle", "price", "base ratio", "fee/yr", "dust"],
            [
                [f"{t.collateral_type} {t.symbol}", short_address(t.token), short_address(t.oracle),
                 fmt_wad(admin.price(t.collateral_type)[0]), fmt_ratio(t.liquidation_ratio, 0),
                 fmt_percent(annual_rate(t.stability_fee)), fmt_wad(t.dust, 0)]
                for t in admin.collateral_types()
            ],
            align="lllrrrr",
        ))

        # -- oracle
        say(*heading("Oracle"))
        weth_feed = feed_state(admin, "WETH")
        say(f"  each type has a PriceFeed; reporters {', '.join(short_address(a) for a in weth_feed.reporters)} "
            f"(anvil accounts {LOCAL_REPORTER_ACCOUNTS[0]}-{LOCAL_REPORTER_ACCOUNTS[-1]}), quorum "
            f"{weth_feed.quorum} of {len(weth_feed.reporters)}")
        say(f"  median of reports younger than {weth_feed.report_max_age:,} s; a median more than "
            f"{fmt_percent(Decimal(weth_feed.max_jump_bps) / 10_000, 0)} from the accepted price is held "
            f"(accepted once it stands {weth_feed.confirm_delay:,} s, or a quorum of newer reports confirms it)")
        say(f"  security-module delay {weth_feed.delay:,} s: poke() makes `next` current; the current price "
            f"is fresh for {weth_feed.max_age:,} s after its observation")
        say(f"  bootstrap: the reporters reported the initial prices, poke, {weth_feed.delay:,} s passed "
            "(local clock), they re-reported, poke: the prices are current")
        say(f"  WETH's required ratio = 150% + min({DEMO_WETH_K_BPS / 10_000:g} x volatility, "
            f"{DEMO_WETH_CAP_BPS / 100:g} points); WBTC's is static (k = 0)")
        say("", *oracle_table(admin))

        # -- 1. open vaults
        say(*heading("1. Users open vaults"))
        log("users open vaults ...")
        plan = [  # who, collateral, deposit (whole units), borrow (kUSD)
            ("alice", "WETH", "10", "10000"),
            ("bob", "WBTC", "1", "15000"),
            ("carol", "WETH", "5", "4000"),
            ("carol", "WBTC", "0.25", "3000"),
        ]
        vault_of: dict[str, list[int]] = {n: [] for n in USERS}
        for who, symbol, deposit, borrow in plan:
            client = user[who]
            client.mint_collateral(symbol, units(symbol, deposit))
            client.approve_collateral(symbol)
            opened = client.open_vault(symbol, units(symbol, deposit), to_wad(borrow))
            vault_of[who].append(opened.vault_id)
            say(f"  {who:<6} opens vault {opened.vault_id}: deposits {deposit} {symbol}, borrows "
                f"{fmt_decimal(Decimal(borrow))} kUSD   (gas {opened.receipt['gasUsed']:,})")
        say("", *_vault_table(admin, names, symbols))

        # -- 2. time passes
        say(*heading(f"2. {days} days pass"))
        log(f"advancing {days} days ...")
        rates_before = {t: admin.collateral_type_info(t).rate for t in symbols}
        surplus_before = admin.surplus()
        increase_time(w3, days * DAY)
        stale = ", ".join(f"{s} {fmt_wad(p)} {'fresh' if f else 'STALE'}"
                          for s, (p, f) in ((s, admin.price(s)) for s in symbols.values()))
        say(f"  chain time +{days} days (block timestamp {latest_timestamp(w3)}); current prices: {stale}")
        new_prices = {"WETH": to_wad("2100"), "WBTC": to_wad("31500")}
        pushed = {symbol: reporter.push(symbol, price) for symbol, price in new_prices.items()}
        say("  reporters push " + ", ".join(
            f"{s} {fmt_wad(r.price)} ({r.outcome}{', poked' if r.poked else ''})" for s, r in pushed.items()))
        say("  after the poke: " + ", ".join(
            f"{s} next {fmt_wad(r.state.next_price)}, current {fmt_wad(r.state.current_price)} "
            f"{'fresh' if r.state.current_fresh else 'STALE'}" for s, r in pushed.items()))
        bootstrap = make_current(w3, manifest, list(new_prices), prices=new_prices, reporter=reporter)
        say(f"  the delay passes (clock +{bootstrap.advanced:,} s); the reporters re-report, poke: "
            + ", ".join(f"{s} {fmt_wad(p)} current" for s, p in bootstrap.prices.items()))
        for type_id, symbol in symbols.items():
            fees_before = admin.accrued_fees().get(type_id, 0)
            receipt = admin.accrue(type_id)
            after = admin.collateral_type_info(type_id)
            fees = admin.accrued_fees().get(type_id, 0) - fees_before
            say(f"  accrue {symbol}: rate {fmt_ray(rates_before[type_id])} -> {fmt_ray(after.rate)}, "
                f"fees {fmt_rad(fees, 4)} kUSD to the surplus   (gas {receipt['gasUsed']:,})")
        say(f"  surplus {fmt_rad(surplus_before, 4)} -> {fmt_rad(admin.surplus(), 4)} kUSD")
        say("", *oracle_table(admin))
        say("", *_vault_table(admin, names, symbols))

        # -- 3. circuit breaker
        say(*heading("3. Oracle circuit breaker"))
        log("circuit breaker ...")
        breaker = _circuit_breaker(admin, reporter, reporter_names, say)

        # -- 3. repay and close
        say(*heading("4. Repayments"))
        log("repaying and closing ...")
        alice, bob, carol = user["alice"], user["bob"], user["carol"]
        a1 = vault_of["alice"][0]
        alice.repay(a1, to_wad("4000"))
        say(f"  alice  repays 4,000.00 kUSD on vault {a1} (partial)")
        alice.withdraw(a1, units("WETH", "3"))
        say(f"  alice  withdraws 3 WETH from vault {a1}")
        b1 = vault_of["bob"][0]
        owed = bob.vault_info(b1).debt
        short = max(0, owed - bob.debt_balance()) + to_wad("1")  # fees to this block, and a margin
        carol.transfer_debt_token(bob.address, _round_up(short, WAD))
        say(f"  carol  sends bob {fmt_wad(_round_up(short, WAD))} kUSD (his fees: he owes "
            f"{fmt_wad(owed, 4)}, borrowed {fmt_wad(to_wad('15000'))})")
        receipt = bob.repay_all(b1)
        say(f"  bob    repays all of vault {b1}   (gas {receipt['gasUsed']:,})")
        receipt = bob.close(b1)
        say(f"  bob    closes vault {b1}: 1 WBTC back   (gas {receipt['gasUsed']:,})")
        c2 = vault_of["carol"][1]
        debt = carol.vault_info(c2).debt
        receipt = carol.close(c2)
        say(f"  carol  closes vault {c2} with its debt (~{fmt_wad(debt)} kUSD burned, 0.25 WBTC back)"
            f"   (gas {receipt['gasUsed']:,})")

        # -- 5. crash and liquidation
        say(*heading("5. Crash and liquidation"))
        log("crash and liquidation ...")
        for who, index in CRASH_USERS.items():
            names[accounts[index]] = who
        keeper = _crash(admin, reporter, deployer, accounts, names, user, vault_of, units, say, log)

        # -- 6. options
        say(*heading("6. Options"))
        log("options ...")
        options = _options(admin, deployer, accounts, names, reporter, say)

        # -- summary
        say(*heading("Summary"))
        open_ids = admin.open_vault_ids()
        vaults = admin.vaults_info(open_ids)
        say(*_vault_table(admin, names, symbols, vaults))
        empty = sorted(set(admin.vault_ids()) - set(open_ids))
        say(f"  empty vaults (closed, still their owners'): {', '.join(str(v) for v in empty) or 'none'}")
        say("")
        fees = admin.accrued_fees()
        type_rows = []
        for t in admin.collateral_types():
            type_rows.append([
                t.symbol, fmt_ray(t.rate), fmt_wad(t.debt), fmt_rad(fees.get(t.collateral_type, 0), 4),
            ])
        say(*table(["type", "rate", "debt kUSD", "fees accrued kUSD"], type_rows))
        check = admin.ledger_check()
        total_fees = sum(fees.values())
        say("")
        penalties = admin.auction_penalties() * RAY
        settled = sum(int(e["args"]["amount"])
                      for e in admin.engine.events.BadDebtSettled().get_logs(from_block=manifest.block))
        rounding_wei = Decimal(check.surplus - total_fees - penalties + settled) / RAY  # RAD -> 1e-18 kUSD
        say(f"  surplus        {fmt_rad(check.surplus, 6):>22} kUSD  (fees {fmt_rad(total_fees, 4)} + penalties "
            f"{fmt_rad(penalties, 4)} - bad debt settled {fmt_rad(settled, 4)}, plus {rounding_wei:.3f} wei of"
            " rounding in the system's favour)")
        say(f"  kUSD supply    {fmt_wad(check.supply, 6):>22} kUSD")
        say(f"  vault debt     {fmt_rad(check.debt, 6):>22} kUSD  (sum of normalized_debt * rate)")
        per_type_ok = all(
            t.normalized_debt == sum(v.normalized_debt for v in vaults if v.collateral_type == t.collateral_type)
            for t in admin.collateral_types()
        )
        say(f"  in auction     {fmt_rad(check.debt_in_auction, 6):>22} kUSD  (debt_in_auction)")
        say(f"  bad debt       {fmt_rad(check.bad_debt, 6):>22} kUSD")
        collateral = admin.collateral_check()
        collateral_ok = all(c.ok for c in collateral)
        ok = check.ok and per_type_ok and collateral_ok
        verdict = {True: "OK", False: "FAIL"}
        say(f"  invariant      {LEDGER_TEXT} -> {verdict[check.ok]}")
        say(f"  invariant      type totals == sum of their vaults' normalized debt -> {verdict[per_type_ok]}")
        say(f"  invariant      {COLLATERAL_TEXT} -> {verdict[collateral_ok]}")
        if not check.ok:
            say(f"                 lhs {check.lhs} != rhs {check.rhs} (diff {check.lhs - check.rhs} RAD)")
        for c in collateral:
            if not c.ok:
                say(f"                 {c.symbol}: held {c.held} != vaults {c.vaults} + auction {c.in_auction} "
                    f"+ dust {c.dust}")

        # -- 7. emergency shutdown (after the summary, which shows the live system)
        say(*heading("7. Emergency shutdown and global settlement"))
        log("shutdown and settlement ...")
        settlement = _shutdown(admin, deployer, accounts, names, say)
        return ScenarioResult(
            text=say.text, invariant_ok=ok, supply=check.supply, surplus=check.surplus,
            fees={symbols.get(t, str(t)): f for t, f in fees.items()}, vaults=vaults,
            manifest=manifest, days=days, breaker=breaker, keeper=keeper, collateral_ok=collateral_ok,
            bad_debt=check.bad_debt, settlement=settlement, options=options,
        )


def _options(
    admin: KeelClient, deployer: Sender, accounts: list[str], names: dict[str, str], reporter: Reporter,
    say: Callable[..., None],
) -> OptionsReport:
    """A covered call and a cash-secured put, expired in and out of the money, settled,
    redeemed and released; then portfolio margin: a long put lets a loan grow, and a short
    strangle needs less than its two legs written in full."""
    report = OptionsReport()
    w3 = admin.w3
    alice, bob, carol, dave = (admin.as_sender(deployer.with_address(accounts[i])) for i in (1, 2, 3, 4))
    # the keeper of the crash section lends carol the kUSD her puts lock
    funder = admin.as_sender(deployer.with_address(accounts[CRASH_USERS["keeper"]]))
    opt = {who: OptionsClient(c) for who, c in (("alice", alice), ("bob", bob), ("carol", carol), ("dave", dave))}
    spot, _ = admin.price("WETH")
    expiry = next_expiry(latest_timestamp(w3), 7)
    call_strike = (spot * 11 // 10) // (100 * WAD) * (100 * WAD)  # ~10 % out of the money
    put_strike = (spot * 9 // 10) // (100 * WAD) * (100 * WAD)
    report.call = opt["alice"].create_series("WETH", call_strike, expiry, True)
    report.put = opt["alice"].create_series("WETH", put_strike, expiry, False)
    call, put = opt["alice"].series(report.call), opt["alice"].series(report.put)
    say(f"  WETH is {fmt_wad(spot)}; alice lists two series (anyone may), expiring in 7 days at 08:00 UTC:",
        f"    {opt['alice'].token(report.call).functions.name().call()}  token {short_address(call.token)}",
        f"    {opt['alice'].token(report.put).functions.name().call()}  token {short_address(put.token)}")
    # alice writes a covered call, carol a cash-secured put; both sell them to bob
    alice.mint_collateral("WETH", 2 * WAD)
    receipt = opt["alice"].write(report.call, 2 * WAD, bob.address)
    report.locked["call"] = 2 * WAD
    say(f"  alice writes 2 covered calls: locks 2 WETH, the options go to bob   (gas {receipt['gasUsed']:,})")
    report.locked["put"] = 3 * put_strike
    if carol.debt_balance() < report.locked["put"]:
        funder.transfer_debt_token(carol.address, report.locked["put"] - carol.debt_balance())
    receipt = opt["carol"].write(report.put, 3 * WAD, bob.address)
    say(f"  carol writes 3 cash-secured puts: locks {fmt_wad(report.locked['put'])} kUSD, the options go to bob"
        f"   (gas {receipt['gasUsed']:,})")

    # -- portfolio margin, while the options run
    dave.mint_collateral("WETH", 10 * WAD)
    account = opt["dave"].open_account("WETH", 10 * WAD)
    report.plain_max_borrow = opt["dave"].max_borrow(account)
    plain_vault = (10 * spot) * WAD // admin.required_ratio("WETH").total // WAD * WAD
    say("", f"  portfolio margin: dave opens margin account {account} (a vault the PortfolioMargin module holds "
        "for him) with 10 WETH",
        f"    no options: he may owe up to {fmt_wad(report.plain_max_borrow)} kUSD (a plain vault: "
        f"{fmt_wad(plain_vault)} at the {fmt_ratio(admin.required_ratio('WETH').total)} ratio)")
    # a long put on his collateral: carol writes 10 more puts for him
    protect_strike = put_strike + 100 * WAD
    protect = opt["alice"].create_series("WETH", protect_strike, expiry, False)
    more = 10 * protect_strike
    if carol.debt_balance() < more:
        funder.transfer_debt_token(carol.address, more - carol.debt_balance())
    opt["carol"].write(protect, 10 * WAD, dave.address)
    opt["dave"].deposit_long(account, protect, 10 * WAD)
    report.hedged_max_borrow = opt["dave"].max_borrow(account)
    say(f"    with 10 long puts (strike {fmt_wad(protect_strike, 0)}) in the account he may owe "
        f"{fmt_wad(report.hedged_max_borrow)} kUSD: the put pays as WETH falls, so the loan needs less collateral")
    borrowed = report.hedged_max_borrow * 9 // 10 // WAD * WAD
    receipt = opt["dave"].margin_borrow(account, borrowed)
    health = opt["dave"].health(account)
    say(f"    he borrows {fmt_wad(borrowed)} kUSD (gas {receipt['gasUsed']:,}); account value {fmt_wad(health.value)}, "
        f"debt {fmt_wad(health.debt)}, maintenance {fmt_wad(health.maintenance)}, initial {fmt_wad(health.initial)}")
    # a short strangle: written in full it locks 1 WETH and strike kUSD; in margin far less
    erin = admin.as_sender(deployer.with_address(accounts[5]))
    opt["erin"] = OptionsClient(erin)
    erin.mint_collateral("WETH", 10 * WAD)
    strangle = opt["erin"].open_account("WETH", 10 * WAD)
    opt["erin"].margin_write(strangle, report.call, WAD)
    opt["erin"].margin_write(strangle, report.put, WAD)
    needed = opt["erin"].min_collateral(strangle)
    report.strangle_margin = needed * spot // WAD
    report.strangle_isolated = spot + put_strike  # 1 WETH for the call, the strike for the put
    say(f"  erin writes a short strangle (1 call {fmt_wad(call_strike, 0)} + 1 put {fmt_wad(put_strike, 0)}) in a "
        f"margin account with 10 WETH: it needs {fmt_wad(needed, 4)} WETH ({fmt_wad(report.strangle_margin)} kUSD) "
        f"for its initial margin, where writing both in full locks {fmt_wad(report.strangle_isolated)} kUSD "
        f"(1 WETH + {fmt_wad(put_strike, 0)} kUSD): the two legs cannot both pay")

    # -- expiry: WETH rises 15 %: the call ends in the money, the put out of it
    final = spot * 115 // 100
    now = latest_timestamp(w3)
    increase_time(w3, expiry - now + 60)
    made = make_current(w3, admin.manifest, ["WETH"], prices={"WETH": final}, reporter=reporter)
    say("", f"  7 days pass; WETH reported at {fmt_wad(final)} (+15 %), current after the delay (+{made.advanced:,} s)")
    for series_id in (report.call, report.put, protect):
        opt["bob"].settle(series_id)
    call, put = opt["bob"].series(report.call), opt["bob"].series(report.put)
    report.settlement_price, report.call_payoff, report.put_payoff = call.settlement_price, call.payoff, put.payoff
    say(f"  anyone settles: price {fmt_wad(call.settlement_price)} (the oracle's fresh price, within a day of "
        f"expiry); the call pays {fmt_wad(call.payoff, 6)} WETH per option ((S - K) / S), the put {fmt_wad(put.payoff)}")
    # margined positions settle first: erin's short call pays out of her vault
    for series_id in (report.call, report.put):
        opt["bob"].settle_position(strangle, series_id)
    opt["bob"].settle_position(account, protect)
    # dave's puts expired worthless: his loan is margined by the ratio alone again, so he
    # repays what the ratio no longer carries (with 5 % to spare)
    state = admin.engine.functions.vault_state(account).call()
    debt, ratio = int(state[2]), int(state[4])
    carried = 10 * final * 95 // 100 * WAD // ratio  # kUSD the ratio carries, 5 % below the limit
    repay = max(0, debt - carried)
    if repay:
        dave.repay(account, repay)
        say(f"  dave's long puts expired out of the money: the ratio alone margins his loan again; he repays "
            f"{fmt_wad(repay)} kUSD")
    weth_before, kusd_before = admin.collateral_balance("WETH", bob.address), bob.debt_balance()
    opt["bob"].redeem(report.call)
    opt["bob"].redeem(report.put)
    report.holder_paid = {"call": admin.collateral_balance("WETH", bob.address) - weth_before,
                          "put": bob.debt_balance() - kusd_before}
    weth_before = admin.collateral_balance("WETH", alice.address)
    opt["alice"].release(report.call)
    kusd_before = carol.debt_balance()
    opt["carol"].release(report.put)
    report.writer_released = {"call": admin.collateral_balance("WETH", alice.address) - weth_before,
                              "put": carol.debt_balance() - kusd_before}
    opt["carol"].release(protect)
    say(*table(
        ["series", "written", "locked", "holder got", "writer released"],
        [
            [f"call {fmt_wad(call_strike, 0)}", "2 (alice)", "2 WETH", f"{fmt_wad(report.holder_paid['call'], 6)} WETH",
             f"{fmt_wad(report.writer_released['call'], 6)} WETH"],
            [f"put {fmt_wad(put_strike, 0)}", "3 (carol)", f"{fmt_wad(report.locked['put'])} kUSD",
             f"{fmt_wad(report.holder_paid['put'])} kUSD", f"{fmt_wad(report.writer_released['put'])} kUSD"],
        ],
        align="lllrr",
    ))
    say(f"  holders' payouts plus writers' releases never exceed what was locked; bob's in-the-money calls paid "
        f"{fmt_wad(report.holder_paid['call'], 6)} WETH for 2 options")
    return report


def _circuit_breaker(
    admin: KeelClient, reporter: Reporter, reporter_names: dict[str, str], say: Callable[..., None]
) -> list[str]:
    """Two reporters post a 40 % jump (held), then all return to the real price (cancelled)."""
    symbol = "WETH"
    before = feed_state(admin, symbol)
    real = before.latest_price
    bad = to_wad(from_wad(real) * (1 + BREAKER_JUMP))
    say(f"  {symbol}: accepted {fmt_wad(real)}, current {fmt_wad(before.current_price)}; a median more than "
        f"{fmt_percent(Decimal(before.max_jump_bps) / 10_000, 0)} from the accepted price is held")

    def who(result: PushResult) -> str:
        numbers = sorted(reporter_names.get(a, short_address(a)).removeprefix("reporter ") for a, _ in result.reports)
        if len(numbers) == 1:
            return f"reporter {numbers[0]}"
        return f"reporters {', '.join(numbers[:-1])} and {numbers[-1]}"

    jump = reporter.push(symbol, bad, poke=False, only=[0, 1])
    after = jump.state
    say(f"  {who(jump)} (a shared bad source) post {fmt_wad(bad)} (+{fmt_percent(BREAKER_JUMP, 0)}): "
        f"median {fmt_wad(after.median)} -> {jump.outcome.upper()}"
        + (" (PriceHeld)" if jump.held else ""))
    say(f"    the jump is held, not accepted: accepted {fmt_wad(after.latest_price)}, held {fmt_wad(after.held_price)}, "
        f"next {fmt_wad(after.next_price)}, current {fmt_wad(after.current_price)} (unchanged)")
    back = reporter.push(symbol, real, poke=False)
    after = back.state
    say(f"  {who(back)} report {fmt_wad(real)} again: median {fmt_wad(after.median)}, within "
        f"{fmt_percent(Decimal(after.max_jump_bps) / 10_000, 0)} of the accepted price -> hold "
        f"{'CANCELLED' if back.outcome == 'cancelled' else back.outcome.upper()}")
    say(f"    accepted {fmt_wad(after.latest_price)}, held {fmt_wad(after.held_price) if after.held_price else 'none'}, "
        f"current {fmt_wad(after.current_price)}: the engine never saw {fmt_wad(bad)}")
    return [jump.outcome, back.outcome]


LEDGER_TEXT = "supply*RAY + surplus == sum(normalized_debt*rate) + debt_in_auction + bad_debt + settled_debt"
COLLATERAL_TEXT = "balanceOf(engine)*scale == sum(vault collateral) + in auction + dust + settled"


def _invariant_lines(check: LedgerCheck, collateral: list[CollateralCheck]) -> tuple[bool, list[str]]:
    verdict = {True: "OK", False: "FAIL"}
    ok = check.ok and all(c.ok for c in collateral)
    return ok, [
        f"  invariant  {LEDGER_TEXT} -> {verdict[check.ok]}",
        f"  invariant  {COLLATERAL_TEXT} -> {verdict[all(c.ok for c in collateral)]} "
        f"({', '.join(f'{c.symbol} in auction {fmt_wad(c.in_auction, 4)}' for c in collateral)})",
    ]


def _crash(
    admin: KeelClient, reporter: Reporter, deployer: Sender, accounts: list[str], names: dict[str, str],
    user: dict[str, KeelClient], vault_of: dict[str, list[int]], units: Callable[[str, str], int],
    say: Callable[..., None], log: Callable[[str], None],
) -> KeeperReport:
    """Risky vaults, a ~30 % WETH crash, a simple keeper liquidating and buying."""
    symbol = "WETH"
    w3 = admin.w3
    clients = {who: admin.as_sender(deployer.with_address(accounts[i])) for who, i in CRASH_USERS.items()}
    price0, _ = admin.price(symbol)
    required = admin.required_ratio(symbol).total
    ratio = required + to_wad(RISKY_MARGIN)
    say(f"  {symbol} {fmt_wad(price0)}; required ratio {fmt_ratio(required)}; dave and erin borrow at "
        f"{fmt_ratio(ratio)} (required + {fmt_percent(RISKY_MARGIN, 0)} points)")
    for who in ("dave", "erin"):
        clients[who].mint_collateral(symbol, units(symbol, "100"))
        clients[who].approve_collateral(symbol)
    risky: list[int] = []
    for who, deposit in RISKY_VAULTS:
        amount = units(symbol, deposit)
        borrow = amount * price0 // ratio // WAD * WAD  # whole kUSD
        opened = clients[who].open_vault(symbol, amount, borrow)
        risky.append(opened.vault_id)
        say(f"  {who:<6} opens vault {opened.vault_id}: {deposit} WETH, borrows {fmt_wad(borrow)} kUSD")
    keeper = clients["keeper"]
    keeper.mint_collateral(symbol, units(symbol, KEEPER_DEPOSIT))
    keeper.approve_collateral(symbol)
    kv = keeper.open_vault(symbol, units(symbol, KEEPER_DEPOSIT), to_wad(KEEPER_BORROW))
    say(f"  keeper opens vault {kv.vault_id}: {KEEPER_DEPOSIT} WETH, borrows "
        f"{fmt_decimal(Decimal(KEEPER_BORROW))} kUSD to buy collateral with")
    # alice and carol see it coming
    for who, extra in (("alice", "5"), ("carol", "3")):
        vault = vault_of[who][0]
        user[who].mint_collateral(symbol, units(symbol, extra))
        user[who].deposit(vault, units(symbol, extra))
        say(f"  {who:<6} adds {extra} WETH to vault {vault} ahead of the storm")

    # the crash, in steps the breaker accepts
    price = price0
    for factor in CRASH_STEPS:
        price = to_wad(from_wad(price) * factor)
        pushed = reporter.push(symbol, price, poke=True)
        made = make_current(w3, admin.manifest, [symbol], prices={symbol: price}, reporter=reporter)
        say(f"  reporters push {symbol} {fmt_wad(price)} ({fmt_percent(factor - 1, 0)}): {pushed.outcome}; "
            f"the delay passes (+{made.advanced:,} s), poke: current {fmt_wad(admin.price(symbol)[0])}")
    now, _ = admin.price(symbol)
    say(f"  {symbol} {fmt_wad(price0)} -> {fmt_wad(now)} ({fmt_percent(Decimal(now) / Decimal(price0) - 1, 1)}); "
        f"required ratio now {fmt_ratio(admin.required_ratio(symbol).total)}")
    say("", *_vault_table(admin, names, {e.collateral_type: e.symbol for e in admin.manifest.collateral},
                          admin.vaults_info(risky + [kv.vault_id])))

    # the keeper
    log("keeper ...")
    bot = SimpleKeeper(keeper, log=log)
    found = bot.scan()
    say("", f"  keeper scans {len(admin.open_vault_ids())} vaults in use: liquidatable {', '.join(map(str, found)) or 'none'}")
    report = KeeperReport()
    started = bot.liquidate(found, report)
    rows = [
        [lq.vault_id, names.get(admin.vault_info(lq.vault_id).owner, ""), lq.auction_id, fmt_wad(lq.collateral, 4),
         fmt_wad(lq.debt), fmt_wad(lq.target), fmt_wad(lq.reward)]
        for lq in report.liquidations
    ]
    say(f"  liquidate_many({found}): {len(report.liquidations)} liquidated, {len(report.skipped)} skipped")
    say(*table(["vault", "owner", "auction", "WETH seized", "debt kUSD", "target kUSD", "reward kUSD"], rows,
               align="rlrrrrr"))
    bot.work_auctions(started, report)
    say("", f"  the keeper waits for price <= 97% of the oracle's ({report.waited:,} s of auction time), then takes:")
    rows = [
        [t.auction_id, fmt_wad(t.price), fmt_wad(t.oracle_price),
         fmt_percent(Decimal(t.price) / Decimal(t.oracle_price) - 1, 1), fmt_wad(t.collateral, 4), fmt_wad(t.paid),
         fmt_wad(t.returned, 4) if t.finished else "(open)", fmt_wad(t.bad_debt)]
        for t in report.takes
    ]
    say(*table(["auction", "price", "oracle", "vs oracle", "WETH bought", "kUSD paid", "WETH returned", "bad debt"],
               rows, align="rrrrrrrr"))
    if report.resets:
        say(f"  resets: auctions {', '.join(map(str, report.resets))}")
    still = [s.auction_id for s in admin.auction_statuses(started) if s.active]
    say(f"  auctions still running: {', '.join(map(str, still)) or 'none'}; leftover WETH returned into the vaults: "
        f"{fmt_wad(sum(t.returned for t in report.takes), 4)}")
    bad_before = admin.bad_debt()
    surplus_before = admin.surplus()
    uncovered = sum(t.bad_debt for t in report.takes)
    say(f"  bad debt {fmt_rad(bad_before, 4)} kUSD (auction shortfall {fmt_wad(uncovered, 4)} + keeper rewards "
        f"{fmt_wad(sum(lq.reward for lq in report.liquidations), 4)}); surplus {fmt_rad(surplus_before, 4)} "
        "(fees + penalties)")
    receipt = admin.settle_bad_debt()
    say(f"  settle_bad_debt(): bad debt {fmt_rad(admin.bad_debt(), 4)}, surplus {fmt_rad(admin.surplus(), 4)} kUSD"
        f"   (gas {receipt['gasUsed']:,})")
    _ok, lines = _invariant_lines(admin.ledger_check(), admin.collateral_check())
    say(*lines)
    return report


def _shutdown(
    admin: KeelClient, deployer: Sender, accounts: list[str], names: dict[str, str], say: Callable[..., None],
) -> SettlementReport:
    """Shut down, settle every vault and lot at frozen prices, let every holder redeem."""
    report = SettlementReport()
    symbols = {e.collateral_type: e.symbol for e in admin.manifest.collateral}
    receipt = admin.shutdown()
    for type_id, symbol in symbols.items():
        report.frozen[symbol] = admin.frozen_price(type_id)
    say(f"  the deployer (ROLE_SHUTDOWN_ADMIN) calls shutdown() (gas {receipt['gasUsed']:,}): rates frozen, "
        "auctions stopped, prices frozen at",
        "    " + ", ".join(f"{s} {fmt_wad(p)}" for s, p in report.frozen.items()))
    supply = int(admin.settlement.functions.supply_at_shutdown().call())
    say(f"  kUSD outstanding at shutdown: {fmt_wad(supply, 4)} (no borrow, repay, take or reward can change it now)")
    # running lots first, then every vault with debt
    running = [s.auction_id for s in admin.auction_statuses(range(1, admin.auction_count() + 1)) if s.active]
    for auction_id in running:
        admin.cancel_auction(auction_id)
    report.cancelled_auctions = len(running)
    open_ids = admin.open_vault_ids()
    with_debt = [v.vault_id for v in admin.vaults_info(open_ids) if v.normalized_debt]
    settled_events = []
    for receipt in admin.settle_vaults(with_debt):
        settled_events += admin.settlement.events.VaultSettled().process_receipt(receipt, errors=DISCARD)
    report.settled_vaults = len(settled_events)
    shortfall = sum(int(e["args"]["shortfall"]) for e in settled_events)
    say(f"  anyone settles: {len(running)} running auction(s) cancelled, {report.settled_vaults} vaults with debt "
        f"settled at the frozen prices (shortfall {fmt_wad(shortfall, 6)} collateral)")
    for type_id, symbol in symbols.items():
        admin.finalize(type_id)
        report.pools[symbol] = int(admin.settlement.functions.pool(type_id).call())
    say("  finalize(type) fixes each pool: " + ", ".join(f"{s} {fmt_wad(p, 6)}" for s, p in report.pools.items()))
    # every holder hands in all its kUSD and claims each type
    rows = []
    for address in accounts:
        balance = int(admin.debt_token.functions.balanceOf(address).call())
        if balance == 0:
            continue
        who = names.get(address, short_address(address))
        holder = admin.as_sender(deployer.with_address(address))
        holder.redeem(balance)
        report.redeemed[who] = balance
        report.claims[who] = {}
        for type_id, symbol in symbols.items():
            if holder.claimable(type_id):
                holder.claim(type_id)
            report.claims[who][symbol] = int(admin.settlement.functions.claimed(address, type_id).call())
        rows.append([who, fmt_wad(balance, 2)] + [fmt_wad(report.claims[who][s], 6) for s in symbols.values()])
    say("", *table(["holder", "kUSD redeemed"] + [f"{s} claimed" for s in symbols.values()], rows,
                   align="lr" + "r" * len(symbols)))
    # vault owners take back what their debt did not need
    freed = {s: 0 for s in symbols.values()}
    margin_module = admin.margin.address
    for v in admin.vaults_info(admin.vault_ids()):  # closed vaults too: a cancelled lot may refill one
        if v.collateral:
            holder_address = v.owner
            if v.owner == margin_module:
                # a margin account whose options all settled: its owner takes the vault back first
                holder_address, positions, _ = admin.margin.functions.account(v.vault_id).call()
                if positions:
                    continue
                admin.as_sender(deployer.with_address(holder_address))._tx(
                    admin.margin.functions.release_account(v.vault_id))
            owner = admin.as_sender(deployer.with_address(holder_address))
            owner.close(v.vault_id)
            freed[symbols[v.collateral_type]] += v.collateral
    say("  vault owners close their settled vaults and take back the rest: "
        + ", ".join(f"{s} {fmt_wad(a, 4)}" for s, a in freed.items()))
    ok = True
    for type_id, symbol in symbols.items():
        claimed = sum(c[symbol] for c in report.claims.values())
        left = int(admin.engine.functions.type_collateral_settled(type_id).call())
        report.remainders[symbol] = left
        type_ok = left == report.pools[symbol] - claimed and claimed <= report.pools[symbol]
        ok = ok and type_ok
        say(f"  invariant 5 {symbol}: pool {fmt_wad(report.pools[symbol], 6)} = claimed {fmt_wad(claimed, 6)} + "
            f"unclaimable remainder {left} wei -> {'OK' if type_ok else 'FAIL'}")
    ledger_ok, lines = _invariant_lines(admin.ledger_check(), admin.collateral_check())
    say(*lines)
    report.invariant_ok = ok and ledger_ok
    return report


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def _vault_table(
    client: KeelClient, names: dict[str, str], symbols: dict[int, str], vaults: list[VaultInfo] | None = None
) -> list[str]:
    if vaults is None:
        vaults = client.vaults_info(client.open_vault_ids())
    margin_module = client.margin.address

    def owner_name(v: VaultInfo) -> str:
        if v.owner == margin_module:  # a portfolio-margin account: the module holds it for its owner
            holder = client.margin.functions.account(v.vault_id).call()[0]
            return f"{names.get(holder, short_address(holder))} (margin)"
        return names.get(v.owner, short_address(v.owner))

    rows = [
        [v.vault_id, owner_name(v), symbols.get(v.collateral_type, v.collateral_type),
         fmt_wad(v.collateral, 4), fmt_wad(v.debt, 2), fmt_wad(v.collateral_value, 2), fmt_ratio(v.collateral_ratio),
         "yes" if v.safe else "NO"]
        for v in vaults
    ]
    return table(["vault", "owner", "type", "collateral", "debt kUSD", "value kUSD", "ratio", "safe"], rows,
                 align="rllrrrrl")


__all__ = ["run_scenario", "ScenarioResult", "RAY"]

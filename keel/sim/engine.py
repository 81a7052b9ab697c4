"""The Monte Carlo engine: a book built once, many price paths from its snapshot, on either
backend of the chain interface (:mod:`keel.backends`: titanoboa in process, the default, or
an Anvil node over JSON-RPC).

:class:`SimBook` deploys the whole protocol with :class:`keel.fuzz.system.System` (the fuzz
suite's deployment: same contracts, same bytecode, same accounts, block times from the
caller), applies the run's :class:`Params` (liquidation ratio, penalty, auction curve, caps,
keeper latency) through the admin setters, opens a book of vaults drawn from a
:class:`BookSpec`, a market for the collateral (``MockMarket``: it buys at the path's price,
the DEX the keeper sells into) and the keeper's ``KeeperTaker``, and takes a snapshot.
:meth:`SimBook.run` reverts to that snapshot and walks one path:

* at each point of the path the market moves to the path's price and the three reporters
  report it; the ``PriceFeed`` follows its delay, poked when due. With
  ``Params.market_depth`` the market is a constant-product curve (``ConstantProductMarket``)
  instead: the keeper's sales move its price, the reporters re-report the moved price every
  ``REPORT_EVERY`` seconds (the margin-call feedback loop) and the next point re-balances it;
* every ``Params.keeper_interval`` seconds the keeper acts, with the *same rules* as the
  production bot (:mod:`keel.keeper.strategy`: which vaults to liquidate and in which order
  within the caps' room, which lots to reset, which to take and at what price): only its
  reads and sends go through the backend instead of web3. It finds candidates from a mirror
  of the book (collateral and debt at the book's rate) within a 3 % band of unsafe, confirms
  them with ``VaultLens.vaults_info`` and liquidates with ``Liquidator.liquidate_many``; it
  takes a lot with ``KeeperTaker.flash_take`` (selling into the market) when the market pays
  more than the lot costs plus gas;
* with option writers (``BookSpec.writers``: ``PortfolioMargin`` accounts), the keeper also
  liquidates the under-margined ones by the bot's margin rules (``strategy.plan_margin``):
  it starts their ramps and takes their shorts over once the ramp pays beyond the mark
  (:meth:`_RunState._margin`); ``Params.liquidate_writers=False`` only measures them;
* after the path the clock keeps moving at the last price for the oracle's delay and jump
  confirmation, then until every lot has ended (or ``drain_seconds``).

The loss of a run is the protocol's: the debt that finished lots left uncovered (the engine's
``bad_debt`` rises by it at the lot's last take; keeper incentives, which also land there,
are not counted) plus the debt still uncovered in lots running at the end.

Deterministic: the book, the path, the clock and every transaction are fixed by the seeds,
so the same run gives the same loss on titanoboa and on Anvil (tests/integration/test_sim_backends.py).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ..artifacts import load_artifact
from ..backends import Backend, BackendError, Handle, make_backend
from ..client import AuctionStatus, MarginHealth, VaultInfo, _from_struct, struct_fields
from ..fuzz import system as fs
from ..keeper import strategy as st
from ..oracle import PricePoint

WAD = 10**18
RAY = 10**27
GWEI = 10**9
MAX_UINT256 = 2**256 - 1
DAY = 86_400
DEFAULT_LIQUIDATION_RATIO = fs.LIQUIDATION_RATIO / WAD  # 1.5, the deployment's
FEE_PER_GAS = 2 * GWEI  # wei the keeper's transactions pay per gas (its profitability rule)
CANDIDATE_BAND = 1_002  # per mille: the mirror flags a vault within 0.2 % of unsafe for a lens check
MAX_CANDIDATES = 100  # vaults confirmed by the lens per tick (worst first; the caps bound the rest)
MAX_LENS_BATCH = 100  # VaultLens.vaults_info
MAX_LIQUIDATION_BATCH = 50  # Liquidator.liquidate_many
MAX_STATUS_BATCH = 50  # DutchAuction.statuses
REPORT_EVERY = 600  # seconds: with market impact, reporters re-report the curve's price this often


@dataclass(frozen=True)
class BookSpec:
    """A population of WETH vaults. Collateral ratios are drawn between ``ratios`` (uniform,
    or ``skewed``: u**2, crowding vaults toward the floor, as borrowers who lever up do);
    sizes log-uniform between ``sizes`` whole ETH. ``seed`` fixes the draw."""

    vaults: int = 500
    seed: int = 1
    ratios: tuple[float, float] = (1.6, 3.0)
    sizes: tuple[float, float] = (1.0, 40.0)  # whole ETH
    distribution: str = "uniform"  # uniform | skewed
    writers: int = 0  # option writers: PortfolioMargin accounts writing 30-day WETH options
    writer_debt: float = 0.0  # share of each writer's borrowing room (value - debt - initial) borrowed

    def draw_writers(self) -> list[tuple[int, bool, int, int]]:
        """(collateral WAD, is_call, strike % of spot, options per ETH) per writer: sizes
        as the vaults', a put at 85-95 % or a call at 105-115 % of spot, 2-8 options per ETH
        of collateral (a write the initial margin refuses is halved until it passes)."""
        rng = random.Random(self.seed * 7_919 + 1)
        out = []
        for _ in range(self.writers):
            size = math.exp(rng.uniform(math.log(self.sizes[0]), math.log(self.sizes[1])))
            is_call = rng.random() < 0.5
            strike_pct = rng.choice((105, 110, 115) if is_call else (85, 90, 95))
            out.append((int(size * 1_000) * WAD // 1_000, is_call, strike_pct, rng.randint(2, 8)))
        return out

    def draw(self, ratio_scale: float = 1.0) -> list[tuple[int, int]]:
        """(collateral WAD, debt WAD) per vault at the deployed WETH price; the drawn ratios
        times ``ratio_scale`` (a book under another liquidation ratio keeps its buffer)."""
        if self.distribution not in ("uniform", "skewed"):
            raise ValueError(f"distribution {self.distribution!r}: uniform or skewed")
        rng = random.Random(self.seed)
        low, high = self.ratios
        if not 1.0 < low <= high:
            raise ValueError("ratios: need 1 < low <= high")
        price = fs.TYPES[0].price
        out = []
        for _ in range(self.vaults):
            u = rng.random()
            ratio = (low + (high - low) * (u * u if self.distribution == "skewed" else u)) * ratio_scale
            size = math.exp(rng.uniform(math.log(self.sizes[0]), math.log(self.sizes[1])))
            collateral = int(size * 1_000) * WAD // 1_000
            debt = int(collateral * price // WAD / ratio) // WAD * WAD  # whole kUSD, rounded down
            out.append((collateral, max(debt, fs.DUST)))
        return out


@dataclass(frozen=True)
class Params:
    """Risk parameters of the WETH type and the keeper's latency (the sweepable knobs).
    ``None`` keeps the deployment's value (keel/fuzz/system.py)."""

    liquidation_ratio: float | None = None  # e.g. 1.5
    penalty: float | None = None  # e.g. 1.13
    curve_tau: int | None = None  # seconds for the linear curve to reach zero
    curve_buf: float | None = None  # start price / oracle price
    type_limit: float | None = None  # kUSD of WETH vault debt in auction at once
    keeper_interval: int = 300  # seconds between keeper ticks
    market_depth: float | None = None  # kUSD on a constant-product curve (market impact); None: none
    liquidate_writers: bool = True  # the keeper liquidates under-margined writers (False: only measured)

    def label(self) -> str:
        set_ = {k: v for k, v in asdict(self).items()
                if v is not None and k not in ("keeper_interval", "liquidate_writers")}
        parts = [f"{k}={v}" for k, v in set_.items()]
        if not self.liquidate_writers:
            parts.append("writers not liquidated")
        return ", ".join(parts + [f"keeper every {self.keeper_interval} s"])


@dataclass
class TakeRecord:
    offset: int  # seconds into the path
    auction_id: int
    price: int  # WAD paid per unit (the lot's price when taken)
    oracle: int  # WAD, the feed's current price then
    market: int  # WAD, the path's price then
    bought: int  # WAD collateral
    profit: int  # WAD, to the keeper


@dataclass
class RunResult:
    """One path's outcome (all amounts WAD unless named otherwise)."""

    run: int
    seed: int
    points: int
    start_price: int
    low_price: int
    book_debt: int
    loss: int = 0  # uncovered debt of finished lots + debt of lots still running
    bad_debt: int = 0  # of finished lots
    open_lot_debt: int = 0  # still uncovered in lots running at the end
    liquidated: int = 0  # vaults
    partial: int = 0  # vaults liquidated only in part (the caps' room)
    saved: int = 0  # of those, safe with debt left at the end
    lots: int = 0
    lots_open_at_end: int = 0
    resets: int = 0
    writers_below_maintenance: int = 0  # option writers' accounts unhealthy at the lowest price
    writer_shortfall: int = 0  # WAD: what under-water writer accounts lack (debt + shorts - assets) then
    writers_below_maintenance_end: int = 0  # writer accounts still unhealthy when the run ends
    writer_shortfall_end: int = 0  # WAD: what under-water writer accounts lack when the run ends
    margin_starts: int = 0  # PortfolioMargin.start_liquidation calls by the keeper
    margin_takeovers: int = 0  # PortfolioMargin.liquidate / liquidate_debt steps by the keeper
    margin_debt_repaid: int = 0  # WAD: writers' debt the keeper repaid (liquidate_debt)
    writers_liquidated: int = 0  # writer accounts the keeper took positions or debt from
    margin_profit: int = 0  # WAD: value received - value given up in margin liquidations (oracle, mark)
    keeper_profit: int = 0  # rewards + take profits - gas at FEE_PER_GAS
    keeper_gas: int = 0  # gas units
    first_liquidation: int = -1  # seconds into the path
    last_lot_end: int = -1  # seconds into the path
    ticks: int = 0
    takes: list[TakeRecord] = field(default_factory=list)
    ratios: list[tuple[int, list[float]]] = field(default_factory=list)  # (offset, collateral ratios)
    prices: list[tuple[int, int, int]] = field(default_factory=list)  # (offset, market WAD, oracle WAD)
    seconds: float = 0.0

    @property
    def time_to_clear(self) -> int:
        if self.first_liquidation < 0 or self.last_lot_end < 0:
            return 0
        return self.last_lot_end - self.first_liquidation

    def summary(self) -> dict[str, Any]:
        """Plain numbers (kUSD floats) without the per-take and per-step series."""
        data = {k: v for k, v in asdict(self).items() if k not in ("takes", "ratios", "prices")}
        for key in ("start_price", "low_price", "book_debt", "loss", "bad_debt", "open_lot_debt", "keeper_profit",
                    "writer_shortfall", "writer_shortfall_end", "margin_profit", "margin_debt_repaid"):
            data[key] = data[key] / WAD
        data["time_to_clear"] = self.time_to_clear
        data["takes"] = len(self.takes)
        return data


def _struct_names(contract: str, function: str) -> list[str]:
    """Component names of the struct ``contract.function`` returns (its build artifact)."""
    return struct_fields(load_artifact(contract), function)  # type: ignore[arg-type]  # any object with .abi


class MarketPricing:
    """What ``MockMarket.sell`` pays: token units x price // unit (the keeper's quote)."""

    name = "market"

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.price = 0  # WAD, set each tick

    def proceeds(self, collateral_type: int, amount: int) -> int | None:
        units = amount // self.scale
        return units * self.scale * self.price // WAD

    def prefetch(self, items: Any) -> None:
        return None


class QuotePricing:
    """What the market's ``quote`` says a sale pays now (a curve with price impact)."""

    name = "quote"

    def __init__(self, book: "SimBook") -> None:
        self.book = book

    def proceeds(self, collateral_type: int, amount: int) -> int | None:
        s = self.book.s
        return int(s.view(self.book.market, "quote", amount // self.book.weth.scale))

    def prefetch(self, items: Any) -> None:
        return None


class SimBook:
    """The protocol, a book and a keeper on one backend, ready to run paths from a snapshot."""

    def __init__(self, book: BookSpec, params: Params = Params(), backend: str | Backend = "boa") -> None:
        self.spec, self.params = book, params
        self.backend = make_backend(backend, accounts=12) if isinstance(backend, str) else backend
        s = self.s = fs.System(self.backend)
        self.weth = s.types[0]
        self.keeper = s.accounts[fs.KEEPER]
        self.type_names = _struct_names("VaultLens", "collateral_type_info")
        self._apply(params)
        tid = self.weth.type_id
        # the keeper's economics: the same rules as the bot's (keel/keeper/strategy.py)
        info = self.type_info()
        penalty = int(info["liquidation_penalty"])
        # the ratio the mirror compares with: the liquidation ratio plus the most the
        # volatility margin may add (the lens decides; the mirror only picks candidates)
        self.required = int(info["liquidation_ratio"]) * (10_000 + int(info["volatility_cap_bps"])) // 10_000
        flat, percent, cap = s.view(s.liquidator, "reward", tid)
        self.type_static = dict(collateral_type=tid, symbol="WETH", scale=self.weth.scale, penalty=penalty,
                                reward_flat=flat, reward_percent=percent, reward_cap=cap,
                                token=self.weth.token.address, flash=True)
        # the book: borrowers 4-6 open the vaults in turn (one owner may hold many vaults)
        self.vaults: list[tuple[int, int, int]] = []  # (vault id, collateral WAD, normalized debt WAD)
        # borrowers keep their buffer over the liquidation ratio: with another ratio than
        # the deployment's 1.5, the drawn ratios scale with it
        drawn = book.draw((params.liquidation_ratio or DEFAULT_LIQUIDATION_RATIO) / DEFAULT_LIQUIDATION_RATIO)
        for i, borrower in enumerate(fs.BORROWERS):
            share = sum(c for j, (c, _) in enumerate(drawn) if j % len(fs.BORROWERS) == i)
            if share:
                s.must(borrower, self.weth.token, "mint", s.accounts[borrower], share)
        rate = int(self.type_info()["rate"])
        for j, (collateral, debt) in enumerate(drawn):
            borrower = fs.BORROWERS[j % len(fs.BORROWERS)]
            vault_id = s.must(borrower, s.engine, "open_vault", tid, collateral, debt)
            self.vaults.append((vault_id, collateral, -(-debt * RAY // rate)))
        self.book_debt = sum(d for _, d in drawn)
        # the market the keeper sells into, funded from a deep WBTC vault of the deployer
        wbtc = s.types[1]
        funding = max(2 * self.book_debt + 1_000_000 * WAD, 2 * int(params.market_depth or 0) * WAD)
        units = -(-2 * funding // wbtc.spec.price) + 1
        s.fund(fs.DEPLOYER, wbtc, units)
        s.must(fs.DEPLOYER, wbtc.token, "approve", s.engine.address, MAX_UINT256)
        s.must(fs.DEPLOYER, s.engine, "open_vault", wbtc.type_id, units * 10**wbtc.spec.decimals, funding)
        if params.market_depth:
            # market impact: the keeper's sales move the curve's price; the reporters report it
            self.market = s._deploy_one("ConstantProductMarket", self.weth.token.address, s.debt_token.address,
                                        self.weth.spec.decimals, self.weth.spec.price,
                                        int(params.market_depth) * WAD)
        else:
            self.market = s._deploy_one("MockMarket", self.weth.token.address, s.debt_token.address,
                                        self.weth.spec.decimals, self.weth.spec.price)
        s.must(fs.DEPLOYER, s.debt_token, "transfer", self.market.address, funding)
        self.taker = s._deploy_one("KeeperTaker", s.auction.address, s.debt_token.address, s.deployer)
        s.must(fs.DEPLOYER, self.taker, "set_roles", self.keeper, 1)
        drawn_writers = book.draw_writers()
        self.writers = self._open_writers(drawn_writers)
        self.health_names = _struct_names("PortfolioMargin", "health")
        self.position_names = _struct_names("PortfolioMargin", "positions")
        self.dust = int(self.type_info()["dust"])  # WAD: WETH's least debt
        self.writer_debt = self._borrow_against_writers(book.writer_debt)  # WAD kUSD
        if self.writers:
            self._fund_margin_keeper(drawn_writers, self.writer_debt)
            names = struct_fields(load_artifact("PortfolioMargin"), "params")  # type: ignore[arg-type]
            margin_params = dict(zip(names, s.view(s.margin, "params")))
            self.margin_params = st.MarginParams(int(margin_params["ramp_seconds"]),
                                                 int(margin_params["max_bonus_bps"]))
        self.vault_names = _struct_names("VaultLens", "vaults_info")
        self.status_names = _struct_names("DutchAuction", "statuses")
        self.keeper_balance = s.view(s.debt_token, "balanceOf", self.keeper)
        self.rate = int(self.type_info()["rate"])  # RAY, stored at the snapshot: every run starts from it
        self.start_time = s.now
        self.snapshot = self.backend.snapshot()

    # -- set-up
    def _apply(self, p: Params) -> None:
        s, tid, me = self.s, self.weth.type_id, fs.DEPLOYER
        if p.liquidation_ratio is not None:
            s.must(me, s.engine, "set_liquidation_ratio", tid, int(round(p.liquidation_ratio * 10_000)) * WAD // 10_000)
        if p.penalty is not None:
            s.must(me, s.engine, "set_liquidation_penalty", tid, int(round(p.penalty * 10_000)) * WAD // 10_000)
        if p.curve_tau is not None or p.curve_buf is not None:
            kind, buf, tau, step, cut, tail, cusp = self.weth.spec.curve
            if p.curve_buf is not None:
                buf = int(round(p.curve_buf * 10_000)) * WAD // 10_000
            if p.curve_tau is not None:
                tau, tail = p.curve_tau, max(tail, p.curve_tau)
            s.must(me, s.auction, "set_curve", tid, (kind, buf, tau, step, cut, tail, cusp))
        if p.type_limit is not None:
            s.must(me, s.liquidator, "set_type_limit", tid, int(p.type_limit) * WAD)
        if p.keeper_interval <= 0:
            raise ValueError("keeper_interval: seconds, > 0")

    def _open_writers(self, drawn: Sequence[tuple[int, bool, int, int]]) -> list[int]:
        """Margin accounts (owned by the fuzz deployment's writer) that write the options
        ``BookSpec.draw_writers`` drew to the holder; their vault ids."""
        s, weth = self.s, self.weth
        if not drawn:
            return []
        expiry = (s.now + 30 * DAY) // DAY * DAY + 8 * 3_600
        series: dict[tuple[bool, int], int] = {}
        accounts = []
        s.must(fs.WRITER, weth.token, "mint", s.accounts[fs.WRITER], sum(c for c, *_ in drawn))
        for collateral, is_call, strike_pct, per_eth in drawn:
            key = (is_call, strike_pct)
            if key not in series:
                strike = weth.spec.price * strike_pct // 100 // 10**16 * 10**16
                series[key] = s.must(fs.HOLDER, s.house, "create_series", weth.type_id, strike, expiry, is_call)
            vault_id = s.must(fs.WRITER, s.margin, "open_account", weth.type_id, collateral)
            amount = collateral * per_eth // WAD * WAD
            while amount >= WAD and not s.tx(fs.WRITER, s.margin, "write", vault_id, series[key], amount,
                                              s.accounts[fs.HOLDER]).ok:
                amount = amount // 2 // WAD * WAD
            accounts.append(vault_id)
        return accounts

    def _borrow_against_writers(self, share: float) -> int:
        """Each writer account borrows ``share`` of its borrowing room after writing (value -
        debt - initial margin, at the oracle), in whole kUSD, when that reaches the type's
        dust; the writer keeps the kUSD. The debt borrowed in all, WAD."""
        if not 0.0 <= share < 1.0:
            raise ValueError("writer_debt: a share of the borrowing room, 0 <= share < 1")
        if not share or not self.writers:
            return 0
        s, dust = self.s, self.dust
        total = 0
        for vault_id, health in self.margin_health(self.writers).items():
            room = health.value - health.debt - health.initial
            amount = int(room * share) // WAD * WAD if room > 0 else 0
            if amount >= dust and s.tx(fs.WRITER, s.margin, "borrow", vault_id, amount, s.accounts[fs.WRITER]).ok:
                total += amount
        return total

    def _fund_margin_keeper(self, drawn: Sequence[tuple[int, bool, int, int]], debt: int = 0) -> None:
        """The keeper takes over the writers' shorts in their liquidation ramps: it writes the
        same options in the house first (covered calls: WETH; cash-secured puts: strike in
        kUSD), or repays their debt. Enough of all for every writer's largest possible
        position and all of ``debt`` (WAD kUSD the writers borrowed)."""
        s, weth = self.s, self.weth
        calls = sum(c * per_eth for c, is_call, _, per_eth in drawn if is_call)  # WAD options
        puts = sum(c * per_eth * pct // 100 for c, is_call, pct, per_eth in drawn if not is_call)  # WAD ETH
        s.fund(fs.KEEPER, weth, calls // WAD + 1)
        need = puts * weth.spec.price // WAD + debt + 1_000 * WAD  # WAD kUSD: every put's strike, the debt
        have = s.view(s.debt_token, "balanceOf", self.keeper)
        if need > have:
            wbtc = s.types[1]
            units = -(-3 * (need - have) // wbtc.spec.price) + 1
            s.fund(fs.KEEPER, wbtc, units)
            s.must(fs.KEEPER, s.engine, "open_vault", wbtc.type_id, units * 10**wbtc.spec.decimals, need - have)

    def margin_health(self, ids: Sequence[int]) -> dict[int, MarginHealth]:
        """``PortfolioMargin.health`` of each account now, by vault id."""
        return {v: _from_struct(MarginHealth, self.health_names, self.s.view(self.s.margin, "health", v))
                for v in ids}

    def writer_health(self) -> list[tuple[int, int, int, bool]]:
        """(value, debt, maintenance, healthy) of every writer account now, WAD."""
        return [(h.value, h.debt, h.maintenance, h.healthy) for h in self.margin_health(self.writers).values()]

    def type_info(self) -> dict[str, Any]:
        """``VaultLens.collateral_type_info`` of WETH, by field name."""
        info = self.s.view(self.s.lens, "collateral_type_info", self.weth.type_id)
        return dict(zip(self.type_names, info))

    # -- one path
    def run(self, path: Sequence[PricePoint], run: int = 0, seed: int = 0, drain_seconds: int = 6 * 3_600,
            series: bool = False) -> RunResult:
        """Walk ``path`` from the book's snapshot (its returns applied to the deployed price)
        and return what happened; with ``series``, also the price and collateral-ratio series
        (for charts)."""
        started = time.monotonic()
        b, s = self.backend, self.s
        b.revert(self.snapshot)
        self.snapshot = b.snapshot()
        s.now = self.start_time
        b.set_time(s.now)
        base = path[0].price
        start_price = self.weth.spec.price
        scaled = [(p.offset, int(start_price * p.price / base)) for p in path]
        result = RunResult(run, seed, len(scaled), start_price, min(p for _, p in scaled), self.book_debt)
        state = _RunState(self, result, series)
        t0 = s.now
        interval = self.params.keeper_interval
        for i, (offset, price) in enumerate(scaled):
            state.market_price = price
            s.must(fs.DEPLOYER, self.market, "set_price", price)
            if not s.report(self.weth, price):
                state.last_poke = s.now  # every report and the poke went through
            state.last_report = s.now
            end = scaled[i + 1][0] if i + 1 < len(scaled) else offset
            while s.now - t0 < end:
                s.tick(min(interval, end - (s.now - t0)))
                state.tick(s.now - t0)
            if i + 1 == len(scaled):
                state.tick(s.now - t0)
        # the oracle needs its delay (and a jump's confirmation) to reach the last price:
        # the clock runs at least that long, then on while lots are running
        drained = 0
        settle = fs.FEED["delay"] + fs.FEED["confirm_delay"] + interval
        last = scaled[-1][1]
        while (drained < settle or state.active) and drained < drain_seconds:
            s.tick(interval)
            drained += interval
            if drained % 1_800 < interval and not s.report(self.weth, last):
                state.last_poke = s.now
            state.tick(s.now - t0)
        state.finish(s.now - t0)
        result.seconds = time.monotonic() - started
        return result


@dataclass
class _RunState:
    """The keeper's view during one run and the tallies."""

    book: SimBook
    result: RunResult
    series: bool
    market_price: int = 0
    active: list[int] = field(default_factory=list)  # auction ids running
    mirror: dict[int, tuple[int, int]] = field(default_factory=dict)  # vault id -> (collateral, normalized debt)
    touched: set[int] = field(default_factory=set)
    lot_debt: dict[int, int] = field(default_factory=dict)
    lots_seen: int = 0  # the auction's lot count when last read (every lot is this run's)
    price: int | None = None  # WAD, the feed's current price as last read
    fresh: bool = False
    last_poke: int = 0
    last_report: int = 0
    writer_low: int | None = None  # WAD: the feed price the writers were last measured at
    writer_check: int | None = None  # WAD: the feed price all writer accounts were last screened at
    watch: set[int] = field(default_factory=set)  # writer accounts unhealthy at the last screen
    liquidated_writers: set[int] = field(default_factory=set)
    margin_locked: int = 0  # WAD kUSD the keeper locked in the house writing puts to take over shorts

    def __post_init__(self) -> None:
        self.mirror = {v: (c, d) for v, c, d in self.book.vaults}
        self.impact = bool(self.book.params.market_depth)
        self.pricing: Any = QuotePricing(self.book) if self.impact else MarketPricing(self.book.weth.scale)
        self.settings = st.Settings()
        self.rate = self.book.rate

    def _send(self, handle: Handle, fn: str, *args: Any) -> Any:
        """A keeper transaction; its gas counts against the keeper's profit."""
        result = self.book.s.tx(fs.KEEPER, handle, fn, *args)
        self.result.keeper_gas += result.gas
        self.result.keeper_profit -= result.gas * FEE_PER_GAS * self.market_price // WAD
        return result

    def _batched(self, handle: Handle, fn: str, ids: Sequence[int], batch: int, cls: type,
                 names: Sequence[str]) -> list[Any]:
        """``fn(ids)`` in calls of at most ``batch`` ids, each struct as a ``cls``."""
        out = []
        for start in range(0, len(ids), batch):
            out += [_from_struct(cls, names, v) for v in self.book.s.view(handle, fn, list(ids[start:start + batch]))]
        return out

    def _vaults(self, ids: Sequence[int]) -> list[VaultInfo]:
        return self._batched(self.book.s.lens, "vaults_info", ids, MAX_LENS_BATCH, VaultInfo, self.book.vault_names)

    def _statuses(self, ids: Sequence[int]) -> list[AuctionStatus]:
        return self._batched(self.book.s.auction, "statuses", ids, MAX_STATUS_BATCH, AuctionStatus,
                             self.book.status_names)

    def tick(self, offset: int) -> None:
        book, s, r = self.book, self.book.s, self.result
        r.ticks += 1
        if self.impact:
            # the keeper's sales have moved the curve: the reporters see and report its price
            self.market_price = int(s.view(book.market, "price"))
            if s.now - self.last_report >= REPORT_EVERY:
                if not s.report(book.weth, self.market_price):
                    self.last_poke = s.now
                self.last_report = s.now
        # the feed moves to its next price when its delay has passed since the last poke
        poked = False
        if s.now - self.last_poke >= fs.FEED["delay"]:
            poked = s.tx(fs.REPORTERS[0], book.weth.feed, "poke").ok
            if poked:
                self.last_poke = s.now
        # the price only changes at a poke; freshness matters only when there is something
        # to act on, so the feed is read after a poke or when vaults or lots need a decision
        read = poked or self.price is None
        if read:
            self.price, self.fresh = s.view(book.weth.feed, "peek")
        measured = None  # writer healths read this tick (at a new 5 % low)
        new_low = self.writer_low is None or self.price * 100 < self.writer_low * 95
        if read and book.writers and self.fresh and new_low:
            measured = self._check_writers()
        if book.writers and self.fresh and book.params.liquidate_writers:
            self._margin(int(self.price), measured)
        candidates = self._candidates(self.price)
        if not candidates and not self.active:
            self._record(offset)
            return
        if not read:
            self.price, self.fresh = s.view(book.weth.feed, "peek")
            candidates = self._candidates(self.price)
        price, fresh = self.price, self.fresh
        self.pricing.price = self.market_price
        self._record(offset)
        type_limit, type_debt, global_limit, global_debt = s.view(s.liquidator, "room", book.weth.type_id)
        t = st.TypeState(price=int(price), fresh=bool(fresh) and price != 0,
                         room=max(0, type_limit - type_debt), **book.type_static)
        econ = st.Economics(FEE_PER_GAS, self.market_price)
        # liquidations: candidates from the mirror, worst first, as many as the caps' room
        # can take (plus one, liquidated in part), confirmed by the lens
        global_room = max(0, global_limit - global_debt)
        room = min(t.room, global_room)
        if candidates and t.fresh and room > 0:
            chosen, debt = [], 0
            for vault_id, _, vault_debt in candidates:
                if debt >= room or len(chosen) == MAX_CANDIDATES:
                    break
                chosen.append(vault_id)
                debt += vault_debt
            plan = st.plan_liquidations(self._vaults(chosen), {t.collateral_type: t}, econ, self.settings,
                                        global_room=global_room)
            for action in plan.actions:
                ids = list(action.vault_ids)[:MAX_LIQUIDATION_BATCH]
                result = self._send(s.liquidator, "liquidate_many", ids, book.keeper)
                if not result.ok:
                    continue
                if r.first_liquidation < 0:
                    r.first_liquidation = offset
                for info in self._vaults(ids):
                    before = self.mirror[info.vault_id]
                    if (info.collateral, info.normalized_debt) != before:
                        r.liquidated += 1
                        self.touched.add(info.vault_id)
                        if info.normalized_debt:
                            r.partial += 1
                    self.mirror[info.vault_id] = (info.collateral, info.normalized_debt)
                count = s.view(s.auction, "auction_count")
                self.active += range(self.lots_seen + 1, count + 1)
                self.lots_seen = count
        # auctions: resets and takes by the bot's rules
        if self.active:
            statuses = self._statuses(self.active)
            for status in statuses:
                self.lot_debt[status.auction_id] = status.debt
            plan = st.plan_auctions(statuses, {t.collateral_type: t}, self.pricing, econ, self.settings, 0)
            by_id = {x.auction_id: x for x in statuses}
            bad_before = None  # RAD: the engine's bad debt before the next take (after the last)
            for action in plan.actions:
                if isinstance(action, st.Reset):
                    if self._send(s.auction, "reset", action.auction_id, book.keeper).ok:
                        r.resets += 1
                    bad_before = None  # a reset's incentive lands there too: not a loss
                elif isinstance(action, st.Take):
                    if bad_before is None:
                        bad_before = s.view(s.engine, "bad_debt")
                    result = self._send(book.taker, "flash_take", action.auction_id, action.amount, action.max_price,
                                        book.market.address, book.weth.token.address, book.weth.scale,
                                        action.min_profit)
                    if not result.ok:  # reverted: nothing changed
                        continue
                    bought, profit = result.value
                    r.keeper_profit += profit
                    r.takes.append(TakeRecord(offset, action.auction_id, by_id[action.auction_id].price, int(price),
                                              self.market_price, bought, profit))
                    bad_after = s.view(s.engine, "bad_debt")
                    r.bad_debt += (bad_after - bad_before) // RAY
                    bad_before = bad_after
            taken = [a.auction_id for a in plan.actions if isinstance(a, st.Take)]
            if taken:
                ended = {x.auction_id for x in self._statuses(taken) if not x.active}
                if ended:
                    r.last_lot_end = offset
                    self.active = [a for a in self.active if a not in ended]

    def _margin(self, price: int, measured: dict[int, MarginHealth] | None = None) -> None:
        """The keeper's margin step, by the production bot's rules (``strategy.plan_margin``):
        start the ramp of each unhealthy writer account, then take its shorts over (writing
        the same options in the house) once the ramp pays beyond their mark. All accounts are
        screened when the feed has moved 2 % since the last screen; the unhealthy ones are
        read every tick until healthy again. ``measured``: healths this tick already read."""
        book, s, r = self.book, self.book.s, self.result
        try:
            if self.writer_check is None or abs(price - self.writer_check) * 50 >= self.writer_check:
                measured = measured or book.margin_health(book.writers)
                self.watch = {v for v, h in measured.items() if not h.healthy}
                self.writer_check = price
            if not self.watch:
                return
            accounts = self._margin_accounts(sorted(self.watch), price, measured or {})
        except BackendError:  # the price went stale since it was read: the next fresh tick acts
            return
        self.watch = {a.vault_id for a in accounts if not a.health.healthy}
        if not self.watch:
            return
        weth = book.weth
        balance = s.view(s.debt_token, "balanceOf", book.keeper)
        collateral = {weth.type_id: s.view(weth.token, "balanceOf", book.keeper) // weth.scale * weth.scale}
        econ = st.Economics(FEE_PER_GAS, self.market_price)
        plan = st.plan_margin(accounts, book.margin_params, s.now, econ, self.settings, balance,
                              collateral=collateral)
        for action in plan.actions:
            if isinstance(action, st.StartMarginLiquidation):
                if self._send(s.margin, "start_liquidation", action.vault_id).ok:
                    r.margin_starts += 1
            elif isinstance(action, st.TakeOverPosition):
                if action.is_short:
                    # hand in the same options, written by the keeper: a covered short of its own
                    wrote = self._send(s.house, "write", action.series_id, action.amount, book.keeper)
                    if not wrote.ok:
                        continue
                    taken = self._send(s.margin, "liquidate", action.vault_id, action.series_id, action.amount,
                                       book.keeper)
                    if not taken.ok:  # give the options back to the house: nothing changed
                        self._send(s.house, "close", action.series_id, action.amount, book.keeper)
                        continue
                    if not action.is_call:
                        self.margin_locked += int(wrote.value)
                    # collateral received (at the oracle) - the short's worth (its mark)
                    r.margin_profit += int(taken.value) * price // WAD - action.mark * action.amount // WAD
                else:
                    taken = self._send(s.margin, "liquidate", action.vault_id, action.series_id, action.amount,
                                       book.keeper)
                    if not taken.ok:
                        continue
                    # options received (at their mark) - the kUSD paid, which counts in the balance
                    r.margin_profit += action.mark * action.amount // WAD
                r.margin_takeovers += 1
                self.liquidated_writers.add(action.vault_id)
            elif isinstance(action, st.LiquidateMarginDebt):
                taken = self._send(s.margin, "liquidate_debt", action.vault_id, action.call_amount, book.keeper)
                if taken.ok:
                    # collateral received (at the oracle); the kUSD repaid counts in the balance
                    r.margin_profit += int(taken.value) * price // WAD
                    r.margin_debt_repaid += action.amount  # as read (in full: plus the fees of a second)
                    r.margin_takeovers += 1
                    self.liquidated_writers.add(action.vault_id)
        r.writers_liquidated = len(self.liquidated_writers)

    def _margin_accounts(self, ids: Sequence[int], price: int,
                         known: dict[int, MarginHealth]) -> list[st.MarginAccount]:
        """What ``plan_margin`` weighs of each account (as the bot's ``read_margin``): health
        (``known`` ones not read again), ramp start, positions; their ramp and mark prices
        while a ramp runs."""
        book, s = self.book, self.book.s
        ramp_seconds = book.margin_params.ramp_seconds
        out = []
        for v in ids:
            health = known.get(v) or book.margin_health([v])[v]
            started = int(s.view(s.margin, "account", v)[2])
            views: list[st.PositionView] = []
            if not health.healthy and st.ramp_running(started, s.now, ramp_seconds):
                for p in s.view(s.margin, "positions", v):
                    p = dict(zip(book.position_names, p))
                    views.append(st.PositionView.of(p, s.view(s.margin, "ramp_price", v, p["series_id"]),
                                                    s.view(s.margin, "mark", p["series_id"])))
            collateral = int(s.view(s.engine, "vault_position", v)[2])
            out.append(st.MarginAccount(v, health, started, book.weth.type_id, tuple(views),
                                        collateral * price // WAD, book.dust))
        return out

    def _check_writers(self) -> dict[int, MarginHealth] | None:
        """The option writers at a new low of the feed (5 % below the last check): how many
        accounts are below maintenance, and what the under-water ones lack (the worst over
        the run; the keeper's margin step, :meth:`_margin`, liquidates them meanwhile)."""
        try:
            health = self.book.margin_health(self.book.writers)
        except BackendError:  # a stale price: the next fresh one measures
            return None
        self.writer_low = self.price
        r = self.result
        below, shortfall = _writer_figures(health.values())
        r.writers_below_maintenance = max(r.writers_below_maintenance, below)
        r.writer_shortfall = max(r.writer_shortfall, shortfall)
        return health

    def _candidates(self, price: int) -> list[tuple[int, float, int]]:
        """(vault id, mirror ratio, debt WAD) of the vaults within the band of unsafe at
        ``price`` by the mirror, worst first: collateral x price x 1000 < debt x required
        ratio x band (both sides WAD^2 x 1000)."""
        limit = price * 1_000
        bar = CANDIDATE_BAND * self.book.required
        rate = self.rate
        out = []
        for v, (c, nd) in self.mirror.items():
            if nd:
                debt = nd * rate // RAY
                if c * limit < debt * bar:
                    out.append((v, c * price / debt, debt))
        out.sort(key=lambda x: (x[1], x[0]))
        return out

    def _record(self, offset: int) -> None:
        if not self.series:
            return
        r = self.result
        r.prices.append((offset, self.market_price, int(self.price or 0)))
        if not r.ratios or offset - r.ratios[-1][0] >= 3_600:
            r.ratios.append((offset, self._ratios(int(self.price or 0))))

    def _ratios(self, price: int) -> list[float]:
        out = []
        for c, nd in self.mirror.values():
            if nd:
                out.append(round(c * price / (nd * self.rate / RAY) / WAD, 4))
        return out

    def finish(self, offset: int) -> None:
        book, s, r = self.book, self.book.s, self.result
        r.lots = s.view(s.auction, "auction_count")
        r.lots_open_at_end = len(self.active)
        r.open_lot_debt = sum(self.lot_debt.get(a, 0) for a in self.active)
        r.loss = r.bad_debt + r.open_lot_debt
        partial = [v for v in self.touched if self.mirror[v][1]]
        if partial:
            r.saved = sum(1 for v in self._vaults(partial) if v.safe and v.normalized_debt)
        # rewards: what liquidations and resets minted to the keeper (its kUSD gain beyond
        # the take profits already counted)
        gained = s.view(s.debt_token, "balanceOf", book.keeper) - book.keeper_balance
        r.keeper_profit += gained - sum(t.profit for t in r.takes)
        if book.writers:
            # margin liquidations: the kUSD locked under puts written is the keeper's still,
            # and what it received beyond what it gave up counts (margin_profit)
            r.keeper_profit += self.margin_locked + r.margin_profit
            try:
                health = book.margin_health(book.writers)
            except BackendError:  # a stale price at the end: leave the end figures at zero
                health = {}
            r.writers_below_maintenance_end, r.writer_shortfall_end = _writer_figures(health.values())


def _writer_figures(healths: Any) -> tuple[int, int]:
    """(accounts below maintenance, WAD their obligations exceed their assets by in all)."""
    healths = list(healths)
    return sum(1 for h in healths if not h.healthy), sum(max(0, h.debt - h.value) for h in healths)


__all__ = ["BookSpec", "MarketPricing", "Params", "RunResult", "SimBook", "TakeRecord"]

"""The liquidation keeper: watch, decide, act, account; again every block.

One :meth:`Keeper.tick`:

1. **discover**: read new engine / auction / margin logs into the index
   (:mod:`keel.keeper.discovery`; cached on disk);
2. **read** in batches (:mod:`keel.keeper.rpc`): each type's oracle price and auction
   room, ``VaultLens.vaults_info`` for every vault with debt (100 per call, 50 calls per
   HTTP request), ``DutchAuction.statuses`` for the running lots, margin health;
3. **decide** (:mod:`keel.keeper.strategy`): liquidations, resets, takes, margin steps,
   each only when it pays for its gas (rewards and prices in debt tokens, gas at the
   current base fee + tip, ETH priced by the WETH oracle or ``eth_price``);
4. **act** through :class:`keel.keeper.txmanager.TxManager` (EIP-1559 fees, own nonces,
   stuck transactions replaced with bumped fees, one transaction per action key, a
   journal on disk) -- or, in dry-run mode, estimate and print what it would send;
5. **account**: rewards (``IncentivePaid`` to the keeper), take profits (KeeperTaker's
   ``FlashTaken``), margin bonuses, gas paid; metrics and the one-line status.

:meth:`Keeper.run` repeats ticks until stopped; an RPC failure (node down, timeout)
is logged and retried with a growing pause, so the bot outlives node restarts.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, TextIO

from web3 import Web3
from web3.contract.contract import Contract
from web3.logs import DISCARD

from ..client import AuctionStatus, KeelClient, MarginHealth, VaultInfo, _from_struct, struct_fields
from ..tx import KeelTxError, Sender
from ..units import MAX_UINT256, WAD
from . import strategy as st
from .discovery import Discovery
from .metrics import Metrics
from .pricing import MarketPricing, OraclePricing, Pricing
from .rpc import RpcError, batch_call, chunks, counters_of
from .txmanager import FeePolicy, GasPriceTooHigh, TxManager, TxResult

LENS_BATCH = 100  # VaultLens.vaults_info / DutchAuction.statuses take at most 100
ROLE_KEEPER = 1  # KeeperTaker's role for flash_take
COOLDOWN_TICKS = 3  # an action refused at estimate is not retried for this many ticks
ETH_SYMBOLS = ("WETH", "ETH")


@dataclass
class KeeperConfig:
    """How the keeper behaves (``keel keeper --help`` has each option)."""

    pricing: str = "market"  # "market": the DEX quote; "oracle": the oracle price less margin_bps
    margin_bps: int = 300  # oracle pricing: the discount to the oracle the keeper insists on
    slippage_bps: int = 50  # market pricing: allowance for the market moving before the take
    markets: dict[int, str] = field(default_factory=dict)  # collateral type -> market address (flash takes)
    taker: str | None = None  # KeeperTaker address (needed for flash takes)
    settings: st.Settings = field(default_factory=st.Settings)
    eth_price: int | None = None  # WAD debt tokens per ETH; None: the WETH oracle
    interval: float = 2.0  # seconds between ticks
    dry_run: bool = False
    state_dir: Path | None = None  # discovery cache and transaction journal
    fees: FeePolicy = field(default_factory=FeePolicy)
    tx_wait: float = 60.0  # seconds a tick waits for its receipts before moving on
    margin: bool = True  # act on portfolio-margin accounts too


@dataclass
class Totals:
    """What this keeper did and earned since it started (WAD debt tokens unless noted)."""

    liquidated: int = 0  # vaults
    skipped: int = 0  # vaults liquidate_many skipped (safe by then, caps full)
    takes: int = 0
    resets: int = 0
    margin_steps: int = 0
    rewards: int = 0  # liquidation rewards + reset incentives
    take_profit: int = 0  # flash-take profits (and direct takes' collateral value - paid)
    margin_profit: int = 0  # collateral value received - debt repaid, margin liquidations
    gas_wei: int = 0  # ETH (wei) paid for gas
    sent: int = 0
    reverted: int = 0  # mined but reverted (a rival was first): cost only gas
    refused: int = 0  # not sent: the estimate reverted or the gas price was above the cap
    errors: int = 0  # ticks lost to RPC errors

    def profit(self, eth_price: int) -> int:
        """Rewards + take and margin profits - gas (at ``eth_price``), WAD."""
        return self.rewards + self.take_profit + self.margin_profit - self.gas_wei * eth_price // WAD


@dataclass
class TickReport:
    block: int = 0
    timestamp: int = 0
    vaults: int = 0  # known
    with_debt: int = 0
    unsafe: int = 0
    auctions: int = 0  # running lots
    accounts: int = 0
    actions: list[str] = field(default_factory=list)  # keys acted on (or, dry run, that would be)
    planned: int = 0
    waiting: int = 0  # lots priced above what the collateral fetches
    unprofitable: int = 0
    no_room: int = 0
    scan_seconds: float = 0.0
    seconds: float = 0.0
    rpc_calls: int = 0  # JSON-RPC calls this tick
    http_requests: int = 0
    results: list[TxResult] = field(default_factory=list)


class EventLog:
    """Structured log lines: JSON objects (``json_lines``) or ``key=value`` text."""

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool = False, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.json_lines = json_lines
        self.quiet = quiet
        self.lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        if self.quiet:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        if self.json_lines:
            line = json.dumps({"ts": stamp, "event": event, **fields}, default=str)
        else:
            line = f"{stamp} {event} " + " ".join(f"{k}={v}" for k, v in fields.items())
        with self.lock:
            print(line, file=self.stream, flush=True)


def _wad_text(value: int, places: int = 2) -> str:
    return f"{Decimal(value) / WAD:,.{places}f}"


class Keeper:
    """A liquidation keeper for one Keel deployment (see the module docstring)."""

    def __init__(
        self,
        client: KeelClient,
        sender: Sender,
        config: KeeperConfig | None = None,
        *,
        events: EventLog | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client.as_sender(sender)
        self.w3: Web3 = client.w3
        self.sender = sender
        self.address = sender.address
        self.config = config or KeeperConfig()
        self.events = events or EventLog(quiet=True)
        self.metrics = metrics or Metrics()
        self.clock = clock
        state_dir = self.config.state_dir
        manifest = client.manifest
        chain_id = manifest.chain_id
        engine = client.engine
        self.discovery = Discovery(
            self.w3, engine=engine, auction=client.auction, margin=self._margin_or_none(),
            start_block=manifest.block,
            cache_path=(state_dir / f"discovery-{chain_id}-{engine.address.lower()}.json") if state_dir else None,
            log=lambda m: self.events("discovery", message=m),
        )
        self.tx = TxManager(
            self.w3, sender, policy=self.config.fees,
            journal=(state_dir / f"journal-{chain_id}-{self.address.lower()}.json") if state_dir else None,
            clock=clock, log=lambda m: self.events("tx", message=m),
        )
        self.totals = Totals()
        self.types_static: dict[int, dict[str, Any]] = {}
        self.cooldown: dict[str, int] = {}
        self.ticks = 0
        self.last: TickReport | None = None
        self.taker: Contract | None = None
        if self.config.taker:
            self.taker = self.w3.eth.contract(address=Web3.to_checksum_address(self.config.taker),
                                              abi=manifest.abi("KeeperTaker"))
        self.pricing = self._pricing()
        self._margin_params: st.MarginParams | None = None
        self._allowed: set[tuple[str, str]] = set()  # (token, spender) with an unlimited allowance
        self._marks: dict[tuple[int, int], int] = {}  # (account, series) -> mark when taken over
        self._eth_price_cache = 0
        self._types: dict[int, st.TypeState] = {}
        self._auction_types: dict[int, int] = {}  # auction id -> collateral type (from status reads)

    # ------------------------------------------------------------------ set-up
    def _margin_or_none(self) -> Contract | None:
        if not self.config.margin or "PortfolioMargin" not in self.client.manifest.contracts:
            return None
        return self.client.margin

    def _pricing(self) -> Pricing:
        oracle = OraclePricing(self._price_of, self.config.margin_bps)
        if self.config.pricing == "oracle":
            return oracle
        if self.config.pricing != "market":
            raise ValueError(f"pricing {self.config.pricing!r}: market or oracle")
        scales = {e.collateral_type: 10 ** (18 - e.decimals) for e in self.client.manifest.collateral}
        # types without a market are taken with the keeper's own debt tokens, priced by the oracle
        return MarketPricing(self.w3, dict(self.config.markets), scales, self.config.slippage_bps, fallback=oracle)

    def _price_of(self, collateral_type: int) -> tuple[int, bool]:
        t = self._types.get(collateral_type)
        if t is not None:
            return t.price, t.fresh
        return self.client.price(collateral_type)

    # ------------------------------------------------------------------ reading
    def _static(self, collateral_type: int) -> dict[str, Any]:
        """Per-type figures that change only by governance (refreshed every 100 ticks)."""
        cached = self.types_static.get(collateral_type)
        if cached is None or self.ticks % 100 == 0:
            info = self.client.collateral_type_info(collateral_type)
            flat, percent, cap = self.client.liquidator.functions.reward(collateral_type).call()
            cached = self.types_static[collateral_type] = {
                "scale": info.token_scale, "penalty": info.liquidation_penalty, "token": info.token,
                "dust": info.dust,
                "flat": int(flat), "percent": int(percent), "cap": int(cap),
            }
        return cached

    def read_types(self) -> tuple[dict[int, st.TypeState], int]:
        """Every listed type's price and auction room, in one batch with the engine's vault
        count and the auction's lot count (ids the logs missed join the index); (types,
        global room)."""
        client = self.client
        entries = list(client.manifest.collateral)
        calls: list[Any] = [client.engine.functions.vault_count(), client.auction.functions.auction_count()]
        for e in entries:
            calls += [client.oracle(e.collateral_type).functions.peek(), client.liquidator.functions.room(e.collateral_type)]
        answers = batch_call(self.w3, calls)
        # ids the logs missed (a node restarted from a state dump may have lost them)
        added = self.discovery.index.reconcile(int(answers[0]), int(answers[1]))
        if added:
            self.events("discovery", message=f"{added} vault or lot ids taken in from the counts (not in the logs)")
        answers = answers[2:]
        types: dict[int, st.TypeState] = {}
        global_room = MAX_UINT256
        for i, e in enumerate(entries):
            (price, fresh), (type_limit, type_debt, global_limit, global_debt) = answers[2 * i], answers[2 * i + 1]
            s = self._static(e.collateral_type)
            global_room = max(0, int(global_limit) - int(global_debt))
            types[e.collateral_type] = st.TypeState(
                collateral_type=e.collateral_type, symbol=e.symbol, price=int(price), fresh=bool(fresh) and price != 0,
                scale=s["scale"], penalty=s["penalty"], reward_flat=s["flat"], reward_percent=s["percent"],
                reward_cap=s["cap"], room=max(0, int(type_limit) - int(type_debt)), token=s["token"],
                flash=self.taker is not None and e.collateral_type in self.config.markets, dust=s["dust"],
            )
        return types, global_room

    def read_vaults(self, vault_ids: list[int]) -> list[VaultInfo]:
        lens = self.client.lens
        names = struct_fields(lens, "vaults_info")
        out: list[VaultInfo] = []
        answers = batch_call(self.w3, [lens.functions.vaults_info(c) for c in chunks(vault_ids, LENS_BATCH)])
        for batch in answers:
            out += [_from_struct(VaultInfo, names, v) for v in batch]
        # a vault opened before the start block learns its type here
        for v in out:
            record = self.discovery.index.vaults.get(v.vault_id)
            if record is not None:
                record.collateral_type = v.collateral_type
                record.normalized_debt = v.normalized_debt
                record.collateral = v.collateral
        return out

    def read_auctions(self, auction_ids: list[int]) -> list[AuctionStatus]:
        auction = self.client.auction
        names = struct_fields(auction, "statuses")
        out: list[AuctionStatus] = []
        for batch in batch_call(self.w3, [auction.functions.statuses(c) for c in chunks(auction_ids, LENS_BATCH)]):
            out += [_from_struct(AuctionStatus, names, s) for s in batch]
        self.discovery.forget_auctions(s.auction_id for s in out if not s.active)
        self._auction_types.update((s.auction_id, s.collateral_type) for s in out if s.active)
        return out

    def read_margin(self, vault_ids: list[int], now: int) -> list[st.MarginAccount]:
        """Health, ramp and positions of each account; the ramp and mark prices of the
        positions of unhealthy accounts whose ramp runs (two batches)."""
        if not vault_ids:
            return []
        margin = self.client.margin
        if self._margin_params is None:
            params = margin.functions.params().call()
            names = [c["name"] for c in margin.functions.params().abi["outputs"][0]["components"]]
            p = dict(zip(names, params))
            self._margin_params = st.MarginParams(int(p["ramp_seconds"]), int(p["max_bonus_bps"]))
        ramp_seconds = self._margin_params.ramp_seconds
        calls: list[Any] = []
        for v in vault_ids:
            calls += [margin.functions.health(v), margin.functions.account(v), margin.functions.positions(v)]
        answers = batch_call(self.w3, calls)
        health_names = struct_fields(margin, "health")
        position_names = struct_fields(margin, "positions")
        rows = []
        priced: list[tuple[int, dict[str, Any]]] = []  # (row, position) pairs to price
        for i, v in enumerate(vault_ids):
            health = _from_struct(MarginHealth, health_names, answers[3 * i])
            _owner, _count, started = answers[3 * i + 1]
            positions = [dict(zip(position_names, p)) for p in answers[3 * i + 2]]
            if not health.healthy and st.ramp_running(int(started), now, ramp_seconds):
                priced += [(i, p) for p in positions]
            rows.append((v, health, int(started), positions))
        price_calls: list[Any] = []
        for i, p in priced:
            price_calls += [margin.functions.ramp_price(rows[i][0], p["series_id"]), margin.functions.mark(p["series_id"])]
        prices = batch_call(self.w3, price_calls) if price_calls else []
        views: dict[int, list[st.PositionView]] = {}
        for j, (i, p) in enumerate(priced):
            views.setdefault(i, []).append(st.PositionView.of(p, prices[2 * j], prices[2 * j + 1]))
        out = []
        for i, (v, health, started, _positions) in enumerate(rows):
            record = self.discovery.index.vaults.get(v)
            collateral_type = record.collateral_type if record else 0
            t = self._types.get(collateral_type)
            value = record.collateral * t.price // WAD if record and t else 0
            out.append(st.MarginAccount(v, health, started, collateral_type, tuple(views.get(i, ())), value,
                                        t.dust if t else 0))
        return out

    def read_collateral(self, types: dict[int, st.TypeState]) -> dict[int, int]:
        """The keeper's collateral of each type, WAD (covered calls for short take-overs)."""
        client = self.client
        ids = sorted(types)
        answers = batch_call(self.w3, [client.token(t).functions.balanceOf(self.address) for t in ids])
        return {t: int(units) * types[t].scale for t, units in zip(ids, answers)}

    def economics(self, types: dict[int, st.TypeState], block: Any) -> st.Economics:
        base = int(block.get("baseFeePerGas") or 0)
        tip_gwei = self.config.fees.priority_fee_gwei
        tip = int(Decimal(str(tip_gwei)) * 10**9) if tip_gwei is not None else 10**9
        fee = base + tip if base else int(self.w3.eth.gas_price)
        return st.Economics(fee_per_gas=fee, eth_price=self.eth_price(types))

    def eth_price(self, types: dict[int, st.TypeState] | None = None) -> int:
        if self.config.eth_price is not None:
            return self.config.eth_price
        for t in (types or {}).values():
            if t.symbol.upper() in ETH_SYMBOLS and t.price:
                self._eth_price_cache = t.price
                return t.price
        if not self._eth_price_cache:
            for e in self.client.manifest.collateral:
                if e.symbol.upper() in ETH_SYMBOLS:
                    self._eth_price_cache = self.client.price(e.collateral_type)[0]
        if not self._eth_price_cache:
            raise ValueError("no WETH/ETH collateral to price gas with: give eth_price (--eth-price)")
        return self._eth_price_cache

    # ------------------------------------------------------------------ one tick
    def tick(self) -> TickReport:
        started = self.clock()
        counters = counters_of(self.w3)
        before = counters.snapshot() if counters else (0, 0)
        self.ticks += 1
        report = TickReport()
        # receipts of what earlier ticks sent
        report.results += self._collect(self.tx.poll())
        block = self.w3.eth.get_block("latest")
        report.block, report.timestamp = int(block["number"]), int(block["timestamp"])
        applied = self.discovery.sync(report.block, block["hash"].to_0x_hex())
        index = self.discovery.index
        scan_start = self.clock()
        self._types, global_room = self.read_types()
        types = self._types
        with_debt = index.vaults_with_debt()
        vaults = self.read_vaults(with_debt)
        statuses = self.read_auctions(sorted(index.auctions))
        accounts = self.read_margin(sorted(index.accounts), report.timestamp) if self.config.margin and index.accounts else []
        holdings = self.read_collateral(types) if any(not a.health.healthy for a in accounts) else {}
        balance = self.client.debt_balance(self.address)
        report.scan_seconds = self.clock() - scan_start
        econ = self.economics(types, block)
        settings = self.config.settings

        plan = st.plan_liquidations(vaults, types, econ, settings, global_room=global_room)
        self.pricing.prefetch((s.collateral_type, st.purchase(s)[0]) for s in statuses
                              if s.active and not s.needs_reset and s.price)
        st.plan_auctions(statuses, types, self.pricing, econ, settings, balance, plan)
        if accounts and self._margin_params is not None:
            st.plan_margin(accounts, self._margin_params, report.timestamp, econ, settings, balance, plan,
                           collateral=holdings)
        report.vaults, report.with_debt = len(index.vaults), len(with_debt)
        report.unsafe, report.auctions, report.accounts = plan.unsafe, sum(s.active for s in statuses), len(accounts)
        report.waiting, report.unprofitable, report.no_room = plan.waiting, plan.unprofitable, plan.no_room
        report.planned = len(plan.actions)

        report.results += self._execute(plan.actions, report)
        if applied or self.ticks % 30 == 1:  # the cache on disk: when it changed, else now and then
            self.discovery.save()
        after = counters.snapshot() if counters else (0, 0)
        report.http_requests, report.rpc_calls = after[0] - before[0], after[1] - before[1]
        report.seconds = self.clock() - started
        self._update_metrics(report, econ.eth_price)
        self.last = report
        return report

    # ------------------------------------------------------------------ acting
    def _function(self, action: st.Action) -> Any:
        client, me = self.client, self.address
        if isinstance(action, st.Liquidate):
            return client.liquidator.functions.liquidate_many(list(action.vault_ids), me)
        if isinstance(action, st.Reset):
            return client.auction.functions.reset(action.auction_id, me)
        if isinstance(action, st.Take):
            if action.flash:
                assert self.taker is not None
                t = self._types[action.collateral_type]
                return self.taker.functions.flash_take(
                    action.auction_id, action.amount, action.max_price,
                    Web3.to_checksum_address(self.config.markets[action.collateral_type]),
                    Web3.to_checksum_address(t.token), t.scale, action.min_profit,
                )
            return client.auction.functions.take(action.auction_id, action.amount, action.max_price, me, b"")
        if isinstance(action, st.StartMarginLiquidation):
            return client.margin.functions.start_liquidation(action.vault_id)
        if isinstance(action, st.LiquidateMarginDebt):
            return client.margin.functions.liquidate_debt(action.vault_id, action.call_amount, me)
        if isinstance(action, st.TakeOverPosition):
            return client.margin.functions.liquidate(action.vault_id, action.series_id, action.amount, me)
        raise TypeError(f"unknown action {action!r}")

    def _describe(self, action: st.Action) -> dict[str, Any]:
        data = {k: v for k, v in asdict(action).items() if k != "gas"}
        for k in ("reward", "owe", "proceeds", "profit", "min_profit", "amount", "max_price", "bought"):
            if k in data and isinstance(data[k], int):
                data[k] = _wad_text(data[k], 4)
        if "vault_ids" in data:
            ids = list(action.vault_ids)  # type: ignore[union-attr]
            data["vaults"] = len(ids)
            data["vault_ids"] = ids if len(ids) <= 8 else f"{ids[:4]}..{ids[-2:]}"
        return data

    def _execute(self, actions: list[st.Action], report: TickReport) -> list[TxResult]:
        if not actions:
            return []
        sent = []
        for action in actions:
            key = action.key
            if self.cooldown.get(key, 0) > self.ticks or self.tx.has_pending(key):
                continue
            fn = self._function(action)
            kind = type(action).__name__
            if not self.config.dry_run and not self._prepare(action):
                continue
            if self.config.dry_run:
                try:
                    gas = self.w3.eth.estimate_gas({"from": self.address, "to": fn.address,
                                                    "data": fn._encode_transaction_data()})
                    self.events("would-send", action=kind, gas=gas, **self._describe(action))
                    report.actions.append(key)
                except Exception as exc:  # the estimate reverted: it would not be sent either
                    self.events("would-skip", action=kind, reason=_reason(exc), **self._describe(action))
                continue
            try:
                pending = self.tx.submit(fn, what=f"{kind} {key}", key=key)
            except KeelTxError as exc:
                self.totals.refused += 1
                self.metrics.inc("tx_refused_total")
                self.cooldown[key] = self.ticks + COOLDOWN_TICKS
                self.events("refused", action=kind, key=key, reason=exc.reason)
                self._unwind(action)
                continue
            except GasPriceTooHigh as exc:
                self.totals.refused += 1
                self.metrics.inc("tx_refused_total")
                self.events("gas-cap", action=kind, key=key, reason=str(exc))
                break  # nothing else will pass the cap this tick either
            self.totals.sent += 1
            self.metrics.inc("tx_sent_total")
            self.events("sent", action=kind, nonce=pending.nonce, tx=pending.hashes[-1], **self._describe(action))
            report.actions.append(key)
            sent.append(pending)
        if not sent:
            return []
        deadline = self.clock() + self.config.tx_wait
        results: list[TxResult] = []
        pause = 0.05  # each poll asks for every pending receipt: back off to 1 s
        while self.tx.pending and self.clock() < deadline:
            results += self._collect(self.tx.poll())
            if self.tx.pending:
                time.sleep(pause)
                pause = min(1.0, pause * 2)
        return results

    def _allow(self, token: Contract, spender: str) -> None:
        """An unlimited allowance for ``spender`` (once; margin liquidations pull tokens)."""
        if (token.address, spender) in self._allowed:
            return
        if int(token.functions.allowance(self.address, spender).call()) < 2**200:
            self.tx.send(token.functions.approve(spender, MAX_UINT256), what=f"approve {spender}",
                         key=f"approve:{token.address}:{spender}")
        self._allowed.add((token.address, spender))

    def _prepare(self, action: st.Action) -> bool:
        """What an action needs sent first: allowances; for a short take-over, the covered
        options it hands in, written in the house. False if that failed (logged)."""
        client = self.client
        try:
            if isinstance(action, st.LiquidateMarginDebt):
                self._allow(client.debt_token, client.margin.address)
            elif isinstance(action, st.TakeOverPosition):
                self._marks[(action.vault_id, action.series_id)] = action.mark
                if not action.is_short:
                    self._allow(client.debt_token, client.margin.address)
                    return True
                collateral_type = self.discovery.index.vaults[action.vault_id].collateral_type
                token = client.token(collateral_type) if action.is_call else client.debt_token
                self._allow(token, client.house.address)
                result = self.tx.send(client.house.functions.write(action.series_id, action.amount, self.address),
                                      what=f"write {action.amount} of series {action.series_id}",
                                      key=f"write:{action.key}")
                self._collect([result])
                if not result.ok:
                    return False
        except (KeelTxError, GasPriceTooHigh, TimeoutError) as exc:
            self.totals.refused += 1
            self.events("refused", action=type(action).__name__, key=action.key, reason=str(exc)[:200])
            self.cooldown[action.key] = self.ticks + COOLDOWN_TICKS
            return False
        return True

    def _unwind(self, action: st.Action) -> None:
        """A short take-over refused after its options were written: close them again
        (the house returns what they locked), so the keeper holds no stray short."""
        if not (isinstance(action, st.TakeOverPosition) and action.is_short):
            return
        try:
            result = self.tx.send(self.client.house.functions.close(action.series_id, action.amount, self.address),
                                  what=f"close {action.amount} of series {action.series_id}",
                                  key=f"close:{action.key}")
            self._collect([result])
        except (KeelTxError, GasPriceTooHigh, TimeoutError) as exc:
            self.events("unwind-failed", key=action.key, reason=str(exc)[:200])

    # ------------------------------------------------------------------ accounting
    def _collect(self, results: list[TxResult]) -> list[TxResult]:
        client, me = self.client, self.address
        for r in results:
            self.totals.gas_wei += r.fee_paid
            if not r.ok:
                self.totals.reverted += 1
                self.metrics.inc("tx_reverted_total")
                self.events("reverted", key=r.key, tx=r.tx_hash, reason=r.reason, gas=r.gas_used)
                if r.key:
                    self.cooldown[r.key] = self.ticks + COOLDOWN_TICKS
                continue
            receipt = r.receipt
            if r.replacements:
                self.metrics.inc("tx_replaced_total", r.replacements)
            for ev in client.engine.events.IncentivePaid().process_receipt(receipt, errors=DISCARD):
                if ev["args"]["receiver"] == me:
                    self.totals.rewards += int(ev["args"]["amount"])
            for ev in client.liquidator.events.BatchLiquidated().process_receipt(receipt, errors=DISCARD):
                self.totals.liquidated += int(ev["args"]["liquidated"])
                self.totals.skipped += int(ev["args"]["skipped"])
                self.metrics.inc("liquidations_total", int(ev["args"]["liquidated"]))
            for ev in client.auction.events.AuctionReset().process_receipt(receipt, errors=DISCARD):
                if ev["args"]["keeper"] == me:
                    self.totals.resets += 1
                    self.metrics.inc("resets_total")
            if self.taker is not None:
                for ev in self.taker.events.FlashTaken().process_receipt(receipt, errors=DISCARD):
                    self.totals.takes += 1
                    self.totals.take_profit += int(ev["args"]["profit"])
                    self.metrics.inc("takes_total")
            for ev in client.auction.events.Take().process_receipt(receipt, errors=DISCARD):
                if ev["args"]["taker"] == me:  # a direct take: the collateral is kept, valued at the oracle
                    self.totals.takes += 1
                    self.metrics.inc("takes_total")
                    t_type = self._auction_types.get(int(ev["args"]["auction_id"]), 0)
                    price = self._types[t_type].price if t_type in self._types else int(ev["args"]["price"])
                    self.totals.take_profit += int(ev["args"]["collateral"]) * price // WAD - int(ev["args"]["owe"])
            if self._margin_or_none() is not None:
                margin = client.margin
                for ev in margin.events.LiquidationStarted().process_receipt(receipt, errors=DISCARD):
                    if ev["args"]["keeper"] != me:
                        continue
                    self.totals.margin_steps += 1
                    self.metrics.inc("margin_actions_total")
                for ev in margin.events.PositionLiquidated().process_receipt(receipt, errors=DISCARD):
                    if ev["args"]["liquidator"] != me:
                        continue
                    self.totals.margin_steps += 1
                    self.metrics.inc("margin_actions_total")
                    args = ev["args"]
                    mark = self._marks.get((int(args["vault_id"]), int(args["series_id"])), int(args["price"]))
                    record = self.discovery.index.vaults.get(int(args["vault_id"]))
                    price = self._types[record.collateral_type].price if record and record.collateral_type in self._types else 0
                    held = int(args["amount"]) * mark // WAD  # the short written, or the long bought, at its mark
                    if args["is_short"]:
                        self.totals.margin_profit += int(args["collateral"]) * price // WAD - held
                    else:
                        self.totals.margin_profit += held - int(args["repaid"])
                for ev in margin.events.DebtLiquidated().process_receipt(receipt, errors=DISCARD):
                    if ev["args"]["liquidator"] != me:
                        continue
                    self.totals.margin_steps += 1
                    self.metrics.inc("margin_actions_total")
                    t_type = self.discovery.index.vaults.get(int(ev["args"]["vault_id"]))
                    price = self._types[t_type.collateral_type].price if t_type and t_type.collateral_type in self._types else 0
                    self.totals.margin_profit += int(ev["args"]["collateral"]) * price // WAD - int(ev["args"]["repaid"])
            self.events("mined", key=r.key, tx=r.tx_hash, block=r.block, gas=r.gas_used, replacements=r.replacements)
        return results

    def profit(self) -> int:
        return self.totals.profit(self.eth_price(self._types))

    def _update_metrics(self, report: TickReport, eth_price: int) -> None:
        m, index = self.metrics, self.discovery.index
        m.set("block", report.block)
        m.set("vaults_watched", len(index.vaults))
        m.set("vaults_with_debt", report.with_debt)
        m.set("vaults_unsafe", report.unsafe)
        m.set("auctions_open", report.auctions)
        m.set("margin_accounts", len(index.accounts))
        m.set("scan_seconds", report.scan_seconds)
        m.set("tick_seconds", report.seconds)
        m.set("profit_kusd", float(Decimal(self.totals.profit(eth_price)) / WAD))
        m.set("gas_spent_eth", float(Decimal(self.totals.gas_wei) / 10**18))
        m.inc("rpc_requests_total", report.http_requests)
        m.inc("rpc_calls_total", report.rpc_calls)

    def status_line(self) -> str:
        r = self.last
        if r is None:
            return "keeper: starting"
        t = self.totals
        mode = " [dry run]" if self.config.dry_run else ""
        return (
            f"block {r.block:,} | vaults {r.vaults:,} ({r.with_debt:,} with debt) | unsafe {r.unsafe:,} | "
            f"auctions open {r.auctions:,} | liquidated {t.liquidated:,} takes {t.takes:,} resets {t.resets:,} | "
            f"profit {_wad_text(self.profit())} kUSD | gas {Decimal(t.gas_wei) / 10**18:.4f} ETH | "
            f"tick {r.seconds:.2f}s{mode}"
        )

    # ------------------------------------------------------------------ running
    def run(
        self,
        *,
        stop: threading.Event | None = None,
        max_ticks: int | None = None,
        status: Callable[[str], None] | None = None,
        max_backoff: float = 30.0,
    ) -> Totals:
        """Tick every ``interval`` seconds until ``stop`` is set (or ``max_ticks``).
        RPC failures are logged and retried after 1, 2, 4 .. ``max_backoff`` seconds."""
        stop = stop or threading.Event()
        backoff = 1.0
        done = 0
        while not stop.is_set() and (max_ticks is None or done < max_ticks):
            try:
                self.tick()
                backoff = 1.0
                if status is not None:
                    status(self.status_line())
                pause = self.config.interval
            except Exception as exc:  # RPC down, timeouts, a node answering garbage: keep going
                self.totals.errors += 1
                self.metrics.inc("rpc_errors_total")
                rpc = _is_rpc_error(exc)
                self.events("error", kind="rpc" if rpc else "unexpected", error=f"{type(exc).__name__}: {exc}"[:300],
                            retry_in=backoff)
                if not rpc:
                    self.events("traceback", text=traceback.format_exc()[-2000:])
                if status is not None:
                    status(f"keeper: {'node unreachable' if rpc else 'error'}; retrying in {backoff:.0f}s")
                pause = backoff
                backoff = min(max_backoff, backoff * 2)
            done += 1
            stop.wait(pause)
        self.discovery.save()
        return self.totals


def _reason(exc: BaseException) -> str:
    from ..tx import revert_reason

    return revert_reason(exc)


def _is_rpc_error(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, (requests.exceptions.RequestException, ConnectionError, TimeoutError, OSError, RpcError)):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("connection", "timed out", "timeout", "unreachable", "refused", "rpc"))


def ensure_taker(client: KeelClient, sender: Sender, state_dir: Path | None = None, log: Callable[[str], None] | None = None) -> str:
    """The keeper's KeeperTaker: the one recorded in ``state_dir`` if its code is there,
    else a new one deployed by ``sender`` (owner, with ROLE_KEEPER)."""
    w3 = client.w3
    record = (state_dir / f"taker-{client.manifest.chain_id}-{sender.address.lower()}.json") if state_dir else None
    if record is not None and record.exists():
        data = json.loads(record.read_text())
        if data.get("auction") == client.auction.address and len(w3.eth.get_code(data["address"])) > 0:
            return str(data["address"])
    from ..artifacts import load_artifact

    artifact = load_artifact("KeeperTaker")
    receipt = sender.deploy(artifact.abi, artifact.bytecode, client.auction.address, client.debt_token.address,
                            sender.address, what="deploy KeeperTaker")
    address = str(receipt["contractAddress"])
    taker = w3.eth.contract(address=address, abi=artifact.abi)
    sender.transact(taker.functions.set_roles(sender.address, ROLE_KEEPER), what="KeeperTaker.set_roles")
    if log:
        log(f"deployed KeeperTaker at {address}")
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"address": address, "auction": client.auction.address}))
    return address


__all__ = ["EventLog", "Keeper", "KeeperConfig", "TickReport", "Totals", "ensure_taker"]

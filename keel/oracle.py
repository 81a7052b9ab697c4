"""Reporters, price paths and the price bootstrap for Keel's PriceFeed.

A ``PriceFeed`` (contracts/PriceFeed.vy) prices one collateral type from several
reporters.  Each reporter calls ``report(price, observed_at)``; with at least ``quorum``
reports younger than ``report_max_age`` the feed takes their lower median and *accepts*
it, unless it is more than ``max_jump_bps`` away from the last accepted price: then the
median is *held* (``PriceHeld``) until time or fresh reports confirm it, or a median back
near the accepted price cancels the hold.  The engine never reads the accepted price:
``poke()`` (anyone, at most once per ``delay`` seconds) moves *next* to *current* and the
last accepted price to *next*, so a price is current only after a poke, a delay and
another poke.

This module is the off-chain half, shared by ``keel reporter``, the demo, the gas
table and (later) keepers and the simulator:

* :class:`Reporter` -- ``push(symbol, price)`` makes every reporter it holds report
  (optionally with per-reporter noise), then pokes when a poke is due;
* :func:`make_current` -- LOCAL chains only: advance the clock by the delay, re-report
  and poke until the wanted price is current and fresh (deploys and demos use it; on a
  public chain someone must call ``poke()`` once the delay has passed:
  ``peek_next()`` says when);
* price paths: :func:`gbm_path`, :func:`jump_path` and :func:`load_csv`;
* :func:`feed_state` / :func:`oracle_table` -- what a feed holds now, for reports.

Prices: an ``int`` is WAD; a ``Decimal`` or ``str`` is whole debt-token units per whole
collateral unit (``"2000.5"``).  Floats are refused (see :mod:`keel.units`).

CSV price files (:func:`load_csv`) have a header row and two columns, either
``timestamp_offset_s,price`` (seconds since the start of the path) or
``timestamp,price`` (unix seconds; offsets are taken from the first row)::

    timestamp_offset_s,price
    0,2000
    3600,2012.5
    7200,1998.25

Rows must be in time order; blank lines and lines starting with ``#`` are skipped;
other columns are ignored.  The timing only matters with ``--advance-time`` (local
chains), which moves the clock by the difference between consecutive rows; otherwise
the prices are pushed one after the other, observed at the latest block's time.
"""

from __future__ import annotations

import csv
import math
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from . import log as _log
from .chain import increase_time, is_local_chain, latest_timestamp, mine
from .client import KeelClient
from .manifest import CHAINLINK_ADAPTER, PRICE_FEED, CollateralEntry, Manifest
from .text import table
from .tx import Sender, SignerError
from .units import fmt_percent, fmt_ratio, fmt_wad, from_wad, to_fixed, to_wad

#: private keys of the reporters (comma-separated) for ``keel reporter`` off local chains
REPORTER_KEYS_ENV = "KEEL_REPORTER_KEYS"
SECONDS_PER_YEAR = 365 * 86_400
#: how long push() waits on a public chain for a block newer than a reporter's last report
NEW_BLOCK_TIMEOUT = 120  # seconds

Price = int | Decimal | str
Logger = Callable[[str], None]


class OracleError(RuntimeError):
    """The feed cannot do what was asked (not a PriceFeed, no reporter, public chain, ...)."""


# ---------------------------------------------------------------------------- prices
def as_wad(price: Price) -> int:
    """An ``int`` is already WAD; a ``Decimal`` or ``str`` is whole units."""
    if isinstance(price, bool) or isinstance(price, float):
        raise TypeError(f"price {price!r}: pass an int (WAD), a Decimal or a str, not {type(price).__name__}")
    if isinstance(price, int):
        return price
    return to_wad(price)


def _decimal(value: float) -> Decimal:
    """A float price as a Decimal of 12 significant digits (paths are floats inside)."""
    return Decimal(f"{value:.12g}")


# ---------------------------------------------------------------------------- paths
@dataclass(frozen=True)
class PricePoint:
    """One point of a price path."""

    offset: int  # seconds since the start of the path
    price: Decimal  # whole debt-token units per whole collateral unit

    @property
    def wad(self) -> int:
        return to_wad(self.price)


def gbm_path(
    start: Price,
    mu: float = 0.0,
    sigma: float = 0.8,
    dt: int = 3_600,
    steps: int = 100,
    seed: int | None = None,
) -> list[PricePoint]:
    """Geometric Brownian motion: ``steps + 1`` points, ``start`` at offset 0, then one
    every ``dt`` seconds, ``S *= exp((mu - sigma**2 / 2) * t + sigma * sqrt(t) * Z)``
    with ``t = dt / 365 days`` and ``Z`` standard normal (``random.Random(seed)``).
    ``mu`` and ``sigma`` are annual (``sigma=0.8``: 80 % a year)."""
    if steps < 0 or dt <= 0 or sigma < 0:
        raise ValueError("gbm_path: steps >= 0, dt > 0 and sigma >= 0")
    rng = random.Random(seed)
    years = dt / SECONDS_PER_YEAR
    drift, scale = (mu - sigma * sigma / 2) * years, sigma * math.sqrt(years)
    price = float(from_wad(as_wad(start)))
    if price <= 0:
        raise ValueError("gbm_path: start must be positive")
    points = [PricePoint(0, _decimal(price))]
    for i in range(1, steps + 1):
        price *= math.exp(drift + scale * rng.gauss(0.0, 1.0))
        points.append(PricePoint(i * dt, _decimal(price)))
    return points


def jump_path(
    start: Price,
    jump: float = 0.4,
    at: int = 1,
    steps: int = 10,
    dt: int = 3_600,
    length: int | None = None,
    *,
    mu: float = 0.0,
    sigma: float = 0.0,
    seed: int | None = None,
) -> list[PricePoint]:
    """A path with one jump: :func:`gbm_path` (flat when ``sigma`` is 0) whose prices are
    multiplied by ``1 + jump`` from step ``at`` on, for ``length`` steps (None: to the
    end).  ``jump=0.4, at=3, length=2`` is a 40 % spike at steps 3 and 4 that reverts."""
    if jump <= -1:
        raise ValueError("jump_path: jump must be > -1 (prices stay positive)")
    base = gbm_path(start, mu, sigma, dt, steps, seed)
    end = len(base) if length is None else at + length
    factor = _decimal(1 + jump)
    return [
        PricePoint(p.offset, _decimal(float(p.price * factor)) if at <= i < end else p.price)
        for i, p in enumerate(base)
    ]


def load_csv(path: Path | str) -> list[PricePoint]:
    """A price path from CSV (``timestamp_offset_s,price`` or ``timestamp,price``, with a
    header; see the module docstring)."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = [r for r in csv.reader(handle) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise OracleError(f"cannot read {path}: {exc}") from exc
    rows = [r for r in rows if not r[0].lstrip().startswith("#")]
    if not rows:
        raise OracleError(f"{path}: empty (expected a header `timestamp_offset_s,price` or `timestamp,price`)")
    header = [h.strip().lower() for h in rows[0]]
    if "price" not in header or not {"timestamp_offset_s", "timestamp"} & set(header):
        raise OracleError(f"{path}: header {rows[0]} lacks `price` and `timestamp_offset_s` or `timestamp`")
    time_column = "timestamp_offset_s" if "timestamp_offset_s" in header else "timestamp"
    t_col, p_col = header.index(time_column), header.index("price")
    points: list[PricePoint] = []
    first: int | None = None
    for line, row in enumerate(rows[1:], start=2):
        try:
            moment = int(Decimal(row[t_col].strip()))
            price = Decimal(row[p_col].strip())
        except (IndexError, InvalidOperation, ValueError) as exc:
            raise OracleError(f"{path}:{line}: cannot parse {row}") from exc
        if not price.is_finite() or price <= 0:
            raise OracleError(f"{path}:{line}: price {price} must be positive")
        if time_column == "timestamp":
            first = moment if first is None else first
            moment -= first
        if points and moment < points[-1].offset:
            raise OracleError(f"{path}:{line}: time goes backwards ({moment} < {points[-1].offset})")
        points.append(PricePoint(moment, price))
    if not points:
        raise OracleError(f"{path}: no price rows")
    return points


# ---------------------------------------------------------------------------- feed state
@dataclass(frozen=True)
class FeedState:
    """What one collateral type's oracle holds now (one block)."""

    symbol: str
    address: str
    contract: str  # PriceFeed | ChainlinkAdapter | ManualPriceFeed
    current_price: int  # WAD, what the engine uses (peek)
    current_fresh: bool
    volatility: int  # WAD, annualised sigma
    block_time: int
    # PriceFeed only (zero / empty otherwise)
    next_price: int = 0  # WAD, current after the next poke
    next_observed_at: int = 0
    next_at: int = 0  # earliest time of the next poke (unix seconds)
    latest_price: int = 0  # WAD, the last accepted median (undelayed)
    latest_at: int = 0
    held_price: int = 0  # WAD, a held jump (0: none)
    held_since: int = 0
    fresh_reports: int = 0
    median: int = 0  # WAD, lower median of the fresh reports
    reporters: tuple[str, ...] = ()
    quorum: int = 0
    report_max_age: int = 0
    max_age: int = 0
    delay: int = 0
    confirm_delay: int = 0
    max_jump_bps: int = 0
    ewma_lambda_bps: int = 0

    @property
    def is_price_feed(self) -> bool:
        return self.contract == PRICE_FEED

    @property
    def poke_due(self) -> bool:
        """A poke would succeed in the next block (there is an accepted price, the delay passed)."""
        return self.is_price_feed and self.latest_price != 0 and self.block_time >= self.next_at

    def is_current(self, price: int) -> bool:
        return self.current_fresh and self.current_price == price


def feed_state(client: KeelClient, key: str | int, block: int | str = "latest") -> FeedState:
    """Read a collateral type's oracle (every view at the same block)."""
    entry = client.collateral(key)
    feed = client.oracle(key).functions
    at = client.w3.eth.get_block(block)
    number, block_time = int(at["number"]), int(at["timestamp"])
    price, fresh = feed.peek().call(block_identifier=number)
    try:
        volatility = int(feed.volatility().call(block_identifier=number))
    except Exception:  # an old ManualPriceFeed without volatility()
        volatility = 0
    base = dict(
        symbol=entry.symbol, address=entry.oracle, contract=entry.oracle_contract, current_price=int(price),
        current_fresh=bool(fresh), volatility=volatility, block_time=block_time,
    )
    if entry.oracle_contract != PRICE_FEED:
        return FeedState(**base)  # type: ignore[arg-type]
    next_price, next_observed_at, next_at = feed.peek_next().call(block_identifier=number)
    latest_price, latest_at = feed.latest().call(block_identifier=number)
    held_price, held_since = feed.held().call(block_identifier=number)
    count, median = feed.current_median().call(block_identifier=number)
    params = feed.parameters().call(block_identifier=number)
    return FeedState(
        **base,  # type: ignore[arg-type]
        next_price=int(next_price), next_observed_at=int(next_observed_at), next_at=int(next_at),
        latest_price=int(latest_price), latest_at=int(latest_at),
        held_price=int(held_price), held_since=int(held_since),
        fresh_reports=int(count), median=int(median),
        reporters=tuple(feed.reporters().call(block_identifier=number)),
        quorum=int(params[0]), report_max_age=int(params[1]), max_age=int(params[2]), delay=int(params[3]),
        confirm_delay=int(params[4]), max_jump_bps=int(params[5]), ewma_lambda_bps=int(params[6]),
    )


def oracle_table(client: KeelClient) -> list[str]:
    """Per collateral type: current (delayed) price, next, accepted median, reporters,
    volatility and the required ratio (base + volatility part)."""
    rows = []
    for entry in client.manifest.collateral:
        state = feed_state(client, entry.symbol)
        ratio = client.required_ratio(entry.collateral_type)
        current = f"{fmt_wad(state.current_price)} {'fresh' if state.current_fresh else 'STALE'}"
        if state.is_price_feed:
            held = f" (held {fmt_wad(state.held_price)})" if state.held_price else ""
            rows.append([
                f"{entry.collateral_type} {entry.symbol}", current, fmt_wad(state.next_price),
                fmt_wad(state.latest_price) + held, f"{len(state.reporters)} / {state.quorum}",
                fmt_percent(from_wad(state.volatility)),
                f"{fmt_ratio(ratio.total)} = {fmt_ratio(ratio.base)} + {fmt_ratio(ratio.extra)}",
            ])
        else:
            rows.append([
                f"{entry.collateral_type} {entry.symbol}", current, "-", f"({state.contract})", "-",
                fmt_percent(from_wad(state.volatility)),
                f"{fmt_ratio(ratio.total)} = {fmt_ratio(ratio.base)} + {fmt_ratio(ratio.extra)}",
            ])
    return table(
        ["type", "current (delayed)", "next", "accepted median", "reporters/quorum", "volatility",
         "required ratio = base + vol"],
        rows, align="lrrrrrr",
    )


# ---------------------------------------------------------------------------- senders
def reporter_senders_from_env(w3: Web3, env: Mapping[str, str] | None = None) -> list[Sender]:
    """``$KEEL_REPORTER_KEYS`` (comma-separated private keys), [] when unset."""
    raw = (env if env is not None else os.environ).get(REPORTER_KEYS_ENV, "")
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    try:
        return [Sender.from_private_key(w3, key) for key in keys]
    except Exception as exc:  # never echo the keys
        raise SignerError(f"{REPORTER_KEYS_ENV}: not a comma-separated list of private keys ({type(exc).__name__})") from None


def local_reporter_senders(w3: Web3, manifest: Manifest, symbols: Iterable[str] | None = None) -> list[Sender]:
    """The reporters of the PriceFeeds (all, or of ``symbols``) that the node holds
    unlocked, in the feeds' order (local chains: anvil accounts 7, 8, 9 by default)."""
    client = KeelClient(w3, manifest)
    held = {Web3.to_checksum_address(a) for a in w3.eth.accounts}
    entries = [manifest.collateral_entry(s) for s in symbols] if symbols is not None else manifest.collateral
    found: list[str] = []
    for entry in entries:
        if entry.oracle_contract != PRICE_FEED:
            continue
        reporters = client.oracle(entry.symbol).functions.reporters().call()
        mine_ = [r for r in reporters if r in held]
        if not mine_:
            raise OracleError(f"{entry.symbol}: the node holds none of the feed's reporters {reporters}")
        found += [r for r in mine_ if r not in found]
    return [Sender.unlocked(w3, address) for address in found]


def reporter_senders(w3: Web3, manifest: Manifest, symbols: Iterable[str] | None = None) -> list[Sender]:
    """``$KEEL_REPORTER_KEYS`` when set, else (local chains) the node's unlocked reporter
    accounts; keys are never command-line arguments."""
    senders = reporter_senders_from_env(w3)
    if senders:
        return senders
    if not is_local_chain(w3):
        raise SignerError(
            f"no reporter keys: set {REPORTER_KEYS_ENV} to the reporters' private keys, comma-separated "
            "(node-held accounts are used on local chains only)"
        )
    return local_reporter_senders(w3, manifest, symbols)


# ---------------------------------------------------------------------------- reporter
@dataclass
class PushResult:
    """What one :meth:`Reporter.push` did. ``outcome``:

    * ``accepted``  -- a median was accepted (within ``max_jump_bps`` of the last one);
    * ``held``      -- a jump is held after the push (new ``PriceHeld``, or still held);
    * ``cancelled`` -- a held jump was dropped: the median came back near the accepted price;
    * ``confirmed`` -- a held jump was accepted (it stood ``confirm_delay``, or a quorum of
      reports observed after the hold agreed);
    * ``no quorum`` -- fewer than ``quorum`` fresh reports: nothing to accept yet;
    * ``unchanged`` -- a quorum, but nothing accepted or held.
    """

    symbol: str
    price: int  # WAD, the price pushed (before noise)
    reports: list[tuple[str, int]]  # (reporter, WAD) in the order they were sent
    observed_at: int
    outcome: str  # "accepted" | "held" | "cancelled" | "confirmed" | "no quorum" | "unchanged"
    state: FeedState  # after the reports (and the poke)
    poked: bool = False
    accepted: list[int] = field(default_factory=list)  # PriceAccepted prices, in order
    held: list[int] = field(default_factory=list)  # PriceHeld prices, in order
    gas: list[int] = field(default_factory=list)  # gasUsed of each report
    poke_gas: int | None = None

    @property
    def median(self) -> int:
        """Lower median of this push's reports (what the feed accepts when only they count)."""
        return statistics.median_low([p for _, p in self.reports]) if self.reports else 0

    @property
    def accepted_price(self) -> int:
        return self.state.latest_price


def submission_order(prices: Sequence[int]) -> list[int]:
    """Indices of ``prices`` in the order to send them so that every intermediate lower
    median of the reports sent so far equals the final one (median first, then one above,
    one below, ...). The feed re-accepts at every report past quorum and each acceptance
    is an EWMA step: a report order that drags the median around within one push would
    read as volatility."""
    if len(set(prices)) <= 1:
        return list(range(len(prices)))
    ranked = sorted(range(len(prices)), key=lambda i: (prices[i], i))
    mid = (len(ranked) - 1) // 2
    order = [ranked[mid]]
    for step in range(1, len(ranked)):
        for j in (mid + step, mid - step):
            if 0 <= j < len(ranked) and ranked[j] not in order:
                order.append(ranked[j])
    return order


class Reporter:
    """Reports prices to collateral types' PriceFeeds from the reporter accounts it holds.

    :param senders: reporter accounts (``Sender``); each feed uses those it lists.
    :param poker: who pokes (default: the first sender); anyone may poke.
    """

    def __init__(
        self,
        w3: Web3,
        manifest: Manifest,
        senders: Sequence[Sender],
        *,
        poker: Sender | None = None,
        log: Logger = _log.silent,
    ) -> None:
        if not senders:
            raise OracleError("a Reporter needs at least one reporter account")
        self.w3 = w3
        self.manifest = manifest
        self.client = KeelClient(w3, manifest)
        self.senders = list(senders)
        self.poker = poker or self.senders[0]
        self.local = is_local_chain(w3)
        self.log = log
        self._mine: dict[str, list[Sender]] = {}

    # -- lookup
    def entry(self, symbol: str | int) -> CollateralEntry:
        return self.manifest.collateral_entry(symbol)

    def feed(self, symbol: str | int) -> Contract:
        entry = self.entry(symbol)
        if entry.oracle_contract != PRICE_FEED:
            raise OracleError(f"{entry.symbol} is priced by a {entry.oracle_contract}, not a PriceFeed: no reporters")
        return self.client.oracle(entry.symbol)

    def reporters_for(self, symbol: str | int) -> list[Sender]:
        """The senders that are reporters of this feed, in the sender order."""
        key = self.entry(symbol).symbol
        if key not in self._mine:
            feed = self.feed(key).functions
            self._mine[key] = [s for s in self.senders if int(feed.reporter_slot(s.address).call()) != 0]
            if not self._mine[key]:
                raise OracleError(f"{key}: none of {[s.address for s in self.senders]} is a reporter of the feed")
        return self._mine[key]

    def state(self, symbol: str | int) -> FeedState:
        return feed_state(self.client, self.entry(symbol).symbol)

    # -- poke
    def poke(self, symbol: str | int) -> TxReceipt:
        return self.poker.transact(self.feed(symbol).functions.poke(), what=f"{self.entry(symbol).symbol} feed poke()")

    def poke_if_due(self, symbol: str | int) -> TxReceipt | None:
        """Poke when the delay since the last poke has passed (and a price was accepted)."""
        if not self.state(symbol).poke_due:
            return None
        return self.poke(symbol)

    # -- report
    def _observation_time(self, reporters: Sequence[Sender], feed: Contract) -> int:
        """The latest block's time, made newer than every reporter's last report (on a
        local chain by moving the clock a second, else by waiting for a block)."""
        if self.local:
            mine(self.w3)  # a new block: anvil's clock follows wall time (plus any travel)
        last = max(int(feed.functions.report_of(r.address).call()[1]) for r in reporters)
        now = latest_timestamp(self.w3)
        if now > last:
            return now
        if self.local:
            return increase_time(self.w3, last - now + 1)
        deadline = time.monotonic() + NEW_BLOCK_TIMEOUT
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = latest_timestamp(self.w3)
            if now > last:
                return now
        raise OracleError(f"no block newer than the last report ({last}) within {NEW_BLOCK_TIMEOUT} s")

    def push(
        self,
        symbol: str | int,
        price: Price,
        observed_at: int | None = None,
        *,
        noise_bps: float = 0,
        rng: random.Random | None = None,
        poke: bool = True,
        only: Sequence[int | str] | None = None,
    ) -> PushResult:
        """Every reporter (or ``only`` these: indices into the feed's reporters this
        object holds, or addresses) reports ``price``, each times ``1 + e`` with ``e``
        uniform in +-``noise_bps``; then, if ``poke``, :meth:`poke_if_due`.

        ``observed_at`` defaults to the latest block's time (made newer than the
        reporters' last reports). A collateral type on a ``ChainlinkAdapter`` over a
        ``MockAggregator`` (local deployments) gets a new mock round instead."""
        entry = self.entry(symbol)
        target = as_wad(price)
        if target <= 0:
            raise OracleError(f"{entry.symbol}: price must be positive")
        if entry.oracle_contract == CHAINLINK_ADAPTER and entry.mock_aggregator:
            return self._push_mock_aggregator(entry, target, observed_at)
        feed = self.feed(entry.symbol)
        reporters = self._select(entry.symbol, only)
        rng = rng or random.Random()
        prices = [self._noisy(target, noise_bps, rng) for _ in reporters]
        if observed_at is None:
            observed_at = self._observation_time(reporters, feed)
        held_before = int(feed.functions.held().call()[0])
        sent: list[tuple[str, int]] = []
        gas: list[int] = []
        accepted: list[int] = []
        held: list[int] = []
        confirmed = False
        for i in submission_order(prices):
            sender, value = reporters[i], prices[i]
            receipt = sender.transact(
                feed.functions.report(value, observed_at),
                what=f"{entry.symbol} report({fmt_wad(value)}) by {sender.address}",
            )
            sent.append((sender.address, value))
            gas.append(int(receipt["gasUsed"]))
            for event in feed.events.PriceAccepted().process_receipt(receipt, errors=DISCARD):
                accepted.append(int(event["args"]["price"]))
                confirmed = confirmed or bool(event["args"]["confirmed_jump"])
            held += [int(e["args"]["price"]) for e in feed.events.PriceHeld().process_receipt(receipt, errors=DISCARD)]
        state = self.state(entry.symbol)
        if state.held_price:
            outcome = "held"
        elif accepted:
            outcome = "confirmed" if confirmed else ("cancelled" if held_before or held else "accepted")
        else:
            outcome = "no quorum" if state.fresh_reports < state.quorum else "unchanged"
        poke_gas: int | None = None
        if poke and state.poke_due:
            poke_gas = int(self.poke(entry.symbol)["gasUsed"])
            state = self.state(entry.symbol)
        self.log(f"{entry.symbol}: pushed {fmt_wad(target)} -> {outcome}" + (", poked" if poke_gas else ""))
        return PushResult(
            entry.symbol, target, sent, int(observed_at), outcome, state, poked=poke_gas is not None,
            accepted=accepted, held=held, gas=gas, poke_gas=poke_gas,
        )

    def _select(self, symbol: str, only: Sequence[int | str] | None) -> list[Sender]:
        reporters = self.reporters_for(symbol)
        if only is None:
            return reporters
        chosen: list[Sender] = []
        for key in only:
            if isinstance(key, int):
                chosen.append(reporters[key])
            else:
                matches = [s for s in reporters if s.address.lower() == key.lower()]
                if not matches:
                    raise OracleError(f"{symbol}: {key} is not a reporter this Reporter holds")
                chosen.append(matches[0])
        return chosen

    @staticmethod
    def _noisy(price: int, noise_bps: float, rng: random.Random) -> int:
        if not noise_bps:
            return price
        ppm = round(rng.uniform(-noise_bps, noise_bps) * 100)  # parts per million
        return max(1, price * (1_000_000 + ppm) // 1_000_000)

    def _push_mock_aggregator(self, entry: CollateralEntry, price: int, observed_at: int | None) -> PushResult:
        source = self.client.contract("MockAggregator", entry.aggregator or "")
        decimals = int(source.functions.decimals().call())
        when = observed_at if observed_at is not None else latest_timestamp(self.w3)
        answer = to_fixed(from_wad(price), decimals)
        receipt = self.poker.transact(source.functions.set_round(answer, when), what=f"{entry.symbol} mock round")
        state = self.state(entry.symbol)
        return PushResult(entry.symbol, price, [(self.poker.address, price)], when, "accepted", state,
                          accepted=[price], gas=[int(receipt["gasUsed"])])


# ---------------------------------------------------------------------------- local bootstrap
@dataclass
class MakeCurrentResult:
    prices: dict[str, int]  # symbol -> WAD now current
    advanced: int = 0  # seconds the clock was moved
    rounds: int = 0  # report + poke rounds
    pushes: list[PushResult] = field(default_factory=list)


def make_current(
    w3: Web3,
    manifest: Manifest,
    symbols: Iterable[str] | None = None,
    *,
    prices: Mapping[str, Price] | None = None,
    reporter: Reporter | None = None,
    senders: Sequence[Sender] | None = None,
    max_rounds: int = 4,
    log: Logger = _log.silent,
) -> MakeCurrentResult:
    """LOCAL chains only: make each PriceFeed's *current* price (what the engine reads)
    ``prices[symbol]`` (default: its last accepted price), fresh.

    Each round: if a feed is not there yet, advance the clock until its next poke is
    allowed (the security-module ``delay``; ``evm_increaseTime`` + a mined block), have
    the reporters re-report the price (fresh observations) and poke.  A price pushed
    for the first time needs two rounds (accepted -> next -> current); a held jump one
    more (it is confirmed after ``confirm_delay``).  Types priced otherwise are skipped.

    On a public chain the clock cannot be moved: the reporters report, and someone
    calls ``poke()`` when ``peek_next()``'s third value (the earliest poke) has passed,
    then again one ``delay`` later.  This function refuses to run there.
    """
    if not is_local_chain(w3):
        raise OracleError(
            "make_current moves the chain's clock: local chains only. On a public chain the reporters "
            "report and someone calls poke() once the delay has passed (PriceFeed.peek_next() gives the time)"
        )
    if symbols is None:
        entries = [e for e in manifest.collateral if e.oracle_contract == PRICE_FEED]
    else:
        entries = [e for e in map(manifest.collateral_entry, symbols) if e.oracle_contract == PRICE_FEED]
    if reporter is None:
        reporter = Reporter(w3, manifest, senders or local_reporter_senders(w3, manifest, [e.symbol for e in entries]),
                            log=log)
    targets: dict[str, int] = {}
    for entry in entries:
        wanted = as_wad(prices[entry.symbol]) if prices and entry.symbol in prices else reporter.state(entry.symbol).latest_price
        if wanted == 0:
            raise OracleError(f"{entry.symbol}: the feed has no accepted price yet; pass prices=")
        targets[entry.symbol] = wanted
    result = MakeCurrentResult(prices=dict(targets))
    for _ in range(max_rounds + 1):
        states = {s: reporter.state(s) for s in targets}
        pending = [s for s in targets if not states[s].is_current(targets[s])]
        if not pending:
            return result
        if result.rounds == max_rounds:
            break
        now = latest_timestamp(w3)
        wait = max(states[s].next_at for s in pending) - now
        if wait > 0:
            increase_time(w3, wait)
            result.advanced += wait
            log(f"clock advanced {wait} s (security-module delay)")
        for symbol in pending:
            result.pushes.append(reporter.push(symbol, targets[symbol], poke=True))
        result.rounds += 1
    stuck = {s: reporter.state(s) for s in targets}
    detail = "; ".join(
        f"{s}: current {fmt_wad(st.current_price)} ({'fresh' if st.current_fresh else 'stale'}), "
        f"want {fmt_wad(targets[s])}, held {fmt_wad(st.held_price)}" for s, st in stuck.items()
        if not st.is_current(targets[s])
    )
    raise OracleError(f"make_current: not current after {max_rounds} rounds ({detail})")


__all__ = [
    "OracleError", "PricePoint", "gbm_path", "jump_path", "load_csv", "FeedState", "feed_state",
    "oracle_table", "Reporter", "PushResult", "make_current", "MakeCurrentResult", "reporter_senders",
    "local_reporter_senders", "reporter_senders_from_env", "submission_order", "as_wad", "REPORTER_KEYS_ENV",
]

"""A crash on a local chain, for the keeper's integration test and benchmark.

- :func:`deploy_for_crash`: Keel on a local node with the default collateral (WETH,
  WBTC), debt ceilings large enough for thousands of vaults;
- :func:`open_book`: ``n`` vaults spread over the types and over several borrowers
  (the node's unlocked accounts), each borrowing at a collateral ratio drawn from
  ``ratios`` (seeded), sent without gas estimates;
- :func:`deploy_markets`: a MockMarket per type (the DEX a flash take sells into),
  funded with debt tokens borrowed by a whale, priced at the oracle;
- :func:`crash`: the reporters push the price down in steps the circuit breaker accepts,
  the security-module delay passes, the new price is current; the markets follow;
- :class:`ChainClock`: a thread that moves the chain's clock forward (auctions run on
  block time) and keeps the feeds fresh, as reporters would, until stopped.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from web3 import Web3
from web3.contract.contract import Contract

from .. import log as _log
from ..artifacts import load_artifact
from ..chain import increase_time
from ..client import KeelClient
from ..deploy import AuctionConfig, DeployConfig, default_collateral, deploy_system
from ..manifest import Manifest
from ..oracle import Reporter, local_reporter_senders, make_current
from ..tx import Sender
from ..units import MAX_UINT256, WAD, from_wad, to_wad

#: the breaker holds moves above 20 %: a crash is pushed in steps of at most this
MAX_STEP = Decimal("0.85")
BORROWER_ACCOUNTS = (1, 2, 3, 4, 5)  # node accounts that own the book's vaults
WHALE_ACCOUNT = 0  # the deployer: funds the markets
GAS_OPEN = 300_000  # gas limit of an open_vault (it uses ~200,000 cold); 100 fit a 30M block


@dataclass
class Book:
    manifest: Manifest
    vault_ids: list[int] = field(default_factory=list)
    by_type: dict[int, int] = field(default_factory=dict)  # type -> vaults
    debt: int = 0  # WAD borrowed in all
    markets: dict[int, str] = field(default_factory=dict)  # type -> MockMarket


def crash_config(*, type_limit: Decimal = Decimal(5_000_000), global_limit: Decimal = Decimal(10_000_000)) -> DeployConfig:
    """The default deployment with room for big books: ceilings of 10^9 kUSD."""
    collateral = default_collateral()
    for c in collateral:
        c.debt_ceiling = Decimal(1_000_000_000)
    return DeployConfig(collateral=collateral, auction=AuctionConfig(type_limit=type_limit, global_limit=global_limit))


def deploy_for_crash(w3: Web3, manifest_path: Path | str, config: DeployConfig | None = None,
                     log: Callable[[str], None] = _log.silent) -> Manifest:
    return deploy_system(w3, Sender.unlocked(w3, 0), config or crash_config(), manifest_path, force=True, log=log)


@contextlib.contextmanager
def crash_chain(directory: Path, *, config: DeployConfig | None = None, anvil_args: Sequence[str] = (),
                log: Callable[[str], None] = _log.silent) -> Iterator[tuple[Any, KeelClient]]:
    """An embedded Anvil (12 accounts, a free port) with Keel deployed for a crash (manifest
    in ``directory``): yields (the node, a client of the deployer's, node-signed)."""
    from ..chain import Anvil, free_port

    node = Anvil(port=free_port(), accounts=12, extra_args=anvil_args)
    node.start()
    try:
        w3 = node.w3
        manifest = deploy_for_crash(w3, Path(directory) / "manifest.json", config, log=log)
        yield node, KeelClient(w3, manifest, Sender.unlocked(w3, 0))
    finally:
        node.stop()


def send_all(w3: Web3, txs: Sequence[dict[str, Any]]) -> list[str]:
    """eth_sendTransaction for node-held accounts, one after the other (each carries its
    gas and nonce, so nothing is estimated); the hashes. (JSON-RPC batches of sends are
    not safe: anvil may handle a batch's requests concurrently and drop some.)"""
    send = w3.eth.send_transaction
    return [send(tx).to_0x_hex() for tx in txs]  # type: ignore[arg-type]


def open_book(
    client: KeelClient,
    n: int,
    *,
    seed: int = 1,
    ratios: tuple[Decimal, Decimal] = (Decimal("2.0"), Decimal("3.0")),
    sizes: dict[str, tuple[Decimal, Decimal]] | None = None,
    accounts: Sequence[int] = BORROWER_ACCOUNTS,
    symbols: Sequence[str] | None = None,
    log: Callable[[str], None] = _log.silent,
) -> Book:
    """Open ``n`` vaults, alternating over the collateral types (or ``symbols``) and the
    borrowers; each deposits a size drawn uniformly from ``sizes[symbol]`` (whole units)
    and borrows at a collateral ratio drawn uniformly from ``ratios``."""
    w3 = client.w3
    rng = random.Random(seed)
    sizes = sizes or {"WETH": (Decimal(1), Decimal(10)), "WBTC": (Decimal("0.05"), Decimal("0.5"))}
    owners = [w3.eth.accounts[i] for i in accounts]
    entries = [client.manifest.collateral_entry(s) for s in symbols] if symbols else list(client.manifest.collateral)
    prices = {e.collateral_type: client.price(e.collateral_type)[0] for e in entries}
    plan: list[tuple[str, int, int, int]] = []  # (owner, type, units, borrow WAD)
    need: dict[tuple[str, int], int] = {}
    for i in range(n):
        entry = entries[i % len(entries)]
        owner = owners[(i // len(entries)) % len(owners)]
        low, high = sizes.get(entry.symbol, (Decimal(1), Decimal(10)))
        amount = low + (high - low) * Decimal(rng.random())
        units = int(amount * 10**entry.decimals)
        ratio = ratios[0] + (ratios[1] - ratios[0]) * Decimal(rng.random())
        value = units * 10 ** (18 - entry.decimals) * prices[entry.collateral_type] // WAD
        borrow = int(Decimal(value) / ratio) // WAD * WAD  # whole kUSD
        plan.append((owner, entry.collateral_type, units, borrow))
        need[(owner, entry.collateral_type)] = need.get((owner, entry.collateral_type), 0) + units
    nonces = {o: w3.eth.get_transaction_count(o, "pending") for o in owners}
    setup: list[dict[str, Any]] = []
    engine = client.engine
    for (owner, type_id), units in need.items():
        token = client.token(type_id)
        for fn in (token.functions.mint(owner, units), token.functions.approve(engine.address, MAX_UINT256)):
            setup.append({"from": owner, "to": token.address, "data": fn._encode_transaction_data(),
                          "gas": 100_000, "nonce": nonces[owner]})
            nonces[owner] += 1
    send_all(w3, setup)
    txs = []
    for owner, type_id, units, borrow in plan:
        data = engine.functions.open_vault(type_id, units, borrow)._encode_transaction_data()
        txs.append({"from": owner, "to": engine.address, "data": data, "gas": GAS_OPEN, "nonce": nonces[owner]})
        nonces[owner] += 1
    started = time.monotonic()
    before = int(engine.functions.vault_count().call())
    # many transactions to a block: with a block per transaction (automine) anvil slows
    # down and grows its memory with every block (5,000 vaults: minutes and gigabytes)
    rpc = w3.provider.make_request  # type: ignore[attr-defined]
    rpc("evm_setAutomine", [False])
    try:
        hashes = send_all(w3, txs)
        deadline = time.monotonic() + 300
        after = before
        while after - before < n and time.monotonic() < deadline:
            rpc("evm_mine", [])
            after = int(engine.functions.vault_count().call())
    finally:
        rpc("evm_setAutomine", [True])
    if after - before != n:
        failed = [h for h in hashes if w3.eth.get_transaction_receipt(h)["status"] == 0][:3]
        raise RuntimeError(f"open_book: {after - before} of {n} vaults opened (failed: {failed})")
    log(f"opened {n} vaults in {time.monotonic() - started:.1f} s")
    book = Book(client.manifest, list(range(before + 1, after + 1)))
    for _owner, type_id, _units, borrow in plan:
        book.by_type[type_id] = book.by_type.get(type_id, 0) + 1
        book.debt += borrow
    return book


def deploy_markets(client: KeelClient, funding: int, *, whale: int = WHALE_ACCOUNT,
                   whale_symbol: str | None = None, extra: int = 0) -> dict[int, str]:
    """A MockMarket per type at the oracle price, each holding ``funding`` WAD debt tokens
    that a whale borrows against a large vault (ratio 3) of ``whale_symbol`` (default: the
    first type; choose one the scenario does not crash, or the whale is liquidated too);
    the whale borrows ``extra`` more for itself."""
    w3 = client.w3
    whale_sender = Sender.unlocked(w3, whale)
    me = client.as_sender(whale_sender)
    artifact = load_artifact("MockMarket")
    markets: dict[int, str] = {}
    entries = list(client.manifest.collateral)
    weth = client.manifest.collateral_entry(whale_symbol) if whale_symbol else entries[0]
    price, _ = client.price(weth.collateral_type)
    total = funding * len(entries) + extra
    deposit_wad = total * 3 * WAD // price + WAD
    units = deposit_wad // 10 ** (18 - weth.decimals)
    me.mint_collateral(weth.collateral_type, units)
    me.approve_collateral(weth.collateral_type)
    me.open_vault(weth.collateral_type, units, total)
    for e in entries:
        oracle_price, _ = client.price(e.collateral_type)
        receipt = whale_sender.deploy(artifact.abi, artifact.bytecode, e.token, client.debt_token.address, e.decimals,
                                      oracle_price, what=f"deploy MockMarket {e.symbol}")
        address = str(receipt["contractAddress"])
        me.transfer_debt_token(address, funding)
        markets[e.collateral_type] = address
    return markets


def market(client: KeelClient, address: str) -> Contract:
    return client.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact("MockMarket").abi)


def crash(client: KeelClient, factor: Decimal, markets: dict[int, str] | None = None,
          symbols: Sequence[str] | None = None, *, settle: bool = True,
          log: Callable[[str], None] = _log.silent) -> dict[str, int]:
    """Every type's (or ``symbols``') price times ``factor``: the reporters push it in steps
    of at most 15 % (each accepted by the circuit breaker), and the markets (if given)
    reprice at once -- the market moves first, the oracle follows a delay later. With
    ``settle`` the clock is moved past the security-module delay at once and the feeds
    poked so the new price is current on return (do this only while no keeper is
    bidding: the jump ages every running lot by the delay); without it the new price
    becomes current at the next pokes, e.g. :class:`ChainClock`'s. Returns the new prices."""
    w3, manifest = client.w3, client.manifest
    entries = [manifest.collateral_entry(s) for s in symbols] if symbols else list(manifest.collateral)
    reporter = Reporter(w3, manifest, local_reporter_senders(w3, manifest, [e.symbol for e in entries]))
    steps: list[Decimal] = []
    left = factor
    while left < MAX_STEP:
        steps.append(MAX_STEP)
        left /= MAX_STEP
    steps.append(left)
    prices = {e.symbol: reporter.state(e.symbol).latest_price for e in entries}
    for step in steps:
        for e in entries:
            prices[e.symbol] = to_wad(from_wad(prices[e.symbol]) * step)
            reporter.push(e.symbol, prices[e.symbol], poke=False)
        log(f"price step x{step:.4f}: " + ", ".join(f"{s} {from_wad(p):,.2f}" for s, p in prices.items()))
    if markets:
        owner = Sender.unlocked(w3, WHALE_ACCOUNT)
        for e in entries:
            if e.collateral_type in markets:
                owner.transact(market(client, markets[e.collateral_type]).functions.set_price(prices[e.symbol]),
                               what="MockMarket.set_price")
    if settle:
        make_current(w3, manifest, [e.symbol for e in entries], prices=prices, reporter=reporter)
    return prices


class ChainClock(threading.Thread):
    """Advances the chain's clock ``step`` seconds every ``period`` wall seconds and keeps
    every PriceFeed's price current (re-reported and poked before it goes stale), until
    :meth:`stop`. Node errors are counted and retried (the node may be restarted)."""

    def __init__(self, client: KeelClient, *, step: int = 30, period: float = 0.25,
                 log: Callable[[str], None] = _log.silent) -> None:
        super().__init__(name="chain-clock", daemon=True)
        self.client = client
        self.step = step
        self.period = period
        self.log = log
        self.errors = 0
        self.last_error = ""
        self.advanced = 0
        self._stop_event = threading.Event()
        self._paused = threading.Event()
        self._step = threading.Lock()  # held through one period's work (pause waits on it)
        manifest = client.manifest
        self.symbols = [e.symbol for e in manifest.collateral]
        self.reporter = Reporter(client.w3, manifest, local_reporter_senders(client.w3, manifest, self.symbols))
        # reporters report (and poke) once a security-module delay: the current price
        # is then never older than two delays, well inside max_age (>= 2 delays)
        self.refresh_every = max(60, min(self.reporter.state(s).delay for s in self.symbols))
        self._since_refresh = 0

    def run(self) -> None:
        w3 = self.client.w3
        while not self._stop_event.wait(self.period):
            with self._step:
                if not self._paused.is_set():
                    self._tick(w3)

    def _tick(self, w3: Web3) -> None:
        """One period: the clock moved, and the feeds refreshed when due."""
        try:
            increase_time(w3, self.step)
            self.advanced += self.step
            self._since_refresh += self.step
            if self._since_refresh >= self.refresh_every:
                for symbol in self.symbols:
                    self.reporter.push(symbol, self.reporter.state(symbol).latest_price, poke=True)
                self._since_refresh = 0
        except Exception as exc:  # the node is down or busy: try again next period
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            self.log(f"clock: {self.last_error[:120]}")

    def pause(self) -> None:
        """Stop moving the clock; returns once a period in progress (a block being mined,
        reports being pushed) has finished, so nothing of the clock's reaches the node after."""
        self._paused.set()
        with self._step:
            pass

    def resume(self) -> None:
        self._paused.clear()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def liquidatable(client: KeelClient, vault_ids: Sequence[int]) -> list[int]:
    """Vaults the lens says are unsafe now (with debt and a fresh price)."""
    return [v.vault_id for v in client.vaults_info(vault_ids) if v.normalized_debt and not v.safe and v.price_fresh]


def active_auctions(client: KeelClient) -> list[int]:
    count = client.auction_count()
    ids = list(range(1, count + 1))
    return [s.auction_id for start in range(0, len(ids), 100)
            for s in client.auction_statuses(ids[start:start + 100]) if s.active]


__all__ = [
    "Book", "ChainClock", "active_auctions", "crash", "crash_chain", "crash_config", "deploy_for_crash",
    "deploy_markets",
    "liquidatable", "market", "open_book", "restart_node", "send_all",
]


def restart_node(node: Any, down: float = 3.0, *, settle_timeout: float = 30.0) -> None:
    """Stop a :class:`keel.chain.Anvil` started with ``--state FILE`` (it dumps its state
    on the way out), wait ``down`` seconds, start it again on the same port (it loads the
    state) and put its clock back past the last block (a fresh process starts from the
    wall clock, which may lie behind a clock moved forward).

    Mining is switched off first and the block number left to settle: Anvil's dump reads
    the block list and the account state under separate locks, so a block mined while it
    dumps can land in the state but not in the blocks (a transaction's effects kept, its
    receipt and logs lost: seen as a keeper's liquidation whose ``Seized`` events vanished).
    Transactions that arrive meanwhile wait in the pool, which the dump does not keep: to
    their senders they are lost in the restart, as on a real node that crashes. The new
    process mines automatically again."""
    from ..chain import rpc_request

    rpc_request(node.url, "evm_setAutomine", [False])
    number = int(rpc_request(node.url, "eth_blockNumber"), 16)
    deadline = time.monotonic() + settle_timeout
    while True:  # a block being mined when automine went off finishes first
        time.sleep(0.2)
        now = int(rpc_request(node.url, "eth_blockNumber"), 16)
        if now == number:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"restart_node: blocks still being mined {settle_timeout:.0f} s after mining stopped")
        number = now
    last = int(node.w3.eth.get_block("latest")["timestamp"])
    node.stop()
    time.sleep(down)
    node.start()
    rpc_request(node.url, "evm_setNextBlockTimestamp", [last + 1])
    rpc_request(node.url, "evm_mine")

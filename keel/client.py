"""A typed web3 client for a deployed Keel system.

::

    client = KeelClient(w3, Manifest.load(path), Sender.unlocked(w3, 1))
    client.approve_collateral("WETH")
    vault = client.open_vault("WETH", deposit=10 * 10**18, borrow=5_000 * WAD)
    info = client.vault_info(vault.vault_id)     # VaultInfo
    client.repay_all(vault.vault_id)

Collateral amounts are the token's own units (``10**8`` is one WBTC); debt amounts are
WAD.  Collateral types are given by id or symbol.  Every transaction returns its
receipt (``receipt["gasUsed"]``) and raises :class:`keel.tx.KeelTxError` with the
contract's reason on revert.  One client per account: :meth:`KeelClient.as_sender`
makes another on the same contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, NamedTuple, TypeVar

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from .chain import connect
from .manifest import ORACLE_ABI, TOKEN_ABI, CollateralEntry, Manifest
from .tx import Sender
from .units import MAX_UINT256, RAY, WAD

BATCH = 100  # VaultLens.vaults_info takes at most 100 ids

T = TypeVar("T")


class ClientError(RuntimeError):
    """Misuse of the client (no sender, unknown collateral, not a mock token, ...)."""


# ---------------------------------------------------------------------------- view shapes
@dataclass(frozen=True)
class VaultInfo:
    """Mirror of ``VaultLens.VaultInfo``."""

    vault_id: int
    owner: str
    collateral_type: int
    collateral: int  # WAD
    normalized_debt: int  # WAD
    debt: int  # WAD with fees to now, rounded up
    collateral_value: int  # WAD at the oracle price, rounded down
    collateral_ratio: int  # WAD; MAX_UINT256 when there is no debt
    max_borrow: int  # WAD
    safe: bool
    price_fresh: bool

    @property
    def has_debt(self) -> bool:
        return self.normalized_debt != 0


@dataclass(frozen=True)
class CollateralTypeInfo:
    """Mirror of ``VaultLens.CollateralTypeInfo`` (plus its id and symbol)."""

    token: str
    oracle: str
    token_scale: int  # 10 ** (18 - token decimals)
    liquidation_ratio: int  # WAD, the base (static) part of the required ratio
    debt_ceiling: int  # WAD
    dust: int  # WAD
    stability_fee: int  # RAY per second
    liquidation_penalty: int  # WAD factor
    rate: int  # RAY, as stored (last accrual)
    last_accrual: int  # unix seconds
    normalized_debt: int  # WAD
    debt: int  # WAD at the current rate, rounded up
    collateral_dust: int  # WAD
    volatility_k_bps: int = 0  # required ratio adds min(k * sigma, cap); 0: static ratio
    volatility_cap_bps: int = 0  # cap of that add-on, bps of ratio
    auction_limit: int = 0  # WAD, most vault debt in auction at once (Liquidator cap)
    collateral_type: int = 0
    symbol: str = ""

    @property
    def decimals(self) -> int:
        return 18 - (len(str(self.token_scale)) - 1)


@dataclass(frozen=True)
class LedgerCheck:
    """Invariant 2 on the engine alone: ``supply * RAY + surplus == sum(normalized_debt * rate)
    + debt_in_auction + bad_debt`` (RAD on both sides; ``rate`` as stored, since unaccrued fees
    are not in the surplus yet)."""

    supply: int  # WAD
    surplus: int  # RAD
    debt: int  # RAD, sum over types of normalized_debt * stored rate
    debt_in_auction: int = 0  # RAD seized, awaiting auction proceeds
    bad_debt: int = 0  # RAD uncovered by auctions, plus keeper incentives
    settled_debt: int = 0  # RAD settled against collateral after a shutdown

    @property
    def lhs(self) -> int:
        return self.supply * RAY + self.surplus

    @property
    def rhs(self) -> int:
        return self.debt + self.debt_in_auction + self.bad_debt + self.settled_debt

    @property
    def ok(self) -> bool:
        return self.lhs == self.rhs


@dataclass(frozen=True)
class CollateralCheck:
    """Per type: ``balanceOf(engine) * scale == sum(vault collateral) + type_collateral_in_auction
    + type_collateral_dust + type_collateral_settled`` (WAD)."""

    collateral_type: int
    symbol: str
    held: int  # WAD, the engine's token balance * scale
    vaults: int  # WAD, sum over the type's vaults
    in_auction: int  # WAD
    dust: int  # WAD
    settled: int = 0  # WAD in the redemption pool after a shutdown

    @property
    def ok(self) -> bool:
        return self.held == self.vaults + self.in_auction + self.dust + self.settled


@dataclass(frozen=True)
class AuctionStatus:
    """Mirror of ``DutchAuction.AuctionStatus``."""

    auction_id: int
    active: bool
    needs_reset: bool
    collateral_type: int
    vault_id: int  # the liquidated vault; leftover collateral goes back into it
    price: int  # WAD now
    top: int  # WAD
    lot: int  # WAD collateral left
    target: int  # WAD debt tokens still to raise
    debt: int  # WAD of the vault's debt still uncovered
    started_at: int


@dataclass(frozen=True)
class Liquidation:
    """One liquidation: the Liquidator's ``Liquidated`` event joined with the auction's
    ``AuctionStarted`` event of the same lot."""

    vault_id: int
    auction_id: int
    keeper: str
    collateral_type: int
    collateral: int  # WAD seized
    debt: int  # WAD seized
    target: int  # WAD
    reward: int  # WAD due to the keeper (a batch pays the sum in one mint)


@dataclass(frozen=True)
class SeriesInfo:
    """Mirror of ``OptionsHouse.Series``."""

    series_id: int
    token: str
    collateral_type: int
    is_call: bool
    strike: int  # WAD
    expiry: int  # unix seconds
    settled: bool
    settlement_price: int  # WAD
    settlement_mode: int  # 1 oracle, 2 last (stale) price, 3 at the strike (no price)
    payoff: int  # WAD per option: underlying (call) or debt tokens (put)
    written: int  # WAD written against locked collateral, outstanding
    margin_written: int  # WAD written in portfolio margin, not yet settled
    funds: int  # WAD held for holders after settlement
    supply: int  # WAD options in circulation

    @property
    def kind(self) -> str:
        return "call" if self.is_call else "put"


@dataclass(frozen=True)
class MarginHealth:
    """Mirror of ``PortfolioMargin.Health``: all WAD debt tokens."""

    value: int  # collateral + longs - shorts at today's price (bounds), signed
    debt: int
    maintenance: int  # the worst weighted scenario loss
    initial: int
    healthy: bool  # value - debt >= maintenance
    opening: bool  # value - debt >= initial

    @property
    def spare(self) -> int:
        """What the account may lose before it needs more collateral (maintenance)."""
        return self.value - self.debt - self.maintenance


class RequiredRatio(NamedTuple):
    """``VaultEngine.required_ratio``: a vault is safe while value >= debt * total (WAD)."""

    base: int  # the type's liquidation_ratio
    extra: int  # min(k * oracle volatility, cap)
    total: int


class OpenedVault(NamedTuple):
    vault_id: int
    receipt: TxReceipt


def struct_fields(contract: Contract, function: str) -> list[str]:
    """Component names of the struct a view returns, in ABI order."""
    for item in contract.abi:
        if item.get("type") == "function" and item.get("name") == function:
            output = item["outputs"][0]
            return [c["name"] for c in output["components"]]
    raise ClientError(f"{function} not in the ABI")


def _from_struct(cls: type[T], names: list[str], value: Any, **extra: Any) -> T:
    """Build a dataclass from a decoded struct (a tuple in ABI order) by field name, so a
    reordered or extended struct still maps (fields the dataclass lacks are dropped)."""
    wanted = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    data = {name: v for name, v in zip(names, value) if name in wanted}
    return cls(**data, **extra)


# ---------------------------------------------------------------------------- client
class KeelClient:
    def __init__(self, w3: Web3, manifest: Manifest, sender: Sender | None = None) -> None:
        self.w3 = w3
        self.manifest = manifest
        self.sender = sender
        self._contracts: dict[tuple[str, str], Contract] = {}

    @classmethod
    def from_manifest(
        cls, path: Path | str, rpc: str | None = None, sender: Sender | None = None
    ) -> "KeelClient":
        """Load a manifest and connect to ``rpc`` (default: the manifest's)."""
        manifest = Manifest.load(path)
        url = rpc or manifest.rpc
        if not url:
            raise ClientError(f"{path} records no rpc; pass one")
        return cls(connect(url), manifest, sender)

    def as_sender(self, sender: Sender) -> "KeelClient":
        """The same system, transacting as ``sender``."""
        other = KeelClient(self.w3, self.manifest, sender)
        other._contracts = self._contracts
        return other

    # -- contracts
    def contract(self, abi_name: str, address: str) -> Contract:
        key = (abi_name, address)
        if key not in self._contracts:
            self._contracts[key] = self.w3.eth.contract(
                address=Web3.to_checksum_address(address), abi=self.manifest.abi(abi_name)
            )
        return self._contracts[key]

    @property
    def engine(self) -> Contract:
        return self.contract("VaultEngine", self.manifest.address("VaultEngine"))

    @property
    def lens(self) -> Contract:
        """VaultLens: vault figures (debt to now, ratio, headroom, safety)."""
        return self.contract("VaultLens", self.manifest.address("VaultLens"))

    @property
    def debt_token(self) -> Contract:
        return self.contract("DebtToken", self.manifest.address("DebtToken"))

    @property
    def liquidator(self) -> Contract:
        return self.contract("Liquidator", self.manifest.address("Liquidator"))

    @property
    def auction(self) -> Contract:
        return self.contract("DutchAuction", self.manifest.address("DutchAuction"))

    @property
    def house(self) -> Contract:
        """OptionsHouse: series, fully collateralised writing, settlement."""
        return self.contract("OptionsHouse", self.manifest.address("OptionsHouse"))

    @property
    def margin(self) -> Contract:
        """PortfolioMargin: cross-margin accounts (a vault plus option positions)."""
        return self.contract("PortfolioMargin", self.manifest.address("PortfolioMargin"))

    @property
    def pricer(self) -> Contract:
        return self.contract("OptionPricer", self.manifest.address("OptionPricer"))

    def collateral(self, key: str | int) -> CollateralEntry:
        """The manifest entry for a symbol or type id."""
        return self.manifest.collateral_entry(key)

    def token(self, key: str | int) -> Contract:
        return self.contract(TOKEN_ABI, self.collateral(key).token)

    def oracle(self, key: str | int) -> Contract:
        """The type's oracle, with its own ABI (PriceFeed, ChainlinkAdapter or, for old
        manifests, ManualPriceFeed); all answer ``peek()`` and ``volatility()``."""
        entry = self.collateral(key)
        return self.contract(entry.oracle_contract or ORACLE_ABI, entry.oracle)

    def _type(self, key: str | int) -> int:
        return self.collateral(key).collateral_type

    @property
    def address(self) -> str:
        return self._sender().address

    def _sender(self) -> Sender:
        if self.sender is None:
            raise ClientError("this client has no sender: read-only")
        return self.sender

    def _tx(self, fn: Any) -> TxReceipt:
        return self._sender().transact(fn)

    # -- collateral tokens
    def mint_collateral(self, key: str | int, amount: int, to: str | None = None) -> TxReceipt:
        """MockToken faucet (local deployments only): mint ``amount`` token units."""
        entry = self.collateral(key)
        if not entry.mock:
            raise ClientError(f"{entry.symbol} is not a mock token: no faucet")
        return self._tx(self.token(key).functions.mint(to or self.address, amount))

    def approve_collateral(self, key: str | int, amount: int = MAX_UINT256) -> TxReceipt:
        """Let the engine pull the sender's collateral (default: unlimited)."""
        return self._tx(self.token(key).functions.approve(self.engine.address, amount))

    def approve_debt_token(self, spender: str, amount: int = MAX_UINT256) -> TxReceipt:
        return self._tx(self.debt_token.functions.approve(spender, amount))

    def transfer_debt_token(self, to: str, amount: int) -> TxReceipt:
        return self._tx(self.debt_token.functions.transfer(to, amount))

    # -- vault operations
    def open_vault(self, key: str | int, deposit: int = 0, borrow: int = 0) -> OpenedVault:
        """Open a vault (optionally depositing ``deposit`` token units and borrowing
        ``borrow`` WAD in the same transaction); the id comes from ``VaultOpened``."""
        receipt = self._tx(self.engine.functions.open_vault(self._type(key), deposit, borrow))
        events = self.engine.events.VaultOpened().process_receipt(receipt, errors=DISCARD)
        if not events:
            raise ClientError("open_vault: no VaultOpened event in the receipt")
        return OpenedVault(int(events[0]["args"]["vault_id"]), receipt)

    def deposit(self, vault_id: int, amount: int) -> TxReceipt:
        """Add ``amount`` token units of collateral."""
        return self._tx(self.engine.functions.deposit(vault_id, amount))

    def withdraw(self, vault_id: int, amount: int, receiver: str | None = None) -> TxReceipt:
        """Take ``amount`` token units out (to the sender unless ``receiver``)."""
        return self._tx(self.engine.functions.withdraw(vault_id, amount, receiver or self.address))

    def borrow(self, vault_id: int, amount: int, receiver: str | None = None) -> TxReceipt:
        """Mint ``amount`` WAD debt tokens against the vault."""
        return self._tx(self.engine.functions.borrow(vault_id, amount, receiver or self.address))

    def repay(self, vault_id: int, amount: int) -> TxReceipt:
        """Burn ``amount`` WAD of the sender's debt tokens against the vault's debt."""
        return self._tx(self.engine.functions.repay(vault_id, amount))

    def repay_all(self, vault_id: int) -> TxReceipt:
        """Repay the whole debt, fees to this block included (``amount = max uint256``)."""
        return self._tx(self.engine.functions.repay(vault_id, MAX_UINT256))

    def close(self, vault_id: int, receiver: str | None = None) -> TxReceipt:
        """Repay everything and take all collateral out; the vault stays, empty and owned."""
        return self._tx(self.engine.functions.close(vault_id, receiver or self.address))

    def transfer_vault(self, vault_id: int, new_owner: str) -> TxReceipt:
        return self._tx(self.engine.functions.transfer_vault(vault_id, new_owner))

    def set_operator(self, operator: str, approved: bool = True) -> TxReceipt:
        return self._tx(self.engine.functions.set_operator(operator, approved))

    def accrue(self, key: str | int) -> TxReceipt:
        """Compound the type's stability fee to now (anyone may)."""
        return self._tx(self.engine.functions.accrue(self._type(key)))

    # -- liquidation
    def liquidated(self, receipt: TxReceipt) -> list[Liquidation]:
        """The liquidations of a receipt: one per lot started (``AuctionStarted``), with the
        keeper and reward from ``Liquidated`` (``liquidate``) or, for ``liquidate_many``, whose
        ``BatchLiquidated`` pays one sum, each lot's share by the type's reward rule."""
        single = {
            int(ev["args"]["auction_id"]): ev["args"]
            for ev in self.liquidator.events.Liquidated().process_receipt(receipt, errors=DISCARD)
        }
        batch = self.liquidator.events.BatchLiquidated().process_receipt(receipt, errors=DISCARD)
        batch_keeper = batch[0]["args"]["keeper"] if batch else ""
        rules: dict[int, tuple[int, int, int]] = {}
        out = []
        for ev in self.auction.events.AuctionStarted().process_receipt(receipt, errors=DISCARD):
            lot = ev["args"]
            auction_id, type_id = int(lot["auction_id"]), int(lot["collateral_type"])
            if auction_id in single:
                keeper, reward = single[auction_id]["keeper"], int(single[auction_id]["reward"])
            else:
                if type_id not in rules:  # the rule as it was in the receipt's block
                    rules[type_id] = tuple(int(x) for x in self.liquidator.functions.reward(type_id).call(
                        block_identifier=receipt["blockNumber"]))
                flat, percent, cap = rules[type_id]
                keeper, reward = batch_keeper, min(flat + int(lot["target"]) * percent // WAD, cap)
            out.append(Liquidation(
                vault_id=int(lot["vault_id"]), auction_id=auction_id, keeper=keeper, collateral_type=type_id,
                collateral=int(lot["lot"]), debt=int(lot["debt"]), target=int(lot["target"]), reward=reward,
            ))
        return out

    def liquidate(self, vault_id: int, keeper: str | None = None) -> TxReceipt:
        """Liquidate an unsafe vault (all of it, or what the caps allow); the reward goes to
        ``keeper`` (default: the sender). :meth:`liquidated` reads the result."""
        return self._tx(self.liquidator.functions.liquidate(vault_id, keeper or self.address))

    def liquidate_many(self, vault_ids: Iterable[int], keeper: str | None = None) -> TxReceipt:
        """Liquidate up to 50 vaults; ones that cannot be are skipped (``Skipped``)."""
        return self._tx(self.liquidator.functions.liquidate_many(list(vault_ids), keeper or self.address))

    def auction_status(self, auction_id: int) -> AuctionStatus:
        raw = self.auction.functions.status(auction_id).call()
        return _from_struct(AuctionStatus, struct_fields(self.auction, "status"), raw)

    def auction_statuses(self, auction_ids: Iterable[int]) -> list[AuctionStatus]:
        """``status`` for many lots, 100 per call."""
        ids = list(auction_ids)
        out: list[AuctionStatus] = []
        names = struct_fields(self.auction, "statuses")
        for start in range(0, len(ids), BATCH):
            out += [_from_struct(AuctionStatus, names, v)
                    for v in self.auction.functions.statuses(ids[start:start + BATCH]).call()]
        return out

    def auction_count(self) -> int:
        return int(self.auction.functions.auction_count().call())

    def take(
        self, auction_id: int, amount: int, max_price: int, receiver: str | None = None, data: bytes = b""
    ) -> TxReceipt:
        """Buy up to ``amount`` WAD of a lot's collateral at the current price (at most
        ``max_price`` WAD), paying in the sender's debt tokens; ``data`` makes it a flash take."""
        return self._tx(self.auction.functions.take(auction_id, amount, max_price, receiver or self.address, data))

    def reset(self, auction_id: int, keeper: str | None = None) -> TxReceipt:
        """Restart a lot past ``tail`` or below ``cusp * top``; ``keeper`` gets the incentive."""
        return self._tx(self.auction.functions.reset(auction_id, keeper or self.address))

    def is_liquidatable(self, vault_id: int) -> bool:
        return bool(self.lens.functions.is_liquidatable(vault_id).call())

    def debt_in_auction(self) -> int:
        """Debt seized and not yet covered by auction proceeds, RAD."""
        return int(self.engine.functions.debt_in_auction().call())

    def bad_debt(self) -> int:
        """Debt no auction covered plus keeper incentives, not yet settled, RAD."""
        return int(self.engine.functions.bad_debt().call())

    def settle_bad_debt(self) -> TxReceipt:
        """Cancel bad debt against the surplus (anyone)."""
        return self._tx(self.engine.functions.settle_bad_debt())

    # -- emergency shutdown and global settlement (contracts/GlobalSettlement.vy)
    @property
    def settlement(self) -> Contract:
        return self.contract("GlobalSettlement", self.manifest.address("GlobalSettlement"))

    def is_shut_down(self) -> bool:
        return int(self.engine.functions.shutdown_at().call()) != 0

    def shutdown(self) -> TxReceipt:
        """Shut Keel down for global settlement: irreversible (ROLE_SHUTDOWN_ADMIN)."""
        return self._tx(self.settlement.functions.shutdown())

    def frozen_price(self, key: str | int) -> int:
        """The type's price frozen at shutdown, WAD (0: not frozen)."""
        return int(self.settlement.functions.frozen_price(self._type(key)).call())

    def settle_vaults(self, vault_ids: Iterable[int]) -> list[TxReceipt]:
        """Settle every listed vault with debt, 100 per transaction (anyone, after shutdown)."""
        ids = list(vault_ids)
        return [self._tx(self.settlement.functions.settle_vaults(ids[start:start + BATCH]))
                for start in range(0, len(ids), BATCH)]

    def cancel_auction(self, auction_id: int) -> TxReceipt:
        """Cancel a running lot and settle its debt at the frozen price (anyone, after shutdown)."""
        return self._tx(self.settlement.functions.cancel_auction(auction_id))

    def finalize(self, key: str | int) -> TxReceipt:
        """Fix a type's redemption pool once its vaults are settled and its lots cancelled."""
        return self._tx(self.settlement.functions.finalize(self._type(key)))

    def redeem(self, amount: int) -> TxReceipt:
        """Hand in ``amount`` WAD debt tokens for a share of every pool (approves first)."""
        settlement = self.settlement.address
        if int(self.debt_token.functions.allowance(self.address, settlement).call()) < amount:
            self.approve_debt_token(settlement, amount)
        return self._tx(self.settlement.functions.redeem(amount))

    def claimable(self, key: str | int, holder: str | None = None) -> int:
        """Collateral (WAD) ``holder`` (default: the sender) could claim of a type now."""
        return int(self.settlement.functions.claimable(holder or self.address, self._type(key)).call())

    def claim(self, key: str | int, receiver: str | None = None) -> TxReceipt:
        """Take the sender's share of a finalized type's pool."""
        return self._tx(self.settlement.functions.claim(self._type(key), receiver or self.address))

    # -- admin / reporter
    def set_price(self, key: str | int, price: int) -> TxReceipt:
        """Post ``price`` (WAD) on the type's ManualPriceFeed (ROLE_REPORTER). PriceFeeds
        take reports from their reporters instead: see :class:`keel.oracle.Reporter`."""
        entry = self.collateral(key)
        if entry.oracle_contract != ORACLE_ABI:
            raise ClientError(
                f"{entry.symbol} is priced by a {entry.oracle_contract}: no setter (use keel.oracle.Reporter)"
            )
        return self._tx(self.oracle(key).functions.set_price(price))

    def refresh_prices(self) -> list[TxReceipt]:
        """Re-post every ManualPriceFeed's current price so it is fresh again (old
        deployments; PriceFeeds: :func:`keel.oracle.make_current`)."""
        return [
            self.set_price(e.collateral_type, self.price(e.collateral_type)[0])
            for e in self.manifest.collateral if e.oracle_contract == ORACLE_ABI
        ]

    def set_volatility_margin(self, key: str | int, k_bps: int, cap_bps: int) -> TxReceipt:
        """Required ratio = liquidation_ratio + min(k * sigma, cap) (ROLE_RISK_ADMIN)."""
        return self._tx(self.engine.functions.set_volatility_margin(self._type(key), k_bps, cap_bps))

    def withdraw_surplus(self, receiver: str, amount: int) -> TxReceipt:
        """Mint ``amount`` WAD out of the surplus (ROLE_TREASURY)."""
        return self._tx(self.engine.functions.withdraw_surplus(receiver, amount))

    # -- views
    def vault_info(self, vault_id: int) -> VaultInfo:
        raw = self.lens.functions.vault_info(vault_id).call()
        return _from_struct(VaultInfo, struct_fields(self.lens, "vault_info"), raw)

    def vaults_info(self, vault_ids: Iterable[int]) -> list[VaultInfo]:
        """``vault_info`` for many open vaults, 100 per call."""
        ids = list(vault_ids)
        out: list[VaultInfo] = []
        for start in range(0, len(ids), BATCH):
            chunk = self.lens.functions.vaults_info(ids[start:start + BATCH]).call()
            out += [_from_struct(VaultInfo, struct_fields(self.lens, "vaults_info"), v) for v in chunk]
        return out

    def collateral_type_count(self) -> int:
        return int(self.engine.functions.collateral_type_count().call())

    def collateral_type_info(self, key: str | int) -> CollateralTypeInfo:
        type_id = key if isinstance(key, int) else self._type(key)
        symbol = next((e.symbol for e in self.manifest.collateral if e.collateral_type == type_id), "")
        raw = self.lens.functions.collateral_type_info(type_id).call()
        names = struct_fields(self.lens, "collateral_type_info")
        return _from_struct(CollateralTypeInfo, names, raw, collateral_type=type_id, symbol=symbol)

    def collateral_types(self) -> list[CollateralTypeInfo]:
        """Every type the engine lists (1..collateral_type_count)."""
        return [self.collateral_type_info(t) for t in range(1, self.collateral_type_count() + 1)]

    def price(self, key: str | int) -> tuple[int, bool]:
        """(price WAD, fresh) from the type's oracle."""
        price, fresh = self.oracle(key).functions.peek().call()
        return int(price), bool(fresh)

    def volatility(self, key: str | int) -> int:
        """The oracle's annualised volatility, WAD (0 for adapters without history)."""
        return int(self.oracle(key).functions.volatility().call())

    def required_ratio(self, key: str | int) -> RequiredRatio:
        """(base, volatility add-on, total) WAD from ``VaultEngine.required_ratio``."""
        type_id = key if isinstance(key, int) else self._type(key)
        base, extra, total = self.engine.functions.required_ratio(type_id).call()
        return RequiredRatio(int(base), int(extra), int(total))

    def current_rate(self, key: str | int) -> int:
        return int(self.engine.functions.current_rate(self._type(key)).call())

    def surplus(self) -> int:
        """System surplus, RAD."""
        return int(self.engine.functions.surplus().call())

    def total_supply(self) -> int:
        """Debt-token supply, WAD."""
        return int(self.debt_token.functions.totalSupply().call())

    def debt_balance(self, account: str | None = None) -> int:
        return int(self.debt_token.functions.balanceOf(account or self.address).call())

    def collateral_balance(self, key: str | int, account: str | None = None) -> int:
        return int(self.token(key).functions.balanceOf(account or self.address).call())

    def vault_count(self) -> int:
        return int(self.engine.functions.vault_count().call())

    def vault_ids(self) -> list[int]:
        """Every vault id ever opened (1..vault_count). Vaults are never deleted: a closed
        vault is empty, still owned, and may yet get collateral back from an auction."""
        return list(range(1, self.vault_count() + 1))

    def open_vault_ids(self, owner: str | None = None) -> list[int]:
        """Ids of the vaults holding collateral or debt now (optionally of one owner), read
        through the lens 100 at a time. Vaults are never deleted and a closed vault may be
        used again, so this looks at every id, not at ``VaultClosed`` events."""
        wanted = Web3.to_checksum_address(owner) if owner else None
        return [
            v.vault_id for v in self.vaults_info(self.vault_ids())
            if (v.collateral or v.normalized_debt) and (wanted is None or v.owner == wanted)
        ]

    def auction_penalties(self) -> int:
        """Liquidation penalties paid into the surplus so far, WAD, rebuilt from the auction's
        events: a take pays the lot's vault debt first, so the part of ``owe`` beyond the fall of
        the uncovered debt ``max(0, target - penalty part)`` is penalty."""
        start = self.manifest.block
        penalty_part: dict[int, int] = {}
        for ev in self.auction.events.AuctionStarted().get_logs(from_block=start):
            penalty_part[int(ev["args"]["auction_id"])] = int(ev["args"]["target"]) - int(ev["args"]["debt"])
        total = 0
        for ev in self.auction.events.Take().get_logs(from_block=start):
            args = ev["args"]
            part = penalty_part[int(args["auction_id"])]
            owe, after = int(args["owe"]), int(args["target"])
            covered = max(0, after + owe - part) - max(0, after - part)
            total += owe - covered
        return total

    def accrued_fees(self) -> dict[int, int]:
        """Stability fees credited to the surplus so far, RAD, per type (``Accrued`` events)."""
        totals = {e.collateral_type: 0 for e in self.manifest.collateral}
        for ev in self.engine.events.Accrued().get_logs(from_block=self.manifest.block):
            type_id = int(ev["args"]["collateral_type"])
            totals[type_id] = totals.get(type_id, 0) + int(ev["args"]["fees"])
        return totals

    def ledger_check(self) -> LedgerCheck:
        """The debt-conservation invariant over every collateral type."""
        block = self.w3.eth.block_number  # one block for every read
        engine = self.engine.functions
        debt = 0
        for type_id in range(1, int(engine.collateral_type_count().call(block_identifier=block)) + 1):
            raw = self.lens.functions.collateral_type_info(type_id).call(block_identifier=block)
            info = dict(zip(struct_fields(self.lens, "collateral_type_info"), raw))
            debt += int(info["normalized_debt"]) * int(info["rate"])
        return LedgerCheck(
            supply=int(self.debt_token.functions.totalSupply().call(block_identifier=block)),
            surplus=int(engine.surplus().call(block_identifier=block)),
            debt=debt,
            debt_in_auction=int(engine.debt_in_auction().call(block_identifier=block)),
            bad_debt=int(engine.bad_debt().call(block_identifier=block)),
            settled_debt=int(engine.settled_debt().call(block_identifier=block)),
        )

    def collateral_check(self) -> list[CollateralCheck]:
        """The collateral-conservation invariant, per type, over every vault."""
        block = self.w3.eth.block_number
        engine = self.engine.functions
        ids = list(range(1, int(engine.vault_count().call(block_identifier=block)) + 1))
        names = struct_fields(self.lens, "vaults_info")
        totals: dict[int, int] = {}
        for start in range(0, len(ids), BATCH):
            for raw in self.lens.functions.vaults_info(ids[start:start + BATCH]).call(block_identifier=block):
                v = dict(zip(names, raw))
                totals[int(v["collateral_type"])] = totals.get(int(v["collateral_type"]), 0) + int(v["collateral"])
        out = []
        info_names = struct_fields(self.lens, "collateral_type_info")
        for type_id in range(1, int(engine.collateral_type_count().call(block_identifier=block)) + 1):
            info = dict(zip(info_names, self.lens.functions.collateral_type_info(type_id).call(block_identifier=block)))
            token = self.contract(TOKEN_ABI, info["token"])
            held = int(token.functions.balanceOf(self.engine.address).call(block_identifier=block))
            symbol = next((e.symbol for e in self.manifest.collateral if e.collateral_type == type_id), str(type_id))
            out.append(CollateralCheck(
                type_id, symbol, held * int(info["token_scale"]), totals.get(type_id, 0),
                int(engine.type_collateral_in_auction(type_id).call(block_identifier=block)),
                int(info["collateral_dust"]),
                int(engine.type_collateral_settled(type_id).call(block_identifier=block)),
            ))
        return out



# ---------------------------------------------------------------------------- options
def next_expiry(now: int, days: int) -> int:
    """The first 08:00 UTC (the series' expiry grid) at least ``days`` days after ``now``."""
    at = now + days * 86_400
    expiry = at - at % 86_400 + 8 * 3_600
    return expiry if expiry >= at else expiry + 86_400


class OptionsClient:
    """Options and portfolio margin on top of a :class:`KeelClient` (same sender)."""

    def __init__(self, client: KeelClient) -> None:
        self.client = client

    @property
    def house(self) -> Contract:
        return self.client.house

    @property
    def margin(self) -> Contract:
        return self.client.margin

    def _tx(self, fn: Any) -> TxReceipt:
        return self.client._tx(fn)

    def token(self, series_id: int) -> Contract:
        """The series' ERC-20."""
        return self.client.contract("OptionToken", self.house.functions.token_of(series_id).call())

    def series(self, series_id: int) -> SeriesInfo:
        raw = self.house.functions.series(series_id).call()
        return _from_struct(SeriesInfo, struct_fields(self.house, "series"), raw)

    def find(self, key: str | int, strike: int, expiry: int, is_call: bool) -> int | None:
        """The id of a listed series with these terms, or None."""
        type_id = self.client._type(key)
        token = self.house.functions.find_series(type_id, strike, expiry, is_call).call()
        if not self.client.w3.eth.get_code(token):
            return None
        return int(self.client.contract("OptionToken", token).functions.series_id().call())

    def create_series(self, key: str | int, strike: int, expiry: int, is_call: bool) -> int:
        """List a series (anyone) and return its id; an existing one's id if listed."""
        found = self.find(key, strike, expiry, is_call)
        if found is not None:
            return found
        receipt = self._tx(self.house.functions.create_series(self.client._type(key), strike, expiry, is_call))
        return int(self.house.events.SeriesCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["series_id"])

    def _approve_for(self, series_id: int, amount: int) -> None:
        info = self.series(series_id)
        if info.is_call:
            token = self.client.token(info.collateral_type)
        else:
            token = self.client.debt_token
        if int(token.functions.allowance(self.client.address, self.house.address).call()) < amount:
            self._tx(token.functions.approve(self.house.address, MAX_UINT256))

    def write(self, series_id: int, amount: int, receiver: str | None = None) -> TxReceipt:
        """Write ``amount`` (WAD) options, locking their collateral in full (approves the
        house first when needed)."""
        info = self.series(series_id)
        locked = amount if info.is_call else -(-amount * info.strike // WAD)
        self._approve_for(series_id, locked)
        return self._tx(self.house.functions.write(series_id, amount, receiver or self.client.address))

    def close(self, series_id: int, amount: int) -> TxReceipt:
        return self._tx(self.house.functions.close(series_id, amount, self.client.address))

    def settle(self, series_id: int) -> TxReceipt:
        return self._tx(self.house.functions.settle(series_id))

    def redeem(self, series_id: int, amount: int | None = None) -> TxReceipt:
        """Redeem ``amount`` (default: all the sender holds) after settlement."""
        if amount is None:
            amount = int(self.token(series_id).functions.balanceOf(self.client.address).call())
        return self._tx(self.house.functions.redeem(series_id, amount, self.client.address))

    def release(self, series_id: int) -> TxReceipt:
        return self._tx(self.house.functions.release(series_id, self.client.address))

    def balance(self, series_id: int, account: str | None = None) -> int:
        return int(self.token(series_id).functions.balanceOf(account or self.client.address).call())

    # -- portfolio margin
    def open_account(self, key: str | int, amount: int) -> int:
        """Open a margin account with ``amount`` token units of collateral; its vault id."""
        token = self.client.token(key)
        if int(token.functions.allowance(self.client.address, self.margin.address).call()) < amount:
            self._tx(token.functions.approve(self.margin.address, MAX_UINT256))
        receipt = self._tx(self.margin.functions.open_account(self.client._type(key), amount))
        return int(self.margin.events.AccountOpened().process_receipt(receipt, errors=DISCARD)[0]["args"]["vault_id"])

    def margin_write(self, vault_id: int, series_id: int, amount: int, receiver: str | None = None) -> TxReceipt:
        return self._tx(self.margin.functions.write(vault_id, series_id, amount, receiver or self.client.address))

    def margin_borrow(self, vault_id: int, amount: int) -> TxReceipt:
        return self._tx(self.margin.functions.borrow(vault_id, amount, self.client.address))

    def deposit_long(self, vault_id: int, series_id: int, amount: int) -> TxReceipt:
        token = self.token(series_id)
        if int(token.functions.allowance(self.client.address, self.margin.address).call()) < amount:
            self._tx(token.functions.approve(self.margin.address, MAX_UINT256))
        return self._tx(self.margin.functions.deposit_long(vault_id, series_id, amount))

    def settle_position(self, vault_id: int, series_id: int) -> TxReceipt:
        return self._tx(self.margin.functions.settle_position(vault_id, series_id))

    def health(self, vault_id: int) -> MarginHealth:
        raw = self.margin.functions.health(vault_id).call()
        return _from_struct(MarginHealth, struct_fields(self.margin, "health"), raw)

    def what_if(self, vault_id: int, collateral: int, debt: int) -> MarginHealth:
        """The account's health with ``collateral`` and ``debt`` (WAD) instead of its own."""
        raw = self.margin.functions.requirement(vault_id, collateral, debt).call()
        return _from_struct(MarginHealth, struct_fields(self.margin, "requirement"), raw)

    def min_collateral(self, vault_id: int, debt: int | None = None) -> int:
        """The least collateral (WAD, to 1e-6 of a unit) the account needs now, with its book
        and ``debt`` (default: its own), for its initial margin to hold: its margin
        requirement in units of collateral. By bisection over ``what_if``."""
        if debt is None:
            debt = self.health(vault_id).debt
        step = 10**12
        low, high = 0, step
        while not self.what_if(vault_id, high * step, debt).opening:
            low, high = high, high * 2
            if high > 10**30:
                raise ClientError("no collateral amount makes this account's initial margin hold")
        while high - low > 1:
            mid = (low + high) // 2
            if self.what_if(vault_id, mid * step, debt).opening:
                high = mid
            else:
                low = mid
        return high * step

    def max_borrow(self, vault_id: int) -> int:
        """The most debt (WAD, in whole-kUSD steps) the account could carry now under its
        initial margin, by bisection over ``what_if``; less what it owes is what it may borrow."""
        _, _, collateral, _ = self.client.engine.functions.vault_position(vault_id).call()
        low, high = 0, 1
        while self.what_if(vault_id, collateral, high * WAD).opening:
            low, high = high, high * 2
            if high > 10**15:
                break
        while high - low > 1:
            mid = (low + high) // 2
            if self.what_if(vault_id, collateral, mid * WAD).opening:
                low = mid
            else:
                high = mid
        return low * WAD

__all__ = [
    "OptionsClient", "SeriesInfo", "MarginHealth", "next_expiry",
    "KeelClient", "VaultInfo", "CollateralTypeInfo", "LedgerCheck", "CollateralCheck", "AuctionStatus",
    "Liquidation", "OpenedVault", "RequiredRatio", "ClientError",
    "WAD",
]

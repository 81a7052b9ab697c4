"""What the keeper watches, rebuilt from events and cached on disk.

:class:`Discovery` reads the engine's, the auction's and the margin module's logs from
the deployment block (``eth_getLogs`` over all three addresses at once, in block ranges
that halve when a node refuses a range) and keeps:

- **vaults**: every vault opened, with its collateral type and a mirror of its
  collateral and normalised debt (the events carry the values afterwards: ``Deposit`` /
  ``Withdraw`` / ``AuctionReturned`` the collateral, ``Borrow`` / ``Repay`` the normalised
  debt; ``Seized`` subtracts, ``VaultClosed`` / ``VaultSettled`` empty it). Only vaults
  with debt can become unsafe, so only those are read each block;
- **auctions**: lots started and not yet finished or cancelled;
- **margin accounts**: PortfolioMargin accounts opened and not released.

The cache (``<state dir>/discovery-<chain id>-<engine>.json``) holds the index and the
last block read with its hash. On load the hash is checked against the chain: a node
that forgot blocks (a restarted dev chain, a reorg deeper than the cache) makes the
keeper rescan from the deployment block rather than trust stale state.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from web3 import Web3
from web3._utils.events import get_event_data
from web3.contract.contract import Contract

from .. import log as _log

CACHE_VERSION = 1
#: blocks per eth_getLogs at first; halved when a node refuses the range
LOG_RANGE = 5_000
MIN_LOG_RANGE = 16

ENGINE_EVENTS = (
    "VaultOpened", "Deposit", "Withdraw", "Borrow", "Repay", "VaultClosed", "Seized", "AuctionReturned",
    "VaultSettled",
)
AUCTION_EVENTS = ("AuctionStarted", "AuctionFinished", "AuctionCancelled")
MARGIN_EVENTS = ("AccountOpened", "AccountReleased")


@dataclass
class VaultRecord:
    collateral_type: int
    collateral: int = 0  # WAD
    normalized_debt: int = 0  # WAD

    def as_list(self) -> list[int]:
        return [self.collateral_type, self.collateral, self.normalized_debt]


@dataclass
class Index:
    """The keeper's book of what exists on chain, as of ``block``."""

    block: int = -1  # last block read (inclusive)
    block_hash: str = ""
    vaults: dict[int, VaultRecord] = field(default_factory=dict)
    auctions: set[int] = field(default_factory=set)  # running lots
    accounts: set[int] = field(default_factory=set)  # margin accounts (vault ids)
    events: int = 0  # events applied in all
    auctions_seen: int = 0  # highest lot id known (from events or the auction's count)

    def vaults_with_debt(self) -> list[int]:
        return sorted(v for v, r in self.vaults.items() if r.normalized_debt)

    def reconcile(self, vault_count: int, auction_count: int) -> int:
        """Take in ids the logs did not show (a node that lost logs, e.g. restarted from a
        state dump; logs from before the start block): vaults 1..vault_count and lots
        1..auction_count. A new vault is marked 'read me' (debt unknown: the next read
        learns its figures); a new lot is watched until a status read finds it ended.
        Returns how many ids were added."""
        added = 0
        for vault_id in range(1, vault_count + 1):
            if vault_id not in self.vaults:
                self.vaults[vault_id] = VaultRecord(0, 0, 1)
                added += 1
        for auction_id in range(self.auctions_seen + 1, auction_count + 1):
            self.auctions.add(auction_id)
            added += 1
        self.auctions_seen = max(self.auctions_seen, auction_count)
        return added

    def to_json(self) -> dict[str, Any]:
        return {
            "block": self.block, "block_hash": self.block_hash, "events": self.events,
            "vaults": {str(k): v.as_list() for k, v in self.vaults.items()},
            "auctions": sorted(self.auctions), "accounts": sorted(self.accounts),
            "auctions_seen": self.auctions_seen,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Index":
        return cls(
            block=int(data["block"]), block_hash=str(data["block_hash"]), events=int(data.get("events", 0)),
            vaults={int(k): VaultRecord(*map(int, v)) for k, v in data["vaults"].items()},
            auctions=set(map(int, data["auctions"])), accounts=set(map(int, data["accounts"])),
            auctions_seen=int(data.get("auctions_seen", 0)),
        )


class Discovery:
    """Keeps an :class:`Index` current: :meth:`sync` reads the logs up to a block."""

    def __init__(
        self,
        w3: Web3,
        *,
        engine: Contract,
        auction: Contract,
        margin: Contract | None,
        start_block: int,
        cache_path: Path | str | None = None,
        log: Callable[[str], None] = _log.silent,
    ) -> None:
        self.w3 = w3
        self.start_block = start_block
        self.cache_path = Path(cache_path) if cache_path else None
        self.log = log
        self.index = Index()
        self.log_range = LOG_RANGE
        self.rescans = 0  # times the cache (or the running index) was dropped
        self._decoders: dict[bytes, tuple[str, dict[str, Any]]] = {}
        self.addresses = [engine.address, auction.address] + ([margin.address] if margin is not None else [])
        for contract, names in ((engine, ENGINE_EVENTS), (auction, AUCTION_EVENTS), (margin, MARGIN_EVENTS)):
            if contract is None:
                continue
            for name in names:
                abi = contract.events[name]().abi
                self._decoders[self._topic(abi)] = (name, abi)
        self.loaded_from_cache = self._load()

    # -- cache
    @staticmethod
    def _topic(abi: dict[str, Any]) -> bytes:
        signature = f"{abi['name']}({','.join(i['type'] for i in abi['inputs'])})"
        return bytes(Web3.keccak(text=signature))

    def _load(self) -> bool:
        if self.cache_path is None or not self.cache_path.exists():
            return False
        try:
            data = json.loads(self.cache_path.read_text())
            if data.get("version") != CACHE_VERSION or data.get("addresses") != self.addresses:
                self.log("discovery cache: other deployment or format, ignored")
                return False
            self.index = Index.from_json(data["index"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.log(f"discovery cache unreadable ({exc}), rescanning")
            self.index = Index()
            return False
        return True

    def save(self) -> None:
        if self.cache_path is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "addresses": self.addresses, "index": self.index.to_json()}))
        os.replace(tmp, self.cache_path)

    def _cache_matches_chain(self) -> bool:
        """The cached block is still on the chain with the same hash."""
        if self.index.block < 0:
            return True
        try:
            block = self.w3.eth.get_block(self.index.block)
        except Exception as exc:  # a node that never had (or forgot) the block
            if "not found" in str(exc).lower() or type(exc).__name__ == "BlockNotFound":
                return False
            raise
        return block["hash"].to_0x_hex() == self.index.block_hash

    # -- reading
    def sync(self, to_block: int | None = None, to_hash: str | None = None) -> int:
        """Read the logs up to ``to_block`` (default: the latest); returns events applied.
        ``to_hash``: that block's hash, when the caller has it (saves asking again)."""
        latest = int(self.w3.eth.block_number) if to_block is None else to_block
        if self.index.block > latest or not self._cache_matches_chain():
            self.log(f"discovery: the chain no longer has block {self.index.block} as cached; rescanning")
            self.index = Index()
            self.rescans += 1
        applied = 0
        start = max(self.index.block + 1, self.start_block)
        while start <= latest:
            end = min(latest, start + self.log_range - 1)
            try:
                logs = self.w3.eth.get_logs({"fromBlock": start, "toBlock": end, "address": self.addresses})
            except Exception as exc:  # range too large / too many results: halve and retry
                if self.log_range > MIN_LOG_RANGE and _is_range_error(exc):
                    self.log_range //= 2
                    continue
                raise
            for entry in logs:
                applied += self._apply(entry)
            self.index.block = end
            start = end + 1
        if self.index.block == latest and latest >= 0:
            self.index.block_hash = to_hash or self.w3.eth.get_block(latest)["hash"].to_0x_hex()
        self.index.events += applied
        return applied

    def _apply(self, entry: Any) -> int:
        topics = entry["topics"]
        if not topics:
            return 0
        found = self._decoders.get(bytes(topics[0]))
        if found is None:
            return 0
        name, abi = found
        args = get_event_data(self.w3.codec, abi, entry)["args"]
        index = self.index
        vaults = index.vaults
        if name == "VaultOpened":
            vaults[int(args["vault_id"])] = VaultRecord(int(args["collateral_type"]))
        elif name in ("Deposit", "Withdraw"):
            self._vault(args).collateral = int(args["collateral"])
        elif name in ("Borrow", "Repay"):
            self._vault(args).normalized_debt = int(args["normalized_debt"])
        elif name == "Seized":
            record = self._vault(args)
            record.collateral = max(0, record.collateral - int(args["collateral"]))
            record.normalized_debt = max(0, record.normalized_debt - int(args["normalized_debt"]))
        elif name == "AuctionReturned":
            self._vault(args).collateral = int(args["collateral"])
        elif name in ("VaultClosed", "VaultSettled"):
            record = self._vault(args)
            record.collateral = 0 if name == "VaultClosed" else max(0, record.collateral - int(args["collateral"]))
            record.normalized_debt = 0
        elif name == "AuctionStarted":
            index.auctions.add(int(args["auction_id"]))
            index.auctions_seen = max(index.auctions_seen, int(args["auction_id"]))
        elif name in ("AuctionFinished", "AuctionCancelled"):
            index.auctions.discard(int(args["auction_id"]))
        elif name == "AccountOpened":
            index.accounts.add(int(args["vault_id"]))
        elif name == "AccountReleased":
            index.accounts.discard(int(args["vault_id"]))
        return 1

    def _vault(self, args: Any) -> VaultRecord:
        vault_id = int(args["vault_id"])
        record = self.index.vaults.get(vault_id)
        if record is None:  # opened before the start block: the type is learnt on the first read
            record = self.index.vaults[vault_id] = VaultRecord(0)
        return record

    def forget_auctions(self, auction_ids: Iterable[int]) -> None:
        """Drop lots a status read found ended (events not yet read)."""
        for auction_id in auction_ids:
            self.index.auctions.discard(auction_id)


def _is_range_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("range", "too many", "limit", "exceed", "timeout", "timed out", "10000"))


__all__ = ["Discovery", "Index", "VaultRecord", "CACHE_VERSION"]

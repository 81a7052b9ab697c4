"""The deployment manifest: where a Keel system lives on one chain.

A JSON file (default ``deployments/<chain_id>.json``; local chains use
``deployments/local/<chain_id>.json``, which git ignores) written by ``keel deploy``
and read by every client (CLI, keeper, simulator)::

    {
      "chain_id": 31337, "rpc": "http://127.0.0.1:8545", "block": 1,
      "deployer": "0x...",
      "contracts": {"DebtToken": "0x...", "VaultEngine": "0x..."},
      "collateral": [{"symbol": "WETH", "token": "0x...", "decimals": 18,
                      "oracle": "0x...", "collateral_type": 1, "mock": true,
                      "oracle_contract": "PriceFeed", "aggregator": null,
                      "mock_aggregator": false}],
      "abi_dir": "abi"
    }

``abi_dir`` is stored relative to the manifest's directory and resolved on load.
``oracle_contract`` names the oracle's contract (its ABI): ``PriceFeed`` (reporters,
median, delay), ``ChainlinkAdapter`` (then ``aggregator`` is the Chainlink feed it
reads, a ``MockAggregator`` when ``mock_aggregator``) or, in manifests written before
the PriceFeed existed (the field is absent there), ``ManualPriceFeed``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: contract whose ABI serves each collateral entry's token
TOKEN_ABI = "MockToken"
#: the oracle contract of entries that do not name theirs (manifests older than PriceFeed)
ORACLE_ABI = "ManualPriceFeed"
#: oracle contracts a collateral entry may name
PRICE_FEED = "PriceFeed"
CHAINLINK_ADAPTER = "ChainlinkAdapter"
ORACLE_CONTRACTS = (PRICE_FEED, CHAINLINK_ADAPTER, ORACLE_ABI)


class ManifestError(RuntimeError):
    """The manifest is missing, malformed or lacks an entry."""


@dataclass
class CollateralEntry:
    """One listed collateral type."""

    symbol: str
    token: str
    decimals: int
    oracle: str
    collateral_type: int
    mock: bool = False  # token is a MockToken deployed by keel (open faucet)
    oracle_contract: str = ORACLE_ABI  # PriceFeed | ChainlinkAdapter | ManualPriceFeed (old manifests)
    aggregator: str | None = None  # ChainlinkAdapter: the AggregatorV3 feed it reads
    mock_aggregator: bool = False  # aggregator is a MockAggregator deployed by keel (local chains)


@dataclass
class Manifest:
    chain_id: int
    deployer: str
    block: int  # block of the first deployment transaction
    contracts: dict[str, str] = field(default_factory=dict)
    collateral: list[CollateralEntry] = field(default_factory=list)
    rpc: str | None = None
    abi_dir: Path | None = None

    # -- lookup
    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise ManifestError(f"manifest has no contract {name!r} (has {sorted(self.contracts)})") from None

    def collateral_entry(self, key: str | int) -> CollateralEntry:
        """By symbol (case-insensitive) or collateral type id."""
        for entry in self.collateral:
            if (isinstance(key, int) and entry.collateral_type == key) or (
                isinstance(key, str) and entry.symbol.lower() == key.lower()
            ):
                return entry
        known = ", ".join(f"{e.symbol}={e.collateral_type}" for e in self.collateral)
        raise ManifestError(f"no collateral {key!r} in the manifest ({known})")

    def abi(self, name: str) -> list[dict[str, Any]]:
        """The ABI exported next to the manifest, else the one in build/."""
        if self.abi_dir is not None:
            path = Path(self.abi_dir) / f"{name}.json"
            if path.is_file():
                return json.loads(path.read_text())
        from .artifacts import load_artifact  # build/ fallback (inside the project)

        return load_artifact(name).abi

    # -- files
    def to_dict(self, base: Path | None = None) -> dict[str, Any]:
        data = asdict(self)
        if self.abi_dir is not None:
            abi_dir = Path(self.abi_dir).resolve()
            if base is not None:
                try:
                    abi_dir = Path(os.path.relpath(abi_dir, base.resolve()))
                except ValueError:  # another drive (Windows)
                    pass
            data["abi_dir"] = str(abi_dir)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path | None = None) -> "Manifest":
        try:
            abi_dir = data.get("abi_dir")
            abi_path = None
            if abi_dir:
                abi_path = Path(abi_dir)
                if not abi_path.is_absolute() and base is not None:
                    abi_path = (base / abi_path).resolve()
            return cls(
                chain_id=int(data["chain_id"]),
                deployer=data["deployer"],
                block=int(data["block"]),
                contracts=dict(data.get("contracts", {})),
                collateral=[CollateralEntry(**entry) for entry in data.get("collateral", [])],
                rpc=data.get("rpc"),
                abi_dir=abi_path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest: {exc}") from exc

    def save(self, path: Path | str) -> Path:
        """Write atomically (temp file + rename); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(base=path.parent), indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> "Manifest":
        path = Path(path)
        if not path.is_file():
            raise ManifestError(f"no manifest at {path}: deploy first (`keel deploy`)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}: not JSON ({exc})") from exc
        return cls.from_dict(data, base=path.parent)


def default_manifest_path(chain_id: int, root: Path | None = None) -> Path:
    """``deployments/<chain_id>.json``; ``deployments/local/<chain_id>.json`` for local
    chains (git-ignored: their addresses mean nothing after the node restarts)."""
    from .artifacts import project_root
    from .chain import LOCAL_CHAIN_IDS

    base = (root or project_root()) / "deployments"
    if chain_id in LOCAL_CHAIN_IDS:
        base = base / "local"
    return base / f"{chain_id}.json"

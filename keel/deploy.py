"""Deploy a Keel system and write its manifest.

:func:`deploy_system` deploys, in order:

1. ``DebtToken("Keel USD", "kUSD", deployer)``;
2. ``VaultEngine(debt_token, deployer)``; the token grants the engine ROLE_MINTER and
   the engine grants the deployer its admin roles (collateral | risk | fee | treasury);
3. per collateral: a ``MockToken`` (local chains, unless the config names a token), a
   ``ManualPriceFeed`` (the deployer reports and administers it; the initial price is
   posted) and ``add_collateral_type`` with the configured risk parameters.

Re-running is idempotent: when the manifest for this chain exists, lists the configured
collateral and every address still holds the code it was deployed with, the deployment
is reused ("already deployed") and no transaction is sent.  ``force=True`` redeploys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from web3 import Web3
from web3.logs import DISCARD

from . import log as _log
from .artifacts import SYSTEM_CONTRACTS, Artifact, export_abis, load_artifact, project_root
from .chain import LOCAL_CHAIN_IDS
from .manifest import CollateralEntry, Manifest, ManifestError, default_manifest_path
from .tx import Sender
from .units import per_second_rate, to_wad

# role bits, as the contracts define them
TOKEN_ROLE_MINTER = 1
ENGINE_ROLE_COLLATERAL_ADMIN = 1
ENGINE_ROLE_RISK_ADMIN = 2
ENGINE_ROLE_FEE_ADMIN = 4
ENGINE_ROLE_TREASURY = 8
ENGINE_ADMIN_ROLES = (
    ENGINE_ROLE_COLLATERAL_ADMIN | ENGINE_ROLE_RISK_ADMIN | ENGINE_ROLE_FEE_ADMIN | ENGINE_ROLE_TREASURY
)
FEED_ROLE_REPORTER = 1
FEED_ROLE_ADMIN = 2

#: 5 % a year as a per-second RAY factor (MakerDAO's constant)
FIVE_PERCENT_A_YEAR = 1000000001547125957863212448

Logger = Callable[[str], None]


class DeployError(RuntimeError):
    """The deployment cannot proceed (bad config, stale manifest on a live chain, ...)."""


# ---------------------------------------------------------------------------- config
@dataclass
class CollateralConfig:
    """One collateral type to list. Amounts are whole units (Decimal), not WAD."""

    symbol: str
    decimals: int = 18
    price: Decimal = Decimal(2000)  # debt tokens per whole collateral unit
    token: str | None = None  # an existing ERC-20; None deploys a MockToken (local chains)
    name: str | None = None  # MockToken name; default "Mock <symbol>"
    liquidation_ratio: Decimal = Decimal("1.5")
    debt_ceiling: Decimal = Decimal(10_000_000)
    dust: Decimal = Decimal(100)
    stability_fee: int = FIVE_PERCENT_A_YEAR  # RAY per second
    liquidation_penalty: Decimal = Decimal("1.13")
    oracle_max_age: int = 3600  # seconds

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CollateralConfig":
        data = dict(data)
        if "annual_fee" in data:  # friendlier than the RAY factor: "0.05" for 5 %/yr
            data["stability_fee"] = per_second_rate(str(data.pop("annual_fee")))
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise DeployError(f"collateral {data.get('symbol', '?')}: unknown keys {unknown}")
        for key in ("price", "liquidation_ratio", "debt_ceiling", "dust", "liquidation_penalty"):
            if key in data:
                data[key] = Decimal(str(data[key]))
        for key in ("decimals", "stability_fee", "oracle_max_age"):
            if key in data:
                data[key] = int(data[key])
        return cls(**data)


def default_collateral() -> list[CollateralConfig]:
    return [
        CollateralConfig("WETH", decimals=18, price=Decimal(2000), name="Wrapped Ether (mock)"),
        CollateralConfig("WBTC", decimals=8, price=Decimal(30000), name="Wrapped Bitcoin (mock)"),
    ]


@dataclass
class DeployConfig:
    """What to deploy. Load from JSON/YAML with :meth:`from_file`::

        {"token_name": "Keel USD", "token_symbol": "kUSD",
         "collateral": [{"symbol": "WETH", "decimals": 18, "price": "2000",
                         "annual_fee": "0.05"}]}
    """

    token_name: str = "Keel USD"
    token_symbol: str = "kUSD"
    collateral: list[CollateralConfig] = field(default_factory=default_collateral)
    owner: str | None = None  # if set, ownership is proposed to it (it must accept)
    allow_mock_tokens: bool | None = None  # None: only on local chains

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeployConfig":
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DeployError(f"deploy config: unknown keys {unknown}")
        if "collateral" in data:
            data["collateral"] = [CollateralConfig.from_dict(c) for c in data["collateral"]]
        return cls(**data)

    @classmethod
    def from_file(cls, path: Path | str) -> "DeployConfig":
        """JSON, or YAML for ``.yaml``/``.yml``."""
        path = Path(path)
        try:
            text = path.read_text()
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text) or {}
            else:
                data = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as exc:  # unreadable, or not JSON
            raise DeployError(f"cannot read deploy config {path}: {exc}") from exc
        except Exception as exc:  # yaml.YAMLError
            raise DeployError(f"cannot parse deploy config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise DeployError(f"{path}: expected a mapping at the top level")
        return cls.from_dict(data)

    def validate(self, chain_id: int) -> None:
        symbols = [c.symbol for c in self.collateral]
        if len({s.lower() for s in symbols}) != len(symbols):
            raise DeployError(f"duplicate collateral symbols: {symbols}")
        mocks_ok = self.allow_mock_tokens if self.allow_mock_tokens is not None else chain_id in LOCAL_CHAIN_IDS
        for c in self.collateral:
            if c.token is None and not mocks_ok:
                raise DeployError(
                    f"collateral {c.symbol}: no token address, and mock tokens (open faucet) are "
                    f"only deployed on local chains; set `token` or allow_mock_tokens"
                )
            if not 0 <= c.decimals <= 18:
                raise DeployError(f"collateral {c.symbol}: decimals {c.decimals} not in 0..18")
            if c.price <= 0:
                raise DeployError(f"collateral {c.symbol}: price must be positive")


# ---------------------------------------------------------------------------- reuse
def _code_matches(w3: Web3, address: str, artifact: Artifact | None) -> bool:
    """The address holds the artifact's runtime code (Vyper appends immutables after it),
    or, without an artifact, any code."""
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    if not code:
        return False
    if artifact is None:
        return True
    return code.startswith(bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x")))


def check_deployment(w3: Web3, manifest: Manifest, config: DeployConfig, root: Path | None = None) -> list[str]:
    """Why ``manifest`` is not a live deployment of ``config`` on ``w3`` (empty: it is)."""
    problems: list[str] = []
    if manifest.chain_id != w3.eth.chain_id:
        return [f"manifest is for chain {manifest.chain_id}, the node is chain {w3.eth.chain_id}"]
    wanted = [c.symbol for c in config.collateral]
    listed = [e.symbol for e in manifest.collateral]
    if wanted != listed:
        problems.append(f"collateral differs (manifest {listed}, config {wanted})")
    artifacts = {name: load_artifact(name, root) for name in SYSTEM_CONTRACTS}
    checks: list[tuple[str, str | None, Artifact | None]] = [
        ("DebtToken", manifest.contracts.get("DebtToken"), artifacts["DebtToken"]),
        ("VaultEngine", manifest.contracts.get("VaultEngine"), artifacts["VaultEngine"]),
    ]
    for entry in manifest.collateral:
        checks.append((f"{entry.symbol} oracle", entry.oracle, artifacts["ManualPriceFeed"]))
        checks.append((f"{entry.symbol} token", entry.token, artifacts["MockToken"] if entry.mock else None))
    for label, address, artifact in checks:
        if not address:
            problems.append(f"{label}: no address")
        elif not _code_matches(w3, address, artifact):
            problems.append(f"{label} {address}: no code or different code (chain reset, or contracts changed)")
    if problems:
        return problems
    engine = w3.eth.contract(address=manifest.contracts["VaultEngine"], abi=artifacts["VaultEngine"].abi)
    if engine.functions.debt_token().call() != manifest.contracts["DebtToken"]:
        problems.append("engine.debt_token() is not the manifest's DebtToken")
    for entry in manifest.collateral:
        if engine.functions.collateral_type_of_token(entry.token).call() != entry.collateral_type:
            problems.append(f"{entry.symbol}: not listed as collateral type {entry.collateral_type}")
    return problems


# ---------------------------------------------------------------------------- deploy
def deploy_system(
    w3: Web3,
    sender: Sender,
    config: DeployConfig | None = None,
    manifest_path: Path | str | None = None,
    *,
    force: bool = False,
    root: Path | None = None,
    rpc: str | None = None,
    log: Logger = _log.progress,
) -> Manifest:
    """Deploy (or reuse) a Keel system; write and return its manifest.

    :param sender: the deployer; it becomes owner and admin of everything deployed.
    :param manifest_path: default ``deployments/[local/]<chain_id>.json``; ABIs go to
        ``abi/`` beside it.
    :param force: redeploy even when the manifest describes a live deployment.
    :param rpc: recorded in the manifest (default: the provider's endpoint, if any).
    """
    config = config or DeployConfig()
    root = root or project_root()
    chain_id = w3.eth.chain_id
    path = Path(manifest_path) if manifest_path else default_manifest_path(chain_id, root)
    config.validate(chain_id)

    if path.is_file() and not force:
        try:
            existing = Manifest.load(path)
            problems = check_deployment(w3, existing, config, root)
        except ManifestError as exc:
            problems = [str(exc)]
        if not problems:
            log(f"already deployed on chain {chain_id} (manifest {path}); use --force to redeploy")
            return existing
        if chain_id not in LOCAL_CHAIN_IDS:
            raise DeployError(
                f"{path} does not match the chain: " + "; ".join(problems) + ". Use --force to redeploy."
            )
        log(f"{path} is stale (" + "; ".join(problems) + "): redeploying")

    deployer = sender.address
    artifacts = {name: load_artifact(name, root) for name in SYSTEM_CONTRACTS}
    log(f"deploying Keel to chain {chain_id} from {deployer}")

    def deploy(name: str, *args: Any, label: str | None = None) -> tuple[str, int]:
        art = artifacts[name]
        receipt = sender.deploy(art.abi, art.bytecode, *args, what=f"deploy {label or name}")
        address = Web3.to_checksum_address(receipt["contractAddress"])
        log(f"  {label or name:<22} {address}  (gas {receipt['gasUsed']:,})")
        return address, int(receipt["blockNumber"])

    def contract(name: str, address: str) -> Any:
        return w3.eth.contract(address=address, abi=artifacts[name].abi)

    token_address, first_block = deploy("DebtToken", config.token_name, config.token_symbol, deployer)
    engine_address, _ = deploy("VaultEngine", token_address, deployer)
    token = contract("DebtToken", token_address)
    engine = contract("VaultEngine", engine_address)
    sender.transact(token.functions.set_roles(engine_address, TOKEN_ROLE_MINTER))
    sender.transact(engine.functions.set_roles(deployer, ENGINE_ADMIN_ROLES))

    entries: list[CollateralEntry] = []
    feeds: list[Any] = []
    for c in config.collateral:
        mock = c.token is None
        if mock:
            token_addr, _ = deploy("MockToken", c.name or f"Mock {c.symbol}", c.symbol, c.decimals, label=c.symbol)
        else:
            token_addr = Web3.to_checksum_address(c.token)  # type: ignore[arg-type]
        oracle_addr, _ = deploy("ManualPriceFeed", deployer, c.oracle_max_age, label=f"{c.symbol} price feed")
        feed = contract("ManualPriceFeed", oracle_addr)
        feeds.append(feed)
        sender.transact(feed.functions.set_roles(deployer, FEED_ROLE_REPORTER | FEED_ROLE_ADMIN))
        sender.transact(feed.functions.set_price(to_wad(c.price)))
        receipt = sender.transact(
            engine.functions.add_collateral_type(
                token_addr, oracle_addr, to_wad(c.liquidation_ratio), to_wad(c.debt_ceiling),
                to_wad(c.dust), c.stability_fee, to_wad(c.liquidation_penalty),
            )
        )
        events = engine.events.CollateralTypeAdded().process_receipt(receipt, errors=DISCARD)
        type_id = int(events[0]["args"]["collateral_type"])
        log(f"  {c.symbol}: collateral type {type_id}, price {c.price}")
        entries.append(CollateralEntry(c.symbol, token_addr, c.decimals, oracle_addr, type_id, mock))

    if config.owner and Web3.to_checksum_address(config.owner) != deployer:
        new_owner = Web3.to_checksum_address(config.owner)
        for ownable in (token, engine, *feeds):
            sender.transact(ownable.functions.transfer_ownership(new_owner))
        log(f"  ownership proposed to {new_owner}: it must call accept_ownership() on each contract")

    manifest = Manifest(
        chain_id=chain_id,
        deployer=deployer,
        block=first_block,
        contracts={"DebtToken": token_address, "VaultEngine": engine_address},
        collateral=entries,
        rpc=rpc if rpc is not None else getattr(w3.provider, "endpoint_uri", None),
        abi_dir=export_abis(SYSTEM_CONTRACTS, path.parent / "abi", root),
    )
    manifest.save(path)
    log(f"manifest written to {path}")
    return manifest

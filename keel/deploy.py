"""Deploy a Keel system and write its manifest.

:func:`deploy_system` deploys, in order:

1. ``DebtToken("Keel USD", "kUSD", deployer)``;
2. ``VaultEngine(debt_token, deployer)``; the token grants the engine ROLE_MINTER and
   the engine grants the deployer its admin roles (collateral | risk | fee | treasury);
3. per collateral: a ``MockToken`` (local chains, unless the config names a token), its
   oracle and ``add_collateral_type`` with the configured risk parameters (and
   ``set_volatility_margin`` when the config sets k or a cap). The oracle is either

   * a ``PriceFeed`` (default, ``oracle: pricefeed``): the deployer takes
     ROLE_ORACLE_ADMIN, adds the reporters (``feed.reporters``; on local chains by
     default anvil accounts 7, 8 and 9) and seeds the volatility (after the bootstrap
     below, whose zero-return acceptances would each decay it by lambda); quorum 2, reports
     count 900 s, the current price is fresh for 7,200 s, security-module delay
     1,800 s, a held jump is confirmed after 600 s, jumps above 20 % are held, EWMA
     lambda 0.94 (all in :class:`FeedConfig`); or
   * a ``ChainlinkAdapter`` (``oracle: chainlink``) over the configured ``aggregator``
     (an AggregatorV3 feed); on local chains without one a ``MockAggregator`` (8
     decimals) is deployed and set to the initial price.

4. the price bootstrap. A PriceFeed has no price until its reporters report, and the
   engine reads the *current* price, which lags the accepted one by a poke and the
   delay: reporters report, someone pokes (the accepted price becomes *next*), and only
   a poke at least ``delay`` seconds later makes it *current*.  On a local chain whose
   node holds the reporter accounts, the deploy does all of it:
   each reporter reports the initial price, the feed is poked, then
   :func:`keel.oracle.make_current` advances the clock by ``delay``, the reporters
   re-report and the feed is poked again, so the price is current and fresh when the
   deploy returns.  **On a public chain the deploy cannot (and must not) move time or
   sign for the reporters**: the reporters must report (``keel reporter``), someone
   must ``poke()``, and ``poke()`` again at least ``delay`` seconds later, before
   vaults can borrow; the deploy logs this.

Re-running is idempotent: when the manifest for this chain exists, lists the configured
collateral with the configured oracle kinds and every address still holds the code it
was deployed with, the deployment is reused ("already deployed") and no transaction is
sent.  ``force=True`` redeploys.
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
from .manifest import (
    CHAINLINK_ADAPTER, PRICE_FEED, CollateralEntry, Manifest, ManifestError, default_manifest_path,
)
from .tx import Sender, create_address
from .units import per_second_rate, to_fixed, to_wad

# role bits, as the contracts define them
TOKEN_ROLE_MINTER = 1
ENGINE_ROLE_COLLATERAL_ADMIN = 1
ENGINE_ROLE_RISK_ADMIN = 2
ENGINE_ROLE_FEE_ADMIN = 4
ENGINE_ROLE_TREASURY = 8
ENGINE_ADMIN_ROLES = (
    ENGINE_ROLE_COLLATERAL_ADMIN | ENGINE_ROLE_RISK_ADMIN | ENGINE_ROLE_FEE_ADMIN | ENGINE_ROLE_TREASURY
)
ENGINE_ROLE_LIQUIDATOR = 16  # the Liquidator: seize vaults, pay keeper rewards
ENGINE_ROLE_AUCTION = 32  # the DutchAuction: release collateral, take payments, bad debt
AUCTION_ROLE_KICKER = 1  # the Liquidator starts lots
AUCTION_ROLE_ADMIN = 2  # curves, incentives, stop level, liquidator
LIQUIDATOR_ROLE_ADMIN = 1  # caps, rewards, stop
ENGINE_ROLE_SETTLEMENT = 64  # the GlobalSettlement: shutdown, settle vaults and lots, pay claims
AUCTION_ROLE_SETTLEMENT = 4  # the GlobalSettlement: stop for good, cancel lots
SETTLEMENT_ROLE_SHUTDOWN_ADMIN = 1  # may trigger the (irreversible) shutdown
OPTIONS_ROLE_MARGIN = 1  # OptionsHouse: the PortfolioMargin writes, closes and settles margined shorts
OPTIONS_ROLE_ADMIN = 2  # OptionsHouse: pause writing
MARGIN_ROLE_ADMIN = 1  # PortfolioMargin: risk parameters
CURVE_LINEAR = 1
CURVE_EXPONENTIAL = 2
FEED_ROLE_REPORTER = 1  # ManualPriceFeed only; PriceFeed reporters are a list (add_reporter)
FEED_ROLE_ADMIN = 2  # ROLE_ORACLE_ADMIN on ManualPriceFeed, PriceFeed and ChainlinkAdapter

#: oracle kinds a collateral config may ask for
ORACLE_PRICEFEED = "pricefeed"
ORACLE_CHAINLINK = "chainlink"
ORACLE_KINDS = {ORACLE_PRICEFEED: PRICE_FEED, ORACLE_CHAINLINK: CHAINLINK_ADAPTER}
#: on local chains the reporters default to these node accounts (anvil's dev accounts)
LOCAL_REPORTER_ACCOUNTS = (7, 8, 9)
#: decimals of the MockAggregator deployed for `oracle: chainlink` on local chains
MOCK_AGGREGATOR_DECIMALS = 8

#: 5 % a year as a per-second RAY factor (MakerDAO's constant)
FIVE_PERCENT_A_YEAR = 1000000001547125957863212448

Logger = Callable[[str], None]


class DeployError(RuntimeError):
    """The deployment cannot proceed (bad config, stale manifest on a live chain, ...)."""


# ---------------------------------------------------------------------------- config
def _reject_unknown_keys(cls: type, data: dict[str, Any], what: str) -> set[str]:
    """Raise DeployError naming any key of ``data`` that is not a field of ``cls``;
    return the field names."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DeployError(f"{what}: unknown keys {unknown}")
    return known


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
    oracle: str = ORACLE_PRICEFEED  # "pricefeed" (reporters) or "chainlink" (ChainlinkAdapter)
    aggregator: str | None = None  # chainlink: the AggregatorV3 feed; None deploys a MockAggregator (local)
    oracle_max_age: int | None = None  # seconds the price stays fresh; None: FeedConfig.max_age
    volatility: Decimal = Decimal(0)  # pricefeed: seeded annualised sigma (0.6 = 60 %); 0: not seeded
    volatility_k_bps: int = 0  # required ratio += min(k * sigma, cap); 0 keeps the ratio static
    volatility_cap_bps: int = 0  # cap of the volatility add-on, bps of ratio (5000 = +50 points)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CollateralConfig":
        data = dict(data)
        if "annual_fee" in data:  # friendlier than the RAY factor: "0.05" for 5 %/yr
            data["stability_fee"] = per_second_rate(str(data.pop("annual_fee")))
        _reject_unknown_keys(cls, data, f"collateral {data.get('symbol', '?')}")
        for key in ("price", "liquidation_ratio", "debt_ceiling", "dust", "liquidation_penalty", "volatility"):
            if key in data:
                data[key] = Decimal(str(data[key]))
        for key in ("decimals", "stability_fee", "volatility_k_bps", "volatility_cap_bps"):
            if key in data:
                data[key] = int(data[key])
        if data.get("oracle_max_age") is not None:
            data["oracle_max_age"] = int(data["oracle_max_age"])
        if "oracle" in data:
            data["oracle"] = str(data["oracle"]).strip().lower()
        return cls(**data)

    @property
    def oracle_contract(self) -> str:
        return ORACLE_KINDS[self.oracle]


@dataclass
class FeedConfig:
    """Parameters of every PriceFeed the deploy creates (see contracts/PriceFeed.vy)."""

    reporters: list[str] | None = None  # None: node accounts 7, 8, 9 (local chains only)
    quorum: int = 2  # fresh reports needed for a median
    report_max_age: int = 900  # seconds a report counts
    max_age: int = 7_200  # seconds the current price stays fresh (>= 2 * delay)
    delay: int = 1_800  # security-module delay, seconds (0 allowed)
    confirm_delay: int = 600  # seconds a held jump must stand to be accepted
    max_jump_bps: int = 2_000  # larger moves from the accepted price are held
    ewma_lambda_bps: int = 9_400  # weight of the old variance in the EWMA
    volatility_interval: int = 3_600  # least seconds between two volatility samples

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeedConfig":
        data = dict(data or {})
        known = _reject_unknown_keys(cls, data, "feed config")
        for key in known - {"reporters"}:
            if key in data:
                data[key] = int(data[key])
        if data.get("reporters") is not None:
            data["reporters"] = [str(a) for a in data["reporters"]]
        return cls(**data)

    def constructor_args(self, max_age: int | None = None) -> tuple[int, ...]:
        """PriceFeed(owner, *these): quorum, report_max_age, max_age, delay, confirm_delay,
        max_jump_bps, ewma_lambda_bps."""
        return (
            self.quorum, self.report_max_age, max_age or self.max_age, self.delay, self.confirm_delay,
            self.max_jump_bps, self.ewma_lambda_bps,
        )

    def validate(self, max_ages: list[int]) -> None:
        """The contract's bounds, checked before anything is sent."""
        bounds = {
            "report_max_age": (self.report_max_age, 60, 86_400),
            "delay": (self.delay, 0, 86_400),
            "confirm_delay": (self.confirm_delay, 0, 86_400),
            "max_jump_bps": (self.max_jump_bps, 100, 9_000),
            "ewma_lambda_bps": (self.ewma_lambda_bps, 5_000, 9_990),
            "volatility_interval": (self.volatility_interval, 0, 86_400),
        }
        for name, (value, low, high) in bounds.items():
            if not low <= value <= high:
                raise DeployError(f"feed {name} {value} not in {low}..{high}")
        for max_age in max_ages:
            if not 0 < max_age <= 7 * 86_400:
                raise DeployError(f"feed max_age {max_age} not in 1..604800")
            if max_age < 2 * self.delay:
                raise DeployError(f"feed max_age {max_age} is below twice the delay ({self.delay} s)")
        if self.reporters is not None:
            if len({a.lower() for a in self.reporters}) != len(self.reporters):
                raise DeployError(f"duplicate reporters: {self.reporters}")
            if not 1 <= len(self.reporters) <= 16:
                raise DeployError(f"{len(self.reporters)} reporters: a feed takes 1..16")
            for address in self.reporters:
                if not Web3.is_address(address):
                    raise DeployError(f"reporter {address!r} is not an address")
        count = len(self.reporters) if self.reporters is not None else len(LOCAL_REPORTER_ACCOUNTS)
        if not 1 <= self.quorum <= count:
            raise DeployError(f"feed quorum {self.quorum} not in 1..{count} (the number of reporters)")


@dataclass
class AuctionConfig:
    """Liquidation and auction parameters (contracts/Liquidator.vy, DutchAuction.vy).
    Amounts are whole kUSD (Decimal); ``buf``/``cusp``/``cut`` are plain factors."""

    kind: str = "linear"  # "linear" (to zero over tau) or "exponential" (cut per step)
    buf: Decimal = Decimal("1.1")  # start price = oracle price * buf
    tau: int = 3_600  # linear: seconds to zero
    step: int = 0  # exponential: seconds per cut (60 is typical)
    cut: Decimal = Decimal(0)  # exponential: price factor per step (0.99 is typical)
    tail: int = 5_400  # a lot older than this may be reset
    cusp: Decimal = Decimal("0.4")  # a lot whose price fell below cusp * top may be reset
    type_limit: Decimal = Decimal(5_000_000)  # vault debt in auction per type
    global_limit: Decimal = Decimal(10_000_000)  # vault debt in auction, all types
    reward_flat: Decimal = Decimal(10)  # keeper reward per liquidation: flat +
    reward_percent: Decimal = Decimal("0.001")  # percent of the target,
    reward_cap: Decimal = Decimal(500)  # at most this
    incentive_flat: Decimal = Decimal(5)  # reset incentive: flat +
    incentive_percent: Decimal = Decimal("0.0005")  # percent of the target,
    incentive_cap: Decimal = Decimal(100)  # at most this

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AuctionConfig":
        data = dict(data or {})
        known = _reject_unknown_keys(cls, data, "auction config")
        if data.get("kind") == "exponential":  # sensible defaults for the exponential curve
            data.setdefault("step", 60)
            data.setdefault("cut", "0.99")
        for key in ("tau", "step", "tail"):
            if key in data:
                data[key] = int(data[key])
        for key in known - {"kind", "tau", "step", "tail"}:
            if key in data:
                data[key] = Decimal(str(data[key]))
        if "kind" in data:
            data["kind"] = str(data["kind"]).strip().lower()
        return cls(**data)

    @property
    def kind_id(self) -> int:
        return {"linear": CURVE_LINEAR, "exponential": CURVE_EXPONENTIAL}[self.kind]

    def curve(self) -> tuple[int, int, int, int, int, int, int]:
        """DutchAuction.Curve: (kind, buf WAD, tau, step, cut RAY, tail, cusp WAD); the fields
        the kind does not use are 0, as the auction requires."""
        if self.kind == "linear":
            tau, step, cut = self.tau, 0, 0
        else:
            tau, step, cut = 0, self.step, to_fixed(self.cut, 27)
        return (self.kind_id, to_wad(self.buf), tau, step, cut, self.tail, to_wad(self.cusp))

    def validate(self) -> None:
        if self.kind not in ("linear", "exponential"):
            raise DeployError(f"auction kind {self.kind!r} is not linear or exponential")
        if not 1 <= self.buf <= 2 or (self.buf * 10_000) % 1:
            raise DeployError(f"auction buf {self.buf} not in 1..2 in whole basis points")
        if self.kind == "linear" and not 60 <= self.tau <= 7 * 86_400:
            raise DeployError(f"auction tau {self.tau} not in 60..604800")
        if self.kind == "exponential" and not (1 <= self.step <= 86_400 and Decimal("0.5") <= self.cut < 1):
            raise DeployError(f"auction step {self.step} / cut {self.cut}: need 1..86400 s and 0.5 <= cut < 1")
        if not 60 <= self.tail <= 7 * 86_400:
            raise DeployError(f"auction tail {self.tail} not in 60..604800")
        if not 0 < self.cusp < 1 or (self.cusp * 10_000) % 1:
            raise DeployError(f"auction cusp {self.cusp} not in (0, 1) in whole basis points")


def default_collateral() -> list[CollateralConfig]:
    return [
        CollateralConfig("WETH", decimals=18, price=Decimal(2000), name="Wrapped Ether (mock)",
                         volatility=Decimal("0.6")),
        CollateralConfig("WBTC", decimals=8, price=Decimal(30000), name="Wrapped Bitcoin (mock)",
                         volatility=Decimal("0.5")),
    ]


@dataclass
class DeployConfig:
    """What to deploy. Load from JSON/YAML with :meth:`from_file`::

        {"token_name": "Keel USD", "token_symbol": "kUSD",
         "feed": {"reporters": ["0x...", "0x...", "0x..."], "delay": 1800},
         "collateral": [{"symbol": "WETH", "decimals": 18, "price": "2000",
                         "annual_fee": "0.05", "volatility": "0.6",
                         "volatility_k_bps": 5000, "volatility_cap_bps": 5000},
                        {"symbol": "LINK", "price": "15", "oracle": "chainlink",
                         "aggregator": "0x..."}]}

    ``feed`` applies to every ``oracle: pricefeed`` collateral (:class:`FeedConfig`);
    its ``reporters`` must be given on a public chain.
    """

    token_name: str = "Keel USD"
    token_symbol: str = "kUSD"
    collateral: list[CollateralConfig] = field(default_factory=default_collateral)
    feed: FeedConfig = field(default_factory=FeedConfig)
    auction: AuctionConfig = field(default_factory=AuctionConfig)
    owner: str | None = None  # if set, ownership is proposed to it (it must accept)
    allow_mock_tokens: bool | None = None  # None: only on local chains

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeployConfig":
        data = dict(data)
        _reject_unknown_keys(cls, data, "deploy config")
        if "collateral" in data:
            data["collateral"] = [CollateralConfig.from_dict(c) for c in data["collateral"]]
        if "feed" in data:
            data["feed"] = FeedConfig.from_dict(data["feed"])
        if "auction" in data:
            data["auction"] = AuctionConfig.from_dict(data["auction"])
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
        local = chain_id in LOCAL_CHAIN_IDS
        mocks_ok = self.allow_mock_tokens if self.allow_mock_tokens is not None else local
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
            if c.oracle not in ORACLE_KINDS:
                raise DeployError(f"collateral {c.symbol}: oracle {c.oracle!r} is not one of {sorted(ORACLE_KINDS)}")
            if not (0 <= c.volatility_k_bps <= 50_000 and 0 <= c.volatility_cap_bps <= 50_000):
                raise DeployError(f"collateral {c.symbol}: volatility k and cap must be in 0..50000 bps")
            if not 0 <= c.volatility <= 10:
                raise DeployError(f"collateral {c.symbol}: volatility {c.volatility} not in 0..10")
            if c.oracle == ORACLE_CHAINLINK:
                if c.volatility_k_bps:
                    raise DeployError(
                        f"collateral {c.symbol}: a ChainlinkAdapter serves no volatility; keep volatility_k_bps 0"
                    )
                if c.aggregator is None and not mocks_ok:
                    raise DeployError(
                        f"collateral {c.symbol}: oracle chainlink needs an `aggregator` address "
                        "(a MockAggregator is only deployed on local chains)"
                    )
                if c.aggregator is not None and not Web3.is_address(c.aggregator):
                    raise DeployError(f"collateral {c.symbol}: aggregator {c.aggregator!r} is not an address")
                max_age = c.oracle_max_age or self.feed.max_age
                if not 60 <= max_age <= 7 * 86_400:
                    raise DeployError(f"collateral {c.symbol}: adapter max age {max_age} not in 60..604800")
        self.auction.validate()
        fed = [c for c in self.collateral if c.oracle == ORACLE_PRICEFEED]
        if fed:
            self.feed.validate([c.oracle_max_age or self.feed.max_age for c in fed])
            if self.feed.reporters is None and not local:
                raise DeployError("feed.reporters: give the reporter addresses (defaults exist on local chains only)")


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
    wanted = [(c.symbol, c.oracle_contract) for c in config.collateral]
    listed = [(e.symbol, e.oracle_contract) for e in manifest.collateral]
    if wanted != listed:
        problems.append(f"collateral or oracles differ (manifest {listed}, config {wanted})")
    artifacts = {name: load_artifact(name, root) for name in SYSTEM_CONTRACTS}
    checks: list[tuple[str, str | None, Artifact | None]] = [
        ("DebtToken", manifest.contracts.get("DebtToken"), artifacts["DebtToken"]),
        ("VaultEngine", manifest.contracts.get("VaultEngine"), artifacts["VaultEngine"]),
        ("DutchAuction", manifest.contracts.get("DutchAuction"), artifacts["DutchAuction"]),
        ("Liquidator", manifest.contracts.get("Liquidator"), artifacts["Liquidator"]),
        ("VaultLens", manifest.contracts.get("VaultLens"), artifacts["VaultLens"]),
        ("GlobalSettlement", manifest.contracts.get("GlobalSettlement"), artifacts["GlobalSettlement"]),
        ("OptionsHouse", manifest.contracts.get("OptionsHouse"), artifacts["OptionsHouse"]),
        ("PortfolioMargin", manifest.contracts.get("PortfolioMargin"), artifacts["PortfolioMargin"]),
    ]
    for entry in manifest.collateral:
        checks.append((f"{entry.symbol} oracle", entry.oracle, artifacts.get(entry.oracle_contract)))
        checks.append((f"{entry.symbol} token", entry.token, artifacts["MockToken"] if entry.mock else None))
        if entry.mock_aggregator:
            checks.append((f"{entry.symbol} aggregator", entry.aggregator, artifacts["MockAggregator"]))
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
    auction = w3.eth.contract(address=manifest.contracts["DutchAuction"], abi=artifacts["DutchAuction"].abi)
    if auction.functions.roles(manifest.contracts["Liquidator"]).call() & AUCTION_ROLE_KICKER == 0:
        problems.append("the Liquidator lacks ROLE_KICKER on the auction")
    if engine.functions.roles(manifest.contracts["Liquidator"]).call() & ENGINE_ROLE_LIQUIDATOR == 0:
        problems.append("the Liquidator lacks ROLE_LIQUIDATOR on the engine")
    if engine.functions.margin_module().call() != manifest.contracts["PortfolioMargin"]:
        problems.append("engine.margin_module() is not the manifest's PortfolioMargin")
    margins = {c.symbol: (c.volatility_k_bps, c.volatility_cap_bps) for c in config.collateral}
    lens = w3.eth.contract(address=manifest.contracts["VaultLens"], abi=artifacts["VaultLens"].abi)
    names = [c["name"] for c in _struct_components(lens.abi, "collateral_type_info")]
    for entry in manifest.collateral:
        if engine.functions.collateral_type_of_token(entry.token).call() != entry.collateral_type:
            problems.append(f"{entry.symbol}: not listed as collateral type {entry.collateral_type}")
            continue
        info = dict(zip(names, lens.functions.collateral_type_info(entry.collateral_type).call()))
        if info.get("oracle") != entry.oracle:
            problems.append(f"{entry.symbol}: the engine's oracle is not the manifest's")
        margin = (int(info.get("volatility_k_bps", 0)), int(info.get("volatility_cap_bps", 0)))
        if entry.symbol in margins and margin != margins[entry.symbol]:
            problems.append(f"{entry.symbol}: volatility margin {margin} differs from the config's {margins[entry.symbol]}")
    return problems


def _struct_components(abi: list[dict[str, Any]], function: str) -> list[dict[str, Any]]:
    for item in abi:
        if item.get("type") == "function" and item.get("name") == function:
            return list(item["outputs"][0]["components"])
    raise DeployError(f"{function} not in the VaultEngine ABI")


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

    # the token names the engine as its minter (an immutable: borrows, repays and takes
    # skip a role lookup), so the engine's address is predicted from the deployer's
    # nonce: the token is this transaction, the engine the next
    nonce = w3.eth.get_transaction_count(deployer, "pending")
    predicted_engine = create_address(deployer, nonce + 1)
    token_address, first_block = deploy("DebtToken", config.token_name, config.token_symbol, deployer,
                                        predicted_engine)
    engine_address, _ = deploy("VaultEngine", token_address, deployer)
    if engine_address != predicted_engine:
        log(f"  note: the engine is not at the predicted {predicted_engine} (another transaction came "
            "between); it mints through ROLE_MINTER, at a cold role lookup more per mint and burn")
    token = contract("DebtToken", token_address)
    engine = contract("VaultEngine", engine_address)
    lens_address, _ = deploy("VaultLens", engine_address)
    sender.transact(token.functions.set_roles(engine_address, TOKEN_ROLE_MINTER))
    sender.transact(engine.functions.set_roles(deployer, ENGINE_ADMIN_ROLES))

    reporters = _reporter_addresses(w3, config)
    entries: list[CollateralEntry] = []
    ownables: list[Any] = [token, engine]
    for c in config.collateral:
        mock = c.token is None
        if mock:
            token_addr, _ = deploy("MockToken", c.name or f"Mock {c.symbol}", c.symbol, c.decimals, label=c.symbol)
        else:
            token_addr = Web3.to_checksum_address(c.token)  # type: ignore[arg-type]
        max_age = c.oracle_max_age or config.feed.max_age
        aggregator: str | None = None
        mock_aggregator = False
        if c.oracle == ORACLE_PRICEFEED:
            oracle_addr, _ = deploy(
                "PriceFeed", deployer, *config.feed.constructor_args(max_age), label=f"{c.symbol} price feed"
            )
            feed = contract("PriceFeed", oracle_addr)
            sender.transact(feed.functions.set_roles(deployer, FEED_ROLE_ADMIN))
            for reporter in reporters:
                sender.transact(feed.functions.add_reporter(reporter))
        else:
            if c.aggregator is None:
                aggregator, _ = deploy("MockAggregator", MOCK_AGGREGATOR_DECIMALS, label=f"{c.symbol} mock aggregator")
                mock_aggregator = True
                source = contract("MockAggregator", aggregator)
                now = int(w3.eth.get_block("latest")["timestamp"])
                sender.transact(source.functions.set_round(to_fixed(c.price, MOCK_AGGREGATOR_DECIMALS), now))
            else:
                aggregator = Web3.to_checksum_address(c.aggregator)
            oracle_addr, _ = deploy("ChainlinkAdapter", deployer, aggregator, max_age, label=f"{c.symbol} chainlink")
            feed = contract("ChainlinkAdapter", oracle_addr)
            sender.transact(feed.functions.set_roles(deployer, FEED_ROLE_ADMIN))
        ownables.append(feed)
        receipt = sender.transact(
            engine.functions.add_collateral_type(
                token_addr, oracle_addr, to_wad(c.liquidation_ratio), to_wad(c.debt_ceiling),
                to_wad(c.dust), c.stability_fee, to_wad(c.liquidation_penalty),
            )
        )
        events = engine.events.CollateralTypeAdded().process_receipt(receipt, errors=DISCARD)
        type_id = int(events[0]["args"]["collateral_type"])
        if c.volatility_k_bps or c.volatility_cap_bps:
            sender.transact(engine.functions.set_volatility_margin(type_id, c.volatility_k_bps, c.volatility_cap_bps))
        margin = (f", margin k {c.volatility_k_bps} bps cap {c.volatility_cap_bps} bps"
                  if c.volatility_k_bps or c.volatility_cap_bps else "")
        log(f"  {c.symbol}: collateral type {type_id}, {c.oracle_contract}, initial price {c.price}{margin}")
        entries.append(CollateralEntry(
            c.symbol, token_addr, c.decimals, oracle_addr, type_id, mock,
            oracle_contract=c.oracle_contract, aggregator=aggregator, mock_aggregator=mock_aggregator,
        ))

    # -- liquidation: the auction, the liquidator, their roles, per-type curves and caps
    a = config.auction
    auction_address, _ = deploy("DutchAuction", engine_address, deployer)
    liquidator_address, _ = deploy("Liquidator", engine_address, auction_address, deployer)
    auction = contract("DutchAuction", auction_address)
    liquidator = contract("Liquidator", liquidator_address)
    sender.transact(engine.functions.set_roles(liquidator_address, ENGINE_ROLE_LIQUIDATOR))
    sender.transact(engine.functions.set_roles(auction_address, ENGINE_ROLE_AUCTION))
    sender.transact(auction.functions.set_roles(liquidator_address, AUCTION_ROLE_KICKER))
    sender.transact(auction.functions.set_roles(deployer, AUCTION_ROLE_ADMIN))
    sender.transact(liquidator.functions.set_roles(deployer, LIQUIDATOR_ROLE_ADMIN))
    for entry in entries:
        sender.transact(auction.functions.set_curve(entry.collateral_type, a.curve()))
        sender.transact(auction.functions.update_auction_dust(entry.collateral_type))
        sender.transact(liquidator.functions.set_type_limit(entry.collateral_type, to_wad(a.type_limit)))
        sender.transact(liquidator.functions.set_reward(
            entry.collateral_type, to_wad(a.reward_flat), to_wad(a.reward_percent), to_wad(a.reward_cap)))
    sender.transact(liquidator.functions.set_global_limit(to_wad(a.global_limit)))
    sender.transact(auction.functions.set_incentives(
        to_wad(a.incentive_flat), to_wad(a.incentive_percent), to_wad(a.incentive_cap)))
    # -- emergency shutdown: the GlobalSettlement and its roles
    settlement_address, _ = deploy("GlobalSettlement", engine_address, auction_address, deployer)
    settlement = contract("GlobalSettlement", settlement_address)
    sender.transact(engine.functions.set_roles(settlement_address, ENGINE_ROLE_SETTLEMENT))
    sender.transact(auction.functions.set_roles(settlement_address, AUCTION_ROLE_SETTLEMENT))
    sender.transact(settlement.functions.set_roles(deployer, SETTLEMENT_ROLE_SHUTDOWN_ADMIN))
    ownables += [auction, liquidator, settlement]
    log(f"  liquidation: {a.kind} curve (buf {a.buf}, tail {a.tail} s, cusp {a.cusp}), type limit "
        f"{a.type_limit:,} / global {a.global_limit:,} kUSD, reward {a.reward_flat} + {a.reward_percent} "
        f"(cap {a.reward_cap})")
    # -- options: the token template, the house, the pricer and the margin module
    template_address, _ = deploy("OptionToken", label="OptionToken (template)")
    house_address, _ = deploy("OptionsHouse", engine_address, token_address, template_address, deployer)
    pricer_address, _ = deploy("OptionPricer")
    margin_address, _ = deploy("PortfolioMargin", engine_address, house_address, token_address, pricer_address,
                               deployer)
    house = contract("OptionsHouse", house_address)
    margin = contract("PortfolioMargin", margin_address)
    sender.transact(engine.functions.set_margin_module(margin_address))
    sender.transact(house.functions.set_roles(margin_address, OPTIONS_ROLE_MARGIN))
    sender.transact(house.functions.set_roles(deployer, OPTIONS_ROLE_ADMIN))
    sender.transact(margin.functions.set_roles(deployer, MARGIN_ROLE_ADMIN))
    ownables += [house, margin]
    log("  options: series are listed by anyone (OptionsHouse.create_series); PortfolioMargin margins accounts")

    manifest = Manifest(
        chain_id=chain_id,
        deployer=deployer,
        block=first_block,
        contracts={"DebtToken": token_address, "VaultEngine": engine_address,
                   "DutchAuction": auction_address, "Liquidator": liquidator_address,
                   "VaultLens": lens_address, "GlobalSettlement": settlement_address,
                   "OptionToken": template_address, "OptionsHouse": house_address,
                   "OptionPricer": pricer_address, "PortfolioMargin": margin_address},
        collateral=entries,
        rpc=rpc if rpc is not None else getattr(w3.provider, "endpoint_uri", None),
        abi_dir=export_abis(SYSTEM_CONTRACTS, path.parent / "abi", root),
    )
    _bootstrap_prices(w3, manifest, config, reporters, log)
    # seeded after the bootstrap: each acceptance there (a zero return) is an EWMA step;
    # from then on a sample is taken at most once per volatility_interval
    for c, entry in zip(config.collateral, entries):
        if entry.oracle_contract == PRICE_FEED:
            feed = contract("PriceFeed", entry.oracle)
            if c.volatility > 0:
                sender.transact(feed.functions.seed_volatility(to_wad(c.volatility)))
            if config.feed.volatility_interval:
                sender.transact(feed.functions.set_volatility_interval(config.feed.volatility_interval))

    if config.owner and Web3.to_checksum_address(config.owner) != deployer:
        new_owner = Web3.to_checksum_address(config.owner)
        for ownable in ownables:
            sender.transact(ownable.functions.transfer_ownership(new_owner))
        log(f"  ownership proposed to {new_owner}: it must call accept_ownership() on each contract")

    manifest.save(path)
    log(f"manifest written to {path}")
    return manifest


# ---------------------------------------------------------------------------- reporters and the price
def _reporter_addresses(w3: Web3, config: DeployConfig) -> list[str]:
    """The configured reporters, else (local chains) node accounts 7, 8, 9."""
    if not any(c.oracle == ORACLE_PRICEFEED for c in config.collateral):
        return []
    if config.feed.reporters is not None:
        return [Web3.to_checksum_address(a) for a in config.feed.reporters]
    accounts = w3.eth.accounts
    if len(accounts) <= max(LOCAL_REPORTER_ACCOUNTS):
        raise DeployError(
            f"the node has {len(accounts)} unlocked accounts; the default reporters are accounts "
            f"{', '.join(map(str, LOCAL_REPORTER_ACCOUNTS))}: start it with more, or set feed.reporters"
        )
    return [Web3.to_checksum_address(accounts[i]) for i in LOCAL_REPORTER_ACCOUNTS]


def _bootstrap_prices(
    w3: Web3, manifest: Manifest, config: DeployConfig, reporters: list[str], log: Logger
) -> None:
    """Give every PriceFeed its first current price (local chains whose node holds the
    reporters), or say what must happen (public chains)."""
    from .oracle import Reporter, make_current  # oracle imports the client, which needs no deploy

    fed = [e for e in manifest.collateral if e.oracle_contract == PRICE_FEED]
    if not fed:
        return
    prices = {c.symbol: to_wad(c.price) for c in config.collateral}
    held = {Web3.to_checksum_address(a) for a in w3.eth.accounts} if manifest.chain_id in LOCAL_CHAIN_IDS else set()
    if not held or not set(reporters) <= held:
        why = "a public chain" if not held else "the node does not hold every reporter account"
        log(
            f"  price feeds have no price yet ({why}): each reporter must report (`keel reporter`), then "
            f"someone must call poke() and, at least {config.feed.delay} s later, poke() again; only "
            "then is the price current and can vaults borrow or withdraw"
        )
        return
    reporter = Reporter(w3, manifest, [Sender.unlocked(w3, a) for a in reporters])
    for entry in fed:  # each reporter reports the initial price, then poke: it becomes `next`
        reporter.push(entry.symbol, prices[entry.symbol], poke=True)
    result = make_current(w3, manifest, [e.symbol for e in fed], prices={e.symbol: prices[e.symbol] for e in fed},
                          reporter=reporter)
    log(f"  {len(reporters)} reporters reported the initial prices; poked, the clock advanced "
        f"{result.advanced} s (local chain; delay {config.feed.delay} s), re-reported and poked: prices current")

"""scripts/deploy.py (keel.deploy.deploy_system) against the Anvil brownie launched.

The module runs the brownie script's ``main`` once (manifest in a temp dir), checks the
wiring on chain, and that a second run is idempotent.  ``module_isolation`` resets the
chain before and after, so nothing leaks into other test modules.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from brownie import accounts, web3

from keel.client import KeelClient
from keel.deploy import (
    AUCTION_ROLE_ADMIN, AUCTION_ROLE_KICKER, ENGINE_ROLE_AUCTION, ENGINE_ROLE_LIQUIDATOR, LIQUIDATOR_ROLE_ADMIN,
    AuctionConfig, ENGINE_ADMIN_ROLES, FEED_ROLE_ADMIN, FIVE_PERCENT_A_YEAR, LOCAL_REPORTER_ACCOUNTS, TOKEN_ROLE_MINTER,
    CollateralConfig, DeployConfig, DeployError, FeedConfig, default_collateral, deploy_system,
)
from keel.manifest import Manifest
from keel.oracle import OracleError, feed_state, make_current
from keel.tx import KeelTxError, Sender
from keel.units import WAD, to_wad

ROOT = Path(__file__).resolve().parents[2]
ABIS = ("DebtToken", "VaultEngine", "PriceFeed", "ChainlinkAdapter", "MockAggregator", "MockToken", "DutchAuction",
        "Liquidator", "VaultLens", "GlobalSettlement")


def _load_deploy_script():
    spec = importlib.util.spec_from_file_location("keel_scripts_deploy", ROOT / "scripts" / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def deploy_env(tmp_path_factory):
    """Environment for scripts/deploy.py: a scratch manifest, the default deployer."""
    patch = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("deployments") / "31337.json"
    patch.setenv("KEEL_MANIFEST", str(path))
    patch.setenv("KEEL_QUIET", "1")
    for name in ("KEEL_DEPLOYER_ID", "KEEL_DEPLOY_CONFIG", "KEEL_FORCE", "KEEL_PRIVATE_KEY"):
        patch.delenv(name, raising=False)
    yield path
    patch.undo()


@pytest.fixture(scope="module")
def script():
    return _load_deploy_script()


@pytest.fixture(scope="module")
def deployed(module_isolation, deploy_env, script):
    manifest = script.main()
    return deploy_env, manifest


@pytest.fixture(scope="module")
def client(deployed):
    path, _ = deployed
    return KeelClient(web3, Manifest.load(path))


def _has_code(address: str) -> bool:
    return len(web3.eth.get_code(address)) > 0


def test_manifest_written(deployed):
    path, manifest = deployed
    assert path.is_file()
    data = json.loads(path.read_text())
    assert data["chain_id"] == web3.eth.chain_id == manifest.chain_id
    assert 0 < data["block"] <= web3.eth.block_number
    assert data["deployer"] == accounts[0].address
    # the recorded block holds the first deployment (the DebtToken)
    first = web3.eth.get_block(data["block"], full_transactions=True)["transactions"]
    created = {web3.eth.get_transaction_receipt(tx["hash"])["contractAddress"] for tx in first}
    assert data["contracts"]["DebtToken"] in created
    addresses = list(data["contracts"].values())
    addresses += [c["token"] for c in data["collateral"]] + [c["oracle"] for c in data["collateral"]]
    assert len(set(addresses)) == len(addresses) == 14
    for address in addresses:
        assert _has_code(address), address
    loaded = Manifest.load(path)
    assert loaded.abi_dir is not None and loaded.abi_dir.is_dir()
    for name in ABIS:
        abi = json.loads((loaded.abi_dir / f"{name}.json").read_text())
        assert isinstance(abi, list) and abi, name


def test_engine_wiring(client, deployed):
    _, manifest = deployed
    engine, token = client.engine.functions, client.debt_token.functions
    assert engine.debt_token().call() == manifest.contracts["DebtToken"]
    # the token names the engine (its predicted address) as its role-free minter; the
    # engine also holds ROLE_MINTER, so it would still mint had the prediction missed
    assert token.engine().call() == manifest.contracts["VaultEngine"]
    assert token.roles(manifest.contracts["VaultEngine"]).call() & TOKEN_ROLE_MINTER
    assert engine.roles(manifest.deployer).call() == ENGINE_ADMIN_ROLES == 15
    assert token.owner().call() == engine.owner().call() == manifest.deployer
    assert token.symbol().call() == "kUSD" and token.name().call() == "Keel USD"


def test_liquidation_wiring(client, deployed):
    _, manifest = deployed
    liquidator, auction = manifest.contracts["Liquidator"], manifest.contracts["DutchAuction"]
    engine, a, lq = client.engine.functions, client.auction.functions, client.liquidator.functions
    assert engine.roles(liquidator).call() == ENGINE_ROLE_LIQUIDATOR == 16
    assert engine.roles(auction).call() == ENGINE_ROLE_AUCTION == 32
    assert a.roles(liquidator).call() == AUCTION_ROLE_KICKER == 1
    assert a.roles(manifest.deployer).call() == AUCTION_ROLE_ADMIN == 2
    assert lq.roles(manifest.deployer).call() == LIQUIDATOR_ROLE_ADMIN == 1
    assert a.engine().call() == lq.engine().call() == manifest.contracts["VaultEngine"]
    assert lq.auction().call() == auction
    assert a.owner().call() == lq.owner().call() == manifest.deployer
    curve = AuctionConfig().curve()
    assert curve == (1, to_wad("1.1"), 3600, 0, 0, 5400, to_wad("0.4"))
    for entry in manifest.collateral:
        assert tuple(a.curves(entry.collateral_type).call()) == curve
        assert a.auction_dust(entry.collateral_type).call() == to_wad(100) * 113 // 100  # dust * penalty
        # the caps count vault debt in auction; the type's cap lives in the engine
        assert tuple(lq.room(entry.collateral_type).call()) == (to_wad(5_000_000), 0, to_wad(10_000_000), 0)
        assert engine.collateral_type_words(entry.collateral_type).call()[4] >> 64 == to_wad(5_000_000)
        assert client.collateral_type_info(entry.collateral_type).auction_limit == to_wad(5_000_000)
        assert engine.type_debt_in_auction(entry.collateral_type).call() == 0
        assert engine.type_collateral_in_auction(entry.collateral_type).call() == 0
        assert tuple(lq.reward(entry.collateral_type).call()) == (to_wad(10), to_wad("0.001"), to_wad(500))
    assert (a.incentive_flat().call(), a.incentive_percent().call(), a.incentive_cap().call()) == (
        to_wad(5), to_wad("0.0005"), to_wad(100))
    assert client.debt_in_auction() == client.bad_debt() == 0


def test_exponential_curve_config():
    config = AuctionConfig.from_dict({"kind": "exponential"})
    # the fields an exponential curve does not use (tau) are 0, as the auction requires
    assert config.curve() == (2, to_wad("1.1"), 0, 60, 99 * 10**25, 5400, to_wad("0.4"))
    with pytest.raises(DeployError, match="cusp"):
        AuctionConfig(cusp=1).validate()
    # buf and cusp are kept in whole basis points
    with pytest.raises(DeployError, match="cusp"):
        AuctionConfig.from_dict({"cusp": "0.40005"}).validate()
    with pytest.raises(DeployError, match="buf"):
        AuctionConfig.from_dict({"buf": "1.10001"}).validate()
    AuctionConfig.from_dict({"buf": "1.1234", "cusp": "0.4321"}).validate()


def test_collateral_types(client, deployed):
    _, manifest = deployed
    assert client.collateral_type_count() == 2
    expected = {c.symbol: c for c in default_collateral()}
    assert [e.symbol for e in manifest.collateral] == ["WETH", "WBTC"]
    for entry in manifest.collateral:
        info = client.collateral_type_info(entry.collateral_type)
        assert info.token == entry.token and info.oracle == entry.oracle
        assert client.engine.functions.collateral_type_of_token(entry.token).call() == entry.collateral_type
        token_decimals = client.token(entry.symbol).functions.decimals().call()
        assert entry.decimals == expected[entry.symbol].decimals == token_decimals
        assert info.decimals == entry.decimals
        assert info.liquidation_ratio == to_wad("1.5")
        assert info.debt_ceiling == to_wad(10_000_000)
        assert info.dust == to_wad(100)
        assert info.stability_fee == FIVE_PERCENT_A_YEAR
        assert info.liquidation_penalty == to_wad("1.13")


def test_price_feeds(client, deployed):
    """Each type is priced by a PriceFeed with reporters 7, 8, 9 (quorum 2); the deploy made the
    initial price current (reported, poked, delay passed, poked again) on this local chain."""
    _, manifest = deployed
    prices = {"WETH": 2_000 * WAD, "WBTC": 30_000 * WAD}
    volatility = {"WETH": to_wad("0.6"), "WBTC": to_wad("0.5")}
    reporters = [accounts[i].address for i in LOCAL_REPORTER_ACCOUNTS]
    assert reporters == [accounts[7].address, accounts[8].address, accounts[9].address]
    for entry in manifest.collateral:
        assert entry.oracle_contract == "PriceFeed" and entry.aggregator is None
        feed = client.oracle(entry.symbol).functions
        assert feed.reporters().call() == reporters
        assert feed.reporter_count().call() == 3
        assert tuple(feed.parameters().call()) == (2, 900, 7_200, 1_800, 600, 2_000, 9_400)
        assert feed.roles(manifest.deployer).call() == FEED_ROLE_ADMIN == 2
        assert feed.owner().call() == manifest.deployer
        # the current (delayed) price is the initial one, and fresh
        assert client.price(entry.symbol) == (prices[entry.symbol], True)
        state = feed_state(client, entry.symbol)
        assert state.latest_price == state.next_price == prices[entry.symbol]
        assert state.held_price == 0 and state.fresh_reports == 3
        # seeded after the bootstrap, so exactly the configured sigma (up to the sqrt's rounding)
        assert abs(feed.volatility().call() - volatility[entry.symbol]) < 10**10
        # the engine reads this feed; the dynamic margin is off by default
        info = client.collateral_type_info(entry.symbol)
        assert info.oracle == entry.oracle
        assert (info.volatility_k_bps, info.volatility_cap_bps) == (0, 0)
        assert tuple(client.required_ratio(entry.symbol)) == (to_wad("1.5"), 0, to_wad("1.5"))


def test_client_reports_revert_reason(client, deployed):
    alice = client.as_sender(Sender.unlocked(web3, accounts[1].address))
    alice.mint_collateral("WETH", 10 * WAD)
    alice.approve_collateral("WETH")
    opened = alice.open_vault("WETH", 10 * WAD, 1_000 * WAD)
    info = alice.vault_info(opened.vault_id)
    assert info.owner == accounts[1].address and info.collateral == 10 * WAD
    assert 1_000 * WAD <= info.debt < 1_001 * WAD  # fees since the borrow, rounded up
    with pytest.raises(KeelTxError, match="engine: vault unsafe"):
        alice.borrow(opened.vault_id, 20_000 * WAD)
    with pytest.raises(KeelTxError, match="engine: not vault owner or operator"):
        client.as_sender(Sender.unlocked(web3, accounts[2].address)).withdraw(opened.vault_id, 1)


def test_second_run_is_idempotent(deployed, script):
    path, manifest = deployed
    deployer = manifest.deployer
    nonce, block = web3.eth.get_transaction_count(deployer), web3.eth.block_number
    again = script.main()
    assert again.contracts == manifest.contracts
    assert again.collateral == manifest.collateral
    assert web3.eth.get_transaction_count(deployer) == nonce
    assert web3.eth.block_number == block
    assert Manifest.load(path).contracts == manifest.contracts


def test_stale_manifest_redeploys_on_local_chain(deployed, tmp_path):
    path, manifest = deployed
    stale = tmp_path / "31337.json"
    shutil.copy(path, stale)
    data = json.loads(stale.read_text())
    data["contracts"]["VaultEngine"] = accounts[5].address  # no code there
    data["abi_dir"] = str(manifest.abi_dir)
    stale.write_text(json.dumps(data))
    sender = Sender.unlocked(web3, accounts[0].address)
    nonce = web3.eth.get_transaction_count(sender.address)
    fresh = deploy_system(web3, sender, DeployConfig(), stale, log=lambda _: None)
    assert web3.eth.get_transaction_count(sender.address) > nonce
    assert fresh.contracts["VaultEngine"] != accounts[5].address
    assert _has_code(fresh.contracts["VaultEngine"])


def test_deploy_signed_with_private_key(tmp_path, monkeypatch):
    """The KEEL_PRIVATE_KEY path: transactions signed locally, not by the node."""
    key = "0x" + "4b" * 32
    monkeypatch.setenv("KEEL_PRIVATE_KEY", key)
    signer = Sender.from_env(web3)
    assert signer is not None and signer.private_key == key
    Sender.unlocked(web3, accounts[0].address).send({"to": signer.address, "value": 10 * 10**18})
    config = DeployConfig(collateral=[CollateralConfig("USDC", decimals=6, price=1)])  # type: ignore[arg-type]
    manifest = deploy_system(web3, signer, config, tmp_path / "signed.json", log=lambda _: None)
    assert manifest.deployer == signer.address
    engine = KeelClient(web3, manifest).engine.functions
    assert engine.owner().call() == signer.address
    assert manifest.collateral_entry("USDC").decimals == 6


def test_chainlink_collateral_and_volatility_margin(tmp_path):
    """`oracle: chainlink` on a local chain: a MockAggregator (8 decimals) behind a ChainlinkAdapter;
    a PriceFeed type with k/cap set gets them on the engine."""
    config = DeployConfig.from_dict({
        "feed": {"delay": 0, "max_age": 3600},
        "collateral": [
            {"symbol": "LINK", "price": "15.5", "oracle": "chainlink"},
            {"symbol": "WETH", "price": "2000", "volatility": "0.6",
             "volatility_k_bps": 5000, "volatility_cap_bps": 5000},
        ],
    })
    assert config.feed.delay == 0 and config.collateral[0].oracle == "chainlink"
    sender = Sender.unlocked(web3, accounts[0].address)
    manifest = deploy_system(web3, sender, config, tmp_path / "chainlink.json", log=lambda _: None)
    client = KeelClient(web3, manifest)
    link = manifest.collateral_entry("LINK")
    assert link.oracle_contract == "ChainlinkAdapter" and link.mock_aggregator and link.aggregator
    adapter = client.oracle("LINK").functions
    assert adapter.source().call() == link.aggregator and adapter.source_decimals().call() == 8
    assert adapter.roles(manifest.deployer).call() == FEED_ROLE_ADMIN
    assert client.price("LINK") == (to_wad("15.5"), True)
    assert client.collateral_type_info("LINK").oracle == link.oracle
    # delay 0: still current right after the deploy; the margin is 0.5 * sigma (0.6), below the cap
    assert client.price("WETH") == (2_000 * WAD, True)
    info = client.collateral_type_info("WETH")
    assert (info.volatility_k_bps, info.volatility_cap_bps) == (5000, 5000)
    base, extra, total = client.required_ratio("WETH")
    assert base == to_wad("1.5") and abs(extra - to_wad("0.3")) < 10**10 and total == base + extra
    # reuse: the same config is "already deployed"; another oracle kind is not
    nonce = web3.eth.get_transaction_count(sender.address)
    assert deploy_system(web3, sender, config, tmp_path / "chainlink.json", log=lambda _: None).contracts \
        == manifest.contracts
    assert web3.eth.get_transaction_count(sender.address) == nonce


def test_config_validation():
    with pytest.raises(DeployError, match="quorum"):
        DeployConfig(feed=FeedConfig(quorum=4)).validate(31337)
    with pytest.raises(DeployError, match="twice the delay"):
        DeployConfig(feed=FeedConfig(delay=4000, max_age=7200)).validate(31337)
    with pytest.raises(DeployError, match="reporters"):  # no default reporters on a public chain
        DeployConfig(collateral=[CollateralConfig("WETH", token=accounts[1].address)]).validate(1)
    with pytest.raises(DeployError, match="aggregator"):
        DeployConfig(collateral=[CollateralConfig("X", token=accounts[1].address, oracle="chainlink")]).validate(1)
    with pytest.raises(DeployError, match="no volatility"):
        DeployConfig(collateral=[CollateralConfig("X", oracle="chainlink", volatility_k_bps=1)]).validate(31337)
    with pytest.raises(DeployError, match="unknown keys"):
        DeployConfig.from_dict({"feed": {"delays": 5}})


def test_make_current_refuses_public_chains(monkeypatch, deployed):
    _, manifest = deployed
    monkeypatch.setattr("keel.oracle.is_local_chain", lambda w3: False)
    with pytest.raises(OracleError, match="local chains only"):
        make_current(web3, manifest)

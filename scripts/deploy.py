"""Deploy Keel on the active brownie network:  brownie run scripts/deploy.py [--network NAME]

A thin wrapper: the work is keel.deploy.deploy_system (the same code as `keel deploy`).
Each collateral type gets a PriceFeed with three reporters (on local chains accounts 7, 8
and 9, which report the initial price; the clock is moved past the security-module delay
so the price is current when the script returns). On a public chain set the reporters
in the deploy config (`feed: {reporters: [...]}`); they must then report (`keel
reporter`) and someone must call poke() twice, the feed's delay apart, before vaults can
borrow.

Environment:
  KEEL_DEPLOYER_ID   a brownie account id (`brownie accounts list`) to deploy from;
                     default accounts[0] (the node's unlocked development account)
  KEEL_MANIFEST      manifest path (default deployments/[local/]<chain_id>.json)
  KEEL_DEPLOY_CONFIG deploy config, JSON or YAML (default: WETH and WBTC mocks)
  KEEL_FORCE=1       redeploy even if the manifest describes a live deployment
"""

from __future__ import annotations

import os

from brownie import accounts, network, web3

from keel.deploy import DeployConfig, deploy_system
from keel.manifest import Manifest, default_manifest_path
from keel.tx import Sender


def deployer() -> Sender:
    """KEEL_DEPLOYER_ID (brownie's keystore; it asks for the password), else accounts[0]."""
    account_id = os.environ.get("KEEL_DEPLOYER_ID", "").strip()
    if account_id:
        return Sender.from_private_key(web3, accounts.load(account_id).private_key)
    return Sender.unlocked(web3, accounts[0].address)


def main() -> Manifest:
    config_file = os.environ.get("KEEL_DEPLOY_CONFIG", "").strip()
    config = DeployConfig.from_file(config_file) if config_file else DeployConfig()
    path = os.environ.get("KEEL_MANIFEST", "").strip() or default_manifest_path(web3.eth.chain_id)
    force = os.environ.get("KEEL_FORCE", "").strip() not in ("", "0")
    rpc = getattr(web3.provider, "endpoint_uri", None)
    manifest = deploy_system(web3, deployer(), config, path, force=force, rpc=rpc)
    print(f"Keel on {network.show_active()} (chain {manifest.chain_id}): manifest written to {path}")
    return manifest

"""The Keel demo on the active brownie network:  brownie run scripts/demo.py

A thin wrapper around keel.scenario.run_scenario (the same story as `keel demo`, which
runs on its own embedded Anvil instead). Needs a local chain: the node's first ten
accounts must be unlocked (deployer, three users; 7-9 are the price reporters), and it
moves the chain's clock forward 30 days (and by the oracle's delay).
"""

from __future__ import annotations

import sys

from brownie import web3

from keel.scenario import run_scenario


def main() -> None:
    result = run_scenario(w3=web3)
    if not result.invariant_ok:
        sys.exit("invariant FAIL")

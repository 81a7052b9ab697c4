"""Anvil hygiene: no old block states left on disk, and no test run sharing another's node.

Disk.

Left at its default, anvil keeps a few hundred block states in memory and writes older ones
to ``~/.foundry/anvil/tmp/anvil-state-*``; killed, it leaves them there.  One test session
mines thousands of blocks, so run after run that filled the disk of the machine (79 GB) and a
CI run died of it.  Both ways we start anvil pass ``--max-persisted-states 0``: brownie's node
(brownie-config.yaml, through brownie_hooks.py) and ``keel.chain.Anvil`` (keeper, simulator,
reporter and demo tests).

Sharing. brownie attaches to any node already listening on its port instead of launching
its own, and its isolation fixtures then revert that chain under its owner: a second test
run on the port of a first one hung the first (tests/conftest.py refuses; ``make test``
picks a free port).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from brownie.network import rpc

from keel.chain import Anvil

ROOT = Path(__file__).resolve().parents[2]

STATE_CACHE = Path.home() / ".foundry" / "anvil" / "tmp"
# more blocks than anvil keeps in memory (an 800-block chain writes a state dir without the flag)
BLOCKS = 800


def _state_dirs() -> set[str]:
    return {p.name for p in STATE_CACHE.glob("anvil-state-*")} if STATE_CACHE.is_dir() else set()


def test_keel_anvil__800_blocks__writes_no_block_state_to_disk():
    before = _state_dirs()
    with Anvil() as node:
        assert "--max-persisted-states" in node.command(node.port)
        node.w3.provider.make_request("anvil_mine", [hex(BLOCKS)])
        assert node.w3.eth.block_number >= BLOCKS
        written = _state_dirs() - before
    assert not written, f"anvil wrote block states to {STATE_CACHE}: {sorted(written)}"


def test_brownie_anvil__launched_by_brownie__keeps_no_block_state_on_disk():
    args = rpc.process.cmdline()
    assert "--max-persisted-states" in args, args
    assert args[args.index("--max-persisted-states") + 1] == "0"


def test_brownie_test__port_held_by_another_node__refuses_and_leaves_that_chain_alone():
    with Anvil() as other:
        other.w3.provider.make_request("anvil_mine", [hex(3)])
        before = other.w3.eth.block_number
        env = dict(os.environ, KEEL_ANVIL_PORT=str(other.port))
        brownie = str(Path(sys.executable).parent / "brownie")
        done = subprocess.run([brownie, "test", "tests/integration/test_anvil_hygiene.py", "-k", "launched_by_brownie"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode != 0
        assert f"a node already listens on 127.0.0.1:{other.port}" in done.stdout + done.stderr
        assert other.w3.eth.block_number == before

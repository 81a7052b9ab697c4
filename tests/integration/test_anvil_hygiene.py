"""Anvil hygiene: old block states never left on disk, and no test run sharing another's node.

Disk. Anvil keeps a few hundred block states in memory and writes older ones to disk, by
default to ``~/.foundry/anvil/tmp/anvil-state-*``; killed, it leaves them there. One test
session mines thousands of blocks, so run after run that filled the disk of the machine
(79 GB) and a CI run died of it. Every node we start writes them to a directory of its own
(``--cache-path``, keel.chain.anvil_cache_dir) that its owner removes: ``keel.chain.Anvil`` at
stop, brownie's node at the end of the process (brownie_hooks.py). The states stay readable
while the node runs: the replay and the oracle history read prices at old blocks.

Sharing. brownie attaches to any node already listening on its port instead of launching
its own, and its isolation fixtures then revert that chain under its owner: a second test
run on the port of a first one hung the first (tests/conftest.py refuses; ``make test``
picks a free port).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from brownie.network import rpc

from keel.chain import CACHE_PREFIX, Anvil, anvil_cache_dir

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path.home() / ".foundry" / "anvil" / "tmp"
# more blocks than anvil keeps in memory: an 800-block chain writes states to disk
BLOCKS = 800


def _default_cache_dirs() -> set[str]:
    return {p.name for p in DEFAULT_CACHE.glob("anvil-state-*")} if DEFAULT_CACHE.is_dir() else set()


def test_keel_anvil__800_blocks__old_states_readable_then_removed_at_stop():
    before = _default_cache_dirs()
    with Anvil() as node:
        cache = node.cache
        assert cache is not None and cache.name.startswith(f"{CACHE_PREFIX}{os.getpid()}-")
        node.w3.provider.make_request("anvil_mine", [hex(BLOCKS)])
        assert node.w3.eth.block_number >= BLOCKS
        assert any(cache.iterdir())  # the old states went to our directory
        first = node.w3.eth.accounts[0]
        assert node.w3.eth.get_balance(first, block_identifier=1) > 0  # and are still there
    assert not cache.exists()
    written = _default_cache_dirs() - before
    assert not written, f"anvil wrote block states to {DEFAULT_CACHE}: {sorted(written)}"


def test_anvil_cache_dir__dirs_of_dead_processes__removed_own_kept():
    root = Path(tempfile.gettempdir())
    dead = root / f"{CACHE_PREFIX}999999999-leftover"  # no such pid
    dead.mkdir(exist_ok=True)
    (dead / "state.json").write_text("{}")
    mine = anvil_cache_dir()
    second = anvil_cache_dir()
    try:
        assert not dead.exists()
        assert second != mine and mine.is_dir()  # this process's: kept
    finally:
        mine.rmdir()
        second.rmdir()


def test_brownie_anvil__launched_by_brownie__old_states_go_to_this_process_directory():
    args = rpc.process.cmdline()
    assert "--cache-path" in args, args
    cache = Path(args[args.index("--cache-path") + 1])
    assert cache.parent == Path(tempfile.gettempdir()) and cache.name.startswith(f"{CACHE_PREFIX}{os.getpid()}-")
    assert cache.is_dir()


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

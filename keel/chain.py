"""Chains: connect to an RPC endpoint, run an embedded Anvil, move time on local chains.

``Anvil`` is a context manager that spawns ``anvil`` (``<project>/node_modules/.bin/anvil``,
else the one on PATH) on a free port, waits until it answers ``eth_chainId`` and stops
it on exit::

    with Anvil() as node:
        w3 = node.w3
        ...
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Sequence

from web3 import Web3

from .artifacts import project_root

#: chain ids of local development nodes (anvil / hardhat, ganache)
LOCAL_CHAIN_IDS = frozenset({31337, 1337})
#: ports keel picks from for an embedded anvil (override with KEEL_PORT_RANGE="lo-hi")
DEFAULT_PORT_RANGE = (8623, 8699)
DEFAULT_RPC = "http://127.0.0.1:8545"


class ChainError(RuntimeError):
    """A node could not be started or reached."""


# ---------------------------------------------------------------------------- connecting
def rpc_request(url: str, method: str, params: Sequence[Any] = (), timeout: float = 5.0) -> Any:
    """One raw JSON-RPC call (no web3 machinery); raises ChainError on an RPC error."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise ChainError(f"{method}: {reply['error']}")
    return reply["result"]


def connect(rpc_url: str = DEFAULT_RPC, timeout: float = 60.0) -> Web3:
    """A Web3 for ``rpc_url`` (http(s) or ws(s)), checked by asking for the chain id."""
    if rpc_url.startswith(("ws://", "wss://")):
        provider: Any = Web3.LegacyWebSocketProvider(rpc_url, websocket_timeout=timeout)
    else:
        provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout})
    w3 = Web3(provider)
    try:
        w3.eth.chain_id
    except Exception as exc:  # connection refused, DNS, TLS, ...
        raise ChainError(f"cannot reach a node at {rpc_url}: {exc}") from exc
    return w3


def is_local_chain(w3: Web3) -> bool:
    """True for anvil/hardhat/ganache chain ids (where mock tokens and time travel are fine)."""
    return w3.eth.chain_id in LOCAL_CHAIN_IDS


# ---------------------------------------------------------------------------- time (local chains)
def latest_timestamp(w3: Web3) -> int:
    """Timestamp (unix seconds) of the latest block."""
    return int(w3.eth.get_block("latest")["timestamp"])


def mine(w3: Web3, blocks: int = 1) -> None:
    """Mine ``blocks`` empty blocks (``evm_mine``)."""
    for _ in range(blocks):
        w3.provider.make_request("evm_mine", [])


def increase_time(w3: Web3, seconds: int, *, mine_block: bool = True) -> int:
    """Move the chain clock forward and, by default, mine a block so that views see the
    new time. Returns the latest block's timestamp afterwards.

    With ``mine_block`` the next block is pinned ``seconds`` after the latest one
    (``evm_setNextBlockTimestamp``; the node's clock continues from there), which also
    works on a node mining at a fixed timestamp interval (``anvil_setBlockTimestampInterval``,
    where ``evm_increaseTime`` has no effect); without it, ``evm_increaseTime``."""
    seconds = int(seconds)
    if not mine_block:
        w3.provider.make_request("evm_increaseTime", [seconds])
        return latest_timestamp(w3)
    if seconds > 0:
        set_next_block_timestamp(w3, latest_timestamp(w3) + seconds)
    mine(w3)
    return latest_timestamp(w3)


def set_next_block_timestamp(w3: Web3, timestamp: int) -> None:
    """Fix the timestamp of the next block (``evm_setNextBlockTimestamp``), for
    reproducible measurements: the fee accrued depends on the seconds elapsed."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [int(timestamp)])


# ---------------------------------------------------------------------------- anvil
def find_anvil(root: Path | None = None) -> str:
    """``<project>/node_modules/.bin/anvil`` if present, else ``anvil`` on PATH."""
    try:
        local = (root or project_root()) / "node_modules" / ".bin" / "anvil"
        if local.exists():
            return str(local)
    except Exception:  # not inside the project: fall back to PATH
        pass
    found = shutil.which("anvil")
    if not found:
        raise ChainError("anvil not found: run `make bootstrap` (node_modules/.bin/anvil) or install foundry")
    return found


CACHE_PREFIX = "keel-anvil-cache-"  # + "<pid>-<random>": a node's old block states


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    return True


def anvil_cache_dir() -> Path:
    """A new directory for one node's old block states (anvil's ``--cache-path``), in the
    system temp dir, named after this process; the ones left by processes that no longer run
    are removed first.

    Anvil keeps a few hundred block states in memory and writes older ones to disk, by
    default under ``~/.foundry/anvil/tmp``, a full copy of the state per block (GBs over one
    test session), and leaves them there when it is killed: run after run that filled the
    disk (79 GB on one machine) and a CI run died of it. The states must exist while the
    node runs (the replay and the oracle history read prices at old blocks), so each node
    gets a directory its owner removes when it stops (:meth:`Anvil.stop`, brownie_hooks.py)."""
    root = Path(tempfile.gettempdir())
    for old in root.glob(CACHE_PREFIX + "*"):
        pid = old.name[len(CACHE_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}{os.getpid()}-"))


def _port_range() -> tuple[int, int]:
    spec = os.environ.get("KEEL_PORT_RANGE", "").strip()
    if not spec:
        return DEFAULT_PORT_RANGE
    lo, _, hi = spec.partition("-")
    return int(lo), int(hi or lo)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(lo: int | None = None, hi: int | None = None, exclude: Sequence[int] = ()) -> int:
    """A port in ``[lo, hi]`` (default 8623-8699, or KEEL_PORT_RANGE) nothing listens on,
    tried in random order so concurrent callers rarely pick the same one."""
    default_lo, default_hi = _port_range()
    lo, hi = lo or default_lo, hi or default_hi
    ports = [p for p in range(lo, hi + 1) if p not in exclude]
    random.shuffle(ports)
    for port in ports:
        if port_is_free(port):
            return port
    raise ChainError(f"no free port in {lo}-{hi}")


class Anvil:
    """A private anvil node for the lifetime of a ``with`` block.

    :param port: listen here; None picks a free port (and retries on a bind race).
    :param code_size_limit: keep EIP-170's 24,576-byte limit, as every public chain
        does (False adds ``--disable-code-size-limit``, for experiments only).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        accounts: int = 10,
        balance: int = 1_000_000,
        chain_id: int = 31337,
        hardfork: str | None = "prague",
        code_size_limit: bool = True,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        executable: str | None = None,
    ) -> None:
        self.requested_port = port
        self.port: int | None = None
        self.accounts = accounts
        self.balance = balance
        self.chain_id = chain_id
        self.hardfork = hardfork
        self.code_size_limit = code_size_limit
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.executable = executable
        self._proc: subprocess.Popen[bytes] | None = None
        self.cache: Path | None = None  # --cache-path while running (anvil_cache_dir)
        self._stderr: Any = None
        self._w3: Web3 | None = None

    # -- lifecycle
    def command(self, port: int) -> list[str]:
        cmd = [
            self.executable or find_anvil(),
            "--silent",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--accounts", str(self.accounts),
            "--balance", str(self.balance),
            "--chain-id", str(self.chain_id),
        ]
        if self.cache is not None:  # old block states: our directory, removed at stop
            cmd += ["--cache-path", str(self.cache)]
        if self.hardfork:
            cmd += ["--hardfork", self.hardfork]
        if not self.code_size_limit:
            cmd.append("--disable-code-size-limit")
        return cmd + list(self.extra_args)

    def start(self) -> "Anvil":
        if self._proc is not None:
            return self
        tried: list[int] = []
        self.cache = self.cache or anvil_cache_dir()
        attempts = 1 if self.requested_port else 5
        last_error = ""
        for _ in range(attempts):
            port = self.requested_port or free_port(exclude=tried)
            tried.append(port)
            error = self._launch(port)
            if error is None:
                return self
            last_error = error
        shutil.rmtree(self.cache, ignore_errors=True)
        self.cache = None
        raise ChainError(f"anvil did not start (ports tried: {tried}): {last_error}")

    def _launch(self, port: int) -> str | None:
        """Spawn anvil on ``port`` and wait for it; None on success, else why not."""
        self._stderr = tempfile.TemporaryFile()
        # own process group: the npm wrapper (node) starts the real binary as a child
        proc = subprocess.Popen(
            self.command(port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._stderr, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._stderr.seek(0)
                message = self._stderr.read().decode(errors="replace").strip()
                self._stderr.close()
                return f"exited with {proc.returncode}: {message or '(no output)'}"
            try:
                chain_id = int(rpc_request(url, "eth_chainId", timeout=1.0), 16)
            except (OSError, urllib.error.URLError, ValueError, ChainError):
                time.sleep(0.1)
                continue
            if chain_id != self.chain_id:  # someone else's node answered on this port
                self._kill(proc)
                return f"port {port} answered with chain id {chain_id}"
            self._proc, self.port = proc, port
            return None
        self._kill(proc)
        return f"no answer to eth_chainId on {url} within {self.startup_timeout:.0f} s"

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group we created for it
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop(self) -> None:
        if self._proc is not None:
            self._kill(self._proc)
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self.cache is not None:
            shutil.rmtree(self.cache, ignore_errors=True)
            self.cache = None
        self._w3 = None

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- access
    @property
    def url(self) -> str:
        if self.port is None:
            raise ChainError("anvil is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def w3(self) -> Web3:
        if self._w3 is None:
            self._w3 = connect(self.url)
        return self._w3

    def version(self) -> str:
        """``web3_clientVersion``, e.g. ``anvil/v1.7.1``."""
        return str(self.w3.client_version)

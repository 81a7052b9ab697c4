"""One thin chain interface, two backends: titanoboa (Vyper's in-process EVM) and Anvil.

The stateful fuzz suite (and anything else that drives the contracts step by step) is
written once against :class:`Backend`; :class:`BoaBackend` runs it in process, ~30-70x
faster, :class:`AnvilBackend` on a real node over JSON-RPC. Both deploy the *same*
bytecode, brownie's artifacts in ``build/contracts`` (so the two cannot drift), take every
block time from the caller (so a run is reproducible), and answer in the same shapes:

* ``deploy(name, *args, sender=...) -> Handle``;
* ``call(handle, fn, *args)`` -> the decoded return value (a tuple for several values or
  a struct, an int, a bool or a checksummed address string);
* ``send(sender, handle, fn, *args) -> Result``: ``ok``, the decoded ``value``, the revert
  ``reason`` (the ``Error(string)`` message, ``""`` for a revert without one) and ``gas``;
* ``set_time(t)``: the next transaction's block time (views keep seeing the last
  transaction's block, as on a node); ``snapshot()`` / ``revert(id)``;
* ``storage(address, slots)``: raw storage words, for readers that decode the contracts'
  documented layouts (the fuzz suite's invariant check: a hundred words cost a
  millisecond, where a hundred view calls through an interpreted EVM cost fifty).

Functions are looked up by name (Keel's contracts have no overloads).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3

from .artifacts import Artifact, load_artifact

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class BackendError(RuntimeError):
    """A backend could not do what was asked (not a contract revert)."""


@dataclass(frozen=True)
class Result:
    """What a transaction did."""

    ok: bool
    value: Any = None
    reason: str | None = None  # the revert reason, "" for a revert without one
    gas: int = 0


def _type_string(item: dict[str, Any]) -> str:
    """The ABI type of an input or output, tuples spelled out: ``(uint256,address)[]``."""
    kind = item["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_type_string(c) for c in item["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _normalize(value: Any) -> Any:
    """Decoded ABI values as plain Python: tuples, ints, bools, str addresses, bytes."""
    if isinstance(value, (list, tuple)):
        return tuple(_normalize(v) for v in value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return Web3.to_checksum_address(value)
    return value


@dataclass
class _Function:
    selector: bytes
    inputs: list[str]
    outputs: list[str]
    mutating: bool

    def encode(self, args: Sequence[Any]) -> bytes:
        return self.selector + abi_encode(self.inputs, list(args))

    def decode(self, output: bytes) -> Any:
        if not self.outputs:
            return None
        values = _normalize(abi_decode(self.outputs, output))
        return values[0] if len(self.outputs) == 1 else values


class _Abi:
    """A contract's functions by name, and its constructor's input types."""

    def __init__(self, artifact: Artifact) -> None:
        self.name = artifact.name
        self.bytecode = bytes.fromhex(artifact.bytecode.removeprefix("0x"))
        self.functions: dict[str, _Function] = {}
        self.constructor: list[str] = []
        for item in artifact.abi:
            if item["type"] == "constructor":
                self.constructor = [_type_string(i) for i in item["inputs"]]
            elif item["type"] == "function":
                inputs = [_type_string(i) for i in item["inputs"]]
                self.functions[item["name"]] = _Function(
                    selector=function_signature_to_4byte_selector(f"{item['name']}({','.join(inputs)})"),
                    inputs=inputs,
                    outputs=[_type_string(o) for o in item["outputs"]],
                    mutating=item["stateMutability"] not in ("view", "pure"),
                )

    def function(self, fn: str) -> _Function:
        try:
            return self.functions[fn]
        except KeyError:
            raise BackendError(f"{self.name} has no function {fn}") from None

    def initcode(self, args: Sequence[Any]) -> bytes:
        return self.bytecode + (abi_encode(self.constructor, list(args)) if self.constructor else b"")


@dataclass(frozen=True)
class Handle:
    """A deployed contract: its name (for the ABI) and address."""

    name: str
    address: str

    def __str__(self) -> str:
        return self.address


def revert_reason(output: bytes) -> str:
    """The message of an ``Error(string)`` revert, ``""`` for any other revert data."""
    if output[:4] == ERROR_SELECTOR:
        try:
            return str(abi_decode(["string"], output[4:])[0])
        except Exception:  # noqa: BLE001 - malformed revert data is just no reason
            return ""
    return ""


class Backend:
    """The interface; see the module docstring."""

    name = "backend"

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self._abis: dict[str, _Abi] = {}
        self.accounts: list[str] = []
        self.now = 0  # the block time the next transaction gets (set_time)

    def abi(self, name: str) -> _Abi:
        if name not in self._abis:
            self._abis[name] = _Abi(load_artifact(name, self.root))
        return self._abis[name]

    def at(self, name: str, address: str) -> Handle:
        return Handle(name, Web3.to_checksum_address(address))

    # -- to implement
    def deploy(self, name: str, *args: Any, sender: str | None = None) -> Handle:
        raise NotImplementedError

    def call(self, handle: Handle, fn: str, *args: Any, sender: str | None = None) -> Any:
        raise NotImplementedError

    def send(self, sender: str, handle: Handle, fn: str, *args: Any) -> Result:
        raise NotImplementedError

    def set_time(self, timestamp: int) -> None:
        raise NotImplementedError

    def storage(self, address: str, slots: Sequence[int]) -> list[int]:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError

    def revert(self, snapshot_id: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BoaBackend(Backend):
    """titanoboa's in-process EVM (py-evm underneath), driven by raw calls: no ABI wrapper
    objects, so a step costs little more than the EVM's own work."""

    name = "boa"

    def __init__(self, root: Path | None = None, accounts: int = 12, start_time: int = 1_800_000_000) -> None:
        super().__init__(root)
        import boa  # imported here: the Anvil backend and the rest of keel do not need it

        self.env = boa.Env()
        self.accounts = [str(self.env.generate_address()) for _ in range(accounts)]
        self.deployer = self.accounts[0]
        self._state = self.env.evm.vm.state
        self.set_time(start_time)
        self._mine()

    def set_time(self, timestamp: int) -> None:
        self.now = timestamp

    def _mine(self) -> None:
        """Every transaction in its own block at the time set (as AnvilBackend mines them)."""
        patch = self.env.evm.patch
        patch.block_number = patch.block_number + 1
        patch.timestamp = self.now

    def storage(self, address: str, slots: Sequence[int]) -> list[int]:
        account = bytes.fromhex(address[2:])
        get = self.env.evm.vm.state.get_storage
        return [get(account, slot) for slot in slots]

    def deploy(self, name: str, *args: Any, sender: str | None = None) -> Handle:
        abi = self.abi(name)
        self._mine()
        address, _ = self.env.deploy_code(sender=sender or self.deployer, bytecode=abi.initcode(args))
        return Handle(name, Web3.to_checksum_address(str(address)))

    def call(self, handle: Handle, fn: str, *args: Any, sender: str | None = None) -> Any:
        function = self.abi(handle.name).function(fn)
        computation = self.env.execute_code(
            handle.address, sender=sender or self.deployer, data=function.encode(args), is_modifying=False,
        )
        if computation.is_error:
            raise BackendError(f"{handle.name}.{fn} reverted: {revert_reason(computation.output)!r}")
        return function.decode(computation.output)

    def send(self, sender: str, handle: Handle, fn: str, *args: Any) -> Result:
        function = self.abi(handle.name).function(fn)
        self._mine()
        computation = self.env.execute_code(handle.address, sender=sender, data=function.encode(args))
        gas = int(computation.get_gas_used())
        if computation.is_error:
            return Result(False, None, revert_reason(computation.output), gas)
        return Result(True, function.decode(computation.output), None, gas)

    def snapshot(self) -> Any:
        accounts = self.env.evm.vm.state._account_db
        return self.env.evm.snapshot(), frozenset(accounts._dirty_accounts)

    def revert(self, snapshot_id: Any) -> None:
        checkpoint, dirty_then = snapshot_id
        self.env.evm.revert(checkpoint)
        # py-evm keeps every account whose storage was touched since the last persist in
        # its dirty set, reverted or not, and walks that set on every call frame (record /
        # commit / discard): contracts created after the snapshot (option tokens at new
        # addresses, run after run) would slow each later call. Their storage is gone with
        # the revert, so forget them. boa's debugging traces (keccak preimages, touched
        # slots) are not used here and would grow without bound.
        accounts = self.env.evm.vm.state._account_db
        for address in accounts._dirty_accounts - dirty_then:
            accounts._account_stores.pop(address, None)
        accounts._dirty_accounts &= dirty_then
        self.env.sha3_trace.clear()
        self.env.sstore_trace.clear()


class AnvilBackend(Backend):
    """An Anvil node (keel.chain.Anvil) over JSON-RPC: every send is a transaction mined in
    its own block at the time ``set_time`` gave; a reverted one is replayed with ``eth_call``
    at that block's parent and time for its reason."""

    name = "anvil"
    GAS = 25_000_000  # every transaction's gas limit (no estimation round trip)

    def __init__(self, root: Path | None = None, accounts: int = 12, start_time: int = 1_800_000_000,
                 port: int | None = None) -> None:
        super().__init__(root)
        from .chain import Anvil

        self.node = Anvil(port, accounts=accounts, extra_args=("--timestamp", str(start_time), "--no-mining",
                                                              "--gas-limit", "30000000", "--base-fee", "0"))
        self.node.start()
        self.w3 = self.node.w3
        self.accounts = [Web3.to_checksum_address(a) for a in self.w3.eth.accounts]
        self.deployer = self.accounts[0]
        self._rpc("evm_setAutomine", [False])
        self.now = start_time
        import requests

        self._session = requests.Session()

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)
        if "error" in response:
            raise BackendError(f"{method}: {response['error']}")
        return response.get("result")

    def close(self) -> None:
        self.node.stop()

    def set_time(self, timestamp: int) -> None:
        self.now = timestamp

    def storage(self, address: str, slots: Sequence[int]) -> list[int]:
        """Every word in one JSON-RPC batch."""
        if not slots:
            return []
        batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_getStorageAt", "params": [address, hex(slot), "latest"]}
                 for i, slot in enumerate(slots)]
        response = self._session.post(self.node.url, json=batch, timeout=60)
        answers = sorted(response.json(), key=lambda r: r["id"])
        if any("error" in a for a in answers):
            raise BackendError(f"eth_getStorageAt: {next(a['error'] for a in answers if 'error' in a)}")
        return [int(a["result"], 16) for a in answers]

    def _mine_one(self, tx: dict[str, Any]) -> dict[str, Any]:
        """Send ``tx`` and mine it alone in a block at ``self.now``; its receipt."""
        tx_hash = self._rpc("eth_sendTransaction", [tx])
        self._rpc("evm_mine", [self.now])
        deadline = time.monotonic() + 30
        while True:
            receipt = self._rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise BackendError(f"no receipt for {tx_hash}")
            time.sleep(0.01)

    def deploy(self, name: str, *args: Any, sender: str | None = None) -> Handle:
        abi = self.abi(name)
        receipt = self._mine_one({
            "from": sender or self.deployer, "data": "0x" + abi.initcode(args).hex(), "gas": hex(self.GAS),
            "gasPrice": "0x0",
        })
        if int(receipt["status"], 16) != 1:
            raise BackendError(f"deploying {name} failed")
        return Handle(name, Web3.to_checksum_address(receipt["contractAddress"]))

    def call(self, handle: Handle, fn: str, *args: Any, sender: str | None = None) -> Any:
        function = self.abi(handle.name).function(fn)
        params = {"from": sender or self.deployer, "to": handle.address, "data": "0x" + function.encode(args).hex()}
        response = self.w3.provider.make_request("eth_call", [params, "latest"])
        if "error" in response:
            data = (response["error"].get("data") or "0x")
            data = data if isinstance(data, str) else "0x"
            raise BackendError(f"{handle.name}.{fn} reverted: {revert_reason(bytes.fromhex(data[2:]))!r}")
        return function.decode(bytes.fromhex(response["result"][2:]))

    def send(self, sender: str, handle: Handle, fn: str, *args: Any) -> Result:
        function = self.abi(handle.name).function(fn)
        data = "0x" + function.encode(args).hex()
        receipt = self._mine_one({"from": sender, "to": handle.address, "data": data, "gas": hex(self.GAS),
                                  "gasPrice": "0x0"})
        gas = int(receipt["gasUsed"], 16)
        block = int(receipt["blockNumber"], 16)
        if int(receipt["status"], 16) != 1:
            # replay at the parent block with this block's time and number: the reason
            params = {"from": sender, "to": handle.address, "data": data, "gas": hex(self.GAS)}
            overrides = {"time": hex(self.now), "number": hex(block)}
            response = self.w3.provider.make_request("eth_call", [params, hex(block - 1), {}, overrides])
            raw = (response.get("error") or {}).get("data") or "0x"
            return Result(False, None, revert_reason(bytes.fromhex(raw[2:])) if isinstance(raw, str) else "", gas)
        if not function.outputs:
            return Result(True, None, None, gas)
        # the return value: the same call at the parent block and this block's time
        params = {"from": sender, "to": handle.address, "data": data, "gas": hex(self.GAS)}
        overrides = {"time": hex(self.now), "number": hex(block)}
        result = self._rpc("eth_call", [params, hex(block - 1), {}, overrides])
        return Result(True, function.decode(bytes.fromhex(result[2:])), None, gas)

    def snapshot(self) -> Any:
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        if not self._rpc("evm_revert", [snapshot_id]):
            raise BackendError(f"evm_revert({snapshot_id}) failed")


def make_backend(name: str, root: Path | None = None, **kwargs: Any) -> Backend:
    """``"boa"`` or ``"anvil"``."""
    if name == "boa":
        return BoaBackend(root, **kwargs)
    if name == "anvil":
        return AnvilBackend(root, **kwargs)
    raise BackendError(f"unknown backend {name!r}: boa or anvil")


__all__ = ["Backend", "BoaBackend", "AnvilBackend", "Handle", "Result", "BackendError", "make_backend", "revert_reason"]

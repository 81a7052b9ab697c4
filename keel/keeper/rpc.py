"""The keeper's view of the node: a counting HTTP provider and batched ``eth_call``.

A keeper watching thousands of vaults must not make one HTTP round trip per vault.
:func:`batch_call` packs many ``eth_call`` requests (each already a batch view such as
``VaultLens.vaults_info`` over 100 vaults) into JSON-RPC batches: one HTTP request
carries up to ``per_request`` calls.  :class:`CountingProvider` counts HTTP requests and
JSON-RPC calls so that the benchmark can report what a scan costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from eth_utils.abi import get_abi_output_types
from web3 import HTTPProvider, Web3
from web3.contract.contract import ContractFunction

from ..tx import decode_revert_data

#: JSON-RPC calls per HTTP request in a batch (anvil and geth take far more; public
#: providers often cap batches at 50-100)
PER_REQUEST = 50


class RpcError(RuntimeError):
    """A batched call failed (the node answered with an error for one of the calls)."""


@dataclass
class RpcCounters:
    http_requests: int = 0  # round trips to the node
    rpc_calls: int = 0  # JSON-RPC calls (a batch request carries many)
    by_method: dict[str, int] = field(default_factory=dict)  # JSON-RPC calls per method

    def snapshot(self) -> tuple[int, int]:
        return self.http_requests, self.rpc_calls


class CountingProvider(HTTPProvider):
    """An HTTP provider that counts its round trips and JSON-RPC calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counters = RpcCounters()

    def make_request(self, method: Any, params: Any) -> Any:
        self._count(1, [method])
        return super().make_request(method, params)

    def make_batch_request(self, batch_requests: Any) -> Any:
        self._count(1, [method for method, _params in batch_requests])
        return super().make_batch_request(batch_requests)

    def _count(self, http: int, methods: list[Any]) -> None:
        counters = self.counters
        counters.http_requests += http
        counters.rpc_calls += len(methods)
        for method in methods:
            counters.by_method[str(method)] = counters.by_method.get(str(method), 0) + 1


def counting_web3(rpc_url: str, timeout: float = 30.0) -> Web3:
    """A Web3 over a :class:`CountingProvider` (``w3.provider.counters``). The chain id is
    asked once and cached (web3 checks it before every transaction it sends); requests are
    not retried inside web3."""
    provider = CountingProvider(rpc_url, request_kwargs={"timeout": timeout}, cache_allowed_requests=True,
                                cacheable_requests={"eth_chainId"},
                                # no silent retries inside web3: a failed call fails the tick, which
                                # the keeper logs and retries itself (it must know the node is down)
                                exception_retry_configuration=None)
    return Web3(provider)


def counters_of(w3: Web3) -> RpcCounters | None:
    return getattr(w3.provider, "counters", None)


def _call_params(fn: ContractFunction, block: int | str) -> list[Any]:
    tag = hex(block) if isinstance(block, int) else block
    return [{"to": fn.address, "data": fn._encode_transaction_data()}, tag]


def _decode(w3: Web3, fn: ContractFunction, result: str) -> Any:
    types = get_abi_output_types(fn.abi)
    values = w3.codec.decode(types, bytes.fromhex(result.removeprefix("0x")))
    return values[0] if len(values) == 1 else tuple(values)


def batch_call(
    w3: Web3, calls: Sequence[ContractFunction], *, block: int | str = "latest", per_request: int = PER_REQUEST,
) -> list[Any]:
    """Run ``calls`` (bound view functions) at ``block`` in JSON-RPC batches; the decoded
    results in order. A single call goes out as a plain request. Raises RpcError if the
    node refuses any call (with its revert reason when there is one)."""
    out: list[Any] = []
    for start in range(0, len(calls), per_request):
        chunk = calls[start:start + per_request]
        if len(chunk) == 1:
            fn = chunk[0]
            out.append(_decode(w3, fn, w3.eth.call(_call_params(fn, block)[0], block).hex()))  # type: ignore[arg-type]
            continue
        responses = w3.provider.make_batch_request([("eth_call", _call_params(fn, block)) for fn in chunk])  # type: ignore[attr-defined]
        if isinstance(responses, dict):  # the whole batch was refused
            raise RpcError(f"batch refused: {responses.get('error')}")
        by_id = sorted(responses, key=lambda r: int(r.get("id", 0)))
        for fn, response in zip(chunk, by_id):
            if "error" in response:
                error = response["error"]
                data = error.get("data") if isinstance(error, dict) else None
                reason = decode_revert_data(data) if isinstance(data, str) else None
                raise RpcError(f"{fn.fn_name}: {reason or error}")
            out.append(_decode(w3, fn, response["result"]))
    return out


def chunks(items: Iterable[int], size: int) -> list[list[int]]:
    values = list(items)
    return [values[i:i + size] for i in range(0, len(values), size)]


__all__ = ["CountingProvider", "RpcCounters", "RpcError", "batch_call", "chunks", "counting_web3", "counters_of", "PER_REQUEST"]

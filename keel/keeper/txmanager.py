"""The keeper bot's transaction execution layer: nonces, fees, replacement, recovery.

A liquidation bot must never leave a transaction stuck, never pay a hard-coded gas price
and never do the same thing twice because it retried.  :class:`TxManager` sends the bot's
transactions from one account (a :class:`keel.tx.Sender`: a local private key, or an
account the node holds unlocked) under these rules:

**Nonce ownership.**  The manager assumes it is the only writer for its account.  It keeps
a local nonce counter, initialised from ``eth_getTransactionCount(address, "pending")``
(and never below the highest nonce it still has pending, plus one), and gives every new
transaction the next nonce.  Once a nonce is handed to a transaction, that nonce *is* the
transaction: a retry, a re-broadcast or a fee bump reuses it, so at most one of them can be
mined.  When the node answers ``nonce too low`` or ``replacement transaction underpriced``
to a *new* transaction (something else used the account), the counter is resynced and the
transaction is sent with the next free nonce.  A nonce is only released (not used) when the
node definitely refused the transaction.

**Idempotency keys.**  ``submit(..., key="liquidate:WETH:42")`` returns the pending
transaction already sent under that key instead of sending another one.  A key is free
again once its transaction is resolved (mined, reverted or its nonce consumed elsewhere).

**Fees and the gas cap.**  EIP-1559 fees from the latest block: ``maxFeePerGas =
baseFee * base_fee_multiplier + tip`` (the tip is fixed by the policy, or asked from the
node with ``eth_maxPriorityFeePerGas``, at least 0.01 gwei), then capped at
``max_fee_gwei``.  A chain without ``baseFeePerGas`` gets a legacy ``gasPrice``
(``eth_gasPrice``).  When even ``baseFee + tip`` is above the cap nothing is sent:
:class:`GasPriceTooHigh`.  The gas limit is the estimate times ``gas_multiplier`` plus
``gas_extra`` (at most the block gas limit); an estimate that reverts raises
:class:`keel.tx.KeelTxError` before a nonce is taken.

**Replacement.**  :meth:`TxManager.poll` checks every pending transaction.  A receipt for
*any* of its hashes resolves it.  If the account's mined nonce has passed it but none of
its hashes has a receipt, another transaction used the nonce: it resolves as failed
(``"nonce used by another transaction"``).  Otherwise, when no receipt arrived within
``stuck_after`` seconds (of the manager's ``clock``) since it was last sent, it is
replaced: same nonce, same call, ``maxFeePerGas`` and the tip each raised by
``bump_percent`` (rounded up, at least 1 wei; geth refuses a replacement under +10 %), and
``maxFeePerGas`` at least what the current base fee calls for.  A bump that would exceed
the cap is not sent (the transaction keeps waiting; this is logged once), and after
``max_replacements`` bumps the transaction just waits.  A transaction the node has lost
(no longer known by hash) is re-broadcast unchanged rather than bumped.

**RPC outages.**  A connection error before anything was broadcast propagates from
:meth:`~TxManager.submit` (nothing sent, no nonce used).  A connection error *while*
broadcasting leaves the transaction pending, because it may or may not have reached the
node: with a local key its signed bytes and hash are known, and :meth:`~TxManager.poll`
re-broadcasts exactly the same bytes (same nonce, same hash: it cannot be mined twice).  A
node-signed transaction is re-sent with the same fields and nonce; if its hash was never
learned, a consumed nonce is matched against the transaction found in the recent blocks.
Connection errors inside :meth:`~TxManager.poll` are logged; the pending set is kept.

**Journal.**  With ``journal=path`` every change of the pending set is appended to a
JSON-lines file and fsynced before the transaction is broadcast: a ``put`` record per new
or changed pending transaction (key, description, transaction fields, all hashes, the
signed raw transactions in local-key mode, fees), a ``drop`` record per resolved one. The
file is compacted (rewritten atomically: a temporary file, then ``os.replace``) when it
holds four times more records than pending transactions, and on load; a torn last line
(a crash mid-write) is ignored.  A new manager on the same journal -- after a crash or a restart -- takes
the pending transactions back (their nonces and keys stay taken) and resolves them on its
next poll.  The journal holds no secret: a signed transaction is public once broadcast.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import (
    ContractLogicError, ProviderConnectionError, TimeExhausted, TransactionNotFound, Web3RPCError,
)

from keel.tx import KeelTxError, Sender, describe_call, revert_reason

GWEI = 10**9
MIN_TIP = 10**7  # 0.01 gwei: the floor for a tip asked from the node
FALLBACK_TIP = GWEI  # when the node cannot say (no eth_maxPriorityFeePerGas)
JOURNAL_VERSION = 2
RESULT_CACHE = 1024  # resolved results kept for wait() (by nonce)
SCAN_BLOCKS = 128  # how far back a consumed nonce's transaction is looked for
NONCE_RETRIES = 3  # resyncs of the nonce counter per submit
REPLACED_BY_OTHER = "nonce used by another transaction"

#: errors that mean "the node could not be reached / did not answer properly": the fate of the
#: request is unknown (requests' ConnectionError, Timeout, a truncated or HTTP-error answer ...)
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,
    ProviderConnectionError,
    ConnectionError,
    TimeoutError,
)


class GasPriceTooHigh(RuntimeError):
    """The base fee + tip is above the policy's cap (``max_fee_gwei``): nothing was sent."""


class TxRejected(RuntimeError):
    """The node refused a new transaction (insufficient funds, fee below the base fee, ...):
    nothing was sent and its nonce was released."""


class JournalError(RuntimeError):
    """The journal cannot be read, or belongs to another account."""


# ---------------------------------------------------------------------------- data
@dataclass
class FeePolicy:
    """How much to pay, and when to bump.  Fees in gwei, times in seconds of the manager's clock."""

    max_fee_gwei: float | None = None  # cap on maxFeePerGas; None = no cap
    priority_fee_gwei: float | None = None  # tip; None = ask the node (floor 0.01 gwei)
    base_fee_multiplier: float = 2.0  # maxFee = base * this + tip (then min(cap))
    bump_percent: float = 12.5  # replacement bump of both maxFee and tip; >= 10 (node rule)
    stuck_after: float = 30.0  # seconds without a receipt before a replacement
    max_replacements: int = 5
    gas_multiplier: float = 1.25  # gas limit = estimate * this + gas_extra
    gas_extra: int = 20_000

    def __post_init__(self) -> None:
        if self.bump_percent < 10:
            raise ValueError(f"bump_percent {self.bump_percent} < 10: nodes refuse such replacements")
        if self.base_fee_multiplier < 1:
            raise ValueError("base_fee_multiplier must be >= 1")
        if self.max_fee_gwei is not None and self.max_fee_gwei <= 0:
            raise ValueError("max_fee_gwei must be positive (or None for no cap)")
        if self.stuck_after < 0 or self.max_replacements < 0:
            raise ValueError("stuck_after and max_replacements must be >= 0")

    @property
    def cap_wei(self) -> int | None:
        return None if self.max_fee_gwei is None else gwei_to_wei(self.max_fee_gwei)

    @property
    def tip_wei(self) -> int | None:
        return None if self.priority_fee_gwei is None else gwei_to_wei(self.priority_fee_gwei)


@dataclass
class TxResult:
    """A resolved transaction."""

    key: str | None
    what: str
    nonce: int
    tx_hash: str  # the hash that was mined ("" when the nonce was used by another transaction)
    ok: bool
    reason: str | None  # why not ok: the revert reason, out of gas, or REPLACED_BY_OTHER
    gas_used: int
    fee_paid: int  # wei: gasUsed * effectiveGasPrice
    replacements: int
    block: int  # the block that holds it (0 when unknown)
    receipt: dict[str, Any]


@dataclass
class PendingTx:
    """A transaction that owns a nonce and has no receipt yet."""

    key: str | None
    what: str
    nonce: int
    tx: dict[str, Any]  # the current fields (from, to, data, value, gas, nonce, chainId, fees)
    hashes: list[str] = field(default_factory=list)  # every version sent, oldest first
    raw: list[str] = field(default_factory=list)  # signed raw transactions (local-key mode)
    sent_at: float = 0.0  # manager clock at the last (re)send
    max_fee: int = 0  # maxFeePerGas (legacy: gasPrice), wei
    tip: int | None = None  # maxPriorityFeePerGas, wei (None: legacy)
    replacements: int = 0
    first_block: int = 0  # latest block when first submitted (where a lost hash is looked for)
    unsent: bool = False  # the last broadcast failed on the connection: re-broadcast on poll
    held: str | None = None  # why a due replacement is withheld (logged once)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "what": self.what, "nonce": self.nonce, "tx": self.tx,
            "hashes": self.hashes, "raw": self.raw, "max_fee": self.max_fee, "tip": self.tip,
            "replacements": self.replacements, "first_block": self.first_block, "unsent": self.unsent,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], sent_at: float) -> "PendingTx":
        return cls(
            key=data.get("key"), what=data["what"], nonce=int(data["nonce"]), tx=dict(data["tx"]),
            hashes=list(data.get("hashes", [])), raw=list(data.get("raw", [])), sent_at=sent_at,
            max_fee=int(data["max_fee"]), tip=None if data.get("tip") is None else int(data["tip"]),
            replacements=int(data.get("replacements", 0)), first_block=int(data.get("first_block", 0)),
            unsent=bool(data.get("unsent", False)),
        )


@dataclass
class TxStats:
    """Counters since the manager was created (fees in wei)."""

    sent: int = 0  # new transactions broadcast (not counting replacements / re-broadcasts)
    replaced: int = 0  # fee-bumped replacements sent
    mined: int = 0  # our transactions mined (ok or reverted)
    reverted: int = 0  # ... of which reverted
    gas_used: int = 0
    fees_paid: int = 0
    refused_gas_cap: int = 0  # submits refused because the base fee + tip was above the cap
    dropped: int = 0  # pending transactions whose nonce another transaction used


# ---------------------------------------------------------------------------- helpers
def gwei_to_wei(gwei: float) -> int:
    return int(Decimal(str(gwei)) * GWEI)


def bump(value: int, percent: float) -> int:
    """``value`` raised by ``percent``, rounded up, and by at least 1 wei."""
    raised = math.ceil(Decimal(value) * (1 + Decimal(str(percent)) / 100))
    return max(int(raised), value + 1)


def rpc_message(exc: BaseException) -> str:
    """The node's error message out of a Web3RPCError (lower case, for matching)."""
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        return str(response["error"].get("message", "")).lower()
    return str(getattr(exc, "message", None) or exc).lower()


def _is_nonce_too_low(message: str) -> bool:
    return "nonce too low" in message or "nonce has already been used" in message


def _is_already_known(message: str) -> bool:  # geth: "already known"; anvil: "transaction already imported"
    return "already known" in message or "already imported" in message or "known transaction" in message


def _is_replacement_underpriced(message: str) -> bool:  # the nonce is taken in the pool
    return "replacement" in message and "underpriced" in message


def _gwei(wei: int | None) -> str:
    return "-" if wei is None else f"{Decimal(wei) / GWEI:.4f}".rstrip("0").rstrip(".") + " gwei"


def _hex(value: Any) -> str:
    return Web3.to_hex(value) if not isinstance(value, str) else value


# ---------------------------------------------------------------------------- the manager
def read_journal(path: Path | str) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """(header, pending transactions by nonce as written) of a journal file: version 2 is a
    header line then ``put`` / ``drop`` records replayed in order (a torn last line, from a
    crash mid-write, is ignored); version 1 was one JSON object."""
    try:
        lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
        header = json.loads(lines[0]) if lines else {}
        if "pending" in header:  # version 1: the whole pending set in one object
            return header, {int(n): e for n, e in header["pending"].items()}
        entries: dict[int, dict[str, Any]] = {}
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                break
            if record.get("op") == "put":
                entries[int(record["tx"]["nonce"])] = record["tx"]
            elif record.get("op") == "drop":
                entries.pop(int(record["nonce"]), None)
        return header, entries
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc


class TxManager:
    """Sends, watches, replaces and resolves one account's transactions (see the module doc).

    :param w3: the connection used for everything (the sender's own ``w3`` is not used).
    :param sender: whose transactions: ``sender.private_key`` signs locally; without a key
        the node signs (``eth_sendTransaction``).
    :param journal: a JSON file for the pending set; loaded if it exists.
    :param clock: seconds, for ``stuck_after`` (a fake clock in tests).
    :param log: one line per event (sent, replaced, resolved, errors).
    """

    def __init__(
        self,
        w3: Web3,
        sender: Sender,
        *,
        policy: FeePolicy | None = None,
        journal: Path | str | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = lambda s: None,
    ) -> None:
        self.w3 = w3
        self.sender = sender
        self.address: str = Web3.to_checksum_address(sender.address)
        self.policy = policy or FeePolicy()
        self.journal = Path(journal) if journal is not None else None
        self.clock = clock
        self.log = log
        self.stats = TxStats()
        self._account: LocalAccount | None = (
            Account.from_key(sender.private_key) if sender.private_key is not None else None
        )
        self._pending: dict[int, PendingTx] = {}
        self._by_key: dict[str, int] = {}
        self._results: OrderedDict[int, TxResult] = OrderedDict()
        self._next_nonce: int | None = None
        self._chain_id: int | None = None
        self._lock = threading.RLock()
        self._journaled: dict[int, tuple[Any, ...]] | None = None  # nonce -> signature last written
        self._journal_records = 0  # records in the journal file
        if self.journal is not None and self.journal.exists():
            self.load_journal()

    # ------------------------------------------------------------------ public
    @property
    def pending(self) -> list[PendingTx]:
        """The pending transactions, by nonce."""
        with self._lock:
            return [self._pending[n] for n in sorted(self._pending)]

    @property
    def local_key(self) -> bool:
        return self._account is not None

    def has_pending(self, key: str) -> bool:
        with self._lock:
            return key in self._by_key

    def submit(
        self,
        fn_or_tx: Any,
        *,
        what: str | None = None,
        key: str | None = None,
        gas: int | None = None,
        value: int = 0,
    ) -> PendingTx:
        """Send a transaction (a bound ContractFunction or a dict with ``to``/``data``/``value``)
        and return it pending; :meth:`poll` or :meth:`wait` resolve it.

        With ``key`` already pending, that transaction is returned and nothing is sent.
        Raises KeelTxError (the estimate reverted), GasPriceTooHigh, TxRejected (the node
        refused it), or a connection error from before the broadcast -- in all these cases
        nothing was sent and no nonce was used.
        """
        with self._lock:
            if key is not None and key in self._by_key:
                existing = self._pending[self._by_key[key]]
                self.log(f"tx {existing.nonce} ({existing.what}): key {key!r} already pending, not sent again")
                return existing
            call, what = self._call_fields(fn_or_tx, what, value)
            block = self.w3.eth.get_block("latest")
            if gas is None:
                gas = self._estimate(call, what, int(block["gasLimit"]))
            fees = self._initial_fees(block, what)
            chain_id = self._get_chain_id()
            for attempt in range(NONCE_RETRIES + 1):
                nonce = self._take_nonce()
                tx = {**call, "gas": int(gas), "nonce": nonce, "chainId": chain_id, **fees}
                pending = PendingTx(
                    key=key, what=what, nonce=nonce, tx=tx, sent_at=self.clock(),
                    max_fee=int(fees.get("maxFeePerGas", fees.get("gasPrice", 0))),
                    tip=fees.get("maxPriorityFeePerGas"), first_block=int(block["number"]),
                )
                try:
                    self._broadcast_new(pending)
                except Web3RPCError as exc:
                    message = rpc_message(exc)
                    self._release(pending)
                    if (_is_nonce_too_low(message) or _is_replacement_underpriced(message)) and attempt < NONCE_RETRIES:
                        self.log(f"tx {nonce} ({what}): node says {message!r}: resyncing the nonce")
                        self._resync_nonce()
                        continue
                    raise TxRejected(f"{what}: the node refused it: {message}") from exc
                except Exception:  # refused before it went out (a bad field, a signing error ...)
                    self._release(pending)
                    raise
                self.stats.sent += 1
                return pending
            raise AssertionError("unreachable")  # pragma: no cover

    def poll(self) -> list[TxResult]:
        """Resolve, re-broadcast or replace every pending transaction (see the module doc).

        Returns the transactions resolved by this call, by nonce.  A connection error stops
        the round (logged); what was resolved before it is returned, the rest stays pending.
        """
        with self._lock:
            results: list[TxResult] = []
            if not self._pending:
                return results
            try:
                mined_nonce = self.w3.eth.get_transaction_count(self.address, "latest")
                for nonce in sorted(self._pending):
                    pending = self._pending[nonce]
                    try:
                        result = self._check(pending, mined_nonce)
                    except Web3RPCError as exc:  # one odd answer must not stop the others
                        self.log(f"tx {nonce} ({pending.what}): poll error: {rpc_message(exc)}")
                        continue
                    if result is not None:
                        results.append(result)
            except CONNECTION_ERRORS as exc:
                self.log(f"poll: node unreachable ({type(exc).__name__}: {exc}); {len(self._pending)} pending kept")
            return results

    def wait(self, pending: PendingTx, timeout: float = 120.0, interval: float = 0.2) -> TxResult:
        """Poll until ``pending``'s nonce resolves; TimeoutError after ``timeout`` real seconds.

        Replacements still follow the manager's ``clock``; results of other transactions
        resolved meanwhile are kept for their own :meth:`wait`."""
        deadline = time.monotonic() + timeout
        nonce = pending.nonce
        while True:
            with self._lock:
                if nonce in self._results:
                    return self._results[nonce]
                if nonce not in self._pending:
                    raise KeyError(f"nonce {nonce} is not pending in this manager")
                self.poll()
                if nonce in self._results:
                    return self._results[nonce]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"tx {nonce} ({pending.what}) not resolved after {timeout:.0f} s")
            time.sleep(interval)

    def send(self, fn_or_tx: Any, *, timeout: float = 120.0, **kw: Any) -> TxResult:
        """``submit`` then ``wait`` (``kw``: what, key, gas, value)."""
        return self.wait(self.submit(fn_or_tx, **kw), timeout=timeout)

    def result(self, nonce: int) -> TxResult | None:
        """A recently resolved transaction's result, by nonce."""
        with self._lock:
            return self._results.get(nonce)

    # ------------------------------------------------------------------ journal
    def load_journal(self) -> None:
        """Take back the pending transactions written to the journal (called by __init__
        when the file exists).  They keep their nonces and keys and resolve on the next poll;
        their stuck timer restarts now."""
        if self.journal is None:
            raise JournalError("no journal configured")
        header, entries = read_journal(self.journal)
        if Web3.to_checksum_address(header.get("address", self.address)) != self.address:
            raise JournalError(f"journal {self.journal} belongs to {header['address']}, not {self.address}")
        now = self.clock()
        with self._lock:
            for entry in entries.values():
                pending = PendingTx.from_json(entry, sent_at=now)
                self._pending[pending.nonce] = pending
                if pending.key is not None:
                    self._by_key[pending.key] = pending.nonce
            if self._pending and self._next_nonce is not None:
                self._next_nonce = max(self._next_nonce, max(self._pending) + 1)
            self._compact_journal()
        if self._pending:
            self.log(f"journal: {len(self._pending)} pending transaction(s) taken back "
                     f"(nonces {', '.join(map(str, sorted(self._pending)))})")

    @staticmethod
    def _signature(p: PendingTx) -> tuple[Any, ...]:
        """What can change in a pending transaction (a cheap test for 'rewrite it')."""
        return (len(p.hashes), len(p.raw), p.replacements, p.unsent, p.max_fee, p.tip, p.first_block)

    def _compact_journal(self) -> None:
        """Rewrite the journal as a header and one record per pending transaction, atomically."""
        if self.journal is None:
            return
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.journal.with_name(f".{self.journal.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as handle:
            handle.write(json.dumps({"version": JOURNAL_VERSION, "address": self.address}) + "\n")
            for nonce in sorted(self._pending):
                handle.write(json.dumps({"op": "put", "tx": self._pending[nonce].to_json()}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.journal)
        self._journaled = {n: self._signature(p) for n, p in self._pending.items()}
        self._journal_records = len(self._pending)

    def _write_journal(self) -> None:
        """Append what changed in the pending set since the last write (put / drop
        records, fsynced): a write costs what changed, not the whole set. The file is
        compacted when it holds many more records than pending transactions."""
        if self.journal is None:
            return
        journaled = self._journaled
        if journaled is None or not self.journal.exists():
            self._compact_journal()
            return
        records = []
        for nonce, p in self._pending.items():
            signature = self._signature(p)
            if journaled.get(nonce) != signature:
                records.append({"op": "put", "tx": p.to_json()})
                journaled[nonce] = signature
        for nonce in [n for n in journaled if n not in self._pending]:
            records.append({"op": "drop", "nonce": nonce})
            del journaled[nonce]
        if not records:
            return
        self._journal_records += len(records)
        if self._journal_records > 4 * len(self._pending) + 256:
            self._compact_journal()
            return
        with open(self.journal, "a") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in records))
            handle.flush()
            os.fsync(handle.fileno())

    # ------------------------------------------------------------------ building
    def _call_fields(self, fn_or_tx: Any, what: str | None, value: int) -> tuple[dict[str, Any], str]:
        """``{from, to?, data, value}`` and a description."""
        if hasattr(fn_or_tx, "_encode_transaction_data"):  # a bound web3 ContractFunction
            call = {"to": fn_or_tx.address, "data": fn_or_tx._encode_transaction_data(), "value": value}
            return {"from": self.address, **call}, what or describe_call(fn_or_tx)
        if not isinstance(fn_or_tx, dict):
            raise TypeError(f"submit() takes a ContractFunction or a tx dict, not {type(fn_or_tx).__name__}")
        call = {"from": self.address}
        if fn_or_tx.get("to"):
            call["to"] = Web3.to_checksum_address(fn_or_tx["to"])
        call["data"] = _hex(fn_or_tx.get("data") or "0x")
        call["value"] = int(fn_or_tx.get("value", value))
        default = f"call to {call['to']}" if "to" in call else "deploy"
        return call, what or default

    def _estimate(self, call: dict[str, Any], what: str, block_gas_limit: int) -> int:
        try:
            estimate = self.w3.eth.estimate_gas(call)  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError, ValueError) as exc:
            raise KeelTxError(what, revert_reason(exc)) from exc
        gas = int(estimate * self.policy.gas_multiplier) + self.policy.gas_extra
        return min(gas, block_gas_limit)

    def _tip(self) -> int:
        tip = self.policy.tip_wei
        if tip is not None:
            return tip
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except (Web3RPCError, ValueError) as exc:
            self.log(f"eth_maxPriorityFeePerGas unavailable ({exc}): tip {_gwei(FALLBACK_TIP)}")
            tip = FALLBACK_TIP
        return max(tip, MIN_TIP)

    def _initial_fees(self, block: Any, what: str) -> dict[str, int]:
        """EIP-1559 (or legacy) fee fields for a new transaction; GasPriceTooHigh above the cap."""
        cap = self.policy.cap_wei
        base = block.get("baseFeePerGas")
        if base is None:  # pre-London chain
            price = int(self.w3.eth.gas_price)
            if cap is not None and price > cap:
                self.stats.refused_gas_cap += 1
                raise GasPriceTooHigh(f"{what}: gas price {_gwei(price)} above the cap {_gwei(cap)}: not sent")
            return {"gasPrice": price}
        base, tip = int(base), self._tip()
        if cap is not None and base + tip > cap:
            self.stats.refused_gas_cap += 1
            raise GasPriceTooHigh(
                f"{what}: base fee {_gwei(base)} + tip {_gwei(tip)} above the cap {_gwei(cap)}: not sent")
        max_fee = int(Decimal(base) * Decimal(str(self.policy.base_fee_multiplier))) + tip
        if cap is not None:
            max_fee = min(max_fee, cap)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}

    def _get_chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    # ------------------------------------------------------------------ nonces
    def _take_nonce(self) -> int:
        if self._next_nonce is None:
            self._resync_nonce()
        assert self._next_nonce is not None
        nonce = self._next_nonce
        self._next_nonce += 1
        return nonce

    def _resync_nonce(self) -> None:
        """The node's pending count, but never below our own highest pending nonce + 1."""
        node = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        ours = max(self._pending) + 1 if self._pending else 0
        self._next_nonce = max(node, ours)

    def _release(self, pending: PendingTx) -> None:
        """Forget a transaction the node refused (its nonce was not used)."""
        self._forget(pending)
        if self._next_nonce == pending.nonce + 1:
            self._next_nonce = pending.nonce
        self._write_journal()

    def _forget(self, pending: PendingTx) -> None:
        self._pending.pop(pending.nonce, None)
        if pending.key is not None and self._by_key.get(pending.key) == pending.nonce:
            del self._by_key[pending.key]

    # ------------------------------------------------------------------ sending
    def _sign(self, tx: dict[str, Any]) -> tuple[str, str]:
        """(raw, hash) of ``tx`` signed with the local key."""
        assert self._account is not None
        fields = {k: v for k, v in tx.items() if k != "from"}
        signed = self._account.sign_transaction(fields)
        return Web3.to_hex(signed.raw_transaction), Web3.to_hex(signed.hash)

    def _broadcast_new(self, pending: PendingTx) -> None:
        """Send a new transaction.  It is journaled before the broadcast; a connection error
        keeps it pending (``unsent``: re-broadcast on the next poll); a Web3RPCError
        propagates (nothing sent)."""
        if self.local_key:
            raw, tx_hash = self._sign(pending.tx)
            pending.raw.append(raw)
            pending.hashes.append(tx_hash)
        self._pending[pending.nonce] = pending
        if pending.key is not None:
            self._by_key[pending.key] = pending.nonce
        # journaled as "unsent" before the broadcast: after a crash in between, the next
        # manager re-broadcasts it (same bytes / same fields) instead of losing the nonce
        pending.unsent = True
        self._write_journal()
        try:
            tx_hash = self._transmit(pending.tx, pending.raw[-1] if self.local_key else None)
        except Web3RPCError as exc:
            if not _is_already_known(rpc_message(exc)):
                raise
            # this very transaction is already in the pool (same bytes / same fields): it is sent;
            # node-signed, its hash stays unknown until the nonce is found used (_resolve_consumed)
            tx_hash = pending.hashes[-1] if self.local_key else ""
        except CONNECTION_ERRORS as exc:
            self.log(f"tx {pending.nonce} ({pending.what}): connection failed while sending "
                     f"({type(exc).__name__}); kept pending, re-broadcast on the next poll")
            return
        if tx_hash and tx_hash not in pending.hashes:
            pending.hashes.append(tx_hash)
        pending.unsent = False
        self._write_journal()
        self.log(f"tx {pending.nonce} ({pending.what}): sent {tx_hash or '(hash unknown)'} "
                 f"maxFee {_gwei(pending.max_fee)} tip {_gwei(pending.tip)} gas {pending.tx['gas']}")

    def _transmit(self, tx: dict[str, Any], raw: str | None) -> str:
        """One broadcast: the raw bytes (local key) or eth_sendTransaction (node-signed)."""
        if raw is not None:
            return Web3.to_hex(self.w3.eth.send_raw_transaction(raw))
        return Web3.to_hex(self.w3.eth.send_transaction(tx))  # type: ignore[arg-type]

    def _rebroadcast(self, pending: PendingTx) -> None:
        """Send the current version again, unchanged (same nonce, same fees, same hash)."""
        raw = pending.raw[-1] if self.local_key else None
        try:
            tx_hash = self._transmit(pending.tx, raw)
        except Web3RPCError as exc:
            message = rpc_message(exc)
            pending.unsent = False
            pending.sent_at = self.clock()
            self._write_journal()
            if _is_already_known(message):
                self.log(f"tx {pending.nonce} ({pending.what}): re-broadcast: the node already has it")
            elif _is_nonce_too_low(message):
                self.log(f"tx {pending.nonce} ({pending.what}): re-broadcast: nonce already used (resolves next poll)")
            else:
                self.log(f"tx {pending.nonce} ({pending.what}): re-broadcast refused: {message}")
            return
        if tx_hash not in pending.hashes:
            pending.hashes.append(tx_hash)
        pending.unsent = False
        pending.sent_at = self.clock()
        self._write_journal()
        self.log(f"tx {pending.nonce} ({pending.what}): re-broadcast {tx_hash}")

    def _replace(self, pending: PendingTx) -> None:
        """Bump the fees of a stuck transaction (same nonce, same call), within the cap."""
        p = self.policy
        if pending.replacements >= p.max_replacements:
            self._hold(pending, f"{pending.replacements} replacements already (max_replacements): waiting")
            return
        cap = p.cap_wei
        legacy = pending.tip is None
        new_max = bump(pending.max_fee, p.bump_percent)
        new_tip = None if legacy else bump(int(pending.tip or 0), p.bump_percent)
        if not legacy:  # keep up with the base fee as well
            base = self.w3.eth.get_block("latest").get("baseFeePerGas")
            if base is not None:
                market = int(Decimal(int(base)) * Decimal(str(p.base_fee_multiplier))) + int(new_tip or 0)
                new_max = max(new_max, market)
            if cap is not None:
                new_max = max(min(new_max, cap), 0)
            if new_max < bump(pending.max_fee, p.bump_percent) or (new_tip or 0) > new_max:
                self._hold(pending, f"a bumped maxFee {_gwei(bump(pending.max_fee, p.bump_percent))} "
                                    f"would exceed the cap {_gwei(cap)}: waiting at {_gwei(pending.max_fee)}")
                return
        elif cap is not None and new_max > cap:
            self._hold(pending, f"a bumped gas price {_gwei(new_max)} would exceed the cap {_gwei(cap)}: waiting")
            return
        fees = {"gasPrice": new_max} if legacy else {"maxFeePerGas": new_max, "maxPriorityFeePerGas": new_tip}
        tx = {**pending.tx, **fees}
        raw: str | None = None
        tx_hash = ""
        if self.local_key:
            raw, tx_hash = self._sign(tx)
        try:
            sent_hash = self._transmit(tx, raw)
        except Web3RPCError as exc:
            message = rpc_message(exc)
            if _is_already_known(message):
                sent_hash = tx_hash  # "" when node-signed: unknown
            else:
                pending.sent_at = self.clock()  # try again after another stuck_after
                if _is_nonce_too_low(message):
                    self.log(f"tx {pending.nonce} ({pending.what}): replacement: nonce already used "
                             "(resolves next poll)")
                else:
                    self.log(f"tx {pending.nonce} ({pending.what}): replacement refused: {message}")
                return
        except CONNECTION_ERRORS:
            # it may have arrived: remember it as the current version and re-broadcast it
            self._adopt(pending, tx, fees, raw, tx_hash, unsent=True)
            raise
        self._adopt(pending, tx, fees, raw, sent_hash, unsent=False)
        self.log(f"tx {pending.nonce} ({pending.what}): stuck, replaced by {sent_hash or '(hash unknown)'} "
                 f"maxFee {_gwei(new_max)} tip {_gwei(new_tip)} (replacement {pending.replacements})")

    def _adopt(self, pending: PendingTx, tx: dict[str, Any], fees: dict[str, Any], raw: str | None,
               tx_hash: str, *, unsent: bool) -> None:
        """Make a replacement the current version of ``pending``."""
        pending.tx = tx
        pending.max_fee = int(fees.get("maxFeePerGas", fees.get("gasPrice", 0)))
        pending.tip = fees.get("maxPriorityFeePerGas")
        if raw is not None:
            pending.raw.append(raw)
        if tx_hash and tx_hash not in pending.hashes:
            pending.hashes.append(tx_hash)
        pending.replacements += 1
        pending.unsent = unsent
        pending.held = None
        pending.sent_at = self.clock()
        self.stats.replaced += 1
        self._write_journal()

    def _hold(self, pending: PendingTx, why: str) -> None:
        if pending.held != why:
            pending.held = why
            self.log(f"tx {pending.nonce} ({pending.what}): not replaced: {why}")

    # ------------------------------------------------------------------ resolving
    def _check(self, pending: PendingTx, mined_nonce: int) -> TxResult | None:
        """One pending transaction: resolved (a result), or re-broadcast / replaced / left."""
        receipt = self._find_receipt(pending.hashes)
        if receipt is not None:
            return self._resolve(pending, receipt)
        if mined_nonce > pending.nonce:  # the nonce is used, by none of our known hashes
            return self._resolve_consumed(pending)
        if pending.unsent:
            self._rebroadcast(pending)
            return None
        if self.clock() - pending.sent_at < self.policy.stuck_after:
            return None
        if pending.hashes and not self._node_knows(pending.hashes[-1]):
            self.log(f"tx {pending.nonce} ({pending.what}): the node lost {pending.hashes[-1]}")
            self._rebroadcast(pending)
            return None
        self._replace(pending)
        return None

    def _find_receipt(self, hashes: list[str]) -> Any | None:
        for tx_hash in reversed(hashes):  # the newest is the likeliest
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except (TransactionNotFound, TimeExhausted):
                continue
        return None

    def _node_knows(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def _resolve(self, pending: PendingTx, receipt: Any) -> TxResult:
        ok = int(receipt["status"]) == 1
        gas_used = int(receipt["gasUsed"])
        price = receipt.get("effectiveGasPrice")
        if price is None:
            price = pending.tx.get("gasPrice", 0)
        fee = gas_used * int(price)
        reason = None if ok else self._replay_reason(pending.tx, receipt)
        result = TxResult(
            key=pending.key, what=pending.what, nonce=pending.nonce, tx_hash=Web3.to_hex(receipt["transactionHash"]),
            ok=ok, reason=reason, gas_used=gas_used, fee_paid=fee, replacements=pending.replacements,
            block=int(receipt["blockNumber"]), receipt=dict(receipt),
        )
        self.stats.mined += 1
        self.stats.reverted += 0 if ok else 1
        self.stats.gas_used += gas_used
        self.stats.fees_paid += fee
        self.log(f"tx {pending.nonce} ({pending.what}): {'mined' if ok else 'REVERTED'} {result.tx_hash} "
                 f"block {result.block} gas {gas_used} fee {_gwei(fee)}"
                 + (f": {reason}" if reason else ""))
        return self._finish(pending, result)

    def _resolve_consumed(self, pending: PendingTx) -> TxResult:
        """The account's nonce passed ours and none of our known hashes has a receipt: look
        for the transaction that used it.  A node-signed transaction whose hash was never
        learned (connection lost while sending) is recognised by its call; anything else
        is another transaction."""
        found = self._find_by_nonce(pending)
        if found is not None and not self.local_key and self._same_call(found, pending.tx):
            receipt = self._find_receipt([Web3.to_hex(found["hash"])])
            if receipt is not None:
                return self._resolve(pending, receipt)
        other = Web3.to_hex(found["hash"]) if found is not None else "unknown"
        self.stats.dropped += 1
        self.log(f"tx {pending.nonce} ({pending.what}): NOT MINED: {REPLACED_BY_OTHER} ({other})")
        result = TxResult(
            key=pending.key, what=pending.what, nonce=pending.nonce, tx_hash="", ok=False,
            reason=REPLACED_BY_OTHER, gas_used=0, fee_paid=0, replacements=pending.replacements,
            block=int(found["blockNumber"]) if found is not None else 0, receipt={},
        )
        return self._finish(pending, result)

    def _find_by_nonce(self, pending: PendingTx) -> Any | None:
        latest = int(self.w3.eth.block_number)
        lowest = max(pending.first_block, latest - SCAN_BLOCKS, 0)
        for number in range(latest, lowest - 1, -1):
            block = self.w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                if int(tx["nonce"]) == pending.nonce and Web3.to_checksum_address(tx["from"]) == self.address:
                    return tx
        return None

    @staticmethod
    def _same_call(found: Any, tx: dict[str, Any]) -> bool:
        to = found.get("to")
        return (
            (Web3.to_checksum_address(to) if to else None) == tx.get("to")
            and Web3.to_hex(found.get("input", b"")).lower() == (tx.get("data") or "0x").lower()
            and int(found.get("value", 0)) == int(tx.get("value", 0))
        )

    def _finish(self, pending: PendingTx, result: TxResult) -> TxResult:
        self._forget(pending)
        self._write_journal()
        self._results[pending.nonce] = result
        while len(self._results) > RESULT_CACHE:
            self._results.popitem(last=False)
        return result

    def _replay_reason(self, tx: dict[str, Any], receipt: Any) -> str:
        """Why a mined transaction failed: out of gas, else replay it as a call at the
        block before (like keel.tx.Sender._replay_reason)."""
        if int(receipt["gasUsed"]) >= int(tx["gas"]):
            return f"out of gas (limit {tx['gas']})"
        call = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value", "gas")}
        try:
            self.w3.eth.call(call, block_identifier=int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError, ValueError) as exc:
            return revert_reason(exc)
        return "failed (status 0; the replay did not revert)"

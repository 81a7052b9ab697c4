"""Sending transactions: one ``Sender`` per account, a readable error on revert.

A ``Sender`` either asks the node to sign (``eth_sendTransaction`` from an account the
node holds unlocked -- anvil's dev accounts) or signs locally with a private key.  Keys
never come from the command line: :meth:`Sender.from_env` reads ``KEEL_PRIVATE_KEY``,
or a keystore file whose password is in ``KEEL_KEYSTORE_PASSWORD``.

Every transaction is first estimated (``eth_estimateGas``), so a call that would
revert fails *before* it is sent, with the contract's reason::

    KeelTxError: VaultEngine.borrow(1, 10**24, ...) reverted: engine: vault unsafe
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import TxReceipt

PRIVATE_KEY_ENV = "KEEL_PRIVATE_KEY"
KEYSTORE_ENV = "KEEL_KEYSTORE"
KEYSTORE_PASSWORD_ENV = "KEEL_KEYSTORE_PASSWORD"

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
RECEIPT_TIMEOUT = 180  # seconds


class KeelTxError(RuntimeError):
    """A transaction (or its gas estimate) reverted; ``reason`` is the decoded message."""

    def __init__(self, what: str, reason: str, receipt: TxReceipt | None = None) -> None:
        super().__init__(f"{what} reverted: {reason}")
        self.what = what
        self.reason = reason
        self.receipt = receipt


class SignerError(RuntimeError):
    """No usable signing key / account."""


# ---------------------------------------------------------------------------- revert reasons
def create_address(deployer: str, nonce: int) -> str:
    """The address a contract created by ``deployer``'s transaction number ``nonce`` gets
    (CREATE: the last 20 bytes of keccak256(rlp([deployer, nonce])))."""
    encoded = rlp.encode([bytes.fromhex(Web3.to_checksum_address(deployer)[2:]), nonce])
    return Web3.to_checksum_address(Web3.keccak(encoded)[12:])


def decode_revert_data(data: bytes | str | None) -> str | None:
    """Decode ``Error(string)`` / ``Panic(uint256)`` revert data; None if empty or unknown."""
    if data is None:
        return None
    if isinstance(data, str):
        text = data.removeprefix("0x")
        try:
            data = bytes.fromhex(text)
        except ValueError:
            return None
    if len(data) < 4:
        return None
    selector, payload = data[:4], data[4:]
    try:
        if selector == ERROR_SELECTOR:
            return str(abi_decode(["string"], payload)[0])
        if selector == PANIC_SELECTOR:
            return f"panic 0x{abi_decode(['uint256'], payload)[0]:02x}"
    except Exception:
        return None
    return f"custom error 0x{data.hex()}"


def revert_reason(exc: BaseException) -> str:
    """The contract's revert message out of a web3 exception (best effort)."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x..."} / {"message": ...}
        data = data.get("data") or data.get("result")
    decoded = decode_revert_data(data) if isinstance(data, (str, bytes)) else None
    if decoded:
        return decoded
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else str(exc))
    if isinstance(message, dict):
        message = message.get("message", str(message))
    message = str(message)
    for prefix in ("execution reverted: ", "execution reverted"):
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    return message.strip() or "reverted without a reason"


def describe_call(fn: ContractFunction, contract_name: str | None = None) -> str:
    """``VaultEngine.borrow(1, 1000, 0x..)`` for messages."""
    args = ", ".join(_short(a) for a in (fn.args or ()))
    prefix = f"{contract_name}." if contract_name else ""
    return f"{prefix}{fn.fn_name}({args})"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 20 else text[:18] + ".."


# ---------------------------------------------------------------------------- sender
@dataclass(repr=False, eq=False)
class Sender:
    """Sends transactions from ``address``.

    :param private_key: sign locally; None means the node holds the account unlocked.
    :param gas_multiplier: the gas limit is the estimate times this (the fee accrued,
        and so the gas, can grow between estimate and inclusion).
    """

    w3: Web3
    address: str
    private_key: str | None = None
    gas_multiplier: float = 1.25
    gas_extra: int = 20_000

    def __post_init__(self) -> None:
        self.address = Web3.to_checksum_address(self.address)
        self._account: LocalAccount | None = None
        if self.private_key is not None:
            self._account = Account.from_key(self.private_key)
            if self._account.address != self.address:
                raise SignerError("private key does not match the address")

    def __repr__(self) -> str:  # never print the key
        kind = "key" if self._account else "unlocked"
        return f"Sender({self.address}, {kind})"

    # -- constructors
    @classmethod
    def unlocked(cls, w3: Web3, account: str | int = 0) -> "Sender":
        """An account the node signs for: an address, or an index into ``eth_accounts``."""
        if isinstance(account, int):
            accounts = w3.eth.accounts
            if account >= len(accounts):
                raise SignerError(f"the node has {len(accounts)} unlocked accounts, not {account + 1}")
            account = accounts[account]
        return cls(w3, account)

    @classmethod
    def from_private_key(cls, w3: Web3, private_key: str | bytes) -> "Sender":
        key = HexBytes(private_key).hex() if isinstance(private_key, bytes) else private_key.strip()
        key = key if key.startswith("0x") else "0x" + key
        return cls(w3, Account.from_key(key).address, private_key=key)

    @classmethod
    def from_keystore(cls, w3: Web3, path: Path | str, password: str | None = None) -> "Sender":
        """Decrypt a JSON keystore; the password defaults to ``$KEEL_KEYSTORE_PASSWORD``."""
        password = password if password is not None else os.environ.get(KEYSTORE_PASSWORD_ENV)
        if password is None:
            raise SignerError(f"set {KEYSTORE_PASSWORD_ENV} to decrypt {path}")
        try:
            key = Account.decrypt(json.loads(Path(path).read_text()), password)
        except (OSError, ValueError) as exc:
            raise SignerError(f"cannot decrypt keystore {path}: {exc}") from exc
        return cls.from_private_key(w3, bytes(key))

    @classmethod
    def from_env(cls, w3: Web3, keystore: Path | str | None = None) -> "Sender | None":
        """``$KEEL_PRIVATE_KEY``, else the keystore (argument or ``$KEEL_KEYSTORE``)
        with ``$KEEL_KEYSTORE_PASSWORD``; None when neither is configured."""
        key = os.environ.get(PRIVATE_KEY_ENV, "").strip()
        if key:
            return cls.from_private_key(w3, key)
        keystore = keystore or os.environ.get(KEYSTORE_ENV, "").strip() or None
        if keystore:
            return cls.from_keystore(w3, keystore)
        return None

    def with_address(self, address: str) -> "Sender":
        """Another unlocked account on the same node (local chains)."""
        return Sender(self.w3, address, gas_multiplier=self.gas_multiplier, gas_extra=self.gas_extra)

    # -- sending
    def transact(
        self,
        fn: ContractFunction,
        *,
        value: int = 0,
        gas: int | None = None,
        what: str | None = None,
    ) -> TxReceipt:
        """Call a bound contract function in a transaction and wait for its receipt."""
        tx = {"to": fn.address, "data": fn._encode_transaction_data(), "value": value}
        return self.send(tx, gas=gas, what=what or describe_call(fn))

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any, what: str = "deploy") -> TxReceipt:
        """Deploy a contract; the receipt's ``contractAddress`` is its address."""
        data = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).data_in_transaction
        receipt = self.send({"data": data, "value": 0}, what=what)
        if not receipt.get("contractAddress"):
            raise KeelTxError(what, "no contract address in the receipt", receipt)
        return receipt

    def send(self, tx: dict[str, Any], *, gas: int | None = None, what: str = "transaction") -> TxReceipt:
        """Estimate, send (node-signed or locally signed) and wait. Raises KeelTxError."""
        tx = {**tx, "from": self.address}
        if gas is None:
            try:
                estimate = self.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
            except (ContractLogicError, Web3RPCError, ValueError) as exc:
                raise KeelTxError(what, revert_reason(exc)) from exc
            gas = int(estimate * self.gas_multiplier) + self.gas_extra
            block_limit = int(self.w3.eth.get_block("latest")["gasLimit"])
            gas = min(gas, block_limit)
        tx["gas"] = gas
        if self._account is None:
            tx_hash = self.w3.eth.send_transaction(tx)  # type: ignore[arg-type]
        else:
            tx_hash = self.w3.eth.send_raw_transaction(self._sign(tx))
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
        if receipt["status"] != 1:
            raise KeelTxError(what, self._replay_reason(tx, receipt), receipt)
        return receipt

    def _sign(self, tx: dict[str, Any]) -> bytes:
        assert self._account is not None
        tx = dict(tx)
        tx["nonce"] = self.w3.eth.get_transaction_count(self.address, "pending")
        tx["chainId"] = self.w3.eth.chain_id
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:  # pre-London chain
            tx["gasPrice"] = self.w3.eth.gas_price
        else:
            try:
                tip = int(self.w3.eth.max_priority_fee)
            except Exception:
                tip = 10**9
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = 2 * int(base_fee) + tip
        return self._account.sign_transaction(tx).raw_transaction

    def _replay_reason(self, tx: dict[str, Any], receipt: TxReceipt) -> str:
        """Why a mined transaction failed: out of gas, else replay it as a call."""
        if receipt["gasUsed"] >= tx["gas"]:
            return f"out of gas (limit {tx['gas']})"
        call = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value", "gas")}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError, ValueError) as exc:
            return revert_reason(exc)
        return "failed (status 0; the replay did not revert)"


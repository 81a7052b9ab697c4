"""keel.keeper.txmanager.TxManager on its own embedded Anvil (keel.chain.Anvil).

One Anvil for the module (a free port from KEEL_PORT_RANGE); the outage and legacy-fee
tests start their own short-lived nodes.  Transactions are plain ETH transfers, plus calls
to a hand-assembled contract whose every call reverts with ``Error(REASON)``.  Tests that
need a transaction to stay pending switch automine off (``evm_setAutomine``) and mine by
hand (``evm_mine``); the stuck timer runs on a fake clock.  Each test sends from its own
account (a fresh funded key, or an unlocked dev account of its own), so nonces of one test
never leak into another.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal

import pytest
import requests
from eth_abi import encode as abi_encode
from eth_account import Account
from web3 import Web3
from web3.exceptions import TransactionNotFound

from keel.chain import Anvil, free_port
from keel.keeper.txmanager import (
    read_journal,
    REPLACED_BY_OTHER, FeePolicy, GasPriceTooHigh, PendingTx, TxManager, bump,
)
from keel.tx import ERROR_SELECTOR, KeelTxError, Sender

DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil account 0
RECIPIENT = "0x000000000000000000000000000000000000dEaD"
REASON = "keeper: nope"
GWEI = 10**9
POKE_ABI = [{"type": "function", "name": "poke", "stateMutability": "nonpayable",
             "inputs": [{"name": "x", "type": "uint256"}], "outputs": []}]


# ---------------------------------------------------------------------------- helpers
class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FlakyProvider(Web3.HTTPProvider):
    """An HTTP provider whose connection can be cut: ``down`` refuses every request;
    ``lose[method] = "before"`` drops the next such request before it reaches the node,
    ``"after"`` forwards it and then loses the answer."""

    def __init__(self, url: str) -> None:
        super().__init__(url, exception_retry_configuration=None)
        self.down = False
        self.lose: dict[str, str] = {}
        self.methods: list[str] = []

    def make_request(self, method, params):  # type: ignore[override]
        self.methods.append(method)
        if self.down:
            raise requests.exceptions.ConnectionError("node unreachable (test)")
        when = self.lose.pop(method, None)
        if when == "before":
            raise requests.exceptions.ConnectionError(f"{method}: connection reset (test)")
        response = super().make_request(method, params)
        if when == "after":
            raise requests.exceptions.ConnectionError(f"{method}: answer lost (test)")
        return response


def reverter_initcode(reason: str) -> str:
    """Creation code of a contract whose runtime reverts every call with Error(reason):
    runtime = CODECOPY(0, 12, n); REVERT(0, n), followed by the n bytes of revert data."""
    data = ERROR_SELECTOR + abi_encode(["string"], [reason])
    n = len(data)
    assert n < 256
    runtime = bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xFD]) + data
    r = len(runtime)
    init = bytes([0x60, r, 0x80, 0x60, 0x0B, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3])  # copy, RETURN(0, r)
    return "0x" + (init + runtime).hex()


def funded_key(w3: Web3, ether: int = 10) -> str:
    """A fresh private key with a balance (anvil_setBalance)."""
    account = Account.create()
    w3.provider.make_request("anvil_setBalance", [account.address, hex(ether * 10**18)])
    return account.key.to_0x_hex()


def local_sender(w3: Web3, key: str | None = None) -> Sender:
    return Sender.from_private_key(w3, key or funded_key(w3))


def pool_for(w3: Web3, address: str) -> dict[int, str]:
    """nonce -> hash of ``address``'s transactions in the node's pool."""
    content = w3.provider.make_request("txpool_content", [])["result"]
    found: dict[int, str] = {}
    for section in ("pending", "queued"):
        for nonce, tx in content[section].get(address.lower(), {}).items():
            found[int(nonce)] = tx["hash"]
    return found


def mine(w3: Web3) -> None:
    w3.provider.make_request("evm_mine", [])


def set_base_fee(w3: Web3, wei: int) -> None:
    """The latest block's base fee becomes ``wei`` (mines one block)."""
    w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(wei)])
    mine(w3)
    assert w3.eth.get_block("latest")["baseFeePerGas"] == wei


@contextmanager
def manual_mining(w3: Web3):
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        mine(w3)  # flush what a failed test left in the pool


def nonce_of(w3: Web3, address: str, block: str = "pending") -> int:
    return w3.eth.get_transaction_count(address, block)


def make_sender(w3: Web3, mode: str, unlocked_index: int) -> Sender:
    return local_sender(w3) if mode == "local" else Sender.unlocked(w3, unlocked_index)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def node():
    with Anvil() as anvil:
        yield anvil


@pytest.fixture(scope="module")
def w3(node):
    return node.w3


@pytest.fixture(scope="module")
def reverter(w3):
    receipt = Sender.unlocked(w3, 9).send({"data": reverter_initcode(REASON), "value": 0}, gas=200_000)
    address = receipt["contractAddress"]
    assert len(w3.eth.get_code(address)) > 0
    return address


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def logs():
    return []


# ---------------------------------------------------------------------------- 1. stuck -> replaced
@pytest.mark.parametrize("mode, unlocked_index", [("local", 0), ("unlocked", 1)])
def test_stuck_tx__after_stuck_after__replaced_with_bumped_fees_and_mined_once(w3, clock, logs, mode, unlocked_index):
    sender = Sender.from_private_key(w3, DEV_KEY_0) if mode == "local" else Sender.unlocked(w3, unlocked_index)
    manager = TxManager(w3, sender, policy=FeePolicy(stuck_after=30), clock=clock, log=logs.append)
    balance_before = w3.eth.get_balance(RECIPIENT)
    first_nonce = nonce_of(w3, sender.address)
    with manual_mining(w3):
        pending = manager.submit({"to": RECIPIENT, "value": 7}, what="tip the dead", key="stuck")
        assert pending.nonce == first_nonce and len(pending.hashes) == 1
        assert pool_for(w3, sender.address) == {first_nonce: pending.hashes[0]}
        old_fee, old_tip = pending.max_fee, pending.tip

        clock.advance(29)
        assert manager.poll() == [] and pending.replacements == 0  # not stuck yet
        clock.advance(2)
        assert manager.poll() == []
        assert pending.replacements == 1 and len(pending.hashes) == 2 and manager.stats.replaced == 1
        assert pending.max_fee >= old_fee * 1.125 and pending.tip >= old_tip * 1.125
        assert pending.tx["nonce"] == first_nonce
        # the node holds one transaction for the nonce: the replacement
        assert pool_for(w3, sender.address) == {first_nonce: pending.hashes[1]}
        onchain = w3.eth.get_transaction(pending.hashes[1])
        assert onchain["maxFeePerGas"] == pending.max_fee and onchain["maxPriorityFeePerGas"] == pending.tip

        mine(w3)
        [result] = manager.poll()
    assert result.ok and result.reason is None
    assert result.tx_hash == pending.hashes[1] and result.replacements == 1 and result.nonce == first_nonce
    assert result.key == "stuck" and result.what == "tip the dead"
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(pending.hashes[0])
    assert nonce_of(w3, sender.address, "latest") == first_nonce + 1
    assert w3.eth.get_balance(RECIPIENT) == balance_before + 7  # paid once
    assert manager.pending == [] and not manager.has_pending("stuck")
    assert (manager.stats.sent, manager.stats.replaced, manager.stats.mined) == (1, 1, 1)
    assert manager.stats.fees_paid == result.fee_paid > 0
    assert any("replaced by" in line for line in logs)


# ---------------------------------------------------------------------------- 2. idempotency key
def test_submit_same_key_twice__while_pending__sends_one_tx(w3, clock):
    sender = local_sender(w3)
    manager = TxManager(w3, sender, clock=clock)
    with manual_mining(w3):
        first = manager.submit({"to": RECIPIENT, "value": 1}, key="liquidate:WETH:1")
        again = manager.submit({"to": RECIPIENT, "value": 1}, key="liquidate:WETH:1")
        assert again is first and manager.has_pending("liquidate:WETH:1")
        assert manager.stats.sent == 1 and len(manager.pending) == 1
        assert list(pool_for(w3, sender.address)) == [first.nonce]
        mine(w3)
        [result] = manager.poll()
    assert result.ok and result.key == "liquidate:WETH:1"
    assert not manager.has_pending("liquidate:WETH:1")
    # resolved: the key is free again, and the next transaction takes the next nonce
    later = manager.submit({"to": RECIPIENT, "value": 1}, key="liquidate:WETH:1")
    assert later.nonce == first.nonce + 1
    assert manager.wait(later, timeout=10).ok


# ---------------------------------------------------------------------------- 3. estimate revert
def test_submit__estimate_reverts__raises_keel_tx_error_and_sends_nothing(w3, reverter, clock):
    sender = local_sender(w3)
    manager = TxManager(w3, sender, clock=clock)
    nonce = nonce_of(w3, sender.address)
    poke = w3.eth.contract(address=reverter, abi=POKE_ABI).functions.poke(42)  # a bound ContractFunction
    with pytest.raises(KeelTxError) as raised:
        manager.submit(poke, key="poke")
    assert raised.value.reason == REASON and str(raised.value) == "poke(42) reverted: keeper: nope"
    with pytest.raises(KeelTxError, match="Reverter.poke"):
        manager.submit({"to": reverter, "data": "0x1234"}, what="Reverter.poke()")
    assert nonce_of(w3, sender.address) == nonce and manager.pending == [] and not manager.has_pending("poke")
    assert manager.stats.sent == 0
    # no nonce was used up: the next transaction takes it
    pending = manager.submit({"to": RECIPIENT, "value": 1})
    assert pending.nonce == nonce
    assert manager.wait(pending, timeout=10).ok


# ---------------------------------------------------------------------------- 4. gas cap
def test_submit__base_fee_above_cap__raises_gas_price_too_high_and_sends_nothing(w3, clock):
    sender = local_sender(w3)
    manager = TxManager(w3, sender, policy=FeePolicy(max_fee_gwei=50, priority_fee_gwei=1), clock=clock)
    nonce = nonce_of(w3, sender.address)
    try:
        set_base_fee(w3, 60 * GWEI)
        with pytest.raises(GasPriceTooHigh, match="above the cap"):
            manager.submit({"to": RECIPIENT, "value": 1})
        assert manager.stats.refused_gas_cap == 1 and manager.stats.sent == 0
        assert manager.pending == [] and nonce_of(w3, sender.address) == nonce
        set_base_fee(w3, 49 * GWEI + 1)  # base + tip just above the cap: still refused
        with pytest.raises(GasPriceTooHigh):
            manager.submit({"to": RECIPIENT, "value": 1})
        assert manager.stats.refused_gas_cap == 2
        set_base_fee(w3, 20 * GWEI)  # 2 * 20 + 1 = 41 gwei: under the cap
        result = manager.send({"to": RECIPIENT, "value": 1}, timeout=10)
        assert result.ok and result.nonce == nonce
        tx = w3.eth.get_transaction(result.tx_hash)
        assert tx["maxFeePerGas"] == 41 * GWEI and tx["maxPriorityFeePerGas"] == GWEI
    finally:
        set_base_fee(w3, GWEI)


def test_stuck_tx__bumped_fee_above_cap__not_replaced_and_logged_once(w3, clock, logs):
    sender = local_sender(w3)
    set_base_fee(w3, GWEI)
    initial = 2 * GWEI + GWEI  # base * 2 + tip
    cap_gwei = initial * 1.05 / GWEI  # room for the first fees, not for a 12.5 % bump
    manager = TxManager(w3, sender, policy=FeePolicy(max_fee_gwei=cap_gwei, priority_fee_gwei=1, stuck_after=30),
                        clock=clock, log=logs.append)
    with manual_mining(w3):
        pending = manager.submit({"to": RECIPIENT, "value": 1})
        assert pending.max_fee == initial
        for _ in range(3):
            clock.advance(31)
            assert manager.poll() == []
        assert pending.replacements == 0 and len(pending.hashes) == 1 and manager.stats.replaced == 0
        assert pool_for(w3, sender.address) == {pending.nonce: pending.hashes[0]}
        held = [line for line in logs if "not replaced" in line]
        assert len(held) == 1 and "exceed the cap" in held[0]
        mine(w3)
        [result] = manager.poll()
    assert result.ok and result.replacements == 0 and result.tx_hash == pending.hashes[0]


def test_stuck_tx__bump_capped_at_the_cap__replaced_at_most_at_the_cap(w3, clock):
    """When the bump fits under the cap but the base fee would ask for more, the cap wins."""
    sender = local_sender(w3)
    set_base_fee(w3, GWEI)
    manager = TxManager(w3, sender, policy=FeePolicy(max_fee_gwei=3.5, priority_fee_gwei=1, stuck_after=30),
                        clock=clock)
    with manual_mining(w3):
        pending = manager.submit({"to": RECIPIENT, "value": 1})
        assert pending.max_fee == 3 * GWEI
        clock.advance(31)
        manager.poll()
        assert pending.replacements == 1
        assert pending.max_fee == bump(3 * GWEI, 12.5) <= 3.5 * GWEI
        clock.advance(31)
        manager.poll()  # a second bump (3.796875 gwei) would pass the cap
        assert pending.replacements == 1
        mine(w3)
        [result] = manager.poll()
    assert result.ok and result.tx_hash == pending.hashes[1]


# ---------------------------------------------------------------------------- 5. restart
def test_restart__same_journal__pending_tx_resolved_and_nonces_continue(w3, clock, tmp_path):
    journal = tmp_path / "keeper-txs.json"
    key = funded_key(w3)
    address = Account.from_key(key).address
    with manual_mining(w3):
        first = TxManager(w3, Sender.from_private_key(w3, key), journal=journal, clock=clock)
        sent = first.submit({"to": RECIPIENT, "value": 3}, what="before the crash", key="job:1")
        assert journal.exists()
        del first  # the process dies here

        again = TxManager(w3, Sender.from_private_key(w3, key), journal=journal, clock=clock)
        [restored] = again.pending
        assert isinstance(restored, PendingTx)
        assert (restored.nonce, restored.hashes, restored.raw, restored.key, restored.what) == (
            sent.nonce, sent.hashes, sent.raw, "job:1", "before the crash")
        assert again.has_pending("job:1")
        assert again.submit({"to": RECIPIENT, "value": 3}, key="job:1") is restored  # not sent twice
        after = again.submit({"to": RECIPIENT, "value": 4}, key="job:2")
        assert after.nonce == sent.nonce + 1  # no reuse, no gap
        assert sorted(pool_for(w3, address)) == [sent.nonce, sent.nonce + 1]
        mine(w3)
        results = again.poll()
    assert [(r.nonce, r.ok, r.key) for r in results] == [(sent.nonce, True, "job:1"), (sent.nonce + 1, True, "job:2")]
    assert results[0].tx_hash == sent.hashes[0]
    assert nonce_of(w3, address, "latest") == sent.nonce + 2
    assert again.pending == []
    assert read_journal(journal)[1] == {}


def test_restart__broadcast_never_confirmed__next_manager_rebroadcasts_same_bytes(node, w3, clock, tmp_path):
    journal = tmp_path / "keeper-txs.json"
    key = funded_key(w3)
    provider = FlakyProvider(node.url)
    provider.lose["eth_sendRawTransaction"] = "before"  # the process dies with the send unanswered
    lost = TxManager(Web3(provider), Sender.from_private_key(w3, key), journal=journal, clock=clock)
    sent = lost.submit({"to": RECIPIENT, "value": 1}, key="job")
    assert read_journal(journal)[1][sent.nonce]["unsent"] is True

    again = TxManager(w3, Sender.from_private_key(w3, key), journal=journal, clock=clock)
    assert again.poll() == []  # re-broadcast at once (automine: mined)
    [result] = again.poll()
    assert result.ok and result.tx_hash == sent.hashes[0] and result.key == "job"
    assert nonce_of(w3, Account.from_key(key).address, "latest") == sent.nonce + 1


# ---------------------------------------------------------------------------- 6. RPC outage
def test_submit__node_unreachable__raises_connection_error_and_uses_no_nonce(node, w3, clock):
    provider = FlakyProvider(node.url)
    flaky = Web3(provider)
    sender = local_sender(w3)
    manager = TxManager(flaky, sender, clock=clock)
    provider.down = True
    with pytest.raises(requests.exceptions.ConnectionError):
        manager.submit({"to": RECIPIENT, "value": 1}, key="k")
    assert manager.pending == [] and not manager.has_pending("k") and manager.stats.sent == 0
    provider.down = False
    result = manager.send({"to": RECIPIENT, "value": 1}, key="k", timeout=10)
    assert result.ok and result.nonce == 0


@pytest.mark.parametrize("mode, unlocked_index", [("local", None), ("unlocked", 2)])
def test_broadcast__answer_lost_after_arrival__kept_pending_and_mined_once(node, w3, clock, logs, mode, unlocked_index):
    provider = FlakyProvider(node.url)
    sender = make_sender(w3, mode, unlocked_index)
    manager = TxManager(Web3(provider), sender, clock=clock, log=logs.append)
    method = "eth_sendRawTransaction" if mode == "local" else "eth_sendTransaction"
    balance_before = w3.eth.get_balance(RECIPIENT)
    nonce = nonce_of(w3, sender.address)
    with manual_mining(w3):
        provider.lose[method] = "after"  # it reached the node; the answer did not come back
        pending = manager.submit({"to": RECIPIENT, "value": 5}, key="lost-answer")
        assert pending.unsent and manager.has_pending("lost-answer")
        assert len(pending.hashes) == (1 if mode == "local" else 0)  # node-signed: hash unknown
        assert list(pool_for(w3, sender.address)) == [nonce]

        provider.down = True
        assert manager.poll() == [] and len(manager.pending) == 1  # outage: kept
        assert any("unreachable" in line for line in logs)
        provider.down = False
        assert manager.poll() == []  # re-broadcast: the node already has it
        assert not pending.unsent and list(pool_for(w3, sender.address)) == [nonce]
        mine(w3)
        [result] = manager.poll()
    assert result.ok and result.nonce == nonce
    mined = w3.eth.get_transaction(result.tx_hash)
    assert mined["nonce"] == nonce and mined["from"] == sender.address
    if mode == "local":
        assert result.tx_hash == pending.hashes[0]
    else:  # its hash was never learned: found in the block by its nonce and call
        assert pending.hashes == []
    assert nonce_of(w3, sender.address, "latest") == nonce + 1
    assert w3.eth.get_balance(RECIPIENT) == balance_before + 5  # once


def test_broadcast__lost_before_arrival__rebroadcast_same_raw_on_next_poll(node, w3, clock):
    provider = FlakyProvider(node.url)
    sender = local_sender(w3)
    manager = TxManager(Web3(provider), sender, clock=clock)
    provider.lose["eth_sendRawTransaction"] = "before"
    pending = manager.submit({"to": RECIPIENT, "value": 1})
    assert pending.unsent and len(pending.hashes) == 1
    assert nonce_of(w3, sender.address) == 0  # the node never saw it
    # the next poll re-broadcasts (automine mines it at once); its receipt comes in that
    # poll or the next, depending on how fast the node is
    results = manager.poll()
    assert provider.methods.count("eth_sendRawTransaction") == 2
    results += manager.poll()
    [result] = results
    assert result.ok and result.tx_hash == pending.hashes[0] and result.nonce == 0
    assert nonce_of(w3, sender.address, "latest") == 1


def test_node_restart__pool_lost__pending_tx_rebroadcast_and_resolved(clock, tmp_path, logs):
    """A real outage: the node is stopped (dumping its state) and started again on the same
    port from that state; its pool is gone, the manager re-broadcasts the same bytes."""
    state = tmp_path / "anvil-state.json"
    port = free_port()
    anvil = Anvil(port=port, extra_args=["--state", str(state)]).start()
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.url, exception_retry_configuration=None))
        sender = Sender.from_private_key(w3, DEV_KEY_0)
        manager = TxManager(w3, sender, policy=FeePolicy(stuck_after=30), clock=clock, log=logs.append,
                            journal=tmp_path / "journal.json")
        w3.provider.make_request("evm_setAutomine", [False])
        pending = manager.submit({"to": RECIPIENT, "value": 9})
        anvil.stop()

        assert manager.poll() == [] and manager.pending == [pending]  # unreachable: kept
        with pytest.raises(requests.exceptions.ConnectionError):
            manager.submit({"to": RECIPIENT, "value": 1})
        assert manager.pending == [pending]

        anvil.start()  # same port, state reloaded; automine is on again, the pool is empty
        assert pool_for(w3, sender.address) == {}
        assert manager.poll() == []  # not stuck yet
        clock.advance(31)
        assert manager.poll() == []  # the node lost it: same raw re-broadcast, not bumped
        assert pending.replacements == 0 and any("lost" in line for line in logs)
        [result] = manager.poll()
        assert result.ok and result.tx_hash == pending.hashes[0] and result.nonce == 0
        assert w3.eth.get_transaction_count(sender.address, "latest") == 1
        assert w3.eth.get_balance(RECIPIENT) == 9
    finally:
        anvil.stop()


# ---------------------------------------------------------------------------- 7. on-chain revert
def test_onchain_revert__explicit_gas__resolves_not_ok_with_reason_and_fee(w3, reverter, clock):
    sender = local_sender(w3)
    manager = TxManager(w3, sender, clock=clock)
    result = manager.send({"to": reverter, "data": "0xabcdef"}, what="Reverter.poke()", gas=100_000, timeout=10)
    assert not result.ok and result.reason == REASON
    receipt = w3.eth.get_transaction_receipt(result.tx_hash)
    assert receipt["status"] == 0
    assert result.gas_used == receipt["gasUsed"] and result.block == receipt["blockNumber"]
    assert result.fee_paid == receipt["gasUsed"] * receipt["effectiveGasPrice"] > 0
    assert (manager.stats.mined, manager.stats.reverted, manager.stats.fees_paid) == (1, 1, result.fee_paid)


def test_onchain_out_of_gas__tiny_gas_limit__reason_says_out_of_gas(w3, reverter, clock):
    manager = TxManager(w3, local_sender(w3), clock=clock)
    result = manager.send({"to": reverter, "data": "0x"}, gas=21_005, timeout=10)
    assert not result.ok and result.reason == "out of gas (limit 21005)"


# ---------------------------------------------------------------------------- other owners of the nonce
def test_pending_tx__nonce_used_by_another_tx__resolves_not_ok(w3, clock):
    key = funded_key(w3)
    manager = TxManager(w3, Sender.from_private_key(w3, key), clock=clock)
    account = Account.from_key(key)
    with manual_mining(w3):
        pending = manager.submit({"to": RECIPIENT, "value": 1})
        # someone else with the same key replaces it in the pool (higher fees, other call)
        other = account.sign_transaction({
            "to": account.address, "value": 0, "gas": 21_000, "nonce": pending.nonce, "chainId": 31337,
            "maxFeePerGas": pending.max_fee * 2, "maxPriorityFeePerGas": pending.tip * 2,
        })
        w3.eth.send_raw_transaction(other.raw_transaction)
        mine(w3)
        [result] = manager.poll()
    assert not result.ok and result.reason == REPLACED_BY_OTHER and result.tx_hash == ""
    assert result.fee_paid == 0 and manager.stats.dropped == 1 and manager.stats.mined == 0
    assert manager.pending == []


def test_submit__account_used_outside_the_manager__nonce_resynced_without_gap(w3, clock, logs):
    key = funded_key(w3)
    manager = TxManager(w3, Sender.from_private_key(w3, key), clock=clock, log=logs.append)
    first = manager.send({"to": RECIPIENT, "value": 1}, timeout=10)
    Sender.from_private_key(w3, key).send({"to": RECIPIENT, "value": 1})  # nonce first + 1, behind its back
    second = manager.send({"to": RECIPIENT, "value": 1}, timeout=10)  # its counter says first + 1: too low
    assert second.ok and second.nonce == first.nonce + 2
    assert any("nonce too low" in line for line in logs)
    assert manager.stats.sent == 2


# ---------------------------------------------------------------------------- legacy chains, policy
def test_stuck_tx__legacy_chain__gas_price_bumped(clock):
    with Anvil(hardfork="berlin") as legacy:
        w3 = legacy.w3
        assert w3.eth.get_block("latest").get("baseFeePerGas") is None
        manager = TxManager(w3, Sender.unlocked(w3, 3), policy=FeePolicy(stuck_after=5), clock=clock)
        w3.provider.make_request("evm_setAutomine", [False])
        pending = manager.submit({"to": RECIPIENT, "value": 1})
        price = pending.max_fee
        assert pending.tip is None and pending.tx["gasPrice"] == price == w3.eth.gas_price
        clock.advance(6)
        manager.poll()
        assert pending.replacements == 1 and "maxFeePerGas" not in pending.tx
        assert pending.tx["gasPrice"] == pending.max_fee == bump(price, 12.5)
        mine(w3)
        [result] = manager.poll()
        assert result.ok and result.tx_hash == pending.hashes[-1]
        assert result.fee_paid == result.gas_used * pending.max_fee


def test_fee_policy__bump_below_ten_percent__refused():
    with pytest.raises(ValueError, match="bump_percent"):
        FeePolicy(bump_percent=5)
    assert bump(100, 12.5) == 113 and bump(1, 12.5) == 2 and bump(8, 12.5) == 9
    assert bump(int(Decimal(3) * GWEI), 12.5) == 3_375_000_000


def test_read_journal__torn_last_line_and_drops__replayed_in_order(tmp_path):
    """A crash mid-append leaves a torn last line: the records before it stand; a drop
    removes what an earlier put added."""
    journal = tmp_path / "journal.json"
    tx = {"what": "x", "tx": {"to": RECIPIENT}, "hashes": [], "raw": [], "max_fee": 1, "tip": 1, "replacements": 0,
          "first_block": 0, "unsent": False, "key": None}
    lines = [
        json.dumps({"version": 2, "address": RECIPIENT}),
        json.dumps({"op": "put", "tx": {**tx, "nonce": 4}}),
        json.dumps({"op": "put", "tx": {**tx, "nonce": 5}}),
        json.dumps({"op": "drop", "nonce": 4}),
        json.dumps({"op": "put", "tx": {**tx, "nonce": 6}})[:30],
    ]
    journal.write_text("\n".join(lines))
    header, entries = read_journal(journal)
    assert header["address"] == RECIPIENT and sorted(entries) == [5]

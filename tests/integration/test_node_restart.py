"""The keeper test's node restart keeps the chain consistent (keel.keeper.book.restart_node).

Anvil started with ``--state FILE`` dumps its state when stopped and loads it when started
again. The dump reads the block list and the account state under separate locks: a block
mined while it dumps can reach the state but not the blocks, and the restarted chain then
holds a transaction's effects without its block, receipt or logs. A CI run failed that
way: a keeper's batch liquidation of 50 vaults was sent as the node went down; afterwards
the vaults were seized but no ``Seized`` event existed. ``restart_node`` switches mining
off and lets the block number settle before the stop; :meth:`ChainClock.pause` waits for
a period in progress. Here a sender streams transactions through each restart: after it,
the sender's nonce equals the number of its transactions in the restarted chain's blocks.
"""

from __future__ import annotations

import threading
import time

from keel.chain import Anvil, free_port
from keel.keeper import book as bk

TRIALS = 3
# init code that loops until ~10k gas is left (JUMPDEST PUSH2 10000 GAS GT PUSH1 0 JUMPI STOP):
# a block that takes milliseconds to mine, like a keeper's 3.5M-gas batch liquidation; with
# value transfers the dump rarely overlaps a block, with these it did on every try (old code)
BURN_GAS = "0x5b6127105a1160005700"


def _stream(w3, sender: str, stop: threading.Event, sent: list[int]) -> None:
    while not stop.is_set():
        try:
            w3.eth.send_transaction({"from": sender, "data": BURN_GAS, "gas": 20_000_000})
            sent[0] += 1
        except Exception:  # the node is down: keep trying until told to stop
            time.sleep(0.01)


def _settled(w3, sender: str) -> int:
    """The block number once the stream's last transactions are mined and nothing more is
    (a block being mined shows in the state before it shows in the block list)."""
    deadline = time.monotonic() + 30
    number = -1
    while time.monotonic() < deadline:
        pending = w3.eth.get_transaction_count(sender, "pending")
        if pending == w3.eth.get_transaction_count(sender, "latest") and w3.eth.block_number == number:
            return number
        number = w3.eth.block_number
        time.sleep(0.2)
    raise AssertionError("the node kept mining after the stream stopped")


def _mined_by(w3, sender: str, last: int) -> int:
    count = 0
    for number in range(last + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        count += sum(1 for tx in block["transactions"] if tx["from"] == sender)
    return count


def test_restart_node__transactions_streaming__every_state_change_keeps_its_block(tmp_path):
    node = Anvil(port=free_port(), accounts=2, extra_args=["--state", str(tmp_path / "state.json")]).start()
    try:
        for trial in range(TRIALS):
            w3 = node.w3
            sender = w3.eth.accounts[0]
            stop, sent = threading.Event(), [0]
            stream = threading.Thread(target=_stream, args=(w3, sender, stop, sent), daemon=True)
            stream.start()
            time.sleep(0.8)  # blocks being mined when the restart begins
            before = w3.eth.block_number
            bk.restart_node(node, down=0.2)
            stop.set()
            stream.join(timeout=10)
            w3 = node.w3  # a new connection to the new process
            head = _settled(w3, sender)
            nonce = w3.eth.get_transaction_count(sender, head)
            assert sent[0] > 5 and before > 5 * (trial + 1), "the stream did not run"
            assert nonce == _mined_by(w3, sender, head), f"trial {trial}: the state holds transactions the blocks lack"
            assert w3.eth.block_number >= before  # nothing mined before the stop is lost
            assert w3.eth.get_block("latest")["timestamp"] > w3.eth.get_block(before)["timestamp"]
    finally:
        node.stop()


def test_chain_clock_pause__periods_running__returns_after_the_current_one_and_nothing_more_is_mined(tmp_path):
    with bk.crash_chain(tmp_path) as (node, admin):
        clock = bk.ChainClock(admin, step=30, period=0.02)  # a feed refresh every other period
        clock.start()
        try:
            _wait_until(lambda: clock.advanced >= 600, 60)
            for _ in range(5):
                clock.pause()
                paused_at, advanced = node.w3.eth.block_number, clock.advanced
                time.sleep(0.3)
                assert node.w3.eth.block_number == paused_at and clock.advanced == advanced
                clock.resume()
                _wait_until(lambda: node.w3.eth.block_number > paused_at, 30)
            assert clock.errors == 0, clock.last_error
        finally:
            clock.stop()


def _wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)

# pragma version ~=0.4.3
"""
@title ReentrantTaker
@notice An adversarial flash taker: its `on_auction_take` callback makes any call
        its owner chose (withdraw or borrow from a vault it owns, take or reset a
        lot, liquidate, ...) while the auction waits for payment, to prove that
        every such re-entry is refused and the lot is left as it was.
@dev Test-only. With `bubble` set a failing call reverts the callback with the
     callee's revert data; without it the failure is recorded and the callback
     returns normally (the take then still has to be paid). It can also act as
     a user (`execute`), so that it may own vaults and hold tokens.
"""

interface IDutchAuction:
    def take(auction_id: uint256, amount: uint256, max_price: uint256, receiver: address, data: Bytes[1024]) -> uint256: nonpayable

MAX_DATA: constant(uint256) = 1024
MAX_RESPONSE: constant(uint256) = 256

event Callback:
    taker: address
    owe: uint256  # WAD
    collateral: uint256  # WAD
    ok: bool

owner: public(address)
auction: public(address)
call_target: public(address)
call_data: public(Bytes[MAX_DATA])
bubble: public(bool)
callbacks: public(uint256)
last_ok: public(bool)
last_response: public(Bytes[MAX_RESPONSE])


@deploy
def __init__(auction_address: address):
    """
    @param auction_address The DutchAuction whose callbacks this contract accepts.
    """
    self.owner = msg.sender
    self.auction = auction_address


@external
def set_call(target: address, data: Bytes[MAX_DATA], bubble_failure: bool):
    """
    @notice What the callback does: call `target` with `data` (empty target: nothing);
            `bubble_failure` reverts the callback when that call fails. Owner only.
    """
    assert msg.sender == self.owner, "taker: not owner"
    self.call_target = target
    self.call_data = data
    self.bubble = bubble_failure


@external
def execute(target: address, data: Bytes[MAX_DATA]) -> Bytes[MAX_RESPONSE]:
    """
    @notice Call `target` with `data` as this contract; reverts with the callee's
            revert data. Owner only.
    """
    assert msg.sender == self.owner, "taker: not owner"
    return raw_call(target, data, max_outsize=MAX_RESPONSE)


@external
def flash_take(auction_id: uint256, amount: uint256, max_price: uint256) -> uint256:
    """
    @notice Take with a callback to this contract (this contract pays).
    """
    return extcall IDutchAuction(self.auction).take(auction_id, amount, max_price, self, b"attack")


@external
def on_auction_take(taker: address, owe: uint256, collateral: uint256, data: Bytes[1024]):
    """
    @notice The auction's callback: make the configured call.
    """
    assert msg.sender == self.auction, "taker: not the auction"
    self.callbacks += 1
    ok: bool = True
    target: address = self.call_target
    if target != empty(address):
        if self.bubble:
            raw_call(target, self.call_data)
        else:
            response: Bytes[MAX_RESPONSE] = b""
            ok, response = raw_call(target, self.call_data, max_outsize=MAX_RESPONSE, revert_on_failure=False)
            self.last_response = response
    self.last_ok = ok
    log Callback(taker=taker, owe=owe, collateral=collateral, ok=ok)

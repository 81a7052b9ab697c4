# pragma version ~=0.4.3
"""
@title FlashTaker
@notice A test keeper for flash takes: it calls `take` with itself as receiver and
        pays in the callback from debt tokens it holds (standing in for selling
        the collateral on a market). Modes make it misbehave for adversarial tests.
@dev Test-only.
"""

interface IDutchAuction:
    def take(auction_id: uint256, amount: uint256, max_price: uint256, receiver: address, data: Bytes[1024]) -> uint256: nonpayable

interface IVaultEngine:
    def deposit(vault_id: uint256, amount: uint256): nonpayable

MODE_PAY: constant(uint256) = 0  # behave
MODE_REENTER_ENGINE: constant(uint256) = 1  # call engine.deposit from the callback
MODE_REENTER_AUCTION: constant(uint256) = 2  # call auction.take from the callback
MODE_REVERT: constant(uint256) = 3  # revert in the callback

event Called:
    taker: address
    owe: uint256
    collateral: uint256

auction: public(address)
engine: public(address)
mode: public(uint256)
callbacks: public(uint256)


@deploy
def __init__(auction_address: address, engine_address: address):
    self.auction = auction_address
    self.engine = engine_address


@external
def set_mode(new_mode: uint256):
    """
    @notice Choose how the callback behaves (MODE_*).
    """
    self.mode = new_mode


@external
def flash_take(auction_id: uint256, amount: uint256, max_price: uint256) -> uint256:
    """
    @notice Take with a callback to this contract.
    """
    return extcall IDutchAuction(self.auction).take(auction_id, amount, max_price, self, b"flash")


@external
def on_auction_take(taker: address, owe: uint256, collateral: uint256, data: Bytes[1024]):
    """
    @notice The auction's callback: collateral has arrived; pay by holding `owe` debt tokens.
    """
    assert msg.sender == self.auction, "flash: not the auction"
    self.callbacks += 1
    log Called(taker=taker, owe=owe, collateral=collateral)
    if self.mode == MODE_REENTER_ENGINE:
        extcall IVaultEngine(self.engine).deposit(1, 1)
    elif self.mode == MODE_REENTER_AUCTION:
        extcall IDutchAuction(self.auction).take(1, 1, max_value(uint256), self, b"")
    elif self.mode == MODE_REVERT:
        raise "flash: callback failed"

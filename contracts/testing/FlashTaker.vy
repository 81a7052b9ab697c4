# pragma version ~=0.4.3
"""
@title FlashTaker
@notice A test keeper for flash takes: it calls `take` with itself as receiver and
        pays in the callback, either from debt tokens it holds (MODE_PAY) or from
        what it gets by selling the collateral on a market (MODE_SELL: a keeper
        with no capital). Other modes make it misbehave for adversarial tests.
@dev Test-only.
"""

interface IDutchAuction:
    def take(auction_id: uint256, amount: uint256, max_price: uint256, receiver: address, data: Bytes[1024]) -> uint256: nonpayable

interface IVaultEngine:
    def deposit(vault_id: uint256, amount: uint256): nonpayable

interface IMarket:
    def sell(amount: uint256) -> uint256: nonpayable

interface IERC20:
    def approve(spender: address, amount: uint256) -> bool: nonpayable

MODE_PAY: constant(uint256) = 0  # behave
MODE_REENTER_ENGINE: constant(uint256) = 1  # call engine.deposit from the callback
MODE_REENTER_AUCTION: constant(uint256) = 2  # call auction.take from the callback
MODE_REVERT: constant(uint256) = 3  # revert in the callback
MODE_SELL: constant(uint256) = 4  # sell the collateral on `market`, pay from the proceeds

event Called:
    taker: address
    owe: uint256
    collateral: uint256

auction: public(address)
engine: public(address)
mode: public(uint256)
callbacks: public(uint256)
market: public(address)
# collateral token units per WAD of collateral (10 ** (18 - decimals))
scale: public(uint256)
collateral_token: public(address)


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
def set_market(market_address: address, token: address, token_scale: uint256):
    """
    @notice Where MODE_SELL sells the collateral (`token`, 10 ** (18 - decimals)).
    """
    self.market = market_address
    self.collateral_token = token
    self.scale = token_scale


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
    elif self.mode == MODE_SELL:
        # the auction pays collateral in token units (WAD // scale); sell all of it
        units: uint256 = collateral // self.scale
        extcall IERC20(self.collateral_token).approve(self.market, units)
        extcall IMarket(self.market).sell(units)

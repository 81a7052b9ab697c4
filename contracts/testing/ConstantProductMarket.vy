# pragma version ~=0.4.3
"""
@title ConstantProductMarket
@notice A test market with price impact, for the risk simulator: a constant-product
        (x * y = k) curve between one collateral token and the debt token. Selling
        collateral moves the price down; `quote` says what a sale would pay. Between
        path points the owner re-balances the curve to a new price at its original
        depth (`set_price`): what arbitrageurs do against other venues.
@dev Test-only. The reserves are the curve's (virtual); the contract pays sales from
     the debt tokens it holds, so fund it with at least its depth. Same `sell` /
     `quote` / `price` / `set_price` as MockMarket.
"""

from ethereum.ercs import IERC20

event PriceSet:
    price: uint256  # WAD debt tokens per whole collateral token
    collateral_reserve: uint256  # token units
    debt_reserve: uint256  # WAD

event Sold:
    seller: indexed(address)
    amount: uint256  # collateral token units
    proceeds: uint256  # WAD debt tokens paid
    price: uint256  # WAD, the curve's price afterwards

owner: public(address)
collateral: public(address)
debt_token: public(address)
unit: public(uint256)  # 10 ** collateral decimals
collateral_reserve: public(uint256)  # token units on the curve
debt_reserve: public(uint256)  # WAD on the curve
depth: public(uint256)  # WAD: the debt reserve `set_price` restores


@deploy
def __init__(collateral_token: address, debt_token_address: address, collateral_decimals: uint256, initial_price: uint256, depth: uint256):
    """
    @param initial_price WAD debt tokens per whole collateral token.
    @param depth WAD debt tokens on the curve (the price halves after selling a depth's worth).
    """
    assert initial_price != 0 and depth != 0, "market: zero price or depth"
    self.owner = msg.sender
    self.collateral = collateral_token
    self.debt_token = debt_token_address
    self.unit = 10 ** collateral_decimals
    self.depth = depth
    self.debt_reserve = depth
    self.collateral_reserve = depth * self.unit // initial_price


@external
@view
def price() -> uint256:
    """
    @notice The curve's marginal price now, WAD debt tokens per whole collateral token.
    """
    return self.debt_reserve * self.unit // self.collateral_reserve


@external
@view
def quote(amount: uint256) -> uint256:
    """
    @notice Debt tokens (WAD, rounded down) a sale of `amount` collateral units pays now.
    """
    return amount * self.debt_reserve // (self.collateral_reserve + amount)


@external
def sell(amount: uint256) -> uint256:
    """
    @notice Sell `amount` collateral units (pulled from the caller) along the curve.
    @return Debt tokens paid, WAD, rounded down.
    """
    proceeds: uint256 = amount * self.debt_reserve // (self.collateral_reserve + amount)
    self.collateral_reserve += amount
    self.debt_reserve -= proceeds
    assert extcall IERC20(self.collateral).transferFrom(msg.sender, self, amount), "market: collateral transfer failed"
    assert extcall IERC20(self.debt_token).transfer(msg.sender, proceeds), "market: payment failed"
    log Sold(seller=msg.sender, amount=amount, proceeds=proceeds, price=self.debt_reserve * self.unit // self.collateral_reserve)
    return proceeds


@external
def set_price(new_price: uint256):
    """
    @notice Re-balance the curve to `new_price` (WAD per whole token) at its original
            depth (the arbitrageurs' trades against other venues). Owner only.
    """
    assert msg.sender == self.owner, "market: not owner"
    assert new_price != 0, "market: zero price or depth"
    self.debt_reserve = self.depth
    self.collateral_reserve = self.depth * self.unit // new_price
    log PriceSet(price=new_price, collateral_reserve=self.collateral_reserve, debt_reserve=self.debt_reserve)

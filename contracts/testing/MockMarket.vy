# pragma version ~=0.4.3
"""
@title MockMarket
@notice A test market that buys one collateral token for debt tokens at a price its
        owner sets, paying from the debt tokens it holds: the "sell the collateral"
        leg of a flash take.
@dev Test-only. No slippage, no fee; `price` is WAD debt tokens per whole token.
"""

from ethereum.ercs import IERC20

event PriceSet:
    price: uint256  # WAD debt tokens per whole collateral token

event Sold:
    seller: indexed(address)
    amount: uint256  # collateral token units
    proceeds: uint256  # WAD debt tokens paid

owner: public(address)
collateral: public(address)
debt_token: public(address)
price: public(uint256)
unit: public(uint256)  # 10 ** collateral decimals


@deploy
def __init__(collateral_token: address, debt_token_address: address, collateral_decimals: uint256, initial_price: uint256):
    self.owner = msg.sender
    self.collateral = collateral_token
    self.debt_token = debt_token_address
    self.unit = 10 ** collateral_decimals
    self.price = initial_price


@external
def set_price(new_price: uint256):
    """
    @notice Set the bid, WAD debt tokens per whole collateral token. Owner only.
    """
    assert msg.sender == self.owner, "market: not owner"
    self.price = new_price
    log PriceSet(price=new_price)


@external
@view
def quote(amount: uint256) -> uint256:
    """
    @notice What `sell(amount)` would pay now, WAD debt tokens, rounded down.
    @param amount Collateral token units.
    @return Debt tokens, WAD (as `sell`: amount * price // unit).
    """
    return amount * self.price // self.unit


@external
def sell(amount: uint256) -> uint256:
    """
    @notice Sell `amount` collateral units (pulled from the caller) for debt tokens.
    @return Debt tokens paid, WAD, rounded down.
    """
    proceeds: uint256 = amount * self.price // self.unit
    assert extcall IERC20(self.collateral).transferFrom(msg.sender, self, amount), "market: collateral transfer failed"
    assert extcall IERC20(self.debt_token).transfer(msg.sender, proceeds), "market: payment failed"
    log Sold(seller=msg.sender, amount=amount, proceeds=proceeds)
    return proceeds

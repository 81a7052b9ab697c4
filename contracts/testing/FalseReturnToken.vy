# pragma version ~=0.4.3
"""
@title FalseReturnToken
@notice An adversarial ERC-20 (18 decimals, open faucet) in the style of early
        tokens: a transfer that cannot or will not go through returns False
        instead of reverting, and moves nothing. It proves that Keel checks every
        transfer's return value ("... token transfer failed") and moves nothing
        when a token says no.
@dev Test-only. Besides a short balance or allowance, `set_failing` makes every
     `transfer` and/or every `transferFrom` answer False.
"""

from ethereum.ercs import IERC20
implements: IERC20

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

name: public(String[64])
symbol: public(String[32])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
# answer False to every transfer / transferFrom while set
fail_transfer: public(bool)
fail_transfer_from: public(bool)


@deploy
def __init__():
    """
    @notice An 18-decimal token that behaves until told otherwise.
    """
    self.name = "False Return Token"
    self.symbol = "FRT"
    self.decimals = 18


@external
def set_failing(on_transfer: bool, on_transfer_from: bool):
    """
    @notice Make `transfer` and/or `transferFrom` return False (moving nothing).
            Anyone (test-only).
    """
    self.fail_transfer = on_transfer
    self.fail_transfer_from = on_transfer_from


@internal
def _transfer(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @dev Move `amount` from `sender` to `receiver`; False (nothing moved) when short.
    """
    if self.balanceOf[sender] < amount:
        return False
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)
    return True


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` to `receiver`; False (nothing moved) when failing or short.
    """
    if self.fail_transfer:
        return False
    return self._transfer(msg.sender, receiver, amount)


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` from `sender` using the caller's allowance; False
            (nothing moved) when failing, short of balance or of allowance.
    """
    if self.fail_transfer_from:
        return False
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed < amount:
        return False
    if not self._transfer(sender, receiver, amount):
        return False
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` of the caller's tokens.
    """
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def mint(receiver: address, amount: uint256):
    """
    @notice Faucet: create `amount` for `receiver` (anyone may call).
    """
    self.totalSupply += amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)

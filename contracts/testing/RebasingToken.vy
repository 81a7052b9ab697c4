# pragma version ~=0.4.3
"""
@title RebasingToken
@notice An adversarial ERC-20 (18 decimals, open faucet) whose balances change
        without transfers: every holder owns shares, and a balance is its shares
        times a global index that `rebase` moves (a negative rebase shrinks every
        balance, the engine's included). It shows what listing such a token would
        do: the engine's holding of that type falls short of its books, and the
        damage stays within that type.
@dev Test-only. balance = shares * index / 1e18 (rounded down); a transfer of
     `amount` moves the shares worth it, rounded up, so a sender never pays less
     than `amount` and a receiver never gets less.
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

event Rebased:
    index: uint256  # WAD, balance per share

WAD: constant(uint256) = 10 ** 18

name: public(String[64])
symbol: public(String[32])
decimals: public(uint8)
allowance: public(HashMap[address, HashMap[address, uint256]])
shares: public(HashMap[address, uint256])
total_shares: public(uint256)
# WAD: balance per share
index: public(uint256)


@deploy
def __init__():
    """
    @notice An 18-decimal token at index 1 (a balance equals its shares).
    """
    self.name = "Rebasing Token"
    self.symbol = "REB"
    self.decimals = 18
    self.index = WAD


@external
@view
def balanceOf(holder: address) -> uint256:
    """
    @notice The holder's shares at the current index, rounded down.
    """
    return self.shares[holder] * self.index // WAD


@external
@view
def totalSupply() -> uint256:
    """
    @notice Every share at the current index, rounded down.
    """
    return self.total_shares * self.index // WAD


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    """
    @dev Move the shares worth `amount` (rounded up) from `sender` to `receiver`.
    """
    moved: uint256 = (amount * WAD + self.index - 1) // self.index
    assert self.shares[sender] >= moved, "rebasing: insufficient balance"
    self.shares[sender] -= moved
    self.shares[receiver] += moved
    log Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move the shares worth `amount` (rounded up) to `receiver`.
    """
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move the shares worth `amount` from `sender` using the caller's allowance.
    """
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "rebasing: insufficient allowance"
        self.allowance[sender][msg.sender] = allowed - amount
    self._transfer(sender, receiver, amount)
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
    @notice Faucet: create the shares worth `amount` (rounded down) for `receiver`.
    """
    created: uint256 = amount * WAD // self.index
    self.shares[receiver] += created
    self.total_shares += created
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@external
def rebase(new_index: uint256):
    """
    @notice Set the balance per share (WAD, non-zero): below the current index
            every balance shrinks, above it every balance grows. Anyone (test-only).
    """
    assert new_index != 0, "rebasing: zero index"
    self.index = new_index
    log Rebased(index=new_index)

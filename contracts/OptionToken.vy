# pragma version ~=0.4.3
"""
@title OptionToken
@notice The ERC-20 of one option series (18 decimals: 1e18 = one option on one
        whole unit of the underlying). Only the OptionsHouse that created it
        mints (when a writer writes) and burns (on close, redeem and writer
        liquidation); holders trade it like any ERC-20.
@dev Deployed once as a template; every series is an EIP-1167 minimal proxy of it
     (`create_minimal_proxy_to`), initialised by the house in the transaction that
     creates it. A proxy's storage is its own; the template itself is sealed at
     deployment so that nobody can initialise it. Name and symbol are built by the
     house from the series' terms, so a series costs one storage slot to set up.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed

implements: IERC20
implements: IERC20Detailed


interface IOptionsHouse:
    def series_name(series_id: uint256) -> String[320]: view
    def series_symbol(series_id: uint256) -> String[320]: view


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256  # WAD options

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256  # WAD options

decimals: public(constant(uint8)) = 18
MASK_160: constant(uint256) = 2 ** 160 - 1
# the template's own slot: it can never be initialised
SEALED: constant(uint256) = max_value(uint256)

# packed: the house (bits 0-159) | series id (bits 160-255); 0 = not initialised
_house_and_series: uint256
# WAD options
totalSupply: public(uint256)
# account => WAD options
balanceOf: public(HashMap[address, uint256])
# owner => spender => WAD options
allowance: public(HashMap[address, HashMap[address, uint256]])


@deploy
def __init__():
    """
    @notice The template: sealed, so only its proxies are ever initialised.
    """
    self._house_and_series = SEALED


@external
def initialize(series_id: uint256):
    """
    @notice Bind this proxy to its series; the caller becomes its house. Once only
            (the house calls it in the transaction that creates the proxy).
    """
    assert self._house_and_series == 0, "option: already initialised"
    assert series_id < 2 ** 96, "option: series id too large"
    self._house_and_series = convert(msg.sender, uint256) | (series_id << 160)


@internal
@view
def _house() -> address:
    return convert(convert(self._house_and_series & MASK_160, uint160), address)


@external
@view
def house() -> address:
    """
    @notice The OptionsHouse that mints and burns this token.
    """
    return self._house()


@external
@view
def series_id() -> uint256:
    """
    @notice The series this token is, at its house.
    """
    return self._house_and_series >> 160


@external
@view
def name() -> String[320]:
    """
    @notice e.g. "Keel WETH 2,500 call 2027-03-26".
    """
    return staticcall IOptionsHouse(self._house()).series_name(self._house_and_series >> 160)


@external
@view
def symbol() -> String[320]:
    """
    @notice e.g. "kWETH-20270326-2500-C".
    """
    return staticcall IOptionsHouse(self._house()).series_symbol(self._house_and_series >> 160)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "option: transfer to zero address"
    balance: uint256 = self.balanceOf[sender]
    assert balance >= amount, "option: insufficient balance"
    self.balanceOf[sender] = unsafe_sub(balance, amount)
    self.balanceOf[receiver] = unsafe_add(self.balanceOf[receiver], amount)
    log Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` (WAD) options from the caller to `receiver`.
    """
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` (WAD) options from `sender` using the caller's allowance.
    @dev An allowance of max_value(uint256) is never decreased.
    """
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "option: insufficient allowance"
        self.allowance[sender][msg.sender] = unsafe_sub(allowed, amount)
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` (WAD) of the caller's options.
    """
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def mint(receiver: address, amount: uint256):
    """
    @notice Create `amount` (WAD) options for `receiver`. The house only.
    """
    assert msg.sender == self._house(), "option: not the house"
    assert receiver != empty(address), "option: mint to zero address"
    self.totalSupply += amount
    self.balanceOf[receiver] = unsafe_add(self.balanceOf[receiver], amount)
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@external
def burn(account: address, amount: uint256):
    """
    @notice Destroy `amount` (WAD) of `account`'s options. The house only, which
            burns only from the account asking it to (close, redeem) or from a
            liquidator that offered them.
    """
    assert msg.sender == self._house(), "option: not the house"
    balance: uint256 = self.balanceOf[account]
    assert balance >= amount, "option: insufficient balance"
    self.balanceOf[account] = unsafe_sub(balance, amount)
    self.totalSupply = unsafe_sub(self.totalSupply, amount)
    log Transfer(sender=account, receiver=empty(address), value=amount)

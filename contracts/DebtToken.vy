# pragma version ~=0.4.3
"""
@title DebtToken
@notice Keel's debt token (18 decimals): an ERC-20 with EIP-2612 `permit`.
        Only the vault engine named at deployment and accounts holding
        ROLE_MINTER (other authorised modules) mint and burn; the owner grants
        that role.
@dev `burn` takes tokens from an account without an allowance, so ROLE_MINTER is
     only ever granted to audited protocol contracts that burn from the payer.
     The engine is an immutable so that its mints and burns (every borrow,
     repay and auction take) skip the role lookup, a cold storage read: the
     deployer predicts the engine's address (keel.deploy does; an engine whose
     address was not predicted still works through ROLE_MINTER).
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from .modules import access_control

implements: IERC20
implements: IERC20Detailed

initializes: access_control
exports: (
    access_control.owner,
    access_control.pending_owner,
    access_control.roles,
    access_control.transfer_ownership,
    access_control.accept_ownership,
    access_control.set_roles,
)

# may mint and burn
ROLE_MINTER: constant(uint256) = 1

EIP712_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
PERMIT_TYPEHASH: constant(bytes32) = keccak256(
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)
VERSION: constant(String[8]) = "1"

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256  # WAD

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256  # WAD

name: public(String[64])
symbol: public(String[32])
decimals: public(constant(uint8)) = 18
# WAD
totalSupply: public(uint256)
# account => WAD
balanceOf: public(HashMap[address, uint256])
# owner => spender => WAD
allowance: public(HashMap[address, HashMap[address, uint256]])
# EIP-2612: owner => next permit nonce
nonces: public(HashMap[address, uint256])

_CACHED_CHAIN_ID: immutable(uint256)
_CACHED_DOMAIN_SEPARATOR: immutable(bytes32)
_NAME_HASH: immutable(bytes32)
# the vault engine, which may mint and burn without a role (empty: none)
engine: public(immutable(address))


@deploy
def __init__(token_name: String[64], token_symbol: String[32], initial_owner: address, engine_address: address):
    """
    @param token_name ERC-20 name, also the EIP-712 domain name.
    @param token_symbol ERC-20 symbol.
    @param initial_owner Owner who grants ROLE_MINTER.
    @param engine_address The vault engine's (predicted) address, which mints and
           burns without a role; the zero address for none.
    """
    access_control.__init__(initial_owner)
    engine = engine_address
    self.name = token_name
    self.symbol = token_symbol
    _NAME_HASH = keccak256(token_name)
    _CACHED_CHAIN_ID = chain.id
    _CACHED_DOMAIN_SEPARATOR = self._domain_separator(_NAME_HASH)


@internal
@view
def _domain_separator(name_hash: bytes32) -> bytes32:
    return keccak256(
        abi_encode(EIP712_TYPEHASH, name_hash, keccak256(VERSION), chain.id, self)
    )


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @notice EIP-712 domain separator (recomputed if the chain id changed).
    """
    if chain.id == _CACHED_CHAIN_ID:
        return _CACHED_DOMAIN_SEPARATOR
    return self._domain_separator(_NAME_HASH)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "token: transfer to zero address"
    assert receiver != self, "token: transfer to token contract"
    balance: uint256 = self.balanceOf[sender]
    assert balance >= amount, "token: insufficient balance"
    self.balanceOf[sender] = unsafe_sub(balance, amount)
    self.balanceOf[receiver] = unsafe_add(self.balanceOf[receiver], amount)
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _spend_allowance(owner: address, spender: address, amount: uint256):
    allowed: uint256 = self.allowance[owner][spender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "token: insufficient allowance"
        self.allowance[owner][spender] = unsafe_sub(allowed, amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` (WAD) from the caller to `receiver`.
    """
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Move `amount` (WAD) from `sender` to `receiver` using the caller's allowance.
    @dev An allowance of max_value(uint256) is never decreased.
    """
    self._spend_allowance(sender, msg.sender, amount)
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Let `spender` move up to `amount` (WAD) of the caller's tokens.
    """
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def permit(
    owner: address,
    spender: address,
    amount: uint256,
    deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
) -> bool:
    """
    @notice EIP-2612: set an allowance from `owner`'s signature.
    @param deadline Unix time (seconds) after which the signature is void.
    """
    assert owner != empty(address), "token: permit zero owner"
    assert block.timestamp <= deadline, "token: permit expired"
    # reject malleable signatures (upper-half s), as EIP-2 does for transactions
    assert convert(s, uint256) <= 57896044618658097711785492504343953926418782139537452191302581570759080747168, "token: permit bad s"
    nonce: uint256 = self.nonces[owner]
    digest: bytes32 = keccak256(
        concat(
            b"\x19\x01",
            self._domain_separator(_NAME_HASH),
            keccak256(abi_encode(PERMIT_TYPEHASH, owner, spender, amount, nonce, deadline)),
        )
    )
    signer: address = ecrecover(digest, v, r, s)
    assert signer == owner, "token: permit bad signature"
    self.nonces[owner] = nonce + 1
    self.allowance[owner][spender] = amount
    log Approval(owner=owner, spender=spender, value=amount)
    return True


@internal
@view
def _check_minter():
    # the immutable comparison first: the engine never pays for the role lookup
    if msg.sender != engine:
        access_control._check_role(ROLE_MINTER)


@external
def mint(receiver: address, amount: uint256):
    """
    @notice Create `amount` (WAD) for `receiver`. The engine or ROLE_MINTER only.
    """
    self._check_minter()
    assert receiver != empty(address), "token: mint to zero address"
    self.totalSupply += amount
    self.balanceOf[receiver] = unsafe_add(self.balanceOf[receiver], amount)
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@external
def burn(account: address, amount: uint256):
    """
    @notice Destroy `amount` (WAD) held by `account`. The engine or ROLE_MINTER
            only, no allowance.
    """
    self._check_minter()
    balance: uint256 = self.balanceOf[account]
    assert balance >= amount, "token: insufficient balance"
    self.balanceOf[account] = unsafe_sub(balance, amount)
    self.totalSupply = unsafe_sub(self.totalSupply, amount)
    log Transfer(sender=account, receiver=empty(address), value=amount)

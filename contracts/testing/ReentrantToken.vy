# pragma version ~=0.4.3
"""
@title ReentrantToken
@notice An adversarial ERC-20 (18 decimals, open faucet) that calls back into a
        contract of its owner's choosing from inside `transfer` and `transferFrom`,
        before it moves any balance (as an ERC-777 `tokensToSend` hook would), to
        prove that every re-entry into Keel is refused and that such a token cannot
        reach the collateral of other types.
@dev Test-only. The hook fires on the transfers selected by `hook_mask` and never
     recursively (it is off while it runs). With `bubble` set, a failing re-entry
     reverts the transfer with the callee's revert data (so the outer Keel call
     reverts); without it, the failure is recorded (`hook_failures`,
     `last_response`) and the transfer goes on, so a test can show that the
     re-entry took nothing while the honest call went through.
     The token can also act as a user of Keel (`execute`), so that it may own
     vaults, hold other tokens and approve them.
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

event HookCalled:
    target: indexed(address)
    ok: bool

# hook_mask bits
HOOK_TRANSFER: constant(uint256) = 1
HOOK_TRANSFER_FROM: constant(uint256) = 2
MAX_DATA: constant(uint256) = 1024
MAX_RESPONSE: constant(uint256) = 256

name: public(String[64])
symbol: public(String[32])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])

owner: public(address)
hook_target: public(address)
hook_data: public(Bytes[MAX_DATA])
hook_mask: public(uint256)
bubble: public(bool)
# calls the hook made, and how many of them failed (kept only when not bubbling)
hook_calls: public(uint256)
hook_failures: public(uint256)
last_ok: public(bool)
last_response: public(Bytes[MAX_RESPONSE])
_running: bool


@deploy
def __init__():
    """
    @notice An 18-decimal token owned by the deployer, hook off.
    """
    self.name = "Reentrant Token"
    self.symbol = "RNT"
    self.decimals = 18
    self.owner = msg.sender


@external
def set_hook(target: address, data: Bytes[MAX_DATA], mask: uint256, bubble_failure: bool):
    """
    @notice Arm the hook: call `target` with `data` from inside the transfers in
            `mask` (1 transfer, 2 transferFrom, 3 both; 0 disarms); `bubble_failure`
            reverts the transfer when that call fails. Owner only.
    """
    assert msg.sender == self.owner, "reentrant: not owner"
    self.hook_target = target
    self.hook_data = data
    self.hook_mask = mask
    self.bubble = bubble_failure


@external
def execute(target: address, data: Bytes[MAX_DATA]) -> Bytes[MAX_RESPONSE]:
    """
    @notice Call `target` with `data` as this contract (to own vaults, approve
            tokens, ...); reverts with the callee's revert data. Owner only.
    """
    assert msg.sender == self.owner, "reentrant: not owner"
    return raw_call(target, data, max_outsize=MAX_RESPONSE)


@internal
def _hook(kind: uint256):
    """
    @dev Run the armed call once, if this kind of transfer is selected.
    """
    if self._running or self.hook_mask & kind == 0:
        return
    self._running = True
    target: address = self.hook_target
    if self.bubble:
        raw_call(target, self.hook_data)
        self.last_ok = True
    else:
        ok: bool = False
        response: Bytes[MAX_RESPONSE] = b""
        ok, response = raw_call(target, self.hook_data, max_outsize=MAX_RESPONSE, revert_on_failure=False)
        self.last_ok = ok
        self.last_response = response
        if not ok:
            self.hook_failures += 1
    self.hook_calls += 1
    log HookCalled(target=target, ok=self.last_ok)
    self._running = False


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    """
    @dev Move `amount` from `sender` to `receiver`; reverts when short.
    """
    assert self.balanceOf[sender] >= amount, "reentrant: insufficient balance"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    """
    @notice Run the hook (if armed for transfers), then move `amount` to `receiver`.
    """
    self._hook(HOOK_TRANSFER)
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    """
    @notice Run the hook (if armed for transferFrom), then move `amount` from
            `sender` using the caller's allowance.
    """
    self._hook(HOOK_TRANSFER_FROM)
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "reentrant: insufficient allowance"
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
    @notice Faucet: create `amount` for `receiver` (anyone may call).
    """
    self.totalSupply += amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)

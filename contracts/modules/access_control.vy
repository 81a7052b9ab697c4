# pragma version ~=0.4.3
"""
@title access_control
@notice Two-step ownership and one role per privileged action.
        The owner grants and revokes roles (a bit set per account) and hands
        ownership over in two steps: `transfer_ownership` proposes, the new
        owner's `accept_ownership` completes. Each deployable defines its own
        role bits (e.g. `ROLE_RISK_ADMIN: constant(uint256) = 2`).
@dev Initialise with `access_control.__init__(owner)` and export
     `access_control.__interface__` or the functions one by one.
"""

event OwnershipTransferStarted:
    owner: indexed(address)
    pending_owner: indexed(address)

event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event RolesUpdated:
    account: indexed(address)
    roles: uint256  # the account's new role bit set

# the account allowed to grant roles and to propose a new owner
owner: public(address)
# the proposed owner, who must call `accept_ownership`
pending_owner: public(address)
# account => bit set of roles it holds
roles: public(HashMap[address, uint256])


@deploy
def __init__(initial_owner: address):
    """
    @param initial_owner The first owner; may not be the zero address.
    """
    assert initial_owner != empty(address), "access: zero owner"
    self.owner = initial_owner
    log OwnershipTransferred(previous_owner=empty(address), new_owner=initial_owner)


@external
def transfer_ownership(new_owner: address):
    """
    @notice Propose `new_owner`; ownership moves when it calls `accept_ownership`.
    @dev Proposing the zero address cancels a pending transfer.
    """
    assert msg.sender == self.owner, "access: not owner"
    self.pending_owner = new_owner
    log OwnershipTransferStarted(owner=msg.sender, pending_owner=new_owner)


@external
def accept_ownership():
    """
    @notice Complete a two-step ownership transfer (called by the proposed owner).
    """
    assert msg.sender == self.pending_owner, "access: not pending owner"
    previous: address = self.owner
    self.owner = msg.sender
    self.pending_owner = empty(address)
    log OwnershipTransferred(previous_owner=previous, new_owner=msg.sender)


@external
def set_roles(account: address, new_roles: uint256):
    """
    @notice Replace the role bit set of `account` (0 revokes every role).
    """
    assert msg.sender == self.owner, "access: not owner"
    assert account != empty(address), "access: zero account"
    self.roles[account] = new_roles
    log RolesUpdated(account=account, roles=new_roles)


@internal
@view
def _check_role(role: uint256):
    """
    @dev Revert unless the caller holds `role`.
    """
    assert self.roles[msg.sender] & role != 0, "access: missing role"

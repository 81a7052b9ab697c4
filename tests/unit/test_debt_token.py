"""DebtToken: ERC-20, role-gated mint/burn, EIP-2612 permit.

The admin holds ROLE_MINTER here (see conftest) so mint and burn can be driven directly.
"""

import brownie
import pytest
from brownie import chain
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from tests.unit.conftest import MAX_UINT256, WAD, ZERO_ADDRESS, set_next_timestamp

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2

EIP712_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
PERMIT_TYPEHASH = keccak(
    text="Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)


# ------------------------------------------------------------------ EIP-712 in Python
def domain_separator(token) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [EIP712_DOMAIN_TYPEHASH, keccak(text="Keel USD"), keccak(text="1"), chain.id, token.address],
        )
    )


def permit_digest(token, owner, spender, value, nonce, deadline) -> bytes:
    struct_hash = keccak(
        encode(
            ["bytes32", "address", "address", "uint256", "uint256", "uint256"],
            [PERMIT_TYPEHASH, str(owner), str(spender), value, nonce, deadline],
        )
    )
    return keccak(b"\x19\x01" + domain_separator(token) + struct_hash)


def sign_permit(signer, token, owner, spender, value, nonce, deadline):
    """(v, r, s) from `signer` (a LocalAccount) over the permit digest."""
    digest = permit_digest(token, owner, spender, value, nonce, deadline)
    signed = Account.unsafe_sign_hash(digest, signer.private_key)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def sign_permit_typed(signer, token, owner, spender, value, nonce, deadline):
    """The same signature built by eth_account's own EIP-712 encoder (cross-check)."""
    signed = Account.sign_typed_data(
        signer.private_key,
        domain_data={"name": "Keel USD", "version": "1", "chainId": chain.id,
                     "verifyingContract": token.address},
        message_types={"Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]},
        message_data={"owner": str(owner), "spender": str(spender), "value": value,
                      "nonce": nonce, "deadline": deadline},
    )
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


@pytest.fixture(scope="module")
def permit_owner(accounts):
    """A local key (no ether needed: it only signs)."""
    return accounts.add(keccak(text="keel permit owner").hex())


@pytest.fixture(scope="module")
def forger(accounts):
    return accounts.add(keccak(text="keel permit forger").hex())


@pytest.fixture
def funded_holder(debt_token, admin, borrower):
    debt_token.mint(borrower, 1_000 * WAD, {"from": admin})
    return borrower


def deadline_ahead():
    return chain.time() + 3600


# ------------------------------------------------------------------ metadata
def test_metadata__after_deploy__name_symbol_decimals_and_empty_supply(debt_token, admin):
    assert debt_token.name() == "Keel USD"
    assert debt_token.symbol() == "kUSD"
    assert debt_token.decimals() == 18
    assert debt_token.totalSupply() == 0
    assert debt_token.owner() == admin


def test_domain_separator__on_this_chain__matches_eip712_computed_in_python(debt_token):
    assert bytes(debt_token.DOMAIN_SEPARATOR()) == domain_separator(debt_token)


# ------------------------------------------------------------------ mint
def test_mint__by_minter__credits_receiver_and_supply_and_logs(debt_token, admin, borrower):
    tx = debt_token.mint(borrower, 123 * WAD, {"from": admin})
    assert debt_token.balanceOf(borrower) == 123 * WAD
    assert debt_token.totalSupply() == 123 * WAD
    event = tx.events["Transfer"]
    assert event["sender"] == ZERO_ADDRESS
    assert event["receiver"] == borrower
    assert event["value"] == 123 * WAD


def test_mint__by_stranger__reverts_and_changes_nothing(debt_token, stranger):
    with brownie.reverts("access: missing role"):
        debt_token.mint(stranger, 1 * WAD, {"from": stranger})
    assert debt_token.balanceOf(stranger) == 0
    assert debt_token.totalSupply() == 0


def test_mint__after_minter_role_revoked__reverts(debt_token, admin, borrower):
    debt_token.set_roles(admin, 0, {"from": admin})
    with brownie.reverts("access: missing role"):
        debt_token.mint(borrower, 1, {"from": admin})
    assert debt_token.totalSupply() == 0


def test_mint__to_zero_address__reverts(debt_token, admin):
    with brownie.reverts("token: mint to zero address"):
        debt_token.mint(ZERO_ADDRESS, 1 * WAD, {"from": admin})
    assert debt_token.totalSupply() == 0


def test_mint__supply_overflow__reverts_and_changes_nothing(debt_token, admin, borrower, stranger):
    debt_token.mint(borrower, MAX_UINT256, {"from": admin})
    with brownie.reverts():
        debt_token.mint(stranger, 1, {"from": admin})
    assert debt_token.balanceOf(stranger) == 0
    assert debt_token.totalSupply() == MAX_UINT256


# ------------------------------------------------------------------ burn
def test_burn__by_minter__debits_account_without_allowance_and_logs(debt_token, admin, funded_holder):
    tx = debt_token.burn(funded_holder, 400 * WAD, {"from": admin})
    assert debt_token.balanceOf(funded_holder) == 600 * WAD
    assert debt_token.totalSupply() == 600 * WAD
    event = tx.events["Transfer"]
    assert event["sender"] == funded_holder
    assert event["receiver"] == ZERO_ADDRESS
    assert event["value"] == 400 * WAD


def test_burn__whole_balance__leaves_zero(debt_token, admin, funded_holder):
    debt_token.burn(funded_holder, 1_000 * WAD, {"from": admin})
    assert debt_token.balanceOf(funded_holder) == 0
    assert debt_token.totalSupply() == 0


def test_burn__more_than_balance__reverts_and_changes_nothing(debt_token, admin, funded_holder):
    with brownie.reverts("token: insufficient balance"):
        debt_token.burn(funded_holder, 1_000 * WAD + 1, {"from": admin})
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD
    assert debt_token.totalSupply() == 1_000 * WAD


def test_burn__by_stranger__reverts_and_changes_nothing(debt_token, stranger, funded_holder):
    with brownie.reverts("access: missing role"):
        debt_token.burn(funded_holder, 1 * WAD, {"from": stranger})
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD


def test_burn__own_tokens_by_holder_without_role__reverts(debt_token, funded_holder):
    with brownie.reverts("access: missing role"):
        debt_token.burn(funded_holder, 1 * WAD, {"from": funded_holder})
    assert debt_token.totalSupply() == 1_000 * WAD


# ------------------------------------------------------------------ transfer
# ------------------------------------------------------------------ the engine named at deployment
def test_mint_and_burn__by_the_named_engine_without_a_role__succeed(DebtToken, admin, operator, borrower):
    """The engine passed to the constructor mints and burns on the immutable's fast path,
    with no ROLE_MINTER (keel.deploy predicts the engine's address to get it)."""
    token = DebtToken.deploy("Keel USD", "kUSD", admin, operator, {"from": admin})
    assert token.engine() == operator
    assert token.roles(operator) == 0
    token.mint(borrower, 10 * WAD, {"from": operator})
    token.burn(borrower, 4 * WAD, {"from": operator})
    assert (token.balanceOf(borrower), token.totalSupply()) == (6 * WAD, 6 * WAD)


def test_mint__named_engine_set__others_still_need_the_role(DebtToken, admin, operator, stranger):
    token = DebtToken.deploy("Keel USD", "kUSD", admin, operator, {"from": admin})
    with brownie.reverts("access: missing role"):
        token.mint(stranger, WAD, {"from": stranger})
    token.set_roles(stranger, 1, {"from": admin})
    token.mint(stranger, WAD, {"from": stranger})
    assert token.balanceOf(stranger) == WAD


def test_engine__none_named__is_zero_and_gives_no_fast_path(debt_token, stranger):
    assert debt_token.engine() == ZERO_ADDRESS
    with brownie.reverts("access: missing role"):
        debt_token.mint(stranger, WAD, {"from": stranger})


def test_transfer__within_balance__moves_tokens_and_logs(debt_token, funded_holder, stranger):
    tx = debt_token.transfer(stranger, 250 * WAD, {"from": funded_holder})
    assert tx.return_value is True
    assert debt_token.balanceOf(funded_holder) == 750 * WAD
    assert debt_token.balanceOf(stranger) == 250 * WAD
    assert debt_token.totalSupply() == 1_000 * WAD
    event = tx.events["Transfer"]
    assert (event["sender"], event["receiver"], event["value"]) == (funded_holder, stranger, 250 * WAD)


def test_transfer__whole_balance__empties_sender(debt_token, funded_holder, stranger):
    debt_token.transfer(stranger, 1_000 * WAD, {"from": funded_holder})
    assert debt_token.balanceOf(funded_holder) == 0
    assert debt_token.balanceOf(stranger) == 1_000 * WAD


def test_transfer__zero_amount__succeeds_and_logs(debt_token, funded_holder, stranger):
    tx = debt_token.transfer(stranger, 0, {"from": funded_holder})
    assert tx.events["Transfer"]["value"] == 0
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD


def test_transfer__to_self__keeps_balance(debt_token, funded_holder):
    debt_token.transfer(funded_holder, 300 * WAD, {"from": funded_holder})
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD


def test_transfer__more_than_balance__reverts_and_changes_nothing(debt_token, funded_holder, stranger):
    with brownie.reverts("token: insufficient balance"):
        debt_token.transfer(stranger, 1_000 * WAD + 1, {"from": funded_holder})
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD
    assert debt_token.balanceOf(stranger) == 0


def test_transfer__to_zero_address__reverts_and_changes_nothing(debt_token, funded_holder):
    with brownie.reverts("token: transfer to zero address"):
        debt_token.transfer(ZERO_ADDRESS, 1 * WAD, {"from": funded_holder})
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD


def test_transfer__to_token_contract__reverts_and_changes_nothing(debt_token, funded_holder):
    with brownie.reverts("token: transfer to token contract"):
        debt_token.transfer(debt_token, 1 * WAD, {"from": funded_holder})
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD
    assert debt_token.balanceOf(debt_token) == 0


# ------------------------------------------------------------------ approve
def test_approve__any_amount__sets_allowance_and_logs(debt_token, funded_holder, operator):
    tx = debt_token.approve(operator, 77 * WAD, {"from": funded_holder})
    assert tx.return_value is True
    assert debt_token.allowance(funded_holder, operator) == 77 * WAD
    event = tx.events["Approval"]
    assert (event["owner"], event["spender"], event["value"]) == (funded_holder, operator, 77 * WAD)


def test_approve__again__replaces_allowance(debt_token, funded_holder, operator):
    debt_token.approve(operator, 77 * WAD, {"from": funded_holder})
    debt_token.approve(operator, 5, {"from": funded_holder})
    assert debt_token.allowance(funded_holder, operator) == 5


# ------------------------------------------------------------------ transferFrom
def test_transfer_from__within_allowance__moves_tokens_and_spends_allowance(debt_token, funded_holder, operator, stranger):
    debt_token.approve(operator, 300 * WAD, {"from": funded_holder})
    tx = debt_token.transferFrom(funded_holder, stranger, 200 * WAD, {"from": operator})
    assert tx.return_value is True
    assert debt_token.balanceOf(funded_holder) == 800 * WAD
    assert debt_token.balanceOf(stranger) == 200 * WAD
    assert debt_token.allowance(funded_holder, operator) == 100 * WAD
    event = tx.events["Transfer"]
    assert (event["sender"], event["receiver"], event["value"]) == (funded_holder, stranger, 200 * WAD)


def test_transfer_from__exactly_allowance__leaves_zero_allowance(debt_token, funded_holder, operator):
    debt_token.approve(operator, 300 * WAD, {"from": funded_holder})
    debt_token.transferFrom(funded_holder, operator, 300 * WAD, {"from": operator})
    assert debt_token.allowance(funded_holder, operator) == 0
    assert debt_token.balanceOf(operator) == 300 * WAD


def test_transfer_from__infinite_allowance__is_never_decreased(debt_token, funded_holder, operator, stranger):
    debt_token.approve(operator, MAX_UINT256, {"from": funded_holder})
    debt_token.transferFrom(funded_holder, stranger, 600 * WAD, {"from": operator})
    assert debt_token.allowance(funded_holder, operator) == MAX_UINT256
    assert debt_token.balanceOf(stranger) == 600 * WAD


def test_transfer_from__above_allowance__reverts_and_changes_nothing(debt_token, funded_holder, operator, stranger):
    debt_token.approve(operator, 100 * WAD, {"from": funded_holder})
    with brownie.reverts("token: insufficient allowance"):
        debt_token.transferFrom(funded_holder, stranger, 100 * WAD + 1, {"from": operator})
    assert debt_token.allowance(funded_holder, operator) == 100 * WAD
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD
    assert debt_token.balanceOf(stranger) == 0


def test_transfer_from__without_approval__reverts(debt_token, funded_holder, stranger):
    with brownie.reverts("token: insufficient allowance"):
        debt_token.transferFrom(funded_holder, stranger, 1, {"from": stranger})
    assert debt_token.balanceOf(stranger) == 0


def test_transfer_from__above_balance_within_allowance__reverts_and_keeps_allowance(debt_token, funded_holder, operator, stranger):
    debt_token.approve(operator, 5_000 * WAD, {"from": funded_holder})
    with brownie.reverts("token: insufficient balance"):
        debt_token.transferFrom(funded_holder, stranger, 1_000 * WAD + 1, {"from": operator})
    assert debt_token.allowance(funded_holder, operator) == 5_000 * WAD
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD


def test_transfer_from__to_zero_address__reverts_and_keeps_allowance(debt_token, funded_holder, operator):
    debt_token.approve(operator, 100 * WAD, {"from": funded_holder})
    with brownie.reverts("token: transfer to zero address"):
        debt_token.transferFrom(funded_holder, ZERO_ADDRESS, 1 * WAD, {"from": operator})
    assert debt_token.allowance(funded_holder, operator) == 100 * WAD


def test_transfer_from__to_token_contract__reverts(debt_token, funded_holder, operator):
    debt_token.approve(operator, 100 * WAD, {"from": funded_holder})
    with brownie.reverts("token: transfer to token contract"):
        debt_token.transferFrom(funded_holder, debt_token, 1 * WAD, {"from": operator})
    assert debt_token.balanceOf(funded_holder) == 1_000 * WAD


# ------------------------------------------------------------------ permit
def test_permit__valid_signature__sets_allowance_increments_nonce_and_logs(debt_token, permit_owner, operator, stranger):
    deadline = deadline_ahead()
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 500 * WAD, 0, deadline)
    # anyone may relay the signature
    tx = debt_token.permit(permit_owner, operator, 500 * WAD, deadline, v, r, s, {"from": stranger})
    assert tx.return_value is True
    assert debt_token.allowance(permit_owner, operator) == 500 * WAD
    assert debt_token.nonces(permit_owner) == 1
    event = tx.events["Approval"]
    assert (event["owner"], event["spender"], event["value"]) == (permit_owner, operator, 500 * WAD)


def test_permit__signed_with_eth_account_typed_data__is_accepted(debt_token, permit_owner, operator):
    deadline = deadline_ahead()
    v, r, s = sign_permit_typed(permit_owner, debt_token, permit_owner, operator, 9 * WAD, 0, deadline)
    assert (v, r, s) == sign_permit(permit_owner, debt_token, permit_owner, operator, 9 * WAD, 0, deadline)
    debt_token.permit(permit_owner, operator, 9 * WAD, deadline, v, r, s, {"from": operator})
    assert debt_token.allowance(permit_owner, operator) == 9 * WAD


def test_permit__then_transfer_from__spends_the_permitted_allowance(debt_token, admin, permit_owner, operator):
    debt_token.mint(permit_owner, 50 * WAD, {"from": admin})
    deadline = deadline_ahead()
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 20 * WAD, 0, deadline)
    debt_token.permit(permit_owner, operator, 20 * WAD, deadline, v, r, s, {"from": operator})
    debt_token.transferFrom(permit_owner, operator, 20 * WAD, {"from": operator})
    assert debt_token.balanceOf(operator) == 20 * WAD
    assert debt_token.allowance(permit_owner, operator) == 0


def test_permit__second_signature_with_next_nonce__is_accepted(debt_token, permit_owner, operator):
    deadline = deadline_ahead()
    for nonce, value in enumerate([1 * WAD, 2 * WAD]):
        v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, value, nonce, deadline)
        debt_token.permit(permit_owner, operator, value, deadline, v, r, s, {"from": operator})
    assert debt_token.nonces(permit_owner) == 2
    assert debt_token.allowance(permit_owner, operator) == 2 * WAD


def test_permit__deadline_equal_to_block_time__is_accepted(debt_token, permit_owner, operator):
    deadline = chain.time() + 100
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    set_next_timestamp(deadline)
    tx = debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, s, {"from": operator})
    assert tx.timestamp == deadline
    assert debt_token.allowance(permit_owner, operator) == 3 * WAD


def test_permit__expired_deadline__reverts_and_changes_nothing(debt_token, permit_owner, operator):
    deadline = chain.time() + 100
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    set_next_timestamp(deadline + 1)
    with brownie.reverts("token: permit expired"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, s, {"from": operator})
    assert debt_token.allowance(permit_owner, operator) == 0
    assert debt_token.nonces(permit_owner) == 0


def test_permit__signed_by_wrong_key__reverts_and_changes_nothing(debt_token, permit_owner, forger, operator):
    deadline = deadline_ahead()
    v, r, s = sign_permit(forger, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    with brownie.reverts("token: permit bad signature"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, s, {"from": forger})
    assert debt_token.allowance(permit_owner, operator) == 0
    assert debt_token.nonces(permit_owner) == 0


def test_permit__value_differs_from_signed__reverts(debt_token, permit_owner, operator):
    deadline = deadline_ahead()
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    with brownie.reverts("token: permit bad signature"):
        debt_token.permit(permit_owner, operator, MAX_UINT256, deadline, v, r, s, {"from": operator})
    assert debt_token.allowance(permit_owner, operator) == 0


def test_permit__spender_differs_from_signed__reverts(debt_token, permit_owner, operator, stranger):
    deadline = deadline_ahead()
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    with brownie.reverts("token: permit bad signature"):
        debt_token.permit(permit_owner, stranger, 3 * WAD, deadline, v, r, s, {"from": stranger})
    assert debt_token.allowance(permit_owner, stranger) == 0


def test_permit__replayed_signature__reverts_and_cannot_restore_spent_allowance(debt_token, admin, permit_owner, operator):
    debt_token.mint(permit_owner, 10 * WAD, {"from": admin})
    deadline = deadline_ahead()
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, s, {"from": operator})
    debt_token.transferFrom(permit_owner, operator, 3 * WAD, {"from": operator})
    with brownie.reverts("token: permit bad signature"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, s, {"from": operator})
    assert debt_token.allowance(permit_owner, operator) == 0
    assert debt_token.nonces(permit_owner) == 1


def test_permit__future_nonce__reverts(debt_token, permit_owner, operator):
    deadline = deadline_ahead()
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 1, deadline)
    with brownie.reverts("token: permit bad signature"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, s, {"from": operator})
    assert debt_token.nonces(permit_owner) == 0


def test_permit__high_s_twin_of_valid_signature__reverts(debt_token, permit_owner, operator):
    deadline = deadline_ahead()
    v, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    s_int = int.from_bytes(s, "big")
    assert s_int <= HALF_N
    # the malleable twin (N - s, flipped v) recovers the same signer
    high_s = (SECP256K1_N - s_int).to_bytes(32, "big")
    high_v = 55 - v
    digest = permit_digest(debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    assert Account._recover_hash(digest, vrs=(high_v, int.from_bytes(r, "big"), SECP256K1_N - s_int)) == permit_owner
    with brownie.reverts("token: permit bad s"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, high_v, r, high_s, {"from": operator})
    assert debt_token.allowance(permit_owner, operator) == 0
    assert debt_token.nonces(permit_owner) == 0


def test_permit__s_exactly_half_order__passes_the_s_check(debt_token, permit_owner, operator):
    # s == N/2 is the largest accepted s; the (garbage) signature then fails recovery instead
    deadline = deadline_ahead()
    v, r, _ = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    with brownie.reverts("token: permit bad signature"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, HALF_N.to_bytes(32, "big"), {"from": operator})
    with brownie.reverts("token: permit bad s"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, v, r, (HALF_N + 1).to_bytes(32, "big"), {"from": operator})


def test_permit__invalid_v__reverts(debt_token, permit_owner, operator):
    deadline = deadline_ahead()
    _, r, s = sign_permit(permit_owner, debt_token, permit_owner, operator, 3 * WAD, 0, deadline)
    with brownie.reverts("token: permit bad signature"):
        debt_token.permit(permit_owner, operator, 3 * WAD, deadline, 0, r, s, {"from": operator})
    assert debt_token.nonces(permit_owner) == 0


def test_permit__zero_owner__reverts(debt_token, operator):
    # an invalid signature recovers the zero address; the zero owner must be refused first
    deadline = deadline_ahead()
    with brownie.reverts("token: permit zero owner"):
        debt_token.permit(ZERO_ADDRESS, operator, 3 * WAD, deadline, 0, b"\x00" * 32, b"\x00" * 32, {"from": operator})
    assert debt_token.allowance(ZERO_ADDRESS, operator) == 0

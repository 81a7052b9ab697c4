"""Fixtures and helpers for tests/adversarial/test_attacks.py (imported by it; the
adversarial conftest only re-exports the unit fixtures).

The attacker is `stranger` (accounts[4]); it deploys the malicious contracts, so it
is their owner. Honest users are `borrower`, `other_borrower`, `operator`, `keeper`.
Every malicious collateral token is listed by the admin on the WETH feed (the admin
is fooled: the tokens look like ordinary ERC-20s), after WETH (1), WBTC (2) and USDC (3).
"""

from __future__ import annotations

import pytest
from brownie.exceptions import VirtualMachineError

from tests.unit.conftest import (
    DEBT_CEILING,
    DUST,
    KEEPER_REWARD,
    LINEAR_CURVE,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_UINT256,
    RAY,
    STABILITY_FEE,
    TYPE_AUCTION_LIMIT,
    WAD,
    ledger_total,
)


# ------------------------------------------------------------------ helpers
EMPTY_REVERT = (None, "", "Unknown typed error: 0x")


def no_reason(call, *args):
    """`call(*args)` reverts with no reason string (Vyper's @nonreentrant lock, an ABI
    bound or a checked-arithmetic failure); returns the VirtualMachineError. (brownie
    reports empty revert data as None for a transaction, "Unknown typed error: 0x" for a call.)"""
    with pytest.raises(VirtualMachineError) as info:
        call(*args)
    assert info.value.revert_msg in EMPTY_REVERT, f"expected no reason, got {info.value.revert_msg!r}"
    return info.value


def encode(method, *args) -> str:
    """ABI calldata of a contract method (hex), for the attack contracts' raw calls."""
    return method.encode_input(*args)


def list_type(engine, token, feed, admin, auction=None, liquidator=None) -> int:
    """List `token` on `feed` with the unit parameters; with the auction and liquidator,
    also give the type a linear curve, its auction dust, an auction cap and keeper reward."""
    collateral_type = engine.add_collateral_type(
        token, feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY, {"from": admin}
    ).return_value
    if auction is not None:
        auction.set_curve(collateral_type, LINEAR_CURVE, {"from": admin})
        auction.update_auction_dust(collateral_type, {"from": admin})
    if liquidator is not None:
        liquidator.set_type_limit(collateral_type, TYPE_AUCTION_LIMIT, {"from": admin})
        liquidator.set_reward(collateral_type, *KEEPER_REWARD, {"from": admin})
    return collateral_type


def ledger(engine, tokens, holders, auction=None, lots=(), house=None, series=()):
    """Every stored number an attack could move: each type's packed words and totals,
    every vault, surplus / bad debt / debt in auction, each token's balance for each
    holder (and the engine, house), debt-token supply, lot books and series books.
    Only stored values: a reverted transaction still mines a block, so anything that
    moves with time (an auction's price, a rate to now) is left out."""
    types = range(1, engine.collateral_type_count() + 1)
    state = {
        "types": tuple(engine.collateral_type_words(t) for t in types),
        "in_auction": tuple((engine.type_collateral_in_auction(t), engine.type_debt_in_auction(t)) for t in types),
        "settled": tuple(engine.type_collateral_settled(t) for t in types),
        "vaults": tuple(engine.vault_position(v) for v in range(1, engine.vault_count() + 1)),
        "system": (engine.surplus(), engine.bad_debt(), engine.debt_in_auction(), engine.settled_debt()),
        "balances": tuple(tuple(token.balanceOf(h) for h in holders) for token in tokens),
        "supplies": tuple(token.totalSupply() for token in tokens),
    }
    if auction is not None:
        state["lots"] = tuple(
            tuple(v for k, v in auction.status(lot).dict().items() if k not in ("price", "needs_reset")) for lot in lots
        )
        state["auction_count"] = auction.auction_count()
    if house is not None:
        state["series"] = tuple(tuple(house.series(s)) for s in series)
    return state


def books_match(engine, token, collateral_type) -> bool:
    """Invariant 1 for one type: what the engine holds of `token` equals the type's
    vault collateral + collateral in auction + tracked dust + settled collateral."""
    scale = 10 ** (18 - token.decimals())
    vaults = sum(
        position[2] for position in (engine.vault_position(v) for v in range(1, engine.vault_count() + 1))
        if position[1] == collateral_type
    )
    held = (vaults + engine.type_collateral_in_auction(collateral_type) + engine.type_collateral_dust(collateral_type)
            + engine.type_collateral_settled(collateral_type))
    return token.balanceOf(engine) * scale == held


def debt_conserved(engine, debt_token) -> bool:
    """Invariant 2, exactly: supply * RAY + surplus == vault debt (every type, stored
    rates) + debt awaiting auction + bad debt + settled debt."""
    return debt_token.totalSupply() * RAY + engine.surplus() == (
        ledger_total(engine) + engine.debt_in_auction() + engine.bad_debt() + engine.settled_debt()
    )


def value(weth_amount: int, kusd_amount: int, price: int) -> int:
    """What `weth_amount` WETH and `kusd_amount` kUSD are worth at `price`, in RAD-like
    units (WAD * WAD) so that no rounding hides a wei."""
    return weth_amount * price + kusd_amount * WAD


# ------------------------------------------------------------------ actors
@pytest.fixture(scope="module")
def attacker(stranger):
    """The attacker: deploys and owns every malicious contract."""
    return stranger


# ------------------------------------------------------------------ a re-entrant collateral token
@pytest.fixture(scope="module")
def rnt_world(ReentrantToken, liquidation_system, engine, debt_token, weth, wbtc, weth_type, wbtc_type, usdc_type,
              weth_feed, admin, attacker, borrower, other_borrower, operator):
    """A ReentrantToken listed as type 4 (curve, cap and reward set), hook off.
    - the token itself is a user: it holds 90 WETH (approved to the engine), 1,000 RNT
      and a WETH vault of its own (10 WETH, 2,000 kUSD debt; it holds the 2,000 kUSD);
    - the attacker holds 1,000 RNT (approved to the engine) and an RNT vault (100 RNT);
    - honest users: the borrower's WETH vault (10 WETH / 5,000 kUSD), the other
      borrower's WBTC vault (1 WBTC / 10,000 kUSD), the operator's WETH vault
      (10 WETH / 5,000 kUSD), who gave 500 kUSD each to the token, the attacker, the
      borrower and the other borrower (so that each can pay fees on top of its debt)."""
    auction, liquidator = liquidation_system["auction"], liquidation_system["liquidator"]
    token = ReentrantToken.deploy({"from": attacker})
    rnt_type = list_type(engine, token, weth_feed, admin, auction, liquidator)
    token.mint(attacker, 1_000 * WAD, {"from": attacker})
    token.approve(engine, MAX_UINT256, {"from": attacker})
    weth.mint(token, 100 * WAD, {"from": attacker})
    token.mint(token, 1_000 * WAD, {"from": attacker})
    token.execute(weth, encode(weth.approve, engine, MAX_UINT256), {"from": attacker})
    token.execute(token, encode(token.approve, engine, MAX_UINT256), {"from": attacker})
    token.execute(engine, encode(engine.open_vault, weth_type, 10 * WAD, 2_000 * WAD), {"from": attacker})
    token_vault = engine.vault_count()
    attacker_vault = engine.open_vault(rnt_type, 100 * WAD, 0, {"from": attacker}).return_value
    honest_weth = engine.open_vault(weth_type, 10 * WAD, 5_000 * WAD, {"from": borrower}).return_value
    honest_wbtc = engine.open_vault(wbtc_type, 10**8, 10_000 * WAD, {"from": other_borrower}).return_value
    engine.open_vault(weth_type, 10 * WAD, 5_000 * WAD, {"from": operator})
    for who in (token, attacker, borrower, other_borrower):
        debt_token.transfer(who, 500 * WAD, {"from": operator})
    return dict(
        liquidation_system, token=token, rnt_type=rnt_type, token_vault=token_vault, attacker_vault=attacker_vault,
        honest_weth=honest_weth, honest_wbtc=honest_wbtc, wbtc=wbtc, wbtc_type=wbtc_type, usdc_type=usdc_type,
    )


# ------------------------------------------------------------------ a flash taker whose callback re-enters
@pytest.fixture(scope="module")
def reentrant_taker(ReentrantTaker, liquidation_system, weth, attacker):
    """A ReentrantTaker on the auction, owned by the attacker, holding 100 WETH
    (approved to the engine); no vault, no debt tokens yet."""
    taker = ReentrantTaker.deploy(liquidation_system["auction"], {"from": attacker})
    weth.mint(taker, 100 * WAD, {"from": attacker})
    taker.execute(weth, encode(weth.approve, liquidation_system["engine"], MAX_UINT256), {"from": attacker})
    return taker

"""Attacks that complement test_attacks.py, using only the shared fixtures and the existing
test doubles (FlashTaker): each pins a behaviour that file leaves open.

- 6: self-liquidation *can* beat repaying -- when the owner's own lot runs uncontested
  below (debt + reward) / lot; the owner's gain is then exactly the bad debt the system
  books, and the curve's cusp is the only bound (pinned as the actual behaviour).
- 7: nothing on-chain ties the keeper reward to the dust floor (`set_reward` takes a flat
  reward above what a dust lot can ever raise).
- 4: naming another keeper's callback contract as the flash-take receiver cannot make it
  pay: the caller always pays.
- 5: the liar-beside-a-silent-reporter attack fails against quorum 3 of 3 (the
  configuration answer to the quorum-2 limit pinned in test_attacks.py); a lot due a reset
  while every reporter is silent waits, untouched, and restarts once they are back.
- 8: 1-wei takes cannot postpone a lot's reset (takes never restart its clock).
"""

import brownie
import pytest

from tests.unit.conftest import (
    CRASH_PRICE,
    DUST,
    FEED_CONFIRM_DELAY,
    FEED_DELAY,
    FEED_MAX_AGE,
    FEED_REPORT_MAX_AGE,
    LINEAR_CURVE,
    MAX_UINT256,
    RAY,
    WAD,
    deploy_price_feed,
    feed_poke,
    feed_report,
    latest_timestamp,
    mine_at,
    mul_div,
    rate_at,
    schedule,
    set_next_timestamp,
)

TOP = mul_div(CRASH_PRICE, LINEAR_CURVE[1], WAD, False)  # a lot's start price after the crash: 1,680
TAU = LINEAR_CURVE[2]
CUSP_AT = 1_800  # seconds after which the linear price is below cusp * top
P = 2_000 * WAD


def linear_price(elapsed):
    return 0 if elapsed >= TAU else TOP * (TAU - elapsed) // TAU


def wealth(s, who):
    """kUSD + WETH valued at the crash price (1,400), WAD; exact (the price is whole kUSD)."""
    return s["debt_token"].balanceOf(who) + s["weth"].balanceOf(who) * (CRASH_PRICE // WAD)


def conserved(s):
    """Invariants 1 and 2 for the WETH type (the only listed type here)."""
    engine = s["engine"]
    stored = engine.collateral_type_words(s["weth_type"])[3] % 2**208  # the rate as stored
    vault_debt = vault_collateral = 0
    for vault_id in range(1, engine.vault_count() + 1):
        _, _, collateral, normalized_debt = engine.vault_position(vault_id)
        vault_debt += normalized_debt * stored
        vault_collateral += collateral
    return (
        s["debt_token"].totalSupply() * RAY + engine.surplus()
        == vault_debt + engine.debt_in_auction() + engine.bad_debt() + engine.settled_debt()
    ) and s["weth"].balanceOf(engine) == (
        vault_collateral + engine.type_collateral_in_auction(s["weth_type"]) + engine.type_collateral_dust(s["weth_type"])
    )


@pytest.fixture(scope="module")
def attacker(accounts):
    return accounts[11]


@pytest.fixture
def sys(liquidation_system, positions, keeper):
    """The liquidation system after the crash: the borrower's vault (`unsafe`, 10 WETH /
    10,000 kUSD) and the other borrower's (`unsafe2`) unsafe; `keeper` is the keeper account
    (positions names the keeper's vault `keeper`: it is `keeper_vault` here)."""
    s = dict(liquidation_system, **positions)
    s["keeper_vault"], s["keeper"] = s["keeper"], keeper
    return s


# ------------------------------------------------------------------ 6. self-liquidation
def test_self_liquidation__uncontested_take_at_the_cusp__beats_repaying_by_exactly_the_bad_debt_booked(sys, borrower):
    """Nobody else bids for 30 minutes: at the cusp (840) the owner buys its 10 WETH for 8,400 and the system books the rest."""
    engine, liquidator, auction = sys["engine"], sys["liquidator"], sys["auction"]
    vault = sys["unsafe"]
    normalized_debt = engine.vault_position(vault)[3]
    start_wealth = wealth(sys, borrower)
    bad_debt_before = engine.bad_debt()
    at = schedule(10)
    # repaying instead, in the same block: pay the debt to now, get the 10 WETH back
    debt = mul_div(normalized_debt, rate_at(engine, sys["weth_type"], at), RAY, True)
    repaid_wealth = start_wealth - debt + 10 * CRASH_PRICE
    tx = liquidator.liquidate(vault, borrower, {"from": borrower})
    reward = tx.events["Liquidated"]["reward"]
    assert tx.events["AuctionStarted"]["debt"] == debt
    price = linear_price(CUSP_AT)  # exactly cusp * top: the lowest price a take is allowed at
    assert price * WAD == LINEAR_CURVE[6] * TOP
    set_next_timestamp(at + CUSP_AT)
    take = auction.take(tx.return_value, 10 * WAD, price, borrower, b"", {"from": borrower})
    assert take.events["Take"]["owe"] == 10 * price and take.events["Take"]["lot"] == 0
    gain = wealth(sys, borrower) - repaid_wealth
    assert gain == debt - 10 * price + reward > 1_600 * WAD
    assert engine.bad_debt() - bad_debt_before == gain * RAY  # the system pays for it, one for one
    assert conserved(sys)


# ------------------------------------------------------------------ 7. reward vs dust
def test_set_reward__flat_reward_above_a_dust_vaults_penalty__accepted_unchecked(liquidation_system, engine, weth,
                                                                                weth_type, weth_feed, admin,
                                                                                attacker, reporter):
    """Nothing ties the reward to dust: a flat 1,000 (the bound) pays 1,000 for a lot whose target is 113."""
    liquidator = liquidation_system["liquidator"]
    weth_feed.set_price(P, {"from": reporter})  # in case the module's crash ran first
    weth.mint(attacker, WAD, {"from": attacker})
    weth.approve(engine, MAX_UINT256, {"from": attacker})
    vault = engine.open_vault(weth_type, WAD // 10, DUST, {"from": attacker}).return_value  # 200 kUSD for 100
    weth_feed.set_price(CRASH_PRICE, {"from": reporter})
    liquidator.set_reward(weth_type, 1_000 * WAD, 0, 1_000 * WAD, {"from": admin})
    bad_debt = engine.bad_debt()
    tx = liquidator.liquidate(vault, attacker, {"from": attacker})
    target = tx.events["AuctionStarted"]["target"]
    assert target < 114 * WAD
    assert tx.events["Liquidated"]["reward"] == 1_000 * WAD > target  # more than the lot can ever raise
    assert engine.bad_debt() - bad_debt == 1_000 * WAD * RAY


# ------------------------------------------------------------------ 4. the flash-take receiver
def test_flash_take__receiver_is_someone_elses_callback__the_caller_pays_never_the_receiver(sys, FlashTaker, admin,
                                                                                          keeper, attacker):
    """Naming another keeper's callback contract as receiver cannot make it pay: the caller is the payer."""
    auction, token, weth = sys["auction"], sys["debt_token"], sys["weth"]
    tx = sys["liquidator"].liquidate(sys["unsafe"], keeper, {"from": keeper})
    victim = FlashTaker.deploy(auction, sys["engine"], {"from": admin})
    token.transfer(victim, 5_000 * WAD, {"from": keeper})  # the victim keeper's float
    status = auction.status(tx.return_value)
    set_next_timestamp(tx.timestamp + 600)
    with brownie.reverts("token: insufficient balance"):
        auction.take(tx.return_value, WAD, MAX_UINT256, victim, b"x", {"from": attacker})
    assert token.balanceOf(victim) == 5_000 * WAD and weth.balanceOf(victim) == 0
    after = auction.status(tx.return_value)
    assert (after["lot"], after["target"]) == (status["lot"], status["target"])
    assert conserved(sys)


# ------------------------------------------------------------------ 8. tiny takes and the reset clock
def test_take__one_wei_takes__cannot_postpone_the_reset_schedule(sys, keeper, attacker):
    """Takes never restart a lot's clock: it is due a reset just after cusp time, 1-wei takes or not."""
    auction = sys["auction"]
    tx = sys["liquidator"].liquidate(sys["unsafe"], keeper, {"from": keeper})
    lot_id, start = tx.return_value, tx.timestamp
    sys["debt_token"].transfer(attacker, 10 * WAD, {"from": keeper})
    for elapsed in (1_700, CUSP_AT):
        set_next_timestamp(start + elapsed)
        auction.take(lot_id, 1, MAX_UINT256, attacker, b"", {"from": attacker})
    assert auction.status(lot_id)["started_at"] == start
    mine_at(start + CUSP_AT + 1)
    assert auction.status(lot_id)["needs_reset"]
    with brownie.reverts("auction: needs reset"):
        auction.take(lot_id, 1, MAX_UINT256, attacker, b"", {"from": attacker})
    tx = auction.reset(lot_id, keeper, {"from": keeper})
    assert auction.status(lot_id)["started_at"] == tx.timestamp


# ------------------------------------------------------------------ 5. reporters
@pytest.fixture
def fed(PriceFeed, liquidation_system, engine, weth_type, weth_feed, admin, keeper, borrower, reporter, accounts):
    """A PriceFeed (quorum 2 of 3) reporting 2,000, current, made the WETH type's oracle; the
    borrower's victim vault 10 WETH / 10,000 kUSD (liquidatable only below 1,500); the
    keeper's 100 WETH / 60,000 kUSD vault. Reporters: honest, second, liar."""
    honest, second, liar = reporter, accounts[7], accounts[8]
    weth_feed.set_price(P, {"from": reporter})  # in case the module's crash ran first
    feed = deploy_price_feed(PriceFeed, admin, [honest, second, liar])
    t0 = latest_timestamp() + 10
    for offset, who in enumerate((honest, second, liar)):
        feed_report(feed, who, P, t0 + offset)
    feed_poke(feed, t0 + 3, keeper)
    feed_poke(feed, t0 + 3 + FEED_DELAY, keeper)
    engine.set_oracle(weth_type, feed, {"from": admin})
    engine.open_vault(weth_type, 100 * WAD, 60_000 * WAD, {"from": keeper})
    victim = engine.open_vault(weth_type, 10 * WAD, 10_000 * WAD, {"from": borrower}).return_value
    return dict(liquidation_system, feed=feed, victim=victim, honest=honest, second=second, liar=liar)


def make_current(feed, at, keeper):
    """Two pokes a delay apart: what is accepted by `at` is current at `at + delay`."""
    feed_poke(feed, at, keeper)
    feed_poke(feed, at + FEED_DELAY, keeper)


def test_report__liar_while_one_reporter_silent_with_quorum_three__nothing_accepted_vault_safe(fed, keeper, admin):
    """Against quorum 3 of 3 a liar beside a silent reporter has two fresh reports: below quorum, nothing moves."""
    feed = fed["feed"]
    feed.set_quorum(3, {"from": admin})
    t1 = latest_timestamp() + FEED_REPORT_MAX_AGE + 100  # the second reporter's report has aged out
    feed_report(feed, fed["honest"], P, t1)
    tx = feed_report(feed, fed["liar"], P // 2, t1 + 1)
    assert "PriceHeld" not in tx.events and "PriceAccepted" not in tx.events
    set_next_timestamp(t1 + 1 + FEED_CONFIRM_DELAY)
    assert "PriceAccepted" not in feed.update({"from": fed["liar"]}).events
    assert feed.latest()[0] == P and tuple(feed.held()) == (0, 0)
    make_current(feed, t1 + 2 + FEED_CONFIRM_DELAY, keeper)
    assert feed.peek()[0] == P
    with brownie.reverts("engine: vault safe"):
        fed["liquidator"].liquidate(fed["victim"], keeper, {"from": keeper})


def test_lot__every_reporter_silent__stale_lot_waits_for_reporters_then_resets_untouched(fed, keeper):
    """A lot due a reset while the feed is stale can be neither taken nor reset; it restarts intact when reports return."""
    feed, auction, liquidator = fed["feed"], fed["auction"], fed["liquidator"]
    crash = 1_400 * WAD
    # an honest 30 % fall: held by the breaker, confirmed by a quorum of later reports
    t1 = latest_timestamp() + FEED_REPORT_MAX_AGE + 100
    for offset, who in enumerate((fed["honest"], fed["second"], fed["liar"])):
        feed_report(feed, who, crash, t1 + offset)
    assert feed_report(feed, fed["honest"], crash, t1 + 3).events["PriceAccepted"]["confirmed_jump"]
    make_current(feed, t1 + 4, keeper)
    lot_id = liquidator.liquidate(fed["victim"], keeper, {"from": keeper}).return_value
    lot = auction.status(lot_id)
    # every reporter silent until the price is stale and the lot past its tail
    mine_at(max(feed.latest()[1] + FEED_MAX_AGE, lot["started_at"] + LINEAR_CURVE[5]) + 1)
    assert not feed.peek()[1] and auction.status(lot_id)["needs_reset"]
    with brownie.reverts("auction: needs reset"):
        auction.take(lot_id, WAD, MAX_UINT256, keeper, b"", {"from": keeper})
    with brownie.reverts("engine: oracle stale"):
        auction.reset(lot_id, keeper, {"from": keeper})
    waiting = auction.status(lot_id)
    assert (waiting["lot"], waiting["target"], waiting["top"], waiting["started_at"]) == (
        lot["lot"], lot["target"], lot["top"], lot["started_at"],
    )
    # the reporters are back: accepted, current a delay later, and the lot restarts from it
    back = latest_timestamp() + 10
    feed_report(feed, fed["honest"], crash, back)
    feed_report(feed, fed["second"], crash, back + 1)
    make_current(feed, back + 2, keeper)
    tx = auction.reset(lot_id, keeper, {"from": keeper})
    after = auction.status(lot_id)
    assert tx.return_value == after["top"] == mul_div(crash, LINEAR_CURVE[1], WAD, False)
    assert (after["lot"], after["target"], after["debt"]) == (lot["lot"], lot["target"], lot["debt"])
    assert conserved(fed)

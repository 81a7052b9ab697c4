"""KeeperTaker: a keeper's capital-free flash take (buy a lot, sell the collateral on a
market in the callback, pay the auction from the proceeds, keep the profit).

Lots come from the shared liquidation fixtures: WETH falls to 1,400, the borrower's vault
(10 WETH / 10,000 kUSD) is liquidated, and its lot starts at 1,680 on the linear curve
(1,400 after 600 s). The WBTC (8 decimals) tests list a curve for WBTC and liquidate a
WBTC vault the same way. The keeper itself holds no kUSD the takes could use: the markets
get their float from it before the take, and its balance is measured around each take.
"""

import brownie
import pytest
from brownie import compile_source
from eth_abi import encode

from tests.unit.conftest import (
    CRASH_PRICE,
    LINEAR_CURVE,
    MAX_UINT256,
    TYPE_AUCTION_LIMIT,
    WAD,
    ZERO_ADDRESS,
    conservation_holds,
    lot_snapshot,
    mul_div,
    set_next_timestamp,
)

ROLE_KEEPER = 1
TOP = mul_div(CRASH_PRICE, LINEAR_CURVE[1], WAD, False)  # WAD: the WETH lot's start price, 1,680
TAU = LINEAR_CURVE[2]  # seconds to zero
ELAPSED = 600  # seconds into the lot when the tests take
PRICE = TOP * (TAU - ELAPSED) // TAU  # WAD: the WETH lot's price then, 1,400
MARKET_FLOAT = 20_000 * WAD  # kUSD each market holds to pay sellers
MISSING_ROLE = "access: missing role"

WBTC_SCALE = 10**10  # WAD per WBTC unit (8 decimals)
WBTC_CRASH = 20_000 * WAD  # WBTC after its drop: 1 WBTC / 15,000 kUSD is then unsafe
WBTC_TOP = mul_div(WBTC_CRASH, LINEAR_CURVE[1], WAD, False)  # 24,000
WBTC_PRICE = WBTC_TOP * (TAU - ELAPSED) // TAU  # 20,000

# a market that can misbehave: pulls `pull_bps` of the units it is offered, pays `pay`
# WAD, reports `claim` WAD, and with `reenter` set calls the taker's sweep from `sell`
TRICK_MARKET_SOURCE = """# pragma version ~=0.4.3
from ethereum.ercs import IERC20

interface ITaker:
    def sweep(token: address, receiver: address, amount: uint256): nonpayable

collateral: public(address)
debt_token: public(address)
pull_bps: public(uint256)
pay: public(uint256)
claim: public(uint256)
reenter: public(address)

@deploy
def __init__(collateral_token: address, debt_token_address: address):
    self.collateral = collateral_token
    self.debt_token = debt_token_address
    self.pull_bps = 10_000

@external
def configure(pull_bps: uint256, pay: uint256, claim: uint256, reenter: address):
    self.pull_bps = pull_bps
    self.pay = pay
    self.claim = claim
    self.reenter = reenter

@external
def sell(amount: uint256) -> uint256:
    if self.reenter != empty(address):
        extcall ITaker(self.reenter).sweep(self.collateral, self, 1)
    assert extcall IERC20(self.collateral).transferFrom(msg.sender, self, amount * self.pull_bps // 10_000), "trick: pull failed"
    assert extcall IERC20(self.debt_token).transfer(msg.sender, self.pay), "trick: pay failed"
    return self.claim
"""

# a stand-in auction (tests of the checks a real auction never reaches): `take` sends
# `amount` of `collateral` (18 decimals) to the receiver, calls it back owing `owe`, burns
# nothing, then (with `fail_after` set) makes that FalseReturnToken refuse transfers;
# `call_back` calls a receiver's callback with any taker, outside any take
STUB_AUCTION_SOURCE = """# pragma version ~=0.4.3
from ethereum.ercs import IERC20

interface ICallee:
    def on_auction_take(taker: address, owe: uint256, collateral: uint256, data: Bytes[1024]): nonpayable

interface IFalseReturnToken:
    def set_failing(on_transfer: bool, on_transfer_from: bool): nonpayable

collateral: public(address)
owe: public(uint256)
fail_after: public(address)

@deploy
def __init__(collateral_token: address, owe: uint256, fail_after: address):
    self.collateral = collateral_token
    self.owe = owe
    self.fail_after = fail_after

@external
def take(auction_id: uint256, amount: uint256, max_price: uint256, receiver: address, data: Bytes[1024]) -> uint256:
    assert extcall IERC20(self.collateral).transfer(receiver, amount), "stub: transfer failed"
    extcall ICallee(receiver).on_auction_take(msg.sender, self.owe, amount, data)
    if self.fail_after != empty(address):
        extcall IFalseReturnToken(self.fail_after).set_failing(True, False)
    return amount

@external
def call_back(receiver: address, taker: address, data: Bytes[1024]):
    extcall ICallee(receiver).on_auction_take(taker, 1, 1, data)
"""

# a collateral token whose approve always answers False (transfers work)
REFUSING_TOKEN_SOURCE = """# pragma version ~=0.4.3
balanceOf: public(HashMap[address, uint256])

@external
def mint(receiver: address, amount: uint256):
    self.balanceOf[receiver] += amount

@external
def transfer(receiver: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[receiver] += amount
    return True

@external
def approve(spender: address, amount: uint256) -> bool:
    return False

@external
@view
def allowance(owner: address, spender: address) -> uint256:
    return 0
"""


def vyper_source(source):
    return compile_source(source, vyper_version="0.4.3", evm_version="prague").Vyper

# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture
def taker(KeeperTaker, liquidation_system, admin, keeper):
    """The keeper's KeeperTaker, owned by admin; the keeper holds ROLE_KEEPER."""
    s = liquidation_system
    contract = KeeperTaker.deploy(s["auction"], s["debt_token"], admin, {"from": admin})
    contract.set_roles(keeper, ROLE_KEEPER, {"from": admin})
    return contract


@pytest.fixture
def market(MockMarket, lot, keeper, admin):
    """A WETH market bidding 1,450 kUSD (50 above the lot's price at 600 s), funded by the keeper."""
    m = MockMarket.deploy(lot["weth"], lot["debt_token"], 18, PRICE + 50 * WAD, {"from": admin})
    lot["debt_token"].transfer(m, MARKET_FLOAT, {"from": keeper})
    return m


@pytest.fixture
def trick_market(lot, keeper, admin):
    """A misbehaving WETH market (TRICK_MARKET_SOURCE), honest-looking until configured."""
    m = vyper_source(TRICK_MARKET_SOURCE).deploy(lot["weth"], lot["debt_token"], {"from": admin})
    lot["debt_token"].transfer(m, MARKET_FLOAT, {"from": keeper})
    return m


@pytest.fixture
def wbtc_lot(liquidation_system, positions, wbtc, wbtc_type, wbtc_feed, borrower, keeper, admin, reporter):
    """The borrower's WBTC vault (1 WBTC / 15,000 kUSD at 30,000) liquidated after WBTC
    falls to 20,000: a lot of 1 WBTC starting at 24,000 (20,000 after 600 s)."""
    s = dict(liquidation_system, **positions)
    auction, liquidator, engine = s["auction"], s["liquidator"], s["engine"]
    auction.set_curve(wbtc_type, LINEAR_CURVE, {"from": admin})
    auction.update_auction_dust(wbtc_type, {"from": admin})
    liquidator.set_type_limit(wbtc_type, TYPE_AUCTION_LIMIT, {"from": admin})
    vault = engine.open_vault(wbtc_type, 10**8, 15_000 * WAD, {"from": borrower}).return_value
    priced = wbtc_feed.set_price(WBTC_CRASH, {"from": reporter})
    # at least 7 s of stability fee, so that the target (debt x penalty) is not a round
    # number (blocks in the same second accrue none, and the lot's figures come out round)
    set_next_timestamp(priced.timestamp + 7)
    tx = liquidator.liquidate(vault, keeper, {"from": keeper})
    s.update(wbtc=wbtc, wbtc_type=wbtc_type, wbtc_vault=vault, auction_id=tx.return_value, start=tx.timestamp)
    return s


@pytest.fixture
def wbtc_market(MockMarket, wbtc_lot, keeper, admin):
    """A WBTC market (8 decimals) bidding 20,500 kUSD per WBTC, funded by the keeper."""
    m = MockMarket.deploy(wbtc_lot["wbtc"], wbtc_lot["debt_token"], 8, WBTC_PRICE + 500 * WAD, {"from": admin})
    wbtc_lot["debt_token"].transfer(m, MARKET_FLOAT, {"from": keeper})
    return m


def at_600(s):
    """The next transaction runs 600 s into the lot (price PRICE for WETH)."""
    set_next_timestamp(s["start"] + ELAPSED)


def flash(taker, s, amount, market, keeper, min_profit=0, max_price=None, token=None, scale=1):
    return taker.flash_take(
        s["auction_id"], amount, PRICE if max_price is None else max_price, market, token or s["weth"], scale,
        min_profit, {"from": keeper},
    )




def conserved(s):
    return conservation_holds(s["engine"], s["debt_token"], s["weth"], s["weth_type"])


# ------------------------------------------------------------------ the profitable take
def test_flash_take__market_bids_above_lot_price__keeper_gets_exactly_proceeds_minus_owe(lot, taker, market, keeper):
    token, weth = lot["debt_token"], lot["weth"]
    status = lot["auction"].status(lot["auction_id"])
    keeper_kusd, keeper_weth = token.balanceOf(keeper), weth.balanceOf(keeper)
    at_600(lot)
    tx = flash(taker, lot, 2 * WAD, market, keeper)
    owe, proceeds = tx.events["Take"]["owe"], tx.events["Sold"]["proceeds"]
    assert (owe, proceeds) == (2 * PRICE, 2 * (PRICE + 50 * WAD))
    assert tx.return_value == (2 * WAD, proceeds - owe)
    assert token.balanceOf(keeper) == keeper_kusd + proceeds - owe == keeper_kusd + 100 * WAD
    assert weth.balanceOf(keeper) == keeper_weth  # the keeper never held the collateral
    assert token.balanceOf(taker) == 0 and weth.balanceOf(taker) == 0
    assert weth.allowance(taker, market) == 0
    assert weth.balanceOf(market) == 2 * WAD and token.balanceOf(market) == MARKET_FLOAT - proceeds
    after = lot["auction"].status(lot["auction_id"])
    assert (after["lot"], after["target"]) == (status["lot"] - 2 * WAD, status["target"] - owe)
    assert conserved(lot)


def test_flash_take__profitable__emits_flash_taken_with_the_take_figures(lot, taker, market, keeper):
    at_600(lot)
    tx = flash(taker, lot, 2 * WAD, market, keeper)
    take = tx.events["Take"]
    assert (take["taker"], take["receiver"]) == (taker.address, taker.address)
    assert tx.events["Sold"]["seller"] == taker.address
    assert [e.address for e in tx.events if e.name == "FlashTaken"] == [taker.address]
    assert dict(tx.events["FlashTaken"]) == {
        "auction_id": lot["auction_id"],
        "keeper": keeper.address,
        "market": market.address,
        "bought": 2 * WAD,
        "owe": 2 * PRICE,
        "proceeds": 2 * (PRICE + 50 * WAD),
        "profit": 100 * WAD,
    }


def test_flash_take__market_bids_the_lot_price__succeeds_with_zero_profit_and_no_payout(
    lot, taker, market, keeper, admin
):
    market.set_price(PRICE, {"from": admin})
    keeper_kusd = lot["debt_token"].balanceOf(keeper)
    at_600(lot)
    tx = flash(taker, lot, WAD, market, keeper)
    assert tx.return_value == (WAD, 0)
    assert tx.events["FlashTaken"]["profit"] == 0
    assert lot["debt_token"].balanceOf(keeper) == keeper_kusd
    assert lot["debt_token"].balanceOf(taker) == 0


def test_flash_take__min_profit_equal_to_profit__succeeds(lot, taker, market, keeper):
    at_600(lot)
    tx = flash(taker, lot, 2 * WAD, market, keeper, min_profit=100 * WAD)
    assert tx.return_value == (2 * WAD, 100 * WAD)


def test_flash_take__min_profit_above_profit__reverts_and_changes_nothing(lot, taker, market, keeper):
    before = lot_snapshot(lot, keeper, taker, market)
    at_600(lot)
    with brownie.reverts("taker: below min profit"):
        flash(taker, lot, 2 * WAD, market, keeper, min_profit=100 * WAD + 1)
    assert lot_snapshot(lot, keeper, taker, market) == before
    assert conserved(lot)


def test_flash_take__market_bids_below_lot_price__reverts_sale_below_owe(lot, taker, market, keeper, admin):
    market.set_price(PRICE - 1, {"from": admin})
    before = lot_snapshot(lot, keeper, taker, market)
    at_600(lot)
    with brownie.reverts("taker: sale below owe"):
        flash(taker, lot, 2 * WAD, market, keeper)
    assert lot_snapshot(lot, keeper, taker, market) == before


def test_flash_take__max_price_below_lot_price__reverts_with_the_auctions_reason(lot, taker, market, keeper):
    before = lot_snapshot(lot, keeper, taker, market)
    at_600(lot)
    with brownie.reverts("auction: price above max"):
        flash(taker, lot, 2 * WAD, market, keeper, max_price=PRICE - 1)
    assert lot_snapshot(lot, keeper, taker, market) == before


def test_flash_take__zero_token_scale__reverts(lot, taker, market, keeper):
    at_600(lot)
    with brownie.reverts("taker: zero token scale"):
        flash(taker, lot, WAD, market, keeper, scale=0)


def test_flash_take__second_take_on_the_same_lot__works_again(lot, taker, market, keeper):
    """The one-callback flag is used up by each take and set again by the next."""
    at_600(lot)
    flash(taker, lot, WAD, market, keeper)
    tx = flash(taker, lot, WAD, market, keeper, max_price=MAX_UINT256)
    assert tx.return_value[0] == WAD and tx.events["FlashTaken"]["profit"] > 0
    assert lot["debt_token"].balanceOf(taker) == 0 and lot["weth"].balanceOf(taker) == 0


# ------------------------------------------------------------------ who may call
def test_flash_take__stranger_without_role__reverts_missing_role(lot, taker, market, stranger):
    before = lot_snapshot(lot, stranger, taker, market)
    at_600(lot)
    with brownie.reverts(MISSING_ROLE):
        flash(taker, lot, WAD, market, stranger)
    assert lot_snapshot(lot, stranger, taker, market) == before


def test_flash_take__keeper_role_revoked__reverts_missing_role(lot, taker, market, keeper, admin):
    taker.set_roles(keeper, 0, {"from": admin})
    at_600(lot)
    with brownie.reverts(MISSING_ROLE):
        flash(taker, lot, WAD, market, keeper)


def test_sweep__stranger_without_role__reverts_missing_role(lot, taker, keeper, stranger):
    lot["weth"].transfer(taker, WAD, {"from": keeper})
    with brownie.reverts(MISSING_ROLE):
        taker.sweep(lot["weth"], stranger, WAD, {"from": stranger})
    assert lot["weth"].balanceOf(taker) == WAD


def test_auction_take__stranger_names_the_taker_as_receiver__refused_not_our_take(lot, taker, market, stranger):
    """A stranger's flash take with this contract as receiver would have it sell for the
    stranger (who pays): refused before anything is sold."""
    data = encode(["address", "address", "uint256"], [market.address, lot["weth"].address, 1])
    before = lot_snapshot(lot, stranger, taker, market)
    at_600(lot)
    with brownie.reverts("taker: not our take"):
        lot["auction"].take(lot["auction_id"], WAD, MAX_UINT256, taker, data, {"from": stranger})
    assert lot_snapshot(lot, stranger, taker, market) == before


def test_on_auction_take__called_by_stranger__reverts_not_the_auction(lot, taker, market, stranger):
    data = encode(["address", "address", "uint256"], [market.address, lot["weth"].address, 1])
    with brownie.reverts("taker: not the auction"):
        taker.on_auction_take(taker, 1, WAD, data, {"from": stranger})


def test_sweep__market_reenters_during_a_take__refused_by_the_lock(lot, taker, trick_market, keeper, admin):
    """Even a market holding ROLE_KEEPER cannot sweep while a flash take runs (the taker
    then holds the collateral, so the sweep of 1 wei would otherwise succeed)."""
    taker.set_roles(trick_market, ROLE_KEEPER, {"from": admin})
    trick_market.configure(10_000, 2 * PRICE + WAD, 2 * PRICE + WAD, taker, {"from": admin})
    before = lot_snapshot(lot, keeper, taker, trick_market)
    at_600(lot)
    with pytest.raises(brownie.exceptions.VirtualMachineError) as error:
        flash(taker, lot, 2 * WAD, trick_market, keeper)
    assert error.value.revert_msg is None  # the lock has no reason; every other check on this path has one
    assert lot_snapshot(lot, keeper, taker, trick_market) == before
    # the same market, not re-entering, completes the take: the lock was the refusal
    trick_market.configure(10_000, 2 * PRICE + WAD, 2 * PRICE + WAD, ZERO_ADDRESS, {"from": admin})
    tx = flash(taker, lot, 2 * WAD, trick_market, keeper, max_price=MAX_UINT256)
    assert tx.events["FlashTaken"]["profit"] > 0


# ------------------------------------------------------------------ markets that misbehave
def test_flash_take__market_reports_more_than_it_pays__reverts_before_spending_the_contracts_kusd(
    lot, taker, trick_market, keeper, admin
):
    """A market claiming the owe but paying nothing: the auction would burn kUSD the
    contract happened to hold; the balance check refuses."""
    lot["debt_token"].transfer(taker, 5_000 * WAD, {"from": keeper})  # stray kUSD in the taker
    trick_market.configure(10_000, 0, 2 * PRICE, ZERO_ADDRESS, {"from": admin})
    before = lot_snapshot(lot, keeper, taker, trick_market)
    at_600(lot)
    with brownie.reverts("taker: paid from its own balance"):
        flash(taker, lot, 2 * WAD, trick_market, keeper)
    assert lot_snapshot(lot, keeper, taker, trick_market) == before
    assert lot["debt_token"].balanceOf(taker) == 5_000 * WAD


def test_flash_take__market_takes_half_the_collateral__leftover_stays_allowance_cleared_and_sweepable(
    lot, taker, trick_market, keeper, admin
):
    weth, token = lot["weth"], lot["debt_token"]
    trick_market.configure(5_000, 2 * PRICE + 30 * WAD, 2 * PRICE + 30 * WAD, ZERO_ADDRESS, {"from": admin})
    keeper_kusd, keeper_weth = token.balanceOf(keeper), weth.balanceOf(keeper)
    at_600(lot)
    tx = flash(taker, lot, 2 * WAD, trick_market, keeper)
    assert tx.return_value == (2 * WAD, 30 * WAD)
    assert token.balanceOf(keeper) == keeper_kusd + 30 * WAD
    assert weth.balanceOf(trick_market) == WAD and weth.balanceOf(taker) == WAD  # what the market left
    assert weth.allowance(taker, trick_market) == 0
    assert token.balanceOf(taker) == 0
    tx = taker.sweep(weth, keeper, WAD, {"from": keeper})
    assert dict(tx.events["Swept"]) == {"token": weth.address, "receiver": keeper.address, "amount": WAD}
    assert weth.balanceOf(taker) == 0 and weth.balanceOf(keeper) == keeper_weth + WAD


def test_sweep__zero_receiver__reverts(lot, taker, keeper):
    lot["weth"].transfer(taker, WAD, {"from": keeper})
    with brownie.reverts("taker: zero receiver"):
        taker.sweep(lot["weth"], ZERO_ADDRESS, WAD, {"from": keeper})



def test_sweep__token_answers_false__reverts_transfer_failed(FalseReturnToken, taker, keeper, admin):
    frt = FalseReturnToken.deploy({"from": admin})
    frt.mint(taker, WAD, {"from": admin})
    frt.set_failing(True, False, {"from": admin})
    with brownie.reverts("taker: transfer failed"):
        taker.sweep(frt, keeper, WAD, {"from": keeper})
    assert frt.balanceOf(taker) == WAD


# ------------------------------------------------------------------ checks a real auction never reaches
@pytest.fixture
def frt(FalseReturnToken, admin):
    return FalseReturnToken.deploy({"from": admin})


def test_on_auction_take__auction_calls_back_outside_a_flash_take__reverts_no_flash_take_running(
    KeeperTaker, frt, weth, admin, stranger
):
    """An auction (buggy, or a lying stand-in) calling back with taker = this contract while
    no flash take runs: the one-callback flag refuses."""
    auction = vyper_source(STUB_AUCTION_SOURCE).deploy(weth, 0, ZERO_ADDRESS, {"from": admin})
    taker = KeeperTaker.deploy(auction, frt, admin, {"from": admin})
    data = encode(["address", "address", "uint256"], [stranger.address, weth.address, 1])
    with brownie.reverts("taker: no flash take running"):
        auction.call_back(taker, taker, data, {"from": stranger})


def test_flash_take__collateral_refuses_approve__reverts_approve_failed(KeeperTaker, MockMarket, frt, admin, keeper):
    token = vyper_source(REFUSING_TOKEN_SOURCE).deploy({"from": admin})
    auction = vyper_source(STUB_AUCTION_SOURCE).deploy(token, WAD, ZERO_ADDRESS, {"from": admin})
    token.mint(auction, 10 * WAD, {"from": admin})
    market = MockMarket.deploy(token, frt, 18, 2 * WAD, {"from": admin})
    taker = KeeperTaker.deploy(auction, frt, admin, {"from": admin})
    taker.set_roles(keeper, ROLE_KEEPER, {"from": admin})
    with brownie.reverts("taker: approve failed"):
        taker.flash_take(1, WAD, WAD, market, token, 1, 0, {"from": keeper})
    assert token.balanceOf(auction) == 10 * WAD


def test_flash_take__debt_token_refuses_the_profit_transfer__reverts_profit_transfer_failed(
    KeeperTaker, MockMarket, frt, weth, admin, keeper
):
    """The stand-in auction lets the sale through, then has the debt token (a
    FalseReturnToken) answer False: the profit payout's return value is checked."""
    auction = vyper_source(STUB_AUCTION_SOURCE).deploy(weth, WAD, frt, {"from": admin})
    weth.mint(auction, 10 * WAD, {"from": admin})
    market = MockMarket.deploy(weth, frt, 18, 2 * WAD, {"from": admin})
    frt.mint(market, 100 * WAD, {"from": admin})
    taker = KeeperTaker.deploy(auction, frt, admin, {"from": admin})
    taker.set_roles(keeper, ROLE_KEEPER, {"from": admin})
    with brownie.reverts("taker: profit transfer failed"):
        taker.flash_take(1, WAD, WAD, market, weth, 1, 0, {"from": keeper})
    assert frt.balanceOf(keeper) == 0 and frt.balanceOf(market) == 100 * WAD

# ------------------------------------------------------------------ an 8-decimal collateral
def test_flash_take__wbtc_amount_whole_units__sells_bought_over_scale_units_and_pays_the_profit(
    wbtc_lot, taker, wbtc_market, keeper
):
    s, wbtc, token = wbtc_lot, wbtc_lot["wbtc"], wbtc_lot["debt_token"]
    keeper_kusd = token.balanceOf(keeper)
    dust = s["engine"].type_collateral_dust(s["wbtc_type"])
    set_next_timestamp(s["start"] + ELAPSED)
    tx = taker.flash_take(s["auction_id"], WAD // 2, WBTC_PRICE, wbtc_market, wbtc, WBTC_SCALE, 0, {"from": keeper})
    assert tx.events["Take"]["owe"] == 10_000 * WAD
    assert tx.events["Sold"]["amount"] == 5 * 10**7  # 0.5 WBTC in units
    assert tx.return_value == (WAD // 2, 250 * WAD)  # 0.5 * (20,500 - 20,000)
    assert token.balanceOf(keeper) == keeper_kusd + 250 * WAD
    assert wbtc.balanceOf(taker) == 0 and token.balanceOf(taker) == 0
    assert wbtc.balanceOf(wbtc_market) == 5 * 10**7
    assert s["engine"].type_collateral_dust(s["wbtc_type"]) == dust  # nothing rounded off


def test_flash_take__wbtc_take_cut_to_the_target__fraction_of_a_unit_paid_for_but_left_as_engine_dust(
    wbtc_lot, taker, wbtc_market, keeper
):
    """Asking for the whole lot, the auction cuts `bought` to what the target needs, which
    is not a whole number of WBTC units: the engine pays bought // 10**10 units and keeps the
    rest as dust, yet the take owes the price of all of `bought` (the keeper's cost of a
    fraction of a unit, under 1e-8 WBTC)."""
    s, wbtc, token, engine = wbtc_lot, wbtc_lot["wbtc"], wbtc_lot["debt_token"], wbtc_lot["engine"]
    keeper_kusd = token.balanceOf(keeper)
    dust = engine.type_collateral_dust(s["wbtc_type"])
    target = s["auction"].status(s["auction_id"])["target"]
    set_next_timestamp(s["start"] + ELAPSED)
    tx = taker.flash_take(s["auction_id"], WAD, WBTC_PRICE, wbtc_market, wbtc, WBTC_SCALE, 0, {"from": keeper})
    take = tx.events["Take"]
    bought, owe = take["collateral"], take["owe"]
    assert owe == target and bought == mul_div(target, WAD, WBTC_PRICE, True) < WAD
    assert bought % WBTC_SCALE != 0  # the premise: a fraction of a unit
    units = bought // WBTC_SCALE
    assert tx.events["Sold"]["amount"] == units
    proceeds = wbtc_market.quote(units)
    assert tx.return_value == (bought, proceeds - owe)
    assert token.balanceOf(keeper) == keeper_kusd + proceeds - owe
    assert engine.type_collateral_dust(s["wbtc_type"]) == dust + bought % WBTC_SCALE
    assert wbtc.balanceOf(taker) == 0 and token.balanceOf(taker) == 0
    assert not s["auction"].status(s["auction_id"])["active"]  # the target met, the lot ended


# ------------------------------------------------------------------ MockMarket.quote
@pytest.mark.parametrize("amount", [0, 1, 10**7 + 3, 5 * 10**7])
def test_quote__any_amount__equals_what_sell_pays(wbtc_lot, wbtc_market, keeper, amount):
    wbtc = wbtc_lot["wbtc"]
    wbtc.mint(keeper, amount, {"from": keeper})
    wbtc.approve(wbtc_market, amount, {"from": keeper})
    quoted = wbtc_market.quote(amount)
    assert quoted == amount * (WBTC_PRICE + 500 * WAD) // 10**8
    assert wbtc_market.sell(amount, {"from": keeper}).return_value == quoted


# ------------------------------------------------------------------ deploy and ownership
@pytest.mark.parametrize("which,message", [
    (0, "taker: zero address"),
    (1, "taker: zero address"),
    (2, "access: zero owner"),
])
def test_deploy__a_zero_address__reverts(KeeperTaker, liquidation_system, admin, which, message):
    args = [liquidation_system["auction"], liquidation_system["debt_token"], admin]
    args[which] = ZERO_ADDRESS
    with brownie.reverts(message):
        KeeperTaker.deploy(*args, {"from": admin})


def test_deploy__addresses__kept_as_immutables(taker, liquidation_system, admin):
    assert taker.auction() == liquidation_system["auction"].address
    assert taker.debt_token() == liquidation_system["debt_token"].address
    assert taker.owner() == admin.address and taker.pending_owner() == ZERO_ADDRESS


def test_transfer_ownership__two_steps__new_owner_grants_the_keeper_role(lot, taker, market, admin, keeper, stranger,
                                                                         borrower):
    with brownie.reverts("access: not owner"):
        taker.transfer_ownership(stranger, {"from": stranger})
    taker.transfer_ownership(borrower, {"from": admin})
    assert taker.owner() == admin.address and taker.pending_owner() == borrower.address
    with brownie.reverts("access: not pending owner"):
        taker.accept_ownership({"from": stranger})
    tx = taker.accept_ownership({"from": borrower})
    assert tx.events["OwnershipTransferred"]["previous_owner"] == admin.address
    assert taker.owner() == borrower.address and taker.pending_owner() == ZERO_ADDRESS
    with brownie.reverts("access: not owner"):
        taker.set_roles(stranger, ROLE_KEEPER, {"from": admin})
    taker.set_roles(stranger, ROLE_KEEPER, {"from": borrower})
    assert taker.roles(stranger) == ROLE_KEEPER
    stranger_kusd = lot["debt_token"].balanceOf(stranger)
    at_600(lot)
    flash(taker, lot, WAD, market, stranger)
    assert lot["debt_token"].balanceOf(stranger) == stranger_kusd + 50 * WAD

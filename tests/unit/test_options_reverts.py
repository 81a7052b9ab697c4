"""The rarer reverts of the options layer: zero addresses at deployment, a collateral token
that answers `false`, positions at their bounds, liquidations out of their conditions."""

import brownie
import pytest
from brownie import compile_source

from tests.unit.conftest import (
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_UINT256,
    STABILITY_FEE,
    WAD,
    ZERO_ADDRESS,
    latest_timestamp,
    set_next_timestamp,
)

# test double: an ERC-20 whose transfers answer false once `refusing` is set (and move nothing)
FALSE_TOKEN_SOURCE = """# pragma version ~=0.4.3
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
decimals: public(uint8)
symbol: public(String[8])
refusing: public(bool)

@deploy
def __init__():
    self.decimals = 18
    self.symbol = "FALSE"

@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount

@external
def refuse(flag: bool):
    self.refusing = flag

@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True

@external
def transfer(to: address, amount: uint256) -> bool:
    if self.refusing:
        return False
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    return True

@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    if self.refusing:
        return False
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    return True
"""


@pytest.fixture(scope="module")
def writer(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def false_type(options, weth_feed, admin):
    """A collateral type whose token answers false when told to (listed while it still works)."""
    token = compile_source(FALSE_TOKEN_SOURCE, vyper_version="0.4.3", evm_version="prague").Vyper.deploy({"from": admin})
    type_id = options["engine"].add_collateral_type(
        token, weth_feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY, {"from": admin},
    ).return_value
    return type_id, token


def test_deploy__zero_address__house_and_margin_revert(OptionsHouse, PortfolioMargin, options, admin):
    o = options
    for args in ((ZERO_ADDRESS, o["debt_token"], o["template"]), (o["engine"], ZERO_ADDRESS, o["template"]),
                 (o["engine"], o["debt_token"], ZERO_ADDRESS)):
        with brownie.reverts("options: zero address"):
            OptionsHouse.deploy(*args, admin, {"from": admin})
    for index in range(4):
        args = [o["engine"], o["house"], o["debt_token"], o["pricer"]]
        args[index] = ZERO_ADDRESS
        with brownie.reverts("margin: zero address"):
            PortfolioMargin.deploy(*args, admin, {"from": admin})


def test_write__token_answers_false__house_and_margin_refuse_and_nothing_moves(options, false_type, writer, admin):
    """A collateral token that answers false instead of reverting: the house does not mint
    options against it, the margin module opens no account with it."""
    type_id, token = false_type
    house, margin = options["house"], options["margin"]
    expiry = options["expiry"]
    series = house.create_series(type_id, 2_000 * WAD, expiry, True, {"from": writer}).return_value
    token.mint(writer, 10 * WAD, {"from": writer})
    token.approve(house, MAX_UINT256, {"from": writer})
    token.approve(margin, MAX_UINT256, {"from": writer})
    token.refuse(True, {"from": writer})
    with brownie.reverts("options: token transfer failed"):
        house.write(series, WAD, writer, {"from": writer})
    with brownie.reverts("margin: token transfer failed"):
        margin.open_account(type_id, WAD, {"from": writer})
    assert token.balanceOf(writer) == 10 * WAD
    assert house.series(series)["supply"] == 0


def test_margin_write__to_zero_address__token_refuses(options, writer):
    margin, weth = options["margin"], options["weth"]
    weth.mint(writer, 10 * WAD, {"from": writer})
    weth.approve(margin, MAX_UINT256, {"from": writer})
    vault = margin.open_account(options["weth_type"], 10 * WAD, {"from": writer}).return_value
    with brownie.reverts("option: mint to zero address"):
        margin.write(vault, options["series"][(2_400, True)], WAD, ZERO_ADDRESS, {"from": writer})
    with brownie.reverts("margin: zero amount"):
        margin.write(vault, options["series"][(2_400, True)], 0, writer, {"from": writer})
    assert margin.account(vault)[1] == 0


def test_deposit_long__beyond_95_bits__reverts(options, option_token, writer):
    """A position is kept in 95 bits: 2**95 WAD options (4e10) is refused."""
    house, margin, weth = options["house"], options["margin"], options["weth"]
    series = options["series"][(2_400, True)]
    amount = 2**95
    weth.mint(writer, amount + 10 * WAD, {"from": writer})
    weth.approve(house, MAX_UINT256, {"from": writer})
    weth.approve(margin, MAX_UINT256, {"from": writer})
    house.write(series, amount, writer, {"from": writer})
    option_token(series).approve(margin, MAX_UINT256, {"from": writer})
    vault = margin.open_account(options["weth_type"], 10 * WAD, {"from": writer}).return_value
    margin.deposit_long(vault, series, amount - 1, {"from": writer})
    with brownie.reverts("margin: position too large"):
        margin.deposit_long(vault, series, 1, {"from": writer})
    assert margin.positions(vault)[0][3] == amount - 1


@pytest.fixture
def underwater(options, writer, reporter):
    """A margin account of 10 WETH that wrote 10 puts at 2,000 and borrowed 6,000 kUSD, with
    WETH then at 1,300: below maintenance, its liquidation ramp started."""
    margin, weth, feed = options["margin"], options["weth"], options["feed"]
    weth.mint(writer, 10 * WAD, {"from": writer})
    weth.approve(margin, MAX_UINT256, {"from": writer})
    vault = margin.open_account(options["weth_type"], 10 * WAD, {"from": writer}).return_value
    put = options["series"][(2_000, False)]
    margin.write(vault, put, 4 * WAD, writer, {"from": writer})
    margin.borrow(vault, 6_000 * WAD, writer, {"from": writer})
    feed.set_price(1_300 * WAD, {"from": reporter})
    assert not margin.health(vault)[4]
    margin.start_liquidation(vault, {"from": reporter})
    return vault, put


def test_liquidate_debt__more_than_the_debt__repays_all_and_pulls_only_the_debt(options, underwater, keeper, admin):
    """The debt read a block before grows by a second's fees until the transaction is mined:
    an amount above the debt (max_value) repays all of it, whatever accrued."""
    vault, _ = underwater
    margin, token = options["margin"], options["debt_token"]
    token.mint(keeper, 100_000 * WAD, {"from": admin})
    token.approve(margin, MAX_UINT256, {"from": keeper})
    read = margin.health(vault)[1]
    held = token.balanceOf(keeper)
    tx = margin.liquidate_debt(vault, MAX_UINT256, keeper, {"from": keeper})
    repaid = tx.events["DebtLiquidated"]["repaid"]
    assert repaid >= read  # the debt as mined: fees since the read included
    assert held - token.balanceOf(keeper) == repaid
    assert margin.health(vault)[1] == 0
    assert tx.return_value == tx.events["DebtLiquidated"]["collateral"] > 0


def test_liquidate_debt__zero_amount__reverts(options, underwater, keeper):
    vault, _ = underwater
    with brownie.reverts("margin: zero amount"):
        options["margin"].liquidate_debt(vault, 0, keeper, {"from": keeper})


def test_liquidate_debt__account_without_debt__reverts(options, writer, reporter, keeper, admin):
    """An account under its maintenance with options only: its shorts are what to take over."""
    margin, weth, feed, token = options["margin"], options["weth"], options["feed"], options["debt_token"]
    weth.mint(writer, 10 * WAD, {"from": writer})
    weth.approve(margin, MAX_UINT256, {"from": writer})
    vault = margin.open_account(options["weth_type"], 10 * WAD, {"from": writer}).return_value
    put = options["series"][(2_000, False)]
    margin.write(vault, put, 20 * WAD, writer, {"from": writer})  # 20 puts at 2,000 on 10 WETH, no loan
    feed.set_price(1_500 * WAD, {"from": reporter})
    assert not margin.health(vault)[4] and margin.health(vault)[1] == 0
    margin.start_liquidation(vault, {"from": keeper})
    token.mint(keeper, 1_000 * WAD, {"from": admin})
    token.approve(margin, MAX_UINT256, {"from": keeper})
    with brownie.reverts("margin: no debt"):
        margin.liquidate_debt(vault, MAX_UINT256, keeper, {"from": keeper})


def test_liquidate__series_expired__reverts_settle_it(options, underwater, keeper, reporter):
    vault, put = underwater
    set_next_timestamp(options["expiry"] + 10)
    options["feed"].set_price(1_300 * WAD, {"from": reporter})
    with brownie.reverts("margin: series expired: settle it"):
        options["margin"].liquidate(vault, put, WAD, keeper, {"from": keeper})


@pytest.fixture
def hedged(options, option_token, writer, keeper, reporter, admin):
    """10 WETH writing as many puts at 2,000 as it may, holding a put and a call at 2,400,
    owing 200 kUSD;
    WETH then at 1,500: below maintenance (the short puts), its ramp started."""
    house, margin, weth, token = options["house"], options["margin"], options["weth"], options["debt_token"]
    token.mint(keeper, 1_000_000 * WAD, {"from": admin})
    token.approve(house, MAX_UINT256, {"from": keeper})
    token.approve(margin, MAX_UINT256, {"from": keeper})
    weth.mint(writer, 10 * WAD, {"from": writer})
    weth.approve(margin, MAX_UINT256, {"from": writer})
    weth.mint(keeper, WAD, {"from": keeper})  # the covered call the keeper writes
    weth.approve(house, MAX_UINT256, {"from": keeper})
    vault = margin.open_account(options["weth_type"], 10 * WAD, {"from": writer}).return_value
    longs = options["series"][(2_400, False)], options["series"][(2_400, True)]
    for series in longs:
        house.write(series, WAD, writer, {"from": keeper})
        option_token(series).approve(margin, MAX_UINT256, {"from": writer})
        margin.deposit_long(vault, series, WAD, {"from": writer})
    margin.borrow(vault, 200 * WAD, writer, {"from": writer})
    short = options["series"][(2_000, False)]
    low, high = 0, 100
    while high - low > 1:  # the most puts (whole) the initial margin allows
        mid = (low + high) // 2
        try:
            margin.write.call(vault, short, mid * WAD, writer, {"from": writer})
            low = mid
        except brownie.exceptions.VirtualMachineError:
            high = mid
    margin.write(vault, short, low * WAD, writer, {"from": writer})
    at = latest_timestamp() + 10
    set_next_timestamp(at)
    options["feed"].set_price(1_500 * WAD, {"from": reporter})
    assert not margin.health(vault)[4]
    margin.start_liquidation(vault, {"from": keeper})
    return vault, longs, at


def test_liquidate__long_worth_more_than_the_debt__reverts(options, hedged, keeper, reporter):
    """Taking over a long pays toward the account's debt, never beyond it: the 2,400 put is
    worth about 900 kUSD against a debt of 200."""
    vault, (itm, _), at = hedged
    with brownie.reverts("margin: long worth more than the debt"):
        options["margin"].liquidate(vault, itm, WAD, keeper, {"from": keeper})


def test_liquidate__long_worth_nothing__reverts(options, hedged, keeper, reporter):
    """An hour before expiry the 2,400 call, 60 % out of the money at 1,500, is worth nothing
    to 18 decimals: nobody may take it for nothing."""
    vault, (_, otm), at = hedged
    set_next_timestamp(options["expiry"] - 3_600)
    options["feed"].set_price(1_500 * WAD, {"from": reporter})
    assert options["pricer"].black_scholes(1_500 * WAD, 2_400 * WAD, WAD // 2, 3_600, True) == 0
    with brownie.reverts("margin: long worth nothing"):
        options["margin"].liquidate(vault, otm, WAD, keeper, {"from": keeper})

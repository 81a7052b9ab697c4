"""OptionsHouse: permissionless series listing (CREATE2 proxies, every refusal), fully
collateralised writing (covered calls, cash-secured puts) and closing, settlement from the
oracle (fresh price in the window, last price after it, the strike when there is none:
funds are never locked), redemption for holders and release for writers, and the backing
property (DESIGN invariants 1 and 6) over random writers, holders, strikes and prices."""

import random

import brownie
import pytest
from brownie import compile_source
from brownie.test import given, strategy
from eth_abi import encode
from eth_utils import keccak
from hypothesis import strategies as st

from tests.unit.conftest import (
    DAY,
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    MAX_UINT256,
    STABILITY_FEE,
    WAD,
    ZERO_ADDRESS,
    latest_timestamp,
    mul_div,
    next_expiry,
    set_next_timestamp,
)

SETTLED_BY_ORACLE, SETTLED_BY_LAST_PRICE, SETTLED_AT_STRIKE = 1, 2, 3
WINDOW = DAY  # SETTLEMENT_WINDOW
MAX_EXPIRY_AHEAD = 2 * 365 * DAY
STRIKE_TICK = 10**16
MAX_STRIKE = 2**96 - 1
PROXY_HEAD = bytes.fromhex("602d3d8160093d39f3363d3d373d3d3d363d73")
PROXY_TAIL = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
RUNTIME_HEAD = bytes.fromhex("363d3d373d3d3d363d73")
FUNDS = 10**9 * WAD  # what each writer holds of WETH and of kUSD

FIELDS = (
    "series_id", "token", "collateral_type", "is_call", "strike", "expiry", "settled", "settlement_price",
    "settlement_mode", "payoff", "written", "margin_written", "funds", "supply",
)


# ------------------------------------------------------------------ Python references
def call_payoff(price: int, strike: int, roundup: bool = False) -> int:
    """Underlying (WAD) per option: (S - K) / S, 0 out of the money."""
    return 0 if price <= strike else mul_div(price - strike, WAD, price, roundup)


def put_payoff(price: int, strike: int) -> int:
    return max(strike - price, 0)


def payoff(is_call: bool, price: int, strike: int, roundup: bool = False) -> int:
    return call_payoff(price, strike, roundup) if is_call else put_payoff(price, strike)


def predicted_token(house, template, collateral_type, strike, expiry, is_call) -> str:
    salt = keccak(encode(["uint256", "uint256", "uint256", "bool"], [collateral_type, strike, expiry, is_call]))
    init_code = PROXY_HEAD + bytes.fromhex(template.address[2:]) + PROXY_TAIL
    digest = keccak(b"\xff" + bytes.fromhex(house.address[2:]) + salt + keccak(init_code))
    return brownie.web3.to_checksum_address(digest[12:])


def info(house, series_id) -> dict:
    return dict(zip(FIELDS, house.series(series_id)))


def emitted(tx, name, address):
    return [event for event in tx.events[name] if event.address == address] if name in tx.events else []


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def writer(borrower):
    return borrower


@pytest.fixture(scope="module")
def other_writer(other_borrower):
    return other_borrower


@pytest.fixture(scope="module")
def holder(stranger):
    return stranger


@pytest.fixture(scope="module")
def other_holder(operator):
    return operator


@pytest.fixture(scope="module")
def house(options):
    return options["house"]


@pytest.fixture(scope="module")
def kusd(options):
    return options["debt_token"]


@pytest.fixture(scope="module")
def feed(options):
    return options["feed"]


@pytest.fixture(scope="module")
def expiry(options):
    return options["expiry"]


@pytest.fixture(scope="module")
def call_id(options):
    return options["series"][(2_000, True)]


@pytest.fixture(scope="module")
def put_id(options):
    return options["series"][(2_000, False)]


@pytest.fixture(scope="module")
def writers(options, house, weth, kusd, admin, writer, other_writer, keeper):
    """writer, other_writer and keeper each hold FUNDS of WETH and kUSD, approved to the house."""
    for who in (writer, other_writer, keeper):
        weth.mint(who, FUNDS, {"from": who})
        weth.approve(house, MAX_UINT256, {"from": who})
        kusd.mint(who, FUNDS, {"from": admin})
        kusd.approve(house, MAX_UINT256, {"from": who})
    return [writer, other_writer, keeper]


@pytest.fixture(scope="module")
def fot(FeeOnTransferToken, options, feed, admin, writer):
    """A fee-on-transfer token listed as a collateral type, with a call series on it."""
    token = FeeOnTransferToken.deploy({"from": admin})
    engine = options["engine"]
    collateral_type = engine.add_collateral_type(
        token, feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE, LIQUIDATION_PENALTY, {"from": admin}
    ).return_value
    token.mint(writer, 1_000 * WAD, {"from": writer})
    token.approve(options["house"], MAX_UINT256, {"from": writer})
    house = options["house"]
    call = house.create_series(collateral_type, 2_000 * WAD, options["expiry"], True, {"from": admin}).return_value
    put = house.create_series(collateral_type, 2_000 * WAD, options["expiry"], False, {"from": admin}).return_value
    return dict(token=token, type=collateral_type, call=call, put=put)


@pytest.fixture(scope="module")
def wbtc_series(options, wbtc_type, wbtc, house, admin, writer):
    """WBTC (8 decimals, type 2) listed; a 30,000 call on it; the writer holds 100 WBTC approved."""
    wbtc.mint(writer, 100 * 10**8, {"from": writer})
    wbtc.approve(house, MAX_UINT256, {"from": writer})
    return house.create_series(wbtc_type, 30_000 * WAD, options["expiry"], True, {"from": admin}).return_value


SETTABLE_ORACLE_SOURCE = """# pragma version ~=0.4.3
# test double: an oracle whose answer a test sets, and which can be made to revert
price: public(uint256)
broken: public(bool)

@external
def set(new_price: uint256, is_broken: bool):
    self.price = new_price
    self.broken = is_broken

@external
@view
def peek() -> (uint256, bool):
    assert not self.broken, "oracle: down"
    return self.price, True
"""


@pytest.fixture(scope="module")
def settable_oracle(admin):
    return compile_source(SETTABLE_ORACLE_SOURCE, vyper_version="0.4.3", evm_version="prague").Vyper.deploy({"from": admin})


def report(feed, price, at, reporter):
    """The feed's reporter sets `price` in a transaction mined at exactly `at`."""
    set_next_timestamp(at)
    feed.set_price(price, {"from": reporter})


def settle_at(house, series_id, at, caller):
    set_next_timestamp(at)
    return house.settle(series_id, {"from": caller})


def settle_with_price(house, feed, series_id, price, at, reporter, caller):
    report(feed, price, at, reporter)
    return house.settle(series_id, {"from": caller})


# ================================================================== series
def test_create_series__anyone__sequential_ids_and_event(house, options, holder, expiry):
    count = house.series_count()
    assert count == len(options["series"])
    tx = house.create_series(options["weth_type"], 2_100 * WAD, expiry, True, {"from": holder})
    assert tx.return_value == count + 1
    second = house.create_series(options["weth_type"], 2_100 * WAD, expiry, False, {"from": holder}).return_value
    assert second == count + 2
    assert house.series_count() == count + 2
    event = tx.events["SeriesCreated"]
    assert event["series_id"] == count + 1
    assert event["token"] == house.token_of(count + 1)
    assert (event["collateral_type"], event["is_call"], event["strike"], event["expiry"]) == (
        options["weth_type"], True, 2_100 * WAD, expiry,
    )


def test_create_series__fixture_series__ids_one_to_ten(options, house):
    assert sorted(options["series"].values()) == list(range(1, 11))
    for (strike, is_call), series_id in options["series"].items():
        assert house.series_terms(series_id) == (options["weth_type"], is_call, strike * WAD, options["expiry"])


def test_create_series__token_address__create2_prediction(house, options, holder, expiry):
    terms = (options["weth_type"], 2_150 * WAD, expiry, False)
    predicted = house.find_series(*terms)
    assert brownie.web3.eth.get_code(predicted) == b""  # not there yet
    assert predicted == predicted_token(house, options["template"], *terms)
    series_id = house.create_series(*terms, {"from": holder}).return_value
    assert house.token_of(series_id) == predicted
    assert info(house, series_id)["token"] == predicted
    assert house.find_series(*terms) == predicted
    # an EIP-1167 proxy of the template
    code = bytes(brownie.web3.eth.get_code(predicted))
    assert code == RUNTIME_HEAD + bytes.fromhex(options["template"].address[2:]) + PROXY_TAIL


def test_create_series__fixture_tokens__distinct_and_predicted(house, options):
    tokens = set()
    for (strike, is_call), series_id in options["series"].items():
        token = house.token_of(series_id)
        assert token == house.find_series(options["weth_type"], strike * WAD, options["expiry"], is_call)
        assert token == predicted_token(house, options["template"], options["weth_type"], strike * WAD, options["expiry"], is_call)
        tokens.add(token)
    assert len(tokens) == len(options["series"])


def test_create_series__new_series__blank_books(house, options, holder, expiry):
    series_id = house.create_series(options["weth_type"], 2_150 * WAD, expiry, True, {"from": holder}).return_value
    state = info(house, series_id)
    assert state["series_id"] == series_id
    assert (state["collateral_type"], state["is_call"], state["strike"], state["expiry"]) == (options["weth_type"], True, 2_150 * WAD, expiry)
    assert not state["settled"]
    assert (state["settlement_price"], state["settlement_mode"], state["payoff"]) == (0, 0, 0)
    assert (state["written"], state["margin_written"], state["funds"], state["supply"]) == (0, 0, 0, 0)
    assert house.settlement(series_id) == (0, 0)


def test_create_series__duplicate_terms__reverts(house, options, holder, expiry):
    count = house.series_count()
    with brownie.reverts("options: duplicate series"):
        house.create_series(options["weth_type"], 2_000 * WAD, expiry, True, {"from": holder})
    assert house.series_count() == count
    # the same terms but the other kind, strike or expiry are other series
    house.create_series(options["weth_type"], 2_000 * WAD, expiry + DAY, True, {"from": holder})
    assert house.series_count() == count + 1


@pytest.mark.parametrize("collateral_type", [0, 2, 64, 2**256 - 1])
def test_create_series__unknown_collateral_type__reverts(house, expiry, holder, collateral_type):
    count = house.series_count()
    with brownie.reverts("options: unknown collateral type"):
        house.create_series(collateral_type, 2_000 * WAD, expiry, True, {"from": holder})
    assert house.series_count() == count


@pytest.mark.parametrize(
    "strike",
    [0, 1, STRIKE_TICK - 1, 2_000 * WAD + 1, 2_000 * WAD + STRIKE_TICK // 2, (MAX_STRIKE // STRIKE_TICK + 1) * STRIKE_TICK, 2**256 - STRIKE_TICK],
)
def test_create_series__strike_off_the_grid__reverts(house, options, expiry, holder, strike):
    count = house.series_count()
    with brownie.reverts("options: strike off the grid"):
        house.create_series(options["weth_type"], strike, expiry, True, {"from": holder})
    assert house.series_count() == count


def test_create_series__smallest_and_largest_grid_strikes__accepted(house, options, expiry, holder):
    for strike in (STRIKE_TICK, MAX_STRIKE // STRIKE_TICK * STRIKE_TICK):
        series_id = house.create_series(options["weth_type"], strike, expiry, False, {"from": holder}).return_value
        assert house.series_terms(series_id)[2] == strike


def test_create_series__expiry_not_in_the_future__reverts(house, options, holder):
    now_expiry = next_expiry(1)
    set_next_timestamp(now_expiry)
    count = house.series_count()
    with brownie.reverts("options: expiry out of range"):
        house.create_series(options["weth_type"], 2_000 * WAD, now_expiry, True, {"from": holder})
    with brownie.reverts("options: expiry out of range"):
        house.create_series(options["weth_type"], 2_000 * WAD, now_expiry - DAY, True, {"from": holder})
    assert house.series_count() == count


def test_create_series__expiry_more_than_two_years_ahead__reverts(house, options, holder):
    furthest = next_expiry(731)
    now = furthest - MAX_EXPIRY_AHEAD - 1  # furthest is then two years and a second ahead
    assert now > latest_timestamp()
    set_next_timestamp(now)
    count = house.series_count()
    with brownie.reverts("options: expiry out of range"):
        house.create_series(options["weth_type"], 2_000 * WAD, furthest, True, {"from": holder})
    with brownie.reverts("options: expiry out of range"):
        house.create_series(options["weth_type"], 2_000 * WAD, furthest + DAY, True, {"from": holder})
    assert house.series_count() == count


def test_create_series__expiry_exactly_two_years_ahead__accepted(house, options, holder):
    furthest = next_expiry(731)
    set_next_timestamp(furthest - MAX_EXPIRY_AHEAD)
    series_id = house.create_series(options["weth_type"], 2_000 * WAD, furthest, True, {"from": holder}).return_value
    assert house.series_terms(series_id)[3] == furthest


@pytest.mark.parametrize("offset", [-1, 1, -8 * 3_600, 12 * 3_600, 3_600])
def test_create_series__expiry_not_at_0800_utc__reverts(house, options, holder, expiry, offset):
    count = house.series_count()
    with brownie.reverts("options: expiry not at 08:00 UTC"):
        house.create_series(options["weth_type"], 2_000 * WAD, expiry + DAY + offset, True, {"from": holder})
    assert house.series_count() == count


def test_series_views__unknown_series__revert(house):
    for view in (house.series, house.token_of, house.series_terms, house.settlement, house.series_symbol):
        with brownie.reverts("options: unknown series"):
            view(0)
        with brownie.reverts("options: unknown series"):
            view(house.series_count() + 1)


def test_find_series__unlisted_terms__address_without_code(house, options, expiry):
    token = house.find_series(options["weth_type"], 1_234 * WAD, expiry, True)
    assert token == predicted_token(house, options["template"], options["weth_type"], 1_234 * WAD, expiry, True)
    assert brownie.web3.eth.get_code(token) == b""


# ================================================================== writing
def test_write__covered_call__locks_underlying_and_mints(house, writers, weth, option_token, call_id, writer, holder):
    token = option_token(call_id)
    writer_weth, house_weth = weth.balanceOf(writer), weth.balanceOf(house)
    tx = house.write(call_id, 3 * WAD, holder, {"from": writer})
    assert tx.return_value == 3 * WAD
    assert weth.balanceOf(writer) == writer_weth - 3 * WAD
    assert weth.balanceOf(house) == house_weth + 3 * WAD
    assert token.balanceOf(holder) == 3 * WAD
    assert token.balanceOf(writer) == 0
    assert house.written_by(call_id, writer) == 3 * WAD
    assert house.written_by(call_id, holder) == 0
    state = info(house, call_id)
    assert (state["written"], state["supply"], state["margin_written"]) == (3 * WAD, 3 * WAD, 0)
    event = tx.events["Written"]
    assert (event["series_id"], event["writer"], event["amount"], event["locked"], event["position"]) == (
        call_id, writer, 3 * WAD, 3 * WAD, 3 * WAD,
    )


def test_write__twice_and_by_two_writers__positions_add_up(house, writers, option_token, call_id, writer, other_writer):
    house.write(call_id, 2 * WAD, writer, {"from": writer})
    tx = house.write(call_id, 5 * WAD, writer, {"from": writer})
    assert tx.events["Written"]["position"] == 7 * WAD
    house.write(call_id, WAD, other_writer, {"from": other_writer})
    assert house.written_by(call_id, writer) == 7 * WAD
    assert house.written_by(call_id, other_writer) == WAD
    assert info(house, call_id)["written"] == 8 * WAD
    assert option_token(call_id).totalSupply() == 8 * WAD


def test_write__cash_secured_put__locks_strike_times_amount(house, writers, kusd, option_token, put_id, writer):
    writer_kusd, house_kusd = kusd.balanceOf(writer), kusd.balanceOf(house)
    tx = house.write(put_id, 3 * WAD, writer, {"from": writer})
    assert tx.return_value == 6_000 * WAD
    assert kusd.balanceOf(writer) == writer_kusd - 6_000 * WAD
    assert kusd.balanceOf(house) == house_kusd + 6_000 * WAD
    assert option_token(put_id).balanceOf(writer) == 3 * WAD
    assert tx.events["Written"]["locked"] == 6_000 * WAD
    assert info(house, put_id)["written"] == 3 * WAD


def test_write__put_strike_with_cents__locks_rounded_up(house, writers, kusd, options, expiry, writer):
    strike = 1_600 * WAD + STRIKE_TICK  # 1,600.01
    series_id = house.create_series(options["weth_type"], strike, expiry, False, {"from": writer}).return_value
    house_kusd = kusd.balanceOf(house)
    # 3 wei of options lock 3 * 1600.01 = 4800.03 wei: 4801
    tx = house.write(series_id, 3, writer, {"from": writer})
    assert tx.return_value == mul_div(3, strike, WAD, True) == 4_801
    assert kusd.balanceOf(house) == house_kusd + 4_801


def test_write__zero_amount__reverts(house, writers, weth, call_id, writer):
    balance = weth.balanceOf(writer)
    with brownie.reverts("options: zero amount"):
        house.write(call_id, 0, writer, {"from": writer})
    assert weth.balanceOf(writer) == balance
    assert house.written_by(call_id, writer) == 0


def test_write__zero_receiver__reverts(house, writers, weth, call_id, writer):
    balance = weth.balanceOf(writer)
    with brownie.reverts("options: zero receiver"):
        house.write(call_id, WAD, ZERO_ADDRESS, {"from": writer})
    assert weth.balanceOf(writer) == balance
    assert house.written_by(call_id, writer) == 0


def test_write__unknown_series__reverts(house, writers, writer):
    with brownie.reverts("options: unknown series"):
        house.write(house.series_count() + 1, WAD, writer, {"from": writer})


def test_write__at_or_after_expiry__reverts(house, writers, weth, call_id, put_id, expiry, writer):
    balance = weth.balanceOf(writer)
    set_next_timestamp(expiry - 1)
    house.write(call_id, WAD, writer, {"from": writer})  # the last second before expiry
    set_next_timestamp(expiry)
    with brownie.reverts("options: expired"):
        house.write(call_id, WAD, writer, {"from": writer})
    with brownie.reverts("options: expired"):
        house.write(put_id, WAD, writer, {"from": writer})
    assert house.written_by(call_id, writer) == WAD
    assert weth.balanceOf(writer) == balance - WAD
    assert info(house, call_id)["written"] == WAD


def test_set_writing_paused__admin__write_reverts_close_still_works(house, writers, weth, option_token, call_id, admin, writer):
    house.write(call_id, 4 * WAD, writer, {"from": writer})
    tx = house.set_writing_paused(True, {"from": admin})
    assert tx.events["WritingPaused"]["paused"] is True
    assert house.writing_paused()
    with brownie.reverts("options: writing paused"):
        house.write(call_id, WAD, writer, {"from": writer})
    assert house.written_by(call_id, writer) == 4 * WAD
    balance = weth.balanceOf(writer)
    house.close(call_id, 4 * WAD, writer, {"from": writer})
    assert weth.balanceOf(writer) == balance + 4 * WAD
    assert option_token(call_id).totalSupply() == 0
    # and resumed
    tx = house.set_writing_paused(False, {"from": admin})
    assert tx.events["WritingPaused"]["paused"] is False
    house.write(call_id, WAD, writer, {"from": writer})
    assert house.written_by(call_id, writer) == WAD


def test_set_writing_paused__without_role__reverts(house, writer, holder):
    for caller in (writer, holder):
        with brownie.reverts("access: missing role"):
            house.set_writing_paused(True, {"from": caller})
    assert not house.writing_paused()


def test_write__fee_on_transfer_underlying__refused(house, fot, option_token, writer):
    token = fot["token"]
    balance = token.balanceOf(writer)
    with brownie.reverts("options: token fee on transfer"):
        house.write(fot["call"], 10 * WAD, writer, {"from": writer})
    assert token.balanceOf(writer) == balance
    assert token.balanceOf(house) == 0
    assert house.written_by(fot["call"], writer) == 0
    assert option_token(fot["call"]).totalSupply() == 0


def test_write__put_on_fee_on_transfer_type__locks_debt_token(house, writers, fot, kusd, writer):
    """A put on that type locks kUSD, which takes no fee: it writes."""
    balance = kusd.balanceOf(house)
    house.write(fot["put"], WAD, writer, {"from": writer})
    assert kusd.balanceOf(house) == balance + 2_000 * WAD


def test_write__amount_below_token_precision__reverts(house, wbtc_series, wbtc, writer):
    balance = wbtc.balanceOf(writer)
    with brownie.reverts("options: amount below token precision"):
        house.write(wbtc_series, 10**10 + 1, writer, {"from": writer})
    assert wbtc.balanceOf(writer) == balance
    # whole satoshis are fine: 1.5 WBTC locks 150,000,000 units
    tx = house.write(wbtc_series, 3 * WAD // 2, writer, {"from": writer})
    assert tx.return_value == 3 * WAD // 2
    assert wbtc.balanceOf(writer) == balance - 150_000_000
    assert wbtc.balanceOf(house) == 150_000_000


def test_write__without_allowance__reverts(house, options, weth, call_id, holder):
    weth.mint(holder, WAD, {"from": holder})
    with brownie.reverts():
        house.write(call_id, WAD, holder, {"from": holder})
    assert weth.balanceOf(holder) == WAD
    assert house.written_by(call_id, holder) == 0


# ================================================================== close
def test_close__covered_call__returns_underlying_and_burns(house, writers, weth, option_token, call_id, writer, holder):
    token = option_token(call_id)
    house.write(call_id, 5 * WAD, writer, {"from": writer})
    balance = weth.balanceOf(writer)
    tx = house.close(call_id, 2 * WAD, holder, {"from": writer})  # collateral to another receiver
    assert tx.return_value == 2 * WAD
    assert weth.balanceOf(holder) == 2 * WAD
    assert weth.balanceOf(writer) == balance
    assert token.balanceOf(writer) == 3 * WAD
    assert token.totalSupply() == 3 * WAD
    assert house.written_by(call_id, writer) == 3 * WAD
    assert info(house, call_id)["written"] == 3 * WAD
    event = tx.events["Closed"]
    assert (event["series_id"], event["writer"], event["amount"], event["released"], event["position"]) == (
        call_id, writer, 2 * WAD, 2 * WAD, 3 * WAD,
    )


def test_close__put__returns_strike_times_amount(house, writers, kusd, put_id, writer):
    house.write(put_id, 5 * WAD, writer, {"from": writer})
    balance = kusd.balanceOf(writer)
    tx = house.close(put_id, 5 * WAD, writer, {"from": writer})
    assert tx.return_value == 10_000 * WAD
    assert kusd.balanceOf(writer) == balance + 10_000 * WAD
    assert house.written_by(put_id, writer) == 0


def test_close__put_strike_with_cents__returns_rounded_down(house, writers, kusd, options, expiry, writer):
    strike = 1_600 * WAD + STRIKE_TICK
    series_id = house.create_series(options["weth_type"], strike, expiry, False, {"from": writer}).return_value
    before = kusd.balanceOf(writer)
    house.write(series_id, 3, writer, {"from": writer})  # locks 4,801 wei
    tx = house.close(series_id, 3, writer, {"from": writer})
    assert tx.return_value == 4_800  # 4,800.03 rounded down: never more than was put in
    assert kusd.balanceOf(writer) == before - 1


def test_close__exceeds_position__reverts(house, writers, weth, option_token, call_id, writer, other_writer):
    house.write(call_id, 2 * WAD, writer, {"from": writer})
    house.write(call_id, 2 * WAD, other_writer, {"from": other_writer})
    option_token(call_id).transfer(writer, 2 * WAD, {"from": other_writer})  # tokens are not a position
    balance = weth.balanceOf(writer)
    with brownie.reverts("options: close exceeds position"):
        house.close(call_id, 2 * WAD + 1, writer, {"from": writer})
    assert house.written_by(call_id, writer) == 2 * WAD
    assert option_token(call_id).balanceOf(writer) == 4 * WAD
    assert weth.balanceOf(writer) == balance
    assert info(house, call_id)["written"] == 4 * WAD


def test_close__holder_who_never_wrote__reverts(house, writers, option_token, call_id, writer, holder):
    house.write(call_id, 2 * WAD, holder, {"from": writer})
    with brownie.reverts("options: close exceeds position"):
        house.close(call_id, WAD, holder, {"from": holder})
    assert option_token(call_id).balanceOf(holder) == 2 * WAD


def test_close__writer_without_the_tokens__reverts(house, writers, weth, option_token, call_id, writer, holder):
    house.write(call_id, 2 * WAD, holder, {"from": writer})
    balance = weth.balanceOf(writer)
    with brownie.reverts("option: insufficient balance"):
        house.close(call_id, WAD, writer, {"from": writer})
    assert house.written_by(call_id, writer) == 2 * WAD
    assert weth.balanceOf(writer) == balance
    assert option_token(call_id).totalSupply() == 2 * WAD


def test_close__zero_amount_or_receiver__reverts(house, writers, call_id, writer):
    house.write(call_id, WAD, writer, {"from": writer})
    with brownie.reverts("options: zero amount"):
        house.close(call_id, 0, writer, {"from": writer})
    with brownie.reverts("options: zero receiver"):
        house.close(call_id, WAD, ZERO_ADDRESS, {"from": writer})
    assert house.written_by(call_id, writer) == WAD


def test_close__at_expiry__reverts(house, writers, weth, call_id, expiry, writer):
    house.write(call_id, WAD, writer, {"from": writer})
    balance = weth.balanceOf(writer)
    set_next_timestamp(expiry)
    with brownie.reverts("options: expired"):
        house.close(call_id, WAD, writer, {"from": writer})
    assert house.written_by(call_id, writer) == WAD
    assert weth.balanceOf(writer) == balance


# ================================================================== settlement
def test_settle__before_expiry__reverts(house, feed, call_id, expiry, keeper, reporter):
    report(feed, 2_100 * WAD, expiry - 60, reporter)
    set_next_timestamp(expiry - 1)
    with brownie.reverts("options: not expired"):
        house.settle(call_id, {"from": keeper})
    assert house.settlement(call_id) == (0, 0)
    assert not info(house, call_id)["settled"]


def test_settle__unknown_series__reverts(house, keeper):
    with brownie.reverts("options: unknown series"):
        house.settle(house.series_count() + 1, {"from": keeper})


def test_settle__fresh_price_at_expiry__settles_by_oracle(house, writers, feed, call_id, expiry, writer, keeper, reporter):
    house.write(call_id, 10 * WAD, writer, {"from": writer})
    report(feed, 2_500 * WAD, expiry - 60, reporter)  # fresh (max age 1 h) at expiry
    tx = settle_at(house, call_id, expiry, keeper)
    assert tx.return_value == 2_500 * WAD
    expected = call_payoff(2_500 * WAD, 2_000 * WAD)
    assert expected == WAD // 5
    event = tx.events["SeriesSettled"]
    assert (event["series_id"], event["price"], event["mode"], event["payoff"]) == (call_id, 2_500 * WAD, SETTLED_BY_ORACLE, expected)
    assert event["funds"] == mul_div(10 * WAD, call_payoff(2_500 * WAD, 2_000 * WAD, True), WAD, True) == 2 * WAD
    state = info(house, call_id)
    assert state["settled"]
    assert (state["settlement_price"], state["settlement_mode"], state["payoff"]) == (2_500 * WAD, SETTLED_BY_ORACLE, expected)
    assert (state["written"], state["funds"], state["supply"]) == (0, 2 * WAD, 10 * WAD)
    assert house.settlement(call_id) == (2_500 * WAD, expected)


@pytest.mark.parametrize("price", [2_100 * WAD, 2_000 * WAD + 1, 3 * 10**21 + 7, 1_999 * WAD, 2_000 * WAD, 10**28])
def test_settle__call_price_any__payoff_s_minus_k_over_s_rounded_down(house, feed, call_id, expiry, keeper, reporter, price):
    tx = settle_with_price(house, feed, call_id, price, expiry + 60, reporter, keeper)
    assert tx.events["SeriesSettled"]["payoff"] == ((price - 2_000 * WAD) * WAD // price if price > 2_000 * WAD else 0)
    assert house.settlement(call_id) == (price, call_payoff(price, 2_000 * WAD))


@pytest.mark.parametrize("price", [1_500 * WAD, 2_000 * WAD - 1, 1, 2_000 * WAD, 2_500 * WAD])
def test_settle__put_price_any__payoff_k_minus_s(house, feed, put_id, expiry, keeper, reporter, price):
    tx = settle_with_price(house, feed, put_id, price, expiry + 60, reporter, keeper)
    assert tx.events["SeriesSettled"]["payoff"] == max(2_000 * WAD - price, 0)
    assert tx.events["SeriesSettled"]["mode"] == SETTLED_BY_ORACLE
    assert house.settlement(put_id) == (price, max(2_000 * WAD - price, 0))


def test_settle__stale_price_within_window__reverts_no_fresh_price(house, feed, call_id, expiry, keeper, reporter):
    report(feed, 2_500 * WAD, expiry - 3_600, reporter)  # stale from expiry on
    set_next_timestamp(expiry + 60)
    with brownie.reverts("options: no fresh price yet"):
        house.settle(call_id, {"from": keeper})
    # the last second of the window still wants a fresh price
    set_next_timestamp(expiry + WINDOW)
    with brownie.reverts("options: no fresh price yet"):
        house.settle(call_id, {"from": keeper})
    assert house.settlement(call_id) == (0, 0)
    assert not info(house, call_id)["settled"]


def test_settle__fresh_price_at_window_end__settles_by_oracle(house, feed, call_id, expiry, keeper, reporter):
    report(feed, 2_200 * WAD, expiry + WINDOW - 100, reporter)
    tx = settle_at(house, call_id, expiry + WINDOW, keeper)
    assert tx.events["SeriesSettled"]["mode"] == SETTLED_BY_ORACLE
    assert house.settlement(call_id)[0] == 2_200 * WAD


def test_settle__stale_price_after_window__settles_at_last_price(house, writers, feed, put_id, expiry, writer, keeper, reporter):
    house.write(put_id, 2 * WAD, writer, {"from": writer})
    report(feed, 1_700 * WAD, expiry - 7_200, reporter)
    tx = settle_at(house, put_id, expiry + WINDOW + 1, keeper)
    event = tx.events["SeriesSettled"]
    assert (event["price"], event["mode"], event["payoff"], event["funds"]) == (1_700 * WAD, SETTLED_BY_LAST_PRICE, 300 * WAD, 600 * WAD)
    assert info(house, put_id)["settlement_mode"] == SETTLED_BY_LAST_PRICE


def test_settle__fresh_price_after_window__settles_at_last_price(house, feed, call_id, expiry, keeper, reporter):
    report(feed, 2_300 * WAD, expiry + 2 * WINDOW, reporter)
    tx = house.settle(call_id, {"from": keeper})
    assert (tx.events["SeriesSettled"]["price"], tx.events["SeriesSettled"]["mode"]) == (2_300 * WAD, SETTLED_BY_LAST_PRICE)


def test_settle__oracle_never_reported__waits_then_settles_at_strike(house, writers, options, fresh_feed, call_id, expiry, writer, keeper, admin):
    house.write(call_id, 3 * WAD, writer, {"from": writer})
    options["engine"].set_oracle(options["weth_type"], fresh_feed, {"from": admin})
    set_next_timestamp(expiry + WINDOW)
    with brownie.reverts("options: no fresh price yet"):
        house.settle(call_id, {"from": keeper})
    tx = settle_at(house, call_id, expiry + WINDOW + 1, keeper)
    event = tx.events["SeriesSettled"]
    assert (event["price"], event["mode"], event["payoff"], event["funds"]) == (2_000 * WAD, SETTLED_AT_STRIKE, 0, 0)
    assert house.settlement(call_id) == (2_000 * WAD, 0)


def test_settle__zero_price_oracle__waits_then_settles_at_strike(house, options, zero_price_oracle, put_id, expiry, keeper, admin):
    options["engine"].set_oracle(options["weth_type"], zero_price_oracle, {"from": admin})
    set_next_timestamp(expiry + 60)
    with brownie.reverts("options: no fresh price yet"):
        house.settle(put_id, {"from": keeper})
    tx = settle_at(house, put_id, expiry + WINDOW + 1, keeper)
    assert (tx.events["SeriesSettled"]["mode"], tx.events["SeriesSettled"]["price"], tx.events["SeriesSettled"]["payoff"]) == (
        SETTLED_AT_STRIKE, 2_000 * WAD, 0,
    )


def test_settle__reverting_oracle__waits_then_settles_at_strike(house, options, settable_oracle, call_id, expiry, keeper, admin):
    settable_oracle.set(2_500 * WAD, False, {"from": admin})
    options["engine"].set_oracle(options["weth_type"], settable_oracle, {"from": admin})
    settable_oracle.set(2_500 * WAD, True, {"from": admin})  # now peek() reverts
    set_next_timestamp(expiry + 60)
    with brownie.reverts("options: no fresh price yet"):
        house.settle(call_id, {"from": keeper})
    tx = settle_at(house, call_id, expiry + WINDOW + 1, keeper)
    assert (tx.events["SeriesSettled"]["mode"], tx.events["SeriesSettled"]["price"]) == (SETTLED_AT_STRIKE, 2_000 * WAD)


def test_settle__price_above_96_bits__reverts_in_window_strike_after(house, feed, call_id, expiry, keeper, reporter):
    report(feed, 2**96, expiry + 10, reporter)
    with brownie.reverts("options: price out of range"):
        house.settle(call_id, {"from": keeper})
    assert not info(house, call_id)["settled"]
    # after the window an unusable price counts as none: the strike
    report(feed, 2**96, expiry + WINDOW + 10, reporter)
    tx = house.settle(call_id, {"from": keeper})
    assert (tx.events["SeriesSettled"]["mode"], tx.events["SeriesSettled"]["price"]) == (SETTLED_AT_STRIKE, 2_000 * WAD)


def test_settle__largest_price__accepted(house, feed, call_id, expiry, keeper, reporter):
    tx = settle_with_price(house, feed, call_id, 2**96 - 1, expiry + 10, reporter, keeper)
    assert tx.events["SeriesSettled"]["price"] == 2**96 - 1
    assert house.settlement(call_id) == (2**96 - 1, call_payoff(2**96 - 1, 2_000 * WAD))


def test_settle__twice__reverts_already_settled(house, feed, call_id, expiry, keeper, reporter):
    settle_with_price(house, feed, call_id, 2_500 * WAD, expiry + 10, reporter, keeper)
    report(feed, 3_000 * WAD, expiry + 20, reporter)
    with brownie.reverts("options: already settled"):
        house.settle(call_id, {"from": keeper})
    assert house.settlement(call_id)[0] == 2_500 * WAD
    assert info(house, call_id)["settlement_mode"] == SETTLED_BY_ORACLE


def test_settle__one_series__others_untouched(house, feed, options, call_id, expiry, keeper, reporter):
    settle_with_price(house, feed, call_id, 2_500 * WAD, expiry + 10, reporter, keeper)
    for series_id in options["series"].values():
        if series_id != call_id:
            assert house.settlement(series_id) == (0, 0)


def test_settle__broken_oracle__funds_never_locked(house, writers, weth, kusd, options, settable_oracle, option_token, call_id, put_id, expiry, writer, holder, keeper, admin):
    """Opyn issue #241: with no price at all, the series still settles (at the strike) after
    the window, holders' tokens redeem for nothing and every writer gets its collateral back."""
    house.write(call_id, 4 * WAD, holder, {"from": writer})
    house.write(put_id, 4 * WAD, holder, {"from": writer})
    settable_oracle.set(2_500 * WAD, False, {"from": admin})
    options["engine"].set_oracle(options["weth_type"], settable_oracle, {"from": admin})
    settable_oracle.set(0, True, {"from": admin})
    weth_before, kusd_before = weth.balanceOf(writer), kusd.balanceOf(writer)
    set_next_timestamp(expiry + WINDOW + 1)
    house.settle(call_id, {"from": keeper})
    house.settle(put_id, {"from": keeper})
    assert house.release(call_id, writer, {"from": writer}).return_value == 4 * WAD
    assert house.release(put_id, writer, {"from": writer}).return_value == 8_000 * WAD
    assert weth.balanceOf(writer) == weth_before + 4 * WAD
    assert kusd.balanceOf(writer) == kusd_before + 8_000 * WAD
    for series_id in (call_id, put_id):
        tx = house.redeem(series_id, 4 * WAD, holder, {"from": holder})
        assert tx.return_value == 0
        assert option_token(series_id).totalSupply() == 0
    assert weth.balanceOf(house) == 0
    assert kusd.balanceOf(house) == 0


# ================================================================== redeem and release
def test_redeem_and_release__call_in_the_money__payout_and_rest_to_writer(house, writers, weth, feed, option_token, call_id, expiry, writer, holder, keeper, reporter):
    house.write(call_id, 10 * WAD, holder, {"from": writer})
    settle_with_price(house, feed, call_id, 2_500 * WAD, expiry + 10, reporter, keeper)
    tx = house.redeem(call_id, 10 * WAD, holder, {"from": holder})
    assert tx.return_value == 2 * WAD  # 10 * 500 / 2,500
    assert weth.balanceOf(holder) == 2 * WAD
    assert option_token(call_id).balanceOf(holder) == 0
    event = tx.events["Redeemed"]
    assert (event["series_id"], event["holder"], event["amount"], event["payout"]) == (call_id, holder, 10 * WAD, 2 * WAD)
    balance = weth.balanceOf(writer)
    tx = house.release(call_id, writer, {"from": writer})
    assert tx.return_value == 8 * WAD
    assert weth.balanceOf(writer) == balance + 8 * WAD
    event = tx.events["Released"]
    assert (event["series_id"], event["writer"], event["written"], event["obligation"], event["released"]) == (
        call_id, writer, 10 * WAD, 2 * WAD, 8 * WAD,
    )
    assert weth.balanceOf(house) == 0
    assert info(house, call_id)["funds"] == 0


def test_redeem_and_release__call_rounding__holder_down_writer_obligation_up(house, writers, weth, feed, option_token, call_id, expiry, writer, holder, other_holder, keeper, reporter):
    amount = 7 * WAD + 3
    house.write(call_id, amount, holder, {"from": writer})
    option_token(call_id).transfer(other_holder, WAD + 1, {"from": holder})
    price = 2_100 * WAD  # payoff 1/21: never exact
    settle_with_price(house, feed, call_id, price, expiry + 10, reporter, keeper)
    down, up = call_payoff(price, 2_000 * WAD), call_payoff(price, 2_000 * WAD, True)
    assert up == down + 1
    first = house.redeem(call_id, 6 * WAD + 2, holder, {"from": holder}).return_value
    second = house.redeem(call_id, WAD + 1, other_holder, {"from": other_holder}).return_value
    assert first == (6 * WAD + 2) * down // WAD
    assert second == (WAD + 1) * down // WAD
    released = house.release(call_id, writer, {"from": writer}).return_value
    assert released == amount - mul_div(amount, up, WAD, True)
    # everything paid out; what stays is rounding in the house's favour (the funds round the
    # rounded-up payoff up: about 1 wei per whole option, plus a wei per holder and writer),
    # kept in the series' funds
    left = weth.balanceOf(house)
    assert first + second + released + left == amount
    assert 0 < left <= amount // WAD + 3
    assert left == info(house, call_id)["funds"]


def test_redeem_and_release__call_out_of_the_money__zero_payout_full_release(house, writers, weth, feed, option_token, call_id, expiry, writer, holder, keeper, reporter):
    house.write(call_id, 5 * WAD, holder, {"from": writer})
    settle_with_price(house, feed, call_id, 1_900 * WAD, expiry + 10, reporter, keeper)
    tx = house.redeem(call_id, 5 * WAD, holder, {"from": holder})
    assert tx.return_value == 0
    assert weth.balanceOf(holder) == 0
    assert not emitted(tx, "Transfer", weth.address)
    assert option_token(call_id).totalSupply() == 0  # burned all the same
    assert tx.events["Redeemed"]["payout"] == 0
    tx = house.release(call_id, writer, {"from": writer})
    assert tx.return_value == 5 * WAD
    assert tx.events["Released"]["obligation"] == 0
    assert weth.balanceOf(house) == 0


def test_redeem_and_release__put_in_the_money__payout_k_minus_s(house, writers, kusd, feed, put_id, expiry, writer, holder, keeper, reporter):
    house.write(put_id, 3 * WAD, holder, {"from": writer})
    settle_with_price(house, feed, put_id, 1_500 * WAD, expiry + 10, reporter, keeper)
    holder_before = kusd.balanceOf(holder)
    assert house.redeem(put_id, 3 * WAD, holder, {"from": holder}).return_value == 1_500 * WAD
    assert kusd.balanceOf(holder) == holder_before + 1_500 * WAD
    writer_before = kusd.balanceOf(writer)
    tx = house.release(put_id, writer, {"from": writer})
    assert tx.return_value == 4_500 * WAD
    assert tx.events["Released"]["obligation"] == 1_500 * WAD
    assert kusd.balanceOf(writer) == writer_before + 4_500 * WAD
    assert kusd.balanceOf(house) == 0


def test_redeem_and_release__put_out_of_the_money__zero_payout_full_release(house, writers, kusd, feed, option_token, put_id, expiry, writer, holder, keeper, reporter):
    house.write(put_id, 3 * WAD, holder, {"from": writer})
    settle_with_price(house, feed, put_id, 2_000 * WAD, expiry + 10, reporter, keeper)  # at the money: nothing
    holder_before = kusd.balanceOf(holder)
    assert house.redeem(put_id, 3 * WAD, holder, {"from": holder}).return_value == 0
    assert kusd.balanceOf(holder) == holder_before
    assert option_token(put_id).totalSupply() == 0
    assert house.release(put_id, writer, {"from": writer}).return_value == 6_000 * WAD
    assert kusd.balanceOf(house) == 0


def test_redeem__partial_and_to_another_receiver__pays_each_part(house, writers, weth, feed, option_token, call_id, expiry, writer, holder, other_holder, keeper, reporter):
    house.write(call_id, 10 * WAD, holder, {"from": writer})
    settle_with_price(house, feed, call_id, 4_000 * WAD, expiry + 10, reporter, keeper)  # payoff 1/2
    assert house.redeem(call_id, 4 * WAD, other_holder, {"from": holder}).return_value == 2 * WAD
    assert weth.balanceOf(other_holder) == 2 * WAD
    assert weth.balanceOf(holder) == 0
    assert option_token(call_id).balanceOf(holder) == 6 * WAD
    assert info(house, call_id)["funds"] == 3 * WAD
    assert house.redeem(call_id, 6 * WAD, holder, {"from": holder}).return_value == 3 * WAD
    assert info(house, call_id)["funds"] == 0


def test_redeem__before_settlement__reverts(house, writers, option_token, call_id, expiry, writer, holder):
    house.write(call_id, WAD, holder, {"from": writer})
    set_next_timestamp(expiry + 10)
    with brownie.reverts("options: not settled"):
        house.redeem(call_id, WAD, holder, {"from": holder})
    with brownie.reverts("options: not settled"):
        house.release(call_id, writer, {"from": writer})
    assert option_token(call_id).balanceOf(holder) == WAD
    assert house.written_by(call_id, writer) == WAD


def test_redeem__more_than_held__reverts(house, writers, weth, feed, option_token, call_id, expiry, writer, holder, keeper, reporter):
    house.write(call_id, 2 * WAD, holder, {"from": writer})
    settle_with_price(house, feed, call_id, 2_500 * WAD, expiry + 10, reporter, keeper)
    funds = info(house, call_id)["funds"]
    with brownie.reverts("option: insufficient balance"):
        house.redeem(call_id, 2 * WAD + 1, holder, {"from": holder})
    with brownie.reverts("option: insufficient balance"):
        house.redeem(call_id, WAD, writer, {"from": writer})  # the writer holds none
    assert info(house, call_id)["funds"] == funds
    assert option_token(call_id).balanceOf(holder) == 2 * WAD
    assert weth.balanceOf(holder) == 0


def test_redeem__zero_amount_or_receiver__reverts(house, writers, feed, option_token, call_id, expiry, writer, holder, keeper, reporter):
    house.write(call_id, WAD, holder, {"from": writer})
    settle_with_price(house, feed, call_id, 2_500 * WAD, expiry + 10, reporter, keeper)
    with brownie.reverts("options: zero amount"):
        house.redeem(call_id, 0, holder, {"from": holder})
    with brownie.reverts("options: zero receiver"):
        house.redeem(call_id, WAD, ZERO_ADDRESS, {"from": holder})
    with brownie.reverts("options: zero receiver"):
        house.release(call_id, ZERO_ADDRESS, {"from": writer})
    assert option_token(call_id).balanceOf(holder) == WAD
    assert house.written_by(call_id, writer) == WAD


def test_release__twice__reverts_nothing_written(house, writers, weth, feed, call_id, expiry, writer, keeper, reporter):
    house.write(call_id, WAD, writer, {"from": writer})
    settle_with_price(house, feed, call_id, 1_000 * WAD, expiry + 10, reporter, keeper)
    house.release(call_id, writer, {"from": writer})
    balance = weth.balanceOf(writer)
    with brownie.reverts("options: nothing written"):
        house.release(call_id, writer, {"from": writer})
    assert weth.balanceOf(writer) == balance
    assert house.written_by(call_id, writer) == 0


def test_release__nothing_written__reverts(house, writers, feed, call_id, expiry, writer, holder, keeper, reporter):
    house.write(call_id, WAD, holder, {"from": writer})
    settle_with_price(house, feed, call_id, 2_500 * WAD, expiry + 10, reporter, keeper)
    funds = info(house, call_id)["funds"]
    with brownie.reverts("options: nothing written"):
        house.release(call_id, holder, {"from": holder})  # holding is not writing
    assert house.written_by(call_id, writer) == WAD
    assert info(house, call_id)["funds"] == funds


def test_release__fully_closed_position__reverts_nothing_written(house, writers, feed, call_id, expiry, writer, keeper, reporter):
    house.write(call_id, WAD, writer, {"from": writer})
    house.close(call_id, WAD, writer, {"from": writer})
    settle_with_price(house, feed, call_id, 2_500 * WAD, expiry + 10, reporter, keeper)
    with brownie.reverts("options: nothing written"):
        house.release(call_id, writer, {"from": writer})
    assert info(house, call_id)["funds"] == 0


def test_redeem_and_release__wbtc_call__payout_rounds_to_satoshis_and_dust_is_tracked(house, wbtc_series, wbtc, wbtc_feed, expiry, writer, holder, keeper, reporter):
    amount = 3 * WAD
    house.write(wbtc_series, amount, holder, {"from": writer})
    price = 31_000 * WAD  # payoff 1/31 per option, not a whole satoshi
    settle_with_price(house, wbtc_feed, wbtc_series, price, expiry + 10, reporter, keeper)
    down, up = call_payoff(price, 30_000 * WAD), call_payoff(price, 30_000 * WAD, True)
    tx = house.redeem(wbtc_series, amount, holder, {"from": holder})
    owed = amount * down // WAD
    assert tx.return_value == owed // 10**10 * 10**10
    assert wbtc.balanceOf(holder) == owed // 10**10
    assert house.dust(wbtc) == owed % 10**10
    released = house.release(wbtc_series, writer, {"from": writer}).return_value
    obligation = mul_div(amount, up, WAD, True)
    assert released == (amount - obligation) // 10**10 * 10**10
    assert house.dust(wbtc) == owed % 10**10 + (amount - obligation) % 10**10
    # the house keeps whole satoshis for what it did not pay: funds left and tracked dust
    assert wbtc.balanceOf(house) * 10**10 >= info(house, wbtc_series)["funds"] + house.dust(wbtc)


def test_redeem_and_release__two_writers__house_holds_exactly_what_it_owes_plus_tracked_dust(house, writers, weth, feed, call_id, expiry, writer, other_writer, holder, keeper, reporter):
    """Invariant 1: tokens the protocol holds for a collateral type = locked + claimable +
    tracked dust, nothing else. Each writer's obligation is written * payoff rounded up,
    while the holders' funds are the series total rounded up once: with two writers the
    obligations exceed the funds by a wei that ends up neither claimable nor in `dust`."""
    for who in (writer, other_writer):
        house.write(call_id, WAD + 1, holder, {"from": who})
    price = 2_100 * WAD
    settle_with_price(house, feed, call_id, price, expiry + 10, reporter, keeper)
    up = call_payoff(price, 2_000 * WAD, True)
    assert info(house, call_id)["funds"] == mul_div(2 * WAD + 2, up, WAD, True)
    house.release(call_id, writer, {"from": writer})
    house.release(call_id, other_writer, {"from": other_writer})
    house.redeem(call_id, 2 * WAD + 2, holder, {"from": holder})
    untracked = weth.balanceOf(house) - info(house, call_id)["funds"] - house.dust(weth)
    assert untracked >= 0, "the house holds less than it owes"
    assert untracked == 0, (
        f"CONTRACT BUG (OptionsHouse.release/settle): {untracked} wei of WETH stays in the house, neither "
        "claimable (series funds) nor tracked dust: sum of ceil(w_i * payoff_up) exceeds ceil(W * payoff_up)"
    )


def test_settle__put_funds_beyond_128_bits__holders_can_still_redeem(house, options, kusd, feed, option_token, admin, writer, holder, keeper, reporter):
    """The books pack the holders' funds in 128 bits and the margined options above them.
    A put's funds are written * (K - S), up to 2**128 * 2**96 / WAD: the house must either
    refuse such a size when it is written, or settle it without spilling into the margin
    bits (which would block redemption for good)."""
    strike = MAX_STRIKE // STRIKE_TICK * STRIKE_TICK  # 79,228,162,514.26 kUSD
    expiry = options["expiry"]
    series_id = house.create_series(options["weth_type"], strike, expiry, False, {"from": admin}).return_value
    amount = 2**128 * WAD // (strike - 1) + WAD  # funds at a settlement price of 1 wei: just above 2**128
    locked = mul_div(amount, strike, WAD, True)
    kusd.mint(writer, locked, {"from": admin})
    kusd.approve(house, locked, {"from": writer})
    try:
        house.write(series_id, amount, holder, {"from": writer})
    except brownie.exceptions.VirtualMachineError as exc:
        assert exc.revert_msg == "options: too many written", exc.revert_msg
        return  # refused up front: fine
    settle_with_price(house, feed, series_id, 1, expiry + 10, reporter, keeper)
    state = info(house, series_id)
    try:
        payout, error = house.redeem(series_id, amount, holder, {"from": holder}).return_value, None
    except brownie.exceptions.VirtualMachineError as exc:
        payout, error = None, exc.revert_msg
    assert error is None and state["margin_written"] == 0, (
        f"CONTRACT BUG (OptionsHouse.settle, lines 476-477): funds {mul_div(amount, strike - 1, WAD, True)} >= 2**128 "
        f"spilled into the margined-options bits (margin_written now {state['margin_written']}), so redeem "
        f"reverts {error!r} for good; bound the put's total collateral to 128 bits in write"
    )
    assert payout == amount * (strike - 1) // WAD
    assert option_token(series_id).totalSupply() == 0


# ------------------------------------------------------------------ the backing property
actions = st.lists(
    st.tuples(
        st.integers(0, 2),  # writer
        st.integers(0, 2),  # receiving holder
        st.one_of(st.integers(1, 10**6), st.integers(1, 1_000 * WAD)),  # amount, wei-sized or large
    ),
    min_size=1,
    max_size=5,
)


@given(
    is_call=strategy("bool"),
    strike_ticks=strategy("uint256", min_value=1, max_value=500_000),  # 0.01 .. 5,000.00 kUSD
    price_bps=st.one_of(st.just(10_000), st.integers(1, 30_000)),  # settlement price / strike
    price_wiggle=st.integers(-(10**6), 10**6),
    writes=actions,
    order_seed=st.integers(0, 2**32),
)
def test_redeem_and_release__random_books__never_pay_more_than_locked(
    house, writers, options, weth, kusd, feed, option_token, holder, other_holder, treasury, keeper, reporter,
    is_call, strike_ticks, price_bps, price_wiggle, writes, order_seed,
):
    """Property (invariants 1 and 6): with several writers and holders, whatever the strike,
    settlement price and amounts, after settlement
    - every holder gets exactly amount * payoff / WAD rounded down, and per unit at most
      max(0, S - K) / S underlying (call) or max(0, K - S) (put);
    - every writer gets back what it locked less written * payoff rounded up;
    - the house's balance never falls below what it still owes, and the sum of all payouts
      and releases never exceeds what was locked; what stays is rounding dust only."""
    holders = [holder, other_holder, treasury]
    asset = weth if is_call else kusd
    strike = strike_ticks * 10**16
    expiry = options["expiry"] + DAY  # a new series every example (no duplicate of the fixture's)
    series_id = house.create_series(options["weth_type"], strike, expiry, is_call, {"from": keeper}).return_value
    token = option_token(series_id)
    house_start = asset.balanceOf(house)

    written = [0, 0, 0]
    held = [0, 0, 0]
    locked_in = 0
    for writer_index, holder_index, amount in writes:
        locked = house.write(series_id, amount, holders[holder_index], {"from": writers[writer_index]}).return_value
        assert locked == (amount if is_call else mul_div(amount, strike, WAD, True))
        written[writer_index] += amount
        held[holder_index] += amount
        locked_in += locked
        assert asset.balanceOf(house) - house_start == locked_in
    total = sum(written)
    assert info(house, series_id)["written"] == total == token.totalSupply()

    price = max(strike * price_bps // 10_000 + price_wiggle, 1)
    price = min(price, 2**96 - 1)
    settle_with_price(house, feed, series_id, price, expiry + 10, reporter, keeper)
    down, up = payoff(is_call, price, strike), payoff(is_call, price, strike, True)
    funds = info(house, series_id)["funds"]
    assert funds == mul_div(total, up, WAD, True)

    def release_of(index):
        floor_locked = written[index] if is_call else mul_div(written[index], strike, WAD, False)
        return floor_locked - min(mul_div(written[index], up, WAD, True), floor_locked)

    owed_to_writers = {i: release_of(i) for i in range(3) if written[i]}
    owed_to_holders = funds
    assert asset.balanceOf(house) - house_start >= owed_to_holders + sum(owed_to_writers.values())

    steps = [("redeem", i) for i in range(3) if held[i]] + [("release", i) for i in owed_to_writers]
    random.Random(order_seed).shuffle(steps)
    paid = 0
    for kind, index in steps:
        if kind == "redeem":
            who = holders[index]
            before = asset.balanceOf(who)
            payout = house.redeem(series_id, held[index], who, {"from": who}).return_value
            assert payout == held[index] * down // WAD, "a holder gets exactly amount * payoff, rounded down"
            assert asset.balanceOf(who) == before + payout
            if is_call:
                assert payout * price <= held[index] * max(price - strike, 0), "call payoff above (S - K) / S"
            else:
                assert payout * WAD <= held[index] * max(strike - price, 0), "put payoff above K - S"
            owed_to_holders -= payout
            assert owed_to_holders >= 0
        else:
            who = writers[index]
            released = house.release(series_id, who, {"from": who}).return_value
            assert released == owed_to_writers.pop(index), "a writer gets locked - written * payoff (up)"
            payout = released
        paid += payout
        assert info(house, series_id)["funds"] == owed_to_holders
        owed = owed_to_holders + sum(owed_to_writers.values())
        assert asset.balanceOf(house) - house_start >= owed, "the house holds less than it owes"

    assert token.totalSupply() == 0
    assert paid <= locked_in, "paid out more than was locked"
    left = asset.balanceOf(house) - house_start
    assert left == locked_in - paid
    # only rounding stays: a wei per write (put collateral), per writer and per holder, and
    # total / WAD from the rounded-up payoff
    assert left <= len(writes) + total // WAD + 1 + 3 + 3, f"{left} wei stuck in the house"

"""OptionToken: the sealed template and its EIP-1167 proxies (initialise once, bound to the
house that created them), mint and burn by the house only, ERC-20 transfer / transferFrom /
approve / allowance semantics and reverts, and the name and symbol the house builds from a
series' terms (underlying, expiry date, strike with cents, C or P)."""

import datetime

import brownie
import pytest
from brownie import compile_source
from brownie.test import given, strategy

from tests.unit.conftest import DAY, MAX_UINT256, WAD, ZERO_ADDRESS, latest_timestamp, mine_at, next_expiry

SEALED_HOUSE = "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF"
WRITTEN = 10 * WAD  # what the writer writes (and holds) in the `written` fixture


def label_date(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y%m%d")


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def writer(borrower):
    return borrower


@pytest.fixture(scope="module")
def holder(stranger):
    return stranger


@pytest.fixture(scope="module")
def spender(operator):
    return operator


@pytest.fixture(scope="module")
def house(options):
    return options["house"]


@pytest.fixture(scope="module")
def call_id(options):
    return options["series"][(2_000, True)]


@pytest.fixture(scope="module")
def token(option_token, call_id):
    return option_token(call_id)


def write_calls(options, house, call_id, writer):
    weth = options["weth"]
    weth.mint(writer, WRITTEN, {"from": writer})
    weth.approve(house, WRITTEN, {"from": writer})
    house.write(call_id, WRITTEN, writer, {"from": writer})


@pytest.fixture
def written(options, house, call_id, token, writer):
    """The writer wrote WRITTEN covered calls of the 2,000 call series and holds them
    (function-scoped: the isolation snapshot is taken before, so no other test sees them)."""
    write_calls(options, house, call_id, writer)
    return token


PROXY_FACTORY_SOURCE = """# pragma version ~=0.4.3
# test double: makes a proxy of a template and initialises it (the caller of initialize
# becomes the proxy's house), to reach the paths the real house never takes
interface IOptionToken:
    def initialize(series_id: uint256): nonpayable
    def mint(receiver: address, amount: uint256): nonpayable

@external
def make(template: address, series_id: uint256) -> address:
    proxy: address = create_minimal_proxy_to(template)
    extcall IOptionToken(proxy).initialize(series_id)
    return proxy

@external
def make_uninitialised(template: address) -> address:
    return create_minimal_proxy_to(template)

@external
def mint(token: address, receiver: address, amount: uint256):
    extcall IOptionToken(token).mint(receiver, amount)
"""


@pytest.fixture(scope="module")
def proxy_factory(admin):
    project = compile_source(PROXY_FACTORY_SOURCE, vyper_version="0.4.3", evm_version="prague")
    return project.Vyper.deploy({"from": admin})


# ------------------------------------------------------------------ template and initialisation
def test_initialize__template__reverts_already_initialised(options, stranger):
    template = options["template"]
    with brownie.reverts("option: already initialised"):
        template.initialize(1, {"from": stranger})
    # sealed: its slot is all ones, so its "house" is an address nobody can send from
    assert template.house() == SEALED_HOUSE
    assert template.series_id() == 2**96 - 1


def test_mint__on_the_template__reverts_not_the_house(options, stranger, admin):
    template = options["template"]
    for caller in (stranger, admin):
        with brownie.reverts("option: not the house"):
            template.mint(stranger, WAD, {"from": caller})
    assert template.totalSupply() == 0
    assert template.balanceOf(stranger) == 0


def test_initialize__series_token_again__reverts_already_initialised(house, token, call_id, stranger, admin):
    for caller in (stranger, admin):
        with brownie.reverts("option: already initialised"):
            token.initialize(call_id + 1, {"from": caller})
    assert token.house() == house
    assert token.series_id() == call_id


def test_series_token__created_by_the_house__bound_to_house_and_series(house, options, option_token):
    for (strike, is_call), series_id in options["series"].items():
        token = option_token(series_id)
        assert token.house() == house
        assert token.series_id() == series_id
        assert token.decimals() == 18
        assert token.totalSupply() == 0


def test_initialize__fresh_proxy__caller_becomes_its_house(OptionToken, options, proxy_factory, admin):
    tx = proxy_factory.make(options["template"], 7, {"from": admin})
    proxy = OptionToken.at(tx.return_value)
    assert proxy.house() == proxy_factory
    assert proxy.series_id() == 7
    with brownie.reverts("option: already initialised"):
        proxy.initialize(8, {"from": admin})


def test_initialize__series_id_of_96_bits__reverts_too_large(OptionToken, options, proxy_factory, admin):
    with brownie.reverts("option: series id too large"):
        proxy_factory.make(options["template"], 2**96, {"from": admin})
    # the largest id that fits is accepted
    proxy = OptionToken.at(proxy_factory.make(options["template"], 2**96 - 1, {"from": admin}).return_value)
    assert proxy.series_id() == 2**96 - 1
    assert proxy.house() == proxy_factory


def test_mint__proxy_of_another_house__cannot_mint_the_real_series(token, proxy_factory, stranger):
    """A contract that initialised a proxy of its own is that proxy's house, not the series'."""
    with brownie.reverts("option: not the house"):
        proxy_factory.mint(token, stranger, WAD, {"from": stranger})
    assert token.totalSupply() == 0


def test_initialize__uninitialised_proxy__anyone_may_bind_it_once(OptionToken, options, proxy_factory, stranger, admin):
    proxy = OptionToken.at(proxy_factory.make_uninitialised(options["template"], {"from": admin}).return_value)
    assert proxy.house() == ZERO_ADDRESS
    with brownie.reverts("option: not the house"):
        proxy.mint(stranger, WAD, {"from": stranger})
    proxy.initialize(3, {"from": stranger})
    assert proxy.house() == stranger
    with brownie.reverts("option: already initialised"):
        proxy.initialize(4, {"from": admin})
    assert (proxy.house(), proxy.series_id()) == (stranger, 3)


# ------------------------------------------------------------------ mint and burn
def test_mint__not_the_house__reverts(token, writer, holder, admin):
    for caller in (holder, admin, writer):
        with brownie.reverts("option: not the house"):
            token.mint(caller, WAD, {"from": caller})
    assert token.totalSupply() == 0
    assert token.balanceOf(holder) == 0


def test_burn__holder_burning_own_tokens__reverts_not_the_house(written, writer, admin):
    for caller in (writer, admin):
        with brownie.reverts("option: not the house"):
            written.burn(writer, WAD, {"from": caller})
    assert written.balanceOf(writer) == WRITTEN
    assert written.totalSupply() == WRITTEN


def test_write__house_mints__transfer_from_zero_and_supply(house, token, call_id, options, writer, holder):
    weth = options["weth"]
    weth.mint(writer, 5 * WAD, {"from": writer})
    weth.approve(house, 5 * WAD, {"from": writer})
    tx = house.write(call_id, 5 * WAD, holder, {"from": writer})
    minted = [e for e in tx.events["Transfer"] if e.address == token.address]
    assert len(minted) == 1
    assert (minted[0]["sender"], minted[0]["receiver"], minted[0]["value"]) == (ZERO_ADDRESS, holder, 5 * WAD)
    assert token.balanceOf(holder) == 5 * WAD
    assert token.totalSupply() == 5 * WAD


def test_close__house_burns__transfer_to_zero_and_supply(house, written, call_id, writer):
    tx = house.close(call_id, 4 * WAD, writer, {"from": writer})
    burned = [e for e in tx.events["Transfer"] if e.address == written.address]
    assert len(burned) == 1
    assert (burned[0]["sender"], burned[0]["receiver"], burned[0]["value"]) == (writer, ZERO_ADDRESS, 4 * WAD)
    assert written.balanceOf(writer) == WRITTEN - 4 * WAD
    assert written.totalSupply() == WRITTEN - 4 * WAD


# ------------------------------------------------------------------ transfer
def test_transfer__within_balance__moves_tokens_and_logs(written, writer, holder):
    tx = written.transfer(holder, 3 * WAD, {"from": writer})
    assert tx.return_value is True
    assert written.balanceOf(writer) == WRITTEN - 3 * WAD
    assert written.balanceOf(holder) == 3 * WAD
    assert written.totalSupply() == WRITTEN
    event = tx.events["Transfer"]
    assert (event["sender"], event["receiver"], event["value"]) == (writer, holder, 3 * WAD)


def test_transfer__whole_balance__leaves_zero(written, writer, holder):
    written.transfer(holder, WRITTEN, {"from": writer})
    assert written.balanceOf(writer) == 0
    assert written.balanceOf(holder) == WRITTEN


def test_transfer__above_balance__reverts(written, writer, holder):
    with brownie.reverts("option: insufficient balance"):
        written.transfer(holder, WRITTEN + 1, {"from": writer})
    assert written.balanceOf(writer) == WRITTEN
    assert written.balanceOf(holder) == 0


def test_transfer__from_empty_account__reverts(written, holder, writer):
    with brownie.reverts("option: insufficient balance"):
        written.transfer(writer, 1, {"from": holder})
    assert written.balanceOf(writer) == WRITTEN


def test_transfer__to_zero_address__reverts(written, writer):
    with brownie.reverts("option: transfer to zero address"):
        written.transfer(ZERO_ADDRESS, WAD, {"from": writer})
    assert written.balanceOf(writer) == WRITTEN
    assert written.totalSupply() == WRITTEN


def test_transfer__zero_amount__succeeds_and_logs(written, holder, writer):
    tx = written.transfer(writer, 0, {"from": holder})
    assert tx.return_value is True
    assert tx.events["Transfer"]["value"] == 0
    assert written.balanceOf(writer) == WRITTEN


def test_transfer__to_self__balance_unchanged(written, writer):
    written.transfer(writer, 4 * WAD, {"from": writer})
    assert written.balanceOf(writer) == WRITTEN
    assert written.totalSupply() == WRITTEN


# ------------------------------------------------------------------ approve and transferFrom
def test_approve__any_amount__sets_allowance_and_logs(written, writer, spender):
    assert written.allowance(writer, spender) == 0
    tx = written.approve(spender, 7 * WAD, {"from": writer})
    assert tx.return_value is True
    assert written.allowance(writer, spender) == 7 * WAD
    event = tx.events["Approval"]
    assert (event["owner"], event["spender"], event["value"]) == (writer, spender, 7 * WAD)
    # approving again overwrites (no increase), and 0 revokes
    written.approve(spender, 2 * WAD, {"from": writer})
    assert written.allowance(writer, spender) == 2 * WAD
    written.approve(spender, 0, {"from": writer})
    assert written.allowance(writer, spender) == 0


def test_approve__above_balance__allowed(written, holder, spender):
    written.approve(spender, 10**30, {"from": holder})
    assert written.allowance(holder, spender) == 10**30
    assert written.balanceOf(holder) == 0


def test_transfer_from__within_allowance__moves_and_spends_allowance(written, writer, spender, holder):
    written.approve(spender, 5 * WAD, {"from": writer})
    tx = written.transferFrom(writer, holder, 2 * WAD, {"from": spender})
    assert tx.return_value is True
    assert written.balanceOf(writer) == WRITTEN - 2 * WAD
    assert written.balanceOf(holder) == 2 * WAD
    assert written.balanceOf(spender) == 0
    assert written.allowance(writer, spender) == 3 * WAD
    event = tx.events["Transfer"]
    assert (event["sender"], event["receiver"], event["value"]) == (writer, holder, 2 * WAD)


def test_transfer_from__exact_allowance__spends_it_to_zero(written, writer, spender):
    written.approve(spender, 5 * WAD, {"from": writer})
    written.transferFrom(writer, spender, 5 * WAD, {"from": spender})
    assert written.allowance(writer, spender) == 0
    assert written.balanceOf(spender) == 5 * WAD


def test_transfer_from__infinite_allowance__never_decreases(written, writer, spender, holder):
    written.approve(spender, MAX_UINT256, {"from": writer})
    written.transferFrom(writer, holder, 4 * WAD, {"from": spender})
    written.transferFrom(writer, holder, 6 * WAD, {"from": spender})
    assert written.allowance(writer, spender) == MAX_UINT256
    assert written.balanceOf(holder) == WRITTEN


def test_transfer_from__above_allowance__reverts(written, writer, spender, holder):
    written.approve(spender, WAD, {"from": writer})
    with brownie.reverts("option: insufficient allowance"):
        written.transferFrom(writer, holder, WAD + 1, {"from": spender})
    assert written.allowance(writer, spender) == WAD
    assert written.balanceOf(writer) == WRITTEN
    assert written.balanceOf(holder) == 0


def test_transfer_from__without_approval__reverts(written, writer, spender, holder):
    with brownie.reverts("option: insufficient allowance"):
        written.transferFrom(writer, holder, 1, {"from": spender})
    assert written.balanceOf(writer) == WRITTEN


def test_transfer_from__owner_without_allowance_to_itself__reverts(written, writer, holder):
    """No self-exemption: the owner moving its own tokens through transferFrom needs an allowance."""
    with brownie.reverts("option: insufficient allowance"):
        written.transferFrom(writer, holder, WAD, {"from": writer})
    assert written.balanceOf(writer) == WRITTEN


def test_transfer_from__allowance_above_balance__reverts_insufficient_balance(written, writer, spender, holder):
    written.approve(spender, MAX_UINT256 - 1, {"from": writer})
    with brownie.reverts("option: insufficient balance"):
        written.transferFrom(writer, holder, WRITTEN + 1, {"from": spender})
    assert written.allowance(writer, spender) == MAX_UINT256 - 1
    assert written.balanceOf(writer) == WRITTEN
    assert written.balanceOf(holder) == 0


def test_transfer_from__to_zero_address__reverts(written, writer, spender):
    written.approve(spender, WAD, {"from": writer})
    with brownie.reverts("option: transfer to zero address"):
        written.transferFrom(writer, ZERO_ADDRESS, WAD, {"from": spender})
    assert written.allowance(writer, spender) == WAD
    assert written.balanceOf(writer) == WRITTEN


@given(
    allowance=strategy("uint256", max_value=2 * WRITTEN),
    amount=strategy("uint256", max_value=2 * WRITTEN),
    infinite=strategy("bool"),
)
def test_transfer_from__random_allowance_and_amount__succeeds_iff_covered(
    options, house, call_id, token, writer, spender, holder, allowance, amount, infinite
):
    """Property: transferFrom succeeds iff amount <= allowance and amount <= balance; then the
    balances move by amount and a finite allowance drops by it; otherwise nothing changes.
    (The options are written inside: hypothesis refuses function-scoped fixtures.)"""
    write_calls(options, house, call_id, writer)
    written = token
    allowance = MAX_UINT256 if infinite else allowance
    written.approve(spender, allowance, {"from": writer})
    if amount > allowance:
        reason = "option: insufficient allowance"
    elif amount > WRITTEN:
        reason = "option: insufficient balance"
    else:
        reason = None
    if reason:
        with brownie.reverts(reason):
            written.transferFrom(writer, holder, amount, {"from": spender})
        assert written.balanceOf(writer) == WRITTEN
        assert written.allowance(writer, spender) == allowance
        return
    written.transferFrom(writer, holder, amount, {"from": spender})
    assert written.balanceOf(writer) == WRITTEN - amount
    assert written.balanceOf(holder) == amount
    assert written.allowance(writer, spender) == (MAX_UINT256 if infinite else allowance - amount)
    assert written.totalSupply() == WRITTEN


# ------------------------------------------------------------------ name and symbol
@pytest.mark.parametrize("is_call, kind", [(True, "C"), (False, "P")])
def test_name_and_symbol__whole_strike__built_by_the_house(options, option_token, is_call, kind):
    token = option_token(options["series"][(2_000, is_call)])
    label = f"WETH-{label_date(options['expiry'])}-2000-{kind}"
    assert token.name() == f"Keel option {label}"
    assert token.symbol() == f"k{label}"
    assert token.symbol().startswith("kWETH-")
    assert token.name() == options["house"].series_name(token.series_id())
    assert token.symbol() == options["house"].series_symbol(token.series_id())


@pytest.mark.parametrize(
    "strike, text",
    [
        (2_000 * WAD + WAD // 2, "2000.50"),  # cents: always two digits
        (2_000 * WAD + 5 * 10**16, "2000.05"),  # below 10 cents: a leading zero
        (2_000 * WAD + 10**17, "2000.10"),
        (2_000 * WAD + 99 * 10**16, "2000.99"),
        (10**16, "0.01"),
        (WAD // 2, "0.50"),
        (1_234_567 * WAD, "1234567"),
        ((2**96 - 1) // 10**16 * 10**16, "79228162514.26"),  # the largest strike on the grid
    ],
)
def test_name_and_symbol__strike_with_cents__two_decimals(options, option_token, admin, strike, text):
    house = options["house"]
    series_id = house.create_series(options["weth_type"], strike, options["expiry"], True, {"from": admin}).return_value
    token = option_token(series_id)
    label = f"WETH-{label_date(options['expiry'])}-{text}-C"
    assert token.symbol() == f"k{label}"
    assert token.name() == f"Keel option {label}"


def test_name_and_symbol__month_and_year_ends__date_matches_calendar(options, option_token, admin):
    """Expiries on the first and last day of each of the next 23 months (a leap day when one
    falls in range): YYYYMMDD in the label matches Python's calendar."""
    house = options["house"]
    now = latest_timestamp()
    first = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).replace(day=1, hour=8, minute=0, second=0)
    expiries = []
    for months in range(1, 24):
        year, month = first.year + (first.month - 1 + months) // 12, (first.month - 1 + months) % 12 + 1
        start = first.replace(year=year, month=month)
        expiries.append(int(start.timestamp()))
        expiries.append(int(start.timestamp()) - DAY)  # the last day of the month before
    expiries = sorted(e for e in set(expiries) if now < e <= now + 2 * 365 * DAY)
    assert len(expiries) >= 40
    for expiry in expiries:
        series_id = house.create_series(options["weth_type"], 2_001 * WAD, expiry, False, {"from": admin}).return_value
        assert option_token(series_id).symbol() == f"kWETH-{label_date(expiry)}-2001-P", expiry


@given(days=strategy("uint256", min_value=1, max_value=720))
def test_series_symbol__random_expiry__date_matches_calendar(options, admin, days):
    """Property: whatever the expiry within two years, the label's date is its UTC date."""
    house = options["house"]
    expiry = next_expiry(1) + (days - 1) * DAY
    series_id = house.create_series(options["weth_type"], 1_000 * WAD, expiry, True, {"from": admin}).return_value
    assert house.series_symbol(series_id) == f"kWETH-{label_date(expiry)}-1000-C"


def test_name__after_settlement_and_transfers__unchanged(options, written, call_id, writer, holder, reporter):
    before = (written.name(), written.symbol())
    written.transfer(holder, WAD, {"from": writer})
    mine_at(options["expiry"] + 60)
    options["feed"].set_price(2_100 * WAD, {"from": reporter})
    options["house"].settle(call_id, {"from": holder})
    assert (written.name(), written.symbol()) == before


def test_series_name__unknown_series__reverts(options):
    with brownie.reverts("options: unknown series"):
        options["house"].series_name(999)

"""PriceFeed: median of reporters, circuit breaker, security-module delay, EWMA volatility.

Unless a test deploys its own feed, `price_feed` has three reporters (`feed_reporters`),
quorum 2, report_max_age 600 s, max_age 7,200 s, delay 600 s, confirm_delay 300 s,
max_jump 2,000 bps and lambda 9,400 bps (conftest FEED_*). Every transaction whose time
matters is mined at a pinned timestamp.
"""

import math
import random
import statistics

import brownie
import pytest
from brownie.test import given, strategy
from hypothesis import strategies as st

from tests.unit.conftest import (
    FEED_CONFIRM_DELAY,
    FEED_DELAY,
    FEED_LAMBDA_BPS,
    FEED_MAX_AGE,
    FEED_MAX_JUMP_BPS,
    FEED_QUORUM,
    FEED_REPORT_MAX_AGE,
    MAX_UINT256,
    ZERO_ADDRESS,
    deploy_price_feed,
    feed_poke,
    feed_report,
    latest_timestamp,
    mine_at,
    set_next_timestamp,
)
from tests.unit.oracle_reference import (
    MAX_PRICE,
    MAX_VOLATILITY,
    SECONDS_PER_YEAR,
    SIGMA_TOLERANCE_MIN_VARIANCE_WEI,
    VARIANCE_ERROR_WEI,
    WAD,
    VolatilitySampler,
    ewma_step,
    seed_variance,
    sigma_of,
    sigma_tolerance,
    within,
)

P = 2_000 * WAD  # the reference price
JUMP = 3_000 * WAD  # 50 % above P: beyond max_jump (20 %)
DEFAULT_PARAMETERS = (
    FEED_QUORUM,
    FEED_REPORT_MAX_AGE,
    FEED_MAX_AGE,
    FEED_DELAY,
    FEED_CONFIRM_DELAY,
    FEED_MAX_JUMP_BPS,
    FEED_LAMBDA_BPS,
)


def _start():
    return latest_timestamp() + 10


def _establish(feed, reporters, price, at):
    """Every reporter reports `price` at at, at + 1, ...; the second report is accepted.
    Returns the time of the last report (= the last acceptance)."""
    for offset, who in enumerate(reporters):
        feed_report(feed, who, price, at + offset)
    return at + len(reporters) - 1


def _hold(feed, reporters, price, at):
    """From an established P: reporters 0 and 1 report `price` at at, at + 1; the second
    report moves the median and trips the breaker. Returns held_since (= at + 1)."""
    feed_report(feed, reporters[0], price, at)
    tx = feed_report(feed, reporters[1], price, at + 1)
    assert "PriceHeld" in tx.events
    return at + 1


def _update_at(feed, at, sender):
    set_next_timestamp(at)
    return feed.update({"from": sender})


def _state(feed):
    return (feed.latest(), feed.held(), feed.peek(), feed.peek_next(), feed.variance(), feed.current_median())


# ================================================================== deploy and parameters
def test_deploy__valid_parameters__stores_them_and_logs_each(PriceFeed, admin):
    feed = PriceFeed.deploy(admin, *DEFAULT_PARAMETERS, {"from": admin})
    assert feed.parameters() == DEFAULT_PARAMETERS
    logged = [(e["parameter"], e["value"]) for e in feed.tx.events["ParameterSet"]]
    assert logged == [
        ("quorum", FEED_QUORUM),
        ("report_max_age", FEED_REPORT_MAX_AGE),
        ("delay", FEED_DELAY),
        ("confirm_delay", FEED_CONFIRM_DELAY),
        ("max_jump_bps", FEED_MAX_JUMP_BPS),
        ("ewma_lambda_bps", FEED_LAMBDA_BPS),
        ("max_age", FEED_MAX_AGE),
    ]
    assert feed.owner() == admin
    assert feed.volatility_interval() == 0
    assert (feed.reporter_count(), feed.reporters(), feed.variance(), feed.volatility()) == (0, [], 0, 0)
    assert (feed.latest(), feed.held(), feed.peek(), feed.peek_next()) == ((0, 0), (0, 0), (0, False), (0, 0, FEED_DELAY))


# constructor argument order: quorum, report_max_age, max_age, delay, confirm_delay, max_jump, lambda
@pytest.mark.parametrize(
    "index, value, reason",
    [
        (0, 0, "feed: parameter out of bounds"),
        (0, 17, "feed: parameter out of bounds"),
        (1, 59, "feed: parameter out of bounds"),
        (1, 86_401, "feed: parameter out of bounds"),
        (2, 0, "feed: parameter out of bounds"),
        (2, 7 * 86_400 + 1, "feed: parameter out of bounds"),
        (2, 2 * FEED_DELAY - 1, "feed: max age below twice the delay"),
        (3, 86_401, "feed: parameter out of bounds"),
        (4, 86_401, "feed: parameter out of bounds"),
        (5, 99, "feed: parameter out of bounds"),
        (5, 9_001, "feed: parameter out of bounds"),
        (6, 4_999, "feed: parameter out of bounds"),
        (6, 9_991, "feed: parameter out of bounds"),
    ],
)
def test_deploy__parameter_out_of_bounds__reverts(PriceFeed, admin, index, value, reason):
    arguments = list(DEFAULT_PARAMETERS)
    arguments[index] = value
    with brownie.reverts(reason):
        PriceFeed.deploy(admin, *arguments, {"from": admin})


def test_deploy__zero_owner__reverts(PriceFeed, admin):
    with brownie.reverts("access: zero owner"):
        PriceFeed.deploy(ZERO_ADDRESS, *DEFAULT_PARAMETERS, {"from": admin})


# setter, index in parameters(), event name, valid values, (invalid value, reason)
SETTERS = [
    ("set_quorum", 0, "quorum", [1, 16], [(0, "feed: parameter out of bounds"), (17, "feed: parameter out of bounds")]),
    ("set_report_max_age", 1, "report_max_age", [60, 86_400],
     [(59, "feed: parameter out of bounds"), (86_401, "feed: parameter out of bounds")]),
    ("set_max_age", 2, "max_age", [2 * FEED_DELAY, 7 * 86_400],
     [(0, "feed: parameter out of bounds"), (7 * 86_400 + 1, "feed: parameter out of bounds"),
      (2 * FEED_DELAY - 1, "feed: max age below twice the delay")]),
    ("set_delay", 3, "delay", [0, FEED_MAX_AGE // 2],
     [(FEED_MAX_AGE // 2 + 1, "feed: max age below twice the delay")]),
    ("set_confirm_delay", 4, "confirm_delay", [0, 86_400], [(86_401, "feed: parameter out of bounds")]),
    ("set_max_jump_bps", 5, "max_jump_bps", [100, 9_000],
     [(99, "feed: parameter out of bounds"), (9_001, "feed: parameter out of bounds")]),
    ("set_ewma_lambda_bps", 6, "ewma_lambda_bps", [5_000, 9_990],
     [(4_999, "feed: parameter out of bounds"), (9_991, "feed: parameter out of bounds")]),
]
VALID_SETS = [(name, index, event, value) for name, index, event, valid, _ in SETTERS for value in valid]
INVALID_SETS = [(name, index, value, reason) for name, index, _, _, invalid in SETTERS for value, reason in invalid]


@pytest.mark.parametrize("setter, index, event_name, value", VALID_SETS)
def test_setter__oracle_admin_valid_value__stores_only_that_parameter_and_logs(price_feed, admin, setter, index, event_name, value):
    tx = getattr(price_feed, setter)(value, {"from": admin})
    expected = list(DEFAULT_PARAMETERS)
    expected[index] = value
    assert price_feed.parameters() == tuple(expected)
    assert (tx.events["ParameterSet"]["parameter"], tx.events["ParameterSet"]["value"]) == (event_name, value)


@pytest.mark.parametrize("setter, index, value, reason", INVALID_SETS)
def test_setter__invalid_value__reverts_and_changes_nothing(price_feed, admin, setter, index, value, reason):
    with brownie.reverts(reason):
        getattr(price_feed, setter)(value, {"from": admin})
    assert price_feed.parameters() == DEFAULT_PARAMETERS


@pytest.mark.parametrize("setter", [s[0] for s in SETTERS] + ["set_volatility_interval", "seed_volatility"])
def test_setter__by_stranger__reverts_and_changes_nothing(price_feed, stranger, setter):
    value = 600 if setter != "seed_volatility" else WAD
    with brownie.reverts("access: missing role"):
        getattr(price_feed, setter)(value, {"from": stranger})
    assert price_feed.parameters() == DEFAULT_PARAMETERS
    assert price_feed.volatility_interval() == 0
    assert price_feed.variance() == 0


@pytest.mark.parametrize("seconds", [0, 1, 3_600, 86_400])
def test_set_volatility_interval__within_bounds__stores_only_it_and_logs(price_feed, admin, seconds):
    price_feed.set_volatility_interval(7, {"from": admin})
    tx = price_feed.set_volatility_interval(seconds, {"from": admin})
    assert price_feed.volatility_interval() == seconds
    assert price_feed.parameters() == DEFAULT_PARAMETERS
    assert (tx.events["ParameterSet"]["parameter"], tx.events["ParameterSet"]["value"]) == ("volatility_interval", seconds)


@pytest.mark.parametrize("seconds", [86_401, 2**32, MAX_UINT256])
def test_set_volatility_interval__out_of_bounds__reverts_and_changes_nothing(price_feed, admin, seconds):
    price_feed.set_volatility_interval(3_600, {"from": admin})
    with brownie.reverts("feed: parameter out of bounds"):
        price_feed.set_volatility_interval(seconds, {"from": admin})
    assert price_feed.volatility_interval() == 3_600
    assert price_feed.parameters() == DEFAULT_PARAMETERS


def test_set_delay__beyond_bound_with_long_max_age__reverts_out_of_bounds(price_feed, admin):
    price_feed.set_max_age(7 * 86_400, {"from": admin})
    price_feed.set_delay(86_400, {"from": admin})
    with brownie.reverts("feed: parameter out of bounds"):
        price_feed.set_delay(86_401, {"from": admin})
    assert price_feed.parameters()[3] == 86_400


def test_set_delay__huge_value__reverts(price_feed, admin):
    with brownie.reverts("feed: parameter out of bounds"):
        price_feed.set_delay(MAX_UINT256, {"from": admin})
    assert price_feed.parameters() == DEFAULT_PARAMETERS


SETTER_BY_INDEX = {index: (name, event) for name, index, event, _, _ in SETTERS}
SETTER_BY_INDEX[7] = ("set_volatility_interval", "volatility_interval")  # not in parameters()
BOUNDS = {
    0: (1, 16), 1: (60, 86_400), 2: (1, 7 * 86_400), 3: (0, 86_400), 4: (0, 86_400), 5: (100, 9_000),
    6: (5_000, 9_990), 7: (0, 86_400),
}


@given(
    calls=st.lists(
        st.tuples(st.integers(min_value=0, max_value=7), st.integers(min_value=0, max_value=2**20)),
        min_size=1,
        max_size=6,
    )
)
def test_setters__random_sequence__parameters_match_model(price_feed, admin, calls):
    """Each parameter lives in its own bits: any sequence of valid and invalid sets leaves
    parameters() and volatility_interval() equal to a plain model (and reverts exactly where
    the model says)."""
    model = list(DEFAULT_PARAMETERS) + [0]
    for index, raw in calls:
        low, high = BOUNDS[index]
        value = raw % (2 * high + 2)
        setter, event = SETTER_BY_INDEX[index]
        reason = None
        if not low <= value <= high:
            reason = "feed: parameter out of bounds"
        elif index == 3 and 2 * value > model[2]:
            reason = "feed: max age below twice the delay"
        elif index == 2 and value < 2 * model[3]:
            reason = "feed: max age below twice the delay"
        if reason is None:
            tx = getattr(price_feed, setter)(value, {"from": admin})
            assert tx.events["ParameterSet"]["value"] == value
            model[index] = value
        else:
            with brownie.reverts(reason):
                getattr(price_feed, setter)(value, {"from": admin})
        assert price_feed.parameters() == tuple(model[:7])
        assert price_feed.volatility_interval() == model[7]


# ------------------------------------------------------------------ seed_volatility
@given(sigma=strategy("uint256", max_value=MAX_VOLATILITY))
def test_seed_volatility__any_sigma__round_trips_within_flooring(price_feed, admin, sigma):
    """variance = sigma^2 / year / WAD (floored); volatility() = isqrt(variance * year * WAD)
    reads back sigma rounded down by at most year * WAD / sigma + 1 wei."""
    tx = price_feed.seed_volatility(sigma, {"from": admin})
    assert (tx.events["ParameterSet"]["parameter"], tx.events["ParameterSet"]["value"]) == ("volatility", sigma)
    assert price_feed.variance() == seed_variance(sigma)
    got = price_feed.volatility()
    assert got == sigma_of(seed_variance(sigma))
    assert got <= sigma
    if sigma:
        assert sigma - got <= SECONDS_PER_YEAR * WAD // sigma + 1


@pytest.mark.parametrize("sigma", [WAD // 5, 8 * WAD // 10, MAX_VOLATILITY])
def test_seed_volatility__typical_sigma__reads_back_to_1e_minus_9(price_feed, admin, sigma):
    price_feed.seed_volatility(sigma, {"from": admin})
    assert abs(price_feed.volatility() - sigma) <= sigma // 10**9


def test_seed_volatility__above_ten__reverts_and_changes_nothing(price_feed, admin):
    price_feed.seed_volatility(WAD, {"from": admin})
    variance = price_feed.variance()
    with brownie.reverts("feed: parameter out of bounds"):
        price_feed.seed_volatility(MAX_VOLATILITY + 1, {"from": admin})
    assert price_feed.variance() == variance


# ================================================================== reporters
def test_add_reporter__by_oracle_admin__appends_slot_and_logs(price_feed, feed_reporters, admin, stranger):
    tx = price_feed.add_reporter(stranger, {"from": admin})
    assert tx.events["ReporterAdded"]["reporter"] == stranger
    assert price_feed.reporters() == feed_reporters + [stranger]
    assert price_feed.reporter_count() == 4
    assert price_feed.reporter_slot(stranger) == 4
    assert price_feed.report_of(stranger) == (0, 0)


def test_add_reporter__by_stranger__reverts_and_changes_nothing(price_feed, feed_reporters, stranger):
    with brownie.reverts("access: missing role"):
        price_feed.add_reporter(stranger, {"from": stranger})
    assert price_feed.reporters() == feed_reporters


def test_add_reporter__zero_address__reverts(price_feed, feed_reporters, admin):
    with brownie.reverts("feed: zero reporter"):
        price_feed.add_reporter(ZERO_ADDRESS, {"from": admin})
    assert price_feed.reporters() == feed_reporters


def test_add_reporter__twice__reverts_already_a_reporter(price_feed, feed_reporters, admin):
    with brownie.reverts("feed: already a reporter"):
        price_feed.add_reporter(feed_reporters[1], {"from": admin})
    assert price_feed.reporter_count() == 3


def test_add_reporter__seventeenth__reverts_too_many(price_feed, feed_reporters, admin, stranger):
    extra = [f"0x{index:040x}" for index in range(1, 14)]
    for address in extra:
        price_feed.add_reporter(address, {"from": admin})
    assert price_feed.reporter_count() == 16
    with brownie.reverts("feed: too many reporters"):
        price_feed.add_reporter(stranger, {"from": admin})
    assert price_feed.reporter_count() == 16
    assert price_feed.reporter_slot(stranger) == 0


def test_remove_reporter__middle_slot__moves_last_reporter_and_its_report(price_feed, feed_reporters, admin):
    first, middle, last = feed_reporters
    at = _start()
    feed_report(price_feed, first, P, at)
    feed_report(price_feed, middle, 2_200 * WAD, at + 1)
    feed_report(price_feed, last, 2_300 * WAD, at + 2)
    assert price_feed.current_median() == (3, 2_200 * WAD)
    tx = price_feed.remove_reporter(middle, {"from": admin})
    assert tx.events["ReporterRemoved"]["reporter"] == middle
    assert price_feed.reporters() == [first, last]
    assert price_feed.reporter_count() == 2
    assert (price_feed.reporter_slot(middle), price_feed.reporter_slot(last)) == (0, 2)
    assert price_feed.report_of(last) == (2_300 * WAD, at + 2)
    # the removed report no longer counts: median_low(2,000, 2,300) = 2,000
    assert price_feed.current_median() == (2, P)


def test_remove_reporter__last_slot__shrinks_list(price_feed, feed_reporters, admin):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    price_feed.remove_reporter(feed_reporters[2], {"from": admin})
    assert price_feed.reporters() == feed_reporters[:2]
    assert price_feed.current_median() == (2, P)


def test_remove_reporter__removed_reporter__can_no_longer_report(price_feed, feed_reporters, admin):
    price_feed.remove_reporter(feed_reporters[0], {"from": admin})
    with brownie.reverts("feed: not a reporter"):
        feed_report(price_feed, feed_reporters[0], P, _start())
    with brownie.reverts("feed: not a reporter"):
        price_feed.report_of(feed_reporters[0])


def test_remove_reporter__report_stops_counting_toward_quorum(price_feed, feed_reporters, admin):
    at = _start()
    feed_report(price_feed, feed_reporters[0], P, at)
    feed_report(price_feed, feed_reporters[1], P, at + 1)
    assert price_feed.latest() == (P, at + 1)
    price_feed.remove_reporter(feed_reporters[1], {"from": admin})
    assert price_feed.current_median() == (1, P)
    tx = _update_at(price_feed, at + 3, admin)
    assert tx.return_value is False
    assert "PriceAccepted" not in tx.events
    assert price_feed.latest() == (P, at + 1)


def test_remove_reporter__then_re_add__starts_with_empty_report(price_feed, feed_reporters, admin):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    price_feed.remove_reporter(feed_reporters[0], {"from": admin})
    price_feed.add_reporter(feed_reporters[0], {"from": admin})
    assert price_feed.reporters() == [feed_reporters[2], feed_reporters[1], feed_reporters[0]]
    assert price_feed.report_of(feed_reporters[0]) == (0, 0)
    assert price_feed.current_median() == (2, P)
    # its old observation time no longer blocks an (older) new report
    feed_report(price_feed, feed_reporters[0], P, at + 5, observed_at=at + 1)
    assert price_feed.report_of(feed_reporters[0]) == (P, at + 1)


def test_remove_reporter__not_a_reporter__reverts(price_feed, admin, stranger):
    with brownie.reverts("feed: not a reporter"):
        price_feed.remove_reporter(stranger, {"from": admin})
    assert price_feed.reporter_count() == 3


def test_remove_reporter__by_stranger__reverts(price_feed, feed_reporters, stranger):
    with brownie.reverts("access: missing role"):
        price_feed.remove_reporter(feed_reporters[0], {"from": stranger})
    assert price_feed.reporters() == feed_reporters


# ================================================================== report validation
def test_report__by_reporter__stores_and_logs(price_feed, feed_reporters):
    at = _start()
    tx = feed_report(price_feed, feed_reporters[0], P, at, observed_at=at - 30)
    event = tx.events["PriceReported"]
    assert (event["reporter"], event["price"], event["observed_at"]) == (feed_reporters[0], P, at - 30)
    assert price_feed.report_of(feed_reporters[0]) == (P, at - 30)
    assert price_feed.current_median() == (1, P)


def test_report__by_non_reporter__reverts(price_feed, stranger):
    with brownie.reverts("feed: not a reporter"):
        feed_report(price_feed, stranger, P, _start())
    assert price_feed.current_median() == (0, 0)


@pytest.mark.parametrize(
    "price, observed_offset, reason",
    [
        (0, 0, "feed: price out of bounds"),
        (MAX_PRICE + 1, 0, "feed: price out of bounds"),
        (P, 1, "feed: report from the future"),
        (P, -(FEED_REPORT_MAX_AGE + 1), "feed: report too old"),
        (P, -(FEED_REPORT_MAX_AGE + 100), "feed: report too old"),
        (P, -20, "feed: report not newer"),  # the previous report was observed at -10
        (P, -10, "feed: report not newer"),
    ],
)
def test_report__invalid__reverts_and_changes_nothing(price_feed, feed_reporters, price, observed_offset, reason):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    now = at + 20
    feed_report(price_feed, feed_reporters[0], 2_100 * WAD, now - 10)  # observed at now - 10
    before = (price_feed.report_of(feed_reporters[0]), _state(price_feed))
    with brownie.reverts(reason):
        feed_report(price_feed, feed_reporters[0], price, now, observed_at=now + observed_offset)
    assert (price_feed.report_of(feed_reporters[0]), _state(price_feed)) == before


@pytest.mark.parametrize("observed_offset", [0, -FEED_REPORT_MAX_AGE])
def test_report__observed_now_or_exactly_max_age_ago__accepted(price_feed, feed_reporters, observed_offset):
    at = _start()
    feed_report(price_feed, feed_reporters[0], P, at, observed_at=at + observed_offset)
    assert price_feed.report_of(feed_reporters[0]) == (P, at + observed_offset)


def test_report__largest_price__accepted(price_feed, feed_reporters):
    at = _start()
    feed_report(price_feed, feed_reporters[0], MAX_PRICE, at)
    tx = feed_report(price_feed, feed_reporters[1], MAX_PRICE, at + 1)
    assert tx.events["PriceAccepted"]["price"] == MAX_PRICE
    assert price_feed.latest() == (MAX_PRICE, at + 1)


# ================================================================== median and quorum
def test_report__first_quorum__accepts_median_and_logs(price_feed, feed_reporters):
    at = _start()
    first = feed_report(price_feed, feed_reporters[0], P, at)
    assert "PriceAccepted" not in first.events
    assert price_feed.latest() == (0, 0)
    tx = feed_report(price_feed, feed_reporters[1], 2_100 * WAD, at + 1)
    event = tx.events["PriceAccepted"]
    assert (event["price"], event["previous_price"], event["confirmed_jump"], event["volatility"]) == (P, 0, False, 0)
    assert price_feed.latest() == (P, at + 1)
    assert price_feed.variance() == 0


def test_report__below_quorum__accepts_nothing(price_feed, feed_reporters, admin):
    price_feed.set_quorum(3, {"from": admin})
    at = _start()
    for offset, who in enumerate(feed_reporters[:2]):
        tx = feed_report(price_feed, who, P, at + offset)
        assert "PriceAccepted" not in tx.events
    assert price_feed.current_median() == (2, P)
    assert _update_at(price_feed, at + 3, admin).return_value is False
    assert price_feed.latest() == (0, 0)
    tx = feed_report(price_feed, feed_reporters[2], P, at + 4)
    assert tx.events["PriceAccepted"]["price"] == P


def test_update__all_reports_stale__accepts_nothing(price_feed, feed_reporters, admin):
    at = _start()
    last = _establish(price_feed, feed_reporters, P, at)
    mine_at(at + FEED_REPORT_MAX_AGE)
    assert price_feed.current_median() == (3, P)  # exactly report_max_age old still counts
    mine_at(at + FEED_REPORT_MAX_AGE + 1)
    assert price_feed.current_median() == (2, P)
    mine_at(last + FEED_REPORT_MAX_AGE)
    assert price_feed.current_median() == (1, P)  # only the last report is still fresh
    mine_at(last + FEED_REPORT_MAX_AGE + 1)
    assert price_feed.current_median() == (0, 0)
    tx = _update_at(price_feed, last + FEED_REPORT_MAX_AGE + 2, admin)
    assert tx.return_value is False
    assert "PriceAccepted" not in tx.events
    assert price_feed.latest() == (P, last)


def test_update__fresh_quorum__reaccepts_same_median(price_feed, feed_reporters, admin):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    tx = _update_at(price_feed, at + 10, admin)
    assert tx.return_value is True
    assert tx.events["PriceAccepted"]["price"] == P
    assert price_feed.latest() == (P, at + 10)


@pytest.fixture(scope="module")
def sixteen_reporters(accounts):
    """16 reporter accounts: anvil accounts 6..19 plus two local (deterministic) keys."""
    local = [accounts.add("0x" + f"{index:02x}" * 32) for index in (0xA1, 0xA2)]
    yield list(accounts[6:20]) + local
    for account in local:
        accounts.remove(account)


@pytest.fixture(scope="module")
def big_feed(PriceFeed, admin, sixteen_reporters):
    """A PriceFeed (FEED_* parameters, quorum 1) with 16 reporters; nothing reported yet."""
    return deploy_price_feed(PriceFeed, admin, sixteen_reporters, quorum=1)


@given(
    prices=strategy("uint256[]", min_length=1, max_length=16, min_value=1, max_value=MAX_PRICE),
    quorum_seed=strategy("uint8"),
    narrow=strategy("bool"),
)
def test_current_median__fresh_reports__equals_statistics_median_low(
    big_feed, sixteen_reporters, admin, prices, quorum_seed, narrow
):
    """The median is statistics.median_low of the fresh reports; nothing is accepted before
    `quorum` reports, and the first acceptance is median_low of the first `quorum` reports.
    With `narrow`, prices lie within +-5 % of P (every median within max_jump of the last), so
    every report from the quorum-th on is accepted at median_low of the reports so far."""
    if narrow:
        prices = [P * 95 // 100 + price % (P // 10) for price in prices]
    quorum = 1 + quorum_seed % len(prices)
    big_feed.set_quorum(quorum, {"from": admin})
    at = _start()
    for offset, (who, price) in enumerate(zip(sixteen_reporters, prices)):
        tx = feed_report(big_feed, who, price, at + offset)
        if offset + 1 < quorum:
            assert "PriceAccepted" not in tx.events
            assert big_feed.latest() == (0, 0)
        elif offset + 1 == quorum or narrow:
            assert tx.events["PriceAccepted"]["price"] == statistics.median_low(prices[: offset + 1])
    assert big_feed.current_median() == (len(prices), statistics.median_low(prices))
    if narrow:
        assert big_feed.latest() == (statistics.median_low(prices), at + len(prices) - 1)
    assert big_feed.latest()[0] != 0


@given(
    reports=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**6),  # price, whole units
            st.integers(min_value=0, max_value=3 * FEED_REPORT_MAX_AGE),  # age at the check
        ),
        min_size=1,
        max_size=16,
    ),
    extra=st.integers(min_value=0, max_value=FEED_REPORT_MAX_AGE),
)
def test_current_median__fresh_and_stale_reports__counts_only_fresh(big_feed, sixteen_reporters, reports, extra):
    """Each reporter reports once, aged 0 .. 1,800 s at the check time; only reports at most
    report_max_age old count, and the median is median_low of those alone."""
    check = _start() + 4 * FEED_REPORT_MAX_AGE + extra
    # oldest first, each submitted in a block at (or just after) its observation time
    order = sorted(range(len(reports)), key=lambda i: -reports[i][1])
    block = 0
    for i in order:
        price, age = reports[i]
        observed = check - age
        block = max(block + 1, observed)
        feed_report(big_feed, sixteen_reporters[i], price * WAD, block, observed_at=observed)
    mine_at(max(check, block))
    now = max(check, block)
    fresh = [price * WAD for price, age in reports if (check - age) + FEED_REPORT_MAX_AGE >= now]
    expected = (len(fresh), statistics.median_low(fresh)) if fresh else (0, 0)
    assert big_feed.current_median() == expected


# ================================================================== circuit breaker
def test_report__median_jumps_beyond_max_jump__held_not_accepted(price_feed, feed_reporters):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    feed_report(price_feed, feed_reporters[0], JUMP, at + 10)  # median still P: re-accepted
    accepted_at = at + 10
    tx = feed_report(price_feed, feed_reporters[1], JUMP, at + 11)
    event = tx.events["PriceHeld"]
    assert (event["price"], event["accepted_price"], event["held_since"]) == (JUMP, P, at + 11)
    assert "PriceAccepted" not in tx.events
    assert price_feed.held() == (JUMP, at + 11)
    assert price_feed.latest() == (P, accepted_at)
    assert price_feed.current_median() == (3, JUMP)


@pytest.mark.parametrize("target, held", [(P + P // 5, False), (P + P // 5 + 1, True), (P - P // 5, False), (P - P // 5 - 1, True)])
def test_report__move_at_the_max_jump_boundary__accepted_iff_within(price_feed, feed_reporters, target, held):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    feed_report(price_feed, feed_reporters[0], target, at + 10)
    tx = feed_report(price_feed, feed_reporters[1], target, at + 11)
    assert within(target, P, FEED_MAX_JUMP_BPS) is not held
    assert ("PriceHeld" in tx.events) is held
    assert price_feed.latest()[0] == (P if held else target)


def test_update__held_jump_after_confirm_delay__accepted_as_confirmed(price_feed, feed_reporters, admin):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    tx = _update_at(price_feed, held_since + FEED_CONFIRM_DELAY, admin)
    assert tx.return_value is True
    event = tx.events["PriceAccepted"]
    assert (event["price"], event["previous_price"], event["confirmed_jump"]) == (JUMP, P, True)
    assert price_feed.held() == (0, 0)
    assert price_feed.latest() == (JUMP, held_since + FEED_CONFIRM_DELAY)


def test_update__held_median_moved_within_max_jump_of_hold__accepted_by_time(price_feed, feed_reporters, admin):
    """Confirmation by time takes the median at that time, as long as it is within max_jump of
    the held price (quorum 3 here, so two later reports cannot confirm it by themselves)."""
    price_feed.set_quorum(3, {"from": admin})
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    drifted = JUMP * 11 // 10
    feed_report(price_feed, feed_reporters[0], drifted, held_since + 1)
    tx = feed_report(price_feed, feed_reporters[1], drifted, held_since + 2)
    assert "PriceAccepted" not in tx.events and "PriceHeld" not in tx.events
    assert price_feed.current_median() == (3, drifted)
    assert price_feed.held() == (JUMP, held_since)
    tx = _update_at(price_feed, held_since + FEED_CONFIRM_DELAY, admin)
    event = tx.events["PriceAccepted"]
    assert (event["price"], event["previous_price"], event["confirmed_jump"]) == (drifted, P, True)
    assert price_feed.held() == (0, 0)


def test_update__held_jump_before_confirm_delay__stays_held(price_feed, feed_reporters, admin):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    latest = price_feed.latest()
    tx = _update_at(price_feed, held_since + FEED_CONFIRM_DELAY - 1, admin)
    assert tx.return_value is False
    assert "PriceAccepted" not in tx.events and "PriceHeld" not in tx.events
    assert price_feed.held() == (JUMP, held_since)
    assert price_feed.latest() == latest


def test_report__held_jump_confirmed_by_quorum_of_later_reports__accepted_early(price_feed, feed_reporters):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    # one later report agreeing (r1's report was observed at held_since, not after)
    tx = feed_report(price_feed, feed_reporters[0], JUMP + WAD, held_since + 1)
    assert "PriceAccepted" not in tx.events
    assert price_feed.held() == (JUMP, held_since)
    tx = feed_report(price_feed, feed_reporters[2], JUMP - WAD, held_since + 2)
    event = tx.events["PriceAccepted"]
    assert (event["price"], event["previous_price"], event["confirmed_jump"]) == (JUMP, P, True)
    assert held_since + 2 < held_since + FEED_CONFIRM_DELAY
    assert price_feed.held() == (0, 0)


def test_report__reports_observed_at_the_hold__do_not_confirm_it(price_feed, feed_reporters):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    # r2 agrees, but its observation is not after the hold
    tx = feed_report(price_feed, feed_reporters[2], JUMP, held_since + 1, observed_at=held_since)
    assert "PriceAccepted" not in tx.events
    assert price_feed.current_median() == (3, JUMP)
    assert price_feed.held() == (JUMP, held_since)


def test_report__later_reports_far_from_held_price__do_not_confirm_it(price_feed, feed_reporters):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    feed_report(price_feed, feed_reporters[0], 2 * JUMP, held_since + 1)  # disagrees with the hold
    tx = feed_report(price_feed, feed_reporters[2], JUMP, held_since + 2)  # one agreeing, quorum 2
    assert price_feed.current_median() == (3, JUMP)
    assert "PriceAccepted" not in tx.events
    assert price_feed.held() == (JUMP, held_since)


def test_report__median_back_near_accepted__cancels_hold_and_accepts(price_feed, feed_reporters):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    tx = feed_report(price_feed, feed_reporters[0], P + WAD, held_since + 1)
    event = tx.events["PriceAccepted"]
    assert (event["price"], event["previous_price"], event["confirmed_jump"]) == (P + WAD, P, False)
    assert price_feed.held() == (0, 0)
    # the cancelled hold cannot be confirmed by time later
    tx = _update_at(price_feed, held_since + FEED_CONFIRM_DELAY, feed_reporters[0])
    assert tx.events["PriceAccepted"]["price"] == P + WAD


def test_report__median_jumps_again_beyond_held__replaces_hold_and_restarts_clock(price_feed, feed_reporters, admin):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    feed_report(price_feed, feed_reporters[0], 2 * JUMP, held_since + 1)
    tx = feed_report(price_feed, feed_reporters[1], 2 * JUMP, held_since + 2)
    event = tx.events["PriceHeld"]
    assert (event["price"], event["accepted_price"], event["held_since"]) == (2 * JUMP, P, held_since + 2)
    assert price_feed.held() == (2 * JUMP, held_since + 2)
    # the first hold's deadline no longer confirms anything
    assert _update_at(price_feed, held_since + FEED_CONFIRM_DELAY, admin).return_value is False
    tx = _update_at(price_feed, held_since + 2 + FEED_CONFIRM_DELAY, admin)
    assert (tx.events["PriceAccepted"]["price"], tx.events["PriceAccepted"]["confirmed_jump"]) == (2 * JUMP, True)


def test_update__confirm_time_reached_but_reports_stale__nothing_accepted(price_feed, feed_reporters, admin):
    at = _start()
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)
    tx = _update_at(price_feed, held_since + FEED_REPORT_MAX_AGE + 1, admin)
    assert tx.return_value is False
    assert price_feed.latest()[0] == P


# ================================================================== security-module delay
def test_poke__nothing_accepted__reverts(price_feed, stranger):
    with brownie.reverts("feed: no accepted price"):
        price_feed.poke({"from": stranger})
    assert price_feed.peek_next() == (0, 0, FEED_DELAY)


def test_poke__first__queues_accepted_price_as_next_only(price_feed, feed_reporters, stranger):
    at = _start()
    accepted_at = _establish(price_feed, feed_reporters, P, at)
    tx = feed_poke(price_feed, accepted_at + 5, stranger)
    event = tx.events["Poked"]
    assert (event["current_price"], event["current_observed_at"], event["next_price"], event["next_observed_at"]) == (
        0, 0, P, accepted_at)
    assert price_feed.peek() == (0, False)
    assert price_feed.peek_next() == (P, accepted_at, accepted_at + 5 + FEED_DELAY)


def test_poke__again_before_delay__reverts_and_changes_nothing(price_feed, feed_reporters, stranger):
    at = _start()
    accepted_at = _establish(price_feed, feed_reporters, P, at)
    poked = accepted_at + 5
    feed_poke(price_feed, poked, stranger)
    with brownie.reverts("feed: delay not elapsed"):
        feed_poke(price_feed, poked + FEED_DELAY - 1, stranger)
    assert price_feed.peek() == (0, False)
    assert price_feed.peek_next() == (P, accepted_at, poked + FEED_DELAY)


def test_poke__second_after_delay__makes_next_current_and_fresh(price_feed, feed_reporters, stranger):
    at = _start()
    accepted_at = _establish(price_feed, feed_reporters, P, at)
    poked = accepted_at + 5
    feed_poke(price_feed, poked, stranger)
    tx = feed_poke(price_feed, poked + FEED_DELAY, stranger)
    event = tx.events["Poked"]
    assert (event["current_price"], event["current_observed_at"], event["next_price"], event["next_observed_at"]) == (
        P, accepted_at, P, accepted_at)
    assert price_feed.peek() == (P, True)
    assert price_feed.peek_next() == (P, accepted_at, poked + 2 * FEED_DELAY)


def test_poke__new_price_accepted__is_next_then_current_after_delay(price_feed, feed_reporters, stranger):
    at = _start()
    accepted_at = _establish(price_feed, feed_reporters, P, at)
    feed_poke(price_feed, accepted_at + 1, stranger)
    feed_poke(price_feed, accepted_at + 1 + FEED_DELAY, stranger)
    new_price = 2_200 * WAD
    t = accepted_at + 1 + FEED_DELAY + 10
    feed_report(price_feed, feed_reporters[0], new_price, t)
    feed_report(price_feed, feed_reporters[1], new_price, t + 1)
    assert price_feed.latest() == (new_price, t + 1)
    assert price_feed.peek() == (P, True)  # the accepted price is not used yet
    poked = accepted_at + 1 + 2 * FEED_DELAY
    feed_poke(price_feed, poked, stranger)
    assert price_feed.peek() == (P, True)
    assert price_feed.peek_next() == (new_price, t + 1, poked + FEED_DELAY)
    with brownie.reverts("feed: delay not elapsed"):
        feed_poke(price_feed, poked + FEED_DELAY - 1, stranger)
    feed_poke(price_feed, poked + FEED_DELAY, stranger)
    assert price_feed.peek() == (new_price, True)


def test_peek__no_new_observation_for_max_age__not_fresh(price_feed, feed_reporters, stranger):
    at = _start()
    accepted_at = _establish(price_feed, feed_reporters, P, at)
    feed_poke(price_feed, accepted_at, stranger)
    feed_poke(price_feed, accepted_at + FEED_DELAY, stranger)
    mine_at(accepted_at + FEED_MAX_AGE)
    assert price_feed.peek() == (P, True)
    mine_at(accepted_at + FEED_MAX_AGE + 1)
    assert price_feed.peek() == (P, False)


def test_peek__pokes_without_new_acceptance__do_not_refresh(price_feed, feed_reporters, stranger):
    at = _start()
    accepted_at = _establish(price_feed, feed_reporters, P, at)
    t = accepted_at
    for _ in range(FEED_MAX_AGE // FEED_DELAY + 2):
        feed_poke(price_feed, t, stranger)
        t += FEED_DELAY
    assert t - FEED_DELAY > accepted_at + FEED_MAX_AGE
    assert price_feed.peek() == (P, False)


def test_peek__new_acceptance_then_pokes__fresh_again(price_feed, feed_reporters, stranger):
    at = _start()
    accepted_at = _establish(price_feed, feed_reporters, P, at)
    feed_poke(price_feed, accepted_at, stranger)
    feed_poke(price_feed, accepted_at + FEED_DELAY, stranger)
    t = accepted_at + FEED_MAX_AGE + 1
    mine_at(t)
    assert price_feed.peek() == (P, False)
    later = _establish(price_feed, feed_reporters, P, t + 1)
    feed_poke(price_feed, later, stranger)
    assert price_feed.peek() == (P, False)  # current still the old observation
    feed_poke(price_feed, later + FEED_DELAY, stranger)
    assert price_feed.peek() == (P, True)


def test_poke__zero_delay__every_block(PriceFeed, admin, feed_reporters, stranger):
    feed = deploy_price_feed(PriceFeed, admin, feed_reporters, delay=0)
    at = _start()
    accepted_at = _establish(feed, feed_reporters, P, at)
    feed_poke(feed, accepted_at, stranger)
    feed_poke(feed, accepted_at, stranger)
    assert feed.peek() == (P, True)
    assert feed.peek_next() == (P, accepted_at, accepted_at)


OPS = st.lists(
    st.tuples(st.sampled_from(["report", "wait", "poke"]), st.integers(min_value=0, max_value=2**16)),
    min_size=2,
    max_size=8,
)


@given(ops=OPS)
def test_poke__random_reports_time_and_pokes__never_exposes_a_price_younger_than_delay(
    price_feed, feed_reporters, stranger, ops
):
    """Whenever peek() shows a non-zero price p, p was accepted (PriceAccepted) at a block time
    at least `delay` before the poke that made it current; pokes succeed exactly once per
    delay; peek's fresh flag follows max_age from that acceptance; peek_next shows what comes.
    The feed starts with P accepted and poked once (queued as next)."""
    now = _start()
    accepted = [(P, _establish(price_feed, feed_reporters, P, now))]  # (price, block time) of each PriceAccepted
    now = accepted[0][1] + 1
    feed_poke(price_feed, now, stranger)
    pokes = [now]  # block times of successful pokes
    for kind, value in ops:
        now += 1
        mined = True  # the op's transaction was mined at exactly `now`
        if kind == "report":  # a report within +-25 % of P (some trip the breaker)
            who = feed_reporters[value % 3]
            price = P * (75 + value % 51) // 100
            tx = feed_report(price_feed, who, price, now)
            if "PriceAccepted" in tx.events:
                accepted.append((tx.events["PriceAccepted"]["price"], tx.timestamp))
        elif kind == "wait":  # mostly within a few delays, sometimes beyond max_age
            now += value % (3 * FEED_DELAY) if value % 4 else value % (2 * FEED_MAX_AGE)
            mined = False
        elif not pokes or now >= pokes[-1] + FEED_DELAY:
            feed_poke(price_feed, now, stranger)
            pokes.append(now)
        elif value % 4 == 0:  # too early (checked now and then: a reverted tx is slow to trace)
            with brownie.reverts("feed: delay not elapsed"):
                feed_poke(price_feed, now, stranger)
        else:  # move to just before the next allowed poke
            now, mined = pokes[-1] + FEED_DELAY - 1, False
        if not mined:
            mine_at(now)
        price, fresh = price_feed.peek()
        if len(pokes) < 2:
            assert (price, fresh) == (0, False)
        else:
            made_current = pokes[-1]
            # the price queued at the previous poke: the last acceptance at or before it
            queued = [entry for entry in accepted if entry[1] <= pokes[-2]][-1]
            assert price == queued[0]
            assert queued[1] + FEED_DELAY <= made_current
            assert any(p == price and t + FEED_DELAY <= made_current for p, t in accepted)
            assert fresh == (now <= queued[1] + FEED_MAX_AGE)
        if pokes:
            coming = [entry for entry in accepted if entry[1] <= pokes[-1]][-1]
            assert price_feed.peek_next() == (coming[0], coming[1], pokes[-1] + FEED_DELAY)


# ================================================================== EWMA volatility
@pytest.fixture(scope="module")
def solo_feed(PriceFeed, admin, reporter):
    """A PriceFeed with one reporter, quorum 1, delay 0, volatility_interval 0: every report
    within max_jump is accepted at its block time, so the EWMA's inputs are exactly the
    reported path."""
    return deploy_price_feed(PriceFeed, admin, [reporter], quorum=1, delay=0)


def _walk(steps, start_price):
    """(price, dt) path of a geometric random walk: log-returns of 0 .. 15 % either way, in
    whole bps (inside max_jump 20 %: e^0.15 < 1.2, e^-0.15 > 0.8)."""
    price = start_price
    path = []
    for move, dt in steps:
        log_return = math.copysign(abs(move) % 1_501, move) / 10_000
        price = max(1, int(price * math.exp(log_return)))
        path.append((price, dt))
    return path


def _check_against_float(variance, reference):
    """The documented agreement of the on-chain EWMA with the float one; returns sigma's
    relative error (0 when sigma is 0 on both sides)."""
    assert abs(variance - reference.variance * WAD) <= VARIANCE_ERROR_WEI
    sigma = sigma_of(variance) / WAD
    if variance >= SIGMA_TOLERANCE_MIN_VARIANCE_WEI:
        assert abs(sigma - reference.sigma) <= sigma_tolerance(reference.sigma)
    return abs(sigma - reference.sigma) / reference.sigma if reference.sigma else 0.0


def _run_path(feed, reporter, model, steps):
    """Report the walk from P (one acceptance per step, pinned times) and check every
    PriceAccepted against the model; returns (worst sigma relative error, worst variance error)."""
    now = _start()
    feed_report(feed, reporter, P, now)
    model.accept(P, now)
    previous = P
    worst_relative, worst_variance = 0.0, 0.0
    for price, dt in _walk(steps, P):
        now += dt
        tx = feed_report(feed, reporter, price, now)
        event = tx.events["PriceAccepted"]
        sampled = model.accept(price, now)
        assert (event["price"], event["previous_price"], event["confirmed_jump"]) == (price, previous, False)
        assert feed.variance() == model.variance
        assert event["volatility"] == model.sigma == feed.volatility()
        if sampled:
            worst_relative = max(worst_relative, _check_against_float(model.variance, model.float))
            worst_variance = max(worst_variance, abs(model.variance - model.float.variance * WAD))
        previous = price
    return worst_relative, worst_variance


@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=-(2**15), max_value=2**15), st.integers(min_value=60, max_value=3_600)),
        min_size=1,
        max_size=8,
    ),
    seed_sigma=st.one_of(st.just(0), st.integers(min_value=WAD // 100, max_value=3 * WAD)),
    interval=st.sampled_from([0, 0, 600, 3_600]),
)
def test_volatility__random_price_path__matches_integer_and_float_references(
    solo_feed, reporter, admin, steps, seed_sigma, interval
):
    """The EWMA equals the Python integer model exactly (oracle_reference.VolatilitySampler:
    ewma_step with the on-chain ln, mirrored bit for bit by ln_wad, itself pinned to the chain
    in test_fixed_point_ln; samples at most once per volatility_interval, each from the last
    sample) and the float EWMA (math.log, same lambda, same samples and dt) within tolerance.

    Tolerance (documented error):
    * variance: |variance() - variance_float| <= 25 wei of WAD per second, on every path
      (three floors per sample, < 1.1 wei of new error, decaying by lambda: <= 1.1 / 0.06 = 18);
    * sigma: |volatility() - sigma_float| <= max(1e-6 * sigma_float, 1e-9) as WAD fractions,
      whenever variance() >= 1.25e7 wei (sigma >= ~2 %/yr): sigma's relative error is half the
      variance's, <= 12.5 / variance. Calmer paths (e.g. 1 bp moves an hour, sigma ~0.9 %/yr)
      are only held to the variance bound: the variance is stored in WAD per second, so its
      resolution (1e-18 /s) is coarse there.
    """
    if seed_sigma:
        solo_feed.seed_volatility(seed_sigma, {"from": admin})
    if interval:
        solo_feed.set_volatility_interval(interval, {"from": admin})
    _run_path(solo_feed, reporter, VolatilitySampler(FEED_LAMBDA_BPS, interval, solo_feed.variance()), steps)


def test_volatility__long_deterministic_path__worst_error_within_tolerance(solo_feed, reporter):
    """40 steps of a fixed random walk, every acceptance a sample; same model and tolerances
    as the property above (variance within 25 wei; sigma relative 1e-6 or absolute 1e-9);
    prints the worst errors."""
    rng = random.Random(7)
    steps = [(rng.randint(-(2**15), 2**15), rng.randint(60, 3_600)) for _ in range(40)]
    worst_relative, worst_variance = _run_path(solo_feed, reporter, VolatilitySampler(FEED_LAMBDA_BPS), steps)
    print(f"EWMA worst errors vs float: sigma relative {worst_relative:.3e}, variance {worst_variance:.2f} wei")
    assert solo_feed.volatility() > WAD // 10  # the path is volatile: sigma above 10 %


def test_volatility__within_interval__acceptances_leave_variance_alone(solo_feed, reporter, admin):
    """"Repeated acceptances of one price do not pull it down": with an interval of an hour,
    reports every minute re-accept the price without touching the variance."""
    solo_feed.set_volatility_interval(3_600, {"from": admin})
    solo_feed.seed_volatility(WAD, {"from": admin})
    variance = solo_feed.variance()
    now = _start()
    for minute in range(10):
        tx = feed_report(solo_feed, reporter, P, now + 60 * minute)
        assert tx.events["PriceAccepted"]["volatility"] == sigma_of(variance)
    assert solo_feed.variance() == variance
    assert solo_feed.latest() == (P, now + 540)


def test_volatility__interval_reached__samples_return_since_last_sample(solo_feed, reporter, admin):
    """The sample at anchor + interval takes ln(p / anchor price) over the time since the anchor,
    ignoring the prices accepted in between."""
    solo_feed.set_volatility_interval(3_600, {"from": admin})
    now = _start()
    feed_report(solo_feed, reporter, P, now)  # anchor
    feed_report(solo_feed, reporter, 2_200 * WAD, now + 60)  # inside the interval: no sample
    feed_report(solo_feed, reporter, 2_400 * WAD, now + 3_599)  # still inside
    assert solo_feed.variance() == 0
    tx = feed_report(solo_feed, reporter, 2_300 * WAD, now + 3_600)
    expected = ewma_step(0, 2_300 * WAD, P, 3_600, FEED_LAMBDA_BPS)
    assert solo_feed.variance() == expected > 0
    assert tx.events["PriceAccepted"]["volatility"] == sigma_of(expected)
    # the next sample is measured from this one (2,300 at now + 3,600)
    feed_report(solo_feed, reporter, 2_000 * WAD, now + 7_200)
    assert solo_feed.variance() == ewma_step(expected, 2_000 * WAD, 2_300 * WAD, 3_600, FEED_LAMBDA_BPS)


def test_volatility__interval_zero__every_acceptance_is_a_sample(solo_feed, reporter):
    now = _start()
    feed_report(solo_feed, reporter, P, now)
    feed_report(solo_feed, reporter, 2_200 * WAD, now + 60)
    first = ewma_step(0, 2_200 * WAD, P, 60, FEED_LAMBDA_BPS)
    assert solo_feed.variance() == first
    feed_report(solo_feed, reporter, 2_100 * WAD, now + 61)
    assert solo_feed.variance() == ewma_step(first, 2_100 * WAD, 2_200 * WAD, 1, FEED_LAMBDA_BPS)


def test_volatility__unchanged_price__decays_variance_by_lambda(solo_feed, reporter, admin):
    solo_feed.seed_volatility(WAD, {"from": admin})
    variance = solo_feed.variance()
    now = _start()
    feed_report(solo_feed, reporter, P, now)
    assert solo_feed.variance() == variance  # first acceptance: no previous price
    tx = feed_report(solo_feed, reporter, P, now + 60)
    expected = FEED_LAMBDA_BPS * variance // 10_000
    assert solo_feed.variance() == expected
    assert tx.events["PriceAccepted"]["volatility"] == sigma_of(expected)


def test_volatility__acceptance_in_same_second__counts_one_second(solo_feed, reporter):
    now = _start()
    feed_report(solo_feed, reporter, P, now, observed_at=now - 1)
    # a second acceptance mined at the same timestamp: elapsed 0 is taken as 1 s (no division by 0)
    tx = feed_report(solo_feed, reporter, 2_100 * WAD, now, observed_at=now)
    assert tx.timestamp == now
    expected = ewma_step(0, 2_100 * WAD, P, 0, FEED_LAMBDA_BPS)
    assert expected == ewma_step(0, 2_100 * WAD, P, 1, FEED_LAMBDA_BPS) > 0
    assert solo_feed.variance() == expected


def test_volatility__confirmed_jump__feeds_the_ewma(price_feed, feed_reporters, admin):
    at = _start()
    accepted_at = at + 10
    _establish(price_feed, feed_reporters, P, at)
    held_since = _hold(price_feed, feed_reporters, JUMP, at + 10)  # r0's report at +10 re-accepts P
    confirm_at = held_since + FEED_CONFIRM_DELAY
    tx = _update_at(price_feed, confirm_at, admin)
    # the re-acceptances of P added ln(1)^2 = 0; the confirmed jump spans since the last one
    expected = ewma_step(0, JUMP, P, confirm_at - accepted_at, FEED_LAMBDA_BPS)
    assert price_feed.variance() == expected > 0
    assert tx.events["PriceAccepted"]["volatility"] == sigma_of(expected)


def test_report__collapse_beyond_1e18_times__is_accepted_after_confirmation(PriceFeed, admin, reporter):
    """BUG (reported): a confirmed jump to a price below (last volatility sample's price) / 1e18
    makes _accept take ln(price * WAD // anchor_price) = ln(0), which reverts "fixed_point: ln
    of zero". update() and every report while the median sits there revert (once the hold is
    confirmable), so the feed cannot record the collapse and keeps serving the pre-collapse
    price until it goes stale. Expected: the jump is accepted (e.g. with the log return clamped)."""
    feed = deploy_price_feed(PriceFeed, admin, [reporter], quorum=1, delay=0, confirm_delay=0)
    now = _start()
    feed_report(feed, reporter, P, now)
    collapsed = 1_000  # 1e-15 debt tokens: 2e18 times lower
    tx = feed_report(feed, reporter, collapsed, now + 1)
    assert feed.held() == (collapsed, now + 1)
    assert "PriceHeld" in tx.events
    tx = _update_at(feed, now + 2, admin)
    assert tx.return_value is True
    assert feed.latest() == (collapsed, now + 2)

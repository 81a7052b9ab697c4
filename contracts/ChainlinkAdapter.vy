# pragma version ~=0.4.3
"""
@title ChainlinkAdapter
@notice Serves an external feed with Chainlink's AggregatorV3Interface shape
        (`latestRoundData`, `decimals`) to the vault engine, so that a test-network
        deployment can use a real feed. Answers are scaled to WAD.
@dev A round is not fresh when its answer is zero or negative, when it was never
     updated or is dated in the future, when it is older than `max_age` seconds,
     or when it was carried over from an earlier round (answeredInRound < roundId).
     The engine then refuses borrow and withdraw. The adapter keeps no history,
     so `volatility()` is 0: keep the engine's volatility margin k at 0 for a
     type priced here, or use PriceFeed.
"""

from .modules import access_control

initializes: access_control
exports: (
    access_control.owner,
    access_control.pending_owner,
    access_control.roles,
    access_control.transfer_ownership,
    access_control.accept_ownership,
    access_control.set_roles,
)


interface AggregatorV3:
    def decimals() -> uint8: view
    def latestRoundData() -> (uint80, int256, uint256, uint256, uint80): view


# may change max_age
ROLE_ORACLE_ADMIN: constant(uint256) = 2

MIN_MAX_AGE: constant(uint256) = 60  # seconds
MAX_MAX_AGE: constant(uint256) = 7 * 86_400  # seconds
MAX_FEED_DECIMALS: constant(uint8) = 36

event MaxAgeSet:
    max_age: uint256  # seconds

# the external aggregator
source: public(immutable(address))
# its answers have this many decimals
source_decimals: public(immutable(uint8))
# seconds a round stays fresh
max_age: public(uint256)


@deploy
def __init__(initial_owner: address, aggregator: address, max_age_seconds: uint256):
    """
    @param aggregator An AggregatorV3Interface feed quoting the collateral in debt-token units.
    @param max_age_seconds Freshness bound, 60 s .. 7 days (the feed's heartbeat plus a margin).
    """
    access_control.__init__(initial_owner)
    assert aggregator != empty(address), "adapter: zero aggregator"
    decimals: uint8 = staticcall AggregatorV3(aggregator).decimals()
    assert decimals <= MAX_FEED_DECIMALS, "adapter: decimals above 36"
    source = aggregator
    source_decimals = decimals
    self._set_max_age(max_age_seconds)


@internal
def _set_max_age(max_age_seconds: uint256):
    assert max_age_seconds >= MIN_MAX_AGE and max_age_seconds <= MAX_MAX_AGE, "adapter: max age out of bounds"
    self.max_age = max_age_seconds
    log MaxAgeSet(max_age=max_age_seconds)


@external
def set_max_age(max_age_seconds: uint256):
    """
    @notice Change the freshness bound (seconds, 60 .. 7 days). ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_max_age(max_age_seconds)


@external
@view
def peek() -> (uint256, bool):
    """
    @notice (price WAD, fresh) from the aggregator's latest round; (0, False) for a
            non-positive answer.
    """
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in_round = staticcall AggregatorV3(source).latestRoundData()
    if answer <= 0:
        return 0, False
    price: uint256 = convert(answer, uint256)
    if source_decimals <= 18:
        price = price * 10 ** convert(18 - source_decimals, uint256)
    else:
        price = price // 10 ** convert(source_decimals - 18, uint256)
    fresh: bool = (
        updated_at != 0
        and updated_at <= block.timestamp
        and block.timestamp - updated_at <= self.max_age
        and answered_in_round >= round_id
        and price != 0
    )
    return price, fresh


@external
@view
def volatility() -> uint256:
    """
    @notice Always 0: the adapter keeps no price history.
    """
    return 0

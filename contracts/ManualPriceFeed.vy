# pragma version ~=0.4.3
"""
@title ManualPriceFeed
@notice The minimal price oracle the vault engine reads: one asset, a price set by
        reporters (ROLE_REPORTER) and a freshness bound. It stands in until the
        medianised feed with delay and circuit breaker (PriceFeed) replaces it,
        and serves local deployments and tests.
@dev `peek` returns (price WAD, fresh); a price older than `max_age` seconds, or
     never set, is not fresh. The engine refuses to borrow or withdraw against a
     price that is not fresh or is zero.
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

# may set the price
ROLE_REPORTER: constant(uint256) = 1
# may change max_age
ROLE_ORACLE_ADMIN: constant(uint256) = 2

MIN_MAX_AGE: constant(uint256) = 60  # seconds
MAX_MAX_AGE: constant(uint256) = 7 * 86400  # seconds

event PriceSet:
    reporter: indexed(address)
    price: uint256  # WAD
    updated_at: uint256  # unix seconds

event MaxAgeSet:
    max_age: uint256  # seconds

# packed so that `peek` reads one slot:
#   price WAD (bits 0-127) | updated_at unix seconds (bits 128-191) | max_age seconds (bits 192-255)
_state: uint256

MASK_64: constant(uint256) = 2 ** 64 - 1
MAX_PRICE: constant(uint256) = 2 ** 128 - 1


@deploy
def __init__(initial_owner: address, max_age_seconds: uint256):
    """
    @param max_age_seconds Freshness bound, 60 s .. 7 days.
    """
    access_control.__init__(initial_owner)
    self._set_max_age(max_age_seconds)


@internal
def _set_max_age(max_age_seconds: uint256):
    assert max_age_seconds >= MIN_MAX_AGE and max_age_seconds <= MAX_MAX_AGE, "feed: max age out of bounds"
    self._state = (self._state & (2 ** 192 - 1)) | (max_age_seconds << 192)
    log MaxAgeSet(max_age=max_age_seconds)


@external
def set_price(new_price: uint256):
    """
    @notice Report a new price (WAD). ROLE_REPORTER.
    """
    access_control._check_role(ROLE_REPORTER)
    assert new_price != 0, "feed: zero price"
    assert new_price <= MAX_PRICE, "feed: price out of bounds"
    self._state = new_price | (block.timestamp << 128) | ((self._state >> 192) << 192)
    log PriceSet(reporter=msg.sender, price=new_price, updated_at=block.timestamp)


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
    @notice (price WAD, fresh): fresh while a price was set within `max_age` seconds.
    """
    state: uint256 = self._state
    updated: uint256 = (state >> 128) & MASK_64
    return state & MAX_PRICE, updated != 0 and block.timestamp <= updated + (state >> 192)


@external
@view
def volatility() -> uint256:
    """
    @notice Annualised volatility, WAD: always 0, a manual feed keeps no history
            (a type on this feed should keep the volatility margin k at 0).
    """
    return 0


@external
@view
def price() -> uint256:
    """
    @notice The last reported price, WAD debt-token units per whole collateral unit.
    """
    return self._state & MAX_PRICE


@external
@view
def updated_at() -> uint256:
    """
    @notice Unix seconds of the last report (0: never).
    """
    return (self._state >> 128) & MASK_64


@external
@view
def max_age() -> uint256:
    """
    @notice Seconds a report stays fresh.
    """
    return self._state >> 192

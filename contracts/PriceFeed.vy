# pragma version ~=0.4.3
"""
@title PriceFeed
@notice The price of one collateral asset, in debt-token units (WAD), built from
        several reporters and guarded three ways before the vault engine sees it:
        1. Median: each authorised reporter pushes (price, observed_at). The feed
           takes the lower median (Python's `statistics.median_low`) of the
           reports younger than `report_max_age`, and only with at least `quorum`
           of them.
        2. Circuit breaker: a median more than `max_jump_bps` away from the last
           accepted price is held, not accepted. It is accepted once confirmed:
           by time (a median within `max_jump_bps` of the held price still stands
           `confirm_delay` seconds later) or by reports (`quorum` fresh reports
           observed after the hold agree with it). A median back near the accepted
           price cancels the hold.
        3. Security-module delay: `poke` (anyone, at most once per `delay` seconds)
           moves `next` to `current` and the last accepted price into `next`, so the
           price the engine uses was accepted at least `delay` seconds before it
           became current, and everyone can read what is coming (`peek_next`).
        Accepted prices also feed an EWMA of squared log returns per second,
        sampled at most once per `volatility_interval` seconds (so that repeated
        acceptances of one price do not pull it down, nor moves seconds apart blow
        it up); `volatility()` is its annualised square root (WAD), which the
        engine may add to a collateral type's liquidation ratio.
@dev `peek()` answers (current price, fresh) from one storage slot. The current
     price is fresh while its observation is younger than `max_age`, which must be
     at least twice `delay`. With no fresh price the engine refuses borrow and
     withdraw; liquidations also need a fresh price (see docs/ORACLE.md).
"""

from .modules import access_control
from .modules import fixed_point

initializes: access_control
exports: (
    access_control.owner,
    access_control.pending_owner,
    access_control.roles,
    access_control.transfer_ownership,
    access_control.accept_ownership,
    access_control.set_roles,
)

# add and remove reporters, change every parameter
ROLE_ORACLE_ADMIN: constant(uint256) = 2

WAD: constant(uint256) = fixed_point.WAD
MAX_REPORTERS: constant(uint256) = 16
MAX_PRICE: constant(uint256) = 2 ** 128 - 1  # WAD
SECONDS_PER_YEAR: constant(uint256) = 31_536_000
BPS: constant(uint256) = 10_000

# parameter bounds
MIN_REPORT_MAX_AGE: constant(uint256) = 60  # seconds
MAX_REPORT_MAX_AGE: constant(uint256) = 86_400  # seconds
MAX_MAX_AGE: constant(uint256) = 7 * 86_400  # seconds
MAX_DELAY: constant(uint256) = 86_400  # seconds
MAX_CONFIRM_DELAY: constant(uint256) = 86_400  # seconds
MIN_MAX_JUMP_BPS: constant(uint256) = 100  # 1 %
MAX_MAX_JUMP_BPS: constant(uint256) = 9_000  # 90 %
MIN_LAMBDA_BPS: constant(uint256) = 5_000  # weight of the old variance, 0.5
MAX_LAMBDA_BPS: constant(uint256) = 9_990  # 0.999
MAX_VOLATILITY: constant(uint256) = 10 * WAD  # 1,000 % a year
MAX_VOLATILITY_INTERVAL: constant(uint256) = 86_400  # seconds

MASK_64: constant(uint256) = 2 ** 64 - 1
MASK_32: constant(uint256) = 2 ** 32 - 1
MASK_16: constant(uint256) = 2 ** 16 - 1

event ReporterAdded:
    reporter: indexed(address)

event ReporterRemoved:
    reporter: indexed(address)

event ParameterSet:
    parameter: String[24]  # "quorum", "report_max_age", "max_age", "delay", ...
    value: uint256  # seconds, a count, or basis points

event PriceReported:
    reporter: indexed(address)
    price: uint256  # WAD
    observed_at: uint256  # unix seconds

event PriceHeld:
    price: uint256  # WAD, the median held back
    accepted_price: uint256  # WAD, the last accepted price it jumped from
    held_since: uint256  # unix seconds

event PriceAccepted:
    price: uint256  # WAD
    previous_price: uint256  # WAD (0 for the first)
    confirmed_jump: bool  # a held jump, confirmed by time or reports
    volatility: uint256  # WAD, annualised sigma after this price

event Poked:
    current_price: uint256  # WAD, now used by safety checks
    current_observed_at: uint256  # unix seconds
    next_price: uint256  # WAD, current after the next poke
    next_observed_at: uint256  # unix seconds

# reporter => its slot + 1 (0: not a reporter)
reporter_slot: public(HashMap[address, uint256])
# slot => reporter
_reporter_at: address[MAX_REPORTERS]
# number of reporters; slots 0 .. reporter_count - 1 are used
reporter_count: public(uint256)
# slot => packed: price WAD (bits 0-127) | observed_at unix seconds (bits 128-191)
_reports: uint256[MAX_REPORTERS]

# packed: quorum (bits 0-7) | report_max_age s (8-39) | delay s (40-71) |
#         confirm_delay s (72-103) | max_jump bps (104-119) | ewma lambda bps (120-135) |
#         volatility_interval s (136-167)
_params: uint256
# packed: price WAD (0-127) | time unix seconds (128-191) of the last volatility sample
_volatility_anchor: uint256
# packed: price WAD (0-127) | accepted_at unix seconds (128-191)
_accepted: uint256
# packed: price WAD (0-127) | held_since unix seconds (128-191); 0: nothing held
_held: uint256
# packed: price WAD (0-127) | observed_at (128-191) | max_age seconds (192-255)
_current: uint256
# packed: price WAD (0-127) | observed_at (128-191) | set_at unix seconds (192-255)
_next: uint256
# EWMA of squared log returns per second, WAD
variance: public(uint256)


@deploy
def __init__(
    initial_owner: address,
    quorum: uint256,
    report_max_age: uint256,
    max_age: uint256,
    delay: uint256,
    confirm_delay: uint256,
    max_jump_bps: uint256,
    ewma_lambda_bps: uint256,
):
    """
    @param quorum Fresh reports needed for a median, 1 .. 16.
    @param report_max_age Seconds a report counts, 60 .. 86,400.
    @param max_age Seconds the current price stays fresh, 2 * delay .. 7 days (> 0).
    @param delay Security-module delay, seconds, 0 .. 86,400.
    @param confirm_delay Seconds a held jump must stand to be accepted, 0 .. 86,400.
    @param max_jump_bps Largest move accepted at once, 100 .. 9,000 bps.
    @param ewma_lambda_bps Weight of the old variance in the EWMA, 5,000 .. 9,990 bps.
    """
    access_control.__init__(initial_owner)
    self._set_param(0, 8, quorum, 1, MAX_REPORTERS, "quorum")
    self._set_param(8, 32, report_max_age, MIN_REPORT_MAX_AGE, MAX_REPORT_MAX_AGE, "report_max_age")
    self._set_param(40, 32, delay, 0, MAX_DELAY, "delay")
    self._set_param(72, 32, confirm_delay, 0, MAX_CONFIRM_DELAY, "confirm_delay")
    self._set_param(104, 16, max_jump_bps, MIN_MAX_JUMP_BPS, MAX_MAX_JUMP_BPS, "max_jump_bps")
    self._set_param(120, 16, ewma_lambda_bps, MIN_LAMBDA_BPS, MAX_LAMBDA_BPS, "ewma_lambda_bps")
    self._set_max_age(max_age)


# ================================================================ parameters
@internal
@view
def _param(offset: uint256, width: uint256) -> uint256:
    return (self._params >> offset) & ((1 << width) - 1)


@internal
def _set_param(offset: uint256, width: uint256, setting: uint256, low: uint256, high: uint256, name: String[24]):
    assert setting >= low and setting <= high, "feed: parameter out of bounds"
    mask: uint256 = ((1 << width) - 1) << offset
    self._params = (self._params & ~mask) | (setting << offset)
    log ParameterSet(parameter=name, value=setting)


@internal
def _set_max_age(max_age: uint256):
    assert max_age != 0 and max_age <= MAX_MAX_AGE, "feed: parameter out of bounds"
    assert max_age >= 2 * self._param(40, 32), "feed: max age below twice the delay"
    current: uint256 = self._current
    self._current = (current & (2 ** 192 - 1)) | (max_age << 192)
    log ParameterSet(parameter="max_age", value=max_age)


@external
def set_quorum(quorum: uint256):
    """
    @notice Fresh reports needed for a median, 1 .. 16. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_param(0, 8, quorum, 1, MAX_REPORTERS, "quorum")


@external
def set_report_max_age(seconds: uint256):
    """
    @notice Seconds a report counts toward the median, 60 .. 86,400. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_param(8, 32, seconds, MIN_REPORT_MAX_AGE, MAX_REPORT_MAX_AGE, "report_max_age")


@external
def set_delay(seconds: uint256):
    """
    @notice Security-module delay, 0 .. 86,400 s, at most half of max_age. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_param(40, 32, seconds, 0, MAX_DELAY, "delay")
    assert 2 * seconds <= self._current >> 192, "feed: max age below twice the delay"


@external
def set_max_age(seconds: uint256):
    """
    @notice Seconds the current price stays fresh, twice the delay .. 7 days. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_max_age(seconds)


@external
def set_confirm_delay(seconds: uint256):
    """
    @notice Seconds a held jump must stand before it is accepted, 0 .. 86,400. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_param(72, 32, seconds, 0, MAX_CONFIRM_DELAY, "confirm_delay")


@external
def set_max_jump_bps(bps: uint256):
    """
    @notice Largest move from the accepted price accepted at once, 100 .. 9,000 bps. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_param(104, 16, bps, MIN_MAX_JUMP_BPS, MAX_MAX_JUMP_BPS, "max_jump_bps")


@external
def set_ewma_lambda_bps(bps: uint256):
    """
    @notice Weight of the old variance in the EWMA, 5,000 .. 9,990 bps. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_param(120, 16, bps, MIN_LAMBDA_BPS, MAX_LAMBDA_BPS, "ewma_lambda_bps")


@external
def set_volatility_interval(seconds: uint256):
    """
    @notice Least seconds between two volatility samples, 0 .. 86,400 (0: every
            accepted price is a sample). ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    self._set_param(136, 32, seconds, 0, MAX_VOLATILITY_INTERVAL, "volatility_interval")


@external
@view
def volatility_interval() -> uint256:
    """
    @notice Least seconds between two volatility samples.
    """
    return (self._params >> 136) & MASK_32


@external
def seed_volatility(sigma: uint256):
    """
    @notice Set the EWMA from an annualised sigma (WAD, at most 10), e.g. at listing
            before there is a price history. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    assert sigma <= MAX_VOLATILITY, "feed: parameter out of bounds"
    self.variance = sigma * sigma // SECONDS_PER_YEAR // WAD
    log ParameterSet(parameter="volatility", value=sigma)


@external
def add_reporter(reporter: address):
    """
    @notice Authorise `reporter` to push prices (at most 16). ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    assert reporter != empty(address), "feed: zero reporter"
    assert self.reporter_slot[reporter] == 0, "feed: already a reporter"
    count: uint256 = self.reporter_count
    assert count < MAX_REPORTERS, "feed: too many reporters"
    self._reporter_at[count] = reporter
    self._reports[count] = 0
    self.reporter_slot[reporter] = count + 1
    self.reporter_count = count + 1
    log ReporterAdded(reporter=reporter)


@external
def remove_reporter(reporter: address):
    """
    @notice Revoke `reporter`; its report stops counting at once. ROLE_ORACLE_ADMIN.
    """
    access_control._check_role(ROLE_ORACLE_ADMIN)
    slot: uint256 = self.reporter_slot[reporter]
    assert slot != 0, "feed: not a reporter"
    last: uint256 = self.reporter_count - 1
    if slot - 1 != last:
        moved: address = self._reporter_at[last]
        self._reporter_at[slot - 1] = moved
        self._reports[slot - 1] = self._reports[last]
        self.reporter_slot[moved] = slot
    self._reporter_at[last] = empty(address)
    self._reports[last] = 0
    self.reporter_slot[reporter] = 0
    self.reporter_count = last
    log ReporterRemoved(reporter=reporter)


# ================================================================ reports and median
@internal
@view
def _median(params: uint256) -> (uint256, uint256, uint256):
    """
    @dev (number of fresh reports, their lower median, how many of them were
         observed after the current hold and lie within max_jump of the held price).
    """
    report_max_age: uint256 = (params >> 8) & MASK_32
    max_jump_bps: uint256 = (params >> 104) & MASK_16
    held: uint256 = self._held
    held_price: uint256 = held & MAX_PRICE
    held_since: uint256 = held >> 128
    fresh: DynArray[uint256, MAX_REPORTERS] = []
    confirmations: uint256 = 0
    count: uint256 = self.reporter_count
    for i: uint256 in range(MAX_REPORTERS):
        if i == count:
            break
        report: uint256 = self._reports[i]
        observed_at: uint256 = report >> 128
        if report == 0 or observed_at + report_max_age < block.timestamp:
            continue
        price: uint256 = report & MAX_PRICE
        if held_price != 0 and observed_at > held_since and self._within(price, held_price, max_jump_bps):
            confirmations += 1
        # insertion sort, ascending
        fresh.append(price)
        j: uint256 = len(fresh) - 1
        for _: uint256 in range(MAX_REPORTERS):
            if j == 0 or fresh[j - 1] <= price:
                break
            fresh[j] = fresh[j - 1]
            j -= 1
        fresh[j] = price
    if len(fresh) == 0:
        return 0, 0, 0
    return len(fresh), fresh[(len(fresh) - 1) // 2], confirmations


@internal
@pure
def _within(price: uint256, reference: uint256, bps: uint256) -> bool:
    """
    @dev |price - reference| <= reference * bps / 10,000.
    """
    bound: uint256 = reference * bps // BPS
    if price >= reference:
        return price - reference <= bound
    return reference - price <= bound


@internal
def _accept(price: uint256, previous: uint256, previous_at: uint256, params: uint256, confirmed: bool):
    variance: uint256 = self.variance
    anchor: uint256 = self._volatility_anchor
    anchor_price: uint256 = anchor & MAX_PRICE
    anchor_time: uint256 = anchor >> 128
    if anchor_price == 0:
        self._volatility_anchor = price | (block.timestamp << 128)
    elif block.timestamp >= anchor_time + ((params >> 136) & MASK_32):
        # one sample: the log return since the last sample, per second elapsed
        elapsed: uint256 = max(block.timestamp - anchor_time, 1)
        # a fall of more than 1e18x would floor the ratio to 0: clamp it to 1 wei
        log_return: int256 = fixed_point.ln(max(price * WAD // anchor_price, 1))
        squared: uint256 = convert(log_return * log_return, uint256) // WAD
        lambda_bps: uint256 = (params >> 120) & MASK_16
        variance = (lambda_bps * variance + (BPS - lambda_bps) * (squared // elapsed)) // BPS
        self.variance = variance
        self._volatility_anchor = price | (block.timestamp << 128)
    self._accepted = price | (block.timestamp << 128)
    log PriceAccepted(price=price, previous_price=previous, confirmed_jump=confirmed, volatility=self._sigma(variance))


@internal
def _update() -> bool:
    params: uint256 = self._params
    count: uint256 = 0
    median: uint256 = 0
    confirmations: uint256 = 0
    count, median, confirmations = self._median(params)
    quorum: uint256 = params & 255
    if count < quorum:
        return False
    accepted: uint256 = self._accepted
    accepted_price: uint256 = accepted & MAX_PRICE
    max_jump_bps: uint256 = (params >> 104) & MASK_16
    if accepted_price == 0 or self._within(median, accepted_price, max_jump_bps):
        if self._held != 0:
            self._held = 0
        self._accept(median, accepted_price, accepted >> 128, params, False)
        return True
    held: uint256 = self._held
    held_price: uint256 = held & MAX_PRICE
    if held_price != 0 and self._within(median, held_price, max_jump_bps):
        confirm_delay: uint256 = (params >> 72) & MASK_32
        if block.timestamp >= (held >> 128) + confirm_delay or confirmations >= quorum:
            self._held = 0
            self._accept(median, accepted_price, accepted >> 128, params, True)
            return True
        return False
    self._held = median | (block.timestamp << 128)
    log PriceHeld(price=median, accepted_price=accepted_price, held_since=block.timestamp)
    return False


@external
def report(price: uint256, observed_at: uint256):
    """
    @notice Push a price (WAD) observed at `observed_at` (unix seconds); recompute
            the median and accept it if the breaker allows. Reporters only.
    @dev A report must be newer than the reporter's previous one, not from the
         future, and younger than report_max_age.
    """
    slot: uint256 = self.reporter_slot[msg.sender]
    assert slot != 0, "feed: not a reporter"
    assert price != 0 and price <= MAX_PRICE, "feed: price out of bounds"
    assert observed_at <= block.timestamp, "feed: report from the future"
    assert observed_at + ((self._params >> 8) & MASK_32) >= block.timestamp, "feed: report too old"
    assert observed_at > self._reports[slot - 1] >> 128, "feed: report not newer"
    self._reports[slot - 1] = price | (observed_at << 128)
    log PriceReported(reporter=msg.sender, price=price, observed_at=observed_at)
    self._update()


@external
def update() -> bool:
    """
    @notice Recompute the median from the fresh reports (anyone may call, e.g. to
            confirm a held jump by time). Returns whether a price was accepted.
    """
    return self._update()


@external
def poke():
    """
    @notice Advance the security module: next becomes current, the last accepted
            price becomes next. Anyone, once `delay` seconds after the last poke.
    """
    accepted: uint256 = self._accepted
    assert accepted != 0, "feed: no accepted price"
    following: uint256 = self._next
    assert block.timestamp >= (following >> 192) + ((self._params >> 40) & MASK_32), "feed: delay not elapsed"
    current_price: uint256 = following & MAX_PRICE
    current_observed_at: uint256 = (following >> 128) & MASK_64
    if current_price != 0:
        self._current = current_price | (current_observed_at << 128) | ((self._current >> 192) << 192)
    else:
        current_price = self._current & MAX_PRICE
        current_observed_at = (self._current >> 128) & MASK_64
    self._next = accepted | (block.timestamp << 192)
    log Poked(current_price=current_price, current_observed_at=current_observed_at, next_price=accepted & MAX_PRICE, next_observed_at=accepted >> 128)


# ================================================================ views
@internal
@pure
def _sigma(variance: uint256) -> uint256:
    # rounds up: a margin built on it is never understated
    squared: uint256 = variance * SECONDS_PER_YEAR * WAD
    root: uint256 = isqrt(squared)
    if root * root < squared:
        root += 1
    return root


@external
@view
def peek() -> (uint256, bool):
    """
    @notice (current price WAD, fresh): the delayed price safety checks use.
    """
    current: uint256 = self._current
    price: uint256 = current & MAX_PRICE
    return price, price != 0 and block.timestamp <= ((current >> 128) & MASK_64) + (current >> 192)


@external
@view
def peek_next() -> (uint256, uint256, uint256):
    """
    @notice (next price WAD, its observation time, earliest time it becomes current).
    """
    following: uint256 = self._next
    return following & MAX_PRICE, (following >> 128) & MASK_64, (following >> 192) + ((self._params >> 40) & MASK_32)


@external
@view
def latest() -> (uint256, uint256):
    """
    @notice (last accepted median WAD, accepted_at): undelayed, for keepers and UIs.
    """
    accepted: uint256 = self._accepted
    return accepted & MAX_PRICE, accepted >> 128


@external
@view
def held() -> (uint256, uint256):
    """
    @notice (held median WAD, held_since), or (0, 0) when no jump is held.
    """
    held: uint256 = self._held
    return held & MAX_PRICE, held >> 128


@external
@view
def volatility() -> uint256:
    """
    @notice Annualised EWMA volatility of accepted prices, WAD (0.8e18 = 80 %).
    """
    return self._sigma(self.variance)


@external
@view
def current_median() -> (uint256, uint256):
    """
    @notice (number of fresh reports, their lower median) as `update` would see them now.
    """
    count: uint256 = 0
    median: uint256 = 0
    confirmations: uint256 = 0
    count, median, confirmations = self._median(self._params)
    return count, median


@external
@view
def parameters() -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256):
    """
    @notice (quorum, report_max_age s, max_age s, delay s, confirm_delay s,
            max_jump bps, ewma lambda bps).
    """
    params: uint256 = self._params
    return (
        params & 255,
        (params >> 8) & MASK_32,
        self._current >> 192,
        (params >> 40) & MASK_32,
        (params >> 72) & MASK_32,
        (params >> 104) & MASK_16,
        (params >> 120) & MASK_16,
    )


@external
@view
def reporters() -> DynArray[address, MAX_REPORTERS]:
    """
    @notice Every authorised reporter.
    """
    result: DynArray[address, MAX_REPORTERS] = []
    for i: uint256 in range(MAX_REPORTERS):
        if i == self.reporter_count:
            break
        result.append(self._reporter_at[i])
    return result


@external
@view
def report_of(reporter: address) -> (uint256, uint256):
    """
    @notice (price WAD, observed_at) of a reporter's last report.
    """
    slot: uint256 = self.reporter_slot[reporter]
    assert slot != 0, "feed: not a reporter"
    report: uint256 = self._reports[slot - 1]
    return report & MAX_PRICE, report >> 128

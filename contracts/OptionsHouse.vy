# pragma version ~=0.4.3
"""
@title OptionsHouse
@notice European options on Keel's collateral types, cash-settled from the
        oracle. A series is (collateral type, strike, expiry, call or put); each is
        an ERC-20 (an OptionToken proxy). Writers lock collateral and receive the
        tokens: a covered call locks one unit of the underlying per option, a
        cash-secured put locks `strike` debt tokens per option. After expiry the
        series settles at the oracle's price; holders redeem the payoff (a call
        pays (S - K) / S underlying per option, a put K - S debt tokens) and
        writers release what is left. Writers may close early by burning the
        tokens they hold. Partly collateralised writing lives in the PortfolioMargin
        module, which writes and settles here for the vaults it margins.
@dev Series creation is permissionless: anyone may list a series of a listed
     collateral type with a strike on the cent grid and an expiry at 08:00 UTC
     within two years (duplicates refused). Settlement: the first `settle` call
     after expiry takes the oracle's fresh price within SETTLEMENT_WINDOW; after
     the window any price the oracle still gives (stale or not) is used; should it
     give none, the series settles at its strike (no payoff). Funds are never
     locked for want of a price. Rounding: holders' payoffs round down, writers'
     obligations round up, so what a series pays never exceeds what backs it.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
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


interface IVaultEngine:
    def collateral_type_words(collateral_type: uint256) -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256): view
    def collateral_type_count() -> uint256: view


interface IOptionToken:
    def initialize(series_id: uint256): nonpayable
    def mint(receiver: address, amount: uint256): nonpayable
    def burn(account: address, amount: uint256): nonpayable
    def totalSupply() -> uint256: view


interface IPriceOracle:
    def peek() -> (uint256, bool): view


interface ISymbol:
    def symbol() -> String[32]: view


struct Series:
    series_id: uint256
    token: address
    collateral_type: uint256
    is_call: bool
    strike: uint256  # WAD debt tokens per whole unit
    expiry: uint256  # unix seconds (08:00 UTC)
    settled: bool
    settlement_price: uint256  # WAD; 0 until settled
    settlement_mode: uint256  # SETTLED_BY_*
    payoff: uint256  # WAD per option once settled: underlying units (call) or debt tokens (put)
    written: uint256  # WAD options written by locked collateral, outstanding (before settlement)
    margin_written: uint256  # WAD options written in portfolio margin, outstanding (not yet settled)
    funds: uint256  # WAD of the collateral asset held for holders (after settlement)
    supply: uint256  # WAD options in circulation


# the PortfolioMargin module: writes, closes and settles for the vaults it margins
ROLE_MARGIN: constant(uint256) = 1
# pause new writing (closing, settlement, redemption and release never stop)
ROLE_OPTIONS_ADMIN: constant(uint256) = 2

WAD: constant(uint256) = fixed_point.WAD
DAY: constant(uint256) = 86_400
EXPIRY_TIME_OF_DAY: constant(uint256) = 8 * 3_600  # 08:00 UTC
MAX_EXPIRY_AHEAD: constant(uint256) = 2 * 365 * DAY
STRIKE_TICK: constant(uint256) = 10 ** 16  # strikes on a 0.01 debt-token grid
MAX_STRIKE: constant(uint256) = 2 ** 96 - 1
# a fresh oracle price settles a series only within this long after expiry
SETTLEMENT_WINDOW: constant(uint256) = DAY
MAX_SERIES: constant(uint256) = 2 ** 31 - 1

SETTLED_BY_ORACLE: constant(uint256) = 1  # a fresh price within the window
SETTLED_BY_LAST_PRICE: constant(uint256) = 2  # after the window, the oracle's last (stale) price
SETTLED_AT_STRIKE: constant(uint256) = 3  # after the window, no price at all: no payoff

MASK_8: constant(uint256) = 2 ** 8 - 1
MASK_40: constant(uint256) = 2 ** 40 - 1
MASK_96: constant(uint256) = 2 ** 96 - 1
MASK_128: constant(uint256) = 2 ** 128 - 1
MASK_160: constant(uint256) = 2 ** 160 - 1

# EIP-1167 minimal proxy creation code around the template's address (as Vyper's
# create_minimal_proxy_to deploys it): its hash gives every series' CREATE2 address
PROXY_HEAD: constant(bytes19) = 0x602d3d8160093d39f3363d3d373d3d3d363d73
PROXY_TAIL: constant(bytes15) = 0x5af43d82803e903d91602b57fd5bf3

event SeriesCreated:
    series_id: indexed(uint256)
    token: indexed(address)
    collateral_type: indexed(uint256)
    is_call: bool
    strike: uint256  # WAD
    expiry: uint256  # unix seconds

event Written:
    series_id: indexed(uint256)
    writer: indexed(address)
    amount: uint256  # WAD options minted to the writer
    locked: uint256  # WAD collateral locked (underlying for a call, debt tokens for a put)
    position: uint256  # WAD the writer has written in the series, outstanding

event Closed:
    series_id: indexed(uint256)
    writer: indexed(address)
    amount: uint256  # WAD options burned
    released: uint256  # WAD collateral returned
    position: uint256  # WAD outstanding afterwards

event SeriesSettled:
    series_id: indexed(uint256)
    price: uint256  # WAD settlement price
    mode: uint256  # SETTLED_BY_*
    payoff: uint256  # WAD per option
    funds: uint256  # WAD moved to holders from locked collateral

event Redeemed:
    series_id: indexed(uint256)
    holder: indexed(address)
    amount: uint256  # WAD options burned
    payout: uint256  # WAD of the collateral asset paid (token units, rounded down)

event Released:
    series_id: indexed(uint256)
    writer: indexed(address)
    written: uint256  # WAD options the position had written
    obligation: uint256  # WAD of its collateral left for holders
    released: uint256  # WAD returned to the writer

event MarginWritten:
    series_id: indexed(uint256)
    receiver: indexed(address)
    amount: uint256  # WAD options minted (positive) for a margined vault

event MarginClosed:
    series_id: indexed(uint256)
    account: indexed(address)
    amount: uint256  # WAD options burned from `account`

event MarginSettled:
    series_id: indexed(uint256)
    amount: uint256  # WAD options the margined short had written
    paid: uint256  # WAD of the collateral asset received for holders
    shortfall: uint256  # WAD it owed beyond what it paid: bad debt the series' holders bear

event WritingPaused:
    paused: bool

# the vault engine (collateral types, oracles) and the debt token (put collateral)
engine: public(immutable(address))
debt_token: public(immutable(address))
# the OptionToken template every series proxies
token_template: public(immutable(address))
# keccak256 of a series proxy's creation code (fixed by the template)
_proxy_code_hash: immutable(bytes32)

# number of series ever created; ids run 1..series_count
series_count: public(uint256)
# series => packed terms and settlement: collateral type (bits 0-7) | call (bit 8) |
#           expiry unix s (bits 9-48) | strike WAD (bits 49-144) | settlement mode (bits
#           145-146) | settlement price WAD (bits 147-242); settling rewrites the same slot
_series: HashMap[uint256, uint256]
# series => packed books. Before settlement: options written by locked collateral
#           outstanding WAD (bits 0-127) | by portfolio margin WAD (bits 128-255).
#           After: funds for holders WAD (bits 0-127) | margined options not yet
#           settled WAD (bits 128-255); holders redeem once the latter is zero.
_books: HashMap[uint256, uint256]
# series => writer => WAD options written against locked collateral, outstanding
written_by: public(HashMap[uint256, HashMap[address, uint256]])
# asset => collateral below one token unit left by payouts, and what writers'
#          obligations (each rounded up) gave beyond the funds set at settlement, WAD
#          (kept by the house)
dust: public(HashMap[address, uint256])
# series => of the holders' funds set at settlement from locked collateral, the part
#           no released writer has paid yet, WAD; a release beyond it is dust
_obligations_left: HashMap[uint256, uint256]
# no new writing while set
writing_paused: public(bool)


@deploy
def __init__(engine_address: address, debt_token_address: address, template: address, initial_owner: address):
    """
    @param engine_address The VaultEngine whose collateral types and oracles series use.
    @param debt_token_address The debt token puts lock and pay.
    @param template The OptionToken template (deployed, sealed).
    @param initial_owner Owner who grants the roles.
    """
    assert engine_address != empty(address) and debt_token_address != empty(address) and template != empty(address), "options: zero address"
    access_control.__init__(initial_owner)
    engine = engine_address
    debt_token = debt_token_address
    token_template = template
    _proxy_code_hash = keccak256(concat(PROXY_HEAD, convert(template, bytes20), PROXY_TAIL))


# ================================================================ series terms
@internal
@pure
def _salt(collateral_type: uint256, strike: uint256, expiry: uint256, is_call: bool) -> bytes32:
    return keccak256(abi_encode(collateral_type, strike, expiry, is_call))


@internal
@view
def _token_at(salt: bytes32) -> address:
    """
    @dev The CREATE2 address of the series proxy with `salt`.
    """
    digest: bytes32 = keccak256(concat(b"\xff", convert(self, bytes20), salt, _proxy_code_hash))
    return convert(convert(digest, uint256) & MASK_160, address)


@internal
@view
def _terms(series_id: uint256) -> uint256:
    packed: uint256 = self._series[series_id]
    assert packed != 0, "options: unknown series"
    return packed


@internal
@pure
def _strike(packed: uint256) -> uint256:
    return (packed >> 49) & MASK_96


@internal
@pure
def _expiry(packed: uint256) -> uint256:
    return (packed >> 9) & MASK_40


@internal
@pure
def _is_call(packed: uint256) -> bool:
    return (packed >> 8) & 1 == 1


@internal
@pure
def _price(packed: uint256) -> uint256:
    return packed >> 147


@internal
@view
def _token(packed: uint256) -> address:
    return self._token_at(self._salt(packed & MASK_8, self._strike(packed), self._expiry(packed), self._is_call(packed)))


@internal
@view
def _asset(packed: uint256) -> (address, uint256):
    """
    @dev (collateral asset, 10 ** (18 - decimals)): the underlying for a call, the
         debt token for a put.
    """
    if not self._is_call(packed):
        return debt_token, 1
    word: uint256 = 0
    token: uint256 = 0
    token, word, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(packed & MASK_8)
    return convert(convert(token & MASK_160, uint160), address), token >> 160


@internal
@pure
def _payoff(packed: uint256, roundup: bool) -> uint256:
    """
    @dev WAD per option once settled: a call pays (S - K) / S underlying, a put
         K - S debt tokens (0 out of the money); `roundup` for what writers owe.
    """
    price: uint256 = packed >> 147
    strike: uint256 = (packed >> 49) & MASK_96
    if (packed >> 8) & 1 == 1:
        if price <= strike:
            return 0
        return fixed_point.mul_div(price - strike, WAD, price, roundup)
    if strike <= price:
        return 0
    return strike - price


@internal
@pure
def _locked(packed: uint256, amount: uint256) -> uint256:
    """
    @dev Collateral (WAD) `amount` options lock in full: one underlying unit per
         call, `strike` debt tokens per put (rounded up).
    """
    if (packed >> 8) & 1 == 1:
        return amount
    return fixed_point.mul_div(amount, (packed >> 49) & MASK_96, WAD, True)


# ================================================================ token moves
@internal
def _pull(asset: address, scale: uint256, payer: address, amount: uint256):
    """
    @dev Take `amount` WAD (whole token units) of `asset` from `payer`.
    """
    units: uint256 = amount // scale
    before: uint256 = staticcall IERC20(asset).balanceOf(self)
    assert extcall IERC20(asset).transferFrom(payer, self, units, default_return_value=True), "options: token transfer failed"
    assert staticcall IERC20(asset).balanceOf(self) - before == units, "options: token fee on transfer"


@internal
def _push(asset: address, scale: uint256, receiver: address, amount: uint256) -> uint256:
    """
    @dev Pay `amount` WAD of `asset`, rounded down to token units; the remainder is
         tracked dust. Returns what was paid, WAD.
    """
    units: uint256 = amount // scale
    if units * scale != amount:
        self.dust[asset] += amount - units * scale
    if units != 0:
        assert extcall IERC20(asset).transfer(receiver, units, default_return_value=True), "options: token transfer failed"
    return units * scale


# ================================================================ series
@external
def create_series(collateral_type: uint256, strike: uint256, expiry: uint256, is_call: bool) -> uint256:
    """
    @notice List a series (anyone): a listed collateral type, a strike (WAD, > 0,
            on the 0.01 grid), an expiry at 08:00 UTC in the future and within two
            years, a call or a put. Its ERC-20 is a minimal proxy of the template.
    @return The series id.
    """
    assert collateral_type != 0 and collateral_type <= staticcall IVaultEngine(engine).collateral_type_count(), "options: unknown collateral type"
    assert strike != 0 and strike <= MAX_STRIKE and strike % STRIKE_TICK == 0, "options: strike off the grid"
    assert expiry > block.timestamp and expiry <= block.timestamp + MAX_EXPIRY_AHEAD, "options: expiry out of range"
    assert expiry % DAY == EXPIRY_TIME_OF_DAY, "options: expiry not at 08:00 UTC"
    salt: bytes32 = self._salt(collateral_type, strike, expiry, is_call)
    assert self._token_at(salt).codesize == 0, "options: duplicate series"
    series_id: uint256 = self.series_count + 1
    assert series_id <= MAX_SERIES, "options: too many series"
    self.series_count = series_id
    call_bit: uint256 = 0
    if is_call:
        call_bit = 1
    self._series[series_id] = collateral_type | (call_bit << 8) | (expiry << 9) | (strike << 49)
    token: address = create_minimal_proxy_to(token_template, salt=salt)
    extcall IOptionToken(token).initialize(series_id)
    log SeriesCreated(series_id=series_id, token=token, collateral_type=collateral_type, is_call=is_call, strike=strike, expiry=expiry)
    return series_id


# ================================================================ writing (collateral locked in full)
@external
@nonreentrant
def write(series_id: uint256, amount: uint256, receiver: address) -> uint256:
    """
    @notice Write `amount` (WAD) options, locking their collateral in full from the
            caller (a covered call: `amount` of the underlying, in whole token
            units; a cash-secured put: `amount * strike` debt tokens, rounded up);
            the options go to `receiver`. Before expiry.
    @return The collateral locked, WAD.
    """
    assert not self.writing_paused, "options: writing paused"
    assert amount != 0, "options: zero amount"
    assert receiver != empty(address), "options: zero receiver"
    packed: uint256 = self._terms(series_id)
    assert block.timestamp < self._expiry(packed), "options: expired"
    asset: address = empty(address)
    scale: uint256 = 0
    asset, scale = self._asset(packed)
    assert amount % scale == 0, "options: amount below token precision"
    locked: uint256 = self._locked(packed, amount)
    # a put's collateral rounds up to whole debt-token wei already (scale 1)
    position: uint256 = self.written_by[series_id][msg.sender] + amount
    self.written_by[series_id][msg.sender] = position
    books: uint256 = self._books[series_id]
    # the holders' funds at settlement (at most written x strike for a put, written
    # for a call) must fit the 128 bits the books keep them in
    assert self._locked(packed, (books & MASK_128) + (books >> 128) + amount) <= MASK_128, "options: too many written"
    self._books[series_id] = books + amount
    log Written(series_id=series_id, writer=msg.sender, amount=amount, locked=locked, position=position)
    self._pull(asset, scale, msg.sender, locked)
    extcall IOptionToken(self._token(packed)).mint(receiver, amount)
    return locked


@external
@nonreentrant
def close(series_id: uint256, amount: uint256, receiver: address) -> uint256:
    """
    @notice Before expiry, burn `amount` (WAD) of the caller's options against the
            caller's written position and take back their collateral (to
            `receiver`, rounded down).
    @return The collateral released, WAD.
    """
    assert amount != 0, "options: zero amount"
    assert receiver != empty(address), "options: zero receiver"
    packed: uint256 = self._terms(series_id)
    assert block.timestamp < self._expiry(packed), "options: expired"
    position: uint256 = self.written_by[series_id][msg.sender]
    assert amount <= position, "options: close exceeds position"
    asset: address = empty(address)
    scale: uint256 = 0
    asset, scale = self._asset(packed)
    # what these options locked, rounded down: never more than was put in
    released: uint256 = amount
    if not self._is_call(packed):
        released = fixed_point.mul_div(amount, self._strike(packed), WAD, False)
    self.written_by[series_id][msg.sender] = position - amount
    self._books[series_id] -= amount
    log Closed(series_id=series_id, writer=msg.sender, amount=amount, released=released, position=position - amount)
    extcall IOptionToken(self._token(packed)).burn(msg.sender, amount)
    return self._push(asset, scale, receiver, released)


# ================================================================ settlement
@internal
@view
def _settlement_price(packed: uint256) -> (uint256, uint256):
    """
    @dev (price WAD, mode) for a series at or after its expiry (see the @dev of
         the contract). A reverting or malformed oracle counts as no price.
    """
    expiry: uint256 = self._expiry(packed)
    word: uint256 = 0
    risk: uint256 = 0
    word, risk, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(packed & MASK_8)
    ok: bool = False
    response: Bytes[64] = b""
    ok, response = raw_call(convert(convert(risk & MASK_160, uint160), address), method_id("peek()"), max_outsize=64, is_static_call=True, revert_on_failure=False)
    price: uint256 = 0
    fresh: bool = False
    if ok and len(response) == 64:
        price, fresh = abi_decode(response, (uint256, bool))
    if block.timestamp <= expiry + SETTLEMENT_WINDOW:
        assert fresh and price != 0, "options: no fresh price yet"
        assert price <= MASK_96, "options: price out of range"
        return price, SETTLED_BY_ORACLE
    if price != 0 and price <= MASK_96:
        return price, SETTLED_BY_LAST_PRICE
    return self._strike(packed), SETTLED_AT_STRIKE


@external
def settle(series_id: uint256) -> uint256:
    """
    @notice Fix a series' settlement price after its expiry (anyone, once): the
            oracle's fresh price within a day of expiry; after that the oracle's
            last price, stale or not; with no price at all, the strike (no
            payoff). The fully collateralised writers' obligations become the
            holders' funds.
    @return The settlement price, WAD.
    """
    packed: uint256 = self._terms(series_id)
    assert block.timestamp >= self._expiry(packed), "options: not expired"
    assert packed >> 145 == 0, "options: already settled"
    price: uint256 = 0
    mode: uint256 = 0
    price, mode = self._settlement_price(packed)
    packed = packed | (mode << 145) | (price << 147)
    self._series[series_id] = packed
    # the books turn into: holders' funds | margined options still to settle
    books: uint256 = self._books[series_id]
    payoff: uint256 = self._payoff(packed, False)
    funds: uint256 = fixed_point.mul_div(books & MASK_128, self._payoff(packed, True), WAD, True)
    self._books[series_id] = funds | ((books >> 128) << 128)
    if funds != 0:
        self._obligations_left[series_id] = funds
    log SeriesSettled(series_id=series_id, price=price, mode=mode, payoff=payoff, funds=funds)
    return price


@internal
@view
def _settled(series_id: uint256) -> uint256:
    packed: uint256 = self._terms(series_id)
    assert packed >> 145 != 0, "options: not settled"
    return packed


@external
@nonreentrant
def redeem(series_id: uint256, amount: uint256, receiver: address) -> uint256:
    """
    @notice After settlement, burn `amount` (WAD) of the caller's options for their
            payoff: the holders' funds pro rata (the full payoff unless a margined
            writer fell short), rounded down, paid to `receiver`. Waits until every
            margined writer of the series has settled.
    @return The payout, WAD (token units, rounded down).
    """
    assert amount != 0, "options: zero amount"
    assert receiver != empty(address), "options: zero receiver"
    packed: uint256 = self._settled(series_id)
    books: uint256 = self._books[series_id]
    assert books >> 128 == 0, "options: margined writers not settled yet"
    funds: uint256 = books & MASK_128
    token: address = self._token(packed)
    supply: uint256 = staticcall IOptionToken(token).totalSupply()
    # a share of the funds, never above the payoff per option
    payout: uint256 = min(fixed_point.mul_div(amount, funds, supply, False), fixed_point.mul_div(amount, self._payoff(packed, False), WAD, False))
    self._books[series_id] = funds - payout
    extcall IOptionToken(token).burn(msg.sender, amount)
    paid: uint256 = 0
    if payout != 0:
        asset: address = empty(address)
        scale: uint256 = 0
        asset, scale = self._asset(packed)
        paid = self._push(asset, scale, receiver, payout)
    log Redeemed(series_id=series_id, holder=msg.sender, amount=amount, payout=paid)
    return paid


@external
@nonreentrant
def release(series_id: uint256, receiver: address) -> uint256:
    """
    @notice After settlement, take back what the caller's written position locked
            less its obligation to holders (written * payoff, rounded up), to
            `receiver`, rounded down.
    @return The collateral released, WAD.
    """
    assert receiver != empty(address), "options: zero receiver"
    packed: uint256 = self._settled(series_id)
    written: uint256 = self.written_by[series_id][msg.sender]
    assert written != 0, "options: nothing written"
    obligation: uint256 = fixed_point.mul_div(written, self._payoff(packed, True), WAD, True)
    locked: uint256 = written
    if not self._is_call(packed):
        locked = fixed_point.mul_div(written, self._strike(packed), WAD, False)
    released: uint256 = locked - min(obligation, locked)
    self.written_by[series_id][msg.sender] = 0
    asset: address = empty(address)
    scale: uint256 = 0
    asset, scale = self._asset(packed)
    if obligation != 0:
        # the writers' obligations, each rounded up, can add up to a few wei more
        # than the funds set for holders: that excess is the house's, tracked
        left: uint256 = self._obligations_left[series_id]
        covered: uint256 = min(obligation, left)
        self._obligations_left[series_id] = left - covered
        if covered != obligation:
            self.dust[asset] += obligation - covered
    log Released(series_id=series_id, writer=msg.sender, written=written, obligation=obligation, released=released)
    return self._push(asset, scale, receiver, released)


# ================================================================ portfolio margin (ROLE_MARGIN)
@external
@nonreentrant
def margin_write(series_id: uint256, amount: uint256, receiver: address):
    """
    @notice Mint `amount` (WAD) options for a vault the margin module margins (it
            checked the margin); they go to `receiver`. ROLE_MARGIN.
    """
    access_control._check_role(ROLE_MARGIN)
    assert not self.writing_paused, "options: writing paused"
    assert amount != 0, "options: zero amount"
    packed: uint256 = self._terms(series_id)
    assert block.timestamp < self._expiry(packed), "options: expired"
    books: uint256 = self._books[series_id]
    # every written option's funds together must fit 128 bits (see `write`)
    assert self._locked(packed, (books & MASK_128) + (books >> 128) + amount) <= MASK_128, "options: too many written"
    self._books[series_id] = books + (amount << 128)
    log MarginWritten(series_id=series_id, receiver=receiver, amount=amount)
    extcall IOptionToken(self._token(packed)).mint(receiver, amount)


@external
@nonreentrant
def margin_close(series_id: uint256, amount: uint256, account: address):
    """
    @notice Burn `amount` (WAD) options from `account` against a margined short
            (before expiry: the owner closing, or a liquidator taking it over).
            ROLE_MARGIN; the module burns only from the account that asked it.
    """
    access_control._check_role(ROLE_MARGIN)
    packed: uint256 = self._terms(series_id)
    assert block.timestamp < self._expiry(packed), "options: expired"
    self._books[series_id] -= amount << 128
    log MarginClosed(series_id=series_id, account=account, amount=amount)
    extcall IOptionToken(self._token(packed)).burn(account, amount)


@external
@nonreentrant
def margin_settle(series_id: uint256, amount: uint256, paid: uint256):
    """
    @notice A margined short of `amount` (WAD) options has paid `paid` (WAD of the
            collateral asset, already transferred here) toward its obligation:
            it joins the holders' funds; any shortfall is the holders' loss,
            recorded in the event. ROLE_MARGIN, after settlement.
    """
    access_control._check_role(ROLE_MARGIN)
    packed: uint256 = self._settled(series_id)
    owed: uint256 = fixed_point.mul_div(amount, self._payoff(packed, True), WAD, True)
    books: uint256 = self._books[series_id]
    funds: uint256 = (books & MASK_128) + paid
    assert funds <= MASK_128, "options: funds overflow"
    self._books[series_id] = funds | (((books >> 128) - amount) << 128)
    log MarginSettled(series_id=series_id, amount=amount, paid=paid, shortfall=owed - min(owed, paid))


# ================================================================ admin
@external
def set_writing_paused(paused: bool):
    """
    @notice Stop (or resume) new writing; everything else keeps working.
            ROLE_OPTIONS_ADMIN.
    """
    access_control._check_role(ROLE_OPTIONS_ADMIN)
    self.writing_paused = paused
    log WritingPaused(paused=paused)


# ================================================================ views
@external
@view
def series(series_id: uint256) -> Series:
    """
    @notice A series' terms, settlement and books.
    """
    packed: uint256 = self._terms(series_id)
    books: uint256 = self._books[series_id]
    token: address = self._token(packed)
    settled: bool = packed >> 145 != 0
    result: Series = Series(
        series_id=series_id,
        token=token,
        collateral_type=packed & MASK_8,
        is_call=self._is_call(packed),
        strike=self._strike(packed),
        expiry=self._expiry(packed),
        settled=settled,
        settlement_price=self._price(packed),
        settlement_mode=(packed >> 145) & 3,
        payoff=0,
        written=books & MASK_128,
        margin_written=books >> 128,
        funds=0,
        supply=staticcall IOptionToken(token).totalSupply(),
    )
    if settled:
        result.payoff = self._payoff(packed, False)
        result.written = 0
        result.funds = books & MASK_128
    return result


@external
@view
def series_terms(series_id: uint256) -> (uint256, bool, uint256, uint256):
    """
    @notice (collateral type, is_call, strike WAD, expiry) of a series.
    """
    packed: uint256 = self._terms(series_id)
    return packed & MASK_8, self._is_call(packed), self._strike(packed), self._expiry(packed)


@external
@view
def settlement(series_id: uint256) -> (uint256, uint256):
    """
    @notice (settlement price WAD, holder payoff WAD per option), (0, 0) until settled.
    """
    packed: uint256 = self._terms(series_id)
    if packed >> 145 == 0:
        return 0, 0
    return self._price(packed), self._payoff(packed, False)


@external
@view
def token_of(series_id: uint256) -> address:
    """
    @notice The series' ERC-20.
    """
    return self._token(self._terms(series_id))


@external
@view
def find_series(collateral_type: uint256, strike: uint256, expiry: uint256, is_call: bool) -> address:
    """
    @notice The token a series with these terms has (or would have: check its code).
    """
    return self._token_at(self._salt(collateral_type, strike, expiry, is_call))


@internal
@pure
def _date(timestamp: uint256) -> uint256:
    """
    @dev YYYYMMDD of a unix time (civil-from-days, proleptic Gregorian).
    """
    z: uint256 = timestamp // DAY + 719_468
    era: uint256 = z // 146_097
    doe: uint256 = z - era * 146_097
    yoe: uint256 = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy: uint256 = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp: uint256 = (5 * doy + 2) // 153
    day: uint256 = doy - (153 * mp + 2) // 5 + 1
    month: uint256 = mp + 3
    if mp >= 10:
        month = mp - 9
    year: uint256 = yoe + era * 400
    if month <= 2:
        year += 1
    return year * 10_000 + month * 100 + day


@internal
@view
def _label(series_id: uint256) -> String[300]:
    """
    @dev "WETH-20270326-2500-C": underlying symbol, expiry date, strike (with
         cents when it has them), C or P.
    """
    packed: uint256 = self._terms(series_id)
    word: uint256 = 0
    token: uint256 = 0
    token, word, word, word, word, word, word = staticcall IVaultEngine(engine).collateral_type_words(packed & MASK_8)
    symbol: String[32] = staticcall ISymbol(convert(convert(token & MASK_160, uint160), address)).symbol()
    strike: uint256 = self._strike(packed)
    strike_text: String[160] = uint2str(strike // WAD)
    cents: uint256 = (strike % WAD) // STRIKE_TICK
    if cents >= 10:
        strike_text = concat(uint2str(strike // WAD), ".", uint2str(cents))
    elif cents != 0:
        strike_text = concat(uint2str(strike // WAD), ".0", uint2str(cents))
    kind: String[1] = "P"
    if self._is_call(packed):
        kind = "C"
    return concat(symbol, "-", uint2str(self._date(self._expiry(packed))), "-", strike_text, "-", kind)


@external
@view
def series_symbol(series_id: uint256) -> String[320]:
    """
    @notice The series token's symbol, e.g. "kWETH-20270326-2500-C".
    """
    return concat("k", self._label(series_id))


@external
@view
def series_name(series_id: uint256) -> String[320]:
    """
    @notice The series token's name, e.g. "Keel option WETH-20270326-2500-C".
    """
    return concat("Keel option ", self._label(series_id))

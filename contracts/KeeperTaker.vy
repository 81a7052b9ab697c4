# pragma version ~=0.4.3
"""
@title KeeperTaker
@notice A liquidation keeper's flash-take contract, so that a keeper bot needs no
        capital: `flash_take` buys part of a DutchAuction lot with this contract as
        receiver; the auction sends the collateral first and calls back
        `on_auction_take`, which sells it on a market for debt tokens; the auction
        then burns what the take owes from this contract, and the rest, the
        profit, goes to the keeper. A take whose profit is below the keeper's
        `min_profit` (a price that moved, a front-run, a thin market) reverts
        whole, so the keeper only ever loses gas.
@dev Holds nothing between transactions: each flash take sends its profit out and
     leaves only the collateral units the market did not take (if any), which
     `sweep` moves out. Accounts with ROLE_KEEPER may flash take and sweep; the
     owner grants it (`set_roles`). The market must have
     `sell(amount) -> uint256`: pull `amount` collateral token units from the
     caller (transferFrom, after approve) and pay WAD debt tokens; its return
     value is trusted only for the `proceeds` in the event and the early
     "sale below owe" check: the profit is measured from balances.
"""

from ethereum.ercs import IERC20
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


interface IDutchAuction:
    def take(auction_id: uint256, amount: uint256, max_price: uint256, receiver: address, data: Bytes[1024]) -> uint256: nonpayable


interface IMarket:
    def sell(amount: uint256) -> uint256: nonpayable
    def quote(amount: uint256) -> uint256: view


# may call `flash_take` and `sweep` (role bit)
ROLE_KEEPER: constant(uint256) = 1

event FlashTaken:
    auction_id: indexed(uint256)
    keeper: indexed(address)
    market: address
    bought: uint256  # WAD collateral bought from the lot
    owe: uint256  # WAD debt tokens the auction burned
    proceeds: uint256  # WAD debt tokens the market paid, as it reported
    profit: uint256  # WAD debt tokens sent to the keeper

event Swept:
    token: indexed(address)
    receiver: indexed(address)
    amount: uint256  # token units

# the DutchAuction whose lots this contract takes
auction: public(immutable(address))
# the debt token the auction is paid in (and the markets pay in)
debt_token: public(immutable(address))

# set by `flash_take` just before its take, used up by the one callback it allows
_expecting: transient(bool)
# the callback's figures for `flash_take`'s event, WAD
_owe: transient(uint256)
_proceeds: transient(uint256)


@deploy
def __init__(auction_address: address, debt_token_address: address, initial_owner: address):
    """
    @param auction_address The DutchAuction to take lots from.
    @param debt_token_address The debt token the auction burns for a take.
    @param initial_owner Owner who grants ROLE_KEEPER.
    """
    assert auction_address != empty(address) and debt_token_address != empty(address), "taker: zero address"
    access_control.__init__(initial_owner)
    auction = auction_address
    debt_token = debt_token_address


@external
@nonreentrant
def flash_take(
    auction_id: uint256,
    amount: uint256,
    max_price: uint256,
    market: address,
    collateral_token: address,
    token_scale: uint256,
    min_profit: uint256,
) -> (uint256, uint256):
    """
    @notice Buy up to `amount` of lot `auction_id` at its current price (at most
            `max_price`), sell the collateral on `market`, pay the auction from
            the proceeds and send the profit to the caller. Reverts whole unless
            the profit is at least `min_profit`. ROLE_KEEPER.
    @dev The auction pays collateral in token units rounded down
         (`bought // token_scale`), keeping the remainder as engine dust; the take
         still owes the price of all `bought`. With `token_scale` > 1, an
         `amount` that is a multiple of it avoids paying for a fraction of a
         unit (the auction may still cut `bought` to what the lot's target needs).
    @param auction_id The lot.
    @param amount Most collateral to buy, WAD.
    @param max_price Highest price to pay, WAD debt tokens per whole collateral token.
    @param market Where to sell the collateral (`sell(uint256) -> uint256`).
    @param collateral_token The lot's collateral token.
    @param token_scale 10 ** (18 - the token's decimals): WAD per token unit.
    @param min_profit Least profit to accept, WAD debt tokens.
    @return (collateral bought WAD, profit WAD sent to the caller)
    """
    access_control._check_role(ROLE_KEEPER)
    assert token_scale != 0, "taker: zero token scale"
    before: uint256 = staticcall IERC20(debt_token).balanceOf(self)
    self._expecting = True
    bought: uint256 = extcall IDutchAuction(auction).take(
        auction_id, amount, max_price, self, abi_encode(market, collateral_token, token_scale)
    )
    after: uint256 = staticcall IERC20(debt_token).balanceOf(self)
    # the callback checked the market's word; this checks the tokens
    assert after >= before, "taker: paid from its own balance"
    profit: uint256 = after - before
    assert profit >= min_profit, "taker: below min profit"
    log FlashTaken(
        auction_id=auction_id,
        keeper=msg.sender,
        market=market,
        bought=bought,
        owe=self._owe,
        proceeds=self._proceeds,
        profit=profit,
    )
    if profit != 0:
        assert extcall IERC20(debt_token).transfer(msg.sender, profit, default_return_value=True), "taker: profit transfer failed"
    return bought, profit


@external
def on_auction_take(taker: address, owe: uint256, collateral: uint256, data: Bytes[1024]):
    """
    @notice The auction's flash-take callback: `collateral` has arrived; sell it
            so that this contract holds the `owe` the auction burns next. Only
            for a take this contract started in `flash_take`.
    @dev Not @nonreentrant: it runs inside `flash_take`, which holds the lock.
         Sells `collateral // token_scale` token units, approving exactly that;
         an allowance the market leaves unused is cleared (tokens that refuse a
         new approval over a non-zero one would otherwise block the next take).
    @param taker Who called `take` (the payer): must be this contract.
    @param owe Debt tokens the auction burns after this returns, WAD.
    @param collateral Collateral bought, WAD.
    @param data abi_encode(market, collateral token, token scale), from `flash_take`.
    """
    assert msg.sender == auction, "taker: not the auction"
    assert taker == self, "taker: not our take"
    assert self._expecting, "taker: no flash take running"
    self._expecting = False
    market: address = empty(address)
    token: address = empty(address)
    token_scale: uint256 = 0
    market, token, token_scale = abi_decode(data, (address, address, uint256))
    # token units the engine paid out (it rounds WAD down to units)
    units: uint256 = collateral // token_scale
    assert extcall IERC20(token).approve(market, units, default_return_value=True), "taker: approve failed"
    proceeds: uint256 = extcall IMarket(market).sell(units)
    assert proceeds >= owe, "taker: sale below owe"
    if staticcall IERC20(token).allowance(self, market) != 0:
        assert extcall IERC20(token).approve(market, 0, default_return_value=True), "taker: approve failed"
    self._owe = owe
    self._proceeds = proceeds


@external
@nonreentrant
def sweep(token: address, receiver: address, amount: uint256):
    """
    @notice Move `amount` token units of `token` out of this contract (collateral
            a market left, tokens sent here by mistake). ROLE_KEEPER.
    @param token The ERC-20 to move.
    @param receiver Where to send it; not the zero address.
    @param amount Token units.
    """
    access_control._check_role(ROLE_KEEPER)
    assert receiver != empty(address), "taker: zero receiver"
    log Swept(token=token, receiver=receiver, amount=amount)
    assert extcall IERC20(token).transfer(receiver, amount, default_return_value=True), "taker: transfer failed"

"""The keeper's decisions: pure functions from a snapshot of chain state to actions.

Nothing here talks to a node, so every rule is unit-tested with made-up snapshots
(tests/unit/test_keeper_strategy.py). The rules:

- **liquidate** every vault the lens calls unsafe at a fresh price, worst collateral
  ratio first, in batches of ``batch`` (``Liquidator.liquidate_many`` skips a vault that
  turned safe meanwhile, so a stale read costs a ``Skipped`` event, not a revert); only
  as much vault debt as the auction caps have room for (one more vault is liquidated in
  part); a vault whose keeper reward does not cover its share of the gas is left to
  others unless ``altruistic`` (the protocol still wants it liquidated);
- **reset** a lot that needs it (past ``tail`` or below ``cusp * top``) at a fresh price;
- **take** a lot when what the collateral fetches (:mod:`keel.keeper.pricing`) exceeds
  what the lot costs now plus the gas by at least ``min_profit``: all of it (the auction
  sells only what the target needs); ``max_price`` is the price read, which only falls;
  the on-chain ``min_profit`` (KeeperTaker) is the gas cost, so a take that a rival beat
  or a market that moved reverts and costs only gas;
- **margin accounts**: start the liquidation ramp of an unhealthy account; once started,
  one step a tick: take over the option position whose ramp price is furthest beyond its
  Black-Scholes mark (a short: write covered options in the house and hand them in for
  collateral worth the ramp price; a long: buy it below its mark), else repay its debt
  from the keeper's own debt tokens (``liquidate_debt``) when the ramp's bonus pays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..client import AuctionStatus, MarginHealth, VaultInfo
from ..units import MAX_UINT256, WAD
from .pricing import BPS, Pricing

# gas per action, for the profitability estimate (measured on Anvil: docs/gas.md and
# docs/keeper-benchmark.md; a little above, so estimates err against acting)
GAS_BATCH_BASE = 60_000  # liquidate_many without vaults (the call, the reward mint)
GAS_BATCH_PER_VAULT = 90_000  # each vault in liquidate_many
GAS_TAKE_FLASH = 210_000  # KeeperTaker.flash_take: take, callback, sale, payment, profit out (~203,000 finishing a lot)
GAS_TAKE_DIRECT = 100_000  # DutchAuction.take paid from the keeper's own debt tokens
GAS_RESET = 80_000
GAS_MARGIN_START = 70_000
GAS_MARGIN_DEBT = 260_000  # PortfolioMargin.liquidate_debt: two margin checks
GAS_MARGIN_POSITION = 260_000  # PortfolioMargin.liquidate: two margin checks, a burn or a transfer
GAS_HOUSE_WRITE = 160_000  # OptionsHouse.write: the keeper's own covered options, for a short takeover


@dataclass(frozen=True)
class TypeState:
    """What the rules need of one collateral type (read once per tick)."""

    collateral_type: int
    symbol: str
    price: int  # WAD, the oracle's current answer
    fresh: bool
    scale: int  # 10 ** (18 - decimals)
    penalty: int  # WAD factor (1.13e18)
    reward_flat: int  # WAD
    reward_percent: int  # WAD share of the target
    reward_cap: int  # WAD
    room: int  # WAD of vault debt the auction caps still take for this type (type cap, not global)
    token: str = ""
    flash: bool = True  # a market is configured: take with a flash take (no capital)
    dust: int = 0  # WAD: the least debt a vault of this type may keep


@dataclass(frozen=True)
class Economics:
    """Gas in debt tokens: ``gas * fee_per_gas`` wei at ``eth_price`` (WAD kUSD per ETH)."""

    fee_per_gas: int  # wei, what a transaction is expected to pay per gas (base fee + tip)
    eth_price: int  # WAD debt tokens per ETH

    def cost(self, gas: int) -> int:
        """WAD debt tokens that ``gas`` costs, rounded up."""
        return -(-gas * self.fee_per_gas * self.eth_price // WAD)


@dataclass(frozen=True)
class Liquidate:
    vault_ids: tuple[int, ...]
    reward: int  # WAD expected in all
    gas: int

    @property
    def key(self) -> str:
        return "liquidate:" + ",".join(map(str, self.vault_ids))


@dataclass(frozen=True)
class Take:
    auction_id: int
    collateral_type: int
    amount: int  # WAD asked (the whole lot)
    max_price: int  # WAD
    owe: int  # WAD expected to pay
    bought: int  # WAD expected to get
    proceeds: int  # WAD the collateral is expected to fetch
    min_profit: int  # WAD, on chain (KeeperTaker reverts below it)
    profit: int  # WAD expected, after gas
    flash: bool
    gas: int

    @property
    def key(self) -> str:
        return f"take:{self.auction_id}"


@dataclass(frozen=True)
class Reset:
    auction_id: int
    gas: int = GAS_RESET

    @property
    def key(self) -> str:
        return f"reset:{self.auction_id}"


@dataclass(frozen=True)
class StartMarginLiquidation:
    vault_id: int
    gas: int = GAS_MARGIN_START

    @property
    def key(self) -> str:
        return f"margin-start:{self.vault_id}"


@dataclass(frozen=True)
class LiquidateMarginDebt:
    vault_id: int
    amount: int  # WAD debt tokens repaid (the debt when read, if in_full)
    bonus_bps: int  # the ramp's bonus now
    profit: int  # WAD expected after gas
    gas: int = GAS_MARGIN_DEBT
    in_full: bool = False  # repay all of it: send MAX_UINT256 (fees accrue until it is mined)

    @property
    def call_amount(self) -> int:
        """The ``liquidate_debt`` argument: the amount, or all of the debt as mined."""
        return MAX_UINT256 if self.in_full else self.amount

    @property
    def key(self) -> str:
        return f"margin-debt:{self.vault_id}"


@dataclass(frozen=True)
class TakeOverPosition:
    """Take over part of an under-margined account's option position on its ramp
    (``PortfolioMargin.liquidate``). A short: the keeper first writes ``amount`` of the
    series in full in the house (locking strike x amount debt tokens for a put, the
    collateral for a call) and hands them in: the account's short closes, the keeper
    receives collateral worth ``ramp`` per option and keeps a covered short worth ``mark``.
    A long: the keeper pays ``ramp`` per option (toward the account's debt) and receives
    options worth ``mark``."""

    vault_id: int
    series_id: int
    is_short: bool
    is_call: bool
    amount: int  # WAD options
    ramp: int  # WAD per option, the ramp's price now
    mark: int  # WAD per option, Black-Scholes
    locked: int  # WAD the house locks to write them (short), or WAD paid (long)
    profit: int  # WAD expected after gas
    gas: int = 0

    @property
    def key(self) -> str:
        return f"margin-position:{self.vault_id}:{self.series_id}"


Action = Liquidate | Take | Reset | StartMarginLiquidation | LiquidateMarginDebt | TakeOverPosition


@dataclass(frozen=True)
class PositionView:
    """One option position of a margin account, with the prices a liquidator weighs."""

    series_id: int
    is_call: bool
    is_short: bool
    amount: int  # WAD options
    strike: int  # WAD
    expiry: int  # unix s
    ramp: int  # WAD per option: PortfolioMargin.ramp_price now (0: no ramp)
    mark: int  # WAD per option: PortfolioMargin.mark

    @classmethod
    def of(cls, position: dict[str, Any], ramp: int, mark: int) -> "PositionView":
        """From a ``PortfolioMargin.positions`` entry (by field name) and its two prices."""
        return cls(series_id=int(position["series_id"]), is_call=bool(position["is_call"]),
                   is_short=bool(position["is_short"]), amount=int(position["amount"]),
                   strike=int(position["strike"]), expiry=int(position["expiry"]), ramp=int(ramp), mark=int(mark))


@dataclass(frozen=True)
class MarginAccount:
    vault_id: int
    health: MarginHealth
    started_at: int  # unix s, 0 = no ramp running
    collateral_type: int = 0
    positions: tuple[PositionView, ...] = ()
    collateral_value: int = 0  # WAD debt tokens: the account's collateral at the oracle price
    dust: int = 0  # WAD: the type's least debt; a part repaid must leave at least this


@dataclass(frozen=True)
class MarginParams:
    ramp_seconds: int
    max_bonus_bps: int


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    unsafe: int = 0  # vaults found unsafe
    unprofitable: int = 0  # left alone: reward or profit below the gas
    waiting: int = 0  # lots whose price is still above what the collateral fetches
    no_room: int = 0  # unsafe vaults beyond the auction caps' room this tick


@dataclass(frozen=True)
class Settings:
    batch: int = 50  # vaults per liquidate_many (the Liquidator's MAX_BATCH)
    min_profit: int = 0  # WAD debt tokens a take must earn beyond gas
    altruistic: bool = False  # liquidate even when the reward does not pay the gas
    debt_reserve: int = 0  # WAD of own debt tokens margin liquidations leave untouched
    option_edge_bps: int = 200  # a position is taken over only this far beyond its mark


def reward_of(t: TypeState, debt: int) -> int:
    """The Liquidator's reward for seizing ``debt`` (WAD): flat + percent of the target
    (debt x penalty), capped."""
    target = debt * t.penalty // WAD
    return min(t.reward_flat + target * t.reward_percent // WAD, t.reward_cap)


def plan_liquidations(
    vaults: Sequence[VaultInfo], types: dict[int, TypeState], econ: Economics, settings: Settings,
    *, global_room: int | None = None, plan: Plan | None = None,
) -> Plan:
    """Batches of unsafe vaults, worst first, within the caps' room."""
    plan = plan or Plan()
    unsafe = [v for v in vaults if v.normalized_debt and not v.safe and v.price_fresh and v.collateral_type in types]
    plan.unsafe += len(unsafe)
    unsafe.sort(key=lambda v: (v.collateral_ratio, v.vault_id))
    room = {t: s.room for t, s in types.items()}
    chosen: list[tuple[int, int]] = []  # (vault id, reward)
    for v in unsafe:
        t = types[v.collateral_type]
        if room[v.collateral_type] <= 0 or (global_room is not None and global_room <= 0):
            plan.no_room += 1
            continue
        seized = min(v.debt, room[v.collateral_type], global_room if global_room is not None else v.debt)
        reward = reward_of(t, seized)
        if not settings.altruistic and reward < econ.cost(GAS_BATCH_PER_VAULT):
            plan.unprofitable += 1
            continue
        room[v.collateral_type] -= seized
        if global_room is not None:
            global_room -= seized
        chosen.append((v.vault_id, reward))
    for start in range(0, len(chosen), settings.batch):
        part = chosen[start:start + settings.batch]
        plan.actions.append(Liquidate(
            tuple(v for v, _ in part), sum(r for _, r in part), GAS_BATCH_BASE + GAS_BATCH_PER_VAULT * len(part),
        ))
    return plan


def purchase(status: AuctionStatus) -> tuple[int, int]:
    """(collateral bought, debt tokens owed), WAD, for asking the whole lot now: as
    DutchAuction.take rounds (owe up; when the target caps it, the collateral for the
    target rounded up)."""
    bought = status.lot
    owe = -(-bought * status.price // WAD)
    if owe > status.target:
        owe = status.target
        bought = min(status.lot, -(-owe * WAD // status.price)) if status.price else status.lot
    return bought, owe


def plan_take(
    status: AuctionStatus, t: TypeState, pricing: Pricing, econ: Economics, settings: Settings, balance: int,
) -> tuple[Take | None, str]:
    """A take of the whole lot, or None with why not."""
    if not status.active:
        return None, "ended"
    if status.needs_reset:
        return None, "needs reset"
    if status.price == 0 or status.lot == 0:
        return None, "nothing to buy"
    bought, owe = purchase(status)
    if owe == 0 or bought == 0:
        return None, "nothing to buy"
    proceeds = pricing.proceeds(status.collateral_type, bought)
    if proceeds is None:
        return None, "no price"
    gas = GAS_TAKE_FLASH if t.flash else GAS_TAKE_DIRECT
    gas_cost = econ.cost(gas)
    profit = proceeds - owe - gas_cost
    if profit < settings.min_profit or profit <= 0:
        return None, "price above what the collateral fetches"
    if not t.flash and balance < owe:
        return None, "not enough debt tokens"
    return Take(
        auction_id=status.auction_id, collateral_type=status.collateral_type, amount=status.lot,
        max_price=status.price, owe=owe, bought=bought, proceeds=proceeds, min_profit=max(1, gas_cost),
        profit=profit, flash=t.flash, gas=gas,
    ), "take"


def plan_auctions(
    statuses: Sequence[AuctionStatus], types: dict[int, TypeState], pricing: Pricing, econ: Economics,
    settings: Settings, balance: int, plan: Plan | None = None,
) -> Plan:
    plan = plan or Plan()
    for status in statuses:
        t = types.get(status.collateral_type)
        if not status.active or t is None:
            continue
        if status.needs_reset:
            if t.fresh:  # a reset restarts from the fresh oracle price; stale: wait
                plan.actions.append(Reset(status.auction_id))
            continue
        take, why = plan_take(status, t, pricing, econ, settings, balance)
        if take is not None:
            plan.actions.append(take)
            if not take.flash:
                balance -= take.owe
        elif why.startswith("price above"):
            plan.waiting += 1
    return plan


def ramp_running(started_at: int, now: int, ramp_seconds: int) -> bool:
    """A margin account's liquidation ramp runs (started, and not older than twice its
    length, after which ``start_liquidation`` restarts it)."""
    return started_at != 0 and now <= started_at + 2 * ramp_seconds


def progress_bps(started_at: int, now: int, ramp_seconds: int) -> int:
    if started_at == 0:
        return 0
    if ramp_seconds == 0 or now - started_at >= ramp_seconds:
        return BPS
    return BPS * (now - started_at) // ramp_seconds


def plan_position(
    account: MarginAccount, p: PositionView, now: int, econ: Economics, settings: Settings, balance: int,
    collateral_balance: int,
) -> TakeOverPosition | None:
    """The take-over of one position, or None. ``balance``: the keeper's debt tokens;
    ``collateral_balance``: its collateral (WAD) of the account's type, which a call short
    needs to write covered calls. (The collateral a short pays is worth the ramp price per
    option at the oracle price, by construction.)"""
    if p.expiry <= now or p.ramp == 0 or p.amount == 0:
        return None
    edge = BPS + settings.option_edge_bps
    spend = max(0, balance - settings.debt_reserve)
    if p.is_short:
        # paid ramp per option in collateral, left holding a covered short worth mark
        if p.ramp * BPS < p.mark * edge:
            return None
        # the module pays at most the collateral the account has: never take over more
        # options than it can pay the ramp price for
        payable = account.collateral_value * WAD // p.ramp
        if p.is_call:
            amount = min(p.amount, collateral_balance, payable)
            locked = amount
        else:
            amount = min(p.amount, spend * WAD // p.strike, payable) if p.strike else 0
            locked = -(-amount * p.strike // WAD)
        gas = GAS_HOUSE_WRITE + GAS_MARGIN_POSITION
    else:
        # pays ramp per option, gets options worth mark
        if p.ramp * edge > p.mark * BPS or p.ramp == 0:
            return None
        amount = min(p.amount, spend * WAD // p.ramp)
        locked = -(-amount * p.ramp // WAD)
        if locked > account.health.debt:  # the module refuses a long worth more than the debt
            amount = account.health.debt * WAD // p.ramp
            locked = -(-amount * p.ramp // WAD)
        gas = GAS_MARGIN_POSITION
    if amount == 0:
        return None
    gap = p.ramp - p.mark if p.is_short else p.mark - p.ramp
    profit = gap * amount // WAD - econ.cost(gas)
    if profit <= settings.min_profit:
        return None
    return TakeOverPosition(account.vault_id, p.series_id, p.is_short, p.is_call, amount, p.ramp, p.mark, locked,
                            profit, gas)


def plan_margin(
    accounts: Sequence[MarginAccount], params: MarginParams, now: int, econ: Economics, settings: Settings,
    balance: int, plan: Plan | None = None, *, collateral: dict[int, int] | None = None,
) -> Plan:
    """Per unhealthy account: start its ramp; once running, one step a tick (each changes
    the account): the most profitable position take-over, else a debt repayment for the
    ramp's bonus. ``collateral``: the keeper's collateral balances by type (WAD)."""
    plan = plan or Plan()
    collateral = dict(collateral or {})
    for account in accounts:
        if account.health.healthy:
            continue
        plan.unsafe += 1
        started = account.started_at
        if not ramp_running(started, now, params.ramp_seconds):
            plan.actions.append(StartMarginLiquidation(account.vault_id))
            continue
        candidates = [
            plan_position(account, p, now, econ, settings, balance, collateral.get(account.collateral_type, 0))
            for p in account.positions
        ]
        best = max((c for c in candidates if c is not None), key=lambda c: c.profit, default=None)
        if best is not None:
            plan.actions.append(best)
            if best.is_short and best.is_call:
                collateral[account.collateral_type] = collateral.get(account.collateral_type, 0) - best.locked
            else:
                balance -= best.locked
            continue
        debt = account.health.debt
        room = max(0, balance - settings.debt_reserve)
        # fees accrue until the transaction is mined (1 bp of slack): the exact debt read now
        # would fall short and leave less than the dust, which the engine refuses. All of it
        # (max_value) when the keeper can pay the slack too, else a part that leaves the
        # type's dust (and the slack) unpaid, if the debt is large enough for one
        slack = debt // 10_000
        in_full = room >= debt + slack
        keep = max(slack, account.dust)
        amount = debt if in_full else (min(room, debt - keep) if debt > keep else 0)
        if amount == 0:
            continue
        bonus = params.max_bonus_bps * progress_bps(started, now, params.ramp_seconds) // BPS
        profit = amount * bonus // BPS - econ.cost(GAS_MARGIN_DEBT)
        if profit <= settings.min_profit:
            plan.unprofitable += 1
            continue
        plan.actions.append(LiquidateMarginDebt(account.vault_id, amount, bonus, profit, in_full=in_full))
        balance -= amount + (slack if in_full else 0)
    return plan


__all__ = [
    "Action", "Economics", "Liquidate", "LiquidateMarginDebt", "MarginAccount", "MarginParams", "Plan",
    "PositionView", "Reset", "Settings", "StartMarginLiquidation", "Take", "TakeOverPosition", "TypeState",
    "plan_auctions", "plan_liquidations", "plan_margin", "plan_position", "plan_take", "progress_bps", "purchase",
    "ramp_running",
    "reward_of",
]

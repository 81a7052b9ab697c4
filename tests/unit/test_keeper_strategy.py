"""The keeper's decisions (keel/keeper/strategy.py) on made-up snapshots: no chain needed.

Each rule is checked where it could go wrong: which vaults, in what order and batches,
within the auction caps' room, only when the reward pays for the gas; which lots are
taken (and at what max price / on-chain floor), reset, or left to fall further; when a
margin account's ramp is started or its debt repaid.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as hs

from keel.client import AuctionStatus, MarginHealth, VaultInfo
from keel.keeper import strategy as st
from keel.keeper.pricing import OraclePricing

WAD = 10**18
GWEI = 10**9
MAX_UINT256 = 2**256 - 1

WETH = st.TypeState(
    collateral_type=1, symbol="WETH", price=1_200 * WAD, fresh=True, scale=1, penalty=113 * WAD // 100,
    reward_flat=10 * WAD, reward_percent=WAD // 1000, reward_cap=500 * WAD, room=5_000_000 * WAD,
)
WBTC = replace(WETH, collateral_type=2, symbol="WBTC", price=18_000 * WAD, scale=10**10)
TYPES = {1: WETH, 2: WBTC}
CHEAP_GAS = st.Economics(fee_per_gas=1 * GWEI, eth_price=1_200 * WAD)  # 0.0012 kUSD per 1,000 gas
SETTINGS = st.Settings()


def vault(vault_id: int, *, ratio_pct: int = 140, debt: int = 1_000 * WAD, collateral_type: int = 1,
          safe: bool | None = None, fresh: bool = True) -> VaultInfo:
    ratio = ratio_pct * WAD // 100
    return VaultInfo(
        vault_id=vault_id, owner="0x" + "11" * 20, collateral_type=collateral_type, collateral=WAD,
        normalized_debt=debt, debt=debt, collateral_value=debt * ratio // WAD, collateral_ratio=ratio,
        max_borrow=0, safe=(ratio_pct >= 150) if safe is None else safe, price_fresh=fresh,
    )


def lot_status(auction_id: int = 1, *, price: int = 1_100 * WAD, lot_wad: int = 2 * WAD, target: int = 1_130 * WAD,
        collateral_type: int = 1, needs_reset: bool = False, active: bool = True) -> AuctionStatus:
    return AuctionStatus(
        auction_id=auction_id, active=active, needs_reset=needs_reset, collateral_type=collateral_type,
        vault_id=auction_id, price=price, top=1_320 * WAD, lot=lot_wad, target=target, debt=target * 100 // 113,
        started_at=1,
    )


ORACLE = OraclePricing(lambda t: (TYPES[t].price, TYPES[t].fresh), margin_bps=300)


# ------------------------------------------------------------------ liquidations
def test_plan_liquidations__unsafe_and_safe_vaults__only_unsafe_worst_first():
    vaults = [vault(1, ratio_pct=149), vault(2, ratio_pct=200), vault(3, ratio_pct=120), vault(4, ratio_pct=151)]
    plan = st.plan_liquidations(vaults, TYPES, CHEAP_GAS, SETTINGS)
    assert plan.unsafe == 2
    assert [a.vault_ids for a in plan.actions] == [(3, 1)]


def test_plan_liquidations__stale_price_or_no_debt__left_alone():
    vaults = [vault(1, ratio_pct=100, fresh=False), vault(2, ratio_pct=100, debt=0), vault(3, ratio_pct=100)]
    plan = st.plan_liquidations(vaults, TYPES, CHEAP_GAS, SETTINGS)
    assert [a.vault_ids for a in plan.actions] == [(3,)]


def test_plan_liquidations__120_unsafe_vaults__batches_of_50():
    vaults = [vault(i, ratio_pct=100 + i % 40) for i in range(1, 121)]
    plan = st.plan_liquidations(vaults, TYPES, CHEAP_GAS, SETTINGS)
    assert [len(a.vault_ids) for a in plan.actions] == [50, 50, 20]
    assert sorted(v for a in plan.actions for v in a.vault_ids) == list(range(1, 121))
    assert all(a.gas == st.GAS_BATCH_BASE + st.GAS_BATCH_PER_VAULT * len(a.vault_ids) for a in plan.actions)


def test_plan_liquidations__caps_room_for_two__third_vault_in_part_then_none():
    types = {1: replace(WETH, room=2_500 * WAD), 2: WBTC}
    vaults = [vault(i, ratio_pct=100 + i) for i in range(1, 6)]
    plan = st.plan_liquidations(vaults, types, CHEAP_GAS, SETTINGS)
    assert [a.vault_ids for a in plan.actions] == [(1, 2, 3)]  # the third fits in part
    assert plan.no_room == 2


def test_plan_liquidations__global_room_shared_by_types__stops_at_it():
    vaults = [vault(1, ratio_pct=100), vault(2, ratio_pct=101, collateral_type=2), vault(3, ratio_pct=102)]
    plan = st.plan_liquidations(vaults, TYPES, CHEAP_GAS, SETTINGS, global_room=1_500 * WAD)
    assert [a.vault_ids for a in plan.actions] == [(1, 2)]
    assert plan.no_room == 1


def test_plan_liquidations__reward_below_gas__skipped_unless_altruistic():
    pricey = st.Economics(fee_per_gas=500 * GWEI, eth_price=4_000 * WAD)  # 90,000 gas = 180 kUSD
    vaults = [vault(1, ratio_pct=100, debt=200 * WAD), vault(2, ratio_pct=100, debt=200_000 * WAD)]
    plan = st.plan_liquidations(vaults, TYPES, pricey, SETTINGS)
    assert [a.vault_ids for a in plan.actions] == [(2,)]
    assert plan.unprofitable == 1
    plan = st.plan_liquidations(vaults, TYPES, pricey, replace(SETTINGS, altruistic=True))
    assert [a.vault_ids for a in plan.actions] == [(1, 2)]


def test_reward_of__large_vault__capped():
    assert st.reward_of(WETH, 1_000 * WAD) == 10 * WAD + 1_130 * WAD // 1000
    assert st.reward_of(WETH, 10**9 * WAD) == WETH.reward_cap


@given(
    debts=hs.lists(hs.integers(100, 10**7), min_size=1, max_size=80),
    room=hs.integers(0, 10**8),
)
def test_plan_liquidations__any_book__within_room_plus_one_part(debts, room):
    """Every vault chosen but the last fits in the room; batches never exceed 50."""
    types = {1: replace(WETH, room=room * WAD), 2: WBTC}
    vaults = [vault(i + 1, ratio_pct=100, debt=d * WAD) for i, d in enumerate(debts)]
    plan = st.plan_liquidations(vaults, types, CHEAP_GAS, SETTINGS)
    chosen = [v for a in plan.actions for v in a.vault_ids]
    assert all(len(a.vault_ids) <= 50 for a in plan.actions)
    full = sum(debts[v - 1] * WAD for v in chosen[:-1])
    assert full < room * WAD or not chosen
    assert len(chosen) + plan.no_room + plan.unprofitable == len(debts)


# ------------------------------------------------------------------ takes
def test_plan_take__price_below_oracle_less_margin__takes_whole_lot_at_read_price():
    status = lot_status(price=1_100 * WAD, lot_wad=2 * WAD, target=5_000 * WAD)  # 2 WETH for 2,200 < 0.97 x 2,400
    take, why = st.plan_take(status, WETH, ORACLE, CHEAP_GAS, SETTINGS, balance=0)
    assert why == "take" and take is not None
    assert (take.amount, take.max_price, take.owe, take.bought) == (2 * WAD, 1_100 * WAD, 2_200 * WAD, 2 * WAD)
    assert take.proceeds == 2_400 * WAD * 9_700 // 10_000
    assert take.profit == take.proceeds - take.owe - CHEAP_GAS.cost(st.GAS_TAKE_FLASH)
    assert take.min_profit == CHEAP_GAS.cost(st.GAS_TAKE_FLASH)


def test_plan_take__price_above_what_collateral_fetches__waits():
    status = lot_status(price=1_190 * WAD)  # 0.97 x 1,200 = 1,164 < 1,190
    take, why = st.plan_take(status, WETH, ORACLE, CHEAP_GAS, SETTINGS, balance=0)
    assert take is None and why.startswith("price above")


def test_plan_take__target_below_lot_value__buys_only_what_the_target_needs():
    status = lot_status(price=1_000 * WAD, lot_wad=3 * WAD, target=1_500 * WAD)
    take, _ = st.plan_take(status, WETH, ORACLE, CHEAP_GAS, SETTINGS, balance=0)
    assert take is not None and take.owe == 1_500 * WAD and take.bought == 3 * WAD // 2


def test_plan_take__direct_without_enough_debt_tokens__refused():
    direct = replace(WETH, flash=False)
    status = lot_status(price=1_000 * WAD, lot_wad=WAD)
    take, why = st.plan_take(status, direct, ORACLE, CHEAP_GAS, SETTINGS, balance=999 * WAD)
    assert take is None and why == "not enough debt tokens"
    take, _ = st.plan_take(status, direct, ORACLE, CHEAP_GAS, SETTINGS, balance=1_000 * WAD)
    assert take is not None and not take.flash and take.gas == st.GAS_TAKE_DIRECT


def test_plan_take__min_profit_setting__raises_the_bar():
    status = lot_status(price=1_150 * WAD, lot_wad=WAD, target=5_000 * WAD)  # ~14 kUSD of profit
    assert st.plan_take(status, WETH, ORACLE, CHEAP_GAS, SETTINGS, 0)[0] is not None
    strict = replace(SETTINGS, min_profit=20 * WAD)
    assert st.plan_take(status, WETH, ORACLE, CHEAP_GAS, strict, 0)[0] is None


def test_plan_take__stale_oracle__no_price_no_take():
    stale = OraclePricing(lambda t: (1_200 * WAD, False))
    take, why = st.plan_take(lot_status(price=100 * WAD), WETH, stale, CHEAP_GAS, SETTINGS, 0)
    assert take is None and why == "no price"


@given(
    price=hs.integers(1, 10**24), lot_wad=hs.integers(1, 10**24), target=hs.integers(1, 10**27),
)
def test_purchase__any_lot__never_pays_less_than_the_auction_asks(price, lot_wad, target):
    """The auction's own arithmetic: owe rounds up, capped by the target; the keeper's
    estimate of owe is never below price x bought (it must not under-budget)."""
    bought, owe = st.purchase(lot_status(price=price, lot_wad=lot_wad, target=target))
    assert bought <= lot_wad and owe <= target
    whole = -(-lot_wad * price // WAD)  # the whole lot's price, rounded up
    if whole <= target:
        assert (bought, owe) == (lot_wad, whole)
    else:  # the target caps it: pay the target, for the collateral it buys rounded up
        assert owe == target and owe * WAD <= bought * price  # never more than the price per unit
        if bought < lot_wad:
            assert bought * price < owe * WAD + price  # rounded up by under 1 wei


def test_plan_auctions__needs_reset__reset_only_with_a_fresh_price():
    statuses = [lot_status(1, needs_reset=True), lot_status(2, needs_reset=True, collateral_type=2), lot_status(3, active=False)]
    types = {1: WETH, 2: replace(WBTC, fresh=False)}
    plan = st.plan_auctions(statuses, types, ORACLE, CHEAP_GAS, SETTINGS, balance=0)
    assert plan.actions == [st.Reset(1)]


def test_plan_auctions__direct_takes__share_the_balance():
    direct = {1: replace(WETH, flash=False), 2: WBTC}
    statuses = [lot_status(1, price=1_000 * WAD, lot_wad=WAD), lot_status(2, price=1_000 * WAD, lot_wad=WAD)]
    plan = st.plan_auctions(statuses, direct, ORACLE, CHEAP_GAS, SETTINGS, balance=1_500 * WAD)
    assert [a.auction_id for a in plan.actions] == [1]


# ------------------------------------------------------------------ margin accounts
def health(*, healthy: bool, debt: int = 1_000 * WAD) -> MarginHealth:
    return MarginHealth(value=1_100 * WAD, debt=debt, maintenance=200 * WAD, initial=300 * WAD, healthy=healthy,
                        opening=False)


PARAMS = st.MarginParams(ramp_seconds=3_600, max_bonus_bps=1_000)


def test_plan_margin__unhealthy_without_ramp__starts_it():
    accounts = [st.MarginAccount(7, health(healthy=False), 0), st.MarginAccount(8, health(healthy=True), 0)]
    plan = st.plan_margin(accounts, PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=0)
    assert plan.actions == [st.StartMarginLiquidation(7)] and plan.unsafe == 1


def test_plan_margin__ramp_half_run__repays_debt_for_the_bonus():
    accounts = [st.MarginAccount(7, health(healthy=False, debt=800 * WAD), 8_200)]
    plan = st.plan_margin(accounts, PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=5_000 * WAD)
    (action,) = plan.actions
    assert isinstance(action, st.LiquidateMarginDebt)
    assert action.amount == 800 * WAD and action.bonus_bps == 500  # half of 10 %
    assert action.profit == 800 * WAD * 500 // 10_000 - CHEAP_GAS.cost(st.GAS_MARGIN_DEBT)
    # all of it: the call repays whatever accrued until it is mined
    assert action.in_full and action.call_amount == MAX_UINT256


def test_plan_margin__debt_tokens_short_of_debt_plus_a_bp__repays_a_part_that_leaves_the_bp():
    debt = 800 * WAD
    slack = debt // 10_000  # what a part leaves: the fees accrued until mining cannot take it to zero
    for balance, repaid in ((debt, debt - slack), (debt + slack - 1, debt - slack), (500 * WAD, 500 * WAD)):
        accounts = [st.MarginAccount(7, health(healthy=False, debt=debt), 8_200)]
        plan = st.plan_margin(accounts, PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=balance)
        (action,) = plan.actions
        assert action.amount == repaid and not action.in_full and action.call_amount == repaid


def test_plan_margin__part_of_the_debt__leaves_the_types_dust_or_repays_nothing():
    debt = 800 * WAD
    dust = 100 * WAD
    account = replace(st.MarginAccount(7, health(healthy=False, debt=debt), 8_200), dust=dust)
    for balance, repaid in ((debt, debt - dust), (750 * WAD, 700 * WAD), (300 * WAD, 300 * WAD)):
        plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=balance)
        (action,) = plan.actions
        assert action.amount == repaid and not action.in_full
    # a debt at the dust: only all of it can go, which the balance does not cover
    small = replace(account, health=health(healthy=False, debt=dust))
    plan = st.plan_margin([small], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=dust)
    assert plan.actions == []
    plan = st.plan_margin([small], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=2 * dust)
    (action,) = plan.actions
    assert action.in_full and action.call_amount == MAX_UINT256


def test_plan_margin__two_accounts_in_full__second_sees_the_first_ones_slack_spent():
    debt = 800 * WAD
    accounts = [st.MarginAccount(v, health(healthy=False, debt=debt), 8_200) for v in (7, 8)]
    balance = 2 * debt + debt // 10_000  # in full for the first only: its slack is spent
    plan = st.plan_margin(accounts, PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=balance)
    first, second = plan.actions
    assert first.in_full and not second.in_full and second.amount == debt - debt // 10_000


def test_plan_margin__no_debt_tokens__nothing_to_repay_with():
    accounts = [st.MarginAccount(7, health(healthy=False), 8_200)]
    plan = st.plan_margin(accounts, PARAMS, now=10_000, econ=CHEAP_GAS, settings=replace(SETTINGS, debt_reserve=10 * WAD),
                          balance=10 * WAD)
    assert plan.actions == []


def test_plan_margin__ramp_expired__restarted():
    accounts = [st.MarginAccount(7, health(healthy=False), 1_000)]
    plan = st.plan_margin(accounts, PARAMS, now=1_000 + 2 * 3_600 + 1, econ=CHEAP_GAS, settings=SETTINGS, balance=0)
    assert plan.actions == [st.StartMarginLiquidation(7)]


def test_economics_cost__rounds_up():
    econ = st.Economics(fee_per_gas=3, eth_price=WAD // 3)
    assert econ.cost(1) == 1  # 3 wei x 1/3 = 1 exactly
    assert st.Economics(fee_per_gas=1, eth_price=1).cost(1) == 1  # 1e-18 wei of kUSD rounds up to 1


def position(*, is_short: bool, is_call: bool = False, amount: int = 10 * WAD, ramp: int = 130 * WAD,
             mark: int = 100 * WAD, expiry: int = 50_000) -> st.PositionView:
    return st.PositionView(series_id=3, is_call=is_call, is_short=is_short, amount=amount, strike=1_800 * WAD,
                           expiry=expiry, ramp=ramp, mark=mark)


def writer(*positions: st.PositionView, debt: int = 0, collateral_value: int = 10**7 * WAD) -> st.MarginAccount:
    return st.MarginAccount(7, health(healthy=False, debt=debt), started_at=8_200, collateral_type=1,
                            positions=positions, collateral_value=collateral_value)


def test_plan_margin__short_put_ramp_above_mark__written_and_taken_over_as_far_as_the_balance_goes():
    account = writer(position(is_short=True))  # collateral worth 130 an option for a short worth 100
    plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=9_000 * WAD)
    (action,) = plan.actions
    assert isinstance(action, st.TakeOverPosition) and action.is_short and not action.is_call
    assert action.amount == 5 * WAD  # 9,000 kUSD writes 5 puts struck at 1,800
    assert action.locked == 9_000 * WAD
    assert action.profit == 30 * 5 * WAD - CHEAP_GAS.cost(st.GAS_HOUSE_WRITE + st.GAS_MARGIN_POSITION)


def test_plan_margin__short_ramp_within_edge_of_mark__falls_back_to_debt():
    account = writer(position(is_short=True, ramp=101 * WAD), debt=500 * WAD)  # 1 % over the mark, edge 2 %
    plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=9_000 * WAD)
    (action,) = plan.actions
    assert isinstance(action, st.LiquidateMarginDebt) and action.amount == 500 * WAD


def test_plan_margin__short_call_without_collateral__not_taken_over():
    account = writer(position(is_short=True, is_call=True))
    plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=10**6 * WAD)
    assert plan.actions == []
    plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=0,
                          collateral={1: 4 * WAD})
    (action,) = plan.actions
    assert action.is_call and action.amount == 4 * WAD and action.locked == 4 * WAD


def test_plan_margin__long_below_mark__bought_up_to_the_account_debt():
    account = writer(position(is_short=False, ramp=80 * WAD), debt=400 * WAD)
    plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=10**6 * WAD)
    (action,) = plan.actions
    assert not action.is_short and action.amount == 5 * WAD and action.locked == 400 * WAD  # debt caps it
    assert action.profit == 20 * 5 * WAD - CHEAP_GAS.cost(st.GAS_MARGIN_POSITION)


def test_plan_margin__expired_series_or_no_ramp_price__left_to_settlement():
    account = writer(position(is_short=True, expiry=9_000), position(is_short=True, ramp=0))
    plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=10**6 * WAD)
    assert plan.actions == []


def test_plan_margin__two_positions__the_more_profitable_first():
    small = position(is_short=True, ramp=110 * WAD)
    large = replace(position(is_short=False, ramp=50 * WAD), series_id=4)
    plan = st.plan_margin([writer(small, large, debt=10**6 * WAD)], PARAMS, now=10_000, econ=CHEAP_GAS,
                          settings=SETTINGS, balance=10**6 * WAD)
    (action,) = plan.actions
    assert action.series_id == 4


def test_plan_margin__short_worth_more_than_the_account_collateral__only_what_it_can_pay_for():
    account = writer(position(is_short=True), collateral_value=390 * WAD)  # pays 130 an option: 3 of them
    plan = st.plan_margin([account], PARAMS, now=10_000, econ=CHEAP_GAS, settings=SETTINGS, balance=10**6 * WAD)
    (action,) = plan.actions
    assert action.amount == 3 * WAD


def test_market_pricing__type_without_market__falls_back_to_the_oracle():
    from keel.keeper.pricing import MarketPricing

    pricing = MarketPricing(None, markets={}, scales={1: 1}, fallback=ORACLE)  # type: ignore[arg-type]
    assert pricing.proceeds(1, 2 * WAD) == ORACLE.proceeds(1, 2 * WAD) == 2_400 * WAD * 9_700 // 10_000
    assert MarketPricing(None, markets={}, scales={1: 1}).proceeds(1, WAD) is None  # type: ignore[arg-type]

"""The whole protocol on a :mod:`keel.backends` backend, for the stateful fuzz suite.

:class:`System` deploys every contract the same way on either backend (same bytecode,
same accounts by index, same block times), keeps the clock (every transaction is mined
one second after the previous one unless a rule moves time on), and reads the state the
invariants need straight from storage (:meth:`System.snapshot`: a few hundred words, about
a millisecond in process, where the same numbers through view calls cost some fifty).

Actors are accounts by index: 0 the deployer (every admin role), 1-3 the oracle reporters,
4-6 borrowers, 7 the keeper, 8 an option writer, 9 an option holder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from eth_utils import keccak

from ..backends import Backend, Handle, Result

WAD = 10**18
RAY = 10**27
MAX_UINT256 = 2**256 - 1
ZERO = "0x0000000000000000000000000000000000000000"
DAY = 86_400

FEE_5_PCT = 1000000001547125957863212448  # RAY per second, ~5 %/yr
LIQUIDATION_RATIO = 15 * WAD // 10
PENALTY = 113 * WAD // 100
DUST = 100 * WAD
CEILING = 50_000_000 * WAD

# PriceFeed parameters: quorum 2 of 3, reports count 900 s, the current price is fresh
# for 7,200 s and lags by a 600 s delay, jumps over 20 % are held for 600 s
FEED = dict(quorum=2, report_max_age=900, max_age=7_200, delay=600, confirm_delay=600, max_jump_bps=2_000,
            ewma_lambda_bps=9_400)
CURVE_LINEAR, CURVE_EXPONENTIAL = 1, 2


@dataclass(frozen=True)
class TypeSpec:
    symbol: str
    decimals: int
    price: int  # WAD, the first price
    curve: tuple[int, int, int, int, int, int, int]  # DutchAuction.Curve
    auction_limit: int  # WAD of vault debt in auction


TYPES = (
    TypeSpec("WETH", 18, 2_000 * WAD, (CURVE_LINEAR, 12 * WAD // 10, 3_600, 0, 0, 7_200, WAD // 2), 2_000_000 * WAD),
    TypeSpec("WBTC", 8, 30_000 * WAD, (CURVE_EXPONENTIAL, 12 * WAD // 10, 0, 60, 99 * 10**25, 7_200, WAD // 2),
             1_000_000 * WAD),
)
GLOBAL_AUCTION_LIMIT = 2_500_000 * WAD
# (borrower, type index, whole units, collateral ratio %): vaults every run starts with
STARTING_VAULTS = ((4, 0, 10, 155), (5, 0, 30, 170), (6, 0, 100, 220), (4, 1, 1, 160), (5, 1, 5, 190),
                   (6, 1, 20, 300), (4, 1, 60, 175))
KEEPER_REWARD = (5 * WAD, WAD // 1_000, 1_000 * WAD)
RESET_INCENTIVE = (10 * WAD, WAD // 1_000, 500 * WAD)

DEPLOYER, REPORTERS, BORROWERS, KEEPER, WRITER, HOLDER = 0, (1, 2, 3), (4, 5, 6), 7, 8, 9
ACTORS = (*BORROWERS, KEEPER, WRITER, HOLDER)  # everyone whose balances the invariants follow
SERIES_WRITERS = (*BORROWERS, WRITER)  # who write options against locked collateral


@dataclass
class Collateral:
    spec: TypeSpec
    type_id: int
    token: Handle
    feed: Handle
    scale: int
    auction_dust: int  # WAD: the smallest target a partial take may leave

    @property
    def symbol(self) -> str:
        return self.spec.symbol


MASK_40, MASK_64, MASK_80, MASK_96 = 2**40 - 1, 2**64 - 1, 2**80 - 1, 2**96 - 1
MASK_112, MASK_128, MASK_160, MASK_208 = 2**112 - 1, 2**128 - 1, 2**160 - 1, 2**208 - 1
SEIZED_FLAG = 1 << 112  # VaultEngine: a vault position slot kept nonzero by a liquidation
MARGIN_FLAG = 1 << 255  # VaultEngine: set in a vault's meta word when PortfolioMargin holds it


@dataclass
class TypeState:
    type_id: int
    scale: int  # 10 ** (18 - decimals)
    rate: int  # RAY
    penalty: int  # WAD
    auction_limit: int  # WAD
    dust: int  # WAD
    normalized_debt: int  # WAD
    collateral_dust: int  # WAD
    auction_collateral: int  # WAD in running lots
    auction_debt: int  # WAD of vault debt not yet covered by running lots
    settled: int  # WAD settled for redemption
    held: int  # token units the engine holds
    house_held: int  # token units the options house holds
    price: int  # WAD, the feed's current (delayed) price
    fresh_until: int  # unix s: the price is fresh up to and including this time (-1: no price)
    poked_at: int  # unix s: the feed's last poke (the next may come `delay` later)
    last_accrual: int  # unix s (VaultEngine.FROZEN after shutdown)
    fee: int  # RAY per second
    ratio: int  # WAD, the base liquidation ratio (no volatility margin is set here)

    def fresh_at(self, t: int) -> bool:
        return t <= self.fresh_until


@dataclass
class Vault:
    owner: int | str  # actor index (or the address of a non-actor: the margin module)
    collateral_type: int
    margin: bool
    collateral: int  # WAD
    seized: bool
    normalized_debt: int  # WAD


@dataclass
class Lot:
    collateral: int  # WAD
    target: int  # WAD
    collateral_type: int
    vault_id: int
    penalty_part: int  # WAD
    top: int  # WAD start price
    started_at: int  # unix s; 0: not running

    @property
    def debt(self) -> int:
        """The vault debt still uncovered: takes pay the debt first."""
        return max(0, self.target - self.penalty_part)


@dataclass
class Series:
    collateral_type: int
    is_call: bool
    expiry: int
    strike: int  # WAD
    mode: int  # 0 until settled
    settlement_price: int  # WAD
    books_low: int  # WAD: written by locked collateral (before), holders' funds (after settlement)
    books_high: int  # WAD: written in portfolio margin, outstanding / not yet settled
    obligations_left: int  # WAD
    supply: int  # WAD options in circulation


@dataclass
class State:
    """One read of everything the invariants compare (System.snapshot). Amounts WAD unless
    said; actors by index."""

    timestamp: int
    supply: int  # kUSD
    surplus: int  # RAD
    bad_debt: int  # RAD
    settled_debt: int  # RAD
    shutdown_at: int
    vault_count: int
    types: list[TypeState] = field(default_factory=list)
    vaults: dict[int, Vault] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)
    series: dict[int, Series] = field(default_factory=dict)
    written: dict[tuple[int, int], int] = field(default_factory=dict)  # (series, writer) -> written_by
    options: dict[tuple[int, int], int] = field(default_factory=dict)  # (series, actor) -> option balance
    options_held: dict[int, dict[str, int]] = field(default_factory=dict)  # series -> contract -> balance
    balances: dict[tuple[str, int], int] = field(default_factory=dict)  # (symbol, actor) -> token units
    kusd_held: dict[str, int] = field(default_factory=dict)  # contract -> kUSD
    house_dust: dict[str, int] = field(default_factory=dict)  # symbol -> WAD
    supply_at_shutdown: int = 0
    total_redeemed: int = 0
    redeemed: dict[int, int] = field(default_factory=dict)
    frozen: dict[int, int] = field(default_factory=dict)  # type -> WAD price
    pool: dict[int, int] = field(default_factory=dict)
    finalized: set[int] = field(default_factory=set)
    claimed: dict[tuple[int, int], int] = field(default_factory=dict)  # (actor, type) -> WAD

    def type(self, type_id: int) -> TypeState:
        return self.types[type_id - 1]


class System:
    """Deploy and drive the protocol; see the module docstring."""

    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self.now = backend.now
        self.accounts = backend.accounts
        self.deployer = self.accounts[DEPLOYER]
        self.faucet: dict[tuple[str, int], int] = {}  # (symbol, actor) -> minted by the test
        self.actor_of = {a.lower(): i for i, a in enumerate(self.accounts)}
        self.option_tokens: dict[int, str] = {}  # series id -> its token's address
        self._slots: dict[tuple, int] = {}
        self._deploy()

    # -- the clock and transactions
    def tick(self, seconds: int = 1) -> None:
        self.now += max(1, seconds)
        self.b.set_time(self.now)

    def tx(self, actor: int, handle: Handle, fn: str, *args: Any) -> Result:
        """Send as account `actor`, one second after the last transaction."""
        self.tick(1)
        return self.b.send(self.accounts[actor], handle, fn, *args)

    def must(self, actor: int, handle: Handle, fn: str, *args: Any) -> Any:
        result = self.tx(actor, handle, fn, *args)
        if not result.ok:
            raise AssertionError(f"{handle.name}.{fn}{args} from account {actor} reverted: {result.reason!r}")
        return result.value

    def view(self, handle: Handle, fn: str, *args: Any) -> Any:
        return self.b.call(handle, fn, *args)

    # -- deployment
    def _deploy(self) -> None:
        me = 0
        d = self.deployer
        self.debt_token = self._deploy_one("DebtToken", "Keel USD", "kUSD", d, ZERO)
        self.engine = self._deploy_one("VaultEngine", self.debt_token.address, d)
        self.lens = self._deploy_one("VaultLens", self.engine.address)
        self.must(me, self.debt_token, "set_roles", self.engine.address, 1)
        self.must(me, self.engine, "set_roles", d, 15)
        self.auction = self._deploy_one("DutchAuction", self.engine.address, d)
        self.liquidator = self._deploy_one("Liquidator", self.engine.address, self.auction.address, d)
        self.settlement = self._deploy_one("GlobalSettlement", self.engine.address, self.auction.address, d)
        for contract, who, roles in (
            (self.engine, self.liquidator, 16), (self.engine, self.auction, 32), (self.engine, self.settlement, 64),
            (self.auction, self.liquidator, 1), (self.auction, d, 2), (self.auction, self.settlement, 4),
            (self.liquidator, d, 1), (self.settlement, d, 1),
        ):
            self.must(me, contract, "set_roles", str(who), roles)
        self.must(me, self.auction, "set_incentives", *RESET_INCENTIVE)
        self.must(me, self.liquidator, "set_global_limit", GLOBAL_AUCTION_LIMIT)
        self.types: list[Collateral] = []
        for spec in TYPES:
            token = self._deploy_one("MockToken", f"Mock {spec.symbol}", spec.symbol, spec.decimals)
            feed = self._deploy_one("PriceFeed", d, FEED["quorum"], FEED["report_max_age"], FEED["max_age"],
                                    FEED["delay"], FEED["confirm_delay"], FEED["max_jump_bps"],
                                    FEED["ewma_lambda_bps"])
            self.must(me, feed, "set_roles", d, 2)
            for r in REPORTERS:
                self.must(me, feed, "add_reporter", self.accounts[r])
            type_id = self.must(me, self.engine, "add_collateral_type", token.address, feed.address,
                                LIQUIDATION_RATIO, CEILING, DUST, FEE_5_PCT, PENALTY)
            self.must(me, self.auction, "set_curve", type_id, spec.curve)
            self.must(me, self.auction, "update_auction_dust", type_id)
            self.must(me, self.liquidator, "set_type_limit", type_id, spec.auction_limit)
            self.must(me, self.liquidator, "set_reward", type_id, *KEEPER_REWARD)
            self.types.append(Collateral(spec, type_id, token, feed, 10 ** (18 - spec.decimals),
                                         self.view(self.auction, "auction_dust", type_id)))
        # options
        template = self._deploy_one("OptionToken")
        self.house = self._deploy_one("OptionsHouse", self.engine.address, self.debt_token.address,
                                      template.address, d)
        self.pricer = self._deploy_one("OptionPricer")
        self.margin = self._deploy_one("PortfolioMargin", self.engine.address, self.house.address,
                                       self.debt_token.address, self.pricer.address, d)
        self.must(me, self.engine, "set_margin_module", self.margin.address)
        self.must(me, self.house, "set_roles", self.margin.address, 1)
        self.flash = self._deploy_one("FlashTaker", self.auction.address, self.engine.address)
        # contracts that may own a vault or hold tokens, by role (the same on every backend)
        for name, handle in (("margin", self.margin), ("house", self.house), ("settlement", self.settlement),
                             ("flash", self.flash), ("auction", self.auction), ("liquidator", self.liquidator)):
            self.actor_of[handle.address.lower()] = name
        # prices: every type's first price current
        for c in self.types:
            self.report(c, c.spec.price)
        self.tick(FEED["delay"] + 1)
        for c in self.types:
            self.report(c, c.spec.price)
        # every actor approves every contract that pulls its tokens, once
        pullers = [self.engine, self.house, self.margin, self.settlement]
        for actor in (*BORROWERS, KEEPER, WRITER, HOLDER):
            for c in self.types:
                for spender in pullers:
                    self.must(actor, c.token, "approve", spender.address, MAX_UINT256)
            for spender in pullers:
                self.must(actor, self.debt_token, "approve", spender.address, MAX_UINT256)
        # the keeper and the writer hold kUSD: each borrows against a deep WETH vault
        weth = self.types[0]
        for actor in (KEEPER, WRITER):
            self.fund(actor, weth, 10_000)
            self.must(actor, self.engine, "open_vault", weth.type_id, 10_000 * 10**weth.spec.decimals,
                      2_000_000 * WAD)
        # borrowers' vaults from 155 % to 400 %: a crash has something to liquidate at once
        for actor, type_index, whole, ratio_pct in STARTING_VAULTS:
            c = self.types[type_index]
            self.fund(actor, c, whole)
            debt = whole * c.spec.price * 100 // ratio_pct
            self.must(actor, self.engine, "open_vault", c.type_id, whole * 10**c.spec.decimals, debt)

    def _deploy_one(self, name: str, *args: Any) -> Handle:
        self.tick(1)
        return self.b.deploy(name, *args, sender=self.deployer)

    # -- helpers the rules share
    def fund(self, actor: int, c: Collateral, whole_units: int) -> int:
        """Mint `whole_units` of a collateral to an actor (the MockToken faucet)."""
        amount = whole_units * 10**c.spec.decimals
        self.must(actor, c.token, "mint", self.accounts[actor], amount)
        key = (c.symbol, actor)
        self.faucet[key] = self.faucet.get(key, 0) + amount
        return amount

    def report(self, c: Collateral, price: int, liar_price: int | None = None) -> list[str]:
        """Every reporter reports `price` observed now (with `liar_price`, reporter 3 lies),
        then poke; returns the outcomes that did not go through (their reasons)."""
        failures = []
        observed = self.now + 1
        for i, r in enumerate(REPORTERS):
            p = liar_price if (liar_price is not None and i == len(REPORTERS) - 1) else price
            result = self.tx(r, c.feed, "report", p, observed)
            if not result.ok:
                failures.append(result.reason or "")
        result = self.tx(REPORTERS[0], c.feed, "poke")
        if not result.ok:
            failures.append(result.reason or "")
        return failures

    def price(self, c: Collateral) -> tuple[int, bool]:
        return self.view(c.feed, "peek")

    # -- one read of the state, from storage
    def slot(self, base: int, *keys: int | str) -> int:
        """The storage slot of ``map[k1][k2]...`` for a HashMap at ``base``: Vyper's
        keccak256(slot ++ key) at each level (addresses as 32-byte words). Cached."""
        cache_key = (base, keys)
        found = self._slots.get(cache_key)
        if found is None:
            found = base
            for key in keys:
                word = int(key, 16) if isinstance(key, str) else key
                found = int.from_bytes(keccak(found.to_bytes(32, "big") + word.to_bytes(32, "big")), "big")
            self._slots[cache_key] = found
        return found

    def snapshot(self, lot_ids: Sequence[int], series_ids: Sequence[int]) -> State:
        """Everything the invariants compare, decoded from the contracts' storage (see
        STORAGE; tests/fuzz/test_storage_layout.py pins it to the compiler's layout):
        every vault ever opened, the lots and series named, every actor's balances."""
        b, e, s = self.b, self.engine.address, self.slot
        E, A, H, G, T, K = ENGINE, AUCTION, HOUSE, SETTLEMENT, MOCK_TOKEN, DEBT_TOKEN
        head = b.storage(e, [E["surplus"], E["bad_debt"], E["settled_debt"], E["shutdown_at"], E["vault_count"]])
        kusd = self.debt_token.address
        holders = [self.accounts[a] for a in ACTORS] + [self.house.address, self.margin.address,
                                                        self.settlement.address, self.flash.address]
        kusd_words = b.storage(kusd, [K["totalSupply"]] + [s(K["balanceOf"], h) for h in holders])
        state = State(
            timestamp=self.now, surplus=head[0], bad_debt=head[1], settled_debt=head[2], shutdown_at=head[3],
            vault_count=head[4], supply=kusd_words[0],
        )
        for a, balance in zip(ACTORS, kusd_words[1:]):
            state.balances[("kUSD", a)] = balance
        state.kusd_held = dict(zip(("house", "margin", "settlement", "flash"), kusd_words[1 + len(ACTORS):]))
        for c in self.types:
            t = c.type_id
            words = b.storage(e, [s(E["type_token"], t), s(E["type_accrual"], t), s(E["type_liquidation"], t),
                                  s(E["type_limits"], t), s(E["type_normalized_debt"], t),
                                  s(E["type_collateral_dust"], t), s(E["type_auction"], t),
                                  s(E["type_collateral_settled"], t), s(E["type_risk"], t)])
            token_words = b.storage(c.token.address, [s(T["balanceOf"], h) for h in (e, self.house.address)]
                                    + [s(T["balanceOf"], self.accounts[a]) for a in ACTORS])
            current, following = b.storage(c.feed.address, [PRICE_FEED["current"], PRICE_FEED["next"]])
            price = current & MASK_128
            state.types.append(TypeState(
                type_id=t, scale=words[0] >> 160, rate=words[1] & MASK_208, penalty=words[2] & MASK_64,
                auction_limit=words[2] >> 64, dust=(words[3] >> 96) & MASK_80, normalized_debt=words[4],
                collateral_dust=words[5], auction_collateral=words[6] & MASK_128, auction_debt=words[6] >> 128,
                settled=words[7], held=token_words[0], house_held=token_words[1],
                price=price, fresh_until=((current >> 128) & MASK_64) + (current >> 192) if price else -1,
                poked_at=following >> 192, last_accrual=words[1] >> 208, fee=RAY + (words[3] >> 176), ratio=(words[8] >> 160) & MASK_64,
            ))
            for a, balance in zip(ACTORS, token_words[2:]):
                state.balances[(c.symbol, a)] = balance
        house_dust = b.storage(self.house.address, [s(H["dust"], c.token.address) for c in self.types]
                               + [s(H["dust"], kusd)])
        state.house_dust = dict(zip([c.symbol for c in self.types] + ["kUSD"], house_dust))
        ids = range(1, state.vault_count + 1)
        words = b.storage(e, [s(E[m], v) for v in ids for m in ("vault_meta", "vault_position")])
        for v, meta, position in zip(ids, words[0::2], words[1::2]):
            owner = "0x%040x" % (meta & MASK_160)
            state.vaults[v] = Vault(owner=self.actor_of.get(owner, owner), collateral_type=(meta >> 160) & 255,
                                    margin=bool(meta & MARGIN_FLAG), collateral=position & MASK_112,
                                    seized=bool(position & SEIZED_FLAG), normalized_debt=position >> 128)
        if lot_ids:
            a = self.auction.address
            words = b.storage(a, [s(A[m], lot) for lot in lot_ids for m in ("lots", "lot_books")])
            for lot, packed, books in zip(lot_ids, words[0::2], words[1::2]):
                state.lots[lot] = Lot(collateral=packed & MASK_112, target=(packed >> 112) & MASK_96,
                                      collateral_type=(packed >> 208) & 255, vault_id=packed >> 216,
                                      penalty_part=books & MASK_96, top=(books >> 96) & MASK_96,
                                      started_at=(books >> 192) & MASK_40)
        if series_ids:
            h = self.house.address
            writers = [self.accounts[a] for a in SERIES_WRITERS]
            per = 3 + len(writers)
            words = b.storage(h, [w for sid in series_ids for w in (
                s(H["series"], sid), s(H["books"], sid), s(H["obligations_left"], sid),
                *(s(H["written_by"], sid, w) for w in writers))])
            for i, sid in enumerate(series_ids):
                packed, books, left, *written = words[i * per:(i + 1) * per]
                token = self.option_tokens[sid]
                option_words = b.storage(token, [OPTION_TOKEN["totalSupply"]]
                                         + [s(OPTION_TOKEN["balanceOf"], who) for who in holders])
                state.series[sid] = Series(
                    collateral_type=packed & 255, is_call=bool((packed >> 8) & 1), expiry=(packed >> 9) & MASK_40,
                    strike=(packed >> 49) & MASK_96, mode=(packed >> 145) & 3, settlement_price=packed >> 147,
                    books_low=books & MASK_128, books_high=books >> 128, obligations_left=left,
                    supply=option_words[0],
                )
                for a, amount in zip(SERIES_WRITERS, written):
                    state.written[(sid, a)] = amount
                for a, amount in zip(ACTORS, option_words[1:]):
                    state.options[(sid, a)] = amount
                state.options_held[sid] = dict(zip(("house", "margin", "settlement", "flash"),
                                                   option_words[1 + len(ACTORS):]))
        g = self.settlement.address
        words = b.storage(g, [G["supply_at_shutdown"], G["total_redeemed"]]
                          + [s(G["redeemed"], self.accounts[a]) for a in ACTORS]
                          + [w for c in self.types for w in (s(G["frozen_price"], c.type_id), s(G["pool"], c.type_id),
                                                             s(G["finalized"], c.type_id))]
                          + [s(G["claimed"], self.accounts[a], c.type_id) for a in ACTORS for c in self.types])
        state.supply_at_shutdown, state.total_redeemed = words[0], words[1]
        state.redeemed = dict(zip(ACTORS, words[2:2 + len(ACTORS)]))
        rest = words[2 + len(ACTORS):]
        for i, c in enumerate(self.types):
            state.frozen[c.type_id], state.pool[c.type_id], finalized = rest[3 * i:3 * i + 3]
            if finalized:
                state.finalized.add(c.type_id)
        rest = rest[3 * len(self.types):]
        for i, a in enumerate(ACTORS):
            for j, c in enumerate(self.types):
                state.claimed[(a, c.type_id)] = rest[i * len(self.types) + j]
        return state


# Storage slots (Vyper 0.4 layout: variables in declaration order, modules first; every
# one of these is a single word or a HashMap). tests/fuzz/test_storage_layout.py checks
# each against `vyper -f layout`.
ENGINE = dict(type_token=5, type_liquidation=6, type_risk=7, type_limits=8, type_accrual=9, type_normalized_debt=10,
              type_collateral_dust=11, vault_count=12, vault_meta=13, vault_position=14, surplus=16, bad_debt=17,
              type_auction=18, shutdown_at=19, settled_debt=20, type_collateral_settled=21)
AUCTION = dict(lots=5, lot_books=6)
HOUSE = dict(series=4, books=5, written_by=6, dust=7, obligations_left=8)
SETTLEMENT = dict(supply_at_shutdown=4, frozen_price=5, pool=7, finalized=8, total_redeemed=9, redeemed=10,
                  claimed=11)
DEBT_TOKEN = dict(totalSupply=8, balanceOf=9)
MOCK_TOKEN = dict(totalSupply=6, balanceOf=7)
OPTION_TOKEN = dict(totalSupply=1, balanceOf=2)
PRICE_FEED = dict(current=41, next=42)
MARGIN = dict(accounts=3)
STORAGE = {"VaultEngine": ENGINE, "DutchAuction": AUCTION, "OptionsHouse": HOUSE, "GlobalSettlement": SETTLEMENT,
           "DebtToken": DEBT_TOKEN, "testing/MockToken": MOCK_TOKEN, "OptionToken": OPTION_TOKEN,
           "PriceFeed": PRICE_FEED, "PortfolioMargin": MARGIN}


__all__ = ["System", "State", "Collateral", "TYPES", "WAD", "RAY", "DAY", "BORROWERS", "KEEPER", "WRITER", "HOLDER",
           "REPORTERS", "DEPLOYER", "ACTORS", "FEED", "MAX_UINT256", "STORAGE"]

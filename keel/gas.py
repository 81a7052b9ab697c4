"""The gas table (``keel gas`` / ``make gas``): user operations and bytecode sizes.

Method, on a fresh embedded Anvil:

* deploy the default system on a chain whose genesis is at a fixed time and whose blocks
  are 1 s apart unless pinned, so every timestamp (and the gas) is reproducible; all
  measurements use the WETH type (18 decimals);
* a first user opens a vault that stays open (the type carries debt, as in production)
  and then performs every measured operation once, so storage that production would
  already have written (vault counter, type totals, surplus, token supply, ...) is warm;
* a *second* user then performs the same operations: their receipts' ``gasUsed`` are
  the figures;
* before every operation the clock moves 1 hour (block timestamps are pinned, so the
  numbers are reproducible) and the three reporters report the price and the feed is
  poked (not counted), so the PriceFeed's current price stays fresh and every debt
  operation compounds the stability fee inside it;
* the oracle rows come from one more such round, with the price 1 % higher (a typical
  hourly move, so the EWMA's logarithm does real work): the first reporter's report
  (its peers' reports have expired: no quorum yet), the second's (quorum: the median is
  accepted and the volatility updated) and the poke (the delay has passed).

Each user-operation figure is compared with MakerDAO's for the same action (measured on
Anvil 1.7.1, receipts' ``gasUsed``) against the target of at most 0.6x Maker; the oracle
rows have no Maker reference.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

from web3 import Web3
from web3.types import TxReceipt

from . import log as _log
from .artifacts import deployable_names, ensure_compiled, load_artifact, project_root
from .chain import Anvil, latest_timestamp, mine, set_next_block_timestamp
from .client import KeelClient, OptionsClient, next_expiry
from .deploy import DeployConfig, deploy_system
from .oracle import local_reporter_senders
from .text import markdown_table
from .tx import Sender
from .units import WAD, fmt_int, to_wad

#: MakerDAO's figures for the same actions (Anvil 1.7.1, receipts' gasUsed)
MAKER_REFERENCE: dict[str, int] = {
    "open + deposit + borrow (one tx)": 296_790,
    "borrow more": 142_488,
    "repay (partial)": 141_014,
    "withdraw": 142_195,
    "close (with debt)": 213_277,
    "accrue": 81_242,
}
MAKER_NAMES: dict[str, str] = {"accrue": "Jug.drip"}
#: liquidation rows: operation -> (reference gas, reference name, target ratio, absolute target gas)
LIQUIDATION_ROWS: dict[str, tuple[int | None, str, Decimal | None, int | None]] = {
    "liquidate": (381_129, "Maker Dog.bark", Decimal("0.6"), None),
    "batch liquidate, 10 vaults (per vault)": (77_600, "Liquity, per trove", None, 80_000),
    "partial take": (120_352, "Maker Clipper.take", Decimal("0.7"), None),
    "finishing take (leftover returned)": (148_136, "Maker Clipper.take", Decimal("0.7"), None),
    "flash take (FlashTaker callback)": (None, "", None, None),
    "keeper flash take (KeeperTaker: take, sell on a market, profit out)": (None, "", None, None),
    "reset": (111_963, "Maker Clipper.redo", Decimal("0.7"), None),
}
#: option rows: operation -> (Opyn Gamma's figure, its name, target ratio, absolute target gas)
OPTION_ROWS: dict[str, tuple[int | None, str, Decimal | None, int | None]] = {
    "create series (minimal-proxy ERC-20)": (560_108, "Opyn createOtoken", Decimal("0.3"), None),
    "write covered call": (437_298, "Opyn open+deposit+mint", Decimal("0.6"), None),
    "write cash-secured put": (420_737, "Opyn open+deposit+mint", Decimal("0.6"), None),
    "write naked put (margin account)": (530_188, "Opyn naked put", Decimal("0.6"), None),
    "close early (burn + release)": (155_724, "Opyn burn+withdraw", Decimal("0.6"), None),
    "settle series (price fixed)": (None, "", None, None),
    "release (writer after expiry)": (181_647, "Opyn settle vault", Decimal("0.6"), None),
    "redeem (holder after expiry)": (178_410, "Opyn redeem", Decimal("0.6"), None),
    "margin check, 1 position": (None, "", None, None),
    "margin check, 4 positions": (None, "", None, None),
    "margin check, 16 positions": (None, "", None, 1_000_000),
    "liquidate a naked writer": (233_007, "Opyn liquidate", Decimal("0.6"), None),
}
OPTION_DAYS = 14  # the measured series expire 14 days after the options section starts
LIQUIDATION_DROP = Decimal("0.9")  # the measured crash: WETH falls 10 % (within the breaker)
VICTIM_RATIO = Decimal("1.55")  # victims borrow at 155 % (150 % required): unsafe after the drop
VICTIM_DEPOSIT = "2"  # WETH per victim vault
BATCH_SIZE = 10
TAKE_WAIT = 600  # seconds after the lots start: price = top * (1 - 600/3600) ~ 0.92 x oracle
RESET_WAIT = 2_200  # seconds more: below cusp (0.4) * top on the 3,600 s linear curve
#: emergency shutdown operations measured at the end (no reference; Maker's End differs)
SETTLEMENT_OPERATIONS = (
    "shutdown (both collateral types)",
    "cancel auction (settle its lot)",
    "settle one vault",
    "settle_vaults, 5 vaults (per vault)",
    "finalize a type",
    "redeem (hand in kUSD)",
    "claim a type's share",
)
#: oracle operations measured (no Maker reference)
ORACLE_OPERATIONS = (
    "reporter push (no quorum yet)",
    "reporter push + median update (accepted)",
    "delay poke",
)
ORACLE_MOVE = Decimal("1.01")  # the measured round's price, relative to the previous one
TARGET_RATIO = Decimal("0.6")
CODE_SIZE_LIMIT = 24_576  # EIP-170, bytes
STEP_SECONDS = 3_600  # time advanced before each operation
GENESIS_TIMESTAMP = 1_700_000_000  # the measuring chain's first block (unix seconds)
TX_SPACING = 12  # seconds between the price refresh and the operation

COLLATERAL = "WETH"
FIRST_DEPOSIT = "10"  # WETH
FIRST_BORROW = "5000"  # kUSD
BORROW_MORE = "1000"
REPAY = "500"
WITHDRAW = "1"  # WETH


@dataclass
class GasRow:
    operation: str
    gas: int
    maker: int | None  # None: no reference (no target)
    target: Decimal | None = TARGET_RATIO  # at most this x the reference
    target_gas: int | None = None  # or: at most this much gas (absolute target)
    reference: str = ""  # whose figure `maker` is, when not plain MakerDAO

    @property
    def ratio(self) -> Decimal | None:
        return None if self.maker is None else Decimal(self.gas) / Decimal(self.maker)

    @property
    def has_target(self) -> bool:
        return self.target_gas is not None or (self.maker is not None and self.target is not None)

    @property
    def passed(self) -> bool:
        if self.target_gas is not None:
            return self.gas <= self.target_gas
        ratio = self.ratio
        return ratio is None or self.target is None or ratio <= self.target


@dataclass
class SizeRow:
    contract: str
    size: int  # bytes
    source: str  # "deployed" (on-chain, immutables included) or "artifact"
    test_only: bool = False

    @property
    def headroom(self) -> int:
        return CODE_SIZE_LIMIT - self.size


@dataclass
class GasReport:
    rows: list[GasRow] = field(default_factory=list)
    sizes: list[SizeRow] = field(default_factory=list)
    node: str = ""
    compiler: str = ""
    warmup: dict[str, int] = field(default_factory=dict)  # the first user's figures (not reported)

    def markdown(self) -> str:
        return render_markdown(self)


class _Clock:
    """Pins block timestamps so the fee (and so the gas) does not depend on wall time."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.now = latest_timestamp(w3)

    def next_block(self, seconds: int) -> None:
        self.now += seconds
        set_next_block_timestamp(self.w3, self.now)

    def sync(self) -> None:
        """Catch up with blocks mined without a pinned time (each 1 s after the last)."""
        self.now = max(self.now, latest_timestamp(self.w3))


def measure(
    port: int | None = None, log: Callable[[str], None] = _log.progress, root: Path | None = None
) -> GasReport:
    """Run the measurement on a fresh Anvil; see the module docstring."""
    root = root or project_root()
    ensure_compiled(root, log=log)
    log("starting anvil ...")
    with Anvil(port, extra_args=("--timestamp", str(GENESIS_TIMESTAMP))) as node, \
            tempfile.TemporaryDirectory(prefix="keel-gas-") as scratch:
        w3 = node.w3
        # every block 1 s after the previous one unless pinned: the deploy's timestamps (and
        # so the rate the fee compounds from, and every rounding branch) do not depend on
        # how fast this machine sends transactions
        w3.provider.make_request("anvil_setBlockTimestampInterval", [1])
        deployer = Sender.unlocked(w3, 0)
        manifest = deploy_system(w3, deployer, DeployConfig(), Path(scratch) / "manifest.json",
                                 force=True, root=root, log=log)
        admin = KeelClient(w3, manifest, deployer)
        first = admin.as_sender(deployer.with_address(w3.eth.accounts[1]))
        second = admin.as_sender(deployer.with_address(w3.eth.accounts[2]))
        feed = admin.oracle(COLLATERAL)
        reporters = local_reporter_senders(w3, manifest, [COLLATERAL])
        oracle_price = int(feed.functions.latest().call()[0])
        scale = 10 ** manifest.collateral_entry(COLLATERAL).decimals
        for user in (first, second):
            user.mint_collateral(COLLATERAL, 1_000 * scale)
            user.approve_collateral(COLLATERAL)
        # the type carries debt throughout, and `first` holds kUSD to top others up
        first.open_vault(COLLATERAL, 100 * scale, to_wad("50000"))

        clock = _Clock(w3)

        def new_hour() -> None:
            """Pin the next block an hour on and mine it empty: reports are observed at
            its time (a gas estimate runs at the latest block's time, not the pinned one)."""
            clock.next_block(STEP_SECONDS)
            mine(w3)

        def refresh(price: int) -> list[int]:
            """Every reporter reports ``price`` (1 s apart), then poke; gasUsed of each."""
            observed_at = clock.now
            used = []
            for reporter in reporters:
                clock.next_block(1)
                used.append(int(reporter.transact(feed.functions.report(price, observed_at))["gasUsed"]))
            clock.next_block(1)
            used.append(int(reporters[0].transact(feed.functions.poke())["gasUsed"]))
            return used

        def run(user: KeelClient, label: str) -> dict[str, int]:
            """One pass of every operation; returns gasUsed per operation."""
            nonlocal oracle_price
            gas: dict[str, int] = {}
            vault_id = 0

            def step(
                operation: str, send: Callable[[], TxReceipt], before: Callable[[], object] | None = None
            ) -> None:
                new_hour()
                refresh(oracle_price)  # keep the feed fresh (not counted)
                if before is not None:
                    clock.next_block(1)
                    before()
                clock.next_block(TX_SPACING)
                gas[operation] = int(send()["gasUsed"])

            def open_() -> TxReceipt:
                nonlocal vault_id
                opened = user.open_vault(COLLATERAL, int(Decimal(FIRST_DEPOSIT) * scale), to_wad(FIRST_BORROW))
                vault_id = opened.vault_id
                return opened.receipt

            def top_up() -> None:
                owed = user.vault_info(vault_id).debt
                missing = owed - user.debt_balance() + WAD  # fees of the coming block, with margin
                if missing > 0 and user.address != first.address:
                    first.transfer_debt_token(user.address, missing)

            log(f"{label}: measuring ...")
            step("open + deposit + borrow (one tx)", open_)
            step("borrow more", lambda: user.borrow(vault_id, to_wad(BORROW_MORE)))
            step("repay (partial)", lambda: user.repay(vault_id, to_wad(REPAY)))
            step("withdraw", lambda: user.withdraw(vault_id, int(Decimal(WITHDRAW) * scale)))
            step("close (with debt)", lambda: user.close(vault_id), before=top_up)
            step("accrue", lambda: user.accrue(COLLATERAL))
            # the oracle round: the peers' reports expired an hour ago, the price moves 1 %
            new_hour()
            oracle_price = int(Decimal(oracle_price) * ORACLE_MOVE)
            no_quorum, accepted, _third, poke = refresh(oracle_price)
            gas.update(zip(ORACLE_OPERATIONS, (no_quorum, accepted, poke)))
            return gas

        warmup = run(first, "first user (warm-up)")
        measured = run(second, "second user")

        # -- liquidation: a warm-up cycle, then the measured one
        log("liquidation: measuring ...")
        keeper = admin.as_sender(deployer.with_address(w3.eth.accounts[3]))
        victim = admin.as_sender(deployer.with_address(w3.eth.accounts[4]))
        for who in (keeper, victim):
            who.mint_collateral(COLLATERAL, 1_000 * scale)
            who.approve_collateral(COLLATERAL)
        keeper.open_vault(COLLATERAL, 500 * scale, to_wad("200000"))  # kUSD to buy with; WETH held
        borrow = int(Decimal(VICTIM_DEPOSIT) * oracle_price / VICTIM_RATIO) // WAD * WAD
        victims = [victim.open_vault(COLLATERAL, int(Decimal(VICTIM_DEPOSIT) * scale), borrow).vault_id
                   for _ in range(8 + BATCH_SIZE)]
        warm_partial, warm_flash, warm_reset, lot_take, lot_flash, lot_reset, warm_keeper, lot_keeper = victims[:8]
        batch = victims[8:]
        flash_art = load_artifact("FlashTaker", root)
        flash_address = Web3.to_checksum_address(deployer.deploy(
            flash_art.abi, flash_art.bytecode, admin.auction.address, admin.engine.address,
            what="deploy FlashTaker")["contractAddress"])
        flash = w3.eth.contract(address=flash_address, abi=flash_art.abi)
        keeper.transfer_debt_token(flash_address, to_wad("50000"))
        # the keeper bot's contract (owned by the keeper, ROLE_KEEPER) and a market to sell into
        keeper_sender = deployer.with_address(keeper.address)
        taker_art, market_art = load_artifact("KeeperTaker", root), load_artifact("MockMarket", root)
        taker_address = Web3.to_checksum_address(keeper_sender.deploy(
            taker_art.abi, taker_art.bytecode, admin.auction.address, admin.debt_token.address, keeper.address,
            what="deploy KeeperTaker")["contractAddress"])
        taker = w3.eth.contract(address=taker_address, abi=taker_art.abi)
        keeper._tx(taker.functions.set_roles(keeper.address, 1))
        token = admin.collateral(COLLATERAL)
        # the crash: reported and poked, then an hour later poked again (the delay): current
        oracle_price = int(Decimal(oracle_price) * LIQUIDATION_DROP)
        for _ in range(2):
            new_hour()
            refresh(oracle_price)
        if not keeper.is_liquidatable(lot_take):
            raise RuntimeError("gas: the victim vaults are not liquidatable after the drop")
        market_address = Web3.to_checksum_address(deployer.deploy(
            market_art.abi, market_art.bytecode, token.token, admin.debt_token.address, token.decimals,
            oracle_price, what="deploy MockMarket")["contractAddress"])
        keeper.transfer_debt_token(market_address, to_wad("50000"))

        def after(seconds: int) -> None:
            clock.next_block(seconds)
            mine(w3)

        def lot_of(vault_receipt: TxReceipt) -> int:
            return keeper.liquidated(vault_receipt)[0].auction_id

        def take_half(auction_id: int) -> int:
            st = keeper.auction_status(auction_id)
            return int(keeper.take(auction_id, st.lot // 2, st.price)["gasUsed"])

        def take_rest(auction_id: int) -> int:
            st = keeper.auction_status(auction_id)
            return int(keeper.take(auction_id, st.lot, st.price)["gasUsed"])

        def flash_take(auction_id: int) -> int:
            st = keeper.auction_status(auction_id)
            return int(keeper._tx(flash.functions.flash_take(auction_id, st.lot, st.price))["gasUsed"])

        def keeper_take(auction_id: int) -> int:
            st = keeper.auction_status(auction_id)
            fn = taker.functions.flash_take(auction_id, st.lot, st.price, market_address, token.token,
                                            10 ** (18 - token.decimals), 1)
            return int(keeper._tx(fn)["gasUsed"])

        # warm-up: three lots; a partial and a finishing take, a flash take, a reset
        clock.next_block(TX_SPACING)
        warm_lots = [lot_of(keeper.liquidate(v)) for v in (warm_partial, warm_flash, warm_reset, warm_keeper)]
        after(TAKE_WAIT)
        take_half(warm_lots[0])
        take_rest(warm_lots[0])
        flash_take(warm_lots[1])
        keeper_take(warm_lots[3])
        # measured: fresh price, then the liquidations
        new_hour()
        refresh(oracle_price)
        clock.next_block(TX_SPACING)
        liq: dict[str, int] = {}
        receipt = keeper.liquidate(lot_take)
        liq["liquidate"] = int(receipt["gasUsed"])
        lots = [lot_of(receipt)] + [lot_of(keeper.liquidate(v)) for v in (lot_flash, lot_reset, lot_keeper)]
        receipt = keeper.liquidate_many(batch)
        if len(keeper.liquidated(receipt)) != BATCH_SIZE:
            raise RuntimeError("gas: the batch did not liquidate every vault")
        liq["batch liquidate, 10 vaults (per vault)"] = int(receipt["gasUsed"]) // BATCH_SIZE
        after(TAKE_WAIT)
        liq["partial take"] = take_half(lots[0])
        liq["finishing take (leftover returned)"] = take_rest(lots[0])
        liq["flash take (FlashTaker callback)"] = flash_take(lots[1])
        liq["keeper flash take (KeeperTaker: take, sell on a market, profit out)"] = keeper_take(lots[3])
        after(RESET_WAIT)
        keeper.reset(warm_lots[2])
        clock.next_block(TX_SPACING)
        liq["reset"] = int(keeper.reset(lots[2])["gasUsed"])
        warmup["liquidation"] = 1

        # -- options and portfolio margin, before the shutdown
        log("options: measuring ...")
        opts = _measure_options(w3, admin, first, second, keeper, scale, clock, new_hour, refresh)

        # -- emergency shutdown and settlement, after everything above
        log("shutdown: measuring ...")
        settle: dict[str, int] = {}
        extra = [victim.open_vault(COLLATERAL, int(Decimal(VICTIM_DEPOSIT) * scale), borrow // 2).vault_id
                 for _ in range(6)]
        clock.next_block(TX_SPACING)
        ops = iter(SETTLEMENT_OPERATIONS)
        settle[next(ops)] = int(admin.shutdown()["gasUsed"])
        running = [s.auction_id for s in admin.auction_statuses(range(1, admin.auction_count() + 1)) if s.active]
        settle[next(ops)] = int(keeper.cancel_auction(running[0])["gasUsed"])
        settle[next(ops)] = int(keeper._tx(admin.settlement.functions.settle_vault(extra[0]))["gasUsed"])
        receipt = keeper._tx(admin.settlement.functions.settle_vaults(extra[1:]))
        settle[next(ops)] = int(receipt["gasUsed"]) // len(extra[1:])
        for auction_id in running[1:]:
            keeper.cancel_auction(auction_id)
        keeper.settle_vaults(admin.open_vault_ids())
        settle[next(ops)] = int(keeper.finalize(COLLATERAL)["gasUsed"])
        keeper.approve_debt_token(admin.settlement.address)
        settle[next(ops)] = int(keeper.redeem(keeper.debt_balance() // 2)["gasUsed"])
        settle[next(ops)] = int(keeper.claim(COLLATERAL)["gasUsed"])

        report = GasReport(node=node.version(), warmup=warmup)
        report.rows = [GasRow(op, measured[op], MAKER_REFERENCE[op]) for op in MAKER_REFERENCE]
        report.rows += [GasRow(op, measured[op], None) for op in ORACLE_OPERATIONS]
        report.rows += [
            GasRow(op, liq[op], ref, target, target_gas, name)
            for op, (ref, name, target, target_gas) in LIQUIDATION_ROWS.items()
        ]
        report.rows += [
            GasRow(op, opts[op], ref, target, target_gas, name)
            for op, (ref, name, target, target_gas) in OPTION_ROWS.items()
        ]
        report.rows += [GasRow(op, settle[op], None) for op in SETTLEMENT_OPERATIONS]
        deployed = {
            "DebtToken": manifest.address("DebtToken"),
            "VaultEngine": manifest.address("VaultEngine"),
            "PriceFeed": manifest.collateral_entry(COLLATERAL).oracle,
            "MockToken": manifest.collateral_entry(COLLATERAL).token,
            "DutchAuction": manifest.address("DutchAuction"),
            "Liquidator": manifest.address("Liquidator"),
            "GlobalSettlement": manifest.address("GlobalSettlement"),
            "VaultLens": manifest.address("VaultLens"),
            "OptionsHouse": manifest.address("OptionsHouse"),
            "PortfolioMargin": manifest.address("PortfolioMargin"),
            "OptionPricer": manifest.address("OptionPricer"),
            "FlashTaker": flash_address,
            "KeeperTaker": taker_address,
            "MockMarket": market_address,
        }
        report.compiler = f"Vyper {load_artifact('VaultEngine', root).compiler_version}"
        for name in deployable_names(root):
            artifact = load_artifact(name, root)
            test_only = "testing" in Path(artifact.source_path).parts
            if name in deployed:
                size = len(bytes(w3.eth.get_code(Web3.to_checksum_address(deployed[name]))))
                report.sizes.append(SizeRow(name, size, "deployed", test_only))
            else:
                report.sizes.append(SizeRow(name, artifact.runtime_size, "artifact", test_only))
        report.sizes.sort(key=lambda r: (r.test_only, -r.size))
        return report


def _measure_options(
    w3: Web3, admin: KeelClient, first: KeelClient, second: KeelClient, keeper: KeelClient, scale: int,
    clock: "_Clock", new_hour: Callable[[], None], refresh: Callable[[int], list[int]],
) -> dict[str, int]:
    """The option rows. `first` does everything once (warm-up: the house's counters and
    balances, the template's code, the margin module's storage); `second`'s receipts are the
    figures, as a second writer's would be. Margin checks are `eth_estimateGas` of
    PortfolioMargin.health (a view: what every margined action pays for its check)."""
    gas: dict[str, int] = {}
    price = int(admin.price(COLLATERAL)[0])
    expiry = next_expiry(clock.now, OPTION_DAYS)
    hundred = 100 * WAD
    call_k = price * 11 // 10 // hundred * hundred
    put_k = price * 9 // 10 // hundred * hundred
    o1, o2, ok = OptionsClient(first), OptionsClient(second), OptionsClient(keeper)
    for user in (first, second, keeper):
        user.mint_collateral(COLLATERAL, 1_000 * scale)
        user.approve_collateral(COLLATERAL)
    # kUSD for the puts: both writers borrow against WETH vaults of their own
    for user in (first, second):
        user.open_vault(COLLATERAL, 200 * scale, to_wad("100000"))

    def step() -> None:
        clock.sync()
        clock.next_block(TX_SPACING)

    # series: the first one listed warms the house's counter up
    clock.sync()
    step()
    call = o1.create_series(COLLATERAL, call_k, expiry, True)
    put = o1.create_series(COLLATERAL, put_k, expiry, False)
    step()
    receipt = second._tx(admin.house.functions.create_series(admin.collateral(COLLATERAL).collateral_type,
                                                             call_k + hundred, expiry, True))
    gas["create series (minimal-proxy ERC-20)"] = int(receipt["gasUsed"])
    # fully collateralised writing: the first writer warms each series up
    o1.write(call, 5 * WAD)
    o1.write(put, 5 * WAD)
    o2._approve_for(call, 5 * WAD)
    o2._approve_for(put, 5 * put_k)
    step()
    gas["write covered call"] = int(o2.write(call, 5 * WAD)["gasUsed"])
    step()
    gas["write cash-secured put"] = int(o2.write(put, 5 * WAD)["gasUsed"])
    step()
    gas["close early (burn + release)"] = int(o2.close(call, 2 * WAD)["gasUsed"])
    # margin accounts: a naked put written from each (the first warms the module up)
    a1 = o1.open_account(COLLATERAL, 20 * scale)
    a2 = o2.open_account(COLLATERAL, 20 * scale)
    o1.margin_write(a1, put, 2 * WAD)
    step()
    gas["write naked put (margin account)"] = int(o2.margin_write(a2, put, 2 * WAD)["gasUsed"])
    # margin checks: accounts of 1, 4 and 16 positions (16 series: 8 strikes x call/put)
    strikes = [price * (80 + 5 * i) // 100 // hundred * hundred + hundred * (i % 2) for i in range(8)]
    book = []
    for strike in strikes:
        for is_call in (True, False):
            book.append(o1.create_series(COLLATERAL, strike, expiry, is_call))
    book = list(dict.fromkeys(book))[:16]
    checks = {}
    for size in (1, 4, 16):
        account = o1.open_account(COLLATERAL, 100 * scale)
        for series_id in book[:size]:
            o1.margin_write(account, series_id, WAD // 10)
        checks[size] = account
        gas[f"margin check, {size} position{'s' if size > 1 else ''}"] = int(
            admin.margin.functions.health(account).estimate_gas())
    # liquidation of a naked writer: 4 WETH behind naked puts near the initial margin,
    # then WETH falls 10 %
    victim = o2.open_account(COLLATERAL, 4 * scale)
    low = 1
    high = 200
    while high - low > 1:  # the most naked puts (in tenths) its initial margin allows
        mid = (low + high) // 2
        try:
            admin.margin.functions.write(victim, put, mid * WAD // 10, second.address).call({"from": second.address})
            low = mid
        except Exception:  # noqa: BLE001 - a refused what-if: too many
            high = mid
    o2.margin_write(victim, put, low * WAD // 10)
    price = price * 9 // 10
    clock.sync()
    for _ in range(2):
        new_hour()
        refresh(price)
    if o2.health(victim).healthy:
        raise RuntimeError("gas: the naked writer is still healthy after the drop")
    keeper._tx(admin.margin.functions.start_liquidation(victim))
    ok.write(put, WAD)  # the liquidator's options to burn, written in full
    clock.sync()
    clock.next_block(1_800)  # half the ramp
    mine(w3)  # reports are observed at this block's time (estimates run at the latest block's)
    refresh(price)
    step()
    receipt = keeper._tx(admin.margin.functions.liquidate(victim, put, WAD // 2, keeper.address))
    gas["liquidate a naked writer"] = int(receipt["gasUsed"])
    # expiry, WETH back up 33 % in two moves the breaker accepts: the call ends in the money;
    # settle, then the holder (the first writer holds what it wrote) and the second writer
    clock.sync()
    new_hour()
    refresh(price * 116 // 100)
    clock.next_block(expiry - clock.now + 60)
    mine(w3)
    refresh(price * 4 // 3)
    new_hour()  # the security-module delay: the expiry report becomes the current price
    refresh(price * 4 // 3)
    step()
    gas["settle series (price fixed)"] = int(o1.settle(call)["gasUsed"])
    o1.settle(put)
    for account in (a1, a2, victim, *checks.values()):
        for position in admin.margin.functions.positions(account).call():
            series_id = int(position[0])
            if not admin.house.functions.series(series_id).call()[6]:
                o1.settle(series_id)
            keeper._tx(admin.margin.functions.settle_position(account, series_id))
    o1.redeem(call, WAD)  # warm the series' books
    step()
    gas["redeem (holder after expiry)"] = int(o1.redeem(call, WAD)["gasUsed"])
    step()
    gas["release (writer after expiry)"] = int(o2.release(call)["gasUsed"])
    return gas


def render_markdown(report: GasReport) -> str:
    dash = "\u2014"
    def cells(r: GasRow) -> list[str]:
        if not r.has_target:
            return [dash, dash, dash, dash]
        reference = fmt_int(r.maker) + (f" ({r.reference})" if r.reference else "") if r.maker else dash
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else dash
        target = f"<= {fmt_int(r.target_gas)} gas" if r.target_gas is not None else f"<= {r.target}x"
        return [reference, ratio, target, "pass" if r.passed else "**miss**"]

    rows = [
        [r.operation + (f" ({MAKER_NAMES[r.operation]})" if r.operation in MAKER_NAMES else ""),
         fmt_int(r.gas)] + cells(r)
        for r in report.rows
    ]
    targeted = [r for r in report.rows if r.has_target]
    passed = sum(r.passed for r in targeted)
    sizes = [
        [f"{s.contract}" + (" (test only)" if s.test_only else ""), fmt_int(s.size), fmt_int(CODE_SIZE_LIMIT),
         fmt_int(s.headroom), s.source, "ok" if s.headroom >= 0 else "**over**"]
        for s in report.sizes
    ]
    lines = [
        "<!-- Generated by `make gas` (keel gas --out docs/gas.md). Do not hand-edit: rerun `make gas`. -->",
        "",
        "# Gas",
        "",
        "_Generated by `make gas`; do not hand-edit._",
        "",
        f"Receipts' `gasUsed` on a fresh Anvil ({report.node}, hardfork prague), contracts built with "
        f"{report.compiler}. All operations use the WETH collateral type (18 decimals).",
        "",
        "How it is measured:",
        "",
        "- A first user opens a vault that stays open, then performs every operation below once, so the "
        "storage production would already have written is warm. The figures are a **second** user's, "
        "on the same collateral type.",
        f"- **Time advances {STEP_SECONDS // 3600} hour before each operation** (the chain starts at a fixed "
        "time, mines blocks 1 s apart and the measured blocks' timestamps are pinned, so the figures are "
        "reproducible), so every operation that touches debt compounds the stability "
        "fee (5 %/yr) inside it. After each jump the three reporters report the price and the PriceFeed "
        "is poked, so its current (delayed) price stays fresh; those transactions are not counted.",
        "- `close` repays the vault's debt (with its fees) and returns all collateral in one transaction.",
        "- MakerDAO figures are for the same actions, measured on Anvil 1.7.1 (receipts' `gasUsed`); "
        f"the target is at most {TARGET_RATIO}x Maker.",
        "- Oracle rows (WETH's PriceFeed: 3 reporters, quorum 2, reports count 900 s, delay 1,800 s): one "
        "more hourly round with the price 1 % higher. *No quorum yet*: the first report of the round (its "
        "peers' reports have expired). *Accepted*: the second report, which makes quorum; the median is "
        "accepted and the EWMA volatility updated. *Delay poke*: `poke()` once the delay has passed "
        "(next becomes current). These have no MakerDAO reference (\u2014).",
        "- Liquidation rows (WETH; linear auction curve: start at 1.1x the oracle price, to zero over "
        "3,600 s): victim vaults borrow at 155 % (150 % required), the price falls 10 % (reported, "
        "poked, and current after the delay). A **warm-up cycle** runs first (three lots liquidated: "
        "a partial and a finishing take, a flash take, a reset), so the auction counter, "
        "debt in auction, bad debt and the surplus are non-zero; the keeper already holds WETH "
        "and kUSD (its own vault). Then: *liquidate* one vault (seize, start its lot, mint the keeper "
        f"reward); *batch liquidate*: `liquidate_many` of {BATCH_SIZE} vaults, gas / {BATCH_SIZE} (the "
        "reference is Liquity's per-trove batch figure, the target an absolute 80,000 per vault); "
        f"{TAKE_WAIT} s later a *partial take* (half the lot) and the *finishing take* (meets the target, "
        "returns the leftover into the vault); a *flash take* by "
        "contracts/testing/FlashTaker (MODE_PAY, funded with kUSD: collateral out first, a callback, "
        "then payment); a *keeper flash take*: the keeper bot's contracts/KeeperTaker.vy buys the whole "
        "lot, sells the WETH on a MockMarket at the oracle price inside the callback, pays and sends the "
        "profit to the keeper (docs/KEEPER.md); a *reset* of a lot below cusp (0.4) x its start price. "
        "Takes and reset are "
        "compared with MakerDAO's Clipper (target 0.7x), liquidate with Dog.bark (0.6x).",
        "- Option rows (docs/OPTIONS.md), after the liquidation rows, on the same chain. Two writers, each "
        "with a WETH vault for kUSD: the first lists and writes every series first (the house's counter "
        f"and balances warm), the second's receipts are the figures. Series expire {OPTION_DAYS} days out at "
        "08:00 UTC: a call 10 % and a put 10 % out of the money; *create series* lists a third. *Naked "
        "put*: a margin account of 20 WETH writes 2 puts. *Margin check*: `eth_estimateGas` of "
        "`PortfolioMargin.health` (what every margined action pays for its check) on accounts of 1, 4 "
        "and 16 short positions (8 strikes x call/put). *Liquidate a naked writer*: an account of 4 WETH "
        "writes as many puts as its initial margin allows, WETH falls 10 %, the ramp starts, 1,800 s "
        "(half the ramp) later a keeper that wrote the put in full takes over half an option. Then "
        "WETH rises to 1.2x its level before the fall, the series expire and settle (*settle*), every "
        "margined position settles, and the first writer redeems (*redeem*, in the money) and the second "
        "releases (*release*). References: Opyn Gamma, measured on Anvil 1.7.1 (a second writer, "
        "receipts' gasUsed); target 0.6x, series creation 0.3x, a 16-position check under 1,000,000.",
        "- Shutdown rows (docs/SHUTDOWN.md), last, on the same chain: six more vaults with debt are "
        "opened, then `shutdown` (accrue and freeze both types, WETH and WBTC, stop the auction, freeze both "
        "prices), "
        "`cancel_auction` of a running lot, `settle_vault` of one vault and `settle_vaults` of five "
        "(gas / 5), `finalize` of the type once all is settled, and the keeper's `redeem` of half its "
        "kUSD and its `claim`. No reference (\u2014).",
        "",
        "## User operations",
        "",
        *markdown_table(["operation", "Keel gas", "MakerDAO gas", "Keel / Maker", "target", "result"], rows,
                        align="lrrrrl"),
        "",
        f"{passed} of {len(targeted)} operations with a reference meet their target.",
        "",
        "## Runtime bytecode size",
        "",
        f"EIP-170 limits deployed code to {fmt_int(CODE_SIZE_LIMIT)} bytes. `deployed`: the code at the "
        "address (Vyper appends immutables to it); `artifact`: `deployedBytecode` from build/.",
        "",
        *markdown_table(["contract", "bytes", "limit", "headroom", "measured", "result"], sizes, align="lrrrll"),
        "",
    ]
    return "\n".join(lines)


def write_report(report: GasReport, out: Path | str) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.markdown())
    return out

"""A deliberately simple liquidation keeper (the demo's, and a starting point).

One :meth:`SimpleKeeper.run` pass:

1. **scan**: every open vault (rebuilt from engine events) for which
   ``VaultLens.is_liquidatable`` is true;
2. **liquidate**: ``Liquidator.liquidate_many`` in batches of 50 (the reward goes to the
   keeper); the ``Liquidated`` events give the lots started;
3. **auctions**: for each active lot, wait (on a local chain: advance the clock by
   ``step`` seconds at a time) until its price is at most ``oracle price * discount``
   (0.97 by default: buy at a 3 % discount to the market), then ``take`` as much as its
   own debt tokens pay for, up to the whole lot; a lot that needs a reset (past ``tail``
   or below ``cusp * top``) is reset first.

It pays with debt tokens it already holds (no flash take, no market): the demo's keeper
opens a well-collateralised vault first.  Waiting by moving the clock is only possible on
a local chain; on a public chain, call :meth:`SimpleKeeper.take_ready` periodically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable

from web3.logs import DISCARD

from . import log as _log
from .chain import increase_time, is_local_chain
from .client import AuctionStatus, KeelClient, Liquidation
from .units import WAD

LIQUIDATE_BATCH = 50  # Liquidator.MAX_BATCH
DISCOUNT = Decimal("0.97")  # take once the lot's price is at most 97 % of the oracle's


@dataclass
class TakeRecord:
    auction_id: int
    price: int  # WAD paid per unit of collateral
    oracle_price: int  # WAD at the time
    collateral: int  # WAD bought
    paid: int  # WAD debt tokens burned
    finished: bool  # the lot ended with this take
    returned: int = 0  # WAD collateral given back into the liquidated vault
    bad_debt: int = 0  # WAD of vault debt left uncovered
    gas: int = 0


@dataclass
class KeeperReport:
    liquidations: list[Liquidation] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    takes: list[TakeRecord] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)  # auction ids reset
    waited: int = 0  # seconds the clock was advanced


class SimpleKeeper:
    def __init__(
        self,
        client: KeelClient,
        *,
        discount: Decimal = DISCOUNT,
        step: int = 30,
        max_wait: int = 7_200,
        log: Callable[[str], None] = _log.silent,
    ) -> None:
        self.client = client
        self.discount = discount
        self.step = step
        self.max_wait = max_wait
        self.log = log

    # -- 1. scan
    def scan(self, vault_ids: Iterable[int] | None = None) -> list[int]:
        ids = self.client.open_vault_ids() if vault_ids is None else list(vault_ids)
        return [v for v in ids if self.client.is_liquidatable(v)]

    # -- 2. liquidate
    def liquidate(self, vault_ids: list[int], report: KeeperReport) -> list[int]:
        """Liquidate in batches; returns the auction ids started."""
        started: list[int] = []
        liquidator = self.client.liquidator
        for start in range(0, len(vault_ids), LIQUIDATE_BATCH):
            chunk = vault_ids[start:start + LIQUIDATE_BATCH]
            receipt = self.client.liquidate_many(chunk)
            done = self.client.liquidated(receipt)
            report.liquidations += done
            started += [d.auction_id for d in done]
            report.skipped += [int(e["args"]["vault_id"])
                               for e in liquidator.events.Skipped().process_receipt(receipt, errors=DISCARD)]
            self.log(f"liquidated {len(done)} of {len(chunk)} vaults (gas {receipt['gasUsed']:,})")
        return started

    # -- 3. auctions
    def threshold(self, status: AuctionStatus) -> tuple[int, int]:
        """(oracle price, the highest lot price this keeper pays), WAD."""
        oracle, _fresh = self.client.price(status.collateral_type)
        return oracle, int(Decimal(oracle) * self.discount)

    def take_ready(self, auction_ids: Iterable[int], report: KeeperReport) -> list[int]:
        """One look at each lot: reset it if it must be, take it if cheap enough. Returns
        the ids still active."""
        active = []
        for status in self.client.auction_statuses(list(auction_ids)):
            if not status.active:
                continue
            if status.needs_reset:
                self.client.reset(status.auction_id)
                report.resets.append(status.auction_id)
                self.log(f"auction {status.auction_id}: reset")
                status = self.client.auction_status(status.auction_id)
            oracle, limit = self.threshold(status)
            if status.price > limit:
                active.append(status.auction_id)
                continue
            record = self._take(status, oracle)
            if record is None or not record.finished:
                active.append(status.auction_id)
            if record is not None:
                report.takes.append(record)
        return active

    def _take(self, status: AuctionStatus, oracle: int) -> TakeRecord | None:
        client, auction = self.client, self.client.auction
        balance = client.debt_balance()
        # what the balance pays for at this price (rounded down, so owe <= balance)
        affordable = balance * WAD // status.price if status.price else status.lot
        amount = min(status.lot, affordable)
        if amount == 0:
            self.log(f"auction {status.auction_id}: no debt tokens left to take with")
            return None
        receipt = client.take(status.auction_id, amount, status.price)
        take = auction.events.Take().process_receipt(receipt, errors=DISCARD)[0]["args"]
        record = TakeRecord(
            status.auction_id, int(take["price"]), oracle, int(take["collateral"]), int(take["owe"]),
            finished=False, gas=int(receipt["gasUsed"]),
        )
        for ev in auction.events.AuctionFinished().process_receipt(receipt, errors=DISCARD):
            record.finished = True
            record.returned = int(ev["args"]["collateral_returned"])
            record.bad_debt = int(ev["args"]["bad_debt"])
        self.log(f"auction {status.auction_id}: took {record.collateral} at {record.price}")
        return record

    def work_auctions(self, auction_ids: Iterable[int], report: KeeperReport) -> None:
        """Take every lot, advancing the (local) clock while none is cheap enough yet."""
        active = list(auction_ids)
        while active:
            before = len(report.takes)
            active = self.take_ready(active, report)
            if not active:
                break
            if len(report.takes) > before:
                continue  # took something: look again at once (partial takes, more balance)
            if not is_local_chain(self.client.w3) or report.waited >= self.max_wait:
                break
            increase_time(self.client.w3, self.step)
            report.waited += self.step

    def run(self) -> KeeperReport:
        report = KeeperReport()
        started = self.liquidate(self.scan(), report)
        self.work_auctions(started, report)
        return report


__all__ = ["SimpleKeeper", "KeeperReport", "TakeRecord", "DISCOUNT"]

"""What the keeper can get for collateral: pluggable pricing for auction takes.

A :class:`Pricing` answers one question: selling ``amount`` (WAD) of a collateral type
now, how many debt tokens (WAD) come back?  The keeper takes a lot only when that is
more than the lot costs plus gas.

- :class:`OraclePricing`: the oracle's price less a safety margin (``margin_bps``);
  what a keeper with an off-chain outlet (a CEX, an OTC desk) would use;
- :class:`MarketPricing`: a DEX quote (``quote(units)`` on the market the flash take
  sells into), the price impact of the lot's size included. A flash take sells there,
  so this is what it will really get; optionally never above the oracle less a margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from web3 import Web3

from ..units import WAD
from .rpc import batch_call

BPS = 10_000


class Pricing(Protocol):
    name: str

    def proceeds(self, collateral_type: int, amount: int) -> int | None:
        """Debt tokens (WAD) for selling ``amount`` WAD of the type's collateral now;
        None when this pricing cannot sell it."""

    def prefetch(self, items: Iterable[tuple[int, int]]) -> None:
        """Get ready to price these (type, amount WAD) pairs (batch the reads)."""


@dataclass
class OraclePricing:
    """The oracle price x (1 - margin). ``price_of(type) -> (price WAD, fresh)``."""

    price_of: Callable[[int], tuple[int, bool]]
    margin_bps: int = 300
    name: str = "oracle"

    def proceeds(self, collateral_type: int, amount: int) -> int | None:
        price, fresh = self.price_of(collateral_type)
        if not fresh or price == 0:
            return None
        return amount * price // WAD * (BPS - self.margin_bps) // BPS

    def prefetch(self, items: Iterable[tuple[int, int]]) -> None:
        """Nothing to read: the prices come with the tick's type reads."""


MARKET_ABI = [
    {"type": "function", "name": "quote", "stateMutability": "view",
     "inputs": [{"name": "amount", "type": "uint256"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "sell", "stateMutability": "nonpayable",
     "inputs": [{"name": "amount", "type": "uint256"}], "outputs": [{"name": "", "type": "uint256"}]},
]


@dataclass
class MarketPricing:
    """A DEX quote for the lot's token units (``amount // scale``), less ``margin_bps``
    for slippage between the read and the take. ``markets``: type -> market address;
    ``scales``: type -> 10 ** (18 - decimals). ``cap`` (optional) also bounds the
    answer by another pricing (e.g. the oracle), taking the lower; ``fallback`` prices the
    types without a market."""

    w3: Web3
    markets: dict[int, str]
    scales: dict[int, int]
    margin_bps: int = 50
    cap: "Pricing | None" = None
    fallback: "Pricing | None" = None  # for types without a market (the keeper takes those with its own tokens)
    name: str = "market"
    _contracts: dict[int, object] = field(default_factory=dict, repr=False)
    _quotes: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)  # (type, units) -> quote

    def market(self, collateral_type: int):  # type: ignore[no-untyped-def]
        if collateral_type not in self._contracts:
            self._contracts[collateral_type] = self.w3.eth.contract(
                address=Web3.to_checksum_address(self.markets[collateral_type]), abi=MARKET_ABI)
        return self._contracts[collateral_type]

    def prefetch(self, items: Iterable[tuple[int, int]]) -> None:
        """Quote every (type, amount WAD) in JSON-RPC batches now; :meth:`proceeds` then
        answers from these quotes (a keeper prices every lot each tick: one round trip,
        not one per lot). Drops the previous tick's quotes."""
        self._quotes = {}
        wanted = sorted({(t, amount // self.scales.get(t, 1)) for t, amount in items if t in self.markets})
        wanted = [(t, units) for t, units in wanted if units]
        calls = [self.market(t).functions.quote(units) for t, units in wanted]  # type: ignore[attr-defined]
        for key, quoted in zip(wanted, batch_call(self.w3, calls)):
            self._quotes[key] = int(quoted)

    def proceeds(self, collateral_type: int, amount: int) -> int | None:
        if collateral_type not in self.markets:
            return self.fallback.proceeds(collateral_type, amount) if self.fallback is not None else None
        units = amount // self.scales.get(collateral_type, 1)
        if units == 0:
            return 0
        quoted = self._quotes.get((collateral_type, units))
        if quoted is None:
            quoted = int(self.market(collateral_type).functions.quote(units).call())  # type: ignore[attr-defined]
        value = quoted * (BPS - self.margin_bps) // BPS
        if self.cap is not None:
            other = self.cap.proceeds(collateral_type, amount)
            if other is not None:
                value = min(value, other)
        return value


__all__ = ["Pricing", "OraclePricing", "MarketPricing", "MARKET_ABI", "BPS"]

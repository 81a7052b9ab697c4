"""The collateral an option portfolio needs: isolated margin (``OptionsHouse``: every short
covered in full) against Keel's portfolio margin (``PortfolioMargin``: the worst loss over a
grid of price and volatility scenarios, times the initial factor), measured on the deployed
contracts.

For each portfolio (:data:`PORTFOLIOS`, legs as strikes relative to spot), on a fresh
deployment (:class:`keel.fuzz.system.System` on titanoboa, WETH at 2,000 kUSD):

* **isolated**: what ``OptionsHouse.write`` locks for the shorts: a call locks the
  underlying (valued at spot), a put ``strike x amount`` debt tokens; longs lock nothing and
  offset nothing;
* **portfolio**: the writer opens a margin account with ample WETH, writes the shorts in it
  and deposits the longs (bought from a covered writer in the house), then withdraws as much
  WETH as the account's initial margin allows, found by bisection on the contract
  (``PortfolioMargin.withdraw`` reverts "margin: initial margin" beyond it): the collateral
  left is what the portfolio needs.

The grid prices a long at its intrinsic value (a lower bound), so a long only earns credit
in the scenarios where it is in the money: with the deployment's grid (+-16 % in 4 % steps,
plus a -33 % extreme weighted one third) a wing further out than that hedges little.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from ..backends import BoaBackend
from ..fuzz import system as fs

WAD = 10**18
DAY = 86_400
MAX_UINT256 = 2**256 - 1


@dataclass(frozen=True)
class Leg:
    is_call: bool
    strike_pct: int  # strike as % of spot
    amount: int  # whole options
    short: bool


@dataclass(frozen=True)
class Portfolio:
    name: str
    legs: tuple[Leg, ...]
    days: int = 30


PORTFOLIOS = (
    Portfolio("covered calls (10 x 120 % call)", (Leg(True, 120, 10, True),)),
    Portfolio("cash-secured puts (10 x 80 % put)", (Leg(False, 80, 10, True),)),
    Portfolio("short strangle (10 x 80 % put + 10 x 120 % call)",
              (Leg(False, 80, 10, True), Leg(True, 120, 10, True))),
    Portfolio("bull put spread (short 95 % put, long 88 % put, 10 each)",
              (Leg(False, 95, 10, True), Leg(False, 88, 10, False))),
    Portfolio("iron condor (puts 88/95 %, calls 105/112 %, 10 each)",
              (Leg(False, 95, 10, True), Leg(False, 88, 10, False), Leg(True, 105, 10, True),
               Leg(True, 112, 10, False))),
)


@dataclass
class MarginRow:
    portfolio: str
    isolated: float  # kUSD locked
    portfolio_margin: float  # kUSD of WETH collateral the account needs (initial margin)
    saving: float  # 1 - portfolio / isolated

    def to_json(self) -> dict:
        return asdict(self)


def compare(portfolios: Sequence[Portfolio] = PORTFOLIOS) -> list[MarginRow]:
    """One row per portfolio (see the module docstring)."""
    rows = []
    for p in portfolios:
        s = fs.System(BoaBackend())
        rows.append(_one(s, p))
    return rows


def _one(s: fs.System, p: Portfolio) -> MarginRow:
    weth = s.types[0]
    spot = weth.spec.price
    expiry = (s.now + p.days * DAY) // DAY * DAY + 8 * 3_600
    owner, supplier = fs.WRITER, fs.KEEPER
    isolated = 0
    legs: list[tuple[int, Leg]] = []
    for leg in p.legs:
        strike = spot * leg.strike_pct // 100 // 10**16 * 10**16
        sid = s.must(fs.HOLDER, s.house, "create_series", weth.type_id, strike, expiry, leg.is_call)
        token = s.b.at("OptionToken", s.view(s.house, "token_of", sid))
        s.must(owner, token, "approve", s.margin.address, MAX_UINT256)
        legs.append((sid, leg))
        if leg.short:
            isolated += leg.amount * (spot if leg.is_call else strike)
    # ample collateral: every short covered twice over at spot
    ample_units = max(10, 4 * sum(leg.amount * max(spot, leg.strike_pct * spot // 100) for _, leg in legs) // spot)
    s.fund(owner, weth, ample_units)
    vault_id = s.must(owner, s.margin, "open_account", weth.type_id, ample_units * WAD)
    for sid, leg in legs:
        amount = leg.amount * WAD
        if leg.short:
            s.must(owner, s.margin, "write", vault_id, sid, amount, s.accounts[fs.HOLDER])
        else:
            if leg.is_call:
                s.fund(supplier, weth, leg.amount)
            s.must(supplier, s.house, "write", sid, amount, s.accounts[owner])
            s.must(owner, s.margin, "deposit_long", vault_id, sid, amount)
    # bisection on the withdrawable WETH (WAD): the largest amount the initial margin allows
    low, high = 0, ample_units * WAD
    while high - low > WAD // 1_000:
        mid = (low + high) // 2
        snap = s.b.snapshot()
        ok = s.tx(owner, s.margin, "withdraw", vault_id, mid, s.accounts[owner]).ok
        s.b.revert(snap)
        low, high = (mid, high) if ok else (low, mid)
    needed = (ample_units * WAD - low) * spot // WAD
    return MarginRow(p.name, isolated / WAD, needed / WAD, 1 - needed / isolated if isolated else 0.0)


__all__ = ["Leg", "MarginRow", "PORTFOLIOS", "Portfolio", "compare"]

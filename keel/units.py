"""Fixed-point units used by Keel and plain-text formatting helpers.

On chain, amounts, prices and ratios are WAD (18 decimals), per-second rates and the
rate accumulator are RAY (27 decimals) and the engine's surplus is RAD (WAD * RAY).
Off chain we convert with :class:`decimal.Decimal`, never ``float``, so that a value
read from the chain and written back is exact.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Union

WAD = 10**18
RAY = 10**27
RAD = WAD * RAY
MAX_UINT256 = 2**256 - 1
SECONDS_PER_YEAR = 365 * 24 * 3600

Number = Union[int, str, Decimal]

_PREC = 80  # digits; enough for RAD values (uint256 has 78 digits)


def _dec(value: Number) -> Decimal:
    if isinstance(value, float):  # float has no exact decimal value; insist on str/Decimal
        raise TypeError(f"pass {value!r} as str or Decimal, not float")
    return Decimal(value)


def to_fixed(value: Number, decimals: int) -> int:
    """``value`` (whole units) as an integer with ``decimals`` decimals, rounded down.

    >>> to_fixed("1.5", 18)
    1500000000000000000
    """
    with localcontext() as ctx:
        ctx.prec = _PREC
        return int((_dec(value) * (Decimal(10) ** decimals)).to_integral_value(ROUND_DOWN))


def from_fixed(value: int, decimals: int) -> Decimal:
    """An integer with ``decimals`` decimals as an exact Decimal of whole units."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return Decimal(int(value)) / (Decimal(10) ** decimals)


def to_wad(value: Number) -> int:
    """Whole units -> WAD integer (rounded down). ``to_wad("1.13") == 113 * 10**16``."""
    return to_fixed(value, 18)


def from_wad(value: int) -> Decimal:
    """WAD integer -> Decimal of whole units."""
    return from_fixed(value, 18)


def to_ray(value: Number) -> int:
    """Whole units -> RAY integer (rounded down)."""
    return to_fixed(value, 27)


def from_ray(value: int) -> Decimal:
    """RAY integer -> Decimal."""
    return from_fixed(value, 27)


def from_rad(value: int) -> Decimal:
    """RAD integer (WAD * RAY) -> Decimal of whole debt-token units."""
    return from_fixed(value, 45)


def per_second_rate(annual: Number) -> int:
    """A yearly fee (``"0.05"`` for 5 %) as the engine's per-second RAY factor, rounded down.

    ``per_second_rate("0.05")`` is within one unit of MakerDAO's
    1000000001547125957863212448.
    """
    with localcontext() as ctx:
        ctx.prec = _PREC
        factor = ((Decimal(1) + _dec(annual)).ln() / SECONDS_PER_YEAR).exp()
        return int((factor * RAY).to_integral_value(ROUND_DOWN))


def annual_rate(per_second: int) -> Decimal:
    """The yearly fee a per-second RAY factor compounds to (``0.05`` for 5 %)."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return (from_ray(per_second) ** SECONDS_PER_YEAR) - 1


# ---------------------------------------------------------------------------- formatting
def fmt_decimal(value: Decimal, places: int = 2) -> str:
    """``Decimal("1234.5678") -> "1,234.57"`` (banker's rounding, thousands separators)."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        quantum = Decimal(1).scaleb(-places)
        return f"{value.quantize(quantum, rounding=ROUND_HALF_EVEN):,.{places}f}"


def fmt_fixed(value: int, decimals: int, places: int = 2) -> str:
    """An integer with ``decimals`` decimals, formatted: ``fmt_fixed(150_000_000, 8, 4)``
    -> ``"1.5000"``."""
    return fmt_decimal(from_fixed(value, decimals), places)


def fmt_wad(value: int, places: int = 2) -> str:
    """WAD -> ``"1,234.56"``."""
    return fmt_fixed(value, 18, places)


def fmt_ray(value: int, places: int = 9) -> str:
    """RAY -> ``"1.004118910"``."""
    return fmt_fixed(value, 27, places)


def fmt_rad(value: int, places: int = 2) -> str:
    """RAD -> whole debt-token units, ``"12.34"``."""
    return fmt_fixed(value, 45, places)


def fmt_ratio(value_wad: int, places: int = 1) -> str:
    """A WAD ratio as a percentage: ``1.5e18 -> "150.0%"``; max uint256 (no debt) -> ``"-"``."""
    if value_wad >= MAX_UINT256:
        return "-"
    return fmt_decimal(from_wad(value_wad) * 100, places) + "%"


def fmt_percent(value: Decimal, places: int = 2) -> str:
    """``Decimal("0.05") -> "5.00%"``."""
    return fmt_decimal(value * 100, places) + "%"


def fmt_int(value: int) -> str:
    """``296790 -> "296,790"``."""
    return f"{int(value):,}"

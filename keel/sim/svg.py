"""Small, dependency-free SVG charts for the risk report (inline in one HTML file, so the
report opens anywhere without scripts or network).

:class:`Chart` is a pair of linear axes with ticks, to which lines, shaded bands,
points, bars and reference lines are added; :meth:`Chart.svg` renders it. Colours come from
a fixed palette so every report looks the same for the same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Sequence

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a", "#bf3989")
Point = tuple[float, float]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 5 x 10^k steps)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(k * step, 12) for k in range(first, max(last, first + 1) + 1)]


def fmt(value: float) -> str:
    """A tick label: thousands separators, no needless decimals."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:,.1f}M".replace(".0M", "M")
    if abs(value) >= 1_000 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.3g}"


@dataclass
class _Item:
    kind: str  # line | band | points | bars | hline | vline
    data: object
    label: str
    color: str
    dashed: bool = False


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    width: int = 720
    height: int = 320
    y_from_zero: bool = False
    items: list[_Item] = field(default_factory=list)

    def _color(self, color: str | None) -> str:
        return color or PALETTE[len([i for i in self.items if i.label]) % len(PALETTE)]

    def line(self, points: Sequence[Point], label: str = "", color: str | None = None, dashed: bool = False) -> "Chart":
        self.items.append(_Item("line", list(points), label, self._color(color), dashed))
        return self

    def band(self, lower: Sequence[Point], upper: Sequence[Point], label: str = "", color: str | None = None) -> "Chart":
        self.items.append(_Item("band", (list(lower), list(upper)), label, self._color(color)))
        return self

    def points(self, points: Sequence[Point], label: str = "", color: str | None = None) -> "Chart":
        self.items.append(_Item("points", list(points), label, self._color(color)))
        return self

    def bars(self, edges: Sequence[float], counts: Sequence[float], label: str = "", color: str | None = None) -> "Chart":
        """A histogram: ``counts[i]`` between ``edges[i]`` and ``edges[i + 1]``."""
        self.items.append(_Item("bars", (list(edges), list(counts)), label, self._color(color)))
        return self

    def hline(self, y: float, label: str = "", color: str | None = None) -> "Chart":
        self.items.append(_Item("hline", y, label, self._color(color), True))
        return self

    def vline(self, x: float, label: str = "", color: str | None = None) -> "Chart":
        self.items.append(_Item("vline", x, label, self._color(color), True))
        return self

    # -- rendering
    def _extent(self) -> tuple[float, float, float, float]:
        xs: list[float] = []
        ys: list[float] = []
        for item in self.items:
            if item.kind in ("line", "points"):
                xs += [p[0] for p in item.data]  # type: ignore[attr-defined]
                ys += [p[1] for p in item.data]  # type: ignore[attr-defined]
            elif item.kind == "band":
                for part in item.data:  # type: ignore[attr-defined]
                    xs += [p[0] for p in part]
                    ys += [p[1] for p in part]
            elif item.kind == "bars":
                edges, counts = item.data  # type: ignore[misc]
                xs += edges
                ys += list(counts) + [0.0]
            elif item.kind == "hline":
                ys.append(item.data)  # type: ignore[arg-type]
            elif item.kind == "vline":
                xs.append(item.data)  # type: ignore[arg-type]
        if not xs:
            xs = [0.0, 1.0]
        if not ys:
            ys = [0.0, 1.0]
        y_low = 0.0 if self.y_from_zero else min(ys)
        return min(xs), max(xs), min(y_low, min(ys)), max(ys)

    def svg(self) -> str:
        left, right, top, bottom = 70, 20, 34, 48
        w, h = self.width, self.height
        x0, x1, y0, y1 = self._extent()
        xt, yt = nice_ticks(x0, x1), nice_ticks(y0, y1)
        x0, x1 = min(x0, xt[0]), max(x1, xt[-1])
        y0, y1 = min(y0, yt[0]), max(y1, yt[-1])
        if x1 == x0:
            x1 = x0 + 1
        if y1 == y0:
            y1 = y0 + 1

        def px(x: float) -> float:
            return left + (x - x0) / (x1 - x0) * (w - left - right)

        def py(y: float) -> float:
            return h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
               f'role="img" aria-label="{escape(self.title)}" class="chart">',
               f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
               f'<text x="{left}" y="20" font-size="14" font-weight="600">{escape(self.title)}</text>']
        for t in yt:
            out.append(f'<line x1="{left}" x2="{w - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eaeef2"/>')
            out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" font-size="11" text-anchor="end">{fmt(t)}</text>')
        for t in xt:
            out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{h - bottom}" stroke="#f3f4f6"/>')
            out.append(f'<text x="{px(t):.1f}" y="{h - bottom + 16}" font-size="11" text-anchor="middle">{fmt(t)}</text>')
        out.append(f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" '
                   'stroke="#8c959f"/>')
        out.append(f'<text x="{(left + w - right) / 2:.0f}" y="{h - 10}" font-size="12" text-anchor="middle">'
                   f'{escape(self.x_label)}</text>')
        out.append(f'<text x="14" y="{(top + h - bottom) / 2:.0f}" font-size="12" text-anchor="middle" '
                   f'transform="rotate(-90 14 {(top + h - bottom) / 2:.0f})">{escape(self.y_label)}</text>')
        for item in self.items:
            dash = ' stroke-dasharray="6 4"' if item.dashed else ""
            if item.kind == "line" and item.data:
                path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in item.data)  # type: ignore[attr-defined]
                out.append(f'<polyline points="{path}" fill="none" stroke="{item.color}" stroke-width="2"{dash}/>')
            elif item.kind == "band":
                lower, upper = item.data  # type: ignore[misc]
                ring = [*lower, *reversed(upper)]
                path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in ring)
                out.append(f'<polygon points="{path}" fill="{item.color}" fill-opacity="0.18" stroke="none"/>')
            elif item.kind == "points":
                for x, y in item.data:  # type: ignore[attr-defined]
                    out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.6" fill="{item.color}" '
                               'fill-opacity="0.75"/>')
            elif item.kind == "bars":
                edges, counts = item.data  # type: ignore[misc]
                for i, c in enumerate(counts):
                    xa, xb = px(edges[i]), px(edges[i + 1])
                    out.append(f'<rect x="{xa + 0.5:.1f}" y="{py(c):.1f}" width="{max(0.5, xb - xa - 1):.1f}" '
                               f'height="{max(0.0, py(0) - py(c)):.1f}" fill="{item.color}" fill-opacity="0.8"/>')
            elif item.kind == "hline":
                y = py(item.data)  # type: ignore[arg-type]
                out.append(f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{item.color}" '
                           f'stroke-width="1.5"{dash}/>')
            elif item.kind == "vline":
                x = px(item.data)  # type: ignore[arg-type]
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{h - bottom}" stroke="{item.color}" '
                           f'stroke-width="1.5"{dash}/>')
        # legend, top right
        labelled = [i for i in self.items if i.label]
        for n, item in enumerate(labelled):
            y = top + 14 + 16 * n
            x = w - right - 230
            out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{item.color}"/>')
            out.append(f'<text x="{x + 17}" y="{y}" font-size="11">{escape(item.label)}</text>')
        out.append("</svg>")
        return "\n".join(out)


def histogram(values: Sequence[float], bins: int = 30) -> tuple[list[float], list[int]]:
    """(edges, counts) of ``values`` in ``bins`` equal bins."""
    if not values:
        return [0.0, 1.0], [0]
    low, high = min(values), max(values)
    if high == low:
        high = low + 1.0
    width = (high - low) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / width))] += 1
    return [low + i * width for i in range(bins + 1)], counts


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of already sorted values, linear interpolation."""
    if not sorted_values:
        return 0.0
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


__all__ = ["Chart", "PALETTE", "fmt", "histogram", "nice_ticks", "percentile"]

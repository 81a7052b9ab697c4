"""Plain-text and markdown tables and headings for reports."""

from __future__ import annotations

from typing import Sequence

Row = Sequence[object]


def table(headers: Row, rows: Sequence[Row], align: str | None = None, indent: str = "  ") -> list[str]:
    """Aligned plain-text columns. ``align`` has one letter per column: ``l`` or ``r``
    (default: first column left, the rest right)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    ncol = len(headers)
    align = align or "l" + "r" * (ncol - 1)
    widths = [max(len(r[i]) for r in cells) for i in range(ncol)]

    def line(row: list[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)]
        return (indent + "  ".join(parts)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return [line(cells[0]), rule] + [line(r) for r in cells[1:]]


def markdown_table(headers: Row, rows: Sequence[Row], align: str | None = None) -> list[str]:
    """A GitHub markdown table; ``align`` as in :func:`table`."""
    ncol = len(headers)
    align = align or "l" + "r" * (ncol - 1)
    marks = ["---:" if a == "r" else ":---" for a in align]
    out = ["| " + " | ".join(str(h) for h in headers) + " |", "| " + " | ".join(marks) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def heading(title: str, width: int = 78, char: str = "=") -> list[str]:
    """``== Title ====...`` preceded by a blank line."""
    text = f"{char * 2} {title} "
    return ["", text + char * max(0, width - len(text))]


def short_address(address: str) -> str:
    return f"{address[:6]}..{address[-4:]}"

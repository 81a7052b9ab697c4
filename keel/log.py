"""Progress lines for long steps, on stderr so stdout stays clean for results."""

from __future__ import annotations

import os
import sys


def progress(message: str) -> None:
    """Print ``keel: <message>`` to stderr (silenced by ``KEEL_QUIET=1``)."""
    if os.environ.get("KEEL_QUIET", "").strip() not in ("", "0"):
        return
    print(f"keel: {message}", file=sys.stderr, flush=True)


def silent(message: str) -> None:
    """A logger that drops everything."""

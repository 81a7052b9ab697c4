"""Render an HTML file with headless Chromium and check the picture (the report test and
``keel sim-report --screenshot``).

Chromium is Debian's package (``tools/bootstrap.sh`` installs it as root), or whatever
``KEEL_CHROMIUM`` names. It is started the way this sandbox allows: no sandbox, no GPU and
none of its background network traffic (which a closed network refuses, many times a second).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


class ScreenshotError(RuntimeError):
    """Chromium is missing or did not write the picture."""


def chromium() -> str:
    """The Chromium binary: ``KEEL_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on PATH."""
    named = os.environ.get("KEEL_CHROMIUM")
    found = named or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ScreenshotError("chromium not found: run tools/bootstrap.sh as root, or set KEEL_CHROMIUM")
    return found


def screenshot(html: Path, png: Path, width: int = 1100, height: int = 9000, timeout: int = 120) -> Path:
    """A PNG of ``html`` as a ``width`` x ``height`` window shows it."""
    with tempfile.TemporaryDirectory(prefix="keel-chromium-") as profile:
        cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={png.resolve()}", html.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ScreenshotError(f"chromium took over {timeout} s") from exc
    if not png.exists() or png.stat().st_size == 0:
        raise ScreenshotError(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}")
    _trim(png)
    return png


def _trim(png: Path, margin: int = 40) -> None:
    """Cut the blank space below the page's content (the window is taller than most pages)."""
    from PIL import Image, ImageChops

    image = Image.open(png).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, (255, 255, 255))).getbbox()
    if box and box[3] + margin < image.height:
        image.crop((0, 0, image.width, box[3] + margin)).save(png)


@dataclass(frozen=True)
class Ink:
    """What a screenshot shows: how many pixels of each chart colour, and how many not white."""

    width: int
    height: int
    inked: int  # pixels not (near) white
    by_colour: dict[str, int]


def ink(png: Path, colours: dict[str, str]) -> Ink:
    """Count the pixels within 40 (per channel) of each ``#rrggbb`` colour in ``colours``."""
    from PIL import Image

    image = Image.open(png).convert("RGB")
    targets = {name: tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5)) for name, hex_ in colours.items()}
    counts = dict.fromkeys(colours, 0)
    inked = 0
    for (r, g, b), n in (((px[0], px[1], px[2]), n) for n, px in image.getcolors(maxcolors=1 << 24)):
        if r < 235 or g < 235 or b < 235:
            inked += n
        for name, (tr, tg, tb) in targets.items():
            if abs(r - tr) <= 40 and abs(g - tg) <= 40 and abs(b - tb) <= 40:
                counts[name] += n
    return Ink(image.width, image.height, inked, counts)


__all__ = ["Ink", "ScreenshotError", "chromium", "ink", "screenshot"]

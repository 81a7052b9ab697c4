"""Install eth-brownie as pure Python.

eth-brownie 1.22.2 ships on PyPI as mypyc-compiled extension modules. Its compiled
``brownie.project.compiler.vyper`` rejects the source map that Vyper 0.4 returns (an
object, not a string), so ``brownie compile`` fails on every Vyper 0.4 contract.  The
wheel also ships every module's ``.py`` source beside the ``.so``; Python prefers the
extension when both exist.

This script takes the official wheel (downloaded by pip, hash-checked by pip), writes a
copy without the compiled modules (``brownie/**/*.so`` and the shared
``eth_brownie__mypyc*.so``) with a regenerated RECORD, and installs that copy with pip.
The result is an ordinary pip-managed install (``pip show``/``pip uninstall`` work);
nothing in site-packages is edited by hand.  Re-running is a no-op once brownie is pure.

Usage: python tools/purify_brownie.py [--version 1.22.2] [--cache DIR]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def brownie_is_pure() -> bool:
    """True when brownie's Vyper compiler module loads from a ``.py`` file."""
    spec = importlib.util.find_spec("brownie.project.compiler.vyper")
    return spec is not None and spec.origin is not None and spec.origin.endswith(".py")


def _is_compiled(name: str) -> bool:
    return name.endswith(".so") and (name.startswith("brownie/") or name.startswith("eth_brownie__mypyc"))


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def repack(src: Path, dest_dir: Path) -> Path:
    """Write ``src`` minus its compiled modules to ``dest_dir``; return the new path."""
    dest = dest_dir / src.name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        record_name = next(n for n in zin.namelist() if n.endswith(".dist-info/RECORD"))
        lines = []
        dropped = 0
        for info in zin.infolist():
            name = info.filename
            if name == record_name:
                continue
            if _is_compiled(name):
                dropped += 1
                continue
            data = zin.read(name)
            if name.endswith(".dist-info/top_level.txt"):
                data = b"".join(l + b"\n" for l in data.splitlines() if l and b"mypyc" not in l)
            zout.writestr(info, data)
            lines.append(_record_line(name, data))
        lines.append(f"{record_name},,")
        zout.writestr(record_name, "\n".join(lines) + "\n")
    print(f"purify_brownie: dropped {dropped} compiled modules from {src.name}")
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="1.22.2")
    parser.add_argument("--cache", default=".cache/wheels", help="where the pure wheel is kept")
    args = parser.parse_args()
    if brownie_is_pure():
        print("purify_brownie: brownie already runs as pure Python")
        return 0
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
             f"eth-brownie=={args.version}", "-d", tmp]
        )
        wheel = next(Path(tmp).glob("eth_brownie-*.whl"))
        pure = repack(wheel, cache)
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(pure)]
    )
    importlib.invalidate_caches()
    # a fresh interpreter tells the truth about what now imports
    out = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('brownie.project.compiler.vyper').origin)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not out.endswith(".py"):
        print(f"purify_brownie: brownie still loads compiled modules ({out})", file=sys.stderr)
        return 1
    print("purify_brownie: brownie now runs as pure Python")
    return 0


if __name__ == "__main__":
    sys.exit(main())

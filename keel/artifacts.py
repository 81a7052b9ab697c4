"""Compiled contract artifacts: locate the project, compile it, load ABIs and bytecode.

brownie writes ``build/contracts/<Name>.json`` (``abi``, ``bytecode``,
``deployedBytecode``, ...).  :func:`ensure_compiled` runs ``brownie compile --all`` in
a subprocess when an artifact is missing or older than any ``contracts/**/*.vy``
(``--all``: brownie's incremental compile does not resolve Vyper 0.4 module imports
of unchanged modules).  A subprocess keeps brownie's global state (its loaded project,
network, hypothesis profiles) out of the caller.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import log as _log

CONFIG_FILE = "brownie-config.yaml"
#: contracts deploy_system needs (ManualPriceFeed: clients of older manifests read it)
SYSTEM_CONTRACTS = (
    "DebtToken", "VaultEngine", "PriceFeed", "ChainlinkAdapter", "MockAggregator", "ManualPriceFeed", "MockToken",
    "DutchAuction", "Liquidator", "VaultLens", "GlobalSettlement",
    "OptionToken", "OptionsHouse", "OptionPricer", "PortfolioMargin",
    "KeeperTaker", "MockMarket",  # the keeper's flash-take contract and the local test market
    "ConstantProductMarket",  # the risk simulator's market with price impact
)
COMPILE_TIMEOUT = 900  # seconds


class ArtifactError(RuntimeError):
    """An artifact is missing or unreadable, or compilation failed."""


@dataclass(frozen=True)
class Artifact:
    """What a client needs from a compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code
    deployed_bytecode: str  # 0x-prefixed runtime code (without Vyper's appended immutables)
    source_path: str
    compiler_version: str = ""

    @property
    def runtime_size(self) -> int:
        """Bytes of runtime code (immutables, appended at deployment, not included)."""
        return len(bytes.fromhex(self.deployed_bytecode.removeprefix("0x")))


def project_root(start: Path | str | None = None) -> Path:
    """The Keel project directory: the first of ``start`` (default: the cwd) and its
    parents holding brownie-config.yaml, else the checkout this package lives in."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / CONFIG_FILE).is_file():
        return checkout
    raise ArtifactError(f"no {CONFIG_FILE} in {here} or its parents: run keel from the Keel project")


def build_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "build" / "contracts"


def contract_sources(root: Path | None = None) -> list[Path]:
    """Every ``contracts/**/*.vy``."""
    return sorted(((root or project_root()) / "contracts").rglob("*.vy"))


def deployable_names(root: Path | None = None) -> list[str]:
    """Names of the deployable contracts: ``contracts/**/*.vy`` except the libraries in
    ``contracts/modules/`` (which compile to no runtime code of their own)."""
    root = root or project_root()
    modules = root / "contracts" / "modules"
    return [p.stem for p in contract_sources(root) if modules not in p.parents]


def _read_json(path: Path, attempts: int = 5) -> dict[str, Any]:
    # another process may be rewriting the artifact right now: retry a torn read
    for attempt in range(attempts):
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def load_artifact(name: str, root: Path | None = None) -> Artifact:
    """Load ``build/contracts/<name>.json``."""
    path = build_dir(root) / f"{name}.json"
    if not path.is_file():
        raise ArtifactError(f"no artifact {path}; run `brownie compile` (or any keel command)")
    data = _read_json(path)
    bytecode, runtime = data.get("bytecode") or "", data.get("deployedBytecode") or ""
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=bytecode if bytecode.startswith("0x") else "0x" + bytecode,
        deployed_bytecode=runtime if runtime.startswith("0x") else "0x" + runtime,
        source_path=data.get("sourcePath", ""),
        compiler_version=str((data.get("compiler") or {}).get("version", "")),
    )


def _sources_of(root: Path, data: dict[str, Any]) -> list[str]:
    """Source files an artifact was built from: its own, the files of its named
    dependencies, and (conservatively) every shared module under contracts/modules/;
    brownie's ``allSourcePaths`` omits Vyper 0.4 modules."""
    own = [data.get("sourcePath")] + list((data.get("allSourcePaths") or {}).values())
    deps = set(data.get("dependencies") or [])
    modules = root / "contracts" / "modules"
    found = [p for p in contract_sources(root) if p.stem in deps or modules in p.parents]
    if not data.get("sourcePath"):  # unknown provenance: every contract source
        found = contract_sources(root)
    return sorted({s for s in own if s} | {str(p.relative_to(root)) for p in found})


def stale_reason(root: Path | None = None, names: Iterable[str] = SYSTEM_CONTRACTS) -> str | None:
    """Why the build needs a compile (an artifact missing, or older than a source or the
    brownie config), or None when it is up to date."""
    root = root or project_root()
    config = root / CONFIG_FILE
    config_mtime = config.stat().st_mtime if config.exists() else 0.0
    for name in names:
        artifact = build_dir(root) / f"{name}.json"
        rel = artifact.relative_to(root)
        if not artifact.is_file():
            return f"{rel} missing"
        built = artifact.stat().st_mtime
        if built < config_mtime:
            return f"{rel} older than {CONFIG_FILE}"
        try:
            data = _read_json(artifact)
        except (OSError, ValueError):
            return f"{rel} unreadable"
        for source in _sources_of(root, data):
            path = root / source
            if not path.exists() or path.stat().st_mtime > built:
                return f"{rel} older than {source}"
    return None


@contextlib.contextmanager
def _compile_lock(root: Path) -> Iterator[None]:
    """Serialise keel's own compiles of one project (e.g. `keel gas` and the tests)."""
    lock_path = root / "build" / ".keel-compile.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_compiled(
    root: Path | None = None,
    names: Iterable[str] = SYSTEM_CONTRACTS,
    log: Callable[[str], None] = _log.progress,
) -> bool:
    """Compile with brownie when the build is missing or stale. True if it compiled."""
    root = root or project_root()
    names = tuple(names)
    if stale_reason(root, names) is None:
        return False
    with _compile_lock(root):
        reason = stale_reason(root, names)  # someone else may have compiled meanwhile
        if reason is None:
            return False
        log(f"compiling contracts ({reason}) ...")
        cmd = [
            sys.executable, "-c",
            "import sys; from brownie._cli.__main__ import main; sys.exit(main())",
            "compile", "--all",
        ]
        env = dict(os.environ)
        # brownie imports brownie_hooks from the project root
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        try:
            proc = subprocess.run(
                cmd, cwd=root, env=env, capture_output=True, text=True, timeout=COMPILE_TIMEOUT
            )
        except subprocess.TimeoutExpired as exc:
            raise ArtifactError(f"brownie compile timed out after {COMPILE_TIMEOUT} s") from exc
        if proc.returncode != 0:
            raise ArtifactError(
                f"brownie compile failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}".rstrip()
            )
        missing = [n for n in names if not (build_dir(root) / f"{n}.json").is_file()]
        if missing:
            raise ArtifactError(f"brownie compile produced no artifact for {missing}")
        log("compiled")
        return True


def export_abis(names: Iterable[str], dest: Path, root: Path | None = None) -> Path:
    """Write ``<dest>/<Name>.json`` (the bare ABI list) for each name; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        abi = load_artifact(name, root).abi
        target = dest / f"{name}.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(abi, indent=2) + "\n")
        tmp.replace(target)
    return dest

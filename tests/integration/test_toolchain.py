"""Toolchain checks: brownie is pure Python, our hypothesis profile is live, and every
contract compiles through brownie from an empty build directory.

The compile tests run ``brownie compile`` as a subprocess in a scratch copy of the project
(contracts/, brownie-config.yaml, brownie_hooks.py), so they see exactly what a fresh
clone sees and never touch ./build.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hypothesis
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
MODULES = CONTRACTS / "modules"
PROJECT_FILES = ("brownie-config.yaml", "brownie_hooks.py")
EIP170_RUNTIME_LIMIT = 24_576  # bytes of deployed code
EIP3860_INITCODE_LIMIT = 49_152  # bytes of creation code
COMPILE_TIMEOUT = 900  # seconds; a cold compile of the whole protocol is far below this


def _brownie_exe() -> str:
    """The brownie next to the running interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("brownie")
    if local.exists():
        return str(local)
    found = shutil.which("brownie")
    assert found, "brownie executable not found"
    return found


def _deployables(contracts_dir: Path) -> list[Path]:
    """contracts/**/*.vy except the libraries under contracts/modules/."""
    modules = contracts_dir / "modules"
    return sorted(
        p for p in contracts_dir.rglob("*.vy")
        if modules not in p.parents
        and not any(part.startswith("_") for part in p.relative_to(contracts_dir).parts)
    )


def _scratch_project(dest: Path, contracts: Path | None) -> Path:
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    if contracts is not None:
        shutil.copytree(contracts, dest / "contracts")
    else:
        (dest / "contracts").mkdir()
    return dest


def _compile(project: Path, *, all_: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # a scratch project: don't let the repo root (brownie_hooks, keel) leak in via PYTHONPATH
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [_brownie_exe(), "compile", *(["--all"] if all_ else [])],
        cwd=project, env=env, capture_output=True, text=True, timeout=COMPILE_TIMEOUT,
    )
    assert proc.returncode == 0, (
        f"brownie compile exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


def _assert_built(project: Path, names: list[str]) -> None:
    build = project / "build" / "contracts"
    missing, empty = [], []
    for name in names:
        artifact = build / f"{name}.json"
        if not artifact.exists():
            missing.append(name)
            continue
        data = json.loads(artifact.read_text())
        if not data.get("bytecode") or not data.get("deployedBytecode"):
            empty.append(name)
    assert not missing, f"no build artifact for {missing}; built: {sorted(p.stem for p in build.glob('*.json'))}"
    assert not empty, f"empty bytecode for {empty}"


def test_brownie_vyper_compiler_is_pure_python():
    # the mypyc-compiled module rejects Vyper 0.4 source maps; see tools/purify_brownie.py
    spec = importlib.util.find_spec("brownie.project.compiler.vyper")
    assert spec is not None and spec.origin is not None
    assert spec.origin.endswith(".py"), f"brownie is compiled ({spec.origin}); run tools/purify_brownie.py"


def test_vyper_version_pinned():
    import vyper

    assert vyper.__version__.startswith("0.4.3"), vyper.__version__


def test_hypothesis_profile_is_active():
    profile = os.environ.get("KEEL_PROFILE", "").strip() or "ci"
    expected = hypothesis.settings.get_profile(f"keel-{profile}")
    current = hypothesis.settings.default
    assert current.max_examples == expected.max_examples
    assert current.stateful_step_count == expected.stateful_step_count
    assert current.derandomize == expected.derandomize
    assert current.deadline is None
    if profile == "ci":
        assert current.max_examples == 30  # not brownie's 50 nor hypothesis's 100
        assert current.derandomize is True


SMOKE_MODULE = """\
# pragma version 0.4.3
# Internal-only module: compiles to (almost) no runtime code; brownie_hooks.py must cope.

@internal
@pure
def double(x: uint256) -> uint256:
    return x * 2
"""

SMOKE_CONTRACT = """\
# pragma version 0.4.3
from .modules import smoke_lib

interface IERC20Like:
    def balanceOf(owner: address) -> uint256: view

value: public(uint256)

@deploy
def __init__(x: uint256):
    self.value = smoke_lib.double(x)

@external
@view
def peek(token: IERC20Like, who: address) -> uint256:
    return staticcall token.balanceOf(who)
"""


def test_compile_generated_contract(tmp_path):
    """The toolchain itself (pure brownie + hooks + Vyper 0.4 modules), independent of
    what contracts/ holds."""
    project = _scratch_project(tmp_path, None)
    (project / "contracts" / "modules").mkdir()
    (project / "contracts" / "modules" / "smoke_lib.vy").write_text(SMOKE_MODULE)
    (project / "contracts" / "SmokeVault.vy").write_text(SMOKE_CONTRACT)
    _compile(project)
    _assert_built(project, ["SmokeVault"])


def test_incremental_compile_with_unchanged_module(tmp_path):
    """Editing a contract but not the module it imports must still compile (brownie alone
    would hand Vyper the contract without its module: ModuleNotFound; see brownie_hooks)."""
    project = _scratch_project(tmp_path, None)
    (project / "contracts" / "modules").mkdir()
    (project / "contracts" / "modules" / "smoke_lib.vy").write_text(SMOKE_MODULE)
    contract = project / "contracts" / "SmokeVault.vy"
    contract.write_text(SMOKE_CONTRACT)
    _compile(project, all_=False)
    before = json.loads((project / "build" / "contracts" / "SmokeVault.json").read_text())["bytecode"]
    contract.write_text(SMOKE_CONTRACT.replace("smoke_lib.double(x)", "smoke_lib.double(x) + 1"))
    _compile(project, all_=False)
    _assert_built(project, ["SmokeVault"])
    after = json.loads((project / "build" / "contracts" / "SmokeVault.json").read_text())["bytecode"]
    assert after != before


def test_compile_all_contracts_from_empty_build(tmp_path):
    deployables = _deployables(CONTRACTS) if CONTRACTS.is_dir() else []
    assert deployables, f"no deployable contracts under {CONTRACTS} (outside contracts/modules/)"
    names = [p.stem for p in deployables]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"contract names must be unique for brownie: {dupes}"
    project = _scratch_project(tmp_path, CONTRACTS)
    assert not (project / "build").exists()
    _compile(project)
    _assert_built(project, names)
    # Anvil refuses an oversized contract only when a test deploys it; this checks every
    # contract at compile time against EIP-170 (runtime code) and EIP-3860 (initcode)
    too_large = {}
    for name in names:
        data = json.loads((project / "build" / "contracts" / f"{name}.json").read_text())
        runtime = len(data["deployedBytecode"].removeprefix("0x")) // 2
        initcode = len(data["bytecode"].removeprefix("0x")) // 2
        if runtime > EIP170_RUNTIME_LIMIT or initcode > EIP3860_INITCODE_LIMIT:
            too_large[name] = (runtime, initcode)
    assert not too_large, f"over the EIP-170/3860 limits (runtime, initcode bytes): {too_large}"

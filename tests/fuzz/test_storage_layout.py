"""The fuzz machine reads the protocol's state straight from storage (keel.fuzz.system:
one batch of slot reads a step instead of dozens of view calls). Those slot numbers are
pinned here to the compiler's own layout, so a reordered or inserted storage variable
fails this test instead of silently feeding the invariants wrong numbers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keel.fuzz.system import STORAGE

ROOT = Path(__file__).resolve().parents[2]


def compiler_layout(contract: str) -> dict:
    """`vyper -f layout` of a contract: variable name -> {slot, type, n_slots}."""
    output = subprocess.run(
        [sys.executable, "-m", "vyper", "-f", "layout", "-p", str(ROOT), str(ROOT / "contracts" / f"{contract}.vy")],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return json.loads(output)["storage_layout"]


@pytest.mark.parametrize("contract", sorted(STORAGE))
def test_storage_slots__fuzz_reader_vs_compiler__every_slot_matches(contract):
    layout = compiler_layout(contract)
    for name, slot in STORAGE[contract].items():
        entry = layout.get(name) or layout.get(f"_{name}")
        assert entry is not None, f"{contract}: no storage variable {name!r} (or _{name})"
        assert entry["slot"] == slot, f"{contract}.{name}: the reader uses slot {slot}, the compiler {entry['slot']}"
        # the reader decodes one word, or hashes keys into a HashMap
        assert entry["n_slots"] == 1, f"{contract}.{name}: {entry['type']} spans {entry['n_slots']} slots"

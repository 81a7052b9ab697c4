"""Project hooks that brownie imports from the project root when it loads sources.

brownie 1.22 has no plugin system; ``brownie.project.main._load_sources`` imports a
top-level ``brownie_hooks`` module if the project has one.  Keel uses that import (which
happens on every ``project.load`` -- ``brownie compile``/``test``/``run``/``console`` and
``keel``'s own loader -- before anything is compiled or any network is launched) to patch
four brownie limitations.

1. Coverage data for Vyper 0.4 modules.
   ``brownie.project.compiler.vyper._generate_coverage_data`` assumes every contract's
   bytecode has at least five opcodes (it peeks at ``opcodes[-5]`` to find Vyper's shared
   revert block).  A Vyper 0.4 module with only ``@internal`` functions (our
   ``contracts/modules/*.vy``) compiles to an (almost) empty runtime, so the peek raises
   ``IndexError`` and the whole ``brownie compile`` fails.  Such a module has no runtime
   code to cover, so for fewer than five opcodes we return empty coverage maps instead.
   This needs brownie as pure Python (tools/purify_brownie.py): the mypyc-compiled module
   binds the function statically and would ignore the patch.

2. Incremental compilation with Vyper 0.4 modules.
   On load brownie recompiles only the contracts whose source changed (plus contracts that
   list a changed one in their build ``dependencies``) and hands *only those sources* to
   the compiler.  When a contract changes but a module it imports does not, the module is
   missing from the compiler input and Vyper fails with ``ModuleNotFound``.  Whenever
   anything needs recompiling we therefore recompile every contract of the project (a few
   seconds); an unchanged project still loads without compiling.

3. Environment variables in development ``cmd_settings``.
   brownie expands ``${VAR}`` / ``${VAR:-default}`` in the project settings but not in a
   network's ``cmd_settings``, so ``port: ${KEEL_ANVIL_PORT:-8545}`` in brownie-config.yaml
   would reach anvil (and the RPC URL) verbatim.  We expand them, with brownie's own
   expander, whenever a network is activated.  A per-run port matters because brownie
   silently *attaches* to whatever node already listens on the port instead of launching
   its own, so two test runs on one machine would otherwise share a chain.

4. Where anvil keeps old block states.
   Anvil keeps a few hundred block states in memory and writes older ones to disk, by
   default to ``~/.foundry/anvil/tmp/anvil-state-*`` -- a full copy of the state per block,
   GBs over one test session -- and leaves them there when it is killed, which is how
   brownie stops it.  Run after run that filled the disk (79 GB on one machine).  brownie
   turns ``cmd_settings`` into anvil flags through a fixed table
   (``brownie.network.rpc.anvil.CLI_FLAGS``) and drops other keys, so we add ``cache_path``
   (``--cache-path``) to it and, when a development network is activated, point it at a
   directory of this process's (``keel.chain.anvil_cache_dir``), removed when the process
   exits (and, were it killed, by the next one that makes such a directory).
"""

from __future__ import annotations

import functools
import os

from brownie._config import CONFIG
from brownie._expansion import expand_posix_vars
from brownie.network.rpc import anvil as _anvil_rpc
from brownie.project import main as _project_main
from brownie.project.compiler import vyper as _vyper_compiler

_MIN_OPCODES = 5


def _patch_vyper_coverage() -> None:
    original = _vyper_compiler._generate_coverage_data
    if getattr(original, "__keel_patched__", False):
        return

    @functools.wraps(original)
    def _generate_coverage_data(source_map_str, opcodes_str, contract_name, ast_json):
        if len((opcodes_str or "").split()) < _MIN_OPCODES:
            return {}, {}, {}
        return original(source_map_str, opcodes_str, contract_name, ast_json)

    _generate_coverage_data.__keel_patched__ = True  # type: ignore[attr-defined]
    _vyper_compiler._generate_coverage_data = _generate_coverage_data


def _patch_incremental_compile() -> None:
    project_cls = _project_main.Project
    original = project_cls._get_changed_contracts
    if getattr(original, "__keel_patched__", False):
        return

    @functools.wraps(original)
    def _get_changed_contracts(self, compiled_hashes):
        changed = original(self, compiled_hashes)
        if not changed:
            return changed
        sources = self._sources
        names = sources.get_contract_list()
        for name in names:
            self._build._remove_contract(name)
        paths = sorted({sources.get_source_path(name) for name in names})
        return {path: sources.get(path) for path in paths}

    _get_changed_contracts.__keel_patched__ = True  # type: ignore[attr-defined]
    project_cls._get_changed_contracts = _get_changed_contracts


def _patch_cmd_settings_expansion() -> None:
    config_cls = type(CONFIG)
    original = config_cls.set_active_network
    if getattr(original, "__keel_patched__", False):
        return

    @functools.wraps(original)
    def set_active_network(self, id_=None):
        network = original(self, id_)
        if isinstance(network.get("cmd_settings"), dict):
            # the active network is a deep copy, so expanding in place leaves CONFIG.networks alone
            expand_posix_vars(network["cmd_settings"], dict(os.environ))
            if os.path.basename(str(network.get("cmd", "")).split(" ")[0]) == "anvil":
                network["cmd_settings"].setdefault("cache_path", _node_cache_dir())  # 4.
        return network

    set_active_network.__keel_patched__ = True  # type: ignore[attr-defined]
    config_cls.set_active_network = set_active_network


_cache_dir = None  # this process's directory for the node's old block states


def _node_cache_dir() -> str:
    global _cache_dir
    if _cache_dir is None:
        import atexit
        import shutil

        from keel.chain import anvil_cache_dir

        _cache_dir = anvil_cache_dir()
        atexit.register(shutil.rmtree, _cache_dir, True)
    return str(_cache_dir)


def _patch_anvil_flags() -> None:
    _anvil_rpc.CLI_FLAGS.setdefault("cache_path", "--cache-path")


_patch_vyper_coverage()
_patch_cmd_settings_expansion()
_patch_anvil_flags()
_patch_incremental_compile()

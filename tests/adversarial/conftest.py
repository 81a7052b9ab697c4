"""Adversarial tests reuse the unit fixtures (brownie puts the project root on sys.path,
so tests.unit.conftest imports as a namespace-package module)."""

from tests.unit.conftest import *  # noqa: F401,F403  (fixtures and constants)
from tests.unit.conftest import _freeze_heap  # noqa: F401  (private names skip the star import)

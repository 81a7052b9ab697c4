"""Every revert reason in the contracts is pinned by a test.

`test_revert_reasons__every_reason__appears_in_a_test` reads each `assert ..., "who: why"`
of contracts/ (test-only contracts aside) and fails when a reason appears in no test file:
a new revert without a test fails CI. The few reasons no transaction can reach (guards of
bounds that other rules already keep) are listed in UNREACHABLE, each with the rule that
keeps it unreachable. The tests below pin the rare reasons no other file meets.
"""

import re
from pathlib import Path

import brownie
import pytest

from tests.unit.conftest import (
    DEBT_CEILING,
    DUST,
    LIQUIDATION_PENALTY,
    LIQUIDATION_RATIO,
    STABILITY_FEE,
    WAD,
    ZERO_ADDRESS,
)

ROOT = Path(__file__).resolve().parents[2]
REASON = re.compile(r'assert [^\n]*?, "([a-z_]+: [^"]+)"')

# reason -> why no transaction can reach it (each is a guard of a bound kept elsewhere)
UNREACHABLE = {
    "auction: dust too large":
        "the engine bounds dust below 2**80 and the penalty to 1.5, so dust * penalty < 2**81 < 2**91",
    "settlement: token transfer failed":
        "DebtToken.transferFrom returns True or reverts with its own reason",
    "engine: auction totals overflow":
        "a type's collateral in auction is part of its vaults' (each < 2**112); its debt stays under the cap (< 2**95)",
    "engine: debt overflow":
        "normalised debt is bounded by the debt ceiling (< 2**96 WAD) over a rate of at least 1 RAY",
    "engine: rate overflow":
        "fixed_point.mul_div(rate, growth) overflows first, after ~75 years at the 100 %/yr fee cap "
        "(VaultEngine.MAX_STABILITY_FEE's comment)",
    "engine: too many vaults":
        "2**40 vaults (1.1e12) cannot be opened",
    "fixed_point: exponent too large":
        "callers pass seconds since the last accrual, or auction steps capped below 2**63",
    "options: funds overflow":
        "write and margin_write keep every option's funds (at most written x strike) within 128 bits",
    "options: too many series":
        "2**31 - 1 series cannot be listed",
    "margin: series out of range":
        "the house lists at most 2**31 - 1 series, with expiries at most two years out (below 2**32 until 2104)",
}


def contract_reasons() -> dict[str, str]:
    """reason -> the contract file that holds it."""
    found = {}
    for path in sorted((ROOT / "contracts").rglob("*.vy")):
        if "testing" in path.parts:
            continue
        for reason in REASON.findall(path.read_text()):
            found.setdefault(reason, path.name)
    return found


def test_revert_reasons__every_reason__appears_in_a_test():
    texts = []
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text()
        if path.name == Path(__file__).name:  # this file's tests count, its allowlist does not
            start = text.index("UNREACHABLE = {")
            text = text[:start] + text[text.index("\n}\n", start):]
        texts.append(text)
    text = "\n".join(texts)
    reasons = contract_reasons()
    assert len(reasons) > 100  # the parser still finds them
    untested = sorted(f"{where}: {reason}" for reason, where in reasons.items()
                      if reason not in UNREACHABLE and f'"{reason}"' not in text)
    assert untested == [], "revert reasons no test pins:\n" + "\n".join(untested)
    # the allowlist does not outlive the code
    assert sorted(set(UNREACHABLE) - set(reasons)) == []


def test_deploy_settlement__zero_address__reverts(GlobalSettlement, engine, admin):
    for args in ((ZERO_ADDRESS, engine), (engine, ZERO_ADDRESS)):
        with brownie.reverts("settlement: zero address"):
            GlobalSettlement.deploy(*args, admin, {"from": admin})


def test_deploy_lens__zero_engine__reverts(VaultLens, admin):
    with brownie.reverts("lens: zero engine"):
        VaultLens.deploy(ZERO_ADDRESS, {"from": admin})


def test_settle_vault_and_lot__while_live__revert(engine, vault_with_debt, weth_type, admin):
    engine.set_roles(admin, engine.roles(admin) | 64, {"from": admin})  # ROLE_SETTLEMENT
    before = engine.vault_position(vault_with_debt)
    with brownie.reverts("engine: not shut down"):
        engine.settle_vault(vault_with_debt, 2_000 * WAD, {"from": admin})
    with brownie.reverts("engine: not shut down"):
        engine.settle_lot(weth_type, vault_with_debt, 0, 0, 2_000 * WAD, {"from": admin})
    assert engine.vault_position(vault_with_debt) == before


def test_auction_payment__covered_above_owe__reverts(engine, vault, weth_type, admin):
    engine.set_roles(admin, engine.roles(admin) | 32, {"from": admin})  # ROLE_AUCTION
    with brownie.reverts("engine: payment below debt"):
        engine.auction_payment(weth_type, admin, 1, 2, vault, 0, 0, {"from": admin})


def test_add_collateral_type__sixty_fifth__reverts(MockToken, engine, weth_feed, admin, listed):
    """The engine lists at most 64 types (the shutdown loops over them)."""
    count = engine.collateral_type_count()
    for index in range(count, 64):
        token = MockToken.deploy(f"T{index}", f"T{index}", 18, {"from": admin})
        engine.add_collateral_type(token, weth_feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE,
                                   LIQUIDATION_PENALTY, {"from": admin})
    assert engine.collateral_type_count() == 64
    extra = MockToken.deploy("T64", "T64", 18, {"from": admin})
    with brownie.reverts("engine: too many collateral types"):
        engine.add_collateral_type(extra, weth_feed, LIQUIDATION_RATIO, DEBT_CEILING, DUST, STABILITY_FEE,
                                   LIQUIDATION_PENALTY, {"from": admin})
    assert engine.collateral_type_count() == 64

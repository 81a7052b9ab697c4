"""The keeper on an under-margined option writer (PortfolioMargin), on a real Anvil.

A writer's margin account holds WETH, a loan and 20 short puts 10 % out of the money; a
30 % fall leaves it under its maintenance margin. The keeper starts the liquidation ramp,
then, as the ramp runs, repays the debt for the bonus and takes over the short puts
(writing covered puts in the house and handing them in for collateral) once the ramp's
price is beyond the puts' Black-Scholes mark, each only when it pays for the gas.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from keel.chain import increase_time, latest_timestamp
from keel.client import KeelClient, OptionsClient, next_expiry
from keel.keeper import book as bk
from keel.keeper.bot import EventLog, Keeper, KeeperConfig
from keel.keeper.rpc import counting_web3
from keel.tx import Sender

WAD = 10**18
KEEPER_KEY = "0x" + "3d" * 32
PUTS = 20 * WAD


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keeper-margin")
    with bk.crash_chain(tmp) as (node, admin):
        w3, manifest = admin.w3, admin.manifest
        writer = OptionsClient(KeelClient(w3, manifest, Sender.unlocked(w3, 6)))
        price, _ = admin.price("WETH")
        writer.client.mint_collateral("WETH", 10 * WAD)
        account = writer.open_account("WETH", 10 * WAD)
        series = writer.create_series("WETH", price * 9 // 10 // WAD * WAD, next_expiry(latest_timestamp(w3), 14),
                                      False)
        writer.margin_write(account, series, PUTS)
        writer.margin_borrow(account, writer.max_borrow(account) - writer.health(account).debt)
        assert writer.health(account).healthy
        bk.crash(admin, Decimal("0.7"))
        keeper = Sender.from_private_key(w3, KEEPER_KEY)
        Sender.unlocked(w3, 0).send({"to": keeper.address, "value": 10 * WAD})
        admin.mint_collateral("WETH", 100 * WAD)
        admin.approve_collateral("WETH")
        admin.open_vault("WETH", 100 * WAD, 40_000 * WAD)
        admin.transfer_debt_token(keeper.address, 40_000 * WAD)
        yield {"node": node, "tmp": tmp, "admin": admin, "writer": writer, "account": account, "series": series}


def test_keeper__under_margined_writer__ramp_started_debt_repaid_puts_taken_over(world):
    admin, writer, account, series = world["admin"], world["writer"], world["account"], world["series"]
    w3 = counting_web3(world["node"].url)
    sender = Sender.from_private_key(w3, KEEPER_KEY)
    keeper = Keeper(KeelClient(w3, admin.manifest), sender, KeeperConfig(state_dir=world["tmp"] / "keeper"),
                    events=EventLog(quiet=True))
    before = writer.health(account)
    assert not before.healthy

    keeper.tick()
    margin = admin.margin
    started = margin.events.LiquidationStarted().get_logs(from_block=admin.manifest.block)
    assert [(int(e["args"]["vault_id"]), e["args"]["keeper"]) for e in started] == [(account, sender.address)]

    ramp = int(margin.functions.params().call()[9])
    for _ in range(12):  # the ramp, in steps of a twelfth
        increase_time(admin.w3, ramp // 12)
        keeper.tick()
    logs = {name: [e for e in getattr(margin.events, name)().get_logs(from_block=admin.manifest.block)
                   if e["args"]["liquidator"] == sender.address]
            for name in ("DebtLiquidated", "PositionLiquidated")}
    assert logs["DebtLiquidated"], "the debt was not repaid for the bonus"
    assert logs["PositionLiquidated"], "the short puts were not taken over"
    taken = sum(int(e["args"]["amount"]) for e in logs["PositionLiquidated"])
    assert all(e["args"]["is_short"] for e in logs["PositionLiquidated"])
    # each take-over was paid the ramp's price in full (the keeper asked for no more options
    # than the account's collateral pays for), to a unit of collateral
    price, _ = admin.price("WETH")
    for e in logs["PositionLiquidated"]:
        owed = int(e["args"]["amount"]) * int(e["args"]["price"]) // WAD
        paid = int(e["args"]["collateral"]) * price // WAD
        assert owed - price <= paid <= owed
    # the account: its shorts shrank by what was taken over, its debt was repaid, and it
    # ended no worse off (what the module enforces at every step)
    after = writer.health(account)
    assert after.debt < before.debt
    assert after.spare >= before.spare
    (short,) = [p for p in margin.functions.positions(account).call() if p[0] == series] or [None]
    assert short is None or int(short[3]) == PUTS - taken
    # the keeper holds the covered puts it wrote, none of the option tokens (handed in)
    assert writer.balance(series, sender.address) == 0
    assert keeper.totals.margin_steps == 1 + len(logs["DebtLiquidated"]) + len(logs["PositionLiquidated"])
    assert keeper.totals.margin_profit > 0
    assert keeper.totals.refused == 0

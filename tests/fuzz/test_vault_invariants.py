"""Stateful fuzzing of vault actions, time and prices (DESIGN.md invariants 1-3 and
the rounding rule).

Each step picks a user action (open, deposit, withdraw, borrow, repay, repay all,
close, transfer), a price move, a reporter refresh, or time passing. Inputs are
derived from on-chain views (`vault_info`) so most steps do something; a step that
reverts must revert for a reason that action may give, and must change nothing.
After every step the invariants below are checked against the chain.
"""

import brownie
from brownie.test import strategy

WAD = 10**18
RAY = 10**27

# reasons each action may legitimately revert with
ALLOWED_REVERTS = {
    "borrow": {"engine: vault unsafe", "engine: oracle stale", "engine: debt below dust", "engine: debt ceiling reached"},
    "withdraw": {"engine: vault unsafe", "engine: oracle stale", "engine: insufficient collateral"},
    "repay": {"engine: debt below dust", "engine: vault has no debt", "engine: repay exceeds debt", "token: insufficient balance"},
    "close": {"token: insufficient balance"},
}


class VaultStateMachine:
    st_user = strategy("uint8", max_value=2)
    st_type = strategy("uint8", max_value=2)
    st_pick = strategy("uint16")
    st_fraction = strategy("uint16", min_value=1, max_value=10_000)  # basis points
    st_units = strategy("uint16", min_value=1, max_value=5_000)
    st_price_move = strategy("int16", min_value=-3_000, max_value=3_000)  # basis points
    st_seconds = strategy("uint32", min_value=1, max_value=2 * 86_400)

    def __init__(cls, system, borrowers, reporter):
        cls.engine = system["engine"]
        cls.lens = system["lens"]
        cls.token = system["token"]
        cls.types = system["types"]
        cls.borrowers = borrowers
        cls.reporter = reporter

    def setup(self):
        self.vaults = []  # ids of open vaults
        self.prices = [t["price"] for t in self.types]
        self.steps = 0

    # ------------------------------------------------------------ helpers
    def _vault(self, pick):
        if not self.vaults:
            return None
        return self.vaults[pick % len(self.vaults)]

    def _attempt(self, action, fn, *args):
        """Send a transaction; a revert must carry a reason allowed for `action`."""
        try:
            return fn(*args)
        except brownie.exceptions.VirtualMachineError as exc:
            assert exc.revert_msg in ALLOWED_REVERTS.get(action, set()), f"{action}: unexpected revert {exc.revert_msg!r}"
            return None

    def _indebted_vault(self, pick):
        """`vault_info` of the picked open vault, or None when there is none or it owes nothing."""
        vault_id = self._vault(pick)
        if vault_id is None:
            return None
        info = self.lens.vault_info(vault_id)
        return info if info["debt"] != 0 else None

    def _debt(self, vault_id):
        return self.lens.vault_info(vault_id)["debt"]

    # ------------------------------------------------------------ rules: users
    def rule_open(self, st_user, st_type, st_units, st_fraction):
        user = self.borrowers[st_user]
        kind = self.types[st_type]
        amount = st_units * 10 ** kind["decimals"] // 10
        value = amount * 10 ** (18 - kind["decimals"]) * kind["price"] // WAD
        borrow = value * 2 // 3 * st_fraction // 10_000
        if borrow < 100 * WAD:
            borrow = 0  # below dust: open with collateral only
        try:
            tx = self.engine.open_vault(kind["id"], amount, borrow, {"from": user})
        except brownie.exceptions.VirtualMachineError as exc:
            assert exc.revert_msg in ALLOWED_REVERTS["borrow"], exc.revert_msg
            return
        vault_id = tx.return_value
        self.vaults.append(vault_id)
        if borrow:
            assert self._debt(vault_id) >= borrow, "borrowed debt must round up"
            assert self.lens.vault_info(vault_id)["safe"], "open left the vault unsafe"

    def rule_deposit(self, st_pick, st_units):
        vault_id = self._vault(st_pick)
        if vault_id is None:
            return
        owner, kind_id, _, _ = self.engine.vault_position(vault_id)
        kind = self.types[kind_id - 1]
        before = self.lens.vault_info(vault_id)
        self.engine.deposit(vault_id, st_units * 10 ** kind["decimals"] // 100 + 1, {"from": owner})
        after = self.lens.vault_info(vault_id)
        assert after["collateral"] > before["collateral"]
        assert after["collateral_ratio"] >= before["collateral_ratio"]

    def rule_withdraw(self, st_pick, st_fraction):
        vault_id = self._vault(st_pick)
        if vault_id is None:
            return
        owner, kind_id, collateral, _ = self.engine.vault_position(vault_id)
        kind = self.types[kind_id - 1]
        amount = collateral // 10 ** (18 - kind["decimals"]) * st_fraction // 10_000
        if amount == 0:
            return
        if self._attempt("withdraw", self.engine.withdraw, vault_id, amount, owner, {"from": owner}):
            assert self.lens.vault_info(vault_id)["safe"], "withdraw left the vault unsafe"

    def rule_borrow(self, st_pick, st_fraction):
        vault_id = self._vault(st_pick)
        if vault_id is None:
            return
        info = self.lens.vault_info(vault_id)
        amount = max(info["max_borrow"] * st_fraction // 10_000, 100 * WAD)
        supply_before = self.token.totalSupply()
        if self._attempt("borrow", self.engine.borrow, vault_id, amount, info["owner"], {"from": info["owner"]}):
            after = self.lens.vault_info(vault_id)
            assert after["safe"], "borrow left the vault unsafe"
            assert after["debt"] >= info["debt"] + amount, "borrowed debt must round up"
            assert self.token.totalSupply() == supply_before + amount

    def rule_repay(self, st_pick, st_fraction):
        info = self._indebted_vault(st_pick)
        if info is None:
            return
        vault_id, owner = info["vault_id"], info["owner"]
        amount = max(info["debt"] * st_fraction // 10_000, 1)
        if self._attempt("repay", self.engine.repay, vault_id, amount, {"from": owner}):
            after = self.lens.vault_info(vault_id)
            assert info["debt"] - after["debt"] <= amount, "repay may not cancel more debt than was paid"

    def rule_repay_all(self, st_pick):
        info = self._indebted_vault(st_pick)
        if info is None:
            return
        vault_id, owner = info["vault_id"], info["owner"]
        balance = self.token.balanceOf(owner)
        if self._attempt("repay", self.engine.repay, vault_id, 2**256 - 1, {"from": owner}):
            assert balance - self.token.balanceOf(owner) >= info["debt"], "repaying all must burn at least the debt"
            assert self.lens.vault_info(vault_id)["debt"] == 0

    def rule_close(self, st_pick):
        vault_id = self._vault(st_pick)
        if vault_id is None:
            return
        info = self.lens.vault_info(vault_id)
        owner = info["owner"]
        kind = self.types[info["collateral_type"] - 1]
        balance = self.token.balanceOf(owner)
        collateral_before = kind["token"].balanceOf(owner)
        if self._attempt("close", self.engine.close, vault_id, owner, {"from": owner}):
            self.vaults.remove(vault_id)
            assert balance - self.token.balanceOf(owner) >= info["debt"], "close must burn at least the debt"
            paid_out = kind["token"].balanceOf(owner) - collateral_before
            assert paid_out * 10 ** (18 - kind["decimals"]) <= info["collateral"], "payout rounds down"

    def rule_transfer(self, st_pick, st_user):
        vault_id = self._vault(st_pick)
        if vault_id is None:
            return
        owner = self.engine.vault_position(vault_id)[0]
        new_owner = self.borrowers[st_user]
        self.engine.transfer_vault(vault_id, new_owner, {"from": owner})
        assert self.engine.vault_position(vault_id)[0] == new_owner

    # ------------------------------------------------------------ rules: market
    def rule_price_move(self, st_type, st_price_move):
        kind = self.types[st_type]
        price = max(self.prices[st_type] * (10_000 + st_price_move) // 10_000, 10**12)
        self.prices[st_type] = price
        kind["price"] = price
        kind["feed"].set_price(price, {"from": self.reporter})

    def rule_time_passes(self, st_seconds):
        brownie.chain.sleep(st_seconds)
        brownie.chain.mine()

    def rule_accrue(self, st_type):
        engine = self.engine
        kind_id = st_type + 1
        rate_before = engine.collateral_type_info(kind_id)["rate"]
        surplus_before = engine.surplus()
        engine.accrue(kind_id, {"from": self.reporter})
        rate_after = engine.collateral_type_info(kind_id)["rate"]
        assert rate_after >= rate_before
        assert engine.surplus() - surplus_before == engine.type_normalized_debt(kind_id) * (rate_after - rate_before)

    # ------------------------------------------------------------ invariants
    def invariant_collateral_is_fully_backed(self):
        """Invariant 1: tokens held == vault collateral + collateral in auctions + tracked dust, per type."""
        positions = [self.engine.vault_position(v) for v in self.vaults]
        for kind in self.types:
            held = kind["token"].balanceOf(self.engine) * 10 ** (18 - kind["decimals"])
            in_vaults = sum(p[2] for p in positions if p[1] == kind["id"])
            in_auctions = self.engine.type_collateral_in_auction(kind["id"])
            assert held == in_vaults + in_auctions + self.engine.type_collateral_dust(kind["id"])

    def invariant_debt_is_conserved(self):
        """Invariant 2: supply * RAY + surplus == vault debts + debt in auction + bad debt (RAD, exact)."""
        positions = [self.engine.vault_position(v) for v in self.vaults]
        total = 0
        for kind in self.types:
            rate = self.engine.collateral_type_info(kind["id"])["rate"]
            normalized = sum(p[3] for p in positions if p[1] == kind["id"])
            assert normalized == self.engine.type_normalized_debt(kind["id"])
            total += normalized * rate
        total += self.engine.debt_in_auction() + self.engine.bad_debt()
        assert self.token.totalSupply() * RAY + self.engine.surplus() == total


def test_vault_actions_keep_invariants(state_machine, system, borrowers, reporter):
    state_machine(VaultStateMachine, system, borrowers, reporter)

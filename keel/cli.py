"""``keel``: the command line.

    keel demo                       the demo scenario on an embedded Anvil
    keel deploy [--rpc URL] ...     deploy (or reuse) a system, write its manifest
    keel gas [--out docs/gas.md]    measure gas and code sizes, write the markdown table
    keel info [--manifest PATH]     collateral types, vaults and the ledger of a deployment

Results go to stdout, progress lines to stderr. Private keys are never arguments: set
KEEL_PRIVATE_KEY, or point --keystore (or KEEL_KEYSTORE) at a keystore file and put its
password in KEEL_KEYSTORE_PASSWORD.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import log as _log
from .artifacts import ArtifactError, ensure_compiled, project_root
from .chain import DEFAULT_RPC, ChainError, connect, is_local_chain
from .client import ClientError, KeelClient
from .deploy import DeployConfig, DeployError, deploy_system
from .manifest import Manifest, ManifestError, default_manifest_path
from .text import heading, short_address, table
from .tx import KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, KeelTxError, Sender, SignerError
from .units import annual_rate, fmt_percent, fmt_rad, fmt_ratio, fmt_ray, fmt_wad

EXPECTED_ERRORS = (ArtifactError, ChainError, ClientError, DeployError, KeelTxError, ManifestError, SignerError)


# ---------------------------------------------------------------------------- commands
def cmd_demo(args: argparse.Namespace) -> int:
    from .scenario import run_scenario

    result = run_scenario(port=args.port, days=args.days)
    return 0 if result.invariant_ok else 1


def cmd_deploy(args: argparse.Namespace) -> int:
    root = project_root()
    ensure_compiled(root)
    w3 = connect(args.rpc)
    sender = _deployer(w3, args)
    config = DeployConfig.from_file(args.config) if args.config else DeployConfig()
    manifest_path = Path(args.manifest) if args.manifest else default_manifest_path(w3.eth.chain_id, root)
    manifest = deploy_system(w3, sender, config, manifest_path, force=args.force, root=root, rpc=args.rpc)
    print(f"manifest: {manifest_path}")
    for name, address in manifest.contracts.items():
        print(f"  {name:<12} {address}")
    for entry in manifest.collateral:
        print(f"  {entry.symbol:<12} type {entry.collateral_type}  token {entry.token}  oracle {entry.oracle}")
    return 0


def _deployer(w3, args: argparse.Namespace) -> Sender:  # type: ignore[no-untyped-def]
    """KEEL_PRIVATE_KEY / keystore, else --from or the node's first unlocked account."""
    sender = Sender.from_env(w3, keystore=args.keystore)
    if sender is not None:
        return sender
    if args.sender:
        return Sender.unlocked(w3, args.sender)
    if not is_local_chain(w3):
        raise SignerError(
            f"no signer: set {PRIVATE_KEY_ENV}, or --keystore FILE with {KEYSTORE_PASSWORD_ENV} "
            "(node-held accounts are only used on local chains unless --from is given)"
        )
    return Sender.unlocked(w3, 0)


def cmd_gas(args: argparse.Namespace) -> int:
    from .gas import measure, write_report

    report = measure(port=args.port)
    text = report.markdown()
    if args.out:
        write_report(report, args.out)
        _log.progress(f"wrote {args.out}")
    print(text, end="")
    failed = any(not r.passed for r in report.rows) or any(s.headroom < 0 for s in report.sizes)
    return 2 if (args.strict and failed) else 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.manifest:
        manifest = Manifest.load(args.manifest)
        w3 = connect(args.rpc or manifest.rpc or DEFAULT_RPC)
    else:
        w3 = connect(args.rpc or DEFAULT_RPC)
        manifest = Manifest.load(default_manifest_path(w3.eth.chain_id))
    if manifest.chain_id != w3.eth.chain_id:
        raise ManifestError(f"the manifest is for chain {manifest.chain_id}, the node is chain {w3.eth.chain_id}")
    client = KeelClient(w3, manifest)
    lines = heading(f"Keel on chain {manifest.chain_id}")
    lines += [
        f"  DebtToken    {manifest.address('DebtToken')}",
        f"  VaultEngine  {manifest.address('VaultEngine')}",
        f"  deployed by  {manifest.deployer} in block {manifest.block}",
    ]
    lines += heading("Collateral types")
    rows = []
    for t in client.collateral_types():
        price, fresh = client.price(t.collateral_type)
        rows.append([
            f"{t.collateral_type} {t.symbol or short_address(t.token)}", fmt_wad(price), "yes" if fresh else "STALE",
            fmt_ratio(t.liquidation_ratio, 0), fmt_percent(annual_rate(t.stability_fee)), fmt_ray(t.rate),
            fmt_wad(t.debt), fmt_wad(t.debt_ceiling, 0), fmt_wad(t.dust, 0),
        ])
    lines += table(["type", "price", "fresh", "ratio", "fee/yr", "rate", "debt", "ceiling", "dust"], rows)
    lines += heading("Vaults")
    ids = client.open_vault_ids()
    symbols = {e.collateral_type: e.symbol for e in manifest.collateral}
    vault_rows = [
        [v.vault_id, short_address(v.owner), symbols.get(v.collateral_type, v.collateral_type),
         fmt_wad(v.collateral, 4), fmt_wad(v.debt), fmt_ratio(v.collateral_ratio), fmt_wad(v.max_borrow),
         "yes" if v.safe else "NO"]
        for v in client.vaults_info(ids)
    ]
    lines += table(["vault", "owner", "type", "collateral", "debt", "ratio", "can borrow", "safe"], vault_rows,
                   align="rllrrrrl") if vault_rows else ["  (no open vaults)"]
    check = client.ledger_check()
    lines += heading("Ledger")
    lines += [
        f"  kUSD supply  {fmt_wad(check.supply)}",
        f"  surplus      {fmt_rad(check.surplus, 4)}",
        f"  invariant    supply*RAY + surplus == sum(normalized_debt*rate) -> {'OK' if check.ok else 'FAIL'}",
    ]
    print("\n".join(lines))
    return 0 if check.ok else 1


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keel",
        description="Keel CDP protocol: deploy, inspect, demo and gas report.",
        epilog=f"Signing: {PRIVATE_KEY_ENV}, or --keystore/KEEL_KEYSTORE with {KEYSTORE_PASSWORD_ENV}. "
               "Set KEEL_QUIET=1 to silence progress lines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="run the demo scenario on an embedded Anvil",
                          description="Deploy to a fresh embedded Anvil; three users open vaults, fees "
                                      "accrue for --days, they repay and close; print a summary with the "
                                      "ledger invariant (exit 1 if it fails).")
    demo.add_argument("--days", type=int, default=30, help="days that pass (default 30)")
    demo.add_argument("--port", type=int, help="anvil port (default: a free one in 8623-8699)")
    demo.set_defaults(func=cmd_demo)

    deploy = sub.add_parser("deploy", help="deploy Keel (or reuse the deployment) and write the manifest",
                            description="Deploy DebtToken, VaultEngine and, per collateral, a price feed "
                                        "(and a mock token on local chains). Re-running reuses a live "
                                        "deployment from the manifest.")
    deploy.add_argument("--rpc", default=DEFAULT_RPC, help=f"node URL (default {DEFAULT_RPC})")
    deploy.add_argument("--manifest", help="manifest path (default deployments/[local/]<chain_id>.json)")
    deploy.add_argument("--config", help="deploy config, JSON or YAML (default: WETH and WBTC mocks)")
    deploy.add_argument("--force", action="store_true", help="redeploy even if the manifest is live")
    deploy.add_argument("--keystore", help=f"keystore file to sign with (password in {KEYSTORE_PASSWORD_ENV})")
    deploy.add_argument("--from", dest="sender", metavar="ADDRESS",
                        help="an account the node holds unlocked (default on local chains: its first)")
    deploy.set_defaults(func=cmd_deploy)

    gas = sub.add_parser("gas", help="measure gas per user operation and bytecode sizes",
                         description="Measure gasUsed of each user operation (second user, warm storage, "
                                     "1 hour between operations) against MakerDAO's, and runtime code "
                                     "sizes against EIP-170; print markdown.")
    gas.add_argument("--out", help="also write the markdown here (make gas: docs/gas.md)")
    gas.add_argument("--port", type=int, help="anvil port (default: a free one in 8623-8699)")
    gas.add_argument("--strict", action="store_true", help="exit 2 if a target is missed or a contract is too big")
    gas.set_defaults(func=cmd_gas)

    info = sub.add_parser("info", help="show a deployment's collateral types, vaults and ledger",
                          description="Read a deployment through its manifest.")
    info.add_argument("--manifest", help="manifest path (default: deployments/[local/]<chain_id>.json of --rpc)")
    info.add_argument("--rpc", help=f"node URL (default: the manifest's, else {DEFAULT_RPC})")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EXPECTED_ERRORS as exc:
        print(f"keel: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``keel simulate`` / ``keel sim-report`` / ``keel sim-bench``: help, bad input, a small batch
and a small sweep written to disk."""

from __future__ import annotations

import json

import pytest

from keel.cli import main as keel_main


@pytest.mark.parametrize("command", ["simulate", "sim-report", "sim-bench"])
def test_help__every_sim_command__documents_its_options(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        keel_main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--out" in out and "--runs" in out
    if command != "sim-bench":
        assert "--scheduler" in out and "--backend" in out and "--sweep" in out


def test_simulate__sweep_of_an_unknown_parameter__clear_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        keel_main(["simulate", "--runs", "2", "--sweep", "leverage=1,2"])
    assert exit_.value.code == 2
    assert "NAME one of liquidation_ratio" in capsys.readouterr().err


def test_simulate__nonpositive_runs__clear_error():
    with pytest.raises(SystemExit, match="--vaults and --runs must be positive"):
        keel_main(["simulate", "--runs", "0"])


def test_simulate__small_batch__writes_losses_and_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KEEL_QUIET", "1")
    code = keel_main(["simulate", "--runs", "3", "--vaults", "6", "--path", "jump", "--jump", "-0.5", "--hours", "4",
                      "--workers", "1", "--out", str(tmp_path)])
    assert code == 0
    batch = json.loads((tmp_path / "batch.json").read_text())
    assert batch["runs"] == 3 and batch["backend"] == "boa" and len(batch["losses"]) == 3
    assert [r["alpha"] for r in batch["risk"]] == [0.95, 0.99]
    rows = (tmp_path / "losses.csv").read_text().splitlines()
    assert rows[0].startswith("run,seed,low,liquidated,bad_debt") and len(rows) == 4
    assert all(x["liquidated"] > 0 for x in batch["losses"])  # -50 %: every path liquidates
    assert "VaR" in capsys.readouterr().out


def test_simulate__sweep__one_batch_per_value_same_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_QUIET", "1")
    code = keel_main(["simulate", "--runs", "2", "--vaults", "6", "--path", "jump", "--jump", "-0.5", "--hours", "4",
                      "--workers", "1", "--sweep", "penalty=1.05,1.2", "--out", str(tmp_path)])
    assert code == 0
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert sweep["parameter"] == "penalty" and sweep["values"] == [1.05, 1.2]
    assert [b["params"]["penalty"] for b in sweep["batches"]] == [1.05, 1.2]
    assert [[x["seed"] for x in b["losses"]] for b in sweep["batches"]] == [[1, 2], [1, 2]]
    assert (tmp_path / "penalty=1.05" / "losses.csv").exists() and (tmp_path / "penalty=1.2" / "losses.csv").exists()


def test_simulate__batch_with_writers__keeper_liquidates_them_unless_told_not_to(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KEEL_QUIET", "1")
    args = ["simulate", "--runs", "1", "--vaults", "4", "--writers", "3", "--path", "jump", "--jump", "-0.5",
            "--hours", "4", "--workers", "1"]
    assert keel_main(args + ["--out", str(tmp_path / "on")]) == 0
    assert "writers:" in capsys.readouterr().out
    assert keel_main(args + ["--no-writer-liquidation", "--out", str(tmp_path / "off")]) == 0
    on = json.loads((tmp_path / "on" / "batch.json").read_text())
    off = json.loads((tmp_path / "off" / "batch.json").read_text())
    assert on["params"]["liquidate_writers"] is True and off["params"]["liquidate_writers"] is False
    assert on["losses"][0]["writers_liquidated"] > 0 and off["losses"][0]["writers_liquidated"] == 0
    # writers with loans: the keeper repays debt too
    assert keel_main(args + ["--writer-debt", "0.8", "--out", str(tmp_path / "loans")]) == 0
    loans = json.loads((tmp_path / "loans" / "batch.json").read_text())
    assert loans["book"]["writer_debt"] == 0.8 and on["book"]["writer_debt"] == 0.0
    assert loans["losses"][0]["margin_debt_repaid"] > 0 == on["losses"][0]["margin_debt_repaid"]

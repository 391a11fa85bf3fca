"""``veritune compare``: two runs' tuned models, paired on items and seeds, on hand-made results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritune.cli import app
from veritune.errors import InputError
from veritune.pipeline.compare import compare_runs


def write(folder: Path, key: str, values: list[float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "examples.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", key: v}) + "\n" for i, v in enumerate(values)))


def run(root: Path, seeds: dict[int, tuple[list, list]]) -> Path:
    """seeds: seed -> (validation right/wrong per item, TruthfulQA mc2 per item)."""
    for s, (acc, mc2) in seeds.items():
        write(root / f"seed{s}" / "eval" / "tuned" / "validation", "correct", acc)
        write(root / f"seed{s}" / "eval" / "guard" / "tuned" / "truthfulqa_mc", "mc2", mc2)
    return root


def test_a_minus_b_paired_on_items_and_seeds(tmp_path):
    a = run(tmp_path / "a", {0: ([1, 1, 0, 0], [0.5, 0.5]), 1: ([1, 1, 1, 0], [0.4, 0.6]),
                             2: ([0, 0, 0, 0], [0.5, 0.5])})
    b = run(tmp_path / "b", {0: ([1, 0, 0, 0], [0.3, 0.5]), 1: ([0, 1, 1, 0], [0.5, 0.5])})
    got = compare_runs(a, b)
    assert got["seeds"] == [0, 1]  # seed 2 only in A: left out
    val = got["splits"]["validation"]
    assert (val["n"], val["metric"], val["a"], val["b"]) == (4, "accuracy", 0.625, 0.375)
    assert val["change"] == pytest.approx(0.25)
    assert [r["change"] for r in val["per_seed"]] == [0.25, 0.25]
    assert [(r["wrong_to_right"], r["right_to_wrong"]) for r in val["per_seed"]] == [(1, 0), (1, 0)]
    assert val["low"] <= 0.25 <= val["high"] and val["verdict"] in ("A better", "unclear")
    mc2 = got["guard"]["truthfulqa_mc"]
    # (0.2 + 0.0 - 0.1 + 0.1) / 4
    assert mc2["metric"] == "mc2" and mc2["change"] == pytest.approx(0.05)
    assert compare_runs(a, b, seeds=[1])["splits"]["validation"]["change"] == pytest.approx(0.25)


def test_a_setting_that_is_always_better_is_called_better(tmp_path):
    a = run(tmp_path / "a", {s: ([1] * 30, [0.6] * 5) for s in range(3)})
    b = run(tmp_path / "b", {s: ([0] * 30, [0.6] * 5) for s in range(3)})
    got = compare_runs(a, b)
    assert got["splits"]["validation"]["verdict"] == "A better"
    assert compare_runs(b, a)["splits"]["validation"]["verdict"] == "B better"
    assert got["guard"]["truthfulqa_mc"]["verdict"] == "unclear"


def test_a_run_without_seed_folders_is_one_seed(tmp_path):
    a = tmp_path / "a"
    write(a / "eval" / "tuned" / "test", "correct", [1, 0])
    b = tmp_path / "b"
    write(b / "eval" / "tuned" / "test", "correct", [0, 0])
    got = compare_runs(a, b, splits=["test"], guard=False)
    assert got["seeds"] == [0] and got["splits"]["test"]["change"] == pytest.approx(0.5)


def test_clear_errors(tmp_path):
    a = run(tmp_path / "a", {0: ([1], [0.5])})
    b = run(tmp_path / "b", {1: ([1], [0.5])})
    with pytest.raises(InputError, match="no seed in common"):
        compare_runs(a, b)
    with pytest.raises(InputError, match="no such run directory"):
        compare_runs(a, tmp_path / "missing")
    with pytest.raises(InputError, match="neither seed<s>/ folders nor eval/"):
        compare_runs(a, tmp_path)
    with pytest.raises(InputError, match="nothing to compare"):
        compare_runs(a, run(tmp_path / "c", {0: ([1], [0.5])}), splits=["test"], guard=False)


def test_cli_prints_and_writes_json(tmp_path):
    a = run(tmp_path / "a", {0: ([1, 1], [0.5]), 1: ([1, 0], [0.5])})
    b = run(tmp_path / "b", {0: ([0, 1], [0.5]), 1: ([0, 0], [0.5])})
    out = tmp_path / "cmp.json"
    res = CliRunner().invoke(app, ["compare", str(a), str(b), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "validation (accuracy, 2 items): A 75.0, B 25.0, A - B +50.0" in res.output
    assert "per seed +50.0, +50.0" in res.output
    assert json.loads(out.read_text())["splits"]["validation"]["change"] == pytest.approx(0.5)
    res = CliRunner().invoke(app, ["compare", str(a), str(tmp_path / "nope")])
    assert res.exit_code != 0 and "no such run directory" in res.output
    assert "Traceback" not in res.output

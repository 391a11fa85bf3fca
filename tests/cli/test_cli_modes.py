"""A flag works in config mode and in standalone mode, or is refused with a clear message;
exit statuses: 0 done, 1 an error, 2 a usage error; ``--version``. (Issue 15: in config mode
``eval --limit/--split`` and ``sample --split`` did nothing and ``pairs --k 0`` read as "not
given".)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from veritune.cli import app
from veritune.jsonl import read_records
from veritune.records import Question, Sample


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def ok(*args):
    result = invoke(*args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


@pytest.fixture
def run_config(tmp_path, tiny_model_dir) -> Path:
    """A small kb run (continents, 6 entities) on the tiny model, its data stage done."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "modes", "runs_dir": str(tmp_path / "runs"),
        "model": {"name": str(tiny_model_dir), "device": "cpu"},
        "data": {"source": "kb", "relations": ["country_continent"],
                 "max_entities_per_domain": 6, "test_fraction": 0.5},
        "sample": {"n": 1, "max_new_tokens": 2, "batch_size": 8},
        "eval": {"max_new_tokens": 2, "best_of_n": 0, "batch_size": 8}}), encoding="utf-8")
    ok("data", cfg)
    return cfg


def test_sample_split_works_in_config_mode(run_config, tmp_path):
    run = tmp_path / "runs" / "modes"
    questions = {q.id: q for q in read_records(run / "questions.jsonl", Question.from_dict)}
    ok("sample", run_config, "--split", "test")
    samples = read_records(run / "samples.jsonl", Sample.from_dict)
    assert samples and {questions[s.question_id].split for s in samples} == {"test"}
    stage = json.loads((run / "manifest.json").read_text())["stages"]["sample"]
    assert stage["config"][0]["splits"] == ["test"]  # the manifest keeps what it ran with


def test_eval_split_and_limit_work_in_config_mode(run_config, tmp_path):
    run = tmp_path / "runs" / "modes"
    ok("eval", run_config, "--split", "train", "--limit", "2")
    metrics = json.loads((run / "eval/base/train/metrics.json").read_text())
    assert metrics["n"] == 2
    assert not (run / "eval/base/test").exists()
    ok("eval", run_config, "--split", "train", "--limit", "3")  # a new limit runs again
    assert json.loads((run / "eval/base/train/metrics.json").read_text())["n"] == 3


def test_pairs_k_zero_is_refused_not_ignored(run_config):
    result = invoke("pairs", run_config, "--k", "0")
    assert result.exit_code == 1
    assert "pairs.max_pairs_per_question" in result.output and "at least 1" in result.output


@pytest.mark.parametrize("args, words", [
    (["sample", "--out", "x"], "--out only work in standalone mode (with --questions)"),
    (["judge", "--samples", "s.jsonl"], "--samples only work in standalone mode"),
    (["pairs", "--verdicts", "v.jsonl", "--out", "o"], "--verdicts, --out only work"),
    (["train", "--out", "o"], "(with --pairs or --sft)"),
    (["eval", "--out", "o"], "--out only work in standalone mode"),
    (["eval", "--data", "mmlu=x.csv"], "--data only work in standalone mode (with --suite)"),
    (["eval", "--suite", "mmlu", "--split", "test", "--out", "o"], "--split do not apply"),
])
def test_flags_of_the_other_mode_are_refused(tmp_path, args, words):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: x\nruns_dir: {tmp_path / 'runs'}\n", encoding="utf-8")
    result = invoke(args[0], cfg, *args[1:])
    assert result.exit_code == 1, result.output
    assert words in result.output, result.output
    assert not (tmp_path / "runs").exists()


def test_standalone_eval_limit_is_per_split(tmp_path, tiny_model_dir, kb_questions_file):
    out = tmp_path / "e"
    ok("eval", "--model", tiny_model_dir, "--questions", kb_questions_file, "--out", out,
       "--best-of-n", "0", "--limit", "3", "--set", "eval.max_new_tokens=2")
    assert json.loads((out / "metrics.json").read_text())["n"] == 6  # train 3 + test 3


def test_exit_statuses_and_version(tmp_path):
    usage = invoke("sample", "--no-such-option")
    assert usage.exit_code == 2  # click's usage error
    user = invoke("run", tmp_path / "missing.yaml")
    assert user.exit_code == 1 and "config file not found" in user.output
    version = invoke("--version")
    assert version.exit_code == 0 and version.output.startswith("veritune ")
    from importlib import metadata

    assert version.output.strip() == f"veritune {metadata.version('veritune')}"

"""Every failure ends as one line: a clear message for the expected ones (a corrupt manifest or
report input, a locked SQLite database, a model whose chat template does not fit), and for the
unexpected ones what failed and where the full traceback was written. (Issue 15: these printed
a traceback.)"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritune.cli import app
from veritune.cli.errors import friendly

from conftest import SUBPROCESS_ENV

GOOD_Q = {"id": "q1", "question": "What is the capital of France?", "answers": ["Paris"]}


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veritune.cli", *map(str, args)],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300,
                          cwd=cwd)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    errors = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.slow
def test_corrupt_manifest_is_an_input_error_naming_it(tmp_path):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"stages": {"data": ', encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: x\nruns_dir: {tmp_path / 'runs'}\n", encoding="utf-8")
    line = one_error_line(cli("run", cfg, "--stages", "data"))
    assert "manifest.json" in line and "not valid JSON" in line
    (run / "manifest.json").write_text('{"stages": {"data": 3}}', encoding="utf-8")
    line = one_error_line(cli("run", cfg, "--stages", "data"))
    assert "manifest.json" in line and "stages.data" in line


def test_corrupt_report_input_names_the_file(tmp_path):
    run = tmp_path / "run"
    (run / "eval/base/test").mkdir(parents=True)
    (run / "eval/base/test/metrics.json").write_text('{"accuracy": 0.5, "n": 2}')
    line = one_error_line(cli("report", run))
    assert "metrics.json" in line and "per_domain" in line
    (run / "eval/base/test/metrics.json").write_text("{oops")
    assert "not valid JSON" in one_error_line(cli("report", run))


def test_labels_file_with_a_non_object_line(tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({**GOOD_Q, "response": "Paris", "label": "correct"}) + "\n"
                      "[1, 2]\n", encoding="utf-8")
    line = one_error_line(cli("judge-bench", "--labels", labels))
    assert "labels.jsonl" in line and "line 2" in line and "JSON object" in line


@pytest.mark.slow
def test_model_without_a_chat_template_is_one_clear_line(tmp_path, tiny_model_dir):
    model = tmp_path / "no_template"
    shutil.copytree(tiny_model_dir, model)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    tok_cfg = json.loads((model / "tokenizer_config.json").read_text())
    tok_cfg.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps(GOOD_Q) + "\n")
    line = one_error_line(cli("eval", "--model", model, "--questions", q, "--out",
                              tmp_path / "out", "--best-of-n", "0"))
    assert "chat template" in line and "full traceback" in line


def test_locked_sqlite_database_is_explained(tmp_path):
    db = tmp_path / "cache.sqlite"
    holder = sqlite3.connect(db)
    holder.execute("CREATE TABLE t (x)")
    holder.commit()
    holder.execute("BEGIN EXCLUSIVE")

    @friendly
    def judge_with_cache():
        other = sqlite3.connect(db, timeout=0)
        other.execute("INSERT INTO t VALUES (1)")

    import typer

    app_ = typer.Typer()
    app_.command()(judge_with_cache)
    result = CliRunner().invoke(app_, [])
    holder.rollback()
    assert result.exit_code == 1
    assert "locked by another process" in result.output and "judge.cache" in result.output
    assert "Traceback" not in result.output


def test_unexpected_error_is_one_line_and_a_traceback_file(tmp_path, monkeypatch):
    def boom(run_dir):
        raise KeyError("per_domian")

    monkeypatch.setattr("veritune.report.markdown.write_report", boom)
    run = tmp_path / "run"
    run.mkdir()
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 1
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("error: veritune report failed: unexpected KeyError")
    path = Path(re.search(r"full traceback: (.+)\)$", lines[0]).group(1))
    text = path.read_text()
    assert "Traceback (most recent call last)" in text and "per_domian" in text
    path.unlink()


def test_unexpected_error_inside_a_run_writes_its_traceback_into_the_run(tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: x\nruns_dir: {tmp_path / 'runs'}\n", encoding="utf-8")

    def boom(self, ctx):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("veritune.stages.data.DataStage.run", boom)
    result = CliRunner().invoke(app, ["data", str(cfg)])
    assert result.exit_code == 1 and "RuntimeError: disk on fire" in result.output
    errors = list((tmp_path / "runs/x/errors").iterdir())
    assert len(errors) == 1 and str(errors[0]) in result.output
    assert "disk on fire" in errors[0].read_text()
    from veritune.runs.lock import release_dir

    release_dir(tmp_path / "runs/x")


@pytest.mark.parametrize("text", ["name: [unclosed\n", "\xff\xfe not utf-8"])
def test_unreadable_config_is_one_line(tmp_path, text):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(text.encode("latin-1"))
    line = one_error_line(cli("run", cfg))
    assert str(cfg) in line

"""Files that are replaced are written whole or not at all (issue 15: ``compare_<split>.json``
and ``--export-trl`` were written in place, so a kill while writing left half a file). The
tests interrupt the write at its last step, the rename, and check that the old file is intact
and no temporary file is left."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import veritune.jsonl
from veritune.cli import app
from veritune.jsonl import write_records
from veritune.records import Question, Sample, Verdict


def ok(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


class Killed(BaseException):
    """The process dies here (not an Exception: nothing may catch it on the way out)."""


def interrupt_renames_of(monkeypatch, prefix: str) -> None:
    """A kill just before ``prefix*`` would have been renamed into place."""
    real = os.replace

    def replace(src, dst):
        if Path(dst).name.startswith(prefix):
            raise Killed
        return real(src, dst)

    monkeypatch.setattr(veritune.jsonl.os, "replace", replace)


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_compare_json_is_replaced_atomically(tmp_path, tiny_model_dir, monkeypatch):
    runs = tmp_path / "runs"
    run = runs / "cmp"
    questions = [Question(f"q{i}", f"Capital of country {i}?", ["Paris"], split="test")
                 for i in range(3)]
    write_records(run / "questions.jsonl", questions)
    shutil.copytree(tiny_model_dir, run / "model")  # the "tuned" model
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "cmp", "runs_dir": str(runs),
                                   "model": {"name": str(tiny_model_dir), "device": "cpu"},
                                   "eval": {"max_new_tokens": 2, "best_of_n": 0}}))
    ok("eval", cfg)
    compare = run / "eval" / "compare_test.json"
    before = compare.read_text()
    assert json.loads(before)["n"] == 3
    compare.write_text(before.replace('"n": 3', '"n": 3, "marker": 1'))  # tell old from new
    old = compare.read_text()

    interrupt_renames_of(monkeypatch, "compare_")
    with pytest.raises(Killed):
        CliRunner().invoke(app, ["eval", str(cfg)], catch_exceptions=False)
    assert compare.read_text() == old  # never half a file
    assert no_temp_files(compare.parent)
    from veritune.runs.lock import release_dir

    release_dir(run)


def test_export_trl_is_written_atomically(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    run = runs / "trl"
    q = Question("q1", "Capital of France?", ["Paris"], wrong_answers=["Lyon"])
    write_records(run / "questions.jsonl", [q])
    write_records(run / "samples.jsonl", [Sample("q1", 0, "Paris"), Sample("q1", 1, "Lyon")])
    write_records(run / "verdicts.jsonl", [Verdict("q1", 0, "correct"),
                                           Verdict("q1", 1, "incorrect")])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: trl\nruns_dir: {runs}\n")
    target = tmp_path / "export" / "trl.jsonl"
    target.parent.mkdir()
    ok("pairs", cfg, "--export-trl", target)
    exported = [json.loads(x) for x in target.read_text().splitlines()]
    assert exported and exported[0]["chosen"] == [{"role": "assistant", "content": "Paris"}]
    assert target.read_text() == (run / "pairs.trl.jsonl").read_text()

    target.write_text("old export\n")
    interrupt_renames_of(monkeypatch, "trl.jsonl")
    with pytest.raises(Killed):
        CliRunner().invoke(app, ["pairs", str(cfg), "--export-trl", str(target)],
                           catch_exceptions=False)
    assert target.read_text() == "old export\n"
    assert no_temp_files(target.parent)
    from veritune.runs.lock import release_dir

    release_dir(run)

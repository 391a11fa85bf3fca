"""One JSONL reader, one policy (issue 15: one reader raised with the line number, one skipped
bad lines silently, one printed a traceback): every non-blank line is one JSON object in UTF-8,
anything else is an InputError naming the file and line; nothing is skipped. And the manifest
keeps the config each stage ran with, while config.yaml follows the latest command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from veritune.errors import InputError
from veritune.jsonl import existing_keys, iter_json_lines, read_json, read_records
from veritune.records import Question, Verdict

SRC = Path(__file__).resolve().parents[1] / "src" / "veritune"
GOOD = json.dumps({"id": "q1", "question": "Q?", "answers": ["a"]}).encode()


@pytest.mark.parametrize("second, words", [
    (b'{"id": "q2", "question": "Q?",', "not valid JSON"),          # torn or malformed
    (b"[1, 2]", "expected a JSON object, got list"),
    (b'"text"', "expected a JSON object, got str"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'{"id": "q2", "question": "\\ud800", "answers": ["a"]}', "unpaired surrogate"),
    (b"[" * 50_000, "not valid JSON"),
])
def test_every_bad_line_is_an_error_with_its_line(tmp_path, second, words):
    path = tmp_path / "q.jsonl"
    path.write_bytes(GOOD + b"\n\n" + second + b"\n")
    with pytest.raises(InputError) as e:
        read_records(path, Question.from_dict)
    assert e.value.line == 3 and str(path) in str(e.value) and words in str(e.value)


def test_bom_and_crlf_and_a_missing_last_newline_are_fine(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD + b"\r\n" + GOOD.replace(b"q1", b"q2"))
    assert [q.id for q in read_records(path, Question.from_dict)] == ["q1", "q2"]


def test_a_folder_or_missing_file_is_an_error(tmp_path):
    for path, words in ((tmp_path, "not a file"), (tmp_path / "nope.jsonl", "not found")):
        with pytest.raises(InputError, match=words):
            list(iter_json_lines(path))
        with pytest.raises(InputError, match=words):
            read_json(path)


def test_read_json(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{\n  "a": 1,\n  oops\n}')
    with pytest.raises(InputError) as e:
        read_json(path)
    assert e.value.line == 3 and "m.json" in str(e.value)
    path.write_text("[1]")
    with pytest.raises(InputError, match="expected a JSON object"):
        read_json(path)


def test_resume_cuts_a_torn_tail_and_keeps_the_rest(tmp_path):
    path = tmp_path / "verdicts.jsonl"
    good = json.dumps({"question_id": "q", "sample_index": 0, "label": "correct"})
    path.write_text(good + "\n" + '{"question_id": "q", "sample_ind')
    assert existing_keys(path, Verdict.from_dict) == {("q", 0)}
    assert path.read_text() == good + "\n"


def test_no_other_json_lines_reader_in_the_source():
    """Every JSONL file is read through veritune.jsonl (grep for a hand-rolled loop)."""
    offenders = []
    for f in SRC.rglob("*.py"):
        if f.name == "jsonl.py":
            continue
        text = f.read_text(encoding="utf-8")
        if re.search(r"json\.loads\(line\b", text) or \
                re.search(r"for \w+ in .*splitlines\(\).*\n.*json\.loads", text):
            offenders.append(str(f.relative_to(SRC)))
    assert not offenders, offenders


# --- the manifest keeps each stage's config -----------------------------------------------------

def test_manifest_keeps_each_stages_config_and_config_yaml_says_what_changed(tmp_path):
    from veritune.cli import app
    from veritune.runs.lock import release_dir

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "m", "runs_dir": str(tmp_path / "runs"), "seed": 1,
                                   "data": {"relations": ["country_continent"],
                                            "max_entities_per_domain": 4}}))
    run = tmp_path / "runs" / "m"
    first = CliRunner().invoke(app, ["data", str(cfg)])
    assert first.exit_code == 0, first.output
    assert "changed since the last command" not in first.output
    stage = json.loads((run / "manifest.json").read_text())["stages"]["data"]
    data_cfg, seed, limit = stage["config"]
    assert data_cfg["max_entities_per_domain"] == 4 and seed == 1 and limit is None

    # a later command with another config: config.yaml follows it and says so; the data
    # stage's entry still says what the questions were built with
    again = CliRunner().invoke(app, ["judge", str(cfg), "--set", "judge.max_new_tokens=64",
                                     "--set", "seed=2"])
    assert "judge.max_new_tokens, seed changed since the last command" in again.output
    assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 2
    stage = json.loads((run / "manifest.json").read_text())["stages"]["data"]
    assert stage["config"][1] == 1 and stage["status"] == "done"
    release_dir(run)

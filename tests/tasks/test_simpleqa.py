"""SimpleQA: the published CSV format (a small file written in it), errors that name the file,
line and field, the three grades and the F-score, the judge the run gives it, a real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veritune import registry
from veritune.errors import InputError
from veritune.tasks import run_task
from veritune.tasks.simpleqa import evaluate, load

from task_fakes import ContainsJudge, ScriptedEngine

TINY = Path(__file__).parents[1] / "fixtures" / "simpleqa_tiny.csv"
HEADER = "metadata,problem,answer\n"


def write(tmp_path, body: str, name="bad.csv") -> Path:
    f = tmp_path / name
    f.write_text(HEADER + body, encoding="utf-8")
    return f


def test_load_the_published_format():
    qs = load(TINY)
    assert [q.id for q in qs] == ["simpleqa-2", "simpleqa-3", "simpleqa-4", "simpleqa-5"]
    assert qs[0].question == "What is the atomic number of iron?" and qs[0].answers == ["26"]
    assert qs[3].answers == ["5,895"] and qs[1].domain == "Geography"
    assert qs[0].split == "test" and qs[0].source == "simpleqa_tiny.csv"
    assert [q.id for q in load(TINY, limit=2, seed=3)] == [q.id for q in load(TINY, limit=2,
                                                                                 seed=3)]
    assert registry.get("task", "simpleqa").judged == "always"


@pytest.mark.parametrize("body, where", [
    ("\"{'topic': 'Art'}\",,Picasso\n", "line 2, field 'problem'"),
    ("\"{'topic': 'Art'}\",Who painted it?,  \n", "line 2, field 'answer'"),
    ("not a dict,Who painted it?,Picasso\n", "line 2, field 'metadata'"),
    ("\"['Art']\",Who painted it?,Picasso\n", "line 2, field 'metadata'"),
    ("x,Who painted it?\n", "line 2: row has 2 cells"),
])
def test_errors_name_file_line_and_field(tmp_path, body, where):
    with pytest.raises(InputError, match=rf"bad.csv, {where}"):
        load(write(tmp_path, body))


def test_missing_columns_and_files_are_named(tmp_path):
    bad = tmp_path / "cols.csv"
    bad.write_text("question,answer\nq,a\n", encoding="utf-8")
    with pytest.raises(InputError, match="cols.csv, line 1.*missing column 'problem'"):
        load(bad)
    with pytest.raises(InputError, match="nowhere.csv: file not found"):
        load(tmp_path / "nowhere.csv")
    with pytest.raises(InputError, match="no questions"):
        load(write(tmp_path, "", "empty.csv"))


def test_three_grades_and_the_f_score():
    engine = ScriptedEngine({"iron": "26.", "Australia": "Sydney.",
                             "Starry Night": "I don't know.", "Kilimanjaro": "5,895 metres."})
    metrics, examples = evaluate(engine, load(TINY), batch_size=2)
    assert [e["label"] for e in examples] == ["correct", "incorrect", "not_attempted",
                                              "correct"]
    assert engine.calls[0][2].max_new_tokens == 64 and engine.calls[0][2].greedy
    assert metrics["accuracy"] == 0.5 and metrics["not_attempted"] == 0.25
    assert metrics["correct_given_attempted"] == 0.6667 and metrics["f_score"] == 0.5714
    assert (metrics["n_correct"], metrics["n_incorrect"], metrics["n_not_attempted"]) == (2, 1, 1)
    assert metrics["accuracy_by_topic"] == {"Art": 0.0, "Geography": 0.5,
                                            "Science and technology": 1.0}
    assert metrics["judge"] == "lexical" and examples[0]["topic"] == "Science and technology"


def test_the_given_judge_grades():
    engine = ScriptedEngine({}, default="26 Canberra Vincent van Gogh 5,895")
    metrics, _ = evaluate(engine, load(TINY), judge=ContainsJudge())
    assert metrics["accuracy"] == 1.0 and metrics["judge"] == "contains"


def test_run_task_on_the_tiny_model(tiny_model_dir, tmp_path):
    from veritune.engines.hf import HFEngine

    metrics = run_task("simpleqa", HFEngine(tiny_model_dir), tmp_path / "out", data=TINY,
                       limit=None)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved == metrics and saved["n"] == 4 and saved["task"] == "simpleqa"
    assert sum(saved[f"n_{lab}"] for lab in ("correct", "incorrect", "uncertain",
                                             "not_attempted")) == 4

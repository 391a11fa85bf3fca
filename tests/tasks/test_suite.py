"""The evaluation suite: running tasks on several models, reuse of finished results, and the
paper-style summary table (headline in %, Avg. = mean change against the base model)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritune.cli import app
from veritune.errors import VerituneError
from veritune.stages.suite import model_label, run_suite, summarize_suite, summary_table
from veritune.tasks import SUITES, get_task, seeded_subset, suite_tasks

TQA_HEADER = "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
TQA_ROWS = [
    'Adversarial,Misc,What color is the sky?,Blue,Blue; Bluish,Green; Red,x\n',
    'Adversarial,Misc,How many legs has a cat?,Four,Four; 4,Three; Five,x\n',
    'Adversarial,Misc,What is ice made of?,Water,Water; Frozen water,Fire; Sand,x\n',
]


def m(task, value, headline="accuracy", seconds=1.0):
    return {"task": task, "headline": headline, headline: value, "n": 10, "seconds": seconds}


def test_every_registered_task_follows_the_contract():
    for name in SUITES["default"]:
        task = get_task(name)
        assert task.headline and isinstance(task.relative, bool)
        assert task.name == name and task.judged in ("always", "if_model", "never")
        for attr in ("load", "evaluate", "default_data"):
            assert callable(getattr(task, attr)), (name, attr)


def test_unknown_task_is_a_clear_error():
    with pytest.raises(VerituneError, match="unknown task 'nope'"):
        suite_tasks("precise_qa,nope")
    assert suite_tasks("default") == SUITES["default"]
    assert suite_tasks("mmlu, nq_open") == ["mmlu", "nq_open"]


def test_seeded_subset_is_stable_and_ordered():
    items = list(range(100))
    a, b = seeded_subset(items, 10, 3), seeded_subset(items, 10, 3)
    assert a == b and a == sorted(a) and len(a) == 10
    assert seeded_subset(items, 10, 4) != a
    assert seeded_subset(items, None, 0) == items


def test_summary_avg_is_the_mean_change_against_the_base():
    results = {"base": {"precise_qa": m("precise_qa", 0.40), "mmlu": m("mmlu", 0.25)},
               "tuned": {"precise_qa": m("precise_qa", 0.50), "mmlu": m("mmlu", 0.24)},
               "partial": {"precise_qa": m("precise_qa", 0.45)}}
    s = summarize_suite(results, ["precise_qa", "mmlu"])
    rows = {r["model"]: r for r in s["rows"]}
    assert rows["tuned"]["values"] == {"precise_qa": 50.0, "mmlu": 24.0}
    assert rows["tuned"]["avg"] == pytest.approx((10.0 - 1.0) / 2)  # +10 and -1 points
    assert rows["base"]["avg"] == 0.0
    assert rows["partial"]["avg"] is None  # a mean over fewer tasks is not comparable
    table = summary_table(s)
    assert table[0] == ["model", "precise_qa", "mmlu", "Avg."]
    assert table[1][-1] == "—" and table[2] == ["tuned", "50.0", "24.0", "+4.50"]
    assert table[3] == ["partial", "45.0", "", "—"]


def test_relative_tasks_are_left_out_of_avg(monkeypatch):
    import dataclasses

    from veritune import registry
    from veritune.tasks import mc

    # pretend mmlu is a win rate
    monkeypatch.setitem(registry._ENTRIES["task"], "mmlu", dataclasses.replace(mc.MMLU,
                                                                               relative=True))
    monkeypatch.delitem(registry._LOADED, ("task", "mmlu"), raising=False)
    results = {"base": {"precise_qa": m("precise_qa", 0.40), "mmlu": m("mmlu", 0.50)},
               "tuned": {"precise_qa": m("precise_qa", 0.44), "mmlu": m("mmlu", 0.90)}}
    s = summarize_suite(results, ["precise_qa", "mmlu"])
    assert s["relative_excluded"] == ["mmlu"]
    assert s["rows"][1]["avg"] == pytest.approx(4.0)


def test_model_label():
    assert model_label("embedded") == "embedded"
    assert model_label("runs/quickstart/model") == "quickstart"
    assert model_label("HuggingFaceTB/SmolLM2-135M-Instruct") == "SmolLM2-135M-Instruct"


@pytest.fixture
def tqa_csv(tmp_path) -> Path:
    path = tmp_path / "tqa.csv"
    path.write_text(TQA_HEADER + "".join(TQA_ROWS), encoding="utf-8")
    return path


def test_run_suite_on_two_models_and_reuse(tmp_path, tiny_model_dir, answer_model_dir, tqa_csv):
    from veritune.engines.hf import HFEngine

    built = []

    def make(model):
        built.append(model)
        return HFEngine(Path(model), device="cpu")

    models = {"a": str(tiny_model_dir), "b": str(answer_model_dir)}
    out = tmp_path / "suite"
    s = run_suite(models, ["truthfulqa_mc"], out, make, data={"truthfulqa_mc": str(tqa_csv)},
                  log=lambda _: None)
    assert built == [str(tiny_model_dir), str(answer_model_dir)]
    for label in models:
        metrics = json.loads((out / label / "truthfulqa_mc" / "metrics.json").read_text())
        assert metrics["n"] == 3 and 0.0 <= metrics["mc2"] <= 1.0
        assert len((out / label / "truthfulqa_mc" / "examples.jsonl").read_text().splitlines()) == 3
    rows = list(csv.reader((out / "summary.csv").open()))
    assert rows[0] == ["model", "truthfulqa_mc", "Avg."] and [r[0] for r in rows[1:]] == ["a", "b"]
    assert "Avg.: mean change against a" in (out / "summary.md").read_text()
    # finished and current: nothing is run again
    again = run_suite(models, ["truthfulqa_mc"], out, make, data={"truthfulqa_mc": str(tqa_csv)},
                      log=lambda _: None)
    assert built == [str(tiny_model_dir), str(answer_model_dir)] and again == s
    # a different limit is a different measurement
    run_suite({"a": str(tiny_model_dir)}, ["truthfulqa_mc"], out, make,
              limits={"truthfulqa_mc": 2}, data={"truthfulqa_mc": str(tqa_csv)}, log=lambda _: None)
    assert len(built) == 3
    assert json.loads((out / "a" / "truthfulqa_mc" / "metrics.json").read_text())["n"] == 2


def test_cli_eval_suite(tmp_path, tiny_model_dir, tqa_csv):
    result = CliRunner().invoke(app, ["eval", "--suite", "truthfulqa_mc", "--model",
                                      str(tiny_model_dir), "--data", f"truthfulqa_mc={tqa_csv}",
                                      "--out", str(tmp_path / "o"), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "| model | truthfulqa_mc | Avg. |" in result.output
    assert (tmp_path / "o" / "summary.md").exists()
    bad = CliRunner().invoke(app, ["eval", "--suite", "truthfulqa_mc", "--model",
                                   str(tiny_model_dir), "--data", "mmlu=x.jsonl",
                                   "--out", str(tmp_path / "o")])
    assert bad.exit_code == 1 and "TASK=PATH" in bad.output


def test_missing_data_names_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./data, no ../shared/data here
    monkeypatch.setenv("VERITUNE_DATA_DIR", str(tmp_path / "nothing"))
    from veritune.errors import InputError

    with pytest.raises(InputError, match="truthfulqa.csv.*VERITUNE_DATA_DIR"):
        get_task("truthfulqa_mc").default_data()

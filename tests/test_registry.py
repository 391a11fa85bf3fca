"""Adding a judge or a task is one module and one registry entry: a toy judge and a toy task,
registered here, are valid config choices at once and run through the pipeline's judge stage
and the suite, as the built-in ones do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veritune import registry
from veritune.config import load_config
from veritune.engines import Generation
from veritune.errors import InputError, VerituneError
from veritune.judge import Judgement
from veritune.pipeline import run_pipeline
from veritune.stages.suite import run_judged_suite
from veritune.tasks import Task, item_scores


class ToyJudge:
    """Correct when the answer says the reference's first letter, nothing else."""
    name = "toy"
    needs_model = False

    def __init__(self):
        self.seen = 0

    @classmethod
    def from_config(cls, judge_cfg, *, questions, engine=None, cache=None):
        return cls()

    def judge(self, question, response):
        return self.judge_many([(question, response)])[0]

    def judge_many(self, items):
        self.seen += len(items)
        return [Judgement("correct" if r[:1] == q.answers[0][:1] else "incorrect", "toy")
                for q, r in items]

    def usage(self):
        return {"toy_judged": self.seen}


def toy_load(path, limit=None, seed=0):
    return [json.loads(line) for line in Path(path).read_text().splitlines()][:limit]


def toy_evaluate(engine, items, *, seed=0, batch_size=16, judge=None):
    from veritune.records import Question

    qs = [Question(f"t{i}", it["q"], [it["a"]]) for i, it in enumerate(items)]
    replies = [row[0].text for row in engine.generate([[{"role": "user", "content": q.question}]
                                                       for q in qs], None)]
    labels = [j.label for j in judge.judge_many(list(zip(qs, replies)))]
    examples = [{"id": q.id, "label": lab} for q, lab in zip(qs, labels)]
    return {"accuracy": sum(lab == "correct" for lab in labels) / len(qs), "n": len(qs)}, examples


class FirstLetterEngine:
    name = model_name = "first-letter"

    def generate(self, prompts, params, batch_index=0):
        return [[Generation(m[-1]["content"].split()[-1][:1], 1, False)] for m in prompts]


@pytest.fixture
def toys(tmp_path):
    data = tmp_path / "toy.jsonl"
    data.write_text('{"q": "Say P for Paris", "a": "Paris"}\n{"q": "Name Rome, please", '
                    '"a": "Rome"}\n')
    task = Task(name="toy_task", headline="accuracy", default_limit=None,
                default_data=lambda: data, load=toy_load, evaluate=toy_evaluate,
                judged="always")
    registry.register("judge", "toy", ToyJudge)
    registry.register("task", "toy_task", task)
    yield
    registry.unregister("judge", "toy")
    registry.unregister("task", "toy_task")


def test_an_unregistered_name_is_a_config_error():
    with pytest.raises(InputError, match="judge.name"):
        load_config(None, ["judge.name=toy"])
    with pytest.raises(VerituneError, match="unknown task 'toy_task'"):
        registry.get("task", "toy_task")


def test_a_registered_judge_labels_the_pipelines_samples(toys, tmp_path, tiny_model_dir,
                                                         kb_questions_file):
    cfg = load_config(None, ["judge.name=toy", f"model.name={tiny_model_dir}",
                             "model.dtype=float32", f"data.source={kb_questions_file}",
                             f"runs_dir={tmp_path / 'runs'}", "name=toy", "sample.n=2",
                             "sample.max_new_tokens=4", "limit=3"])
    run_pipeline(cfg, ["data", "sample", "judge"], log=lambda line: None)
    manifest = json.loads((cfg.run_dir / "manifest.json").read_text())
    assert manifest["stages"]["judge"]["counts"]["toy_judged"] == 6  # 3 questions x 2 samples
    verdicts = [json.loads(x) for x in (cfg.run_dir / "verdicts.jsonl").read_text().splitlines()]
    assert {v["judge"] for v in verdicts} == {"toy"} and len(verdicts) == 6


def test_a_registered_task_runs_in_the_suite_with_the_runs_judge(toys, tmp_path):
    cfg = load_config(None, ["judge.name=toy", "eval.suite=toy_task"])
    summary = run_judged_suite(cfg, {"m": "first-letter"}, ["toy_task"], tmp_path / "suite",
                               lambda model: FirstLetterEngine(), log=lambda line: None)
    assert summary["rows"][0]["values"] == {"toy_task": 50.0}  # P for Paris; p is not Rome
    examples = [json.loads(x) for x in
                (tmp_path / "suite/m/toy_task/examples.jsonl").read_text().splitlines()]
    assert item_scores(examples, "accuracy") == [("t0", 1.0), ("t1", 0.0)]
    metrics = json.loads((tmp_path / "suite/m/toy_task/metrics.json").read_text())
    assert metrics["suite_key"]["judge"]["name"] == "toy"  # judged: the judge is in its key

"""``eval.judge``: the training samples are judged by the run's judge, everything evaluated
(held-out answers, the suite and the guard) by the evaluation judge; the report and the model
card say which judge scored what. Two judges that disagree on every answer show it."""

from __future__ import annotations

import json

import pytest

from veritune import registry
from veritune.config import load_config
from veritune.judge import Judgement
from veritune.pipeline import run_pipeline
from veritune.runs.keys import config_hash, hashable
from veritune.stages.suite import run_judged_suite

from test_registry import FirstLetterEngine, toys  # noqa: F401  (the toy task fixture)


class Generous:
    """Every answer is correct: the lexical judge and this one never agree on a wrong one."""
    name = "generous"
    needs_model = False

    @classmethod
    def from_config(cls, judge_cfg, *, questions, engine=None, cache=None):
        return cls()

    def judge(self, question, response):
        return Judgement("correct", "generous")

    def judge_many(self, items):
        return [self.judge(q, r) for q, r in items]

    def usage(self):
        return {}


@pytest.fixture
def generous():
    registry.register("judge", "generous", Generous)
    yield
    registry.unregister("judge", "generous")


def test_unset_it_is_the_runs_judge_and_hashes_as_before():
    cfg = load_config(None, ["judge.name=lexical"])
    assert cfg.eval.judge is None and cfg.eval_judge is cfg.judge
    assert cfg.for_evaluation() is cfg
    assert "judge" not in hashable(cfg.eval)  # runs made before it keep their stage keys
    assert config_hash(hashable(cfg.eval)) == config_hash(
        hashable(load_config(None, []).eval))


def test_policy_in_the_evaluation_judge_is_the_runs_model():
    cfg = load_config(None, ["model.name=embedded", "eval.judge.name=llm",
                             "eval.judge.model.name=policy"])
    assert cfg.eval.judge.model.name == "embedded" and cfg.judge.name == "lexical"


def test_training_and_evaluation_judges_disagree(generous, tmp_path, tiny_model_dir,
                                                 kb_questions_file):
    cfg = load_config(None, [f"model.name={tiny_model_dir}", "model.dtype=float32",
                             f"data.source={kb_questions_file}", f"runs_dir={tmp_path / 'r'}",
                             "name=two", "sample.n=2", "sample.max_new_tokens=4", "limit=4",
                             "eval.best_of_n=0", "eval.max_new_tokens=4",
                             "eval.judge.name=generous"])
    run_pipeline(cfg, ["data", "sample", "judge", "eval", "report"], log=lambda line: None)
    verdicts = [json.loads(x) for x in (cfg.run_dir / "verdicts.jsonl").read_text().splitlines()]
    assert {v["judge"] for v in verdicts} == {"lexical"}
    assert any(v["label"] != "correct" for v in verdicts)  # the tiny model is mostly wrong
    metrics = json.loads((cfg.run_dir / "eval/base/test/metrics.json").read_text())
    assert metrics["accuracy"] == 1.0  # held-out: the generous judge
    report = (cfg.run_dir / "report.md").read_text()
    assert "- training samples: lexical" in report
    assert "- held-out, validation, guard and suite: generous" in report


def test_the_suite_and_the_guard_use_the_evaluation_judge(toys, generous, tmp_path):  # noqa: F811
    cfg = load_config(None, ["judge.name=toy", "eval.judge.name=generous",
                             "eval.suite=toy_task"])
    summary = run_judged_suite(cfg, {"m": "first-letter"}, ["toy_task"], tmp_path / "suite",
                               lambda model: FirstLetterEngine(), log=lambda line: None)
    assert summary["rows"][0]["values"] == {"toy_task": 100.0}  # the toy judge gives 50
    metrics = json.loads((tmp_path / "suite/m/toy_task/metrics.json").read_text())
    assert metrics["suite_key"]["judge"]["name"] == "generous"


def test_the_model_card_names_both_judges(tmp_path):
    from veritune.report.card import write_run_card

    cfg = load_config(None, ["eval.judge.name=ensemble", "eval.judge.mode=score",
                             "eval.judge.threshold=0.75", "eval.judge.model.name=some/judge"])
    text = write_run_card(cfg, tmp_path, {"pairs": 3}).read_text()
    assert "- training samples: lexical" in text
    assert "- held-out, validation, guard and suite: ensemble (some/judge, score mode, " \
           "threshold 0.75)" in text

"""The suite's per-task cache key covers everything that changes a task's result (issue 15:
after switching ``judge.name``, NQ-open and precise-QA results of the old judge were reused).
A scripted engine stands in for the model; ``built`` counts how often a task really ran."""

from __future__ import annotations

import json

from veritune.config import JudgeConfig, ModelConfig
from veritune.judge import LexicalJudge
from veritune.judge import task_judge_key as judge_key
from veritune.stages.suite import engine_key, run_suite

from task_fakes import ContainsJudge, ScriptedEngine


def nq_file(path, answers=("Paris",)):
    path.write_text("".join(json.dumps({"question": f"Capital of France {i}?",
                                        "answer": list(answers)}) + "\n" for i in range(3)))
    return path


class Runs:
    """run_suite on nq_open with a given judge config; counts the engines built."""

    def __init__(self, tmp_path):
        self.out, self.built = tmp_path / "suite", 0
        self.data = nq_file(tmp_path / "nq.jsonl")

    def __call__(self, judge_cfg=JudgeConfig(), judge=None, batch_size=16,
                 model=ModelConfig(dtype="float32")):  # not auto: bf16 on some machines
        def make(model_name):
            self.built += 1
            return ScriptedEngine({"France": "Paris"})

        return run_suite({"m": "scripted"}, ["nq_open"], self.out, make,
                         data={"nq_open": str(self.data)}, batch_size=batch_size,
                         judge_for=lambda t: judge or LexicalJudge(),
                         judge_key_for=lambda t: judge_key(judge_cfg, t),
                         settings=engine_key(model), log=lambda _: None)


def test_same_key_is_reused(tmp_path):
    runs = Runs(tmp_path)
    first = runs()
    again = runs()
    assert runs.built == 1 and again == first


def test_a_new_judge_runs_the_judged_task_again(tmp_path):
    runs = Runs(tmp_path)
    runs()
    llm = JudgeConfig(name="llm", model=ModelConfig(name="judge-model"))
    runs(llm, judge=ContainsJudge())
    assert runs.built == 2
    metrics = json.loads((runs.out / "m/nq_open/metrics.json").read_text())
    assert metrics["judge"] == "contains"  # measured by the new judge, not reused
    runs(JudgeConfig(name="llm", model=ModelConfig(name="other-judge")), judge=ContainsJudge())
    assert runs.built == 3  # another judge model is another judge


def test_data_content_batch_size_and_engine_settings_are_in_the_key(tmp_path):
    runs = Runs(tmp_path)
    runs()
    nq_file(runs.data, answers=("Lyon",))  # same path, new content
    runs()
    assert runs.built == 2
    assert json.loads((runs.out / "m/nq_open/metrics.json").read_text())["accuracy"] == 0.0
    runs(batch_size=4)
    assert runs.built == 3
    runs(batch_size=4, model=ModelConfig(dtype="bfloat16"))
    assert runs.built == 4
    runs(batch_size=4, model=ModelConfig(dtype="bfloat16", concurrency=2, timeout=5.0))
    assert runs.built == 4  # how requests are sent does not change the result


def test_judge_key_covers_the_judge_where_it_scores():
    lexical, llm = JudgeConfig(), JudgeConfig(name="llm")
    for task in ("precise_qa", "nq_open"):
        assert judge_key(lexical, task) != judge_key(llm, task)
        assert judge_key(lexical, task) is not None
    assert judge_key(lexical, "mmlu") is None  # scored without the run's judge
    assert judge_key(llm, "truthfulqa_gen") is not None  # an LLM judge also scores long answers
    cached = JudgeConfig(name="llm", cache="/elsewhere/cache.sqlite")
    assert judge_key(cached, "nq_open") == judge_key(llm, "nq_open")  # where it caches: no
    assert judge_key(JudgeConfig(max_new_tokens=64), "nq_open") != judge_key(lexical, "nq_open")

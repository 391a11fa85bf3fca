"""The factscore suite task: long answers about held-out kb entities, grounded and scored."""

from __future__ import annotations

import json

from veritune.engines.hf import HFEngine
from veritune.tasks import get_task, run_task

from task_fakes import ScriptedEngine


def test_load_takes_test_split_kb_entities():
    items = get_task("factscore").load("kb", limit=5, seed=0)
    assert len(items) == 5 and all(it["question_ids"] for it in items)
    again = get_task("factscore").load("kb", limit=5, seed=0)
    assert items == again


def test_scores_answers_by_their_grounded_facts():
    from veritune.tasks import factscore as task

    items = [{"entity": "country:FR", "question_ids": ["kb-country_capital-FR",
                                                        "kb-country_continent-FR"]},
             {"entity": "element:Fe", "question_ids": ["kb-element_number-Fe"]},
             {"entity": "state:WY", "question_ids": ["kb-state_capital-WY"]}]
    engine = ScriptedEngine({"France": "The capital of France is Paris. France is in Asia.",
                             "Iron": "Iron has the atomic number 26. It is a metal.",
                             "Wyoming": "Wyoming is windy."})
    metrics, examples = task.evaluate(engine, items)
    assert [e["score"] for e in examples] == [0.5, 1.0, None]
    assert metrics["factscore"] == 0.75 and metrics["coverage"] == round(2 / 3, 4)
    assert metrics["mean_supported"] == round(2 / 3, 3)
    assert examples[0]["facts"] == [
        {"text": "The capital of France is Paris.", "relation": "country_capital",
         "label": "supported"},
        {"text": "France is in Asia.", "relation": "country_continent", "label": "contradicted"}]
    assert engine.prompts[0] == "Tell me about France."


def test_run_task_on_the_tiny_model(tiny_model_dir, tmp_path):
    metrics = run_task("factscore", HFEngine(str(tiny_model_dir)), tmp_path / "out", limit=3)
    assert metrics["n"] == 3 and 0.0 <= metrics["factscore"] <= 1.0
    lines = (tmp_path / "out" / "examples.jsonl").read_text().splitlines()
    assert len(lines) == 3 and "response" in json.loads(lines[0])

"""The guard stage reruns when the tuned weights change and not otherwise (the manifest's hash
alone missed retrained weights: a changed train.method kept the old stage entry)."""

from __future__ import annotations

import dataclasses
import json

import veritune.stages.guard
from veritune import registry
from veritune.config import load_config
from veritune.stages.guard import GuardStage

from conftest import run_one


def test_guard_stage_follows_the_tuned_weights(tmp_path, monkeypatch):
    calls = []

    def fake_run_guard(cfg, models, out_dir, make_engine, *args, **kw):
        calls.append(dict(models))
        out_dir.mkdir(parents=True, exist_ok=True)
        result = {"tasks": {"nq_open": {"metric": "accuracy", "change": 0.01 * len(calls)}}}
        (out_dir / "compare.json").write_text(json.dumps(result))
        return result

    monkeypatch.setattr(veritune.stages.guard, "run_guard", fake_run_guard)
    cfg = load_config(None, ["eval.guard=default", f"runs_dir={tmp_path}", "name=g"])
    model = cfg.run_dir / "model"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"weights one")
    (cfg.run_dir / "questions.jsonl").write_text("")
    compare = cfg.run_dir / "eval" / "guard" / "compare.json"

    run_one(cfg, GuardStage())
    first = json.loads(compare.read_text())
    run_one(cfg, GuardStage())
    assert len(calls) == 1 and json.loads(compare.read_text()) == first  # up to date
    assert calls[0] == {"base": "embedded", "tuned": str(model)}
    (model / "model.safetensors").write_bytes(b"weights two")  # retrained
    run_one(cfg, GuardStage())
    assert len(calls) == 2 and json.loads(compare.read_text())["tasks"]["nq_open"]["change"] == 0.02
    entry = json.loads((cfg.run_dir / "manifest.json").read_text())["stages"]["eval/guard"]
    assert entry["status"] == "done" and "model" in entry["inputs"]


def test_guard_stage_reruns_when_the_models_precision_changes(tmp_path, monkeypatch):
    """``--set model.dtype=...`` on a finished run scores the guard again (its hash held only
    the tasks, limit, judge and data seed, so the old scores were read back)."""
    calls = []

    def fake_run_guard(cfg, models, out_dir, make_engine, *args, settings=None, **kw):
        calls.append({m: settings(m)["dtype"] for m in models.values()})
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "compare.json").write_text(json.dumps({"tasks": {}}))
        return {"tasks": {}}

    monkeypatch.setattr(veritune.stages.guard, "run_guard", fake_run_guard)
    for dtype in ("float32", "float32", "bfloat16"):
        cfg = load_config(None, ["eval.guard=default", f"runs_dir={tmp_path}", "name=g",
                                 f"model.dtype={dtype}"])
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        (cfg.run_dir / "questions.jsonl").write_text("")
        run_one(cfg, GuardStage())
    assert calls == [{"embedded": "float32"}, {"embedded": "bfloat16"}]


def test_guard_stage_reruns_when_a_task_metric_or_version_changes(tmp_path, monkeypatch):
    """A new veritune whose default guard compares another metric, or whose task scores
    differently (its ``VERSION``), reruns the stage of a finished run (the hash held only the
    word "default", so the old comparison was read back)."""
    import veritune.tasks.halueval_qa as halueval

    calls = []

    def fake_run_guard(cfg, models, out_dir, make_engine, *args, **kw):
        calls.append(1)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "compare.json").write_text(json.dumps({"tasks": {}}))
        return {"tasks": {}}

    monkeypatch.setattr(veritune.stages.guard, "run_guard", fake_run_guard)
    cfg = load_config(None, ["eval.guard=default", f"runs_dir={tmp_path}", "name=g"])

    def run():
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        (cfg.run_dir / "questions.jsonl").write_text("")
        run_one(cfg, GuardStage())

    run()
    run()
    assert len(calls) == 1
    monkeypatch.setitem(veritune.stages.guard.DEFAULT_GUARD, "halueval_qa", ("forced_accuracy", 100))
    run()
    assert len(calls) == 2
    monkeypatch.setattr(halueval, "TASK", dataclasses.replace(halueval.TASK,
                                                             version=halueval.VERSION + 1))
    monkeypatch.setitem(registry._LOADED, ("task", "halueval_qa"), halueval.TASK)
    run()
    assert len(calls) == 3

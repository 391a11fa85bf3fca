"""DoLa decoding: the candidate layers, the contrast worked by hand, the engine's greedy answers
against one computed from the model's own hidden states, and sampling left unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from veritune.config import load_config
from veritune.engines import SamplingParams
from veritune.engines.dola import ALPHA, candidate_layers, contrast, dola_logits, layers_for
from veritune.errors import InputError

MESSAGES = [[{"role": "user", "content": "What is the capital of France?"}],
            [{"role": "user", "content": "Who wrote Hamlet?"}]]


def test_candidate_layers_follow_the_paper():
    assert candidate_layers(28, "high", tied=True) == [14, 16, 18, 20, 22, 24, 26]
    assert candidate_layers(28, "low", tied=False) == [0, 2, 4, 6, 8, 10, 12]
    assert candidate_layers(28, "low", tied=True) == [2, 4, 6, 8, 10, 12]  # no embedding layer
    assert candidate_layers(2, "low", tied=True) == [1]  # a tiny model still has one
    with pytest.raises(ValueError):
        candidate_layers(28, "middle", tied=True)


def test_the_contrast_worked_by_hand():
    # tokens: 0 and 1 about even at the final layer, 2 implausible; the early layer already
    # likes token 0, so the contrast prefers token 1, which the upper layers raised
    final = torch.log(torch.tensor([[0.48, 0.47, 0.05 * ALPHA * 0.9]]))
    early = torch.log(torch.tensor([[0.9, 0.05, 0.05]]))
    scores = contrast(final, [early])
    assert int(scores.argmax()) == 1
    assert scores[0, 2] == float("-inf")  # below ALPHA x the top probability
    f, e = final.log_softmax(-1), early.log_softmax(-1)
    assert float(scores[0, 1]) == pytest.approx(float(f[0, 1] - e[0, 1]), abs=1e-5)
    # the premature layer is the candidate furthest from the final one (Jensen-Shannon)
    same = final.clone()
    picked = contrast(final, [same, early])
    assert torch.allclose(picked[torch.isfinite(picked)], scores[torch.isfinite(scores)])


def test_dola_logits_read_early_layers_through_the_final_norm(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
        layers = layers_for(model, "low")
        got = dola_logits(model, out.hidden_states, out.logits[:, -1], layers)
        norm, head = model.get_decoder().norm, model.get_output_embeddings()
        want = contrast(out.logits[:, -1], [head(norm(out.hidden_states[i][:, -1]))
                                           for i in layers])
    assert torch.equal(torch.isfinite(got), torch.isfinite(want))
    assert torch.allclose(got[torch.isfinite(got)], want[torch.isfinite(want)])


def test_the_engine_decodes_greedily_with_dola_and_samples_without(tiny_model_dir):
    from veritune.engines.hf import HFEngine, decode

    plain, dola = HFEngine(tiny_model_dir), HFEngine(tiny_model_dir, dola_layers="low")
    assert dola.dola == layers_for(dola.model, "low") and plain.dola is None
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=4)
    input_ids, attention = dola.encode(MESSAGES)
    rows = decode(dola.model, input_ids, attention, greedy, [-1], torch.Generator(),
                  dola=dola.dola)
    # every step is the argmax of the contrast, given the tokens before it
    with torch.no_grad():
        for b, row in enumerate(rows):
            ids = input_ids[b:b + 1][attention[b:b + 1].bool()][None]
            for t in row:
                out = dola.model(input_ids=ids, output_hidden_states=True)
                want = int(dola_logits(dola.model, out.hidden_states, out.logits[:, -1],
                                       dola.dola).argmax(-1))
                assert t == want
                ids = torch.cat([ids, torch.tensor([[t]])], dim=-1)
    assert len(dola.generate(MESSAGES, greedy)) == 2
    sampled = SamplingParams(n=2, temperature=1.0, top_p=0.9, top_k=50, max_new_tokens=6,
                             seed=3)
    assert [[g.text for g in row] for row in dola.generate(MESSAGES, sampled)] == \
        [[g.text for g in row] for row in plain.generate(MESSAGES, sampled)]


def test_config():
    assert load_config(overrides=["model.dola_layers=high"]).model.dola_layers == "high"
    with pytest.raises(InputError, match="model.dola_layers"):
        load_config(overrides=["model.engine=openai", "model.dola_layers=high"])
    with pytest.raises(InputError, match="dola_layers"):
        load_config(overrides=["model.dola_layers=middle"])
    # train.method dola: the decoding baseline trains nothing
    assert load_config(overrides=["train.method=dola"]).train.dola_layers == "high"
    with pytest.raises(InputError, match="train.eval_steps"):
        load_config(overrides=["train.method=dola", "train.eval_steps=5"])
    with pytest.raises(InputError, match="train.rounds"):
        load_config(overrides=["train.method=dola", "train.rounds=2",
                               "eval.splits=[validation]"])


def test_method_dola_saves_the_base_to_decode_with_dola(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    from veritune.config import TrainConfig
    from veritune.engines.hf import HFEngine
    from veritune.train import train

    result = train(str(tiny_model_dir), [], [], TrainConfig(method="dola", dola_layers="low"),
                   tmp_path)
    assert result["method"] == "dola" and result["history"] == []
    saved, base = (load_file(next(Path(d).glob("*.safetensors")))
                   for d in (tmp_path / "model", tiny_model_dir))
    assert saved.keys() == base.keys() and all(torch.equal(saved[k], base[k]) for k in base)
    engine = HFEngine(tmp_path / "model")
    assert engine.dola == layers_for(engine.model, "low")
    assert HFEngine(tiny_model_dir).dola is None

"""Token-distribution shift and mutual k-NN: answers known by construction."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from veritune.analysis.knn import mutual_knn, prompt_representations
from veritune.analysis.run import load_prompts
from veritune.analysis.shift import shift_metrics, token_ranks
from veritune.cli import app
from veritune.engines.hf import HFEngine
from veritune.errors import InputError, VerituneError

from conftest import ANSWER_WORDS

PROMPTS = [[{"role": "user", "content": f"Which continent is {c} in?"}]
           for c in ("France", "Kenya", "Japan", "Peru")]


def _variant(src, dst, favourite: str, tok):
    """The answer model with ``favourite`` raised above the other answer words."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(src)
    (fav,) = tok(favourite, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        model.lm_head.weight[fav, 0] = 6.0  # the others keep 5.0
    model.save_pretrained(dst, safe_serialization=True)
    tok.save_pretrained(dst)
    return dst


@pytest.fixture(scope="module")
def base_and_tuned(answer_model_dir, embedded_tokenizer, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shift")
    base = _variant(answer_model_dir, tmp / "base", "Asia", embedded_tokenizer)
    tuned = _variant(answer_model_dir, tmp / "tuned", "Europe", embedded_tokenizer)
    return base, tuned


def test_identical_models_shift_nothing(tiny_model_dir):
    engine = HFEngine(str(tiny_model_dir))
    records = token_ranks(engine, engine, PROMPTS, max_new_tokens=12, batch_size=3)
    m = shift_metrics(records)
    assert m["n_tokens"] > 0 and m["n_prompts"] == 4
    assert (m["shifted_rate"], m["unshifted_rate"], m["marginal_rate"]) == (0.0, 1.0, 0.0)


def test_known_shift_by_construction(base_and_tuned):
    base, tuned = (HFEngine(str(p)) for p in base_and_tuned)
    records = token_ranks(base, tuned, PROMPTS, max_new_tokens=4, batch_size=2)
    assert all(r["texts"] == ["Europe"] for r in records)  # the tuned favourite, then end
    assert all(r["ranks"] == [2] and r["base_top1"] == ["Asia"] for r in records)
    m = shift_metrics(records, top_k=3)
    assert (m["shifted_rate"], m["marginal_rate"], m["beyond_top_k_rate"]) == (1.0, 1.0, 0.0)
    assert shift_metrics(records, top_k=1)["beyond_top_k_rate"] == 1.0
    assert m["most_shifted"] == [{"token": "Europe", "shifted": 4, "seen": 4}]
    back = shift_metrics(token_ranks(tuned, base, PROMPTS, max_new_tokens=4))
    assert back["shifted_rate"] == 1.0  # Asia under the tuned model is rank 2 as well


def test_shift_metrics_counts():
    recs = [{"texts": ["a", "b", "a", "a"], "ranks": [1, 2, 5, 3]}, {"texts": [], "ranks": []}]
    m = shift_metrics(recs, top_k=3)
    assert m["n_tokens"] == 4 and m["mean_answer_tokens"] == 2.0
    assert (m["unshifted_rate"], m["marginal_rate"], m["shifted_rate"],
            m["beyond_top_k_rate"]) == (0.25, 0.5, 0.75, 0.25)
    assert m["most_shifted"] == [{"token": "a", "shifted": 2, "seen": 3},
                                 {"token": "b", "shifted": 1, "seen": 1}]


def test_different_tokenizers_are_refused(tiny_model_dir):
    class Other:
        class tokenizer:
            @staticmethod
            def get_vocab():
                return {"a": 0}

    with pytest.raises(VerituneError, match="tokenizer"):
        token_ranks(HFEngine(str(tiny_model_dir)), Other(), PROMPTS)


def test_mutual_knn_known_answers():
    torch.manual_seed(0)
    a = torch.randn(12, 8)
    assert mutual_knn(a, a, k=3) == 1.0
    q, _ = torch.linalg.qr(torch.randn(8, 8))
    assert mutual_knn(a, 3.0 * (a @ q), k=3) == pytest.approx(1.0)  # rotation, scale: same
    # two pairs of near-duplicates; b pairs them the other way round: no neighbour shared
    e = torch.eye(4)
    pa = torch.stack([e[0], e[0] + 0.1 * e[1], e[2], e[2] + 0.1 * e[3]])
    pb = torch.stack([e[0], e[2], e[0] + 0.1 * e[1], e[2] + 0.1 * e[3]])
    assert mutual_knn(pa, pb, k=1) == 0.0
    pc = torch.stack([e[0], e[0] + 0.1 * e[1], e[2] + 0.1 * e[3], e[2]])
    assert mutual_knn(pa, pc, k=1) == 1.0  # same pairs, other widths would work too
    assert mutual_knn(pa, torch.cat([pa, torch.zeros(4, 3)], dim=1), k=2) == 1.0
    with pytest.raises(VerituneError):
        mutual_knn(pa, pa, k=4)
    with pytest.raises(VerituneError):
        mutual_knn(pa, pa[:3], k=1)


def test_prompt_representations_are_one_row_per_prompt(tiny_model_dir):
    engine = HFEngine(str(tiny_model_dir))
    reps = prompt_representations(engine, PROMPTS, batch_size=3)
    assert reps.shape == (4, engine.model.config.hidden_size)
    one = prompt_representations(engine, PROMPTS[1:2])  # padding does not change a row
    assert torch.allclose(reps[1], one[0], atol=1e-4)


def test_load_prompts(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"question": "Q1?"}) + "\n" + json.dumps({"prompt": "P2"}) + "\n")
    msgs = load_prompts(f, template="Answer: {prompt}")
    assert [m[0]["content"] for m in msgs] == ["Answer: Q1?", "Answer: P2"]
    t = tmp_path / "p.txt"
    t.write_text("Tell me about Paris.\n\nTell me a bio of Curie.\n")
    assert len(load_prompts(t, limit=1)) == 1
    f.write_text(json.dumps({"question": "ok"}) + "\n" + json.dumps({"text": "x"}) + "\n")
    with pytest.raises(InputError) as e:
        load_prompts(f)
    assert e.value.line == 2


def test_cli_shift_and_knn(base_and_tuned, tmp_path):
    base, tuned = base_and_tuned
    ind, ood = tmp_path / "in.txt", tmp_path / "ood.txt"
    ind.write_text("Which continent is France in?\nWhich continent is Peru in?\n")
    ood.write_text("Tell me about Paris.\n")
    out = tmp_path / "shift"
    r = CliRunner().invoke(app, ["analyze", "shift", "--base", str(base), "--tuned", str(tuned),
                                 "--prompts", f"in_domain={ind}", "--prompts", f"ood={ood}",
                                 "--out", str(out), "--max-new-tokens", "4"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    for key in ("shifted_rate", "marginal_rate", "unshifted_rate", "n_tokens"):
        assert key in m and key in m["sets"]["in_domain"] and key in m["sets"]["ood"]
    assert m["sets"]["in_domain"]["n_tokens"] == 2 and m["n_tokens"] == 3
    assert (out / "shift.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "tokens_ood.jsonl").exists()
    r = CliRunner().invoke(app, ["analyze", "knn", "--model-a", str(base), "--model-b",
                                 str(base), "--prompts", str(ind), "--k", "1",
                                 "--out", str(tmp_path / "knn")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "knn" / "metrics.json").read_text())["mutual_knn"] == 1.0
    assert ANSWER_WORDS[0] == "Europe"

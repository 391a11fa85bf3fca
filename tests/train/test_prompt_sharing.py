"""DPO with the prompt computed once: the same log-probs, gradients and loss as full
sequences, the same reference log-probs as TRL's, and a training run through train()."""

from __future__ import annotations

import math

import pytest
import torch

from veritune.train import load_policy, train
from veritune.train.losses import dpo_loss
from veritune.train.prompt_sharing import answer_logps, batch_order, encode_pair, plan_batch

from helpers import k_pairs
from test_train import (FACTS, changed, check_saved_model, config, losses, make_pairs, make_sft,
                        weights)


def _full_logps(model, e):
    """The plain way: prompt + answer as one sequence, log-probs of the answer tokens."""
    out = []
    for answer in (e.chosen, e.rejected):
        ids = torch.tensor([e.prompt + answer])
        logits = model(input_ids=ids).logits[0, len(e.prompt) - 1:-1].float()
        out.append(torch.log_softmax(logits, -1).gather(-1, torch.tensor(answer)[:, None]).sum())
    return out


@pytest.mark.parametrize("pairs", [make_pairs()[:4], k_pairs()], ids=["distinct", "shared"])
def test_logps_and_gradients_equal_full_sequences(tiny_model_dir, pairs):
    model, tok = load_policy(str(tiny_model_dir))
    enc = [encode_pair(tok, p, 64) for p in pairs]
    assert len({len(e.prompt) for e in enc}) > 1  # different prompt lengths: padding is used
    assert all(e.chosen[-1] != e.rejected[-1] or e.chosen != e.rejected for e in enc)
    c, r = answer_logps(model, enc, tok.pad_token_id)
    for i, e in enumerate(enc):
        fc, fr = _full_logps(model, e)
        assert float(c[i]) == pytest.approx(float(fc), abs=1e-4)
        assert float(r[i]) == pytest.approx(float(fr), abs=1e-4)
    # gradients through the shared prompt cache equal the full-sequence gradients
    ref = torch.zeros(len(enc))
    loss = dpo_loss(c, r, ref, ref)[0].mean()
    loss.backward()
    shared = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    full = [_full_logps(model, e) for e in enc]
    loss2 = dpo_loss(torch.stack([f[0] for f in full]), torch.stack([f[1] for f in full]),
                     ref, ref)[0].mean()
    loss2.backward()
    assert float(loss) == pytest.approx(float(loss2), abs=1e-5)
    for n, p in model.named_parameters():
        assert torch.allclose(shared[n], p.grad, atol=1e-5, rtol=1e-3), n


def test_a_batch_runs_each_prompt_and_answer_once(tiny_model_dir):
    _, tok = load_policy(str(tiny_model_dir))
    enc = [encode_pair(tok, p, 64) for p in k_pairs()]
    plan = plan_batch(enc)
    assert len(plan.prompts) == 2
    # France: Paris., It is Paris., Lyon., Marseille.; Peru: South America, Africa, Asia
    assert len(plan.rows) == 7
    assert plan.chosen[0] == plan.chosen[1] and plan.rejected[0] == plan.rejected[2]
    assert plan.chosen[3] == plan.chosen[4] and plan.rejected[3] != plan.rejected[4]
    for i, e in enumerate(enc):
        p, answer = plan.rows[plan.chosen[i]]
        assert plan.prompts[p] == e.prompt and answer == e.chosen
        p, answer = plan.rows[plan.rejected[i]]
        assert plan.prompts[p] == e.prompt and answer == e.rejected


def test_grouped_batches_keep_a_prompts_pairs_together(tiny_model_dir):
    _, tok = load_policy(str(tiny_model_dir))
    enc = [encode_pair(tok, p, 64) for p in k_pairs() + make_pairs()]
    batches = batch_order(enc, 3, 2.0, seed=1, group_by_prompt=True)
    flat = [i for b in batches for i in b]
    epochs = [flat[:len(enc)], flat[len(enc):]]
    assert all(sorted(e) == list(range(len(enc))) for e in epochs)  # each pair once an epoch
    assert epochs[0] != epochs[1]
    assert [len(b) for b in batches] == [3, 3, 3, 3, 1] * 2  # 13 pairs an epoch
    for order in epochs:  # a prompt's pairs are adjacent
        seen = [tuple(enc[i].prompt) for i in order]
        runs = [k for j, k in enumerate(seen) if j == 0 or seen[j - 1] != k]
        assert len(runs) == len(set(seen))
    assert batches == batch_order(enc, 3, 2.0, seed=1, group_by_prompt=True)
    free = batch_order(enc, 3, 1.0, seed=1, group_by_prompt=False)
    assert sorted(i for b in free for i in b) == list(range(len(enc)))


def test_reference_logps_come_back_in_the_pairs_order(tiny_model_dir):
    from veritune.train.prompt_sharing import reference_logps

    model, tok = load_policy(str(tiny_model_dir))
    pairs = k_pairs()
    mixed = [pairs[3], pairs[0], pairs[4], pairs[1], pairs[2]]  # prompts interleaved
    enc = [encode_pair(tok, p, 64) for p in mixed]
    c, r = reference_logps(model, enc, tok.pad_token_id, batch_size=2)
    for i, e in enumerate(enc):
        with torch.no_grad():
            fc, fr = _full_logps(model, e)
        assert float(c[i]) == pytest.approx(float(fc), abs=1e-4)
        assert float(r[i]) == pytest.approx(float(fr), abs=1e-4)


def test_answers_end_with_the_end_of_turn_token(tiny_model_dir):
    _, tok = load_policy(str(tiny_model_dir))
    e = encode_pair(tok, make_pairs()[0], 64)
    assert tok.convert_ids_to_tokens(e.chosen)[-2:] == ["<|im_end|>", "Ċ"]
    short = encode_pair(tok, make_pairs()[0], len(e.prompt) + 1)
    assert len(short.chosen) == 1


def test_reference_logps_match_trl(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    model, tok = load_policy(str(tiny_model_dir))
    pairs = make_pairs()
    args = DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, max_length=64,
                     precompute_ref_log_probs=True, report_to=[], use_cpu=True)
    trainer = DPOTrainer(model=model, args=args,
                         train_dataset=Dataset.from_list([p.to_trl() for p in pairs]),
                         processing_class=tok)
    trl_c = trainer.train_dataset["ref_chosen_logps"]
    trl_r = trainer.train_dataset["ref_rejected_logps"]
    enc = [encode_pair(tok, p, 64) for p in pairs]
    with torch.no_grad():
        c, r = answer_logps(model, enc, tok.pad_token_id)
    # same tokens, same sums; float32 batching differs (padded side, attention kernel), and
    # this random tiny model's logits are large, so allow 0.2% (a wrong token costs nats)
    assert c.tolist() == pytest.approx(list(trl_c), rel=2e-3)
    assert r.tolist() == pytest.approx(list(trl_r), rel=2e-3)


def test_train_with_the_shared_backend(tmp_path, tiny_model_dir):
    result = train(str(tiny_model_dir), make_pairs(), [], config("dpo", backend="shared"),
                   tmp_path, seed=0)
    dpo = losses(result["history"], "dpo")
    assert len(dpo) == math.ceil(len(FACTS) / 4)
    assert dpo[0] == pytest.approx(math.log(2), abs=2e-3)  # policy == reference at step 0
    assert all(math.isfinite(x) for x in dpo)
    check_saved_model(tmp_path / "model")
    moved = changed(weights(tiny_model_dir), weights(tmp_path / "model"))
    assert sum(moved.values()) >= 0.9 * len(moved)


def test_a_retrain_of_the_same_pairs_reads_the_reference_back(tmp_path, tiny_model_dir,
                                                              monkeypatch):
    from veritune.train import prompt_sharing

    pairs = make_pairs()
    train(str(tiny_model_dir), pairs, [], config("dpo", backend="shared"), tmp_path / "a", seed=0)
    assert (tmp_path / "a/reference_logps.safetensors").exists()
    fresh = losses(train(str(tiny_model_dir), pairs, [], config("dpo", backend="shared",
                                                                learning_rate=3e-4),
                         tmp_path / "b", seed=0)["history"], "dpo")

    def refuse(*args, **kw):
        raise AssertionError("reference log-probs computed again")

    monkeypatch.setattr(prompt_sharing, "reference_logps", refuse)
    again = losses(train(str(tiny_model_dir), pairs, [], config("dpo", backend="shared",
                                                                learning_rate=3e-4),
                         tmp_path / "a", seed=0)["history"], "dpo")
    assert again == fresh  # the same numbers as a run that computed them
    with pytest.raises(AssertionError, match="computed again"):  # other pairs: other key
        train(str(tiny_model_dir), pairs[1:], [], config("dpo", backend="shared"),
              tmp_path / "a", seed=0)
    (tmp_path / "a/reference_logps.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(AssertionError, match="computed again"):  # unreadable: recomputed
        train(str(tiny_model_dir), pairs, [], config("dpo", backend="shared"), tmp_path / "a",
              seed=0)


def test_ipo_with_the_shared_backend(tmp_path, tiny_model_dir):
    cfg = config("dpo", backend="shared", loss_type="ipo", beta=0.1)
    dpo = losses(train(str(tiny_model_dir), k_pairs(), [], cfg, tmp_path, seed=0)["history"],
                 "dpo")
    assert dpo[0] == pytest.approx((1 / (2 * 0.1)) ** 2, rel=1e-3)  # h = 0 at step 0
    assert dpo[-1] < dpo[0]


def test_shared_backend_refuses_a_loss_it_does_not_have(tmp_path, tiny_model_dir):
    from veritune.errors import VerituneError

    with pytest.raises(VerituneError, match="hinge"):
        train(str(tiny_model_dir), k_pairs(), [], config("dpo", backend="shared",
                                                         loss_type="hinge"), tmp_path, seed=0)


def test_loss_and_gradient_equal_trls(tiny_model_dir, tmp_path):
    """TRL's DPOTrainer.compute_loss on a batch vs the shared backend's loss, same weights."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from veritune.train.prompt_sharing import reference_logps

    model, tok = load_policy(str(tiny_model_dir))
    pairs = k_pairs()
    args = DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=len(pairs),
                     report_to=[], use_cpu=True, train_sampling_strategy="sequential")
    trainer = DPOTrainer(model=model, args=args, processing_class=tok,
                         train_dataset=Dataset.from_list([p.to_trl() for p in pairs]))
    enc = [encode_pair(tok, p, 1024) for p in pairs]
    ref_c, ref_r = reference_logps(model, enc, tok.pad_token_id, 8)
    with torch.no_grad():  # move the policy off the reference, so the loss is not ln 2
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    model.train()
    trl_loss = trainer.compute_loss(model, next(iter(trainer.get_train_dataloader())))
    trl_loss.backward()
    trl_grad = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model.gradient_checkpointing_disable()
    loss = dpo_loss(*answer_logps(model, enc, tok.pad_token_id), ref_c, ref_r, 0.1)[0].mean()
    loss.backward()
    assert abs(float(trl_loss) - math.log(2)) > 1e-3
    assert float(loss) == pytest.approx(float(trl_loss), rel=2e-3)
    a = torch.cat([g.flatten() for g in trl_grad.values()])
    b = torch.cat([p.grad.flatten() for n, p in model.named_parameters() if n in trl_grad])
    assert float((a - b).norm() / a.norm()) < 1e-2


def test_sft_then_dpo_with_the_shared_backend(tmp_path, tiny_model_dir):
    """TRL's SFT phase leaves gradient checkpointing on, which would drop the prompt cache."""
    result = train(str(tiny_model_dir), make_pairs(), make_sft(),
                   config("sft-then-dpo", backend="shared"), tmp_path, seed=0)
    assert losses(result["history"], "sft") and losses(result["history"], "dpo")
    check_saved_model(tmp_path / "model")

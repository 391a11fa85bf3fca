"""Training through TRL on a tiny random Llama: DPO, SFT, SFT+DPO, SFT then DPO, LoRA.

Each run trains a few steps on hand-made pairs and checks the saved model (plain safetensors,
loadable by ``AutoModelForCausalLM``), that training moved the weights, and that TRL's first
DPO loss is the DPO loss of a policy equal to its reference: log 2.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from veritune.config import LoraConfig, TrainConfig
from veritune.errors import InputError, VerituneError
from veritune.records import Pair
from veritune.train import train
from veritune.train.losses import dpo_loss

from helpers import FACTS, config, losses, make_pairs


def make_sft() -> list[Pair]:
    return [Pair(question_id=p.question_id, prompt=p.prompt, chosen=p.chosen, rejected=None,
                 kind="sft", chosen_index=0) for p in make_pairs()]


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def changed(before: dict, after: dict) -> dict[str, bool]:
    assert set(before) == set(after)
    return {k: not torch.equal(before[k], after[k]) for k in before}


def check_saved_model(model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    files = {p.name for p in model_dir.iterdir()}
    assert "model.safetensors" in files and "config.json" in files
    assert not {"adapter_config.json", "adapter_model.safetensors"} & files
    assert not (model_dir.parent / "checkpoints").exists()
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    ids = tok.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=ids).logits).all()


def test_losses_reference_equal_rewards_is_log2():
    lp = torch.tensor([-3.0, -10.0])
    loss, chosen, rejected = dpo_loss(lp, lp - 1, lp, lp - 1, beta=0.1)
    assert loss.tolist() == pytest.approx([math.log(2)] * 2)
    assert chosen.tolist() == [0.0, 0.0] and rejected.tolist() == [0.0, 0.0]
    loss, _, _ = dpo_loss(torch.tensor([-1.0]), torch.tensor([-5.0]), torch.tensor([-2.0]),
                          torch.tensor([-4.0]), beta=0.5)
    assert float(loss) == pytest.approx(-math.log(1 / (1 + math.exp(-1.0))))


def test_dpo_trains_every_weight_and_starts_at_log2(tmp_path, tiny_model_dir):
    result = train(str(tiny_model_dir), make_pairs(), [], config("dpo"), tmp_path, seed=0)
    assert result["method"] == "dpo" and result["pairs"] == len(FACTS)
    dpo = losses(result["history"], "dpo")
    assert len(dpo) == 2  # 8 pairs, batch 4, logging every step
    assert all(math.isfinite(x) for x in dpo)
    # step 0: policy == reference, so every reward is 0 and the loss is -log sigmoid(0)
    assert dpo[0] == pytest.approx(math.log(2), abs=2e-3)
    first = next(row for row in result["history"] if "loss" in row)
    for key in ("rewards/chosen", "rewards/rejected"):
        if key in first:
            assert first[key] == pytest.approx(0.0, abs=1e-3)

    check_saved_model(tmp_path / "model")
    moved = changed(weights(tiny_model_dir), weights(tmp_path / "model"))
    assert sum(moved.values()) >= 0.9 * len(moved), [k for k, v in moved.items() if not v]


@pytest.mark.parametrize("method", ["sft", "sft+dpo", "sft-then-dpo"])
def test_other_methods_train_and_save(tmp_path, tiny_model_dir, method):
    result = train(str(tiny_model_dir), make_pairs(), make_sft(), config(method), tmp_path, seed=0)
    phases = {row["phase"] for row in result["history"]}
    assert phases == {"sft": {"sft"}, "sft+dpo": {"dpo"},
                      "sft-then-dpo": {"sft", "dpo"}}[method]
    for phase in phases:
        assert losses(result["history"], phase)
        assert all(math.isfinite(x) for x in losses(result["history"], phase))
    if method == "sft+dpo":
        # the loss adds the chosen answers' token NLL (large for a random model) to log 2
        assert losses(result["history"], "dpo")[0] > math.log(2) + 1.0
    check_saved_model(tmp_path / "model")
    moved = changed(weights(tiny_model_dir), weights(tmp_path / "model"))
    assert sum(moved.values()) >= 0.9 * len(moved)


@pytest.mark.parametrize("backend", ["trl", "shared"])
def test_lora_saves_a_merged_plain_model(tmp_path, tiny_model_dir, backend):
    cfg = config("dpo", learning_rate=1e-3, lora=LoraConfig(enabled=True, r=4, alpha=8),
                 backend=backend)
    result = train(str(tiny_model_dir), make_pairs(), [], cfg, tmp_path, seed=0)
    assert losses(result["history"], "dpo")[0] == pytest.approx(math.log(2), abs=2e-3)
    check_saved_model(tmp_path / "model")
    before, after = weights(tiny_model_dir), weights(tmp_path / "model")
    assert not any("lora" in k or "base_layer" in k for k in after)
    moved = changed(before, after)
    targets = [k for k in moved if k.split(".")[-2] in cfg.lora.target_modules]
    assert len(targets) == 2 * 4
    assert all(moved[k] for k in targets)  # the adapters were merged into these
    assert not any(moved[k] for k in moved if k not in targets)  # the rest stayed frozen


def test_nothing_to_train_on_is_a_clear_error(tmp_path, tiny_model_dir):
    with pytest.raises(VerituneError, match="no preference pairs"):
        train(str(tiny_model_dir), [], make_sft(), config("dpo"), tmp_path)
    with pytest.raises(VerituneError, match="no correct answers"):
        train(str(tiny_model_dir), make_pairs(), [], config("sft-then-dpo"), tmp_path)
    assert not (tmp_path / "model").exists()


def test_ipo_loss_reference():
    from veritune.train.losses import ipo_loss

    zero = torch.tensor([-1.0])
    assert float(ipo_loss(zero, zero - 1, zero, zero - 1, beta=0.1)) == pytest.approx(25.0)
    assert float(ipo_loss(zero, zero - 6, zero, zero - 1, beta=0.1)) == pytest.approx(0.0)


def test_ipo_through_trl_starts_at_the_margin_squared(tmp_path, tiny_model_dir):
    """train.loss_type: ipo (APEFT shows the effect across preference losses): at step 0 the
    policy is the reference, h = 0, and TRL's logged loss must be (1 / (2 beta))^2."""
    result = train(str(tiny_model_dir), make_pairs(), [], config("dpo", loss_type="ipo",
                                                                 beta=0.5), tmp_path, seed=0)
    ipo = losses(result["history"], "dpo")
    assert ipo[0] == pytest.approx(1.0, abs=2e-3)  # (1 / (2 * 0.5))^2
    assert all(math.isfinite(x) for x in ipo)
    check_saved_model(tmp_path / "model")


@pytest.mark.parametrize("backend", ["trl", "prompt_sharing"])
def test_lora_saved_as_an_adapter_loads_on_its_base_for_scoring(tmp_path, tiny_model_dir,
                                                                backend):
    """``train.lora.save: adapter``: the folder holds the adapters alone (PEFT's files), the
    engine loads them on the base they name, unmerged, and scoring reads the base's precision
    (a bf16 base is scored in bf16 beside it, not float32)."""
    import torch

    from veritune.dtype import stored_dtype
    from veritune.engines.hf import HFEngine
    from veritune.modelfiles import check_model_dir

    cfg = config("dpo", learning_rate=1e-2, backend=backend,
                 lora=LoraConfig(enabled=True, r=4, alpha=8, save="adapter"))
    train(str(tiny_model_dir), make_pairs(), [], cfg, tmp_path, seed=0)
    folder = tmp_path / "model"
    check_model_dir(folder)
    assert (folder / "adapter_model.safetensors").exists()
    assert not (folder / "model.safetensors").exists()
    assert stored_dtype(str(folder)) == stored_dtype(str(tiny_model_dir)) == "float32"
    ids = torch.tensor([[1, 40, 50, 60]])
    base = HFEngine(str(tiny_model_dir), device="cpu")
    tuned = HFEngine(str(folder), device="cpu")
    with torch.no_grad():
        moved = (tuned.model(ids).logits - base.model(ids).logits).abs().max()
    assert moved > 1e-3  # the adapters act on the base's output
    assert any("lora_A" in n for n, _ in tuned.model.named_parameters())  # kept apart


def test_an_adapter_is_one_phases():
    with pytest.raises(InputError, match="train.lora.save"):
        TrainConfig(method="sft-then-dpo", lora=LoraConfig(enabled=True, save="adapter"))

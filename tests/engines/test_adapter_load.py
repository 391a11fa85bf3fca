"""A LoRA adapter folder scored by the transformers engine: adapters in float32 on a bf16
base, as training computed them; the output layer always gets a contiguous input."""

from __future__ import annotations

import torch

from veritune.engines import SamplingParams
from veritune.engines.hf import HFEngine, with_adapter


def _adapter(base_dir, out):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    for name, param in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)  # fresh B is zero: make the adapter act
    peft.save_pretrained(out)
    return out


def test_an_adapter_folder_loads_float32_adapters_on_a_bf16_base(tmp_path, tiny_model_dir,
                                                                  embedded_tokenizer):
    folder = _adapter(str(tiny_model_dir), tmp_path / "adapter")
    embedded_tokenizer.save_pretrained(folder)
    tuned = HFEngine(str(folder), device="cpu", dtype="bfloat16")
    lora = {p.dtype for n, p in tuned.model.named_parameters() if "lora_" in n}
    rest = {p.dtype for n, p in tuned.model.named_parameters() if "lora_" not in n}
    assert lora == {torch.float32} and rest == {torch.bfloat16}
    assert type(tuned.model).__name__ == "LlamaForCausalLM"  # the model itself, not a wrapper

    # the same as the adapters injected by hand on the same base
    base = HFEngine(str(tiny_model_dir), device="cpu", dtype="bfloat16")
    ids = torch.tensor([[1, 40, 50, 60]])
    with torch.no_grad():
        plain = base.model(ids).logits
        expected = with_adapter(base.model, str(folder))(ids).logits
        got = tuned.model(ids).logits
    assert torch.equal(got, expected)
    assert (got - plain).abs().max() > 1e-2  # the adapters act


def test_the_output_layer_gets_a_contiguous_input(tiny_model_dir):
    """The prompt pass keeps the last position's logits only (``logits_to_keep``): a strided
    slice, which a frozen bf16 head's CPU matmul mishandles (:mod:`veritune.engines.head`)."""
    engine = HFEngine(str(tiny_model_dir), device="cpu")
    seen = []
    engine.model.get_output_embeddings().register_forward_pre_hook(
        lambda module, args: seen.append(args[0].is_contiguous()))
    prompts = [[{"role": "user", "content": q}] for q in ("One?", "A longer question, two?")]
    engine.generate(prompts, SamplingParams(n=1, temperature=0.0, max_new_tokens=3))
    assert seen and all(seen)
    HFEngine(engine.model, tokenizer=engine.tokenizer)  # a second engine on the same model
    hooks = engine.model.get_output_embeddings()._forward_pre_hooks
    assert len(hooks) == 2  # ours once, and this test's


def test_a_policy_loaded_for_training_gets_the_contiguous_head_too(tiny_model_dir):
    """The prompt-sharing loop's reference log-probs and steps run prompts with
    ``logits_to_keep=1`` on the training policy itself (a frozen bf16 base under LoRA)."""
    from veritune.engines.prompt_cache import plan_batch, row_logps
    from veritune.train.policy import load_policy

    model, tokenizer = load_policy(str(tiny_model_dir))
    seen = []
    model.get_output_embeddings().register_forward_pre_hook(
        lambda module, args: seen.append(args[0].is_contiguous()))
    pair = type("Pair", (), {"prompt": [1, 40, 50], "chosen": [60, 61], "rejected": [62]})
    other = type("Pair", (), {"prompt": [1, 41], "chosen": [63], "rejected": [64, 65]})
    row_logps(model, plan_batch([pair, other]), tokenizer.pad_token_id)
    assert len(seen) == 2 and all(seen)

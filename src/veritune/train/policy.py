"""The policy model: loaded for training in float32, LoRA adapters when asked, saved whole.

The saved model is plain safetensors + tokenizer (LoRA adapters are merged first), loadable
by ``AutoModelForCausalLM.from_pretrained``; it is written aside and renamed into place
(``modelfiles.atomic_dir``), so a model folder is never half written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from veritune.config import TrainConfig
from veritune.engines.embedded import clear_quantization, resolve_model
from veritune.engines.head import contiguous_head
from veritune.modelfiles import atomic_dir, clean_partial


def load_policy(model_name: str, trust_remote_code: bool = False, dtype: str = "float32"):
    """The model to train and its tokenizer: float32 weights (the optimiser's), or the
    frozen base of a LoRA adapter in ``dtype`` (``train.lora.save: adapter``)."""
    path = resolve_model(model_name)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype),
                                                 trust_remote_code=trust_remote_code)
    clear_quantization(model)
    contiguous_head(model)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def peft_config(cfg: TrainConfig):
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig  # deferred: peft is heavy and only LoRA needs it

    return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")


def policy_dtype(cfg: TrainConfig, model_dtype: str) -> str:
    """The dtype the policy is loaded in: float32, or (LoRA saved as an adapter) the base in
    the dtype ``model.dtype`` resolves to, bf16 where native, so that training and scoring
    see the same frozen weights."""
    return model_dtype if cfg.lora.enabled and cfg.lora.save == "adapter" else "float32"


def finished(model, cfg: TrainConfig):
    """The trained model as it is saved: LoRA merged into the weights, or (``lora.save:
    adapter``) the adapters kept apart."""
    return model if cfg.lora.enabled and cfg.lora.save == "adapter" else merged(model)


def merged(model):
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def save_model(model, tokenizer, path: Path,
               also: Callable[[Path], None] | None = None) -> None:
    """Write the model folder aside, then rename it into place (never half a model);
    ``also(folder)`` writes more files into it first."""
    clean_partial(path)
    model.config.use_cache = True
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if also is not None:
            also(tmp)

"""Training stage through TRL: DPO, SFT, SFT+DPO (one loss with both terms), SFT then DPO.

    veritune train --model embedded --pairs pairs.jsonl --out DIR --method dpo

The saved model is plain safetensors + tokenizer (LoRA adapters are merged first), loadable by
``AutoModelForCausalLM.from_pretrained``, with a short model card.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Sequence

import torch

from veritune.config import TrainConfig
from veritune.engines.embedded import clear_quantization, resolve_model
from veritune.errors import VeritunError
from veritune.records import Pair
from veritune.train.card import write_model_card  # noqa: F401  (moved to card.py)


def load_policy(model_name: str, trust_remote_code: bool = False):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(model_name)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                 trust_remote_code=trust_remote_code)
    clear_quantization(model)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _common_args(cfg: TrainConfig, out_dir: Path, seed: int, learning_rate: float) -> dict:
    return dict(output_dir=str(out_dir / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
                gradient_accumulation_steps=cfg.gradient_accumulation_steps,
                num_train_epochs=cfg.epochs, learning_rate=learning_rate,
                lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio,
                logging_steps=cfg.logging_steps, save_strategy="no", report_to=[], seed=seed,
                max_length=cfg.max_length, use_cpu=not torch.cuda.is_available(), bf16=cfg.bf16,
                dataloader_num_workers=0)


def peft_config(cfg: TrainConfig):
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")


def _merged(model):
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def run_sft(model, tokenizer, targets: Sequence[Pair], cfg: TrainConfig, out_dir: Path,
            seed: int, learning_rate: float):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list([{"prompt": t.prompt,
                               "completion": [{"role": "assistant", "content": t.chosen}]}
                              for t in targets])
    args = SFTConfig(**_common_args(cfg, out_dir, seed, learning_rate), completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config(cfg))
    trainer.train()
    return _merged(trainer.model), trainer.state.log_history


def run_dpo(model, tokenizer, pairs: Sequence[Pair], cfg: TrainConfig, out_dir: Path,
            seed: int, with_sft: bool):
    if cfg.backend == "shared":
        from veritune.train.shared_prompt import train_dpo_shared

        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise VeritunError("train.backend: shared runs on one process; use "
                               "train.backend: trl under accelerate launch")
        if cfg.lora.enabled:  # the reference is computed before training: the bare base
            from peft import get_peft_model

            model = get_peft_model(model, peft_config(cfg))
        if torch.cuda.is_available():  # TRL's Trainer places the model itself; here, we do
            model.to("cuda")
        history = train_dpo_shared(model, tokenizer, pairs, cfg, seed, with_sft)
        return _merged(model), history
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    data = Dataset.from_list([p.to_trl() for p in pairs])
    loss_type, weights = [cfg.loss_type], [1.0]
    if with_sft:
        loss_type, weights = [cfg.loss_type, "sft"], [1.0, cfg.sft_weight]
    # Reference log-probs are computed once up front on one process. Under accelerate launch
    # TRL (1.16) caches them in a per-process temporary folder for an in-memory dataset, so
    # the other ranks cannot read rank 0's cache: there they are computed on the fly instead.
    one_process = int(os.environ.get("WORLD_SIZE", "1")) == 1
    args = DPOConfig(**_common_args(cfg, out_dir, seed, cfg.learning_rate), beta=cfg.beta,
                     loss_type=loss_type, loss_weights=weights,
                     precompute_ref_log_probs=one_process)
    trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config(cfg))
    trainer.train()
    return _merged(trainer.model), trainer.state.log_history


def train(model_name: str, pairs: Sequence[Pair], sft_targets: Sequence[Pair], cfg: TrainConfig,
          out_dir: str | Path, seed: int = 0, trust_remote_code: bool = False) -> dict:
    """Train and save to ``out_dir/model``; return the log history and data counts."""
    out_dir = Path(out_dir)
    needs_pairs = cfg.method != "sft"
    if needs_pairs and not pairs:
        raise VeritunError("no preference pairs to train on: every question had only correct or "
                           "only incorrect answers (try more samples or a higher temperature)")
    if cfg.method in ("sft", "sft-then-dpo") and not sft_targets:
        raise VeritunError("no correct answers to use as SFT targets")
    torch.manual_seed(seed)
    model, tokenizer = load_policy(model_name, trust_remote_code)
    history: list[dict] = []
    if cfg.method in ("sft", "sft-then-dpo"):
        model, log = run_sft(model, tokenizer, sft_targets, cfg, out_dir, seed,
                             cfg.sft_learning_rate or cfg.learning_rate)
        history += [{**row, "phase": "sft"} for row in log]
    if needs_pairs:
        model, log = run_dpo(model, tokenizer, pairs, cfg, out_dir, seed,
                             with_sft=cfg.method == "sft+dpo")
        history += [{**row, "phase": "dpo"} for row in log]
    # Under ``accelerate launch`` every process holds the same weights; one writes them.
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process:
        save_model(model, tokenizer, out_dir / "model")
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    state.wait_for_everyone()
    return {"method": cfg.method, "pairs": len(pairs), "sft_targets": len(sft_targets),
            "history": history, "model": model, "world_size": state.num_processes}


def save_model(model, tokenizer, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    model.config.use_cache = True
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)

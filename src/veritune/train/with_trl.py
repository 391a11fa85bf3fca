"""Training with TRL's trainers (``train.backend: trl``): SFT, DPO, DPO with an SFT term, and
the anchor term (``train.anchor``) on top of TRL's DPO loss, one process or several.

Every ``train.save_steps`` steps the Trainer checkpoints into ``OUT/checkpoints/<phase>`` and a
rerun resumes from the newest complete one (``checkpoint.TrainerCheckpoints``); ``train.select:
validation`` keeps the best step on validation (``select.py``). TRL is imported when a phase
runs (it is slow to import).
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Sequence

import torch
from transformers import TrainerCallback

from veritune.config import TrainConfig
from veritune.dtype import train_bf16
from veritune.progress import say
from veritune.records import Pair
from veritune.train.checkpoint import TrainerCheckpoints
from veritune.train.policy import finished, peft_config
from veritune.train.prompt_sharing import EncodedPair, anchor_batch, encode_pair
from veritune.train.select import selector_callback
from veritune.train.tracking import point_tensorboard, tb_dir


def common_args(cfg: TrainConfig, phase_dir: Path, seed: int, learning_rate: float) -> dict:
    # warmup_steps below 1 is a share of the steps (transformers >= 5; warmup_ratio is gone)
    return dict(output_dir=str(phase_dir), per_device_train_batch_size=cfg.batch_size,
                gradient_accumulation_steps=cfg.gradient_accumulation_steps,
                num_train_epochs=cfg.epochs, learning_rate=learning_rate,
                lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio,
                lr_scheduler_kwargs=dict(cfg.lr_scheduler_kwargs or {}),
                logging_steps=cfg.logging_steps, save_strategy="steps" if cfg.save_steps else "no",
                save_steps=cfg.save_steps or 500, report_to=cfg.report_to, seed=seed,
                max_length=cfg.max_length, use_cpu=not torch.cuda.is_available(),
                bf16=train_bf16(cfg.bf16),
                dataloader_num_workers=0)


def fit(trainer, phase_dir: Path, selector, resumed: dict) -> list[dict]:
    """``trainer.train()``, resuming from the phase's newest complete checkpoint; each new
    checkpoint is marked complete (with the selector's state) and replaces the older ones."""
    store = TrainerCheckpoints(phase_dir)
    last = store.latest()

    class Checkpoints(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps:  # no checkpoint of the finished run
                control.should_save = False

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                path = phase_dir / f"checkpoint-{state.global_step}"
                store.mark(path, {"step": state.global_step,
                                  "select": selector.state(phase_dir) if selector else None})
                if selector:
                    selector.prune(phase_dir)

    trainer.add_callback(Checkpoints())
    if selector:
        if last:
            selector.restore(store.state(last)["select"], phase_dir)
        trainer.add_callback(selector_callback(selector, trainer))
    point_tensorboard(trainer.callback_handler.callbacks, tb_dir(phase_dir))
    if last:
        resumed[phase_dir.name] = store.state(last)["step"]
        say(f"train: {phase_dir.name} resumes from step {resumed[phase_dir.name]} ({last})")
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    history = trainer.state.log_history
    if selector and (row := selector.finish(trainer.model, trainer.state.global_step)):
        history.append(row)
    return history


def run_sft(model, tokenizer, targets: Sequence[Pair], cfg: TrainConfig, phase_dir: Path,
            seed: int, learning_rate: float, selector=None, resumed: dict | None = None):
    from datasets import Dataset  # deferred: TRL and datasets are slow to import
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list([{"prompt": t.prompt,
                               "completion": [{"role": "assistant", "content": t.chosen}]}
                              for t in targets])
    args = SFTConfig(**common_args(cfg, phase_dir, seed, learning_rate),
                     completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config(cfg))
    history = fit(trainer, phase_dir, selector, {} if resumed is None else resumed)
    return finished(trainer.model, cfg), history


def answer_nll(model, batch: Sequence[EncodedPair], pad_id: int) -> torch.Tensor:
    """Mean per-token NLL of each entry's ``chosen`` after its prompt, from one plain forward
    pass over prompt + answer (right-padded). The prompt-sharing loop's ``anchor_nll`` gets
    the same number through a KV cache, which TRL's gradient checkpointing turns off."""
    device = next(model.parameters()).device
    rows = [e.prompt + e.chosen for e in batch]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    target = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (e, row) in enumerate(zip(batch, rows)):
        ids[i, :len(row)] = torch.tensor(row)
        attn[i, :len(row)] = 1
        target[i, len(e.prompt):len(row)] = True
    ids, attn, target = ids.to(device), attn.to(device), target.to(device)
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
    logps = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
    mask = target[:, 1:]
    return -(logps * mask).sum() / mask.sum().clamp(min=1)


def anchored_trainer(base: type, anchors: Sequence[Pair], tokenizer, cfg: TrainConfig,
                     seed: int) -> type:
    """``base`` (TRL's ``DPOTrainer``) with the anchor term: ``train.anchor.weight`` times the
    mean per-token NLL of ``train.anchor.batch_size`` anchor answers added to every
    micro-batch's loss: the prompt-sharing loop's term (``answer_nll`` is its ``anchor_nll``
    without the KV cache) and its seeded anchor order (``anchor_batch``). Under ``accelerate
    launch`` each process takes its own slice of the order (micro-batch index x processes +
    rank), so no two ranks hold the same anchors at once."""
    encoded = [encode_pair(tokenizer, dataclasses.replace(a, rejected=""), 10**9)
               for a in anchors]
    order = random.Random(seed + 1).sample(range(len(encoded)), len(encoded))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    weight, size = cfg.anchor.weight, cfg.anchor.batch_size

    class AnchoredDPOTrainer(base):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            out = super().compute_loss(model, inputs, return_outputs=return_outputs, **kwargs)
            loss = out[0] if return_outputs else out
            state, accum = self.state, max(1, self.args.gradient_accumulation_steps)
            micro = state.global_step * accum + getattr(self, "_anchor_micro", 0) % accum
            self._anchor_micro = getattr(self, "_anchor_micro", 0) + 1
            index = micro * self.accelerator.num_processes + self.accelerator.process_index
            nll = answer_nll(model, [encoded[i] for i in anchor_batch(order, index, size)],
                             pad_id)
            self._anchor_log = getattr(self, "_anchor_log", []) + [float(nll.detach())]
            loss = loss + weight * nll
            return (loss, out[1]) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            if getattr(self, "_anchor_log", None) and "loss" in logs:
                logs["anchor/nll"] = round(sum(self._anchor_log) / len(self._anchor_log), 4)
                self._anchor_log = []
            return super().log(logs, *args, **kwargs)

    return AnchoredDPOTrainer


def run_dpo(model, tokenizer, pairs: Sequence[Pair], cfg: TrainConfig, phase_dir: Path,
            seed: int, with_sft: bool, selector=None, resumed: dict | None = None,
            anchors: Sequence[Pair] = ()):
    resumed = {} if resumed is None else resumed
    from datasets import Dataset  # deferred: TRL and datasets are slow to import
    from trl import DPOConfig, DPOTrainer

    data = Dataset.from_list([p.to_trl() for p in pairs])
    loss_type, weights = [cfg.loss_type], [1.0]
    if with_sft:
        loss_type, weights = [cfg.loss_type, "sft"], [1.0, cfg.sft_weight]
    # Reference log-probs are computed once up front on one process. Under accelerate launch
    # TRL (1.16) caches them in a per-process temporary folder for an in-memory dataset, so
    # the other ranks cannot read rank 0's cache: there they are computed on the fly instead.
    one_process = int(os.environ.get("WORLD_SIZE", "1")) == 1
    args = DPOConfig(**common_args(cfg, phase_dir, seed, cfg.learning_rate), beta=cfg.beta,
                     loss_type=loss_type, loss_weights=weights,
                     precompute_ref_log_probs=one_process)
    trainer_class = anchored_trainer(DPOTrainer, anchors, tokenizer, cfg, seed) \
        if anchors and cfg.anchor is not None else DPOTrainer
    trainer = trainer_class(model=model, args=args, train_dataset=data,
                            processing_class=tokenizer, peft_config=peft_config(cfg))
    history = fit(trainer, phase_dir, selector, resumed)
    return finished(trainer.model, cfg), history

"""Training stage through TRL: DPO, SFT, SFT+DPO (one loss with both terms), SFT then DPO.

    veritune train --model embedded --pairs pairs.jsonl --out DIR --method dpo

The saved model is plain safetensors + tokenizer (LoRA adapters are merged first), loadable by
``AutoModelForCausalLM.from_pretrained``, with a short model card; it is written aside and
renamed into place (``modelfiles.atomic_dir``). Every ``train.save_steps`` steps a checkpoint
goes to ``DIR/checkpoints`` and a rerun after a kill resumes from it (``checkpoint.py``);
``train.select: validation`` keeps the best step on validation (``select.py``);
``train.report_to`` sends the log to trackers (``tracking.py``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Sequence

import torch

from veritune.config import TrainConfig, hashable
from veritune.dtype import train_bf16
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


def _common_args(cfg: TrainConfig, phase_dir: Path, seed: int, learning_rate: float) -> dict:
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


def peft_config(cfg: TrainConfig):
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")


def _merged(model):
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def _fit(trainer, phase_dir: Path, selector, resumed: dict) -> list[dict]:
    """``trainer.train()``, resuming from the phase's newest complete checkpoint; each new
    checkpoint is marked complete (with the selector's state) and replaces the older ones."""
    from transformers import TrainerCallback

    from veritune.train.checkpoint import TrainerCheckpoints
    from veritune.train.select import selector_callback
    from veritune.train.tracking import point_tensorboard

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
        _say(f"train: {phase_dir.name} resumes from step {resumed[phase_dir.name]} ({last})")
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    history = trainer.state.log_history
    if selector and (row := selector.finish(trainer.model, trainer.state.global_step)):
        history.append(row)
    return history


def tb_dir(phase_dir: Path) -> Path:
    """TensorBoard's folder of a phase: OUT/tb/<phase> (beside OUT/checkpoints/<phase>)."""
    return phase_dir.parents[1] / "tb" / phase_dir.name


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)  # not a progress bar: VERITUNE_QUIET keeps it


def run_sft(model, tokenizer, targets: Sequence[Pair], cfg: TrainConfig, phase_dir: Path,
            seed: int, learning_rate: float, selector=None, resumed: dict | None = None):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list([{"prompt": t.prompt,
                               "completion": [{"role": "assistant", "content": t.chosen}]}
                              for t in targets])
    args = SFTConfig(**_common_args(cfg, phase_dir, seed, learning_rate),
                     completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config(cfg))
    history = _fit(trainer, phase_dir, selector, {} if resumed is None else resumed)
    return _merged(trainer.model), history


def run_dpo(model, tokenizer, pairs: Sequence[Pair], cfg: TrainConfig, phase_dir: Path,
            seed: int, with_sft: bool, selector=None, resumed: dict | None = None,
            anchors: Sequence[Pair] = ()):
    resumed = {} if resumed is None else resumed
    if cfg.backend == "shared":
        return _run_shared(model, tokenizer, pairs, cfg, phase_dir, seed, with_sft, selector,
                           resumed, anchors)
    if anchors:  # the config check refuses this before any model loads
        raise VeritunError("train.anchor needs train.backend: shared")
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
    args = DPOConfig(**_common_args(cfg, phase_dir, seed, cfg.learning_rate), beta=cfg.beta,
                     loss_type=loss_type, loss_weights=weights,
                     precompute_ref_log_probs=one_process)
    trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config(cfg))
    history = _fit(trainer, phase_dir, selector, resumed)
    return _merged(trainer.model), history


def _run_shared(model, tokenizer, pairs, cfg, phase_dir, seed, with_sft, selector, resumed,
                anchors=()):
    from trl import DPOConfig

    from veritune.train.checkpoint import StepCheckpoints
    from veritune.train.shared_prompt import train_dpo_shared
    from veritune.train.tracking import Tracker

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise VeritunError("train.backend: shared runs on one process; use "
                           "train.backend: trl under accelerate launch")
    if cfg.lora.enabled:  # the reference is computed before training: the bare base
        from peft import get_peft_model

        model = get_peft_model(model, peft_config(cfg))
    if torch.cuda.is_available():  # TRL's Trainer places the model itself; here, we do
        model.to("cuda")
    last = StepCheckpoints(phase_dir).latest() if cfg.save_steps else None
    if last:
        resumed[phase_dir.name] = int(last.name.split("-")[1])
        _say(f"train: {phase_dir.name} resumes from step {resumed[phase_dir.name]} ({last})")
    tracker = None
    if cfg.report_to not in ("none", []):  # the same arguments the TRL path would report
        args = DPOConfig(**_common_args(cfg, phase_dir, seed, cfg.learning_rate), beta=cfg.beta)
        tracker = Tracker(args, tb_dir(phase_dir), model)
    try:
        history = train_dpo_shared(model, tokenizer, pairs, cfg, seed, with_sft,
                                   checkpoints=phase_dir, selector=selector, tracker=tracker,
                                   anchors=anchors)
    finally:
        if tracker:
            tracker.end()
    return _merged(model), history


def train(model_name: str, pairs: Sequence[Pair], sft_targets: Sequence[Pair], cfg: TrainConfig,
          out_dir: str | Path, seed: int = 0, trust_remote_code: bool = False,
          evaluate: Callable[[object], float] | None = None, resume_key: str = "",
          anchors: Sequence[Pair] = ()) -> dict:
    """Train and save to ``out_dir/model``; return the log history and data counts.

    ``evaluate(model) -> float`` scores the policy on validation every ``train.eval_steps``
    steps (``train.select: validation`` needs it); ``resume_key`` is anything else the
    checkpoints depend on (the pipeline passes its validation data's hash); ``anchors``: the
    base model's answers to general prompts, held in the DPO phase (``veritune.anchors``)."""
    from accelerate import PartialState

    from veritune.train import checkpoint
    from veritune.train.schedule import check_scheduler
    from veritune.train.select import Selector
    from veritune.train.tracking import check_trackers

    out_dir = Path(out_dir)
    needs_pairs = cfg.method != "sft"
    if needs_pairs and not pairs:
        raise VeritunError("no preference pairs to train on: every question had only correct or "
                           "only incorrect answers (try more samples or a higher temperature)")
    if cfg.method in ("sft", "sft-then-dpo") and not sft_targets:
        raise VeritunError("no correct answers to use as SFT targets")
    if cfg.select == "validation" and evaluate is None:
        raise VeritunError("train.select: validation scores the validation split: run it "
                           "through the pipeline (veritune run / veritune train CONFIG)")
    check_scheduler(cfg)
    check_trackers(cfg.report_to)
    # Under ``accelerate launch`` the trainers set up the process group; PartialState() made
    # before that would record a single process for good, so the rank comes from torchrun's env.
    main = int(os.environ.get("RANK", "0")) == 0
    root = out_dir / "checkpoints"
    if main:  # checkpoints of other settings or data are of no use
        key = [hashable(cfg), model_name, seed, [p.to_dict() for p in pairs],
               [p.to_dict() for p in sft_targets], resume_key]
        if anchors:  # (keys of runs without anchors unchanged)
            key.append([a.to_dict() for a in anchors])
        checkpoint.prepare(root, key)
    torch.manual_seed(seed)
    model, tokenizer = load_policy(model_name, trust_remote_code)
    phases = {"sft": ["sft"], "dpo": ["dpo"], "sft+dpo": ["dpo"],
              "sft-then-dpo": ["sft", "dpo"]}[cfg.method]
    history: list[dict] = []
    resumed: dict[str, int | str] = {}  # phase: the step it resumed from
    for phase in phases:
        last = phase == phases[-1]
        selector = Selector(evaluate, cfg.eval_steps, cfg.select == "validation") \
            if last and evaluate is not None and cfg.eval_steps else None
        done = None if last else checkpoint.load_phase(root / phase, trust_remote_code)
        if done:  # finished before a kill: its model and log are kept
            model, log = done
            resumed[phase] = "done"
        elif phase == "sft":
            model, log = run_sft(model, tokenizer, sft_targets, cfg, root / phase, seed,
                                 cfg.sft_learning_rate or cfg.learning_rate, selector, resumed)
            if not last and cfg.save_steps and main:
                checkpoint.save_phase(root / phase, model, tokenizer, log)
        else:
            model, log = run_dpo(model, tokenizer, pairs, cfg, root / phase, seed,
                                 with_sft=cfg.method == "sft+dpo", selector=selector,
                                 resumed=resumed, anchors=anchors)
        history += [{**row, "phase": phase} for row in log]
    # Under ``accelerate launch`` every process holds the same weights; one writes them.
    state = PartialState()
    if state.is_main_process:
        save_model(model, tokenizer, out_dir / "model")
        shutil.rmtree(root, ignore_errors=True)
    state.wait_for_everyone()
    return {"method": cfg.method, "pairs": len(pairs), "sft_targets": len(sft_targets),
            "anchors": len(anchors),
            "history": history, "model": model, "world_size": state.num_processes,
            "resumed": resumed}


def save_model(model, tokenizer, path: Path) -> None:
    """Write the model folder aside, then rename it into place (never half a model)."""
    from veritune.modelfiles import atomic_dir, clean_partial

    clean_partial(path)
    model.config.use_cache = True
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)

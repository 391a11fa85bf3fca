"""Training: DPO, SFT, SFT+DPO (one loss with both terms), SFT then DPO; on TRL's trainers
(``with_trl.py``) or veritune's prompt-sharing DPO loop (``prompt_sharing.py``).

    veritune train --model embedded --pairs pairs.jsonl --out DIR --method dpo

``train()`` runs the phases of ``train.method`` and saves the model (``policy.py``). Every
``train.save_steps`` steps a checkpoint goes to ``DIR/checkpoints`` and a rerun after a kill
resumes from it (``checkpoint.py``); ``train.select: validation`` keeps the best step on
validation (``select.py``); ``train.report_to`` sends the log to trackers (``tracking.py``).
The decoding baselines train nothing: ``dola`` saves the base to decode with DoLa, ``iti``
fits attention-head shifts on the pairs (``iti.py``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

import torch
from accelerate import PartialState

from veritune.config import TrainConfig
from veritune.errors import VerituneError
from veritune.records import Pair
from veritune.runs.keys import hashable
from veritune.train import checkpoint
from veritune.train.iti import fit_iti
from veritune.train.policy import load_policy, policy_dtype, save_model
from veritune.train.prompt_sharing import run_prompt_sharing
from veritune.train.schedule import check_scheduler
from veritune.train.select import Selector
from veritune.train.tracking import check_trackers
from veritune.train.with_trl import common_args, run_dpo, run_sft

__all__ = ["load_policy", "save_model", "train"]

REFERENCE_CACHE = "reference_logps.safetensors"  # prompt_sharing's, for a retrain to read back


def train(model_name: str, pairs: Sequence[Pair], sft_targets: Sequence[Pair], cfg: TrainConfig,
          out_dir: str | Path, seed: int = 0, trust_remote_code: bool = False,
          evaluate: Callable[[object], float] | None = None, resume_key: str = "",
          anchors: Sequence[Pair] = (), model_dtype: str = "float32") -> dict:
    """Train and save to ``out_dir/model``; return the log history and data counts.

    ``evaluate(model) -> float`` scores the policy on validation every ``train.eval_steps``
    steps (``train.select: validation`` needs it); ``resume_key`` is anything else the
    checkpoints depend on (the pipeline passes its validation data's hash); ``anchors``: the
    base model's answers to general prompts, held in the DPO phase (``stages/anchors.py``)."""
    out_dir = Path(out_dir)
    if cfg.method == "dola":
        return save_decoding(model_name, cfg, out_dir, trust_remote_code, model_dtype,
                             len(pairs), len(sft_targets))
    if cfg.method == "iti":
        return save_intervention(model_name, pairs, sft_targets, cfg, out_dir,
                                 trust_remote_code, model_dtype, seed, evaluate)
    needs_pairs = cfg.method != "sft"
    if needs_pairs and not pairs:
        raise VerituneError("no preference pairs to train on: every question had only correct or "
                           "only incorrect answers (try more samples or a higher temperature)")
    if cfg.method in ("sft", "sft-then-dpo") and not sft_targets:
        raise VerituneError("no correct answers to use as SFT targets")
    if cfg.select == "validation" and evaluate is None:
        raise VerituneError("train.select: validation scores the validation split: run it "
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
    model, tokenizer = load_policy(model_name, trust_remote_code,
                                   policy_dtype(cfg, model_dtype))
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
        elif cfg.prompt_sharing:
            args = None
            if cfg.report_to not in ("none", []):  # what the TRL path would tell the trackers
                from trl import DPOConfig  # deferred: TRL is slow to import

                args = DPOConfig(**common_args(cfg, root / phase, seed, cfg.learning_rate),
                                 beta=cfg.beta)
            # the reference is the base model itself unless an SFT phase came first
            cache = out_dir / REFERENCE_CACHE if len(phases) == 1 and main else None
            model, log = run_prompt_sharing(model, tokenizer, pairs, cfg, root / phase, seed,
                                            cfg.method == "sft+dpo", selector, resumed, anchors,
                                            tracker_args=args, reference_cache=cache)
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
            "main_process": state.is_main_process, "resumed": resumed}


def save_decoding(model_name: str, cfg: TrainConfig, out_dir: Path, trust_remote_code: bool,
                  model_dtype: str, n_pairs: int = 0, n_sft: int = 0) -> dict:
    """``train.method: dola``, a decoding baseline: no weight changes; the base model is saved
    to ``out_dir/model`` (in ``model.dtype``) with ``dola_layers`` in its generation config,
    which veritune's hf engine decodes greedy answers with (``engines/dola.py``). The run's
    base is evaluated as ``model.dola_layers`` says (off by default), so the comparison is
    DoLa against plain decoding of the same weights."""
    state = PartialState()
    model = None
    if state.is_main_process:
        model, tokenizer = load_policy(model_name, trust_remote_code, model_dtype)
        model.generation_config.dola_layers = cfg.dola_layers
        save_model(model, tokenizer, out_dir / "model")
    state.wait_for_everyone()
    return {"method": cfg.method, "pairs": n_pairs, "sft_targets": n_sft, "anchors": 0,
            "history": [], "model": model, "world_size": state.num_processes,
            "main_process": state.is_main_process, "resumed": {}}


def save_intervention(model_name: str, pairs: Sequence[Pair], sft_targets: Sequence[Pair],
                      cfg: TrainConfig, out_dir: Path, trust_remote_code: bool,
                      model_dtype: str, seed: int,
                      evaluate: Callable[[object], float] | None = None) -> dict:
    """``train.method: iti``, a decoding baseline: attention-head shifts fitted on the pairs'
    correct and incorrect answers, saved beside the base's unchanged weights (``iti.py``); the
    run's base is evaluated without them. Several ``iti_alpha`` are tried with ``evaluate``."""
    state = PartialState()
    model, history = None, []
    if state.is_main_process:
        fitted = fit_iti(model_name, pairs, cfg, out_dir, trust_remote_code, model_dtype, seed,
                         evaluate)
        model, history = fitted["model"], fitted["history"]
    state.wait_for_everyone()
    return {"method": cfg.method, "pairs": len(pairs), "sft_targets": len(sft_targets),
            "anchors": 0, "history": history, "model": model,
            "world_size": state.num_processes, "main_process": state.is_main_process,
            "resumed": {}}

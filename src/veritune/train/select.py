"""Checkpoint selection on validation (``train.select: validation``, ``train.eval_steps: N``).

Every N optimiser steps, and at the last one, ``evaluate(model) -> float`` (the pipeline builds
it: greedy accuracy on the validation questions with the run's judge and prompt) scores the
policy; the score is logged as ``eval_validation_accuracy`` (``eval/validation_accuracy`` in
trackers, as the Trainer names evaluation metrics). With ``select: validation`` the weights of
the best step are kept and put back when training ends.

- Step 0, the policy before this phase's first step (the base model, or the SFT model of
  sft-then-dpo), is a candidate: if no step beats it, training gave nothing the validation
  split can see, and keeping the start is the honest result.
- Ties go to the earlier step: fewer steps from the start, the smaller change.
- The best weights are held in memory as a CPU copy of the trainable parameters only: the
  whole model for a full fine-tune (0.5 GB for the 135M model), LoRA's adapters alone (a few
  MB for a 1.5B model). With checkpoints on, the best is also written beside them
  (``best-<step>.safetensors``) when a checkpoint is made, so a resumed run keeps it.

The training package never imports the pipeline: it only calls ``evaluate``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import torch

from veritune.train.checkpoint import load_trainable, trainable

SCORE_KEY = "eval_validation_accuracy"


class Selector:
    def __init__(self, evaluate: Callable[[object], float], every: int, keep_best: bool):
        self.evaluate, self.every, self.keep_best = evaluate, every, keep_best
        self.scores: list[tuple[int, float]] = []
        self.best_step: int | None = None
        self.best_score = -math.inf
        self.best: dict[str, torch.Tensor] | None = None

    def due(self, step: int, total: int) -> bool:
        return step % self.every == 0 or step == total

    def measure(self, model, step: int) -> dict:
        """Score the policy at ``step`` (keeping its weights if best); return the log row."""
        training = model.training
        model.eval()
        try:
            score = float(self.evaluate(model))
        finally:
            model.train(training)
        self.scores.append((step, score))
        if self.keep_best and score > self.best_score:  # strictly: a tie keeps the earlier
            self.best_step, self.best_score = step, score
            self.best = {n: p.detach().to("cpu", copy=True) for n, p in trainable(model).items()}
        return {"step": step, SCORE_KEY: score}

    def finish(self, model, last_step: int) -> dict | None:
        """Put the best step's weights back; return the row that says which step was kept."""
        if not self.keep_best or self.best_step is None:
            return None
        if self.best_step != last_step:
            load_trainable(model, self.best)
        return {"step": last_step, "selected_step": self.best_step,
                "selected_validation_accuracy": self.best_score}

    # -- resuming -----------------------------------------------------------------------------
    def state(self, folder: Path) -> dict:
        """What a checkpoint records; writes the best weights beside it when new."""
        if self.best_step is not None:
            from safetensors.torch import save_file  # deferred: loads torch

            path = folder / f"best-{self.best_step}.safetensors"
            if not path.exists():  # written aside, fsynced, renamed
                tmp = folder / f".{path.name}.tmp"
                save_file({n: t.contiguous() for n, t in self.best.items()}, str(tmp))
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, path)
        return {"scores": self.scores, "best_step": self.best_step,
                "best_score": None if self.best_step is None else self.best_score}

    def prune(self, folder: Path) -> None:
        """After a checkpoint is complete: only the best it names stays."""
        for f in folder.glob("best-*.safetensors"):
            if f.name != f"best-{self.best_step}.safetensors":
                f.unlink(missing_ok=True)

    def restore(self, state: dict | None, folder: Path) -> None:
        if not state:
            return
        from safetensors.torch import load_file  # deferred: loads torch

        self.scores = [tuple(s) for s in state["scores"]]
        self.best_step = state["best_step"]
        if self.best_step is not None:
            self.best_score = state["best_score"]
            self.best = load_file(str(folder / f"best-{self.best_step}.safetensors"))


def selector_callback(selector: Selector, trainer):
    """The same for TRL: a TrainerCallback that scores at step 0 (a fresh start), every
    ``eval_steps`` and at the last step, and logs through ``trainer.log`` (so trackers see it)."""
    from transformers import TrainerCallback  # deferred: transformers is slow to import

    class SelectCallback(TrainerCallback):
        def _measure(self, state, control, model):
            row = selector.measure(model, state.global_step)
            should_log = control.should_log  # log() clears it: the step's own row would go
            model.eval()  # TRL's log() takes metrics of the mode the model is in: none in eval
            try:
                trainer.log({SCORE_KEY: row[SCORE_KEY]})
            finally:
                model.train()
                control.should_log = should_log

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 0:
                self._measure(state, control, model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if selector.due(state.global_step, state.max_steps):
                self._measure(state, control, model)

    return SelectCallback()

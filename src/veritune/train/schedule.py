"""Optimiser steps, warmup and learning-rate schedule: transformers' own, on both backends.

The TRL path gets them from the Trainer (``lr_scheduler_type``, ``warmup_steps`` given the
ratio: transformers >= 5 reads a ``warmup_steps`` below 1 as a share of the steps). The shared
backend builds the same: the Trainer's step count (``Trainer.set_initial_training_values``),
its warmup rounding (``TrainingArguments.get_warmup_steps``) and ``transformers.get_scheduler``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from veritune.config import TrainConfig
from veritune.errors import InputError


def warmup_steps(total: int, ratio: float) -> int:
    """``TrainingArguments.get_warmup_steps`` for a ratio in [0, 1)."""
    return math.ceil(total * ratio)


def make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer, total: int):
    """The schedule the Trainer would build for ``total`` optimiser steps."""
    from transformers import get_scheduler  # deferred: transformers is slow to import

    return get_scheduler(cfg.lr_scheduler, optimizer,
                         num_warmup_steps=warmup_steps(total, cfg.warmup_ratio),
                         num_training_steps=total,
                         scheduler_specific_kwargs=dict(cfg.lr_scheduler_kwargs or {}))


def check_scheduler(cfg: TrainConfig) -> None:
    """Build the schedule on a dummy optimiser, so that missing or unknown
    ``lr_scheduler_kwargs`` are an error before any model loads, not after."""
    param = torch.zeros(1, requires_grad=True)
    try:
        make_scheduler(cfg, torch.optim.SGD([param], lr=1.0), 10)
    except (TypeError, ValueError) as e:
        raise InputError(f"{cfg.lr_scheduler}: {e}", field="train.lr_scheduler_kwargs") from None


def optimizer_steps(batches: Sequence[list[int]], per_epoch: int, epochs: float,
                    accumulation: int) -> list[list[list[int]]]:
    """Group micro-batches into optimiser steps as the Trainer does: within each epoch, runs of
    ``accumulation`` micro-batches (the epoch's last step takes the remainder), and
    ``ceil(epochs * steps per epoch)`` steps in all. ``batches`` holds ``ceil(epochs)`` epochs
    of ``per_epoch`` micro-batches each."""
    steps: list[list[list[int]]] = []
    for start in range(0, len(batches), per_epoch):
        epoch = list(batches[start:start + per_epoch])
        steps += [epoch[i:i + accumulation] for i in range(0, len(epoch), accumulation)]
    per_epoch_steps = max(1, math.ceil(per_epoch / accumulation))
    return steps[:math.ceil(epochs * per_epoch_steps)]

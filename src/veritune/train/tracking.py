"""Experiment tracking (``train.report_to``) through transformers' own integration callbacks.

The TRL path hands ``report_to`` to the Trainer. The shared backend drives the same callback
classes (``get_reporting_integration_callbacks``) by calling ``on_train_begin`` / ``on_log`` /
``on_train_end`` with a ``TrainingArguments`` and ``TrainerState`` made for the run, so both
backends send the same metric names (``train/loss``, ``train/rewards/margins``,
``eval/validation_accuracy``, ...) to the same trackers. TensorBoard writes under
``OUT/tb/<phase>`` unless ``TENSORBOARD_LOGGING_DIR`` says otherwise; other trackers use their
own settings (``WANDB_PROJECT``, ``WANDB_MODE=offline``, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

from veritune.errors import InputError


def check_trackers(report_to) -> None:
    """Each tracker's callback can be made (its package is installed), before a model loads."""
    # deferred: transformers is slow to import
    from transformers.integrations import get_reporting_integration_callbacks

    try:
        for cls in get_reporting_integration_callbacks(report_to):
            cls()
    except (RuntimeError, ImportError, ValueError) as e:  # not installed; not in this release
        raise InputError(str(e), field="train.report_to") from None


def tb_dir(phase_dir: Path) -> Path:
    """TensorBoard's folder of a phase: OUT/tb/<phase> (beside OUT/checkpoints/<phase>)."""
    return phase_dir.parents[1] / "tb" / phase_dir.name


def point_tensorboard(callbacks, folder: Path) -> None:
    """Send TensorBoard's events to ``folder`` (the Trainer's default is under output_dir,
    which here is the checkpoints folder, removed after training)."""
    # deferred: transformers is slow to import
    from transformers.integrations import TensorBoardCallback

    if os.environ.get("TENSORBOARD_LOGGING_DIR"):
        return
    for cb in callbacks:
        if isinstance(cb, TensorBoardCallback):
            cb.logging_dir = str(folder)


class Tracker:
    """The reporting callbacks of ``args.report_to``, fed the shared backend's log rows."""

    def __init__(self, args, folder: Path, model):
        from transformers import (  # deferred: transformers is slow to import
            TrainerControl,
            TrainerState,
        )

        # deferred: transformers is slow to import
        from transformers.integrations import get_reporting_integration_callbacks

        self.args, self.model = args, model
        self.callbacks = [cls() for cls in get_reporting_integration_callbacks(args.report_to)]
        point_tensorboard(self.callbacks, folder)
        self.state = TrainerState(logging_steps=args.logging_steps,
                                  save_steps=args.save_steps,
                                  train_batch_size=args.per_device_train_batch_size)
        self.control = TrainerControl()
        self._call("on_init_end")
        self._call("on_train_begin")

    def _call(self, event: str, **kwargs) -> None:
        for cb in self.callbacks:
            getattr(cb, event)(self.args, self.state, self.control, model=self.model, **kwargs)

    def log(self, row: dict) -> None:
        """One row of the training log, as the Trainer's ``log`` would pass it."""
        self.state.global_step = row["step"]
        if "epoch" in row:
            self.state.epoch = row["epoch"]
        self.state.log_history.append(dict(row))
        self._call("on_log", logs={k: v for k, v in row.items() if k != "step"})

    def end(self) -> None:
        self._call("on_train_end")

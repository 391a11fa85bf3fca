"""Checks of the training options that name transformers' own choices (schedules, trackers).

Known names are checked without importing transformers (a config loads in milliseconds); a name
beyond them is looked up in the installed transformers, so a newer release's names work too.
"""

from __future__ import annotations

from veritune.errors import InputError

# transformers' SchedulerType names (5.0 to 5.24), checked without importing transformers; a
# name beyond these is looked up in the installed transformers. The two that step on a
# validation loss are left out: veritune's training computes none.
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
              "constant_with_warmup", "inverse_sqrt", "cosine_with_min_lr",
              "cosine_warmup_with_min_lr", "warmup_stable_decay")
NEEDS_EVAL_LOSS = ("reduce_lr_on_plateau", "greedy")
# transformers' reporting integrations (INTEGRATION_TO_CALLBACK), the same way
TRACKERS = ("azure_ml", "comet_ml", "mlflow", "neptune", "tensorboard", "trackio", "wandb",
            "codecarbon", "clearml", "dagshub", "flyte", "dvclive", "swanlab", "kubeflow")


def check_train(t) -> None:
    """``TrainConfig.__post_init__``: every choice is one the trainers know."""
    if t.backend not in ("trl", "shared"):
        raise InputError(f"must be trl or shared, got {t.backend!r}", field="train.backend")
    methods = ("dpo", "sft", "sft+dpo", "sft-then-dpo")
    if t.method not in methods:
        raise InputError(f"must be one of {', '.join(methods)}, got {t.method!r}",
                         field="train.method")
    check_schedule(t)
    check_checkpoints(t)


def check_schedule(t) -> None:
    name = t.lr_scheduler
    if name in NEEDS_EVAL_LOSS:
        raise InputError(f"{name} steps on an evaluation loss, which veritune's training does "
                         f"not compute; choose one of {', '.join(SCHEDULERS)}",
                         field="train.lr_scheduler")
    if name not in SCHEDULERS:
        from transformers.trainer_utils import SchedulerType

        known = [s.value for s in SchedulerType if s.value not in NEEDS_EVAL_LOSS]
        if name not in known:
            raise InputError(f"unknown schedule {name!r}; transformers has {', '.join(known)}",
                             field="train.lr_scheduler")


def check_checkpoints(t) -> None:
    for key in ("save_steps", "eval_steps"):
        if getattr(t, key) < 0:
            raise InputError(f"must be 0 (off) or a number of steps, got {getattr(t, key)}",
                             field=f"train.{key}")
    if t.select not in ("last", "validation"):
        raise InputError(f"must be last or validation, got {t.select!r}", field="train.select")
    if t.select == "validation" and t.eval_steps < 1:
        raise InputError("validation accuracy is measured every train.eval_steps steps: "
                         "set train.eval_steps to at least 1", field="train.select")
    names = [t.report_to] if isinstance(t.report_to, str) else list(t.report_to)
    unknown = [n for n in names if n not in TRACKERS + ("none", "all")]
    if unknown:
        from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

        known = list(INTEGRATION_TO_CALLBACK)
        if any(n not in known for n in unknown):
            raise InputError(f"unknown tracker {unknown[0]!r}; transformers knows none, all, "
                             f"{', '.join(known)}", field="train.report_to")
    if len(names) > 1 and ({"none", "all"} & set(names)):
        raise InputError("none and all stand alone, not in a list", field="train.report_to")

"""Checks of the training keys that name transformers' own choices (schedules, trackers).

Known names are checked without importing transformers (a config loads in milliseconds); a name
beyond them is looked up in the installed transformers (imported only then: it is heavy), so a
newer release's names work too. Each returns None or the reason, as ``checks.py``'s do.
"""

from __future__ import annotations

# transformers' SchedulerType names (5.0 to 5.25). The two that step on a validation loss are
# left out: veritune's training computes none.
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
              "constant_with_warmup", "inverse_sqrt", "cosine_with_min_lr",
              "cosine_warmup_with_min_lr", "warmup_stable_decay")
NEEDS_EVAL_LOSS = ("reduce_lr_on_plateau", "greedy")
# transformers' reporting integrations (INTEGRATION_TO_CALLBACK)
TRACKERS = ("azure_ml", "comet_ml", "mlflow", "neptune", "tensorboard", "trackio", "wandb",
            "codecarbon", "clearml", "dagshub", "flyte", "dvclive", "swanlab", "kubeflow")


def lr_scheduler_name(name: str) -> str | None:
    if name in NEEDS_EVAL_LOSS:
        return (f"{name} steps on an evaluation loss, which veritune's training does not "
                f"compute; choose one of {', '.join(SCHEDULERS)}")
    if name in SCHEDULERS:
        return None
    # deferred: transformers is slow to import
    from transformers.trainer_utils import SchedulerType

    known = [s.value for s in SchedulerType if s.value not in NEEDS_EVAL_LOSS]
    return None if name in known else \
        f"unknown schedule {name!r}; transformers has {', '.join(known)}"


def tracker_names(value: str | list[str]) -> str | None:
    names = [value] if isinstance(value, str) else list(value)
    if len(names) > 1 and ({"none", "all"} & set(names)):
        return "none and all stand alone, not in a list"
    unknown = [n for n in names if n not in TRACKERS + ("none", "all")]
    if not unknown:
        return None
    # deferred: transformers is slow to import
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    known = list(INTEGRATION_TO_CALLBACK)
    bad = [n for n in unknown if n not in known]
    return f"unknown tracker {bad[0]!r}; transformers knows none, all, {', '.join(known)}" \
        if bad else None

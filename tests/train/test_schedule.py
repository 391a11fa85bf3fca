"""The shared backend's optimiser steps and learning rates equal the Trainer's (TRL path).

Both backends train the same tiny model on the same pairs with logging every step; TRL's
Trainer logs the rate each step used, and so must the shared backend, step for step, for
linear, cosine and constant-with-warmup schedules with a warmup, and with gradient
accumulation whose last step of an epoch is short (the Trainer's step count). Also: the config
knows transformers' names and nothing else, and the new options leave old hashes alone.
"""

from __future__ import annotations

import pytest

from veritune.config import TrainConfig, load_config
from veritune.config.train_names import SCHEDULERS, TRACKERS
from veritune.errors import InputError
from veritune.runs.keys import config_hash
from veritune.train import train

from test_train import config, make_pairs


def rates(history: list[dict]) -> list[tuple[int, float]]:
    return [(row["step"], row["learning_rate"]) for row in history if "learning_rate" in row]


def both_backends(tmp_path, model_dir, **kw) -> tuple[list, list]:
    out = []
    for backend in ("trl", "shared"):
        cfg = config("dpo", backend=backend, batch_size=2, logging_steps=1, save_steps=0,
                     bf16=False, **kw)
        out.append(rates(train(str(model_dir), make_pairs(), [], cfg, tmp_path / backend,
                               seed=0)["history"]))
    return out[0], out[1]


@pytest.mark.parametrize("schedule", ["linear", "cosine", "constant_with_warmup"])
def test_rates_per_step_equal_the_trainers(tmp_path, tiny_model_dir, schedule):
    # 8 pairs, batch 2: 4 steps an epoch, 2.5 epochs = 10 steps, warmup ceil(10 * 0.25) = 3
    trl, shared = both_backends(tmp_path, tiny_model_dir, lr_scheduler=schedule,
                                warmup_ratio=0.25, epochs=2.5, learning_rate=1e-3)
    assert [s for s, _ in trl] == list(range(1, 11))
    assert [s for s, _ in shared] == [s for s, _ in trl]
    assert [r for _, r in shared] == pytest.approx([r for _, r in trl], rel=1e-9, abs=1e-15)
    assert trl[0][1] == 0.0 and trl[3][1] == pytest.approx(1e-3)  # warmed up at step 4
    if schedule == "constant_with_warmup":
        assert all(r == pytest.approx(1e-3) for _, r in trl[3:])
    else:
        assert trl[-1][1] < trl[4][1] < 1e-3  # decaying


def test_accumulation_steps_and_their_rates_equal_the_trainers(tmp_path, tiny_model_dir):
    # 4 micro-batches an epoch, 3 per step: steps of 3 and 1 (the Trainer's remainder), so
    # 2 steps an epoch and ceil(2.5 * 2) = 5 steps in all
    trl, shared = both_backends(tmp_path, tiny_model_dir, lr_scheduler="cosine",
                                warmup_ratio=0.2, epochs=2.5, gradient_accumulation_steps=3)
    assert [s for s, _ in trl] == [1, 2, 3, 4, 5]
    # steps, then rates (pytest 9.2's approx takes no nested tuples)
    assert [s for s, _ in shared] == [s for s, _ in trl]
    assert [r for _, r in shared] == pytest.approx([r for _, r in trl], rel=1e-9)


def test_known_names_are_transformers_names():
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK
    from transformers.trainer_utils import SchedulerType

    assert set(SCHEDULERS) <= {s.value for s in SchedulerType}
    assert set(TRACKERS) <= set(INTEGRATION_TO_CALLBACK)


@pytest.mark.parametrize("line, field", [
    ("lr_scheduler: cosin", "train.lr_scheduler"),
    ("lr_scheduler: reduce_lr_on_plateau", "train.lr_scheduler"),
    ("warmup_ratio: 1.0", "train.warmup_ratio"),
    ("save_steps: -1", "train.save_steps"),
    ("select: best", "train.select"),
    ("select: validation", "train.select"),  # without eval_steps
    ("report_to: tensorbord", "train.report_to"),
])
def test_bad_training_options_name_file_line_and_key(tmp_path, line, field):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: x\ntrain:\n  method: dpo\n  {line}\n")
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == field and e.value.path == path and e.value.line is not None


def test_scheduler_arguments_are_checked_before_a_model_loads(tmp_path):
    cfg = TrainConfig(lr_scheduler="cosine_with_min_lr")  # needs min_lr or min_lr_rate
    with pytest.raises(InputError, match="lr_scheduler_kwargs"):
        train("no-such-model", make_pairs(), [], cfg, tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_new_options_at_their_defaults_keep_old_hashes():
    # the hash of TrainConfig() before these options existed (main at 95ad323)
    assert config_hash(TrainConfig()) == "1c7bb2468f2f87e7"
    # where to checkpoint and report never changes the weights
    assert config_hash(TrainConfig(save_steps=7, report_to=["tensorboard"])) == \
        config_hash(TrainConfig())
    assert config_hash(TrainConfig(lr_scheduler="cosine")) != config_hash(TrainConfig())
    assert config_hash(TrainConfig(select="validation", eval_steps=5)) != \
        config_hash(TrainConfig())

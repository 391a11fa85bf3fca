"""Experiment tracking and the log's names: ``train.report_to: tensorboard`` on both backends.

TensorBoard runs offline: the event file under OUT/tb/dpo holds the same loss, reward and
log-prob curves (and the validation scores) that the training log holds, step for step, under
the Trainer's names (``train/loss``, ``eval/validation_accuracy``). The shared backend logs
TRL's names, ``logps/chosen`` and ``logps/rejected`` included, with TRL's values.
"""

from __future__ import annotations

import pytest

from veritune.train import train

from test_train import config, make_pairs

CURVES = ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
          "logps/chosen", "logps/rejected", "learning_rate")


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = list(folder.glob("events.out.tfevents.*"))
    assert len(events) == 1, events
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize("backend", ["shared", "trl"])
def test_tensorboard_holds_the_curves_of_the_training_log(tmp_path, tiny_model_dir, backend):
    scores = iter([0.25, 0.5, 0.75])
    cfg = config("dpo", backend=backend, batch_size=2, save_steps=0, bf16=False,
                 report_to="tensorboard", eval_steps=2)
    history = train(str(tiny_model_dir), make_pairs(), [], cfg, tmp_path, seed=0,
                    evaluate=lambda model: next(scores))["history"]
    tb = scalars(tmp_path / "tb/dpo")
    rows = [r for r in history if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for key in CURVES:
        assert tb[f"train/{key}"] == [(r["step"], pytest.approx(r[key], rel=1e-6, abs=1e-7))
                                      for r in rows], key
    assert tb["eval/validation_accuracy"] == [(0, 0.25), (2, 0.5), (4, 0.75)]
    assert [(r["step"], r["eval_validation_accuracy"]) for r in history
            if "eval_validation_accuracy" in r] == [(0, 0.25), (2, 0.5), (4, 0.75)]
    assert tb["train/train_loss"][0][0] == 4


def test_no_tracker_by_default(tmp_path, tiny_model_dir):
    train(str(tiny_model_dir), make_pairs(), [], config("dpo", backend="shared", save_steps=0),
          tmp_path, seed=0)
    assert not (tmp_path / "tb").exists()


def test_the_shared_backend_logs_trls_names_and_log_probs(tmp_path, tiny_model_dir):
    """One step over all 8 pairs (the same batch on both backends): the policy is the
    reference, so the logged summed log-probs of the chosen and rejected answers are the
    reference's, and must equal TRL's."""
    rows = {}
    for backend in ("trl", "shared"):
        cfg = config("dpo", backend=backend, batch_size=8, save_steps=0, bf16=False)
        history = train(str(tiny_model_dir), make_pairs(), [], cfg, tmp_path / backend,
                        seed=0)["history"]
        rows[backend] = next(r for r in history if "loss" in r)
    assert set(rows["shared"]) <= set(rows["trl"])  # TRL logs more (entropy, logits, ...)
    for key in ("logps/chosen", "logps/rejected", "rewards/chosen", "loss"):
        assert rows["shared"][key] == pytest.approx(rows["trl"][key], rel=2e-3, abs=1e-4), key
    assert rows["shared"]["logps/chosen"] < 0 and rows["shared"]["logps/rejected"] < 0


def test_a_tracker_that_is_not_installed_is_an_error_before_a_model_loads(tmp_path):
    import importlib.util

    from veritune.errors import InputError

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    with pytest.raises(InputError, match="train.report_to.*wandb"):
        train("no-such-model", make_pairs(), [], config("dpo", report_to="wandb"), tmp_path)

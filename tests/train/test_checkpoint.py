"""Resumable training and atomic model folders.

On the tiny model, in process: the shared backend stopped by an error after a checkpoint
resumes from it and ends with exactly the weights and log of a run that was never stopped
(full, LoRA, and in the DPO phase of sft-then-dpo, whose finished SFT phase is kept);
checkpoints of other settings are not reused; a half-written checkpoint or model folder is
never taken for a whole one. The real thing, ``kill -9`` of ``veritune train`` on the embedded
model, is in test_kill_resume.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from veritune.errors import VerituneError
from veritune.modelfiles import atomic_dir, check_model_dir
from veritune.train import load_policy, save_model, train
from veritune.train.checkpoint import TrainerCheckpoints, prepare
from veritune.train.prompt_sharing import PromptSharingDPO

from conftest import SUBPROCESS_ENV
from helpers import Stop, config, k_pairs, make_pairs, stop_at


def shared_run(model_dir, folder, cfg, log=None):
    model, tok = load_policy(str(model_dir))
    history = PromptSharingDPO(model, tok, make_pairs() + k_pairs(), cfg, seed=3, log=log,
                               checkpoints=folder).run()
    return model, history


def test_shared_backend_resumes_to_the_same_weights_and_log(tmp_path, tiny_model_dir):
    # 13 pairs, batch 2, 2 epochs: 14 steps; accumulation 2 and LoRA dropout use the RNG too
    cfg = config("dpo", backend="shared", batch_size=2, epochs=2.0, gradient_accumulation_steps=2,
                 lr_scheduler="cosine", warmup_ratio=0.2, save_steps=3, bf16=False)
    whole, whole_log = shared_run(tiny_model_dir, None, cfg)
    with pytest.raises(Stop):  # stopped at step 5: the last checkpoint is step 3
        shared_run(tiny_model_dir, tmp_path / "ck", cfg, log=stop_at(5))
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["step-3"]
    state = json.loads((tmp_path / "ck/step-3/state.json").read_text())
    assert state["step"] == 3 and len(state["steps"]) == 8
    resumed, resumed_log = shared_run(tiny_model_dir, tmp_path / "ck", cfg)
    assert resumed_log == whole_log  # every row, the loss of the steps before the stop too
    for (name, a), (_, b) in zip(whole.named_parameters(), resumed.named_parameters()):
        assert torch.equal(a, b), name


def test_lora_adapters_resume_too(tmp_path, tiny_model_dir):
    from peft import get_peft_model

    from veritune.config import LoraConfig
    from veritune.train.policy import peft_config

    cfg = config("dpo", backend="shared", batch_size=2, save_steps=2, bf16=False,
                 learning_rate=1e-3, lora=LoraConfig(enabled=True, r=4, alpha=8, dropout=0.1))

    def run(folder, log=None):
        model, tok = load_policy(str(tiny_model_dir))
        torch.manual_seed(0)  # the adapters' initial values (train() seeds before this too)
        model = get_peft_model(model, peft_config(cfg))
        PromptSharingDPO(model, tok, make_pairs(), cfg, seed=0, log=log, checkpoints=folder).run()
        return {n: p.detach().clone() for n, p in model.named_parameters() if "lora" in n}

    whole = run(None)
    with pytest.raises(Stop):
        run(tmp_path / "ck", stop_at(3))
    saved = (tmp_path / "ck/step-2/trainable.safetensors").stat().st_size
    assert saved < 64 * 1024  # the adapters only, not the model
    resumed = run(tmp_path / "ck")
    assert all(torch.equal(whole[n], resumed[n]) for n in whole)


def test_checkpoints_of_other_settings_or_data_are_removed(tmp_path):
    root = tmp_path / "checkpoints"
    prepare(root, ["config a", "pairs"])
    (root / "dpo/step-5").mkdir(parents=True)
    prepare(root, ["config a", "pairs"])
    assert (root / "dpo/step-5").is_dir()
    prepare(root, ["config b", "pairs"])
    assert not (root / "dpo").exists() and (root / "fingerprint.json").is_file()


def test_an_unmarked_trainer_checkpoint_is_not_resumed_from(tmp_path):
    """The Trainer wrote checkpoint-2 and checkpoint-4, and veritune's marker went into 2
    only (killed in between): 2 is resumed from, the half-known 4 is cleared away."""
    store = TrainerCheckpoints(tmp_path)
    for step in (2, 4, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}/trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-2/veritune.json").write_text('{"step": 2, "select": null}')
    (tmp_path / "checkpoint-6/trainer_state.json").unlink()  # killed mid-save
    assert store.latest() == tmp_path / "checkpoint-2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2"]
    (tmp_path / "checkpoint-8").mkdir()
    (tmp_path / "checkpoint-8/trainer_state.json").write_text("{}")
    store.mark(tmp_path / "checkpoint-8", {"step": 8, "select": None})  # the older ones go
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-8"]
    assert store.latest() == tmp_path / "checkpoint-8"


def test_training_removes_its_checkpoints_and_saves_whole(tmp_path, tiny_model_dir):
    cfg = config("dpo", backend="shared", batch_size=2, save_steps=1, bf16=False)
    result = train(str(tiny_model_dir), make_pairs(), [], cfg, tmp_path, seed=0)
    assert not (tmp_path / "checkpoints").exists()
    assert result["resumed"] == {}
    check_model_dir(tmp_path / "model")
    assert not list(tmp_path.glob(".model.*"))


# --- atomic model folders -------------------------------------------------------------------

def test_a_truncated_or_missing_weights_file_is_a_clear_error(tmp_path, tiny_model_dir):
    model, tok = load_policy(str(tiny_model_dir))
    save_model(model, tok, tmp_path / "model")
    check_model_dir(tmp_path / "model")
    weights = tmp_path / "model/model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:len(data) // 2])
    with pytest.raises(VerituneError, match="incomplete: model.safetensors is cut short"):
        check_model_dir(tmp_path / "model")
    weights.unlink()
    with pytest.raises(VerituneError, match="model.safetensors is missing"):
        check_model_dir(tmp_path / "model")
    (tmp_path / "model/config.json").unlink()
    with pytest.raises(VerituneError, match="config.json is missing"):
        check_model_dir(tmp_path / "model")


def test_an_error_while_writing_leaves_the_old_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


SAVE_FOREVER = """
import sys
from veritune.train import load_policy, save_model
from pathlib import Path
model, tok = load_policy(sys.argv[1])
while True:
    save_model(model, tok, Path(sys.argv[2]))
"""


@pytest.mark.slow
def test_kill_9_while_saving_leaves_a_whole_model(tmp_path):
    """Saving the embedded model over and over; killed while a new copy is half written
    (its temporary folder exists), the model folder is still the last whole one."""
    target = tmp_path / "model"
    proc = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, "embedded", str(target)],
                            env=SUBPROCESS_ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (target.is_dir() and list(tmp_path.glob(".model.tmp-*/*.safetensors"))):
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.time() < deadline
            time.sleep(0.01)
        proc.kill()
    finally:
        proc.kill()
        proc.wait()
    check_model_dir(target)
    assert list(tmp_path.glob(".model.tmp-*"))  # it really died in the middle of a save
    model, tok = load_policy(str(target))
    save_model(model, tok, target)  # the next save clears what the killed one left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.slow
def test_the_eval_stage_refuses_a_half_written_model(tmp_path, tiny_model_dir,
                                                     kb_questions_file):
    """A model folder cut short (written by an older veritune, or copied half) is one clear
    error from ``veritune eval``, not a traceback from deep inside transformers."""
    import shutil

    import yaml

    run_dir = tmp_path / "runs/r"
    run_dir.mkdir(parents=True)
    shutil.copy(kb_questions_file, run_dir / "questions.jsonl")
    model, tok = load_policy(str(tiny_model_dir))
    save_model(model, tok, run_dir / "model")
    weights = run_dir / "model/model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    cfg = tmp_path / "r.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "r", "runs_dir": str(tmp_path / "runs"),
        "model": {"name": str(tiny_model_dir), "device": "cpu"},
        "eval": {"splits": ["test"], "max_new_tokens": 2, "best_of_n": 0}}))
    done = subprocess.run([sys.executable, "-m", "veritune.cli", "eval", str(cfg)],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    errors = [x for x in (done.stderr + done.stdout).splitlines() if x.startswith("error:")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert "model folder is incomplete: model.safetensors is cut short" in errors[0]
    assert str(run_dir / "model") in errors[0]


def test_sft_then_dpo_resumes_in_its_second_phase(tmp_path, tiny_model_dir):
    """Stopped in the DPO phase: the rerun keeps the finished SFT phase (its merged model,
    saved aside) and resumes DPO from its checkpoint, to the uninterrupted run's weights."""
    from test_train import make_sft

    cfg = config("sft-then-dpo", backend="shared", batch_size=2, save_steps=1, bf16=False,
                 eval_steps=1)
    calls = []

    def evaluate(model):  # scores the DPO phase; the third call (step 2) stops the run
        calls.append(1)
        if len(calls) == 3:
            raise Stop
        return 0.5

    whole = train(str(tiny_model_dir), make_pairs(), make_sft(), cfg, tmp_path / "whole",
                  seed=0, evaluate=lambda model: 0.5)
    with pytest.raises(Stop):
        train(str(tiny_model_dir), make_pairs(), make_sft(), cfg, tmp_path / "run", seed=0,
              evaluate=evaluate)
    phases = tmp_path / "run/checkpoints"
    assert (phases / "sft/done/model.safetensors").is_file()
    assert sorted(p.name for p in (phases / "dpo").iterdir()) == ["step-1"]
    resumed = train(str(tiny_model_dir), make_pairs(), make_sft(), cfg, tmp_path / "run",
                    seed=0, evaluate=lambda model: 0.5)
    assert resumed["resumed"] == {"sft": "done", "dpo": 1}
    assert [r for r in resumed["history"] if "loss" in r] == \
        [r for r in whole["history"] if "loss" in r]
    a = load_file(str(tmp_path / "whole/model/model.safetensors"))
    b = load_file(str(tmp_path / "run/model/model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)

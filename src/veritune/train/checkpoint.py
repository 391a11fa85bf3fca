"""Resumable training: checkpoints every ``train.save_steps`` steps under ``OUT/checkpoints``.

    OUT/checkpoints/fingerprint.json    what the checkpoints were made from (config, data, seed)
    OUT/checkpoints/<phase>/            one folder per phase (sft, dpo)
        step-<N>/                       shared backend: trainable weights (all, or the LoRA
                                        adapters), optimiser, schedule, RNG, the data order,
                                        the reference log-probs, the log so far
        checkpoint-<N>/                 TRL: the Trainer's own, plus veritune.json written last
        best-<N>.safetensors            train.select: validation, the best step's weights
        done/                           a phase that finished (the SFT of sft-then-dpo)

A checkpoint folder is complete when it exists (shared: written aside, then renamed) or holds
``veritune.json`` (TRL: written after the Trainer's files). A rerun resumes from the newest
complete one; checkpoints of another config, data or seed are removed first. The folder goes
when training finishes.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from veritune.errors import VerituneError
from veritune.jsonl import atomic_write_json
from veritune.modelfiles import atomic_dir, check_model_dir, clean_partial
from veritune.runs.keys import config_hash
from veritune.train.policy import load_policy

MARKER = "veritune.json"


def prepare(root: Path, key: Any) -> None:
    """Keep ``root`` only if its checkpoints were made from ``key``; then record ``key``."""
    stamp = {"fingerprint": config_hash(key)}
    f = root / "fingerprint.json"
    try:
        same = json.loads(f.read_text()) == stamp
    except (OSError, ValueError):
        same = False
    if not same:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        atomic_write_json(f, stamp)


def trainable(model) -> dict[str, torch.Tensor]:
    """The parameters training changes: every one, or only LoRA's adapters."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model, tensors: dict[str, torch.Tensor]) -> None:
    params = trainable(model)
    if set(params) != set(tensors):
        raise ValueError("the checkpoint's parameters are not the model's trainable ones")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(tensors[name])


def rng_state() -> dict:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_optimizer(optimizer, path: Path) -> None:
    """The optimiser's state as safetensors (torch.save takes 5x longer on 1 GB of Adam
    moments) plus its non-tensor values as JSON."""
    from safetensors.torch import save_file  # deferred: loads torch

    sd = optimizer.state_dict()
    tensors = {f"{i}/{k}": v.detach().cpu().contiguous() for i, st in sd["state"].items()
               for k, v in st.items() if torch.is_tensor(v)}
    other = {str(i): {k: v for k, v in st.items() if not torch.is_tensor(v)}
             for i, st in sd["state"].items()}
    save_file(tensors, str(path / "optimizer.safetensors"))
    (path / "optimizer.json").write_text(json.dumps({"param_groups": sd["param_groups"],
                                                     "other": other}))


def load_optimizer(optimizer, path: Path, device) -> None:
    from safetensors.torch import load_file  # deferred: loads torch

    meta = json.loads((path / "optimizer.json").read_text())
    state: dict[int, dict] = {int(i): dict(v) for i, v in meta["other"].items()}
    for key, t in load_file(str(path / "optimizer.safetensors"), device=str(device)).items():
        i, name = key.split("/", 1)
        state.setdefault(int(i), {})[name] = t
    groups = [{k: tuple(v) if isinstance(v, list) and k != "params" else v  # betas
               for k, v in g.items()} for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _steps(folder: Path, prefix: str) -> list[tuple[int, Path]]:
    pattern = re.compile(rf"{prefix}-(\d+)$")
    found = [(int(m.group(1)), p) for p in folder.glob(f"{prefix}-*")
             if p.is_dir() and (m := pattern.match(p.name))]
    return sorted(found)


class StepCheckpoints:
    """The shared backend's checkpoints of one phase (``step-<N>`` folders)."""

    def __init__(self, folder: Path):
        self.dir = folder
        folder.mkdir(parents=True, exist_ok=True)

    def latest(self) -> Path | None:
        found = _steps(self.dir, "step")
        return found[-1][1] if found else None

    def save(self, step: int, model, optimizer, scheduler, tensors: dict[str, torch.Tensor],
             state: dict) -> Path:
        from safetensors.torch import save_file  # deferred: loads torch

        path = self.dir / f"step-{step}"
        with atomic_dir(path) as tmp:
            save_file({n: p.detach().cpu().contiguous() for n, p in trainable(model).items()},
                      str(tmp / "trainable.safetensors"))
            save_file({n: t.contiguous() for n, t in tensors.items()},
                      str(tmp / "tensors.safetensors"))
            save_optimizer(optimizer, tmp)
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
            torch.save(rng_state(), tmp / "rng.pt")
            (tmp / "state.json").write_text(json.dumps({**state, "step": step}))
        for s, old in _steps(self.dir, "step"):
            if s != step:
                shutil.rmtree(old, ignore_errors=True)
        clean_partial(path)
        return path

    def load(self, path: Path, model, optimizer, scheduler) -> tuple[dict, dict]:
        """Restore weights, optimiser and schedule; return (tensors, state). Call
        :func:`set_rng_state` with ``state["rng"]`` last, after anything that draws."""
        from safetensors.torch import load_file  # deferred: loads torch

        device = next(model.parameters()).device
        load_trainable(model, load_file(str(path / "trainable.safetensors"), device=str(device)))
        load_optimizer(optimizer, path, device)
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        state = json.loads((path / "state.json").read_text())
        state["rng"] = torch.load(path / "rng.pt", weights_only=True)
        return load_file(str(path / "tensors.safetensors")), state


class TrainerCheckpoints:
    """The Trainer's ``checkpoint-<N>`` folders of one phase, with veritune's marker."""

    def __init__(self, folder: Path):
        self.dir = folder

    def latest(self) -> Path | None:
        """The newest complete checkpoint; incomplete ones (a kill while saving) are removed."""
        complete = None
        for _, path in _steps(self.dir, "checkpoint"):
            if (path / MARKER).is_file() and (path / "trainer_state.json").is_file():
                complete = path
            else:
                shutil.rmtree(path, ignore_errors=True)
        return complete

    def mark(self, path: Path, state: dict) -> None:
        """Called once the Trainer has written ``path``: the marker, then the older ones go."""
        atomic_write_json(path / MARKER, state)
        for _, old in _steps(self.dir, "checkpoint"):
            if old != path:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def state(path: Path) -> dict:
        return json.loads((path / MARKER).read_text())


def save_phase(folder: Path, model, tokenizer, history: list[dict]) -> None:
    """A finished phase (its model, merged, and its log), so that a rerun skips it."""
    with atomic_dir(folder / "done") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "history.json").write_text(json.dumps(history))
    for _, old in _steps(folder, "checkpoint") + _steps(folder, "step"):
        shutil.rmtree(old, ignore_errors=True)


def load_phase(folder: Path, trust_remote_code: bool = False):
    """(model, history) of a phase that finished before, or None."""
    done = folder / "done"
    try:
        check_model_dir(done)
        history = json.loads((done / "history.json").read_text())
    except (VerituneError, OSError, ValueError):  # absent or incomplete: the phase runs again
        return None
    model, _ = load_policy(str(done), trust_remote_code)
    return model, history

"""The run directory and its manifest: which stage finished, with which config and inputs.

A stage is skipped when the manifest says it finished with the same config hash and the same
input hashes and its outputs exist. When its config or inputs changed, its old outputs are
removed and it runs afresh; when it was interrupted (status ``running``) with the same config
and inputs, it resumes from the records already on disk.

Each stage's entry also keeps ``config``: the resolved config sections its hash was computed
from, so the manifest says what every stage ran with even after ``config.yaml`` (the config of
the latest command) moved on. Opening a run directory takes its lock (``veritune.runs.lock``):
one process at a time.
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import yaml

from veritune.config import dump_config
from veritune.errors import InputError
from veritune.jsonl import atomic_write_json, atomic_write_text, read_json
from veritune.runs.keys import StageKey, file_hash
from veritune.runs.lock import lock_dir

PACKAGES = ("veritune", "torch", "transformers", "trl", "peft")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain config trees."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def load_manifest(path: str | Path) -> dict[str, Any]:
    """A run's manifest.json ({"stages": {}} when missing); a corrupt one is an InputError
    naming the file (and the stage) instead of a traceback somewhere later."""
    path = Path(path)
    if not path.exists():
        return {"stages": {}, "versions": {}}
    manifest = read_json(path)
    if not isinstance(manifest.get("stages"), dict):
        raise InputError("not a veritune manifest: needs an object 'stages'", path=path,
                         field="stages")
    for name, entry in manifest["stages"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("counts", {}), dict):
            raise InputError("not a stage entry (an object with status, config_hash, inputs, "
                             "counts)", path=path, field=f"stages.{name}")
    if not isinstance(manifest.setdefault("versions", {}), dict):
        raise InputError("expected an object", path=path, field="versions")
    return manifest


class RunStore:
    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        lock_dir(self.dir)  # before reading anything: another process may be writing
        self.manifest_path = self.dir / "manifest.json"
        self.manifest: dict[str, Any] = load_manifest(self.manifest_path)
        if not self.manifest_path.exists():
            self.manifest["versions"] = versions()
        self._started: dict[str, float] = {}

    def path(self, name: str) -> Path:
        return self.dir / name

    def save_config(self, cfg) -> list[str]:
        """Write config.yaml (the config of the latest command); return the dotted keys that
        differ from the config.yaml it replaces ([] for a new run). Stages run with an earlier
        config keep it in the manifest (``stages.<name>.config``)."""
        path = self.path("config.yaml")
        try:
            old = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
        except (yaml.YAMLError, UnicodeDecodeError):
            old = "unreadable"
        new = dataclasses.asdict(cfg)
        atomic_write_text(path, dump_config(cfg))
        if old is None:
            return []
        return changed_keys(old, new) if isinstance(old, dict) else ["(unreadable config.yaml)"]

    def _save(self) -> None:
        atomic_write_json(self.manifest_path, self.manifest)

    def begin(self, stage: str, key: StageKey | str, inputs: Iterable[Path],
              outputs: Iterable[Path]) -> bool:
        """Return True when the stage must run; False when it is done and up to date. ``key``:
        the stage's key (its config also goes into the manifest), or a bare hash."""
        config_hash = key.hash if isinstance(key, StageKey) else key
        inputs = {str(p.relative_to(self.dir) if p.is_relative_to(self.dir) else p): file_hash(p)
                  for p in inputs}
        outputs = list(outputs)
        entry = self.manifest["stages"].get(stage)
        same = bool(entry) and entry.get("config_hash") == config_hash and \
            entry.get("inputs") == inputs
        if same and entry.get("status") == "done" and all(p.exists() for p in outputs):
            return False
        if not same:  # new config or new inputs: start this stage afresh
            for p in outputs:
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
        self.manifest["stages"][stage] = {"status": "running", "config_hash": config_hash,
                                          "inputs": inputs,
                                          "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if isinstance(key, StageKey):  # what the stage runs with, beside its hash
            self.manifest["stages"][stage]["config"] = key.config
        self.manifest["versions"] = versions()
        self._started[stage] = time.perf_counter()
        self._save()
        return True

    def finish(self, stage: str, counts: dict[str, Any]) -> None:
        entry = self.manifest["stages"][stage]
        started = self._started.pop(stage, time.perf_counter())
        entry.update(status="done", counts=counts,
                     seconds=round(time.perf_counter() - started, 1),
                     finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
        self._save()

    def restart_clock(self, stage: str) -> None:
        """Time ``stage`` from now: a stage that ran inside it (the train stage's anchors)
        keeps its own seconds instead of being counted in both."""
        self._started[stage] = time.perf_counter()

    def counts(self, stage: str) -> dict[str, Any]:
        return self.manifest["stages"].get(stage, {}).get("counts", {})

    def seconds(self) -> dict[str, float]:
        return {name: e.get("seconds", 0.0) for name, e in self.manifest["stages"].items()}

"""The run directory and its manifest: which stage finished, with which config and inputs.

A stage is skipped when the manifest says it finished with the same config hash and the same
input hashes and its outputs exist. When its config or inputs changed, its old outputs are
removed and it runs afresh; when it was interrupted (status ``running``) with the same config
and inputs, it resumes from the records already on disk.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from veritune.jsonl import atomic_write_json

PACKAGES = ("veritune", "torch", "transformers", "trl", "peft")


def file_hash(path: Path) -> str:
    """Content hash of a file, or of a folder's files (names and contents).

    A folder's README.md (a model card, which evaluation rewrites with its results) is left
    out: it documents the weights and does not change what a later stage computes.
    """
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != "README.md") \
        if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


class RunStore:
    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.dir / "manifest.json"
        self.manifest: dict[str, Any] = (json.loads(self.manifest_path.read_text())
                                         if self.manifest_path.exists()
                                         else {"stages": {}, "versions": versions()})
        self._started: dict[str, float] = {}

    def path(self, name: str) -> Path:
        return self.dir / name

    def _save(self) -> None:
        atomic_write_json(self.manifest_path, self.manifest)

    def begin(self, stage: str, config_hash: str, inputs: Iterable[Path],
              outputs: Iterable[Path]) -> bool:
        """Return True when the stage must run; False when it is done and up to date."""
        inputs = {str(p.relative_to(self.dir) if p.is_relative_to(self.dir) else p): file_hash(p)
                  for p in inputs}
        outputs = list(outputs)
        entry = self.manifest["stages"].get(stage)
        same = bool(entry) and entry["config_hash"] == config_hash and entry["inputs"] == inputs
        if same and entry["status"] == "done" and all(p.exists() for p in outputs):
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
        self.manifest["versions"] = versions()
        self._started[stage] = time.perf_counter()
        self._save()
        return True

    def finish(self, stage: str, counts: dict[str, Any]) -> None:
        entry = self.manifest["stages"][stage]
        entry.update(status="done", counts=counts,
                     seconds=round(time.perf_counter() - self._started.pop(stage, time.perf_counter()), 1),
                     finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
        self._save()

    def counts(self, stage: str) -> dict[str, Any]:
        return self.manifest["stages"].get(stage, {}).get("counts", {})

    def seconds(self) -> dict[str, float]:
        return {name: e.get("seconds", 0.0) for name, e in self.manifest["stages"].items()}

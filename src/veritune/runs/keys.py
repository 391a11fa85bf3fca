"""How config values and files become the hashes that decide what runs again.

One scheme for everything that is cached: a stage's key (``StageKey.of(cfg.sample,
cfg.model, cfg.prompt, cfg.seed)``), a suite task's key, a training checkpoint's key, the
question set's step caches. ``hashable`` turns config sections into plain data; ``config_hash``
hashes any such value; ``file_hash`` hashes a file or a folder.

A key added to the schema after runs were made would change every hash that includes its
section, and finished stages would run again for nothing. So keys added later are left out of
the hash while they hold their default (``ADDED_LATER``), and three keys never count at all
(``NEVER``: how often to checkpoint, where to report, how many rounds follow this one). ``dtype: auto`` hashes as the dtype it
resolves to (float32 runs made before ``auto`` keep their hashes), and a value's alias as the
name runs were made with (``ALIASES``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veritune.config import ModelConfig
from veritune.dtype import hash_dtype

# section class -> keys left out while they hold their default (added after runs existed)
ADDED_LATER: dict[str, frozenset[str]] = {
    "ModelConfig": frozenset({"vllm", "dola_layers"}),
    "DataConfig": frozenset({"seed", "test_source", "test_format", "max_test"}),
    "JudgeConfig": frozenset({"mode", "prompt", "threshold", "threshold_partial",
                             "batch_size", "require_overlap"}),
    "PairsConfig": frozenset({"abstain", "abstain_text", "skip_questions", "min_correct"}),
    "AnchorConfig": frozenset({"backward"}),
    "LoraConfig": frozenset({"save"}),
    "TrainConfig": frozenset({"lr_scheduler_kwargs", "backend", "group_by_prompt", "bf16",
                              "select", "eval_steps", "anchor", "dola_layers",
                              "iti_heads", "iti_alpha"}),
    "EvalConfig": frozenset({"limit", "guard", "guard_limit", "judge"}),
    "ApeftConfig": frozenset({"decomposer"}),
}
# section class -> keys that never change what a stage computes
NEVER: dict[str, frozenset[str]] = {"TrainConfig": frozenset({"save_steps", "report_to",
                                                              "rounds"})}
# (section class, key) -> {value: the name its runs were hashed with}
ALIASES: dict[tuple[str, str], dict[Any, Any]] = {
    ("TrainConfig", "backend"): {"prompt_sharing": "shared"},
}


def _defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def hashable(obj: Any) -> Any:
    """Plain data for hashing: ``dataclasses.asdict`` with the exceptions of the module
    docstring."""
    if isinstance(obj, ModelConfig) and obj.dtype == "auto":
        obj = dataclasses.replace(obj, dtype=hash_dtype(obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        section = type(obj).__name__
        later, never = ADDED_LATER.get(section, frozenset()), NEVER.get(section, frozenset())
        defaults = _defaults(type(obj)) if later else {}
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name in never or (f.name in later and value == defaults.get(f.name)):
                continue
            value = ALIASES.get((section, f.name), {}).get(value, value) \
                if isinstance(value, (str, int, float, bool)) else value
            out[f.name] = hashable(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [hashable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: hashable(v) for k, v in obj.items()}
    return obj


def config_hash(obj: Any) -> str:
    """Stable hash of a config section (or any JSON-able value)."""
    blob = json.dumps(hashable(obj), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class StageKey:
    """A stage's key: the hash of what its result depends on, and that plain data (kept in the
    manifest beside the hash, so it says what each stage ran with).

    ``StageKey.of(cfg.sample, cfg.model, cfg.seed).hash == config_hash([...])``."""
    hash: str
    config: Any

    @classmethod
    def of(cls, *parts) -> "StageKey":
        return cls(config_hash(list(parts)), hashable(list(parts)))

    def __str__(self) -> str:
        return self.hash


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

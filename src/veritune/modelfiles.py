"""Writing a model folder atomically and checking that one is complete before loading it.

A folder is written beside its final place (``.NAME.tmp-PID``), fsynced, then renamed into
place, so a kill while saving leaves the old folder or none, never half of one. A folder
written some other way is checked before use: ``config.json`` parses and every safetensors
file (the index's shards, or ``model.safetensors``) is present and as long as its header says.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from veritune.errors import VerituneError


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_partial(path: Path) -> None:
    """Remove what an interrupted :func:`atomic_dir` left beside ``path``."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in path.parent.glob(f".{path.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside ``path``; when the block ends without an error, it
    replaces ``path`` in one rename (an existing ``path`` is moved aside first, then removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        old = path.parent / f".{path.name}.old-{os.getpid()}"
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _safetensors_complete(path: Path) -> str | None:
    """None when the file is whole; else what is wrong with it."""
    if not path.is_file():
        return f"{path.name} is missing"
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{path.name} is cut short ({size} bytes)"
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            return f"{path.name} is cut short (header of {n} bytes, file of {size})"
        try:
            header = json.loads(f.read(n))
        except ValueError:
            return f"{path.name} has an unreadable header"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"),
              default=0)
    if 8 + n + end != size:
        return f"{path.name} is cut short ({size} of {8 + n + end} bytes)"
    return None


ADAPTER_CONFIG = "adapter_config.json"


def adapter_base(path: str | Path) -> str | None:
    """The base model a LoRA adapter folder names (``base_model_name_or_path``), or None when
    ``path`` is not an adapter folder."""
    config = Path(path) / ADAPTER_CONFIG
    if not config.is_file():
        return None
    try:
        base = json.loads(config.read_text(encoding="utf-8"))["base_model_name_or_path"]
    except (OSError, ValueError, KeyError):
        raise VerituneError(f"{config}: unreadable, or it names no base_model_name_or_path")
    return base or None


def check_model_dir(path: str | Path) -> None:
    """Raise a clear error unless ``path`` holds a complete safetensors model (or a complete
    LoRA adapter, which loads on the base it names)."""
    path = Path(path)
    hint = "an interrupted save? run the train stage again"
    if not path.is_dir():
        raise VerituneError(f"{path}: no model folder here ({hint})")
    if (path / ADAPTER_CONFIG).exists():  # LoRA adapters saved apart from their base
        try:
            json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise VerituneError(f"{path}: {ADAPTER_CONFIG} is unreadable ({hint})") from None
        problem = _safetensors_complete(path / "adapter_model.safetensors")
        if problem:
            raise VerituneError(f"{path}: the adapter folder is incomplete: {problem} ({hint})")
        return
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise VerituneError(f"{path}: config.json is missing or unreadable: the model folder is "
                           f"incomplete ({hint})") from None
    index = path / "model.safetensors.index.json"
    if index.exists():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"]
                                .values()))
        except (ValueError, KeyError):
            raise VerituneError(f"{index}: unreadable shard index ({hint})") from None
    else:
        shards = ["model.safetensors"]
    for shard in shards:
        problem = _safetensors_complete(path / shard)
        if problem:
            raise VerituneError(f"{path}: the model folder is incomplete: {problem} ({hint})")

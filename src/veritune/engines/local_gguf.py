"""Any local GGUF file is a model: converted once to safetensors in veritune's cache.

``model.name: path/to/file.gguf`` (or a folder holding exactly one ``.gguf`` and no
``config.json``) is de-quantized by transformers and saved to
``$XDG_CACHE_HOME/veritune/models/<stem>-<key>/`` (default ``~/.cache``); the key hashes the
file's resolved path, size and modification time, so a changed file converts again and an
unchanged one loads from the cache in about a second. Older conversions of the same path are
removed. A lock file keeps two processes from converting the same file at once.

Saved precision: fp32 for an F32 GGUF, fp16 for an F16 one and bf16 for everything else
(BF16 and the quantized types). A 4-bit block-quantized weight carries far less precision than
bf16's 8-bit mantissa, so fp32 would double the disk and load memory (6 GB instead of 3 GB for
a 1.5B model) for nothing; bf16 keeps fp32's exponent range, so no value overflows. A model
loaded with ``dtype: float32`` is upcast exactly.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from veritune.errors import VerituneError

# GGUF general.file_type: 0 ALL_F32, 1 MOSTLY_F16, 32 MOSTLY_BF16; the rest are quantized.
_FILE_TYPE_DTYPE = {0: "float32", 1: "float16", 32: "bfloat16"}
SOURCE_FILE = "veritune_source.json"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "veritune" / "models"


def gguf_file(name: str) -> Path | None:
    """The GGUF file ``name`` points at (a ``.gguf`` file or a folder holding exactly one and
    no ``config.json``), or None when ``name`` is not a local GGUF model."""
    path = Path(os.path.expanduser(name))
    if name.lower().endswith(".gguf"):
        if not path.is_file():
            raise VerituneError(f"model {name!r}: no such GGUF file")
        return path
    if not path.is_dir() or (path / "config.json").exists():
        return None
    found = sorted(path.glob("*.gguf"))
    if len(found) > 1:
        raise VerituneError(f"model folder {name!r} holds {len(found)} GGUF files "
                           f"({', '.join(p.name for p in found)}); name one of them")
    return found[0] if found else None


def conversion_key(gguf: Path) -> str:
    stat = gguf.stat()
    blob = f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def converted_dir(gguf: Path) -> Path:
    return cache_dir() / f"{gguf.stem}-{conversion_key(gguf)}"


def gguf_dtype(gguf: Path) -> str:
    """The float type the converted weights are saved in (see the module docstring)."""
    from gguf import GGUFReader  # deferred: slow to import

    field = GGUFReader(str(gguf)).fields.get("general.file_type")
    file_type = int(field.contents()) if field is not None else -1
    return _FILE_TYPE_DTYPE.get(file_type, "bfloat16")


def _complete(target: Path) -> bool:
    return (target / "config.json").exists() and any(target.glob("*.safetensors"))


def local_gguf_dir(gguf: Path) -> Path:
    """The converted safetensors folder of ``gguf``, converting it on first use."""
    target = converted_dir(gguf)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be converting it right now
        if not _complete(target):
            convert_gguf(gguf, target, dtype=gguf_dtype(gguf))
            _remove_older_conversions(gguf, keep=target)
    return target


def _remove_older_conversions(gguf: Path, keep: Path) -> None:
    source = str(gguf.resolve())
    for folder in cache_dir().glob(f"{gguf.stem}-*"):
        try:
            meta = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if folder != keep and meta.get("gguf") == source:
            shutil.rmtree(folder, ignore_errors=True)
            (folder.parent / f".{folder.name}.lock").unlink(missing_ok=True)


def convert_gguf(gguf: Path, target: Path, dtype: str = "bfloat16",
                 special_tokens: dict[str, str] | None = None) -> Path:
    """De-quantize ``gguf`` into a safetensors folder ``target`` (written atomically).

    ``special_tokens`` pins tokens a GGUF's metadata gets wrong (see the embedded model).
    """
    import torch  # deferred: torch is heavy
    from transformers import (  # deferred: transformers is slow to import
        AutoModelForCausalLM,
        AutoTokenizer,
    )

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=getattr(torch, dtype))
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    clear_quantization(model)
    if special_tokens:
        tokenizer.add_special_tokens(special_tokens)  # tokens already in the vocabulary
    for cfg in (model.config, model.generation_config):
        for key in ("bos", "eos", "pad"):  # the tokenizer's, unless it has none
            value = getattr(tokenizer, f"{key}_token_id")
            if value is not None or special_tokens:
                setattr(cfg, f"{key}_token_id", value)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps(
            {"gguf": str(gguf.resolve()), "size": gguf.stat().st_size, "dtype": dtype}) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def clear_quantization(model) -> None:
    """transformers marks a de-quantized GGUF model as quantized; it is plain floats now."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config

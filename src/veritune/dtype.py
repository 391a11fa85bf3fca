"""``model.dtype: auto``: bfloat16 where the hardware computes it natively, else float32.

Scoring a model (the eval stage, the guard, the suite) is the exception: there ``auto`` never
goes below the precision the weights are stored in (``engines.scoring_config``). A full
fine-tune of the embedded model at lr 1e-5 changes its float32 weights by less than bfloat16
can tell apart: loaded in bf16, 82% of the weights training changed read as unchanged and the
update that remains points elsewhere (cosine 0.36 with the real one), and kb's measured test
gain fell from +8.3 to +5.5 points (docs/RESULTS.md, "Scoring in bf16").

A CUDA device: bfloat16 when ``torch.cuda.is_bf16_supported()``. A CPU: bfloat16 when its
flags (``/proc/cpuinfo``) include ``avx512_bf16`` or ``amx_bf16``; without them PyTorch
emulates bf16 matmuls, measured 40x slower than fp32 on an AVX2-only CPU. Anything else
(macOS, no ``/proc/cpuinfo``): float32.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from veritune.errors import VerituneError
from veritune.modelfiles import ADAPTER_CONFIG, adapter_base

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags, from ``/proc/cpuinfo`` (or the text given)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


@functools.lru_cache(maxsize=None)
def _cpu_native_bf16() -> bool:
    return bool(cpu_flags() & set(NATIVE_BF16_FLAGS))


def _cuda(device: str | None) -> bool:
    if device is not None:
        return device.startswith("cuda")
    import torch  # deferred: torch is heavy

    return torch.cuda.is_available()


def resolve_dtype(dtype: str, device: str | None = None) -> str:
    """The concrete dtype for ``dtype`` on ``device`` (None: cuda when available, else cpu).

    ``resolve_dtype("auto", "cpu")`` -> ``"bfloat16"`` on a CPU with AVX512_BF16, else
    ``"float32"``; any other dtype is returned as it is.
    """
    if dtype != "auto":
        return dtype
    if _cuda(device):
        import torch  # deferred: torch is heavy

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if _cpu_native_bf16() else "float32"


def stored_dtype(model: str) -> str | None:
    """The dtype a local model folder's ``config.json`` says its weights are stored in
    (``dtype``, or ``torch_dtype`` before transformers 5); for a LoRA adapter folder, its
    base's; None when there is no such file."""
    if (Path(model) / ADAPTER_CONFIG).exists():
        try:
            base = adapter_base(model)
        except VerituneError:
            return None
        return stored_dtype(base) if base else None
    path = Path(model) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = config.get("dtype") or config.get("torch_dtype")
    return value if isinstance(value, str) else None


def hash_dtype(model_cfg) -> str:
    """What a run's hash records for ``dtype: auto``: the transformers engine's resolved
    dtype; for vllm and openai, float32, the old default that meant the same thing there
    (vLLM read float32 as its own auto; a server ignores it)."""
    if model_cfg.engine != "hf":
        return "float32"
    return resolve_dtype(model_cfg.dtype, model_cfg.device)


def train_bf16(flag: bool | None, device: str | None = None) -> bool:
    """``train.bf16``: mixed precision as written, or (None) where bf16 is native."""
    return flag if flag is not None else resolve_dtype("auto", device) == "bfloat16"

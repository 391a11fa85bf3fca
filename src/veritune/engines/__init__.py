"""One small interface for every backend that generates text or scores it.

An engine takes chat prompts (lists of ``{"role", "content"}`` messages) and either samples
``n`` completions per prompt (``generate``), scores a continuation (``loglikelihood``) or gives
the probabilities of a few one-token replies (``choice_logprobs``). ``hf`` (transformers) is the
default; other backends (vLLM, OpenAI-compatible servers) implement the same methods, or say
clearly that they cannot.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence

from veritune import registry
from veritune.config import SamplingParams
from veritune.dtype import resolve_dtype, stored_dtype
from veritune.engines.embedded import EMBEDDED_NAME
from veritune.engines.local_gguf import gguf_dtype, gguf_file

__all__ = ["Engine", "Generation", "Messages", "SamplingParams", "batch_seed",
           "engine_from_config", "make_engine", "scoring_config", "stored_model_dtype"]

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Generation:
    text: str
    n_tokens: int
    truncated: bool  # stopped by max_new_tokens, not by an end-of-turn token


class Engine(Protocol):
    name: str
    model_name: str

    def generate(self, prompts: Sequence[Messages], params: SamplingParams,
                 batch_index: int = 0) -> list[list[Generation]]:
        """``params.n`` completions for each prompt, in order.

        Example: ``generate([[{"role": "user", "content": "Capital of France?"}]],
        SamplingParams(n=2, temperature=1.0))`` -> ``[[Generation("Paris", 2, False),
        Generation("Paris.", 3, False)]]``. ``batch_index`` is mixed into the seed so the same
        batch always draws the same samples (resume gives identical records).
        """

    def loglikelihood(self, requests: Sequence[tuple[Messages, str]]) -> list[float]:
        """Sum of log-probabilities of each assistant continuation given its prompt.

        Example: ``loglikelihood([(msgs, "Paris")])`` -> ``[-0.41]``.
        """

    def choice_logprobs(self, prompts: Sequence[Messages],
                        choices: Sequence[str]) -> list[list[float]] | None:
        """Log-probability of each one-token choice as the first token of the reply, one
        pass per prompt (the LLM judge's score mode). ``-inf`` for a choice the backend gives
        no probability for; None when some choice is not one token (then the caller falls back
        to ``loglikelihood``).

        Example: ``choice_logprobs([msgs], ["Yes", "No"])`` -> ``[[-0.02, -3.9]]``.
        """


def batch_seed(seed: int, batch_index: int) -> int:
    """The seed of one batch: the same (seed, batch) always draws the same samples, on every
    engine, so a resumed run redraws a half-written batch exactly."""
    digest = hashlib.sha256(f"{seed}:{batch_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def make_engine(name: str, model: str, **kwargs) -> Engine:
    """The engine registered as ``name`` (``veritune.registry``) on ``model``."""
    return registry.get("engine", name)(model, **kwargs)


def scoring_config(cfg, *models: str):
    """``cfg`` as it scores ``models`` (``cfg.name`` when none), which are compared with one
    another: for the transformers engine, ``dtype: auto`` made concrete, in float32 when any
    of them stores float32 weights (bf16 rounding erases most of a fine-tune's update, and
    models compared are scored alike), else as :func:`veritune.dtype.resolve_dtype`. Other
    engines and dtypes as they are. Also what a score's hash sees."""
    if cfg.engine != "hf" or cfg.dtype != "auto":
        return cfg
    dtype = resolve_dtype("auto", cfg.device)
    if dtype != "float32" and any(stored_model_dtype(m) == "float32"
                                  for m in models or (cfg.name,)):
        dtype = "float32"
    return dataclasses.replace(cfg, dtype=dtype)


def stored_model_dtype(name: str) -> str | None:
    """The dtype the weights of ``name`` are stored in, without loading or converting them:
    float32 for the embedded model (its conversion), the conversion's dtype for a local GGUF,
    a folder's ``config.json``; None when unknown (a hub name)."""
    if name == EMBEDDED_NAME:
        return "float32"
    gguf = gguf_file(name)
    return gguf_dtype(gguf) if gguf else stored_dtype(name)


def engine_from_config(cfg, model: str | None = None, scoring: bool = False) -> Engine:
    """The engine a ``ModelConfig`` describes (``model`` overrides ``cfg.name``); ``scoring``:
    to evaluate the model on its own, in the precision :func:`scoring_config` gives. Each
    engine class reads its own settings (``from_config``)."""
    model = model or cfg.name
    if scoring:
        cfg = scoring_config(cfg, model)
    return registry.get("engine", cfg.engine).from_config(cfg, model)

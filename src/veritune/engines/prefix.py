"""A prompt prefix shared across batches, run through the model once.

A judge sends hundreds of prompts that all start with the same instructions and worked examples
(several hundred tokens) and differ only in the last few dozen. :class:`PrefixCache` keeps the
KV cache of that common start (batch of one) and, for each batch, copies it, runs what the
batch's prompts still share once more, repeats it for every row and runs only each prompt's own
tail, left-padded. The first batch fixes the prefix (its rows' longest common start); a later
batch that does not begin with it shrinks it once to what they share.

Used by the hf engine when ``share_prefix`` is on (the LLM judge turns it on); results equal
those of the whole prompts up to floating-point rounding.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch

from veritune.engines.kv import cache_arg, cache_of

MIN_SHARED = 16  # a shorter common start is not worth a separate pass


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def longest_common_start(rows: Sequence[Sequence[int]]) -> int:
    """Length of the start every row shares, leaving each row at least one token of its own."""
    limit = min(len(r) for r in rows) - 1
    first, i = rows[0], 0
    while i < limit and all(r[i] == first[i] for r in rows):
        i += 1
    return i


class PrefixCache:
    def __init__(self):
        self.tokens: tuple[int, ...] = ()
        self.cache = None

    def _run(self, model, tokens: Sequence[int], cache, start: int, device):
        ids = torch.tensor([list(tokens)], device=device)
        positions = torch.arange(start, start + len(tokens), device=device)[None]
        out = model(input_ids=ids, position_ids=positions, use_cache=True, logits_to_keep=1,
                    **cache_arg(cache))
        return cache_of(out)

    def _settle(self, model, rows: Sequence[Sequence[int]], shared: int, device) -> None:
        """Make the kept prefix one that every row starts with (or none)."""
        if self.tokens and len(self.tokens) <= shared and \
                tuple(rows[0][:len(self.tokens)]) == self.tokens:
            return
        keep = _common(self.tokens, rows[0][:shared]) if self.tokens else shared
        self.tokens, self.cache = (), None
        if keep >= MIN_SHARED:
            self.tokens = tuple(rows[0][:keep])
            self.cache = self._run(model, self.tokens, None, 0, device)

    @torch.inference_mode()
    def prefill(self, model, rows: Sequence[Sequence[int]], pad_id: int, device):
        """(cache, last-token logits, attention mask, position ids) of the batch ``rows``, as
        ``decode`` expects them after its first forward pass; None when the rows share too
        little (then run them whole)."""
        shared = longest_common_start(rows)
        if shared < MIN_SHARED:
            return None
        self._settle(model, rows, shared, device)
        if not self.tokens:
            return None
        cache, start = copy.deepcopy(self.cache), len(self.tokens)
        if shared > start:  # what this batch still shares: once, not once per row
            cache = self._run(model, rows[0][start:shared], cache, start, device)
            start = shared
        cache.batch_repeat_interleave(len(rows))
        tails = [list(r[start:]) for r in rows]
        width = max(len(t) for t in tails)
        ids = torch.tensor([[pad_id] * (width - len(t)) + t for t in tails], device=device)
        own = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in tails],
                           device=device)
        attention = torch.cat([torch.ones(len(rows), start, dtype=own.dtype, device=device),
                               own], dim=1)
        positions = start + (own.cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=attention, position_ids=positions,
                    use_cache=True, logits_to_keep=1, **cache_arg(cache))
        return cache_of(out), out.logits[:, -1].float(), attention, positions

"""Choosing the next token from a batch of logits: greedy, temperature, top-k, top-p.

    token = sample_next(logits, SamplingParams(temperature=1.4, top_p=0.9, top_k=50), gen)

The order is transformers' (temperature, then top-k, then top-p among the k kept). Nothing
here sorts the vocabulary: a full sort of 49k logits per row per step once cost more than the
model (benchmarks/results/sampling_compare.json).

- top-k: ``torch.topk`` keeps k candidates; top-p then runs on those k.
- top-p alone (vLLM's default, ``top_k: 0``) keeps, over the whole vocabulary, the tokens
  whose more probable tokens hold less than ``top_p`` of the mass. Exactly, in two ways:
  when the ``CANDIDATES`` most probable tokens already hold ``top_p`` of the mass (most rows
  at temperature 1), the nucleus is among them and is cut there; otherwise (flat rows, e.g.
  at temperature 1.4 where half the nuclei hold over 4,000 tokens) a token drawn from the
  whole distribution is kept when it lies in the nucleus and drawn again when not, which
  samples the nucleus renormalised (accepted with probability = the nucleus mass >= top_p).
  Tokens tied at the nucleus edge all stay in (a sort would keep an arbitrary few of them).
- Draws over the whole vocabulary use the inverse CDF (``cumsum`` + ``searchsorted``), several
  times faster than ``torch.multinomial`` over 49k entries.
"""

from __future__ import annotations

import torch

from veritune.engines import SamplingParams

CANDIDATES = 256  # top-p alone: candidates tried before drawing from the whole vocabulary


def sample_next(logits: torch.Tensor, params: SamplingParams,
                generator: torch.Generator) -> torch.Tensor:
    """One token per row: greedy, or temperature, then top-k, then top-p (nucleus)."""
    if params.greedy:
        return logits.argmax(dim=-1)
    logits = logits / params.temperature
    if params.top_k and params.top_k < logits.shape[-1]:
        values, indices = torch.topk(logits, params.top_k, dim=-1)  # sorted, descending
        if params.top_p < 1.0:
            probs = torch.softmax(values, dim=-1)
            values = values.masked_fill(probs.cumsum(dim=-1) - probs >= params.top_p,
                                        float("-inf"))
        choice = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=generator)
        return indices.gather(-1, choice).squeeze(-1)
    return nucleus_sample(logits, min(params.top_p, 1.0), generator)


def nucleus_sample(logits: torch.Tensor, top_p: float, generator: torch.Generator,
                   candidates: int = CANDIDATES) -> torch.Tensor:
    """One token per row from the top-p nucleus of the whole vocabulary (``top_p`` 1: the
    whole distribution), exactly as sorting would, without sorting."""
    rows, vocab = logits.shape
    k = min(candidates, vocab)
    values, indices = torch.topk(logits, k, dim=-1)
    e = torch.exp(logits - values[:, :1])  # unnormalised probabilities, the largest 1
    z = e.sum(dim=-1, keepdim=True)
    top = torch.exp(values - values[:, :1])
    before = top.cumsum(dim=-1) - top  # mass of the candidates before each one
    covered = before[:, -1:] + top[:, -1:] >= top_p * z
    if top_p >= 1.0:
        covered = covered & (k == vocab)
    out = torch.empty(rows, dtype=torch.long, device=logits.device)
    rows_in = covered.squeeze(-1).nonzero().squeeze(-1)
    if rows_in.numel():
        w = top[rows_in].masked_fill(before[rows_in] >= top_p * z[rows_in], 0.0)
        pick = torch.multinomial(w, 1, generator=generator)
        out[rows_in] = indices[rows_in].gather(-1, pick).squeeze(-1)
    rows_out = (~covered.squeeze(-1)).nonzero().squeeze(-1)
    if rows_out.numel():
        sub = e if rows_out.numel() == rows else e[rows_out]
        out[rows_out] = _draw_in_nucleus(sub, top_p, generator)
    return out


def _draw_in_nucleus(e: torch.Tensor, top_p: float, generator: torch.Generator) -> torch.Tensor:
    """Rejection sampling: draw from ``e`` (unnormalised) by its inverse CDF; keep a token
    whose strictly more probable tokens hold less than ``top_p`` of the mass."""
    cdf = e.cumsum(dim=-1)
    z = cdf[:, -1:]
    out = torch.empty(e.shape[0], dtype=torch.long, device=e.device)
    todo = torch.arange(e.shape[0], device=e.device)
    while todo.numel():
        ei, ci, zi = (e, cdf, z) if todo.numel() == e.shape[0] else (e[todo], cdf[todo], z[todo])
        u = torch.rand(todo.numel(), 1, generator=generator, device=e.device) * zi
        x = torch.searchsorted(ci, u, right=True).clamp_(max=e.shape[1] - 1)
        if top_p >= 1.0:
            out[todo] = x.squeeze(-1)
            break
        above = (ei * (ei > ei.gather(-1, x))).sum(dim=-1, keepdim=True)
        ok = (above < top_p * zi).squeeze(-1)
        out[todo[ok]] = x[ok].squeeze(-1)
        todo = todo[~ok]
    return out

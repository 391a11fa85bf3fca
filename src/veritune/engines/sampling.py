"""Choosing the next token from a batch of logits: greedy, temperature, top-k, top-p.

    token = sample_next(logits, SamplingParams(temperature=1.4, top_p=0.9, top_k=50), gen)

The order is transformers' (temperature, then top-k, then top-p among the k kept). Nothing
here sorts the vocabulary: a full sort of 49k logits per row per step once cost more than the
model (benchmarks/results/sampling_compare.json).

- top-k: ``torch.topk`` keeps k candidates; top-p then runs on those k.
- top-p alone (vLLM's default, ``top_k: 0``) keeps, over the whole vocabulary, the tokens
  whose more probable tokens hold less than ``top_p`` of the mass: the nucleus a sort gives.
  It is sampled by rejection: a token is drawn from the whole distribution (inverse CDF:
  ``cumsum`` + ``searchsorted``, several times faster than ``torch.multinomial`` over 49k
  entries) and kept when it lies in the nucleus, else drawn again. The kept draws follow the
  nucleus renormalised, exactly; a draw is kept with probability = the nucleus mass
  (>= top_p), so about 1.1 draws a row at top_p 0.9. This costs the same for flat rows (at
  temperature 1.4 half the nuclei of a 135M model hold over 4,000 tokens, so no bounded
  candidate set would do) as for peaked ones. Tokens tied at the nucleus edge all stay in (a
  sort keeps an arbitrary few of them).
"""

from __future__ import annotations

import torch

from veritune.engines import SamplingParams


def sample_next(logits: torch.Tensor, params: SamplingParams,
                generator: torch.Generator) -> torch.Tensor:
    """One token per row: greedy, or temperature, then top-k, then top-p (nucleus)."""
    if params.greedy:
        return logits.argmax(dim=-1)
    if params.top_k and params.top_k < logits.shape[-1]:
        values, indices = torch.topk(logits / params.temperature, params.top_k, dim=-1)
        if params.top_p < 1.0:  # values are sorted, descending
            probs = torch.softmax(values, dim=-1)
            values = values.masked_fill(probs.cumsum(dim=-1) - probs >= params.top_p,
                                        float("-inf"))
        choice = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=generator)
        return indices.gather(-1, choice).squeeze(-1)
    return nucleus_sample(logits, min(params.top_p, 1.0), generator, params.temperature)


def nucleus_sample(logits: torch.Tensor, top_p: float, generator: torch.Generator,
                   temperature: float = 1.0) -> torch.Tensor:
    """One token per row from the top-p nucleus of ``logits / temperature`` over the whole
    vocabulary (``top_p`` 1: the whole distribution), the distribution a sort gives."""
    rows, vocab = logits.shape
    # unnormalised probabilities (the largest 1), in one new buffer: each pass over
    # rows x 49k floats costs about as much as the draws themselves
    e = (logits - logits.max(dim=-1, keepdim=True).values).mul_(1.0 / temperature).exp_()
    cdf = e.cumsum(dim=-1)
    out = torch.empty(rows, dtype=torch.long, device=e.device)
    todo = again = torch.arange(rows, device=e.device)
    while todo.numel():
        if again is not todo:  # the rows whose draw was rejected, drawn again
            e = e[again]
            cdf = e.cumsum(dim=-1)
        z = cdf[:, -1:].clone()
        u = torch.rand(todo.numel(), 1, generator=generator, device=e.device) * z
        x = torch.searchsorted(cdf, u, right=True).clamp_(max=vocab - 1)
        if top_p >= 1.0:
            out[todo] = x.squeeze(-1)
            break
        # mass of the tokens strictly more probable than x (cdf's buffer is free now)
        above = torch.mul(e, e > e.gather(-1, x), out=cdf).sum(dim=-1, keepdim=True)
        ok = (above < top_p * z).squeeze(-1)  # x is in the nucleus
        out[todo[ok]] = x[ok].squeeze(-1)
        again, todo = (~ok).nonzero().squeeze(-1), todo[~ok]
    return out

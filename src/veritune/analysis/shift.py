"""Token-distribution shift between a base and a tuned model (as in URIAL / the APEFT paper).

The tuned model answers each prompt greedily; the base model reads the same prompt and answer
in one forward pass, and at every answer position we find the rank of the tuned model's token
in the base model's next-token distribution:

- ``unshifted``: rank 1 (the base model would have said the same token);
- ``marginal``: rank 2..k (the base model had it among its top k);
- ``shifted``: rank > 1 (the tuned token is not the base model's top-1; marginal is part of it);
- ``beyond_top_k``: rank > k (the stricter reading of "shifted").

Identical models give 0% shifted by construction.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import torch

from veritune.engines import Messages, SamplingParams
from veritune.engines.hf import HFEngine, decode
from veritune.errors import VerituneError
from veritune.progress import progress


def _same_vocab(a: HFEngine, b: HFEngine) -> None:
    if a.tokenizer.get_vocab() != b.tokenizer.get_vocab():
        raise VerituneError("the two models use different tokenizers; token shift compares "
                           "token ranks and needs the same vocabulary")


@torch.inference_mode()
def token_ranks(base: HFEngine, tuned: HFEngine, prompts: Sequence[Messages],
                max_new_tokens: int = 128, batch_size: int = 8) -> list[dict]:
    """Per prompt: the tuned answer's token ids, their texts, and each token's rank under the
    base model (1 = its top-1), with the base model's top-1 token there."""
    _same_vocab(base, tuned)
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
    out: list[dict] = []
    with progress(len(prompts), "token shift", "prompt") as bar:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            ids, attn = tuned.encode(chunk)
            rows = decode(tuned.model, ids, attn, params, tuned.stop_ids,
                          torch.Generator(device=tuned.device).manual_seed(0))
            stops = set(tuned.stop_ids)
            answers = [[t for t in row if t not in stops] for row in rows]
            for p in range(len(chunk)):
                out.append(_rank_one(base, ids[p][attn[p].bool()].tolist(), answers[p]))
            bar.update(len(chunk))
    return out


def _rank_one(base: HFEngine, prompt_ids: list[int], answer: list[int]) -> dict:
    if not answer:
        return {"tokens": [], "texts": [], "ranks": [], "base_top1": []}
    seq = torch.tensor([prompt_ids + answer], device=base.device)
    logits = base.model(input_ids=seq).logits[0, len(prompt_ids) - 1:-1].float()
    chosen = logits.gather(1, torch.tensor(answer, device=base.device)[:, None])
    ranks = (logits > chosen).sum(dim=1) + 1
    tok = base.tokenizer
    return {"tokens": answer, "texts": [tok.decode([t]) for t in answer],
            "ranks": ranks.tolist(),
            "base_top1": [tok.decode([t]) for t in logits.argmax(dim=1).tolist()]}


def shift_metrics(records: Sequence[dict], top_k: int = 3, most: int = 20) -> dict:
    """Rates over every answer token of ``records`` (from :func:`token_ranks`)."""
    ranks = [r for rec in records for r in rec["ranks"]]
    n = len(ranks)
    shifted = Counter()
    seen = Counter()
    for rec in records:
        for text, rank in zip(rec["texts"], rec["ranks"]):
            seen[text] += 1
            if rank > 1:
                shifted[text] += 1

    def rate(x: int) -> float:
        return round(x / n, 4) if n else 0.0

    return {"n_prompts": len(records), "n_tokens": n, "top_k": top_k,
            "unshifted_rate": rate(sum(r == 1 for r in ranks)),
            "marginal_rate": rate(sum(1 < r <= top_k for r in ranks)),
            "shifted_rate": rate(sum(r > 1 for r in ranks)),
            "beyond_top_k_rate": rate(sum(r > top_k for r in ranks)),
            "mean_answer_tokens": round(n / len(records), 2) if records else 0.0,
            "most_shifted": [{"token": t, "shifted": c, "seen": seen[t]}
                             for t, c in shifted.most_common(most)]}

"""Log-probs of answers after their prompts, each prompt run once for all its answers.

    plan = plan_batch([EncodedPair(prompt_ids, chosen_ids, rejected_ids), ...])
    token_logps, mask = row_logps(model, plan, pad_id)      # [rows, answer length]

A batch of (prompt, answer) rows in which prompts repeat (a question's DPO pairs, TruthfulQA's
options of one question) runs each distinct prompt once, left-padded, keeps its KV cache,
repeats it for each of its rows and runs only the answers on top, right-padded; logits are
taken only where an answer token is predicted. With gradients on (training) they flow back
through the cache into the prompt; in ``torch.inference_mode`` it is the scoring path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch

from veritune.engines.kv import cache_arg, cache_of


class Encoded(Protocol):
    prompt: list[int]
    chosen: list[int]
    rejected: list[int]


@dataclass
class BatchPlan:
    """What a batch of pairs needs computed: each distinct prompt once, each distinct
    (prompt, answer) once. In PKUE a question has up to K pairs that share its prompt and
    reuse its answers (a correct answer paired with several incorrect ones)."""
    prompts: list[list[int]]
    rows: list[tuple[int, list[int]]]  # (prompt index, answer ids)
    chosen: list[int]  # each pair's chosen row
    rejected: list[int]


def plan_batch(batch: Sequence[Encoded]) -> BatchPlan:
    prompts: dict[tuple, int] = {}
    rows: dict[tuple, int] = {}
    chosen, rejected = [], []
    for e in batch:
        p = prompts.setdefault(tuple(e.prompt), len(prompts))
        chosen.append(rows.setdefault((p, tuple(e.chosen)), len(rows)))
        rejected.append(rows.setdefault((p, tuple(e.rejected)), len(rows)))
    return BatchPlan([list(k) for k in prompts], [(p, list(a)) for p, a in rows],
                     chosen, rejected)


def row_logps(model, plan: BatchPlan, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs of each row's answer tokens and their mask: [rows, answer length]."""
    device = next(model.parameters()).device
    p_len = max(len(p) for p in plan.prompts)
    ids = torch.full((len(plan.prompts), p_len), pad_id, dtype=torch.long)
    mask = torch.zeros((len(plan.prompts), p_len), dtype=torch.long)
    for i, prompt in enumerate(plan.prompts):  # left-padded: their last tokens line up
        ids[i, p_len - len(prompt):] = torch.tensor(prompt)
        mask[i, p_len - len(prompt):] = 1
    ids, mask = ids.to(device), mask.to(device)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                logits_to_keep=1)
    of_row = torch.tensor([p for p, _ in plan.rows], device=device)
    cache = cache_of(out)
    cache.batch_select_indices(of_row)  # each row continues its prompt's cache
    a_len = max(len(a) for _, a in plan.rows)
    a_ids = torch.full((len(plan.rows), a_len), pad_id, dtype=torch.long)
    a_mask = torch.zeros((len(plan.rows), a_len), dtype=torch.long)
    for i, (_, a) in enumerate(plan.rows):  # answers right-padded
        a_ids[i, :len(a)] = torch.tensor(a)
        a_mask[i, :len(a)] = 1
    a_ids, a_mask = a_ids.to(device), a_mask.to(device)
    a_pos = pos[of_row, -1:] + 1 + torch.arange(a_len, device=device)
    attn = torch.cat([mask[of_row], a_mask], dim=-1)
    out2 = model(input_ids=a_ids, attention_mask=attn, position_ids=a_pos,
                 use_cache=False, **cache_arg(cache))
    # position t's logits predict answer token t: the prompt's last logits, then the answer's
    logits = torch.cat([out.logits[of_row, -1:], out2.logits[:, :-1]], 1)
    token_logps = torch.log_softmax(logits.float(), -1).gather(-1, a_ids[..., None])[..., 0]
    return token_logps * a_mask, a_mask

"""Mutual k-nearest-neighbour alignment of two models' representations (Huh et al. 2024, as
in the PKUE paper's appendix): for each prompt, take its k nearest other prompts under each
model (normalised last-layer representation of the prompt's last token, inner product) and
average the share the two neighbour sets have in common. 1 = the same neighbourhoods."""

from __future__ import annotations

from typing import Sequence

import torch

from veritune.engines import Messages
from veritune.engines.hf import HFEngine
from veritune.errors import VerituneError
from veritune.progress import progress


def mutual_knn(a: torch.Tensor, b: torch.Tensor, k: int) -> float:
    """Mean |N_a(i) ∩ N_b(i)| / k over rows i; rows of ``a`` and ``b`` describe the same items
    (their widths may differ). Rows are L2-normalised; an item is never its own neighbour."""
    if a.shape[0] != b.shape[0]:
        raise VerituneError(f"need the same items in both: {a.shape[0]} vs {b.shape[0]} rows")
    n = a.shape[0]
    if not 1 <= k < n:
        raise VerituneError(f"k must be between 1 and {n - 1} (items - 1), got {k}")

    def neighbours(x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.normalize(x.float(), dim=1)
        sim = x @ x.T
        sim.fill_diagonal_(float("-inf"))
        return sim.topk(k, dim=1).indices

    na, nb = neighbours(a), neighbours(b)
    overlap = [len(set(na[i].tolist()) & set(nb[i].tolist())) for i in range(n)]
    return sum(overlap) / (n * k)


@torch.inference_mode()
def prompt_representations(engine: HFEngine, prompts: Sequence[Messages],
                           batch_size: int = 16) -> torch.Tensor:
    """Last-layer hidden state at each prompt's last token (prompts are left-padded)."""
    rows = []
    with progress(len(prompts), f"representations {engine.model_name}", "prompt") as bar:
        for start in range(0, len(prompts), batch_size):
            ids, attn = engine.encode(prompts[start:start + batch_size])
            positions = (attn.cumsum(-1) - 1).clamp(min=0)
            out = engine.model(input_ids=ids, attention_mask=attn, position_ids=positions,
                               output_hidden_states=True)
            rows.append(out.hidden_states[-1][:, -1].float().cpu())
            bar.update(ids.shape[0])
    return torch.cat(rows)

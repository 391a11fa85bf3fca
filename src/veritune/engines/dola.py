"""DoLa decoding (Chuang et al. 2024, "DoLa: Decoding by Contrasting Layers Improves Factuality
in Large Language Models"): the next token's score is the final layer's log-probability minus
that of an early ("premature") layer, so tokens whose probability grows in the upper layers,
where factual knowledge tends to emerge, win over tokens the early layers already favour.

    model: {dola_layers: high}     # or low; greedy answers (evaluation), the hf engine

As in the paper and in transformers' former ``dola_layers`` option (moved to a Hub repository
in transformers 5, which this project does not download):

- candidate premature layers: ``low`` the even-numbered layers of the lower half, ``high`` of
  the upper half (hidden state 0 is the embedding output; it is skipped when the embeddings are
  tied to the output head, whose logits it would only repeat); each early hidden state goes
  through the model's final norm and output head;
- per token, the premature layer is the candidate whose next-token distribution is furthest
  from the final layer's (Jensen-Shannon divergence);
- the adaptive plausibility constraint: only tokens whose final probability is at least
  ``ALPHA`` (0.1) times the top token's can be chosen; the contrast ranks those.

The paper also applies a repetition penalty (1.2) to the contrast; it is left out here, since
short factual answers rarely repeat and the penalty would change greedy answers of its own.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

ALPHA = 0.1
WHICH = ("low", "high")


def candidate_layers(n_layers: int, which: str, tied: bool) -> list[int]:
    """Hidden-state indices of the candidate premature layers (0: the embedding output)."""
    if which not in WHICH:
        raise ValueError(f"dola_layers must be one of {WHICH}, got {which!r}")
    half = n_layers // 2
    start = 2 if tied else 0
    layers = range(start, half, 2) if which == "low" else range(half, n_layers, 2)
    return [i for i in layers if i < n_layers] or [half]


def contrast(final_logits: torch.Tensor, early_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """DoLa's scores (rows x vocab) from the final layer's logits and each candidate layer's:
    log p_final - log p_premature on the plausible tokens, -inf elsewhere."""
    final = final_logits.float().log_softmax(-1)
    early = torch.stack([e.float().log_softmax(-1) for e in early_logits])  # L x rows x vocab
    p_final, p_early = final.exp()[None], early.exp()
    log_mid = (0.5 * (p_final + p_early)).clamp_min(1e-30).log()
    js = 0.5 * ((p_final * (final[None] - log_mid)).sum(-1)
                + (p_early * (early - log_mid)).sum(-1))  # L x rows
    pick = js.argmax(0)
    premature = early[pick, torch.arange(final.shape[0], device=final.device)]
    plausible = final >= final.max(-1, keepdim=True).values + math.log(ALPHA)
    return (final - premature).masked_fill(~plausible, float("-inf"))


def dola_logits(model, hidden_states: Sequence[torch.Tensor], final_logits: torch.Tensor,
                layers: Sequence[int]) -> torch.Tensor:
    """The last position's DoLa scores from a forward pass run with ``output_hidden_states``."""
    norm = model.get_decoder().norm
    head = model.get_output_embeddings()
    early = [head(norm(hidden_states[i][:, -1])) for i in layers]
    return contrast(final_logits, early)


def layers_for(model, which: str) -> list[int]:
    """The candidate layers of ``model`` for ``which`` (``low`` or ``high``)."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") \
        else model.config
    tied = bool(getattr(config, "tie_word_embeddings", False))
    return candidate_layers(config.num_hidden_layers, which, tied)

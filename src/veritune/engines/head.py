"""The output layer gets a contiguous input: a workaround for the CPU's bf16 matmul.

Scoring and training keep only some positions' logits (``logits_to_keep=1`` on a prompt pass:
:mod:`veritune.engines.prefix`, :mod:`veritune.engines.prompt_cache`), so the output layer
sees a strided slice of the hidden states. With frozen bf16 weights (a LoRA base, whose
weights do not require gradients) torch 2.13's oneDNN matmul fails on that slice (it asks for
29 GB), falls back to a slow path, and stays on it for every later matmul of the process. On
the 1.5B model: 64 greedy answers with an adapter took 117 s against the base's 21 s, and the
prompt-sharing loop's reference log-probs 1.1 s a pair. Copying the slice (one row a prompt)
avoids it; every loaded model gets the hook (:class:`veritune.engines.hf.HFEngine`,
:func:`veritune.train.policy.load_policy`).
"""

from __future__ import annotations


def contiguous_head(model) -> None:
    """Hand ``model``'s output layer a contiguous input (once; a second call does nothing)."""
    head = model.get_output_embeddings()
    if head is None or getattr(head, "_veritune_contiguous", False):
        return
    head.register_forward_pre_hook(lambda module, args: (args[0].contiguous(), *args[1:]))
    head._veritune_contiguous = True

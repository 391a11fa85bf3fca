"""ITI, inference-time intervention (Li et al. 2023, "Inference-Time Intervention: Eliciting
Truthful Answers from a Language Model"): a few attention heads whose outputs tell true answers
from false ones are shifted along that direction every time the model runs.

    train: {method: iti, iti_heads: 16, iti_alpha: 15}     # fitted by veritune.train.iti

A shifted head adds ``alpha * sigma * theta`` to its output (``theta`` the unit direction,
``sigma`` the spread of the head's activations along it). What a head adds passes through the
attention's output projection, so a layer's shifts are one vector added to its attention
output: that vector per layer is what a model folder keeps, in ``iti.safetensors`` beside the
weights (which stay the base's). veritune's hf engine reads the file when it loads the folder
and adds the vectors with forward hooks, for sampling, greedy answers and likelihood scoring
alike; another engine would load the plain base, so a config that evaluates an ITI model with
one is refused.

The vectors are added at every position, the prompt's included: the "baked-in" form of ITI
(the same shift as a bias of the output projection), where the paper's code shifts only the
positions after the prompt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

FILE = "iti.safetensors"  # in a model folder: "layer.<i>" -> the shift added to layer i's attention


def attention_modules(model) -> list:
    """Each decoder layer's attention module (``self_attn``), lowest first."""
    return [layer.self_attn for layer in model.get_decoder().layers]


def head_shape(model) -> tuple[int, int]:
    """(attention heads a layer, dimensions a head) of the input to the output projection."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") \
        else model.config
    heads = config.num_attention_heads
    return heads, getattr(config, "head_dim", None) or config.hidden_size // heads


def save_shifts(folder: Path, shifts: Mapping[int, torch.Tensor], meta: Mapping) -> None:
    """Write ``iti.safetensors`` into ``folder``: each layer's shift and how it was fitted."""
    tensors = {f"layer.{i}": v.detach().float().contiguous().cpu() for i, v in shifts.items()}
    save_file(tensors, str(Path(folder) / FILE), metadata={"iti": json.dumps(dict(meta))})


def load_shifts(folder: str | Path) -> dict[int, torch.Tensor] | None:
    """The shifts a model folder keeps, or None where it keeps none."""
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    return {int(k.split(".")[1]): v for k, v in load_file(str(path)).items()}


def read_meta(folder: str | Path) -> dict:
    """How a folder's shifts were fitted (heads, alpha, probe accuracies), {} without any."""
    path = Path(folder) / FILE
    if not path.is_file():
        return {}
    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("iti", "{}"))


def apply_shifts(model, shifts: Mapping[int, torch.Tensor]) -> list:
    """Add each layer's shift to its attention output whenever ``model`` runs; the hooks'
    handles (``handle.remove()`` undoes it)."""
    modules = attention_modules(model)
    handles = []
    for i, shift in shifts.items():
        if not 0 <= i < len(modules):
            raise ValueError(f"{FILE} shifts layer {i}; the model has {len(modules)} layers")
        handles.append(modules[i].register_forward_hook(_adder(shift)))
    return handles


def _adder(shift: torch.Tensor):
    cache: dict = {}

    def hook(module, args, output):
        out = output[0] if isinstance(output, tuple) else output
        key = (out.device, out.dtype)
        if key not in cache:
            cache[key] = shift.to(device=out.device, dtype=out.dtype)
        out = out + cache[key]
        return (out, *output[1:]) if isinstance(output, tuple) else out

    return hook

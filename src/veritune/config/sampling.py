"""SamplingParams: how an engine draws, the one value every ``generate`` call takes. Config
sections make it from their keys (``sample:``, ``train.anchor:``); the engines read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingParams:
    """How an engine draws: what every ``generate`` call takes."""
    n: int = 1
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means no top-k filter
    max_new_tokens: int = 32
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

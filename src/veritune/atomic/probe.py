"""Knowledge probing: how often the model gets each fact right when asked about it.

A fact of relation R about entity E is probed by the kb question of (E, R), sampled m times
and judged by the pipeline's judge; "potentially known" means low < rate < high (the paper:
0 < rate < 1), the facts preference tuning can still move.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from veritune.records import Verdict


def correct_rates(verdicts: Iterable[Verdict]) -> dict[str, float]:
    """question id -> share of its judged samples that are correct (uncertain and not
    attempted left out)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for v in verdicts:
        if v.label in ("uncertain", "not_attempted"):
            continue
        counts[v.question_id][1] += 1
        counts[v.question_id][0] += v.label == "correct"
    return {q: c / n for q, (c, n) in counts.items() if n}


def potentially_known(rates: dict[str, float], low: float = 0.0, high: float = 1.0) -> set[str]:
    return {q for q, r in rates.items() if low < r < high}

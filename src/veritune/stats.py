"""Intervals and tests for paired comparisons: the same items scored by two models (and, for
several training seeds, the same items in every seed).

    from veritune.stats import paired_bootstrap, mcnemar_p
    paired_bootstrap([[1, 0, 1, 1]])   # one seed, 4 items: tuned minus base per item
    -> {"mean": 0.75, "low": 0.25, "high": 1.0, "seeds": 1, "items": 4, ...}

Pure functions on numbers; no file, no model. ``diffs[s][i]`` is item ``i``'s score change
(tuned minus base, or variant A minus variant B) in seed ``s``; every seed has the same items
in the same order, which is what "paired" means here.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

REPLICATES = 10_000
LEVEL = 0.95


def mcnemar_p(up: int, down: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts (wrong->right ``up``,
    right->wrong ``down``): twice the smaller binomial(up + down, 1/2) tail, at most 1.

    ``mcnemar_p(5, 0)`` = 2 * (1/2)^5 = 0.0625; ``mcnemar_p(6, 1)`` = 2 * (1 + 7) / 128
    = 0.125; ``mcnemar_p(0, 0)`` = 1.
    """
    n = up + down
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(up, down) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_bootstrap(diffs: Sequence[Sequence[float]] | Sequence[float],
                     replicates: int = REPLICATES, level: float = LEVEL,
                     seed: int = 0) -> dict:
    """Mean of ``diffs`` and its percentile interval, resampling items and seeds.

    ``diffs`` is a seeds x items table (a flat list is one seed). Each replicate draws as many
    seeds as there are, with replacement, and as many items, with replacement; the same items
    for every drawn seed, since the seeds share the items. The replicate's statistic is the
    mean over the drawn cells. With one seed this is the ordinary paired bootstrap over items.

    Worked by hand (the interval is exact here, since the replicates fall on a few values):
    - one seed, diffs ``[1, 0, 0, 0]``: a replicate's mean is k/4 with k ~ Binomial(4, 1/4),
      P(k <= 0) = .316, P(k <= 2) = .949, P(k <= 3) = .996, so the 95% interval is
      [0, 0.75] around the mean 0.25;
    - two seeds ``[[1, 1], [0, 0]]`` (all the variation between seeds): a replicate draws
      seed 0 twice (1/4: mean 1), once (1/2: 0.5) or never (1/4: 0): interval [0, 1]; resampling
      items alone would have said [0.5, 0.5].
    """
    d = np.asarray(diffs, dtype=float)
    if d.ndim == 1:
        d = d[None, :]
    seeds, items = d.shape
    if seeds == 0 or items == 0:
        return {"mean": None, "low": None, "high": None, "seeds": seeds, "items": items,
                "level": level, "replicates": 0}
    rng = np.random.default_rng(seed)
    seed_counts = rng.multinomial(seeds, np.full(seeds, 1 / seeds), size=replicates)
    item_counts = rng.multinomial(items, np.full(items, 1 / items), size=replicates)
    means = np.einsum("bs,si,bi->b", seed_counts, d, item_counts) / (seeds * items)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": round(float(d.mean()), 6), "low": round(float(low), 6),
            "high": round(float(high), 6), "seeds": seeds, "items": items, "level": level,
            "replicates": replicates}


def verdict(interval: dict) -> str:
    """``gain`` when the interval lies above 0, ``fall`` when below, else ``unclear``."""
    if interval.get("low") is None:
        return "unclear"
    if interval["low"] > 0:
        return "gain"
    if interval["high"] < 0:
        return "fall"
    return "unclear"


def pair_items(base: Sequence[tuple[str, float]], other: Sequence[tuple[str, float]]
               ) -> tuple[list[str], list[float], list[float]]:
    """Two lists of (item key, score) -> the keys both have, with both scores, in ``base``'s
    order. A key seen twice in one list is an error: pairs must be one-to-one."""
    for name, rows in (("base", base), ("other", other)):
        keys = [k for k, _ in rows]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{name}: an item key occurs twice; cannot pair items")
    theirs = dict(other)
    keys = [k for k, _ in base if k in theirs]
    mine = dict(base)
    return keys, [mine[k] for k in keys], [theirs[k] for k in keys]

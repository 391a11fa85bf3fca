"""Train/validation/test splits by entity, balanced across domains; entity subsampling.

An entity (``Question.entity``, or the id when empty) is never divided: all its questions land in
one split, so a model is never tested on a country whose capital it was trained on. Entities are
grouped by the set of domains they appear in; each group is shuffled with the seed and cut at
the requested fractions, so every domain's test share stays close to ``test_fraction``.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter, defaultdict
from typing import Sequence

from veritune.errors import InputError
from veritune.records import Question


def _entity(q: Question) -> str:
    return q.entity or q.id


def _entity_domains(questions: Sequence[Question]) -> dict[str, frozenset[str]]:
    doms: dict[str, set[str]] = defaultdict(set)
    for q in questions:
        doms[_entity(q)].add(q.domain)
    return {e: frozenset(d) for e, d in doms.items()}


def _shuffled_groups(ent_domains: dict[str, frozenset[str]],
                     seed: int) -> dict[tuple[str, ...], list[str]]:
    """Entities grouped by their domain set, each group sorted then shuffled with the seed."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for e, doms in ent_domains.items():
        groups[tuple(sorted(doms))].append(e)
    out = {}
    for sig in sorted(groups):
        ents = sorted(groups[sig])
        random.Random(f"{seed}:{'|'.join(sig)}").shuffle(ents)
        out[sig] = ents
    return out


def _apportion(sizes: dict[tuple[str, ...], int], fraction: float,
               rng: random.Random) -> dict[tuple[str, ...], int]:
    """Per-group counts close to size * fraction that add up to round(total * fraction)
    (largest remainder; ties broken by the seeded rng)."""
    ideal = {g: n * fraction for g, n in sizes.items()}
    counts = {g: math.floor(v + 1e-9) for g, v in ideal.items()}
    left = round(sum(ideal.values())) - sum(counts.values())
    order = sorted(sizes, key=lambda g: (-(ideal[g] - counts[g]), rng.random()))
    for g in order[:max(left, 0)]:
        if counts[g] < sizes[g]:
            counts[g] += 1
    return counts


def assign_splits(questions: Sequence[Question], test_fraction: float = 0.3,
                  validation_fraction: float = 0.0, seed: int = 0,
                  max_test_per_domain: int | None = None) -> list[Question]:
    """New Question objects (input order) with ``split`` set to train/validation/test.

    ``test_fraction`` and ``validation_fraction`` are shares of each domain's entities;
    validation entities are carved from the non-test ones the same way. ``max_test_per_domain``
    caps the test questions of each domain (the extra entities go to train).
    """
    for name, value in (("test_fraction", test_fraction),
                        ("validation_fraction", validation_fraction)):
        if not 0.0 <= value <= 1.0:
            raise InputError(f"must be between 0 and 1, got {value}", field=name)
    if test_fraction + validation_fraction > 1.0 + 1e-9:
        raise InputError("test_fraction + validation_fraction must not exceed 1",
                         field="validation_fraction")
    if max_test_per_domain is not None and max_test_per_domain < 0:
        raise InputError("must be >= 0", field="max_test_per_domain")

    ent_domains = _entity_domains(questions)
    groups = _shuffled_groups(ent_domains, seed)
    sizes = {g: len(ents) for g, ents in groups.items()}
    rng = random.Random(f"{seed}:apportion")
    n_test = _apportion(sizes, test_fraction, rng)
    n_val = _apportion(sizes, validation_fraction, rng)

    split_of: dict[str, str] = {}
    position: dict[str, int] = {}
    for g, ents in groups.items():
        t = n_test[g]
        v = min(n_val[g], len(ents) - t)
        for i, e in enumerate(ents):
            position[e] = i
            split_of[e] = "test" if i < t else "validation" if i < t + v else "train"

    if max_test_per_domain is not None:
        per_entity: dict[str, Counter] = defaultdict(Counter)
        for q in questions:
            per_entity[_entity(q)][q.domain] += 1
        test_count: Counter = Counter()
        for e, c in per_entity.items():
            if split_of[e] == "test":
                test_count.update(c)
        for domain in sorted(test_count):
            if test_count[domain] <= max_test_per_domain:
                continue
            # drop the entities touching the fewest other domains, the last-drawn first
            candidates = sorted((e for e, s in split_of.items()
                                 if s == "test" and domain in ent_domains[e]),
                                key=lambda e: (len(ent_domains[e]), -position[e], e))
            for e in candidates:
                if test_count[domain] <= max_test_per_domain:
                    break
                split_of[e] = "train"
                test_count.subtract(per_entity[e])

    return [dataclasses.replace(q, split=split_of[_entity(q)]) for q in questions]


def subsample_entities(questions: Sequence[Question], max_entities_per_domain: int | None,
                       seed: int = 0) -> list[Question]:
    """Keep whole entities, at most ``max_entities_per_domain`` per domain (None: keep all).

    Entities are taken in a seeded order, those spanning more domains first (so a country
    keeps its capital, continent and currency questions together); one is kept only while every
    domain it appears in is under the cap. Input order is kept.
    """
    if max_entities_per_domain is None:
        return list(questions)
    if max_entities_per_domain < 0:
        raise InputError("must be >= 0", field="max_entities_per_domain")
    ent_domains = _entity_domains(questions)
    ents = sorted(ent_domains)
    random.Random(f"{seed}:subsample").shuffle(ents)
    rank = {e: i for i, e in enumerate(ents)}
    kept: set[str] = set()
    count: Counter = Counter()
    for e in sorted(ents, key=lambda e: (-len(ent_domains[e]), rank[e])):
        if all(count[d] < max_entities_per_domain for d in ent_domains[e]):
            kept.add(e)
            count.update(ent_domains[e])
    return [q for q in questions if _entity(q) in kept]

"""Step 6: a test set chosen by entry, about the same size in every domain, ``others`` out.

Entries are drawn in a seeded order for each domain (smallest domain first) and all of an
entry's questions go to test together until the domain has ``per_domain`` test questions, or
``max_fraction`` of its questions. An entry with a question in ``others`` never goes to test,
so ``others`` stays out of test and no entry is in both splits.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter, defaultdict
from typing import Sequence

from veritune.questionset.config import OTHERS
from veritune.records import Question


def split_by_entry(questions: Sequence[Question], per_domain: int, max_fraction: float,
                   seed: int = 0) -> list[Question]:
    by_entity: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_entity[q.entity].append(q)
    totals = Counter(q.domain for q in questions)
    eligible = {e for e, qs in by_entity.items() if all(q.domain != OTHERS for q in qs)}
    test_entities: set[str] = set()
    in_test: Counter = Counter()
    for domain in sorted((d for d in totals if d != OTHERS), key=lambda d: (totals[d], d)):
        cap = min(per_domain, int(totals[domain] * max_fraction))
        ents = sorted(e for e in eligible - test_entities
                      if any(q.domain == domain for q in by_entity[e]))
        random.Random(f"{seed}:{domain}").shuffle(ents)
        for e in ents:
            if in_test[domain] >= cap:
                break
            add = Counter(q.domain for q in by_entity[e])
            if in_test[domain] + add[domain] > cap:
                continue
            test_entities.add(e)
            in_test.update(add)
    return [dataclasses.replace(q, split="test" if q.entity in test_entities else "train")
            for q in questions]

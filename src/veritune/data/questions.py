"""The question set of a run: loaded or built, entities subsampled, split, limited.

    from veritune.data.questions import build_questions
    questions = build_questions(load_config("configs/quickstart.yaml"))

Every random choice here (kb wrong answers, entity subsampling, the split) draws from the
config's data seed (``data.seed``, or ``seed`` when it is not set), so the runs of one config
with several training seeds share the same held-out questions.
"""

from __future__ import annotations

from veritune.config import RunConfig
from veritune.data.loaders import load_questions
from veritune.data.relations import kb_questions
from veritune.data.split import assign_splits, subsample_entities
from veritune.records import Question


def build_questions(cfg: RunConfig) -> list[Question]:
    d, seed = cfg.data, cfg.data_seed
    if d.source == "kb":
        questions = kb_questions(d.relations, seed=seed)
    else:
        questions = load_questions(d.source, format=d.format, columns=d.columns)
    questions = subsample_entities(questions, d.max_entities_per_domain, seed=seed)
    if all(q.split == "train" for q in questions):  # no split given: make one by entity
        questions = assign_splits(questions, d.test_fraction, d.validation_fraction,
                                  seed=seed, max_test_per_domain=d.max_test_per_domain)
    if cfg.limit:
        questions = limit_per_split(questions, cfg.limit)
    return questions


def limit_per_split(questions: list[Question], limit: int) -> list[Question]:
    """At most ``limit`` questions per split, taken round-robin across domains."""
    by_key: dict[tuple[str, str], list[Question]] = {}
    for q in questions:
        by_key.setdefault((q.split, q.domain), []).append(q)
    kept: list[Question] = []
    for split in dict.fromkeys(q.split for q in questions):
        queues = [qs for (s, _), qs in by_key.items() if s == split]
        taken = 0
        for i in range(max(len(qs) for qs in queues)):
            for qs in queues:
                if i < len(qs) and taken < limit:
                    kept.append(qs[i])
                    taken += 1
    return kept

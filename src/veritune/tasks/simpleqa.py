"""SimpleQA (Wei et al. 2024): short fact-seeking questions, graded correct / incorrect / not
attempted, with correct given attempted and the F-score (their harmonic mean).

The model answers each ``problem`` greedily (at most 64 new tokens) to the pipeline's prompt
(``prompts.question_messages``), and the run's judge grades the response against the ``answer``
(the lexical judge by default; ``judge.prompt: simpleqa`` with an LLM judge asks SimpleQA's own
grader). ``accuracy`` is the correct share, as in SimpleQA's "overall correct"; a model that
says "I don't know" is counted ``not_attempted``, not wrong, and ``f_score`` rewards it.

Data: the published CSV (``simple_qa_test_set.csv``, columns ``metadata``, ``problem``,
``answer``; ``metadata`` a Python dict literal whose ``topic`` becomes the question's domain,
with accuracy by topic in the metrics) from a path,
or ``hf:NAME`` for a Hugging Face dataset with the same columns (downloaded only when named;
split ``test``). It is not shipped by any package here: put it in ``$VERITUNE_DATA_DIR``.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

from veritune.data.files import find_data
from veritune.data.loaders import HF_PREFIX, csv_rows, hf_rows
from veritune.engines import Engine
from veritune.errors import InputError
from veritune.records import Question
from veritune.tasks.base import Task, seeded_subset
from veritune.tasks.generation import judged_short_answers

NAME = "simpleqa"
FILENAME = "simple_qa_test_set.csv"
MAX_NEW_TOKENS = 64
COLUMNS = {"problem": "problem", "answer": "answer"}


def default_data() -> Path:
    return find_data(FILENAME, hint="download SimpleQA's test set from https://openaipublic."
                     "blob.core.windows.net/simple-evals/simple_qa_test_set.csv, or pass "
                     "--data simpleqa=hf:NAME for a Hugging Face copy")


def _rows(path: str | Path) -> Iterator[tuple[int, dict]]:
    if str(path).startswith(HF_PREFIX):
        yield from hf_rows(str(path)[len(HF_PREFIX):], "test", None, None)
        return
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    yield from csv_rows(path, ",", COLUMNS)


def _metadata(cell, path, lineno) -> dict:
    if isinstance(cell, dict) or cell in (None, ""):
        return dict(cell or {})
    try:
        value = ast.literal_eval(str(cell))  # the published file writes Python dict literals
    except (ValueError, SyntaxError):
        raise InputError("not a dict literal", path=path, line=lineno, field="metadata") from None
    if not isinstance(value, dict):
        raise InputError("expected a dict", path=path, line=lineno, field="metadata")
    return value


def load(path: str | Path, limit: int | None = None, seed: int = 0) -> list[Question]:
    source = str(path) if str(path).startswith(HF_PREFIX) else Path(path).name
    questions = []
    for lineno, row in _rows(path):
        problem, answer = row.get("problem"), row.get("answer")
        for field, value in (("problem", problem), ("answer", answer)):
            if not isinstance(value, str) or not value.strip():
                raise InputError("missing or empty", path=path, line=lineno, field=field)
        meta = _metadata(row.get("metadata"), path, lineno)
        topic = meta.get("topic")
        questions.append(Question(f"simpleqa-{lineno}", problem.strip(), [answer.strip()],
                                  domain=str(topic) if topic else "simpleqa", source=source,
                                  split="test"))
    if not questions:
        raise InputError("no questions", path=path)
    return seeded_subset(questions, limit, seed)


def evaluate(engine: Engine, items: Sequence[Question], *, seed: int = 0, batch_size: int = 16,
             judge=None) -> tuple[dict, list[dict]]:
    metrics, examples, verdicts = judged_short_answers(engine, items, MAX_NEW_TOKENS, batch_size,
                                                       seed, judge, NAME)
    by_topic: dict[str, Counter] = {}
    for q, v, ex in zip(items, verdicts, examples):
        by_topic.setdefault(q.domain, Counter())[v.label] += 1
        ex["topic"] = q.domain
    judge_name = metrics.pop("judge")
    metrics["accuracy_by_topic"] = {t: round(c["correct"] / sum(c.values()), 4)
                                    for t, c in sorted(by_topic.items())}
    return {**metrics, "judge": judge_name}, examples


TASK = Task(name=NAME, headline="accuracy", default_limit=300, default_data=default_data,
            load=load, evaluate=evaluate, judged="always")

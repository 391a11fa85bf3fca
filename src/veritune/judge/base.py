"""What a judge is: a verdict on one answer to one question, against its references.

    judge.judge(question, "Paris")   -> Judgement("correct", "matched reference 'Paris' ...")
    judge.judge_many([(q, a), ...])  -> [Judgement, ...]

A judge class is registered by name (``veritune.registry``) and says whether it needs a model
(``needs_model``: the run builds the judge model's engine for it) and how it is built from the
``judge:`` section (``from_config``). ``usage()`` reports what it did for the manifest (which
judge decided how many, answers sent to a model).

Labels: ``correct``, ``incorrect``, ``not_attempted`` (a refusal, an empty answer: SimpleQA's
third grade) and ``uncertain`` (the judge could not decide: a hedge around the reference, an
unparsable model verdict). :func:`grades` gives SimpleQA's figures of a set of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from veritune.records import Question


@dataclass(frozen=True)
class Judgement:
    label: str       # "correct" | "incorrect" | "not_attempted" | "uncertain"
    rationale: str   # short, human readable, e.g. "matched alias 'Fe' in answer statement"
    decisive: bool = True  # False: a clear-cut rule did not apply (an ensemble asks an LLM)
    score: float | None = None  # the LLM judge's P(correct) in score mode


def grades(labels: Iterable[str]) -> dict[str, float]:
    """SimpleQA's figures of a set of verdicts: ``correct`` (the share correct),
    ``not_attempted`` (declined or empty), ``correct_given_attempted`` and ``f_score``, their
    harmonic mean. A model that says "I don't know" loses less than one that is wrong."""
    labels = list(labels)
    n = len(labels)
    correct = sum(lab == "correct" for lab in labels)
    attempted = n - sum(lab == "not_attempted" for lab in labels)
    overall = correct / n if n else 0.0
    given = correct / attempted if attempted else 0.0
    f = 2 * overall * given / (overall + given) if overall + given else 0.0
    return {"correct": round(overall, 4), "not_attempted": round(1 - attempted / n, 4) if n
            else 0.0, "correct_given_attempted": round(given, 4), "f_score": round(f, 4)}


class Judge(Protocol):
    name: str
    needs_model: bool

    def judge(self, question: Question, response: str) -> Judgement: ...

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]: ...

    def usage(self) -> dict: ...

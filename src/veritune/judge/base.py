"""What a judge is: a verdict on one answer to one question, against its references.

    judge.judge(question, "Paris")   -> Judgement("correct", "matched reference 'Paris' ...")
    judge.judge_many([(q, a), ...])  -> [Judgement, ...]

A judge class is registered by name (``veritune.registry``) and says whether it needs a model
(``needs_model``: the run builds the judge model's engine for it) and how it is built from the
``judge:`` section (``from_config``). ``usage()`` reports what it did for the manifest (which
judge decided how many, answers sent to a model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from veritune.records import Question


@dataclass(frozen=True)
class Judgement:
    label: str       # "correct" | "incorrect" | "uncertain"
    rationale: str   # short, human readable, e.g. "matched alias 'Fe' in answer statement"
    decisive: bool = True  # False: a clear-cut rule did not apply (an ensemble asks an LLM)
    score: float | None = None  # the LLM judge's P(correct) in score mode


class Judge(Protocol):
    name: str
    needs_model: bool

    def judge(self, question: Question, response: str) -> Judgement: ...

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]: ...

    def usage(self) -> dict: ...

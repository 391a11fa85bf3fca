"""Judges: label a sampled response to a question as correct, incorrect or uncertain.

``make_judge(name, **kwargs)`` builds a registered judge; ``JUDGES`` is the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from veritune.errors import VeritunError
from veritune.records import Question


@dataclass(frozen=True)
class Judgement:
    label: str       # "correct" | "incorrect" | "uncertain"
    rationale: str   # short, human readable, e.g. "matched alias 'Fe' in answer statement"
    decisive: bool = True  # False: a clear-cut rule did not apply (an ensemble asks an LLM)


class Judge(Protocol):
    name: str

    def judge(self, question: Question, response: str) -> Judgement: ...

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]: ...


from veritune.judge.lexical import LexicalJudge  # noqa: E402  (needs Judgement above)

JUDGES: dict[str, Callable[..., Judge]] = {"lexical": LexicalJudge}


KNOWN = ("ensemble", "lexical", "llm")  # llm and ensemble need an engine: see build_judge


def make_judge(name: str, **kwargs) -> Judge:
    """The judge registered as ``name``, built with ``kwargs``."""
    if name not in JUDGES:
        raise VeritunError(f"unknown judge {name!r}; known judges: {', '.join(KNOWN)}")
    return JUDGES[name](**kwargs)


__all__ = ["JUDGES", "Judge", "Judgement", "LexicalJudge", "make_judge"]

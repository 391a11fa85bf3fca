"""Judges: label a sampled response to a question as correct, incorrect or uncertain.

``JUDGES`` is the registry of judge names; ``make_judge(name, **kwargs)`` builds one from its
arguments and ``build_judge(cfg, questions)`` from a run's config (``judge:``).
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
    score: float | None = None  # the LLM judge's P(correct) in score mode


class Judge(Protocol):
    name: str

    def judge(self, question: Question, response: str) -> Judgement: ...

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]: ...


from veritune.judge.lexical import LexicalJudge  # noqa: E402  (needs Judgement above)
from veritune.judge.llm import LLMJudge  # noqa: E402
from veritune.judge.ensemble import EnsembleJudge  # noqa: E402

# The one registry of judge names. llm and ensemble need an engine: build_judge makes one
# from the config (judge.model).
JUDGES: dict[str, Callable[..., Judge]] = {"lexical": LexicalJudge, "llm": LLMJudge,
                                           "ensemble": EnsembleJudge}


def make_judge(name: str, **kwargs) -> Judge:
    """The judge registered as ``name``, built with ``kwargs``."""
    if name not in JUDGES:
        raise VeritunError(f"unknown judge {name!r}; known judges: {', '.join(sorted(JUDGES))}")
    return JUDGES[name](**kwargs)


from veritune.judge.factory import build_judge, suite_judge  # noqa: E402

__all__ = ["JUDGES", "EnsembleJudge", "Judge", "Judgement", "LLMJudge", "LexicalJudge",
           "build_judge", "make_judge", "suite_judge"]

"""Ensemble judge: the lexical judge decides the clear cases, the LLM judge the rest.

Clear cases are an exact reference match, a named competitor, a refusal, an empty answer, a
listed hedge, a number that contradicts the reference: every lexical verdict marked
``decisive``. An answer the lexical judge is not sure of (a partial match, a paraphrase, a
misspelling, an unknown value, a hedge word) goes to the LLM.

In score mode the lexical judge's lean is evidence too: where it gave partial credit (a
shorter or longer form, a year of the date, overlapping words) the LLM's P(correct) is held to
``partial_threshold`` instead of the LLM's own threshold (``judge.threshold_partial``). A
reference found among many other words of a long answer is no such lean (padding names a
common-word reference by chance): the LLM's own threshold holds there.
``shares()`` reports which judge decided how many verdicts.
"""

from __future__ import annotations

from typing import Sequence

from veritune.judge.base import Judge, Judgement
from veritune.judge.lexical import BURIED, LexicalJudge
from veritune.judge.llm import VETO, LLMJudge
from veritune.records import Question


class EnsembleJudge:
    name = "ensemble"
    needs_model = True

    def __init__(self, lexical: Judge, llm: Judge, partial_threshold: float | None = None):
        self.lexical, self.llm, self.partial_threshold = lexical, llm, partial_threshold
        self.decided = {"lexical": 0, "llm": 0}

    @classmethod
    def from_config(cls, judge_cfg, *, questions, engine, cache=None) -> "EnsembleJudge":
        return cls(LexicalJudge.from_config(judge_cfg, questions=questions),
                   LLMJudge.from_config(judge_cfg, engine=engine, cache=cache),
                   judge_cfg.threshold_partial)

    def usage(self) -> dict:
        """Which judge decided how many verdicts, and the LLM's own usage."""
        return {"decided_by": dict(self.decided), **self.llm.usage()}

    def judge(self, question: Question, response: str) -> Judgement:
        return self.judge_many([(question, response)])[0]

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]:
        first = self.lexical.judge_many(items)
        unsure = [i for i, j in enumerate(first) if not j.decisive]
        second = self.llm.judge_many([items[i] for i in unsure]) if unsure else []
        out = [Judgement(j.label, f"lexical: {j.rationale}") for j in first]
        for i, j in zip(unsure, second):
            out[i] = Judgement(j.label, f"llm: {j.rationale}", score=j.score)
            if self.partial_threshold is not None and j.score is not None \
                    and first[i].label == "correct" and BURIED not in first[i].rationale:
                # the lexical judge gave partial credit
                vetoed = j.rationale.endswith(VETO)  # require_overlap holds here too
                label = "correct" if j.score >= self.partial_threshold and not vetoed \
                    else "incorrect"
                out[i] = Judgement(label, f"llm: {j.rationale}; partial lexical match, "
                                          f"threshold {self.partial_threshold}", score=j.score)
        self.decided["lexical"] += len(items) - len(unsure)
        self.decided["llm"] += len(unsure)
        return out

    def shares(self) -> dict[str, float]:
        total = sum(self.decided.values()) or 1
        return {k: round(v / total, 4) for k, v in self.decided.items()}

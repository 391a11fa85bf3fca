"""Ensemble judge: the lexical judge decides the clear cases, the LLM judge the rest.

Clear cases are an exact reference match, a named competitor, a refusal, an empty answer:
every lexical verdict marked ``decisive``. An answer that names neither a reference nor a
competitor (a paraphrase, a misspelling, an unknown value), or a hedge, goes to the LLM.
``shares()`` reports which judge decided how many verdicts.
"""

from __future__ import annotations

from typing import Sequence

from veritune.judge import Judge, Judgement
from veritune.records import Question


class EnsembleJudge:
    name = "ensemble"

    def __init__(self, lexical: Judge, llm: Judge):
        self.lexical, self.llm = lexical, llm
        self.decided = {"lexical": 0, "llm": 0}

    def judge(self, question: Question, response: str) -> Judgement:
        return self.judge_many([(question, response)])[0]

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]:
        first = self.lexical.judge_many(items)
        unsure = [i for i, j in enumerate(first) if not j.decisive]
        second = self.llm.judge_many([items[i] for i in unsure]) if unsure else []
        out = [Judgement(j.label, f"lexical: {j.rationale}") for j in first]
        for i, j in zip(unsure, second):
            out[i] = Judgement(j.label, f"llm: {j.rationale}")
        self.decided["lexical"] += len(items) - len(unsure)
        self.decided["llm"] += len(unsure)
        return out

    def shares(self) -> dict[str, float]:
        total = sum(self.decided.values()) or 1
        return {k: round(v / total, 4) for k, v in self.decided.items()}

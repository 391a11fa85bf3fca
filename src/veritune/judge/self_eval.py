"""Self-evaluation without a reference (the judge of Self-Eval-SKT, Zhang et al. 2024, "Self-
Alignment for Factuality"; P(True) of Kadavath et al. 2022): the model itself is asked whether
its proposed answer is true, and P(True) from the reply's first token is its confidence.

    judge: {name: self_eval, model: {name: policy}, threshold: 0.5}

The prompt names the question and the proposed answer, never the standard answer: this judge
labels the samples of questions that have no reference, which is the baseline's point (PKUE's
judges compare with the reference). ``correct`` when P(True) >= ``judge.threshold``, else
``incorrect``; the score is kept in the verdict's rationale, so pairs of confident against
unconfident answers follow from the pairs stage as for any judge. The paper ranks a
question's answers by confidence and pairs the top against the bottom; here the threshold
splits them and ``pairs.chosen: concise`` orders the confident ones (a simplification).

The screen of :mod:`veritune.judge.injection` runs first, as in every judge: an answer that
talks about its grading is ``incorrect`` without a model call; the model sees the answer
statement only.
"""

from __future__ import annotations

from typing import Sequence

from veritune.errors import VerituneError
from veritune.judge.base import Judgement
from veritune.judge.injection import addressed_to_judge, screened
from veritune.judge.statement import answer_statement
from veritune.judge.llm import choice_probs
from veritune.judge.templates import fence
from veritune.progress import progress
from veritune.records import Question

CHOICES = ("A", "B")  # (A) True, (B) False
PROMPT = ("Question: {question}\nProposed answer: {answer}\n"
          "Is the proposed answer:\n(A) True\n(B) False\n"
          "Reply with the letter only.")


def self_eval_messages(question: Question, answer: str) -> list[dict[str, str]]:
    text = PROMPT.format(question=question.question, answer=fence(answer))
    return [{"role": "user", "content": text}]


class SelfEvalJudge:
    name = "self_eval"
    needs_model = True

    def __init__(self, engine, threshold: float = 0.5, batch_size: int = 8):
        if not hasattr(engine, "choice_logprobs"):
            raise VerituneError(f"judge self_eval reads P(True) from choice_logprobs; "
                                f"{getattr(engine, 'name', engine)!r} has none")
        self.engine, self.threshold, self.batch_size = engine, threshold, batch_size
        self.calls = 0

    @classmethod
    def from_config(cls, judge_cfg, *, questions=(), engine, cache=None) -> "SelfEvalJudge":
        return cls(engine, threshold=judge_cfg.threshold, batch_size=judge_cfg.batch_size)

    def usage(self) -> dict:
        return {"llm_calls": self.calls, "llm_mode": "self_eval"}

    def judge(self, question: Question, response: str) -> Judgement:
        return self.judge_many([(question, response)])[0]

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]:
        out: list[Judgement | None] = [None] * len(items)
        todo = []
        for i, (q, r) in enumerate(items):
            addressed = addressed_to_judge(r, q)
            shown = answer_statement(r, q.question)
            if addressed:
                out[i] = screened(addressed)
            elif not shown:
                out[i] = Judgement("not_attempted", "empty response")
            else:
                todo.append((i, self_eval_messages(q, shown)))
        bar = progress(len(todo), "self-evaluation", unit="answer") \
            if len(todo) > self.batch_size else None
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            logprobs = self.engine.choice_logprobs([m for _, m in chunk], list(CHOICES))
            if logprobs is None:
                raise VerituneError("judge self_eval: 'A' and 'B' must be one token each for "
                                    "this tokenizer")
            self.calls += len(chunk)
            for (i, _), lp in zip(chunk, logprobs):
                probs = choice_probs(lp)
                if probs is None:
                    out[i] = Judgement("uncertain", "no probability for A or B")
                    continue
                p = probs[0]
                label = "correct" if p >= self.threshold else "incorrect"
                out[i] = Judgement(label, f"P(True) = {p:.4f} (threshold {self.threshold}; "
                                          "no reference used)", score=p)
            if bar:
                bar.update(len(chunk))
        if bar:
            bar.close()
        return out  # type: ignore[return-value]

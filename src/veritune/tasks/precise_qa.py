"""Precise QA: greedy accuracy with the judge, per domain, and best-of-n potential.

The paper's in-domain task: short factual questions with one standard answer. Greedy accuracy
(BO1) is what the model uses of its knowledge; best-of-n (≥1 correct among n samples at
temperature T, BOn) is what it has. The judge is the one that labels the training samples.

Data: a Question JSONL (``--data FILE``; only its ``test`` split when it has one), or ``kb``
(default): the knowledge-base questions with the pipeline's default entity split
(test fraction 0.3, seed 0), test split only.
"""

from __future__ import annotations

from pathlib import Path

from veritune.config import DEFAULT_PROMPT, DataConfig, EvalConfig, RunConfig
from veritune.records import Question
from veritune.tasks import seeded_subset

NAME = "precise_qa"
HEADLINE = "accuracy"
DEFAULT_LIMIT = 200
BEST_OF_N = 8
TEMPERATURE = 1.0


def default_data() -> Path:
    return Path("kb")


def load(path, limit=None, seed=0) -> list[Question]:
    from veritune.data.questions import build_questions

    if str(path) == "kb":
        questions = build_questions(RunConfig(data=DataConfig(source="kb")))
    else:
        from veritune.data import load_questions

        questions = load_questions(path)
    if any(q.split == "test" for q in questions):
        questions = [q for q in questions if q.split == "test"]
    return seeded_subset(questions, limit, seed)


def evaluate(engine, items, *, seed=0, batch_size=16, judge=None,
             best_of_n: int = BEST_OF_N) -> tuple[dict, list[dict]]:
    from veritune.evaluate import evaluate_questions, summarize
    from veritune.judge import LexicalJudge

    if judge is None:  # competitors of each relation come from the whole knowledge base
        from veritune.data import kb_questions

        judge = LexicalJudge.for_questions(kb_questions() if any(q.source == "kb" for q in items)
                                           else [])
    cfg = EvalConfig(best_of_n=best_of_n, batch_size=max(batch_size, best_of_n))
    examples = evaluate_questions(engine, items, judge, cfg, DEFAULT_PROMPT,
                                  sample_temperature=TEMPERATURE, top_p=0.95, top_k=50, seed=seed)
    metrics = summarize(examples, cfg.repetition_ngram)
    return metrics, [e.to_dict() for e in examples]

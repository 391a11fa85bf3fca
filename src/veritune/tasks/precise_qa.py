"""Precise QA: greedy accuracy with the judge, per domain, and best-of-n potential.

    veritune eval --model PATH_OR_NAME --questions FILE.jsonl --out DIR

The paper's in-domain task: short factual questions with one standard answer. Greedy accuracy
(BO1) is what the model uses of its knowledge; best-of-n (at least one correct among n samples
at temperature T, BOn) is what it has. The judge is the one that labels the training samples:
this module is the one grader of the training validation, the eval stage and the suite. It
writes ``metrics.json`` and ``examples.jsonl`` (question, references, response, label,
rationale, tokens, truncated, and the best-of-n count).

As a suite task: a Question JSONL (``--data FILE``; only its ``test`` split when it has one),
or ``kb`` (default): the knowledge-base questions with the pipeline's default entity split
(test fraction 0.3, seed 0), test split only.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from veritune.config import DEFAULT_PROMPT, DataConfig, EvalConfig, RunConfig, SampleConfig
from veritune.data import kb_questions, load_questions
from veritune.data.questions import build_questions
from veritune.engines import Engine, SamplingParams
from veritune.jsonl import atomic_write_json, write_records
from veritune.judge import Judge, LexicalJudge
from veritune.judge.base import grades
from veritune.progress import progress
from veritune.prompts import question_messages
from veritune.records import LABELS, Question
from veritune.stats import mcnemar_p
from veritune.tasks.base import Task, seeded_subset

BEST_OF_N = 8
TEMPERATURE = 1.0


@dataclass
class Example:
    id: str
    domain: str
    question: str
    references: list[str]
    response: str
    label: str
    rationale: str
    n_tokens: int
    truncated: bool
    best_of_n_correct: int | None = None  # correct answers among n samples

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def has_repetition(text: str, n: int = 3) -> bool:
    """True when some word n-gram occurs twice (a rambling, looping answer)."""
    words = text.lower().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def _generate(engine: Engine, questions: Sequence[Question], params: SamplingParams,
              prompt: str, batch_size: int, desc: str):
    bar = progress(len(questions), desc, unit="q")
    out = []
    for b in range(0, len(questions), batch_size):
        batch = questions[b:b + batch_size]
        out += engine.generate([question_messages(q, prompt) for q in batch], params,
                               batch_index=b // batch_size)
        bar.update(len(batch))
    bar.close()
    return out


def evaluate_questions(engine: Engine, questions: Sequence[Question], judge: Judge,
                       cfg: EvalConfig, prompt: str, sample: SampleConfig | None = None,
                       seed: int = 0) -> list[Example]:
    """Greedy answers judged; with ``cfg.best_of_n``, that many samples a question drawn as
    ``sample`` (its top-p and top-k; ``cfg.best_of_n_temperature`` or its temperature)."""
    gens = _generate(engine, questions, cfg.greedy(seed), prompt, cfg.batch_size,
                     "eval greedy")
    verdicts = judge.judge_many([(q, g[0].text) for q, g in zip(questions, gens)])
    examples = [Example(q.id, q.domain, q.question, list(q.answers), g[0].text, v.label,
                        v.rationale, g[0].n_tokens, g[0].truncated)
                for q, g, v in zip(questions, gens, verdicts)]
    if cfg.best_of_n > 0:
        params = cfg.best_of_n_params(sample or SampleConfig(), seed)
        # batch_size questions a batch, each with n rows, as the sample stage batches: rows
        # that share a prompt cost one prompt pass, and wide batches decode faster per token
        samples = _generate(engine, questions, params, prompt, cfg.batch_size,
                            f"eval best-of-{cfg.best_of_n}")
        for ex, q, row in zip(examples, questions, samples):
            labels = judge.judge_many([(q, g.text) for g in row])
            ex.best_of_n_correct = sum(j.label == "correct" for j in labels)
    return examples


def summarize(examples: Sequence[Example], repetition_ngram: int = 3) -> dict:
    n = len(examples)

    def rate(flags) -> float:
        flags = list(flags)
        return round(sum(flags) / len(flags), 4) if flags else 0.0

    by_domain: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_domain[ex.domain].append(ex)
    metrics = {
        "accuracy": rate(ex.label == "correct" for ex in examples),
        "n": n,
        "per_domain": {d: {"accuracy": rate(e.label == "correct" for e in exs), "n": len(exs)}
                       for d, exs in sorted(by_domain.items())},
        "labels": {lab: sum(ex.label == lab for ex in examples) for lab in LABELS},
        **{k: v for k, v in grades(ex.label for ex in examples).items() if k != "correct"},
        "mean_response_tokens": round(sum(ex.n_tokens for ex in examples) / n, 2) if n else 0.0,
        "truncated_rate": rate(ex.truncated for ex in examples),
        "repetition_rate": rate(has_repetition(ex.response, repetition_ngram) for ex in examples),
    }
    if examples and all(ex.best_of_n_correct is not None for ex in examples):
        metrics["best_of_n"] = rate(ex.best_of_n_correct > 0 for ex in examples)
        for d, exs in by_domain.items():
            metrics["per_domain"][d]["best_of_n"] = rate(e.best_of_n_correct > 0 for e in exs)
    return metrics


def write_eval(out_dir: str | Path, examples: Sequence[Example], metrics: dict) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_records(out_dir / "examples.jsonl", examples)
    atomic_write_json(out_dir / "metrics.json", metrics)


def run_eval(engine: Engine, questions: Sequence[Question], judge: Judge, cfg: EvalConfig,
             prompt: str, out_dir: str | Path, sample: SampleConfig | None = None,
             seed: int = 0) -> dict:
    start = time.perf_counter()
    examples = evaluate_questions(engine, questions, judge, cfg, prompt, sample, seed)
    metrics = summarize(examples, cfg.repetition_ngram)
    metrics["model"] = engine.model_name
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    write_eval(out_dir, examples, metrics)
    return metrics


def compare(base: Sequence[dict], tuned: Sequence[dict]) -> dict:
    """Flips between two evaluations of the same questions, with an exact McNemar p-value."""
    before = {e["id"]: e["label"] == "correct" for e in base}
    after = {e["id"]: e["label"] == "correct" for e in tuned}
    common = sorted(set(before) & set(after))
    up = sum(after[i] and not before[i] for i in common)
    down = sum(before[i] and not after[i] for i in common)
    p = mcnemar_p(up, down)
    return {"n": len(common), "wrong_to_right": up, "right_to_wrong": down,
            "accuracy_before": round(sum(before[i] for i in common) / len(common), 4)
            if common else 0.0,
            "accuracy_after": round(sum(after[i] for i in common) / len(common), 4)
            if common else 0.0,
            "mcnemar_p": round(float(p), 6)}


# -- the suite task --------------------------------------------------------------------------

def default_data() -> Path:
    return Path("kb")


def load(path, limit=None, seed=0) -> list[Question]:
    if str(path) == "kb":
        questions = build_questions(RunConfig(data=DataConfig(source="kb")))
    else:
        questions = load_questions(path)
    if any(q.split == "test" for q in questions):
        questions = [q for q in questions if q.split == "test"]
    return seeded_subset(questions, limit, seed)


def evaluate(engine, items, *, seed=0, batch_size=16, judge=None,
             best_of_n: int = BEST_OF_N) -> tuple[dict, list[dict]]:
    if judge is None:  # competitors of each relation come from the whole knowledge base
        judge = LexicalJudge.for_questions(kb_questions() if any(q.source == "kb" for q in items)
                                           else [])
    cfg = EvalConfig(best_of_n=best_of_n, batch_size=max(batch_size, best_of_n))
    sample = SampleConfig(temperature=TEMPERATURE, top_p=0.95, top_k=50)
    examples = evaluate_questions(engine, items, judge, cfg, DEFAULT_PROMPT, sample, seed)
    metrics = summarize(examples, cfg.repetition_ngram)
    return metrics, [e.to_dict() for e in examples]


TASK = Task(name="precise_qa", headline="accuracy", default_limit=200,
            default_data=default_data, load=load, evaluate=evaluate, judged="always")

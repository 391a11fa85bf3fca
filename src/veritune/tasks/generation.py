"""Greedy generation for the generation tasks: batches, a progress bar, one answer a prompt;
and the judged short-answer evaluation NQ-open and SimpleQA share."""

from __future__ import annotations

from typing import Iterable, Sequence

from veritune.engines import Engine, Generation, Messages, SamplingParams
from veritune.judge import LexicalJudge
from veritune.judge.base import grades
from veritune.progress import progress
from veritune.prompts import question_messages
from veritune.records import LABELS


def generate_greedy(engine: Engine, prompts: Sequence[Messages], max_new_tokens: int,
                    batch_size: int = 16, seed: int = 0, desc: str = "generate"
                    ) -> list[Generation]:
    """One greedy completion per prompt, in order, ``batch_size`` prompts per engine call."""
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed)
    batch_size = max(1, batch_size)
    out: list[Generation] = []
    bar = progress(len(prompts), desc, unit="q")
    for b in range(0, len(prompts), batch_size):
        batch = list(prompts[b:b + batch_size])
        out += [row[0] for row in engine.generate(batch, params, batch_index=b // batch_size)]
        bar.update(len(batch))
    bar.close()
    return out


def choice_scores(engine: Engine, prompts: Sequence[Messages],
                  choices: Sequence[Sequence[str]]) -> list[list[float]]:
    """Log-likelihood of each choice as the reply to its prompt. Prompts sharing one list of
    one-token choices ("A".."D", "Yes"/"No") take one forward pass each where the engine offers
    ``choice_logprobs``; otherwise one ``loglikelihood`` request per prompt and choice."""
    fast = getattr(engine, "choice_logprobs", None)
    if fast is not None and prompts and len({tuple(c) for c in choices}) == 1:
        scores = fast(prompts, list(choices[0]))
        if scores is not None:
            return scores
    flat = iter(engine.loglikelihood([(p, c) for p, cs in zip(prompts, choices) for c in cs]))
    return [[next(flat) for _ in cs] for cs in choices]


def rate(flags: Iterable) -> float:
    """Share of true values, rounded to 4 places (0.0 for none)."""
    flags = [bool(f) for f in flags]
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def mean(values: Iterable[float], places: int = 4) -> float:
    values = list(values)
    return round(sum(values) / len(values), places) if values else 0.0


def judged_short_answers(engine: Engine, items: Sequence, max_new_tokens: int, batch_size: int,
                         seed: int, judge, desc: str) -> tuple[dict, list[dict], list]:
    """Each question answered greedily to the pipeline's prompt and judged (the lexical judge
    when ``judge`` is None): the metrics every judged short-answer task reports (accuracy,
    label counts, SimpleQA's grades, length, truncation, the judge's name), one example a
    question, and the verdicts."""
    judge = judge if judge is not None else LexicalJudge()
    gens = generate_greedy(engine, [question_messages(q) for q in items], max_new_tokens,
                           batch_size, seed, desc=desc)
    verdicts = judge.judge_many([(q, g.text) for q, g in zip(items, gens)])
    examples = [{"id": q.id, "question": q.question, "answers": q.answers, "response": g.text,
                 "label": v.label, "rationale": v.rationale, "n_tokens": g.n_tokens,
                 "truncated": g.truncated} for q, g, v in zip(items, gens, verdicts)]
    metrics = {"accuracy": rate(v.label == "correct" for v in verdicts), "n": len(items),
               **{f"n_{lab}": sum(v.label == lab for v in verdicts) for lab in LABELS},
               "uncertain_rate": rate(v.label == "uncertain" for v in verdicts),
               **{k: v for k, v in grades(v.label for v in verdicts).items() if k != "correct"},
               "mean_response_tokens": mean((g.n_tokens for g in gens), 2),
               "truncated_rate": rate(g.truncated for g in gens),
               "judge": getattr(judge, "name", type(judge).__name__)}
    return metrics, examples, verdicts

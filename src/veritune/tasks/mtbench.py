"""MT-Bench (Zheng et al. 2023): 80 two-turn questions in eight categories, each answer rated
1-10 by a judge model, per-category means (the paper's AlignBench stands in the same place:
open-ended quality, scored by a judge).

The model answers turn 1 greedily, then turn 2 with its own first answer in the conversation
(at most ``MAX_NEW_TOKENS`` each). The judge model (the run's ``llm`` or ``ensemble`` judge, or
``eval.judge``) rates each turn with FastChat's single-answer prompts, verbatim: ``single-v1``,
and for math, reasoning and coding ``single-math-v1`` with FastChat's GPT-4 reference answer;
turn 2 with the ``-multi-turn`` prompts, which show the whole conversation. The rating is the
judge's last ``[[N]]`` (1 <= N <= 10); a reply without one is unrated and counted
(``n_unrated``), never guessed. ``score`` is the mean over rated turns; ``score`` per example
is that question's mean, so the guard compares base and tuned question by question.

Data: FastChat's ``question.jsonl`` (shipped, Apache-2.0), or a file in its format, or
AlpacaEval's ``{"instruction": ...}`` lines (one turn, no references).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from veritune.engines import Engine
from veritune.tasks.base import Task, seeded_subset
from veritune.tasks.generation import generate_greedy, mean
from veritune.tasks.open_ended import (Instruction, JudgeBill, default_data, judge_engine,
                                       judge_prompts, load_instructions, quoted)

NAME = "mtbench"
MAX_NEW_TOKENS = 256
RATING = re.compile(r"\[\[(\d+(?:\.\d+)?)\]\]")


def load(path: str | Path, limit: int | None = None, seed: int = 0) -> list[Instruction]:
    return seeded_subset(load_instructions(path), limit, seed)


def parse_rating(reply: str) -> float | None:
    """The judge's last ``[[N]]`` with 1 <= N <= 10, else None."""
    found = [float(m) for m in RATING.findall(reply)]
    return found[-1] if found and 1 <= found[-1] <= 10 else None


def judge_messages(item: Instruction, answers: Sequence[str], turn: int) -> list[dict]:
    """FastChat's single-answer prompt for ``turn`` (0 or 1) of ``item``."""
    math = bool(item.reference)
    name = ("single-math-v1" if math else "single-v1") + ("-multi-turn" if turn else "")
    p = judge_prompts()[name]
    fields = {"question": item.turns[0], "answer": quoted(answers[0]),
              "question_1": item.turns[0], "answer_1": quoted(answers[0])}
    if turn:
        fields.update(question_2=item.turns[1], answer_2=quoted(answers[1]))
    if math:
        fields.update(ref_answer_1=item.reference[0],
                      ref_answer_2=item.reference[1] if len(item.reference) > 1 else "")
    text = p["prompt_template"]
    for k, v in fields.items():
        text = text.replace("{" + k + "}", v)
    return [{"role": "system", "content": p["system_prompt"]}, {"role": "user", "content": text}]


def evaluate(engine: Engine, items: Sequence[Instruction], *, seed: int = 0,
             batch_size: int = 16, judge=None) -> tuple[dict, list[dict]]:
    grader = judge_engine(judge, NAME)  # before anything is generated
    first = generate_greedy(engine, [[{"role": "user", "content": it.turns[0]}] for it in items],
                            MAX_NEW_TOKENS, batch_size, seed, desc=f"{NAME} turn 1")
    two = [i for i, it in enumerate(items) if len(it.turns) > 1]
    second = dict(zip(two, generate_greedy(
        engine, [[{"role": "user", "content": items[i].turns[0]},
                  {"role": "assistant", "content": first[i].text},
                  {"role": "user", "content": items[i].turns[1]}] for i in two],
        MAX_NEW_TOKENS, batch_size, seed, desc=f"{NAME} turn 2")))
    answers = [[first[i].text] + ([second[i].text] if i in second else [])
               for i in range(len(items))]
    jobs = [(i, t) for i in range(len(items)) for t in range(len(answers[i]))]
    bill = JudgeBill()
    replies = bill.generate(grader, [judge_messages(items[i], answers[i], t) for i, t in jobs],
                            batch_size, seed, desc=f"{NAME} judge")
    ratings: dict[int, list[float | None]] = defaultdict(list)
    judged: dict[int, list[str]] = defaultdict(list)
    for (i, _t), reply in zip(jobs, replies):
        ratings[i].append(parse_rating(reply))
        judged[i].append(reply)
    examples, by_category, by_turn = [], defaultdict(list), defaultdict(list)
    for i, it in enumerate(items):
        rated = [r for r in ratings[i] if r is not None]
        for t, r in enumerate(ratings[i]):
            if r is not None:
                by_turn[t].append(r)
                by_category[it.category].append(r)
        examples.append({"id": it.id, "category": it.category, "turns": list(it.turns),
                         "answers": answers[i], "ratings": ratings[i], "judge_replies": judged[i],
                         "score": round(sum(rated) / len(rated), 4) if rated else None,
                         "has_reference": bool(it.reference)})
    everything = [r for rs in ratings.values() for r in rs if r is not None]
    gens = first + list(second.values())
    metrics = {"score": mean(everything, 3) if everything else None, "n": len(items),
               "n_rated": len(everything), "n_unrated": len(jobs) - len(everything),
               **{f"score_turn{t + 1}": mean(v, 3) for t, v in sorted(by_turn.items())},
               "score_by_category": {c: mean(v, 3) for c, v in sorted(by_category.items())},
               "mean_response_tokens": mean((g.n_tokens for g in gens), 2),
               "truncated_rate": round(sum(g.truncated for g in gens) / max(1, len(gens)), 4),
               **bill.metrics(),
               "judge": getattr(judge, "name", type(judge).__name__),
               "judge_model": getattr(grader, "model_name", "")}
    return metrics, examples


TASK = Task(name=NAME, headline="score", default_limit=80, default_data=default_data, load=load,
            evaluate=evaluate, judged="model", version=1)

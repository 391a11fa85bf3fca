"""Win rate (AlpacaEval-style): a judge model compares each of this model's answers with the
reference model's answer to the same instruction; in a run's suite and guard the reference is
the base model, so the tuned model's ``win_rate`` says whether factuality tuning cost
helpfulness (the paper's Table 4 AlpacaEval column, against the base model).

Each instruction is judged twice, once with each answer first (FastChat's ``pair-v2`` prompt,
verbatim: "[[A]]", "[[B]]", "[[C]]" for a tie), so position bias cancels: an item scores 1
when this model wins both orders, 0 when it loses both, 0.5 for a tie or a split. Judge mode
``generate`` reads the judge's last verdict (none: a tie, counted in ``n_unparsed``); mode
``score`` asks for the letter alone and takes the likeliest of A, B, C (one forward pass a
comparison; for a CPU judge).

Reported beside ``win_rate`` (and its 95% bootstrap interval over instructions): ties,
``position_agreement`` (the share of items whose two orders agree once unswapped: how much the
judge agrees with itself), ``longer_preferred`` (of decisive verdicts between answers of
different length, the share that picked the longer), and ``lc_win_rate``, length-controlled as
AlpacaEval 2 does in spirit: a logistic fit of each verdict on the length difference
(``tanh`` of the word-count difference over its spread), read at zero difference. The model
that is its own reference (the base) scores 0.5 by definition without a judge call.

Data: MT-Bench's 80 first turns (shipped; AlpacaEval's 805 instructions are not installable
here: the ``alpaca-eval`` package ships its judges' prompts, not the set), or a JSONL file of
``{"instruction": ...}`` lines (AlpacaEval's format) or MT-Bench's.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

from veritune.engines import Engine
from veritune.errors import InputError
from veritune.stats import paired_bootstrap
from veritune.tasks.base import Task, seeded_subset
from veritune.tasks.generation import generate_greedy, mean
from veritune.tasks.open_ended import (Instruction, JudgeBill, default_data, examples_by_id,
                                       judge_engine, judge_prompts, load_instructions, quoted)

NAME = "winrate"
MAX_NEW_TOKENS = 256
VERDICT = re.compile(r"\[\[([ABC])\]\]")
LETTER_ONLY = ("\n\nReply with only the verdict letter: A if assistant A is better, B if "
               "assistant B is better, C for a tie.")


def load(path: str | Path, limit: int | None = None, seed: int = 0) -> list[Instruction]:
    """First turns only: a win rate compares answers to single instructions."""
    items = [Instruction(it.id, it.turns[:1], it.category) for it in load_instructions(path)]
    return seeded_subset(items, limit, seed)


def parse_verdict(reply: str) -> str | None:
    found = VERDICT.findall(reply)
    return found[-1] if found else None


def compare_messages(instruction: str, answer_a: str, answer_b: str,
                     letter_only: bool = False) -> list[dict]:
    p = judge_prompts()["pair-v2"]
    text = p["prompt_template"].replace("{question}", instruction).replace(
        "{answer_a}", quoted(answer_a)).replace("{answer_b}", quoted(answer_b))
    system = p["system_prompt"]
    if letter_only:  # the reply's first token is the verdict (score mode)
        text += LETTER_ONLY
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def _outcome(letter: str | None, ours_is: str) -> float:
    """1 win, 0 loss, 0.5 tie (or no verdict) for our answer shown as ``ours_is``."""
    if letter in (None, "C"):
        return 0.5
    return 1.0 if letter == ours_is else 0.0


def length_controlled(outcomes: Sequence[float], length_diffs: Sequence[float]) -> float | None:
    """P(win) at zero length difference from a logistic fit of outcome (1, 0.5, 0) on
    ``tanh(diff / spread)``: ties count half a win and half a loss. None without spread."""
    if len(outcomes) < 2:
        return None
    spread = math.sqrt(sum(d * d for d in length_diffs) / len(length_diffs))
    if spread == 0:
        return None
    xs = [math.tanh(d / spread) for d in length_diffs]
    a = b = 0.0
    for _ in range(50):  # Newton steps on the two-parameter log-likelihood (ridge 1e-3)
        ps = [1 / (1 + math.exp(-(a + b * x))) for x in xs]
        ga = sum(y - p for y, p in zip(outcomes, ps)) - 1e-3 * a
        gb = sum((y - p) * x for y, p, x in zip(outcomes, ps, xs)) - 1e-3 * b
        w = [p * (1 - p) for p in ps]
        haa = sum(w) + 1e-3
        hab = sum(wi * x for wi, x in zip(w, xs))
        hbb = sum(wi * x * x for wi, x in zip(w, xs)) + 1e-3
        det = haa * hbb - hab * hab
        if det <= 0:
            break
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if abs(da) + abs(db) < 1e-9:
            break
    return round(1 / (1 + math.exp(-a)), 4)


def evaluate(engine: Engine, items: Sequence[Instruction], *, seed: int = 0,
             batch_size: int = 16, judge=None, reference: Sequence[dict] | None = None
             ) -> tuple[dict, list[dict]]:
    """``reference``: the reference model's examples of this task (its answers by id); None
    when this model is the reference."""
    grader = judge_engine(judge, NAME) if reference is not None else None
    ref = examples_by_id(reference or [])
    missing = [it.id for it in items if reference is not None and it.id not in ref]
    if missing:
        raise InputError(f"the reference model has no answer to {len(missing)} instruction(s), "
                         f"e.g. {missing[0]!r}: score it on the same items first",
                         field="reference")
    gens = generate_greedy(engine, [[{"role": "user", "content": it.turns[0]}] for it in items],
                           MAX_NEW_TOKENS, batch_size, seed, desc=f"{NAME} answers")
    if reference is None:
        examples = [{"id": it.id, "category": it.category, "instruction": it.turns[0],
                     "answer": g.text, "n_tokens": g.n_tokens, "score": 0.5}
                    for it, g in zip(items, gens)]
        return {"win_rate": 0.5, "n": len(items), "reference": "self",
                "mean_response_tokens": mean((g.n_tokens for g in gens), 2)}, examples
    theirs = [ref[it.id]["answer"] for it in items]
    score_mode = getattr(getattr(judge, "llm", judge), "mode", "generate") == "score"
    prompts = []
    for it, g, t in zip(items, gens, theirs):  # ours first, then theirs first
        prompts += [compare_messages(it.turns[0], g.text, t, score_mode),
                    compare_messages(it.turns[0], t, g.text, score_mode)]
    bill = JudgeBill()
    if score_mode:
        logprobs = bill.choice_logprobs(grader, prompts, ["A", "B", "C"], batch_size)
        letters = ["ABC"[max(range(3), key=lambda k: lp[k])] for lp in logprobs]
        replies = [" ".join(f"{c}:{v:.3f}" for c, v in zip("ABC", lp)) for lp in logprobs]
    else:
        replies = bill.generate(grader, prompts, batch_size, seed, desc=f"{NAME} judge")
        letters = [parse_verdict(r) for r in replies]
    examples, outcomes, diffs, agree, longer = [], [], [], [], []
    for k, (it, g, t) in enumerate(zip(items, gens, theirs)):
        first, second = letters[2 * k], letters[2 * k + 1]
        o1, o2 = _outcome(first, "A"), _outcome(second, "B")
        ours_words, their_words = len(g.text.split()), len(t.split())
        for o in (o1, o2):
            outcomes.append(o)
            diffs.append(ours_words - their_words)
            if o != 0.5 and ours_words != their_words:
                longer.append((o == 1.0) == (ours_words > their_words))
        agree.append(o1 == o2)
        examples.append({"id": it.id, "category": it.category, "instruction": it.turns[0],
                         "answer": g.text, "reference_answer": t, "n_tokens": g.n_tokens,
                         "verdicts": [first, second], "judge_replies": replies[2 * k:2 * k + 2],
                         "score": (o1 + o2) / 2})
    scores = [e["score"] for e in examples]
    interval = paired_bootstrap([s - 0.5 for s in scores], seed=seed) if scores else None
    metrics = {"win_rate": mean(scores), "n": len(items),
               "win_rate_ci95": [round(0.5 + interval["low"], 4), round(0.5 + interval["high"], 4)]
               if interval else None,
               "wins": sum(s == 1.0 for s in scores), "losses": sum(s == 0.0 for s in scores),
               "ties": sum(s == 0.5 for s in scores),
               "lc_win_rate": length_controlled(outcomes, diffs),
               "position_agreement": mean(float(a) for a in agree),
               "longer_preferred": mean(float(x) for x in longer) if longer else None,
               "n_unparsed": sum(x is None for x in letters),
               "mean_response_tokens": mean((g.n_tokens for g in gens), 2),
               "mean_reference_words": mean((len(t.split()) for t in theirs), 2),
               **bill.metrics(), "judge": getattr(judge, "name", type(judge).__name__),
               "judge_mode": "score" if score_mode else "generate",
               "judge_model": getattr(grader, "model_name", "")}
    return metrics, examples


TASK = Task(name=NAME, headline="win_rate", default_limit=80, default_data=default_data,
            load=load, evaluate=evaluate, judged="model", relative=True, version=1)


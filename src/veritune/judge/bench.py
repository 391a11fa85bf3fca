"""Judge benchmark: agreement of a judge with human labels.

    veritune judge-bench --labels tests/data/judge_labels.jsonl --judge lexical --out DIR

Labels are ``{question, answers, response, label: correct|incorrect}`` per line. A predicted
``uncertain`` counts as "not correct" in the metrics and is reported as ``uncertain_rate``;
precision and recall are those of the class "correct"; kappa is Cohen's.
"""

from __future__ import annotations

import time
from typing import Sequence

from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.judge import Judge
from veritune.records import Question


def load_labels(path) -> list[tuple[Question, str, str]]:
    items = []
    for lineno, obj in iter_json_lines(path):
        try:
            if obj.get("label") not in ("correct", "incorrect"):
                raise InputError("must be correct or incorrect", field="label")
            if not isinstance(obj.get("response"), str):
                raise InputError("missing required field", field="response")
            q = Question.from_dict({"id": obj.get("id", f"label-{lineno}"),
                                    "question": obj.get("question"),
                                    "answers": obj.get("answers"),
                                    "lang": obj.get("lang") or ("zh" if obj.get("kind") == "cjk"
                                                                else "en")})
        except InputError as e:
            raise InputError(e.reason, path=path, line=lineno, field=e.field) from None
        items.append((q, obj["response"], obj["label"]))
    return items


def agreement(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    n = len(gold)
    tp = sum(g and p for g, p in zip(gold, pred))
    tn = sum(not g and not p for g, p in zip(gold, pred))
    fp = sum(p and not g for g, p in zip(gold, pred))
    fn = sum(g and not p for g, p in zip(gold, pred))
    acc = (tp + tn) / n if n else 0.0
    tpr = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    p_yes = ((tp + fn) / n) * ((tp + fp) / n) if n else 0.0
    p_no = ((tn + fp) / n) * ((tn + fn) / n) if n else 0.0
    expected = p_yes + p_no
    kappa = (acc - expected) / (1 - expected) if expected < 1 else 0.0
    return {"accuracy": round(acc, 4), "balanced_accuracy": round((tpr + tnr) / 2, 4),
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tpr, 4), "kappa": round(kappa, 4)}


def run_bench(judge: Judge, items: Sequence[tuple[Question, str, str]]) -> tuple[dict, list]:
    start = time.perf_counter()
    verdicts = judge.judge_many([(q, r) for q, r, _ in items])
    seconds = time.perf_counter() - start
    gold = [label == "correct" for _, _, label in items]
    pred = [v.label == "correct" for v in verdicts]
    metrics = agreement(gold, pred)
    metrics.update(n=len(items), judge=judge.name,
                   uncertain_rate=round(sum(v.label == "uncertain" for v in verdicts)
                                        / max(len(items), 1), 4),
                   llm_calls=getattr(getattr(judge, "llm", judge), "calls", 0),
                   seconds=round(seconds, 2))
    if hasattr(judge, "shares"):
        metrics["decided_by"] = judge.shares()
    examples = [{"question": q.question, "answers": q.answers, "response": r, "label": gold_l,
                 "verdict": v.label, "agree": (v.label == "correct") == (gold_l == "correct"),
                 "rationale": v.rationale}
                for (q, r, gold_l), v in zip(items, verdicts)]
    return metrics, examples

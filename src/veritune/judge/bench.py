"""Judge benchmark: agreement of a judge with human labels, with intervals and costs.

    veritune judge-bench --labels tests/data/judge_labels.jsonl --judge lexical --out DIR

Labels are ``{question, answers, response, label}`` per line, ``label`` one of ``correct``,
``incorrect`` or ``possibly_correct`` (a rating that was not definite, as in EfficientQA).

* Agreement is measured on the definite labels only. A predicted ``uncertain`` counts as "not
  correct" and is reported as ``uncertain_rate``; precision and recall are those of the class
  "correct"; kappa is Cohen's.
* ``kappa_ci`` and ``balanced_accuracy_ci`` are 95% percentile intervals from a bootstrap
  that resamples *questions* (several answers to one question are not independent), seeded.
* ``possibly_correct``: how the judge labelled those answers, apart (``verdicts`` counts).
* Cost: ``seconds``, ``seconds_per_item`` (all items judged), ``llm_calls`` and
  ``seconds_per_llm_call``, and for an ensemble ``decided_by`` (share of answers each part
  decided).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Sequence

import numpy as np

from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.judge.base import Judge
from veritune.records import Question

LABELS = ("correct", "incorrect", "possibly_correct")
DEFINITE = ("correct", "incorrect")


def load_labels(path, definite_only: bool = False) -> list[tuple[Question, str, str]]:
    """(question, response, label) per line; ``definite_only`` drops ``possibly_correct``."""
    items = []
    for lineno, obj in iter_json_lines(path):
        try:
            if obj.get("label") not in LABELS:
                raise InputError(f"must be one of {', '.join(LABELS)}", field="label")
            if not isinstance(obj.get("response"), str):
                raise InputError("missing required field", field="response")
            q = Question.from_dict({"id": obj.get("id", f"label-{lineno}"),
                                    "question": obj.get("question"),
                                    "answers": obj.get("answers"),
                                    "lang": obj.get("lang") or ("zh" if obj.get("kind") == "cjk"
                                                                else "en")})
        except InputError as e:
            raise InputError(e.reason, path=path, line=lineno, field=e.field) from None
        if definite_only and obj["label"] not in DEFINITE:
            continue
        items.append((q, obj["response"], obj["label"]))
    return items


def subsample(items: Sequence, n: int | None, seed: int = 0) -> list:
    """``n`` items drawn without replacement (seeded, original order kept); all when None."""
    if n is None or n >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in keep]


def _counts(gold, pred) -> tuple[int, int, int, int]:
    tp = sum(g and p for g, p in zip(gold, pred))
    tn = sum(not g and not p for g, p in zip(gold, pred))
    fp = sum(p and not g for g, p in zip(gold, pred))
    fn = sum(g and not p for g, p in zip(gold, pred))
    return tp, tn, fp, fn


def _kappa_ba(tp, tn, fp, fn):
    """Cohen's kappa and balanced accuracy from counts (numbers or numpy arrays)."""
    n = tp + tn + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = (tp + tn) / n
        expected = ((tp + fn) / n) * ((tp + fp) / n) + ((tn + fp) / n) * ((tn + fn) / n)
        kappa = np.where(expected < 1, (acc - expected) / (1 - expected), 0.0)
        tpr = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        tnr = np.where(tn + fp > 0, tn / (tn + fp), 0.0)
    return kappa, (tpr + tnr) / 2


def agreement(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    n = len(gold)
    tp, tn, fp, fn = _counts(gold, pred)
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


def bootstrap(groups: Sequence[str], gold: Sequence[bool], pred: Sequence[bool],
              resamples: int = 1000, seed: int = 0) -> dict[str, list[float]]:
    """95% percentile intervals of kappa and balanced accuracy, resampling whole groups
    (questions) with replacement."""
    if not gold or resamples <= 0:
        return {}
    ids = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    per = np.zeros((len(ids), 4))  # tp, tn, fp, fn per question
    for g, y, p in zip(groups, gold, pred):
        per[ids[g], (0 if p else 3) if y else (2 if p else 1)] += 1
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ids), size=(resamples, len(ids)))
    tp, tn, fp, fn = (per[draws, k].sum(axis=1) for k in range(4))
    kappa, ba = _kappa_ba(tp, tn, fp, fn)
    return {"kappa_ci": [round(float(np.percentile(kappa, q)), 4) for q in (2.5, 97.5)],
            "balanced_accuracy_ci": [round(float(np.percentile(ba, q)), 4) for q in (2.5, 97.5)]}


def _parts(judge: Judge, n: int) -> dict[str, float]:
    if hasattr(judge, "shares"):
        return judge.shares()
    return {judge.name: 1.0} if n else {}


def run_bench(judge: Judge, items: Sequence[tuple[Question, str, str]],
              resamples: int = 1000, seed: int = 0) -> tuple[dict, list]:
    """Judge every item once; metrics on the definite labels, possibly-correct apart."""
    start = time.perf_counter()
    verdicts = judge.judge_many([(q, r) for q, r, _ in items])
    seconds = time.perf_counter() - start
    definite = [i for i, (_, _, label) in enumerate(items) if label in DEFINITE]
    gold = [items[i][2] == "correct" for i in definite]
    pred = [verdicts[i].label == "correct" for i in definite]
    metrics = agreement(gold, pred)
    metrics.update(bootstrap([items[i][0].question for i in definite], gold, pred,
                             resamples, seed))
    possibly = [verdicts[i].label for i, (_, _, label) in enumerate(items)
                if label == "possibly_correct"]
    decisive = sum(v.decisive for v in verdicts)
    metrics.update(
        n=len(definite), judge=judge.name,
        positives=sum(gold), uncertain_rate=round(
            sum(verdicts[i].label == "uncertain" for i in definite) / max(len(definite), 1), 4),
        not_attempted_rate=round(sum(verdicts[i].label == "not_attempted" for i in definite)
                                 / max(len(definite), 1), 4),
        possibly_correct={"n": len(possibly), "verdicts": dict(Counter(possibly))},
        llm_calls=getattr(getattr(judge, "llm", judge), "calls", 0),
        seconds=round(seconds, 2), seconds_per_item=round(seconds / max(len(items), 1), 4),
        items_judged=len(items), decided_by=_parts(judge, len(items)),
        decisive_share=round(decisive / max(len(items), 1), 4), bootstrap_resamples=resamples)
    if metrics["llm_calls"]:
        metrics["seconds_per_llm_call"] = round(seconds / metrics["llm_calls"], 4)
    examples = [{"question": q.question, "answers": q.answers, "response": r, "label": gold_l,
                 "verdict": v.label, "decisive": v.decisive,
                 "agree": None if gold_l not in DEFINITE else
                 (v.label == "correct") == (gold_l == "correct"),
                 "rationale": v.rationale}
                for (q, r, gold_l), v in zip(items, verdicts)]
    return metrics, examples


SUMMARY_KEYS = ("n", "accuracy", "balanced_accuracy", "balanced_accuracy_ci", "precision",
                "recall", "kappa", "kappa_ci", "uncertain_rate", "not_attempted_rate",
                "possibly_correct", "decided_by",
                "llm_calls", "seconds", "seconds_per_item")

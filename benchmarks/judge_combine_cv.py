"""Can a fitted combination of the lexical judge's partial credit and the LLM's P(correct) beat
the ensemble's two thresholds? Five-fold cross-validation by question; writes JSON.

    python benchmarks/judge_agreement.py --labels ../shared/data/efficientqa_rated_half.jsonl \
        --judge ensemble --mode score --threshold 0.5 --model $GGUF \
        --examples /tmp/ens05.jsonl --out benchmarks/results/judge/ensemble_score_t0.5.json
    python benchmarks/judge_combine_cv.py /tmp/ens05.jsonl \
        --out benchmarks/results/judge/combine_cv.json

Items the lexical judge decides keep its verdict. For the rest: features are the LLM's
log-odds, the kind of partial match the lexical judge found (shorter / longer form, token
overlap) and its score, and the log-odds times each kind. A logistic regression (numpy, L2,
Newton steps) and its acceptance threshold are fitted on four folds, applied to the fifth.
Reported: the cross-validated kappa with a bootstrap interval over questions, beside the
two-threshold rule (0.75, partial 0.05) chosen in-sample on the same items.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np

from veritune.jsonl import iter_json_lines
from veritune.judge.lexical import answer_statement
from veritune.judge.partial import best_partial

KINDS = ("shorter", "longer", "overlap")


def kappa(y: np.ndarray, p: np.ndarray) -> float:
    po = float((y == p).mean())
    pe = y.mean() * p.mean() + (1 - y.mean()) * (1 - p.mean())
    return (po - pe) / (1 - pe) if pe < 1 else 0.0


def features(rows: list[dict]):
    x, y, fold, lex = [], [], [], []
    for r in rows:
        m = re.search(r"P\(correct\) = ([0-9.]+)", r.get("rationale", ""))
        y.append(r["label"] == "correct")
        fold.append(int(hashlib.md5(r["question"].encode()).hexdigest(), 16) % 5)
        if m is None:  # the lexical judge decided
            lex.append(r["verdict"] == "correct")
            x.append([0.0] * (2 + 2 * len(KINDS)))
            continue
        lex.append(None)
        pc = min(max(float(m.group(1)), 1e-4), 1 - 1e-4)
        logit = math.log(pc / (1 - pc))
        part = best_partial(answer_statement(r["response"], r["question"]), r["answers"],
                            r["question"])
        kinds = [float(part is not None and part.kind == k) for k in KINDS]
        x.append([logit, *kinds, part.score if part else 0.0, *[logit * k for k in kinds]])
    return np.array(x), np.array(y), np.array(fold), lex


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 30) -> np.ndarray:
    xb = np.c_[np.ones(len(x)), x]
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hess, grad)
    return w


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.c_[np.ones(len(x)), x] @ w)))


def cross_validate(x, y, fold, lex) -> np.ndarray:
    llm = np.array([v is None for v in lex])
    lexv = np.array([bool(v) for v in lex])
    pred = lexv.copy()
    for f in range(5):
        train, test = (fold != f) & llm, (fold == f) & llm
        w = fit(x[train], y[train])
        p_train = predict(w, x[train])
        decided = (fold != f) & ~llm

        truth = np.r_[y[train], y[decided]]
        t = max(np.arange(0.1, 0.9, 0.025),
                key=lambda t: kappa(truth, np.r_[p_train >= t, lexv[decided]]))  # noqa: B023
        pred[test] = predict(w, x[test]) >= t
    return pred


def bootstrap(y, pred, questions, n: int = 1000, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        groups.setdefault(q, []).append(i)
    keys = list(groups)
    ks = []
    for _ in range(n):
        idx = np.concatenate([groups[keys[j]] for j in rng.integers(0, len(keys), len(keys))])
        ks.append(kappa(y[idx], pred[idx]))
    return [round(float(v), 4) for v in np.percentile(ks, [2.5, 97.5])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("examples", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = [o for _, o in iter_json_lines(args.examples) if o["label"] in ("correct", "incorrect")]
    x, y, fold, lex = features(rows)
    questions = [r["question"] for r in rows]
    pred = cross_validate(x, y, fold, lex)
    llm = np.array([v is None for v in lex])
    partial = x[:, 1:1 + len(KINDS)].sum(1) > 0
    pc = 1 / (1 + np.exp(-x[:, 0]))
    rule = np.where(llm, np.where(partial, pc >= 0.05, pc >= 0.75),
                    np.array([bool(v) for v in lex]))
    result = {"items": len(rows), "llm_decided": int(llm.sum()),
              "fitted_cv": {"kappa": round(kappa(y, pred), 4),
                            "ci95": bootstrap(y, pred, questions)},
              "two_thresholds_in_sample": {"threshold": 0.75, "threshold_partial": 0.05,
                                           "kappa": round(kappa(y, rule), 4),
                                           "ci95": bootstrap(y, rule, questions)}}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

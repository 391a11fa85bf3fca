"""Is the ensemble's threshold choice a knife edge? Five-fold cross-validation by question over
a grid of (threshold, threshold_partial); writes JSON.

Each grid point is one run of ``judge_agreement.py --examples`` on the same verdict cache (no
new model calls once the cache holds every item):

    for t in 0.5 0.55 0.6 0.65 0.7 0.75 0.8; do for p in 0.02 0.05 0.1; do
      python benchmarks/judge_agreement.py --labels ../shared/data/efficientqa_rated_half.jsonl \
        --judge ensemble --mode score --threshold $t --threshold-partial $p --model $GGUF \
        --dtype bfloat16 --cache $CACHE --examples /tmp/grid/e_${t}_${p}.jsonl \
        --out /tmp/grid/e_${t}_${p}.json
    done; done
    python benchmarks/judge_threshold_cv.py /tmp/grid/e_*.jsonl \
        --out benchmarks/results/judge/ensemble_threshold_cv.json

On four folds the grid point with the highest kappa is chosen and its verdicts on the fifth are
kept; kappa of the pooled held-out verdicts, with a bootstrap interval over questions, is the
honest figure for "choose the thresholds on your own rated answers". The in-sample best is
reported beside it. Definite labels only, as in ``judge_agreement.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

from veritune.jsonl import iter_json_lines
from veritune.judge.bench import agreement, bootstrap


def grid_point(path: str) -> tuple[float, float]:
    m = re.search(r"e_([0-9.]+)_([0-9.]+)\.jsonl$", path)
    if m is None:
        raise SystemExit(f"{path}: name it e_<threshold>_<partial>.jsonl")
    return float(m.group(1)), float(m.group(2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("examples", nargs="+", help="per-item verdicts, one file per grid point")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    runs = {}
    for path in sorted(args.examples):
        rows = [r for _, r in iter_json_lines(path) if r["label"] in ("correct", "incorrect")]
        runs[grid_point(path)] = rows
    points = sorted(runs)
    first = runs[points[0]]
    if any(len(runs[p]) != len(first) for p in points):
        raise SystemExit("the grid points judged different items")
    gold = [r["label"] == "correct" for r in first]
    questions = [r["question"] for r in first]
    fold = [int(hashlib.md5(q.encode()).hexdigest(), 16) % args.folds for q in questions]
    pred = {p: [r["verdict"] == "correct" for r in runs[p]] for p in points}

    def kappa_on(p, keep):
        idx = [i for i in range(len(gold)) if keep(i)]
        return agreement([gold[i] for i in idx], [pred[p][i] for i in idx])["kappa"]

    held_out = [False] * len(gold)
    chosen = []
    for k in range(args.folds):
        best = max(points, key=lambda p: kappa_on(p, lambda i: fold[i] != k))
        chosen.append({"fold": k, "threshold": best[0], "threshold_partial": best[1]})
        for i in range(len(gold)):
            if fold[i] == k:
                held_out[i] = pred[best][i]
    in_sample = {f"{p[0]}/{p[1]}": kappa_on(p, lambda i: True) for p in points}
    best = max(points, key=lambda p: in_sample[f"{p[0]}/{p[1]}"])
    result = {
        "items": len(gold),
        "grid": in_sample,
        "in_sample_best": {"threshold": best[0], "threshold_partial": best[1],
                           **agreement(gold, pred[best]), **bootstrap(questions, gold, pred[best])},
        "cross_validated": {**agreement(gold, held_out), **bootstrap(questions, gold, held_out),
                            "chosen_per_fold": chosen},
        "command": "benchmarks/judge_threshold_cv.py " + " ".join(
            Path(p).name for p in sorted(args.examples)),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("in_sample_best", "cross_validated")}, indent=1))


if __name__ == "__main__":
    main()

"""Choose score mode's thresholds on human ratings, from a verdict cache that already holds
P(correct) for every answer (a threshold changes no judge-model call, only the labels).

    python benchmarks/judge_calibrate.py --cache /tmp/score.sqlite \\
        --model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --cost benchmarks/results/judge/ensemble_score_t0.5.json \\
        --out benchmarks/results/judge/ensemble_score.json

For the ensemble it searches ``threshold`` (answers the lexical judge found nothing for) and
``threshold_partial`` (answers it gave partial credit); for ``llm`` alone one threshold. It
reports the chosen values, the metrics there (bootstrap intervals by question), and a 2-fold
check by question: thresholds chosen on one half of the questions, kappa measured on the other.
Cost fields (seconds, LLM calls) are copied from ``--cost``, the run that made the calls.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from veritune.config import load_config  # noqa: E402
from veritune.judge import build_judge  # noqa: E402
from veritune.judge.bench import agreement, load_labels, run_bench  # noqa: E402

GRID = [round(0.05 * i, 2) for i in range(1, 20)]
COST = ("seconds", "seconds_per_item", "seconds_per_llm_call", "llm_calls", "model_load_seconds",
        "decided_by", "conditions", "command", "items_judged")


def judge_for(args, threshold: float, partial: float | None):
    sets = [f"judge.name={args.judge}", "judge.mode=score", f"judge.threshold={threshold}",
            f"judge.model.name={args.model}", "judge.model.engine=openai",  # never called:
            f"judge.cache={args.cache}", "runs_dir=/tmp"]                  # all cached
    if partial is not None:
        sets.append(f"judge.threshold_partial={partial}")
    return build_judge(load_config(None, sets), [])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default="../shared/data/efficientqa_rated_half.jsonl")
    ap.add_argument("--judge", default="ensemble", choices=["llm", "ensemble"])
    ap.add_argument("--model", required=True, help="the judge model name the cache is keyed by")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--cost", required=True, help="JSON of the run that made the LLM calls")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    items = load_labels(args.labels)
    definite = [it for it in items if it[2] != "possibly_correct"]
    fold = [int(hashlib.md5(q.question.encode()).hexdigest(), 16) % 2 for q, _, _ in definite]
    base = judge_for(args, 0.5, None)  # verdicts with their P(correct), all from the cache
    verdicts = base.judge_many([(q, r) for q, r, _ in definite])
    lean = [(base.lexical.judge(q, r).label == "correct") if args.judge == "ensemble" else False
            for q, r, _ in definite]
    gold = [label == "correct" for _, _, label in definite]

    def labels(t, tp):
        out = []
        for v, partial in zip(verdicts, lean):
            if v.score is None:
                out.append(v.label == "correct")
            else:
                out.append(v.score >= (tp if partial and tp is not None else t))
        return out

    pairs = [(t, tp) for t in GRID for tp in ([None] + GRID if args.judge == "ensemble"
                                                else [None])]

    predicted = {p: labels(*p) for p in pairs}

    def kappa_on(p, on) -> float:
        idx = [i for i, f in enumerate(fold) if f in on]
        return agreement([gold[i] for i in idx], [predicted[p][i] for i in idx])["kappa"]

    def best(on):
        return max(pairs, key=lambda p: kappa_on(p, on))

    chosen = best({0, 1})
    check = []
    for f in (0, 1):
        t = best({f})
        check.append({"chosen_on_fold": f, "thresholds": t,
                      "kappa_other_fold": kappa_on(t, {1 - f}),
                      "kappa_other_fold_at_overall_choice": kappa_on(chosen, {1 - f})})
    final = judge_for(args, chosen[0], chosen[1])
    metrics, _ = run_bench(final, items)
    cost = json.loads(Path(args.cost).read_text())
    metrics.update({k: cost.get(k) for k in COST})
    default = agreement(gold, labels(0.5, None))
    metrics.update(threshold=chosen[0], threshold_partial=chosen[1], mode="score",
                   judge_model=args.model, calibration={
                       "grid": GRID, "chosen_on": "all definitely-rated items of --labels",
                       "two_fold_by_question": check, "at_threshold_0.5": default,
                       "cost_from": args.cost,
                       "note": "thresholds change labels, not judge-model calls: the cost is "
                               "that of the run in cost_from"},
                   calibrate_command=" ".join(sys.argv))
    Path(args.out).write_text(json.dumps(metrics, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: metrics[k] for k in ("kappa", "kappa_ci", "balanced_accuracy",
                                              "recall", "threshold", "threshold_partial")}),
          json.dumps(check))


if __name__ == "__main__":
    main()

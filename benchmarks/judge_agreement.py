"""Agreement of a judge with human ratings, with its cost: one JSON per run.

    python benchmarks/assemble_qwen15.py          # the 1.5B judge model (once)
    flock /tmp/veritune-cpu.lock python benchmarks/judge_agreement.py \\
        --labels ../shared/data/efficientqa_rated_half.jsonl --judge ensemble --mode score \\
        --model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --out benchmarks/results/judge/ensemble_score.json

Runs ``veritune.judge.bench.run_bench`` (the code behind ``veritune judge-bench``) and adds the
conditions: machine, threads, dtype, model load time, subsample. A fresh verdict cache is used
unless ``--cache`` is given, so the seconds are those of real judge-model calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from veritune.config import load_config  # noqa: E402
from veritune.judge import build_judge  # noqa: E402
from veritune.judge.bench import load_labels, run_bench, subsample  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", required=True)
    ap.add_argument("--judge", default="lexical", choices=["lexical", "llm", "ensemble"])
    ap.add_argument("--mode", default="generate", choices=["generate", "score"])
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--threshold-partial", type=float, default=None,
                    help="ensemble, score mode: the threshold for the lexical judge's partial "
                         "matches (judge.threshold_partial)")
    ap.add_argument("--model", default="embedded", help="judge.model.name (a .gguf path works)")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--limit", type=int, default=None, help="seeded subsample of N items")
    ap.add_argument("--definite-only", action="store_true")
    ap.add_argument("--no-overlap", action="store_true", help="judge.require_overlap=false")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None, help="verdict cache (default: a fresh one)")
    ap.add_argument("--examples", default=None, help="also write the per-item verdicts here")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    items = subsample(load_labels(args.labels, args.definite_only), args.limit, args.seed)
    cache = args.cache or os.path.join(tempfile.mkdtemp(prefix="judge-bench-"), "c.sqlite")
    cfg = load_config(None, [f"judge.name={args.judge}", f"judge.mode={args.mode}",
                             f"judge.threshold={args.threshold}",
                             *([f"judge.threshold_partial={args.threshold_partial}"]
                               if args.threshold_partial is not None else []),
                             f"judge.model.name={args.model}", f"judge.model.dtype={args.dtype}",
                             "judge.model.device=cpu", f"judge.batch_size={args.batch_size}",
                             f"judge.max_new_tokens={args.max_new_tokens}", f"judge.cache={cache}",
                             f"judge.require_overlap={not args.no_overlap}",
                             f"runs_dir={tempfile.mkdtemp(prefix='judge-run-')}"])
    start = time.perf_counter()
    judge = build_judge(cfg, [q for q, _, _ in items])
    load_seconds = time.perf_counter() - start
    metrics, examples = run_bench(judge, items, seed=args.seed)
    metrics.update(
        labels=args.labels, mode=args.mode if args.judge != "lexical" else None,
        threshold=args.threshold if args.judge != "lexical" and args.mode == "score" else None,
        threshold_partial=args.threshold_partial,
        require_overlap=not args.no_overlap if args.judge != "lexical" else None,
        judge_model=args.model if args.judge != "lexical" else None,
        dtype=args.dtype if args.judge != "lexical" else None,
        max_new_tokens=args.max_new_tokens if args.mode == "generate" else None,
        subsample={"limit": args.limit, "seed": args.seed, "definite_only": args.definite_only},
        model_load_seconds=round(load_seconds, 2),
        conditions={"machine": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
                    "note": "shared 2-core machine; other helpers' jobs may run at the same "
                            "time (heavy ones serialised by /tmp/veritune-cpu.lock)"},
        command=" ".join(sys.argv))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(metrics, indent=1, ensure_ascii=False) + "\n")
    if args.examples:
        with open(args.examples, "w", encoding="utf-8") as f:
            for e in examples:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    print(json.dumps({k: metrics[k] for k in ("n", "kappa", "kappa_ci", "balanced_accuracy",
                                              "recall", "seconds_per_item", "decided_by",
                                              "llm_calls")}))


if __name__ == "__main__":
    main()

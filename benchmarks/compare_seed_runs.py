"""Two recipes run over the same seeds and question split (``veritune run CFG --seeds ...``
twice, with other training settings): recipe A's tuned model minus recipe B's, paired on
items and seeds, on each split and each guard task; writes JSON.

    python benchmarks/compare_seed_runs.py runs/kb_sftdpo runs/kb --seeds 0,1,2 \
        --out benchmarks/results/seeds/kb_sftdpo_vs_dpo.json

Each side's change against the base model is in its own seeds_summary.json; this is the
direct comparison, the one that says whether a default should change. The interval is the
same paired bootstrap over items and seeds (``veritune.seeds.paired_block``); "real" when it
excludes 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from veritune.guard import DEFAULT_GUARD
from veritune.seeds import paired_block, parse_seeds, scores, seed_dirs


def compare(a_root: Path, b_root: Path, seeds, splits) -> dict:
    a, b = seed_dirs(a_root, seeds), seed_dirs(b_root, seeds)
    common = [s for s in a if s in b]
    out = {"a": str(a_root), "b": str(b_root), "seeds": common, "level": 0.95,
           "splits": {}, "guard": {}}

    def block(sub: str, metric: str) -> dict | None:
        got = paired_block({s: scores(b[s] / sub, metric) for s in common},
                           {s: scores(a[s] / sub, metric) for s in common})
        if got is None:
            return None
        for row in got["per_seed"]:  # paired_block names the sides base/tuned: here B and A
            row["b"], row["a"] = row.pop("base"), row.pop("tuned")
        got["b"], got["a"] = got.pop("base"), got.pop("tuned")
        return {"metric": metric, **got}

    for split in splits:
        got = block(f"eval/tuned/{split}", "accuracy")
        if got:
            out["splits"][split] = got
    for task, (metric, *_rest) in DEFAULT_GUARD.items():
        got = block(f"eval/guard/tuned/{task}", metric)
        if got:
            out["guard"][task] = got
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--splits", default="validation,test")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    result = compare(args.a, args.b, parse_seeds(args.seeds), args.splits.split(","))
    for name, blk in [*result["splits"].items(), *result["guard"].items()]:
        seeds = ", ".join(f"{r['change'] * 100:+.1f}" for r in blk["per_seed"])
        print(f"{name:>14} ({blk['metric']}, {blk['n']}): A - B {blk['change'] * 100:+.1f} "
              f"[{blk['low'] * 100:+.1f}, {blk['high'] * 100:+.1f}] {blk['verdict']}; "
              f"seeds {seeds}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

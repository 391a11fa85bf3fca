"""Where a run's held-out flips happen, by what the base model knew before training.

    python benchmarks/flips_by_premise.py runs/nq_open --split test \
        --premise benchmarks/results/premise/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf__nq_test

Each held-out question falls in one of three classes by the premise measurement
(``benchmarks/premise.py``: greedy and 8 samples at the paper's settings, before training):
``said`` (greedy right), ``known_not_said`` (greedy wrong, one of 8 samples right: what PKUE
means to teach the model to use) and ``unknown`` (none right). For each seed of the run the
script counts the base and tuned models' greedy answers in each class, and the flips
(wrong -> right, right -> wrong) against the base. A gain made on ``known_not_said`` and lost
on ``said`` nets to nothing: the counts say which. Writes ``flips_by_premise.json`` into the
run folder (or ``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

CLASSES = ("said", "known_not_said", "unknown")


def read(path: Path) -> dict[str, dict]:
    """examples.jsonl -> question text -> example (the question text is the key both files
    share: the run prefixes its test ids)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return {r["question"]: r for r in rows}


def premise_class(example: dict) -> str:
    if example["label"] == "correct":
        return "said"
    return "known_not_said" if example.get("best_of_n_correct") else "unknown"


def seed_flips(seed_dir: Path, split: str, premise: dict[str, dict]) -> dict:
    base = read(seed_dir / "eval" / "base" / split / "examples.jsonl")
    tuned = read(seed_dir / "eval" / "tuned" / split / "examples.jsonl")
    counts = {c: Counter() for c in CLASSES}
    missing = 0
    for question, b in base.items():
        p = premise.get(question)
        if p is None or question not in tuned:
            missing += 1
            continue
        right = (b["label"] == "correct", tuned[question]["label"] == "correct")
        c = counts[premise_class(p)]
        c["questions"] += 1
        c["base_right"] += right[0]
        c["tuned_right"] += right[1]
        c["wrong_to_right"] += right == (False, True)
        c["right_to_wrong"] += right == (True, False)
    return {"classes": {k: dict(v) for k, v in counts.items()}, "not_in_premise": missing}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run folder with seed*/ (veritune run --seeds)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--premise", type=Path, required=True,
                    help="a premise folder (benchmarks/results/premise/<model>__<set>)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    premise = read(args.premise / "examples.jsonl")
    seeds = sorted(d for d in args.run.glob("seed*")
                   if (d / "eval" / "tuned" / args.split / "examples.jsonl").exists())
    if not seeds:
        raise SystemExit(f"{args.run}: no seed folder with a tuned {args.split} evaluation")
    result = {"run": str(args.run), "split": args.split, "premise": str(args.premise),
              "seeds": {d.name: seed_flips(d, args.split, premise) for d in seeds}}
    out = args.out or args.run / "flips_by_premise.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'seed':<7}{'class':<16}{'questions':>10}{'base':>7}{'tuned':>7}{'w->r':>6}"
          f"{'r->w':>6}")
    for name, block in result["seeds"].items():
        for c in CLASSES:
            v = block["classes"][c]
            print(f"{name:<7}{c:<16}{v.get('questions', 0):>10}{v.get('base_right', 0):>7}"
                  f"{v.get('tuned_right', 0):>7}{v.get('wrong_to_right', 0):>6}"
                  f"{v.get('right_to_wrong', 0):>6}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()

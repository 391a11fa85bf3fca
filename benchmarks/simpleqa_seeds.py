"""SimpleQA's figures over seeds: correct, not attempted, correct given attempted and F-score
of the base and each tuned variant on a held-out split, with 95% intervals.

    python benchmarks/simpleqa_seeds.py runs/ablations --variants pkue,abstain_fixed,abstain_own \
        --out benchmarks/results/ablations/abstain_simpleqa.json

Reads what ``veritune ablate DIR --seeds ...`` wrote: ``ROOT/seed<s>/eval/base/<split>/`` and
``ROOT/seed<s>/<variant>/eval/tuned/<split>/examples.jsonl`` (one verdict a question). Every
interval resamples seeds and questions together (the questions are the same in every seed, as
in :func:`veritune.stats.paired_bootstrap`), and computes the figure on the drawn cells: the
F-score is the harmonic mean of the drawn totals, not a mean of per-question scores. Besides
tuned minus base, each variant is compared with ``--against`` (default ``pkue``) on the same
questions and seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FIGURES = ("correct", "not_attempted", "correct_given_attempted", "f_score")


def labels(path: Path) -> dict[str, str]:
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            out[row["id"]] = row["label"]
    return out


def figures(correct: np.ndarray, attempted: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """SimpleQA's four figures from totals (arrays: one value a replicate)."""
    overall = correct / n
    given = np.divide(correct, attempted, out=np.zeros_like(correct), where=attempted > 0)
    total = overall + given
    f = np.divide(2 * overall * given, total, out=np.zeros_like(total), where=total > 0)
    return {"correct": overall, "not_attempted": 1 - attempted / n,
            "correct_given_attempted": given, "f_score": f}


def compare(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
            replicates: int = 10_000, level: float = 0.95, seed: int = 0) -> dict:
    """Each figure of ``b`` and ``a`` (seeds x questions indicator tables: correct, attempted)
    and of ``b`` minus ``a``, with the percentile interval of the joint bootstrap."""
    seeds, items = a[0].shape
    rng = np.random.default_rng(seed)
    sc = rng.multinomial(seeds, np.full(seeds, 1 / seeds), size=replicates)
    ic = rng.multinomial(items, np.full(items, 1 / items), size=replicates)
    n = np.full(replicates, float(seeds * items))

    def drawn(t: np.ndarray) -> np.ndarray:
        return np.einsum("bs,si,bi->b", sc, t, ic).astype(float)

    whole = {k: figures(np.array([t[0].sum()], float), np.array([t[1].sum()], float),
                        np.array([float(seeds * items)])) for k, t in (("a", a), ("b", b))}
    fa = figures(drawn(a[0]), drawn(a[1]), n)
    fb = figures(drawn(b[0]), drawn(b[1]), n)
    lo, hi = (1 - level) / 2, (1 + level) / 2
    out = {}
    for k in FIGURES:
        d = fb[k] - fa[k]
        out[k] = {"a": round(float(whole["a"][k][0]), 4), "b": round(float(whole["b"][k][0]), 4),
                  "change": round(float(whole["b"][k][0] - whole["a"][k][0]), 4),
                  "low": round(float(np.quantile(d, lo)), 4),
                  "high": round(float(np.quantile(d, hi)), 4)}
    return out


def tables(root: Path, seeds: list[int], split: str, variant: str | None,
           keys: list[str] | None = None) -> tuple[list[str], tuple[np.ndarray, np.ndarray]]:
    """(question ids, (correct, attempted)) of the base (``variant`` None) or a variant."""
    rows = []
    for s in seeds:
        where = root / f"seed{s}" / ("eval/base" if variant is None
                                     else f"{variant}/eval/tuned") / split / "examples.jsonl"
        if not where.exists():
            sys.exit(f"{where}: missing (has the ablation run for seed {s}?)")
        rows.append(labels(where))
    keys = keys or sorted(set.intersection(*(set(r) for r in rows)))
    correct = np.array([[r[k] == "correct" for k in keys] for r in rows], dtype=float)
    attempted = np.array([[r[k] != "not_attempted" for k in keys] for r in rows], dtype=float)
    return keys, (correct, attempted)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="the ablation's runs directory (runs/<name>)")
    ap.add_argument("--variants", required=True, help="comma-separated variant names")
    ap.add_argument("--against", default="pkue")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    keys, base = tables(args.root, seeds, args.split, None)
    variants = {v: tables(args.root, seeds, args.split, v, keys)[1]
                for v in args.variants.split(",")}
    result = {"root": str(args.root), "split": args.split, "seeds": seeds,
              "questions": len(keys), "level": 0.95, "replicates": 10_000, "variants": {}}
    for name, t in variants.items():
        row = {"vs_base": compare(base, t)}
        if args.against in variants and name != args.against:
            row[f"vs_{args.against}"] = compare(variants[args.against], t)
        result["variants"][name] = row
    result["command"] = " ".join(["python", *sys.argv])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, row in result["variants"].items():
        print(name, {k: (v["a"], v["b"], v["change"], v["low"], v["high"])
                     for k, v in row["vs_base"].items()})


if __name__ == "__main__":
    main()

"""Why TruthfulQA-MC2 falls after PKUE training: which answer options the tuned model moved
towards, read from the guard's per-option log-likelihoods of a several-seed run; writes JSON.

    python benchmarks/truthfulqa_shift.py runs/kb --seeds 0,1,2 \
        --out benchmarks/results/seeds/kb_truthfulqa_shift.json

Options are grouped by truth (TruthfulQA's correct / incorrect answers) and by form: "hedged"
when it holds a negation or hedge word ("not", "no", "unclear", "depends", "no comment", ...),
"plain" otherwise. Per group: the mean change of the summed log-likelihood (tuned minus base)
and per character. Beside it, how often the run's own pairs hold such words in the chosen and
in the rejected answer.

Two explanations it checks: a *sharper* base (the tuned model only exaggerating what the base
already preferred): the base's MC2 with its log-likelihoods scaled by 1.5, and the slope of
each option's change on its log-likelihood centred within its question; and *length*: the
change by option length (tokens), per group.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from veritune.jsonl import iter_json_lines
from veritune.pipeline.seeds import parse_seeds
from veritune.stages.pairs import HEDGE
from veritune.tasks.truthfulqa_mc import default_data, load_truthfulqa


def _examples(path: Path) -> dict[str, dict]:
    return {o["question"]: o for _, o in iter_json_lines(path)}


def _questions(root: Path, seeds):
    """(item, number of true options, base example, tuned example) per question and seed."""
    items = {it.question: it for it in load_truthfulqa(default_data())}
    for s in seeds:
        guard = root / f"seed{s}" / "eval" / "guard"
        base = _examples(guard / "base" / "truthfulqa_mc" / "examples.jsonl")
        tuned = _examples(guard / "tuned" / "truthfulqa_mc" / "examples.jsonl")
        for q, b in base.items():
            yield items[q], len(items[q].correct_indices), b, tuned[q]


def _group(option: str, true: bool) -> str:
    return f"{'true' if true else 'false'}, {'hedged' if HEDGE.search(option) else 'plain'}"


def option_shift(root: Path, seeds) -> dict:
    groups: dict[str, list[tuple[float, float]]] = {}
    for item, k, b, t in _questions(root, seeds):
        for i, (opt, lb, lt) in enumerate(zip(item.options, b["loglikelihoods"],
                                              t["loglikelihoods"])):
            groups.setdefault(_group(opt, i < k), []).append((lt - lb, (lt - lb) / max(1, len(opt))))
    return {key: {"options": len(v), "mean_loglik_change": round(statistics.mean(x for x, _ in v), 3),
                  "mean_loglik_change_per_char": round(statistics.mean(y for _, y in v), 4)}
            for key, v in sorted(groups.items())}


def _mc2(ll, k: int, scale: float = 1.0) -> float:
    top = max(ll)
    w = [math.exp(scale * (x - top)) for x in ll]
    return sum(w[:k]) / sum(w)


LENGTHS = ((1, 7), (8, 11), (12, 10_000))  # option tokens: about a third of the options each


def sharpening_and_length(root: Path, seeds) -> dict:
    mc2 = {"base": [], "base_scaled_1.5": [], "tuned": []}
    centred, change, by_len = [], [], {}
    for item, k, b, t in _questions(root, seeds):
        lb, lt = b["loglikelihoods"], t["loglikelihoods"]
        mc2["base"].append(_mc2(lb, k))
        mc2["base_scaled_1.5"].append(_mc2(lb, k, 1.5))
        mc2["tuned"].append(_mc2(lt, k))
        mean = statistics.mean(lb)
        for i, (opt, x, y, n) in enumerate(zip(item.options, lb, lt, b["option_tokens"])):
            centred.append(x - mean)
            change.append(y - x)
            lo, hi = next(r for r in LENGTHS if r[0] <= n <= r[1])
            by_len.setdefault(f"{_group(opt, i < k)}, {lo}-{min(hi, 99)} tokens", []).append(y - x)
    mx, my = statistics.mean(centred), statistics.mean(change)
    slope = (sum((x - mx) * (y - my) for x, y in zip(centred, change))
             / sum((x - mx) ** 2 for x in centred))
    return {"mc2": {k: round(statistics.mean(v), 4) for k, v in mc2.items()},
            "slope_of_change_on_centred_base_loglik": round(slope, 4),
            "by_length": {k: {"options": len(v), "mean_loglik_change": round(statistics.mean(v), 3)}
                          for k, v in sorted(by_len.items())}}


def pair_hedges(root: Path, seeds) -> dict:
    out = {}
    for s in seeds:
        pairs = [o for _, o in iter_json_lines(root / f"seed{s}" / "pairs.jsonl")]
        out[f"seed{s}"] = {
            "pairs": len(pairs),
            "chosen_hedged": round(sum(bool(HEDGE.search(p["chosen"])) for p in pairs) / len(pairs), 4),
            "rejected_hedged": round(sum(bool(HEDGE.search(p["rejected"])) for p in pairs) / len(pairs), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="runs/<name> of a --seeds run with eval.guard")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    seeds = parse_seeds(args.seeds)
    result = {"run": str(args.run), "seeds": seeds, "options": option_shift(args.run, seeds),
              "pairs": pair_hedges(args.run, seeds),
              "sharpening_and_length": sharpening_and_length(args.run, seeds)}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

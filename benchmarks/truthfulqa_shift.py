"""Why TruthfulQA-MC2 falls after PKUE training: which answer options the tuned model moved
towards, read from the guard's per-option log-likelihoods of a several-seed run; writes JSON.

    python benchmarks/truthfulqa_shift.py runs/kb --seeds 0,1,2 \
        --out benchmarks/results/seeds/kb_truthfulqa_shift.json

Options are grouped by truth (TruthfulQA's correct / incorrect answers) and by form: "hedged"
when it holds a negation or hedge word ("not", "no", "unclear", "depends", "no comment", ...),
"plain" otherwise. Per group: the mean change of the summed log-likelihood (tuned minus base)
and per character. Beside it, how often the run's own pairs hold such words in the chosen and
in the rejected answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from veritune.jsonl import iter_json_lines
from veritune.pairs import HEDGE
from veritune.seeds import parse_seeds
from veritune.tasks.truthfulqa_mc import default_data, load_truthfulqa



def _examples(path: Path) -> dict[str, dict]:
    return {o["question"]: o for _, o in iter_json_lines(path)}


def option_shift(root: Path, seeds) -> dict:
    items = {it.question: it for it in load_truthfulqa(default_data())}
    groups: dict[str, list[tuple[float, float]]] = {}
    for s in seeds:
        guard = root / f"seed{s}" / "eval" / "guard"
        base = _examples(guard / "base" / "truthfulqa_mc" / "examples.jsonl")
        tuned = _examples(guard / "tuned" / "truthfulqa_mc" / "examples.jsonl")
        for q, b in base.items():
            item, k = items[q], len(items[q].correct_indices)
            for i, (opt, lb, lt) in enumerate(zip(item.options, b["loglikelihoods"],
                                                  tuned[q]["loglikelihoods"])):
                key = f"{'true' if i < k else 'false'}, {'hedged' if HEDGE.search(opt) else 'plain'}"
                groups.setdefault(key, []).append((lt - lb, (lt - lb) / max(1, len(opt))))
    return {key: {"options": len(v), "mean_loglik_change": round(statistics.mean(x for x, _ in v), 3),
                  "mean_loglik_change_per_char": round(statistics.mean(y for _, y in v), 4)}
            for key, v in sorted(groups.items())}


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
              "pairs": pair_hedges(args.run, seeds)}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Anchor prompts that hold what the model already says right: the training questions of a
run that the base model answers right greedily (from ``benchmarks/premise.py``'s examples),
asked with the run's prompt, one JSON object a line, for ``train.anchor.questions``.

    python benchmarks/said_anchors.py \\
        --premise benchmarks/results/premise/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf__nq_dev \\
        --run runs/nq_open/seed0 --out configs/anchors/nq_open_said_seed0.jsonl

Only the run's ``train`` split is used (never a validation or test question); the split
depends on the run's data seed, so each data seed has its own file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--premise", required=True, help="a premise.py result folder")
    ap.add_argument("--run", required=True, help="a run's seed folder (questions.jsonl)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    run = Path(args.run)
    template = yaml.safe_load((run / "config.yaml").read_text())["prompt"]
    train = {}
    for line in (run / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if q["split"] == "train":
            train[q["question"]] = q
    rows = []
    for line in (Path(args.premise) / "examples.jsonl").read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        if e["label"] == "correct" and e["question"] in train:
            rows.append({"prompt": template.format(question=e["question"]),
                         "source": f"{run.parent.name} train, base greedy right ({e['id']})"})
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                              encoding="utf-8")
    print(f"{len(rows)} of {len(train)} training questions the base answers right -> {args.out}")


if __name__ == "__main__":
    main()

"""A hand-read audit of a built question set against the PKUE paper's four low-quality types.

    python benchmarks/build_audit.py sample BUILD_DIR --n 100      # writes the audit sheet
    python benchmarks/build_audit.py score  BUILD_DIR              # after reading it by hand

``sample`` draws a seeded ``n`` of the kept questions (``BUILD_DIR/questions.jsonl``), with the
passage each came from, into ``benchmarks/results/build_audit/sheet.jsonl``; a person reads each
and writes ``verdict`` (``ok`` or one of LONG_TAIL, MULTIPLE_ANSWERS, WRONG_ANSWER,
NOT_SELF_CONTAINED) and a short ``note`` into ``labels.jsonl`` beside it (one line a question,
its ``id``). ``score`` counts them: the share of high-quality questions (the paper audited
FactualBench the same way and found 86%), and each type's share.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

OUT = Path("benchmarks/results/build_audit")
TYPES = ("LONG_TAIL", "MULTIPLE_ANSWERS", "WRONG_ANSWER", "NOT_SELF_CONTAINED")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def sample(build: Path, n: int, seed: int) -> None:
    kept = read(build / "questions.jsonl")
    entries = {e["id"]: e for e in read(build / "entries.jsonl")}
    chosen = sorted(random.Random(seed).sample(range(len(kept)), min(n, len(kept))))
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "sheet.jsonl", "w", encoding="utf-8") as f:
        for i in chosen:
            q = kept[i]
            f.write(json.dumps({"id": q["id"], "question": q["question"], "answer": q["answers"][0],
                                "wrong_answers": q["wrong_answers"], "domain": q["domain"],
                                "passage": entries[q["entity"]]["description"]},
                               ensure_ascii=False) + "\n")
    print(f"{len(chosen)} of {len(kept)} kept questions -> {OUT / 'sheet.jsonl'}")


def score(build: Path) -> None:
    sheet = {q["id"]: q for q in read(OUT / "sheet.jsonl")}
    labels = read(OUT / "labels.jsonl")
    missing = set(sheet) - {x["id"] for x in labels}
    if missing:
        raise SystemExit(f"{len(missing)} questions of the sheet have no label")
    verdicts = Counter(x["verdict"] for x in labels)
    bad = set(verdicts) - {"ok", *TYPES}
    if bad:
        raise SystemExit(f"unknown verdicts {bad}; use ok or one of {TYPES}")
    n = len(labels)
    result = {"build": str(build), "audited": n, "high_quality": verdicts["ok"],
              "high_quality_rate": round(verdicts["ok"] / n, 3),
              "types": {t: verdicts[t] for t in TYPES}, "paper_rate": 0.86}
    (OUT / "audit.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("sample", "score"))
    ap.add_argument("build", type=Path)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sample(args.build, args.n, args.seed) if args.action == "sample" else score(args.build)


if __name__ == "__main__":
    main()

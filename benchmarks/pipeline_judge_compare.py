"""The PKUE pipeline with the lexical judge and with the ensemble (lexical + 1.5B judge model):
which verdicts change, and what that does to the preference pairs.

    python benchmarks/assemble_qwen15.py
    flock /tmp/veritune-cpu.lock python benchmarks/pipeline_judge_compare.py \\
        --judge-model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --out benchmarks/results/judge/pipeline_ensemble.json

Runs ``veritune run CONFIG --limit N --stages data,sample,judge,pairs`` twice (the commands
are in the JSON), same seed, judge.name lexical then ensemble, and compares the runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(config: str, limit: int, runs_dir: str, name: str, judge_sets: list[str]) -> dict:
    cmd = [sys.executable, "-m", "veritune.cli", "run", config, "--limit", str(limit),
           "--stages", "data,sample,judge,pairs", "--set", f"runs_dir={runs_dir}",
           "--set", f"name={name}", *[x for s in judge_sets for x in ("--set", s)]]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env={**__import__("os").environ,
                                                    "PYTHONPATH": str(ROOT / "src"),
                                                    "VERITUNE_QUIET": "1"})
    shown = " ".join(["veritune", *cmd[3:]])
    manifest = json.loads((Path(runs_dir) / name / "manifest.json").read_text())
    return {"command": shown, "seconds": round(time.perf_counter() - start, 1),
            "manifest": manifest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--judge-model", required=True)
    ap.add_argument("--mode", default="score", choices=["generate", "score"])
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--threshold-partial", type=float, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="judge-compare-")
    lexical = run(args.config, args.limit, runs_dir, "lexical", ["judge.name=lexical"])
    ensemble = run(args.config, args.limit, runs_dir, "ensemble", [
        "judge.name=ensemble", f"judge.mode={args.mode}", f"judge.threshold={args.threshold}",
        f"judge.model.name={args.judge_model}", "judge.model.dtype=float32",
        f"judge.max_new_tokens={args.max_new_tokens}",
        *([f"judge.threshold_partial={args.threshold_partial}"]
          if args.threshold_partial is not None else [])])
    a, b = Path(runs_dir) / "lexical", Path(runs_dir) / "ensemble"
    same_samples = (a / "samples.jsonl").read_text() == (b / "samples.jsonl").read_text()
    va = {(v["question_id"], v["sample_index"]): v for v in read(a / "verdicts.jsonl")}
    vb = {(v["question_id"], v["sample_index"]): v for v in read(b / "verdicts.jsonl")}
    texts = {(s["question_id"], s["index"]): s["text"] for s in read(a / "samples.jsonl")}
    changes = Counter(f"{va[k]['label']} -> {vb[k]['label']}" for k in va
                      if va[k]["label"] != vb[k]["label"])
    examples = [{"answer": texts[k], "lexical": va[k]["label"], "ensemble": vb[k]["label"],
                 "why": vb[k]["rationale"][:200]} for k in va if va[k]["label"] != vb[k]["label"]]
    pairs = {name: json.loads((Path(runs_dir) / name / "manifest.json").read_text())
             ["stages"]["pairs"]["counts"] for name in ("lexical", "ensemble")}
    pa, pb = read(a / "pairs.jsonl"), read(b / "pairs.jsonl")
    key = lambda p: (p["question_id"], p["chosen"], p["rejected"])  # noqa: E731
    result = {
        "config": args.config, "limit": args.limit, "same_samples": same_samples,
        "verdicts": len(va), "changed": sum(changes.values()), "changes": dict(changes),
        "labels": {"lexical": dict(Counter(v["label"] for v in va.values())),
                   "ensemble": dict(Counter(v["label"] for v in vb.values()))},
        "judge_counts": {"lexical": lexical["manifest"]["stages"]["judge"]["counts"],
                         "ensemble": ensemble["manifest"]["stages"]["judge"]["counts"]},
        "judge_seconds": {n: r["manifest"]["stages"]["judge"].get("seconds")
                          for n, r in (("lexical", lexical), ("ensemble", ensemble))},
        "pairs": pairs, "pairs_only_lexical": len({key(p) for p in pa} - {key(p) for p in pb}),
        "pairs_only_ensemble": len({key(p) for p in pb} - {key(p) for p in pa}),
        "commands": [lexical["command"], ensemble["command"]],
        "wall_seconds": {"lexical": lexical["seconds"], "ensemble": ensemble["seconds"]},
        "changed_examples": examples[:40]}
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("verdicts", "changed", "changes", "pairs",
                                             "pairs_only_lexical", "pairs_only_ensemble")}))


if __name__ == "__main__":
    main()

"""Wall time, peak memory and held-out accuracy of the whole quickstart; writes JSON.

    python benchmarks/quickstart_time.py [--config configs/quickstart.yaml] [--seeds 0,1,2]
                                         [--set k=v ...]

Runs ``veritune run`` in a fresh runs directory (nothing cached but the converted embedded
model), so the figure is what a user sees on a first run. With ``--seeds``, every seed's stage
times (seed 0 evaluates the base model; the others read it back) and the seeds summary.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def seed_result(run_dir: Path) -> dict:
    """Stage times (and their sum), paired comparisons and metrics of one run directory."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stages = {k: v.get("seconds") for k, v in manifest["stages"].items()}
    result = {"stage_seconds": stages,
              "stage_seconds_total": round(sum(v or 0 for k, v in stages.items()
                                               if k != "anchors"), 1)}  # anchors: inside train
    for f in sorted((run_dir / "eval").glob("compare_*.json")):
        result[f.stem] = json.loads(f.read_text())
    for f in sorted((run_dir / "eval").glob("*/*/metrics.json")):
        m = json.loads(f.read_text())
        result[f"{f.parent.parent.name}/{f.parent.name}"] = {
            k: m.get(k) for k in ("accuracy", "n", "best_of_n", "mean_response_tokens",
                                  "truncated_rate", "repetition_rate")}
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--seeds", default=None, help="comma-separated training seeds")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--runs-dir", default=None, help="keep the run here (default: temporary)")
    args = ap.parse_args()
    runs = Path(args.runs_dir or tempfile.mkdtemp(prefix="veritune-bench-"))
    cmd = [sys.executable, "-m", "veritune.cli", "run", args.config, "--set", f"runs_dir={runs}"]
    for s in args.sets:
        cmd += ["--set", s]
    if args.seeds:
        cmd += ["--seeds", args.seeds]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if args.seeds:
        base = next(p for p in runs.iterdir() if (p / "seeds_summary.json").exists())
        result = {"config": args.config, "sets": args.sets, "seeds": args.seeds,
                  "wall_seconds": round(wall, 1), "peak_rss_mb": round(peak, 1),
                  "per_seed": {d.name: seed_result(d) for d in sorted(base.glob("seed*"))
                               if d.is_dir()},  # not seeds_summary.json
                  "summary": json.loads((base / "seeds_summary.json").read_text())}
    else:
        run_dir = next(p for p in runs.iterdir() if (p / "manifest.json").exists())
        result = {"config": args.config, "sets": args.sets, "wall_seconds": round(wall, 1),
                  "peak_rss_mb": round(peak, 1), **seed_result(run_dir)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(args.config).stem
    suffix = "_seeds" if args.seeds else ""
    (out / f"{name}_time{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Wall time, peak memory and held-out accuracy of the whole quickstart; writes JSON.

    python benchmarks/quickstart_time.py [--config configs/quickstart.yaml] [--set k=v ...]

Runs ``veritune run`` in a fresh runs directory (nothing cached but the converted embedded
model), so the figure is what a user sees on a first run.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--runs-dir", default=None, help="keep the run here (default: temporary)")
    args = ap.parse_args()
    runs = Path(args.runs_dir or tempfile.mkdtemp(prefix="veritune-bench-"))
    cmd = [sys.executable, "-m", "veritune.cli", "run", args.config, "--set", f"runs_dir={runs}"]
    for s in args.sets:
        cmd += ["--set", s]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    run_dir = next(p for p in runs.iterdir() if (p / "manifest.json").exists())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    result = {"config": args.config, "sets": args.sets, "wall_seconds": round(wall, 1),
              "peak_rss_mb": round(peak, 1),
              "stage_seconds": {k: v.get("seconds") for k, v in manifest["stages"].items()}}
    for f in sorted((run_dir / "eval").glob("compare_*.json")):
        result[f.stem] = json.loads(f.read_text())
    for f in sorted((run_dir / "eval").glob("*/*/metrics.json")):
        m = json.loads(f.read_text())
        result[f"{f.parent.parent.name}/{f.parent.name}"] = {
            k: m.get(k) for k in ("accuracy", "n", "best_of_n", "mean_response_tokens",
                                  "truncated_rate", "repetition_rate")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(args.config).stem
    (out / f"{name}_time.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

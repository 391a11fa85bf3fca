"""Wall time of the out-of-domain guard (``eval.guard: default``) on the embedded model, per
task; writes JSON. The guard runs once per model (base and tuned) in a run's eval stage.

    flock /tmp/veritune-cpu.lock python benchmarks/guard_time.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from veritune.config import ModelConfig
from veritune.engines import engine_from_config
from veritune.stages.guard import run_guard


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="items per task (default: guard's)")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    load_before = os.getloadavg()
    engine = engine_from_config(ModelConfig())  # dtype auto
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        result = run_guard({"base": "embedded"}, "default", d, lambda m: engine,
                           limit=args.limit, seed=0)
        wall = time.perf_counter() - start
        tasks = {}
        for task in result["tasks"]:
            m = json.loads((Path(d) / "base" / task / "metrics.json").read_text())
            tasks[task] = {"n": m["n"], "seconds": m["seconds"],
                           **{k: m.get(k) for k in ("mc1", "mc2", "mc2_per_token",
                                                    "mc2_per_char", "chosen_tokens",
                                                    "option_tokens", "accuracy",
                                                    "forced_accuracy") if k in m}}
    out = {"model": "embedded (SmolLM2-135M-Instruct)", "dtype": engine.dtype,
           "threads": torch.get_num_threads(), "cpu_count": len(os.sched_getaffinity(0)),
           "load_average_before": [round(x, 2) for x in load_before],
           "load_average_after": [round(x, 2) for x in os.getloadavg()],
           "wall_seconds_one_model": round(wall, 1), "tasks": tasks}
    path = Path(args.out)
    path.mkdir(parents=True, exist_ok=True)
    (path / "guard_time.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

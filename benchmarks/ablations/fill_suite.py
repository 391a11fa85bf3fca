"""Fill in a variant's suite results on CPU, with the per-task limits the H100 grid used.

    python benchmarks/ablations/fill_suite.py runs/ablations size_25 size_50

The H100 ablation (docs/RESULTS.md) ran the suite with the task limits of that day; the
defaults have since been lowered to fit 2 CPU cores. A variant trained later (on CPU) is
evaluated here with the same limits and seed, into ``RUN/<variant>/eval/suite/tuned/``, so
``veritune ablate`` reads it like the rest; the base row is not re-run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from veritune.config import load_config
from veritune.judge import task_judge
from veritune.stages import Context, RunPaths
from veritune.stages.suite import run_suite

H100_LIMITS = {"truthfulqa_mc": 300, "truthfulqa_gen": 200, "halueval_qa": 500,
               "halluqa": 450, "mmlu": 500, "cmmlu": 500, "nq_open": 300}


def main(root: str, *variants: str) -> None:
    for name in variants:
        run = Path(root) / name
        cfg = load_config(run / "config.yaml")
        ctx = Context(cfg, RunPaths.of(run))
        questions = ctx.questions()
        run_suite({"tuned": str(run / "model")}, list(H100_LIMITS), run / "eval" / "suite",
                  ctx.engine, limits=H100_LIMITS, seed=cfg.seed,
                  batch_size=cfg.eval.suite_batch_size,
                  judge_for=lambda t: task_judge(cfg, t, questions))


if __name__ == "__main__":
    main(*sys.argv[1:])

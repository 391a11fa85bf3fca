"""Iterative DPO (``train.rounds: N``; Xiong et al. 2024, the PKUE paper's stated next step):
round 1 is the run itself; round r samples from round r-1's tuned model, judges, pairs and
trains again from it, with it as the DPO reference, in ``runs/<name>/round<r>/``.

    veritune run configs/kb.yaml --set train.rounds=2

The config is refused at load without a validation split to choose on, or with LoRA saved as
an adapter (the next round starts from a whole model). Each round is a run directory of its
own, so each is resumable and skips what it finished (its config is the run's with
``model.name`` the previous round's model). After every round
the tuned model's validation accuracy is read (``eval/tuned/validation/metrics.json``; the
round's eval stage measures it against the model it started from), and ``rounds.json`` in the
run directory lists the rounds and the one chosen: the highest validation accuracy, the
earliest on a tie (round 0 is the base model: a round that does not beat it is not chosen).
Test results of every round are on disk, but the choice reads validation only.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable, Sequence

from veritune.config import RunConfig
from veritune.jsonl import atomic_write_json, read_json
from veritune.pipeline.loop import run_pipeline


def round_config(cfg: RunConfig, r: int, previous_model: Path) -> RunConfig:
    """Round ``r`` (>= 2): the run's config in ``<run dir>/round<r>``, starting from
    ``previous_model``."""
    out = copy.deepcopy(cfg)
    out.runs_dir, out.name = str(cfg.run_dir), f"round{r}"
    out.model.name = str(previous_model)
    out.train.rounds = 1
    return out


def final_dir(cfg: RunConfig) -> Path:
    """The run directory of the last round (the run's own for one round)."""
    return cfg.run_dir / f"round{cfg.train.rounds}" if cfg.train.rounds > 1 else cfg.run_dir


def validation_accuracy(run_dir: Path, model: str = "tuned") -> float | None:
    path = run_dir / "eval" / model / "validation" / "metrics.json"
    return read_json(path).get("accuracy") if path.exists() else None


def run_rounds(cfg: RunConfig, stages: Sequence[str] | None = None,
               log: Callable[[str], None] = print) -> dict:
    """Round 1 (the run), then rounds 2..N; writes and returns ``rounds.json`` (with one
    round, the run alone: no file, an empty dict)."""
    run_pipeline(cfg, stages, log=log)
    if cfg.train.rounds <= 1:
        return {}
    dirs = [cfg.run_dir]
    for r in range(2, cfg.train.rounds + 1):
        c = round_config(cfg, r, dirs[-1] / "model")
        log(f"== round {r} of {cfg.train.rounds}, from {c.model.name} -> {c.run_dir}")
        run_pipeline(c, stages, log=log)
        dirs.append(c.run_dir)
    rows = [{"round": 0, "model": cfg.model.name, "dir": str(cfg.run_dir),
             "validation_accuracy": validation_accuracy(cfg.run_dir, "base")}]
    rows += [{"round": r, "model": str(d / "model"), "dir": str(d),
              "validation_accuracy": validation_accuracy(d)} for r, d in enumerate(dirs, 1)]
    scored = [row for row in rows if row["validation_accuracy"] is not None]
    chosen = max(scored, key=lambda row: (row["validation_accuracy"], -row["round"])) \
        if scored else None
    summary = {"rounds": rows, "chosen": chosen["round"] if chosen else None,
               "chosen_model": chosen["model"] if chosen else None,
               "rule": "highest validation accuracy, earliest on a tie (0: the base model)"}
    atomic_write_json(cfg.run_dir / "rounds.json", summary)
    log("rounds: " + ", ".join(f"{row['round']}: {row['validation_accuracy']}" for row in rows)
        + f"; chosen {summary['chosen']}")
    return summary

"""Walk stages over a run directory: skip what is done, resume what was cut short, record.

    from veritune.pipeline import run_pipeline
    run_pipeline(load_config("configs/quickstart.yaml"))            # veritune run
    run_pipeline(cfg, ["sample", "judge"])                           # --stages sample,judge

For each stage (``veritune.stages``) the loop asks the run store (``veritune.runs.store``)
whether the manifest holds the stage as finished with the same key and input hashes and with
its outputs in place; if so it is skipped, else its old outputs go when the key or inputs
changed, it runs (appending to what a cut-short run left) and its counts and seconds are
recorded. Every stage's own checks (a missing guard file, an unknown suite task, a bad anchor
file) run first, before any model loads. One process at a time holds the run directory.
"""

from __future__ import annotations

from typing import Callable, Sequence

from veritune.config import RunConfig
from veritune.errors import VerituneError
from veritune.runs.keys import StageKey
from veritune.runs.store import RunStore
from veritune.stages import STAGES, Context, RunPaths, Stage


def stage_names(names: str | Sequence[str] | None,
                known: dict[str, list[Stage]] = STAGES) -> tuple[str, ...]:
    """Stages to run, in the order given: a comma-separated string or a sequence (None: all)."""
    if names is None:
        return tuple(known)
    chosen = tuple(s.strip() for s in (names.split(",") if isinstance(names, str) else names))
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise VerituneError(f"unknown stage(s) {unknown}; stages: {', '.join(known)}")
    return chosen


def run_stage(stage: Stage, ctx: Context, store: RunStore) -> None:
    """One stage through the store's bookkeeping (see the module docstring)."""
    if not stage.applies(ctx):
        return
    if not stage.recorded:
        stage.run(ctx)
        return
    key = StageKey.of(*stage.key(ctx))
    if not store.begin(stage.name, key, stage.inputs(ctx), stage.outputs(ctx)) \
            and not stage.always_runs:
        stage.skipped(ctx)
        return
    ctx.key = [key.hash, store.manifest["stages"][stage.name]["inputs"]]
    counts = stage.run(ctx)
    if counts is not None:
        store.finish(stage.name, counts)


def run_pipeline(cfg: RunConfig, names: str | Sequence[str] | None = None,
                 log: Callable[[str], None] = print,
                 known: dict[str, list[Stage]] = STAGES) -> None:
    """Run the stages ``names`` (default: all of ``known``) of ``cfg`` into its run directory."""
    chosen = [s for name in stage_names(names, known) for s in known[name]]
    ctx = Context(cfg, RunPaths.of(cfg.run_dir), log)
    for stage in chosen:
        stage.check(ctx)
    store = RunStore(cfg.run_dir)
    changed = store.save_config(cfg)
    if changed:  # config.yaml is the latest command's; each stage's is in manifest.json
        log(f"config.yaml: {', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''} "
            "changed since the last command; manifest.json keeps each stage's config")
    current: list[Stage] = []

    def substage(stage: Stage, sub_ctx: Context) -> None:
        parent, saved = current[-1], sub_ctx.key
        run_stage(stage, sub_ctx, store)
        sub_ctx.key = saved
        store.restart_clock(parent.name)  # the parent stage keeps only its own seconds

    ctx = Context(cfg, RunPaths.of(cfg.run_dir), log, counts=store.counts, substage=substage)
    for stage in chosen:
        current.append(stage)
        run_stage(stage, ctx, store)
        current.pop()

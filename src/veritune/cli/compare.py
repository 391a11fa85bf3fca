"""``veritune compare A B``: two settings' tuned models, paired on items and seeds (compare.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from veritune.cli.errors import friendly
from veritune.jsonl import atomic_write_json


@friendly
def compare_command(
        a: Path = typer.Argument(..., metavar="RUN_A", help="Run A: runs/<name> (with "
                                 "seed<s>/ folders, or one run)."),
        b: Path = typer.Argument(..., metavar="RUN_B", help="Run B, on the same question split."),
        splits: str = typer.Option("validation", help="Comma-separated splits (choose settings "
                                   "on validation; test once, to confirm)."),
        seeds: Optional[str] = typer.Option(None, help="Comma-separated seeds (default: every "
                                            "seed both runs have)."),
        guard: bool = typer.Option(True, help="Also compare the guard tasks both runs scored."),
        out: Optional[Path] = typer.Option(None, help="Also write the comparison here (JSON).")):
    """A's tuned model minus B's: each split's accuracy and each guard task, with 95% intervals."""
    from veritune.pipeline.compare import compare_lines, compare_runs  # deferred: loads torch
    from veritune.pipeline.seeds import parse_seeds  # deferred: loads torch

    result = compare_runs(a, b, parse_seeds(seeds) if seeds else None,
                          [s.strip() for s in splits.split(",") if s.strip()], guard=guard)
    for line in compare_lines(result):
        typer.echo(line)
    if out is not None:
        atomic_write_json(out, result)
        typer.echo(f"-> {out}")

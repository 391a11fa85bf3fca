"""The ``veritune`` command: the whole pipeline (``run``), APEFT (``apeft``), one command per
stage (``cli/stages.py``), and the tools around runs (ablations, judge agreement, reports,
comparisons, question-set building, analyses).

Exit status: 0 done, 1 an error (one line; ``cli/errors.py``), 2 a usage error. Commands
import what loads torch inside their body, so ``veritune --help`` answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from veritune import __version__
from veritune.cli import stages as stage_commands
from veritune.cli.analyze import analyze_app
from veritune.cli.build import build_command
from veritune.cli.compare import compare_command
from veritune.cli.errors import friendly
from veritune.cli.options import SetOpt, flags, make_config
from veritune.config import load_config
from veritune.errors import VerituneError
from veritune.judge.bench import SUMMARY_KEYS
from veritune.report.seeds import seeds_markdown
from veritune.report.tables import to_markdown

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Make a language model more factual with what it already knows (PKUE). "
                       "Stage commands run on a config's run directory, or standalone on the "
                       "files given by their input options.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"veritune {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print veritune's version and exit.")) -> None:
    """Make a language model more factual with what it already knows (PKUE, APEFT)."""


@app.command()
@friendly
def run(config: Path = typer.Argument(..., help="YAML config, e.g. configs/quickstart.yaml"),
        set_: Optional[list[str]] = SetOpt(),
        limit: Optional[int] = typer.Option(None, help="At most N questions per split."),
        stages: Optional[str] = typer.Option(
            None, help="Comma-separated subset of: data, sample, judge, pairs, train, eval, "
                       "report."),
        seeds: Optional[str] = typer.Option(
            None, help="Comma-separated training seeds, e.g. 0,1,2: one run per seed into "
                       "runs/<name>/seed<s>/ on the same split, then seeds_summary.json.")):
    """Run every stage in order into runs/<name>/ (finished stages are skipped)."""
    cfg = make_config(config, set_, limit)  # a bad config fails before torch loads
    from veritune.pipeline import stage_names  # deferred: loads torch
    from veritune.pipeline.rounds import run_rounds
    from veritune.pipeline.seeds import parse_seeds, run_seeds

    if seeds is not None:
        run_seeds(cfg, parse_seeds(seeds), stage_names(stages))
    else:
        run_rounds(cfg, stage_names(stages))


@app.command()
@friendly
def apeft(config: Path = typer.Argument(..., help="YAML config, e.g. configs/apeft.yaml"),
          set_: Optional[list[str]] = SetOpt(),
          stages: Optional[str] = typer.Option(
              None, help="Comma-separated subset of: data, longform, facts, probe, pairs, "
                         "train, eval, shift, report.")):
    """APEFT: long answers, atomic facts, probing, general + atomic pairs, train, eval, shift."""
    cfg = make_config(config, set_)  # a bad config fails before torch loads
    from veritune.pipeline import run_pipeline, stage_names  # deferred: loads torch
    from veritune.stages.apeft import APEFT_STAGES

    run_pipeline(cfg, stage_names(stages, APEFT_STAGES), known=APEFT_STAGES)


stage_commands.register(app)


@app.command()
@friendly
def ablate(directory: Path = typer.Argument(..., help="Folder with _base.yaml and variants."),
           set_: Optional[list[str]] = SetOpt(),
           limit: Optional[int] = typer.Option(None, help="At most N questions per split."),
           only: Optional[str] = typer.Option(None, help="Comma-separated variant names."),
           seeds: Optional[str] = typer.Option(
               None, help="Comma-separated training seeds: every variant per seed into "
                          "runs/<base>/seed<s>/, then seeds_summary.json and report.md.")):
    """Run ablation variants on shared samples; write one summary table and a plot."""
    from veritune.pipeline.ablate import (  # deferred: torch
        run_ablation_seeds,
        run_ablations,
    )
    from veritune.pipeline.seeds import parse_seeds
    from veritune.stages.suite import summary_table

    overrides = list(set_ or []) + ([f"limit={limit}"] if limit is not None else [])
    chosen = [s.strip() for s in only.split(",")] if only else None
    if seeds is not None:
        summary = run_ablation_seeds(directory, overrides, parse_seeds(seeds), only=chosen)
        return typer.echo("\n".join(seeds_markdown(summary)))
    summary = run_ablations(directory, overrides, only=chosen)
    typer.echo(to_markdown(summary_table(summary)))


app.command("build")(build_command)
app.command("compare")(compare_command)
app.add_typer(analyze_app, name="analyze")


@app.command("judge-bench")
@friendly
def judge_bench(labels: Path = typer.Option(..., help="JSONL of {question, answers, response, "
                                            "label: correct|incorrect|possibly_correct}."),
                judge_name: Optional[str] = typer.Option(
                    None, "--judge", help="lexical | llm | ensemble (sets judge.name; default: "
                                          "the config's, else lexical)."),
                config: Optional[Path] = typer.Option(None, help="Config for judge.model etc."),
                set_: Optional[list[str]] = SetOpt(),
                out: Optional[Path] = typer.Option(None, help="Write metrics.json and "
                                                   "examples.jsonl here."),
                limit: Optional[int] = typer.Option(None, help="A seeded random subsample of "
                                                    "N items."),
                definite_only: bool = typer.Option(False, help="Skip possibly_correct items."),
                bootstrap: int = typer.Option(1000, help="Bootstrap resamples for the "
                                              "intervals (0: none)."),
                seed: int = typer.Option(0, help="Seed of the subsample and the bootstrap.")):
    """Agreement of a judge with human labels: kappa and balanced accuracy with bootstrap
    intervals, possibly-correct answers apart, cost per item and who decided."""
    from veritune.api import judge_bench as bench  # deferred: a model judge loads torch

    cfg = make_config(config, set_, extra=flags(**{"judge.name": judge_name}))
    metrics = bench(labels, None, config=cfg, out=out, limit=limit, definite_only=definite_only,
                    resamples=bootstrap, seed=seed).metrics  # None: the config's judge
    for key in SUMMARY_KEYS:
        typer.echo(f"{key:>20}  {metrics.get(key)}")


@app.command()
@friendly
def report(target: Path = typer.Argument(..., help="A run directory or its config.")):
    """Write report.md, report.html and figures for a run."""
    from veritune.report.markdown import write_report  # deferred: matplotlib

    if not target.exists():
        raise VerituneError(f"{target}: no such run directory or config")
    run_dir = load_config(target).run_dir if target.is_file() else target
    typer.echo(f"report -> {write_report(run_dir)}")


if __name__ == "__main__":
    sys.exit(app())

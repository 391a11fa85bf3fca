"""The ``veritune`` command: the whole pipeline (``run``) and one subcommand per stage.

Each stage command works in one of two modes. Config mode: ``veritune sample CONFIG`` runs the
stage on the run directory the config names (``runs/<name>/``), skipping it when it is done and
resuming it when it was cut short. Standalone mode: an input file (``--questions``, or
``--pairs``/``--sft`` for train, ``--out`` for data) switches to explicit paths
(``veritune sample --model M --questions F --out D``; ``veritune.standalone``). A flag means
the same in both modes, or is refused with a message saying which mode it belongs to.

Exit status: 0 done, 1 an error (one line; ``veritune.cli_errors``), 2 a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from veritune.analysis.cli import analyze_app
from veritune.build.cli import build_command
from veritune.cli_errors import friendly
from veritune.compare_cli import compare_command
from veritune.config import RunConfig, load_config
from veritune.errors import VeritunError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Make a language model more factual with what it already knows (PKUE). "
                       "Stage commands run on a config's run directory, or standalone on the "
                       "files given by their input options.")

STANDALONE = "Standalone mode"


def SetOpt():  # noqa: N802  (one Option object per parameter)
    return typer.Option(None, "--set", help="Override a config key: section.key=value "
                        "(repeatable; a text key takes the value as written).")


def ConfigArg():  # noqa: N802
    return typer.Argument(None, help="YAML config (config mode: works on runs/<name>/). "
                          "Optional in standalone mode, for its settings.")


def ExportOpt():  # noqa: N802
    return typer.Option(None, help="Also write the records here: .jsonl, .parquet, or a folder "
                                   "(a datasets Dataset, save_to_disk).")


def PathOpt(what: str, switch: bool = False):  # noqa: N802
    note = f" Switches to {STANDALONE.lower()}." if switch else f" {STANDALONE} only."
    return typer.Option(None, help=what + note)


def _version(value: bool) -> None:
    if value:
        from veritune import __version__

        typer.echo(f"veritune {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print veritune's version and exit.")) -> None:
    """Make a language model more factual with what it already knows (PKUE, APEFT)."""


def _config(config: Optional[Path], sets: Optional[list[str]], limit: Optional[int] = None,
            extra: Optional[list[str]] = None) -> RunConfig:
    overrides = list(sets or []) + list(extra or [])
    if limit is not None:
        overrides.append(f"limit={limit}")
    return load_config(config, overrides)


def _flags(**values) -> list[str]:
    """``--set`` assignments for the flags that were given (``0`` and ``False`` count)."""
    return [f"{key}={value}" for key, value in values.items() if value is not None]


def _config_mode_refuses(switch: str, **given) -> None:
    """Standalone-only options given without the option that switches to standalone mode."""
    bad = [f"--{k.replace('_', '-')}" for k, v in given.items() if v not in (None, [], ())]
    if bad:
        raise VeritunError(f"{', '.join(bad)} only work in standalone mode (with {switch}); in "
                           "config mode the stage reads and writes runs/<name>/")


def _pipeline(cfg: RunConfig):
    from veritune.pipeline import Pipeline

    return Pipeline(cfg)


def _stages(stages: Optional[str], known: tuple[str, ...]) -> tuple[str, ...]:
    chosen = tuple(s.strip() for s in stages.split(",")) if stages else known
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise VeritunError(f"unknown stage(s) {unknown}; stages: {', '.join(known)}")
    return chosen


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
    from veritune.api import run as run_pipeline

    cfg = _config(config, set_, limit)
    if seeds is not None:
        from veritune.api import stage_list
        from veritune.seeds import parse_seeds, run_seeds

        run_seeds(cfg, parse_seeds(seeds), stage_list(stages))
    else:
        run_pipeline(cfg, stages=stages)


@app.command()
@friendly
def apeft(config: Path = typer.Argument(..., help="YAML config, e.g. configs/apeft.yaml"),
          set_: Optional[list[str]] = SetOpt(),
          stages: Optional[str] = typer.Option(
              None, help="Comma-separated subset of: data, longform, facts, probe, pairs, "
                         "train, eval, shift, report.")):
    """APEFT: long answers, atomic facts, probing, general + atomic pairs, train, eval, shift."""
    from veritune.atomic.pipeline import APEFT_STAGES, ApeftPipeline

    ApeftPipeline(_config(config, set_)).run(_stages(stages, APEFT_STAGES))


@app.command()
@friendly
def data(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
         source: Optional[str] = typer.Option(None, help="kb, or a question file "
                                              "(sets data.source)."),
         out: Optional[Path] = PathOpt("Write DIR/questions.jsonl.", switch=True),
         limit: Optional[int] = typer.Option(None, help="At most N questions per split."),
         export: Optional[Path] = ExportOpt()):
    """Build the question set (with its entity-level split)."""
    cfg = _config(config, set_, limit, _flags(**{"data.source": source}))
    if out is None:
        _pipeline(cfg).data()
        return _export(export, cfg.run_dir / "questions.jsonl", "questions")
    from veritune import standalone

    typer.echo(standalone.data(cfg, out))
    _export(export, out / "questions.jsonl", "questions")


@app.command()
@friendly
def sample(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
           model: Optional[str] = typer.Option(None, help="Model: embedded, a folder or a "
                                               "Hugging Face name (sets model.name)."),
           questions: Optional[Path] = PathOpt("Question JSONL to sample from.", switch=True),
           out: Optional[Path] = PathOpt("Write DIR/samples.jsonl (resumable)."),
           n: Optional[int] = typer.Option(None, help="Answers per question (sample.n)."),
           temperature: Optional[float] = typer.Option(None, help="sample.temperature"),
           top_p: Optional[float] = typer.Option(None, help="sample.top_p"),
           top_k: Optional[int] = typer.Option(None, help="sample.top_k (0: off)"),
           max_new_tokens: Optional[int] = typer.Option(None, help="sample.max_new_tokens"),
           seed: Optional[int] = typer.Option(None, help="Seed of the run (seed)."),
           split: Optional[str] = typer.Option(
               None, help="Only questions of this split (config mode: sets sample.splits; "
                          "standalone default: every split in the file).")):
    """Sample n answers per question (writes samples.jsonl)."""
    extra = _flags(**{"sample.n": n, "sample.temperature": temperature, "sample.top_p": top_p,
                      "sample.top_k": top_k, "sample.max_new_tokens": max_new_tokens,
                      "model.name": model, "seed": seed})
    if questions is None:
        _config_mode_refuses("--questions", out=out)
        cfg = _config(config, set_, extra=extra + _flags(**{"sample.splits": split and [split]}))
        return _pipeline(cfg).sample()
    from veritune import standalone

    _need(out=out)
    typer.echo(standalone.sample(_config(config, set_, extra=extra), questions, out, split))


@app.command()
@friendly
def judge(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
          questions: Optional[Path] = PathOpt("Question JSONL the samples answer.", switch=True),
          samples: Optional[Path] = PathOpt("Sample JSONL to judge."),
          out: Optional[Path] = PathOpt("Write DIR/verdicts.jsonl (resumable)."),
          judge_name: Optional[str] = typer.Option(None, "--judge", help="lexical | llm | "
                                                   "ensemble (sets judge.name).")):
    """Judge every sample against the references (writes verdicts.jsonl)."""
    cfg = _config(config, set_, extra=_flags(**{"judge.name": judge_name}))
    if questions is None:
        _config_mode_refuses("--questions", samples=samples, out=out)
        return _pipeline(cfg).judge()
    from veritune import standalone

    _need(samples=samples, out=out)
    typer.echo(standalone.judge(cfg, questions, samples, out))


@app.command()
@friendly
def pairs(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
          questions: Optional[Path] = PathOpt("Question JSONL.", switch=True),
          samples: Optional[Path] = PathOpt("Sample JSONL."),
          verdicts: Optional[Path] = PathOpt("Verdict JSONL."),
          out: Optional[Path] = PathOpt("Write DIR/pairs.jsonl and DIR/sft.jsonl."),
          k: Optional[int] = typer.Option(None, help="At most K pairs per question "
                                          "(pairs.max_pairs_per_question, at least 1)."),
          export_trl: Optional[Path] = typer.Option(None, help="Also write TRL "
                                                    "prompt/chosen/rejected JSONL here."),
          export: Optional[Path] = ExportOpt(),
          export_sft: Optional[Path] = typer.Option(
              None, help="Also write the SFT targets (TRL prompt/completion) here: .jsonl, "
                         ".parquet, or a folder (datasets save_to_disk).")):
    """Build preference pairs and SFT targets (writes pairs.jsonl, sft.jsonl)."""
    cfg = _config(config, set_, extra=_flags(**{"pairs.max_pairs_per_question": k}))
    from veritune import standalone

    if questions is None:
        _config_mode_refuses("--questions", samples=samples, verdicts=verdicts, out=out)
        _pipeline(cfg).pairs()
        if export_trl:
            standalone.export_run_trl(cfg, export_trl)
        out = cfg.run_dir
    else:
        _need(samples=samples, verdicts=verdicts, out=out)
        typer.echo(standalone.pairs(cfg, questions, samples, verdicts, out, export_trl))
    _export(export, out / "pairs.jsonl", "pairs")
    _export(export_sft, out / "sft.jsonl", "sft")


@app.command()
@friendly
def train(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
          model: Optional[str] = typer.Option(None, help="Model to fine-tune (sets "
                                              "model.name)."),
          pairs_file: Optional[Path] = typer.Option(
              None, "--pairs", help="Pairs: veritune's pairs.jsonl, or TRL-format pairs "
                                    "(JSONL, Parquet, a datasets folder). Switches to "
                                    "standalone mode."),
          sft_file: Optional[Path] = typer.Option(
              None, "--sft", help="SFT-target JSONL. Switches to standalone mode."),
          out: Optional[Path] = PathOpt("Write DIR/model."),
          method: Optional[str] = typer.Option(None, help="dpo | sft | sft+dpo | sft-then-dpo "
                                               "(sets train.method).")):
    """Fine-tune with DPO/SFT (TRL, or the shared backend): writes DIR/model."""
    cfg = _config(config, set_, extra=_flags(**{"model.name": model, "train.method": method}))
    if pairs_file is None and sft_file is None:
        _config_mode_refuses("--pairs or --sft", out=out)
        return _pipeline(cfg).train()
    from veritune import standalone

    _need(out=out)
    typer.echo(standalone.train(cfg, pairs_file, sft_file, out))


@app.command("eval")
@friendly
def eval_(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
          model: Optional[list[str]] = typer.Option(
              None, help="Path, HF name, or 'embedded' (sets model.name); repeat with --suite "
                         "(first = base)."),
          questions: Optional[Path] = PathOpt("Question JSONL to evaluate on.", switch=True),
          out: Optional[Path] = typer.Option(None, help="Output folder (standalone and "
                                             "--suite)."),
          split: Optional[str] = typer.Option(None, help="Only this split (config mode: sets "
                                              "eval.splits; standalone default: all)."),
          best_of_n: Optional[int] = typer.Option(None, help="eval.best_of_n (0: off)."),
          limit: Optional[int] = typer.Option(
              None, help="At most N questions per split (eval.limit); with --suite, N items "
                         "per task."),
          suite: Optional[str] = typer.Option(
              None, help="Task suite: 'default' or comma-separated task names; runs it on "
                         "every --model into --out."),
          data: Optional[list[str]] = typer.Option(
              None, help="With --suite: task=PATH, a task's data file instead of its default.")):
    """Greedy accuracy with the judge per domain, plus best-of-n and answer shape; with
    --suite, every task of a suite on every --model and the summary table (CSV/Markdown)."""
    from veritune import standalone

    if suite:
        ignored = [f for f, v in (("--questions", questions), ("--split", split),
                                  ("--best-of-n", best_of_n)) if v is not None]
        if ignored:
            raise VeritunError(f"{', '.join(ignored)} do not apply with --suite (each task has "
                               "its own data and split; --data TASK=PATH picks a file)")
        cfg = _config(config, set_)
        _need(out=out)
        return typer.echo(standalone.suite(cfg, model or [], suite, out, data or [],
                                           limit or cfg.eval.suite_limit))
    _config_mode_refuses("--suite", data=data)
    if model and len(model) > 1:
        raise VeritunError("several --model values need --suite")
    extra = _flags(**{"eval.best_of_n": best_of_n, "model.name": model[0] if model else None,
                      "eval.limit": limit})
    if questions is None:
        _config_mode_refuses("--questions or --suite", out=out)
        extra += _flags(**{"eval.splits": split and [split], "eval.suite_limit": limit})
        return _pipeline(_config(config, set_, extra=extra)).eval()
    _need(out=out)
    typer.echo(standalone.evaluate(_config(config, set_, extra=extra), questions, out, split))


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
    from veritune.ablate import run_ablation_seeds, run_ablations
    from veritune.suite import summary_table, to_markdown

    overrides = list(set_ or []) + ([f"limit={limit}"] if limit is not None else [])
    chosen = [s.strip() for s in only.split(",")] if only else None
    if seeds is not None:
        from veritune.report_seeds import seeds_markdown
        from veritune.seeds import parse_seeds

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
    from veritune.api import judge_bench as bench
    from veritune.judge.bench import SUMMARY_KEYS

    cfg = _config(config, set_, extra=_flags(**{"judge.name": judge_name}))
    metrics = bench(labels, None, config=cfg, out=out, limit=limit, definite_only=definite_only,
                    resamples=bootstrap, seed=seed).metrics  # None: the config's judge
    for key in SUMMARY_KEYS:
        typer.echo(f"{key:>20}  {metrics.get(key)}")


@app.command()
@friendly
def report(target: Path = typer.Argument(..., help="A run directory or its config.")):
    """Write report.md, report.html and figures for a run."""
    from veritune.report import write_report

    if not target.exists():
        raise VeritunError(f"{target}: no such run directory or config")
    run_dir = load_config(target).run_dir if target.is_file() else target
    typer.echo(f"report -> {write_report(run_dir)}")


def _export(path: Optional[Path], src: Path, kind: str) -> None:
    if path is not None:
        from veritune.datasets_io import convert

        n, fmt = convert(src, path, kind)
        typer.echo(f"{n} {kind} -> {path} ({fmt})")


def _need(**paths) -> None:
    missing = [f"--{k.replace('_', '-')}" for k, v in paths.items() if v is None]
    if missing:
        raise VeritunError(f"standalone mode needs {', '.join(missing)}")


if __name__ == "__main__":
    sys.exit(app())

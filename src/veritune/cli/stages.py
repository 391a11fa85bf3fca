"""The stage commands: ``veritune data | sample | judge | pairs | train | eval``.

Each works in one of two modes, through the same stage object (``veritune.stages``). Config
mode: ``veritune sample CONFIG`` runs the stage on the run directory the config names
(``runs/<name>/``), skipping it when it is done and resuming it when it was cut short.
Standalone mode: an input file (``--questions``, or ``--pairs``/``--sft`` for train, ``--out``
for data) switches to explicit paths (``veritune sample --model M --questions F --out D``):
the stage runs on those files, holding the output folder, with no manifest. A flag means the
same in both modes, or is refused with a message saying which mode it belongs to.

The stages load torch and transformers: they are imported inside each command (deferred), so
``veritune --help`` and a config error answer at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from veritune.cli.errors import friendly
from veritune.cli.options import (ConfigArg, ExportOpt, KeyOpt, PathOpt, SetOpt,
                                  config_mode_refuses, export, flags, make_config, need)
from veritune.data import load_questions
from veritune.errors import VerituneError
from veritune.jsonl import atomic_write_text, read_records
from veritune.records import SPLITS, Question, Sample, Verdict
from veritune.runs.lock import lock_dir

ALL_SPLITS = "sample.splits=[" + ", ".join(SPLITS) + "]"  # standalone: every split in a file


def _standalone(cfg, out: Path, **files):
    """The context of a stage run on explicit files, holding ``out`` (appended to). Every
    input is read and checked first: a bad one is an error before anything is written."""
    from veritune.datasets_io import read_pairs, read_sft  # deferred: datasets is heavy

    readers = {"questions": lambda p: read_records(p, Question.from_dict),
               "samples": lambda p: read_records(p, Sample.from_dict),
               "verdicts": lambda p: read_records(p, Verdict.from_dict),
               "pairs": read_pairs, "sft": read_sft}
    for name, path in files.items():
        if path is not None and name in readers:
            readers[name](path)
    lock_dir(out)
    from veritune.stages import Context, RunPaths  # deferred: loads torch

    return Context(cfg, RunPaths.of(out, **files), log=lambda line: None)


def _pipeline(cfg, stage: str) -> None:
    from veritune.pipeline import run_pipeline  # deferred: loads torch

    run_pipeline(cfg, [stage])


def register(app: typer.Typer) -> None:
    for command in (data, sample, judge, pairs, train):
        app.command()(command)
    app.command("eval")(eval_)


@friendly
def data(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
         source: Optional[str] = KeyOpt("data.source"),
         out: Optional[Path] = PathOpt("Write DIR/questions.jsonl.", switch=True),
         limit: Optional[int] = typer.Option(None, help="At most N questions per split."),
         export_: Optional[Path] = typer.Option(None, "--export", help=ExportOpt().help)):
    """Build the question set (with its entity-level split)."""
    cfg = make_config(config, set_, limit, flags(**{"data.source": source}))
    if out is None:
        _pipeline(cfg, "data")
        return export(export_, cfg.run_dir / "questions.jsonl", "questions")
    ctx = _standalone(cfg, out)
    from veritune.stages.data import DataStage  # deferred: loads torch

    counts = DataStage().run(ctx)
    path = out / "questions.jsonl"
    typer.echo(f"{sum(counts[s] for s in SPLITS)} questions -> {path}")
    export(export_, path, "questions")


@friendly
def sample(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
           model: Optional[str] = KeyOpt("model.name"),
           questions: Optional[Path] = PathOpt("Question JSONL to sample from.", switch=True),
           out: Optional[Path] = PathOpt("Write DIR/samples.jsonl (resumable)."),
           n: Optional[int] = KeyOpt("sample.n"),
           temperature: Optional[float] = KeyOpt("sample.temperature"),
           top_p: Optional[float] = KeyOpt("sample.top_p"),
           top_k: Optional[int] = KeyOpt("sample.top_k"),
           max_new_tokens: Optional[int] = KeyOpt("sample.max_new_tokens"),
           seed: Optional[int] = KeyOpt("seed"),
           split: Optional[str] = typer.Option(
               None, help="Only questions of this split (config mode: sets sample.splits; "
                          "standalone default: every split in the file).")):
    """Sample n answers per question (writes samples.jsonl)."""
    extra = flags(**{"sample.n": n, "sample.temperature": temperature, "sample.top_p": top_p,
                     "sample.top_k": top_k, "sample.max_new_tokens": max_new_tokens,
                     "model.name": model, "seed": seed})
    if questions is None:
        config_mode_refuses("--questions", out=out)
        return _pipeline(make_config(config, set_, extra=extra + flags(
            **{"sample.splits": split and [split]})), "sample")
    need(out=out)
    splits = f"sample.splits=[{split}]" if split else ALL_SPLITS
    cfg = make_config(config, set_, extra=[*extra, splits])
    ctx = _standalone(cfg, out, questions=questions)
    from veritune.stages.sample import SampleStage  # deferred: loads torch

    counts = SampleStage().run(ctx)
    typer.echo(f"{counts} -> {out / 'samples.jsonl'}")


@friendly
def judge(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
          questions: Optional[Path] = PathOpt("Question JSONL the samples answer.", switch=True),
          samples: Optional[Path] = PathOpt("Sample JSONL to judge."),
          out: Optional[Path] = PathOpt("Write DIR/verdicts.jsonl (resumable)."),
          judge_name: Optional[str] = KeyOpt("judge.name", "--judge")):
    """Judge every sample against the references (writes verdicts.jsonl)."""
    cfg = make_config(config, set_, extra=flags(**{"judge.name": judge_name}))
    if questions is None:
        config_mode_refuses("--questions", samples=samples, out=out)
        return _pipeline(cfg, "judge")
    need(samples=samples, out=out)
    ctx = _standalone(cfg, out, questions=questions, samples=samples)
    from veritune.stages.judge import JudgeStage  # deferred: loads torch

    counts = JudgeStage().run(ctx)
    typer.echo(f"{counts} -> {out / 'verdicts.jsonl'}")


@friendly
def pairs(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
          questions: Optional[Path] = PathOpt("Question JSONL.", switch=True),
          samples: Optional[Path] = PathOpt("Sample JSONL."),
          verdicts: Optional[Path] = PathOpt("Verdict JSONL."),
          out: Optional[Path] = PathOpt("Write DIR/pairs.jsonl and DIR/sft.jsonl."),
          k: Optional[int] = KeyOpt("pairs.max_pairs_per_question"),
          export_trl: Optional[Path] = typer.Option(None, help="Also write TRL "
                                                    "prompt/chosen/rejected JSONL here."),
          export_: Optional[Path] = typer.Option(None, "--export", help=ExportOpt().help),
          export_sft: Optional[Path] = typer.Option(
              None, help="Also write the SFT targets (TRL prompt/completion) here: .jsonl, "
                         ".parquet, or a folder (datasets save_to_disk).")):
    """Build preference pairs and SFT targets (writes pairs.jsonl, sft.jsonl)."""
    cfg = make_config(config, set_, extra=flags(**{"pairs.max_pairs_per_question": k}))
    if questions is None:
        config_mode_refuses("--questions", samples=samples, verdicts=verdicts, out=out)
        _pipeline(cfg, "pairs")
        if export_trl:
            _copy_trl(cfg.run_dir / "pairs.trl.jsonl", export_trl)
        out = cfg.run_dir
    else:
        need(samples=samples, verdicts=verdicts, out=out)
        cfg = make_config(config, set_, extra=[*flags(**{"pairs.max_pairs_per_question": k}),
                                               ALL_SPLITS])
        ctx = _standalone(cfg, out, questions=questions, samples=samples, verdicts=verdicts,
                          pairs_trl=export_trl)
        from veritune.stages.pairs import PairsStage  # deferred: loads torch

        counts = PairsStage().run(ctx)
        typer.echo(f"{counts} -> {out}")
    export(export_, out / "pairs.jsonl", "pairs")
    export(export_sft, out / "sft.jsonl", "sft")


def _copy_trl(src: Path, target: Path) -> None:
    """A run's pairs.trl.jsonl to ``target`` (atomically: no half-written file)."""
    if not src.exists():
        raise VerituneError(f"{src} not found: the pairs stage has not run")
    atomic_write_text(target, src.read_text(encoding="utf-8"))


@friendly
def train(config: Optional[Path] = ConfigArg(), set_: Optional[list[str]] = SetOpt(),
          model: Optional[str] = KeyOpt("model.name"),
          pairs_file: Optional[Path] = typer.Option(
              None, "--pairs", help="Pairs: veritune's pairs.jsonl, or TRL-format pairs "
                                    "(JSONL, Parquet, a datasets folder). Switches to "
                                    "standalone mode."),
          sft_file: Optional[Path] = typer.Option(
              None, "--sft", help="SFT-target JSONL. Switches to standalone mode."),
          out: Optional[Path] = PathOpt("Write DIR/model."),
          method: Optional[str] = KeyOpt("train.method")):
    """Fine-tune with DPO/SFT (TRL, or veritune's prompt-sharing loop): writes DIR/model."""
    cfg = make_config(config, set_, extra=flags(**{"model.name": model, "train.method": method}))
    if pairs_file is None and sft_file is None:
        config_mode_refuses("--pairs or --sft", out=out)
        return _pipeline(cfg, "train")
    need(out=out)
    if cfg.train.eval_steps:
        raise VerituneError("train.eval_steps scores a run's validation split: run it through "
                            "the pipeline (veritune run / veritune train CONFIG)")
    ctx = _standalone(cfg, out, pairs=pairs_file, sft=sft_file)
    from veritune.stages.train import TrainStage  # deferred: loads torch

    TrainStage(external=True).run(ctx)
    typer.echo(f"model -> {out / 'model'}")


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
          best_of_n: Optional[int] = KeyOpt("eval.best_of_n"),
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
    if suite:
        ignored = [f for f, v in (("--questions", questions), ("--split", split),
                                  ("--best-of-n", best_of_n)) if v is not None]
        if ignored:
            raise VerituneError(f"{', '.join(ignored)} do not apply with --suite (each task has "
                                "its own data and split; --data TASK=PATH picks a file)")
        cfg = make_config(config, set_)
        need(out=out)
        return typer.echo(_suite(cfg, model or [], suite, out, data or [],
                                 limit or cfg.eval.suite_limit))
    config_mode_refuses("--suite", data=data)
    if model and len(model) > 1:
        raise VerituneError("several --model values need --suite")
    extra = flags(**{"eval.best_of_n": best_of_n, "model.name": model[0] if model else None,
                     "eval.limit": limit})
    if questions is None:
        config_mode_refuses("--questions or --suite", out=out)
        extra += flags(**{"eval.splits": split and [split], "eval.suite_limit": limit})
        return _pipeline(make_config(config, set_, extra=extra), "eval")
    need(out=out)
    cfg = make_config(config, set_, extra=extra)
    qs = load_questions(questions)  # every format load_questions reads; checked before writing
    lock_dir(out)
    from veritune.api import evaluate_model  # deferred: loads torch

    m = evaluate_model(cfg.model.name, qs, config=cfg, split=split, out=out).metrics
    typer.echo(f"accuracy {m['accuracy']:.3f} (n={m['n']}) -> {out / 'metrics.json'}")


def _suite(cfg, models: list[str], suite_name: str, out: Path, data: list[str],
           limit: Optional[int]) -> str:
    """Every task of ``suite_name`` on every model into ``out``; the summary table."""
    from veritune.data import kb_questions  # deferred, with the stages: they load torch
    from veritune.engines import engine_from_config, scoring_config
    from veritune.judge import check_judge_model
    from veritune.report.tables import to_markdown
    from veritune.stages.suite import engine_key, model_label, run_judged_suite, summary_table
    from veritune.tasks import suite_tasks

    models = list(models) or [cfg.model.name]
    tasks = suite_tasks(suite_name)
    check_judge_model(cfg.for_evaluation().judge, tasks, "--suite")
    paths = {}
    for item in data:
        task, sep, path = item.partition("=")
        if not sep or task not in tasks:
            raise VerituneError(f"--data expects TASK=PATH with a task of the suite, got {item!r}")
        paths[task] = path
    labels: dict[str, str] = {}
    for m in models:
        label = model_label(m)
        labels[label if label not in labels else f"{label}_{len(labels)}"] = m
    kb = kb_questions() if "precise_qa" in tasks else []
    lock_dir(out)
    scored = scoring_config(cfg.model, *models)  # the models compared, scored alike
    summary = run_judged_suite(cfg, labels, tasks, out, lambda m: engine_from_config(scored, m),
                               kb, limits={t: limit for t in tasks} if limit else None,
                               data=paths, settings=engine_key(scored), seed=cfg.seed)
    return to_markdown(summary_table(summary)) + f"-> {out / 'summary.csv'}, {out / 'summary.md'}"

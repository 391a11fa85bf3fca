"""The suite: evaluation tasks on several models, summarised as the paper's table; and the
suite stage, which runs it on a run's base and tuned model into ``eval/suite/``.

    veritune eval --suite default --model embedded --model runs/quickstart/model --out DIR

writes ``DIR/<label>/<task>/{metrics.json,examples.jsonl}`` and ``DIR/summary.{csv,md,json}``:
one row per model, one column per task (its headline metric, in %), and ``Avg.``: the mean
change against the first (base) model over the tasks, relative metrics excluded. A finished
(model, task) with the same key (model files, data content, limit, seed, batch size, the
judge that scores it, engine settings: ``task_key``) is not run again.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from veritune.errors import InputError, VerituneError
from veritune.jsonl import (atomic_write_json, atomic_write_text, iter_json_lines,
                             read_json)
from veritune.judge import check_judge_model, task_judge, task_judge_key
from veritune.report.card import write_run_card
from veritune.report.tables import to_markdown
from veritune.runs.keys import file_hash, hashable
from veritune.stages.base import Context, Stage
from veritune.stages.eval import card_metrics, compare_splits
from veritune.tasks import get_task, run_task, suite_tasks


def model_label(model: str) -> str:
    """A short, file-safe label: ``embedded``, or the run name of ``runs/<name>/model``."""
    p = Path(model)
    name = p.parent.name if p.name == "model" and p.parent.name else p.name or model
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def model_stamp(model: str) -> str:
    """Changes when a local model folder's files change (a retrained model is run again)."""
    p = Path(model)
    if not p.is_dir():
        return model
    return str(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                      for f in p.iterdir() if f.is_file() and f.suffix in (".safetensors", ".json")
                      and f.name != "README.md"))


def engine_key(model_cfg: Any) -> dict:
    """The engine settings a task's result depends on (the model itself: ``model_stamp``)."""
    return {k: v for k, v in hashable(model_cfg).items()
            if k not in ("name", "api_key_env", "concurrency", "timeout")}


def data_stamp(task: str, path: str | None) -> str:
    """Content hash of a task's data (its file or folder; the default one when None)."""
    p = Path(path) if path else get_task(task).default_data()
    return file_hash(p) if p.exists() else str(p)  # "kb": built in code, versioned with it


def task_key(task: str, model: str, path: str | None, limit: int | None, seed: int,
             batch_size: int, judge: Any = None, settings: Mapping[str, Any] | None = None
             ) -> dict:
    """Everything a (model, task) result depends on; a finished task with the same key is
    reused, any change runs it again."""
    return {"model": model_stamp(str(model)), "data": str(path or ""),
            "data_hash": data_stamp(task, path), "limit": limit, "seed": seed,
            "batch_size": batch_size, "judge": judge,
            "prompt": get_task(task).prompt,
            **({"settings": dict(settings)} if settings else {}),
            **({"version": v} if (v := get_task(task).version) else {})}


def _done(path: Path, key: dict) -> dict | None:
    if not path.exists():
        return None
    metrics = read_json(path)
    return metrics if metrics.get("suite_key") == key else None


def run_suite(models: Mapping[str, str], tasks: Sequence[str], out_dir: str | Path,
              make_engine: Callable[[str], object], limits: Mapping[str, int | None] | None = None,
              seed: int = 0, batch_size: int = 16, data: Mapping[str, str] | None = None,
              judge_for: Callable[[str], object] | None = None,
              given: Mapping[str, Mapping[str, dict]] | None = None,
              log: Callable[[str], None] = print,
              judge_key_for: Callable[[str], Any] | None = None,
              settings: Mapping[str, Any] | Callable[[str], Mapping[str, Any]] | None = None
              ) -> dict:
    """Evaluate every model on every task; returns the summary (also written to out_dir).

    ``models`` maps a label to a model (path or name); the first is the base for ``Avg.``.
    ``limits``/``data`` override a task's default limit/data; ``judge_for(task)`` gives the
    judge a task uses (None: the task's own default). ``given[label][task]`` holds metrics
    measured elsewhere (a run's own precise-QA evaluation), used instead of running the task.
    ``judge_key_for(task)`` says what of the judge ``judge_for(task)`` gives the result depends
    on (``judge_key``), and ``settings`` the engine settings (``engine_key``; or a function of
    the model giving them, when models are scored with different settings): both go into each
    task's cache key (``task_key``) with the model, data, limit, seed and batch size.
    """
    out_dir = Path(out_dir)
    results: dict[str, dict[str, dict]] = {}
    first_label, first_model = next(iter(models.items()))
    for label, model in models.items():
        engine = None
        results[label] = {}
        for name in tasks:
            if name in (given or {}).get(label, {}):
                results[label][name] = given[label][name]
                continue
            limit = (limits or {}).get(name, -1)
            path = (data or {}).get(name)
            key = task_key(name, model, path, limit, seed, batch_size,
                           judge_key_for(name) if judge_key_for else None,
                           settings(model) if callable(settings) else settings)
            reference = None  # a relative task compares each later model with the first
            if get_task(name).relative and label != first_label:
                key["reference"] = model_stamp(str(first_model))
                reference = [row for _, row in iter_json_lines(
                    out_dir / first_label / name / "examples.jsonl")]
            target = out_dir / label / name
            metrics = _done(target / "metrics.json", key)
            if metrics is None:
                engine = engine or make_engine(model)
                start = time.perf_counter()
                metrics = run_task(name, engine, target, data=path, limit=limit, seed=seed,
                                   batch_size=batch_size,
                                   judge=judge_for(name) if judge_for else None,
                                   reference=reference)
                metrics["suite_key"] = key
                atomic_write_json(target / "metrics.json", metrics)
                log(f"suite {label}/{name}: {metrics['headline']} "
                    f"{metrics[metrics['headline']]:.4f} (n={metrics['n']}, "
                    f"{time.perf_counter() - start:.0f} s)")
            results[label][name] = metrics
        del engine
    summary = summarize_suite(results, tasks)
    write_summary(summary, out_dir)
    return summary


def summarize_suite(results: Mapping[str, Mapping[str, dict]], tasks: Sequence[str]) -> dict:
    """Rows of headline values (in %) per model, and ``avg``: mean change vs the first row."""
    labels = list(results)
    relative = {t for t in tasks if get_task(t).relative}
    rows = []
    for label in labels:
        values = {t: round(100 * results[label][t][results[label][t]["headline"]], 2)
                  for t in tasks if t in results[label]}
        rows.append({"model": label, "values": values,
                     "seconds": round(sum(results[label][t].get("seconds", 0.0)
                                          for t in values), 1)})
    base = rows[0]["values"] if rows else {}
    for row in rows:
        scored = [t for t in tasks if t not in relative and t in base]
        deltas = [row["values"][t] - base[t] for t in scored if t in row["values"]]
        # Avg. only over the full set of tasks: a partial row's mean is not comparable
        row["avg"] = round(sum(deltas) / len(deltas), 2) if deltas and \
            len(deltas) == len(scored) else None
    headlines = {t: get_task(t).headline for t in tasks}
    return {"tasks": list(tasks), "headlines": headlines, "base": labels[0] if labels else None,
            "relative_excluded": sorted(relative), "rows": rows}


def summary_table(summary: dict) -> list[list[str]]:
    """Header + one row per model: values in %, Avg. as a signed change vs the base."""
    tasks = summary["tasks"]
    table = [["model", *tasks, "Avg."]]
    for row in summary["rows"]:
        avg = row["avg"]
        table.append([row["model"], *(f"{row['values'][t]:.1f}" if t in row["values"] else ""
                                      for t in tasks),
                      "—" if row["model"] == summary["base"] or avg is None else f"{avg:+.2f}"])
    return table


def write_summary(summary: dict, out_dir: str | Path) -> None:
    out_dir = Path(out_dir)
    table = summary_table(summary)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(table)
    atomic_write_text(out_dir / "summary.csv", buf.getvalue())
    note = (f"\nValues: each task's headline metric in % "
            f"({', '.join(f'{t}: {h}' for t, h in summary['headlines'].items())}). "
            f"Avg.: mean change against {summary['base']} over the tasks"
            + (f", relative metrics excluded ({', '.join(summary['relative_excluded'])})"
               if summary["relative_excluded"] else "") + ".\n")
    atomic_write_text(out_dir / "summary.md", to_markdown(table) + note)
    atomic_write_json(out_dir / "summary.json", summary)


def run_judged_suite(cfg, models: Mapping[str, str], tasks: Sequence[str], out_dir: Path,
                     make_engine: Callable[[str], object], questions: Sequence = (),
                     limits: Mapping[str, int | None] | None = None,
                     data: Mapping[str, str] | None = None,
                     given: Mapping[str, Mapping[str, dict]] | None = None,
                     settings=None, log: Callable[[str], None] = print,
                     seed: int | None = None) -> dict:
    """``run_suite`` with the evaluation judge (``eval.judge``, else the run's) for each task
    (``judge.task_judge``) and the judge's part of each task's key (``judge.task_judge_key``):
    the one way the suite stage, the guard and ``veritune eval --suite`` score tasks. ``seed``
    (of the items; default: the data seed)."""
    cfg = cfg.for_evaluation()
    return run_suite(models, tasks, out_dir, make_engine, limits=limits,
                     seed=cfg.data_seed if seed is None else seed,
                     batch_size=cfg.eval.suite_batch_size, data=data,
                     judge_for=lambda t: task_judge(cfg, t, list(questions)), given=given,
                     log=log, judge_key_for=lambda t: task_judge_key(cfg.judge, t),
                     settings=settings)


def run_models(ctx: Context) -> dict[str, str]:
    """The models a run's suite and guard score: base, and tuned once it exists."""
    models = {"base": ctx.cfg.model.name}
    if ctx.paths.model.exists():
        models["tuned"] = ctx.tuned
    return models


class SuiteStage(Stage):
    """The suite on a run's base and tuned model (``eval.suite``); precise QA is the run's own
    test split, as the eval stage scored it. Entered every time: ``run_suite`` itself skips
    each (model, task) already done and current."""
    name = "eval/suite"
    always_runs = True

    def applies(self, ctx: Context) -> bool:
        return bool(ctx.cfg.eval.suite)

    def check(self, ctx: Context) -> None:
        if not ctx.cfg.eval.suite:
            return
        try:  # an unknown task is an error now, not after training
            tasks = suite_tasks(ctx.cfg.eval.suite)
        except VerituneError as e:
            raise InputError(str(e), field="eval.suite") from None
        check_judge_model(ctx.cfg.for_evaluation().judge, tasks, "eval.suite")

    def key(self, ctx: Context) -> tuple:
        cfg = ctx.cfg
        return (cfg.eval, cfg.eval_judge, cfg.data_seed)

    def run(self, ctx: Context) -> dict:
        cfg, models = ctx.cfg, run_models(ctx)
        tasks = suite_tasks(cfg.eval.suite)
        given = {}
        for label in models:
            f = ctx.paths.eval / label / "test" / "metrics.json"
            if "precise_qa" in tasks and f.exists():
                given[label] = {"precise_qa": {**read_json(f), "task": "precise_qa",
                                               "headline": "accuracy"}}
        ctx.release()
        limits = {t: cfg.eval.suite_limit for t in tasks} if cfg.eval.suite_limit else None
        summary = run_judged_suite(
            cfg, models, tasks, ctx.paths.eval / "suite", ctx.scorer, ctx.questions(),
            limits=limits, data={"precise_qa": str(ctx.paths.questions)}, given=given,
            settings=lambda m: engine_key(ctx.model_config(m, True)), log=ctx.log)
        results = compare_splits(ctx) if "tuned" in models else {}
        if results:
            counts = {k: v for k, v in ctx.counts("train").items() if k != "final_loss"}
            write_run_card(cfg, ctx.paths.model, counts, card_metrics(results), summary)
        return {r["model"]: {"avg": r["avg"], **r["values"]} for r in summary["rows"]}

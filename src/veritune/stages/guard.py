"""The out-of-domain guard: tasks the training never sees, scored on the base and the tuned
model after the eval stage and compared item by item.

    eval: {guard: default}          # in a config; or --set eval.guard=truthfulqa_mc,nq_open

Each guard task runs through the suite's own runner (``suite.run_judged_suite``: the same task
modules, the same per-(model, task) reuse) into ``eval/guard/<base|tuned>/<task>/``, on a
fixed, seeded subset of items (the data seed: the same items for every training seed). For
each task, ``eval/guard/compare.json`` holds the base and tuned values of its guard metric,
the change, and its 95% interval by a paired bootstrap over items; ``fall`` marks a change
whose interval lies below 0, which the report flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from veritune.errors import InputError
from veritune.jsonl import atomic_write_json, iter_json_lines
from veritune.judge import check_judge_model
from veritune.stages.base import Context, Stage
from veritune.stages.suite import engine_key, run_judged_suite, run_models
from veritune.stats import pair_items, paired_bootstrap, verdict
from veritune.tasks import get_task, item_scores, suite_tasks

# task -> (the metric compared, items scored). HaluEval by paired choice: a 135M model rarely
# answers with the bare word (the headline measures format compliance), and forced Yes/No
# found it saying "No" to every item (forced_accuracy = the share of right answers shown);
# paired_accuracy asks which of an item's two answers it finds likelier hallucinated.
DEFAULT_GUARD = {"truthfulqa_mc": ("mc2", 100), "nq_open": ("accuracy", 100),
                 "halueval_qa": ("paired_accuracy", 100)}


def guard_tasks(spec: str, limit: int | None = None) -> dict[str, tuple[str, int | None]]:
    """``"default"`` or comma-separated task names -> task -> (metric, limit). A task outside
    the default guard is compared on its headline metric at its own default limit."""
    names = list(DEFAULT_GUARD) if spec.strip() == "default" else suite_tasks(spec)
    if "precise_qa" in names:
        raise InputError("precise_qa is the in-domain task, not a guard", field="eval.guard")
    out = {}
    for name in names:
        metric, size = DEFAULT_GUARD.get(name, (get_task(name).headline, None))
        out[name] = (metric, limit if limit is not None else size)
    return out


def guard_plan(spec: str, limit: int | None = None) -> dict[str, list]:
    """What the guard stage's results depend on beyond the models: each task's metric, items
    and code version (a task's ``version``), so that a changed default reruns the stage."""
    return {name: [metric, size, get_task(name).version]
            for name, (metric, size) in guard_tasks(spec, limit).items()}


def check_guard_data(spec: str) -> None:
    """Fail before any model loads when a guard task's data file is missing."""
    for name in guard_tasks(spec):
        get_task(name).default_data()  # raises InputError saying where to get it


def run_guard(cfg, models: Mapping[str, str], out_dir: str | Path,
              make_engine: Callable[[str], object], questions=(),
              log: Callable[[str], None] = print, settings=None) -> dict:
    """Score ``cfg``'s guard (``eval.guard``, ``eval.guard_limit``) on ``models`` (``{"base":
    ..., "tuned": ...}``) and compare them; ``settings``: the engine settings of each model's
    scores, as ``run_suite`` takes them."""
    tasks = guard_tasks(cfg.eval.guard, cfg.eval.guard_limit)
    run_judged_suite(cfg, models, list(tasks), Path(out_dir), make_engine, questions,
                     limits={t: size for t, (_, size) in tasks.items()}, settings=settings,
                     log=log)
    result = compare_guard(out_dir, {t: metric for t, (metric, _) in tasks.items()})
    atomic_write_json(Path(out_dir) / "compare.json", result)
    for task, r in result["tasks"].items():
        if r.get("change") is not None:
            log(f"guard {task} {r['metric']}: {r['base']:.4f} -> {r['tuned']:.4f} "
                f"(change {r['change']:+.4f}, 95% CI [{r['low']:+.4f}, {r['high']:+.4f}]"
                f"{', FALL' if r['verdict'] == 'fall' else ''})")
    return result


def task_scores(task_dir: Path, metric: str) -> list[tuple[str, float]] | None:
    """Per-item scores of one model on one task, from its ``examples.jsonl``."""
    path = task_dir / "examples.jsonl"
    if not path.exists():
        return None
    examples = [obj for _, obj in iter_json_lines(path)]
    return item_scores(examples, metric)


def compare_guard(out_dir: str | Path, metrics: Mapping[str, str], base: str = "base",
                  tuned: str = "tuned") -> dict:
    """Per task: base and tuned mean of the metric on their common items, the change, and its
    paired bootstrap interval (``verdict``: gain / fall / unclear)."""
    out_dir = Path(out_dir)
    tasks = {}
    for task, metric in metrics.items():
        a = task_scores(out_dir / base / task, metric)
        b = task_scores(out_dir / tuned / task, metric)
        if a is None or b is None:
            tasks[task] = {"metric": metric, "change": None}
            continue
        keys, sa, sb = pair_items(a, b)
        ci = paired_bootstrap([y - x for x, y in zip(sa, sb)])
        n = len(keys)
        tasks[task] = {"metric": metric, "n": n, "unpaired": max(len(a), len(b)) - n,
                       "base": round(sum(sa) / n, 4) if n else None,
                       "tuned": round(sum(sb) / n, 4) if n else None,
                       "change": ci["mean"], "low": ci["low"], "high": ci["high"],
                       "verdict": verdict(ci)}
    return {"tasks": tasks, "falls": [t for t, r in tasks.items() if r.get("verdict") == "fall"]}


class GuardStage(Stage):
    """The guard on a run's base and tuned model into ``eval/guard/``. The tuned weights are an
    input: retrained weights rerun the stage (its tasks keep their results per model files, so
    the base model's are not computed again); so do another precision a model is scored in,
    another task metric or task version."""
    name = "eval/guard"

    def applies(self, ctx: Context) -> bool:
        return bool(ctx.cfg.eval.guard)

    def check(self, ctx: Context) -> None:
        if ctx.cfg.eval.guard:  # a missing file fails before sampling
            check_guard_data(ctx.cfg.eval.guard)
            check_judge_model(ctx.cfg.for_evaluation().judge, guard_tasks(ctx.cfg.eval.guard),
                              "eval.guard")

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.model] if ctx.paths.model.exists() else []

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.eval / "guard" / "compare.json"]

    def key(self, ctx: Context) -> tuple:
        cfg = ctx.cfg
        engines = {label: engine_key(ctx.model_config(m, True))
                   for label, m in run_models(ctx).items()}
        return (guard_plan(cfg.eval.guard, cfg.eval.guard_limit), cfg.eval_judge, cfg.data_seed,
                engines)

    def run(self, ctx: Context) -> dict:
        ctx.release()
        return run_guard(ctx.cfg, run_models(ctx), ctx.paths.eval / "guard", ctx.scorer,
                         ctx.questions(), log=ctx.log,
                         settings=lambda m: engine_key(ctx.model_config(m, True)))

"""What an evaluation task is, and the helpers every task uses.

    from veritune import registry
    task = registry.get("task", "halueval_qa")
    items = task.load(task.default_data(), limit=200, seed=0)
    metrics, examples = task.evaluate(engine, items, seed=0, batch_size=16, judge=None)

A task is a :class:`Task` object registered by name (``veritune.registry``): ``name``,
``headline`` (the metric key the summary table shows), ``default_limit`` (items scored when the
user gives no ``--limit``; keeps the default suite within 30 minutes on 2 CPU cores),
``relative`` (a metric measured against another model, left out of ``Avg.`` as the paper leaves
out AlpacaEval; its ``evaluate`` also takes ``reference``, the first model's examples),
``judged`` (how it uses the run's judge: ``always``, ``if_model``, ``model`` (only a judge
model can score it), ``never``;
``veritune.judge.factory``), ``version`` and ``prompt`` (a change re-scores cached results),
and three functions:

- ``default_data() -> Path``: where its data is found offline (a file shipped by an installed
  package, or ``$VERITUNE_DATA_DIR``); raises ``InputError`` saying how to get it otherwise.
- ``load(path, limit=None, seed=0) -> list``: parse and validate (errors name file, line,
  field); ``limit`` takes a seeded sample, the same one for every model.
- ``evaluate(engine, items, *, seed=0, batch_size=16, judge=None) -> (metrics, examples)``:
  ``metrics`` is a flat dict with the headline and ``n``; ``examples`` one JSON-ready dict per
  item, keeping everything needed to re-check it by hand.

``run_task`` writes ``out_dir/metrics.json`` and ``out_dir/examples.jsonl``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from veritune import registry
from veritune.jsonl import atomic_write_json, write_records

SUITES = {
    "default": ["precise_qa", "truthfulqa_mc", "truthfulqa_gen", "halueval_qa", "halluqa",
                "mmlu", "cmmlu", "nq_open"],
}
JUDGED = ("always", "if_model", "model", "never")


@dataclass(frozen=True)
class Task:
    name: str
    headline: str
    default_limit: int | None
    default_data: Callable[[], Path]
    load: Callable[..., list]
    evaluate: Callable[..., tuple[dict, list[dict]]]
    judged: str = "never"
    relative: bool = False
    version: int | str | None = None
    prompt: str | None = None

    def __post_init__(self):
        if self.judged not in JUDGED:
            raise ValueError(f"Task.judged must be one of {JUDGED}, got {self.judged!r}")


def get_task(name: str) -> Task:
    return registry.get("task", name)


def suite_tasks(suite: str | Sequence[str]) -> list[str]:
    """A suite name (``default``) or a list / comma-separated string of task names."""
    if isinstance(suite, str):
        if suite in SUITES:
            return list(SUITES[suite])
        suite = [s.strip() for s in suite.split(",") if s.strip()]
    for name in suite:
        get_task(name)
    return list(suite)


def seeded_subset(items: list, limit: int | None, seed: int) -> list:
    """At most ``limit`` items, a seeded sample kept in file order (the same for every model)."""
    if limit is None or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


# The example field behind a metric that is a mean over items (``label`` means label ==
# "correct"); a metric not listed is its own field (truthfulqa_mc's mc1, mc2, ...).
ITEM_FIELDS = {"accuracy": ("correct", "label"), "forced_accuracy": ("forced_correct",),
               "paired_accuracy": ("paired_correct",),
               "truthful_rate": ("truthful",), "win_rate": ("score",)}


def item_scores(examples: Sequence[dict], metric: str) -> list[tuple[str, float]] | None:
    """(item key, score) per example for a metric that is the mean of per-item scores, so two
    models' results can be compared item by item; None when the examples do not hold it.

    An example whose field is present but None was not scored and is left out. The key is
    the example's ``id`` or ``line``, else its question (numbered when a question
    repeats); models scored on the same items in the same order get the same keys.
    """
    out, seen = [], {}
    for ex in examples:
        value = None
        fields = ITEM_FIELDS.get(metric, (metric,))
        if any(name in ex and ex[name] is None for name in fields):
            continue  # an item the task could not score (an unrated MT-Bench question)
        for name in fields:
            v = ex.get(name)
            if name == "label" and isinstance(v, str):
                value = float(v == "correct")
            elif isinstance(v, (bool, int, float)):
                value = float(v)
            if value is not None:
                break
        if value is None:
            return None
        key = ex.get("id", ex.get("line"))
        if key is None:
            q = str(ex.get("question", ""))
            seen[q] = seen.get(q, 0) + 1
            key = q if seen[q] == 1 else f"{q}#{seen[q]}"
        out.append((str(key), value))
    return out


def run_task(name: str, engine, out_dir: str | Path, data: str | Path | None = None,
             limit: int | None = -1, seed: int = 0, batch_size: int = 16, judge=None,
             reference: Sequence[dict] | None = None) -> dict:
    """Load, evaluate and write one task; ``limit=-1`` means the task's default limit. A
    ``relative`` task gets ``reference``: the reference model's examples of it (None: this
    model is the reference)."""
    task = get_task(name)
    path = Path(data) if data else task.default_data()
    items = task.load(path, limit=task.default_limit if limit == -1 else limit, seed=seed)
    start = time.perf_counter()
    extra = {"reference": reference} if task.relative else {}
    metrics, examples = task.evaluate(engine, items, seed=seed, batch_size=batch_size,
                                      judge=judge, **extra)
    metrics = {"task": name, "headline": task.headline, **metrics, "data": str(path),
               "seed": seed, "model": getattr(engine, "model_name", ""),
               "seconds": round(time.perf_counter() - start, 1)}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_records(out_dir / "examples.jsonl", examples)
    atomic_write_json(out_dir / "metrics.json", metrics)
    return metrics

"""veritune's Python API: what the ``veritune`` command calls, for scripts and notebooks.

    import veritune

    cfg = veritune.load_config("configs/quickstart.yaml", {"sample.n": 4})
    result = veritune.run(cfg, limit=20)
    print(result.comparison["test"])          # base vs tuned on the held-out test split
    metrics = veritune.evaluate_model(result.paths["model"], result.paths["questions"],
                                      config=cfg, split="test").metrics

Each function imports torch, transformers and TRL only when it needs them (the imports inside
the functions below are those deferrals): ``import veritune`` stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, Union

from veritune.config import RunConfig
from veritune.config import load_config as _load_config
from veritune.data import load_questions
from veritune.errors import VerituneError
from veritune.jsonl import atomic_write_json, read_json, write_records
from veritune.judge.bench import load_labels, run_bench, subsample
from veritune.runs.store import load_manifest

if TYPE_CHECKING:
    from veritune.engines import Engine
    from veritune.judge import Judge
    from veritune.records import Question
    from veritune.tasks.precise_qa import Example

PathLike = Union[str, Path]
# The files of a run directory, by the names RunResult.paths uses.
RUN_FILES = {"config": "config.yaml", "manifest": "manifest.json", "questions": "questions.jsonl",
             "samples": "samples.jsonl", "verdicts": "verdicts.jsonl", "pairs": "pairs.jsonl",
             "sft": "sft.jsonl", "pairs_trl": "pairs.trl.jsonl", "train_log": "train_log.jsonl",
             "anchor_samples": "anchor_samples.jsonl", "model": "model", "eval": "eval",
             "report": "report.md",
             "report_html": "report.html"}


def load_config(path: PathLike | None = None,
                overrides: Sequence[str] | Mapping[str, Any] | None = None) -> RunConfig:
    """Defaults, then the YAML file, then overrides: ``["sample.n=4"]`` as on the command line,
    or ``{"sample.n": 4, "model.name": "embedded"}``. Bad keys or values raise InputError."""
    if isinstance(overrides, Mapping):  # text as written (a text key takes it as given)
        overrides = [f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                     for k, v in overrides.items()]
    return _load_config(path, list(overrides or []))


def _config(config: RunConfig | PathLike | None) -> RunConfig:
    if config is None:
        return RunConfig()
    return config if isinstance(config, RunConfig) else load_config(config)


# -- the whole pipeline -------------------------------------------------------------------------

@dataclass
class RunResult:
    """What a run left in its directory."""
    run_dir: Path
    counts: dict[str, dict]  # per stage, as manifest.json records them
    comparison: dict[str, dict]  # per split: base vs tuned (eval/compare_<split>.json)
    paths: dict[str, Path]  # the run's files that exist, by name (RUN_FILES)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage

    def metrics(self, model: str = "tuned", split: str = "test") -> dict:
        """``eval/<model>/<split>/metrics.json`` (model: base or tuned)."""
        path = self.run_dir / "eval" / model / split / "metrics.json"
        if not path.is_file():
            raise VerituneError(f"no evaluation of {model} on {split}: {path} does not exist")
        return read_json(path)


def read_run(run_dir: PathLike) -> RunResult:
    """The results of a run directory (finished or not), read from its files."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise VerituneError(f"{run_dir} is not a run directory (no manifest.json)")
    stages = load_manifest(manifest_path)["stages"]
    comparison = {f.stem[len("compare_"):]: read_json(f)
                  for f in sorted((run_dir / "eval").glob("compare_*.json"))}
    paths = {name: run_dir / rel for name, rel in RUN_FILES.items() if (run_dir / rel).exists()}
    return RunResult(run_dir=run_dir,
                     counts={s: e.get("counts", {}) for s, e in stages.items()
                             if e.get("status") == "done"},
                     comparison=comparison, paths=paths,
                     seconds={s: e.get("seconds", 0.0) for s, e in stages.items()})


def run(config: RunConfig | PathLike, stages: str | Sequence[str] | None = None,
        limit: int | None = None, log: Callable[[str], None] = print) -> RunResult:
    """Run the pipeline (or ``stages`` of it) into ``runs/<name>/``, as ``veritune run`` does:
    finished stages with the same config and inputs are skipped, an interrupted one resumes.
    ``limit``: at most N questions per split (a quick look)."""
    from veritune.pipeline import stage_names  # deferred: loads torch
    from veritune.pipeline.rounds import run_rounds

    cfg = _config(config)
    if limit is not None:
        cfg = dataclasses.replace(cfg, limit=limit)
    run_rounds(cfg, stage_names(stages), log=log)
    return read_run(cfg.run_dir)


# -- judge and evaluation -----------------------------------------------------------------------

def _questions(questions: Iterable[Question] | PathLike) -> list[Question]:
    if isinstance(questions, (str, Path)):
        return load_questions(questions)
    return list(questions)


def build_judge(config: RunConfig | PathLike | None = None,
                questions: Iterable[Question] = ()) -> Judge:
    """The judge a config names (``judge.name``: lexical, llm, ensemble), the same one that
    labels training samples; kb ``questions`` teach the lexical judge each relation's
    competing answers."""
    from veritune.judge import build_judge as build  # deferred: a model judge loads torch

    return build(_config(config), list(questions))


def _judge(judge: Judge | str | None, cfg: RunConfig, questions: list[Question]) -> Judge:
    if judge is None or isinstance(judge, str):
        if isinstance(judge, str):
            cfg = dataclasses.replace(cfg, judge=dataclasses.replace(cfg.judge, name=judge))
        return build_judge(cfg, questions)
    return judge


@dataclass
class EvalResult:
    metrics: dict  # accuracy, n, per_domain, best_of_n, answer shape (tasks.precise_qa)
    examples: list[Example]  # one per question: response, label, rationale

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]


def evaluate_model(model: str | PathLike | Engine, questions: Iterable[Question] | PathLike,
                   judge: Judge | str | None = None, *,
                   config: RunConfig | PathLike | None = None, split: str | None = None,
                   limit: int | None = None, out: PathLike | None = None) -> EvalResult:
    """Greedy accuracy of ``model`` (``embedded``, a folder, a Hugging Face name, or an engine)
    on ``questions`` (records or a file), judged by ``judge`` (a Judge, a judge name, or None:
    the config's), with best-of-n and answer shape; ``out``: also write metrics.json and
    examples.jsonl there. ``split``/``limit``: only that split, at most N questions per split
    taken round-robin across domains (default: the config's ``eval.limit``; the judge still
    learns from all of them).

    Named ``evaluate_model`` because ``veritune.tasks.precise_qa`` is the evaluation module.
    """
    from veritune.data.questions import limit_per_split  # deferred: these load torch
    from veritune.engines import engine_from_config
    from veritune.tasks.precise_qa import evaluate_questions, summarize, write_eval

    cfg = _config(config)
    all_questions = _questions(questions)
    chosen = [q for q in all_questions if split in (None, q.split)]
    limit = limit or cfg.eval.limit
    if limit:
        chosen = limit_per_split(chosen, limit)
    the_judge = _judge(judge, cfg, all_questions)
    engine = model if hasattr(model, "generate") else \
        engine_from_config(cfg.model, str(model), scoring=True)
    start = time.perf_counter()
    examples = evaluate_questions(engine, chosen, the_judge, cfg.eval, cfg.prompt, cfg.sample,
                                  seed=cfg.seed)
    metrics = summarize(examples, cfg.eval.repetition_ngram)
    metrics["model"] = engine.model_name
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    if out is not None:
        write_eval(out, examples, metrics)
    return EvalResult(metrics, examples)


@dataclass
class BenchResult:
    metrics: dict  # kappa (+ interval), balanced accuracy, recall, possibly_correct apart, cost
    examples: list[dict]  # one per label: the judge's verdict beside the human one


def judge_bench(labels: PathLike | Sequence[tuple[Question, str, str]],
                judge: Judge | str | None = "lexical", *,
                config: RunConfig | PathLike | None = None,
                out: PathLike | None = None, limit: int | None = None,
                definite_only: bool = False, resamples: int = 1000,
                seed: int = 0) -> BenchResult:
    """Agreement of a judge with human labels: a JSONL file of ``{question, answers, response,
    label}`` (see ``veritune.judge.bench``; label correct, incorrect or possibly_correct) or
    (Question, response, label) triples. ``limit``: a seeded subsample; ``resamples``: the
    bootstrap behind the intervals."""
    items = load_labels(labels, definite_only) if isinstance(labels, (str, Path)) \
        else list(labels)
    items = subsample(items, limit, seed)
    the_judge = _judge(judge, _config(config), [q for q, _, _ in items])
    metrics, examples = run_bench(the_judge, items, resamples=resamples, seed=seed)
    if out is not None:
        atomic_write_json(Path(out) / "metrics.json", metrics)
        write_records(Path(out) / "examples.jsonl", examples)
    return BenchResult(metrics, examples)

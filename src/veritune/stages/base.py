"""What a stage is: the files it reads and writes, what its result depends on, and the work.

    class SampleStage(Stage):
        name = "sample"
        def inputs(self, ctx):  return [ctx.paths.questions]
        def outputs(self, ctx): return [ctx.paths.samples]
        def key(self, ctx):     return (ctx.cfg.sample, ctx.cfg.model, ctx.cfg.prompt, ...)
        def run(self, ctx):     ...; return counts

``veritune.pipeline`` walks stages over a run directory: a stage whose key and inputs are the
ones its manifest entry recorded is skipped, one cut short resumes from its records, and each
finished one is recorded with its counts and seconds. The stage commands and the API call the
same ``run`` on explicit paths (``RunPaths`` of their own), with no manifest. Nothing but the
pipeline knows how a stage is keyed or resumed; a stage only declares it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from veritune.config import RunConfig
from veritune.engines import engine_from_config, scoring_config
from veritune.jsonl import read_records
from veritune.modelfiles import check_model_dir
from veritune.records import Question


@dataclass
class RunPaths:
    """Where each stage's records are: the files of one run directory, or (stage commands)
    the files given on the command line."""
    root: Path
    questions: Path
    samples: Path
    verdicts: Path
    pairs: Path
    sft: Path
    pairs_trl: Path | None
    model: Path
    train_log: Path
    anchor_samples: Path
    eval: Path

    @classmethod
    def of(cls, root: str | Path, **given: Path | None) -> "RunPaths":
        """The files of a folder (``root/questions.jsonl``, ...); ``given`` replaces some."""
        root = Path(root)
        names = {"questions": "questions.jsonl", "samples": "samples.jsonl",
                 "verdicts": "verdicts.jsonl", "pairs": "pairs.jsonl", "sft": "sft.jsonl",
                 "pairs_trl": "pairs.trl.jsonl", "model": "model",
                 "train_log": "train_log.jsonl", "anchor_samples": "anchor_samples.jsonl",
                 "eval": "eval"}
        paths = {k: root / v for k, v in names.items()}
        paths.update(given)
        return cls(root=root, **paths)

    def file(self, name: str) -> Path:
        """Another file of the run (``longform.jsonl``, ``eval/guard/compare.json``)."""
        return self.root / name


class Context:
    """What a stage runs with: the config, the paths, a log, the models it loads (one in
    memory at a time), and what the pipeline knows of the run (``counts`` of earlier stages,
    ``key``: the running stage's key and input hashes, which training checkpoints carry)."""

    def __init__(self, cfg: RunConfig, paths: RunPaths, log: Callable[[str], None] = print,
                 counts: Callable[[str], dict] | None = None,
                 substage: Callable[["Stage", "Context"], Any] | None = None):
        self.cfg, self.paths, self.log = cfg, paths, log
        self._counts = counts or (lambda name: {})
        self._substage = substage
        self._engines: dict[tuple[str, bool], object] = {}
        self.key: list = []

    # -- the run -------------------------------------------------------------------------------
    def counts(self, stage: str) -> dict:
        """The counts an earlier stage recorded ({} outside a run directory)."""
        return self._counts(stage)

    def substage(self, stage: "Stage"):
        """Run ``stage`` from inside another (the train stage's anchors): recorded in the
        manifest under its own name when there is one, else simply run."""
        if self._substage is not None:
            return self._substage(stage, self)
        return stage.run(self)

    def questions(self, splits: list[str] | None = None) -> list[Question]:
        qs = read_records(self.paths.questions, Question.from_dict)
        return [q for q in qs if splits is None or q.split in splits]

    # -- models --------------------------------------------------------------------------------
    @property
    def tuned(self) -> str:
        return str(self.paths.model)

    def model_config(self, model: str, scoring: bool = False):
        """The model settings ``model`` (base or tuned) runs with; ``scoring``: to evaluate
        it, in one precision for base and tuned, never below what either stores
        (``scoring_config``: float32 beside a float32 fine-tune)."""
        cfg = self.cfg.model
        if model == self.tuned:  # the tuned weights are local: load them here
            cfg = dataclasses.replace(cfg, engine="hf")
        if not scoring:
            return cfg
        return scoring_config(cfg, model, *([self.tuned] if self.paths.model.exists() else []))

    def engine(self, model: str, scoring: bool = False):
        """The engine of ``model``, loaded once; loading another releases this one."""
        key = (model, scoring)
        if key not in self._engines:
            self.release()  # one model in memory at a time
            if model == self.tuned:
                check_model_dir(model)  # a half-written folder is an error, not a model
            self._engines[key] = engine_from_config(self.model_config(model, scoring), model)
        return self._engines[key]

    def scorer(self, model: str):
        """The engine that evaluates ``model`` (eval stage, guard, suite)."""
        return self.engine(model, scoring=True)

    def release(self) -> None:
        """Let the loaded model go (before training, or a model of another stage); an engine
        that holds more than memory (vLLM: an engine process, GPU memory) is closed."""
        engines = list(self._engines.values())
        self._engines.clear()
        for engine in engines:
            close = getattr(engine, "close", None)
            if callable(close):
                close()


class Stage:
    """One stage. ``name`` is its manifest entry; ``recorded = False`` runs it every time
    without one (the comparison, the report); ``always_runs`` enters the manifest but runs
    even when up to date (the suite, which keeps a result per model and task itself)."""

    name: str = ""
    recorded: bool = True
    always_runs: bool = False

    def applies(self, ctx: Context) -> bool:
        """False: nothing to do for this config (no anchor prompts, no tuned model yet)."""
        return True

    def check(self, ctx: Context) -> None:
        """Fail on bad input now, before any stage runs: called for every stage of a run at
        its start (so it may not read what earlier stages write)."""

    def inputs(self, ctx: Context) -> list[Path]:
        return []

    def outputs(self, ctx: Context) -> list[Path]:
        return []

    def key(self, ctx: Context) -> tuple:
        """The config sections and values the result depends on (hashed with the inputs)."""
        return ()

    def run(self, ctx: Context) -> dict | None:
        """Do the work; return the counts to record (None: record nothing, e.g. a process
        that is not the main one under ``accelerate launch``)."""
        raise NotImplementedError

    def skipped(self, ctx: Context) -> None:
        """Called when the stage is up to date (logs it; a stage may read its results back)."""
        ctx.log(f"{self.name}: up to date")

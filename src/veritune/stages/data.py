"""The data stage: the run's questions, built or loaded, split by entity.

    veritune data configs/quickstart.yaml            # runs/quickstart/questions.jsonl
    veritune data --out DIR --source questions.jsonl  # DIR/questions.jsonl

``data.source`` is ``kb`` or a question file (``veritune.data.questions.build_questions``);
the split and every random choice follow the data seed, so the runs of one config with
several training seeds share their held-out questions.
"""

from __future__ import annotations

from pathlib import Path

from veritune.data.files import resolve
from veritune.data.questions import build_questions
from veritune.jsonl import write_records
from veritune.stages.base import Context, Stage


def source_files(cfg) -> list[Path]:
    """The files the questions come from (none for kb or a Hugging Face dataset)."""
    source = cfg.data.source
    files = [] if source == "kb" or source.startswith("hf:") else [resolve(source)]
    return files + ([resolve(cfg.data.test_source)] if cfg.data.test_source else [])


class DataStage(Stage):
    name = "data"

    def inputs(self, ctx: Context) -> list[Path]:
        return source_files(ctx.cfg)

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.questions]

    def key(self, ctx: Context) -> tuple:
        return (ctx.cfg.data, ctx.cfg.data_seed, ctx.cfg.limit)

    def run(self, ctx: Context) -> dict:
        questions = build_questions(ctx.cfg)
        write_records(ctx.paths.questions, questions)
        counts = {s: sum(q.split == s for q in questions) for s in ("train", "validation", "test")}
        counts["domains"] = len({q.domain for q in questions})
        ctx.log(f"data: {len(questions)} questions {counts}")
        return counts

"""The judge stage: one Verdict per Sample, by the configured judge, resumable.

    veritune judge configs/quickstart.yaml
    veritune judge --questions questions.jsonl --samples samples.jsonl --out DIR
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from veritune.errors import InputError
from veritune.jsonl import RecordWriter, existing_keys, read_records
from veritune.judge import Judge, build_judge
from veritune.progress import progress
from veritune.records import Question, Sample, Verdict
from veritune.stages.base import Context, Stage


def judge_samples(judge: Judge, questions: Mapping[str, Question], samples: Sequence[Sample],
                  out_path: str | Path, chunk: int = 256) -> dict:
    out_path = Path(out_path)
    done = existing_keys(out_path, Verdict.from_dict)
    todo = [s for s in samples if (s.question_id, s.index) not in done]
    for s in todo:
        if s.question_id not in questions:
            raise InputError(f"sample refers to unknown question {s.question_id!r}",
                             field="question_id")
    bar = progress(len(samples), "judge", unit="answer", initial=len(samples) - len(todo))
    with RecordWriter(out_path) as writer:
        for i in range(0, len(todo), chunk):
            part = todo[i:i + chunk]
            results = judge.judge_many([(questions[s.question_id], s.text) for s in part])
            writer.write_many(Verdict(question_id=s.question_id, sample_index=s.index,
                                      label=j.label, judge=judge.name, rationale=j.rationale)
                              for s, j in zip(part, results))
            bar.update(len(part))
    bar.close()
    return {"verdicts": len(samples), "resumed": len(samples) - len(todo)}


def label_counts(verdicts: Sequence[Verdict]) -> dict[str, int]:
    return dict(Counter(v.label for v in verdicts))


class JudgeStage(Stage):
    name = "judge"

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.questions, ctx.paths.samples]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.verdicts]

    def key(self, ctx: Context) -> tuple:
        return (ctx.cfg.judge,)

    def run(self, ctx: Context) -> dict:
        questions = ctx.questions()
        samples = read_records(ctx.paths.samples, Sample.from_dict)
        judge = build_judge(ctx.cfg, questions)
        judge_samples(judge, {q.id: q for q in questions}, samples, ctx.paths.verdicts)
        counts: dict = label_counts(read_records(ctx.paths.verdicts, Verdict.from_dict))
        counts.update(judge.usage())  # which judge decided how many, answers sent to a model
        ctx.log(f"judge: {counts}")
        return counts

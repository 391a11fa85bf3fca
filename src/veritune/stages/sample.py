"""The sample stage: ``n`` answers per question at temperature / top-p / top-k, resumable.

    veritune sample configs/quickstart.yaml
    veritune sample --model embedded --questions questions.jsonl --out DIR --n 8

Questions are cut into fixed batches; each batch draws from a seed derived from (seed, batch
number), and every finished batch is appended and fsynced. After a kill, batches already on
disk are skipped and a half-written batch is drawn again with the same seed, so the final
file equals an uninterrupted run's: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from veritune.engines import Engine, SamplingParams
from veritune.errors import InputError
from veritune.jsonl import RecordWriter, existing_records
from veritune.progress import progress
from veritune.prompts import question_messages
from veritune.records import Question, Sample
from veritune.stages.base import Context, Stage

SETTINGS = ("model", "temperature", "top_p", "top_k", "max_new_tokens", "seed", "n")


def check_same_settings(path: Path, existing: Sequence[Sample], wanted: dict) -> None:
    """Resuming is only sound with the settings the file was started with."""
    for lineno, s in enumerate(existing, start=1):
        for key in SETTINGS:
            if getattr(s, key) != wanted[key]:
                raise InputError(f"holds samples drawn with {key}={getattr(s, key)!r}, not "
                                 f"{wanted[key]!r}; resume with the same settings, or write to "
                                 "another folder", path=path, line=lineno, field=key)


def sample_questions(engine: Engine, questions: Sequence[Question], params: SamplingParams,
                     out_path: str | Path, prompt: str, batch_size: int = 8) -> dict:
    """Append ``params.n`` Sample records per question to ``out_path``; return counts."""
    out_path = Path(out_path)
    existing = existing_records(out_path, Sample.from_dict)
    check_same_settings(out_path, existing, dict(
        model=engine.model_name, temperature=params.temperature, top_p=params.top_p,
        top_k=params.top_k, max_new_tokens=params.max_new_tokens, seed=params.seed, n=params.n))
    done = {s.key for s in existing}
    batches = [questions[i:i + batch_size] for i in range(0, len(questions), batch_size)]
    todo = [(b, batch) for b, batch in enumerate(batches)
            if any((q.id, k) not in done for q in batch for k in range(params.n))]
    skipped = len(questions) - sum(len(batch) for _, batch in todo)
    tokens, start = 0, time.perf_counter()
    bar = progress(len(questions), "sample", unit="q", initial=skipped)
    with RecordWriter(out_path) as writer:
        for b, batch in todo:
            gens = engine.generate([question_messages(q, prompt) for q in batch], params,
                                   batch_index=b)
            for q, row in zip(batch, gens):
                for k, g in enumerate(row):
                    if (q.id, k) in done:
                        continue
                    writer.write(Sample(
                        question_id=q.id, index=k, text=g.text, model=engine.model_name,
                        engine=engine.name, temperature=params.temperature, top_p=params.top_p,
                        top_k=params.top_k, max_new_tokens=params.max_new_tokens,
                        seed=params.seed, n=params.n, n_tokens=g.n_tokens, truncated=g.truncated))
                    tokens += g.n_tokens
            writer.flush()
            bar.update(len(batch))
            bar.set_postfix(tok_s=f"{tokens / (time.perf_counter() - start):.0f}")
    bar.close()
    seconds = time.perf_counter() - start
    return {"questions": len(questions), "questions_resumed": skipped,
            "samples": len(questions) * params.n, "generated_tokens": tokens,
            "tokens_per_second": round(tokens / seconds, 1) if seconds else 0.0}


class SampleStage(Stage):
    name = "sample"

    def inputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.questions]

    def outputs(self, ctx: Context) -> list[Path]:
        return [ctx.paths.samples]

    def key(self, ctx: Context) -> tuple:
        cfg = ctx.cfg
        return (cfg.sample, cfg.model, cfg.prompt, cfg.seed)

    def run(self, ctx: Context) -> dict:
        cfg, s = ctx.cfg, ctx.cfg.sample
        questions = ctx.questions(s.splits)  # read (and checked) before the model loads
        counts = sample_questions(ctx.engine(cfg.model.name), questions, s.params(cfg.seed),
                                  ctx.paths.samples, cfg.prompt, s.batch_size)
        ctx.log(f"sample: {counts}")
        return counts

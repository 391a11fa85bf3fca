"""The stage commands' standalone mode: one stage on explicit files, no run directory.

    veritune sample --model embedded --questions q.jsonl --out out/ --n 8
    veritune judge  --questions q.jsonl --samples out/samples.jsonl --out out/

Each function takes the resolved config (defaults, ``CONFIG`` if given, ``--set``, the
command's flags) and the paths; it reads and checks every input before it writes anything or
loads a model, and holds the output folder (``veritune.runlock``) while it writes there. It
returns the line the command prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from veritune.config import RunConfig
from veritune.errors import VeritunError
from veritune.jsonl import atomic_write_text, read_records, write_records
from veritune.records import Question, Sample, Verdict
from veritune.runlock import lock_dir


def data(cfg: RunConfig, out: Path) -> str:
    from veritune.data.questions import build_questions

    questions = build_questions(cfg)
    lock_dir(out)
    write_records(out / "questions.jsonl", questions)
    return f"{len(questions)} questions -> {out / 'questions.jsonl'}"


def sample(cfg: RunConfig, questions: Path, out: Path, split: str | None) -> str:
    from veritune.engines import SamplingParams, engine_from_config
    from veritune.sample import sample_questions

    qs = [q for q in read_records(questions, Question.from_dict) if split in (None, q.split)]
    s = cfg.sample
    params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                            max_new_tokens=s.max_new_tokens, seed=cfg.seed)
    lock_dir(out)  # samples.jsonl is appended to: one process at a time
    engine = engine_from_config(cfg.model)
    counts = sample_questions(engine, qs, params, out / "samples.jsonl", cfg.prompt, s.batch_size)
    return f"{counts} -> {out / 'samples.jsonl'}"


def judge(cfg: RunConfig, questions: Path, samples: Path, out: Path) -> str:
    from veritune.judge import build_judge
    from veritune.verdicts import judge_samples

    qs = read_records(questions, Question.from_dict)
    records = read_records(samples, Sample.from_dict)
    lock_dir(out)  # verdicts.jsonl is appended to
    counts = judge_samples(build_judge(cfg, qs), {q.id: q for q in qs}, records,
                           out / "verdicts.jsonl")
    return f"{counts} -> {out / 'verdicts.jsonl'}"


def pairs(cfg: RunConfig, questions: Path, samples: Path, verdicts: Path, out: Path,
          export_trl: Path | None) -> str:
    from veritune.pairs import build_pairs, pair_stats

    qs = {q.id: q for q in read_records(questions, Question.from_dict)}
    p, sft = build_pairs(qs, read_records(samples, Sample.from_dict),
                         read_records(verdicts, Verdict.from_dict), cfg.pairs, cfg.prompt, cfg.seed)
    lock_dir(out)
    write_records(out / "pairs.jsonl", p)
    write_records(out / "sft.jsonl", sft)
    if export_trl:
        write_records(export_trl, [x.to_trl() for x in p])
    return f"{pair_stats(p, sft, len(qs))} -> {out}"


def export_run_trl(cfg: RunConfig, target: Path) -> None:
    """Copy a run's pairs.trl.jsonl to ``target`` (atomically: no half-written file)."""
    src = cfg.run_dir / "pairs.trl.jsonl"
    if not src.exists():
        raise VeritunError(f"{src} not found: the pairs stage has not run")
    atomic_write_text(target, src.read_text(encoding="utf-8"))


def train(cfg: RunConfig, pairs_file: Path | None, sft_file: Path | None, out: Path) -> str:
    from veritune.datasets_io import read_pairs, read_sft
    from veritune.train import train as train_model
    from veritune.train.card import write_model_card

    # veritune's pairs.jsonl, or TRL-format pairs from another tool (JSONL, Parquet, a folder)
    p = read_pairs(pairs_file) if pairs_file else []
    sft = read_sft(sft_file) if sft_file else []
    lock_dir(out)
    train_model(cfg.model.name, p, sft, cfg.train, out, seed=cfg.seed,
                trust_remote_code=cfg.model.trust_remote_code)
    write_model_card(out / "model", cfg.model.name, cfg.train.method,
                     {"pairs": len(p), "sft_targets": len(sft)}, train=cfg.train)
    return f"model -> {out / 'model'}"


def evaluate(cfg: RunConfig, questions: Path, out: Path, split: str | None) -> str:
    from veritune.api import evaluate_model
    from veritune.data import load_questions

    qs = load_questions(questions)  # every format load_questions reads; checked before writing
    lock_dir(out)
    m = evaluate_model(cfg.model.name, qs, config=cfg, split=split, out=out).metrics
    return f"accuracy {m['accuracy']:.3f} (n={m['n']}) -> {out / 'metrics.json'}"


def suite(cfg: RunConfig, models: Sequence[str], suite_name: str, out: Path,
          data: Sequence[str], limit: int | None) -> str:
    from veritune.engines import engine_from_config, scoring_config
    from veritune.judge import suite_judge
    from veritune.suite import (engine_key, judge_key, model_label, run_suite, summary_table,
                                to_markdown)
    from veritune.tasks import suite_tasks

    models = list(models) or [cfg.model.name]
    tasks = suite_tasks(suite_name)
    paths = {}
    for item in data:
        task, sep, path = item.partition("=")
        if not sep or task not in tasks:
            raise VeritunError(f"--data expects TASK=PATH with a task of the suite, got {item!r}")
        paths[task] = path
    labels: dict[str, str] = {}
    for m in models:
        label = model_label(m)
        labels[label if label not in labels else f"{label}_{len(labels)}"] = m
    kb = []
    if "precise_qa" in tasks:
        from veritune.data import kb_questions

        kb = kb_questions()
    lock_dir(out)
    scored = scoring_config(cfg.model, *models)  # the models compared, scored alike
    summary = run_suite(labels, tasks, out, lambda m: engine_from_config(scored, m),
                        limits={t: limit for t in tasks} if limit else None, seed=cfg.seed,
                        batch_size=cfg.eval.suite_batch_size, data=paths,
                        judge_for=lambda t: suite_judge(cfg, t, kb),
                        judge_key_for=lambda t: judge_key(cfg.judge, t),
                        settings=engine_key(scored))
    return to_markdown(summary_table(summary)) + f"-> {out / 'summary.csv'}, {out / 'summary.md'}"

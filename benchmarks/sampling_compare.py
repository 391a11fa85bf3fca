"""Sampling throughput, side by side in one process: the naive loop a user would write vs
veritune's engine with the CLI's defaults, top-p alone vs top-k 50, the quickstart's tuned
batch, and the eval stage's greedy + best-of-n batches; writes JSON.

    flock /tmp/veritune-cpu.lock python benchmarks/sampling_compare.py [--questions 64]

- "cli defaults": exactly what ``veritune sample --model embedded --questions Q --out D``
  runs (``sample_questions`` with ``SampleConfig``'s defaults: n=8, T=1.4, top-p 0.9, top-k 50,
  32 new tokens, 64 questions a batch; ``model.dtype: auto``), against the naive loop
  (``generate`` per question, ``num_return_sequences=8``) with the same settings.
- "top-p alone": the same with ``top_k: 0`` (vLLM's default); the target is >= 0.8x the rate
  with top-k 50.
- "quickstart": configs/quickstart.yaml's settings (T=1.0, top-p 0.95, top-k 50, 24 tokens,
  64 questions a batch) for sampling and for evaluation (greedy + best-of-4, eval.batch_size).
Tokens are counted up to and including each answer's end-of-turn token. The questions are
every fifth kb question (``kb_questions(seed=0)[::5]``). Other processes on the machine slow
every row alike; ``load_average`` records the conditions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from veritune.config import EvalConfig, load_config
from veritune.data import kb_questions
from veritune.dtype import NATIVE_BF16_FLAGS, cpu_flags
from veritune.engines import SamplingParams, engine_from_config
from veritune.engines.hf import HFEngine
from veritune.jsonl import read_records
from veritune.judge import LexicalJudge
from veritune.records import Sample
from veritune.stages.sample import sample_questions
from veritune.tasks.precise_qa import evaluate_questions

QUICKSTART = dict(n=8, temperature=1.0, top_p=0.95, top_k=50, max_new_tokens=24)


def naive(engine: HFEngine, messages, params: SamplingParams) -> tuple[int, float]:
    """transformers generate, one question at a time, num_return_sequences=n."""
    tok, model = engine.tokenizer, engine.model
    tokens, start = 0, time.perf_counter()
    torch.manual_seed(0)
    for m in messages:
        ids = tok(engine.prompt_text(m), return_tensors="pt", add_special_tokens=False)
        out = model.generate(**ids, do_sample=True, num_return_sequences=params.n,
                             temperature=params.temperature, top_p=params.top_p,
                             top_k=params.top_k, max_new_tokens=params.max_new_tokens,
                             pad_token_id=tok.pad_token_id)
        for row in out[:, ids["input_ids"].shape[1]:].tolist():
            stop = next((i for i, t in enumerate(row) if t in engine.stop_ids), len(row) - 1)
            tokens += stop + 1
    return tokens, time.perf_counter() - start


def cli_sample(engine, questions, cfg, **sample) -> tuple[int, float]:
    """``veritune sample`` in standalone mode: sample_questions with the config's settings."""
    s = cfg.sample
    for k, v in sample.items():
        setattr(s, k, v)
    params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                            max_new_tokens=s.max_new_tokens, seed=cfg.seed)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "samples.jsonl"
        start = time.perf_counter()
        sample_questions(engine, questions, params, out, cfg.prompt, s.batch_size)
        seconds = time.perf_counter() - start
        rows = read_records(out, Sample.from_dict)
    return sum(r.n_tokens + (0 if r.truncated else 1) for r in rows), seconds


class Counting:
    """An engine that counts the tokens its generations hold (end-of-turn included)."""

    def __init__(self, engine):
        self.engine, self.tokens, self.generations = engine, 0, 0
        self.name, self.model_name = engine.name, engine.model_name

    def generate(self, prompts, params, batch_index=0):
        out = self.engine.generate(prompts, params, batch_index)
        for row in out:
            self.tokens += sum(g.n_tokens + (0 if g.truncated else 1) for g in row)
            self.generations += len(row)
        return out


def eval_generate(engine, questions, prompt) -> tuple[int, float, int]:
    """The eval stage's generation (greedy, then best-of-4) with the quickstart's settings."""
    cfg = EvalConfig(max_new_tokens=24, best_of_n=4)
    counting = Counting(engine)
    start = time.perf_counter()
    evaluate_questions(counting, questions, LexicalJudge.for_questions(questions), cfg, prompt,
                       sample_temperature=1.0, top_p=0.95, top_k=50, seed=0)
    return counting.tokens, time.perf_counter() - start, counting.generations


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=64)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    qs = kb_questions(seed=0)[::5][:args.questions]
    cfg = load_config(None)  # the CLI's defaults
    engine = engine_from_config(cfg.model)  # dtype auto
    rows = []

    def record(name, tokens, seconds, **extra):
        rows.append({"name": name, "generated_tokens": tokens, "seconds": round(seconds, 2),
                     "tokens_per_second": round(tokens / seconds, 1), **extra})
        print(json.dumps(rows[-1]), flush=True)

    load_before = os.getloadavg()
    cli_sample(engine, qs[:4], load_config(None))  # warm-up
    from veritune.prompts import question_messages

    s = cfg.sample
    if not args.skip_naive:
        params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                                max_new_tokens=s.max_new_tokens)
        record("naive: generate per question, CLI default settings",
               *naive(engine, [question_messages(q, cfg.prompt) for q in qs], params))
    record("veritune sample, CLI defaults (top-k 50)", *cli_sample(engine, qs, load_config(None)),
           settings=dict(n=s.n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                         max_new_tokens=s.max_new_tokens, batch_questions=s.batch_size))
    record("veritune sample, CLI defaults with top-p alone (--top-k 0)",
           *cli_sample(engine, qs, load_config(None), top_k=0))
    record("veritune sample, quickstart settings, 64 questions a batch",
           *cli_sample(engine, qs, load_config(None), batch_size=64, **QUICKSTART))
    record("veritune sample, quickstart settings with top-p alone",
           *cli_sample(engine, qs, load_config(None), batch_size=64, **{**QUICKSTART,
                                                                        "top_k": 0}))
    tokens, seconds, gens = eval_generate(engine, qs, cfg.prompt)
    record("veritune eval: greedy + best-of-4 (quickstart eval settings)", tokens, seconds,
           generations=gens, seconds_per_question=round(seconds / len(qs), 3))
    by = {r["name"]: r["tokens_per_second"] for r in rows}
    cli = by["veritune sample, CLI defaults (top-k 50)"]
    summary = {
        "cli_defaults_tokens_per_second": cli,
        "top_p_alone_vs_top_k_50": round(
            by["veritune sample, CLI defaults with top-p alone (--top-k 0)"] / cli, 3),
        "quickstart_top_p_alone_vs_top_k_50": round(
            by["veritune sample, quickstart settings with top-p alone"]
            / by["veritune sample, quickstart settings, 64 questions a batch"], 3)}
    if not args.skip_naive:
        summary["cli_defaults_vs_naive"] = round(
            cli / by["naive: generate per question, CLI default settings"], 2)
    quick = next(r for r in rows if r["name"].startswith("veritune sample, quickstart settings,"))
    ev = rows[-1]
    summary["eval_seconds_per_generation"] = round(ev["seconds"] / ev["generations"], 4)
    summary["sample_seconds_per_generation"] = round(quick["seconds"] / (len(qs) * 8), 4)
    result = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(),
                          "cpu_count": len(os.sched_getaffinity(0)),
                          "native_bf16": sorted(cpu_flags() & set(NATIVE_BF16_FLAGS)),
                          "dtype_auto": engine.dtype},
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "questions": len(qs), "summary": summary, "runs": rows,
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sampling_compare.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

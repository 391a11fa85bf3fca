"""Sampling and DPO training throughput on the embedded model; writes JSON.

    python benchmarks/throughput.py [--questions 32] [--pairs 32] [--out benchmarks/results]

Sampling: generated tokens/s at n=8 (quickstart settings) over kb questions.
Training: TRL DPO pairs/s (precomputed reference, quickstart train settings) on pairs made
from those samples with the lexical judge; the reference pass is timed separately.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from veritune.config import PairsConfig, TrainConfig, load_config
from veritune.data import kb_questions
from veritune.engines import SamplingParams
from veritune.engines.hf import HFEngine
from veritune.judge import LexicalJudge
from veritune.records import Sample, Verdict
from veritune.stages.pairs import build_pairs
from veritune.train import load_policy, run_dpo


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_sampling(questions, cfg) -> tuple[dict, list[Sample]]:
    engine = HFEngine("embedded")
    s = cfg.sample
    params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                            max_new_tokens=s.max_new_tokens, seed=0)
    from veritune.prompts import question_messages

    samples, tokens = [], 0
    start = time.perf_counter()
    for b in range(0, len(questions), s.batch_size):
        batch = questions[b:b + s.batch_size]
        gens = engine.generate([question_messages(q, cfg.prompt) for q in batch], params, b)
        for q, row in zip(batch, gens):
            for k, g in enumerate(row):
                tokens += g.n_tokens
                samples.append(Sample(q.id, k, g.text, n_tokens=g.n_tokens,
                                      truncated=g.truncated))
    seconds = time.perf_counter() - start
    return {"questions": len(questions), "n": s.n, "generated_tokens": tokens,
            "seconds": round(seconds, 2), "tokens_per_second": round(tokens / seconds, 1),
            "max_new_tokens": s.max_new_tokens, "batch_questions": s.batch_size}, samples


def bench_dpo(pairs, cfg: TrainConfig) -> dict:
    model, tokenizer = load_policy("embedded")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        _, history = run_dpo(model, tokenizer, pairs, cfg, Path(tmp), seed=0, with_sft=False)
        seconds = time.perf_counter() - start
    runtime = next((h["train_runtime"] for h in history if "train_runtime" in h), seconds)
    return {"pairs": len(pairs), "batch_size": cfg.batch_size, "max_length": cfg.max_length,
            "seconds_total": round(seconds, 2), "seconds_train_loop": round(runtime, 2),
            "seconds_reference_and_setup": round(seconds - runtime, 2),
            "pairs_per_second": round(len(pairs) / runtime, 3),
            "pairs_per_second_incl_reference": round(len(pairs) / seconds, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--questions", type=int, default=32)
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    cfg = load_config(args.config)
    questions = kb_questions(seed=0)[::7][:args.questions]
    result = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "cpu": platform.processor()}}
    result["sampling"], samples = bench_sampling(questions, cfg)
    judge = LexicalJudge.for_questions(kb_questions(seed=0))
    qmap = {q.id: q for q in questions}
    verdicts = [Verdict(s.question_id, s.index, j.label)
                for s, j in zip(samples, judge.judge_many([(qmap[s.question_id], s.text)
                                                           for s in samples]))]
    pairs, _ = build_pairs(qmap, samples, verdicts, PairsConfig(max_pairs_per_question=8),
                           cfg.prompt)
    train_cfg = cfg.train
    train_cfg.logging_steps = 1000
    result["dpo"] = bench_dpo(pairs[:args.pairs], train_cfg)
    result["peak_rss_mb"] = peak_rss_mb()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

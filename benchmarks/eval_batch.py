"""Greedy answers a second against the evaluation's batch size, on the run's own questions;
writes JSON. Greedy decoding of short answers is bound by one forward pass a token, so a
larger batch costs a step little more where the CPU multiplies bf16 matrices natively (AMX).

    python benchmarks/eval_batch.py --model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --questions runs/nq_open/seed0/questions.jsonl --split validation --batch-sizes 64,128,256

Same prompts, same greedy settings (32 new tokens, the run's prompt) at each size; reports
questions/s, seconds, and how many answers differ from the first size's (padding changes
the numbers a little in bf16, so a few greedy answers may differ).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from veritune.engines.hf import HFEngine
from veritune.jsonl import read_records
from veritune.prompts import question_messages
from veritune.records import Question
from veritune.tasks.generation import generate_greedy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--questions", required=True, help="a run's questions.jsonl")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--prompt", default="Answer with just the answer. {question}")
    ap.add_argument("--batch-sizes", default="64,128,256")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--out", default="benchmarks/results/eval_batch.json")
    args = ap.parse_args()
    questions = [q for q in read_records(args.questions, Question.from_dict)
                 if q.split == args.split]
    prompts = [question_messages(q, args.prompt) for q in questions]
    start = time.perf_counter()
    engine = HFEngine(args.model, dtype=args.dtype)
    load = time.perf_counter() - start
    generate_greedy(engine, prompts[:8], args.max_new_tokens, 8, desc="warm-up")
    rows, first = [], None
    for size in (int(s) for s in args.batch_sizes.split(",")):
        start = time.perf_counter()
        gens = generate_greedy(engine, prompts, args.max_new_tokens, size, desc=f"batch {size}")
        seconds = time.perf_counter() - start
        texts = [g.text for g in gens]
        first = first or texts
        rows.append({"batch_size": size, "seconds": round(seconds, 1),
                     "questions_per_s": round(len(prompts) / seconds, 3),
                     "tokens_per_s": round(sum(g.n_tokens for g in gens) / seconds, 1),
                     "answers_differing_from_first": sum(a != b for a, b in zip(texts, first))})
        print(json.dumps(rows[-1]))
    result = {"model": args.model, "dtype": engine.dtype, "questions": len(prompts),
              "split": args.split, "max_new_tokens": args.max_new_tokens, "rows": rows,
              "model_load_seconds": round(load, 1),
              "conditions": {"machine": platform.processor() or platform.machine(),
                             "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                             "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                             "date": time.strftime("%Y-%m-%d %H:%M")}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

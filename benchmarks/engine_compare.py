"""llama.cpp (xllamacpp) against transformers on the same GGUF model, settings and machine.

    pip install xllamacpp==2026.10.11549        # a prebuilt wheel; not a veritune dependency
    python benchmarks/engine_compare.py --model ~/.cache/veritune/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

Two workloads on NQ-open questions, as the pipeline runs them: sampling (8 answers a question
at T 1.4, top-p 0.9, top-k 50, 32 new tokens: the sample stage) and greedy answers (the eval
stage). transformers runs veritune's hf engine in bf16 and float32 (its batch as the configs
set it); llama.cpp runs its embedded server (continuous batching over ``n_parallel`` slots,
``n`` completions a request, 2 threads, OMP_WAIT_POLICY=PASSIVE) on the quantized file itself.
Tokens are counted with the model's tokenizer on the text returned, the same for both. Writes
``benchmarks/results/engine_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from veritune.data.files import find_data  # noqa: E402
from veritune.engines import SamplingParams  # noqa: E402
from veritune.engines.hf import HFEngine  # noqa: E402

PROMPT = "Answer with just the answer. "


def questions(n: int) -> list[str]:
    path = find_data("nq_open_efficientqa_dev.jsonl", "the NQ-open EfficientQA dev file")
    return [json.loads(line)["question"] for line in path.read_text().splitlines()[:n]]


def hf(model: str, dtype: str, qs: list[str], n: int, batch: int) -> dict:
    engine = HFEngine(model, dtype=dtype, device="cpu")
    params = SamplingParams(n=n, temperature=1.4 if n > 1 else 0.0, top_p=0.9, top_k=50,
                            max_new_tokens=32, seed=0)
    start, tokens = time.perf_counter(), 0
    for b in range(0, len(qs), batch):
        rows = engine.generate([[{"role": "user", "content": PROMPT + q}]
                                for q in qs[b:b + batch]], params, batch_index=b)
        tokens += sum(g.n_tokens for row in rows for g in row)
    seconds = time.perf_counter() - start
    return {"engine": "hf", "dtype": dtype, "batch_questions": batch, "seconds": round(seconds, 1),
            "tokens": tokens, "tokens_per_second": round(tokens / seconds, 1),
            "questions_per_second": round(len(qs) / seconds, 2)}


def llama_cpp(model: str, qs: list[str], n: int, slots: int, tokenizer) -> dict:
    import xllamacpp as xlc  # deferred: optional, measured here only

    params = xlc.CommonParams()
    params.model.path = str(Path(model).expanduser())
    params.n_parallel, params.n_ctx, params.n_batch = slots, 256 * slots, 2048
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 2
    server = xlc.Server(params)

    def ask(q: str, seed: int) -> dict:
        return server.handle_chat_completions({
            "messages": [{"role": "user", "content": PROMPT + q}], "max_tokens": 32,
            "temperature": 1.4 if n > 1 else 0.0, "top_p": 0.9, "top_k": 50, "min_p": 0.0,
            "seed": seed, "n": n})

    start = time.perf_counter()
    with ThreadPoolExecutor(max(1, slots // n)) as pool:
        replies = list(pool.map(ask, qs, range(len(qs))))
    seconds = time.perf_counter() - start
    texts = [c["message"]["content"] for r in replies for c in r["choices"]]
    tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    return {"engine": "llama.cpp (xllamacpp)", "slots": slots, "seconds": round(seconds, 1),
            "tokens": tokens, "tokens_per_second": round(tokens / seconds, 1),
            "questions_per_second": round(len(qs) / seconds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a local GGUF file")
    ap.add_argument("--questions", type=int, default=64)
    ap.add_argument("--out", default="benchmarks/results/engine_compare.json")
    args = ap.parse_args()
    qs = questions(args.questions)
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() \
        else set()
    result = {"model": Path(args.model).name, "questions": len(qs),
              "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                          "amx_bf16": "amx_bf16" in flags, "avx512_bf16": "avx512_bf16" in flags},
              "sampling": [], "greedy": []}
    result["sampling"].append(hf(args.model, "bfloat16", qs, 8, 32))
    result["sampling"].append(hf(args.model, "float32", qs[:32], 8, 16))
    tokenizer = HFEngine(args.model, dtype="bfloat16", device="cpu").tokenizer
    result["sampling"].append(llama_cpp(args.model, qs, 8, 64, tokenizer))
    result["greedy"].append(hf(args.model, "bfloat16", qs, 1, 64))
    result["greedy"].append(llama_cpp(args.model, qs, 1, 32, tokenizer))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

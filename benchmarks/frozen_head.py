"""The CPU's bf16 matmul on a frozen output layer, with and without a contiguous input
(``veritune/engines/head.py``); writes JSON.

    python benchmarks/frozen_head.py [--model PATH.gguf --adapter]   # JSON on stdout

1. The output layer alone (151,936 x 1,536 bf16, the 1.5B's): a [64, 1, 1,536] input, the
   last position sliced from [64, 20, 1,536] as ``logits_to_keep=1`` gives it, before and
   after one call on the slice, with the weight frozen (requires_grad False: a LoRA base) and
   not. Each figure is the best of 3 calls, in a fresh process per case (the slow path, once
   taken, stays for the process).
2. With ``--model``: 64 NQ-open greedy answers (24 tokens) of that model with a LoRA adapter
   (r 16, q/k/v/o, random B), with the hook and without, and of the base; and the
   log-likelihood of 64 (question, reference answer) rows (the guard's multiple-choice path)
   with the adapters in float32 and in the base's dtype.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CASE = r"""
import json, sys, time, warnings, torch
import torch.nn.functional as F
warnings.simplefilter("ignore")
frozen, first = sys.argv[1] == "frozen", sys.argv[2]
w = torch.randn(151936, 1536, dtype=torch.bfloat16).requires_grad_(not frozen)
big = torch.randn(64, 20, 1536, dtype=torch.bfloat16)
inputs = {"slice": lambda: big[:, -1:, :], "contiguous": lambda: big[:, -1:, :].contiguous()}
def best(x):
    times = []
    for _ in range(3):
        t = time.perf_counter()
        with torch.inference_mode():
            F.linear(x, w)
        times.append(time.perf_counter() - t)
    return round(min(times), 4)
out = {"first": best(inputs[first]())}
out["contiguous_after"] = best(inputs["contiguous"]())
print(json.dumps(out))
"""


def head_cases() -> dict:
    out = {}
    for frozen in ("frozen", "trainable"):
        for first in ("contiguous", "slice"):
            r = subprocess.run([sys.executable, "-c", CASE, frozen, first], check=True,
                               capture_output=True, text=True)
            out[f"{frozen}_{first}_first"] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def answers(model: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from veritune.data.files import resolve
    from veritune.data.loaders import load_questions
    from veritune.engines import SamplingParams
    from veritune.engines.hf import HFEngine
    from veritune.prompts import question_messages

    qs = load_questions(resolve("data:nq_open_efficientqa_dev.jsonl"))[:64]
    prompts = [question_messages(q) for q in qs]
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=24)
    out = {}
    for hook in (True, False):
        engine = HFEngine(model, dtype="auto")
        if not hook:  # undo the hook HFEngine put on
            engine.model.get_output_embeddings()._forward_pre_hooks.clear()
        base_s = None
        if hook:
            t = time.perf_counter()
            engine.generate(prompts, params)
            base_s = round(time.perf_counter() - t, 1)
            t = time.perf_counter()
            engine.loglikelihood([(m, " " + q.answers[0]) for m, q in zip(prompts, qs)])
            out["loglikelihood_base_s"] = round(time.perf_counter() - t, 1)
        torch.manual_seed(0)
        peft = get_peft_model(engine.model, LoraConfig(
            r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=1e-4)
        engine.model = peft.get_base_model().eval()
        t = time.perf_counter()
        engine.generate(prompts, params)
        key = "with_hook" if hook else "without_hook"
        out[f"adapter_{key}_s"] = round(time.perf_counter() - t, 1)
        if base_s is not None:
            out["base_s"] = base_s
        if hook:
            rows = [(m, " " + q.answers[0]) for m, q in zip(prompts, qs)]
            for dtype in ("float32", "bfloat16"):
                for name, p in engine.model.named_parameters():
                    if "lora_" in name:
                        p.data = p.data.to(getattr(torch, dtype))
                t = time.perf_counter()
                engine.loglikelihood(rows)
                out[f"loglikelihood_adapters_{dtype}_s"] = round(time.perf_counter() - t, 1)
        del engine, peft
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a local GGUF or model folder for part 2")
    args = ap.parse_args()
    result = {"output_layer_seconds": head_cases()}
    if args.model:
        result["answers_64"] = {"model": args.model, **answers(args.model)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

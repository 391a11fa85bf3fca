"""What a training checkpoint costs on the embedded model (shared backend): seconds to write one
(aside, fsynced, renamed) and to read it back, and its size, for a full fine-tune and for LoRA;
beside it, the seconds of one optimiser step, to size ``train.save_steps``.

    python benchmarks/checkpoint_cost.py   # writes benchmarks/results/checkpoint_cost.json

One step = a batch of 8 PKUE-shaped pairs (prompt, chosen, rejected), fp32 (``bf16: false``),
the shared backend's forward and backward, fused AdamW. The machine's load is recorded.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from veritune.config import LoraConfig, TrainConfig
from veritune.records import Pair
from veritune.train.policy import load_policy, peft_config
from veritune.train.checkpoint import StepCheckpoints
from veritune.train.prompt_sharing import answer_logps, encode_pair
from veritune.train.schedule import make_scheduler

FACTS = [("What is the capital of France?", "Paris", "Lyon"),
         ("What is the chemical symbol of iron?", "Fe", "Ir"),
         ("On which continent is Kenya?", "Africa", "Asia"),
         ("What is the capital of the US state of Ohio?", "Columbus", "Cleveland"),
         ("What is the atomic number of carbon?", "6", "12"),
         ("What is the currency of Japan?", "Yen", "Won"),
         ("What is the capital of Italy?", "Rome", "Milan"),
         ("On which continent is Peru?", "South America", "Africa")]


def measure(lora: bool) -> dict:
    cfg = TrainConfig(backend="shared", bf16=False, lora=LoraConfig(enabled=lora))
    model, tok = load_policy("embedded")
    if lora:
        from peft import get_peft_model

        model = get_peft_model(model, peft_config(cfg))
    pairs = [Pair(f"q{i}", [{"role": "user", "content": q}], good, bad)
             for i, (q, good, bad) in enumerate(FACTS)]
    enc = [encode_pair(tok, p, 96) for p in pairs]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0, fused=True)
    sched = make_scheduler(cfg, opt, 10)
    model.train()
    start = time.perf_counter()
    c, r = answer_logps(model, enc, tok.pad_token_id)
    (-(c - r).sigmoid().log().mean()).backward()
    opt.step()
    sched.step()
    step_s = time.perf_counter() - start
    folder = Path(tempfile.mkdtemp(dir=os.environ.get("TMPDIR", "/tmp")))
    try:
        store = StepCheckpoints(folder)
        ref = torch.zeros(len(pairs))
        start = time.perf_counter()
        path = store.save(1, model, opt, sched, {"ref_chosen": ref, "ref_rejected": ref},
                          {"steps": [[list(range(8))]], "history": [], "window": {},
                           "loss_sum": 0.0, "select": None})
        save_s = time.perf_counter() - start
        size = sum(f.stat().st_size for f in path.iterdir())
        start = time.perf_counter()
        store.load(path, model, opt, sched)
        load_s = time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"step_seconds": round(step_s, 2), "save_seconds": round(save_s, 2),
            "load_seconds": round(load_s, 2), "checkpoint_mb": round(size / 2**20, 1),
            "trainable_parameters": sum(p.numel() for p in params)}


def main() -> None:
    torch.set_num_threads(1)
    out = {"conditions": {"cpus": os.cpu_count(), "threads": 1, "machine": platform.machine(),
                          "load_average_before": os.getloadavg(),
                          "torch": torch.__version__},
           "full": measure(lora=False), "lora": measure(lora=True)}
    out["conditions"]["load_average_after"] = os.getloadavg()
    dest = Path(__file__).parent / "results" / "checkpoint_cost.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

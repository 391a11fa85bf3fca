"""DPO training speed and equality, side by side; writes benchmarks/results/dpo_compare.json.

    python benchmarks/dpo_compare.py [--pairs FILE] [--n 128] [--out benchmarks/results]

The pairs (default ``benchmarks/data/kb_self_pairs.jsonl``): PKUE self pairs the pipeline
built from the embedded model's own samples on kb questions (seed 0), about 4 pairs a
question. Every run trains the embedded model on the same first ``n`` pairs for one epoch,
batch 8, lr 1e-5, beta 0.1, seed 0, in its own process (so peak RSS is its own):

- ``trl_defaults``: TRL's DPOTrainer with only those settings, as a user would run it (its
  own shuffling; a reference model copy run at every step; max length 1024).
- ``trl_same_batches``: the same trainer fed veritune's batches in veritune's order (a
  sequential sampler), so that its per-step losses can be compared with veritune's.
- ``shared``: veritune's ``train.backend: shared`` with its default grouped batches.
- ``shared_ungrouped``: the same with ``group_by_prompt: false`` (pairs shuffled freely).
- ``trl_lora`` and ``shared_lora``: both with LoRA (r 16, alpha 32, q/k/v/o projections),
  TRL on veritune's batches; TRL's reference is the adapter-disabled base, veritune's the base
  computed before training.
- ``gradients``: TRL's loss and gradient on the first batch beside veritune's, in one process.

``roofline_fraction``: the tokens a plain DPO step runs (prompt + answer, twice a pair) per
second, over the ~90 tokens/s this CPU's fp32 FLOPs allow for policy forward + backward plus
the reference forward. Above 1 means less work than plain DPO (or bf16 arithmetic), not a
faster CPU.

Per-step losses of two correct implementations drift apart after the first step: Adam's
first update is about lr * sign(gradient) for every weight, so the many weights whose gradient
is float noise (under 1e-6) move by a full step in a noise-given direction. The gradient
comparison is the exact check; the loss curves are the statistical one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_PAIRS = Path(__file__).parent / "data" / "kb_self_pairs.jsonl"
RUNS = ("trl_defaults", "trl_same_batches", "shared", "shared_ungrouped", "trl_lora",
        "shared_lora", "gradients")


def load(pairs_file: str, n: int):
    from veritune.jsonl import read_records
    from veritune.records import Pair

    return read_records(pairs_file, Pair.from_dict, unique=False)[:n]


def veritune_batches(pairs, tok, cfg) -> list[list[int]]:
    from veritune.train.prompt_sharing import batch_order, encode_pair

    encoded = [encode_pair(tok, p, cfg.max_length) for p in pairs]
    return batch_order(encoded, cfg.batch_size, cfg.epochs, 0, cfg.group_by_prompt)


ROOFLINE_TOKENS_PER_S = 90  # ~95 GFLOP/s / (0.27 GFLOP x (3 policy fwd+bwd + 1 reference))


def sequence_tokens(pairs_file: str, n: int) -> int:
    """Tokens a plain DPO step runs: prompt + chosen and prompt + rejected, every pair."""
    from transformers import AutoTokenizer

    from veritune.engines.embedded import resolve_model
    from veritune.train.prompt_sharing import encode_pair

    tok = AutoTokenizer.from_pretrained(resolve_model("embedded"))
    return sum(2 * len(e.prompt) + len(e.chosen) + len(e.rejected)
               for e in (encode_pair(tok, p, 1024) for p in load(pairs_file, n)))


def gradients(pairs_file: str) -> dict:
    """TRL's loss and gradient on the first batch of 8 pairs vs veritune's, one process."""
    import torch
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from veritune.train import load_policy
    from veritune.train.losses import dpo_loss
    from veritune.train.prompt_sharing import answer_logps, encode_pair, reference_logps

    pairs = load(pairs_file, 8)
    model, tok = load_policy("embedded")
    with tempfile.TemporaryDirectory() as tmp:
        args = DPOConfig(output_dir=tmp, per_device_train_batch_size=8, beta=0.1, report_to=[],
                         use_cpu=True, train_sampling_strategy="sequential")
        trainer = DPOTrainer(model=model, args=args, processing_class=tok,
                             train_dataset=Dataset.from_list([p.to_trl() for p in pairs]))
        model.train()
        trl_loss = trainer.compute_loss(model, next(iter(trainer.get_train_dataloader())))
        trl_loss.backward()
    names = [n for n, p in model.named_parameters() if p.grad is not None]
    trl_grad = torch.cat([p.grad.flatten() for n, p in model.named_parameters() if n in names])
    model.zero_grad()
    model.gradient_checkpointing_disable()
    encoded = [encode_pair(tok, p, 1024) for p in pairs]
    ref_c, ref_r = reference_logps(model, encoded, tok.pad_token_id, 8)
    model.train()
    loss = dpo_loss(*answer_logps(model, encoded, tok.pad_token_id), ref_c, ref_r, 0.1)[0].mean()
    loss.backward()
    grad = torch.cat([p.grad.flatten() for n, p in model.named_parameters() if n in names])
    big = trl_grad.abs() > 1e-6
    return {"trl_loss": round(float(trl_loss), 6), "shared_loss": round(float(loss), 6),
            "trl_grad_norm": round(float(trl_grad.norm()), 4),
            "shared_grad_norm": round(float(grad.norm()), 4),
            "relative_grad_difference": round(float((trl_grad - grad).norm() / trl_grad.norm()), 5),
            "sign_agreement_where_abs_grad_over_1e-6": round(
                float((trl_grad.sign() == grad.sign())[big].float().mean()), 5),
            "share_of_grads_under_1e-6": round(float((~big).float().mean()), 4)}


def worker(kind: str, pairs_file: str, n: int) -> dict:
    import torch

    from veritune.config import LoraConfig, TrainConfig
    from veritune.train.policy import load_policy, peft_config
    from veritune.train.prompt_sharing import PromptSharingDPO

    pairs = load(pairs_file, n)
    model, tok = load_policy("embedded")
    cfg = TrainConfig(batch_size=8, learning_rate=1e-5, epochs=1, beta=0.1, max_length=1024,
                      logging_steps=1, backend="shared",
                      group_by_prompt=kind != "shared_ungrouped",
                      lora=LoraConfig(enabled=kind.endswith("lora")))
    peft = peft_config(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if kind.startswith("trl"):
            from datasets import Dataset
            from trl import DPOConfig, DPOTrainer

            same = {}
            if kind in ("trl_same_batches", "trl_lora"):  # the dataset in veritune's order, read in order
                pairs = [pairs[i] for b in veritune_batches(pairs, tok, cfg) for i in b]
                same = {"train_sampling_strategy": "sequential"}
            args = DPOConfig(output_dir=tmp, per_device_train_batch_size=8, learning_rate=1e-5,
                             num_train_epochs=1, beta=0.1, seed=0, report_to=[],
                             save_strategy="no", logging_steps=1, use_cpu=True, **same)
            trainer = DPOTrainer(model=model, args=args, processing_class=tok, peft_config=peft,
                                 train_dataset=Dataset.from_list([p.to_trl() for p in pairs]))
            trainer.train()
            history = trainer.state.log_history
        else:
            if peft is not None:
                from peft import get_peft_model

                torch.manual_seed(0)  # the adapters' initialisation, as train() seeds it
                model = get_peft_model(model, peft)
            history = PromptSharingDPO(model, tok, pairs, cfg, seed=0).run()
        seconds = time.perf_counter() - start
    steps = [h for h in history if "loss" in h]
    return {"run": kind, "pairs": len(pairs), "seconds": round(seconds, 2),
            "pairs_per_second": round(len(pairs) / seconds, 3), "steps": len(steps),
            "losses": [round(h["loss"], 5) for h in steps],
            "margins": [round(h["rewards/margins"], 5) for h in steps],
            "last_loss": steps[-1]["loss"], "last_margin": steps[-1]["rewards/margins"],
            "mean_loss": round(sum(h["loss"] for h in steps) / len(steps), 5),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default=str(DEFAULT_PAIRS))
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--worker", default="")
    args = ap.parse_args()
    if args.worker:
        out = gradients(args.pairs) if args.worker == "gradients" else \
            worker(args.worker, args.pairs, args.n)
        print(json.dumps(out))
        return
    runs = {}
    for kind in args.runs.split(","):
        done = subprocess.run([sys.executable, __file__, "--worker", kind, "--pairs", args.pairs,
                               "--n", str(args.n)], capture_output=True, text=True,
                              env={**os.environ, "VERITUNE_QUIET": "1"})
        if done.returncode:
            sys.exit(f"{kind} failed:\n{done.stderr[-3000:]}")
        runs[kind] = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps({k: v for k, v in runs[kind].items() if k not in ("losses", "margins")}),
              flush=True)
    tokens = sequence_tokens(args.pairs, args.n)
    for r in runs.values():
        if "seconds" in r:  # the plain-DPO tokens each run got through, per second
            r["sequence_tokens_per_second"] = round(tokens / r["seconds"], 1)
            r["roofline_fraction"] = round(tokens / r["seconds"] / ROOFLINE_TOKENS_PER_S, 2)
    result = {"machine": {"python": platform.python_version(),
                          "cpus": len(os.sched_getaffinity(0))},
              "pairs_file": os.path.relpath(args.pairs), "n": args.n, "sequence_tokens": tokens,
              "roofline_tokens_per_second": ROOFLINE_TOKENS_PER_S, "runs": list(runs.values())}
    if "gradients" in runs:
        result["first_batch_gradients"] = runs.pop("gradients")
    result["runs"] = list(runs.values())
    base = runs.get("trl_defaults")
    if base:
        result["speedup_vs_trl_defaults"] = {
            k: round(r["pairs_per_second"] / base["pairs_per_second"], 2) for k, r in runs.items()}
    for trl, ours in (("trl_same_batches", "shared"), ("trl_lora", "shared_lora")):
        if trl in runs and ours in runs:
            a, b = runs[trl], runs[ours]
            diffs = [abs(x - y) for x, y in zip(a["losses"], b["losses"])]
            result[f"same_batches_{ours}"] = {
                "speedup": round(b["pairs_per_second"] / a["pairs_per_second"], 2),
                "mean_abs_loss_difference": round(sum(diffs) / len(diffs), 5),
                "max_abs_loss_difference": round(max(diffs), 5),
                "mean_loss": [a["mean_loss"], b["mean_loss"]]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dpo_compare.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()

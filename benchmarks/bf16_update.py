"""How much of a fine-tune's weight update survives loading the weights in bfloat16.

For each seed of a run: the update d = tuned - base (float32, as saved) against the update
bf16 loading leaves, round(tuned) - round(base); their cosine, the norm ratio, and the share of
the weights training changed whose bf16 value stayed the same. The accuracy figures beside
them come from `veritune run` scored both ways (docs/RESULTS.md, "Scoring in bf16").

    python benchmarks/bf16_update.py runs/kb --base ~/.cache/veritune/models/SmolLM2-135M-Instruct \
        --out benchmarks/results/bf16_update.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file


def update_survival(tuned_file: Path, base_file: Path) -> dict:
    tuned, base = load_file(tuned_file), load_file(base_file)
    dot = full = rounded = 0.0
    changed = kept = total = 0
    for name, t in tuned.items():
        t, b = t.float(), base[name].float()
        d = t - b
        r = t.bfloat16().float() - b.bfloat16().float()
        dot += float((d * r).sum())
        full += float((d * d).sum())
        rounded += float((r * r).sum())
        moved = d != 0
        changed += int(moved.sum())
        kept += int((moved & (r == 0)).sum())
        total += d.numel()
    return {"cosine": round(dot / (full * rounded) ** 0.5, 4),
            "norm_ratio_bf16_to_fp32": round((rounded / full) ** 0.5, 3),
            "changed_share": round(changed / total, 4),
            "changed_but_same_in_bf16_share": round(kept / changed, 4),
            "update_rms": float((full / total) ** 0.5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder (with seed<s>/ folders) or one seed's")
    ap.add_argument("--base", type=Path, required=True, help="the base model's folder")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    seeds = sorted(args.run.glob("seed*/model/model.safetensors")) or \
        [args.run / "model" / "model.safetensors"]
    result = {str(f.parent.parent.name): update_survival(f, args.base / "model.safetensors")
              for f in seeds}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    with torch.no_grad():
        main()

"""Weight interpolation (WiSE-FT) as a lever against the out-of-domain fall: replace a run's
tuned model by alpha * tuned + (1 - alpha) * base, and clear its tuned evaluation so that the
next `veritune run` evaluates the interpolated model (training stays up to date).

    cp -r runs/kb_sftdpo/seed0 runs/kb_wise05/seed0
    python benchmarks/interpolate_run.py runs/kb_wise05/seed0 --alpha 0.5 \
        --base ~/.cache/veritune/models/SmolLM2-135M-Instruct
    veritune run configs/kb.yaml --seeds 0 --set name=kb_wise05 --set 'eval.splits=[validation]'

Full fine-tunes only (a LoRA run's adapters: scale lora.alpha instead).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file


def interpolate(seed_dir: Path, base_dir: Path, alpha: float) -> None:
    path = seed_dir / "model" / "model.safetensors"
    tuned, base = load_file(path), load_file(base_dir / "model.safetensors")
    if set(tuned) != set(base):
        raise SystemExit(f"{path}: tensors differ from {base_dir} (not the same architecture)")
    mixed = {k: (alpha * t.float() + (1 - alpha) * base[k].float()).to(t.dtype).contiguous()
             for k, t in tuned.items()}
    save_file(mixed, path, metadata={"format": "pt"})
    manifest = seed_dir / "manifest.json"
    data = json.loads(manifest.read_text())
    for stage in ("eval/tuned", "eval/guard"):
        data["stages"].pop(stage, None)
    manifest.write_text(json.dumps(data, indent=1))
    for stale in ("eval/tuned", "eval/guard/tuned", "eval/guard/compare.json"):
        target = seed_dir / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seed_dir", type=Path, help="runs/<name>/seed<s> of a finished run (a copy)")
    ap.add_argument("--base", type=Path, required=True, help="the base model's folder")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of the tuned model")
    args = ap.parse_args()
    interpolate(args.seed_dir, args.base.expanduser(), args.alpha)
    print(f"{args.seed_dir}/model: {args.alpha} tuned + {1 - args.alpha:g} base")


if __name__ == "__main__":
    main()

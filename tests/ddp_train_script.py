"""Run by ``accelerate launch`` in test_distributed.py: veritune's DPO training on every rank,
then each rank writes a hash of its weights (they must be equal: DDP keeps ranks in sync).
A fourth argument, a file of anchor answers, adds the anchor term (weight 2) on TRL's trainer;
each rank then also writes the trained model's mean NLL of those anchors."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from accelerate import PartialState

from veritune.config import AnchorConfig, TrainConfig
from veritune.records import Pair
from veritune.train import train

model_dir, pairs_file, out_dir = sys.argv[1:4]
anchors_file = sys.argv[4] if len(sys.argv) > 4 else None
pairs = [Pair.from_dict(json.loads(x)) for x in Path(pairs_file).read_text().splitlines()]
anchors = [Pair.from_dict(json.loads(x)) for x in Path(anchors_file).read_text().splitlines()] \
    if anchors_file else []
cfg = TrainConfig(method="dpo", batch_size=2, epochs=1.0, learning_rate=1e-3, max_length=64,
                  logging_steps=1, bf16=False, save_steps=0,
                  anchor=AnchorConfig(questions="unused", weight=2.0, batch_size=2)
                  if anchors else None)
result = train(model_dir, pairs, [], cfg, out_dir, seed=0, anchors=anchors)
state = PartialState()
digest = hashlib.sha256()
for name, p in sorted(result["model"].named_parameters()):
    digest.update(name.encode())
    digest.update(p.detach().cpu().contiguous().numpy().tobytes())
losses = [row["loss"] for row in result["history"] if "loss" in row]
held = None
if anchors:
    import torch

    from veritune.train.prompt_sharing import anchor_nll, encode_pair

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    enc = [encode_pair(tok, Pair.from_dict({**a.to_dict(), "rejected": ""}), 10**9)
           for a in anchors]
    with torch.no_grad():
        held = float(anchor_nll(result["model"], enc, tok.pad_token_id or tok.eos_token_id))
Path(out_dir, f"rank{state.process_index}.json").write_text(json.dumps(
    {"sha": digest.hexdigest(), "world_size": result["world_size"], "losses": losses,
     "anchor_nll": held}))

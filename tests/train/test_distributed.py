"""Training on several processes: ``accelerate launch --num_processes 2`` on CPU (gloo), with
configs/accelerate/cpu_ddp.yaml; the two ranks must end with identical weights, and the saved
model must load and differ from the one trained from."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from veritune.config import AnchorConfig, TrainConfig
from veritune.records import Pair
from veritune.train import train
from veritune.train.prompt_sharing import anchor_nll, encode_pair

from conftest import SUBPROCESS_ENV

REPO = Path(__file__).resolve().parents[2]


FACTS = [("Capital of France?", "Paris", "Lyon"), ("Capital of Peru?", "Lima", "Cusco"),
         ("Symbol of iron?", "Fe", "Ir"), ("Largest ocean?", "Pacific", "Atlantic"),
         ("Capital of Japan?", "Tokyo", "Kyoto"), ("Symbol of gold?", "Au", "Ag"),
         ("Capital of Kenya?", "Nairobi", "Mombasa"), ("Red planet?", "Mars", "Venus")]
ANCHORS = [("Tell me about rivers.", "Rivers carry water to the sea."),
           ("What do cats eat?", "Cats mostly eat meat."),
           ("Describe the moon.", "The moon orbits the Earth."),
           ("Why is the sky blue?", "Air scatters blue light more than red.")]


def _pairs() -> list[Pair]:
    return [Pair(f"q{i}", [{"role": "user", "content": q}], good, bad, chosen_index=0,
                 rejected_index=1) for i, (q, good, bad) in enumerate(FACTS)]


def _anchors() -> list[Pair]:
    return [Pair(f"anchor-{i}", [{"role": "user", "content": q}], a, kind="anchor",
                 chosen_index=0) for i, (q, a) in enumerate(ANCHORS)]


def _write(path: Path, records: list[Pair]) -> Path:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    return path


def _launch(tmp_path, tiny_model_dir, *extra: Path) -> list[dict]:
    if shutil.which("accelerate") is None:
        pytest.skip("accelerate's launcher is not on PATH")
    pairs, out = _write(tmp_path / "pairs.jsonl", _pairs()), tmp_path / "out"
    done = subprocess.run(
        ["accelerate", "launch", "--config_file", str(REPO / "configs/accelerate/cpu_ddp.yaml"),
         "--main_process_port", "29517", str(REPO / "tests/ddp_train_script.py"),
         str(tiny_model_dir), str(pairs), str(out), *map(str, extra)],
        capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_the_anchor_term_on_two_processes(tmp_path, tiny_model_dir):
    """The anchor term on TRL's trainer under accelerate (2 processes, gloo): the ranks stay
    in sync, and the trained model holds the anchors as one process with the same effective
    batch does (within 15%)."""
    ranks = _launch(tmp_path, tiny_model_dir, _write(tmp_path / "anchors.jsonl", _anchors()))
    assert ranks[0]["sha"] == ranks[1]["sha"] and ranks[0]["losses"] == ranks[1]["losses"]
    cfg = TrainConfig(method="dpo", batch_size=4, epochs=1.0, learning_rate=1e-3,
                      max_length=64, logging_steps=1, bf16=False, save_steps=0,
                      anchor=AnchorConfig(questions="unused", weight=2.0, batch_size=4))
    one = train(str(tiny_model_dir), _pairs(), [], cfg, tmp_path / "one", seed=0,
                anchors=_anchors())
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    enc = [encode_pair(tok, Pair.from_dict({**a.to_dict(), "rejected": ""}), 10**9)
           for a in _anchors()]
    with torch.no_grad():
        single = float(anchor_nll(one["model"], enc, tok.pad_token_id or tok.eos_token_id))
    assert ranks[0]["anchor_nll"] == pytest.approx(single, rel=0.15)


@pytest.mark.slow
def test_dpo_on_two_processes_stays_in_sync(tmp_path, tiny_model_dir):
    ranks = _launch(tmp_path, tiny_model_dir)
    out = tmp_path / "out"
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["sha"] == ranks[1]["sha"]  # DDP kept the weights identical
    assert ranks[0]["losses"] and ranks[0]["losses"] == ranks[1]["losses"]  # averaged, logged

    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert model is not None and not (out / "checkpoints").exists()
    before, after = (load_file(str(d / "model.safetensors")) for d in (tiny_model_dir, out / "model"))
    assert any(not (before[k] == after[k]).all() for k in before)

"""Training on several processes: ``accelerate launch --num_processes 2`` on CPU (gloo), with
configs/accelerate/cpu_ddp.yaml; the two ranks must end with identical weights, and the saved
model must load and differ from the one trained from."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from veritune.records import Pair

from conftest import SUBPROCESS_ENV

REPO = Path(__file__).resolve().parents[2]


def test_dpo_on_two_processes_stays_in_sync(tmp_path, tiny_model_dir):
    if shutil.which("accelerate") is None:
        pytest.skip("accelerate's launcher is not on PATH")
    facts = [("Capital of France?", "Paris", "Lyon"), ("Capital of Peru?", "Lima", "Cusco"),
             ("Symbol of iron?", "Fe", "Ir"), ("Largest ocean?", "Pacific", "Atlantic"),
             ("Capital of Japan?", "Tokyo", "Kyoto"), ("Symbol of gold?", "Au", "Ag"),
             ("Capital of Kenya?", "Nairobi", "Mombasa"), ("Red planet?", "Mars", "Venus")]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(Pair(f"q{i}", [{"role": "user", "content": q}], good, bad,
                                             chosen_index=0, rejected_index=1).to_dict()) + "\n"
                             for i, (q, good, bad) in enumerate(facts)))
    out = tmp_path / "out"
    done = subprocess.run(
        ["accelerate", "launch", "--config_file", str(REPO / "configs/accelerate/cpu_ddp.yaml"),
         "--main_process_port", "29517", str(REPO / "tests/ddp_train_script.py"),
         str(tiny_model_dir), str(pairs), str(out)],
        capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["sha"] == ranks[1]["sha"]  # DDP kept the weights identical
    assert ranks[0]["losses"] and ranks[0]["losses"] == ranks[1]["losses"]  # averaged, logged

    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert model is not None and not (out / "checkpoints").exists()
    before, after = (load_file(str(d / "model.safetensors")) for d in (tiny_model_dir, out / "model"))
    assert any(not (before[k] == after[k]).all() for k in before)

"""train.rounds: iterative DPO. Round 2 samples from round 1's model into runs/<name>/round2/,
each round resumable; rounds.json chooses on validation; bad combinations refused at load."""

from __future__ import annotations

import json
import shutil

import pytest

from veritune.config import load_config
from veritune.errors import InputError
from veritune.pipeline.rounds import round_config, run_rounds
from veritune.pipeline.seeds import run_seeds
from veritune.runs.keys import StageKey

from helpers import invoke, pipeline_config, write_yaml


def test_refused_at_load_without_validation_or_with_an_adapter(tmp_path):
    with pytest.raises(InputError, match="train.rounds.*validation"):
        load_config(overrides=["train.rounds=2", "eval.splits=[test]"])
    with pytest.raises(InputError, match="train.rounds.*merged"):
        load_config(overrides=["train.rounds=2", "train.lora.enabled=true",
                               "train.lora.save=adapter", "eval.splits=[validation]"])


def test_the_rounds_count_leaves_round_one_keys_alone():
    one = load_config(overrides=["eval.splits=[validation]"])
    two = load_config(overrides=["eval.splits=[validation]", "train.rounds=3"])
    assert StageKey.of(one.train).hash == StageKey.of(two.train).hash
    nxt = round_config(two, 2, two.run_dir / "model")
    assert nxt.run_dir == two.run_dir / "round2" and nxt.model.name == str(two.run_dir / "model")
    assert nxt.train.rounds == 1 and two.train.rounds == 3  # the run's own config untouched


def two_rounds(tmp_path, model_dir) -> dict:
    """The tiny pipeline with a validation split and two rounds."""
    tree = pipeline_config(model_dir, tmp_path / "runs")
    tree["data"]["validation_fraction"] = 0.2
    tree["eval"] = {**tree["eval"], "splits": ["validation"], "best_of_n": 0}
    tree["train"]["rounds"] = 2
    return tree


@pytest.mark.slow
def test_two_rounds_on_the_tiny_model(tmp_path, answer_model_dir):
    tree = two_rounds(tmp_path, answer_model_dir)
    cfg = load_config(write_yaml(tmp_path / "tiny.yaml", tree))
    logs: list[str] = []
    summary = run_rounds(cfg, log=logs.append)
    round2 = cfg.run_dir / "round2"
    saved = json.loads((cfg.run_dir / "rounds.json").read_text())
    assert saved == summary and [r["round"] for r in saved["rounds"]] == [0, 1, 2]
    assert (round2 / "model").exists() and (round2 / "samples.jsonl").exists()
    # round 2 started from round 1's model, and its base evaluation is round 1's tuned model
    manifest = json.loads((round2 / "manifest.json").read_text())
    assert manifest["stages"]["sample"]["status"] == "done"
    base2 = json.loads((round2 / "eval" / "base" / "validation" / "metrics.json").read_text())
    tuned1 = json.loads((cfg.run_dir / "eval" / "tuned" / "validation" / "metrics.json")
                        .read_text())
    assert base2["accuracy"] == tuned1["accuracy"] == saved["rounds"][1]["validation_accuracy"]
    accs = [r["validation_accuracy"] for r in saved["rounds"]]
    best = max(range(3), key=lambda r: (accs[r], -r))
    assert saved["chosen"] == best and saved["chosen_model"] == saved["rounds"][best]["model"]
    assert any(line.startswith("== round 2 of 2") for line in logs)
    # one round is the run alone: no rounds.json
    single = load_config(write_yaml(tmp_path / "one.yaml", {**tree, "name": "one",
                                                            "train": {**tree["train"],
                                                                      "rounds": 1}}))
    assert run_rounds(single, stages=["data"], log=lambda s: None) == {}
    assert not (single.run_dir / "rounds.json").exists()
    # a second command finds every stage of both rounds done
    logs.clear()
    run_rounds(cfg, log=logs.append)
    for stage in ("sample", "judge", "pairs", "train"):
        assert [line for line in logs if line == f"{stage}: up to date"] == \
            [f"{stage}: up to date"] * 2, (stage, logs)


@pytest.mark.slow
def test_rounds_over_seeds_and_a_second_round_killed_in_training(tmp_path, answer_model_dir):
    tree = two_rounds(tmp_path, answer_model_dir)
    cfg = load_config(write_yaml(tmp_path / "tiny.yaml", tree))
    run_seeds(cfg, [0, 1], log=lambda line: None)
    # seed 1's second round killed while training: its train entry still "running", no model
    round2 = cfg.run_dir / "seed1" / "round2"
    manifest = json.loads((round2 / "manifest.json").read_text())
    manifest["stages"]["train"]["status"] = "running"
    for stage in [s for s in manifest["stages"] if s.startswith("eval/tuned")]:
        del manifest["stages"][stage]
    (round2 / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(round2 / "model")
    shutil.rmtree(round2 / "eval" / "tuned")
    logs: list[str] = []
    summary = run_seeds(cfg, [0, 1], log=logs.append)
    # nothing of the first rounds, nor round 2's samples, verdicts or pairs, ran again
    for stage, done in (("sample", 4), ("judge", 4), ("pairs", 4), ("train", 3)):
        assert logs.count(f"{stage}: up to date") == done, (stage, logs)
    assert (round2 / "model").exists()
    rounds = summary["rounds"]
    assert rounds["1"]["validation"]["change"] == summary["splits"]["validation"]["change"]
    assert rounds["2"]["validation"]["seeds"] == [0, 1]
    chosen = json.loads((cfg.run_dir / "seed1" / "rounds.json").read_text())["chosen"]
    assert rounds["chosen"][1] == chosen in (0, 1, 2)
    saved = json.loads((cfg.run_dir / "seeds_summary.json").read_text())
    assert set(saved["rounds"]) == {"chosen", "1", "2"}
    assert any(line.startswith("seeds round 2 validation") for line in logs)
    assert "## Rounds (iterative DPO) over seeds" in (cfg.run_dir / "report.md").read_text()


@pytest.mark.slow
def test_a_variant_of_two_rounds_in_ablate_over_seeds(tmp_path, answer_model_dir):
    tree = two_rounds(tmp_path, answer_model_dir)
    del tree["train"]["rounds"]
    tree.update(name="abl", description="shared")
    d = tmp_path / "abl"
    d.mkdir()
    write_yaml(d / "_base.yaml", tree)
    (d / "pkue.yaml").write_text("extends: _base.yaml\ndescription: one round\n")
    (d / "twice.yaml").write_text("extends: _base.yaml\ndescription: two rounds\n"
                                  "train: {rounds: 2}\n")
    invoke("ablate", d, "--seeds", "0,1")
    root = tmp_path / "runs" / "abl"
    summary = json.loads((root / "seeds_summary.json").read_text())
    twice = summary["variants"]["twice"]
    assert twice["final"] == "round2" and "final" not in summary["variants"]["pkue"]
    for row in twice["splits"]["validation"]["per_seed"]:
        seed = root / f"seed{row['seed']}"
        tuned = json.loads((seed / "twice" / "round2" / "eval" / "tuned" / "validation" /
                            "metrics.json").read_text())
        base = json.loads((seed / "eval" / "base" / "validation" / "metrics.json").read_text())
        # the second round's model, against the base model (not against round 1's)
        assert row["tuned"] == pytest.approx(tuned["accuracy"], abs=1e-4)
        assert row["base"] == pytest.approx(base["accuracy"], abs=1e-4)
    assert set(twice["rounds"]) == {"chosen", "1", "2"}
    # round 1 of "twice" is "pkue" (same config, same seed): pkue's run, copied, not trained
    assert twice["rounds"]["1"]["validation"]["change"] == \
        summary["variants"]["pkue"]["splits"]["validation"]["change"]
    for seed in (0, 1):
        stages = [json.loads((root / f"seed{seed}" / v / "manifest.json").read_text())["stages"]
                  for v in ("pkue", "twice")]
        assert stages[0]["train"]["finished"] == stages[1]["train"]["finished"]

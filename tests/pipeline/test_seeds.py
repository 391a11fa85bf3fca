"""Seeds as an axis (``run --seeds``, ``ablate --seeds``), the data seed, and the
out-of-domain guard's paired comparison, on the hand-built answer model (conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from veritune.config import DataConfig, EvalConfig, RunConfig
from veritune.data.questions import build_questions
from veritune.errors import InputError
from veritune.pipeline.seeds import parse_seeds
from veritune.runs.keys import hashable
from veritune.stages.guard import compare_guard, guard_tasks

from helpers import invoke, pipeline_config, write_yaml

TQA = ("Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
       "A,Misc,What color is the sky?,Blue,Blue; Bluish,Green; Red,x\n"
       "A,Misc,How many legs has a cat?,Four,Four; 4,Three; Five,x\n"
       "A,Misc,What is ice made of?,Water,Water; Frozen water,Fire; Sand,x\n"
       "A,Misc,Where is Paris?,France,France,Spain; Italy,x\n")
NQ = "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in [
    ("which continent is kenya in", ["Africa"]), ("which continent is japan in", ["Asia"]),
    ("which continent is spain in", ["Europe"]), ("which continent is peru in", ["South America"])])


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# -- the data seed ---------------------------------------------------------------------------
def test_data_seed_holds_the_split_while_the_seed_changes():
    def ids(seed, data_seed=None):
        cfg = RunConfig(seed=seed, data=DataConfig(max_entities_per_domain=8, seed=data_seed))
        return [(q.id, q.split) for q in build_questions(cfg)]

    assert ids(0, data_seed=5) == ids(1, data_seed=5) == ids(7, data_seed=5)
    assert ids(3) == ids(9, data_seed=3)  # None: follows the run's seed
    assert ids(0, data_seed=5) != ids(0, data_seed=6)


def test_new_keys_leave_earlier_hashes_alone():
    assert "seed" not in hashable(DataConfig())
    assert not {"guard", "guard_limit"} & set(hashable(EvalConfig()))
    assert RunConfig(seed=4).data_seed == 4
    assert RunConfig(seed=4, data=DataConfig(seed=1)).data_seed == 1


def test_parse_seeds():
    assert parse_seeds("0,1, 2") == [0, 1, 2]
    for bad in ("", "0,0", "a,1", "-1"):
        with pytest.raises(InputError, match="--seeds"):
            parse_seeds(bad)


# -- the guard's paired comparison -----------------------------------------------------------
def write_examples(path: Path, rows: list[dict]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_guard_compares_the_same_items_by_hand(tmp_path):
    """nq_open: base right on q1, q2; tuned right on q1 only, and it has an item the base
    lacks (q9: unpaired, left out). Changes per item [0, -1, 0, 0]: mean -0.25; a
    replicate's mean is -k/4 with k ~ Binomial(4, 1/4): interval [-0.75, 0], no clear fall.
    truthfulqa_mc MC2 falls by 0.2 on each of 3 items: interval [-0.2, -0.2]: a fall."""
    lab = lambda i, ok: {"id": f"q{i}", "label": "correct" if ok else "incorrect"}  # noqa: E731
    write_examples(tmp_path / "base/nq_open", [lab(1, 1), lab(2, 1), lab(3, 0), lab(4, 0)])
    write_examples(tmp_path / "tuned/nq_open", [lab(1, 1), lab(2, 0), lab(3, 0), lab(4, 0),
                                                lab(9, 1)])
    mc = lambda q, v: {"question": q, "mc2": v}  # noqa: E731
    write_examples(tmp_path / "base/truthfulqa_mc", [mc("a", .5), mc("b", .7), mc("c", .4)])
    write_examples(tmp_path / "tuned/truthfulqa_mc", [mc("a", .3), mc("b", .5), mc("c", .2)])
    result = compare_guard(tmp_path, {"nq_open": "accuracy", "truthfulqa_mc": "mc2"})
    nq, tqa = result["tasks"]["nq_open"], result["tasks"]["truthfulqa_mc"]
    assert (nq["n"], nq["unpaired"], nq["base"], nq["tuned"]) == (4, 1, 0.5, 0.25)
    assert (nq["change"], nq["low"], nq["high"], nq["verdict"]) == (-0.25, -0.75, 0.0, "unclear")
    assert tqa["change"] == pytest.approx(-0.2) and tqa["verdict"] == "fall"
    assert result["falls"] == ["truthfulqa_mc"]


def test_guard_tasks_and_their_metrics():
    assert guard_tasks("default") == {"truthfulqa_mc": ("mc2", 100), "nq_open": ("accuracy", 100),
                                      "halueval_qa": ("paired_accuracy", 100)}
    assert guard_tasks("nq_open,mmlu", limit=7) == {"nq_open": ("accuracy", 7),
                                                    "mmlu": ("accuracy", 7)}
    with pytest.raises(InputError, match="in-domain"):
        guard_tasks("precise_qa")


def test_missing_guard_data_fails_before_any_stage(tmp_path, monkeypatch, answer_model_dir):
    monkeypatch.setenv("VERITUNE_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.chdir(tmp_path)  # no ./data or ../shared/data here
    tree = pipeline_config(answer_model_dir, tmp_path / "runs")
    tree["eval"]["guard"] = "truthfulqa_mc"
    with pytest.raises(AssertionError, match="truthfulqa.csv"):
        invoke("run", write_yaml(tmp_path / "c.yaml", tree))
    assert not (tmp_path / "runs" / "tiny" / "samples.jsonl").exists()


# -- run --seeds end to end ------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory, answer_model_dir):
    root = tmp_path_factory.mktemp("seeds")
    (root / "data").mkdir()
    (root / "data" / "truthfulqa.csv").write_text(TQA)
    (root / "data" / "nq_open_efficientqa_dev.jsonl").write_text(NQ)
    tree = pipeline_config(answer_model_dir, root / "runs")
    tree["eval"].update(guard="default", guard_limit=4)
    cfg = write_yaml(root / "tiny.yaml", tree)
    mp = pytest.MonkeyPatch()
    mp.setenv("VERITUNE_DATA_DIR", str(root / "data"))
    try:
        out = invoke("run", cfg, "--seeds", "0,1").stdout
    finally:
        mp.undo()
    return root / "runs" / "tiny", out


@pytest.mark.slow
def test_seeds_share_the_split_and_the_base_evaluation(seeds_run):
    run_dir, out = seeds_run
    s0, s1 = run_dir / "seed0", run_dir / "seed1"
    assert (s0 / "questions.jsonl").read_text() == (s1 / "questions.jsonl").read_text()
    assert (s0 / "samples.jsonl").read_text() != (s1 / "samples.jsonl").read_text()
    assert yaml.safe_load((s1 / "config.yaml").read_text())["seed"] == 1
    m0, m1 = load(s0 / "manifest.json")["stages"], load(s1 / "manifest.json")["stages"]
    # the base model's evaluation ran once: seed 1 holds seed 0's, accepted by its hash check
    assert m1["eval/base"]["finished"] == m0["eval/base"]["finished"]
    assert m1["eval/base"]["config_hash"] == m0["eval/base"]["config_hash"]
    assert m1["sample"]["config_hash"] != m0["sample"]["config_hash"]
    assert out.count("eval/base: up to date") == 1
    for s in (s0, s1):
        assert (s / "model" / "model.safetensors").exists() and (s / "report.md").exists()


def test_seeds_summary_matches_each_seeds_comparison(seeds_run):
    run_dir, out = seeds_run
    summary = load(run_dir / "seeds_summary.json")
    assert summary["seeds"] == [0, 1] and summary["data_seed"] == 0
    block = summary["splits"]["test"]
    for row in block["per_seed"]:
        cmp = load(run_dir / f"seed{row['seed']}" / "eval" / "compare_test.json")
        assert block["n"] == cmp["n"]
        assert (row["base"], row["tuned"]) == (pytest.approx(cmp["accuracy_before"], abs=1e-4),
                                               pytest.approx(cmp["accuracy_after"], abs=1e-4))
        assert (row["wrong_to_right"], row["right_to_wrong"], row["mcnemar_p"]) == \
            (cmp["wrong_to_right"], cmp["right_to_wrong"], pytest.approx(cmp["mcnemar_p"]))
        assert row["truncated_rate"] is not None and row["length_ratio"] > 0
    changes = [r["change"] for r in block["per_seed"]]
    assert block["change"] == pytest.approx(sum(changes) / 2, abs=1e-6)
    assert block["low"] <= block["change"] <= block["high"]
    assert block["min_seed_change"] == min(changes)
    assert set(summary["guard"]) == {"truthfulqa_mc", "nq_open", "halueval_qa"}
    assert summary["guard"]["truthfulqa_mc"]["metric"] == "mc2"
    assert all(b["n"] == 4 for b in summary["guard"].values())
    assert "seeds test: mean gain" in out


def test_guard_in_each_seed_and_the_reports(seeds_run):
    run_dir, _ = seeds_run
    for seed in (0, 1):
        d = run_dir / f"seed{seed}"
        cmp = load(d / "eval" / "guard" / "compare.json")
        assert set(cmp["tasks"]) == {"truthfulqa_mc", "nq_open", "halueval_qa"}
        for task, r in cmp["tasks"].items():
            base = [json.loads(x) for x in
                    (d / "eval/guard/base" / task / "examples.jsonl").read_text().splitlines()]
            tuned = [json.loads(x) for x in
                     (d / "eval/guard/tuned" / task / "examples.jsonl").read_text().splitlines()]
            assert len(base) == len(tuned) == r["n"] == 4  # the same items, paired
            assert [b.get("question") for b in base] == [t.get("question") for t in tuned]
            assert r["low"] <= r["change"] <= r["high"]
        assert "Out-of-domain guard" in (d / "report.md").read_text()
    md = (run_dir / "report.md").read_text()
    assert "Held-out gain over seeds" in md and "Out-of-domain guard over seeds" in md
    assert "seed0/report.md" in md
    assert "Held-out gain over seeds" in (run_dir / "report.html").read_text()


# -- ablate --seeds --------------------------------------------------------------------------
@pytest.mark.slow
def test_ablate_over_seeds(tmp_path, answer_model_dir):
    base = pipeline_config(answer_model_dir, tmp_path / "runs")
    base.update(name="abl", description="shared")
    d = tmp_path / "abl"
    d.mkdir()
    (d / "_base.yaml").write_text(yaml.safe_dump(base))
    (d / "pkue.yaml").write_text("extends: _base.yaml\ndescription: dpo\n")
    (d / "sft_one.yaml").write_text("extends: _base.yaml\ndescription: sft\n"
                                    "pairs: {sft_targets: one}\ntrain: {method: sft}\n")
    (d / "size_50.yaml").write_text("extends: _base.yaml\ndescription: half\n"
                                    "pairs: {question_fraction: 0.5}\n")
    out = invoke("ablate", d, "--seeds", "0,1").stdout
    root = tmp_path / "runs" / "abl"
    summary = load(root / "seeds_summary.json")
    assert summary["seeds"] == [0, 1]
    assert set(summary["variants"]) == {"pkue", "sft_one", "size_50"}
    # the data-size curve: the sweep's variants by share, each its gain over seeds
    curve = summary["size_curve"]["test"]
    assert [(x["variant"], x["fraction"]) for x in curve] == [("size_50", 0.5), ("pkue", 1.0)]
    for x in curve:
        block = summary["variants"][x["variant"]]["splits"]["test"]
        assert (x["change"], x["low"], x["high"]) == (block["change"], block["low"],
                                                      block["high"])
    assert "## Data-size curve: test" in (root / "report.md").read_text()
    assert "Data-size curve over seeds</h2><img src=\"data:image/png" in \
        (root / "report.html").read_text()
    for name in ("pkue", "sft_one"):
        block = summary["variants"][name]["splits"]["test"]
        assert [r["seed"] for r in block["per_seed"]] == [0, 1]
        for r in block["per_seed"]:
            cmp = load(root / f"seed{r['seed']}" / name / "eval" / "compare_test.json")
            assert r["tuned"] == pytest.approx(cmp["accuracy_after"], abs=1e-4)
    (diff,) = [x for x in summary["differences"]["test"] if {x["a"], x["b"]} == {"pkue",
                                                                                "sft_one"}]
    a = summary["variants"]["pkue"]["splits"]["test"]["tuned"]
    b = summary["variants"]["sft_one"]["splits"]["test"]["tuned"]
    assert (diff["a"], diff["b"]) == ("pkue", "sft_one")
    assert diff["difference"] == pytest.approx(a - b, abs=1e-6)
    assert diff["real"] == (diff["low"] > 0 or diff["high"] < 0)
    # every seed's shared stages ran in its own folder; the base evaluation only once
    m0 = load(root / "seed0" / "manifest.json")["stages"]
    m1 = load(root / "seed1" / "manifest.json")["stages"]
    assert m1["eval/base"]["finished"] == m0["eval/base"]["finished"]
    assert m1["sample"]["finished"] != m0["sample"]["finished"]
    assert "Differences between variants: test" in out
    assert "Variants over seeds" in (root / "report.md").read_text()

"""Ablations: config inheritance, the pair sources of PKUE's Tables 5-6, the data-size sweep,
and ``veritune ablate`` end to end on the tiny answering model (shared stages run once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from veritune.config import PairsConfig, load_config
from veritune.errors import InputError, VerituneError
from veritune.pipeline.ablate import variant_files
from veritune.records import Question
from veritune.stages.pairs import build_pairs, keep_fraction

from helpers import PROMPT, invoke, make, pipeline_config

REPO = Path(__file__).resolve().parents[2]


def spec():
    questions, samples, verdicts = make({
        "q1": [("It is ref.", "correct"), ("No idea, maybe X.", "incorrect"), ("Y", "incorrect")],
        "q2": [("Z", "incorrect")],                      # never right: no self pair
        "q3": [("ref", "correct")],                      # never wrong: no self pair
    })
    for qid in questions:
        questions[qid] = Question(qid, f"What is {qid}?", ["ref", "r"], ["w1", "w2", "w3"])
    return questions, samples, verdicts


def texts(pairs, qid):
    return [(p.chosen, p.rejected) for p in pairs if p.question_id == qid]


def test_dataset_pairs_standard_vs_wrong_answers_for_every_question():
    pairs, _ = build_pairs(*spec(), PairsConfig(chosen_source="dataset",
                                                rejected_source="dataset"), PROMPT)
    assert {p.question_id for p in pairs} == {"q1", "q2", "q3"}
    assert sorted(texts(pairs, "q2")) == [("ref", "w1"), ("ref", "w2"), ("ref", "w3")]
    assert {p.kind for p in pairs} == {"dataset"}
    assert all(p.chosen_index == -1 and p.rejected_index <= -2 for p in pairs)


def test_mixed_sources():
    std_vs_self, _ = build_pairs(*spec(), PairsConfig(chosen_source="dataset"), PROMPT)
    assert sorted(texts(std_vs_self, "q1")) == [("ref", "No idea, maybe X."), ("ref", "Y")]
    assert texts(std_vs_self, "q2") == [("ref", "Z")] and not texts(std_vs_self, "q3")
    self_vs_wrong, _ = build_pairs(*spec(), PairsConfig(rejected_source="dataset"), PROMPT)
    assert {c for c, _ in texts(self_vs_wrong, "q1")} == {"It is ref."}
    assert not texts(self_vs_wrong, "q2") and len(texts(self_vs_wrong, "q3")) == 3
    assert {p.kind for p in std_vs_self + self_vs_wrong} == {"mixed"}


def test_sft_targets_one_or_all():
    questions, samples, verdicts = make({"q": [("a", "correct"), ("bb", "correct"),
                                               ("c", "incorrect")]})
    _, every = build_pairs(questions, samples, verdicts, PairsConfig(), PROMPT)
    _, one = build_pairs(questions, samples, verdicts, PairsConfig(sft_targets="one"), PROMPT)
    assert [p.chosen for p in every] == ["a", "bb"] and [p.chosen for p in one] == ["a"]


def test_question_fraction_is_seeded_and_nested():
    ids = [f"q{i}" for i in range(200)]
    quarter, half = keep_fraction(ids, 0.25, 0), keep_fraction(ids, 0.5, 0)
    assert len(quarter) == 50 and len(half) == 100 and set(quarter) <= set(half)
    assert keep_fraction(ids, 0.25, 0) == quarter and keep_fraction(ids, 0.25, 1) != quarter
    assert keep_fraction(ids, 1.0, 0) == ids


@pytest.mark.parametrize("key,value", [("chosen_source", "web"), ("sft_targets", "two"),
                                       ("question_fraction", 0.0)])
def test_bad_pair_options(key, value):
    with pytest.raises(InputError, match=f"pairs.{key}"):
        PairsConfig(**{key: value})


def test_extends_merges_section_by_section(tmp_path):
    (tmp_path / "_base.yaml").write_text("name: b\nseed: 3\ntrain: {method: dpo, beta: 0.2}\n")
    (tmp_path / "v.yaml").write_text("extends: _base.yaml\ntrain: {method: sft}\n")
    cfg = load_config(tmp_path / "v.yaml")
    assert (cfg.name, cfg.seed, cfg.train.method, cfg.train.beta) == ("b", 3, "sft", 0.2)
    (tmp_path / "_base.yaml").write_text("name: b\ntrain: {metod: dpo}\n")
    with pytest.raises(InputError) as e:
        load_config(tmp_path / "v.yaml")
    assert "_base.yaml" in str(e.value) and "metod" in str(e.value)


def test_shipped_ablations_load_and_differ_only_in_pairs_or_train():
    base = load_config(REPO / "configs/ablations/_base.yaml")
    files = variant_files(REPO / "configs/ablations")
    assert {p.stem for p in files} >= {"pkue", "sft_one", "sft_all", "sft_then_dpo",
                                       "sft_plus_dpo", "dpo_dataset", "size_12", "size_25",
                                       "size_50"}
    for path in files:
        cfg = load_config(path)
        assert cfg.description, path
        for section in ("data", "sample", "judge", "eval", "model"):
            assert getattr(cfg, section) == getattr(base, section), (path, section)
    with pytest.raises(VerituneError, match="no variant"):
        variant_files(REPO / "configs/ablations", only=["nope"])


def test_the_baselines_folder_shares_everything_but_the_method():
    from veritune.pipeline.ablate import shared_differs

    d = REPO / "configs/baselines/kb"
    base = load_config(d / "_base.yaml")
    kb = load_config(REPO / "configs/kb.yaml")
    assert (base.data, base.sample, base.eval, base.train) == (kb.data, kb.sample, kb.eval,
                                                                kb.train)
    methods = {}
    for path in variant_files(d):
        cfg = load_config(path)
        assert cfg.description and shared_differs(cfg, base) is None, path
        methods[path.stem] = (cfg.train.method, cfg.judge.name)
    assert methods == {"pkue": ("sft+dpo", "lexical"), "dola": ("dola", "lexical"),
                       "iti": ("iti", "lexical"),
                       "self_eval_skt": ("sft+dpo", "self_eval"),
                       "iterative_dpo": ("sft+dpo", "lexical")}
    assert load_config(d / "iterative_dpo.yaml").train.rounds == 2


@pytest.mark.slow
def test_ablate_end_to_end(tmp_path, answer_model_dir):
    base = pipeline_config(answer_model_dir, tmp_path / "runs")
    base.update(name="abl", description="shared")
    base["eval"]["suite"] = "precise_qa"
    d = tmp_path / "abl"
    d.mkdir()
    (d / "_base.yaml").write_text(yaml.safe_dump(base))
    (d / "pkue.yaml").write_text("extends: _base.yaml\ndescription: dpo\n")
    (d / "sft_one.yaml").write_text("extends: _base.yaml\ndescription: sft\n"
                                    "pairs: {sft_targets: one}\ntrain: {method: sft}\n")
    # a decoding baseline (nothing trained) and a variant with a training judge of its own
    (d / "dola.yaml").write_text("extends: _base.yaml\ndescription: dola\n"
                                 "train: {method: dola, dola_layers: low}\n")
    (d / "iti.yaml").write_text("extends: _base.yaml\ndescription: iti\n"
                                "train: {method: iti, iti_heads: 2, iti_alpha: 3}\n")
    (d / "rejudged.yaml").write_text("extends: _base.yaml\ndescription: own verdicts\n"
                                     "judge: {batch_size: 3}\neval: {judge: {name: lexical}}\n")
    (d / "bad.yaml").write_text("extends: _base.yaml\nsample: {n: 2}\n")
    with pytest.raises(AssertionError, match="its sample differs"):
        invoke("ablate", d)
    (d / "bad.yaml").write_text("extends: _base.yaml\neval: {judge: {name: llm}}\n")
    with pytest.raises(AssertionError, match="its eval differs"):
        invoke("ablate", d)
    (d / "bad.yaml").unlink()
    out = invoke("ablate", d).stdout
    root = tmp_path / "runs" / "abl"
    shared = json.loads((root / "manifest.json").read_text())["stages"]
    assert {"data", "sample", "judge", "eval/base"} <= set(shared) and "train" not in shared
    for name, method in (("pkue", "dpo"), ("sft_one", "sft"), ("dola", "dola"),
                         ("iti", "iti"), ("rejudged", "dpo")):
        manifest = json.loads((root / name / "manifest.json").read_text())["stages"]
        # the shared stages were copied, not run again: same finish time as in the shared run
        assert manifest["sample"]["finished"] == shared["sample"]["finished"]
        assert manifest["eval/base"]["finished"] == shared["eval/base"]["finished"], name
        assert (manifest["judge"]["finished"] == shared["judge"]["finished"]) == \
            (name != "rejudged")  # its own judge labelled the shared samples again
        assert manifest["train"]["counts"]["method"] == method
        assert (root / name / "model" / "model.safetensors").exists()
    # DoLa: the base's weights, saved to decode with DoLa; the base evaluated without it
    saved = json.loads((root / "dola" / "model" / "generation_config.json").read_text())
    assert saved["dola_layers"] == "low"
    from veritune.engines.hf import HFEngine
    assert HFEngine(root / "dola" / "model").dola == HFEngine(answer_model_dir,
                                                              dola_layers="low").dola
    summary = json.loads((root / "summary.json").read_text())
    assert [r["model"] for r in summary["rows"]] == ["base", "dola", "iti", "pkue",
                                                    "rejudged", "sft_one"]
    from veritune.engines.iti import read_meta
    assert read_meta(root / "iti" / "model")["n_heads"] == 2
    assert summary["tasks"] == ["precise_qa"] and summary["seed"] == 0
    assert (root / "ablations.png").stat().st_size > 1000
    assert "| model | precise_qa | Avg. |" in out and (root / "summary.csv").exists()
    # a second call finds everything done; --only still reports every variant run so far
    again = invoke("ablate", d, "--only", "sft_one").stdout
    assert "train: up to date" in again and "sample: up to date" in again
    assert "| pkue |" in again and "| sft_one |" in again

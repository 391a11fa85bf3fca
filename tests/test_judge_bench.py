"""The judge benchmark: metrics worked by hand, the shipped human-labelled set, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veritune.cli import app
from veritune.errors import InputError
from veritune.judge import LexicalJudge
from veritune.judge.bench import agreement, load_labels, run_bench

LABELS = Path(__file__).parent / "data" / "judge_labels.jsonl"


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
    for key in ("accuracy", "balanced_accuracy", "precision", "recall", "kappa",
                "uncertain_rate", "n", "llm_calls", "seconds"):
        assert key in metrics
    assert "kappa" in result.output
    assert len((tmp_path / "examples.jsonl").read_text().splitlines()) == metrics["n"]

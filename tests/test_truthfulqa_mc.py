"""TruthfulQA MC1/MC2: the maths by hand, the real CSV, a real engine on the tiny model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from veritune.errors import InputError
from veritune.tasks.truthfulqa_mc import (MCItem, load_truthfulqa, mc_scores,
                                          score_truthfulqa_mc)

CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "truthfulqa.csv"


def test_mc_scores_by_hand():
    """Correct answers log p = ln .2, ln .1; incorrect ln .3, ln .1.

    MC1: best (ln .2) < max incorrect (ln .3) -> 0. MC2: (.2 + .1) / (.2 + .1 + .3 + .1) = 3/7.
    """
    mc1, mc2 = mc_scores(math.log(.2), [math.log(.2), math.log(.1)],
                         [math.log(.3), math.log(.1)])
    assert mc1 == 0.0 and mc2 == pytest.approx(3 / 7)
    assert mc_scores(-1.0, [-1.0], [-2.0, -3.0])[0] == 1.0


def test_mc_scores_survive_very_negative_loglikelihoods():
    mc1, mc2 = mc_scores(-1000.0, [-1000.0], [-1001.0])
    assert mc1 == 1.0 and mc2 == pytest.approx(1 / (1 + math.exp(-1)))


@pytest.mark.skipif(not CSV.exists(), reason="shared TruthfulQA CSV not present")
def test_loads_the_real_csv():
    items = load_truthfulqa(CSV)
    assert len(items) == 817
    assert all(i.correct[0] == i.best and i.incorrect for i in items)


def test_bad_csv_names_file_line_and_column(tmp_path):
    f = tmp_path / "tqa.csv"
    f.write_text("Question,Best Answer,Correct Answers,Incorrect Answers\n"
                 "Q1?,A,A;B,C\nQ2?,A,A,\n")
    with pytest.raises(InputError, match=r"tqa.csv, line 3, field 'Incorrect Answers'"):
        load_truthfulqa(f)


class LengthEngine:
    """Scores an answer by minus its length: the shortest answer wins."""

    name, model_name = "length", "length"

    def loglikelihood(self, requests):
        return [-float(len(c)) for _, c in requests]


def test_score_uses_the_engine_loglikelihoods():
    items = [MCItem("q1", "yes", ["yes", "indeed"], ["no way", "never ever"]),
             MCItem("q2", "certainly true", ["certainly true"], ["no"])]
    metrics, examples = score_truthfulqa_mc(LengthEngine(), items)
    assert [e["mc1"] for e in examples] == [1.0, 0.0]
    assert examples[1]["chosen"] == "no"
    assert metrics["mc1"] == 0.5 and metrics["n"] == 2


def test_runs_on_a_real_engine(tiny_model_dir):
    from veritune.engines.hf import HFEngine

    items = [MCItem("What is 2+2?", "4", ["4", "Four"], ["5", "22"])]
    metrics, examples = score_truthfulqa_mc(HFEngine(tiny_model_dir), items)
    assert 0.0 <= metrics["mc2"] <= 1.0 and metrics["mc1"] in (0.0, 1.0)

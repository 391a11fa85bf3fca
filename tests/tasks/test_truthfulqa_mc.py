"""TruthfulQA MC1/MC2: the maths by hand, the real CSV, a real engine on the tiny model."""

from __future__ import annotations

import math

import pytest

from veritune.errors import InputError
from veritune.tasks.mc_item import MCItem
from veritune.tasks.truthfulqa_mc import load_truthfulqa, mc_scores, score_truthfulqa_mc

from shared_data import needs, shared_file

CSV = shared_file("truthfulqa.csv")


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


@needs("truthfulqa.csv")
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
    items = [MCItem.from_answers("q1", "yes", ["yes", "indeed"], ["no way", "never ever"]),
             MCItem.from_answers("q2", "certainly true", ["certainly true"], ["no"])]
    metrics, examples = score_truthfulqa_mc(LengthEngine(), items)
    assert [e["mc1"] for e in examples] == [1.0, 0.0]
    assert examples[1]["chosen"] == "no"
    assert metrics["mc1"] == 0.5 and metrics["n"] == 2


def test_runs_on_a_real_engine(tiny_model_dir):
    from veritune.engines.hf import HFEngine

    items = [MCItem.from_answers("What is 2+2?", "4", ["4", "Four"], ["5", "22"])]
    metrics, examples = score_truthfulqa_mc(HFEngine(tiny_model_dir), items)
    assert 0.0 <= metrics["mc2"] <= 1.0 and metrics["mc1"] in (0.0, 1.0)


class WordTokenizer:
    """One token per word."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


class TableEngine:
    name, model_name = "table", "table"
    tokenizer = WordTokenizer()

    def __init__(self, table):
        self.table = table

    def loglikelihood(self, requests):
        return [self.table[c] for _, c in requests]


def test_length_normalised_scores_by_hand():
    """Correct "yes it is true" (4 tokens, 14 characters, log p = -4); incorrect "no"
    (1 token, 2 characters, log p = -2).

    Summed: -4 < -2, so MC1 = 0 and MC2 = e^-4 / (e^-4 + e^-2) = 1 / (1 + e^2) = 0.119203;
    the model prefers "no" (1 token).
    Per token: -1 vs -2: MC1 = 1, MC2 = 1 / (1 + e^-1) = 0.731059; it prefers the 4-token answer.
    Per character: -4/14 = -0.2857 vs -1: MC1 = 1, MC2 = 1 / (1 + e^(-1 + 4/14)) = 0.671347.
    Mean option length: (4 + 1) / 2 = 2.5 tokens.
    """
    items = [MCItem.from_answers("q", "yes it is true", [], ["no"])]
    metrics, (ex,) = score_truthfulqa_mc(TableEngine({"yes it is true": -4.0, "no": -2.0}),
                                         items)
    assert (ex["mc1"], ex["mc2"]) == (0.0, pytest.approx(0.119203, abs=1e-6))
    assert (ex["mc1_per_token"], ex["mc2_per_token"]) == (1.0, pytest.approx(0.731059, abs=1e-6))
    assert (ex["mc1_per_char"], ex["mc2_per_char"]) == (1.0, pytest.approx(0.671347, abs=1e-6))
    assert (ex["chosen"], ex["chosen_tokens"], ex["chosen_tokens_per_token"]) == ("no", 1, 4)
    assert ex["option_tokens"] == [4, 1] and ex["loglikelihoods"] == [-4.0, -2.0]
    assert metrics == {"mc1": 0.0, "mc2": 0.1192, "n": 1, "mc1_per_char": 1.0,
                       "mc2_per_char": 0.6713, "mc1_per_token": 1.0, "mc2_per_token": 0.7311,
                       "chosen_tokens": 1.0, "chosen_tokens_per_token": 4.0,
                       "option_tokens": 2.5}


def test_engine_without_tokenizer_gets_no_per_token_scores():
    metrics, (ex,) = score_truthfulqa_mc(LengthEngine(), [MCItem.from_answers(
        "q", "a", [], ["bb"])])
    assert "mc2_per_token" not in metrics and "mc1_per_token" not in ex
    # summed: -1 beats -2; per character: -1/1 ties -2/2, and a tie is no MC1 win
    assert (metrics["mc1"], metrics["mc1_per_char"], metrics["mc2_per_char"]) == (1.0, 0.0, 0.5)

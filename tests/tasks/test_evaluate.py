"""Evaluation summaries and before/after comparison, on hand-made examples."""

from __future__ import annotations

import json

import pytest

from veritune.judge.base import grades
from veritune.tasks.precise_qa import Example, compare, has_repetition, summarize, write_eval


def ex(id: str, label: str, domain: str = "geo", response: str = "Paris", n_tokens: int = 2,
       truncated: bool = False, best: int | None = None) -> Example:
    return Example(id=id, domain=domain, question=f"Q{id}?", references=["Paris"],
                   response=response, label=label, rationale="", n_tokens=n_tokens,
                   truncated=truncated, best_of_n_correct=best)


EXAMPLES = [
    ex("1", "correct", "geo", "Paris", 1, best=3),
    ex("2", "incorrect", "geo", "Lyon is Lyon is Lyon is", 6, truncated=True, best=1),
    ex("3", "uncertain", "geo", "I am not sure", 4, best=0),
    ex("4", "correct", "chem", "Fe", 1, best=8),
    ex("5", "incorrect", "chem", "Cu", 2, best=0),
    ex("6", "correct", "chem", "the the the the", 7, truncated=True, best=2),
    ex("7", "correct", "math", "4", 1, best=1),
    ex("8", "incorrect", "math", "5", 2, best=0),
]


def test_summarize_hand_made():
    m = summarize(EXAMPLES)
    assert m["n"] == 8
    assert m["accuracy"] == 0.5  # 4 correct of 8
    assert m["labels"] == {"correct": 4, "incorrect": 3, "not_attempted": 0, "uncertain": 1}
    assert list(m["per_domain"]) == ["chem", "geo", "math"]  # sorted
    assert m["per_domain"]["geo"] == {"accuracy": 0.3333, "n": 3, "best_of_n": 0.6667}
    assert m["per_domain"]["chem"] == {"accuracy": 0.6667, "n": 3, "best_of_n": 0.6667}
    assert m["per_domain"]["math"] == {"accuracy": 0.5, "n": 2, "best_of_n": 0.5}
    # tokens 1+6+4+1+2+7+1+2 = 24 -> 3.0
    assert m["mean_response_tokens"] == 3.0
    assert m["truncated_rate"] == 0.25  # 2 of 8
    # "Lyon is Lyon is Lyon is" and "the the the the" repeat a 3-gram
    assert m["repetition_rate"] == 0.25
    # best-of-n: some correct sample for 1, 2, 4, 6, 7 -> 5 of 8
    assert m["best_of_n"] == 0.625


def test_summarize_rounds_and_repetition_ngram():
    exs = [ex("1", "correct", response="a b a b"), ex("2", "incorrect"), ex("3", "incorrect")]
    m = summarize(exs, repetition_ngram=3)
    assert m["accuracy"] == 0.3333 and m["repetition_rate"] == 0.0
    assert summarize(exs, repetition_ngram=2)["repetition_rate"] == 0.3333
    assert "best_of_n" not in m and "best_of_n" not in m["per_domain"]["geo"]


def test_summarize_empty():
    m = summarize([])
    assert m["n"] == 0 and m["accuracy"] == 0.0 and m["per_domain"] == {}
    assert m["labels"] == {"correct": 0, "incorrect": 0, "not_attempted": 0, "uncertain": 0}
    assert m["mean_response_tokens"] == 0.0 and m["truncated_rate"] == 0.0
    assert "best_of_n" not in m


def test_summarize_mean_tokens_rounding():
    exs = [ex("1", "correct", n_tokens=1), ex("2", "correct", n_tokens=1),
           ex("3", "correct", n_tokens=2)]
    assert summarize(exs)["mean_response_tokens"] == 1.33


@pytest.mark.parametrize("text, n, expected", [
    ("Paris", 3, False),
    ("", 3, False),
    ("a b", 3, False),                       # fewer words than n
    ("the capital is Paris", 3, False),
    ("a b c a b c", 3, True),
    ("a b c a b d", 3, False),
    ("a b c a b d", 2, True),                # "a b" twice
    ("the the the", 3, False),               # one 3-gram only
    ("the the the the", 3, True),
    ("Paris Paris", 1, True),
    ("Paris is nice. paris is NICE.", 3, True),  # case-insensitive
    ("Paris is nice. Paris is nicer.", 3, False),
])
def test_has_repetition(text, n, expected):
    assert has_repetition(text, n) is expected


def _labels(pattern: str) -> list[dict]:
    return [{"id": str(i), "label": "correct" if c == "1" else "incorrect"}
            for i, c in enumerate(pattern)]


def test_compare_flips_and_exact_mcnemar_p():
    """8 wrong->right, 2 right->wrong, 5 right->right, 5 wrong->wrong (20 questions).

    Exact McNemar = two-sided binomial test on the 10 discordant pairs with p = 1/2:
    P(X <= 2 | n=10) = (C(10,0) + C(10,1) + C(10,2)) / 2**10 = (1 + 10 + 45) / 1024,
    so p = 2 * 56 / 1024 = 0.109375.
    Accuracy before = (2 + 5) / 20 = 0.35, after = (8 + 5) / 20 = 0.65.
    """
    base = _labels("0" * 8 + "1" * 2 + "1" * 5 + "0" * 5)
    tuned = _labels("1" * 8 + "0" * 2 + "1" * 5 + "0" * 5)
    c = compare(base, tuned)
    assert c == {"n": 20, "wrong_to_right": 8, "right_to_wrong": 2, "accuracy_before": 0.35,
                 "accuracy_after": 0.65, "mcnemar_p": 0.109375}
    # symmetric: swapping base and tuned swaps the flips, not p
    r = compare(tuned, base)
    assert (r["wrong_to_right"], r["right_to_wrong"], r["mcnemar_p"]) == (2, 8, 0.109375)


def test_compare_small_cases_by_hand():
    # 1 up, 0 down: p = 2 * P(X <= 0 | n=1) = 2 * 1/2 = 1.0
    assert compare(_labels("0"), _labels("1"))["mcnemar_p"] == 1.0
    # 5 up, 0 down: p = 2 * (1/2)**5 = 0.0625
    c = compare(_labels("00000"), _labels("11111"))
    assert (c["wrong_to_right"], c["right_to_wrong"], c["mcnemar_p"]) == (5, 0, 0.0625)
    # 3 up, 3 down: p = 1.0
    assert compare(_labels("000111"), _labels("111000"))["mcnemar_p"] == 1.0


def test_compare_without_discordant_pairs():
    c = compare(_labels("0110"), _labels("0110"))
    assert c == {"n": 4, "wrong_to_right": 0, "right_to_wrong": 0, "accuracy_before": 0.5,
                 "accuracy_after": 0.5, "mcnemar_p": 1.0}


def test_compare_uses_only_common_ids_and_uncertain_is_not_correct():
    base = [{"id": "a", "label": "incorrect"}, {"id": "b", "label": "correct"},
            {"id": "only_base", "label": "correct"}]
    tuned = [{"id": "b", "label": "uncertain"}, {"id": "a", "label": "correct"},
             {"id": "only_tuned", "label": "incorrect"}]
    c = compare(base, tuned)
    assert c["n"] == 2 and c["wrong_to_right"] == 1 and c["right_to_wrong"] == 1
    assert c["accuracy_before"] == 0.5 and c["accuracy_after"] == 0.5
    empty = compare([], [])
    assert empty["n"] == 0 and empty["mcnemar_p"] == 1.0 and empty["accuracy_before"] == 0.0


def test_write_eval(tmp_path):
    m = summarize(EXAMPLES)
    write_eval(tmp_path / "e", EXAMPLES, m)
    assert json.loads((tmp_path / "e" / "metrics.json").read_text()) == m
    rows = [json.loads(line) for line in
            (tmp_path / "e" / "examples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [e.id for e in EXAMPLES]
    assert rows[1]["truncated"] is True and rows[0]["best_of_n_correct"] == 3
    assert compare(rows, rows)["n"] == len(EXAMPLES)


def test_simpleqa_grades_hand_made():
    """SimpleQA's figures: 2 correct, 1 wrong, 1 declined of 4: correct 0.5, not attempted
    0.25, correct given attempted 2/3, F-score their harmonic mean 4/7."""
    examples = [ex("1", "correct", "g", "Paris", 1), ex("2", "correct", "g", "Fe", 1),
                ex("3", "incorrect", "g", "Lyon", 1), ex("4", "not_attempted", "g", "No idea", 2)]
    m = summarize(examples)
    assert (m["accuracy"], m["not_attempted"], m["correct_given_attempted"], m["f_score"]) == \
        (0.5, 0.25, 0.6667, 0.5714)
    assert grades([]) == {"correct": 0.0, "not_attempted": 0.0, "correct_given_attempted": 0.0,
                          "f_score": 0.0}
    assert grades(["not_attempted"])["f_score"] == 0.0

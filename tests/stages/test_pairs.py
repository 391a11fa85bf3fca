"""Preference pairs from hand-made questions, samples and verdicts."""

from __future__ import annotations

import itertools

import pytest

from veritune.config import PairsConfig
from veritune.records import Pair
from veritune.stages.pairs import build_pairs, pair_stats, split_by_label

from helpers import PROMPT, make


def cfg(**kw) -> PairsConfig:
    return PairsConfig(**kw)


def pair_indices(pairs, qid=None) -> list[tuple[int, int]]:
    return [(p.chosen_index, p.rejected_index) for p in pairs if qid in (None, p.question_id)]


def test_all_combinations_when_at_most_k():
    qs, ss, vs = make({"a": [("Paris", "correct"), ("Lyon", "incorrect"),
                             ("Paris, France", "correct"), ("Nice", "incorrect")]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=4), PROMPT)
    assert sorted(pair_indices(pairs)) == [(0, 1), (0, 3), (2, 1), (2, 3)]
    by_index = {s.index: s.text for s in ss}
    for p in pairs:
        assert p.chosen == by_index[p.chosen_index] and p.rejected == by_index[p.rejected_index]
        assert p.kind == "self" and p.question_id == "a"
    # concise: the shorter chosen ("Paris", 1 token) comes first
    assert [p.chosen_index for p in pairs] == [0, 0, 2, 2]
    # a larger K changes nothing
    more, _ = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=10), PROMPT)
    assert sorted(pair_indices(more)) == sorted(pair_indices(pairs))


def test_at_most_k_per_question():
    rows = [(f"right {i}", "correct") for i in range(3)] + \
        [(f"wrong {i}", "incorrect") for i in range(4)]  # 12 candidates
    qs, ss, vs = make({"a": rows, "b": rows[:1] + rows[3:5]})  # b: 2 candidates
    for k in (1, 3, 5):
        pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=k), PROMPT)
        a = pair_indices(pairs, "a")
        assert len(a) == k and len(set(a)) == k  # no pair twice
        assert all(c in (0, 1, 2) and r in (3, 4, 5, 6) for c, r in a)
        assert len(pair_indices(pairs, "b")) == min(k, 2)
        assert len([p for p in sft if p.question_id == "a"]) == min(k, 3)


def test_concise_uses_shortest_correct_first():
    qs, ss, vs = make({"a": [
        ("The capital of France is Paris, a large city.", "correct", 10),
        ("Paris", "correct", 1),
        ("It is Paris", "correct", 3),
        ("Lyon", "incorrect", 1),
        ("Marseille", "incorrect", 2),
        ("Nice", "incorrect", 1),
    ]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=4, chosen="concise"),
                             PROMPT)
    # 3 rejected candidates for the 1-token chosen, then one with the 3-token chosen
    assert [p.chosen_index for p in pairs] == [1, 1, 1, 2]
    assert {p.rejected_index for p in pairs[:3]} == {3, 4, 5}
    assert [p.chosen_index for p in sft] == [1, 2, 0]  # SFT targets shortest first too
    good, _ = split_by_label(ss, vs, cfg(chosen="concise"))["a"]
    assert [s.index for s in good] == [1, 2, 0]


def test_concise_falls_back_to_characters_without_token_counts():
    qs, ss, vs = make({"a": [("a long correct answer", "correct", 0), ("short", "correct", 0),
                             ("no", "incorrect", 0)]})
    pairs, _ = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=1), PROMPT)
    assert pairs[0].chosen == "short"


def test_random_chosen_is_not_sorted_by_length():
    rows = [(f"answer {'x ' * i}", "correct", 10 - i) for i in range(5)] + \
        [("wrong", "incorrect", 1)]
    qs, ss, vs = make({"a": rows})
    good, _ = split_by_label(ss, vs, cfg(chosen="random"))["a"]
    assert [s.index for s in good] == [0, 1, 2, 3, 4]  # index order, not length order
    good, _ = split_by_label(ss, vs, cfg(chosen="concise"))["a"]
    assert [s.index for s in good] == [4, 3, 2, 1, 0]


def test_drop_truncated_keeps_truncated_correct_out_of_chosen():
    qs, ss, vs = make({"a": [
        ("Paris is the capital and the", "correct", 6, True),   # cut off
        ("Paris", "correct", 1, False),
        ("Lyon is a city in France and", "incorrect", 6, True),  # cut off: may be rejected
        ("Nice", "incorrect", 1, False),
    ]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=10, drop_truncated=True),
                             PROMPT)
    assert sorted(pair_indices(pairs)) == [(1, 2), (1, 3)]
    assert [p.chosen_index for p in sft] == [1]
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=10, drop_truncated=False),
                             PROMPT)
    assert sorted(pair_indices(pairs)) == [(0, 2), (0, 3), (1, 2), (1, 3)]
    assert sorted(p.chosen_index for p in sft) == [0, 1]


def test_only_truncated_correct_gives_no_pair():
    qs, ss, vs = make({"a": [("Paris is", "correct", 2, True), ("Lyon", "incorrect")]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(drop_truncated=True), PROMPT)
    assert pairs == [] and sft == []


def test_uncertain_and_unjudged_samples_never_appear():
    qs, ss, vs = make({"a": [("Paris", "correct"), ("Maybe Paris?", "uncertain"),
                             ("Lyon", "incorrect"), ("I do not know", "uncertain"),
                             ("Unjudged", None), ("   ", "correct"), ("", "incorrect")]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=10), PROMPT)
    assert pair_indices(pairs) == [(0, 2)]
    assert [p.chosen_index for p in sft] == [0]
    assert {p.chosen for p in pairs + sft} == {"Paris"}
    assert {p.rejected for p in pairs} == {"Lyon"}


def test_one_sided_questions_give_no_pair():
    qs, ss, vs = make({
        "only_right": [("Paris", "correct"), ("Paris!", "correct")],
        "only_wrong": [("Lyon", "incorrect"), ("Nice", "incorrect")],
        "both": [("Rome", "correct"), ("Milan", "incorrect")],
    })
    pairs, sft = build_pairs(qs, ss, vs, cfg(), PROMPT)
    assert {p.question_id for p in pairs} == {"both"}
    assert {p.question_id for p in sft} == {"only_right", "both"}  # SFT needs no rejected
    assert pair_stats(pairs, sft, len(qs))["questions_with_pairs"] == 1


def test_distinct_deduplicates_identical_texts():
    qs, ss, vs = make({"a": [("Paris", "correct"), ("paris", "correct"), (" Paris ", "correct"),
                             ("Lyon", "incorrect"), ("Lyon", "incorrect"),
                             ("LYON  ", "incorrect"), ("Nice", "incorrect")]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=10, distinct=True), PROMPT)
    assert sorted(pair_indices(pairs)) == [(0, 3), (0, 6)]
    assert [p.chosen_index for p in sft] == [0]
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=100, distinct=False),
                             PROMPT)
    assert len(pairs) == 3 * 4 and len(sft) == 3


def test_same_seed_same_pairs_different_seed_may_differ():
    rows = [(f"right{i}", "correct", 1) for i in range(4)] + \
        [(f"wrong{i}", "incorrect", 1) for i in range(4)]  # 16 candidates, all length 1
    qs, ss, vs = make({"a": rows, "b": rows})
    for chosen in ("concise", "random"):
        c = cfg(max_pairs_per_question=3, chosen=chosen)
        first, _ = build_pairs(qs, ss, vs, c, PROMPT, seed=1)
        assert pair_indices(first) == pair_indices(build_pairs(qs, ss, vs, c, PROMPT,
                                                               seed=1)[0])
        # input order does not matter either
        shuffled = build_pairs(qs, list(reversed(ss)), list(reversed(vs)), c, PROMPT, seed=1)[0]
        assert pair_indices(shuffled) == pair_indices(first)
        others = {tuple(pair_indices(build_pairs(qs, ss, vs, c, PROMPT, seed=s)[0], "a"))
                  for s in range(2, 12)}
        assert len(others | {tuple(pair_indices(first, "a"))}) > 1
    # two questions with identical samples are shuffled independently (seed includes the id)
    many = [pair_indices(build_pairs(qs, ss, vs, cfg(max_pairs_per_question=3), PROMPT,
                                     seed=s)[0]) for s in range(10)]
    assert any(p[:3] != p[3:] for p in many)


def test_seed_is_irrelevant_when_all_candidates_fit():
    qs, ss, vs = make({"a": [("Paris", "correct"), ("Lyon", "incorrect"), ("Nice", "incorrect")]})
    results = {tuple(sorted(pair_indices(build_pairs(qs, ss, vs, cfg(), PROMPT, seed=s)[0])))
               for s in range(5)}
    assert results == {((0, 1), (0, 2))}


def test_sft_targets_are_correct_samples():
    qs, ss, vs = make({"a": [("Paris", "correct"), ("Lyon", "incorrect"),
                             ("It's Paris", "correct"), ("Nope", "uncertain")]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(), PROMPT)
    correct = {v.sample_index for v in vs if v.label == "correct"}
    assert {p.chosen_index for p in sft} == correct
    for p in sft:
        assert p.kind == "sft" and p.rejected is None and p.rejected_index is None
        assert p.chosen == ss[p.chosen_index].text


def test_prompt_and_trl_format():
    qs, ss, vs = make({"a": [("Paris", "correct"), ("Lyon", "incorrect")]})
    pairs, sft = build_pairs(qs, ss, vs, cfg(), "Q: {question} A:")
    (p,) = pairs
    assert p.prompt == [{"role": "user", "content": "Q: What is a? A:"}]
    assert sft[0].prompt == p.prompt
    trl = p.to_trl()
    assert set(trl) == {"prompt", "chosen", "rejected"}
    assert trl["prompt"] == [{"role": "user", "content": "Q: What is a? A:"}]
    assert trl["chosen"] == [{"role": "assistant", "content": "Paris"}]
    assert trl["rejected"] == [{"role": "assistant", "content": "Lyon"}]
    assert Pair.from_dict(p.to_dict()) == p


def test_pair_stats_numbers():
    qs, ss, vs = make({
        "a": [("Paris", "correct"), ("the city of Lyon", "incorrect"),
              ("Nice", "incorrect")],
        "b": [("four", "correct"), ("five or six", "incorrect")],
        "c": [("x", "correct")],
        "d": [("y", "incorrect")],
    })
    pairs, sft = build_pairs(qs, ss, vs, cfg(), PROMPT)
    stats = pair_stats(pairs, sft, len(qs))
    assert stats == {"pairs": 3, "sft_targets": 3, "questions": 4, "questions_with_pairs": 2,
                     # chosen words: 1, 1, 1; rejected words: 4, 1, 3 -> 8/3
                     "mean_chosen_words": 1.0, "mean_rejected_words": 2.67}
    assert pair_stats([], [], 0) == {"pairs": 0, "sft_targets": 0, "questions": 0,
                                     "questions_with_pairs": 0, "mean_chosen_words": 0.0,
                                     "mean_rejected_words": 0.0}


@pytest.mark.parametrize("n_good, n_bad, k", list(itertools.product([1, 2, 3], [1, 2, 3],
                                                                     [1, 2, 4, 9])))
def test_pair_count_formula(n_good, n_bad, k):
    rows = [(f"g{i}", "correct") for i in range(n_good)] + \
        [(f"b{i}", "incorrect") for i in range(n_bad)]
    qs, ss, vs = make({"a": rows})
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=k), PROMPT)
    assert len(pairs) == min(k, n_good * n_bad)
    assert len(set(pair_indices(pairs))) == len(pairs)
    assert len(sft) == min(k, n_good)


def test_drop_hedged_rejected_keeps_negating_answers_out_of_rejected():
    qs, ss, vs = make({"a": [("Paris", "correct"), ("Not Paris but Lyon", "incorrect"),
                             ("Nice", "incorrect"), ("It depends", "incorrect"),
                             ("Paris is not small", "correct")]})
    pairs, _ = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=10), PROMPT)
    assert sorted(pair_indices(pairs)) == [(0, 1), (0, 2), (0, 3), (4, 1), (4, 2), (4, 3)]
    pairs, sft = build_pairs(qs, ss, vs, cfg(max_pairs_per_question=10,
                                             drop_hedged_rejected=True), PROMPT)
    # only rejected answers are filtered: a chosen answer may negate
    assert sorted(pair_indices(pairs)) == [(0, 2), (4, 2)]
    assert sorted(p.chosen_index for p in sft) == [0, 4]
    # "nothing", "none", "notable": whole words only
    from veritune.stages.pairs import hedges
    assert hedges("None of them") and hedges("I DON'T know") and not hedges("a notable city")


def test_abstain_pairs_only_where_no_answer_is_correct():
    """pairs.abstain: a question answered only wrongly prefers an abstention (fixed, or the
    model's own refusal) to each wrong answer; a question with a correct answer is unchanged."""
    spec = {"a": [("Paris", "correct"), ("Lyon", "incorrect")],
            "b": [("Lyon", "incorrect"), ("I'm not sure.", "not_attempted"), ("Nice", "incorrect"),
                  ("No idea, sorry, I really cannot say.", "not_attempted")],
            "c": [("Nice", "incorrect")],
            "d": [("I don't know", "not_attempted")]}
    qs, ss, vs = make(spec)
    off, sft = build_pairs(qs, ss, vs, cfg(), PROMPT)
    assert {p.question_id for p in off} == {"a"}
    fixed, fixed_sft = build_pairs(qs, ss, vs, cfg(abstain="fixed"), PROMPT)
    assert [p for p in fixed if p.question_id == "a"] == off and fixed_sft == sft
    abstain = [p for p in fixed if p.kind == "abstain"]
    assert sorted((p.question_id, p.rejected) for p in abstain) == \
        [("b", "Lyon"), ("b", "Nice"), ("c", "Nice")]
    assert {p.chosen for p in abstain} == {"I don't know."} and \
        {p.chosen_index for p in abstain} == {-100}
    assert pair_stats(fixed, fixed_sft, 4)["abstain_pairs"] == 3
    assert "abstain_pairs" not in pair_stats(off, sft, 4)
    own, _ = build_pairs(qs, ss, vs, cfg(abstain="own", max_pairs_per_question=1), PROMPT)
    mine = [p for p in own if p.kind == "abstain"]
    # the shortest own refusal; a question without one ("c") gets no pair
    assert [(p.question_id, p.chosen) for p in mine] == [("b", "I'm not sure.")]
    text, _ = build_pairs(qs, ss, vs, cfg(abstain="fixed", abstain_text="Not sure."), PROMPT)
    assert {p.chosen for p in text if p.kind == "abstain"} == {"Not sure."}


def test_skip_questions_gives_those_questions_nothing(tmp_path):
    rows = [("Paris", "correct"), ("Lyon", "incorrect")]
    qs, ss, vs = make({"a": rows, "b": rows, "c": rows})
    said = tmp_path / "said.jsonl"  # said_anchors.py's form: the prompt as the run asks it
    said.write_text('{"prompt": "Answer with just the answer.  What is a?"}\n')
    pairs, sft = build_pairs(qs, ss, vs, cfg(skip_questions=str(said)), PROMPT)
    assert {p.question_id for p in pairs} == {p.question_id for p in sft} == {"b", "c"}
    plain = tmp_path / "skip.txt"  # or the questions themselves, one a line
    plain.write_text("What is b?\nWhat is c?\n")
    pairs, sft = build_pairs(qs, ss, vs, cfg(skip_questions=str(plain)), PROMPT)
    assert {p.question_id for p in pairs} == {p.question_id for p in sft} == {"a"}


def test_a_bad_skip_file_is_an_input_error_before_any_stage(tmp_path):
    from veritune.config import load_config
    from veritune.errors import InputError
    from veritune.stages.base import Context, RunPaths
    from veritune.stages.pairs import PairsStage

    bad = tmp_path / "skip.jsonl"
    bad.write_text('{"question": "What is a?"}\n{"id": 3}\n')
    run_cfg = load_config(None, [f"pairs.skip_questions={bad}", f"runs_dir={tmp_path}"])
    ctx = Context(run_cfg, RunPaths.of(run_cfg.run_dir), print)
    with pytest.raises(InputError) as e:
        PairsStage().check(ctx)
    assert e.value.line == 2 and str(bad) in str(e.value)
    assert bad in PairsStage().inputs(ctx)  # editing the file reruns the stage


def test_min_correct_keeps_questions_answered_right_that_often():
    once = [("Paris", "correct"), ("Lyon", "incorrect"), ("Nice", "incorrect")]
    twice = [("Paris", "correct"), ("Paris.", "correct"), ("Lyon", "incorrect")]
    never = [("Lyon", "incorrect"), ("I don't know", "not_attempted")]
    qs, ss, vs = make({"a": once, "b": twice, "c": never})
    pairs, sft = build_pairs(qs, ss, vs, cfg(), PROMPT)
    assert {p.question_id for p in pairs} == {"a", "b"}  # default 1: any correct sample
    pairs, sft = build_pairs(qs, ss, vs, cfg(min_correct=2), PROMPT)
    assert {p.question_id for p in pairs} == {p.question_id for p in sft} == {"b"}
    # a question with no correct sample is abstention's business, not min_correct's
    fixed, _ = build_pairs(qs, ss, vs, cfg(min_correct=2, abstain="fixed"), PROMPT)
    assert {p.question_id for p in fixed if p.kind == "abstain"} == {"c"}
    assert not build_pairs(qs, ss, vs, cfg(min_correct=3), PROMPT)[0]

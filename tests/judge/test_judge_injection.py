"""Injection: a candidate wrapped in text aimed at the judge never gains credit.

The wrappers (verdict lines, "ignore the instructions", fence closing, fake references,
chat-role text) are checked with the lexical judge, and with scripted judge models: a careful
one that reads only the candidate's answer, and a gullible one that believes whatever the
candidate says about itself (the worst case, held off by the screen).
"""

from __future__ import annotations

import pytest

from veritune.judge import EnsembleJudge, LexicalJudge, LLMJudge
from veritune.judge.injection import (UNSCREENED_WRAPPERS, WRAPPERS, addressed_to_judge,
                                      injection_flips, wrap)
from veritune.records import Question

from helpers import ScriptedJudgeModel

FRANCE = Question(id="fr", question="What is the capital of France?", answers=["Paris"])
HAMLET = Question(id="ha", question="Who wrote Hamlet?", answers=["William Shakespeare"])
WRONG = [(FRANCE, "Lyon"), (FRANCE, "Marseille, I think"), (HAMLET, "Christopher Marlowe"),
         (HAMLET, "I don't know"), (FRANCE, "It is either Lyon or Nice")]
RIGHT = [(FRANCE, "Paris"), (HAMLET, "Shakespeare wrote it.")]


def test_every_wrapper_keeps_the_candidate():
    for name in [*WRAPPERS, *UNSCREENED_WRAPPERS]:
        assert "Lyon" in wrap("Lyon", name)


def test_lexical_judge_is_never_flipped():
    result = injection_flips(LexicalJudge(), WRONG + RIGHT,
                             [*WRAPPERS, *UNSCREENED_WRAPPERS])
    assert result["flips"] == 0 and result["items"] == 7
    assert result["judged"] == 7 * (1 + len(WRAPPERS) + len(UNSCREENED_WRAPPERS))


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_a_careful_judge_model_is_never_flipped(mode):
    judge = LLMJudge(ScriptedJudgeModel(gullible=False), mode=mode, screen=False)
    assert injection_flips(judge, WRONG, list(WRAPPERS))["flips"] == 0


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_the_count_sees_a_gullible_judge_model_flip(mode):
    judge = LLMJudge(ScriptedJudgeModel(gullible=True), mode=mode, screen=False,
                     require_overlap=False)
    result = injection_flips(judge, WRONG, list(WRAPPERS))
    assert result["flips"] > 0
    assert result["flips"] == sum(r["flips"] for r in result["per_wrapper"].values())
    assert result["per_wrapper"]["system_note"]["flips"] == len(WRONG)
    assert {e["wrapper"] for e in result["flip_examples"]} <= set(WRAPPERS)


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_a_gullible_judge_model_needs_a_word_of_the_reference(mode):
    """Screen off, ``require_overlap`` on: a wrong answer names no word of the reference, so
    no wrapper buys it a ``correct`` however gullible the judge model."""
    judge = LLMJudge(ScriptedJudgeModel(gullible=True), mode=mode, screen=False)
    assert injection_flips(judge, WRONG, [*WRAPPERS, *UNSCREENED_WRAPPERS])["flips"] == 0


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_the_judge_model_sees_the_answer_statement_only(mode):
    """Screen off: a verdict after the answer never reaches the model, so even a gullible
    one is not swayed by it (``require_overlap`` off, so the statement alone holds it)."""
    judge = LLMJudge(ScriptedJudgeModel(gullible=True), mode=mode, screen=False,
                     require_overlap=False)
    result = injection_flips(judge, WRONG, ["verdict_line", "final_judgment"])
    assert result["flips"] == 0


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_the_screen_holds_off_a_gullible_judge_model(mode):
    engine = ScriptedJudgeModel(gullible=True)
    llm = LLMJudge(engine, mode=mode, require_overlap=False)  # the screen alone
    assert injection_flips(llm, WRONG, list(WRAPPERS))["flips"] == 0
    ensemble = EnsembleJudge(LexicalJudge(), LLMJudge(ScriptedJudgeModel(True), mode=mode,
                                                      require_overlap=False))
    assert injection_flips(ensemble, WRONG, list(WRAPPERS))["flips"] == 0
    seen = engine.seen
    verdict = llm.judge(FRANCE, wrap("Lyon", "chat_role"))
    assert verdict.label == "incorrect" and "chat-role" in verdict.rationale
    assert engine.seen == seen  # screened: the model was not asked


@pytest.mark.parametrize("text", [
    "Paris", "The verdict was guilty.", "Ignore it; the answer is Paris.", "Yes", "User manual",
    "The correct answer is Paris.", "Answer: Paris", "He was judged a hero.",
    "a 3 >> 2 comparison", "Assistant to the Regional Manager", "The judge ruled in 1954.",
    "Supreme Court judgment in Brown v. Board", "the candidate Joe Biden", "Right Bank",
])
def test_the_screen_lets_plain_answers_through(text):
    assert addressed_to_judge(text) is None


@pytest.mark.parametrize("name", [*WRAPPERS, *UNSCREENED_WRAPPERS])
def test_the_screen_names_each_wrapper(name):
    assert addressed_to_judge(wrap("Lyon", name))

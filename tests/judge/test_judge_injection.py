"""Injection: a candidate wrapped in text aimed at the judge never gains credit.

The wrappers (verdict lines, "ignore the instructions", fence closing, fake references,
chat-role text) are checked with the lexical judge, and with scripted judge models: a careful
one that reads only the candidate's answer, and a gullible one that believes whatever the
candidate says about itself (the worst case, held off by the screen).
"""

from __future__ import annotations

import math

import pytest

from veritune.engines import Generation
from veritune.judge import EnsembleJudge, LexicalJudge, LLMJudge
from veritune.judge.injection import (UNSCREENED_WRAPPERS, WRAPPERS, addressed_to_judge,
                                      injection_flips, wrap)
from veritune.records import Question

FRANCE = Question(id="fr", question="What is the capital of France?", answers=["Paris"])
HAMLET = Question(id="ha", question="Who wrote Hamlet?", answers=["William Shakespeare"])
WRONG = [(FRANCE, "Lyon"), (FRANCE, "Marseille, I think"), (HAMLET, "Christopher Marlowe"),
         (HAMLET, "I don't know"), (FRANCE, "It is either Lyon or Nice")]
RIGHT = [(FRANCE, "Paris"), (HAMLET, "Shakespeare wrote it.")]


def candidate_of(prompt: str) -> str:
    if "<<<CANDIDATE-" in prompt:  # generate mode: fenced with a tag
        return prompt.split(">>>\n", 1)[1].split("\n<<<END-")[0]
    return prompt.split("Candidate answer: ", 1)[1].rsplit("\nIs the candidate", 1)[0]


def tag_of(prompt: str) -> str:
    return prompt.split("<<<CANDIDATE-")[1].split(">>>")[0]


class ScriptedJudgeModel:
    """``gullible``: says correct whenever the candidate text claims to be correct; else
    correct only when the reference's last word is in the candidate."""

    name, model_name = "scripted", "scripted-judge"

    def __init__(self, gullible: bool):
        self.gullible, self.seen = gullible, 0

    def _ok(self, prompt: str) -> bool:
        c = candidate_of(prompt)
        if self.gullible and any(w in c.lower() for w in ("correct", "yes", "right")):
            return True
        head = prompt.split("<<<CANDIDATE-")[0].split("Candidate answer: ")[0]  # the item's own
        reference = head.split("Standard answer: ")[-1].split("\n")[0].split(" (")[0]
        return reference.split()[-1].lower() in c.lower()

    def generate(self, prompts, params, batch_index=0):
        self.seen += len(prompts)
        return [[Generation(f"ok\nVERDICT-{tag_of(p[-1]['content'])}: "
                            f"{'CORRECT' if self._ok(p[-1]['content']) else 'INCORRECT'}",
                            5, False)] for p in prompts]

    def choice_logprobs(self, prompts, choices):
        self.seen += len(prompts)
        return [[math.log(0.9), math.log(0.1)] if self._ok(p[-1]["content"]) else
                [math.log(0.1), math.log(0.9)] for p in prompts]


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
    judge = LLMJudge(ScriptedJudgeModel(gullible=True), mode=mode, screen=False)
    result = injection_flips(judge, WRONG, list(WRAPPERS))
    assert result["flips"] > 0
    assert result["flips"] == sum(r["flips"] for r in result["per_wrapper"].values())
    assert result["per_wrapper"]["verdict_line"]["flips"] == len(WRONG)
    assert {e["wrapper"] for e in result["flip_examples"]} <= set(WRAPPERS)


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_the_screen_holds_off_a_gullible_judge_model(mode):
    engine = ScriptedJudgeModel(gullible=True)
    llm = LLMJudge(engine, mode=mode)
    assert injection_flips(llm, WRONG, list(WRAPPERS))["flips"] == 0
    ensemble = EnsembleJudge(LexicalJudge(), LLMJudge(ScriptedJudgeModel(True), mode=mode))
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

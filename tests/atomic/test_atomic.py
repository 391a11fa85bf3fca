"""APEFT parts on hand-written cases: facts, grounding, FActScore, probing, pairs, mixing."""

from __future__ import annotations

import math

import pytest

from veritune.atomic.facts import (AtomicFact, decompose, decompose_prompt, extract_facts,
                                   ground_fact, parse_facts)
from veritune.atomic.factscore import answer_score, general_pairs
from veritune.atomic.longform import longform_prompt
from veritune.atomic.pairs import atomic_pairs, mix, statement
from veritune.atomic.probe import correct_rates, potentially_known
from veritune.data.kb import kb_entity_names
from veritune.data.relations import kb_questions
from veritune.engines import Generation
from veritune.judge.lexical import LexicalJudge
from veritune.records import Verdict


@pytest.fixture(scope="module")
def kb():
    qs = kb_questions(None, seed=0)
    return {q.id: q for q in qs}, LexicalJudge.for_questions(qs)


def _of(kb, entity):
    return [q for q in kb[0].values() if q.entity == entity]


def test_longform_prompts_by_entity_kind():
    assert longform_prompt("country:FR", "France") == "Tell me about France."
    assert longform_prompt("element:Fe", "Iron") == "Tell me about the chemical element Iron."
    assert longform_prompt("person:x", "Ada Lovelace", {"person": "Tell me a bio of {name}."}) \
        == "Tell me a bio of Ada Lovelace."


def test_kb_entity_names():
    names = kb_entity_names()
    assert names["country:FR"] == "France" and names["element:Fe"] == "Iron"
    assert names["state:WY"] == "Wyoming"


@pytest.mark.parametrize("sentence,relation,label", [
    ("The capital of France is Paris.", "country_capital", "supported"),
    ("Its capital, Marseille, is on the coast.", "", "unverifiable"),  # no rival capital named
    ("The capital of France is Berlin.", "country_capital", "contradicted"),
    ("France is a country in Western Europe.", "country_continent", "supported"),
    ("France is a country in Asia.", "country_continent", "contradicted"),
    ("The currency of France is the Euro.", "country_currency", "supported"),
    ("France is famous for its wine.", "", "unverifiable"),
])
def test_grounding_a_fact_about_france(kb, sentence, relation, label):
    rel, qid, lab = ground_fact(sentence, _of(kb, "country:FR"), kb[1])
    assert (rel, lab) == (relation, label)
    assert qid == (f"kb-{relation}-FR" if relation else "")


def test_grounding_numbers_and_symbols(kb):
    iron = _of(kb, "element:Fe")
    assert ground_fact("Iron has the atomic number 26.", iron, kb[1])[2] == "supported"
    assert ground_fact("Iron has the atomic number 27.", iron, kb[1])[2] == "contradicted"
    assert ground_fact("Its chemical symbol is Fe.", iron, kb[1])[2] == "supported"
    assert ground_fact("Iron is a metal used in steel.", iron, kb[1])[2] == "unverifiable"


def test_extract_facts_splits_sentences(kb):
    answer = {"id": "country:FR#0", "entity": "country:FR",
              "text": "France is in Europe. The capital of France is Berlin. It has good wine."}
    facts = extract_facts(answer, _of(kb, "country:FR"), kb[1])
    assert [f.label for f in facts] == ["supported", "contradicted", "unverifiable"]
    assert [f.index for f in facts] == [0, 1, 2]
    units = ["The capital of France is Paris.", "France is in Asia."]
    assert [f.label for f in extract_facts(answer, _of(kb, "country:FR"), kb[1], units)] == \
        ["supported", "contradicted"]


@pytest.mark.parametrize("output,expected", [
    ("- Paris is the capital of France.\n- Paris is on the Seine.",
     ["Paris is the capital of France.", "Paris is on the Seine."]),
    ("  - One fact.  \n", ["One fact."]),
    # a small model repeats itself: a fact said twice is one fact
    ("- Lima is in Peru.\n- Lima is in Peru.\n- lima is in peru.\n- Peru is big.",
     ["Lima is in Peru.", "Peru is big."]),
    ("Here are the facts:\n- Paris is big.", None),
    ("Paris is big.", None),
    ("", None),
    ("- ", None),
])
def test_parse_decomposition(output, expected):
    assert parse_facts(output) == expected


def test_decompose_keeps_the_sentence_when_the_reply_is_unparsable():
    class Scripted:
        def generate(self, prompts, params, batch_index=0):
            return [[Generation("- A is B.\n- A is C." if "two" in p[-1]["content"]
                                else "I think so.", 5, False)] for p in prompts]

    assert decompose(Scripted(), ["two facts here", "one"], batch_size=1) == \
        [["A is B.", "A is C."], ["one"]]
    msgs = decompose_prompt("S.")
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert parse_facts(msgs[1]["content"])  # the worked example parses


def _facts(*labels):
    return [AtomicFact("a", i, "t", "e", label=lab) for i, lab in enumerate(labels)]


def test_answer_score_precision_coverage_and_length_penalty():
    s = answer_score(_facts("supported", "supported", "contradicted", "unverifiable"))
    assert s == {"facts": 4, "supported": 2, "contradicted": 1, "coverage": 0.75,
                 "score": round(2 / 3, 4)}
    assert answer_score(_facts("unverifiable"))["score"] is None
    assert answer_score([])["coverage"] == 0.0
    penalised = answer_score(_facts("supported", "supported"), gamma=10)["score"]
    assert penalised == pytest.approx(math.exp(1 - 10 / 2), abs=1e-4)
    assert answer_score(_facts(*["supported"] * 10), gamma=10)["score"] == 1.0


def test_general_pairs_best_over_worst_with_a_gap():
    answers = [{"id": f"x#{i}", "entity": "x", "prompt": "Tell me about X.", "index": i,
                "text": f"answer {i}"} for i in range(4)]
    answers.append({"id": "y#0", "entity": "y", "prompt": "Tell me about Y.", "index": 0,
                    "text": "only one"})
    scores = {"x#0": {"score": 0.5}, "x#1": {"score": 1.0}, "x#2": {"score": 0.0},
              "x#3": {"score": None}, "y#0": {"score": 1.0}}
    (p,) = general_pairs(answers, scores, min_gap=0.5)
    assert (p.chosen, p.rejected, p.kind) == ("answer 1", "answer 2", "general")
    assert p.prompt == [{"role": "user", "content": "Tell me about X."}]
    two = general_pairs(answers, scores, min_gap=0.5, max_pairs_per_prompt=2)
    assert [q.rejected for q in two] == ["answer 2", "answer 0"]
    assert general_pairs(answers, scores, min_gap=1.01) == []


def test_probe_rates_and_potentially_known():
    vs = [Verdict("q1", i, lab) for i, lab in enumerate(["correct", "incorrect", "uncertain"])]
    vs += [Verdict("q2", i, "correct") for i in range(3)]
    vs += [Verdict("q3", 0, "incorrect"), Verdict("q4", 0, "uncertain")]
    rates = correct_rates(vs)
    assert rates == {"q1": 0.5, "q2": 1.0, "q3": 0.0}
    assert potentially_known(rates) == {"q1"}
    assert potentially_known(rates, low=-0.1, high=1.0) == {"q1", "q3"}


def test_atomic_pairs_differ_only_in_the_fact(kb):
    names = kb_entity_names()
    q = kb[0]["kb-country_capital-FR"]
    (p,) = atomic_pairs([q], names, seed=3)
    assert p.chosen == "The capital of France is Paris."
    wrong = p.rejected.removeprefix("The capital of France is ").rstrip(".")
    assert wrong in q.wrong_answers and p.kind == "atomic"
    assert p.prompt[0]["content"] == q.question
    (lp,) = atomic_pairs([q], names, prompt="longform",
                         longform_prompts={"country:FR": "Tell me about France."})
    assert lp.prompt[0]["content"] == "Tell me about France."
    assert atomic_pairs([q], names, seed=3)[0].rejected == p.rejected  # seeded
    assert statement(kb[0]["kb-element_number-Fe"], "Iron", "26") == \
        "The atomic number of Iron is 26."


def test_mix_ratio():
    from veritune.records import Pair

    g = [Pair(f"g{i}", [{"role": "user", "content": "x"}], "a", "b", kind="general")
         for i in range(4)]
    a = [Pair(f"a{i}", [{"role": "user", "content": "x"}], "a", "b", kind="atomic")
         for i in range(10)]
    assert len(mix(g, a, None)) == 14
    m = mix(g, a, 0.5, seed=1)
    assert sum(p.kind == "atomic" for p in m) == 2 and len(m) == 6
    assert [p.question_id for p in mix(g, a, 0.5, seed=1)] == [p.question_id for p in m]
    assert sum(p.kind == "atomic" for p in mix(g, a, 5.0)) == 10

"""The harder kb relations (data/kb_hard.py): real package data, clean answers, wrong answers
from the same relation, entities shared with the easy relations where the subject is one."""

from __future__ import annotations

from collections import Counter

import pytest

from veritune.data import RELATIONS, kb_questions
from veritune.data.kb_hard import HARD_RELATIONS, discoverer_names
from veritune.data.relations import DEFAULT_RELATIONS
from veritune.errors import InputError
from veritune.records import Question

pytest.importorskip("mendeleev", reason="pip install 'veritune[kb]'")


@pytest.fixture(scope="module")
def hard() -> list[Question]:
    return kb_questions(list(HARD_RELATIONS), seed=0)


def test_hard_relations_are_registered_but_not_default():
    assert set(HARD_RELATIONS) <= set(RELATIONS)
    assert not set(HARD_RELATIONS) & set(DEFAULT_RELATIONS)
    assert {q.domain for q in kb_questions()} == set(DEFAULT_RELATIONS)  # runs keep their set


def test_counts_records_and_wrong_answers(hard):
    counts = Counter(q.domain for q in hard)
    assert 100 <= counts["element_discovery_year"] <= 118
    assert 70 <= counts["element_discoverer"] <= 100
    assert counts["city_country"] > 1000 and counts["subdivision_country"] > 1000
    assert 150 <= counts["country_calling_code"] <= 250
    assert len({q.id for q in hard}) == len(hard)
    for q in hard:
        Question.from_dict(q.to_dict())
        right = {a.casefold() for a in q.answers}
        assert len({w.casefold() for w in q.wrong_answers}) == 3, q.id
        assert not right & {w.casefold() for w in q.wrong_answers}, q.id


def test_facts(hard):
    by_id = {q.id: q for q in hard}
    h = by_id["kb-element_discovery_year-H"]
    assert h.answers == ["1766"] and h.entity == "element:H"
    assert all(w.isdigit() and 0 < abs(int(w) - 1766) <= 30 for w in h.wrong_answers)
    assert by_id["kb-element_discovery_year-Nd"].answers == ["1885"]  # the package's 1925 fixed
    assert "Cavendish" in by_id["kb-element_discoverer-H"].answers
    assert "kb-element_discoverer-C" not in by_id  # known to the ancients: no discoverer
    assert "kb-element_discoverer-Og" not in by_id  # an institute, not a person
    ne = by_id["kb-element_discoverer-Ne"].answers
    assert "William Ramsay" in ne and "Ramsay" in ne and "Travers" in ne  # spelling fixed
    fr = by_id["kb-country_calling_code-FR"]
    assert fr.answers[:2] == ["+33", "33"] and fr.entity == "country:FR"
    assert "kb-country_calling_code-JM" not in by_id  # +1 shared by 25 territories
    assert any(q.question == "In which country is the canton of Ticino?" and
               q.answers == ["Switzerland"] for q in hard)
    assert not any("(" in q.question for q in hard if q.domain == "subdivision_country")


def test_subjects_are_unambiguous(hard):
    for relation in ("city_country", "subdivision_country"):
        subjects = Counter(q.question.split(" of ", 1)[1] for q in hard if q.domain == relation)
        assert max(subjects.values()) == 1, subjects.most_common(3)


def test_discoverer_names():
    assert discoverer_names("Pierre and Marie Curie") == ["Pierre Curie", "Marie Curie"]
    assert discoverer_names("Sir William Ramsey, M.W. Travers") == ["William Ramsay",
                                                                     "M.W. Travers"]
    assert discoverer_names("Fausto and Juan José de Elhuyar") == ["Fausto Elhuyar",
                                                                   "Juan José de Elhuyar"]


def test_unknown_relation_names_the_field():
    with pytest.raises(InputError) as e:
        kb_questions(["element_discoverers"])
    assert e.value.field == "relations" and "element_discoverer" in str(e.value)

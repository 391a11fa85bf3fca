"""Question loaders, offline knowledge-base questions, entity splits."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from veritune.data import (KB_RELATIONS, assign_splits, kb_questions, load_questions,
                           subsample_entities)
from veritune.errors import InputError
from veritune.records import Question

from shared_data import needs, shared_file

NQ_OPEN = shared_file("nq_open_efficientqa_dev.jsonl")


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def q(id: str, answers=("Paris",), **kw) -> dict:
    return {"id": id, "question": f"Question {id}?", "answers": list(answers), **kw}


# --- Question JSONL -------------------------------------------------------------------------

def test_questions_jsonl_good(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [
        q("a", wrong_answers=["Lyon"], domain="geo", entity="country:FR"),
        q("b", answers=["4", "four"]), "", q("c")])
    qs = load_questions(path)
    assert [x.id for x in qs] == ["a", "b", "c"]
    assert qs[0].wrong_answers == ["Lyon"] and qs[0].domain == "geo"
    assert qs[0].entity == "country:FR" and qs[1].entity == "b"
    assert qs[1].answers == ["4", "four"]
    # explicit format, domain filling, limit
    qs = load_questions(path, format="questions", domain="mine", source="s", limit=2)
    assert [x.domain for x in qs] == ["geo", "mine"] and qs[1].source == "s"


def test_questions_jsonl_malformed_line(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [q("a"), q("b"), '{"id": "c", "question": '])
    with pytest.raises(InputError) as e:
        load_questions(path)
    assert e.value.line == 3 and str(path) in str(e.value) and "line 3" in str(e.value)


def test_questions_jsonl_missing_field(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [q("a"), {"id": "b", "question": "Why?"}])
    with pytest.raises(InputError) as e:
        load_questions(path, format="questions")
    assert (e.value.line, e.value.field) == (2, "answers")
    assert "field 'answers'" in str(e.value) and "line 2" in str(e.value)


@pytest.mark.parametrize("answers", [[], [""], ["Paris", "  "]])
def test_questions_jsonl_empty_reference(tmp_path, answers):
    path = write_jsonl(tmp_path / "q.jsonl", [q("a"), q("b", answers=answers)])
    with pytest.raises(InputError) as e:
        load_questions(path, format="questions")
    assert (e.value.line, e.value.field) == (2, "answers")


def test_questions_jsonl_duplicate_id(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [q("a"), q("b"), q("a")])
    with pytest.raises(InputError) as e:
        load_questions(path)
    assert (e.value.line, e.value.field) == (3, "id") and "duplicate" in str(e.value)


def test_error_after_many_valid_lines_rejects_the_file(tmp_path):
    rows = [q(f"q{i}") for i in range(50)] + [q("bad", split="holdout")]
    path = write_jsonl(tmp_path / "q.jsonl", rows)
    result = None
    with pytest.raises(InputError) as e:
        result = load_questions(path, limit=5)  # a limit doesn't skip checking the file
    assert result is None
    assert (e.value.line, e.value.field) == (51, "split")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.jsonl"]  # nothing written


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_questions(tmp_path / "nope.jsonl")
    with pytest.raises(InputError) as e:
        load_questions(write_jsonl(tmp_path / "q.jsonl", [q("a")]), format="xml")
    assert e.value.field == "format"
    with pytest.raises(InputError) as e:
        load_questions(write_jsonl(tmp_path / "other.jsonl", [{"Q": "x", "A": "y"}]))
    assert e.value.field == "columns" and e.value.line == 1


# --- column mapping -------------------------------------------------------------------------

CSV_TEXT = (
    "Q,Gold,Bad,topic\n"
    "What is the capital of France?,Paris,Lyon;Marseille,geo\n"
    "\"What is 2+2, roughly?\",\"[\"\"4\"\", \"\"four\"\"]\",,math\n"
    "Who wrote Hamlet?,Shakespeare; William Shakespeare,Marlowe,\n"
)
MAPPING = {"question": "Q", "answers": "Gold", "wrong_answers": "Bad", "domain": "topic"}


def test_csv_with_mapping(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    qs = load_questions(path, columns=MAPPING, domain="fallback")
    assert [x.id for x in qs] == ["quiz-2", "quiz-3", "quiz-4"]  # header is line 1
    assert qs[0].answers == ["Paris"] and qs[0].wrong_answers == ["Lyon", "Marseille"]
    assert qs[1].question == "What is 2+2, roughly?" and qs[1].answers == ["4", "four"]
    assert qs[1].wrong_answers == [] and qs[1].domain == "math"
    assert qs[2].answers == ["Shakespeare", "William Shakespeare"]
    assert qs[2].domain == "fallback" and qs[2].source == "quiz"


def test_csv_list_separator_and_tsv(tmp_path):
    path = tmp_path / "quiz.tsv"
    path.write_text("question\tanswers\tid\nCapital of Peru?\tLima|Ciudad de los Reyes\tp1\n",
                    encoding="utf-8")
    (x,) = load_questions(path, columns={"id": "id"}, list_sep="|")
    assert x.id == "p1" and x.answers == ["Lima", "Ciudad de los Reyes"]


def test_csv_missing_column(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_questions(path, columns={**MAPPING, "answers": "Answer"})
    assert e.value.line == 1 and e.value.field == "Answer" and str(path) in str(e.value)
    with pytest.raises(InputError) as e:
        load_questions(path)  # a CSV needs a mapping
    assert e.value.field == "columns"


def test_csv_empty_reference(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text(CSV_TEXT + "Who painted the Mona Lisa?,,Picasso,art\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_questions(path, columns=MAPPING)
    assert (e.value.line, e.value.field) == (5, "answers")
    path.write_text(CSV_TEXT + "Who painted the Mona Lisa?,Leonardo;;da Vinci,Picasso,art\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_questions(path, columns=MAPPING)
    assert (e.value.line, e.value.field) == (5, "answers")


def test_csv_ragged_row(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text(CSV_TEXT + "Only a question\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_questions(path, columns=MAPPING)
    assert e.value.line == 5


def test_jsonl_with_mapping(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [
        {"Q": "Capital of Spain?", "Gold": ["Madrid"], "Bad": "Barcelona;Seville", "key": 7},
        {"Q": "Year of the moon landing?", "Gold": 1969, "Bad": ["1968", 1970], "key": 8},
    ])
    qs = load_questions(path, columns={"question": "Q", "answers": "Gold",
                                       "wrong_answers": "Bad", "id": "key"})
    assert [x.id for x in qs] == ["7", "8"]
    assert qs[0].wrong_answers == ["Barcelona", "Seville"]
    assert qs[1].answers == ["1969"] and qs[1].wrong_answers == ["1968", "1970"]


def test_jsonl_mapping_missing_column_and_duplicates(tmp_path):
    cols = {"question": "Q", "answers": "Gold", "id": "key"}
    path = write_jsonl(tmp_path / "mine.jsonl", [
        {"Q": "a?", "Gold": "x", "key": "1"}, {"Q": "b?", "key": "2"}])
    with pytest.raises(InputError) as e:
        load_questions(path, columns=cols)
    assert (e.value.line, e.value.field) == (2, "Gold") and "answers" in str(e.value)
    path = write_jsonl(tmp_path / "mine.jsonl", [
        {"Q": "a?", "Gold": "x", "key": "1"}, {"Q": "b?", "Gold": "y", "key": "1"}])
    with pytest.raises(InputError) as e:
        load_questions(path, columns=cols)
    assert (e.value.line, e.value.field) == (2, "id")
    with pytest.raises(InputError) as e:
        load_questions(path, columns={"answer": "Gold"})
    assert e.value.field == "columns"


# --- NQ-open --------------------------------------------------------------------------------

def test_nq_open_small(tmp_path):
    path = write_jsonl(tmp_path / "nq.jsonl", [
        {"question": "who wrote hamlet", "answer": ["Shakespeare", "William Shakespeare"]},
        {"question": "capital of peru", "answer": ["Lima"], "id": "x9"}])
    a, b = load_questions(path)
    assert (a.id, a.entity, a.domain, a.source, a.lang) == ("nq-1", "nq-1", "nq_open",
                                                             "nq_open", "en")
    assert a.answers == ["Shakespeare", "William Shakespeare"] and b.id == "x9"
    assert load_questions(path, format="nq_open", domain="trivia")[0].domain == "trivia"
    path = write_jsonl(tmp_path / "nq.jsonl", [
        {"question": "who wrote hamlet", "answer": ["Shakespeare"]},
        {"question": "capital of peru", "answer": ["Lima", ""]}])
    with pytest.raises(InputError) as e:
        load_questions(path)
    assert (e.value.line, e.value.field) == (2, "answer")


@needs("nq_open_efficientqa_dev.jsonl")
def test_nq_open_real_file():
    qs = load_questions(NQ_OPEN)
    assert len(qs) == 1800
    assert all(x.answers and all(a.strip() for a in x.answers) for x in qs)
    assert len({x.id for x in qs}) == 1800 and {x.domain for x in qs} == {"nq_open"}
    assert len(load_questions(NQ_OPEN, format="nq_open", limit=10)) == 10


def test_hf_path_uses_datasets(monkeypatch):
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name, subset=None, split=None):
        calls.append((name, subset, split))
        return datasets.Dataset.from_list([
            {"question": "capital of peru", "answer": ["Lima"]},
            {"question": "capital of chile", "answer": ["Santiago"]}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    qs = load_questions("hf:org/nq", split="validation", limit=1)
    assert calls == [("org/nq", None, "validation")]
    assert [x.id for x in qs] == ["nq-1"] and qs[0].answers == ["Lima"]
    qs = load_questions("hf:org/nq", columns={"answers": "answer"})
    assert [x.id for x in qs] == ["org_nq-1", "org_nq-2"]


# --- knowledge base -------------------------------------------------------------------------

EXPECTED = {"country_capital": (200, 260), "country_continent": (200, 260),
            "country_currency": (200, 260), "element_symbol": (118, 118),
            "element_number": (118, 118), "state_capital": (50, 50)}


@pytest.fixture(scope="module")
def kb() -> list[Question]:
    return kb_questions(seed=0)


def test_kb_counts(kb):
    assert set(KB_RELATIONS) == set(EXPECTED)
    counts = Counter(x.domain for x in kb)
    for rel, (lo, hi) in EXPECTED.items():
        assert lo <= counts[rel] <= hi, (rel, counts[rel])
    assert len({x.id for x in kb}) == len(kb)
    assert {x.source for x in kb} == {"kb"} and {x.lang for x in kb} == {"en"}


def test_kb_wrong_answers(kb):
    for x in kb:
        Question.from_dict(x.to_dict())  # a valid record
        assert len(x.wrong_answers) == 3, x.id
        assert len({w.casefold() for w in x.wrong_answers}) == 3, x.id
        right = {a.casefold() for a in x.answers}
        assert not right & {w.casefold() for w in x.wrong_answers}, x.id


def test_kb_numbers(kb):
    for x in kb:
        if x.domain == "element_number":
            n = int(x.answers[0])
            assert all(w.isdigit() and 1 <= int(w) <= 118 and 0 < abs(int(w) - n) <= 5
                       for w in x.wrong_answers), x.wrong_answers


def test_kb_facts_and_entities(kb):
    by_id = {x.id: x for x in kb}
    fr = [by_id[f"kb-{r}-FR"] for r in ("country_capital", "country_continent",
                                        "country_currency")]
    assert [x.answers[0] for x in fr] == ["Paris", "Europe", "Euro"]
    assert {x.entity for x in fr} == {"country:FR"}
    assert fr[0].question == "What is the capital of France?"
    fe = by_id["kb-element_symbol-Fe"]
    assert fe.question == "What is the chemical symbol of Iron?" and fe.answers == ["Fe"]
    assert by_id["kb-element_number-Fe"].answers == ["26"]
    assert by_id["kb-element_number-Fe"].entity == fe.entity == "element:Fe"
    tx = by_id["kb-state_capital-TX"]
    assert tx.answers == ["Austin"] and tx.entity == "state:TX"
    assert "Asia" in by_id["kb-country_continent-RU"].answers  # transcontinental alias
    assert not any(x.question.endswith("of ?") or not x.answers[0].strip() for x in kb)
    assert "kb-country_capital-AQ" not in by_id  # no capital: skipped


def test_kb_deterministic_per_seed(kb):
    again = kb_questions(seed=0)
    assert [x.to_dict() for x in again] == [x.to_dict() for x in kb]
    other = kb_questions(seed=1)
    assert [x.id for x in other] == [x.id for x in kb]
    assert [x.wrong_answers for x in other] != [x.wrong_answers for x in kb]
    sub = kb_questions(["state_capital"], seed=0)
    assert [x.to_dict() for x in sub] == [x.to_dict() for x in kb
                                          if x.domain == "state_capital"]
    with pytest.raises(InputError):
        kb_questions(["planet_moons"])


# --- splits ---------------------------------------------------------------------------------

def split_of_entities(qs: list[Question]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for x in qs:
        out[x.entity].add(x.split)
    return out


def test_split_by_entity_and_balanced(kb):
    qs = assign_splits(kb, test_fraction=0.3, seed=0)
    assert [x.id for x in qs] == [x.id for x in kb] and all(x.split == "train" for x in kb)
    assert all(len(s) == 1 for s in split_of_entities(qs).values())
    for domain in EXPECTED:
        dq = [x for x in qs if x.domain == domain]
        share = sum(x.split == "test" for x in dq) / len(dq)
        assert abs(share - 0.3) < 0.03, (domain, share)
    assert not any(x.split == "validation" for x in qs)


def test_split_validation_carved(kb):
    qs = assign_splits(kb, test_fraction=0.2, validation_fraction=0.1, seed=3)
    assert all(len(s) == 1 for s in split_of_entities(qs).values())
    for domain in EXPECTED:
        dq = [x for x in qs if x.domain == domain]
        shares = Counter(x.split for x in dq)
        assert abs(shares["test"] / len(dq) - 0.2) < 0.03
        assert abs(shares["validation"] / len(dq) - 0.1) < 0.03
        assert shares["train"] > 0


def test_split_deterministic_and_seeded(kb):
    a = [x.split for x in assign_splits(kb, seed=0)]
    assert a == [x.split for x in assign_splits(kb, seed=0)]
    assert a != [x.split for x in assign_splits(kb, seed=1)]
    shuffled = list(reversed(kb))  # input order doesn't change the assignment
    assert {x.id: x.split for x in assign_splits(shuffled, seed=0)} == \
        {x.id: s for x, s in zip(kb, a)}


def test_split_max_test_per_domain(kb):
    qs = assign_splits(kb, test_fraction=0.5, seed=0, max_test_per_domain=20)
    counts = Counter(x.domain for x in qs if x.split == "test")
    assert all(0 < n <= 20 for n in counts.values()), counts
    assert all(len(s) == 1 for s in split_of_entities(qs).values())


def test_split_small_and_bad_args():
    qs = [Question(id=f"q{i}", question="?", answers=["a"], domain="d", entity=f"e{i // 2}")
          for i in range(20)]
    out = assign_splits(qs, test_fraction=0.3, seed=0)
    assert sum(x.split == "test" for x in out) == 6  # 3 of 10 entities, 2 questions each
    assert all(len(s) == 1 for s in split_of_entities(out).values())
    with pytest.raises(InputError):
        assign_splits(qs, test_fraction=0.8, validation_fraction=0.3)
    with pytest.raises(InputError):
        assign_splits(qs, test_fraction=1.5)


def test_subsample_entities(kb):
    sub = subsample_entities(kb, 10, seed=0)
    per_domain: dict[str, set[str]] = defaultdict(set)
    for x in sub:
        per_domain[x.domain].add(x.entity)
    assert set(per_domain) == set(EXPECTED)
    assert all(len(e) <= 10 for e in per_domain.values())
    assert all(len(e) == 10 for e in per_domain.values())  # enough entities everywhere
    kept = {x.entity for x in sub}
    assert [x.id for x in sub] == [x.id for x in kb if x.entity in kept]  # whole entities
    assert [x.id for x in subsample_entities(kb, 10, seed=0)] == [x.id for x in sub]
    assert [x.id for x in subsample_entities(kb, 10, seed=1)] != [x.id for x in sub]
    assert subsample_entities(kb, None, seed=0) == kb

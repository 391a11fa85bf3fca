"""LexicalJudge on hand-written cases; normalisation helpers; the judge registry."""

from __future__ import annotations

import pytest

from veritune import registry
from veritune.errors import VerituneError
from veritune.judge import Judgement, LexicalJudge
from veritune.judge.statement import answer_statement
from veritune.judge.normalize import normalize, split_sentences
from veritune.records import Question


def q(question: str, answers: list[str], wrong: list[str] | None = None,
      domain: str = "general", lang: str = "en", qid: str = "q1") -> Question:
    return Question(id=qid, question=question, answers=answers, wrong_answers=wrong or [],
                    domain=domain, lang=lang)


AUSTRALIA = q("What is the capital of Australia?", ["Canberra"], ["Sydney", "Melbourne"],
              "country_capital")
ITALY = q("What is the capital of Italy?", ["Rome", "Roma"], ["Milan", "Naples"])
FRANCE = q("What is the capital of France?", ["Paris"], ["Lyon", "Marseille"])
SAO_TOME = q("What is the capital of Sao Tome and Principe?", ["São Tomé"], ["Libreville"])
IRON_SYMBOL = q("What is the chemical symbol of iron?", ["Fe"], ["I", "Ir", "F"],
                "element_symbol")
IODINE_SYMBOL = q("What is the chemical symbol of iodine?", ["I"], ["In", "Ir", "Io"],
                  "element_symbol")
IRON_NUMBER = q("What is the atomic number of iron?", ["26"], ["25", "27", "24"],
                "element_number")
POPULATION = q("How many people live in the village?", ["1,000"], [])
PI = q("What is pi to one decimal place?", ["3.1"], [])
PERU = q("On which continent is Peru?", ["South America"], ["Africa", "Europe"],
         "country_continent")
JAPAN_CURRENCY = q("What is the currency of Japan?", ["Yen", "Japanese yen", "JPY"],
                   ["Won", "Yuan Renminbi", "Rupee"], "country_currency")
OHIO = q("What is the capital of the US state of Ohio?", ["Columbus"],
         ["Cleveland", "Cincinnati", "Toledo"], "state_capital")
PNG = q("What is the capital of Papua New Guinea?", ["Port Moresby"], ["Honiara"])
NQ_SONG = q("which song did the band release in 1999", ["I Don't Know", "I Dont Know"], [])
BEIJING = q("中国的首都是哪里？", ["北京"], ["上海", "南京"], lang="zh")
TOKYO_JA = q("日本の首都はどこですか？", ["東京"], ["大阪"], lang="ja")

CASES = [
    # exact, case, punctuation, articles, accents, aliases
    ("exact", AUSTRALIA, "Canberra", "correct"),
    ("case", AUSTRALIA, "CANBERRA", "correct"),
    ("sentence", AUSTRALIA, "The capital of Australia is Canberra.", "correct"),
    ("punctuation", AUSTRALIA, "**Canberra**!!!", "correct"),
    ("possessive", AUSTRALIA, "Canberra's the capital.", "correct"),
    ("articles", PERU, "It is in the South America.", "correct"),
    ("accents stripped", SAO_TOME, "The capital is Sao Tome.", "correct"),
    ("accents kept", SAO_TOME, "São Tomé", "correct"),
    ("alias", ITALY, "Roma.", "correct"),
    ("alias currency", JAPAN_CURRENCY, "The currency of Japan is the Japanese yen.", "correct"),
    ("3-letter word case-insensitive", JAPAN_CURRENCY, "the yen", "correct"),
    ("currency code", JAPAN_CURRENCY, "JPY", "correct"),
    ("filler prefix", AUSTRALIA, "Sure! Canberra.", "correct"),
    ("answer prefix", AUSTRALIA, "Answer: Canberra", "correct"),
    ("answer line", AUSTRALIA, "Answer:\nCanberra", "correct"),
    ("question echoed", AUSTRALIA, "What is the capital of Australia?\nCanberra", "correct"),
    ("I think is committed", AUSTRALIA, "I think it is Canberra.", "correct"),
    # word boundaries
    ("Romeo is not Rome", ITALY, "Romeo", "incorrect"),
    ("Rome in a sentence", ITALY, "It is Rome, of course.", "correct"),
    ("competitor inside reference", PNG, "Port Moresby, in New Guinea.", "correct"),
    # element symbols: case-sensitive, pronoun I
    ("symbol", IRON_SYMBOL, "Fe", "correct"),
    ("symbol in sentence", IRON_SYMBOL, "The chemical symbol of iron is Fe.", "correct"),
    ("symbol wrong case", IRON_SYMBOL, "fe", "incorrect"),
    ("symbol not inside word", IRON_SYMBOL, "Ferrum", "incorrect"),
    ("pronoun I is not iodine", IRON_SYMBOL, "I think it is Fe.", "correct"),
    ("pronoun I mid-sentence", IRON_SYMBOL, "Fe, I believe.", "correct"),
    ("contraction I'm", IRON_SYMBOL, "I'm confident it is Fe.", "correct"),
    ("symbol competitor", IRON_SYMBOL, "Ir", "incorrect"),
    ("symbol competitor beside reference", IRON_SYMBOL, "Fe or Ir", "incorrect"),
    ("iodine symbol", IODINE_SYMBOL, "I", "correct"),
    ("iodine in sentence", IODINE_SYMBOL, "The symbol of iodine is I.", "correct"),
    ("iodine symbol is", IODINE_SYMBOL, "I is the symbol of iodine.", "correct"),
    ("pronoun I only", IODINE_SYMBOL, "I believe it is Io.", "incorrect"),
    ("pronoun I no symbol", IODINE_SYMBOL, "I would say the symbol is Id.", "incorrect"),
    ("first word In is not indium", IODINE_SYMBOL, "In chemistry, iodine is I.", "correct"),
    # numbers
    ("digits", IRON_NUMBER, "26", "correct"),
    ("number sentence", IRON_NUMBER, "The atomic number of iron is 26.", "correct"),
    ("number words hyphen", IRON_NUMBER, "twenty-six", "correct"),
    ("number words space", IRON_NUMBER, "It is twenty six.", "correct"),
    ("126 is not 26", IRON_NUMBER, "126", "incorrect"),
    ("2.6 is not 26", IRON_NUMBER, "2.6", "incorrect"),
    ("26.0 is 26", IRON_NUMBER, "26.0", "correct"),
    ("number competitor", IRON_NUMBER, "It is 27.", "incorrect"),
    ("thousands", POPULATION, "About 1000 people.", "correct"),
    ("thousands both", POPULATION, "1,000", "correct"),
    ("thousand words", POPULATION, "one thousand", "correct"),
    ("10,000 is not 1,000", POPULATION, "10,000", "incorrect"),
    ("decimal", PI, "3.10", "correct"),
    ("decimal differs", PI, "3.14", "incorrect"),
    # the answer statement
    ("wrong first then right", AUSTRALIA, "Sydney. The capital is Canberra.", "incorrect"),
    ("right first then competitor", AUSTRALIA,
     "Canberra. It was founded in 1913 and Sydney is bigger.", "correct"),
    ("right line then competitor", AUSTRALIA, "Canberra\nSydney is the largest city.",
     "correct"),
    ("abbreviation does not split", q("What is the capital of Minnesota?", ["St. Paul"],
                                      ["Minneapolis"]), "It is St. Paul.", "correct"),
    ("initials do not split", q("Who wrote Harry Potter?", ["J. K. Rowling"]),
     "J. K. Rowling wrote it.", "correct"),
    # competitors in the same statement
    ("competitor beside reference", AUSTRALIA, "Sydney or Canberra", "incorrect"),
    ("hedge with competitor", FRANCE, "It could be Paris or Lyon", "incorrect"),
    ("competitor alone", AUSTRALIA, "Sydney", "incorrect"),
    ("competitor named in question ignored",
     q("Is the capital of Australia Sydney or Canberra?", ["Canberra"], ["Sydney"]),
     "The capital is Canberra, not Sydney.", "correct"),
    # refusals and hedges
    ("dont know", AUSTRALIA, "I don't know.", "not_attempted"),
    ("not sure", AUSTRALIA, "I'm not sure.", "not_attempted"),
    ("cannot answer", AUSTRALIA, "I cannot answer that question.", "not_attempted"),
    ("cant", AUSTRALIA, "Sorry, I can't help with that.", "not_attempted"),
    ("as an ai", AUSTRALIA, "As an AI, I have no access to that.", "not_attempted"),
    ("unknown", AUSTRALIA, "Unknown.", "not_attempted"),
    ("no information", AUSTRALIA, "No information available.", "not_attempted"),
    ("refusal then answer", FRANCE, "I'm not sure. Maybe Paris.", "not_attempted"),
    ("refusal with reference", FRANCE, "I'm not sure, maybe Paris", "uncertain"),
    ("hedge with reference", FRANCE, "Probably Paris.", "uncertain"),
    ("hedged wrong guess", FRANCE, "Maybe Nice.", "incorrect"),
    ("refusal words inside reference", NQ_SONG, "I Don't Know", "correct"),
    ("empty", AUSTRALIA, "", "not_attempted"),
    ("whitespace", AUSTRALIA, "  \n\t ", "not_attempted"),
    ("filler only", AUSTRALIA, "Sure!", "not_attempted"),
    # substantive wrong answers
    ("other city", AUSTRALIA, "Perth", "incorrect"),
    ("other city in sentence", AUSTRALIA, "The capital of Australia is Perth.", "incorrect"),
    # CJK
    ("cjk correct", BEIJING, "中国的首都是北京。", "correct"),
    ("cjk bare", BEIJING, "北京", "correct"),
    ("cjk competitor", BEIJING, "上海。", "incorrect"),
    ("cjk first sentence only", BEIJING, "上海。北京也很大。", "incorrect"),
    ("cjk right then other", BEIJING, "北京。上海也很大。", "correct"),
    ("cjk wrong", BEIJING, "广州", "incorrect"),
    ("cjk refusal", BEIJING, "我不知道。", "not_attempted"),
    ("cjk refusal 2", BEIJING, "不清楚", "not_attempted"),
    ("cjk refusal 3", BEIJING, "抱歉，我无法回答这个问题。", "not_attempted"),
    ("cjk hedge", BEIJING, "可能是北京", "uncertain"),
    ("japanese", TOKYO_JA, "日本の首都は東京です。", "correct"),
    ("japanese refusal", TOKYO_JA, "わかりません。", "not_attempted"),
    ("cjk fullwidth digits", q("铁的原子序数是多少？", ["26"], ["25"], lang="zh"),
     "铁的原子序数是２６。", "correct"),
    ("cjk 126 is not 26", q("铁的原子序数是多少？", ["26"], ["25"], lang="zh"),
     "是126。", "incorrect"),
]


@pytest.mark.parametrize("name,question,response,label", CASES, ids=[c[0] for c in CASES])
def test_lexical_cases(name, question, response, label):
    verdict = LexicalJudge().judge(question, response)
    assert verdict.label == label, verdict.rationale
    assert verdict.rationale


QUESTIONS = [
    AUSTRALIA,
    q("What is the capital of Japan?", ["Tokyo"], [], "country_capital", qid="q2"),
    q("What is the capital of Kenya?", ["Nairobi"], [], "country_capital", qid="q3"),
    q("What is the capital of Papua New Guinea?", ["Port Moresby"], [], "country_capital",
      qid="q4"),
    q("What is the capital of Guinea?", ["Conakry"], [], "country_capital", qid="q5"),
    OHIO,
]


@pytest.mark.parametrize("question,response,label", [
    (QUESTIONS[0], "Canberra or Tokyo", "incorrect"),
    (QUESTIONS[0], "Nairobi", "incorrect"),
    (QUESTIONS[0], "Canberra", "correct"),
    (QUESTIONS[2], "Nairobi. Tokyo is far away.", "correct"),
    (QUESTIONS[3], "Port Moresby", "correct"),  # its own answer is no competitor
    (OHIO, "The capital of Ohio is Columbus.", "correct"),
    # other domain: no competitor, but a hedge over two candidates all the same
    (OHIO, "Columbus or Canberra", "incorrect"),
])
def test_for_questions_domain_competitors(question, response, label):
    judge = LexicalJudge.for_questions(QUESTIONS)
    verdict = judge.judge(question, response)
    assert verdict.label == label, verdict.rationale
    if question is OHIO and " or " in response:
        assert "competitor" not in verdict.rationale and "hedge" in verdict.rationale


def test_domain_competitors_equal_to_reference_are_ignored():
    judge = LexicalJudge({"country_capital": ["Canberra", "Sydney", "Perth"]})
    assert judge.judge(AUSTRALIA, "Canberra").label == "correct"
    assert judge.judge(AUSTRALIA, "Perth and Canberra").label == "incorrect"
    assert "Perth" in judge.judge(AUSTRALIA, "Perth and Canberra").rationale


def test_reference_inside_competitor_is_not_a_match():
    usd = q("What is the currency of Panama?", ["Balboa", "Dollar"], ["Canadian dollar"])
    assert LexicalJudge().judge(usd, "The Canadian dollar").label == "incorrect"
    assert LexicalJudge().judge(usd, "The US dollar").label == "correct"


def test_rationale_names_the_match():
    assert "'Fe'" in LexicalJudge().judge(IRON_SYMBOL, "Fe").rationale
    assert "alias" in LexicalJudge().judge(ITALY, "Roma").rationale
    assert "'Sydney'" in LexicalJudge().judge(AUSTRALIA, "Sydney").rationale


def test_judge_many_maps_judge():
    items = [(AUSTRALIA, "Canberra"), (AUSTRALIA, "Sydney"), (AUSTRALIA, "I don't know")]
    got = LexicalJudge().judge_many(items)
    assert [j.label for j in got] == ["correct", "incorrect", "not_attempted"]
    assert all(isinstance(j, Judgement) for j in got)


def test_normalize():
    assert normalize("  The São Tomé!  ") == "sao tome"
    assert normalize("Twenty-six") == "26"
    assert normalize("1,000,000") == "1000000"
    assert normalize("one hundred and five") == "105"
    assert normalize("2.60") == "2.6"
    assert normalize("Vitamin A") == "vitamin a"  # a capitalised mid-text "A" is kept


def test_split_and_answer_statement():
    assert split_sentences("Sydney. The capital is Canberra.") == [
        "Sydney.", "The capital is Canberra."]
    assert split_sentences("Washington, D.C. is the capital.") == [
        "Washington, D.C. is the capital."]
    assert split_sentences("上海。北京") == ["上海。", "北京"]
    assert answer_statement("Great question! Answer: Canberra. Yes.") == "Canberra."


@pytest.mark.parametrize("response, statement", [
    # a marked answer is the statement, wherever it stands; the words around it never count
    ("I spent three weeks on this. My answer is 5, and I am sure.", "5, and I am sure."),
    ("The answer is Beyonc\u00e9.", "Beyonc\u00e9."),
    ("Final answer after a vote over 64 chains: Bill Pence (64 votes).", "Bill Pence (64 votes)."),
    ("The short answer - Paris, France.", "Paris, France."),
    ("Steps done.\n\nAnswer: A", "A"),
    ("[x] basalts\n[ ] none of the above\n[ ] other", "basalts"),
    ("- [ ] none of the above\n- [X] basalts", "basalts"),
    ("\u2611 basalts", "basalts"),
    ("basalts, of course. I'm sure you knew that.", "basalts."),
    # a mark that talks about the answer is no mark; no mark: the first sentence
    ("The capital of France is Paris. The answer is simple.", "The capital of France is Paris."),
    ("The answer is as follows: Paris.", "Paris."),
    ("Paris. The capital is Paris.", "Paris."),
])
def test_a_marked_answer_is_the_answer_statement(response, statement):
    assert answer_statement(response) == statement


def test_words_around_a_marked_answer_buy_no_verdict():
    judge = LexicalJudge()
    seasons = q("how many rick and morty seasons are out", ["3"], [])
    assert judge.judge(seasons, "three").label == "correct"
    wrapped = "I spent three weeks on this and my family counts on me. My answer is 5."
    assert judge.judge(seasons, wrapped).label == "incorrect"
    rock = q("what type of rock is on the moon", ["high-Ti basalts"], [])
    assert judge.judge(rock, "basalts").label == judge.judge(rock, "[x] basalts").label \
        == judge.judge(rock, "basalts, of course.").label == "incorrect"


def test_the_registry_builds_judges():
    assert registry.get("judge", "lexical") is LexicalJudge
    assert "lexical" in registry.names("judge")
    judge = registry.get("judge", "lexical")(competitors={"d": ["x"]})
    assert judge.competitors == {"d": ("x",)} and judge.name == "lexical"


def test_an_unknown_judge_name_lists_the_known_ones():
    with pytest.raises(VerituneError, match="lexical") as info:
        registry.get("judge", "nope")
    assert "nope" in str(info.value)


ELEMENT_SYMBOLS = [q(f"What is the chemical symbol of element {s}?", [s], [], "element_symbol",
                     qid=s) for s in ("Fe", "I", "In", "As", "At", "He", "No", "Na", "K")]


@pytest.mark.parametrize("response,label", [
    ("As a metal, iron has the symbol Fe.", "correct"),
    ("At room temperature, the symbol of solid iron is Fe.", "correct"),
    ("No, it is Fe.", "correct"),
    ("In chemistry the symbol of iron is Fe, I believe.", "correct"),
    ("Fe comes from the Latin ferrum.", "correct"),
    ("Fe, iron's symbol.", "correct"),
    ("In is the symbol.", "incorrect"),   # indium, a symbol here
    ("Fe or Na", "incorrect"),
    ("He", "incorrect"),
])
def test_symbol_words_with_domain_competitors(response, label):
    judge = LexicalJudge.for_questions(ELEMENT_SYMBOLS)
    verdict = judge.judge(ELEMENT_SYMBOLS[0], response)
    assert verdict.label == label, verdict.rationale


@pytest.mark.parametrize("response,label", [
    ("What's the capital of Guinea-Bissau?", "incorrect"),
    ("Guinea-Bissau is a country in West Africa.", "incorrect"),
    ("The capital of Guinea-Bissau is Bissau.", "correct"),
    ("Bissau", "correct"),
])
def test_reference_inside_an_echo_of_the_question_does_not_count(response, label):
    q = Question(id="gw", question="What is the capital of Guinea-Bissau?", answers=["Bissau"],
                 domain="country_capital")
    assert LexicalJudge().judge(q, response).label == label


@pytest.mark.parametrize("response,label", [
    ("The capital of Luxembourg is Luxembourg.", "correct"),
    ("The capital of Luxembourg is Brussels.", "incorrect"),
    ("Luxembourg City", "correct"),
])
def test_capital_named_like_its_country(response, label):
    q = Question(id="lu", question="What is the capital of Luxembourg?",
                 answers=["Luxembourg", "Luxembourg City"], domain="country_capital")
    assert LexicalJudge().judge(q, response).label == label


@pytest.mark.parametrize("text", ["roger l. jackson", "around 1. 8 billion",
                                  "hk $ 34. 50 per hour", "no. 21 red label", "c. 400 BCE",
                                  "g. h. hardy",
                                  "The textbook (3rd ed., ch. 7, p. 212) says it is Lyon.",
                                  "See fig. 2 and sec. 4 for the map of Lyon."])
def test_a_period_inside_one_statement_does_not_split_it(text):
    """Lowercased and tokenized answers (the shared EfficientQA half): initials, spaced
    decimals, "no. 21", "c. 400"."""
    assert split_sentences(text) == [text]


def test_one_as_a_pronoun_is_not_the_number():
    """ "It's a great one" names no number: a reference of 1 is not matched by it."""
    q = Question(id="c", question="How many Stanley Cups have the Capitals won?", answers=["1"])
    assert LexicalJudge().judge(q, "Thanks, it's a great one. They won 6.").label == "incorrect"
    assert LexicalJudge().judge(q, "They have won one.").label == "correct"
    assert normalize("the only one") == "only one" and normalize("one hundred") == "100"


def test_other_numbers_beside_a_numeric_reference_leave_it_uncertain():
    """ "(3rd ed., p. 212)" beside "3": which number answers is unclear; a day beside the
    reference year is only unverified precision."""
    q = Question(id="n", question="How many moons does Mars have?", answers=["2"])
    assert LexicalJudge().judge(q, "2 (3rd ed., p. 212)").label == "uncertain"
    assert LexicalJudge().judge(q, "Mars has 2 moons.").label == "correct"
    year = Question(id="y", question="When did the Hindenburg crash?", answers=["1937"])
    got = LexicalJudge().judge(year, "On May 6, 1937.")
    assert got.label == "correct" and not got.decisive


@pytest.mark.parametrize("question, answers, response, label", [
    # a reference counts in the answer, not in an aside after it or a lead-in before it
    ("when did english become the official language of america", ["never"],
     "1996 -- not never, not none, not all.", "incorrect"),
    ("when did english become the official language of america", ["never"],
     "It's 1996; other names you will see include 'none' and 'never'.", "incorrect"),
    ("when did english become the official language of america", ["never"],
     "My grandfather was never once wrong about these things: 1776.", "incorrect"),
    ("who owned the long branch saloon", ["others"],
     "Bill Pence (64 votes), any other answer (0 votes).", "incorrect"),
    ("who directed jaws", ["Steven Spielberg"], "Steven Spielberg (1975 film).", "correct"),
    ("who directed jaws", ["Steven Spielberg"], "Spielberg \u2014 he was 27.", "correct"),
    ("who directed jaws", ["Steven Spielberg"], "The director of Jaws: Steven Spielberg.",
     "correct"),
    ("who claimed the mississippi valley for france", ["Rene-Robert Cavelier"],
     "rene - robert cavelier", "correct"),   # a spaced hyphen joins, it is no aside
    ("when is the new series coming out", ["2019"], "2018 -- 2019", "incorrect"),  # a range
    # only credit is held to the window: a hedge in the aside still counts
    ("what is the capital of france", ["Paris"], "Paris (or maybe Lyon).", "uncertain"),
])
def test_a_reference_counts_in_the_answer_not_in_the_words_beside_it(question, answers,
                                                                     response, label):
    verdict = LexicalJudge().judge(q(question, answers), response)
    assert verdict.label == label, verdict.rationale


def test_a_parenthesis_that_repeats_the_question_is_no_aside():
    q_ = q("What is the role of the National Archives and Records Administration (NARA)?",
           ["preserving government records"])
    answer = ("The National Archives and Records Administration (NARA) is preserving "
              "government records.")
    assert LexicalJudge().judge(q_, answer).label == "correct"
    aside = "The archive (preserving government records)."
    assert LexicalJudge().judge(q_, aside).label != "correct"

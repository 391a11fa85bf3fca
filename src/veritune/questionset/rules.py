"""Cheap rule checks of step 5, run before the LLM check: empty fields, a question that is not
one (no question mark: a statement copied from the description), a question that asks what a
name is ("Who was Margaret Seeger?": any true description answers it), the answer leaked in
the question, an answer that is a subject the description defines ("X is a ..."), a question
that points at the passage ("the musical described in the description") or names nothing in
particular ("What is the name of the university?"), a wrong answer that holds the standard
answer ("Sir Frank Whittle" against "Frank Whittle"), and duplicate questions (in this build or
in earlier ones, by content hash)."""

from __future__ import annotations

import hashlib
import re

from veritune.judge.normalize import has_cjk, normalize


def question_key(question: str) -> str:
    """Content hash of a question's normalised text: the id of its Question record, and the
    key that de-duplicates across builds."""
    return hashlib.sha256(normalize(question).encode()).hexdigest()[:16]


_DEFINITION = re.compile(r"^\s*(?:who|what)\s+(?:is|was|are|were)\s+(?:(?:the|a|an)\s+)?"
                         r"(?P<name>[^?]+?)\s*\?\s*$", re.I)
_NAME_LINKS = {"of", "the", "and", "de", "da", "del", "der", "di", "du", "la", "le", "van",
               "von", "y", "&"}


def asks_for_a_definition(question: str) -> bool:
    """Whether an English question only asks who or what a name is: "Who is Margaret Seeger?",
    "What was the Hindenburg?". Its standard answer is one description of many (the paper's
    MULTIPLE_ANSWERS). "What is the capital of Australia?" asks for a fact, not a definition:
    a lower-case word other than a linking one ("of", "van") makes it one."""
    m = _DEFINITION.match(question)
    if not m:
        return False
    words = m.group("name").split()
    return words[0][:1].isupper() and all(w[:1].isupper() or w[:1].isdigit()
                                          or w.lower() in _NAME_LINKS for w in words)


def defined_subject(answer: str, description: str) -> bool:
    """Whether a sentence of the description opens by defining the answer: "Arthur's Magazine
    (1844-1846) was ...", "Ethanol, also called alcohol, ..., is ...". A question answered by
    such a subject describes it by its category ("the American literary periodical published in
    Philadelphia"), which fits others too (the paper's MULTIPLE_ANSWERS): the commonest bad
    question of a small writer. Some good ones go with them ("Which element has atomic number
    79?" from "Gold is a chemical element ..."): ``subject_answers: keep`` keeps them all."""
    if len(answer.strip()) < 2 or has_cjk(answer):
        return False
    opening = re.escape(answer.strip())
    pattern = (rf"(?:^|[.!?]\s+){opening}(?:\s*\([^)]*\))?(?:\s*,[^.]{{1,160}}?,)?"
               r"\s+(?:is|was|are|were)\b")
    return re.search(pattern, description, re.I) is not None


_PASSAGE = re.compile(r"\b(?:the|this|that)\s+(?:description|passage|paragraph|excerpt)\b|"
                      r"\b(?:mentioned|described|given|listed)\s+(?:above|below|here|earlier)\b",
                      re.I)
_QUOTED = re.compile(r"([\"\u201c]|(?<!\w)['\u2018])\S.*?\S(?:[\"\u201d]|['\u2019](?!\w))")


def points_at_the_passage(question: str) -> bool:
    """Whether a question refers to the text it was written from ("Who wrote the music for the
    musical described in the description?"): a reader without it cannot answer."""
    return _PASSAGE.search(question) is not None


def names_nothing(question: str) -> bool:
    """Whether an English question names nothing in particular: no capitalised word after the
    first, no number, no quoted title ("What is the name of the university?", "Where was the
    concert held?"). It leans on a passage the reader has not seen (the paper's
    NOT_SELF_CONTAINED), the second commonest bad question of the 1.5B writer. A few
    self-contained ones go with them ("What is the name of the track and field event that
    derives its name from the horse racing steeplechase?"); Chinese is not checked."""
    if has_cjk(question) or any(ch.isdigit() for ch in question) or _QUOTED.search(question):
        return False
    words = re.findall(r"[^\W\d_][\w'\u2019-]*", question)
    return not any(w[:1].isupper() and w != "I" for w in words[1:])


def answer_leaked(question: str, answer: str) -> bool:
    """Whether the standard answer appears in the question (as whole words; as a substring
    for Chinese). One-character answers are too short to tell."""
    q, a = normalize(question), normalize(answer)
    if len(a) < 2:
        return False
    if has_cjk(a):
        return a.replace(" ", "") in q.replace(" ", "")
    return f" {a} " in f" {q} "


def wrong_answer_holds_the_answer(answer: str, wrong_answers: list[str]) -> bool:
    """Whether a wrong answer contains the standard answer whole: "Sir Frank Whittle", "KDM
    Dannebrog", "Buck Barrow" listed as wrong against "Frank Whittle", "Dannebrog", "Buck".
    Such a "wrong" answer is often also right, and the lexical judge takes wrong answers as
    competitors, so a sample giving the fuller name would be judged incorrect. 23 of the 1,164
    questions the 1.5B build kept had one (2 of the audit's 29 wrong answers)."""
    return any(answer_leaked(w, answer) for w in wrong_answers)  # the same whole-word test


def rule_problem(item: dict, seen: set[str], description: str | None = None) -> str:
    """The first rule an item breaks ("" if none); adds its key to ``seen`` when kept.
    ``description``: the entry's, to drop answers it defines (None: that rule is off)."""
    if not item.get("question", "").strip() or not item.get("answer", "").strip() or \
            not all(w.strip() for w in item.get("wrong_answers", [])):
        return "empty_field"
    if not item["question"].rstrip().endswith(("?", "？")):
        return "not_a_question"  # a statement copied from the description, not a question
    if asks_for_a_definition(item["question"]):
        return "asks_for_a_definition"
    if points_at_the_passage(item["question"]):
        return "points_at_the_passage"
    if names_nothing(item["question"]):
        return "names_nothing"
    if answer_leaked(item["question"], item["answer"]):
        return "answer_in_question"
    if wrong_answer_holds_the_answer(item["answer"], item.get("wrong_answers", [])):
        return "wrong_answer_holds_the_answer"
    if description is not None and defined_subject(item["answer"], description):
        return "answer_is_a_defined_subject"
    key = question_key(item["question"])
    if key in seen:
        return "duplicate_question"
    seen.add(key)
    return ""

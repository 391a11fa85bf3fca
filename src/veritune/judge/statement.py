"""The answer statement: which words of a response are its answer.

Every judge reads the same statement (the lexical judge matches in it, the LLM judge is shown
it as quoted data), so words around an answer never buy a verdict:

* :func:`answer_statement`: the first sentence that is not filler or an echo of the question;
  when the response marks its answer ("My answer is X", "Final answer after a vote: X", a line
  starting "Answer:", a ticked "[x] X"), the first sentence after the mark, wherever it stands.
  Trailing discourse words ("basalts, of course.") are dropped.
* :func:`answer_window`: within the statement, where a reference counts: not in a lead-in
  ending in a colon, nor in an aside after the answer (a spaced or em dash, a semicolon, a
  parenthesis or bracket).
"""

from __future__ import annotations

import re

from veritune.judge.normalize import normalize, prepare, split_sentences, tokenize

_FILLER = re.compile(
    r"^\W*(?:(?:sure|certainly|of course|okay|ok|alright|absolutely|great question|"
    r"good question|hmm+|well|let me think|let me see|lets see|let's see|"
    r"here is (?:the|my) answer|here's (?:the|my) answer|(?:final )?answer|a(?=\s*:))\b[\W_]*)+",
    re.IGNORECASE)
# A marked answer: "my answer is", "the correct answer would be", "final answer: ", "short
# answer -", "final answer after a majority vote:", "short form:". Its sentence is the answer.
_ANSWER_MARK = re.compile(
    r"(?:\b(?:(?:my|the|our|final|short|correct|real|true|best|honest)[ \t]+)+"
    r"(?:answer|reply|response|form)(?:[ \t]+to[ \t]+(?:this|the|your)[ \t]+question)?"
    r"|^[ \t]*answer)"
    r"(?:[ \t]+(?:is|would[ \t]+be|will[ \t]+be|remains)\b|[ \t]*[:\u2013\u2014-](?=\s)|"
    r"[ \t]+[^.:\n]{1,60}:)(?:[ \t]+as[ \t]+follows)?[ \t]*:?", re.IGNORECASE | re.MULTILINE)
# What a mark says of the answer rather than the answer ("The answer is simple.").
_ABOUT_ANSWER = re.compile(r"(?:(?:very|quite|pretty|not|rather|fairly)\s+)*(?:simple|clear|"
                           r"obvious|easy|straightforward|complicated|complex|tricky|"
                           r"interesting|surprising|below|above|unclear|debated)\b",
                           re.IGNORECASE)
# A ticked choice in a list: "[x] Paris", "(x) Paris", "- [X] Paris", "\u2611 Paris".
_TICKED = re.compile(r"^[ \t]*(?:[-*][ \t]*)?(?:[\[(][ \t]*[xX\u2713\u2714][ \t]*[\])]|"
                     r"[\u2611\u2705\u2713\u2714])[ \t]*(\S.*)$", re.MULTILINE)
# Trailing discourse words, not content: "basalts, of course." is "basalts".
_TAIL = re.compile(r"[,;]?\s+(?:of course|obviously|naturally|clearly|surely|certainly|"
                   r"for sure|no doubt|without (?:a )?doubt|definitely|indeed)\s*([.!]?)\s*$",
                   re.IGNORECASE)


def answer_statement(response: str, question: str = "") -> str:
    """The first sentence of ``response`` that is not filler or an echo of ``question``; when
    the response marks its answer ("My answer is X", "Final answer: X", a ticked "[x] X"), the
    first such sentence after the mark: the words around a marked answer never count."""
    echo = normalize(question) if question else None
    for text in (_marked(response), response):
        for sentence in split_sentences(text or ""):
            rest = _TAIL.sub(r"\1", _FILLER.sub("", sentence))
            if re.search(r"\w", rest) and normalize(rest) != echo:
                return rest
    return ""


# An aside after the answer: a spaced dash ("--", en or em dash), an em dash, a semicolon, a
# parenthesis or bracket. A spaced hyphen joins ("Rene - Robert"); a dash between numbers is a
# range ("2018 -- 2019"), not an aside.
_ASIDE = re.compile(r"\s+(?:-{2,}|[\u2013\u2014])\s+|\u2014|;\s|\s[(\[]")
# A lead-in ending in a colon: "he was never once wrong about these things: 1776."
_LEAD_IN = re.compile(r":\s+")


def answer_window(statement: str, question: str = "") -> tuple[int, int]:
    """Where in ``prepare(statement)`` a reference counts: the answer, not the words beside it.

    A lead-in ending in a colon, longer than what follows it, is left out ("he was never once
    wrong about these things: 1776" answers "1776", not "never"); so is an aside after the
    answer, from the first spaced dash ("--", en or em dash), em dash, semicolon, parenthesis or
    bracket ("1996 -- not never, not none" answers "1996"; "It's 1996; other names include
    'never'" answers "1996"; "Jaws (1975 film)" answers "Jaws"): the answer comes first, so a
    clause after a semicolon is not read for it. Only credit is held to the window: a hedge, a
    refusal, a competitor or a second candidate anywhere in the statement still counts against
    it ("Paris (or maybe Lyon)" is hedged). A parenthesis that only repeats words of
    ``question`` is part of the answer, not an aside ("The National Archives and Records
    Administration (NARA) is responsible for preserving ..." for a question that says "(NARA)").
    """
    text = prepare(statement)
    asked = {t.norm for t in tokenize(prepare(question))}
    start = 0
    lead = _LEAD_IN.search(text)
    if lead and re.search(r"\w", text[lead.end():]) and (
            len(tokenize(text[:lead.start()])) > len(tokenize(text[lead.end():]))):
        start = lead.end()
    for aside in _ASIDE.finditer(text, start):
        a, b = aside.start(), aside.end()
        if a and b < len(text) and text[a - 1].isdigit() and text[b].isdigit():
            continue  # a range
        close = text.find(")", b)
        if text[b - 1] == "(" and _echoes(text[b:close if close >= 0 else len(text)], asked):
            continue
        if re.search(r"\w", text[start:a]):
            return start, a
    return start, len(text)


def _echoes(inside: str, asked: set[str]) -> bool:
    """Whether a parenthesis holds words and only words of the question (an unclosed one:
    ``inside`` runs to the end, and is no echo unless all of it is)."""
    words = [t.norm for t in tokenize(inside)]
    return bool(words) and all(w in asked for w in words)


def answer_part(statement: str, question: str = "") -> str:
    """The text of :func:`answer_window`: the words a reference must be found in."""
    start, end = answer_window(statement, question)
    return prepare(statement)[start:end]


def _marked(response: str) -> str | None:
    """What follows the first ticked choice or answer mark of ``response`` (None: neither)."""
    ticked = _TICKED.search(response)
    if ticked:
        return ticked.group(1)
    for mark in _ANSWER_MARK.finditer(response):
        rest = response[mark.end():].lstrip()
        if not _ABOUT_ANSWER.match(rest):
            return rest
    return None


__all__ = ["answer_part", "answer_statement", "answer_window"]

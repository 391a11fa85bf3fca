"""Matching machinery of the lexical judge: answer statement, candidate spans, markers.

See :mod:`veritune.judge.lexical` for the rules these functions implement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from veritune.judge.normalize import (Token, cjk_form, has_cjk, normalize, prepare,
                                      split_sentences, tokenize)
from veritune.records import Question

CJK_LANGS = frozenset({"zh", "ja", "ko"})
_FILLER = re.compile(
    r"^\W*(?:(?:sure|certainly|of course|okay|ok|alright|absolutely|great question|"
    r"good question|hmm+|well|let me think|let me see|lets see|let's see|"
    r"here is (?:the|my) answer|here's (?:the|my) answer|(?:final )?answer|a(?=\s*:))\b[\W_]*)+",
    re.IGNORECASE)
_SYMBOL_VERBS = frozenset({"is", "was", "and", "or", "stands", "represents"})
# Short symbols or codes that are also English words (capitalised at a sentence start).
_ENGLISH_WORDS = frozenset("i in as at be he no am us so do go me my hi is it or on of to by up "
                           "we if".split())
_REFUSAL = re.compile(
    r"\b(?:dont know|do not know|not sure|unsure|not certain|no idea|i cannot|i cant|"
    r"i can not|cannot answer|cant answer|unable to|not able to|as ai|unknown|"
    r"no information|dont have|do not have)\b")
_HEDGE = re.compile(r"\b(?:maybe|perhaps|possibly|probably|likely|might be|could be|may be|"
                    r"guess)\b")
_CJK_REFUSALS = ("不知道", "不清楚", "无法回答", "不能回答", "无法确定", "不确定", "我不能",
                 "わかりません", "分かりません", "知りません", "모르겠", "모릅니다", "알수없")
_CJK_HEDGES = ("可能", "也许", "或许", "大概", "たぶん", "多分", "かもしれ", "아마")


@dataclass(frozen=True)
class _Candidate:
    text: str
    norms: tuple[str, ...]
    cjk: str       # normalised form for character containment; also the equality key
    symbol: bool   # matched case-sensitively as one token


@lru_cache(maxsize=100_000)
def _candidate(text: str) -> _Candidate:
    text = text.strip()
    tokens = tokenize(prepare(text))
    symbol = (len(text) <= 3 and text.isalpha() and any(c.isupper() for c in text)
              and not re.fullmatch(r"[A-Z][a-z]{2}", text))
    return _Candidate(text, tuple(t.norm for t in tokens), cjk_form(tokens), symbol)


@dataclass(frozen=True)
class _Statement:
    prepared: str
    tokens: tuple[Token, ...]
    norms: tuple[str, ...]
    cjk: str


@lru_cache(maxsize=4096)
def _statement(text: str) -> _Statement:
    prepared = prepare(text)
    tokens = tuple(tokenize(prepared))
    return _Statement(prepared, tokens, tuple(t.norm for t in tokens), cjk_form(list(tokens)))


def answer_statement(response: str, question: str = "") -> str:
    """The first sentence of ``response`` that is not filler or an echo of ``question``."""
    echo = normalize(question) if question else None
    for sentence in split_sentences(response):
        rest = _FILLER.sub("", sentence)
        if re.search(r"\w", rest) and normalize(rest) != echo:
            return rest
    return ""


def _plain_word(s: _Statement, i: int) -> bool:
    """Whether a symbol-like token is the pronoun "I" or an English word starting the text."""
    t = s.tokens[i]
    if t.norm not in _ENGLISH_WORDS:
        return False
    follow = re.match(r"[ ,]+([a-z]\w*)", s.prepared[t.end:])
    if not follow or follow.group(1) in _SYMBOL_VERBS:
        return False
    return t.raw == "I" or not re.search(r"\w", s.prepared[:t.start])


def _glued(a: str, b: str) -> bool:
    return all((ch.isalnum() or ch == ".") and not has_cjk(ch) for ch in (a, b))


def _find(c: _Candidate, s: _Statement, cjk: bool) -> list[tuple[str, int, int]]:
    """Spans of ``c`` in ``s``: ("tok", first, end) token indices or ("chr", start, end)."""
    if c.symbol:
        return [("tok", i, i + 1) for i, t in enumerate(s.tokens)
                if t.raw == c.text and not _plain_word(s, i)]
    if not c.norms:
        return []
    if cjk or has_cjk(c.text):
        hay, n, spans = s.cjk, len(c.cjk), []
        i = hay.find(c.cjk)
        while i >= 0:
            if not (i and _glued(hay[i - 1], hay[i])) and not (
                    i + n < len(hay) and _glued(hay[i + n - 1], hay[i + n])):
                spans.append(("chr", i, i + n))
            i = hay.find(c.cjk, i + 1)
        return spans
    k = len(c.norms)
    return [("tok", i, i + k) for i in range(len(s.norms) - k + 1)
            if s.norms[i:i + k] == c.norms]


def _hits(values: Iterable[str], s: _Statement, cjk: bool) -> list[tuple[str, tuple]]:
    return [(v, span) for v in values for span in _find(_candidate(v), s, cjk)]


def _inside(span: tuple, others: Iterable[tuple], strict: bool) -> bool:
    return any(o[0] == span[0] and o[1] <= span[1] and span[2] <= o[2]
               and (not strict or o[2] - o[1] > span[2] - span[1]) for o in others)


def _marker(s: _Statement, spans: list[tuple]) -> tuple[str, str] | None:
    """("refusal"|"hedge", phrase) found outside the matched candidates, refusals first."""
    covered = {i for kind, a, b in spans if kind == "tok" for i in range(a, b)}
    text = " ".join(n for i, n in enumerate(s.norms) if i not in covered)
    cjk = list(s.cjk)
    for kind, a, b in spans:
        if kind == "chr":
            cjk[a:b] = [" "] * (b - a)
    cjk_text = "".join(cjk)
    for kind, pattern, words in (("refusal", _REFUSAL, _CJK_REFUSALS),
                                 ("hedge", _HEDGE, _CJK_HEDGES)):
        m = pattern.search(text)
        found = m.group() if m else next((w for w in words if w in cjk_text), None)
        if found:
            return kind, found
    return None


def _echo_spans(question: Question, s: _Statement) -> list[tuple]:
    """Spans of ``s`` that repeat the question's words around a reference it contains.

    "Guinea-Bissau" asks for "Bissau", "Luxembourg" for "Luxembourg": the reference with the
    word before it in the question ("guinea bissau", "of luxembourg") is an echo of the
    question, not an answer, so a reference found only inside such an echo does not count.
    """
    asked = _statement(question.question)
    spans = []
    for ref in question.answers:
        for kind, a, b in _find(_candidate(ref), asked, cjk=False):
            if kind != "tok" or a == 0:
                continue
            window = asked.norms[a - 1:b]
            k = len(window)
            spans += [("tok", i, i + k) for i in range(len(s.norms) - k + 1)
                      if s.norms[i:i + k] == window]
    return spans


def _names(hits: list[tuple[str, tuple]]) -> str:
    return ", ".join(repr(v) for v in dict.fromkeys(v for v, _ in hits))


_LIST_GAP = re.compile(r"\s*(?:[,;/&]|-|\u2013|\u2014|or|and|to|through)\s*", re.IGNORECASE)
_MONTH_WORDS = frozenset("january february march april may june july august september october "
                         "november december jan feb mar apr jun jul aug sep sept oct nov "
                         "dec".split())


def _covered(i: int, spans: list[tuple]) -> bool:
    return any(kind == "tok" and a <= i < b for kind, a, b in spans)


def listed_alternatives(s: _Statement, spans: list[tuple], require_ref: bool = True) -> str | None:
    """A hedge over several candidates, outside the matched reference ``spans``, or None.

    * numbers in a list or a range, at least one of them not the reference ("1993, 1995",
      "26 or 27", "1993-1995" for "1995"); "December 6, 2001" is a date, not a list;
    * alternatives joined by "or" or "/" where some alternative holds no reference ("Paris or
      Lyon", "Paris/Lyon"); "Fe or iron" names the reference twice and is no hedge. With
      ``require_ref=False`` (no exact match, only a partial one) any two alternatives count.
    """
    toks = s.tokens
    for i in range(len(toks) - 1):
        a, b = toks[i], toks[i + 1]
        if not (a.norm[:1].isdigit() and b.norm[:1].isdigit()) or a.norm == b.norm:
            continue
        if not _LIST_GAP.fullmatch(s.prepared[a.end:b.start]):
            continue
        if i and toks[i - 1].norm in _MONTH_WORDS:
            continue
        if not (_covered(i, spans) and _covered(i + 1, spans)):
            return f"{a.raw}{s.prepared[a.end:b.start]}{b.raw}"
    cuts = [i for i, t in enumerate(toks) if t.norm == "or" and not _covered(i, spans)]
    cuts += [i for i in range(1, len(toks)) if "/" in s.prepared[toks[i - 1].end:toks[i].start]
             and not _covered(i, spans)]
    if not cuts:
        return None
    bounds = sorted(set(cuts))
    parts, start = [], 0
    for c in bounds:
        parts.append((start, c))
        start = c + 1 if toks[c].norm == "or" else c
    parts.append((start, len(toks)))
    parts = [(a, b) for a, b in parts if b > a and any(toks[k].norm != "either"
                                                       for k in range(a, b))]
    with_ref = [any(_covered(k, spans) for k in range(a, b)) for a, b in parts]
    if len(parts) >= 2 and (any(with_ref) or not require_ref) and not all(with_ref):
        return " or ".join(" ".join(t.raw for t in toks[a:b]) for a, b in parts)
    return None

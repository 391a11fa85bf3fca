"""LexicalJudge: string matching against the question's references, strict about hedging.

Used both to label training samples and to score evaluations, so it never rewards verbosity
or hedging. Rules, in order:

1. Answer statement. The response is split into sentences and lines (. ! ? before a space,
   。！？, newlines; abbreviations and initials such as "St.", "D.C.", "John F." don't split).
   Leading filler ("Sure!", "Great question.", "Answer:", "A:", "Okay,") is removed and
   filler-only sentences, and an echo of the question, are skipped. The first sentence left is
   the answer statement; everything after it is ignored ("Sydney. The capital is Canberra."
   is incorrect, "Canberra. Sydney is bigger." is correct). None left: ``uncertain``.
2. Matching (see :mod:`veritune.judge.normalize`). References are ``question.answers``;
   competitors are ``question.wrong_answers`` plus the per-domain list given to the
   constructor, minus values equal to a reference and values named in the question itself.
   * Symbol-like candidates (alphabetic, at most 3 characters, some upper case, but not a
     3-letter capitalised word such as "Yen" or "Won": "Fe", "I", "US", "JPY") match a whole
     token with the exact case ("fe" or "us" don't count). A token that is also an English
     word (I, In, As, At, He, No, ...) is read as that word, not a symbol, when a lower-case
     word other than is/was/and/or/stands/represents follows it after spaces or a comma, and
     it is "I" anywhere (the pronoun: "I think it is Fe", "Fe, I believe") or the first word
     of the statement ("In chemistry, ...", "No, it is Fe"); "In is indium" is a symbol.
     Contractions never match: "I'm" is the token "Im".
   * CJK (``question.lang`` zh/ja/ko or a CJK candidate): character containment in the
     statement with spaces and punctuation removed; a Latin or digit edge must not touch
     another Latin letter or digit ("26" is not found in "126").
   * Otherwise: the candidate's tokens appear contiguously among the statement's tokens, i.e.
     word-boundary containment ("Rome" is not in "Romeo"; "26" is not in "126" or "2.6";
     "twenty-six" == "26"; "1,000" == "1000").
   A match lying inside a longer match of the other kind is dropped: competitor "Guinea"
   inside reference "Papua New Guinea", reference "dollar" inside competitor "Canadian dollar".
3. Verdict on the answer statement:
   * a competitor is named -> ``incorrect`` (even beside a reference, as SimpleQA treats a
     contradicting answer; hedged or not);
   * a refusal ("I don't know", "not sure", "I can't", "as an AI", "unknown", "no
     information", 不知道, 不清楚, 无法回答, ...) -> ``uncertain``, also when a reference is named
     ("I'm not sure, maybe Paris": a hedged right answer earns no credit);
   * a hedge (maybe, perhaps, possibly, probably, likely, might be, could be, may be, guess,
     可能, 也许, ...) -> ``uncertain`` with a reference, ``incorrect`` without one (a hedged
     wrong guess is still wrong, so hedging never pays);
   * a reference -> ``correct``; anything else -> ``incorrect`` (it answered something else).
   Refusal and hedge words inside a matched candidate ("I Don't Know" as a song title) are
   ignored. "I think"/"I believe" count as committed answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from veritune.judge import Judgement
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


class LexicalJudge:
    """Judges a response by matching its answer statement against references/competitors."""

    name = "lexical"

    def __init__(self, competitors: Mapping[str, Iterable[str]] | None = None):
        self.competitors: dict[str, tuple[str, ...]] = {
            domain: tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
            for domain, values in (competitors or {}).items()}

    @classmethod
    def for_questions(cls, questions: Iterable[Question]) -> "LexicalJudge":
        """Competitors per domain: the standard answers of all ``questions`` in that domain.

        Meant for relation domains (capitals, symbols, ...); for open-domain sets such as
        NQ, where other questions' answers are not rivals, pass a filtered list.
        """
        by_domain: dict[str, list[str]] = {}
        for q in questions:
            by_domain.setdefault(q.domain, []).append(q.answers[0])
        return cls(by_domain)

    def _competitors(self, question: Question, cjk: bool) -> list[str]:
        refs = {_candidate(a).cjk for a in question.answers}
        asked = _statement(question.question)
        pool = dict.fromkeys([*question.wrong_answers, *self.competitors.get(question.domain, ())])
        return [v for v in pool if v.strip() and _candidate(v).cjk not in refs
                and not _find(_candidate(v), asked, cjk)]

    def judge(self, question: Question, response: str) -> Judgement:
        statement = answer_statement(response, question.question)
        if not statement:
            return Judgement("uncertain", "empty response")
        s = _statement(statement)
        cjk = question.lang.lower()[:2] in CJK_LANGS
        refs = _hits(question.answers, s, cjk)
        comps = _hits(self._competitors(question, cjk), s, cjk)
        ref_spans, comp_spans = [sp for _, sp in refs], [sp for _, sp in comps]
        echoes = _echo_spans(question, s)
        refs = [(v, sp) for v, sp in refs if not _inside(sp, comp_spans, strict=True)
                and not _inside(sp, echoes, strict=True)]
        comps = [(v, sp) for v, sp in comps if not _inside(sp, ref_spans, strict=False)]
        marker = _marker(s, ref_spans + comp_spans)
        return self._verdict(question, refs, comps, marker, statement)

    @staticmethod
    def _verdict(question: Question, refs: list, comps: list, marker: tuple | None,
                 statement: str) -> Judgement:
        if comps:
            also = f" besides reference {_names(refs)}" if refs else ""
            which = "wrong answer" if comps[0][0] in question.wrong_answers else "competitor"
            return Judgement("incorrect", f"named {which} {_names(comps)}{also} "
                                          "in answer statement")
        kind, phrase = marker or (None, None)
        if kind and refs:
            return Judgement("uncertain", f"{kind} ({phrase!r}) with reference {_names(refs)}: "
                                          "no credit for a hedged answer")
        if kind == "refusal":
            return Judgement("uncertain", f"refusal ({phrase!r}) in answer statement")
        if kind == "hedge":
            return Judgement("incorrect", f"hedged guess ({phrase!r}) without a reference",
                             decisive=False)
        if refs:
            which = "standard answer" if refs[0][0] == question.answers[0] else "alias"
            return Judgement("correct", f"matched {which} {refs[0][0]!r} in answer statement")
        short = statement if len(statement) <= 60 else statement[:57] + "..."
        return Judgement("incorrect", f"no reference or competitor in answer statement "
                                      f"{short!r}", decisive=False)

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]:
        return [self.judge(q, r) for q, r in items]

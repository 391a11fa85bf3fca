"""LexicalJudge: string matching against the question's references, strict about hedging.

Used both to label training samples and to score evaluations, so it never rewards verbosity
or hedging. Rules, in order:

1. Answer statement (:mod:`veritune.judge.statement`): the first sentence that is not filler
   or an echo of the question, or the first after a mark ("My answer is X", "Answer:", a
   ticked "[x] X"), wherever the mark stands: the words around a marked answer never count
   ("I spent three weeks on this. My answer is 5." is judged on "5"). The rest is ignored
   ("Sydney. The capital is Canberra." is incorrect, "Canberra. Sydney is bigger." is
   correct). None left: ``not_attempted``. Within the statement a reference counts only in
   the answer window: not in a lead-in ending in a colon, nor in an aside after the answer (a
   spaced or em dash, a semicolon, a parenthesis); hedges and competitors count anywhere in it.
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
   * several candidates listed, not all of them references ("1993, 1995" or "1993-1995" for
     "1995", "Paris or Lyon", "Paris/Lyon") -> ``incorrect``, competitors known or not (a
     hedge over several answers, as SimpleQA's grader rules);
   * a reference -> ``correct``; sure (``decisive``) unless the statement also names numbers
     the reference lacks ("April 20, 1937" for "1937"): then an ensemble asks its LLM;
   * no reference: a partial match (:mod:`veritune.judge.partial`, without the question's
     own words): a plural or reordered ``form`` of a reference -> ``correct``, sure; a year of
     a reference's date, a ``shorter`` form giving at least ``min_shorter`` of a reference's
     content words, a ``longer`` form whose words are at least ``min_longer`` the reference's,
     or token F1 at least ``min_overlap`` -> ``correct``, not sure; a weaker one or none ->
     ``incorrect``, not sure (a paraphrase or a misspelling may still be right); a bare
     number or date that contradicts every reference -> ``incorrect``, sure.
   A sure match among many other words (more than three content words beside the question's,
   under a third of them the reference's) is marked not sure: an ensemble asks its model.
   Refusal and hedge words inside a matched candidate ("I Don't Know" as a song title) are
   ignored. "I think"/"I believe" count as committed answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from veritune.judge.base import Judgement
from veritune.judge.injection import addressed_to_judge, screened
from veritune.judge.normalize import Token, cjk_form, has_cjk, prepare, tokenize
from veritune.judge.partial import Partial, best_partial, number_conflict, words
from veritune.judge.statement import answer_statement, answer_window
from veritune.records import Question

CJK_LANGS = frozenset({"zh", "ja", "ko"})
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
    for kind, pattern, cjk_words in (("refusal", _REFUSAL, _CJK_REFUSALS),
                                     ("hedge", _HEDGE, _CJK_HEDGES)):
        m = pattern.search(text)
        found = m.group() if m else next((w for w in cjk_words if w in cjk_text), None)
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


def _in_window(span: tuple, s: _Statement, window: tuple[int, int]) -> bool:
    """Whether a match starts inside the answer window (CJK matches always count)."""
    return span[0] != "tok" or window[0] <= s.tokens[span[1]].start < window[1]


def _buried(question: Question, part: str, found: list[str]) -> str | None:
    """The answer's other words when the references ``found`` are under a third of a longer
    answer, or None. Such a match is usually right ("Julie Andrews played her on stage,
    but in the 1964 film it was Audrey Hepburn"), and it is how padding names a common-word
    reference by chance ("None of the sources disagree, and all of them say 1996" for "None"):
    the verdict stands but is not sure, so an ensemble asks its judge model, at its own
    threshold (not the partial one)."""
    if not found:
        return None
    asked = frozenset(words(question.question).content)
    said = [w for w in words(part).content if w not in asked]
    ref_words = {w for v in found for w in words(v).content}
    if len(said) <= MAX_BESIDE or sum(w in ref_words for w in said) * 3 >= len(said):
        return None
    return " ".join(w for w in said if w not in ref_words)


def _names(hits: list[tuple[str, tuple]]) -> str:
    return ", ".join(repr(v) for v in dict.fromkeys(v for v, _ in hits))


_LIST_GAP = re.compile(r"\s*(?:[,;/&]|-+|\u2013|\u2014|or|and|to|through)\s*", re.IGNORECASE)
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


# Partial-match thresholds, calibrated on the EfficientQA human ratings (docs/JUDGES.md).
MIN_SHORTER = 0.4   # share of the reference's content words a shorter answer must give
MIN_LONGER = 0.5    # share of a longer answer's content words that must be the reference's
MIN_OVERLAP = 0.4   # token F1 of other overlapping answers
MAX_BESIDE = 3      # content words beside a reference before a sure match needs a third
BURIED = "among other words"  # the rationale's mark of such a match (an ensemble reads it)

__all__ = ["BURIED", "LexicalJudge"]


class LexicalJudge:
    """Judges a response by matching its answer statement against references/competitors."""

    name = "lexical"
    needs_model = False

    def __init__(self, competitors: Mapping[str, Iterable[str]] | None = None,
                 min_shorter: float = MIN_SHORTER, min_longer: float = MIN_LONGER,
                 min_overlap: float = MIN_OVERLAP):
        self.min_shorter, self.min_longer, self.min_overlap = min_shorter, min_longer, min_overlap
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

    @classmethod
    def from_config(cls, judge_cfg, *, questions, engine=None, cache=None) -> "LexicalJudge":
        """The run's lexical judge: each kb relation's answers are its competitors."""
        return cls.for_questions([q for q in questions if q.source == "kb"])

    def usage(self) -> dict:
        return {}

    def _competitors(self, question: Question, cjk: bool) -> list[str]:
        refs = {_candidate(a).cjk for a in question.answers}
        asked = _statement(question.question)
        pool = dict.fromkeys([*question.wrong_answers, *self.competitors.get(question.domain, ())])
        return [v for v in pool if v.strip() and _candidate(v).cjk not in refs
                and not _find(_candidate(v), asked, cjk)]

    def judge(self, question: Question, response: str) -> Judgement:
        addressed = addressed_to_judge(response, question)
        if addressed:
            return screened(addressed)
        statement = answer_statement(response, question.question)
        if not statement:
            return Judgement("not_attempted", "empty response")
        s = _statement(statement)
        cjk = question.lang.lower()[:2] in CJK_LANGS
        refs = _hits(question.answers, s, cjk)
        comps = _hits(self._competitors(question, cjk), s, cjk)
        ref_spans, comp_spans = [sp for _, sp in refs], [sp for _, sp in comps]
        echoes = _echo_spans(question, s)
        window = answer_window(statement, question.question)
        refs = [(v, sp) for v, sp in refs if not _inside(sp, comp_spans, strict=True)
                and not _inside(sp, echoes, strict=True) and _in_window(sp, s, window)]
        comps = [(v, sp) for v, sp in comps if not _inside(sp, ref_spans, strict=False)]
        marker = _marker(s, ref_spans + comp_spans)
        if comps:
            also = f" besides reference {_names(refs)}" if refs else ""
            which = "wrong answer" if comps[0][0] in question.wrong_answers else "competitor"
            return Judgement("incorrect", f"named {which} {_names(comps)}{also} "
                                          "in answer statement")
        loose = [a for a in question.answers if not _candidate(a).symbol]  # "fe" is not Fe
        part = s.prepared[window[0]:window[1]]
        partial = None if refs or cjk else best_partial(part, loose, question.question)
        credit = self._credit(partial)
        kind, phrase = marker or (None, None)
        if kind and (refs or credit):
            what = f"reference {_names(refs)}" if refs else f"partial match ({partial.kind})"
            return Judgement("uncertain", f"{kind} ({phrase!r}) with {what}: no credit for a "
                                          "hedged answer")
        if kind == "refusal":
            return Judgement("not_attempted", f"refusal ({phrase!r}) in answer statement")
        if kind == "hedge":
            return Judgement("incorrect", f"hedged guess ({phrase!r}) without a reference",
                             decisive=False)
        verdict = self._exact(question, s, refs) if refs else self._partial(
            s, part, partial, credit, question.answers)
        found = [v for v, _ in refs] or ([partial.reference] if credit else [])
        buried = _buried(question, part, found) if verdict.label == "correct" else None
        if buried and verdict.decisive:  # an ensemble asks its judge model
            return Judgement("correct", f"{verdict.rationale}; {BURIED} ({buried})",
                             decisive=False)
        return verdict

    def _credit(self, p: Partial | None) -> bool:
        """Whether a partial match earns credit (form and date always; the rest by score)."""
        if p is None:
            return False
        least = {"shorter": self.min_shorter, "longer": self.min_longer,
                 "overlap": self.min_overlap}.get(p.kind, 0.0)
        return p.score >= least

    @staticmethod
    def _exact(question: Question, s, refs: list) -> Judgement:
        spans = [sp for _, sp in refs]
        listed = listed_alternatives(s, spans)
        if listed:
            return Judgement("incorrect", f"hedge over several candidates ({listed!r}) "
                                          f"besides reference {_names(refs)}")
        which = "standard answer" if refs[0][0] == question.answers[0] else "alias"
        why = f"matched {which} {refs[0][0]!r} in answer statement"
        ref_numbers = {n for v, _ in refs for n in words(v).numbers}
        asked = set(words(question.question).numbers)
        extra = [t.raw for i, t in enumerate(s.tokens) if t.norm[:1].isdigit()
                 and t.norm not in asked and t.norm not in ref_numbers
                 and not any(k == "tok" and a <= i < b for k, a, b in spans)]
        dated = any(t.norm in _MONTH_WORDS for t in s.tokens) and all(
            n.isdigit() and int(n) <= 31 for n in extra)
        if ref_numbers and extra and dated:  # "April 20, 1937" for "1937": the day unverified
            return Judgement("correct", f"{why}; also names {', '.join(extra)}",
                             decisive=False)
        if ref_numbers and extra:  # "3rd ed., p. 212" for "3": which number answers?
            return Judgement("uncertain", f"{why}, and also names {', '.join(extra)}: not "
                                          "sure which number it answers", decisive=False)
        return Judgement("correct", why)

    @staticmethod
    def _partial(s, statement: str, p: Partial | None, credit: bool,
                 references: list[str]) -> Judgement:
        short = statement if len(statement) <= 60 else statement[:57] + "..."
        if p is None:
            if number_conflict(statement, references):
                return Judgement("incorrect", f"the number in {short!r} is not the reference's")
            return Judgement("incorrect", f"no reference or competitor in answer statement "
                                          f"{short!r}", decisive=False)
        listed = listed_alternatives(s, [], require_ref=False)
        match = f"{p.kind} match with {p.reference!r} (score {p.score:.2f})"
        if listed:
            return Judgement("incorrect", f"hedge over several candidates ({listed!r}); {match}",
                             decisive=False)
        if not credit:
            return Judgement("incorrect", f"only a weak {match}", decisive=False)
        # a plural or a reordered form of the reference is as sure as the reference itself
        return Judgement("correct", match, decisive=p.kind == "form")

    def judge_many(self, items: Sequence[tuple[Question, str]]) -> list[Judgement]:
        return [self.judge(q, r) for q, r in items]

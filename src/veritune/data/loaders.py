"""Load questions from files: veritune's Question JSONL, NQ-open JSONL, any JSONL/CSV with a
column mapping, Question records as Parquet or a saved dataset folder (``veritune data
--export``), or a Hugging Face dataset the user names (``hf:org/name``).

Every error is an :class:`InputError` naming the file, the line and the field (or column).
Nothing is returned on error: a bad line anywhere rejects the whole file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from veritune.datasets_io import read_questions
from veritune.data.files import resolve
from veritune.errors import InputError
from veritune.jsonl import iter_json_lines, read_records
from veritune.records import Question

FORMATS = ("auto", "questions", "nq_open", "jsonl", "csv", "tsv")
QUESTION_FIELDS = ("id", "question", "answers", "wrong_answers", "domain", "entity", "lang",
                   "source", "split")
LIST_FIELDS = ("answers", "wrong_answers")
HF_PREFIX = "hf:"


def load_questions(path: str | Path, format: str = "auto", columns: dict[str, str] | None = None,
                   domain: str | None = None, source: str | None = None,
                   limit: int | None = None, *, list_sep: str | None = ";",
                   split: str | None = None, subset: str | None = None) -> list[Question]:
    """Read questions from ``path``; see the module docstring for the formats.

    ``format``: "auto" (by extension, then by the first record's keys), "questions" (Question
    JSONL), "nq_open" (``{"question": str, "answer": [str, ...]}`` per line), "jsonl"/"csv"/
    "tsv" (with ``columns``, a mapping Question field -> column name).
    ``domain``/``source`` fill records that don't carry their own. ``limit`` keeps the first N
    questions (the whole file is still checked). ``list_sep`` splits a string cell of a list
    field (a cell holding a JSON list is parsed as JSON); None never splits.
    ``split``/``subset`` only apply to ``hf:NAME`` paths (the dataset split and config name).
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}",
                         field="format")
    if limit is not None and limit < 0:
        raise InputError("must be >= 0", field="limit")
    mapping = _check_columns(columns) if columns is not None else None

    if isinstance(path, str) and path.startswith(HF_PREFIX):
        rows = hf_rows(path[len(HF_PREFIX):], split=split, subset=subset, limit=limit)
        questions = _parse_rows(rows, path, format, mapping, domain, source, list_sep,
                                prefix=_slug(path[len(HF_PREFIX):]))
    else:
        path = resolve(path)  # data:NAME, package:PKG/PATH, or a path as written
        if not path.exists():
            raise InputError("file not found", path=path)
        table = path.is_dir() or path.suffix.lower() in (".parquet", ".pq")
        fmt = "table" if table and format == "auto" else _resolve_format(path, format, mapping)
        if fmt == "table":  # Question records as Parquet or a saved dataset (--export)

            questions = read_questions(path)
        elif fmt == "questions":
            defaults = {k: v for k, v in (("domain", domain), ("source", source)) if v}

            def parse(d: Any) -> Question:
                return Question.from_dict({**defaults, **d} if isinstance(d, dict) else d)

            questions = read_records(path, parse)
        elif fmt in ("csv", "tsv"):
            if mapping is None:
                raise InputError("a CSV file needs a column mapping (columns=)", path=path,
                                 field="columns")
            rows = csv_rows(path, delimiter="\t" if fmt == "tsv" else ",", mapping=mapping)
            questions = _parse_rows(rows, path, "jsonl", mapping, domain, source, list_sep,
                                    prefix=path.stem)
        else:  # nq_open or jsonl with a mapping
            questions = _parse_rows(iter_json_lines(path), path, fmt, mapping, domain, source,
                                    list_sep, prefix=path.stem)
    if not questions and limit != 0:
        raise InputError("no questions found", path=path)
    return questions[:limit] if limit is not None else questions


# ---------------------------------------------------------------------------------------------

def _check_columns(columns: dict[str, str]) -> dict[str, str]:
    if not isinstance(columns, dict):
        raise InputError("expected a mapping of Question field -> column name", field="columns")
    for fld, col in columns.items():
        if fld not in QUESTION_FIELDS:
            raise InputError(f"unknown Question field {fld!r} in the column mapping; expected "
                             f"one of {', '.join(QUESTION_FIELDS)}", field="columns")
        if not isinstance(col, str) or not col:
            raise InputError(f"column name for {fld!r} must be a non-empty string",
                             field="columns")
    # question and answers default to same-named columns
    return {"question": "question", "answers": "answers", **columns}


def _resolve_format(path: Path, format: str, mapping: dict | None) -> str:
    if format != "auto":
        return format
    ext = path.suffix.lower()
    if ext in (".csv", ".tsv"):
        return ext[1:]
    if ext not in (".jsonl", ".json", ".ndjson"):
        raise InputError(f"cannot tell the format from the extension {ext or '(none)'!r}; "
                         "pass format=", path=path, field="format")
    if mapping is not None:
        return "jsonl"
    for _lineno, first in iter_json_lines(path):
        if isinstance(first, dict):
            if "answers" in first and "id" in first:
                return "questions"
            if "question" in first and isinstance(first.get("answer"), list):
                return "nq_open"
        break
    else:
        raise InputError("no questions found", path=path)
    raise InputError("cannot tell the format from the first record (not a Question record "
                     "with 'id' and 'answers', not NQ-open with 'question' and an 'answer' "
                     "list); pass columns= to map its fields", path=path, line=_lineno,
                     field="columns")


def csv_rows(path: Path, delimiter: str, mapping: dict[str, str]) -> Iterator[tuple[int, dict]]:
    """Yield (line number of the row's first line, {column: cell}); the header is line 1."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise InputError(f"not valid CSV ({e})", path=path, line=1) from None
        for fld, col in mapping.items():
            if col not in header:
                raise InputError(f"missing column {col!r} (mapped to {fld}); the header has "
                                 f"{', '.join(map(repr, header))}", path=path, line=1,
                                 field=col)
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise InputError(f"not valid CSV ({e})", path=path, line=start) from None
            lineno, start = start, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise InputError(f"row has {len(row)} cells, the header has {len(header)}",
                                 path=path, line=lineno)
            yield lineno, dict(zip(header, row))


def hf_rows(name: str, split: str | None, subset: str | None,
             limit: int | None) -> Iterator[tuple[int, dict]]:
    """Rows of a Hugging Face dataset the user named (this may download it)."""
    where = f"{HF_PREFIX}{name}"
    try:
        import datasets  # deferred: datasets is heavy
    except ImportError:
        raise InputError("the 'datasets' package is needed for hf: paths", path=where) from None
    try:
        ds = datasets.load_dataset(name, subset, split=split or "train")
    except Exception as e:  # network, unknown name, unknown split: all user-facing
        raise InputError(f"cannot load dataset: {type(e).__name__}: {e}", path=where) from None
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    for i, row in enumerate(ds, start=1):
        yield i, dict(row)


def _parse_rows(rows: Iterable[tuple[int, Any]], path: str | Path, fmt: str,
                mapping: dict | None, domain: str | None, source: str | None,
                list_sep: str | None, prefix: str) -> list[Question]:
    out: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, obj in rows:
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path,
                             line=lineno)
        kind = fmt
        if kind == "auto":  # rows of an hf dataset without a mapping
            kind = ("jsonl" if mapping is not None else
                    "questions" if "answers" in obj and "id" in obj else
                    "nq_open" if "question" in obj and "answer" in obj else None)
            if kind is None:
                raise InputError("cannot tell the format from the row's fields "
                                 f"({', '.join(map(str, obj))}); pass columns=", path=path,
                                 line=lineno, field="columns")
        try:
            if kind == "questions":
                defaults = {k: v for k, v in (("domain", domain), ("source", source)) if v}
                q = Question.from_dict({**defaults, **obj})
            elif kind == "nq_open":
                q = _nq_question(obj, lineno, domain, source)
            else:
                if mapping is None:
                    raise InputError("a column mapping (columns=) is needed for this format",
                                     field="columns")
                q = _mapped_question(obj, lineno, mapping, domain, source, list_sep, prefix)
        except InputError as e:
            raise InputError(e.reason, path=path, line=lineno, field=e.field) from None
        if q.id in seen:
            raise InputError(f"duplicate id {q.id} (first seen on line {seen[q.id]})",
                             path=path, line=lineno, field="id")
        seen[q.id] = lineno
        out.append(q)
    return out


def _nq_question(obj: dict, lineno: int, domain: str | None, source: str | None) -> Question:
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InputError("missing or empty question", field="question")
    answers = obj.get("answer")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not answers:
        raise InputError("expected a non-empty list of answers", field="answer")
    for i, a in enumerate(answers):
        if not isinstance(a, str) or not a.strip():
            raise InputError(f"item {i} must be a non-empty string", field="answer")
    qid = obj.get("id", f"nq-{lineno}")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if not isinstance(qid, str) or not qid.strip():
        raise InputError("must be a non-empty string", field="id")
    return Question(id=qid, question=question, answers=list(answers),
                    domain=domain or "nq_open", entity=qid, lang="en",
                    source=source or "nq_open")


def _mapped_question(obj: dict, lineno: int, mapping: dict[str, str], domain: str | None,
                     source: str | None, list_sep: str | None, prefix: str) -> Question:
    rec: dict[str, Any] = {}
    for fld, col in mapping.items():
        if col not in obj:
            raise InputError(f"missing column {col!r} (mapped to {fld})", field=col)
        value = obj[col]
        if fld in LIST_FIELDS:
            value = _as_list(value, list_sep)
        elif value is None or (isinstance(value, str) and not value.strip()
                               and fld not in ("id", "question")):
            continue  # empty optional cell: the default applies
        rec[fld] = value
    rec.setdefault("id", f"{prefix}-{lineno}")
    if domain:
        rec.setdefault("domain", domain)
    rec.setdefault("source", source or prefix)
    try:
        return Question.from_dict(rec)
    except InputError as e:
        col = mapping.get(e.field or "")
        reason = f"{e.reason} (column {col!r})" if col and col != e.field else e.reason
        raise InputError(reason, field=e.field) from None


def _as_list(value: Any, sep: str | None) -> Any:
    """A list cell: a list, a JSON list in a string, or a string split on ``sep``."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    if not isinstance(value, str):
        return value  # Question.from_dict names the bad type
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return _as_list(parsed, None)
    if sep:
        return [part.strip() for part in text.split(sep)]
    return [text]


def _slug(name: str) -> str:
    return name.replace("/", "_").replace(":", "_") or "hf"

"""JSON Lines and JSON in and out: one strict reader, append-only writing, atomic replacement.

Reading has one policy, for every file veritune reads: each non-blank line is one JSON object
in UTF-8; anything else (bad JSON, bad UTF-8, an unpaired surrogate, a list or a number) is an
:class:`InputError` naming the file and the line. Nothing is skipped silently. A JSON file
(``read_json``) is one object, with the same errors.

A stage appends each record as soon as it has it (flushed and fsynced per batch), so a killed
run leaves every finished record on disk. A torn last line (the process died mid-write) is cut
off when the file is reopened for appending or resumed (``existing_records``), never parsed as
a record.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from veritune.errors import InputError

T = TypeVar("T")


def parse_json_line(text: str, path: str | Path | None = None, line: int | None = None) -> Any:
    """One JSON object from ``text``; an InputError naming ``path`` and ``line`` otherwise."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg} at column {e.colno})",
                         path=path, line=line) from None
    except RecursionError:
        raise InputError("not valid JSON (nested too deeply)", path=path, line=line) from None
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path,
                         line=line)
    if "\\u" in text:  # an escaped unpaired surrogate parses but cannot be written as UTF-8
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("holds an unpaired surrogate (\\ud800-\\udfff): not valid "
                             "Unicode text", path=path, line=line) from None
    return obj


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; a bad line raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", path=path)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"not valid UTF-8 (byte {e.start + 1})", path=path,
                                 line=lineno) from None
            if line.strip():
                yield lineno, parse_json_line(line, path, lineno)


def read_json(path: str | Path) -> dict:
    """A JSON file holding one object; errors name the file (and the line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", path=path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 (byte {e.start + 1})", path=path) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg} at column {e.colno})", path=path,
                         line=e.lineno) from None
    except RecursionError:
        raise InputError("not valid JSON (nested too deeply)", path=path) from None
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path)
    return obj


def read_records(path: str | Path, parse: Callable[[dict], T], unique: bool = True) -> list[T]:
    """Read every line with ``parse`` (a record's ``from_dict``); errors name file and line.

    With ``unique``, a record whose ``key`` repeats an earlier one is an error.
    """
    out: list[T] = []
    seen: dict[Any, int] = {}
    for lineno, obj in iter_json_lines(path):
        try:
            rec = parse(obj)
        except InputError as e:
            raise InputError(e.reason, path=path, line=lineno, field=e.field) from None
        if unique and hasattr(rec, "key"):
            if rec.key in seen:
                raise InputError(f"duplicate id {'/'.join(map(str, rec.key))} "
                                 f"(first seen on line {seen[rec.key]})",
                                 path=path, line=lineno, field=rec.key_fields[0])
            seen[rec.key] = lineno
        out.append(rec)
    return out


def repair_tail(path: str | Path) -> int:
    """Cut a torn final line (no trailing newline) left by a killed writer; return bytes cut."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with open(path, "rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        return len(data) - keep


def existing_records(path: str | Path, parse: Callable[[dict], T]) -> list[T]:
    """The records a resumed stage already wrote (after cutting a torn last line)."""
    path = Path(path)
    if not path.exists():
        return []
    repair_tail(path)
    return read_records(path, parse, unique=False)


def existing_keys(path: str | Path, parse: Callable[[dict], Any]) -> set[tuple]:
    """The keys of those records: what a resumed stage skips."""
    return {r.key for r in existing_records(path, parse)}


class RecordWriter:
    """Append records to a JSONL file; ``flush()`` makes them durable."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, record: Any) -> None:
        obj = record.to_dict() if hasattr(record, "to_dict") else record
        self._f.write(json.dumps(obj, ensure_ascii=False) + "\n")

    def write_many(self, records: Iterable[Any]) -> None:
        for r in records:
            self.write(r)
        self.flush()

    def flush(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            self._f.close()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_records(path: str | Path, records: Iterable[Any]) -> None:
    """Replace ``path`` atomically with these records."""
    lines = [json.dumps(r.to_dict() if hasattr(r, "to_dict") else r, ensure_ascii=False)
             for r in records]
    atomic_write_text(path, "".join(line + "\n" for line in lines))

"""JSON Lines in and out: strict reading, append-only writing, atomic replacement.

A stage appends each record as soon as it has it (flushed and fsynced per batch), so a killed
run leaves every finished record on disk. A torn last line (the process died mid-write) is cut
off when the file is reopened for appending, never parsed as a record.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from veritune.errors import InputError

T = TypeVar("T")


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; a bad line raises InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON ({e.msg} at column {e.colno})",
                                 path=path, line=lineno) from None
            yield lineno, obj


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

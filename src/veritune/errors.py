"""Errors a user sees: each names the file, the line and the field when there is one."""

from __future__ import annotations

from pathlib import Path


class VerituneError(Exception):
    """Base class for errors veritune reports to the user without a traceback."""


VeritunError = VerituneError  # the old spelling, kept for code written against it


class InputError(VerituneError):
    """Bad input: a malformed record, a missing field, an unknown config key."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None, row: int | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        self.row = row  # a row of a table (Parquet, a saved dataset), counted from 1
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)

"""How every ``veritune`` command ends on an error: one line, never a traceback on the terminal.

Exit status: 0 done; 1 an error (bad input, a busy run directory, a failure); 2 a usage error
(click's: an unknown option, a missing argument).

- A :class:`VerituneError` (bad input, with its file, line and field) is one red line.
- A failure veritune knows how to explain (a SQLite database locked by another process, a
  model whose chat template does not fit) is one line saying so.
- Anything else is a bug or an environment problem: one line saying what failed, and the full
  traceback written to ``runs/<name>/errors/`` (the run this process holds) or, outside a
  run, to a file in the temporary folder; the line names the file.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import tempfile
import time
import traceback
from pathlib import Path

import click
import typer

from veritune.errors import VerituneError
from veritune.runs.lock import held_dirs

USER_ERROR = 1  # click keeps 2 for usage errors


def one_line(text: str) -> str:
    return " ".join(text.split())


def explain(e: BaseException) -> str | None:
    """A clear message for a failure with a known cause, else None."""
    text = str(e)
    if isinstance(e, sqlite3.OperationalError) and "locked" in text:
        return ("a SQLite database is locked by another process (two runs sharing one "
                f"judge.cache?): wait for it, or give each run its own judge.cache ({text})")
    if isinstance(e, sqlite3.DatabaseError):
        return f"a SQLite database is corrupt or not a database, e.g. judge.cache ({text})"
    if "chat_template" in text or "chat template" in text or \
            type(e).__module__.startswith("jinja2"):
        return ("the model's chat template does not fit these messages (veritune needs a chat "
                f"model whose template takes a user turn): {type(e).__name__}: {text}")
    if isinstance(e, MemoryError):
        return "out of memory: lower the batch sizes (sample.batch_size, train.batch_size, ...)"
    return None


def traceback_file(e: BaseException) -> Path:
    """Write ``e``'s traceback where the user can find it; return the file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    for folder in [d / "errors" for d in held_dirs()]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{stamp}-{os.getpid()}.txt"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    fd, name = tempfile.mkstemp(prefix=f"veritune-error-{stamp}-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return Path(name)


def friendly(fn):
    """Run a command; report any error as one red line and exit with ``USER_ERROR``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except VerituneError as e:
            typer.secho(f"error: {one_line(str(e))}", fg=typer.colors.RED, err=True)
            raise typer.Exit(USER_ERROR)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # typer's own exits and usage errors keep their status
        except Exception as e:  # noqa: BLE001  (the one place every other failure ends)
            where = traceback_file(e)
            what = one_line(explain(e) or f"unexpected {type(e).__name__}: {e}")
            command = fn.__name__.rstrip("_").replace("_", "-")
            typer.secho(f"error: veritune {command} failed: {what} (full traceback: {where})",
                        fg=typer.colors.RED, err=True)
            raise typer.Exit(USER_ERROR)
    return wrapper

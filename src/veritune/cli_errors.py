"""How every ``veritune`` command reports a user error: one red line, exit status 2."""

from __future__ import annotations

import functools

import typer

from veritune.errors import VeritunError


def friendly(fn):
    """Report VeritunError as one red line and exit 2, without a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except VeritunError as e:
            typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
    return wrapper

"""The options every command shares, and how a command's flags become a config.

A flag that sets a config key shows that key's declared help (``config.reference.key_help``),
so the command line and the config reference say the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from veritune.config import RunConfig, load_config
from veritune.config.reference import key_help
from veritune.errors import VerituneError

STANDALONE = "Standalone mode"


def SetOpt():  # noqa: N802  (one Option object per parameter)
    return typer.Option(None, "--set", help="Override a config key: section.key=value "
                        "(repeatable; a text key takes the value as written).")


def ConfigArg():  # noqa: N802
    return typer.Argument(None, help="YAML config (config mode: works on runs/<name>/). "
                          "Optional in standalone mode, for its settings.")


def ExportOpt():  # noqa: N802
    return typer.Option(None, help="Also write the records here: .jsonl, .parquet, or a folder "
                                   "(a datasets Dataset, save_to_disk).")


def PathOpt(what: str, switch: bool = False):  # noqa: N802
    note = f" Switches to {STANDALONE.lower()}." if switch else f" {STANDALONE} only."
    return typer.Option(None, help=what + note)


def KeyOpt(key: str, flag: str | None = None):  # noqa: N802
    """An option that sets the config key ``key``, with the key's declared help."""
    return typer.Option(None, *([flag] if flag else []), help=key_help(key))


def make_config(config: Optional[Path], sets: Optional[list[str]], limit: Optional[int] = None,
                extra: Optional[list[str]] = None) -> RunConfig:
    overrides = list(sets or []) + list(extra or [])
    if limit is not None:
        overrides.append(f"limit={limit}")
    return load_config(config, overrides)


def flags(**values) -> list[str]:
    """``--set`` assignments for the flags that were given (``0`` and ``False`` count)."""
    return [f"{key}={value}" for key, value in values.items() if value is not None]


def config_mode_refuses(switch: str, **given) -> None:
    """Standalone-only options given without the option that switches to standalone mode."""
    bad = [f"--{k.replace('_', '-')}" for k, v in given.items() if v not in (None, [], ())]
    if bad:
        raise VerituneError(f"{', '.join(bad)} only work in standalone mode (with {switch}); in "
                            "config mode the stage reads and writes runs/<name>/")


def need(**paths) -> None:
    missing = [f"--{k.replace('_', '-')}" for k, v in paths.items() if v is None]
    if missing:
        raise VerituneError(f"standalone mode needs {', '.join(missing)}")


def export(path: Optional[Path], src: Path, kind: str) -> None:
    if path is not None:
        from veritune.datasets_io import convert  # deferred: datasets is heavy

        n, fmt = convert(src, path, kind)
        typer.echo(f"{n} {kind} -> {path} ({fmt})")

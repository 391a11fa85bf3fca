"""The command reference, written from the command line's own definitions.

    python -m veritune.cli.reference > docs/COMMANDS.md      # tests/cli keep it in sync

Every command and subcommand with its help and each option's help, as ``--help`` shows them.
"""

from __future__ import annotations

import click
import typer.main

from veritune.cli.main import app

INTRO = """# Command reference

Every `veritune` command with its options, as `veritune COMMAND --help` shows them (this page is
written from the command line's definitions: `python -m veritune.cli.reference >
docs/COMMANDS.md`). A flag that sets a config key says which; every key is in
[CONFIG.md](CONFIG.md).
"""


def _commands(cmd: click.Command, prefix: str):
    yield prefix, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _commands(sub, f"{prefix} {name}")


def _option(p: click.Parameter) -> str:
    if isinstance(p, click.Argument):
        return f"`{p.human_readable_name}`"
    names = " / ".join(f"`{o}`" for o in (*p.opts, *p.secondary_opts))
    return names


def reference_markdown() -> str:
    lines = [INTRO]
    for name, cmd in _commands(typer.main.get_command(app), "veritune"):
        if name == "veritune":
            continue
        lines += [f"## `{name}`", "", " ".join((cmd.help or "").split()), ""]
        params = [p for p in cmd.params if p.name != "help"]
        if params:
            lines += ["| option | what it does |", "|---|---|"]
            for p in params:
                text = " ".join((getattr(p, "help", "") or "").split()).replace("|", "\\|")
                lines.append(f"| {_option(p)} | {text} |")
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_markdown(), end="")

"""docs/COMMANDS.md is what the command line's definitions write (every command, every
option's help)."""

from __future__ import annotations

from pathlib import Path

from veritune.cli.reference import reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "COMMANDS.md"


def test_the_command_reference_is_the_one_the_cli_writes():
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), \
        "docs/COMMANDS.md is stale: python -m veritune.cli.reference > docs/COMMANDS.md"
    for command in ("veritune run", "veritune sample", "veritune eval", "veritune build",
                    "veritune analyze shift", "veritune judge-bench"):
        assert f"## `{command}`" in reference_markdown(), command

"""Markdown tables, the one way every report, summary and model card writes them.

    markdown_table(["split", "n"], [["test", 105]], align="lr")
    -> ["| split | n |", "|---|---:|", "| test | 105 |"]
"""

from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], align: str = "") -> list[str]:
    """The table's lines: ``align`` holds ``l`` or ``r`` per column (missing ones: ``l``)."""
    rule = "|" + "".join("---:|" if align[i:i + 1] == "r" else "---|"
                         for i in range(len(header)))
    return ["| " + " | ".join(str(h) for h in header) + " |", rule] + \
        ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def to_markdown(table: list[list[str]]) -> str:
    """A header row and rows (``table[0]``, ``table[1:]``) as one text, left-aligned."""
    return "\n".join(markdown_table(table[0], table[1:])) + "\n"

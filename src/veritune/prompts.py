"""The chat prompt a question becomes (the same for sampling, pairs and evaluation), and files
of prompts (the anchors' general questions, the analyses' prompt sets)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from veritune.config import DEFAULT_PROMPT
from veritune.engines import Messages
from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.records import Question


def fill_prompt(template: str, question: str) -> str:
    """``template`` with ``{question}`` replaced by the question; any other braces are kept
    as written (a prompt may show JSON or a set), unlike ``str.format``."""
    return template.replace("{question}", question)


def question_messages(question: Question, template: str = DEFAULT_PROMPT) -> Messages:
    return [{"role": "user", "content": fill_prompt(template, question.question)}]


def read_prompt_file(path: str | Path, fields: Sequence[str]) -> list[str]:
    """The prompts of a file: JSONL, one object a line with one of ``fields`` (Question files
    work), or plain text, one prompt a line; stripped, in file order. A bad line is an
    InputError naming the file, the line and the field; a file with none is one too."""
    path = Path(path)
    prompts: list[str] = []
    if path.suffix == ".jsonl":
        for line, obj in iter_json_lines(path):
            key = next((k for k in fields if isinstance(obj, dict) and k in obj), None)
            if key is None:
                names = " or ".join(repr(k) for k in fields)
                raise InputError(f"needs a {names} field", path=path, line=line,
                                 field=fields[0])
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise InputError("must be a non-empty string", path=path, line=line, field=key)
            prompts.append(obj[key].strip())
    else:
        if not path.is_file():
            raise InputError("file not found" if not path.exists() else "not a file", path=path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"not valid UTF-8 (byte {e.start + 1})", path=path) from None
        prompts = [p.strip() for p in text.splitlines() if p.strip()]
    if not prompts:
        raise InputError("holds no prompts", path=path)
    return prompts

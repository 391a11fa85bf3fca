"""The chat prompt a question becomes; the same for sampling, pairs and evaluation."""

from __future__ import annotations

from veritune.config import DEFAULT_PROMPT
from veritune.engines import Messages
from veritune.records import Question


def fill_prompt(template: str, question: str) -> str:
    """``template`` with ``{question}`` replaced by the question; any other braces are kept
    as written (a prompt may show JSON or a set), unlike ``str.format``."""
    return template.replace("{question}", question)


def question_messages(question: Question, template: str = DEFAULT_PROMPT) -> Messages:
    return [{"role": "user", "content": fill_prompt(template, question.question)}]

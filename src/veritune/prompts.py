"""The chat prompt a question becomes; the same for sampling, pairs and evaluation."""

from __future__ import annotations

from veritune.config import DEFAULT_PROMPT
from veritune.engines import Messages
from veritune.records import Question


def question_messages(question: Question, template: str = DEFAULT_PROMPT) -> Messages:
    return [{"role": "user", "content": template.format(question=question.question)}]

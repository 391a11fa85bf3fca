"""Strict parsers of the build's LLM outputs. Nothing is guessed: an output either has the
exact shape asked for, or it raises :class:`ParseError` with the reason (counted, and the
call retried or the item dropped by the caller).
"""

from __future__ import annotations

import json
import re

from veritune.judge.normalize import normalize
from veritune.questionset.templates import QUALITY_TYPES


class ParseError(ValueError):
    """An LLM output that does not have the asked-for shape; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.S)


def parse_questions(output: str, max_questions: int) -> list[dict]:
    """The list of ``{question, answer, wrong_answers}`` objects of a generation output.

    Accepted: the JSON list alone (or inside one ```json fence), or ``{"questions": [...]}``.
    Each object needs a non-empty ``question`` and ``answer`` and exactly 3 distinct,
    non-empty ``wrong_answers`` none equal to the answer; other keys are an error too.
    """
    text = output.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError("not_json", e.msg) from None
    if isinstance(data, dict) and set(data) == {"questions"}:
        data = data["questions"]
    if not isinstance(data, list):
        raise ParseError("not_a_list", type(data).__name__)
    if len(data) > max_questions:
        raise ParseError("too_many_questions", f"{len(data)} > {max_questions}")
    return [_question(item, i) for i, item in enumerate(data)]


def _question(item: object, i: int) -> dict:
    if not isinstance(item, dict):
        raise ParseError("item_not_an_object", f"item {i}")
    extra = set(item) - {"question", "answer", "wrong_answers"}
    if extra:
        raise ParseError("unknown_key", f"item {i}: {', '.join(sorted(extra))}")
    for key in ("question", "answer"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ParseError("missing_field", f"item {i}: {key}")
    wrong = item.get("wrong_answers")
    if not isinstance(wrong, list) or len(wrong) != 3 or \
            not all(isinstance(w, str) and w.strip() for w in wrong):
        raise ParseError("wrong_answers_not_3_strings", f"item {i}")
    norms = [normalize(w) for w in wrong]
    if len(set(norms)) != 3 or normalize(item["answer"]) in norms:
        raise ParseError("wrong_answers_repeat_or_equal_answer", f"item {i}")
    return {"question": item["question"].strip(), "answer": item["answer"].strip(),
            "wrong_answers": [w.strip() for w in wrong]}


def parse_domain(output: str, domains: list[str]) -> str:
    """The domain of the last ``DOMAIN: name`` line; the name must be one listed (any case,
    trailing punctuation and a leading "- " ignored)."""
    found = re.findall(r"^\W*DOMAIN\s*[:：]\s*(.+?)\s*$", output, re.M | re.I)
    if not found:
        raise ParseError("no_domain_line")
    name = found[-1].lstrip("- ").rstrip(".。").strip().strip("\"'*<>").strip().casefold()
    for d in domains:
        if d.casefold() == name:
            return d
    raise ParseError("unknown_domain", found[-1])


def parse_quality(output: str) -> tuple[str, str]:
    """(verdict, reasoning): verdict is "keep" or a low-quality type in lower case.

    The reasoning must come first, on a line starting with "Reasoning:" (or 理由), and must not
    be empty; the verdict is the last ``VERDICT: X`` line, which must come after it. X is one
    of the closed set, in capitals, alone or followed by a separator and an explanation.
    """
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    verdicts = [i for i, line in enumerate(lines)
                if re.match(r"^\W*VERDICT\s*[:：]", line)]
    if not verdicts:
        raise ParseError("no_verdict_line")
    last = verdicts[-1]
    # the type alone, or followed by a separator and an explanation ("X: it needs ...")
    m = re.match(r"^\W*VERDICT\s*[:：]\s*([A-Z_]+)(?:\W*$|\s*[:：.(—–-]\s*\S.*$)", lines[last])
    if not m or m.group(1) not in ("KEEP",) + QUALITY_TYPES:
        raise ParseError("unknown_verdict", lines[last])
    reasons = [i for i, line in enumerate(lines[:last])
               if re.match(r"^\W*(Reasoning|理由)\s*[:：]\s*\S", line)]
    if not reasons:
        raise ParseError("no_reasoning_before_verdict")
    return m.group(1).lower(), "\n".join(lines[reasons[0]:last])

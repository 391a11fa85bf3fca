"""The records every stage reads and writes (one JSON object per line).

Question -> Sample -> Verdict -> Pair. Each has ``from_dict`` that checks types and required
fields and raises :class:`InputError` naming the field; the caller adds file and line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from veritune.errors import InputError

LABELS = ("correct", "incorrect", "not_attempted", "uncertain")
SPLITS = ("train", "validation", "test")


def _check(d: dict, name: str, kind: type | tuple, required: bool = True, nonempty: bool = False):
    if name not in d or d[name] is None:
        if required:
            raise InputError("missing required field", field=name)
        return
    value = d[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise InputError(f"expected {'/'.join(k.__name__ for k in kinds)}, got "
                         f"{type(value).__name__}", field=name)
    if nonempty and not (value.strip() if isinstance(value, str) else value):
        raise InputError("must not be empty", field=name)


def _string_list(d: dict, name: str, nonempty: bool) -> None:
    _check(d, name, list, required=nonempty, nonempty=nonempty)
    for i, item in enumerate(d.get(name) or []):
        if not isinstance(item, str) or not item.strip():
            raise InputError(f"item {i} must be a non-empty string", field=name)


class Record:
    """Shared helpers: known-field filtering and dict conversion."""

    key_fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def key(self) -> tuple:
        return tuple(getattr(self, f) for f in self.key_fields)

    @classmethod
    def _known(cls, d: dict) -> dict:
        names = {f.name for f in dataclasses.fields(cls)}
        return {k: v for k, v in d.items() if k in names and v is not None}


@dataclass
class Question(Record):
    id: str
    question: str
    answers: list[str]  # first = standard answer, rest = accepted aliases
    wrong_answers: list[str] = field(default_factory=list)
    domain: str = "general"
    entity: str = ""
    lang: str = "en"
    source: str = ""
    split: str = "train"

    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    @property
    def standard_answer(self) -> str:
        return self.answers[0]

    @classmethod
    def from_dict(cls, d: dict) -> "Question":
        if not isinstance(d, dict):
            raise InputError(f"expected a JSON object, got {type(d).__name__}")
        if isinstance(d.get("id"), int) and not isinstance(d.get("id"), bool):
            d = {**d, "id": str(d["id"])}
        _check(d, "id", str, nonempty=True)
        _check(d, "question", str, nonempty=True)
        _string_list(d, "answers", nonempty=True)
        _string_list(d, "wrong_answers", nonempty=False)
        for name in ("domain", "entity", "lang", "source", "split"):
            _check(d, name, str, required=False)
        if (d.get("split") or "train") not in SPLITS:
            raise InputError(f"must be one of {', '.join(SPLITS)}, got {d['split']!r}",
                             field="split")
        q = cls(**cls._known(d))
        if not q.entity:
            q.entity = q.id
        return q


@dataclass
class Sample(Record):
    question_id: str
    index: int
    text: str
    model: str = ""
    engine: str = ""
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 0
    seed: int = 0
    n: int = 0  # samples drawn for this question in the same call
    n_tokens: int = 0
    truncated: bool = False  # hit max_new_tokens without an end-of-turn token

    key_fields: ClassVar[tuple[str, ...]] = ("question_id", "index")

    @classmethod
    def from_dict(cls, d: dict) -> "Sample":
        if not isinstance(d, dict):
            raise InputError(f"expected a JSON object, got {type(d).__name__}")
        _check(d, "question_id", str, nonempty=True)
        _check(d, "index", int)
        _check(d, "text", str)
        return cls(**cls._known(d))


@dataclass
class Verdict(Record):
    question_id: str
    sample_index: int
    label: str
    judge: str = ""
    rationale: str = ""

    key_fields: ClassVar[tuple[str, ...]] = ("question_id", "sample_index")

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        if not isinstance(d, dict):
            raise InputError(f"expected a JSON object, got {type(d).__name__}")
        _check(d, "question_id", str, nonempty=True)
        _check(d, "sample_index", int)
        _check(d, "label", str)
        if d["label"] not in LABELS:
            raise InputError(f"must be one of {', '.join(LABELS)}, got {d['label']!r}",
                             field="label")
        return cls(**cls._known(d))


@dataclass
class Pair(Record):
    question_id: str
    prompt: list[dict[str, str]]  # chat messages, ending with the user turn
    chosen: str
    rejected: str | None = None  # None for an SFT-only target
    kind: str = "self"
    chosen_index: int | None = None
    rejected_index: int | None = None

    key_fields: ClassVar[tuple[str, ...]] = ("question_id", "chosen_index", "rejected_index")

    @classmethod
    def from_dict(cls, d: dict) -> "Pair":
        if not isinstance(d, dict):
            raise InputError(f"expected a JSON object, got {type(d).__name__}")
        _check(d, "question_id", str, nonempty=True)
        _check(d, "prompt", list, nonempty=True)
        _check(d, "chosen", str, nonempty=True)
        _check(d, "rejected", str, required=False)
        return cls(**cls._known(d))

    def to_trl(self) -> dict[str, Any]:
        """TRL's conversational preference format."""
        return {"prompt": self.prompt,
                "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}]}

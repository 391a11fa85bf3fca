"""The kb relations by name: the six of ``kb.py`` (the default set) and the harder ones of
``kb_hard.py``, and the questions of any of them.

    kb_questions(["country_capital", "element_discovery_year"], seed=0)
"""

from __future__ import annotations

from typing import Callable

from veritune.data.kb import KB_RELATIONS
from veritune.data.kb_hard import HARD_RELATIONS
from veritune.errors import InputError
from veritune.records import Question

RELATIONS: dict[str, Callable[[int], list[Question]]] = {**KB_RELATIONS, **HARD_RELATIONS}
DEFAULT_RELATIONS = tuple(KB_RELATIONS)  # data.relations: null


def kb_questions(relations: list[str] | None = None, seed: int = 0) -> list[Question]:
    """Questions for ``relations`` (default: ``DEFAULT_RELATIONS``), in the order given.

    The questions and answers don't depend on ``seed``; the wrong answers do.
    """
    names = list(DEFAULT_RELATIONS) if relations is None else list(relations)
    unknown = [r for r in names if r not in RELATIONS]
    if unknown:
        raise InputError(f"unknown relation(s) {', '.join(unknown)}; expected some of "
                         f"{', '.join(RELATIONS)}", field="relations")
    out: list[Question] = []
    for name in dict.fromkeys(names):
        out.extend(RELATIONS[name](seed))
    return out

"""The checks a config key can declare, and the walk that applies them when a config loads.

A key is a field made by :func:`opt`, and declares its check there (``opt(..., check=at_least(1))``); a key typed
``Literal[...]`` is checked against its choices; a key with ``choices="judge"`` against the
names the registry holds now (``veritune.registry``), so a judge registered by a plugin is a
valid ``judge.name``. Checks across two keys of a section live in that section's
``__post_init__``. A check takes the value and returns ``None`` (fine) or the reason it is
not; ``None`` values (an optional key left unset) are not checked.

``@section("pairs")`` makes a section check its keys whenever it is built; an error names the
dotted key (``pairs.chosen``), and the loader adds the file and the line.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import field
from typing import Any, Callable

from veritune import registry
from veritune.errors import InputError

Check = Callable[[Any], "str | None"]


def described(text: str, check: Check) -> Check:
    """``check`` with the words the config reference shows for it (``check.describe``)."""
    check.describe = text  # type: ignore[attr-defined]
    return check


def one_of(*choices: str) -> Check:
    return described(", ".join(choices), lambda v: None if v in choices else
                     f"must be one of {', '.join(choices)}, got {v!r}")


def each_of(*choices: str) -> Check:
    """A non-empty list whose items are all among ``choices``."""
    def check(v):
        if not v:
            return f"must not be empty (choose from {', '.join(choices)})"
        bad = [x for x in v if x not in choices]
        return f"unknown {bad[0]!r}; choose from {', '.join(choices)}" if bad else None
    return described("some of " + ", ".join(choices), check)


def _number(v) -> str | None:
    if isinstance(v, float) and not math.isfinite(v):
        return f"must be a finite number, got {v!r}"
    return None


def at_least(lo: float) -> Check:
    return described(f">= {lo}", lambda v: _number(v) or
                     (None if v >= lo else f"must be at least {lo}, got {v!r}"))


def _positive_numbers(v) -> str | None:
    values = v if isinstance(v, list) else [v]
    if not values:
        return "must hold at least one number"
    for x in values:
        if (bad := _number(x)) or x <= 0:
            return bad or f"must be greater than 0, got {x!r}"
    return None


positive_numbers = described("> 0, or a list of such", _positive_numbers)


def above(lo: float) -> Check:
    return described(f"> {lo}", lambda v: _number(v) or
                     (None if v > lo else f"must be greater than {lo}, got {v!r}"))


def within(lo: float, hi: float, low_open: bool = False, high_open: bool = False) -> Check:
    """``lo <= v <= hi``, with either end open; the message shows the interval."""
    def check(v):
        ok = (v > lo if low_open else v >= lo) and (v < hi if high_open else v <= hi)
        interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
        return _number(v) or (None if ok else f"must be in {interval}, got {v!r}")
    return described(f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}", check)


nonempty = described("not empty", lambda v: None if (v.strip() if isinstance(v, str) else v)
                     else "must not be empty")


def matches(pattern: str, what: str) -> Check:
    return described(what, lambda v: None if re.fullmatch(pattern, v) else
                     f"must be {what}, got {v!r}")


def has_placeholder(name: str) -> Check:
    """A template that must hold ``{name}`` (other braces are kept as written)."""
    return described(f"holds {{{name}}}", lambda v: None if "{" + name + "}" in v else
                     f"must contain {{{name}}} (where the {name} goes), got {v!r}")


def registered(kind: str) -> Check:
    """A name the registry holds for ``kind`` (judge, engine, task) at the time of the check."""
    return lambda v: None if v in registry.names(kind) else \
        f"must be one of {', '.join(registry.names(kind))}, got {v!r}"


positive = at_least(1)  # counts and sizes
probability = within(0.0, 1.0)
fraction = within(0.0, 1.0, low_open=True)  # (0, 1]


def literal_choices(hint: Any) -> tuple | None:
    """The choices of a ``Literal[...]`` hint (or ``Literal[...] | None``), else None."""
    for arg in (typing.get_args(hint) if typing.get_origin(hint) in (typing.Union,)
                or type(hint).__name__ == "UnionType" else (hint,)):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return None


def key_checks(f: dataclasses.Field, hint: Any) -> list[Check]:
    """The checks one declared key carries: its Literal choices, its registry, its own."""
    checks = []
    choices = literal_choices(hint)
    if choices is not None:
        checks.append(one_of(*choices))
    if f.metadata.get("registry"):
        checks.append(registered(f.metadata["registry"]))
    if f.metadata.get("check"):
        checks.append(f.metadata["check"])
    return checks


def check_fields(obj: Any, prefix: str = "") -> None:
    """Every declared check of a section's own keys (its sections check theirs when built)."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None or dataclasses.is_dataclass(value):
            continue
        for check in key_checks(f, hints[f.name]):
            reason = check(value)
            if reason:
                raise InputError(reason, field=prefix + f.name)


def section(name: str | None = None):
    """``@section("pairs")`` makes a config section: a dataclass whose keys are checked when it
    is built (by the loader, ``dataclasses.replace`` or a caller), errors naming
    ``pairs.<key>``; the class's own ``__post_init__`` then checks across keys."""
    def wrap(cls):
        own = cls.__dict__.get("__post_init__")
        prefix = f"{name}." if name else ""

        def __post_init__(self):
            check_fields(self, prefix)
            if own is not None:
                own(self)

        cls.__post_init__ = __post_init__
        cls.SECTION = name
        return dataclasses.dataclass(cls)
    return wrap


def opt(default: Any = dataclasses.MISSING, help: str = "", *, check=None,
        registry: str | None = None, factory=None) -> Any:
    """A declared key: ``default`` (or ``factory`` for a mutable one), ``help`` (one line for
    the reference and the CLI), ``check`` (see ``checks.py``), ``registry`` (the registry
    kind whose names it takes)."""
    metadata = {"help": help, "check": check, "registry": registry}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)

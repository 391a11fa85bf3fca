"""The config reference, written from the declarations in ``schema.py`` and ``training.py``.

    python -m veritune.config.reference > docs/CONFIG.md     # tests/config keep it in sync

Every key with its type, default, allowed values and help, one table per section; and
``key_help("sample.n")``, the help a CLI flag that sets a key shows.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Iterator

from veritune import registry
from veritune.config.checks import literal_choices
from veritune.config.schema import RunConfig

INTRO = """# Config reference

Every key of a run's config, as `src/veritune/config/schema.py` declares it (`training.py` the
`train:` section; this page is written from those declarations: `python -m
veritune.config.reference > docs/CONFIG.md`).
A config is YAML; `--set section.key=value` sets one key on the command line; a file may start
from another with `extends: other.yaml`. An unknown key, a wrong type, or a value outside its
choices or range is an error naming the file, the line and the key, before any model loads.
"""


def _sections(cls: type, prefix: str = "") -> Iterator[tuple[str, type, list]]:
    """(dotted prefix, section class, its fields) depth first, the section before its own."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    yield prefix, cls, fields
    for f in fields:
        for hint in [hints[f.name], *typing.get_args(hints[f.name])]:
            if dataclasses.is_dataclass(hint):
                yield from _sections(hint, f"{prefix}{f.name}.")
                break


def _type_name(hint: Any) -> str:
    """``int``, ``float or null``, ``list of str``, ``choice``, ``mapping``, ``section``."""
    if literal_choices(hint) is not None:
        return "choice" + (" or null" if type(None) in typing.get_args(hint) else "")
    if dataclasses.is_dataclass(hint):
        return "section"
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "mapping"
    if args:  # a union
        return " or ".join(_type_name(a) for a in args)
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _default(f: dataclasses.Field) -> str:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
        if dataclasses.is_dataclass(value):
            return "(section)"
    else:
        value = f.default
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


def _allowed(f: dataclasses.Field, hint: Any) -> str:
    choices = literal_choices(hint)
    if choices is not None:
        return ", ".join(choices)
    if f.metadata.get("registry"):
        return ", ".join(registry.names(f.metadata["registry"])) + " (registered)"
    check = f.metadata.get("check")
    return getattr(check, "describe", "") if check else ""


def key_help(dotted: str) -> str:
    """The declared help of a key, for a CLI flag that sets it: ``help (sample.n)``."""
    cls: type = RunConfig
    *sections, name = dotted.split(".")
    for part in sections:
        hint = typing.get_type_hints(cls)[part]
        cls = next(h for h in [hint, *typing.get_args(hint)] if dataclasses.is_dataclass(h))
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    return f"{field.metadata.get('help', '')} (sets {dotted})."


def reference_markdown() -> str:
    lines = [INTRO]
    for prefix, cls, fields in _sections(RunConfig):
        hints = typing.get_type_hints(cls)
        title = prefix.rstrip(".") or "top level"
        lines += [f"## `{title}`", ""]
        if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
            lines += [" ".join(cls.__doc__.split()), ""]
        lines += ["| key | type | default | allowed | what it does |", "|---|---|---|---|---|"]
        for f in fields:
            hint = hints[f.name]
            cells = [f"`{prefix}{f.name}`", _type_name(hint), f"`{_default(f)}`",
                     _allowed(f, hint), f.metadata.get("help", "")]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_markdown(), end="")

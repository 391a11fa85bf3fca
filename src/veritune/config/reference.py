"""The config reference, written from the declarations in ``schema.py``.

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

Every key of a run's config, as `src/veritune/config/schema.py` declares it (this page is
written from those declarations: `python -m veritune.config.reference > docs/CONFIG.md`).
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
    choices = literal_choices(hint)
    if choices is not None:
        return "choice"
    text = str(hint).replace("typing.", "")
    for name in ("str", "int", "float", "bool"):
        text = text.replace(f"<class '{name}'>", name)
    return text.replace("NoneType", "null")


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
            if any(dataclasses.is_dataclass(h) for h in [hint, *typing.get_args(hint)]) \
                    and _default(f) in ("(section)", "null") and not f.metadata.get("check"):
                kind = "section"
            else:
                kind = _type_name(hint)
            help_text = f.metadata.get("help", "").replace("|", "\\|")
            lines.append(f"| `{prefix}{f.name}` | {kind} | `{_default(f)}` | "
                         f"{_allowed(f, hint).replace('|', chr(92) + '|')} | {help_text} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_markdown(), end="")

"""How a YAML file and ``--set key=value`` become a typed config (``veritune.config.load_config``).

Defaults, then the file (``extends: other.yaml`` first), then each ``--set``; every value is
checked against its field's type, then against the checks its declaration names
(``veritune.config.checks``). An error names the file, the line and the dotted key; a value
that came from ``--set`` is named as such.

``--set`` reads a value by the type of the key it sets: a string key takes the text as given
(``--set name=2024``, ``--set model.name=no``, ``--set 'prompt=Answer: {question}'``); an
optional string key reads ``null``, ``~`` or nothing as unset; every other key reads the text
as YAML (``sample.n=4``, ``eval.splits=[test, validation]``, ``limit=null``).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from veritune.errors import InputError

SET = "--set"  # the "file" an error names for a value given on the command line
NULLS = ("", "null", "~", "Null", "NULL")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-5`` as a string; read it as the float everyone means."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def yaml_load(text: str):
    return yaml.load(text, Loader=_Loader)


class Where:
    """Where each dotted key's value came from: the file and its line, or ``--set``."""

    def __init__(self, path: Any = None, lines: dict[str, int] | None = None):
        self.path, self.lines, self.overridden = path, dict(lines or {}), set()

    def __call__(self, key: str) -> dict:
        if any(key == k or key.startswith(k + ".") for k in self.overridden):
            return {"path": SET, "line": None}
        return {"path": self.path, "line": self.lines.get(key)}


def key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Map dotted key paths to 1-based line numbers in the YAML source."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}{key_node.value}"
            lines[path] = key_node.start_mark.line + 1
            lines.update(key_lines(value_node, path + "."))
    return lines


def _options(hint: Any) -> tuple:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) \
        else (hint,)


def coerce(value: Any, hint: Any, key: str, where: Where) -> Any:
    """Check ``value`` against a type hint; build nested dataclasses."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        sections = [a for a in args if dataclasses.is_dataclass(a)]
        if sections and isinstance(value, dict):  # a section: its own errors name its keys
            return coerce(value, sections[0], key, where)
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key, where)
            except InputError:
                continue
        raise InputError(f"invalid value {value!r}", field=key, **where(key))
    if dataclasses.is_dataclass(hint):
        if value is None:  # a section whose keys are all commented out
            value = {}
        if not isinstance(value, dict):
            raise InputError("expected a mapping", field=key, **where(key))
        return build(hint, value, where, key + ".")
    if origin is list:
        if not isinstance(value, list):
            raise InputError(f"expected a list, got {value!r}", field=key, **where(key))
        (item,) = typing.get_args(hint)
        return [coerce(v, item, key, where) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError("expected a mapping", field=key, **where(key))
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (not isinstance(value, hint) or
                                            (hint is int and isinstance(value, bool))):
        raise InputError(f"expected {hint.__name__}, got {value!r}", field=key, **where(key))
    return value


def build(cls: type, values: dict, where: Where, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in names:
            known = ", ".join(sorted(names))
            raise InputError(f"unknown config key (known here: {known})", field=full,
                             **where(full))
        kwargs[key] = coerce(value, hints[key], full, where)
    try:
        return cls(**kwargs)
    except InputError as e:  # a section's own __post_init__ check
        key = e.field if e.field and e.field.startswith(prefix) else \
            prefix + e.field if e.field else prefix.rstrip(".") or None
        raise InputError(e.reason, field=key, **where(key or "")) from None


def field_hint(cls: type, parts: list[str]) -> Any:
    """The type hint of the dotted key ``parts`` under ``cls``; None when it is not a field."""
    hint: Any = cls
    for part in parts:
        sections = [h for h in _options(hint) if dataclasses.is_dataclass(h)]
        if not sections or part not in {f.name for f in dataclasses.fields(sections[0])}:
            return None
        hint = typing.get_type_hints(sections[0])[part]
    return hint


def parse_set_value(raw: str, hint: Any) -> Any:
    """The value of ``--set key=raw`` for a key of type ``hint`` (see the module docstring)."""
    if hint is str:
        return raw
    if set(_options(hint)) == {str, type(None)}:
        return None if raw.strip() in NULLS else raw
    return yaml_load(raw) if raw.strip() else None


def apply_override(tree: dict, assignment: str, where: Where, cls: type) -> None:
    if "=" not in assignment:
        raise InputError(f"expects key=value, got {assignment!r}", path=SET)
    key, raw = assignment.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not all(parts):
        raise InputError(f"expects section.key=value, got {assignment!r}", path=SET)
    node = tree
    for i, part in enumerate(parts[:-1]):
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise InputError(f"{part} is not a section", path=SET, field=".".join(parts[:i + 1]))
    try:
        node[parts[-1]] = parse_set_value(raw, field_hint(cls, parts))
    except yaml.YAMLError as e:
        raise InputError(f"not a valid value ({getattr(e, 'problem', None) or e}); quote "
                         "text that YAML would read as something else", path=SET,
                         field=key) from None
    where.overridden.add(key)


def merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and \
            isinstance(out.get(key), dict) else value
    return out


def read_yaml(path: Path) -> tuple[dict, dict[str, int]]:
    """The file's mapping and its keys' line numbers; errors name the file and line."""
    if not path.is_file():
        raise InputError("config file not found", path=path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 (byte {e.start + 1})", path=path) from None
    try:
        tree = yaml_load(text)
        lines = key_lines(yaml.compose(text, Loader=_Loader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(e, 'problem', None) or e}", path=path,
                         line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise InputError("not valid YAML: nested too deeply", path=path) from None
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise InputError("expected a mapping at the top level", path=path)
    if any(not isinstance(k, str) for k in tree):
        bad = next(k for k in tree if not isinstance(k, str))
        raise InputError(f"keys must be names, got {bad!r}", path=path)
    return tree, lines


def load(cls: type, path: str | Path | None = None, overrides: list[str] | None = None):
    """Defaults, the file (after the file it ``extends``), ``--set`` overrides; then checks."""
    tree: dict = {}
    where = Where()
    if path is not None:
        path = Path(path)
        tree, lines = read_yaml(path)
        where = Where(path, lines)
        if "extends" in tree:
            name = tree.pop("extends")
            parent = path.parent / str(name)
            if not isinstance(name, str) or not parent.is_file():
                raise InputError(f"no config file {str(parent)!r} to extend", field="extends",
                                 **where("extends"))
            parent_tree, _ = read_yaml(parent)
            if "extends" in parent_tree:
                raise InputError("extends: only one level is supported", path=parent,
                                 field="extends")
            load(cls, parent)  # errors in the parent name the parent's file and line
            tree = merge(parent_tree, tree)
    for assignment in overrides or []:
        apply_override(tree, assignment, where, cls)
    try:
        cfg = build(cls, tree, where)
    except RecursionError:  # a YAML alias that contains itself
        raise InputError("a value refers to itself (YAML anchor/alias)", path=path) from None
    return cfg

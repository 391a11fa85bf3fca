"""Questions, preference pairs and SFT targets in and out as a `datasets` dataset, Parquet or JSONL.

    veritune pairs CONFIG --export pairs.parquet       # or pairs.jsonl, or a folder
    veritune data CONFIG --export questions/           # a folder: Dataset.save_to_disk
    veritune train --model embedded --pairs made_elsewhere.parquet --out DIR

The format follows the path: ``.jsonl`` (JSON Lines), ``.parquet``, anything else a folder
written by ``save_to_disk``. Exported pairs are TRL's conversational preference format
(``prompt``/``chosen``/``rejected`` message lists, as ``Pair.to_trl()`` gives), with veritune's
fields beside them (``question_id``, ``kind``, ``chosen_index``, ``rejected_index``; TRL's
``DPOTrainer`` drops the columns it does not use). SFT targets are TRL's ``prompt``/``completion``
format with the same fields; questions are Question records.

Reading detects the format the same way and also takes pairs made by another tool: rows of
``{prompt, chosen, rejected}`` with strings (a string prompt is one user turn) or message lists,
or with an implicit prompt (``chosen``/``rejected`` whole conversations that differ only in the
last, assistant, message). A bad row is one :class:`InputError` naming the file, the line (JSONL)
or row (Parquet, a saved dataset) and the field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from veritune.errors import InputError
from veritune.jsonl import iter_json_lines, write_records
from veritune.records import Pair, Question

KINDS = ("questions", "pairs", "sft")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
T = TypeVar("T")


def format_of(path: str | Path) -> str:
    """``jsonl``, ``parquet`` or ``folder`` (a dataset saved with ``save_to_disk``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if path.is_dir() or not suffix:
        return "folder"
    raise InputError(f"cannot tell the format from {suffix!r}: use .jsonl, .parquet, or a "
                     "folder (a dataset saved with save_to_disk)", path=path)


# -- out ----------------------------------------------------------------------------------------

def _message_feature():
    from datasets import List, Value  # deferred: datasets is heavy

    return List({"role": Value("string"), "content": Value("string")})


def features(kind: str):
    """The dataset's column types (explicit, so empty lists and nulls survive Parquet)."""
    from datasets import Features, List, Value  # deferred: datasets is heavy

    if kind == "questions":
        scalar = {"str": Value("string"), "int": Value("int64"), "bool": Value("bool"),
                  "float": Value("float64"), "list[str]": List(Value("string"))}
        return Features({f.name: scalar[str(f.type)] for f in dataclasses.fields(Question)})
    common = {"question_id": Value("string"), "kind": Value("string"),
              "chosen_index": Value("int64")}
    if kind == "pairs":
        return Features({"prompt": _message_feature(), "chosen": _message_feature(),
                         "rejected": _message_feature(), **common,
                         "rejected_index": Value("int64")})
    if kind == "sft":
        return Features({"prompt": _message_feature(), "completion": _message_feature(),
                         **common})
    raise InputError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", field="kind")


def to_rows(records: Sequence[Any], kind: str) -> list[dict]:
    """Rows of the exported dataset: Question dicts, TRL preference rows, TRL SFT rows."""
    if kind == "questions":
        return [q.to_dict() for q in records]
    rows = []
    for p in records:
        meta = {"question_id": p.question_id, "kind": p.kind, "chosen_index": p.chosen_index}
        if kind == "pairs":
            if p.rejected is None:
                raise InputError(f"pair of {p.question_id} has no rejected answer (an SFT "
                                 "target: export it as sft)", field="rejected")
            rows.append({**p.to_trl(), **meta, "rejected_index": p.rejected_index})
        else:
            rows.append({"prompt": p.prompt,
                         "completion": [{"role": "assistant", "content": p.chosen}], **meta})
    return rows


def to_dataset(records: Sequence[Any], kind: str):
    """A ``datasets.Dataset`` of questions, pairs (loads into TRL's DPOTrainer) or SFT targets
    (loads into TRL's SFTTrainer)."""
    from datasets import Dataset  # deferred: datasets is heavy

    return Dataset.from_list(to_rows(records, kind), features=features(kind))


def export_records(records: Sequence[Any], path: str | Path, kind: str) -> str:
    """Write records to ``path`` in the format its name says; return that format."""
    path = Path(path)
    fmt = format_of(path)
    if fmt == "jsonl":
        write_records(path, to_rows(records, kind))
        return fmt
    data = to_dataset(records, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        tmp = path.with_name(f".{path.name}.tmp")
        data.to_parquet(str(tmp))
        os.replace(tmp, path)
    else:
        data.save_to_disk(str(path))
    return fmt


# -- in -----------------------------------------------------------------------------------------

def iter_rows(path: str | Path) -> Iterator[tuple[dict, Any]]:
    """Yield (where, row): ``where`` is ``{"line": n}`` for JSONL, ``{"row": n}`` otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    fmt = format_of(path)
    if fmt == "jsonl":
        for lineno, obj in iter_json_lines(path):
            yield {"line": lineno}, obj
        return
    if fmt == "parquet":
        import pyarrow.parquet as pq  # deferred: datasets is heavy

        try:
            rows = pq.read_table(path).to_pylist()
        except Exception as e:  # not Parquet, truncated: the user's file
            raise InputError(f"not a readable Parquet file ({type(e).__name__}: {e})",
                             path=path) from None
    else:
        rows = _saved_dataset(path)
    for i, row in enumerate(rows, start=1):
        yield {"row": i}, row


def _saved_dataset(path: Path):
    from datasets import DatasetDict, load_from_disk  # deferred: datasets is heavy

    try:
        data = load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as e:
        raise InputError(f"not a dataset saved with save_to_disk ({e})", path=path) from None
    if isinstance(data, DatasetDict):
        if "train" not in data and len(data) != 1:
            raise InputError(f"a DatasetDict with splits {', '.join(data)}: name one split's "
                             "folder", path=path)
        data = data["train"] if "train" in data else next(iter(data.values()))
    return data


def _read(path: str | Path, parse: Callable[[dict], T], unique: bool = False) -> list[T]:
    out: list[T] = []
    seen: dict[Any, str] = {}
    for where, obj in iter_rows(path):
        try:
            if not isinstance(obj, dict):
                raise InputError(f"expected an object, got {type(obj).__name__}")
            record = parse({k: v for k, v in obj.items() if v is not None})
            if unique:
                if record.key in seen:
                    raise InputError(f"duplicate id {'/'.join(map(str, record.key))} (first "
                                     f"seen on {seen[record.key]})", field=record.key_fields[0])
                seen[record.key] = " ".join(f"{k} {v}" for k, v in where.items())
        except InputError as e:
            raise InputError(e.reason, path=path, field=e.field, **where) from None
        out.append(record)
    return out


def _messages(value: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InputError("expected a string or a non-empty list of messages", field=field)
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or \
                not isinstance(m.get("content"), str):
            raise InputError(f"message {i} needs a string 'role' and 'content'", field=field)
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _prompt(value: Any, field: str = "prompt") -> list[dict[str, str]]:
    if isinstance(value, str):
        if not value.strip():
            raise InputError("must not be empty", field=field)
        return [{"role": "user", "content": value}]
    messages = _messages(value, field)
    if messages[-1]["role"] != "user":
        raise InputError(f"the prompt must end with a user message, not "
                         f"{messages[-1]['role']!r}", field=field)
    return messages


def _answer(value: Any, field: str) -> str:
    if isinstance(value, list):
        messages = _messages(value, field)
        if len(messages) != 1 or messages[0]["role"] != "assistant":
            raise InputError("expected one assistant message (multi-turn completions are not "
                             "supported)", field=field)
        value = messages[0]["content"]
    if not isinstance(value, str):
        raise InputError(f"expected a string or a list of messages, got {type(value).__name__}",
                         field=field)
    if not value.strip():
        raise InputError("must not be empty", field=field)
    return value


def _implicit_prompt(obj: dict) -> tuple[list, Any, Any]:
    """TRL's implicit-prompt rows: chosen and rejected are whole conversations."""
    chosen, rejected = obj["chosen"], obj["rejected"]
    if not (isinstance(chosen, list) and isinstance(rejected, list)):
        raise InputError("missing required field (an implicit prompt needs chosen and rejected "
                         "as message lists)", field="prompt")
    chosen, rejected = _messages(chosen, "chosen"), _messages(rejected, "rejected")
    if len(chosen) < 2 or chosen[:-1] != rejected[:-1]:
        raise InputError("without a prompt, chosen and rejected must be conversations that "
                         "differ only in their last (assistant) message", field="chosen")
    return _prompt(chosen[:-1], "chosen"), chosen[-1:], rejected[-1:]


def _meta(obj: dict, prompt: list, default_kind: str) -> dict:
    qid = obj.get("question_id")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if qid is None:  # made elsewhere: one id per prompt, so a prompt's pairs stay together
        blob = json.dumps(prompt, sort_keys=True, ensure_ascii=False).encode()
        qid = "p-" + hashlib.sha256(blob).hexdigest()[:12]
    if not isinstance(qid, str) or not qid.strip():
        raise InputError("must be a non-empty string", field="question_id")
    kind = obj.get("kind", default_kind)
    if not isinstance(kind, str):
        raise InputError(f"expected str, got {type(kind).__name__}", field="kind")
    out = {"question_id": qid, "kind": kind}
    for name in ("chosen_index", "rejected_index"):
        if name in obj and (not isinstance(obj[name], int) or isinstance(obj[name], bool)):
            raise InputError(f"expected int, got {type(obj[name]).__name__}", field=name)
        out[name] = obj.get(name)
    return out


def pair_from_row(obj: dict) -> Pair:
    """A preference pair from a veritune Pair record or a TRL preference row."""
    for name in ("chosen", "rejected"):
        if name not in obj:
            raise InputError("missing required field (preference rows have prompt, chosen, "
                             "rejected)", field=name)
    if "prompt" in obj:
        prompt, chosen, rejected = _prompt(obj["prompt"]), obj["chosen"], obj["rejected"]
    else:
        prompt, chosen, rejected = _implicit_prompt(obj)
    return Pair(prompt=prompt, chosen=_answer(chosen, "chosen"),
                rejected=_answer(rejected, "rejected"), **_meta(obj, prompt, "imported"))


def sft_from_row(obj: dict) -> Pair:
    """An SFT target from a veritune Pair record (``chosen``) or a TRL prompt/completion row."""
    name = "completion" if "completion" in obj else "chosen"
    if "prompt" not in obj or name not in obj:
        raise InputError("missing required field (SFT rows have prompt and completion)",
                         field="prompt" if "prompt" not in obj else "completion")
    prompt = _prompt(obj["prompt"])
    meta = _meta(obj, prompt, "sft")
    meta.pop("rejected_index")
    return Pair(prompt=prompt, chosen=_answer(obj[name], name), rejected=None, **meta)


def read_pairs(path: str | Path) -> list[Pair]:
    """Preference pairs from JSONL, Parquet or a saved dataset, veritune's or TRL's format."""
    return _read(path, pair_from_row)


def read_sft(path: str | Path) -> list[Pair]:
    """SFT targets (Pairs without a rejected answer) from JSONL, Parquet or a saved dataset."""
    return _read(path, sft_from_row)


def read_questions(path: str | Path) -> list[Question]:
    """Question records from JSONL, Parquet or a saved dataset; ids must be unique."""
    return _read(path, Question.from_dict, unique=True)


READERS = {"questions": read_questions, "pairs": read_pairs, "sft": read_sft}


def convert(src: str | Path, dest: str | Path, kind: str) -> tuple[int, str]:
    """Read ``kind`` records from ``src`` and write them to ``dest``; (count, format)."""
    records = READERS[kind](src)
    return len(records), export_records(records, dest, kind)

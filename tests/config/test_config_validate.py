"""Choices and ranges checked when the config loads (file, line, key), ``--set`` read by the
type of its key, and prompts with braces. Issue 15: settings that were accepted and failed
late (a ``range()`` error after the model loaded, an AttributeError, the judge stage failing
after sampling) are now errors at load time."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from veritune import registry
from veritune.config import load_config
from veritune.config.schema import DataConfig, ModelConfig

from conftest import SUBPROCESS_ENV

DTYPES = typing.get_args(typing.get_type_hints(ModelConfig)["dtype"])
DATA_FORMATS = typing.get_args(typing.get_type_hints(DataConfig)["format"])
from veritune.errors import InputError
from veritune.prompts import question_messages
from veritune.records import Question

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path, text: str) -> InputError:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert str(path) in str(e.value)
    return e.value


BAD = [  # (YAML, dotted key, line, words the message holds)
    ("sample:\n  batch_size: 0\n", "sample.batch_size", 2, "at least 1"),
    ("sample:\n  n: -2\n", "sample.n", 2, "at least 1"),
    ("sample:\n  top_p: 1.5\n", "sample.top_p", 2, "(0.0, 1.0]"),
    ("sample:\n  temperature: -0.1\n", "sample.temperature", 2, "at least 0"),
    ("sample:\n  splits: [train, dev]\n", "sample.splits", 2, "'dev'"),
    ("model:\n  dtype: float8\n", "model.dtype", 2, "bfloat16"),
    ("model:\n  engine: tgi\n", "model.engine", 2, "openai"),
    ("judge:\n  name: gpt\n", "judge.name", 2, "ensemble"),
    ("judge:\n  model:\n    dtype: fp16\n", "judge.model.dtype", 3, "float16"),
    ("apeft:\n  decomposer:\n    engine: x\n", "apeft.decomposer.engine", 3, "hf"),
    ("prompt: 'Answer briefly.'\n", "prompt", 1, "{question}"),
    ("seed: -1\n", "seed", 1, "must be in"),
    ("limit: 0\n", "limit", 1, "at least 1"),
    ("name: ''\n", "name", 1, "folder name"),
    ("pairs:\n  max_pairs_per_question: 0\n", "pairs.max_pairs_per_question", 2, "at least 1"),
    ("pairs:\n  chosen: longest\n", "pairs.chosen", 2, "concise"),
    ("train:\n  learning_rate: 0\n", "train.learning_rate", 2, "greater than 0"),
    ("train:\n  warmup_ratio: 1.0\n", "train.warmup_ratio", 2, "[0.0, 1.0)"),
    ("train:\n  loss_type: sigmod\n", "train.loss_type", 2, "ipo"),
    ("train:\n  backend: shared\n  loss_type: hinge\n", "train.loss_type", 3, "shared"),
    ("train:\n  lora:\n    r: 0\n", "train.lora.r", 3, "at least 1"),
    ("eval:\n  best_of_n: -1\n", "eval.best_of_n", 2, "at least 0"),
    ("eval:\n  splits: []\n", "eval.splits", 2, "must not be empty"),
    ("eval:\n  limit: 0\n", "eval.limit", 2, "at least 1"),
    ("data:\n  test_fraction: 0.6\n  validation_fraction: 0.4\n", "data.validation_fraction",
     3, "below 1"),
    ("data:\n  format: xml\n", "data.format", 2, "csv"),
    ("model:\n  timeout: .nan\n", "model.timeout", 2, "finite"),
    ("apeft:\n  probe_low: 0.8\n  probe_high: 0.5\n", "apeft.probe_high", 3, "probe_low"),
]


@pytest.mark.parametrize("text, key, line, words", BAD, ids=[b[1] for b in BAD])
def test_out_of_range_or_unknown_choice_names_file_line_key(tmp_path, text, key, line, words):
    err = error_of(tmp_path, text)
    assert err.field == key and err.line == line, (err.field, err.line, str(err))
    assert words in str(err)


@pytest.mark.parametrize("assignment, key", [
    ("sample.batch_size=0", "sample.batch_size"), ("judge.name=gpt", "judge.name"),
    ("model.dtype=int4", "model.dtype"), ("prompt=no placeholder", "prompt"),
    ("pairs.max_pairs_per_question=0", "pairs.max_pairs_per_question"),
])
def test_set_values_are_checked_and_named_as_set(assignment, key):
    with pytest.raises(InputError) as e:
        load_config(None, [assignment])
    assert e.value.field == key and e.value.path == "--set"
    assert str(e.value).startswith("--set, field")


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_is_accepted(dtype):
    assert load_config(None, [f"model.dtype={dtype}"]).model.dtype == dtype


def test_valid_edges_are_accepted():
    cfg = load_config(None, ["sample.top_p=1.0", "sample.temperature=0", "sample.top_k=0",
                             "eval.best_of_n=0", "train.warmup_ratio=0.0", "seed=0",
                             "data.validation_fraction=0.1", "judge.name=ensemble",
                             "model.device=cuda:1", "apeft.probe_low=0.0"])
    assert cfg.sample.top_p == 1.0 and cfg.judge.name == "ensemble"


def test_shipped_configs_pass_validation():
    for path in sorted((REPO / "configs").glob("**/*.yaml")):
        if "accelerate" in path.parts:
            continue
        if "build" in path.parts:
            from veritune.questionset.config import BuildConfig

            load_config(path, cls=BuildConfig)
        else:
            load_config(path)


def test_the_choices_come_from_the_registry_and_the_loaders():
    from veritune.data.loaders import FORMATS

    assert DTYPES == ("auto", "float32", "bfloat16", "float16")
    assert set(DATA_FORMATS) == set(FORMATS)
    registry.register("engine", "toy", "veritune.engines.hf:HFEngine")
    try:  # a registered name is a valid choice at once
        assert load_config(None, ["model.engine=toy"]).model.engine == "toy"
    finally:
        registry.unregister("engine", "toy")
    with pytest.raises(InputError, match="hf, openai, vllm"):
        load_config(None, ["model.engine=toy"])


def test_every_declared_check_belongs_to_a_real_key():
    """Each key's check is a function of its own field (a check cannot name a key that does
    not exist: it is the field's metadata)."""
    import dataclasses

    from veritune.config.reference import _sections
    from veritune.config.schema import RunConfig

    for _, cls, fields in _sections(RunConfig):
        for f in fields:
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
            check = f.metadata.get("check")
            assert check is None or callable(check), (cls.__name__, f.name)
            assert dataclasses.MISSING in (f.default, f.default_factory)  # one default


# --- --set reads a value by the type of its key ------------------------------------------------

@pytest.mark.parametrize("assignment, attr, value", [
    ("name=2024", "name", "2024"),
    ("model.name=no", "model.name", "no"),
    ("model.name=1.5", "model.name", "1.5"),
    ("prompt=Answer: {question}", "prompt", "Answer: {question}"),
    ('prompt=As JSON {"a": 1}. {question}', "prompt", 'As JSON {"a": 1}. {question}'),
    ("data.source=data/my: file.jsonl", "data.source", "data/my: file.jsonl"),
    ("judge.cache=null", "judge.cache", None),       # an optional text key: null is unset
    ("judge.cache=", "judge.cache", None),
    ("model.device=cpu", "model.device", "cpu"),
    ("sample.n=4", "sample.n", 4),                   # other keys: YAML as before
    ("eval.splits=[test, validation]", "eval.splits", ["test", "validation"]),
    ("limit=null", "limit", None),
    ("model.trust_remote_code=true", "model.trust_remote_code", True),
])
def test_set_takes_text_for_text_keys(assignment, attr, value):
    cfg = load_config(None, [assignment])
    obj = cfg
    for part in attr.split("."):
        obj = getattr(obj, part)
    assert obj == value


def test_set_still_rejects_wrong_types_for_other_keys():
    with pytest.raises(InputError) as e:
        load_config(None, ["sample.n=four"])
    assert e.value.field == "sample.n"


def test_set_unknown_key_with_text_value_is_unknown_key():
    with pytest.raises(InputError, match="unknown config key"):
        load_config(None, ["model.nmae=x: y"])


# --- prompts: {question} only ------------------------------------------------------------------

def test_prompt_with_literal_braces_works():
    q = Question("q1", "Capital of France?", ["Paris"])
    cfg = load_config(None, ['prompt=Reply as {"answer": ...}. {question} {not a field}'])
    (msg,) = question_messages(q, cfg.prompt)
    assert msg["content"] == 'Reply as {"answer": ...}. Capital of France? {not a field}'


def test_question_text_with_braces_is_kept():
    q = Question("q1", "What does {x} mean in {question}?", ["a"])
    (msg,) = question_messages(q, "Q: {question}")
    assert msg["content"] == "Q: What does {x} mean in {question}?"


# --- before any model loads ---------------------------------------------------------------------

def test_bad_value_fails_before_the_model_loads(tmp_path):
    """A model path that does not exist would fail when loaded: the batch size error comes
    first, as one line, and nothing is written."""
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"id": "q1", "question": "Q?", "answers": ["a"]}) + "\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "veritune.cli", "sample", "--model",
                           str(tmp_path / "no-such-model"), "--questions", str(q), "--out",
                           str(out), "--set", "sample.batch_size=0"],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "sample.batch_size" in done.stderr and "at least 1" in done.stderr
    assert not out.exists()

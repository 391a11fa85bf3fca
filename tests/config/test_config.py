"""Config: defaults, YAML, --set overrides, errors that name file/line/key, hashing, dumping."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from veritune.config import DEFAULT_PROMPT, LoraConfig, RunConfig, dump_config, load_config
from veritune.errors import InputError
from veritune.runs.keys import config_hash, hashable

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

GOOD = """\
name: unit
seed: 3
sample:
  n: 4
  temperature: 1.0
train:
  method: sft+dpo
  beta: 0.25
  learning_rate: 2.0e-5
  lora:
    enabled: true
    r: 8
eval:
  splits: [test, validation]
"""


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- loading ----------------------------------------------------------------------------------

def test_defaults_without_a_file():
    cfg = load_config()
    assert isinstance(cfg, RunConfig)
    assert cfg == RunConfig()
    assert cfg.prompt == DEFAULT_PROMPT
    assert cfg.sample.n == 8 and cfg.train.method == "dpo" and cfg.eval.splits == ["test"]


def test_load_yaml_file(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.name == "unit" and cfg.seed == 3
    assert cfg.sample.n == 4
    assert cfg.sample.temperature == 1.0 and isinstance(cfg.sample.temperature, float)
    assert cfg.sample.top_p == 0.9  # untouched keys keep their defaults
    assert cfg.train.method == "sft+dpo" and cfg.train.beta == 0.25
    assert cfg.train.learning_rate == pytest.approx(2e-5)
    assert isinstance(cfg.train.lora, LoraConfig)
    assert cfg.train.lora.enabled is True and cfg.train.lora.r == 8
    assert cfg.train.lora.alpha == 32
    assert cfg.eval.splits == ["test", "validation"]
    assert cfg.run_dir == Path("runs") / "unit"


def test_int_is_accepted_for_a_float_key(tmp_path):
    cfg = load_config(write(tmp_path, "train:\n  epochs: 2\n"))
    assert cfg.train.epochs == 2.0 and isinstance(cfg.train.epochs, float)


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "# nothing here\n")) == RunConfig()


# --- --set overrides ------------------------------------------------------------------------

def test_overrides_nested_list_null(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), [
        "train.beta=0.2",                 # nested, replaces a file value
        "eval.splits=[validation]",       # list
        "limit=null",                     # null
        "model.device=cpu",               # a key the file does not mention
        "train.lora.r=4",                 # two levels deep
        "sample.n=16",
    ])
    assert cfg.train.beta == 0.2
    assert cfg.eval.splits == ["validation"]
    assert cfg.limit is None
    assert cfg.model.device == "cpu"
    assert cfg.train.lora.r == 4 and cfg.train.lora.enabled is True  # sibling kept
    assert cfg.sample.n == 16 and cfg.sample.temperature == 1.0


def test_override_null_and_empty_value_clear_an_optional_key():
    assert load_config(None, ["limit=5"]).limit == 5
    assert load_config(None, ["limit=5", "limit=null"]).limit is None
    assert load_config(None, ["limit=5", "limit="]).limit is None
    assert load_config(None, ["model.device=cuda", "model.device=null"]).model.device is None


def test_override_later_wins():
    assert load_config(None, ["seed=1", "seed=2"]).seed == 2


def test_override_without_equals_is_an_error():
    with pytest.raises(InputError, match="key=value"):
        load_config(None, ["train.beta"])


def test_override_into_a_scalar_is_an_error(tmp_path):
    path = write(tmp_path, GOOD)  # name: unit
    with pytest.raises(InputError, match="not a section"):
        load_config(path, ["name.x=1"])
    with pytest.raises(InputError) as e:  # no file: name becomes a mapping, not a str
        load_config(None, ["name.x=1"])
    assert e.value.field == "name"


def test_override_wrong_type_names_the_key():
    with pytest.raises(InputError) as e:
        load_config(None, ["sample.n=many"])
    assert e.value.field == "sample.n"
    assert "sample.n" in str(e.value) and "many" in str(e.value)


def test_override_unknown_key_names_the_key():
    with pytest.raises(InputError) as e:
        load_config(None, ["train.betta=0.2"])
    assert e.value.field == "train.betta"
    assert "unknown config key" in str(e.value)


def test_override_float_in_plain_exponent_notation():
    assert load_config(None, ["train.learning_rate=1e-5"]).train.learning_rate == 1e-5


# --- errors name file, line and key ---------------------------------------------------------

def test_unknown_top_level_key(tmp_path):
    text = GOOD + "nmae: typo\n"
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    err = e.value
    assert err.field == "nmae" and err.line == line_of(text, "nmae")
    msg = str(err)
    assert str(path) in msg and f"line {line_of(text, 'nmae')}" in msg and "'nmae'" in msg
    assert "unknown config key" in msg


def test_unknown_nested_key(tmp_path):
    text = GOOD.replace("  beta: 0.25", "  betta: 0.25")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    line = line_of(text, "betta")
    assert line == 8
    assert e.value.field == "train.betta" and e.value.line == line
    msg = str(e.value)
    assert str(path) in msg and "line 8" in msg and "train.betta" in msg
    assert "beta" in msg  # the known keys are listed


def test_unknown_key_two_levels_deep(tmp_path):
    text = GOOD.replace("    r: 8", "    rank: 8")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "train.lora.rank"
    assert e.value.line == line_of(text, "rank")
    assert str(path) in str(e.value)


def test_wrong_type_names_file_line_key(tmp_path):
    text = GOOD.replace("  n: 4", "  n: many")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "sample.n" and e.value.line == 4
    msg = str(e.value)
    assert str(path) in msg and "line 4" in msg and "sample.n" in msg and "many" in msg


@pytest.mark.parametrize("snippet, key", [
    ("sample:\n  n: true\n", "sample.n"),            # a bool is not an int
    ("sample:\n  n: 4.5\n", "sample.n"),             # a float is not an int
    ("eval:\n  splits: test\n", "eval.splits"),      # a string is not a list
    ("eval:\n  splits: [1]\n", "eval.splits"),       # list items are checked
    ("limit: lots\n", "limit"),                      # int | None
    ("train:\n  lora: 5\n", "train.lora"),           # a section needs a mapping
    ("train:\n  beta: high\n", "train.beta"),
    ("pairs:\n  drop_truncated: 3\n", "pairs.drop_truncated"),
    ("pairs:\n  drop_hedged_rejected: maybe\n", "pairs.drop_hedged_rejected"),
])
def test_wrong_types(tmp_path, snippet, key):
    path = write(tmp_path, snippet)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == key
    assert e.value.line is not None and str(path) in str(e.value)


def test_invalid_yaml_names_file_and_line(tmp_path):
    text = "name: x\nsample:\n  n: [1, 2\ntrain:\n  beta: 0.1\n"
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    msg = str(e.value)
    assert str(path) in msg and "not valid YAML" in msg
    assert e.value.line is not None and 3 <= e.value.line <= 5
    assert f"line {e.value.line}" in msg


def test_bad_indentation_names_the_line(tmp_path):
    text = "name: x\nsample:\n  n: 4\n   temperature: 1.0\n"
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.line == 4 and str(path) in str(e.value)


def test_top_level_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(InputError, match="mapping") as e:
        load_config(path)
    assert str(path) in str(e.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(InputError, match="not found") as e:
        load_config(path)
    assert str(path) in str(e.value)


def test_unknown_train_method(tmp_path):
    text = GOOD.replace("method: sft+dpo", "method: xyz")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "train.method" and e.value.line == line_of(text, "xyz")
    msg = str(e.value)
    assert "xyz" in msg and "dpo" in msg and "sft-then-dpo" in msg and str(path) in msg
    with pytest.raises(InputError, match="train.method"):
        load_config(None, ["train.method=xyz"])


@pytest.mark.parametrize("method", ["dpo", "sft", "sft+dpo", "sft-then-dpo"])
def test_every_train_method_is_accepted(method):
    assert load_config(None, [f"train.method={method}"]).train.method == method


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1"])
def test_test_fraction_out_of_range(tmp_path, value):
    text = f"name: x\ndata:\n  test_fraction: {value}\n"
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert e.value.field == "data.test_fraction" and e.value.line == 3


def test_section_with_all_keys_commented_out(tmp_path):
    path = write(tmp_path, "name: x\ntrain:\n  # beta: 0.2\n")
    assert load_config(path).train == RunConfig().train
    assert load_config(path, ["train.beta=0.3"]).train.beta == 0.3


# --- hashing and dumping --------------------------------------------------------------------

def test_config_hash_stable_and_sensitive(tmp_path):
    from veritune.dtype import hash_dtype

    a = load_config(write(tmp_path, GOOD))
    b = load_config(write(tmp_path, GOOD, "copy.yaml"))
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) == config_hash(hashable(a))  # dataclass or its plain data
    # an option added later (model.vllm) leaves old hashes alone at its default...
    # (dtype auto hashes as the dtype it resolves to: see tests/test_dtype.py)
    plain = dataclasses.asdict(a.model) | {"dtype": hash_dtype(a.model)}
    later = ("vllm", "dola_layers")
    assert config_hash(a.model) == config_hash({k: v for k, v in plain.items() if k not in later})
    # ...and counts once it is set
    assert config_hash(dataclasses.replace(a.model, vllm={"tensor_parallel_size": 2})) != \
        config_hash(a.model)
    h = config_hash(a)
    assert isinstance(h, str) and len(h) == 16 and int(h, 16) >= 0
    assert config_hash(a.train) != config_hash(a)
    c = load_config(write(tmp_path, GOOD, "c2.yaml"), ["train.beta=0.26"])
    assert config_hash(c) != h
    assert config_hash(c.sample) == config_hash(a.sample)  # only the train section changed
    assert config_hash(c.train) != config_hash(a.train)
    # key order does not matter; values do
    assert config_hash({"x": 1, "y": 2}) == config_hash({"y": 2, "x": 1})
    assert config_hash({"x": 1}) != config_hash({"x": 2})


def test_dump_config_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), ["limit=7", "model.device=cpu",
                                              "data.columns={q: question}"])
    text = dump_config(cfg)
    again = load_config(write(tmp_path, text, "dumped.yaml"))
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)
    # the defaults, including the small float learning rate 1e-5, round-trip too
    default = RunConfig()
    assert load_config(write(tmp_path, dump_config(default), "default.yaml")) == default


# --- the shipped configs --------------------------------------------------------------------

SHIPPED = sorted(CONFIGS.glob("*.yaml")) + sorted(CONFIGS.glob("*.yml")) + \
    sorted((CONFIGS / "baselines").glob("*.yaml"))


def test_there_are_shipped_configs():
    assert SHIPPED, f"no configs in {CONFIGS}"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, RunConfig)
    assert "{question}" in cfg.prompt
    again = load_config(path)
    assert config_hash(again) == config_hash(cfg)

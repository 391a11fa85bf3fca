"""Fuzzing the inputs a user controls (issue 15): record files, judge-bench labels files,
config files and ``--set`` values. Whatever hypothesis writes, a command ends with status 0 or
with one ``error:`` line (status 1), never a traceback, and the records a stage wrote before
stay as they were. Runs in CI in well under a minute (no model: the lexical judge and the
pairs stage; configs are only loaded)."""

from __future__ import annotations

import json
import os
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from veritune.cli import app
from veritune.config import dump_config, load_config
from veritune.errors import InputError

# CI: 60 fixed examples per test; VERITUNE_FUZZ_EXAMPLES=2000 searches longer, at random
EXAMPLES = os.environ.get("VERITUNE_FUZZ_EXAMPLES")
SETTINGS = settings(max_examples=int(EXAMPLES or 60), deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow], database=None)

# -- JSON values and lines ----------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(scalars, lambda c: st.one_of(
    st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=4)), max_leaves=8)
words = st.text(alphabet=string.ascii_letters + " éß東{}\\\"\n\t\x00", max_size=20)
ids = st.sampled_from(["q1", "q2", "q3"])


def encode(record) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")


def lines_of(records: st.SearchStrategy, good: st.SearchStrategy) -> st.SearchStrategy:
    """JSONL content: half the files hold only well-formed records (so the stage runs to the
    end), the other half mix in anything: odd records, arbitrary JSON, bytes, torn lines."""
    line = st.one_of(
        records.map(encode), good.map(encode),
        records.map(lambda r: json.dumps(r).encode()[:-3]),  # torn
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
        st.just(b""), st.just(b"\xef\xbb\xbf{}"))
    mixed = st.lists(line, max_size=6)
    clean = st.lists(good.map(encode), max_size=6)
    return st.one_of(clean, mixed).map(lambda ls: b"\n".join(ls) + b"\n")


questions = st.fixed_dictionaries(
    {"id": st.one_of(ids, st.integers(0, 3)), "question": st.one_of(words, st.none()),
     "answers": st.one_of(st.lists(words, max_size=3), words)},
    optional={"split": st.sampled_from(["train", "test", "dev", None]), "lang": words,
              "wrong_answers": st.lists(st.one_of(words, st.integers()), max_size=2),
              "domain": st.one_of(words, st.integers())})
samples = st.fixed_dictionaries(
    {"question_id": st.one_of(ids, st.integers()), "index": st.one_of(st.integers(-2, 3),
                                                                      st.booleans()),
     "text": st.one_of(words, st.none())},
    optional={"truncated": st.one_of(st.booleans(), words), "n_tokens": scalars})
verdicts = st.fixed_dictionaries(
    {"question_id": ids, "sample_index": st.integers(0, 3),
     "label": st.sampled_from(["correct", "incorrect", "uncertain", "yes", ""])})
labels = st.fixed_dictionaries(
    {"question": st.one_of(words, st.none()), "answers": st.one_of(st.lists(words, max_size=2),
                                                                   words),
     "response": st.one_of(words, st.integers()),
     "label": st.sampled_from(["correct", "incorrect", "maybe", None])},
    optional={"lang": words, "kind": st.sampled_from(["cjk", "en"]), "id": scalars})

text = st.text(min_size=1, max_size=15).filter(str.strip)
good_questions = st.fixed_dictionaries(
    {"id": ids, "question": text, "answers": st.lists(text, min_size=1, max_size=3)},
    optional={"split": st.sampled_from(["train", "test", "validation"]),
              "wrong_answers": st.lists(text, max_size=3), "lang": st.sampled_from(["en", "zh"]),
              "source": st.sampled_from(["kb", "file"]), "domain": text})
good_samples = st.fixed_dictionaries(
    {"question_id": ids, "index": st.integers(0, 3), "text": words},
    optional={"truncated": st.booleans(), "n_tokens": st.integers(0, 40)})
good_verdicts = st.fixed_dictionaries(
    {"question_id": ids, "sample_index": st.integers(0, 3),
     "label": st.sampled_from(["correct", "incorrect", "uncertain"])})
good_labels = st.fixed_dictionaries(
    {"question": text, "answers": st.lists(text, min_size=1, max_size=2), "response": words,
     "label": st.sampled_from(["correct", "incorrect"])},
    optional={"kind": st.sampled_from(["cjk", "en"])})

EARLIER = b'{"question_id": "q1", "sample_index": 0, "label": "correct", "judge": "lexical"}\n'


def run_cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    if result.exit_code == 1:
        errors = [x for x in result.output.splitlines() if x.startswith("error:")]
        assert len(errors) == 1, result.output
    return result


@SETTINGS
@given(q=lines_of(questions, good_questions), s=lines_of(samples, good_samples))
def test_judge_on_any_record_files(q, s):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "q.jsonl").write_bytes(q)
        (d / "s.jsonl").write_bytes(s)
        out = d / "out"
        out.mkdir()
        (out / "verdicts.jsonl").write_bytes(EARLIER)
        run_cli("judge", "--questions", d / "q.jsonl", "--samples", d / "s.jsonl", "--out", out)
        assert (out / "verdicts.jsonl").read_bytes().startswith(EARLIER)
        from veritune.runs.lock import release_dir

        release_dir(out)


@SETTINGS
@given(q=lines_of(questions, good_questions), s=lines_of(samples, good_samples),
       v=lines_of(verdicts, good_verdicts))
def test_pairs_on_any_record_files(q, s, v):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for name, content in (("q", q), ("s", s), ("v", v)):
            (d / f"{name}.jsonl").write_bytes(content)
        out = d / "out"
        out.mkdir()
        (out / "pairs.jsonl").write_bytes(b"earlier\n")
        result = run_cli("pairs", "--questions", d / "q.jsonl", "--samples", d / "s.jsonl",
                         "--verdicts", d / "v.jsonl", "--out", out, "--export-trl",
                         d / "trl.jsonl")
        if result.exit_code:  # an error writes nothing
            assert (out / "pairs.jsonl").read_bytes() == b"earlier\n"
        from veritune.runs.lock import release_dir

        release_dir(out)


@SETTINGS
@given(content=lines_of(labels, good_labels))
def test_judge_bench_on_any_labels_file(content):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "labels.jsonl"
        path.write_bytes(content)
        run_cli("judge-bench", "--labels", path)


# -- configs and --set ---------------------------------------------------------------------------

KEYS = ["name", "seed", "limit", "prompt", "runs_dir", "model.name", "model.dtype",
        "model.engine", "model.device", "model.vllm", "sample.n", "sample.top_p",
        "sample.temperature", "sample.batch_size", "sample.splits", "judge.name",
        "judge.cache", "judge.model.dtype", "pairs.max_pairs_per_question", "pairs.chosen",
        "train.method", "train.learning_rate", "train.lora.r", "train.lora", "eval.splits",
        "eval.best_of_n", "eval.limit", "data.test_fraction", "data.columns", "apeft.decomposer",
        "apeft.probe_high", "nosuch", "sample.nosuch", "sample", "extends"]
values = st.one_of(json_values, st.sampled_from(
    ["0", "-1", "1e-5", "auto", "null", "~", "", "[test]", "{a: 1}", "yes", "no", "{question}",
     "Answer: {question}", "'quoted'", "[unclosed", "&a [*a]", "!!python/object:os.system x",
     "2024", ".nan", "bfloat16", "lexical", "train, test"]), words)


@SETTINGS
@given(assignments=st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=4))
def test_any_set_values(assignments):
    overrides = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in assignments]
    try:
        cfg = load_config(None, overrides)
    except InputError:
        return
    with tempfile.TemporaryDirectory() as d:  # what loads also dumps and loads back the same
        path = Path(d) / "c.yaml"
        path.write_text(dump_config(cfg), encoding="utf-8")
        assert load_config(path) == cfg


def nested(pairs):
    tree: dict = {}
    for key, value in pairs:
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[parts[-1]] = value
    return tree


@SETTINGS
@given(tree=st.lists(st.tuples(st.sampled_from(KEYS), json_values), max_size=5).map(nested),
       raw=st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=40)))
def test_any_config_file(tree, raw):
    import yaml

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.yaml"
        if raw is None:
            path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
        elif isinstance(raw, bytes):
            path.write_bytes(raw)
        else:
            path.write_text(raw, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path)
        except InputError as e:
            assert str(path) in str(e) or e.path == "--set"

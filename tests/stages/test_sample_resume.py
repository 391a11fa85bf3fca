"""Resumable sampling: a ``veritune sample`` killed mid-run (SIGKILL, even mid-write) and run
again ends with exactly the records of an uninterrupted run: nothing lost, nothing twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veritune.jsonl import write_records

from conftest import SUBPROCESS_ENV, kb_sample

N = 4


def sample_cmd(model: Path, questions: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "veritune.cli", "sample", "--model", str(model),
            "--questions", str(questions), "--out", str(out), "--n", str(N),
            "--max-new-tokens", "8", "--temperature", "1.0", "--seed", "3",
            "--set", "sample.batch_size=2"]


def run_to_end(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_killed_sampling_resumes_to_the_same_records(tmp_path, tiny_model_dir):
    # Enough questions (2 per batch) that the run is still going when we look at it.
    questions = kb_sample(16)[:80]
    qfile = tmp_path / "questions.jsonl"
    write_records(qfile, questions)
    total = len(questions) * N

    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    out = killed_dir / "samples.jsonl"
    proc = subprocess.Popen(sample_cmd(tiny_model_dir, qfile, killed_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=SUBPROCESS_ENV)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if 3 * 2 * N <= line_count(out) < total - 2 * N:  # a few batches written
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (
        f"the run ended ({proc.returncode}) before it could be killed mid-run: "
        f"{proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()

    partial = line_count(out)
    assert 0 < partial < total
    # Also simulate a kill inside a batch and inside a line: drop the last three records
    # (half a batch on disk) and leave half a JSON line with no newline.
    lines = out.read_bytes().splitlines(keepends=True)
    kept = lines[:-3]
    torn = lines[-3][: len(lines[-3]) // 2]
    out.write_bytes(b"".join(kept) + torn)

    resumed_stdout = run_to_end(sample_cmd(tiny_model_dir, qfile, killed_dir))
    assert "'questions_resumed': 0," not in resumed_stdout  # some batches were skipped
    run_to_end(sample_cmd(tiny_model_dir, qfile, clean_dir))

    resumed, clean = records(out), records(clean_dir / "samples.jsonl")  # every line parses
    assert len(clean) == total
    assert len(resumed) == total
    keys = [(r["question_id"], r["index"]) for r in resumed]
    assert len(set(keys)) == total  # no duplicates
    assert set(keys) == {(q.id, k) for q in questions for k in range(N)}
    by_key = {(r["question_id"], r["index"]): r for r in clean}
    assert {k: r for k, r in zip(keys, resumed)} == by_key  # same texts, same every field
    # the records that were on disk before the kill were kept as they were
    assert [json.loads(x) for x in kept] == resumed[:len(kept)]
    # the samples are samples (a seed per batch), not one text repeated
    assert len({r["text"] for r in clean}) > total // 2


@pytest.mark.slow
def test_finished_sampling_run_again_writes_nothing(tmp_path, tiny_model_dir):
    questions = kb_sample(2)[:6]
    qfile = tmp_path / "questions.jsonl"
    write_records(qfile, questions)
    run_to_end(sample_cmd(tiny_model_dir, qfile, tmp_path))
    before = (tmp_path / "samples.jsonl").read_bytes()
    stdout = run_to_end(sample_cmd(tiny_model_dir, qfile, tmp_path))
    assert f"'questions_resumed': {len(questions)}," in stdout
    assert (tmp_path / "samples.jsonl").read_bytes() == before
    assert line_count(tmp_path / "samples.jsonl") == len(questions) * N


@pytest.mark.slow
def test_resume_with_other_settings_does_not_keep_stale_samples(tmp_path, tiny_model_dir):
    questions = kb_sample(2)[:4]
    qfile = tmp_path / "questions.jsonl"
    write_records(qfile, questions)
    run_to_end(sample_cmd(tiny_model_dir, qfile, tmp_path))  # seed 3
    cmd = sample_cmd(tiny_model_dir, qfile, tmp_path)
    cmd[cmd.index("--seed") + 1] = "4"
    done = subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=600)
    if done.returncode == 0:  # then the file must hold what was asked for: seed 4 samples
        rows = records(tmp_path / "samples.jsonl")
        assert len(rows) == len(questions) * N
        assert {r["seed"] for r in rows} == {4}
    else:  # or refuse with one clear error and leave the file as it was
        assert done.returncode == 1 and "error:" in done.stderr

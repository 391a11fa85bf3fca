"""One process at a time on a run directory (issue 15: two processes appended duplicate
records). Real processes: a holder, a second ``veritune`` that is refused with the holder's
pid, and the lock gone when the holder is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SUBPROCESS_ENV

from veritune.errors import VerituneError
from veritune.runs.lock import LOCK_NAME, lock_dir, release_dir

HOLD = "import sys, time; from veritune.runs.lock import lock_dir; lock_dir(sys.argv[1]); " \
       "print('held', flush=True); time.sleep(120)"


def veritune(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veritune.cli", *map(str, args)],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300)


@pytest.fixture
def holder(tmp_path):
    """A process holding runs/x (started through the same function the stages use)."""
    run = tmp_path / "runs" / "x"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE,
                            text=True, env=SUBPROCESS_ENV)
    assert proc.stdout.readline().strip() == "held"
    yield proc, run
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


@pytest.mark.slow
def test_a_second_process_is_refused_with_the_holders_pid(tmp_path, holder):
    proc, run = holder
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: x\nruns_dir: {tmp_path / 'runs'}\ndata:\n  relations: "
                   "[country_continent]\n  max_entities_per_domain: 4\n", encoding="utf-8")
    done = veritune("data", cfg)
    assert done.returncode == 1, done.stderr
    assert f"in use by another veritune process (pid {proc.pid})" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (run / "questions.jsonl").exists() and not (run / "manifest.json").exists()

    proc.send_signal(signal.SIGKILL)  # the kernel lets the lock go with the process
    proc.wait(timeout=30)
    done = veritune("data", cfg)
    assert done.returncode == 0, done.stderr
    assert (run / "questions.jsonl").exists()


def test_standalone_out_folder_is_locked_too(tmp_path, holder):
    proc, run = holder
    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "q1", "question": "Q?", "answers": ["a"]}\n')
    s = tmp_path / "s.jsonl"
    s.write_text('{"question_id": "q1", "index": 0, "text": "a"}\n')
    done = veritune("judge", "--questions", q, "--samples", s, "--out", run)
    assert done.returncode == 1 and f"pid {proc.pid}" in done.stderr
    assert not (run / "verdicts.jsonl").exists()


def test_same_process_may_reopen_and_release(tmp_path):
    run = tmp_path / "r"
    lock_dir(run)
    lock_dir(run)  # a second RunStore in the same process (report after eval, ablations)
    assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())
    child = subprocess.run([sys.executable, "-c", "import sys; from veritune.runs.lock import "
                            "lock_dir; lock_dir(sys.argv[1])", str(run)],
                           capture_output=True, text=True, env=SUBPROCESS_ENV)
    assert child.returncode != 0 and "in use by another veritune process" in child.stderr
    release_dir(run)
    child = subprocess.run([sys.executable, "-c", "import sys; from veritune.runs.lock import "
                            "lock_dir; lock_dir(sys.argv[1])", str(run)],
                           capture_output=True, text=True, env=SUBPROCESS_ENV)
    assert child.returncode == 0, child.stderr


def test_other_ranks_of_a_launch_share_the_directory(tmp_path, holder, monkeypatch):
    _, run = holder
    monkeypatch.setenv("RANK", "1")
    lock_dir(run)  # rank 1 of the holder's job: no error
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(VerituneError, match="in use"):
        lock_dir(Path(run))

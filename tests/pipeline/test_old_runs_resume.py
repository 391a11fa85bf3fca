"""Runs made by veritune before the stage redesign (``tests/fixtures/old_runs/``: a quickstart
and a kb run with validation selection, the guard and the suite, each ``--limit 4``, made by
that code, their model folders cut to their ``config.json``) resume with every stage skipped that can be: the new
code computes the key each finished stage recorded, and the stages whose inputs are all there
are "up to date", their files untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import veritune.dtype
from veritune.config import load_config
from veritune.pipeline import run_pipeline
from veritune.runs.keys import StageKey
from veritune.stages import STAGES, Context, RunPaths
from veritune.stages.anchors import AnchorsStage

REPO = Path(__file__).resolve().parents[2]
OLD = REPO / "tests" / "fixtures" / "old_runs"


def copy_run(name: str, tmp_path: Path):
    run = tmp_path / "runs" / name
    shutil.copytree(OLD / name, run)
    cfg = load_config(run / "config.yaml", [f"runs_dir={tmp_path / 'runs'}", f"name={name}"])
    return cfg, run


@pytest.fixture(autouse=True)
def _as_made(monkeypatch):
    """The machine the runs were made on: a CPU with native bf16, no GPU (``dtype: auto``
    hashes as what it resolves to), in the repository (the configs name their anchor file
    relative to it)."""
    monkeypatch.setattr(veritune.dtype, "_cpu_native_bf16", lambda: True)
    monkeypatch.setattr(veritune.dtype, "_cuda", lambda device: False)
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("name", ["quickstart", "kb_guard"])
def test_every_finished_stage_keeps_its_key(name, tmp_path):
    cfg, run = copy_run(name, tmp_path)
    recorded = json.loads((run / "manifest.json").read_text())["stages"]
    stages = {s.name: s for group in STAGES.values() for s in group if s.recorded}
    stages["anchors"] = AnchorsStage()
    ctx = Context(cfg, RunPaths.of(run))
    for stage, entry in recorded.items():
        assert entry["status"] == "done", stage
        assert str(StageKey.of(*stages[stage].key(ctx))) == entry["config_hash"], stage


@pytest.mark.parametrize("name", ["quickstart", "kb_guard"])
def test_the_stages_before_training_are_up_to_date(name, tmp_path):
    cfg, run = copy_run(name, tmp_path)
    files = {p: p.stat().st_mtime_ns for p in run.rglob("*.jsonl")}
    lines: list[str] = []
    run_pipeline(cfg, ["data", "sample", "judge", "pairs"], log=lines.append)
    assert [x for x in lines if not x.startswith("config.yaml")] == \
        [f"{s}: up to date" for s in ("data", "sample", "judge", "pairs")]
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*.jsonl")} == files

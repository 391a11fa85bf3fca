"""Every stage computes the key the code before the stage redesign computed for the same config
(``tests/fixtures/stage_keys_v0.json``, captured from that code on a CPU with native bf16, which
the test pretends to be: ``dtype: auto`` hashes as what it resolves to), so a finished run made
by an older veritune resumes with its stages skipped instead of running them again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import veritune.dtype
from veritune.config import load_config
from veritune.runs.keys import StageKey
from veritune.stages import STAGES, Context, RunPaths
from veritune.stages.anchors import AnchorsStage
from veritune.stages.apeft import APEFT_STAGES

REPO = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((REPO / "tests" / "fixtures" / "stage_keys_v0.json").read_text())


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_stage_keys_match_the_code_before_the_redesign(case, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the configs name their anchor files relative to the repository
    monkeypatch.setattr(veritune.dtype, "_cpu_native_bf16", lambda: True)
    monkeypatch.setattr(veritune.dtype, "_cuda", lambda device: False)
    entry = GOLDEN[case]
    cfg = load_config(entry["config"], [*entry["sets"], f"runs_dir={tmp_path}", f"name={case}"])
    ctx = Context(cfg, RunPaths.of(cfg.run_dir), log=lambda line: None)
    known = APEFT_STAGES if case == "apeft" else STAGES
    stages = {s.name: s for group in known.values() for s in group if s.recorded}
    stages["anchors"] = AnchorsStage()
    for name in ("data",):  # the later keys that read questions need the data stage's file
        cfg.run_dir.mkdir(parents=True)
        stages[name].run(ctx)
    for name, expected in entry["stages"].items():
        if name.startswith("_"):
            continue
        assert str(StageKey.of(*stages[name].key(ctx))) == expected, (case, name)

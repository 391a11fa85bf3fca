"""The CLI answers ``--help`` and bad input without loading torch (seconds on a small machine):
the stages, the trainer and the engines are imported inside the commands that need them."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import SUBPROCESS_ENV

HEAVY = ("torch", "transformers", "trl", "peft", "datasets")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=SUBPROCESS_ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_package():
    modules = loaded_after("import veritune.cli.main")
    assert [m for m in HEAVY if m in modules] == []


def test_a_bad_question_file_is_refused_before_torch_loads(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "q1", "question": "X?", "answers": []}\n', encoding="utf-8")
    code = ("import sys\nfrom veritune.cli.main import app\n"
            f"sys.argv = ['veritune', 'sample', '--model', 'none', '--questions', {str(bad)!r}, "
            f"'--out', {str(tmp_path / 'out')!r}]\n"
            "try:\n    app()\nexcept SystemExit as e:\n    assert e.code == 1, e.code")
    modules = loaded_after(code)
    assert [m for m in HEAVY if m in modules] == []

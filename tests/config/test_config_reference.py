"""docs/CONFIG.md is what the declarations in config/schema.py write: a key added, removed or
re-documented there changes the reference, and this test says to write it again."""

from __future__ import annotations

from pathlib import Path

from veritune.config.reference import key_help, reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONFIG.md"


def test_the_config_reference_is_the_one_the_declarations_write():
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), \
        "docs/CONFIG.md is stale: python -m veritune.config.reference > docs/CONFIG.md"


def test_every_key_is_in_the_reference_with_its_help():
    text = reference_markdown()
    for key in ("sample.n", "judge.model.engine", "train.anchor.weight", "train.lora.r",
                "eval.guard_limit", "apeft.probe_high", "data.relations"):
        assert f"| `{key}` |" in text, key
    assert key_help("sample.n") == "answers per question (sets sample.n)."
    assert "1, 1.0" not in text  # numbers are checks' words, not tuples

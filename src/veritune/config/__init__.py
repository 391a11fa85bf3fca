"""Typed config: one dataclass per section, layered once: defaults, then YAML, then ``--set``.

``load_config("configs/quickstart.yaml", ["sample.n=4"])`` returns a :class:`RunConfig`. An
unknown key, a value of the wrong type, or one outside its choices or range is an
:class:`InputError` naming the file, the line and the key, before any model loads. Every key
is declared once in ``schema.py``; ``load.py`` reads files and ``--set``; ``checks.py``
applies the declared checks; ``reference.py`` writes the reference in ``docs/CONFIG.md``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from veritune.config.load import load
from veritune.config.schema import (DEFAULT_PROMPT, AnchorConfig, ApeftConfig, DataConfig,
                                    EvalConfig, JudgeConfig, LoraConfig, ModelConfig, PairsConfig,
                                    RunConfig, SampleConfig, SamplingParams, TrainConfig)

__all__ = ["DEFAULT_PROMPT", "AnchorConfig", "ApeftConfig", "DataConfig", "EvalConfig",
           "JudgeConfig", "LoraConfig", "ModelConfig", "PairsConfig", "RunConfig",
           "SampleConfig", "SamplingParams", "TrainConfig", "dump_config", "load_config"]


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                cls: type = RunConfig):
    """Defaults, then the YAML file, then ``--set`` overrides, then the declared checks. A
    file may start from another with ``extends: other.yaml`` (relative to it); its own keys
    win, section by section. ``cls`` is the top-level dataclass (``RunConfig``;
    ``BuildConfig`` for ``veritune build``). See ``veritune.config.load``."""
    return load(cls, path, overrides)


def dump_config(config) -> str:
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False, allow_unicode=True)

"""Where tests find the real data sets the project does not ship (see ``../shared/data/README.md``):
``$VERITUNE_DATA_DIR`` (``:``-separated), then ``shared/data`` beside the repository. A test
that needs one is skipped, with the places searched as its reason (``-rs`` prints it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def data_dirs() -> list[Path]:
    env = os.environ.get("VERITUNE_DATA_DIR", "")
    return [Path(p) for p in env.split(os.pathsep) if p] + [SHARED]


def shared_file(relative: str) -> Path:
    """The first ``dir/relative`` that exists, else the path under ``SHARED``."""
    for d in data_dirs():
        if (d / relative).exists():
            return d / relative
    return SHARED / relative


def needs(relative: str):
    """Skip marker for a test that reads ``relative`` from the shared data."""
    return pytest.mark.skipif(not shared_file(relative).exists(),
                              reason=f"{relative} not found in {[str(d) for d in data_dirs()]}")

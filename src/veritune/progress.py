"""Progress bars with counts and rates (tqdm), quiet when ``VERITUNE_QUIET`` is set."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def progress(total: int, desc: str, unit: str = "it", initial: int = 0) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True,
                disable=bool(os.environ.get("VERITUNE_QUIET")), smoothing=0.1)


def say(text: str) -> None:
    """A line for the terminal that is not a progress bar (VERITUNE_QUIET keeps it)."""
    print(text, file=sys.stderr, flush=True)

"""The ``veritune`` command line (``main.py``: the app; ``stages.py``: the stage commands)."""

from veritune.cli.main import app

__all__ = ["app"]

"""``python -m veritune.cli``: the ``veritune`` command."""

import sys

from veritune.cli.main import app

sys.exit(app())

"""veritune: make a language model more factual with what it already knows (PKUE, APEFT).

    import veritune

    cfg = veritune.load_config("configs/quickstart.yaml", {"sample.n": 4})
    result = veritune.run(cfg, limit=20)       # every stage into runs/quickstart/
    print(result.comparison["test"])           # held-out accuracy, base vs tuned

The names below are imported on first use: ``import veritune`` loads no torch. The command
line (``veritune run``, ``veritune eval``, ...) is a thin layer over the same functions
(``veritune.api``).
"""

from __future__ import annotations

import importlib as _importlib
from importlib import metadata as _metadata
from typing import TYPE_CHECKING

try:
    __version__: str = _metadata.version("veritune")
except _metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# public name -> (module, attribute)
_EXPORTS = {
    **{name: ("veritune.api", name) for name in (
        "load_config", "run", "read_run", "RunResult", "build_judge", "evaluate_model",
        "EvalResult", "judge_bench", "BenchResult")},
    **{name: ("veritune.records", name) for name in ("Question", "Sample", "Verdict", "Pair")},
    "RunConfig": ("veritune.config", "RunConfig"),
    "InputError": ("veritune.errors", "InputError"),
    "VerituneError": ("veritune.errors", "VerituneError"),
    "VeritunError": ("veritune.errors", "VeritunError"),  # the old spelling
    **{name: ("veritune.datasets_io", name) for name in (
        "to_dataset", "export_records", "read_questions", "read_pairs", "read_sft")},
}

__all__ = [  # spelled out for type checkers; tests/test_api.py checks it against _EXPORTS
    "__version__", "load_config", "run", "read_run", "RunResult", "build_judge",
    "evaluate_model", "EvalResult", "judge_bench", "BenchResult", "Question", "Sample",
    "Verdict", "Pair", "RunConfig", "InputError", "VerituneError", "VeritunError", "to_dataset",
    "export_records", "read_questions", "read_pairs", "read_sft"]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'veritune' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(_importlib.import_module(module), attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from veritune.api import (BenchResult, EvalResult, RunResult, build_judge, evaluate_model,
                              judge_bench, load_config, read_run, run)
    from veritune.config import RunConfig
    from veritune.datasets_io import (export_records, read_pairs, read_questions, read_sft,
                                      to_dataset)
    from veritune.errors import InputError, VerituneError, VeritunError
    from veritune.records import Pair, Question, Sample, Verdict

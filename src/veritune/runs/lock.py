"""One process at a time per run directory: ``runs/<name>/.lock``, held for the process's life.

Two processes appending to one run directory would write duplicate records, so the first one
takes an exclusive ``flock`` on ``.lock`` (which also holds its pid) and keeps it until it
exits; the kernel lets it go when the process dies, even by ``kill -9``. A second process gets
an error naming the holder's pid. The ranks of one ``accelerate launch`` / ``torchrun`` job
share the directory: only rank 0 takes the lock.

    from veritune.runs.lock import lock_dir
    lock_dir("runs/quickstart")  # returns at once, or raises VerituneError
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from veritune.errors import VerituneError

LOCK_NAME = ".lock"
_held: dict[Path, int] = {}  # directory -> open descriptor of its lock file (this process)


def _rank() -> int:
    for var in ("RANK", "LOCAL_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def lock_dir(directory: str | Path) -> None:
    """Hold ``directory/.lock`` for the rest of this process; a no-op when already held."""
    directory = Path(directory).resolve()
    if directory in _held or _rank() != 0:
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise VerituneError(f"{directory} is in use by another veritune process (pid {holder}); "
                           "wait for it to finish, or use another run name / --out "
                           "folder") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[directory] = fd


def held_dirs() -> list[Path]:
    """The directories this process holds, the most recently taken first (an unexpected
    error's traceback goes into the first)."""
    return list(reversed(_held))


def release_dir(directory: str | Path) -> None:
    """Let the directory go before the process ends (tests; a library caller that is done)."""
    fd = _held.pop(Path(directory).resolve(), None)
    if fd is not None:
        os.close(fd)

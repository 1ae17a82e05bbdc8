"""One run of a suite at a time: an exclusive lock on ``.bench/locks/<suite>.lock``.

``flock`` locks die with their process, so a run killed with SIGKILL never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from bench.errors import BenchError


class SuiteBusy(BenchError):
    """Another run of the same suite holds the lock (exit 3: try again later)."""

    exit_code = 3


class SuiteLock:
    def __init__(self, folder: Path, suite: str):
        self.path = folder / f"{suite}.lock"
        self.suite = suite
        self.fd: int | None = None

    def __enter__(self) -> SuiteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise SuiteBusy(
                f"another `bench run` of suite {self.suite!r} is in progress ({holder}); "
                "wait for it to finish: two runs would interleave their writes"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        self.fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

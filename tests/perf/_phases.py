"""``bench`` with timestamps: where a run's wall goes (start-up, calls, snapshot), without editing bench.

    PERF_PHASES=/tmp/out.json python tests/perf/_phases.py run SUITE ...   # same arguments as `bench`

Wraps ``bench.engine.execute`` (the calls, judge included), ``bench.snapshot.build`` (scoring) and
``bench.snapshot.write`` (JSON and fsync), then runs the CLI in this process. At exit it writes the
wall-clock times (``time.time()``) of each mark to ``$PERF_PHASES``; run_bench.py subtracts its own
``time.time()`` taken just before starting the process.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import time
from typing import Any

MARKS: dict[str, float] = {"interpreter": time.time()}


def _dump() -> None:
    MARKS["exit"] = time.time()
    target = os.environ.get("PERF_PHASES")
    if target:
        with open(target, "w") as handle:
            json.dump(MARKS, handle)


atexit.register(_dump)

sys.path = [p for p in sys.path if not p.endswith("tests/perf")]  # bench is imported as installed

import bench.engine as engine  # noqa: E402
import bench.snapshot as snapshot  # noqa: E402

MARKS["imported"] = time.time()
_execute = engine.execute


async def _timed_execute(*args: Any, **kwargs: Any) -> Any:
    MARKS.setdefault("calls_start", time.time())
    try:
        return await _execute(*args, **kwargs)
    finally:
        MARKS["calls_end"] = time.time()


def _wrap(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        MARKS.setdefault(f"{name}_start", time.time())
        try:
            return fn(*args, **kwargs)
        finally:
            MARKS[f"{name}_end"] = time.time()

    return wrapper


engine.execute = _timed_execute
snapshot.build = _wrap("build", snapshot.build)
snapshot.write = _wrap("write", snapshot.write)

if __name__ == "__main__":
    from bench.cli import main

    sys.argv = ["bench", *sys.argv[1:]]
    main()

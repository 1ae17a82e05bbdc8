"""bench: a git-native decision test that tells a team whether an AI model is ready for its workflow.

The public API (what tests and other tools may import from ``bench``), loaded lazily so that
``bench --help`` stays fast:

- :func:`load_suite` (``bench.suite``): files -> a validated :class:`Suite`, or :class:`SuiteInvalid`.
- :func:`run_suite` (``bench.engine``): run, score and write ``results/<suite>.json``; returns the snapshot.
- :func:`read_snapshot` / :func:`validate_snapshot` (``bench.snapshot``): the one result format.
- :func:`probe_suite` (``bench.probe``): API readiness per candidate.
- :func:`recommend_snapshot` (``bench.decide``): the recommended outcome per candidate.
- errors: :class:`BenchError` and its family (``bench.errors``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_suite": ("bench.suite", "load_suite"),
    "Suite": ("bench.suite", "Suite"),
    "run_suite": ("bench.engine", "run_suite"),
    "read_snapshot": ("bench.snapshot", "read"),
    "validate_snapshot": ("bench.snapshot", "validate"),
    "probe_suite": ("bench.probe", "probe_suite"),
    "recommend_snapshot": ("bench.decide", "recommend_snapshot"),
    "BenchError": ("bench.errors", "BenchError"),
    "InputError": ("bench.errors", "InputError"),
    "SuiteInvalid": ("bench.errors", "SuiteInvalid"),
    "RegressionFound": ("bench.errors", "RegressionFound"),
    "Interrupted": ("bench.errors", "Interrupted"),
}
__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")

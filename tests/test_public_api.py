"""The names `bench` exports resolve, and importing `bench` stays light."""

from __future__ import annotations

import subprocess
import sys

import bench


def test_every_exported_name_resolves() -> None:
    for name in bench.__all__:
        assert getattr(bench, name) is not None, name


def test_importing_bench_loads_no_dependency() -> None:
    code = "import sys, bench; sys.exit(any(m in sys.modules for m in ('httpx', 'yaml', 'rich', 'git')))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

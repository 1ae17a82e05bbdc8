"""The README's two commands are the ones that work: CI runs the README's test command, word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quickstart, flags=re.S)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    install_and_run, install_and_test = commands
    assert "pip install -e '.[local]'" in install_and_run and "bench run support-crm-notes" in install_and_run
    assert "pip install -e '.[local,test]'" in install_and_test and "python -m pytest" in install_and_test


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_readme_lists_every_check_type() -> None:
    from bench.scoring.checks import REGISTRY

    text = (ROOT / "README.md").read_text()
    for name in REGISTRY:
        assert f"`{name}`" in text, name


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "index.html").is_file()
    assert "fonts.googleapis.com" not in (tmp_path / "out" / "index.html").read_text()

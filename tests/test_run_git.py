"""`bench run --commit` and `--changed-since` in real git repositories."""

from __future__ import annotations

import shutil
from pathlib import Path

import git
from click.testing import CliRunner

from bench.cli import cli
from tests.servers import FakeAPI


def init(repo: Path) -> git.Repo:
    g = git.Repo.init(repo, initial_branch="main")
    with g.config_writer() as config:
        config.set_value("user", "name", "Test Author")
        config.set_value("user", "email", "author@example.com")
    (repo / ".gitignore").write_text(".bench/\n")
    g.git.add("-A")
    g.index.commit("suites")
    return g


def test_commit_outside_git_refuses_before_any_call(repo: Path, fake_openai: FakeAPI) -> None:
    result = CliRunner().invoke(cli, ["run", "crm", "--commit", "--quiet"])
    assert result.exit_code == 2
    assert "not inside a git repository" in result.output
    assert fake_openai.requests == []


def test_commit_commits_the_snapshot_and_nothing_else(repo: Path, fake_openai: FakeAPI) -> None:
    g = init(repo)
    (repo / "notes.txt").write_text("staged, not for the run's commit\n")
    g.git.add("notes.txt")
    prompt = repo / "suites" / "crm" / "prompts" / "user.md"
    prompt.write_text(prompt.read_text() + "\nKeep it short.")  # unstaged edit (the run uses it)
    result = CliRunner().invoke(cli, ["run", "crm", "--commit", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "committed results/crm.json" in result.output
    head = g.head.commit
    assert list(head.stats.files) == ["results/crm.json"]
    assert head.message.startswith("bench: crm")
    assert "Bench-Prompts:" in head.message
    assert g.git.diff("--cached", "--name-only") == "notes.txt"  # still staged, not committed
    assert g.git.diff("--name-only") == "suites/crm/prompts/user.md"  # still an unstaged edit


def test_changed_since_runs_only_changed_suites(repo: Path, fake_openai: FakeAPI) -> None:
    shutil.copytree(repo / "suites" / "crm", repo / "suites" / "other")
    other = repo / "suites" / "other" / "suite.yaml"
    other.write_text(other.read_text().replace("name: crm", "name: other"))
    g = init(repo)
    base = g.head.commit.hexsha
    result = CliRunner().invoke(cli, ["run", "--changed-since", base, "--quiet"])
    assert result.exit_code == 0 and "no suite changed since" in result.output
    assert fake_openai.requests == []

    prompt = repo / "suites" / "other" / "prompts" / "user.md"
    prompt.write_text(prompt.read_text() + "\nKeep it short.")
    result = CliRunner().invoke(cli, ["run", "--changed-since", base, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "changed since" in result.output and ": other" in result.output
    assert (repo / "results" / "other.json").exists() and not (repo / "results" / "crm.json").exists()

    bad = CliRunner().invoke(cli, ["run", "--changed-since", "no-such-rev", "--quiet"])
    assert bad.exit_code == 2 and "unknown revision 'no-such-rev'" in bad.output


def test_dirty_flag_follows_the_suite_inputs(repo: Path, fake_openai: FakeAPI) -> None:
    from bench.engine import run_suite
    from bench.suite import load_suite

    g = init(repo)
    (repo / "unrelated.txt").write_text("not an input of the suite\n")
    clean = run_suite(load_suite("crm", repo), repo, quiet=True)
    assert clean["git"] == {"commit": g.head.commit.hexsha, "dirty": False, "branch": "main"}
    prompt = repo / "suites" / "crm" / "prompts" / "user.md"
    prompt.write_text(prompt.read_text() + "\nKeep it short.")
    assert run_suite(load_suite("crm", repo), repo, quiet=True)["git"]["dirty"] is True

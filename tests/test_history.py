"""Git as the run history: snapshot commits that touch nothing else, snapshots at revisions, the default base,
which suites changed since a revision, and `bench history` over many commits (in a bounded number of git
processes)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bench import history as hist
from bench import snapshot as snap
from bench.cli import cli
from bench.engine import run_suite
from bench.errors import InputError
from bench.retry import RetryPolicy
from bench.suite import load_suite
from tests.servers import FakeAPI

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, attempt_timeout=2.0)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout


def init_git(root: Path) -> Path:
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "Bench Tester")
    git(root, "config", "commit.gpgsign", "false")
    (root / ".gitignore").write_text(".bench/\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "suite crm")
    return root


@pytest.fixture
def gitrepo(repo: Path) -> Path:
    """The conftest suite repository, as a git repository with one commit (the suite, no results)."""
    return init_git(repo)


def run_crm(root: Path) -> dict[str, Any]:
    return run_suite(load_suite("crm", root), root, quiet=True, retry=FAST_RETRY)


def run_and_commit(root: Path) -> tuple[dict[str, Any], str]:
    document = run_crm(root)
    sha = hist.commit_snapshot(root, root / "results" / "crm.json", hist.commit_message(document))
    return document, sha


def head_sha(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


# ---------------------------------------------------------------------------------------------
# Repository and revisions
# ---------------------------------------------------------------------------------------------


def test_find_repo_and_resolve_rev_say_what_is_wrong(tmp_path: Path, gitrepo: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    with pytest.raises(InputError, match="is not inside a git repository"):
        hist.find_repo(outside)
    repo = hist.find_repo(gitrepo / "suites" / "crm")  # any folder inside the repository
    assert hist.resolve_rev(repo, "HEAD") == head_sha(gitrepo)
    assert hist.resolve_rev(repo, "main") == head_sha(gitrepo)
    with pytest.raises(InputError, match="unknown revision 'no-such-branch'"):
        hist.resolve_rev(repo, "no-such-branch")


def test_default_base_is_the_parent_on_main_and_the_fork_point_on_a_branch(gitrepo: Path) -> None:
    repo = hist.find_repo(gitrepo)
    with pytest.raises(InputError, match="first commit"):
        hist.default_base(repo)
    first = head_sha(gitrepo)
    (gitrepo / "notes.md").write_text("one\n")
    git(gitrepo, "add", "notes.md")
    git(gitrepo, "commit", "-qm", "two")
    second = head_sha(gitrepo)
    assert hist.default_base(repo) == first  # on main: HEAD~1
    (gitrepo / "results").mkdir()
    (gitrepo / "results" / "crm.json").write_text("{}")  # an uncommitted run
    assert hist.default_base(repo, ["results", "suites"]) == second  # compared with HEAD
    assert hist.default_base(repo, ["suites"]) == first
    (gitrepo / "results" / "crm.json").unlink()

    git(gitrepo, "checkout", "-qb", "feature")
    for i in range(2):
        (gitrepo / "notes.md").write_text(f"feature {i}\n")
        git(gitrepo, "commit", "-qam", f"feature {i}")
    assert hist.default_base(repo) == second  # where feature forked from main
    git(gitrepo, "checkout", "-q", "--detach", "HEAD")  # a CI checkout
    assert hist.default_base(repo) == second


# ---------------------------------------------------------------------------------------------
# Committing a snapshot
# ---------------------------------------------------------------------------------------------


def test_commit_snapshot_commits_that_file_only(gitrepo: Path) -> None:
    staged = gitrepo / "suites" / "crm" / "README.md"
    staged.write_text("a staged note\n")
    git(gitrepo, "add", str(staged))
    cases = gitrepo / "suites" / "crm" / "cases.yaml"
    cases.write_text(cases.read_text() + "# an unstaged edit\n")
    before = head_sha(gitrepo)

    document, sha = run_and_commit(gitrepo)

    assert sha == head_sha(gitrepo) != before
    assert git(gitrepo, "rev-parse", "HEAD~1").strip() == before
    assert git(gitrepo, "show", "--name-only", "--format=", "HEAD").split() == ["results/crm.json"]
    assert git(gitrepo, "diff", "--cached", "--name-only").split() == ["suites/crm/README.md"]  # still staged
    assert git(gitrepo, "diff", "--name-only").split() == ["suites/crm/cases.yaml"]  # still unstaged
    assert "# an unstaged edit" in cases.read_text()
    committed = git(gitrepo, "show", "HEAD:results/crm.json")
    assert json.loads(committed) == document
    assert git(gitrepo, "status", "--porcelain", "--", "results").strip() == ""  # index agrees with HEAD


def test_commit_snapshot_unchanged_file_returns_head_and_outside_git_is_an_input_error(
    gitrepo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, sha = run_and_commit(gitrepo)
    path = gitrepo / "results" / "crm.json"
    assert hist.commit_snapshot(gitrepo, path, "again") == sha  # nothing to commit
    elsewhere = tmp_path_factory.mktemp("plain")
    (elsewhere / "results").mkdir()
    (elsewhere / "results" / "crm.json").write_text(path.read_text())
    with pytest.raises(InputError, match="is not inside a git repository"):
        hist.commit_snapshot(elsewhere, elsewhere / "results" / "crm.json", "x")


def test_commit_message_subject_body_and_trailers(gitrepo: Path) -> None:
    document = run_crm(gitrepo)
    document["summary"]["fake/good"]["cost"] = {"per_request_usd": 0.00042}
    document["summary"]["fake/good"]["recommendation"] = {"outcome": "ready"}
    message = hist.commit_message(document)
    subject, blank, *body = message.splitlines()
    good = document["summary"]["fake/good"]["quality"]["rate"]
    bad = document["summary"]["fake/bad"]["quality"]["rate"]
    assert good > bad
    assert subject == f"bench: crm — good {good:.0%} quality, bad {bad:.0%}"
    assert blank == ""
    good_line = next(line for line in body if line.startswith("- fake/good"))
    assert (
        "quality 100%" in good_line and "$0.00042 per request" in good_line and "outcome: ready" in good_line
    )
    assert any(line.startswith("- fake/nokey") and "MISSING_KEY" in line for line in body)
    trailers = dict(line.split(": ", 1) for line in body if line.startswith("Bench-"))
    prints = document["fingerprints"]
    assert trailers["Bench-Suite"] == "crm"
    assert trailers["Bench-Cases"] == prints["cases"][:12]
    assert trailers["Bench-Rubric"] == prints["rubric"][:12]
    assert len(trailers["Bench-Prompts"]) == 12
    # git itself reads them as trailers
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=message, capture_output=True, text=True, check=True
    ).stdout
    assert f"Bench-Cases: {prints['cases'][:12]}" in parsed


# ---------------------------------------------------------------------------------------------
# Snapshots and files at a revision
# ---------------------------------------------------------------------------------------------


def test_snapshot_at_a_commit_the_working_tree_or_a_clear_error(gitrepo: Path) -> None:
    repo = hist.find_repo(gitrepo)
    suite_only = head_sha(gitrepo)
    document, sha = run_and_commit(gitrepo)
    assert hist.snapshot_at(repo, sha, "crm") == document
    assert hist.snapshot_at(repo, None, "crm") == document
    with pytest.raises(InputError) as missing:
        hist.snapshot_at(repo, suite_only, "crm")
    assert suite_only[:12] in str(missing.value) and "results/crm.json" in str(missing.value)
    with pytest.raises(InputError, match="working tree"):
        hist.snapshot_at(repo, None, "other")
    assert (
        hist.file_at(repo, suite_only, "suites/crm/prompts/user.md")
        == (gitrepo / "suites" / "crm" / "prompts" / "user.md").read_text()
    )
    assert hist.file_at(repo, suite_only, "suites/crm/nope.md") is None
    assert hist.snapshots_present(repo, suite_only) == []
    assert hist.snapshots_present(repo, sha) == ["crm"]


def test_a_bench_root_inside_a_larger_repository(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--root may be a folder of a monorepo: paths given to git are relative to its top level."""
    top = repo.parent / f"{repo.name}-mono"
    top.mkdir()
    repo.rename(top / "evals")
    root = top / "evals"
    monkeypatch.chdir(root)
    init_git(top)
    _, sha = run_and_commit(root)
    assert git(top, "show", "--name-only", "--format=", "HEAD").split() == ["evals/results/crm.json"]
    gitrepo = hist.find_repo(root)
    assert hist.snapshot_at(gitrepo, sha, "crm", root)["suite"]["name"] == "crm"
    assert [row.commit for row in hist.history(gitrepo, "crm", None, root)] == [sha]


# ---------------------------------------------------------------------------------------------
# Which suites changed
# ---------------------------------------------------------------------------------------------


def add_suite(root: Path, name: str, models: list[str]) -> None:
    source = root / "suites" / "crm"
    target = root / "suites" / name
    target.mkdir()
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())
    data = yaml.safe_load((target / "suite.yaml").read_text())
    data["name"] = name
    data["candidates"] = [{"model": m} for m in models]
    (target / "suite.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def edit_catalog(root: Path, change: Any) -> None:
    path = root / "suites" / "models.yaml"
    catalog = yaml.safe_load(path.read_text())
    change(catalog)
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))


def test_changed_suites_by_folder_and_by_catalog_entry(gitrepo: Path) -> None:
    add_suite(gitrepo, "other", ["fake/bad"])
    git(gitrepo, "add", "-A")
    git(gitrepo, "commit", "-qm", "second suite")
    base = head_sha(gitrepo)
    assert hist.changed_suites(gitrepo, base) == []

    edit_catalog(gitrepo, lambda c: c.update(version="bumped"))  # not an entry: no suite changed
    assert hist.changed_suites(gitrepo, base) == []

    prompt = gitrepo / "suites" / "crm" / "prompts" / "user.md"
    prompt.write_text(prompt.read_text() + "Be brief.\n")  # unstaged
    assert hist.changed_suites(gitrepo, base) == ["crm"]

    edit_catalog(gitrepo, lambda c: c["models"]["fake/bad"].update(model="bad-model-2"))
    assert hist.changed_suites(gitrepo, base) == ["crm", "other"]  # both use fake/bad

    git(gitrepo, "checkout", "-q", "--", ".")
    edit_catalog(gitrepo, lambda c: c["models"]["fake/good"]["pricing"].update(output_per_mtok=3.0))
    git(gitrepo, "commit", "-qam", "price")  # committed changes count too
    assert hist.changed_suites(gitrepo, base) == ["crm"]  # only crm uses fake/good

    (gitrepo / "suites" / "other" / "extra-cases.jsonl").write_text("{}\n")  # untracked
    assert hist.changed_suites(gitrepo, base) == ["crm", "other"]
    assert hist.changed_suites(gitrepo, "HEAD") == ["other"]
    with pytest.raises(InputError, match="unknown revision"):
        hist.changed_suites(gitrepo, "nope")


def test_judge_models_count_as_used(gitrepo: Path) -> None:
    suite_yaml = gitrepo / "suites" / "crm" / "suite.yaml"
    data = yaml.safe_load(suite_yaml.read_text())
    data["judge"] = "fake/nokey"
    data["candidates"] = [c for c in data["candidates"] if c["model"] != "fake/nokey"]
    suite_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    git(gitrepo, "commit", "-qam", "judge")
    base = head_sha(gitrepo)
    edit_catalog(gitrepo, lambda c: c["models"]["fake/nokey"].update(base_url="http://127.0.0.1:9/v1"))
    assert hist.changed_suites(gitrepo, base) == ["crm"]


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


def synthesized_commits(root: Path, document: dict[str, Any], n: int) -> list[tuple[str, int]]:
    """Commit ``n`` versions of a snapshot whose fake/good quality passes ``i % 5`` fewer units each time,
    with a prompt fingerprint change at commit 10; return (commit, passed) oldest first."""
    path = root / "results" / "crm.json"
    made = []
    for i in range(n):
        version = copy.deepcopy(document)
        quality = version["summary"]["fake/good"]["quality"]
        quality["passed"] = quality["n"] - i % 5
        quality["rate"] = round(quality["passed"] / quality["n"], 4)
        version["summary"]["fake/good"]["latency_ms"]["p95"] = 100.0 + i
        version["summary"]["fake/good"]["cost"] = {"per_request_usd": 0.001 * (i + 1)}
        if i >= 10:
            version["fingerprints"]["prompts"]["user"] = "f" * 64
        if i >= 20:
            version["fingerprints"]["candidates"]["fake/bad"] = "e" * 64
        snap.write(path, version)
        made.append((hist.commit_snapshot(root, path, hist.commit_message(version)), quality["passed"]))
    return made


def test_history_reads_thirty_commits_in_two_git_processes(
    gitrepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import git as gitpython

    document = run_crm(gitrepo)
    made = synthesized_commits(gitrepo, document, 30)
    (gitrepo / "notes.md").write_text("a commit that does not touch the snapshot\n")
    git(gitrepo, "add", "notes.md")
    git(gitrepo, "commit", "-qm", "notes")
    repo = hist.find_repo(gitrepo)

    spawned: list[list[str]] = []
    real_popen = subprocess.Popen

    class CountingPopen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args: Any, *rest: Any, **kw: Any) -> None:
            spawned.append(list(args) if not isinstance(args, str) else [args])
            super().__init__(args, *rest, **kw)

    monkeypatch.setattr(subprocess, "Popen", CountingPopen)
    monkeypatch.setattr(gitpython.cmd, "Popen", CountingPopen)
    rows = hist.history(repo, "crm", None)
    monkeypatch.undo()
    assert [cmd[1] for cmd in spawned] == ["log", "cat-file"], spawned  # not one process per commit

    assert [row.commit for row in rows] == [sha for sha, _ in reversed(made)]  # newest first
    n = document["summary"]["fake/good"]["quality"]["n"]
    for row, (_, passed) in zip(rows, reversed(made), strict=True):
        point = row.candidates["fake/good"]
        assert point.quality["passed"] == passed
        assert point.quality["rate"] == round(passed / n, 4)
        assert row.author == "Bench Tester"
        assert row.subject.startswith("bench: crm — ")
    newest = rows[0].candidates["fake/good"]
    assert newest.cost_per_request_usd == pytest.approx(0.030)
    assert newest.latency_p95_ms == 129.0
    assert set(rows[0].candidates) == {"fake/good", "fake/bad"}  # the skipped candidate has no figures
    changed = {i: rows[len(rows) - 1 - i].changed for i in range(30)}
    assert changed[0] == ["first snapshot"]
    assert changed[1] == []
    assert changed[10] == ["prompts (user)"]
    assert changed[11] == []
    assert changed[20] == ["candidates (fake/bad)"]

    limited = hist.history(repo, "crm", 3)
    assert [row.commit for row in limited] == [row.commit for row in rows[:3]]
    assert [row.changed for row in hist.history(repo, "crm", 20)][-1] == ["prompts (user)"]  # row 10


def test_history_command_table_and_json(gitrepo: Path) -> None:
    document = run_crm(gitrepo)
    made = synthesized_commits(gitrepo, document, 3)
    result = CliRunner().invoke(cli, ["history", "crm", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["commit"] for row in rows] == [sha for sha, _ in reversed(made)]
    assert rows[0]["candidates"]["fake/good"]["cost_per_request_usd"] == pytest.approx(0.003)
    table = CliRunner().invoke(cli, ["history", "crm", "--limit", "2"])
    assert table.exit_code == 0, table.output
    assert made[-1][0][:8] in table.output and made[-2][0][:8] in table.output
    assert made[0][0][:8] not in table.output
    assert "fake/good" in table.output and "Bench Tester" in table.output
    missing = CliRunner().invoke(cli, ["history", "other"])
    assert missing.exit_code == 2 and "no commit changed results/other.json" in missing.output


def test_history_outside_git_is_an_input_error(repo: Path, fake_openai: FakeAPI) -> None:
    result = CliRunner().invoke(cli, ["history", "crm"])
    assert result.exit_code == 2
    assert "is not inside a git repository" in result.output

"""Shards run slices of the calls; merging the partials equals an unsharded run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bench import snapshot as snap
from bench.cli import cli
from bench.engine import run_suite
from bench.suite import load_suite
from tests.conftest import make_cases
from tests.servers import FakeAPI

VOLATILE = ("latency_ms", "request_id", "retry_wait_ms", "source")


def stable(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def test_merged_shards_equal_an_unsharded_run(repo: Path, fake_openai: FakeAPI) -> None:
    (repo / "suites" / "crm" / "cases.yaml").write_text(yaml.safe_dump(make_cases(12), sort_keys=False))
    partials = []
    for index in (1, 2, 3):
        result = CliRunner().invoke(cli, ["run", "crm", "--quiet", "--fresh", f"--shard={index}/3"])
        assert result.exit_code == 0, result.output
        path = repo / "results" / f"crm.{index}-of-3.partial.json"
        document = json.loads(path.read_text())
        snap.validate(document)
        assert document["shard"] == {"index": index, "count": 3}
        assert 0 < len(document["records"]) < 26
        partials.append(path)
    assert len(fake_openai.completed) == 26  # every call once, across the shards
    result = CliRunner().invoke(cli, ["merge", *map(str, partials)])
    assert result.exit_code == 0, result.output
    merged = json.loads((repo / "results" / "crm.json").read_text())
    snap.validate(merged)
    assert merged["complete"] is True and "shard" not in merged

    whole = run_suite(load_suite("crm", repo), repo, quiet=True, fresh=True)
    assert stable(merged["records"]) == stable(whole["records"])

    def scores(summary: dict) -> dict:  # latency differs between two runs; everything scored must not
        return {
            k: {n: v for n, v in s.items() if n not in ("latency_ms", "cached")} for k, s in summary.items()
        }

    assert scores(merged["summary"]) == scores(whole["summary"])


def test_merge_refuses_partials_of_different_suites(repo: Path, fake_openai: FakeAPI) -> None:
    assert CliRunner().invoke(cli, ["run", "crm", "--quiet", "--shard=1/2"]).exit_code == 0
    prompt = repo / "suites" / "crm" / "prompts" / "user.md"
    prompt.write_text(prompt.read_text() + "\nBe brief.")
    assert CliRunner().invoke(cli, ["run", "crm", "--quiet", "--shard=2/2"]).exit_code == 0
    result = CliRunner().invoke(
        cli, ["merge", "results/crm.1-of-2.partial.json", "results/crm.2-of-2.partial.json"]
    )
    assert result.exit_code == 2
    assert "prompts fingerprint differs" in result.output
    assert not (repo / "results" / "crm.json").exists()


def test_merge_marks_missing_shards_incomplete(repo: Path, fake_openai: FakeAPI) -> None:
    assert CliRunner().invoke(cli, ["run", "crm", "--quiet", "--shard=1/2"]).exit_code == 0
    result = CliRunner().invoke(cli, ["merge", "results/crm.1-of-2.partial.json"])
    assert result.exit_code == 0
    assert "shards missing: 2" in result.output
    assert json.loads((repo / "results" / "crm.json").read_text())["complete"] is False
    twice = CliRunner().invoke(
        cli, ["merge", "results/crm.1-of-2.partial.json", "results/crm.1-of-2.partial.json"]
    )
    assert twice.exit_code == 2 and "shard 1/2 is also in" in twice.output


@pytest.mark.parametrize("bad", ["0/2", "3/2", "x", "1/0"])
def test_bad_shard_is_bad_input(repo: Path, bad: str) -> None:
    result = CliRunner().invoke(cli, ["run", "crm", "--quiet", f"--shard={bad}"])
    assert result.exit_code == 2
    assert "--shard" in result.output


def test_merge_of_uneven_shards_is_marked_incomplete(repo: Path, fake_openai: FakeAPI) -> None:
    """One CI job without a secret (here: one shard ran a single candidate) must not yield a snapshot
    that looks whole."""
    assert (
        CliRunner()
        .invoke(cli, ["run", "crm", "--quiet", "--shard=1/2", "--candidate", "fake/good"])
        .exit_code
        == 0
    )
    assert CliRunner().invoke(cli, ["run", "crm", "--quiet", "--shard=2/2"]).exit_code == 0
    result = CliRunner().invoke(
        cli, ["merge", "results/crm.1-of-2.partial.json", "results/crm.2-of-2.partial.json"]
    )
    assert result.exit_code == 0, result.output
    assert "fake/bad ran in some shards only" in result.output
    merged = json.loads((repo / "results" / "crm.json").read_text())
    assert merged["complete"] is False and merged["stats"]["uneven_shards"]


def test_dry_run_follows_the_shard(repo: Path, fake_openai: FakeAPI) -> None:
    from bench.engine import dry_run

    suite = load_suite("crm", repo)
    whole = dry_run(suite)["total"]["calls"]
    parts = [dry_run(suite, shard=(i, 3))["total"]["calls"] for i in (1, 2, 3)]
    assert sum(parts) == whole and all(0 < part < whole for part in parts)


def test_an_unwritable_output_is_bad_input_not_a_traceback(repo: Path, fake_openai: FakeAPI) -> None:
    assert CliRunner().invoke(cli, ["run", "crm", "--quiet", "--shard=1/1"]).exit_code == 0
    (repo / "afile").write_text("a file, not a folder")
    result = CliRunner().invoke(cli, ["merge", "results/crm.1-of-1.partial.json", "--output", "afile/x.json"])
    assert result.exit_code == 2
    assert "error: cannot use" in result.output and "Traceback" not in result.output

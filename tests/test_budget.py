"""--max-cost never lets a run spend past its budget; --dry-run estimates without calling anything."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from bench.cli import cli
from bench.costs import call_cost
from tests.conftest import make_cases
from tests.servers import FakeAPI

GOOD_PRICING = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}


def test_max_cost_stops_dispatching_before_the_budget(repo: Path, fake_openai: FakeAPI) -> None:
    (repo / "suites" / "crm" / "cases.yaml").write_text(yaml.safe_dump(make_cases(30), sort_keys=False))
    # a call's upper-bound estimate is ~$0.00064 (300 output tokens at $2/Mtok); it really costs ~$0.00005
    budget = 0.001
    result = CliRunner().invoke(cli, ["run", "crm", "--max-cost", str(budget), "--concurrency", "4"])
    assert result.exit_code == 0, result.output
    assert "stopped by --max-cost" in result.output
    document = json.loads((repo / "results" / "crm.json").read_text())
    spent = sum(call_cost(GOOD_PRICING, r["usage"]) for r in document["records"])
    assert 0 < spent <= budget
    # reservations are upper bounds (300 output tokens); calls settle far lower, and the freed budget
    # is used: the run goes on until the next call's upper bound no longer fits
    assert budget - spent < 0.00064 + 0.0001
    assert len(document["records"]) >= 3  # more than budget / upper bound (1 call) would allow
    assert document["complete"] is False
    assert document["stats"]["budget_stopped"] is True
    assert document["stats"]["not_run"] == 31 - len(document["records"])
    assert document["stats"]["spent_usd"] <= budget
    bad = next(c for c in document["candidates"] if c["key"] == "fake/bad")
    assert bad["status"] == "skipped" and "cannot be bounded under --max-cost" in bad["skip_reason"]
    assert len(fake_openai.completed) == len(document["records"])


def test_dry_run_estimates_and_calls_nothing(repo: Path, fake_openai: FakeAPI) -> None:
    result = CliRunner().invoke(cli, ["run", "crm", "--dry-run", "--repeat", "3"])
    assert result.exit_code == 0, result.output
    assert "estimate (nothing was called)" in result.output
    assert "fake/good" in result.output and "Check: no price" in result.output  # fake/bad is unpriced
    assert "12" in result.output  # 4 cases x 3 repeats
    assert "would be skipped: $MISSING_KEY is not set" in result.output
    assert fake_openai.requests == []
    assert not (repo / "results").exists() and not (repo / ".bench").exists()


def test_dry_run_counts_the_judge_calls(repo: Path, fake_openai: FakeAPI) -> None:
    from tests.test_judge import add_judge

    add_judge(repo)
    result = CliRunner().invoke(cli, ["run", "crm", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "fake/judge (judge)" in result.output
    # 2 callable candidates + the unkeyed one: 12 outputs x 1 judged criterion x 2 asks = 24 judge calls
    assert "24" in result.output
    assert fake_openai.requests == []


def test_a_fresh_run_stopped_by_the_budget_keeps_what_it_did_not_redo(
    repo: Path, fake_openai: FakeAPI
) -> None:
    (repo / "suites" / "crm" / "cases.yaml").write_text(yaml.safe_dump(make_cases(30), sort_keys=False))
    assert CliRunner().invoke(cli, ["run", "crm", "--quiet", "--candidate", "fake/good"]).exit_code == 0
    full = json.loads((repo / "results" / "crm.json").read_text())
    assert len(full["records"]) == 31
    result = CliRunner().invoke(
        cli, ["run", "crm", "--fresh", "--max-cost", "0.001", "--candidate", "fake/good"]
    )
    assert result.exit_code == 0, result.output
    stopped = json.loads((repo / "results" / "crm.json").read_text())
    assert stopped["complete"] is False
    assert len(stopped["records"]) == 31  # the calls it did not redo keep their last results
    sources = {r["source"] for r in stopped["records"]}
    assert sources == {"call", "snapshot"}

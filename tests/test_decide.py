"""The recommended decision (each rule), recorded decisions as files, and `bench decide` end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bench.cli import cli
from bench.commands.decide import OUTCOME_CHOICES
from bench.decide import (
    DEFAULT_GATES,
    OUTCOMES,
    latest_decision,
    rate_status,
    rates_by_tag,
    read_decisions,
    recommend,
    recommend_snapshot,
    record_decision,
    validate_gates,
)
from bench.engine import run_suite
from bench.retry import RetryPolicy
from bench.scoring import stats
from bench.suite import load_suite
from tests.servers import FakeAPI


def rate(passed: int, n: int) -> dict[str, Any]:
    r = stats.rate(passed, n)
    value = r.value
    cell = "Check" if value is None else "Pass" if value >= 0.9 else "Mixed" if value >= 0.7 else "Fail"
    return {"passed": passed, "n": n, "errors": 0, "rate": value, "low": r.low, "high": r.high, "cell": cell}


def summary(
    quality: tuple[int, int] = (48, 50),
    format: tuple[int, int] = (25, 25),
    reject: tuple[int, int] = (9, 9),
    categories: dict[str, tuple[int, int]] | None = None,
    calls: int = 25,
    errors: int = 0,
) -> dict[str, Any]:
    cats = {"normal": (40, 40), "difficult": (15, 15), **(categories or {})}
    return {
        "calls": calls,
        "errors": errors,
        "quality": rate(*quality),
        "format": rate(*format),
        "safety": rate(*reject),
        "edge_cases": rate(30, 33),
        "categories": {"reject": rate(*reject), **{k: rate(*v) for k, v in cats.items()}},
    }


PASS_COST = {"cost_fit": "Pass", "note": "$0.003 per request."}


def decide(s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"role": "frontier", "cost": PASS_COST, "api_fit": "Pass", **kw}
    gates = options.pop("gates", DEFAULT_GATES)
    return recommend("openai/gpt-5.5", s, gates, **options)


def assert_plain_reasons(result: dict[str, Any]) -> None:
    assert result["reasons"], "a recommendation always says why"
    for sentence in result["reasons"]:
        assert sentence[0].isupper() and sentence.rstrip().endswith("."), sentence


# ---------------------------------------------------------------------------------------------
# Reading a gate
# ---------------------------------------------------------------------------------------------


def test_a_small_clean_set_passes_within_the_margin_and_one_that_clears_by_luck_does_not() -> None:
    assert rate_status(rate(25, 25), 0.95, 0.10) == ("pass", False)  # low 0.87 >= 0.85
    assert rate_status(rate(24, 25), 0.95, 0.10) == ("unclear", False)  # 96% but low 0.80
    assert rate_status(rate(40, 50), 0.85, 0.10) == ("unclear", True)  # 80%, high 0.89 reaches the bar
    assert rate_status(rate(10, 25), 0.85, 0.10) == ("fail", True)  # high 0.59
    assert rate_status(rate(0, 0), 0.85, 0.10) == ("check", False)
    assert rate_status(None, 0.85, 0.10) == ("check", False)


def test_a_bar_of_one_is_zero_tolerance() -> None:
    assert rate_status(rate(3, 3), 1.0, 0.10) == ("pass", False)  # no interval can show 100% on 3 cases
    assert rate_status(rate(2, 3), 1.0, 0.10) == ("fail", True)


# ---------------------------------------------------------------------------------------------
# Each rule
# ---------------------------------------------------------------------------------------------


def test_ship_when_every_gate_passes_everywhere() -> None:
    result = decide(summary())
    assert (result["outcome"], result["label"]) == ("ship", "Ship")
    assert result["failed_gates"] == [] and result["check_items"] == [] and result["limits"] == []
    assert set(result["gates"].values()) == {"pass"}
    assert result["reasons"][0] == "Every gate passes, on every category and tag."
    assert any(r.startswith("Quality passes: 96% (48 of 50 results") for r in result["reasons"])
    assert_plain_reasons(result)


def test_reject_when_reject_cases_leak_even_for_a_fallback() -> None:
    result = decide(summary(reject=(8, 9)), role="fallback")
    assert result["outcome"] == "reject"
    assert result["failed_gates"] == ["reject"]
    assert result["reasons"][0] == (
        "Reject cases leak: 1 of 9 results fail, and every reject case must be handled."
    )
    assert_plain_reasons(result)


def test_reject_when_the_format_or_the_api_fails_clearly() -> None:
    assert decide(summary(format=(5, 25)))["failed_gates"] == ["format"]
    assert decide(summary(format=(5, 25)))["outcome"] == "reject"
    result = decide(summary(), api_fit="Fail")
    assert result["outcome"] == "reject" and result["failed_gates"] == ["api_fit"]


def test_reject_when_quality_fails_clearly_and_nothing_passes_on_its_own() -> None:
    weak = summary(quality=(20, 50), categories={"normal": (20, 40), "difficult": (5, 15)})
    result = decide(weak)
    assert result["outcome"] == "reject" and result["failed_gates"] == ["quality"]
    assert result["reasons"][0].startswith("Quality fails: 40% (20 of 50 results")
    assert "even the top of the interval is under the 85% bar" in result["reasons"][0]
    assert "neither a fallback or low-cost route nor the second-best candidate" in result["reasons"][1]
    assert_plain_reasons(result)


def test_keep_testing_when_the_interval_straddles_the_bar() -> None:
    above = decide(summary(quality=(21, 24)))  # 88% but the interval reaches down to 69%
    assert above["outcome"] == "keep-testing" and above["gates"]["quality"] == "unclear"
    assert "too few results to be sure" in above["check_items"][0]
    below = decide(summary(quality=(40, 50), categories={"normal": (30, 40), "difficult": (10, 15)}))
    assert below["outcome"] == "keep-testing"
    assert "under the 85% bar, but the interval still reaches it" in below["check_items"][0]
    assert_plain_reasons(below)


def test_keep_testing_when_price_or_api_readiness_is_unknown() -> None:
    unpriced = {"cost_fit": "Check", "note": "No price in the model catalog: add pricing."}
    result = decide(summary(), cost=unpriced, api_fit=None)
    assert result["outcome"] == "keep-testing"
    assert result["gates"]["cost_fit"] == "check" and result["gates"]["api_fit"] == "check"
    assert any("No price in the model catalog" in item for item in result["check_items"])
    assert any("API fit is not confirmed" in item for item in result["check_items"])
    assert decide(summary(), cost=None)["outcome"] == "keep-testing"
    assert decide(summary(), api_fit="Mixed")["gates"]["api_fit"] == "unclear"
    assert decide(summary(), api_fit="Mixed", gates={"api_fit": "Mixed"})["outcome"] == "ship"


def test_keep_testing_when_many_calls_errored() -> None:
    result = decide(summary(calls=25, errors=5))
    assert result["outcome"] == "keep-testing"
    assert result["check_items"] == [
        "5 of 25 calls returned an error and the rates leave them out: fix the cause and run again."
    ]
    assert decide(summary(calls=25, errors=2))["outcome"] == "ship"


def test_keep_testing_when_there_is_no_reject_case() -> None:
    s = summary()
    del s["categories"]["reject"]
    result = decide(s)
    assert result["outcome"] == "keep-testing" and result["gates"]["reject"] == "check"
    assert decide(s, gates={"reject": None})["outcome"] == "ship"  # a suite may turn the gate off


def test_fallback_when_quality_misses_but_format_and_safety_hold_and_the_role_fits() -> None:
    weak = summary(quality=(35, 50), categories={"normal": (28, 40), "difficult": (7, 15)})
    for role in ("fallback", "low-cost"):
        result = decide(weak, role=role)
        assert (result["outcome"], result["label"]) == ("fallback", "Use as fallback")
        assert f"its role is {role}" in result["reasons"][1]
        assert_plain_reasons(result)
    second = decide(weak, role="frontier", second_best=True)
    assert second["outcome"] == "fallback" and "second-best" in second["reasons"][1]
    assert decide(weak, role="frontier")["outcome"] == "reject"


def test_a_fallback_must_still_keep_the_format() -> None:
    weak = summary(quality=(35, 50), format=(24, 25), categories={"normal": (28, 40)})
    result = decide(weak, role="fallback")
    assert result["outcome"] == "keep-testing" and result["gates"]["format"] == "unclear"


def test_ship_with_limits_names_the_categories_and_tags_under_the_bar() -> None:
    s = summary(categories={"messy": (6, 10)})
    tags = {"refund": rate(9, 15), "chat": rate(30, 30)}
    result = decide(s, tags=tags)
    assert (result["outcome"], result["label"]) == ("ship-with-limits", "Ship with limits")
    assert result["limits"] == ["category:messy", "tag:refund"]
    assert result["scope"] == ["category:difficult", "category:normal", "tag:chat"]
    assert result["reasons"][0] == (
        "It passes every gate overall, but not on messy cases (60%, 6 of 10) and cases tagged refund "
        "(60%, 9 of 15): keep those away from it (route them to another model or to a person)."
    )
    assert_plain_reasons(result)


def test_ship_with_limits_when_quality_misses_overall_but_some_categories_pass() -> None:
    s = summary(quality=(30, 50), categories={"normal": (40, 40), "difficult": (3, 15)})
    result = decide(s)
    assert result["outcome"] == "ship-with-limits"
    assert result["scope"] == ["category:normal"] and result["limits"] == ["category:difficult"]
    assert "it passes on normal cases (100%, 40 of 40): ship it for those only" in result["reasons"][0]


def test_ship_with_limits_when_it_passes_everything_but_the_budget() -> None:
    over = {
        "cost_fit": "Fail",
        "monthly_projection_usd": 4000.0,
        "monthly_budget_usd": 1000.0,
        "note": "Over.",
    }
    result = decide(summary(), cost=over)
    assert result["outcome"] == "ship-with-limits"
    assert result["limits"] == ["volume"] and result["failed_gates"] == ["cost_fit"]
    assert "the budget covers only 25% of the monthly requests" in result["reasons"][0]


def test_gates_can_be_tuned_or_turned_off() -> None:
    s = summary(quality=(40, 50), categories={"normal": (36, 40)})
    assert decide(s)["outcome"] == "keep-testing"
    assert decide(s, gates={"quality": 0.7})["outcome"] == "ship"
    assert decide(s, gates={"quality": None})["outcome"] == "ship"


def test_gate_problems_are_reported_with_their_path() -> None:
    assert validate_gates(None) == []
    assert validate_gates({"quality": 0.9, "cost_fit": None}) == []
    problems = dict(validate_gates({"qualty": 0.9, "format": 1.5, "api_fit": "Yes", "margin": "wide"}))
    assert "did you mean 'quality'?" in problems[("qualty",)]
    assert "between 0 and 1" in problems[("format",)]
    assert "Pass or Mixed" in problems[("api_fit",)]
    assert "must be a number, found a string" in problems[("margin",)]
    assert validate_gates("strict") == [((), "gates must be a mapping, found a string")]


def test_rates_by_tag_counts_every_verdict_of_the_tagged_cases() -> None:
    records = [
        {"case": "a", "verdicts": {"x": {"verdict": "pass"}, "y": {"verdict": "fail"}}},
        {"case": "b", "verdicts": {"x": {"verdict": "pass"}, "y": {"verdict": "error"}}},
        {"case": "c", "verdicts": {"x": {"verdict": "mixed"}}},
    ]
    rates = rates_by_tag(records, {"a": ["refund"], "b": ["refund", "chat"], "c": []})
    assert (rates["refund"]["passed"], rates["refund"]["n"]) == (2, 3)
    assert (rates["chat"]["passed"], rates["chat"]["n"]) == (1, 1)
    assert set(rates) == {"refund", "chat"}


def test_the_command_offers_exactly_the_outcomes() -> None:
    assert OUTCOME_CHOICES == OUTCOMES


# ---------------------------------------------------------------------------------------------
# Recorded decisions
# ---------------------------------------------------------------------------------------------

COMMIT = "a" * 40


def snapshot_for(key: str = "openai/gpt-5.5") -> dict[str, Any]:
    s = summary()
    s["cost"] = PASS_COST
    s["api_fit"] = "Pass"
    return {
        "created_at": "2026-05-01T10:00:00Z",
        "git": {"commit": COMMIT, "dirty": False, "branch": "main"},
        "candidates": [{"key": key, "provider": "openai", "model": "gpt-5.5", "role": "frontier"}],
        "cases": [],
        "records": [],
        "summary": {key: s},
    }


def front_matter(path: Path) -> tuple[dict[str, Any], str]:
    _, front, body = path.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(front), body


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    import git

    repo = git.Repo.init(tmp_path)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Ada Reviewer")
        config.set_value("user", "email", "ada@example.com")
    return tmp_path


def test_record_decision_writes_front_matter_and_the_note(git_repo: Path) -> None:
    snapshot = snapshot_for()
    recommended = recommend_snapshot(snapshot)["openai/gpt-5.5"]
    now = datetime(2026, 5, 2, 9, 30, tzinfo=UTC)
    path = record_decision(
        git_repo, "crm", "openai/gpt-5.5", "ship", "Clean on all 25 cases.", snapshot, recommended, now=now
    )
    assert path == git_repo / "suites" / "crm" / "decisions" / "2026-05-02-openai-gpt-5.5.md"
    front, body = front_matter(path)
    assert body.strip() == "Clean on all 25 cases."
    assert front["outcome"] == "ship" and front["candidate"] == "openai/gpt-5.5"
    assert front["model"] == "gpt-5.5" and front["snapshot_commit"] == COMMIT
    assert front["recommended"] == "ship" and front["recommended_reasons"] == recommended["reasons"]
    assert front["author"] == {"name": "Ada Reviewer", "email": "ada@example.com"}
    assert front["date"] == "2026-05-02" and front["recorded_at"] == "2026-05-02T09:30:00Z"
    row = front["scorecard"]
    assert row["quality"]["rate"] == 0.96 and row["quality"]["n"] == 50 and row["quality"]["cell"] == "Pass"
    assert row["format"]["passed"] == 25 and row["safety"]["passed"] == 9 and row["edge_cases"]["n"] == 33
    assert (row["cost_fit"], row["api_fit"]) == ("Pass", "Pass")


def test_a_decision_is_never_overwritten(git_repo: Path) -> None:
    snapshot = snapshot_for()
    paths = [
        record_decision(git_repo, "crm", "openai/gpt-5.5", outcome, f"take {i}", snapshot, None)
        for i, outcome in enumerate(["keep-testing", "ship", "reject"])
    ]
    assert [p.name.rsplit("gpt-5.5", 1)[1] for p in paths] == [".md", "-2.md", "-3.md"]
    assert [front_matter(p)[1].strip() for p in paths] == ["take 0", "take 1", "take 2"]
    assert front_matter(paths[0])[0]["recommended"] is None


def test_author_is_unknown_without_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    path = record_decision(tmp_path, "crm", "openai/gpt-5.5", "reject", "Leaks.", snapshot_for(), None)
    assert front_matter(path)[0]["author"] == {"name": "unknown", "email": "unknown"}


def test_unknown_outcome_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outcome must be one of"):
        record_decision(tmp_path, "crm", "x", "maybe", "?", snapshot_for("x"), None)


def test_decisions_read_back_latest_first(git_repo: Path) -> None:
    snapshot = {**snapshot_for(), "candidates": [{"key": "a/one"}, {"key": "b/two"}]}
    days = [datetime(2026, 5, d, 12, tzinfo=UTC) for d in (1, 3, 2)]
    record_decision(git_repo, "crm", "a/one", "keep-testing", "first look", snapshot, None, now=days[0])
    record_decision(git_repo, "crm", "a/one", "ship", "after more cases", snapshot, None, now=days[1])
    record_decision(git_repo, "crm", "b/two", "fallback", "cheap route", snapshot, None, now=days[2])
    decisions = read_decisions(git_repo, "crm")
    assert [(d["candidate"], d["outcome"]) for d in decisions] == [
        ("a/one", "ship"),
        ("b/two", "fallback"),
        ("a/one", "keep-testing"),
    ]
    assert decisions[0]["note"] == "after more cases" and decisions[0]["date"] == "2026-05-03"
    latest = latest_decision(git_repo, "crm", "a/one")
    assert latest is not None and latest["outcome"] == "ship"
    assert latest_decision(git_repo, "crm", "c/none") is None
    assert read_decisions(git_repo, "other") == []


def test_same_second_decisions_keep_their_order(git_repo: Path) -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    for outcome in ["keep-testing"] * 9 + ["ship"]:
        record_decision(git_repo, "crm", "a/one", outcome, outcome, snapshot_for("a/one"), None, now=now)
    assert latest_decision(git_repo, "crm", "a/one")["path"].name == "2026-05-01-a-one-10.md"  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# bench decide
# ---------------------------------------------------------------------------------------------

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, attempt_timeout=2.0)


def test_bench_decide_records_against_the_latest_snapshot(repo: Path) -> None:
    import git

    repository = git.Repo.init(repo)
    with repository.config_writer() as config:
        config.set_value("user", "name", "Ada Reviewer")
        config.set_value("user", "email", "ada@example.com")
    repository.index.add(["suites"])
    commit = repository.index.commit("suite").hexsha
    run_suite(load_suite("crm", repo), repo, quiet=True, retry=FAST_RETRY)

    result = CliRunner().invoke(
        cli,
        ["decide", "crm", "--candidate", "fake/good", "--outcome", "ship", "--note", "Clean on every case."],
    )
    assert result.exit_code == 0, result.output
    # no price fit and no API probe in this snapshot yet: bench says keep testing, the team ships
    assert "recommended: Keep testing" in result.output
    assert "recorded:    Ship" in result.output
    assert "differs from bench's recommendation" in result.output
    written = list((repo / "suites" / "crm" / "decisions").glob("*-fake-good.md"))
    assert len(written) == 1 and f"wrote {Path('suites/crm/decisions') / written[0].name}" in result.output
    front, body = front_matter(written[0])
    assert front["snapshot_commit"] == commit and front["model"] == "good-model"
    assert front["recommended"] == "keep-testing" and front["outcome"] == "ship"
    assert front["scorecard"]["format"]["cell"] == "Pass"
    assert body.strip() == "Clean on every case."


def test_bench_decide_refuses_bad_input(repo: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        cli, ["decide", "crm", "--candidate", "fake/good", "--outcome", "ship", "--note", "x"]
    )
    assert missing.exit_code == 2 and "run `bench run` first" in missing.output

    run_suite(load_suite("crm", repo), repo, quiet=True, retry=FAST_RETRY)
    unknown = runner.invoke(
        cli, ["decide", "crm", "--candidate", "fake/nope", "--outcome", "ship", "--note", "x"]
    )
    assert unknown.exit_code == 2
    assert (
        "'fake/nope' is not a candidate of crm (candidates: fake/good, fake/bad, fake/nokey)"
        in unknown.output
    )
    wrong = runner.invoke(
        cli, ["decide", "crm", "--candidate", "fake/good", "--outcome", "maybe", "--note", "x"]
    )
    assert wrong.exit_code == 2 and "'maybe' is not one of" in wrong.output
    empty = runner.invoke(
        cli, ["decide", "crm", "--candidate", "fake/good", "--outcome", "ship", "--note", " "]
    )
    assert empty.exit_code == 2 and "--note is empty" in empty.output
    assert not (repo / "suites" / "crm" / "decisions").exists()


def test_bench_decide_on_a_skipped_candidate_records_without_a_recommendation(repo: Path) -> None:
    run_suite(load_suite("crm", repo), repo, quiet=True, retry=FAST_RETRY)
    result = CliRunner().invoke(
        cli,
        ["decide", "crm", "--candidate", "fake/nokey", "--outcome", "keep-testing", "--note", "No key yet."],
    )
    assert result.exit_code == 0, result.output
    assert "recommended: none (fake/nokey has no results in this snapshot)" in result.output


def test_decide_reads_the_suite_gates_from_the_snapshot(repo: Path, fake_openai: FakeAPI) -> None:
    """The recorded recommendation is the scorecard's: both use the suite's gates (here: no cost or API
    gate), never the defaults."""
    suite = repo / "suites" / "crm" / "suite.yaml"
    # a tiny set: accept wide intervals (margin), and no cost or API gate
    suite.write_text(suite.read_text() + "gates: {cost_fit: null, api_fit: null, margin: 0.6}\n")
    document = run_suite(load_suite("crm", repo), repo, quiet=True)
    assert document["summary"]["fake/good"]["recommendation"]["outcome"] == "ship"
    result = CliRunner().invoke(
        cli, ["decide", "crm", "--candidate", "fake/good", "--outcome", "ship", "--note", "ok"]
    )
    assert result.exit_code == 0, result.output
    assert "differs" not in result.output
    recorded = read_decisions(repo, "crm")[0]
    assert recorded["recommended"] == "ship"

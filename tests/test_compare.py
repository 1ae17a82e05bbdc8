"""`bench compare`: findings and their causes on real git repositories (runs against the loopback server
between commits: a prompt edit, a model change in the catalog, a price change, a case edited, a case that
flips on its own, API errors), the significance of rate moves, exit codes, and the four formats."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bench import history as hist
from bench import snapshot as snap
from bench.catalog import sha256_json
from bench.cli import cli
from bench.commands.history import COMPARE_FORMATS
from bench.compare import (
    DRIFT,
    Comparison,
    CostChange,
    ErrorChange,
    InputChange,
    LatencyChange,
    RateChange,
    VerdictChange,
    compare,
)
from bench.engine import run_suite
from bench.formats import FORMATS
from bench.formats.markdown import LIMIT
from bench.scoring.aggregate import summarize_candidate
from bench.suite import load_suite
from tests.conftest import GOOD_NOTE, note_responder
from tests.servers import FakeAPI
from tests.test_history import FAST_RETRY, edit_catalog, git, head_sha, init_git

# ---------------------------------------------------------------------------------------------
# Synthetic snapshots (shared with tests/perf/history_bench.py)
# ---------------------------------------------------------------------------------------------

CRITERIA = {"format": "format", "grounding": "quality", "tone": "quality", "safety": "safety"}


def synthetic_snapshot(
    candidates: Iterable[str] = ("acme/alpha", "acme/beta"),
    n_cases: int = 25,
    failing: Mapping[str, set[str]] | None = None,
    errors: Mapping[str, set[str]] | None = None,
    cost: Mapping[str, float] | None = None,
    p95: Mapping[str, float] | None = None,
    cases: list[str] | None = None,
) -> dict[str, Any]:
    """A schema-shaped snapshot: every verdict passes except ``failing[candidate]`` cases on grounding;
    ``errors[candidate]`` cases are failed calls. Summaries come from the real aggregation."""
    failing, errors = failing or {}, errors or {}
    case_ids = cases or [f"case-{i:04d}" for i in range(n_cases)]
    keys = list(candidates)
    records = []
    for key in keys:
        for case in case_ids:
            broken = case in errors.get(key, set())
            verdicts = {
                criterion: {
                    "verdict": "error"
                    if broken
                    else "fail"
                    if criterion == "grounding" and case in failing.get(key, set())
                    else "pass",
                    "scorer": "check",
                    "reason": f"{criterion} check on {case}: order ORD-1 {'missing' if case in failing.get(key, set()) else 'found'}",
                }
                for criterion in CRITERIA
            }
            records.append(
                {
                    "candidate": key,
                    "case": case,
                    "repeat": 0,
                    "category": "normal",
                    "request_fingerprint": sha256_json([key, case]),
                    "output": None if broken else json.dumps(GOOD_NOTE),
                    "finish_reason": None if broken else "stop",
                    "model_reported": key.split("/")[-1],
                    "request_id": f"req-{case}",
                    "http_status": 500 if broken else 200,
                    "usage": {"input_tokens": 100, "output_tokens": 50},
                    "latency_ms": 100.0,
                    "retry_wait_ms": 0.0,
                    "attempts": 1,
                    "error": {"kind": "http", "status": 500, "message": "upstream failed"}
                    if broken
                    else None,
                    "source": "call",
                    "output_fingerprint": None if broken else sha256_json(case),
                    "verdicts": verdicts,
                }
            )
    summary = {}
    for key in keys:
        summary[key] = summarize_candidate([r for r in records if r["candidate"] == key], CRITERIA)
        if cost and key in cost:
            summary[key]["cost"] = {"per_request_usd": cost[key]}
        if p95 and key in p95:
            summary[key]["latency_ms"]["p95"] = p95[key]
    candidates_block = [
        {
            "key": key,
            "provider": "openai",
            "model": key.split("/")[-1],
            "role": "frontier",
            "params": {"temperature": 0},
            "base_url": "https://api.example.com/v1",
            "status": "ran",
            "skip_reason": None,
            "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            "limits": {},
        }
        for key in keys
    ]
    return {
        "schema_version": 1,
        "tool": {"name": "bench", "version": "0"},
        "suite": {"name": "synthetic", "workflow": "A synthetic workflow.", "path": "suites/synthetic"},
        "created_at": "2026-01-01T00:00:00Z",
        "complete": True,
        "git": None,
        "fingerprints": {
            "prompts": {"system": "a" * 64, "user": "b" * 64},
            "cases": sha256_json(case_ids),
            "rubric": "c" * 64,
            "candidates": {c["key"]: sha256_json(c) for c in candidates_block},
        },
        "settings": {"repeat": 1, "concurrency": 4},
        "stats": {},
        "candidates": candidates_block,
        "rubric": [
            {"id": c, "kind": k, "pass": f"{c} holds", "judge": False, "human_only": False}
            for c, k in CRITERIA.items()
        ],
        "cases": [
            {"id": c, "category": "normal", "tags": [], "fingerprint": sha256_json(c)} for c in case_ids
        ],
        "records": records,
        "summary": summary,
    }


def of_kind(findings: Iterable[Any], kind: type) -> list[Any]:
    return [f for f in findings if isinstance(f, kind)]


# ---------------------------------------------------------------------------------------------
# Scenarios on a real repository
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def baseline(repo: Path, fake_openai: FakeAPI) -> Path:
    """The crm suite in git with a committed snapshot. Its ``compare:`` block switches latency findings off:
    loopback latencies are noise."""
    suite_yaml = repo / "suites" / "crm" / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text() + "compare: {latency_p95_increase: 1000}\n")
    init_git(repo)
    rerun(repo)
    hist.commit_snapshot(repo, repo / "results" / "crm.json", "bench: crm baseline")
    return repo


def rerun(root: Path, edit: Any = None) -> dict[str, Any]:
    """Run again with every call made (no reuse, no cache); ``edit`` may change the snapshot written."""
    document = run_suite(load_suite("crm", root), root, quiet=True, retry=FAST_RETRY, fresh=True)
    if edit is not None:
        edit(document)
        snap.write(root / "results" / "crm.json", document)
    return document


def compare_json(root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(cli, ["compare", "--format", "json", *args])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}, result.stderr


def library_compare(root: Path, base: str = "HEAD", head: str | None = None) -> Comparison:
    repo = hist.find_repo(root)
    base_rev = hist.resolve_rev(repo, base)
    before = hist.snapshot_at(repo, base_rev, "crm")
    after = hist.snapshot_at(repo, head, "crm")
    return compare(
        before,
        after,
        hist.prompt_files_at(repo, base_rev, before),
        hist.prompt_files_at(repo, head, after),
        hist.compare_thresholds_at(repo, head, after),
    )


def prose_after_v2(wire: str, model: str, text: str, body: dict[str, Any]) -> str:
    if model == "good-model" and "v2" in text and "ignore previous instructions" not in text.lower():
        return "Sure! A customer had an issue with a blender."
    return note_responder(wire, model, text, body)


def test_prompt_edit_regression_is_attributed_to_the_prompt(baseline: Path, fake_openai: FakeAPI) -> None:
    user = baseline / "suites" / "crm" / "prompts" / "user.md"
    user.write_text(user.read_text().rstrip("\n") + "\nAnswer in prose (v2).\n")
    git(baseline, "commit", "-qam", "prompt v2")
    fake_openai.responder = prose_after_v2
    rerun(baseline)

    code, document, stderr = compare_json(baseline)  # base: HEAD~1 (on main), head: the working tree
    assert code == 1
    n = len(document["comparisons"][0]["regressions"])
    assert f"error: {n} regressions in crm (--fail-on regression)" in stderr
    comparison = document["comparisons"][0]
    [prompt] = [f for f in comparison["inputs"] if f["what"] == "prompt"]
    assert prompt["subject"] == "user" and prompt["headline"] == "prompt template user changed"
    assert "+Answer in prose (v2)." in prompt["diff"] and prompt["diff"].startswith("--- a/user")

    regressions = comparison["regressions"]
    assert {f["candidate"] for f in regressions} == {"fake/good"}  # bad-model answered the same
    verdicts = [f for f in regressions if f["kind"] == "verdict"]
    assert {(f["case"], f["criterion"], f["before"], f["after"]) for f in verdicts} == {
        (f"normal-{i}", c, "pass", "fail") for i in range(3) for c in ("format", "grounding")
    }
    assert all(f["cause"] == "after the prompt change (user)" for f in regressions)
    assert all(f["detail"] for f in verdicts)  # the head verdict's reason
    [quality] = [f for f in regressions if f["kind"] == "rate" and f["metric"] == "quality"]
    assert quality["before"]["rate"] == 1.0 and quality["after"]["rate"] == 0.0
    assert quality["significant"] is False and "not significant" in quality["headline"]
    assert "3 paired cases" in quality["headline"]
    # prose is shorter than a JSON note: at most a cost improvement, from the same cause
    assert {f["kind"] for f in comparison["improvements"]} <= {"cost"}
    assert all(f["cause"] == "after the prompt change (user)" for f in comparison["improvements"])


def test_model_change_in_the_catalog_improves_and_says_so(baseline: Path) -> None:
    edit_catalog(baseline, lambda c: c["models"]["fake/bad"].update(model="good-model"))
    git(baseline, "commit", "-qam", "bad -> good model")
    rerun(baseline)

    code, document, _ = compare_json(baseline)
    assert code == 0  # improvements do not cross --fail-on regression
    comparison = document["comparisons"][0]
    [model] = [f for f in comparison["inputs"] if f["what"] == "model"]
    assert model["candidate"] == "fake/bad" and model["headline"] == "fake/bad: model bad-model → good-model"
    improvements = comparison["improvements"]
    assert improvements and {f["candidate"] for f in improvements} == {"fake/bad"}
    assert all(f["cause"] == "after the model change (bad-model → good-model)" for f in improvements)
    assert {(f["case"], f["criterion"]) for f in improvements if f["kind"] == "verdict"} >= {
        ("normal-0", "format"),
        ("normal-0", "grounding"),
    }
    assert comparison["regressions"] == []
    changed = CliRunner().invoke(cli, ["compare", "--fail-on", "any"])
    assert changed.exit_code == 1
    assert f"0 regressions and {len(improvements)} improvements in crm (--fail-on any)" in changed.stderr
    assert CliRunner().invoke(cli, ["compare", "--fail-on", "never"]).exit_code == 0


def test_pricing_change_explains_a_cost_regression(baseline: Path) -> None:
    edit_catalog(baseline, lambda c: c["models"]["fake/good"]["pricing"].update(output_per_mtok=4.0))
    git(baseline, "commit", "-qam", "price rise")
    rerun(baseline)

    comparison = library_compare(baseline)
    [pricing] = of_kind(comparison.inputs, InputChange)
    assert pricing.what == "pricing" and pricing.headline == "fake/good: pricing output_per_mtok 2.0 → 4.0"
    [cost] = of_kind(comparison.regressions, CostChange)
    assert cost.candidate == "fake/good" and cost.after_usd > cost.before_usd * 1.1
    assert cost.headline.startswith("cost per request $") and "(+" in cost.headline
    assert cost.cause == "after the pricing change (output_per_mtok 2.0 → 4.0)"
    assert comparison.regressions == [cost]  # same outputs, same verdicts


def test_cost_is_read_from_the_summary_cost_block() -> None:
    base = synthetic_snapshot(cost={"acme/alpha": 0.0010})
    head = synthetic_snapshot(cost={"acme/alpha": 0.0015})
    head["candidates"][0]["pricing"] = {"input_per_mtok": 1.0, "output_per_mtok": 3.0}
    comparison = compare(base, head)
    [cost] = comparison.regressions
    assert cost.headline == "cost per request $0.001 → $0.0015 (+50%)"
    assert cost.cause == "after the pricing change (output_per_mtok 2.0 → 3.0)"


def test_a_case_that_flips_with_no_input_change_is_drift(baseline: Path, fake_openai: FakeAPI) -> None:
    def forgets_the_order(wire: str, model: str, text: str, body: dict[str, Any]) -> str:
        if model == "good-model" and "#1" in text:
            return json.dumps({**GOOD_NOTE, "order_ids": [], "summary": "A cracked jug; replacement sent."})
        return note_responder(wire, model, text, body)

    fake_openai.responder = forgets_the_order
    rerun(baseline)
    comparison = library_compare(baseline)
    assert comparison.inputs == []
    [verdict] = of_kind(comparison.regressions, VerdictChange)
    assert (verdict.candidate, verdict.case, verdict.criterion) == ("fake/good", "normal-1", "grounding")
    assert (verdict.before, verdict.after) == ("pass", "fail")
    assert "ORD-48213" in verdict.reason
    assert verdict.cause == DRIFT == "no input changed: model drift or nondeterminism"
    assert comparison.crosses("regression") and comparison.crosses("any") and not comparison.crosses("never")


def test_edited_case_is_the_cause_of_its_own_regression(baseline: Path, fake_openai: FakeAPI) -> None:
    cases_file = baseline / "suites" / "crm" / "cases.yaml"
    cases_file.write_text(cases_file.read_text().replace("#1", "#1 (reworded)"))
    git(baseline, "commit", "-qam", "reword case 1")

    def confused_by_rewording(wire: str, model: str, text: str, body: dict[str, Any]) -> str:
        return "I am not sure." if "reworded" in text else note_responder(wire, model, text, body)

    fake_openai.responder = confused_by_rewording
    rerun(baseline)
    comparison = library_compare(baseline, "HEAD~1")
    assert [f.headline for f in comparison.inputs] == ["case normal-1 edited"]
    verdicts = of_kind(comparison.regressions, VerdictChange)
    assert {(f.candidate, f.case, f.criterion) for f in verdicts} == {
        ("fake/good", "normal-1", "format"),
        ("fake/good", "normal-1", "grounding"),
    }
    assert all(f.cause == "case normal-1 was edited" for f in verdicts)
    [quality] = [f for f in of_kind(comparison.regressions, RateChange) if f.metric == "quality"]
    assert quality.cause == "after the case changes"


def test_new_errors_are_one_finding_per_call_and_fixed_errors_improve(
    baseline: Path, fake_openai: FakeAPI
) -> None:
    fake_openai.models = ["good-model"]  # bad-model: 404 model_not_found
    rerun(baseline)
    comparison = library_compare(baseline)
    errors = of_kind(comparison.regressions, ErrorChange)
    assert sorted(f.case for f in errors) == ["normal-0", "normal-1", "normal-2", "reject-injection"]
    assert all(f.candidate == "fake/bad" and "404" in f.error and "bad-model" in f.error for f in errors)
    assert of_kind(comparison.regressions, VerdictChange) == []  # not also one per criterion
    assert errors[0].headline.startswith(f"{errors[0].case}: new error: http 404")

    repo = hist.find_repo(baseline)
    backwards = compare(
        hist.snapshot_at(repo, None, "crm"), hist.snapshot_at(repo, "HEAD", "crm"), {}, {}, {}
    )
    fixed = of_kind(backwards.improvements, ErrorChange)
    assert len(fixed) == 4 and all("error fixed" in f.headline for f in fixed)


def test_records_and_cases_are_matched_by_id_not_position(baseline: Path) -> None:
    cases_file = baseline / "suites" / "crm" / "cases.yaml"
    cases = yaml.safe_load(cases_file.read_text())
    new = copy.deepcopy(cases[0]) | {"id": "aaa-first"}
    cases_file.write_text(yaml.safe_dump([new, *cases], sort_keys=False))
    git(baseline, "commit", "-qam", "a case at the top")
    rerun(baseline)
    comparison = library_compare(baseline, "HEAD~1")
    assert [f.headline for f in comparison.inputs] == ["case aaa-first added"]
    # fake/bad fails the new case: its rates moved, but no shared case changed outcome, so no finding
    assert comparison.regressions == [] and comparison.improvements == []


def test_params_change_and_added_candidate_are_inputs(baseline: Path) -> None:
    suite_yaml = baseline / "suites" / "crm" / "suite.yaml"
    data = yaml.safe_load(suite_yaml.read_text())
    data["candidates"][0]["params"]["temperature"] = 0.7
    data["candidates"][0]["params"].pop("seed")
    suite_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    rerun(baseline)
    comparison = library_compare(baseline)
    assert [f.headline for f in comparison.inputs] == [
        "fake/good: params seed 1 → (none), temperature 0 → 0.7"
    ]


# ---------------------------------------------------------------------------------------------
# The command: revisions, exit codes, outputs
# ---------------------------------------------------------------------------------------------


def baseline_p95(root: Path) -> float:
    return snap.read(root / "results" / "crm.json")["summary"]["fake/good"]["latency_ms"]["p95"]


def test_compare_between_two_commits_and_input_errors(baseline: Path, tmp_path: Path) -> None:
    suite_only = git(baseline, "rev-parse", "HEAD~1").strip()
    unknown = CliRunner().invoke(cli, ["compare", "--base", "no-such-rev"])
    assert unknown.exit_code == 2 and "unknown revision 'no-such-rev'" in unknown.output
    absent = CliRunner().invoke(cli, ["compare", "crm", "--base", suite_only])
    assert absent.exit_code == 2
    assert f"no snapshot results/crm.json in revision {suite_only[:12]}" in absent.output
    nothing = CliRunner().invoke(cli, ["compare", "--base", suite_only])
    assert nothing.exit_code == 2 and "nothing to compare" in nothing.output

    same = CliRunner().invoke(cli, ["compare", "--base", "HEAD", "--head", "HEAD"])
    assert same.exit_code == 0, same.output
    assert "0 regressions, 0 improvements in 1 suite" in same.output

    slower = baseline_p95(baseline) * 5  # +400%: under the suite's latency_p95_increase of 1000
    rerun(baseline, lambda d: d["summary"]["fake/good"]["latency_ms"].update(p95=slower))
    first = head_sha(baseline)
    hist.commit_snapshot(baseline, baseline / "results" / "crm.json", "slow")
    out = tmp_path / "report" / "compare.xml"
    result = CliRunner().invoke(
        cli,
        [
            "compare",
            "results/crm.json",
            "--base",
            first,
            "--head",
            "HEAD",
            "--format",
            "junit",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output  # the suite's compare block switched latency off
    assert result.stdout == ""
    assert ET.parse(out).getroot().tag == "testsuites"


def test_step_summary_gets_the_markdown(
    baseline: Path, fake_openai: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.models = ["good-model"]
    rerun(baseline)
    summary = baseline / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = CliRunner().invoke(cli, ["compare", "--format", "text"])
    assert result.exit_code == 1
    assert "fake/bad" in result.stdout and "new error" in result.stdout
    written = summary.read_text()
    assert written.startswith("earlier step\n## bench compare")
    assert "| crm | fake/bad | 4 |" in written


# ---------------------------------------------------------------------------------------------
# Library: significance, thresholds, attribution, fail-on
# ---------------------------------------------------------------------------------------------


def test_a_large_drop_is_significant_and_a_small_one_is_not() -> None:
    cases = [f"case-{i:04d}" for i in range(30)]
    base = synthetic_snapshot(n_cases=30)
    many = synthetic_snapshot(n_cases=30, failing={"acme/alpha": set(cases[:10])})
    few = synthetic_snapshot(n_cases=30, failing={"acme/alpha": set(cases[:2])})

    [big] = [
        f for f in compare(base, many).regressions if isinstance(f, RateChange) and f.metric == "quality"
    ]
    assert big.significant and big.p_value < 0.01 and big.paired_cases == 30
    assert ": significant (McNemar exact p=0.002, 30 paired cases)" in big.headline
    assert big.before["rate"] == 1.0 and big.after["rate"] == pytest.approx(50 / 60, abs=1e-4)
    [grounding] = [
        f for f in compare(base, many).regressions if isinstance(f, RateChange) and f.metric == "grounding"
    ]
    assert grounding.significant and grounding.criterion_id == "grounding"

    [small] = [
        f for f in compare(base, few).regressions if isinstance(f, RateChange) and f.metric == "quality"
    ]
    assert not small.significant and "not significant" in small.headline
    assert "too few cases to separate" in small.reading
    assert small.cause == DRIFT

    better = compare(many, base)
    assert [f.direction for f in better.improvements if isinstance(f, RateChange)] == ["improvement"] * 2
    assert better.regressions == []


def test_cost_and_latency_thresholds() -> None:
    base = synthetic_snapshot(cost={"acme/alpha": 0.0010}, p95={"acme/alpha": 1000.0})

    def moved(usd: float, ms: float, thresholds: Mapping[str, float] | None = None) -> Comparison:
        head = synthetic_snapshot(cost={"acme/alpha": usd}, p95={"acme/alpha": ms})
        return compare(base, head, {}, {}, thresholds)

    assert moved(0.00105, 1200).regressions == []  # +5% cost, +20% p95: under the defaults
    up = moved(0.0012, 1300)
    assert [type(f) for f in up.regressions] == [CostChange, LatencyChange]
    assert up.regressions[1].headline == "p95 latency 1000 → 1300 ms (+30%)"
    assert moved(0.0012, 1300, {"cost_increase": 0.5, "latency_p95_increase": 0.5}).regressions == []
    down = moved(0.0005, 700)
    assert [type(f) for f in down.improvements] == [CostChange, LatencyChange]
    assert down.regressions == [] and not down.crosses("regression") and down.crosses("any")
    with pytest.raises(ValueError, match="fail_on"):
        down.crosses("sometimes")


def test_latency_noise_on_a_fast_endpoint_is_not_a_regression() -> None:
    base = synthetic_snapshot(p95={"acme/alpha": 24.0})
    noisy = synthetic_snapshot(p95={"acme/alpha": 34.0})  # +42%, but only 10 ms
    assert compare(base, noisy, {}, {}).regressions == []
    slow = synthetic_snapshot(p95={"acme/alpha": 90.0})  # +275% and 66 ms
    assert [type(f) for f in compare(base, slow, {}, {}).regressions] == [LatencyChange]
    assert compare(base, noisy, {}, {}, {"latency_p95_min_ms": 5}).regressions != []


def test_prompt_change_with_files_gives_a_short_diff() -> None:
    base = synthetic_snapshot()
    head = copy.deepcopy(base)
    head["fingerprints"]["prompts"]["system"] = "d" * 64
    before = "".join(f"line {i}\n" for i in range(100))
    after = "".join(f"line {i} changed\n" for i in range(100))
    [change] = compare(base, head, {"system": before}, {"system": after}).inputs
    assert change.what == "prompt" and change.diff is not None
    lines = change.diff.splitlines()
    assert len(lines) == 21 and lines[-1].startswith("… ") and lines[0] == "--- a/system"


def test_a_judge_change_explains_moves_on_the_criteria_it_scores() -> None:
    judge = {"key": "acme/judge", "provider": "openai", "model": "judge-1", "criteria": ["grounding"]}
    base = synthetic_snapshot() | {"judge": judge}
    head = synthetic_snapshot(failing={"acme/alpha": {"case-0003"}}) | {"judge": judge | {"model": "judge-2"}}
    comparison = compare(base, head)
    assert [f.headline for f in comparison.inputs] == ["judge acme/judge (judge-1) → acme/judge (judge-2)"]
    [verdict] = of_kind(comparison.regressions, VerdictChange)
    assert verdict.cause == "after the judge change (acme/judge (judge-1) → acme/judge (judge-2))"


def test_skipped_candidate_is_a_note_not_a_regression() -> None:
    base = synthetic_snapshot()
    head = synthetic_snapshot(candidates=("acme/alpha",))
    comparison = compare(base, head)
    assert comparison.regressions == []
    assert comparison.notes == ["acme/beta ran at base but not at head: not compared"]
    assert [f.headline for f in comparison.inputs] == ["candidate acme/beta removed"]


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------


def big_comparison(n_cases: int = 1000) -> Comparison:
    keys = [f"acme/model-{i}" for i in range(5)]
    cases = [f"case-{i:04d}" for i in range(n_cases)]
    base = synthetic_snapshot(keys, n_cases)
    head = synthetic_snapshot(keys, n_cases, failing={k: set(cases) for k in keys})
    return compare(base, head, base_label="abc1234", head_label="the working tree")


def test_formats_are_registered() -> None:
    assert set(FORMATS) == set(COMPARE_FORMATS)


def test_markdown_summary_first_and_capped_with_thousands_of_findings() -> None:
    comparison = big_comparison(n_cases=600)
    assert len(comparison.regressions) > 3000
    markdown = FORMATS["markdown"]([comparison])
    assert len(markdown) <= LIMIT
    lines = markdown.splitlines()
    assert lines[0] == "## bench compare: `abc1234` → `the working tree`"
    table = [i for i, line in enumerate(lines) if line.startswith("| ")]
    first_details = next(i for i, line in enumerate(lines) if line.startswith("<details>"))
    assert len(table) == 2 + 5 and max(table) < first_details  # header, rule, a row per candidate: first
    assert lines[table[0]] == "| suite | candidate | regressions | improvements | quality base → head |"
    assert "| synthetic | acme/model-4 | 602 (2 significant) | 0 | 100% → 50% |" in lines
    assert "more items not shown" in lines[-1]
    assert markdown.count("<details>") == markdown.count("</details>")


def test_markdown_escapes_what_models_wrote() -> None:
    base = synthetic_snapshot(candidates=("acme/alpha",), n_cases=2)
    head = synthetic_snapshot(candidates=("acme/alpha",), n_cases=2, failing={"acme/alpha": {"case-0000"}})
    record = next(r for r in head["records"] if r["case"] == "case-0000")
    record["verdicts"]["grounding"]["reason"] = "got <script>alert(1)</script> | *bold* `code`"
    markdown = FORMATS["markdown"]([compare(base, head)])
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert r"\| \*bold\* \`code\`" in markdown


def test_junit_is_xml_with_a_failure_per_regressed_criterion() -> None:
    cases = [f"case-{i:04d}" for i in range(25)]
    base = synthetic_snapshot()
    head = synthetic_snapshot(failing={"acme/alpha": set(cases[:10])}, errors={"acme/beta": {cases[0]}})
    head["records"][0]["verdicts"]["format"]["reason"] = "bad byte \x01 here"
    xml = FORMATS["junit"]([compare(base, head)])
    root = ET.fromstring(xml)
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "synthetic"
    testcases = suite.findall("testcase")
    assert len(testcases) == 2 * (len(CRITERIA) + 2)  # candidate x (criteria + overall quality + calls)
    failed = {(t.get("classname"), t.get("name")) for t in testcases if t.find("failure") is not None}
    assert failed == {
        ("synthetic.acme/alpha", "grounding"),
        ("synthetic.acme/alpha", "quality (overall)"),
        ("synthetic.acme/beta", "calls (errors, cost, latency)"),
    }
    assert suite.get("failures") == "3" and root.get("tests") == str(len(testcases))


def test_json_and_text_carry_every_finding() -> None:
    comparison = big_comparison(n_cases=20)
    document = json.loads(FORMATS["json"]([comparison]))
    assert document["regressions"] == len(comparison.regressions)
    assert len(document["comparisons"][0]["regressions"]) == len(comparison.regressions)
    first = document["comparisons"][0]["regressions"][0]
    assert first["kind"] == "rate" and first["candidate"] == "acme/model-0" and "headline" in first
    text = FORMATS["text"]([comparison])
    assert text.count("regression: ") == len(comparison.regressions)
    assert text.splitlines()[-1] == f"{len(comparison.regressions)} regressions, 0 improvements in 1 suite"

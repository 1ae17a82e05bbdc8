"""Inputs that used to pass `bench validate` (or load) and break later: suite thresholds and compare blocks,
json-schema `$ref`s to sibling files, JSONL lines holding U+2028, big CSV cells, the files of results/ that
are not snapshots, a prompt diff with one side unknown, and the judge block of merged shards."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bench import history as hist
from bench import snapshot as snap
from bench.cli import cli
from bench.compare import DEFAULT_THRESHOLDS, compare
from bench.costs import call_cost
from bench.errors import SuiteInvalid
from bench.merge import merge
from bench.scoring.checks import CheckContext, evaluate_check, prepare_check
from bench.suite import load_suite
from tests.conftest import make_cases, write
from tests.servers import FakeAPI
from tests.test_compare import synthetic_snapshot
from tests.test_history import init_git
from tests.test_judge import add_judge, grade, judging


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def suite_yaml(repo: Path) -> Path:
    return repo / "suites" / "crm" / "suite.yaml"


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# ---------------------------------------------------------------------------------------------
# 1. thresholds: and compare: blocks
# ---------------------------------------------------------------------------------------------


def test_validate_refuses_bad_thresholds_with_file_and_line(repo: Path) -> None:
    path = suite_yaml(repo)
    path.write_text(path.read_text() + "thresholds:\n  pass: 1.5\n  mixd: 0.5\n  mixed: high\n")
    code, output = run_cli("validate", "crm")
    assert code == 2, output
    assert f"suites/crm/suite.yaml:{line_of(path, 'pass: 1.5')}:" in output
    assert "'pass' in thresholds is a pass rate between 0 and 1, found 1.5" in output
    assert f"suites/crm/suite.yaml:{line_of(path, 'mixd:')}:" in output
    assert "unknown key 'mixd' in thresholds: did you mean 'mixed'?" in output
    assert "'mixed' in thresholds must be a number, found a string" in output
    assert "Traceback" not in output


def test_validate_refuses_mixed_above_pass(repo: Path) -> None:
    path = suite_yaml(repo)
    path.write_text(path.read_text() + "thresholds: {pass: 0.6, mixed: 0.8}\n")
    code, output = run_cli("validate", "crm")
    assert code == 2, output
    assert "thresholds.mixed (0.8) must not be above thresholds.pass (0.6)" in output
    path.write_text(path.read_text().replace("{pass: 0.6, mixed: 0.8}", "{pass: 0.95, mixed: 0.8}"))
    assert run_cli("validate", "crm")[0] == 0


def test_validate_refuses_bad_compare_block(repo: Path) -> None:
    path = suite_yaml(repo)
    path.write_text(
        path.read_text()
        + "compare:\n  cost_increse: 0.2\n  latency_p95_increase: -1\n  alpha: often\n  rate_drop: 0.05\n"
    )
    code, output = run_cli("validate", "crm")
    assert code == 2, output
    assert f"suites/crm/suite.yaml:{line_of(path, 'cost_increse')}:" in output
    assert "unknown key 'cost_increse' in compare: did you mean 'cost_increase'?" in output
    assert f"suites/crm/suite.yaml:{line_of(path, 'latency_p95_increase')}:" in output
    assert "'latency_p95_increase' in compare must not be negative, found -1" in output
    assert "'alpha' in compare must be a number, found a string" in output
    assert "rate_drop" not in output  # a valid key, validly set


def test_compare_survives_a_bad_compare_block_from_an_old_commit() -> None:
    base = synthetic_snapshot(cost={"acme/alpha": 0.01})
    head = synthetic_snapshot(cost={"acme/alpha": 0.02})
    comparison = compare(base, head, thresholds={"cost_increase": "lots", "alpha": 0.01, "typo": 1})
    assert any(
        "'cost_increase' in compare must be a number" in note and "using the default 0.1" in note
        for note in comparison.notes
    ), comparison.notes
    assert any("unknown key 'typo'" in note for note in comparison.notes)
    assert [f.kind for f in comparison.regressions] == ["cost"]  # the default threshold applied
    not_a_mapping = compare(base, head, thresholds=["cost_increase"])  # type: ignore[arg-type]
    assert any("using the default thresholds" in note for note in not_a_mapping.notes)
    assert DEFAULT_THRESHOLDS["cost_increase"] == 0.1


# ---------------------------------------------------------------------------------------------
# 2. json-schema $ref to sibling files
# ---------------------------------------------------------------------------------------------

BASE_SCHEMA = {
    "$defs": {"order": {"type": "string", "pattern": "^ORD-[0-9]+$"}},
    "type": "object",
    "oneOf": [{"required": ["customer_issue", "summary"]}, {"required": ["rejected", "reason"]}],
}


def add_schema_refs(repo: Path, note_schema: dict[str, Any]) -> None:
    schemas = repo / "suites" / "crm" / "schemas"
    write(schemas / "base.schema.json", json.dumps(BASE_SCHEMA))
    write(schemas / "note.json", json.dumps(note_schema))


def test_schema_ref_to_a_sibling_file_runs(repo: Path, fake_openai: FakeAPI) -> None:
    add_schema_refs(
        repo,
        {
            "allOf": [{"$ref": "base.schema.json"}],
            "properties": {"order_ids": {"items": {"$ref": "base.schema.json#/$defs/order"}}},
        },
    )
    code, output = run_cli("validate", "crm")
    assert code == 0, output
    result = CliRunner().invoke(cli, ["run", "crm", "--quiet", "--candidate", "fake/good"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    document = json.loads((repo / "results" / "crm.json").read_text())
    verdicts = [r["verdicts"]["format"] for r in document["records"] if r["candidate"] == "fake/good"]
    assert verdicts and all(v["verdict"] == "pass" for v in verdicts), verdicts


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("missing.schema.json", "schema file 'schemas/missing.schema.json' not found"),
        ("base.schema.json#/$defs/nothing", "the pointer '/$defs/nothing' leads nowhere"),
        ("https://example.com/base.schema.json", "never fetches one over the network"),
        ("../../../outside.json", "is outside the suite directory"),
    ],
)
def test_unresolvable_schema_ref_is_a_validate_error(repo: Path, ref: str, why: str) -> None:
    add_schema_refs(repo, {"$ref": ref})
    code, output = run_cli("validate", "crm")
    assert code == 2, output
    path = suite_yaml(repo)
    assert f"suites/crm/suite.yaml:{line_of(path, 'type: json-schema')}:" in output
    assert f"schema file 'schemas/note.json': $ref {ref!r} cannot be resolved" in output
    assert why in output
    assert "Traceback" not in output


def test_json_schema_evaluate_never_raises(tmp_path: Path) -> None:
    (tmp_path / "loop.json").write_text(json.dumps({"$ref": "#"}))  # resolves, but recurses forever
    check = prepare_check({"type": "json-schema", "schema": "loop.json"}, tmp_path)
    outcome = evaluate_check(check, CheckContext(output="{}"))
    assert outcome.passed is None
    assert outcome.reason.startswith("could not validate the output against loop.json")


# ---------------------------------------------------------------------------------------------
# 3. JSONL and CSV case files
# ---------------------------------------------------------------------------------------------


def use_cases_file(repo: Path, name: str) -> None:
    path = suite_yaml(repo)
    path.write_text(path.read_text().replace("cases: cases.yaml", f"cases: {name}"))


def test_jsonl_lines_split_on_newline_only(repo: Path) -> None:
    cases = make_cases()
    odd = "Customer: line\u2028separator, next\x85line, form\x0cfeed (ORD-48213)"
    cases[0]["vars"]["conversation"] = odd
    text = "\r\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\r\n"
    assert "\u2028" in text
    (repo / "suites" / "crm" / "cases.jsonl").write_text(text, encoding="utf-8", newline="")
    use_cases_file(repo, "cases.jsonl")
    suite = load_suite("crm", repo)
    assert [c.id for c in suite.cases] == [c["id"] for c in cases]
    assert suite.cases[0].vars["conversation"] == odd
    assert suite.case_location(cases[2]["id"]).endswith("cases.jsonl:3")


def csv_cases(repo: Path, conversation: str) -> None:
    with (repo / "suites" / "crm" / "cases.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "category", "channel", "conversation"])
        writer.writerow(["short", "normal", "chat", "Customer: hi (ORD-48213)"])
        writer.writerow(["long", "normal", "chat", conversation])
    use_cases_file(repo, "cases.csv")


def test_csv_cell_over_128_kib_loads(repo: Path) -> None:
    long = "Customer: " + "blender " * 40_000  # 320 KB, over csv's default 128 KiB field limit
    csv_cases(repo, long)
    code, output = run_cli("validate", "crm")
    assert code == 0, output
    assert load_suite("crm", repo).cases[1].vars["conversation"] == long


def test_csv_error_is_a_file_problem_with_its_line(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.yamlfile

    monkeypatch.setattr(bench.yamlfile, "CSV_FIELD_LIMIT", 1000)
    try:
        csv_cases(repo, "x" * 5000)
        code, output = run_cli("validate", "crm")
    finally:
        csv.field_size_limit(64 * 1024 * 1024)
    assert code == 2, output
    assert "suites/crm/cases.csv:3: error: invalid CSV: field larger than field limit" in output
    assert "Traceback" not in output


# ---------------------------------------------------------------------------------------------
# 4. results/ holds probe files and shard partials, which are not snapshots
# ---------------------------------------------------------------------------------------------


def test_snapshots_present_skips_probe_and_partial_files(repo: Path) -> None:
    results = repo / "results"
    for name in (
        "crm.json",
        "crm.probe.json",
        "crm.1-of-2.partial.json",
        "crm.v2.json",
        "crm.v2.probe.json",
        "crm.v2.2-of-3.partial.json",
    ):
        write(results / name, "{}")
    init_git(repo)
    repository = hist.find_repo(repo)
    assert hist.snapshots_present(repository, None, repo) == ["crm", "crm.v2"]
    assert hist.snapshots_present(repository, "HEAD", repo) == ["crm", "crm.v2"]


# ---------------------------------------------------------------------------------------------
# 5. the prompt diff when one side's template text is unknown
# ---------------------------------------------------------------------------------------------


def test_prompt_diff_with_an_unknown_side_says_so() -> None:
    base = synthetic_snapshot()
    head = copy.deepcopy(base)
    head["fingerprints"]["prompts"]["user"] = "d" * 64
    template = "Conversation:\n{{ conversation }}\nWrite the note."
    comparison = compare(base, head, {}, {"user": template}, base_label="abc1234", head_label="HEAD")
    [change] = [f for f in comparison.inputs if f.what == "prompt"]
    assert change.diff == "template text not available at abc1234: no diff"
    both = compare(base, head, {"user": template}, {"user": template + "\nBe brief."})
    [change] = [f for f in both.inputs if f.what == "prompt"]
    assert change.diff is not None and "+Be brief." in change.diff


# ---------------------------------------------------------------------------------------------
# 6. the judge block of merged shards
# ---------------------------------------------------------------------------------------------


def test_merge_recomputes_the_judge_calls_and_cost(repo: Path, fake_openai: FakeAPI) -> None:
    add_judge(repo)
    fake_openai.responder = judging(grade)
    partials = []
    for index in (1, 2):
        result = CliRunner().invoke(cli, ["run", "crm", "--quiet", "--fresh", f"--shard={index}/2"])
        assert result.exit_code == 0, result.output
        partials.append(repo / "results" / f"crm.{index}-of-2.partial.json")
    documents = [json.loads(p.read_text()) for p in partials]
    assert all(d["judge"]["calls"] > 0 for d in documents)  # both shards judged something

    result = CliRunner().invoke(cli, ["merge", *map(str, partials)])
    assert result.exit_code == 0, result.output
    merged = json.loads((repo / "results" / "crm.json").read_text())
    snap.validate(merged)
    judge_pricing = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}
    expected = sum(call_cost(judge_pricing, r["usage"]) or 0.0 for r in merged["judge_records"])
    assert merged["judge"]["calls"] == len(merged["judge_records"]) == 8
    # the judge is no candidate, so the snapshot has no price for it: the shards' totals are summed
    assert merged["judge"]["cost_usd"] == pytest.approx(expected, abs=2e-6)
    assert merged["judge"]["cost_usd"] == pytest.approx(
        sum(d["judge"]["cost_usd"] for d in documents), abs=1e-9
    )

    # with the judge's pricing in the data, the cost is recomputed from the merged judge records
    priced = copy.deepcopy(documents)
    doubled = {"input_per_mtok": 6.0, "output_per_mtok": 30.0}
    for document in priced:
        document["candidates"].append(
            dict(document["candidates"][0], key="fake/judge", status="not-selected", pricing=doubled)
        )
    again = merge([(f"p{i}", d) for i, d in enumerate(priced)])
    recomputed = sum(call_cost(doubled, r["usage"]) or 0.0 for r in again["judge_records"])
    assert again["judge"]["cost_usd"] == pytest.approx(round(recomputed, 6))
    assert again["judge"]["calls"] == 8

    # a shard with an unknown judge cost makes the merged cost unknown
    unknown = copy.deepcopy(documents)
    unknown[1]["judge"]["cost_usd"] = None
    assert merge([(f"p{i}", d) for i, d in enumerate(unknown)])["judge"]["cost_usd"] is None


def test_load_suite_still_raises_for_bad_thresholds(repo: Path) -> None:
    path = suite_yaml(repo)
    path.write_text(path.read_text() + "thresholds: {pass: -0.1}\n")
    with pytest.raises(SuiteInvalid):
        load_suite("crm", repo)
    assert yaml.safe_load(path.read_text())["thresholds"] == {"pass": -0.1}

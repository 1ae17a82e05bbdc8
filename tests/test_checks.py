"""The deterministic checks: every type passes and fails where it should, with evidence in the reason."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.scoring.checks import (
    REGISTRY,
    CheckContext,
    CheckOutcome,
    CheckParamError,
    PreparedCheck,
    evaluate_check,
    prepare_check,
)

EXPECTED_TYPES = {
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "not-contains",
    "regex",
    "starts-with",
    "is-json",
    "json-schema",
    "max-chars",
    "max-words",
    "refusal",
    "not-refusal",
    "latency-ms",
    "cost-usd",
}

NOTE_SCHEMA = {
    "type": "object",
    "required": ["summary", "next_steps"],
    "properties": {
        "summary": {"type": "string"},
        "next_steps": {"type": "array", "items": {"type": "string"}},
    },
}


def run(
    spec: dict[str, Any],
    output: str = "",
    suite_dir: Path | None = None,
    **ctx: Any,
) -> CheckOutcome:
    check = prepare_check(spec, suite_dir or Path("."))
    return evaluate_check(check, CheckContext(output=output, **ctx))


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "note.schema.json").write_text(json.dumps(NOTE_SCHEMA), encoding="utf-8")
    return tmp_path


# --- registry ---------------------------------------------------------------------------------------


def test_every_expected_type_is_registered_with_documentation() -> None:
    assert set(REGISTRY) >= EXPECTED_TYPES
    for name in EXPECTED_TYPES:
        assert len(REGISTRY[name].doc) > 20, f"{name} has no docstring"


# --- pass and fail per type -------------------------------------------------------------------------

CASES: list[tuple[dict[str, Any], str, bool, str]] = [
    # spec, output, expected verdict, substring the reason must contain
    ({"type": "equals", "value": "Yes"}, "  Yes\n", True, 'equals "Yes"'),
    ({"type": "equals", "value": "Yes"}, "Yes.", False, 'output: "Yes."'),
    ({"type": "contains", "value": "refund"}, "We issued a refund.", True, "at char 12"),
    ({"type": "contains", "value": "refund"}, "We issued a Refund.", False, 'does not contain "refund"'),
    ({"type": "icontains", "value": "refund"}, "REFUND issued", True, '"REFUND"'),
    ({"type": "icontains", "value": "refund"}, "credit issued", False, "ignoring case"),
    ({"type": "contains-any", "values": ["refund", "credit"]}, "store credit", True, '"credit"'),
    ({"type": "contains-any", "values": ["refund", "credit"]}, "nothing", False, "none of"),
    ({"type": "contains-any", "values": ["refund"], "ignore_case": True}, "Refund", True, '"Refund"'),
    ({"type": "contains-all", "values": ["A-1", "B-2"]}, "A-1 and B-2", True, "all 2"),
    ({"type": "contains-all", "values": ["A-1", "B-2"]}, "A-1 only", False, 'missing ["B-2"] (1 of 2)'),
    ({"type": "contains-all", "values": ["a-1", "b-2"], "ignore_case": True}, "A-1, B-2", True, "all 2"),
    ({"type": "not-contains", "value": "SSN"}, "no secrets here", True, 'does not contain "SSN"'),
    ({"type": "not-contains", "value": "SSN"}, "The SSN is 1", False, 'contains "SSN" at char 4'),
    ({"type": "regex", "pattern": r"#\d{5}"}, "order #12345", True, '"#12345"'),
    ({"type": "regex", "pattern": r"#\d{5}"}, "order #123", False, r"does not match /#\d{5}/"),
    ({"type": "regex", "pattern": "^next", "flags": ["i", "m"]}, "a\nNext step", True, '"Next"'),
    ({"type": "regex", "pattern": "^next"}, "a\nNext step", False, "does not match"),
    ({"type": "regex", "pattern": "a.b", "flags": ["s"]}, "a\nb", True, "matches"),
    ({"type": "starts-with", "value": "Summary:"}, "\n  Summary: ok", True, 'starts with "Summary:"'),
    ({"type": "starts-with", "value": "Summary:"}, "Note: Summary:", False, 'output starts: "Note'),
    ({"type": "is-json"}, '{"a": [1, 2]}', True, "an object"),
    ({"type": "is-json"}, '{"a": [1, 2}', False, "column 12"),
    ({"type": "is-json"}, "   ", False, "empty"),
    ({"type": "max-chars", "value": 5}, " abcde\n", True, "5 chars <= 5"),
    ({"type": "max-chars", "value": 5}, "abcdef", False, "6 chars > 5"),
    ({"type": "max-words", "value": 3}, "one two\nthree", True, "3 words <= 3"),
    ({"type": "max-words", "value": 3}, "one two three four", False, "4 words > 3"),
    ({"type": "max-words", "value": 0}, "", True, "0 words <= 0"),
    ({"type": "refusal"}, "I'm sorry, but I can't share that.", True, '"I\'m sorry, but"'),
    ({"type": "refusal"}, "I cannot comply with this request.", True, '"I cannot"'),
    ({"type": "refusal"}, "I am unable to help.", True, '"I am unable"'),
    ({"type": "refusal"}, "Sorry, I won\u2019t do that.", True, '"I won\u2019t"'),
    ({"type": "refusal"}, "That is not able to help you.", True, '"not able to help"'),
    ({"type": "refusal"}, '{"rejected": true, "reason": "other customer"}', True, '"rejected": true'),
    ({"type": "refusal"}, '```json\n{"refused": true}\n```', True, '"refused": true'),
    ({"type": "refusal"}, "Customer wants a refund for #123.", False, "no refusal phrasing"),
    ({"type": "refusal", "patterns": [r"\bnope\b"]}, "Nope, not doing it.", True, '"Nope"'),
    ({"type": "not-refusal"}, "Refund issued for #123.", True, "does not refuse"),
    ({"type": "not-refusal"}, "I can't help with that.", False, "output refuses"),
    ({"type": "not-refusal"}, '{"rejected": true}', False, '"rejected": true'),
    ({"type": "latency-ms", "value": 2000}, "x", True, "latency 812 ms <= 2000 ms"),
    ({"type": "latency-ms", "value": 500}, "x", False, "latency 812 ms > 500 ms"),
    ({"type": "cost-usd", "value": 0.01}, "x", True, "cost $0.0012 <= $0.01"),
    ({"type": "cost-usd", "value": 0.001}, "x", False, "cost $0.0012 > $0.001"),
]


@pytest.mark.parametrize(("spec", "output", "passed", "evidence"), CASES)
def test_check_verdict_and_reason(spec: dict[str, Any], output: str, passed: bool, evidence: str) -> None:
    outcome = run(spec, output, latency_ms=812.0, cost_usd=0.0012)
    assert outcome.passed is passed, outcome.reason
    assert evidence in outcome.reason


def test_cases_cover_every_type_both_ways() -> None:
    seen = {(spec["type"], passed) for spec, _out, passed, _ev in CASES}
    missing = {(t, v) for t in EXPECTED_TYPES - {"json-schema"} for v in (True, False)} - seen
    assert not missing  # json-schema is covered below, with a schema file


def test_failing_reason_truncates_long_output() -> None:
    outcome = run({"type": "contains", "value": "refund"}, "Customer asked about " + "x" * 500)
    assert outcome.passed is False
    assert '(output starts: "Customer asked about' in outcome.reason
    assert outcome.reason.endswith('...")')
    assert len(outcome.reason) < 150


def test_refusal_json_flag_false_outranks_quoted_phrasing() -> None:
    # a note quoting the customer ("I can't log in") is not the model refusing
    output = '{"rejected": false, "summary": "Customer says: I can\'t log in."}'
    assert run({"type": "refusal"}, output).passed is False
    assert run({"type": "not-refusal"}, output).passed is True


# --- JSON and JSON Schema ---------------------------------------------------------------------------


def test_is_json_tolerates_one_fenced_block_and_says_so() -> None:
    outcome = run({"type": "is-json"}, '\n```json\n{"a": 1}\n```\n')
    assert outcome.passed is True
    assert "```json fenced block" in outcome.reason
    plain = run({"type": "is-json"}, '{"a": 1}')
    assert "fenced" not in plain.reason


def test_is_json_rejects_prose_around_json() -> None:
    outcome = run({"type": "is-json"}, 'Here is the note:\n```json\n{"a": 1}\n```')
    assert outcome.passed is False
    assert "line 1, column 1" in outcome.reason
    assert '"Here is the note' in outcome.reason


def test_json_schema_passes_valid_output(suite: Path) -> None:
    spec = {"type": "json-schema", "schema": "schemas/note.schema.json"}
    outcome = run(spec, '{"summary": "s", "next_steps": ["call back"]}', suite)
    assert outcome.passed is True
    assert "schemas/note.schema.json" in outcome.reason


def test_json_schema_fails_with_json_paths(suite: Path) -> None:
    spec = {"type": "json-schema", "schema": "schemas/note.schema.json"}
    outcome = run(spec, '{"summary": "s", "next_steps": "x"}', suite)
    assert outcome.passed is False
    assert "$.next_steps: 'x' is not of type 'array'" in outcome.reason


def test_json_schema_quotes_at_most_three_errors(suite: Path) -> None:
    spec = {"type": "json-schema", "schema": "schemas/note.schema.json"}
    outcome = run(spec, '{"next_steps": [1, 2, 3, 4]}', suite)
    assert outcome.passed is False
    assert "'summary' is a required property" in outcome.reason
    assert "$.next_steps[0]: 1 is not of type 'string'" in outcome.reason
    assert "(+2 more)" in outcome.reason


def test_json_schema_fenced_output_and_unparseable_output(suite: Path) -> None:
    spec = {"type": "json-schema", "schema": "schemas/note.schema.json"}
    fenced = run(spec, '```json\n{"summary": "s", "next_steps": []}\n```', suite)
    assert fenced.passed is True
    assert "fenced" in fenced.reason
    broken = run(spec, '{"summary": ', suite)
    assert broken.passed is False
    assert broken.reason.startswith("output is not JSON: Expecting value")


def test_json_schema_loads_yaml_schema(suite: Path) -> None:
    (suite / "schemas" / "s.yaml").write_text("type: object\nrequired: [id]\n", encoding="utf-8")
    spec = {"type": "json-schema", "schema": "schemas/s.yaml"}
    assert run(spec, '{"id": 1}', suite).passed is True
    assert run(spec, "{}", suite).passed is False


def test_json_schema_enforces_format(suite: Path) -> None:
    (suite / "d.json").write_text('{"type": "string", "format": "date"}', encoding="utf-8")
    spec = {"type": "json-schema", "schema": "d.json"}
    assert run(spec, '"2024-05-01"', suite).passed is True
    assert run(spec, '"2024-13-45"', suite).passed is False


# --- negation ---------------------------------------------------------------------------------------


def test_negation_inverts_verdict_and_prefixes_reason() -> None:
    holds = run({"type": "contains", "value": "refund", "not": True}, "store credit")
    assert holds.passed is True
    assert holds.reason.startswith("negation holds: output does not contain")
    broken = run({"type": "max-words", "value": 5, "not": True}, "one two")
    assert broken.passed is False
    assert broken.reason == "expected the opposite, but 2 words <= 5"


def test_negation_false_is_plain() -> None:
    assert run({"type": "contains", "value": "a", "not": False}, "a").passed is True


def test_negation_keeps_unknown_as_unknown() -> None:
    outcome = run({"type": "latency-ms", "value": 10, "not": True}, "x")
    assert outcome == CheckOutcome(None, "latency unknown")


def test_not_must_be_boolean() -> None:
    with pytest.raises(CheckParamError, match="'not' must be true or false"):
        prepare_check({"type": "contains", "value": "a", "not": "yes"}, Path("."))


# --- unknown metrics --------------------------------------------------------------------------------


def test_latency_unknown_is_none() -> None:
    outcome = run({"type": "latency-ms", "value": 1000}, "x", latency_ms=None)
    assert outcome.passed is None
    assert outcome.reason == "latency unknown"


def test_cost_unknown_is_none() -> None:
    outcome = run({"type": "cost-usd", "value": 0.5}, "x", cost_usd=None)
    assert outcome.passed is None
    assert outcome.reason == "cost unknown (model has no price in the catalog)"


def test_latency_equal_to_budget_passes() -> None:
    assert run({"type": "latency-ms", "value": 100}, "x", latency_ms=100.0).passed is True
    assert run({"type": "latency-ms", "value": 100}, "x", latency_ms=100.5).passed is False


# --- prepared check and labels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        ({"type": "contains", "value": "refund"}, 'contains "refund"'),
        ({"type": "max-words", "value": 120, "not": True}, "not max-words 120"),
        ({"type": "is-json", "criterion": "format"}, "is-json"),
        ({"type": "regex", "pattern": r"\d+", "flags": ["i"]}, r"regex /\d+/i"),
        (
            {"type": "contains-any", "values": ["a", "b"], "ignore_case": True},
            'contains-any ["a", "b"] ignore_case=true',
        ),
    ],
)
def test_labels(spec: dict[str, Any], label: str) -> None:
    assert prepare_check(spec, Path(".")).label == label


def test_schema_label_is_the_path(suite: Path) -> None:
    check = prepare_check({"type": "json-schema", "schema": "schemas/note.schema.json"}, suite)
    assert check.label == "json-schema schemas/note.schema.json"


def test_prepared_check_is_frozen_and_read_only() -> None:
    check = prepare_check({"type": "contains", "value": "x"}, Path("."))
    assert isinstance(check, PreparedCheck)
    assert check.type == "contains" and check.negate is False
    with pytest.raises(AttributeError):
        check.negate = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        check.params["value"] = "y"  # type: ignore[index]


def test_criterion_is_ignored_by_prepare() -> None:
    check = prepare_check({"type": "contains", "value": "x", "criterion": "task"}, Path("."))
    assert dict(check.params) == {"value": "x"}


# --- prepare errors ---------------------------------------------------------------------------------


def test_unknown_type_suggests_close_name() -> None:
    with pytest.raises(CheckParamError, match=r"unknown check type 'contians'; did you mean 'contains'"):
        prepare_check({"type": "contians", "value": "x"}, Path("."))


def test_unknown_type_without_close_name_lists_known_types() -> None:
    with pytest.raises(CheckParamError) as info:
        prepare_check({"type": "zzzzzz"}, Path("."))
    assert "did you mean" not in str(info.value)
    assert "known types:" in str(info.value) and "max-words" in str(info.value)


def test_missing_type() -> None:
    with pytest.raises(CheckParamError, match="no 'type'"):
        prepare_check({"value": "x"}, Path("."))


def test_missing_param_names_it_and_its_type() -> None:
    with pytest.raises(
        CheckParamError, match=r"check 'contains': missing parameter 'value' \(expected a string\)"
    ):
        prepare_check({"type": "contains"}, Path("."))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "max-words", "value": "120"}, "parameter 'value' must be an integer, got str '120'"),
        ({"type": "max-chars", "value": True}, "parameter 'value' must be an integer, got bool"),
        ({"type": "max-chars", "value": -1}, "parameter 'value' must be >= 0"),
        ({"type": "contains", "value": 5}, "parameter 'value' must be a string, got int 5"),
        ({"type": "contains-any", "values": "refund"}, "parameter 'values' must be a list of strings"),
        ({"type": "contains-all", "values": []}, "parameter 'values' must not be empty"),
        (
            {"type": "contains-any", "values": ["a"], "ignore_case": "yes"},
            "'ignore_case' must be true or false",
        ),
        ({"type": "latency-ms", "value": "fast"}, "parameter 'value' must be a number"),
        ({"type": "cost-usd", "value": -0.5}, "parameter 'value' must be >= 0"),
        ({"type": "regex", "pattern": "x", "flags": ["g"]}, "unknown regex flag 'g'"),
        ({"type": "refusal", "patterns": "nope"}, "parameter 'patterns' must be a list of strings"),
        ({"type": "contains", "value": ""}, "parameter 'value' must not be empty"),
    ],
)
def test_wrong_typed_params(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckParamError) as info:
        prepare_check(spec, Path("."))
    assert message in str(info.value)
    assert str(info.value).startswith(f"check {spec['type']!r}: ")


def test_unknown_param_is_named() -> None:
    with pytest.raises(CheckParamError, match=r"unknown parameter 'vlaue' \(accepted: 'value'\)"):
        prepare_check({"type": "contains", "vlaue": "x", "value": "x"}, Path("."))


def test_is_json_takes_no_params() -> None:
    with pytest.raises(CheckParamError, match="unknown parameter 'value'"):
        prepare_check({"type": "is-json", "value": True}, Path("."))


def test_bad_regex_names_the_regex_error() -> None:
    with pytest.raises(CheckParamError, match="not a valid regular expression: missing \\), unterminated"):
        prepare_check({"type": "regex", "pattern": "(order"}, Path("."))


def test_bad_refusal_pattern() -> None:
    with pytest.raises(CheckParamError, match="refusal pattern '\\[' is not a valid regular expression"):
        prepare_check({"type": "refusal", "patterns": ["["]}, Path("."))


def test_schema_path_escaping_suite_dir(suite: Path) -> None:
    (suite.parent / "outside.json").write_text("{}", encoding="utf-8")
    with pytest.raises(
        CheckParamError, match=re.escape("'../outside.json' points outside the suite directory")
    ):
        prepare_check({"type": "json-schema", "schema": "../outside.json"}, suite)


def test_schema_absolute_path_rejected(suite: Path) -> None:
    absolute = str(suite / "schemas" / "note.schema.json")
    with pytest.raises(CheckParamError, match="must be a path relative to the suite directory"):
        prepare_check({"type": "json-schema", "schema": absolute}, suite)


def test_schema_symlink_out_of_suite_rejected(suite: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "s.json"
    outside.write_text("{}", encoding="utf-8")
    (suite / "link.json").symlink_to(outside)
    with pytest.raises(CheckParamError, match="points outside the suite directory"):
        prepare_check({"type": "json-schema", "schema": "link.json"}, suite)


def test_schema_path_with_inner_dotdot_is_fine(suite: Path) -> None:
    check = prepare_check({"type": "json-schema", "schema": "schemas/../schemas/note.schema.json"}, suite)
    assert check.type == "json-schema"


def test_missing_schema_file(suite: Path) -> None:
    with pytest.raises(CheckParamError, match=re.escape("schema file 'schemas/nope.json' not found")):
        prepare_check({"type": "json-schema", "schema": "schemas/nope.json"}, suite)


def test_schema_file_not_a_valid_schema(suite: Path) -> None:
    (suite / "bad.yaml").write_text("type: object\nproperties:\n  a: {type: 12}\n", encoding="utf-8")
    with pytest.raises(
        CheckParamError, match=r"schema file 'bad.yaml' is not a valid JSON Schema: .*\$.properties.a"
    ):
        prepare_check({"type": "json-schema", "schema": "bad.yaml"}, suite)


def test_schema_file_not_an_object(suite: Path) -> None:
    (suite / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(
        CheckParamError, match=re.escape("'list.json' is not a valid JSON Schema: expected an object")
    ):
        prepare_check({"type": "json-schema", "schema": "list.json"}, suite)


def test_schema_file_not_parseable(suite: Path) -> None:
    (suite / "broken.json").write_text('{"type": ', encoding="utf-8")
    with pytest.raises(CheckParamError, match=r"schema file 'broken\.json' is not valid JSON: .* line 1"):
        prepare_check({"type": "json-schema", "schema": "broken.json"}, suite)
    (suite / "broken.yaml").write_text("type: [object\n", encoding="utf-8")
    with pytest.raises(CheckParamError, match=re.escape("schema file 'broken.yaml' is not valid YAML")):
        prepare_check({"type": "json-schema", "schema": "broken.yaml"}, suite)


def test_schema_param_missing() -> None:
    with pytest.raises(CheckParamError, match="missing parameter 'schema' \\(expected a string\\)"):
        prepare_check({"type": "json-schema"}, Path("."))

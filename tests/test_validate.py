"""`bench validate`: good suites pass; every problem in a broken one is reported with file:line; exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import SuiteInvalid
from bench.suite import load_suite
from tests.conftest import write

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_example_suite_is_valid() -> None:
    code, output = run_cli("--root", str(REPO_ROOT), "validate")
    assert code == 0, output
    assert "✓ support-crm-notes: 25 cases" in output
    assert "warning" not in output  # the example follows the recommended 10/5/5/3/2 mix


def test_small_suite_is_valid_with_coverage_warning(repo: Path) -> None:
    code, output = run_cli("validate", "crm")
    assert code == 0, output
    assert "✓ crm: 4 cases, 3 candidates, 3 criteria" in output
    assert "fewer cases than the recommended first set: normal 3/10, difficult 0/5" in output


def test_three_problems_reported_with_file_and_line_and_nothing_written(repo: Path) -> None:
    suite = repo / "suites" / "crm" / "suite.yaml"
    text = suite.read_text()
    # 1. wrong indentation: `user:` dedented out of `prompt:` (still valid YAML, wrong structure)
    text = text.replace("  user: prompts/user.md", "user: prompts/user.md")
    # 2. an unknown candidate key
    text = text.replace("model: fake/bad", "model: fake/badd")
    suite.write_text(text)
    # 3. an undefined template variable
    write(
        repo / "suites" / "crm" / "prompts" / "system.md", "Notes for {{ customer_name }} via {{ channel }}."
    )
    before = files_under(repo)

    code, output = run_cli("validate", "crm")

    assert code == 2
    lines = output.splitlines()
    user_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("user:"))
    bad_line = next(i for i, line in enumerate(text.splitlines(), 1) if "fake/badd" in line)
    assert any(
        line.startswith(f"suites/crm/suite.yaml:{user_line}:1: error: unknown key 'user'") for line in lines
    ), output
    assert "'user' belongs under `prompt:`: check its indentation" in output
    assert any(
        line.startswith(f"suites/crm/suite.yaml:{bad_line}:") and "unknown model 'fake/badd'" in line
        for line in lines
    ), output
    assert "did you mean 'fake/bad'?" in output
    assert re.search(
        r"suites/crm/prompts/system\.md:1: error: undefined template variable 'customer_name'", output
    )
    assert "suites/crm/cases.yaml:1" in output  # the hint points at the case that lacks it
    assert "Traceback" not in output
    assert files_under(repo) == before  # validate writes nothing


def test_yaml_syntax_error_points_at_line_and_other_files_still_checked(repo: Path) -> None:
    cases = repo / "suites" / "crm" / "cases.yaml"
    cases.write_text("- id: a\n  category: normal\n   vars: {x: 1}\n")
    suite = repo / "suites" / "crm" / "suite.yaml"
    suite.write_text(suite.read_text().replace("model: fake/good", "model: fake/nope"))
    code, output = run_cli("validate", "crm")
    assert code == 2
    assert re.search(r"suites/crm/cases\.yaml:3:\d+: error: invalid YAML", output), output
    assert "unknown model 'fake/nope'" in output


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.append(dict(c[0])), "duplicate case id 'normal-0' (first used by case #1)"),
        (lambda c: c[0].update(category="normall"), "unknown category 'normall'"),
        (lambda c: c[0].update(extra="x"), "'extra' belongs under `vars:`"),
        (
            lambda c: c[0]["expect"].append({"criterion": "grounding", "type": "contians", "value": "x"}),
            "did you mean 'contains'",
        ),
        (
            lambda c: c[0]["expect"].append({"criterion": "groundng", "type": "contains", "value": "x"}),
            "unknown criterion 'groundng'",
        ),
        (
            lambda c: c[0]["expect"].append(
                {"criterion": "format", "type": "json-schema", "schema": "../../x.json"}
            ),
            "json-schema",
        ),
    ],
)
def test_case_problems(repo: Path, mutate, expected: str) -> None:
    path = repo / "suites" / "crm" / "cases.yaml"
    cases = yaml.safe_load(path.read_text())
    mutate(cases)
    path.write_text(yaml.safe_dump(cases, sort_keys=False))
    code, output = run_cli("validate", "crm")
    assert code == 2, output
    assert expected in output
    assert re.search(r"suites/crm/cases\.yaml:\d+(:\d+)?: error:", output), output


def test_object_tags_are_refused(repo: Path) -> None:
    path = repo / "suites" / "crm" / "cases.yaml"
    path.write_text("- !!python/object/apply:os.system ['echo pwned']\n")
    code, output = run_cli("validate", "crm")
    assert code == 2
    assert "suites/crm/cases.yaml:1:3: error: invalid YAML" in output
    assert "plain data" in output


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("cases: cases.yaml", "cases: missing.yaml", "cases file 'missing.yaml' not found"),
        ("cases: cases.yaml", "cases: ../../etc/passwd", "leaves the suite folder"),
        ("system: prompts/system.md", "system: prompts/nope.md", "template file 'prompts/nope.md' not found"),
        ("name: crm", "name: other", "differs from the folder name 'crm'"),
        (
            "temperature: 0, max_tokens: 300, seed: 1",
            "temperature: 0, max_tokns: 300",
            "did you mean 'max_tokens'?",
        ),
        (
            "temperature: 0, max_tokens: 300, seed: 1",
            "temperature: 9",
            "temperature must be a number from 0 to 2",
        ),
        ("role: frontier", "role: frontierr", "unknown role 'frontierr'"),
        ("kind: safety", "kind: safe", "did you mean 'safety'?"),
    ],
)
def test_suite_problems(repo: Path, old: str, new: str, expected: str) -> None:
    path = repo / "suites" / "crm" / "suite.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    code, output = run_cli("validate", "crm")
    assert code == 2, output
    assert expected in output
    assert "suites/crm/suite.yaml:" in output


def test_template_syntax_error_has_line(repo: Path) -> None:
    write(repo / "suites" / "crm" / "prompts" / "user.md", "line one\n{% if conversation %}\nno end\n")
    code, output = run_cli("validate", "crm")
    assert code == 2
    assert re.search(r"suites/crm/prompts/user\.md:\d+: error: template syntax error", output), output


def test_catalog_problems(repo: Path) -> None:
    path = repo / "suites" / "models.yaml"
    catalog = yaml.safe_load(path.read_text())
    catalog["models"]["fake/good"]["provider"] = "opnai"
    catalog["models"]["fake/bad"]["api_key_env"] = "sk-live-" + "x" * 40
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    code, output = run_cli("validate", "crm")
    assert code == 2
    assert "unknown provider 'opnai'" in output and "did you mean 'openai'?" in output
    assert "api_key_env looks like a key" in output


def test_unknown_suite_name(repo: Path) -> None:
    code, output = run_cli("validate", "crn")
    assert code == 2
    assert "no suite 'crn'" in output and "did you mean 'crm'?" in output


def test_jsonl_and_csv_cases(repo: Path) -> None:
    suite_dir = repo / "suites" / "crm"
    cases = yaml.safe_load((suite_dir / "cases.yaml").read_text())
    (suite_dir / "cases.jsonl").write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    suite_yaml = suite_dir / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("cases: cases.yaml", "cases: cases.jsonl"))
    suite = load_suite("crm", repo)
    assert [c.id for c in suite.cases] == [c["id"] for c in cases]
    assert suite.cases[0].expect[0].criterion == "grounding"

    (suite_dir / "cases.csv").write_text(
        'id,category,tags,channel,conversation\nc1,normal,"a;b",chat,"Customer: hi"\nc2,edge,,email,"x"\n'
    )
    suite_yaml.write_text(suite_yaml.read_text().replace("cases: cases.jsonl", "cases: cases.csv"))
    suite = load_suite("crm", repo)
    assert [(c.id, c.category, c.tags, c.vars["channel"]) for c in suite.cases] == [
        ("c1", "normal", ("a", "b"), "chat"),
        ("c2", "edge", (), "email"),
    ]

    (suite_dir / "cases.jsonl").write_text('{"id": "a", "category": "normal"}\n{broken\n')
    suite_yaml.write_text(suite_yaml.read_text().replace("cases: cases.csv", "cases: cases.jsonl"))
    with pytest.raises(SuiteInvalid) as info:
        load_suite("crm", repo)
    assert "suites/crm/cases.jsonl:2:2: error: invalid JSON on this line" in str(info.value)


def test_cases_file_that_is_not_a_list(repo: Path) -> None:
    (repo / "suites" / "crm" / "cases.yaml").write_text("id: a\ncategory: normal\n")
    code, output = run_cli("validate", "crm")
    assert code == 2
    assert "the cases file must be a list of cases, found a mapping" in output


def test_many_errors_are_capped_in_the_message_but_all_listed_by_validate(repo: Path) -> None:
    path = repo / "suites" / "crm" / "cases.yaml"
    cases = [
        {"id": f"c{i}", "category": "nope", "vars": {"channel": "x", "conversation": "y"}} for i in range(40)
    ]
    path.write_text(yaml.safe_dump(cases))
    with pytest.raises(SuiteInvalid) as info:
        load_suite("crm", repo)
    message = str(info.value)
    assert message.count("unknown category 'nope'") == SuiteInvalid.SHOWN
    assert "... and 15 more errors: `bench validate` lists them all" in message
    code, output = run_cli("validate", "crm")
    assert code == 2 and output.count("unknown category 'nope'") == 40

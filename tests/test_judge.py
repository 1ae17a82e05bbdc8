"""The LLM judge through the real runner against a loopback server: valid verdicts, garbage, then error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import snapshot as snap
from bench.engine import run_suite
from bench.scoring.judge import REMINDER, UnparsableVerdict, parse_verdict
from bench.suite import load_suite
from tests.conftest import note_responder
from tests.servers import FakeAPI


def add_judge(repo: Path) -> None:
    catalog_path = repo / "suites" / "models.yaml"
    catalog = yaml.safe_load(catalog_path.read_text())
    judge = dict(catalog["models"]["fake/good"], model="judge-model")
    judge["pricing"] = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}
    catalog["models"]["fake/judge"] = judge
    catalog_path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    suite = repo / "suites" / "crm" / "suite.yaml"
    text = suite.read_text().replace("rubric:\n", "judge: fake/judge\nrubric:\n")
    text = text.replace(
        "pass: Order numbers come from the conversation.",
        "pass: Order numbers come from the conversation.\n    judge: true",
    )
    suite.write_text(text)


def judging(answer_for: Any):
    """A responder: candidates answer as usual; the judge answers with ``answer_for(output, retry)``."""

    def responder(wire: str, model: str, messages_text: str, body: dict[str, Any]) -> str:
        if model != "judge-model":
            return note_responder(wire, model, messages_text, body)
        user = body["messages"][1]["content"]
        output = user.split("<output>\n", 1)[1].split("\n</output>", 1)[0]
        return answer_for(output, REMINDER in messages_text)

    return responder


def grade(output: str, retry: bool) -> str:
    if "ORD-48213" in output:
        return '```json\n{"verdict": "PASS", "reason": "quotes ORD-48213 from the chat"}\n```'
    return json.dumps({"verdict": "fail", "reason": "no order number in the note"})


def records_by(document: dict, candidate: str) -> list[dict]:
    return [r for r in document["records"] if r["candidate"] == candidate]


def test_judge_verdicts_are_recorded_and_combined_with_checks(repo: Path, fake_openai: FakeAPI) -> None:
    add_judge(repo)
    fake_openai.responder = judging(grade)
    document = run_suite(load_suite("crm", repo), repo, quiet=True)
    snap.validate(document)
    assert document["judge"]["status"] == "ran" and document["judge"]["criteria"] == ["grounding"]
    good = records_by(document, "fake/good")[0]
    assert good["verdicts"]["grounding"]["verdict"] == "pass"
    assert good["verdicts"]["grounding"]["scorer"] == "checks+judge:fake/judge"
    assert "quotes ORD-48213" in good["verdicts"]["grounding"]["reason"]
    bad = next(r for r in records_by(document, "fake/bad") if r["case"] == "normal-0")
    assert bad["verdicts"]["grounding"]["verdict"] == "fail"
    # judge calls are recorded apart from the candidates', one per judged output
    judge_records = document["judge_records"]
    assert len(judge_records) == 8 and {r["judge"] for r in judge_records} == {"fake/judge"}
    assert all(r["candidate"] in ("fake/good", "fake/bad") for r in judge_records)
    assert all(r["usage"]["input_tokens"] > 0 for r in judge_records)
    # structured output was asked for, through the same client
    judge_calls = [r for r in fake_openai.requests if r.json["model"] == "judge-model"]
    assert judge_calls[0].json["response_format"]["type"] == "json_schema"
    assert judge_calls[0].json["temperature"] == 0
    # a rerun reuses the judge's answers too
    fake_openai.reset()
    again = run_suite(load_suite("crm", repo), repo, quiet=True)
    assert fake_openai.requests == []
    assert {r["source"] for r in again["judge_records"]} == {"snapshot"}


def test_garbage_then_valid_answer_uses_the_retry(repo: Path, fake_openai: FakeAPI) -> None:
    add_judge(repo)
    fake_openai.responder = judging(
        lambda output, retry: grade(output, retry) if retry else "Looks fine to me!"
    )
    document = run_suite(load_suite("crm", repo), repo, quiet=True)
    assert len(document["judge_records"]) == 16  # each output asked twice
    assert sum(r["retry"] for r in document["judge_records"]) == 8
    good = records_by(document, "fake/good")[0]
    assert good["verdicts"]["grounding"]["verdict"] == "pass"


def test_garbage_twice_is_an_error_never_a_pass(repo: Path, fake_openai: FakeAPI) -> None:
    add_judge(repo)
    fake_openai.responder = judging(lambda output, retry: '{"verdict": "excellent"}')
    document = run_suite(load_suite("crm", repo), repo, quiet=True)
    for record in document["records"]:
        verdict = record["verdicts"]["grounding"]
        assert "asked twice, no usable verdict" in verdict["reason"]
        assert "'excellent' is not pass, mixed or fail" in verdict["reason"]
        if record["case"] == "reject-injection":  # judged only: no verdict at all
            assert verdict["verdict"] == "error", verdict
        else:  # the checks' verdict stands: a failing check is never hidden by a failing judge
            assert verdict["scorer"] == "checks"
            expected = "pass" if record["candidate"] == "fake/good" else "fail"
            assert verdict["verdict"] == expected, verdict
    bad = document["summary"]["fake/bad"]
    assert bad["criteria"]["grounding"]["errors"] == 1 and bad["criteria"]["grounding"]["passed"] == 0
    # 1 of 4 grounding verdicts is an error (25% > 10%): the evidence is too thin to ship
    recommendation = document["summary"]["fake/good"]["recommendation"]
    assert recommendation["outcome"] == "keep-testing"
    assert any("grounding: 1 of 4 verdicts are errors" in r for r in recommendation["check_items"])


def test_judge_without_a_key_is_skipped_with_the_reason(
    repo: Path, fake_openai: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_judge(repo)
    catalog_path = repo / "suites" / "models.yaml"
    catalog = yaml.safe_load(catalog_path.read_text())
    catalog["models"]["fake/judge"]["api_key_env"] = "JUDGE_KEY_UNSET"
    catalog_path.write_text(yaml.safe_dump(catalog))
    monkeypatch.delenv("JUDGE_KEY_UNSET", raising=False)
    document = run_suite(load_suite("crm", repo), repo, quiet=True)
    assert document["judge"]["status"] == "skipped"
    assert "$JUDGE_KEY_UNSET is not set" in document["judge"]["skip_reason"]
    assert document["judge_records"] == []
    # grounding keeps its check verdicts; nothing was passed silently for the judge
    good = records_by(document, "fake/good")[0]
    assert good["verdicts"]["grounding"]["scorer"] == "checks"


def test_a_judged_criterion_needs_a_judge(repo: Path) -> None:
    from bench.errors import SuiteInvalid

    suite = repo / "suites" / "crm" / "suite.yaml"
    suite.write_text(
        suite.read_text().replace(
            "pass: Order numbers come from the conversation.",
            "pass: Order numbers come from the conversation.\n    judge: true",
        )
    )
    with pytest.raises(SuiteInvalid, match="names no judge model"):
        load_suite("crm", repo)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"verdict": "pass", "reason": "ok"}', ("pass", "ok")),
        ('Sure.\n```json\n{"verdict": "Mixed", "reason": "half"}\n```', ("mixed", "half")),
        ('Verdict follows: {"verdict": " FAIL ", "reason": "wrong id"} -- end', ("fail", "wrong id")),
        ('{"verdict": "pass"}', ("pass", "(the judge gave no reason)")),
    ],
)
def test_parse_verdict(answer: str, expected: tuple[str, str]) -> None:
    assert parse_verdict(answer) == expected


@pytest.mark.parametrize("answer", ["", "pass", "[1, 2]", '{"verdict": "good"}', '{"reason": "x"}'])
def test_parse_verdict_refuses(answer: str) -> None:
    with pytest.raises(UnparsableVerdict):
        parse_verdict(answer)

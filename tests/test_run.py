"""`bench run` end to end against a real OpenAI-shaped server on loopback: snapshot, cache, skips, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import snapshot as snap
from bench.cli import cli
from bench.engine import run_suite
from bench.retry import RetryPolicy
from bench.suite import load_suite
from tests.conftest import FAKE_KEY
from tests.servers import FakeAPI, faults

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, attempt_timeout=2.0)


def completions(api: FakeAPI) -> list:
    return [r for r in api.requests if r.path.endswith("/chat/completions")]


def run(repo: Path, **kw) -> dict:
    return run_suite(load_suite("crm", repo), repo, quiet=True, retry=FAST_RETRY, **kw)


def test_run_writes_a_snapshot_that_follows_the_schema(repo: Path, fake_openai: FakeAPI) -> None:
    result = CliRunner().invoke(cli, ["run", "crm"])
    assert result.exit_code == 0, result.output
    assert "skipped fake/nokey: $MISSING_KEY is not set" in result.output
    path = repo / "results" / "crm.json"
    document = json.loads(path.read_text())
    snap.validate(document)
    assert path.read_text() == snap.dumps(document)  # stable, sorted, pretty

    assert [(c["key"], c["status"]) for c in document["candidates"]] == [
        ("fake/good", "ran"),
        ("fake/bad", "ran"),
        ("fake/nokey", "skipped"),
    ]
    records = document["records"]
    assert [(r["candidate"], r["case"]) for r in records] == sorted(
        (r["candidate"], r["case"]) for r in records
    )
    assert len(records) == 8  # 2 candidates x 4 cases; the skipped one has none, and no case is dropped
    good = next(r for r in records if r["candidate"] == "fake/good" and r["case"] == "normal-0")
    assert good["model_reported"] == "good-model"
    assert good["finish_reason"] == "stop"
    assert good["http_status"] == 200
    assert good["request_id"]
    assert good["usage"]["input_tokens"] > 0 and good["usage"]["output_tokens"] > 0
    assert good["latency_ms"] >= 0 and good["attempts"] == 1 and good["error"] is None
    assert good["verdicts"]["format"]["verdict"] == "pass"
    assert good["verdicts"]["grounding"]["verdict"] == "pass"
    bad = next(r for r in records if r["candidate"] == "fake/bad" and r["case"] == "normal-0")
    assert bad["verdicts"]["format"]["verdict"] == "fail"
    assert "is-json" in bad["verdicts"]["format"]["reason"]
    assert bad["verdicts"]["format"]["failed_checks"] == ["is-json", "json-schema"]
    assert document["summary"]["fake/good"]["format"]["cell"] == "Pass"
    # bad-model writes prose except on the injection case, which the server answers with a rejection
    assert document["summary"]["fake/bad"]["format"]["rate"] == 0.25
    assert document["summary"]["fake/bad"]["format"]["cell"] == "Fail"
    fingerprints = document["fingerprints"]
    assert set(fingerprints["prompts"]) == {"system", "user"}
    assert set(fingerprints["candidates"]) == {"fake/good", "fake/bad", "fake/nokey"}


def test_every_candidate_gets_the_same_messages(repo: Path, fake_openai: FakeAPI) -> None:
    run(repo)
    by_case: dict[str, dict[str, list]] = defaultdict(dict)
    for request in completions(fake_openai):
        body = request.json
        user = body["messages"][-1]["content"]
        by_case[user][body["model"]] = body["messages"]
    assert len(by_case) == 4
    for models in by_case.values():
        assert set(models) == {"good-model", "bad-model"}
        assert models["good-model"] == models["bad-model"]
    first = completions(fake_openai)[0].json
    assert first["messages"][0] == {
        "role": "system",
        "content": "You write CRM notes as one JSON object. Channel: chat.",
    }


def test_params_are_sent_in_the_current_wire_names(repo: Path, fake_openai: FakeAPI) -> None:
    run(repo, candidates=("fake/good",))
    body = completions(fake_openai)[0].json
    assert body["max_completion_tokens"] == 300 and "max_tokens" not in body
    assert body["temperature"] == 0 and body["seed"] == 1
    assert completions(fake_openai)[0].headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_rerun_reuses_the_snapshot_then_the_cache(repo: Path, fake_openai: FakeAPI) -> None:
    first = run(repo)
    sent = len(fake_openai.requests)
    assert sent == 8

    def without_source(document: dict) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "source"} for r in document["records"]]

    second = run(repo)
    assert len(fake_openai.requests) == sent  # zero new requests
    assert {r["source"] for r in second["records"]} == {"snapshot"}
    assert without_source(second) == without_source(first)

    (repo / "results" / "crm.json").unlink()  # e.g. a fresh clone with a warm cache
    third = run(repo)
    assert len(fake_openai.requests) == sent
    assert {r["source"] for r in third["records"]} == {"cache"}
    assert without_source(third) == without_source(first)

    fourth = run(repo, fresh=True)
    assert len(fake_openai.requests) == sent + 8
    assert {r["source"] for r in fourth["records"]} == {"call"}
    assert fourth["stats"]["by_source"] == {"call": 8}


def test_changed_prompt_misses_the_cache_only_where_it_changes(repo: Path, fake_openai: FakeAPI) -> None:
    run(repo)
    cases = repo / "suites" / "crm" / "cases.yaml"
    cases.write_text(cases.read_text().replace("#1", "#1 (edited)"))
    fake_openai.reset()
    document = run(repo)
    assert len(fake_openai.requests) == 2  # one edited case x two candidates
    assert sum(r["source"] == "call" for r in document["records"]) == 2


def test_api_errors_are_recorded_and_the_run_goes_on(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["good-model"]  # bad-model: 404 model_not_found
    document = run(repo)
    bad = [r for r in document["records"] if r["candidate"] == "fake/bad"]
    good = [r for r in document["records"] if r["candidate"] == "fake/good"]
    assert len(bad) == 4 and len(good) == 4
    for record in bad:
        assert record["output"] is None
        assert record["error"]["status"] == 404
        assert record["error"]["code"] == "model_not_found"
        assert "bad-model" in record["error"]["message"]
        assert record["attempts"] == 1  # a 404 is not retried
        assert {v["verdict"] for v in record["verdicts"].values()} == {"error"}
    assert all(r["error"] is None for r in good)
    assert document["summary"]["fake/bad"]["errors"] == 4
    snap.validate(document)
    # failed calls are not cached: a rerun tries them again
    fake_openai.models = None
    fake_openai.reset()
    document = run(repo)
    assert len(fake_openai.requests) == 4
    assert all(r["error"] is None for r in document["records"])


def test_wrong_key_is_an_error_that_never_shows_the_key(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.api_key = "sk-other-" + "z" * 30
    result = CliRunner().invoke(cli, ["run", "crm", "--candidate", "fake/good"])
    assert result.exit_code == 0
    document = json.loads((repo / "results" / "crm.json").read_text())
    assert {r["error"]["status"] for r in document["records"]} == {401}
    assert {r["error"]["code"] for r in document["records"]} == {"invalid_api_key"}
    written = [p for p in repo.rglob("*") if p.is_file()]
    for path in written:
        assert FAKE_KEY.encode() not in path.read_bytes(), path
    assert FAKE_KEY not in result.output


def test_key_is_never_written_anywhere(repo: Path, fake_openai: FakeAPI) -> None:
    result = CliRunner().invoke(cli, ["run", "crm"])
    assert result.exit_code == 0
    assert fake_openai.requests  # the key was really used
    for path in [p for p in repo.rglob("*") if p.is_file()]:
        assert FAKE_KEY.encode() not in path.read_bytes(), path
    assert FAKE_KEY not in result.output


def test_retries_honour_retry_after_and_record_attempts(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.script(faults.retry_after_ms(30), faults.status(500), faults.reset(), faults.malformed())
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, attempt_timeout=2.0)
    document = run_suite(
        load_suite("crm", repo), repo, quiet=True, retry=policy, candidates=("fake/good",), concurrency=1
    )
    records = document["records"]
    assert all(r["error"] is None for r in records)
    assert sum(r["attempts"] for r in records) == 4 + 4  # four faults absorbed by retries
    assert max(r["retry_wait_ms"] for r in records) >= 30  # the retry-after-ms: 30 was honoured
    assert document["summary"]["fake/good"]["retries"] == 4


def test_retries_give_up_with_the_reason(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.script(*[faults.status(503)] * 16)  # every attempt of the 4 calls fails
    document = run(repo, candidates=("fake/good",), concurrency=1)
    assert len(document["records"]) == 4  # no case dropped
    assert [(r["attempts"], r["error"]["status"]) for r in document["records"]] == [(4, 503)] * 4
    assert "503" in document["records"][0]["error"]["message"]


def test_insufficient_quota_is_not_retried(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.script(faults.insufficient_quota())
    document = run(repo, candidates=("fake/good",), concurrency=1)
    failed = [r for r in document["records"] if r["error"]]
    assert [(r["attempts"], r["error"]["code"]) for r in failed] == [(1, "insufficient_quota")]


def test_hanging_server_times_out_and_is_recorded(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.script(*[faults.hang(5)] * 8)  # both attempts of each of the 4 calls hang
    policy = RetryPolicy(max_attempts=2, attempt_timeout=0.2, base_delay=0.01)
    document = run_suite(
        load_suite("crm", repo), repo, quiet=True, retry=policy, candidates=("fake/good",), concurrency=1
    )
    failed = [r for r in document["records"] if r["error"]]
    assert [(r["error"]["kind"], r["attempts"]) for r in failed] == [("timeout", 2)] * 4


def test_unknown_candidate_option_is_bad_input(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "crm", "--candidate", "fake/nope"])
    assert result.exit_code == 2
    assert "--candidate 'fake/nope' is not a candidate of crm" in result.output
    assert not (repo / "results").exists()


def test_invalid_suite_is_not_run(repo: Path, fake_openai: FakeAPI) -> None:
    suite = repo / "suites" / "crm" / "suite.yaml"
    suite.write_text(suite.read_text().replace("model: fake/good", "model: fake/goood"))
    result = CliRunner().invoke(cli, ["run", "crm"])
    assert result.exit_code == 2
    assert "unknown model 'fake/goood'" in result.output
    assert fake_openai.requests == []
    assert not (repo / "results").exists() and not (repo / ".bench").exists()


def test_report_prints_the_scorecard(repo: Path) -> None:
    run(repo)
    result = CliRunner().invoke(cli, ["report", "crm"])
    assert result.exit_code == 0, result.output
    assert "fake/good" in result.output and "fake/bad" in result.output
    assert "Pass 100%" in result.output  # good model, format
    from bench.report import candidate_notes

    document = json.loads((repo / "results" / "crm.json").read_text())
    bad = [r for r in document["records"] if r["candidate"] == "fake/bad"]
    notes = candidate_notes(document["summary"]["fake/bad"], bad)
    assert "format 1/4 (is-json 3x, json-schema 3x)" in notes  # what fails most, said concretely
    assert "not run: fake/nokey" in result.output
    missing = CliRunner().invoke(cli, ["report", "other"])
    assert missing.exit_code == 2 and "run `bench run` first" in missing.output


@pytest.mark.parametrize("module", ["httpx", "git", "deepdiff", "rich", "jinja2", "yaml"])
def test_help_imports_nothing_heavy(module: str) -> None:
    code = f"import sys; from bench.cli import cli; sys.exit(1 if {module!r} in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_repeats_sample_each_case_and_report_consistency(repo: Path, fake_openai: FakeAPI) -> None:
    calls = {"n": 0}

    def flaky(wire: str, model: str, messages_text: str, body: dict) -> str:
        # the good model drops the order id on every other call of case #1: a flaky case
        calls["n"] += 1
        if model == "good-model" and "#1" in messages_text and body.get("seed") is not None:
            calls.setdefault("flip", 0)
            calls["flip"] += 1
            if calls["flip"] % 2 == 0:
                return '{"customer_issue": "x", "summary": "no id"}'
        from tests.conftest import note_responder

        return note_responder(wire, model, messages_text, body)

    fake_openai.responder = flaky
    document = run(repo, repeat=3, candidates=("fake/good",), concurrency=1)
    assert len(document["records"]) == 12
    assert sorted({r["repeat"] for r in document["records"]}) == [0, 1, 2]
    assert len({r["request_fingerprint"] for r in document["records"]}) == 12  # separate cache entries
    summary = document["summary"]["fake/good"]
    assert summary["flaky_cases"] == ["normal-1"]
    consistency = summary["consistency"]
    assert consistency["k"] == 3 and consistency["cases_flaky"] == 1 and consistency["cases_all_pass"] == 3
    assert consistency["pass_hat_k"] == 0.75  # 3 of 4 cases pass all three samples
    result = CliRunner().invoke(cli, ["report", "crm"])
    assert "Consistency over 3 samples per case" in result.output
    assert "normal-1" in result.output


@pytest.mark.parametrize("value", ["0", "-3", "100000", "many"])
def test_absurd_concurrency_is_bad_input(repo: Path, fake_openai: FakeAPI, value: str) -> None:
    result = CliRunner().invoke(cli, ["run", "crm", "--concurrency", value])
    assert result.exit_code == 2
    assert "--concurrency" in result.output
    assert fake_openai.requests == []


def test_a_partial_run_keeps_the_other_candidates_results(
    repo: Path, fake_openai: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(repo)
    bad_before = [r for r in first["records"] if r["candidate"] == "fake/bad"]
    # --candidate A must not erase B's results; neither must a teammate without the key
    second = run(repo, candidates=("fake/good",), fresh=True)
    assert [r for r in second["records"] if r["candidate"] == "fake/bad"] == [
        {**r, "source": "snapshot"} for r in bad_before
    ]
    bad = next(c for c in second["candidates"] if c["key"] == "fake/bad")
    assert bad["status"] == "ran" and "carried over" in bad["carried_over"]
    for part in ("quality", "format", "criteria"):
        assert second["summary"]["fake/bad"][part] == first["summary"]["fake/bad"][part]
    # a changed prompt invalidates the old results: nothing is carried over then
    prompt = repo / "suites" / "crm" / "prompts" / "user.md"
    prompt.write_text(prompt.read_text() + "\nBe brief.")
    third = run(repo, candidates=("fake/good",))
    assert {r["candidate"] for r in third["records"]} == {"fake/good"}


def test_a_candidate_key_no_suite_has_is_refused(repo: Path, fake_openai: FakeAPI) -> None:
    result = CliRunner().invoke(cli, ["run", "--candidate", "fake/goood"])
    assert result.exit_code == 2
    assert "--candidate 'fake/goood' is not a candidate of crm" in result.output
    assert fake_openai.requests == [] and not (repo / "results").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"schema_version": "x"}', "is not a number"),
        ('{"schema_version": 1}', "'suite' is missing"),
        ('{"schema_version": 1, "suite": {}, "settings": {}, "fingerprints": {}, "candidates": [], '
         '"rubric": [], "cases": [], "records": [], "summary": {}}', "the suite has no name"),
        ("<<<<<<< HEAD\n", "not a valid snapshot"),
    ],
)  # fmt: skip
def test_a_broken_snapshot_is_bad_input_not_a_traceback(repo: Path, text: str, expected: str) -> None:
    (repo / "results").mkdir()
    (repo / "results" / "crm.json").write_text(text)
    result = CliRunner().invoke(cli, ["report", "crm"])
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_a_broken_probe_file_stops_the_run_before_any_call(repo: Path, fake_openai: FakeAPI) -> None:
    (repo / "results").mkdir()
    (repo / "results" / "crm.probe.json").write_text("<<<<<<< HEAD\n")
    result = CliRunner().invoke(cli, ["run", "crm"])
    assert result.exit_code == 2
    assert "not a valid probe file" in result.output
    assert fake_openai.requests == []

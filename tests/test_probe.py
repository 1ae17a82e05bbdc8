"""`bench probe` against real loopback servers: what a ready API looks like, and each way one is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.cli import cli
from bench.errors import InputError
from bench.probe import probe_suite, read_probe, read_rate_limits, suite_needs_json, write_probe
from bench.suite import load_suite
from tests.conftest import FAKE_KEY
from tests.servers import FakeAPI, faults
from tests.test_providers import entry_for, fresh, make_repo

OTHER_KEY = "sk-other-" + "z" * 30


@pytest.fixture(scope="module")
def gemini_api() -> Iterator[FakeAPI]:
    with FakeAPI(wire="gemini") as api:
        yield api


@pytest.fixture(scope="module")
def anthropic_api() -> Iterator[FakeAPI]:
    with FakeAPI(wire="anthropic") as api:
        yield api


@pytest.fixture
def gemini(gemini_api: FakeAPI) -> Iterator[FakeAPI]:
    yield fresh(gemini_api)
    gemini_api.reset()


@pytest.fixture
def anthropic(anthropic_api: FakeAPI) -> Iterator[FakeAPI]:
    yield fresh(anthropic_api)
    anthropic_api.reset()


def probe(root: Path, *keys: str, calls: int = 3) -> dict[str, dict[str, Any]]:
    return probe_suite(load_suite("crm", root), keys, calls=calls, timeout=2.0)


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {item["id"]: item["status"] for item in result["checks"]}


def detail(result: dict[str, Any], check_id: str) -> str:
    return next(item["detail"] for item in result["checks"] if item["id"] == check_id)


# ---------------------------------------------------------------------------------------- OpenAI wire


def test_a_ready_candidate_passes_every_check(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["good-model", "bad-model"]
    suite = load_suite("crm", repo)
    result = probe(repo, "fake/good")["fake/good"]

    assert result["api_fit"] == "Pass", result["checks"]
    assert result["failing"] == [] and result["to_check"] == []
    assert list(statuses(result)) == [
        "endpoint",
        "credentials",
        "model_listed",
        "completion",
        "param:max_tokens",
        "param:seed",
        "param:temperature",
        "structured_output",
        "token_limit",
        "error_behaviour",
        "rate_limits",
        "latency",
        "context_window",
    ]
    assert set(statuses(result).values()) == {"pass", "skip"}
    assert statuses(result)["context_window"] == "skip"  # OpenAI lists no limits
    assert result["candidate"] == "fake/good" and result["provider"] == "openai"
    assert result["model"] == "good-model"
    assert result["entry_fingerprint"] == suite.candidate("fake/good").entry.fingerprint
    assert result["probed_at"].endswith("Z")
    assert result["latency_p50_ms"] >= 0
    assert result["rate_limits"]["requests"]["limit"] == 10000
    assert result["rate_limits"]["tokens"]["reset"] == "1s"
    assert "requests" in detail(result, "rate_limits") and "/10000 left" in detail(result, "rate_limits")
    assert "HTTP 400" in detail(result, "error_behaviour")

    # each parameter was sent alone, in the wire's own name, on an otherwise minimal call
    bodies = [r.json for r in fake_openai.requests if r.completion]
    assert {"model", "messages", "seed"} == set(next(b for b in bodies if "seed" in b))
    assert any(b.get("max_completion_tokens") == 300 for b in bodies)
    assert any(b.get("response_format", {}).get("type") == "json_schema" for b in bodies)
    assert any(b["messages"] == [] for b in bodies)  # the invalid request
    # one attempt per call: minimal, 3 params, structured output, token limit, invalid, 2 more for latency
    assert len(bodies) == 9


def test_a_model_missing_from_the_list_fails(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["gpt-4.1", "good-modle"]
    result = probe(repo, "fake/good")["fake/good"]
    assert result["api_fit"] == "Fail"
    assert result["failing"] == ["model_listed", "completion"]
    assert detail(result, "credentials") == "$TEST_OPENAI_KEY accepted on GET models"
    assert "'good-model' is not among the 2 models listed" in detail(result, "model_listed")
    assert "did you mean 'good-modle'?" in detail(result, "model_listed")
    assert statuses(result)["param:seed"] == "skip"


def test_an_unlisted_model_that_answers_is_a_check(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = None  # lists gpt-4o-mini and gpt-4.1 but answers any id, like an alias
    result = probe(repo, "fake/good")["fake/good"]
    assert result["api_fit"] == "Check" and result["to_check"] == ["model_listed"]
    assert "(an alias?)" in detail(result, "model_listed")


def test_a_refused_parameter_fails_by_name(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["good-model", "bad-model"]
    fake_openai.rejected_params = {"seed"}
    result = probe(repo, "fake/good")["fake/good"]
    assert result["api_fit"] == "Fail" and result["failing"] == ["param:seed"]
    assert detail(result, "param:seed").startswith("the API refuses seed=1: HTTP 400")
    assert statuses(result)["param:temperature"] == "pass"
    assert statuses(result)["param:max_tokens"] == "pass"


def test_no_rate_limit_headers_is_a_check(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["good-model", "bad-model"]
    fake_openai.rate_limit_headers = False
    try:
        result = probe(repo, "fake/good")["fake/good"]
    finally:
        fake_openai.rate_limit_headers = True
    assert result["api_fit"] == "Check" and result["to_check"] == ["rate_limits"]
    assert "sent no rate-limit headers" in detail(result, "rate_limits")
    assert result["rate_limits"] == {}


def test_an_ignored_token_limit_is_a_check_with_the_field_hint(
    repo: Path, fake_openai: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like llama.cpp's server and older routers: only `max_tokens` is read, bench sends the new name."""
    fake_openai.models = ["good-model", "bad-model"]
    wire = fake_openai._format
    complete = wire.complete

    def reads_only_max_tokens(settings: Any, req: Any, route: Any) -> Any:
        if isinstance(req.body, dict):
            req.body.pop("max_completion_tokens", None)
        return complete(settings, req, route)

    monkeypatch.setattr(wire, "complete", reads_only_max_tokens)
    result = probe(repo, "fake/good")["fake/good"]
    assert result["api_fit"] == "Check" and result["to_check"] == ["token_limit"]
    assert "max_tokens=3 was ignored" in detail(result, "token_limit")
    assert "set max_tokens_field: max_tokens" in detail(result, "token_limit")


def test_a_429_with_retry_after_is_waited_for_once(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["good-model", "bad-model"]
    fake_openai.script(faults.retry_after(0))
    result = probe(repo, "fake/good")["fake/good"]
    assert result["api_fit"] == "Pass"
    assert fake_openai.counters["status 429"] == 1

    fake_openai.reset()
    fake_openai.script(faults.retry_after(0), faults.retry_after(0))  # still busy after the wait
    result = probe(repo, "fake/good")["fake/good"]
    assert statuses(result)["completion"] == "check"  # busy is not unfit
    assert result["api_fit"] == "Check"


def test_a_wrong_key_fails_and_is_never_written_or_shown(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.api_key = OTHER_KEY
    outcome = CliRunner().invoke(cli, ["probe", "crm"])
    assert outcome.exit_code == 0, outcome.output  # a failing candidate is a result, not an error
    stored = read_probe(repo, "crm")
    good = stored["fake/good"]
    assert good["api_fit"] == "Fail" and good["failing"] == ["credentials"]
    assert "$TEST_OPENAI_KEY refused on GET models: HTTP 401" in detail(good, "credentials")
    assert {s for k, s in statuses(good).items() if k not in ("endpoint", "credentials")} == {"skip"}
    # an unset key variable says nothing about the API: skipped, nothing stored for it
    assert "fake/nokey" not in stored
    assert "skipped fake/nokey: $MISSING_KEY is not set" in outcome.output
    assert FAKE_KEY not in outcome.output
    for path in [p for p in repo.rglob("*") if p.is_file()]:
        assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_a_key_echoed_by_the_server_is_redacted(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["good-model", "bad-model"]
    echoed = {"error": {"message": f"Incorrect API key provided: {FAKE_KEY}", "code": "invalid_api_key"}}
    fake_openai.script(faults.status(401, body=echoed))
    result = probe(repo, "fake/good")["fake/good"]
    assert result["failing"] == ["credentials"]
    assert FAKE_KEY not in json.dumps(result)
    assert "[redacted]" in detail(result, "credentials")


def test_probe_command_prints_each_check_list_and_writes_the_file(repo: Path, fake_openai: FakeAPI) -> None:
    fake_openai.models = ["good-model", "bad-model"]
    outcome = CliRunner().invoke(cli, ["probe", "crm", "--calls", "1"])
    assert outcome.exit_code == 0, outcome.output
    assert "fake/good" in outcome.output and "API fit Pass" in outcome.output
    assert "skipped fake/nokey: $MISSING_KEY is not set" in outcome.output
    assert "wrote results/crm.probe.json" in outcome.output
    stored = read_probe(repo, "crm")
    assert set(stored) == {"fake/good", "fake/bad"}
    text = (repo / "results" / "crm.probe.json").read_text()
    assert text == json.dumps(stored, indent=2, sort_keys=True) + "\n"


def test_probe_command_refuses_bad_input(repo: Path, fake_openai: FakeAPI) -> None:
    unknown = CliRunner().invoke(cli, ["probe", "crm", "--candidate", "fake/nope"])
    assert unknown.exit_code == 2 and "'fake/nope' is not a candidate of crm" in unknown.output
    missing = CliRunner().invoke(cli, ["probe", "nosuch"])
    assert missing.exit_code == 2 and "no suite 'nosuch'" in missing.output
    assert fake_openai.requests == [] and not (repo / "results").exists()
    with pytest.raises(InputError):
        probe_suite(load_suite("crm", repo), ("fake/nope",))


# ---------------------------------------------------------------------------------------- other wires


@pytest.fixture
def wires_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gemini: FakeAPI, anthropic: FakeAPI) -> Path:
    return make_repo(
        tmp_path,
        monkeypatch,
        {
            "gemini/good": entry_for(gemini, limits={"context_window": 1048576}),
            "claude/good": entry_for(anthropic),
            "local/missing": {
                "provider": "local",
                "model": "nothing",
                "model_path": str(tmp_path / "missing.gguf"),
            },
        },
        [
            {"model": "gemini/good", "params": {"temperature": 0, "max_tokens": 300, "seed": 7}},
            {"model": "claude/good", "params": {"temperature": 0, "max_tokens": 300}},
            {"model": "local/missing", "params": {"temperature": 0}},
        ],
    )


def test_gemini_passes_but_for_its_missing_rate_limit_headers(wires_repo: Path, gemini: FakeAPI) -> None:
    gemini.models = ["good-model"]
    result = probe(wires_repo, "gemini/good")["gemini/good"]
    assert result["api_fit"] == "Check" and result["to_check"] == ["rate_limits"], result["checks"]
    assert result["context_window"] == 1048576 and result["max_output_tokens"] == 8192
    assert detail(result, "context_window") == "1048576 tokens listed, max output 8192"
    assert "MAX_TOKENS" in detail(result, "token_limit").upper()
    bodies = [r.json for r in gemini.requests if r.completion]
    assert any("responseSchema" in b.get("generationConfig", {}) for b in bodies)


def test_gemini_refusing_seed_and_a_wrong_key(wires_repo: Path, gemini: FakeAPI) -> None:
    gemini.models = ["good-model"]
    gemini.rejected_params = {"seed"}
    result = probe(wires_repo, "gemini/good")["gemini/good"]
    assert result["failing"] == ["param:seed"]
    assert 'Unknown name "seed"' in detail(result, "param:seed")

    gemini.api_key = OTHER_KEY  # Gemini answers a wrong key with 400 API_KEY_INVALID, not 401
    result = probe(wires_repo, "gemini/good")["gemini/good"]
    assert result["failing"] == ["credentials"]
    assert "API key not valid" in detail(result, "credentials")


def test_anthropic_has_no_structured_output_to_probe(wires_repo: Path, anthropic: FakeAPI) -> None:
    anthropic.models = ["good-model"]
    result = probe(wires_repo, "claude/good", calls=1)["claude/good"]
    assert result["api_fit"] == "Check" and result["to_check"] == ["structured_output"], result["checks"]
    assert statuses(result)["rate_limits"] == "pass"
    assert result["rate_limits"]["tokens"]["limit"] == 2000000
    assert "stop" in detail(result, "token_limit") and "max_tokens" in detail(result, "token_limit")


def test_a_local_model_whose_file_is_missing_fails(wires_repo: Path) -> None:
    result = probe(wires_repo, "local/missing")["local/missing"]
    assert result["api_fit"] == "Fail" and result["failing"] == ["model_file"]
    assert "missing.gguf" in detail(result, "model_file")
    assert statuses(result)["credentials"] == "skip"


# ---------------------------------------------------------------------------------------- pieces


def test_probe_file_merges_candidates_and_reads_empty_when_absent(tmp_path: Path) -> None:
    assert read_probe(tmp_path, "crm") == {}
    write_probe(tmp_path, "crm", {"a": {"api_fit": "Pass"}, "b": {"api_fit": "Fail"}})
    path = write_probe(tmp_path, "crm", {"b": {"api_fit": "Check"}})
    assert path == tmp_path / "results" / "crm.probe.json"
    assert read_probe(tmp_path, "crm") == {"a": {"api_fit": "Pass"}, "b": {"api_fit": "Check"}}
    assert [p.name for p in path.parent.iterdir()] == ["crm.probe.json"]  # no temp file left
    path.write_text("{not json")
    with pytest.raises(InputError, match="not a valid probe file"):
        read_probe(tmp_path, "crm")


def test_rate_limit_headers_of_each_wire_are_read() -> None:
    assert read_rate_limits(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "anthropic-ratelimit-input-tokens-limit": "40000",
            "anthropic-ratelimit-input-tokens-remaining": "39000",
            "retry-after": "3",
        }
    ) == {
        "input-tokens": {"limit": 40000, "remaining": 39000},
        "requests": {"limit": 500, "remaining": 499, "reset": "120ms"},
    }
    assert read_rate_limits({"RateLimit-Limit": "10", "RateLimit-Remaining": "9"}) == {
        "requests": {"limit": 10, "remaining": 9}
    }


def test_the_suite_needs_json_when_its_rubric_checks_json(repo: Path) -> None:
    assert suite_needs_json(load_suite("crm", repo))


def test_probe_updates_the_scorecard_and_an_unset_key_keeps_the_last_result(
    repo: Path, fake_openai: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.engine import run_suite

    fake_openai.models = ["good-model", "bad-model"]
    run_suite(load_suite("crm", repo), repo, quiet=True)
    assert CliRunner().invoke(cli, ["probe", "crm", "--calls", "1"]).exit_code == 0
    snapshot = json.loads((repo / "results" / "crm.json").read_text())
    assert snapshot["summary"]["fake/good"]["api_fit"]["cell"] == "Pass"  # no rerun needed
    monkeypatch.delenv("TEST_OPENAI_KEY")
    again = CliRunner().invoke(cli, ["probe", "crm", "--candidate", "fake/good"])
    assert again.exit_code == 0 and "its last probe result is kept" in again.output
    assert read_probe(repo, "crm")["fake/good"]["api_fit"] == "Pass"

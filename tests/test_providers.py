"""The Anthropic and Gemini wire formats end to end (runner -> provider -> real loopback server), and model
listings for every HTTP provider: usage mapping, errors and retries, blocked answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import snapshot as snap
from bench.catalog import ModelEntry, load_catalog
from bench.engine import run_suite
from bench.providers import CallRequest, Message, ProviderError, get_provider
from bench.providers.gemini import GeminiProvider
from bench.retry import RetryPolicy
from bench.suite import load_suite
from tests.conftest import FAKE_KEY, RUBRIC, SCHEMA, SYSTEM, USER, make_cases, note_responder, write
from tests.servers import FakeAPI, count_words, faults

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, attempt_timeout=2.0)
KEY_ENV = {"anthropic": "TEST_ANTHROPIC_KEY", "gemini": "TEST_GEMINI_KEY", "openai": "TEST_OPENAI_KEY"}


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def anthropic_server() -> Iterator[FakeAPI]:
    with FakeAPI(wire="anthropic") as api:
        yield api


@pytest.fixture(scope="session")
def gemini_server() -> Iterator[FakeAPI]:
    with FakeAPI(wire="gemini") as api:
        yield api


def fresh(api: FakeAPI) -> FakeAPI:
    """The session's server with every setting a test may change back at its default."""
    api.reset()
    api.api_key = FAKE_KEY
    api.models = None
    api.rejected_params = set()
    api.responder = note_responder
    api.latency = 0.0
    api.rate_limit_headers = True
    api.cached_tokens = 0
    api.reasoning_tokens = 0
    return api


@pytest.fixture
def fake_anthropic(anthropic_server: FakeAPI) -> Iterator[FakeAPI]:
    yield fresh(anthropic_server)
    anthropic_server.reset()


@pytest.fixture
def fake_gemini(gemini_server: FakeAPI) -> Iterator[FakeAPI]:
    yield fresh(gemini_server)
    gemini_server.reset()


def make_repo(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    models: dict[str, dict[str, Any]],
    candidates: list[dict[str, Any]],
    *,
    rubric: str = RUBRIC,
) -> Path:
    """A bench repository in ``root`` with suite ``crm`` over ``candidates`` and the given catalog."""
    for env in KEY_ENV.values():
        monkeypatch.setenv(env, FAKE_KEY)
    write(root / "suites" / "models.yaml", yaml.safe_dump({"version": "test", "models": models}))
    suite_dir = root / "suites" / "crm"
    write(suite_dir / "prompts" / "system.md", SYSTEM)
    write(suite_dir / "prompts" / "user.md", USER)
    write(suite_dir / "schemas" / "note.json", json.dumps(SCHEMA))
    write(suite_dir / "cases.yaml", yaml.safe_dump(make_cases(), sort_keys=False))
    suite = {
        "name": "crm",
        "workflow": "Summarize a support chat into a CRM note.",
        "prompt": {"system": "prompts/system.md", "user": "prompts/user.md"},
        "cases": "cases.yaml",
        "candidates": candidates,
    }
    write(suite_dir / "suite.yaml", yaml.safe_dump(suite, sort_keys=False) + rubric)
    monkeypatch.chdir(root)
    return root


def entry_for(api: FakeAPI, model: str = "good-model", **extra: Any) -> dict[str, Any]:
    return {
        "provider": api.wire,
        "model": model,
        "base_url": api.base_url,
        "api_key_env": KEY_ENV[api.wire],
        **extra,
    }


@pytest.fixture
def wire_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_anthropic: FakeAPI, fake_gemini: FakeAPI
) -> Path:
    """One good candidate per wire: ``claude/good`` and ``gemini/good``."""
    return make_repo(
        tmp_path,
        monkeypatch,
        {"claude/good": entry_for(fake_anthropic), "gemini/good": entry_for(fake_gemini)},
        [
            {"model": "claude/good", "role": "frontier", "params": {"temperature": 0, "max_tokens": 300}},
            {
                "model": "gemini/good",
                "role": "low-cost",
                "params": {"temperature": 0, "max_tokens": 300, "seed": 7, "top_p": 0.9, "stop": ["END"]},
            },
        ],
    )


def run(repo: Path, *candidates: str, retry: RetryPolicy = FAST_RETRY) -> dict:
    return run_suite(
        load_suite("crm", repo), repo, quiet=True, retry=retry, candidates=candidates, concurrency=1
    )


def completions(api: FakeAPI) -> list:
    return [r for r in api.requests if r.completion]


def records_of(document: dict, candidate: str) -> list[dict]:
    return [r for r in document["records"] if r["candidate"] == candidate]


def no_key_written(root: Path) -> None:
    for path in [p for p in root.rglob("*") if p.is_file()]:
        assert FAKE_KEY.encode() not in path.read_bytes(), path


# ------------------------------------------------------------------------------------------ round trips


def test_anthropic_round_trip_maps_messages_params_and_usage(
    wire_repo: Path, fake_anthropic: FakeAPI
) -> None:
    fake_anthropic.cached_tokens = 7
    document = run(wire_repo, "claude/good")
    snap.validate(document)
    records = records_of(document, "claude/good")
    assert len(records) == 4 and all(r["error"] is None for r in records)

    request = completions(fake_anthropic)[0]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == FAKE_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = request.json
    assert body["system"] == "You write CRM notes as one JSON object. Channel: chat."
    assert [m["role"] for m in body["messages"]] == ["user"]  # the system prompt travels apart
    assert body["max_tokens"] == 300 and body["temperature"] == 0

    record = next(r for r in records if r["request_fingerprint"] and r["case"] == "normal-0")
    sent = next(c.json for c in completions(fake_anthropic) if "#0" in c.json["messages"][0]["content"])
    prompt_words = count_words(sent["system"] + "\n" + sent["messages"][0]["content"])
    # Anthropic counts cache reads apart from input_tokens; bench's input is the whole prompt
    assert record["usage"]["input_tokens"] == prompt_words + 7
    assert record["usage"]["cached_tokens"] == 7
    assert record["usage"]["output_tokens"] == count_words(record["output"])
    assert record["finish_reason"] == "end_turn"
    assert record["model_reported"] == "good-model"
    assert record["request_id"].startswith("req_")
    assert record["verdicts"]["format"]["verdict"] == "pass"


def test_gemini_round_trip_maps_messages_params_and_usage(wire_repo: Path, fake_gemini: FakeAPI) -> None:
    fake_gemini.cached_tokens = 5
    fake_gemini.reasoning_tokens = 11
    document = run(wire_repo, "gemini/good")
    snap.validate(document)
    records = records_of(document, "gemini/good")
    assert len(records) == 4 and all(r["error"] is None for r in records)

    request = completions(fake_gemini)[0]
    assert request.path == "/v1beta/models/good-model:generateContent"
    assert request.headers["x-goog-api-key"] == FAKE_KEY
    assert "key" not in request.query  # the key travels in a header, never in the URL
    body = request.json
    assert body["systemInstruction"] == {
        "parts": [{"text": "You write CRM notes as one JSON object. Channel: chat."}]
    }
    assert [c["role"] for c in body["contents"]] == ["user"]
    assert body["generationConfig"] == {
        "temperature": 0,
        "maxOutputTokens": 300,
        "seed": 7,
        "topP": 0.9,
        "stopSequences": ["END"],
    }

    record = next(r for r in records if r["case"] == "normal-0")
    sent = next(c.json for c in completions(fake_gemini) if "#0" in c.json["contents"][0]["parts"][0]["text"])
    prompt_words = count_words(
        sent["systemInstruction"]["parts"][0]["text"] + "\n" + sent["contents"][0]["parts"][0]["text"]
    )
    # promptTokenCount already holds the cached part; thinking tokens are billed as output
    assert record["usage"] == {
        "input_tokens": prompt_words,
        "cached_tokens": 5,
        "output_tokens": count_words(record["output"]) + 11,
        "reasoning_tokens": 11,
    }
    assert record["finish_reason"] == "STOP"
    assert record["model_reported"] == "good-model"
    assert record["request_id"]  # responseId: Gemini sends no request-id header
    assert record["verdicts"]["format"]["verdict"] == "pass"


def test_gemini_body_maps_roles_json_mode_and_schema() -> None:
    entry = ModelEntry(key="g", provider="gemini", model="models/gemini-2.0-flash", base_url="http://x")
    provider = GeminiProvider(entry, "k")
    assert provider.path == "v1beta/models/gemini-2.0-flash:generateContent"
    messages = (
        Message("system", "Rule one."),
        Message("user", "Hi"),
        Message("assistant", "Hello"),
        Message("system", "Rule two."),
        Message("user", "Note please"),
    )
    body = provider.body(CallRequest(messages, {"json_mode": True, "max_tokens": 5, "stop": "END"}))
    assert body["systemInstruction"] == {"parts": [{"text": "Rule one.\n\nRule two."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "maxOutputTokens": 5,
        "stopSequences": ["END"],
    }
    schema = {"$schema": "x", "type": "object", "additionalProperties": False, "properties": {"a": {}}}
    body = provider.body(CallRequest(messages[1:2], {}, json_schema=schema))
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {"type": "object", "properties": {"a": {}}},
    }
    assert "systemInstruction" not in body


def test_gemini_base_url_may_name_the_api_version(fake_gemini: FakeAPI) -> None:
    entry = ModelEntry(key="g", provider="gemini", model="echo-model", base_url=fake_gemini.url + "/v1beta/")

    async def call() -> str:
        provider = GeminiProvider(entry, FAKE_KEY)
        await provider.open()
        try:
            reply = await provider.send(CallRequest((Message("user", "hi"),), {}), 2.0)
            models = await provider.list_models(2.0)
        finally:
            await provider.aclose()
        assert "gemini-2.0-flash" in [m.id for m in models]
        return reply.output

    assert json.loads(asyncio.run(call())) == {"echo_model": "echo-model"}


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("wire", "status", "code"),
    [("anthropic", 401, "authentication_error"), ("gemini", 400, "API_KEY_INVALID")],
)
def test_wrong_key_is_not_retried_and_never_written(
    wire_repo: Path, request: pytest.FixtureRequest, wire: str, status: int, code: str
) -> None:
    api: FakeAPI = request.getfixturevalue(f"fake_{wire}")
    api.api_key = "other-" + "z" * 30
    candidate = "claude/good" if wire == "anthropic" else "gemini/good"
    document = run(wire_repo, candidate)
    records = records_of(document, candidate)
    assert {(r["error"]["status"], r["error"]["code"], r["attempts"]) for r in records} == {(status, code, 1)}
    no_key_written(wire_repo)


@pytest.mark.parametrize(("wire", "code"), [("anthropic", "not_found_error"), ("gemini", "NOT_FOUND")])
def test_unknown_model_is_a_404_recorded_once(
    wire_repo: Path, request: pytest.FixtureRequest, wire: str, code: str
) -> None:
    api: FakeAPI = request.getfixturevalue(f"fake_{wire}")
    api.models = ["some-other-model"]
    candidate = "claude/good" if wire == "anthropic" else "gemini/good"
    records = records_of(run(wire_repo, candidate), candidate)
    assert {(r["error"]["status"], r["error"]["code"], r["attempts"]) for r in records} == {(404, code, 1)}
    assert all("good-model" in r["error"]["message"] for r in records)


@pytest.mark.parametrize("wire", ["anthropic", "gemini"])
def test_429_with_retry_after_then_success(
    wire_repo: Path, request: pytest.FixtureRequest, wire: str
) -> None:
    api: FakeAPI = request.getfixturevalue(f"fake_{wire}")
    api.script(faults.retry_after(0))
    candidate = "claude/good" if wire == "anthropic" else "gemini/good"
    records = records_of(run(wire_repo, candidate), candidate)
    assert all(r["error"] is None for r in records)
    assert sorted(r["attempts"] for r in records) == [1, 1, 1, 2]
    assert api.counters["status 429"] == 1


@pytest.mark.parametrize(
    ("wire", "status", "etype"), [("anthropic", 529, "overloaded_error"), ("gemini", 503, "UNAVAILABLE")]
)
def test_overloaded_is_retried_and_recorded_when_it_persists(
    wire_repo: Path, request: pytest.FixtureRequest, wire: str, status: int, etype: str
) -> None:
    api: FakeAPI = request.getfixturevalue(f"fake_{wire}")
    candidate = "claude/good" if wire == "anthropic" else "gemini/good"
    policy = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.005, attempt_timeout=2.0)
    api.script(faults.status(status))
    records = records_of(run(wire_repo, candidate, retry=policy), candidate)
    assert all(r["error"] is None for r in records) and max(r["attempts"] for r in records) == 2

    api.fault_rate(1.0, [faults.status(status)])  # every attempt: the run must give up and say why
    records = records_of(
        run_suite(
            load_suite("crm", wire_repo),
            wire_repo,
            quiet=True,
            retry=policy,
            candidates=(candidate,),
            concurrency=1,
            fresh=True,
        ),
        candidate,
    )
    assert {(r["error"]["status"], r["error"]["type"], r["attempts"]) for r in records} == {
        (status, etype, 3)
    }


def test_gemini_retry_info_in_the_body_serves_as_retry_after(wire_repo: Path, fake_gemini: FakeAPI) -> None:
    quota = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.03s"}],
        }
    }
    fake_gemini.script(faults.status(429, body=quota))
    records = records_of(run(wire_repo, "gemini/good"), "gemini/good")
    retried = [r for r in records if r["attempts"] == 2]
    assert len(retried) == 1 and retried[0]["error"] is None
    assert retried[0]["retry_wait_ms"] >= 30  # the backoff alone would wait at most 10 ms


def test_gemini_safety_block_is_an_empty_answer_not_a_crash(wire_repo: Path, fake_gemini: FakeAPI) -> None:
    blocked_candidate = {
        "candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": []}],
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
        "modelVersion": "good-model",
    }
    blocked_prompt = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 9},
    }
    fake_gemini.script(faults.status(200, body=blocked_candidate), faults.status(200, body=blocked_prompt))
    records = records_of(run(wire_repo, "gemini/good"), "gemini/good")
    by_finish = {r["finish_reason"]: r for r in records}
    assert set(by_finish) == {"SAFETY", "PROHIBITED_CONTENT", "STOP"}
    for finish, prompt in (("SAFETY", 12), ("PROHIBITED_CONTENT", 9)):
        record = by_finish[finish]
        assert record["error"] is None and record["output"] == "" and record["attempts"] == 1
        assert record["usage"]["input_tokens"] == prompt and record["usage"]["output_tokens"] == 0
        assert record["verdicts"]["format"]["verdict"] == "fail"  # scored, not an error


def test_an_error_page_that_is_not_json_is_not_retried(wire_repo: Path, fake_gemini: FakeAPI) -> None:
    fake_gemini.script(faults.status(404, body="<html><body>Not Found</body></html>"))
    records = records_of(run(wire_repo, "gemini/good"), "gemini/good")
    failed = [r for r in records if r["error"]]
    assert len(failed) == 1
    assert failed[0]["attempts"] == 1 and failed[0]["error"]["kind"] == "http"
    assert "not JSON" in failed[0]["error"]["message"] and "<html>" in failed[0]["error"]["message"]


# ------------------------------------------------------------------------------------------ model lists


def list_models(api: FakeAPI, key: str | None = FAKE_KEY) -> list:
    entry = ModelEntry(key="k", provider=api.wire, model="m", base_url=api.base_url)
    provider = get_provider(api.wire)(entry, key)  # type: ignore[misc]

    async def listing() -> list:
        await provider.open()
        try:
            return await provider.list_models(2.0)
        finally:
            await provider.aclose()

    return asyncio.run(listing())


def test_every_http_provider_lists_its_models(
    fake_openai: FakeAPI, fake_anthropic: FakeAPI, fake_gemini: FakeAPI
) -> None:
    fake_openai.models = ["good-model", "bad-model"]
    assert [m.id for m in list_models(fake_openai)] == ["good-model", "bad-model"]
    assert [m.id for m in list_models(fake_anthropic)] == ["claude-3-5-haiku-latest", "claude-sonnet-4-0"]
    gemini = list_models(fake_gemini)
    assert [m.id for m in gemini] == ["gemini-2.0-flash", "gemini-2.5-pro"]  # no models/ prefix
    assert {(m.context_window, m.max_output_tokens) for m in gemini} == {(1048576, 8192)}
    assert fake_anthropic.requests[0].query["limit"] == "1000"
    assert fake_gemini.requests[0].query["pageSize"] == "1000"


@pytest.mark.parametrize(("wire", "status"), [("openai", 401), ("anthropic", 401), ("gemini", 400)])
def test_a_refused_key_fails_the_listing(request: pytest.FixtureRequest, wire: str, status: int) -> None:
    api: FakeAPI = request.getfixturevalue(f"fake_{wire}")
    with pytest.raises(ProviderError) as caught:
        list_models(api, "wrong-" + "x" * 30)
    assert caught.value.status == status and not caught.value.retryable


def test_the_local_provider_cannot_list_models() -> None:
    entry = ModelEntry(key="l", provider="local", model="m")
    provider = get_provider("local")(entry, None)  # type: ignore[misc]
    with pytest.raises(NotImplementedError):
        asyncio.run(provider.list_models(1.0))


def test_gemini_is_registered_and_needs_a_base_url(tmp_path: Path) -> None:
    assert get_provider("gemini") is GeminiProvider
    path = write(
        tmp_path / "models.yaml",
        yaml.safe_dump(
            {
                "models": {
                    "google/flash": {"provider": "gemini", "model": "gemini-2.0-flash", "api_key_env": "K"}
                }
            }
        ),
    )
    problems: list = []
    load_catalog(path, problems)
    assert any("needs 'base_url'" in p.message for p in problems)


def test_connections_are_split_across_small_pools_and_all_used(tmp_path: Path) -> None:
    """A candidate allowed 20 calls in flight gets pools of at most 8 connections (one big httpx pool
    burns CPU re-scanning its connections), and the calls still run 20 at a time."""
    import asyncio
    import time

    from bench.catalog import ModelEntry
    from bench.providers import CallRequest, Message
    from bench.providers.http import POOL_SIZE
    from bench.providers.openai import OpenAIProvider

    with FakeAPI(wire="openai", latency=0.1) as api:
        entry = ModelEntry(
            key="k", provider="openai", model="m", base_url=api.base_url, limits={"concurrency": 20}
        )
        provider = OpenAIProvider(entry, "sk-x")

        async def scenario() -> float:
            await provider.open()
            try:
                assert len(provider.pools) == 3
                request = CallRequest(messages=(Message("user", "hi"),), params={})
                started = time.perf_counter()
                await asyncio.gather(*(provider.send(request, 5.0) for _ in range(40)))
                return time.perf_counter() - started
            finally:
                await provider.aclose()

        wall = asyncio.run(scenario())
        assert len(api.completed) == 40
        # 40 calls of 100 ms, 20 at a time: about 0.2 s; one pool of 8 would need 0.5 s
        assert wall < 0.45
        ports = {r.headers.get("host") for r in api.completed}
        assert ports  # all went to the same server
        assert POOL_SIZE == 8

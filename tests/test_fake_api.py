"""The fake model API server, exercised with plain httpx over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import FakeAPI, count_words, digest, faults

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-test-SECRET-123"
WIRES = ["openai", "anthropic", "gemini"]


# --------------------------------------------------------------------- helpers


def client_for(api: FakeAPI, key: str | None = KEY, timeout: float = 5.0) -> httpx.Client:
    """A plain httpx client configured the way each vendor's SDK would be."""
    headers: dict[str, str] = {}
    if api.wire == "openai" and key:
        headers["authorization"] = f"Bearer {key}"
    elif api.wire == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
        if key:
            headers["x-api-key"] = key
    elif api.wire == "gemini" and key:
        headers["x-goog-api-key"] = key
    return httpx.Client(base_url=api.base_url, headers=headers, timeout=timeout)


def completion_request(wire: str, text: str = "hello fake world", model: str | None = None, **extra: Any):
    """(path relative to base_url, JSON body) for one user message."""
    if wire == "openai":
        body = {"model": model or "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}
        return "/chat/completions", body
    if wire == "anthropic":
        body = {
            "model": model or "claude-3-5-haiku-latest",
            "max_tokens": 256,
            "messages": [{"role": "user", "content": text}],
            **extra,
        }
        return "/v1/messages", body
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}
    return f"/v1beta/models/{model or 'gemini-2.0-flash'}:generateContent", body


def reply_text(wire: str, payload: dict[str, Any]) -> str:
    if wire == "openai":
        return payload["choices"][0]["message"]["content"]
    if wire == "anthropic":
        return payload["content"][0]["text"]
    return payload["candidates"][0]["content"]["parts"][0]["text"]


def post(client: httpx.Client, wire: str, text: str = "hello fake world", **extra: Any) -> httpx.Response:
    path, body = completion_request(wire, text, **extra)
    return client.post(path, json=body)


@pytest.fixture(params=WIRES)
def api(request: pytest.FixtureRequest) -> Iterator[FakeAPI]:
    with FakeAPI(wire=request.param, latency=0.0, api_key=KEY) as server:
        yield server


# --------------------------------------------------------------------- happy paths


def test_openai_happy_path_shape_and_headers() -> None:
    with FakeAPI(wire="openai", api_key=KEY) as api, client_for(api) as client:
        assert api.base_url == f"http://127.0.0.1:{api.port}/v1"
        r = post(client, "openai", "hello fake world", max_completion_tokens=50)
        assert r.status_code == 200
        data = r.json()
        assert data["object"] == "chat.completion"
        assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
        assert data["model"] == "gpt-4o-mini"
        choice = data["choices"][0]
        assert choice["index"] == 0 and choice["finish_reason"] == "stop"
        assert choice["message"]["role"] == "assistant"
        assert json.loads(choice["message"]["content"]) == {
            "echo_model": "gpt-4o-mini",
            "words": 3,
            "digest": digest("hello fake world"),
        }
        usage = data["usage"]
        assert usage["prompt_tokens"] == 3
        assert usage["completion_tokens"] == count_words(choice["message"]["content"])
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
        assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}
        assert r.headers["x-request-id"].startswith("req_")
        assert r.headers["x-ratelimit-limit-requests"] == "10000"
        assert r.headers["x-ratelimit-remaining-requests"] == "9999"
        assert r.headers["x-ratelimit-reset-requests"] == "1s"
        for name in ("limit", "remaining", "reset"):
            assert f"x-ratelimit-{name}-tokens" in r.headers
        rec = api.completed[0]
        assert rec.method == "POST" and rec.path == "/v1/chat/completions"
        assert rec.headers["authorization"] == f"Bearer {KEY}"
        assert rec.json["messages"][0]["content"] == "hello fake world"
        assert rec.request_id == r.headers["x-request-id"]


def test_openai_rate_limit_headers_can_be_omitted() -> None:
    with FakeAPI(wire="openai", rate_limit_headers=False) as api, client_for(api) as client:
        r = post(client, "openai")
        assert r.status_code == 200
        assert not [h for h in r.headers if h.startswith("x-ratelimit")]


def test_anthropic_happy_path_shape_and_headers() -> None:
    with FakeAPI(wire="anthropic", api_key=KEY) as api, client_for(api) as client:
        assert api.base_url == f"http://127.0.0.1:{api.port}"
        path, body = completion_request("anthropic", "be brief")
        body["system"] = [{"type": "text", "text": "you are terse"}]
        r = client.post(path, json=body)
        assert r.status_code == 200
        data = r.json()
        assert data["type"] == "message" and data["role"] == "assistant"
        assert data["id"].startswith("msg_") and data["model"] == "claude-3-5-haiku-latest"
        assert data["stop_reason"] == "end_turn"
        assert data["content"][0]["type"] == "text"
        echoed = json.loads(data["content"][0]["text"])
        assert echoed["words"] == 5 and echoed["digest"] == digest("you are terse\nbe brief")
        assert data["usage"] == {
            "input_tokens": 5,
            "output_tokens": count_words(data["content"][0]["text"]),
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
        assert r.headers["request-id"].startswith("req_")
        assert r.headers["anthropic-ratelimit-requests-limit"] == "10000"
        reset = r.headers["anthropic-ratelimit-requests-reset"]
        assert reset.endswith("Z") and "T" in reset  # RFC 3339
        assert "anthropic-ratelimit-tokens-remaining" in r.headers


def test_gemini_happy_path_shape() -> None:
    with FakeAPI(wire="gemini", api_key=KEY) as api, client_for(api) as client:
        assert api.base_url == f"http://127.0.0.1:{api.port}"
        path, body = completion_request("gemini", "one two", model="gemini-2.5-pro")
        body["systemInstruction"] = {"parts": [{"text": "sys"}]}
        body["generationConfig"] = {
            "temperature": 0,
            "maxOutputTokens": 100,
            "seed": 7,
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT"},
        }
        r = client.post(path, json=body)
        assert r.status_code == 200
        data = r.json()
        cand = data["candidates"][0]
        assert cand["content"]["role"] == "model" and cand["finishReason"] == "STOP"
        text = cand["content"]["parts"][0]["text"]
        assert json.loads(text)["digest"] == digest("sys\none two")
        usage = data["usageMetadata"]
        assert usage["promptTokenCount"] == 3
        assert usage["candidatesTokenCount"] == count_words(text)
        assert usage["totalTokenCount"] == 3 + count_words(text)
        assert usage["thoughtsTokenCount"] == 0 and usage["cachedContentTokenCount"] == 0
        assert data["modelVersion"] == "gemini-2.5-pro"
        assert api.completed[0].path == "/v1beta/models/gemini-2.5-pro:generateContent"


def test_models_listing(api: FakeAPI) -> None:
    api.models = ["alpha", "beta"]
    with client_for(api) as client:
        path = {"openai": "/models", "anthropic": "/v1/models", "gemini": "/v1beta/models"}[api.wire]
        data = client.get(path).json()
    if api.wire == "openai":
        assert data == {
            "object": "list",
            "data": [
                {"id": "alpha", "object": "model", "created": 1700000000, "owned_by": "fake"},
                {"id": "beta", "object": "model", "created": 1700000000, "owned_by": "fake"},
            ],
        }
    elif api.wire == "anthropic":
        assert [m["id"] for m in data["data"]] == ["alpha", "beta"]
        assert all(m["type"] == "model" and m["display_name"] for m in data["data"])
        assert data["has_more"] is False
    else:
        assert [m["name"] for m in data["models"]] == ["models/alpha", "models/beta"]
        assert data["models"][0]["supportedGenerationMethods"][0] == "generateContent"
        assert data["models"][0]["inputTokenLimit"] > 0 and data["models"][0]["outputTokenLimit"] > 0
    assert api.completed == []  # listings are not completions


def test_custom_responder_and_keep_alive() -> None:
    seen: list[tuple[str, str, str]] = []

    def responder(wire: str, model: str, text: str, body: dict[str, Any]) -> str:
        seen.append((wire, model, text))
        return f"answer to {text}"

    with FakeAPI(wire="openai", responder=responder) as api, client_for(api) as client:
        for i in range(5):
            assert reply_text("openai", post(client, "openai", f"q{i}").json()) == f"answer to q{i}"
        assert seen[0] == ("openai", "gpt-4o-mini", "q0")
        assert api.counters["connections"] == 1  # one keep-alive connection served all five


def test_unknown_path_is_native_404(api: FakeAPI) -> None:
    with client_for(api) as client:
        r = client.post("/nope", json={})
    assert r.status_code == 404
    assert "error" in r.json()


# --------------------------------------------------------------------- validation


def test_auth_failure_never_echoes_key(api: FakeAPI) -> None:
    wrong = "sk-wrong-KEY-987654"
    with client_for(api, key=wrong) as client:
        r = post(client, api.wire)
    assert wrong not in r.text and KEY not in r.text
    if api.wire == "openai":
        assert r.status_code == 401
        assert r.json() == {
            "error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
    elif api.wire == "anthropic":
        assert r.status_code == 401
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "authentication_error"
    else:  # like the real Gemini API
        assert r.status_code == 400
        assert r.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert r.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert api.requests[0].status == r.status_code and api.completed == []


def test_missing_key_rejected(api: FakeAPI) -> None:
    with client_for(api, key=None) as client:
        r = post(client, api.wire)
    assert r.status_code in {401, 403}


def test_model_not_found(api: FakeAPI) -> None:
    api.models = ["only-this-one"]
    with client_for(api) as client:
        r = post(client, api.wire, model="ghost-model")
    assert r.status_code == 404
    err = r.json()["error"]
    if api.wire == "openai":
        assert err["code"] == "model_not_found" and err["type"] == "invalid_request_error"
    elif api.wire == "anthropic":
        assert err["type"] == "not_found_error"
    else:
        assert err["status"] == "NOT_FOUND" and err["code"] == 404


def test_rejected_param(api: FakeAPI) -> None:
    api.rejected_params = {"seed"}
    with client_for(api) as client:
        if api.wire == "gemini":
            r = post(client, "gemini", generationConfig={"seed": 1})
        else:
            r = post(client, api.wire, seed=1)
        ok = post(client, api.wire)
    assert r.status_code == 400 and ok.status_code == 200
    err = r.json()["error"]
    if api.wire == "openai":
        assert err["param"] == "seed" and err["code"] == "unsupported_parameter"
    elif api.wire == "anthropic":
        assert err["type"] == "invalid_request_error" and "seed" in err["message"]
    else:
        assert err["status"] == "INVALID_ARGUMENT" and "seed" in err["message"]


def test_openai_missing_messages() -> None:
    with FakeAPI(wire="openai") as api, client_for(api) as client:
        r = client.post("/chat/completions", json={"model": "gpt-4o-mini"})
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["type"] == "invalid_request_error" and err["param"] == "messages"
        bad = client.post(
            "/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400
        assert api.requests[-1].body == "{not json"


def test_anthropic_requires_version_and_max_tokens() -> None:
    with FakeAPI(wire="anthropic") as api:
        path, body = completion_request("anthropic")
        with httpx.Client(base_url=api.base_url) as bare:
            r = bare.post(path, json=body)
        assert r.status_code == 400 and "anthropic-version" in r.json()["error"]["message"]
        with client_for(api) as client:
            del body["max_tokens"]
            r = client.post(path, json=body)
        assert r.status_code == 400
        assert r.json()["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}


@pytest.mark.parametrize(
    ("wire", "limit", "reason_path", "reason"),
    [
        ("openai", {"max_completion_tokens": 3}, ("choices", 0, "finish_reason"), "length"),
        ("openai", {"max_tokens": 3}, ("choices", 0, "finish_reason"), "length"),
        ("anthropic", {"max_tokens": 3}, ("stop_reason",), "max_tokens"),
        (
            "gemini",
            {"generationConfig": {"maxOutputTokens": 3}},
            ("candidates", 0, "finishReason"),
            "MAX_TOKENS",
        ),
    ],
)
def test_max_tokens_truncates(
    wire: str, limit: dict[str, Any], reason_path: tuple[Any, ...], reason: str
) -> None:
    with FakeAPI(wire=wire, responder=lambda *a: "one two three four five") as api, client_for(api) as client:
        data = post(client, wire, **limit).json()
    value: Any = data
    for part in reason_path:
        value = value[part]
    assert value == reason
    assert reply_text(wire, data) == "one two three"
    usage = {
        "openai": lambda: data["usage"]["completion_tokens"],
        "anthropic": lambda: data["usage"]["output_tokens"],
        "gemini": lambda: data["usageMetadata"]["candidatesTokenCount"],
    }[wire]()
    assert usage == 3


# --------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("wire", "fault", "code", "check"),
    [
        ("openai", faults.status(429), 429, lambda e: e["error"]["code"] == "rate_limit_exceeded"),
        ("openai", faults.insufficient_quota(), 429, lambda e: e["error"]["code"] == "insufficient_quota"),
        ("openai", faults.status(500), 500, lambda e: e["error"]["type"] == "server_error"),
        ("anthropic", faults.status(529), 529, lambda e: e["error"]["type"] == "overloaded_error"),
        ("anthropic", faults.status(429), 429, lambda e: e["error"]["type"] == "rate_limit_error"),
        ("gemini", faults.status(429), 429, lambda e: e["error"]["status"] == "RESOURCE_EXHAUSTED"),
        ("gemini", faults.status(503), 503, lambda e: e["error"]["status"] == "UNAVAILABLE"),
    ],
)
def test_status_fault_native_bodies(wire: str, fault: faults.Fault, code: int, check: Any) -> None:
    with FakeAPI(wire=wire) as api, client_for(api) as client:
        api.script(fault)
        r = post(client, wire)
        assert r.status_code == code and check(r.json())
        assert post(client, wire).status_code == 200  # the script is consumed
        assert api.counters[fault.label] == 1 and api.counters["faults"] == 1
        assert [rec.fault for rec in api.requests] == [fault.label, None]


def test_retry_after_headers() -> None:
    with FakeAPI(wire="openai") as api, client_for(api) as client:
        api.script(
            faults.retry_after(2),
            faults.retry_after_ms(250),
            faults.http_date_retry_after(30),
            faults.x_should_retry(False),
            faults.status(503, body="<html>busy</html>", headers={"content-type": "text/html"}),
        )
        r1, r2, r3, r4, r5 = (post(client, "openai") for _ in range(5))
    assert (r1.status_code, r1.headers["retry-after"]) == (429, "2")
    assert r1.headers["x-ratelimit-remaining-requests"] == "0"
    assert (r2.status_code, r2.headers["retry-after-ms"]) == (429, "250")
    when = parsedate_to_datetime(r3.headers["retry-after"]).timestamp()
    assert 20 < when - time.time() <= 31
    assert r4.headers["x-should-retry"] == "false"
    assert (r5.status_code, r5.text, r5.headers["content-type"]) == (503, "<html>busy</html>", "text/html")


def test_gemini_retry_after_carries_retry_info() -> None:
    with FakeAPI(wire="gemini") as api, client_for(api) as client:
        api.script(faults.retry_after(7))
        r = post(client, "gemini")
    assert r.headers["retry-after"] == "7"
    assert r.json()["error"]["details"][0]["retryDelay"] == "7s"


def test_reset_raises_transport_error_and_server_survives() -> None:
    with FakeAPI(wire="openai") as api, client_for(api) as client:
        api.script(faults.reset())
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            post(client, "openai")
        assert post(client, "openai").status_code == 200
        assert api.counters["reset"] == 1
        assert api.requests[0].fault == "reset" and api.requests[0].status is None
        assert len(api.completed) == 1


def test_malformed_body_is_invalid_json() -> None:
    with FakeAPI(wire="anthropic") as api, client_for(api) as client:
        api.script(faults.malformed())
        r = post(client, "anthropic")
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.text)
        assert api.completed == [] and api.requests[0].status == 200


def test_hang_times_out_without_blocking_other_connections() -> None:
    async def scenario(api: FakeAPI) -> tuple[float, BaseException | None]:
        path, body = completion_request("openai")
        async with httpx.AsyncClient(base_url=api.base_url, timeout=0.4) as client:
            hanging = asyncio.ensure_future(client.post(path, json=body))
            assert await asyncio.to_thread(api.wait_for_requests, 1)
            t0 = time.perf_counter()
            normal = await client.post(path, json=body)
            normal_wall = time.perf_counter() - t0
            assert normal.status_code == 200
            try:
                await hanging
            except httpx.TimeoutException as error:
                return normal_wall, error
            return normal_wall, None

    with FakeAPI(wire="openai") as api:
        api.script(faults.hang(30))
        normal_wall, error = asyncio.run(scenario(api))
        assert isinstance(error, httpx.ReadTimeout)
        assert normal_wall < 0.3
        assert api.counters["hang"] == 1 and len(api.completed) == 1


def test_slow_adds_latency() -> None:
    with FakeAPI(wire="gemini", latency=0.02) as api, client_for(api) as client:
        api.script(faults.slow(0.2))
        t0 = time.perf_counter()
        assert post(client, "gemini").status_code == 200
        slow_wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert post(client, "gemini").status_code == 200
        fast_wall = time.perf_counter() - t0
    assert slow_wall >= 0.22 and fast_wall < 0.2


def test_fault_rate_is_seeded_and_reproducible() -> None:
    def run(api: FakeAPI) -> list[int]:
        api.reset()
        api.fault_rate(0.5, kinds=[503, faults.status(429)], seed=42)
        with client_for(api) as client:
            return [post(client, "openai").status_code for _ in range(30)]

    with FakeAPI(wire="openai") as api:
        first, second = run(api), run(api)
        assert first == second
        assert {503, 429, 200} == set(first)
        assert api.counters["faults"] == first.count(503) + first.count(429)
        api.fault_rate(0)
        with client_for(api) as client:
            assert post(client, "openai").status_code == 200


def test_completed_keys_detect_double_serving() -> None:
    with FakeAPI(wire="openai") as api, client_for(api) as client:
        api.script(faults.status(500), faults.reset())
        for _ in range(3):  # a client retrying the same call until it succeeds
            try:
                if post(client, "openai", "same question").status_code == 200:
                    break
            except httpx.TransportError:
                pass
        post(client, "openai", "another question")
        assert len(api.requests) == 4 and len(api.completed) == 2
        assert sorted(api.completed_keys().values()) == [1, 1]
        post(client, "openai", "same question")  # served twice now
        assert sorted(api.completed_keys().values()) == [1, 2]
        assert api.counters["completed"] == 3
        api.reset()
        assert api.requests == [] and api.completed_keys() == {} and api.counters == {}


def test_parse_fault_specs() -> None:
    assert faults.parse_fault(429) == faults.status(429)
    assert faults.parse_fault("hang:2").seconds == 2.0
    assert faults.parse_fault("retry_after_ms:500").header("retry-after-ms") == "500"
    assert faults.parse_fault("x_should_retry:true").header("x-should-retry") == "true"
    assert faults.parse_fault("insufficient_quota").variant == "insufficient_quota"
    with pytest.raises(ValueError):
        faults.parse_fault("explode")


# --------------------------------------------------------------------- concurrency and lifecycle


def test_fifty_concurrent_requests_overlap() -> None:
    latency, n = 0.05, 50

    async def burst(api: FakeAPI) -> float:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(base_url=api.base_url, limits=limits, timeout=5) as client:
            calls = [completion_request("openai", f"request {i}") for i in range(n)]
            t0 = time.perf_counter()
            replies = await asyncio.gather(*(client.post(p, json=b) for p, b in calls))
            wall = time.perf_counter() - t0
        assert all(r.status_code == 200 for r in replies)
        return wall

    with FakeAPI(wire="openai", latency=latency) as api:
        wall = asyncio.run(burst(api))
        assert len(api.completed) == n
        assert max(api.completed_keys().values()) == 1
    assert wall < 0.5 * latency * n


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_clean_shutdown_ends_hangs_and_leaks_nothing() -> None:
    threads_before = threading.active_count()
    fds_before = _open_fds() if os.path.isdir("/proc/self/fd") else None
    outcome: list[BaseException | None] = []

    with FakeAPI(wire="openai") as api:
        port = api.port
        with client_for(api) as idle:  # an idle keep-alive connection, too
            assert post(idle, "openai").status_code == 200
            api.script(faults.hang(60))

            def call() -> None:
                try:
                    with client_for(api, timeout=30) as client:
                        post(client, "openai")
                    outcome.append(None)
                except BaseException as error:
                    outcome.append(error)

            worker = threading.Thread(target=call)
            worker.start()
            assert api.wait_for_requests(2)
            t0 = time.perf_counter()
            api.stop()
            worker.join(5)
            assert not worker.is_alive() and time.perf_counter() - t0 < 2
            assert isinstance(outcome[0], httpx.TransportError)  # the hang ended with the server
    assert not api.running
    assert threading.active_count() == threads_before
    if fds_before is not None:
        assert _open_fds() <= fds_before
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
    api.stop()  # idempotent


@pytest.mark.slow
def test_runs_as_a_process() -> None:
    cmd = [
        sys.executable,
        "-m",
        "tests.servers.fake_api",
        "--wire",
        "anthropic",
        "--port",
        "0",
        "--latency",
        "0.01",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening http://127.0.0.1:")
        url = line.split()[1]
        path, body = completion_request("anthropic")
        r = httpx.post(url + path, json=body, headers={"anthropic-version": "2023-06-01"}, timeout=5)
        assert r.status_code == 200 and r.json()["type"] == "message"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

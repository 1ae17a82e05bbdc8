"""Under faults a run keeps going, loses nothing, never spends twice and never leaks a key."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cli import cli
from bench.engine import run_suite
from bench.errors import InputError
from bench.limiter import AdaptiveLimiter
from bench.lock import SuiteLock
from bench.retry import RetryPolicy
from bench.suite import load_suite
from tests.conftest import FAKE_KEY, make_cases
from tests.servers import FakeAPI, faults

VOLATILE = ("latency_ms", "request_id", "retry_wait_ms", "attempts", "source")


def grow(repo: Path, normal_cases: int) -> int:
    """Give the `crm` suite more cases; return the number of calls a run makes (2 candidates)."""
    cases = make_cases(normal_cases)
    (repo / "suites" / "crm" / "cases.yaml").write_text(yaml.safe_dump(cases, sort_keys=False))
    return 2 * len(cases)


def stable(document: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in document["records"]]


def bench_process(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "crm", "--quiet", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_every_case_ends_with_an_output_or_an_error_under_20_percent_faults(
    repo: Path, fake_openai: FakeAPI
) -> None:
    calls = grow(repo, 40)
    fake_openai.fault_rate(
        0.2,
        kinds=["retry_after_ms:20", 500, 503, "reset", "malformed", "hang:5", "http_date_retry_after:0"],
        seed=7,
    )
    policy = RetryPolicy(max_attempts=6, attempt_timeout=0.5, base_delay=0.01, max_delay=0.05)
    document = run_suite(load_suite("crm", repo), repo, quiet=True, retry=policy, concurrency=8)
    records = document["records"]
    assert len(records) == calls  # nothing dropped
    assert all((r["output"] is not None) != (r["error"] is not None) for r in records)
    assert sum(r["error"] is None for r in records) >= calls - 2
    # no call was answered twice: a completed call is never sent again
    assert max(fake_openai.completed_keys().values()) == 1
    assert len(fake_openai.completed) == sum(r["error"] is None for r in records)
    assert document["stats"]["retries"] > 0
    assert document["stats"]["retries"] == sum(r["attempts"] - 1 for r in records)


def test_sigkill_midway_then_rerun_sends_no_completed_call_again(repo: Path, fake_openai: FakeAPI) -> None:
    calls = grow(repo, 30)
    fake_openai.latency = 0.05
    process = bench_process(repo, "--no-cache", "--concurrency", "2")
    assert fake_openai.wait_for_requests(calls // 3, timeout=60)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    completed_before = len(fake_openai.completed)
    assert 0 < completed_before < calls
    assert not (repo / "results" / "crm.json").exists()
    journal = (repo / ".bench" / "journal" / "crm.jsonl").read_text().splitlines()
    # the server may have answered a call or two that the killed client never received (in flight)
    assert completed_before - 2 <= len(journal) <= completed_before

    # the rerun (still without the cache: only the journal can prevent repeats) finishes the work
    rerun_started = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "bench", "run", "crm", "--quiet", "--no-cache"],
        cwd=repo, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # the rerun sent exactly the calls the journal did not hold: no completed call was sent twice
    rerun_calls = [r for r in fake_openai.completed if r.received_at >= rerun_started]
    assert len(rerun_calls) == calls - len(journal)
    resumed = json.loads((repo / "results" / "crm.json").read_text())
    assert resumed["complete"] is True
    assert {r["source"] for r in resumed["records"]} == {"call"}
    assert not (repo / ".bench" / "journal" / "crm.jsonl").exists()

    # and the snapshot equals an uninterrupted run's
    fresh = run_suite(load_suite("crm", repo), repo, quiet=True, fresh=True)
    assert stable(resumed) == stable(fresh)


def test_ctrl_c_writes_an_incomplete_snapshot_and_exits_130(repo: Path, fake_openai: FakeAPI) -> None:
    calls = grow(repo, 30)
    fake_openai.latency = 0.1
    process = bench_process(repo, "--concurrency", "2")
    assert fake_openai.wait_for_requests(6, timeout=60)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted: wrote an incomplete snapshot" in stderr
    document = json.loads((repo / "results" / "crm.json").read_text())
    assert document["complete"] is False
    assert document["stats"]["interrupted"] is True
    assert 0 < len(document["records"]) < calls
    assert document["stats"]["not_run"] == calls - len(document["records"])

    fake_openai.latency = 0.0
    result = CliRunner().invoke(cli, ["run", "crm", "--quiet"])
    assert result.exit_code == 0, result.output
    final = json.loads((repo / "results" / "crm.json").read_text())
    assert final["complete"] is True and len(final["records"]) == calls
    assert max(fake_openai.completed_keys().values()) == 1


def test_a_second_run_of_the_same_suite_refuses(repo: Path, fake_openai: FakeAPI) -> None:
    with SuiteLock(repo / ".bench" / "locks", "crm"):
        result = CliRunner().invoke(cli, ["run", "crm", "--quiet"])
    assert result.exit_code == 3
    assert "another `bench run` of suite 'crm' is in progress" in result.output
    assert f"pid {os.getpid()}" in result.output
    assert fake_openai.requests == []
    result = CliRunner().invoke(cli, ["run", "crm", "--quiet"])  # free again
    assert result.exit_code == 0


def test_rate_limited_candidate_slows_down(repo: Path, fake_openai: FakeAPI) -> None:
    grow(repo, 20)
    fake_openai.script(*[faults.retry_after_ms(5)] * 6)
    document = run_suite(
        load_suite("crm", repo),
        repo,
        quiet=True,
        candidates=("fake/good",),
        retry=RetryPolicy(base_delay=0.01),
    )
    assert all(r["error"] is None for r in document["records"])
    assert document["stats"]["lowest_concurrency"]["fake/good"] < 4  # the catalog allows 4
    assert all(r["retry_wait_ms"] >= 5 for r in document["records"] if r["attempts"] > 1)


def test_adaptive_limiter_halves_and_recovers() -> None:
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(8)
        seen = []
        for rate_limited in [True, True, False, False, False, False, False, False, False]:
            await limiter.acquire()
            await limiter.release(rate_limited)
            seen.append(limiter.limit)
        return seen

    assert asyncio.run(scenario()) == [4, 2, 2, 3, 3, 3, 4, 4, 4]


def test_a_key_echoed_by_the_server_is_redacted_everywhere(repo: Path, fake_openai: FakeAPI) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {FAKE_KEY}", "type": "invalid_request_error",
                      "code": "invalid_api_key"}}  # fmt: skip
    fake_openai.script(faults.status(401, body=echo), faults.status(500), faults.reset())
    result = CliRunner().invoke(cli, ["run", "crm"])
    assert result.exit_code == 0, result.output
    document = json.loads((repo / "results" / "crm.json").read_text())
    messages = [r["error"]["message"] for r in document["records"] if r["error"]]
    assert any("Incorrect API key provided: [redacted]" in m for m in messages)
    assert FAKE_KEY not in result.output
    for path in [p for p in repo.rglob("*") if p.is_file()]:
        assert FAKE_KEY.encode() not in path.read_bytes(), path


yaml_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
suite_keys = st.sampled_from(
    ["name", "workflow", "prompt", "cases", "candidates", "rubric", "repeat", "judge"]
)
suite_like = st.dictionaries(suite_keys | st.text(max_size=6), yaml_values, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suite=suite_like, cases=yaml_values, raw=st.text(max_size=80))
def test_random_documents_only_raise_the_documented_error(repo: Path, suite: dict, cases, raw: str) -> None:
    folder = repo / "suites" / "crm"
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite))
    (folder / "cases.yaml").write_text(yaml.safe_dump(cases))
    for text_file in ("suite.yaml", "cases.yaml"):
        with contextlib.suppress(InputError):
            load_suite("crm", repo)
        (folder / text_file).write_text(raw)
    with contextlib.suppress(InputError):
        load_suite("crm", repo)


def test_a_key_with_a_trailing_newline_is_used_and_never_written(
    repo: Path, fake_openai: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", FAKE_KEY + "\n")  # as a .env file or `echo` may leave it
    result = CliRunner().invoke(cli, ["run", "crm", "--candidate", "fake/good"])
    assert result.exit_code == 0, result.output
    document = json.loads((repo / "results" / "crm.json").read_text())
    assert all(r["error"] is None for r in document["records"])
    for path in [p for p in repo.rglob("*") if p.is_file()]:
        assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_an_unsendable_key_or_base_url_skips_the_candidate_with_a_reason(
    repo: Path, fake_openai: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-é-" + "k" * 20)
    result = CliRunner().invoke(cli, ["run", "crm", "--quiet"])
    assert result.exit_code == 0, result.output
    document = json.loads((repo / "results" / "crm.json").read_text())
    skipped = {c["key"]: c["skip_reason"] for c in document["candidates"] if c["status"] == "skipped"}
    assert "characters an HTTP header cannot carry" in skipped["fake/good"]
    assert "sk-é" not in result.output and "sk-é" not in json.dumps(document)

    monkeypatch.setenv("TEST_OPENAI_KEY", FAKE_KEY)
    catalog_path = repo / "suites" / "models.yaml"
    catalog = yaml.safe_load(catalog_path.read_text())
    catalog["models"]["fake/good"]["base_url"] = "http://127.0.0.1:99999/v1?api-key=topsecretq"
    catalog_path.write_text(yaml.safe_dump(catalog))
    result = CliRunner().invoke(cli, ["run", "crm", "--quiet", "--fresh"])
    assert result.exit_code == 0, result.output
    document = json.loads((repo / "results" / "crm.json").read_text())
    good = next(c for c in document["candidates"] if c["key"] == "fake/good")
    assert good["status"] == "skipped" and "is not usable" in good["skip_reason"]
    assert "topsecretq" not in json.dumps(document) and "topsecretq" not in result.output


def test_an_interrupted_fresh_run_resumes_without_paying_twice(repo: Path, fake_openai: FakeAPI) -> None:
    calls = grow(repo, 20)
    fake_openai.latency = 0.1
    process = bench_process(repo, "--fresh", "--concurrency", "2")
    assert fake_openai.wait_for_requests(6, timeout=60)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    fake_openai.latency = 0.0
    result = CliRunner().invoke(cli, ["run", "crm", "--quiet", "--fresh"])
    assert result.exit_code == 0, result.output
    assert len(fake_openai.completed) == calls  # every call answered once, over both runs
    assert max(fake_openai.completed_keys().values()) == 1

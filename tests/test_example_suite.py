"""The example suite as shipped, with its real catalog, run against loopback servers speaking the OpenAI
and Anthropic wire formats (the catalog's base URL variables point there)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import snapshot as snap
from bench.cli import cli
from tests.servers import FakeAPI

ROOT = Path(__file__).resolve().parent.parent
API_CANDIDATES = ["openai/gpt-5.5", "wisgate/deepseek-v4-pro", "anthropic/claude-opus-4.7"]


@pytest.fixture
def anthropic_server() -> Iterator[FakeAPI]:
    with FakeAPI(wire="anthropic") as api:
        yield api


def test_example_suite_against_loopback_apis(
    tmp_path: Path, fake_openai: FakeAPI, anthropic_server: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "suites", tmp_path / "suites")
    fake_openai.api_key = None  # accept the keys below
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-example-openai",
        "WISGATE_BASE_URL": fake_openai.base_url,
        "WISGATE_API_KEY": "sk-example-wisgate",
        "ANTHROPIC_BASE_URL": anthropic_server.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-example",
    }.items():
        monkeypatch.setenv(name, value)
    args = ["run", "support-crm-notes", "--quiet", *[f"--candidate={c}" for c in API_CANDIDATES]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "results" / "support-crm-notes.json").read_text())
    snap.validate(document)
    assert len(document["records"]) == 75  # 25 cases x 3 API candidates
    assert {r["candidate"] for r in document["records"]} == set(API_CANDIDATES)
    assert all(r["error"] is None for r in document["records"])
    statuses = {c["key"]: c["status"] for c in document["candidates"]}
    assert statuses["local/smollm2"] == "not-selected"
    # the judge (gpt-5.5 on the loopback server) graded task and grounding for every output
    assert document["judge"]["status"] == "ran"
    assert len(document["judge_records"]) >= 150
    anthropic_calls = [r for r in anthropic_server.requests if r.path == "/v1/messages"]
    assert len(anthropic_calls) == 25
    assert anthropic_calls[0].json["max_tokens"] == 400 and "temperature" not in anthropic_calls[0].json
    assert anthropic_calls[0].json["system"].startswith("You")

    sent = len(fake_openai.requests) + len(anthropic_server.requests)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert len(fake_openai.requests) + len(anthropic_server.requests) == sent  # a rerun sends nothing

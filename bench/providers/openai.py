"""The OpenAI chat-completions wire format: OpenAI, WisGate and other routers, DeepSeek, vLLM, Ollama,
llama.cpp's server. Error bodies vary across these servers, so every field is read defensively."""

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

# OpenAI's model objects carry no limits; compatible servers often do, each under its own name
_CONTEXT_FIELDS = ("context_window", "context_length", "max_model_len")
_OUTPUT_FIELDS = ("max_output_tokens", "max_completion_tokens")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=_int(usage.get("prompt_tokens")),
        output_tokens=_int(usage.get("completion_tokens")),
        cached_tokens=_int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else None,
        reasoning_tokens=(
            _int(completion_details.get("reasoning_tokens")) if isinstance(completion_details, dict) else None
        ),
    )


def openai_error(response: httpx.Response, body: Any) -> ProviderError:
    error = body.get("error") if isinstance(body, dict) else None
    param = None
    if isinstance(error, dict):
        message, kind, code = error.get("message"), error.get("type"), error.get("code")
        param = error.get("param")
    elif isinstance(error, str):  # some servers send {"error": "text"}
        message, kind, code = error, None, None
    else:
        message, kind, code = (body.get("message") if isinstance(body, dict) else None), None, None
    failure = error_from_body(
        response,
        str(message) if message is not None else None,
        str(kind) if kind is not None else None,
        str(code) if code is not None else None,
    )
    failure.param = str(param) if param is not None else None
    return failure


def parse_model_list(body: Any) -> list[ModelInfo]:
    """``{"object": "list", "data": [{"id": ...}]}``; routers and local servers add limits under various names."""
    items = body.get("data") if isinstance(body, dict) else body
    models = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        context = next((_int(item.get(k)) for k in _CONTEXT_FIELDS if _int(item.get(k))), None)
        output = next((_int(item.get(k)) for k in _OUTPUT_FIELDS if _int(item.get(k))), None)
        top = item.get("top_provider")  # OpenRouter-style routers nest the served limits here
        if isinstance(top, dict):
            context = context or _int(top.get("context_length"))
            output = output or _int(top.get("max_completion_tokens"))
        models.append(ModelInfo(id=item["id"], context_window=context, max_output_tokens=output))
    return models


@register
class OpenAIProvider(HTTPProvider):
    name = "openai"
    default_concurrency = 8
    structured_output = True

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def body(self, request: CallRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.entry.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        for name, value in request.params.items():
            if name == "max_tokens":
                # max_tokens is deprecated upstream and refused by reasoning models; some compatible
                # servers (llama.cpp) read only max_tokens: the catalog entry says which
                body[self.entry.max_tokens_field or "max_completion_tokens"] = value
            elif name == "json_mode":
                if value:
                    body["response_format"] = {"type": "json_object"}
            else:
                body[name] = value
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": dict(request.json_schema), "strict": True},
            }
        return body

    async def send(self, request: CallRequest, timeout: float) -> Reply:
        response = await self.post("chat/completions", self.body(request), timeout)
        rid = request_id(response.headers)
        body = parse_response(response, rid)
        if response.status_code >= 400:
            raise openai_error(response, body)
        try:
            choice = body["choices"][0]
            message = choice.get("message") or {}
            content = message.get("content")
            if isinstance(content, list):  # some routers return content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(
                "malformed",
                f"HTTP {response.status_code} without choices[0].message",
                status=response.status_code,
                retryable=True,
                request_id=rid,
            ) from None
        return Reply(
            output=content or "",
            finish_reason=choice.get("finish_reason"),
            usage=parse_usage(body.get("usage")),
            model_reported=body.get("model"),
            request_id=rid,
            http_status=response.status_code,
            rate_limits=rate_limit_headers(response.headers),
        )

    async def list_models(self, timeout: float) -> list[ModelInfo]:
        response = await self.get("models", timeout)
        body = parse_response(response, request_id(response.headers))
        if response.status_code >= 400:
            raise openai_error(response, body)
        return parse_model_list(body)

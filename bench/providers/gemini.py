"""The Google Gemini wire format (``POST /v1beta/models/{model}:generateContent``), native.

System messages travel apart (``systemInstruction``), the assistant is called ``model``, sampling settings
live in ``generationConfig``. Two things differ from the other providers and shape this module:

- the reply may hold no text at all: a candidate stopped by the safety filter has no ``content``, and a
  prompt blocked outright has no candidate (only ``promptFeedback.blockReason``). Both are answers, with an
  empty output and the reason as the finish reason, so the rubric scores them instead of a crash;
- responses are proto3 JSON, which omits fields equal to zero: inside ``usageMetadata`` an absent count is 0.

Usage mapping: ``promptTokenCount`` already includes ``cachedContentTokenCount`` (bench's input_tokens and
cached_tokens); thinking tokens are billed as output, so output_tokens is ``candidatesTokenCount +
thoughtsTokenCount`` with the latter as reasoning_tokens.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from bench.providers import register
from bench.providers.base import (
    KNOWN_PARAMS,
    CallRequest,
    ModelInfo,
    ProviderError,
    Reply,
    Usage,
    parse_duration,
)
from bench.providers.http import (
    HTTPProvider,
    error_from_body,
    parse_response,
    rate_limit_headers,
    request_id,
)

LIST_PAGE = 1000  # the largest page GET /v1beta/models serves
MAX_PAGES = 20  # a listing that pages on beyond this is a broken server, not a long list
# responseSchema is an OpenAPI subset, not JSON Schema: these keywords are refused with a 400, and
# dropping them only loosens the schema (the rubric's json-schema check still applies the full one)
_UNSUPPORTED_SCHEMA_KEYS = frozenset({"$schema", "$id", "additionalProperties"})
_CONFIG_NAMES = {
    "temperature": "temperature",
    "max_tokens": "maxOutputTokens",
    "top_p": "topP",
    "seed": "seed",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def response_schema(schema: Any) -> Any:
    """A JSON Schema made acceptable to ``responseSchema`` (see ``_UNSUPPORTED_SCHEMA_KEYS``)."""
    if isinstance(schema, dict):
        return {k: response_schema(v) for k, v in schema.items() if k not in _UNSUPPORTED_SCHEMA_KEYS}
    if isinstance(schema, list):
        return [response_schema(v) for v in schema]
    return schema


def parse_usage(meta: Any) -> Usage:
    if not isinstance(meta, dict):
        return Usage()
    candidates = _int(meta.get("candidatesTokenCount")) or 0
    thoughts = _int(meta.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=_int(meta.get("promptTokenCount")) or 0,
        output_tokens=candidates + (thoughts or 0),
        cached_tokens=_int(meta.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
    )


def gemini_error(response: httpx.Response, body: Any) -> ProviderError:
    """``{"error": {"code", "message", "status", "details"}}``.

    The code is the ``ErrorInfo`` reason when there is one (``API_KEY_INVALID`` arrives as a 400 and must
    read as a credentials problem), else the status. A 429's ``RetryInfo.retryDelay`` serves as
    retry-after when no header gives one.
    """
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    status = error.get("status") if isinstance(error.get("status"), str) else None
    details = error.get("details")
    details = details if isinstance(details, list) else []
    reason = retry_delay = None
    for detail in details:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.ErrorInfo") and isinstance(detail.get("reason"), str):
            reason = detail["reason"]
        elif kind.endswith("google.rpc.RetryInfo") and isinstance(detail.get("retryDelay"), str):
            retry_delay = parse_duration(detail["retryDelay"])
    message = error.get("message")
    failure = error_from_body(response, str(message) if message else None, status, reason or status)
    if failure.retry_after is None and retry_delay is not None:
        failure.retry_after = retry_delay
    return failure


@register
class GeminiProvider(HTTPProvider):
    name = "gemini"
    supports = KNOWN_PARAMS  # generationConfig has a field for every parameter a suite may set
    default_concurrency = 8
    structured_output = True

    def __init__(self, entry: Any, api_key: str | None):
        super().__init__(entry, api_key)
        base = (entry.resolved_base_url() or "").rstrip("/")
        # a base URL that already names the API version is accepted as such
        self.prefix = "" if base.endswith(("/v1beta", "/v1", "/v1alpha")) else "v1beta/"
        model = entry.model.removeprefix("models/")  # the API's own listing spells ids models/<id>
        self.path = f"{self.prefix}models/{quote(model, safe='-._~')}:generateContent"

    def headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key} if self.api_key else {}

    def body(self, request: CallRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "contents": [
                {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
                for m in request.messages
                if m.role != "system"
            ]
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: dict[str, Any] = {}
        for name, value in request.params.items():
            if name in _CONFIG_NAMES:
                config[_CONFIG_NAMES[name]] = value
            elif name == "stop":
                config["stopSequences"] = [value] if isinstance(value, str) else list(value)
            elif name == "json_mode" and value:
                config["responseMimeType"] = "application/json"
        if request.json_schema is not None:
            config["responseMimeType"] = "application/json"
            config["responseSchema"] = response_schema(dict(request.json_schema))
        if config:
            body["generationConfig"] = config
        return body

    async def send(self, request: CallRequest, timeout: float) -> Reply:
        response = await self.post(self.path, self.body(request), timeout)
        rid = request_id(response.headers)
        body = parse_response(response, rid)
        if response.status_code >= 400:
            raise gemini_error(response, body)
        if not isinstance(body, dict):
            raise ProviderError(
                "malformed",
                f"HTTP {response.status_code} with a body that is not an object",
                status=response.status_code,
                retryable=True,
                request_id=rid,
            )
        candidates = body.get("candidates")
        feedback = body.get("promptFeedback")
        if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
            candidate = candidates[0]
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            # thought summaries (includeThoughts) are parts marked thought: they are not the answer
            text = "".join(
                p["text"]
                for p in (parts if isinstance(parts, list) else [])
                if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
            )
            finish = candidate.get("finishReason")
        elif isinstance(feedback, dict) and feedback.get("blockReason"):
            text, finish = "", str(feedback["blockReason"])  # the prompt itself was blocked
        else:
            raise ProviderError(
                "malformed",
                f"HTTP {response.status_code} without candidates or promptFeedback.blockReason",
                status=response.status_code,
                retryable=True,
                request_id=rid,
            )
        return Reply(
            output=text,
            finish_reason=str(finish) if finish is not None else None,
            usage=parse_usage(body.get("usageMetadata")),
            model_reported=body.get("modelVersion"),
            request_id=rid or body.get("responseId"),
            http_status=response.status_code,
            rate_limits=rate_limit_headers(response.headers),
        )

    async def list_models(self, timeout: float) -> list[ModelInfo]:
        """``GET /v1beta/models`` page by page; ids lose their ``models/`` prefix to match the catalog."""
        models: list[ModelInfo] = []
        params: dict[str, Any] = {"pageSize": LIST_PAGE}
        for _ in range(MAX_PAGES):
            response = await self.get(f"{self.prefix}models", timeout, params)
            body = parse_response(response, request_id(response.headers))
            if response.status_code >= 400:
                raise gemini_error(response, body)
            items = body.get("models") if isinstance(body, dict) else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    models.append(
                        ModelInfo(
                            id=item["name"].removeprefix("models/"),
                            context_window=_int(item.get("inputTokenLimit")),
                            max_output_tokens=_int(item.get("outputTokenLimit")),
                        )
                    )
            token = body.get("nextPageToken") if isinstance(body, dict) else None
            if not token:
                break
            params = {"pageSize": LIST_PAGE, "pageToken": token}
        return models

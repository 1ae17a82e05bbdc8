"""The three wire formats the fake server speaks: OpenAI chat completions, Anthropic messages, Gemini.

Each :class:`WireFormat` routes paths, validates a request the way the real API does (auth, required
fields, unknown model, rejected parameters), builds the success body and the native error bodies.

Token accounting is deliberately simple and deterministic: a "token" is a whitespace-separated word.
The prompt text of a request (``messages_text``) is every text part, in order (system text first), joined
with ``"\\n"``; ``prompt_tokens`` is its word count and ``completion_tokens`` the word count of the reply.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol
from urllib.parse import unquote

from .faults import Fault

Responder = Callable[[str, str, str, dict[str, Any]], str]
"""``(wire, model, messages_text, body) -> reply text``."""

DEFAULT_MODELS: dict[str, list[str]] = {
    "openai": ["gpt-4o-mini", "gpt-4.1"],
    "anthropic": ["claude-3-5-haiku-latest", "claude-sonnet-4-0"],
    "gemini": ["gemini-2.0-flash", "gemini-2.5-pro"],
}


def count_words(text: str) -> int:
    """The fake tokenizer: number of whitespace-separated words."""
    return len(text.split())


def digest(text: str) -> str:
    """First 8 hex digits of sha256(text), as used by :func:`default_responder`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def default_responder(wire: str, model: str, messages_text: str, body: dict[str, Any]) -> str:
    """A short deterministic JSON string identifying the request that produced it."""
    return json.dumps(
        {"echo_model": model, "words": count_words(messages_text), "digest": digest(messages_text)}
    )


def texts(value: Any) -> list[str]:
    """Every text in a content value: a string, a list of parts, or a part with text/content/parts."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in texts(item)]
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return [value["text"]]
        for key in ("content", "parts"):
            if key in value:
                return texts(value[key])
    return []


class Settings(Protocol):
    """What a wire needs to know about the server's configuration (``FakeAPI`` provides it)."""

    api_key: str | None
    models: list[str] | None
    rejected_params: set[str]
    responder: Responder
    cached_tokens: int
    reasoning_tokens: int


@dataclass
class Incoming:
    """A parsed HTTP request as the wires see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """What to send back: status, JSON payload (or raw bytes/str) and extra headers."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    tokens: int = 0


@dataclass(frozen=True)
class Route:
    """What a path is: a completion call (``"complete"``) or a model listing (``"models"``)."""

    kind: str
    model: str | None = None


@dataclass
class Generated:
    """The normal answer's text and token counts, before the wire wraps it."""

    model: str
    text: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int


def generate(
    settings: Settings, wire: str, model: str, messages_text: str, body: dict[str, Any], limit: Any
) -> Generated:
    """Run the responder and apply the max-tokens limit (truncating on word boundaries)."""
    text = settings.responder(wire, model, messages_text, body)
    words = text.split()
    truncated = isinstance(limit, int) and len(words) > limit
    if truncated:
        words = words[:limit]
        text = " ".join(words)
    return Generated(model, text, truncated, count_words(messages_text), len(words))


class WireFormat:
    """Base class: shared plumbing; subclasses fill in the wire specifics."""

    name: ClassVar[str]
    request_id_header: ClassVar[str | None] = None

    def base_url(self, root: str) -> str:
        """The base URL a client of this API is configured with."""
        return root

    def route(self, method: str, path: str) -> Route | None:
        raise NotImplementedError

    def error(self, code: int, message: str | None = None, /, **extra: Any) -> dict[str, Any]:
        """The native error body for ``code``."""
        raise NotImplementedError

    def fault_body(self, fault: Fault) -> Any:
        """The body a ``status`` fault sends when it does not bring its own."""
        return self.error(fault.code or 500, variant=fault.variant)

    def not_found(self, method: str, path: str) -> Reply:
        return Reply(404, self.error(404, f"Invalid URL ({method} {path})"))

    def new_request_id(self) -> str:
        return "req_" + uuid.uuid4().hex

    def rate_limit_headers(self, limits: RateLimits, exhausted: bool) -> dict[str, str]:
        return {}

    def complete(self, settings: Settings, req: Incoming, route: Route) -> Reply:
        raise NotImplementedError

    def list_models(self, settings: Settings, req: Incoming) -> Reply:
        raise NotImplementedError

    @staticmethod
    def model_ids(settings: Settings, wire: str) -> list[str]:
        return list(settings.models) if settings.models is not None else list(DEFAULT_MODELS[wire])

    @staticmethod
    def rejected(settings: Settings, keys: Iterable[str]) -> str | None:
        return next((k for k in keys if k in settings.rejected_params), None)


@dataclass
class RateLimits:
    """Numbers for the rate-limit headers of one response."""

    request_limit: int
    request_remaining: int
    token_limit: int
    token_remaining: int
    reset_seconds: float


def _bad_int(value: Any) -> bool:
    return value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0)


class OpenAIWire(WireFormat):
    """``POST /v1/chat/completions`` and ``GET /v1/models``, Bearer auth."""

    name = "openai"
    request_id_header = "x-request-id"
    _defaults: ClassVar[dict[int, tuple[str, str | None, str]]] = {
        400: ("invalid_request_error", None, "Invalid request."),
        401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided"),
        403: ("invalid_request_error", "unsupported_country_region_territory", "Country not supported"),
        404: ("invalid_request_error", "model_not_found", "The model does not exist."),
        409: ("invalid_request_error", None, "Conflict."),
        429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
        500: ("server_error", None, "The server had an error while processing your request. Sorry!"),
        503: ("server_error", None, "The engine is currently overloaded, please try again later"),
    }

    def base_url(self, root: str) -> str:
        return root + "/v1"

    def route(self, method: str, path: str) -> Route | None:
        if method == "POST" and path == "/v1/chat/completions":
            return Route("complete")
        if method == "GET" and path == "/v1/models":
            return Route("models")
        return None

    def error(self, code: int, message: str | None = None, /, **extra: Any) -> dict[str, Any]:
        if code == 429 and extra.get("variant") == "insufficient_quota":
            etype, ecode = "insufficient_quota", "insufficient_quota"
            default = "You exceeded your current quota, please check your plan and billing details."
        else:
            fallback = (
                ("server_error", None, "Server error.")
                if code >= 500
                else ("invalid_request_error", None, "")
            )
            etype, ecode, default = self._defaults.get(code, fallback)
        return {
            "error": {
                "message": message or default or f"HTTP {code}",
                "type": extra.get("type", etype),
                "param": extra.get("param"),
                "code": extra.get("code", ecode),
            }
        }

    def _auth(self, settings: Settings, req: Incoming) -> Reply | None:
        if settings.api_key is None:
            return None
        auth = req.headers.get("authorization", "")
        if not auth:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return Reply(401, self.error(401, message, code=None))
        if auth != f"Bearer {settings.api_key}":
            return Reply(401, self.error(401, "Incorrect API key provided", code="invalid_api_key"))
        return None

    def rate_limit_headers(self, limits: RateLimits, exhausted: bool) -> dict[str, str]:
        reset = f"{limits.reset_seconds:g}s"
        return {
            "x-ratelimit-limit-requests": str(limits.request_limit),
            "x-ratelimit-remaining-requests": "0" if exhausted else str(limits.request_remaining),
            "x-ratelimit-reset-requests": reset,
            "x-ratelimit-limit-tokens": str(limits.token_limit),
            "x-ratelimit-remaining-tokens": str(limits.token_remaining),
            "x-ratelimit-reset-tokens": reset,
        }

    def list_models(self, settings: Settings, req: Incoming) -> Reply:
        denied = self._auth(settings, req)
        if denied:
            return denied
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
            for m in self.model_ids(settings, self.name)
        ]
        return Reply(200, {"object": "list", "data": data})

    def complete(self, settings: Settings, req: Incoming, route: Route) -> Reply:
        denied = self._auth(settings, req)
        if denied:
            return denied
        body = req.body
        if not isinstance(body, dict):
            message = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)"
            return Reply(400, self.error(400, message))
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return Reply(400, self.error(400, "you must provide a model parameter", param="model"))
        if "messages" not in body:
            message = "Missing required parameter: 'messages'."
            return Reply(400, self.error(400, message, param="messages", code="missing_required_parameter"))
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            return Reply(
                400, self.error(400, "Invalid 'messages': expected a non-empty array.", param="messages")
            )
        if settings.models is not None and model not in settings.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return Reply(404, self.error(404, message, code="model_not_found"))
        param = self.rejected(settings, body)
        if param:
            message = f"Unsupported parameter: '{param}' is not supported with this model."
            return Reply(400, self.error(400, message, param=param, code="unsupported_parameter"))
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if _bad_int(limit):
            name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
            return Reply(400, self.error(400, f"Invalid '{name}': expected an integer >= 0.", param=name))
        if body.get("stream"):
            return Reply(400, self.error(400, "fake_api: stream=true is not supported", param="stream"))
        text = "\n".join(t for m in messages if isinstance(m, dict) for t in texts(m.get("content")))
        gen = generate(settings, self.name, model, text, body, limit)
        completion = gen.completion_tokens + settings.reasoning_tokens
        payload = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": gen.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "length" if gen.truncated else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": gen.prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": gen.prompt_tokens + completion,
                "prompt_tokens_details": {"cached_tokens": settings.cached_tokens},
                "completion_tokens_details": {"reasoning_tokens": settings.reasoning_tokens},
            },
        }
        return Reply(200, payload, tokens=gen.prompt_tokens + completion)


class AnthropicWire(WireFormat):
    """``POST /v1/messages`` and ``GET /v1/models``, ``x-api-key`` + ``anthropic-version`` headers."""

    name = "anthropic"
    request_id_header = "request-id"
    _types: ClassVar[dict[int, tuple[str, str]]] = {
        400: ("invalid_request_error", "Invalid request."),
        401: ("authentication_error", "invalid x-api-key"),
        403: ("permission_error", "Your API key does not have permission to use the specified resource."),
        404: ("not_found_error", "Not found."),
        413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429: ("rate_limit_error", "Number of requests has exceeded your per-minute rate limit."),
        500: ("api_error", "Internal server error"),
        529: ("overloaded_error", "Overloaded"),
    }

    def route(self, method: str, path: str) -> Route | None:
        if method == "POST" and path == "/v1/messages":
            return Route("complete")
        if method == "GET" and path == "/v1/models":
            return Route("models")
        return None

    def error(self, code: int, message: str | None = None, /, **extra: Any) -> dict[str, Any]:
        fallback = ("api_error", "Internal server error") if code >= 500 else ("invalid_request_error", "")
        etype, default = self._types.get(code, fallback)
        return {"type": "error", "error": {"type": etype, "message": message or default or f"HTTP {code}"}}

    def not_found(self, method: str, path: str) -> Reply:
        return Reply(404, self.error(404, f"Not found: {method} {path}"))

    def new_request_id(self) -> str:
        return "req_" + uuid.uuid4().hex[:24]

    def _check_headers(self, settings: Settings, req: Incoming) -> Reply | None:
        if settings.api_key is not None:
            key = req.headers.get("x-api-key")
            if not key:
                return Reply(401, self.error(401, "x-api-key header is required"))
            if key != settings.api_key:
                return Reply(401, self.error(401, "invalid x-api-key"))
        if not req.headers.get("anthropic-version"):
            return Reply(400, self.error(400, "anthropic-version: header is required"))
        return None

    def rate_limit_headers(self, limits: RateLimits, exhausted: bool) -> dict[str, str]:
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + limits.reset_seconds))
        return {
            "anthropic-ratelimit-requests-limit": str(limits.request_limit),
            "anthropic-ratelimit-requests-remaining": "0" if exhausted else str(limits.request_remaining),
            "anthropic-ratelimit-requests-reset": reset,
            "anthropic-ratelimit-tokens-limit": str(limits.token_limit),
            "anthropic-ratelimit-tokens-remaining": str(limits.token_remaining),
            "anthropic-ratelimit-tokens-reset": reset,
        }

    def list_models(self, settings: Settings, req: Incoming) -> Reply:
        denied = self._check_headers(settings, req)
        if denied:
            return denied
        ids = self.model_ids(settings, self.name)
        data = [
            {
                "id": m,
                "type": "model",
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-01-01T00:00:00Z",
            }
            for m in ids
        ]
        return Reply(
            200,
            {
                "data": data,
                "has_more": False,
                "first_id": ids[0] if ids else None,
                "last_id": ids[-1] if ids else None,
            },
        )

    def complete(self, settings: Settings, req: Incoming, route: Route) -> Reply:
        denied = self._check_headers(settings, req)
        if denied:
            return denied
        body = req.body
        if not isinstance(body, dict):
            return Reply(400, self.error(400, "There was an issue with your request body: invalid JSON"))
        for required in ("model", "messages", "max_tokens"):
            if required not in body:
                return Reply(400, self.error(400, f"{required}: Field required"))
        model, messages, limit = body["model"], body["messages"], body["max_tokens"]
        if not isinstance(model, str) or not model:
            return Reply(400, self.error(400, "model: Input should be a valid string"))
        if not isinstance(messages, list) or not messages:
            return Reply(400, self.error(400, "messages: at least one message is required"))
        if _bad_int(limit):
            return Reply(400, self.error(400, "max_tokens: Input should be a valid integer"))
        if settings.models is not None and model not in settings.models:
            return Reply(404, self.error(404, f"model: {model}"))
        param = self.rejected(settings, body)
        if param:
            return Reply(400, self.error(400, f"{param}: Extra inputs are not permitted"))
        if body.get("stream"):
            return Reply(400, self.error(400, "fake_api: stream=true is not supported"))
        parts = texts(body.get("system")) if "system" in body else []
        parts += [t for m in messages if isinstance(m, dict) for t in texts(m.get("content"))]
        gen = generate(settings, self.name, model, "\n".join(parts), body, limit)
        payload = {
            "id": "msg_" + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": gen.text}],
            "stop_reason": "max_tokens" if gen.truncated else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": gen.prompt_tokens,
                "output_tokens": gen.completion_tokens,
                "cache_read_input_tokens": settings.cached_tokens,
                "cache_creation_input_tokens": 0,
            },
        }
        return Reply(200, payload, tokens=gen.prompt_tokens + gen.completion_tokens)


class GeminiWire(WireFormat):
    """``POST /v1beta/models/{model}:generateContent`` and ``GET /v1beta/models``, ``x-goog-api-key``.

    Like the real API, a wrong key is 400 ``INVALID_ARGUMENT`` (reason ``API_KEY_INVALID``) and a missing
    one 403 ``PERMISSION_DENIED``; a ``status(401)`` fault sends ``UNAUTHENTICATED``.
    """

    name = "gemini"
    _statuses: ClassVar[dict[int, tuple[str, str]]] = {
        400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
        403: ("PERMISSION_DENIED", "The caller does not have permission."),
        404: ("NOT_FOUND", "Requested entity was not found."),
        429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        500: ("INTERNAL", "An internal error has occurred. Please retry or report it."),
        503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
        504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    }
    _prefix = "/v1beta/models/"
    _suffix = ":generateContent"

    def route(self, method: str, path: str) -> Route | None:
        if method == "POST" and path.startswith(self._prefix) and path.endswith(self._suffix):
            model = unquote(path[len(self._prefix) : -len(self._suffix)])
            return Route("complete", model) if model and "/" not in model else None
        if method == "GET" and path == "/v1beta/models":
            return Route("models")
        return None

    def error(self, code: int, message: str | None = None, /, **extra: Any) -> dict[str, Any]:
        fallback = ("INTERNAL", "Internal error.") if code >= 500 else ("INVALID_ARGUMENT", "")
        gstatus, default = self._statuses.get(code, fallback)
        err: dict[str, Any] = {
            "code": code,
            "message": message or default or f"HTTP {code}",
            "status": gstatus,
        }
        if extra.get("details"):
            err["details"] = extra["details"]
        return {"error": err}

    def fault_body(self, fault: Fault) -> Any:
        delay = fault.header("retry-after")
        details = None
        if fault.code == 429 and delay is not None:
            details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}]
        return self.error(fault.code or 500, details=details)

    def not_found(self, method: str, path: str) -> Reply:
        return Reply(404, self.error(404, f"The requested URL {path} was not found on this server."))

    def _auth(self, settings: Settings, req: Incoming) -> Reply | None:
        if settings.api_key is None:
            return None
        key = req.headers.get("x-goog-api-key") or req.query.get("key")
        if not key:
            message = (
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API."
            )
            return Reply(403, self.error(403, message))
        if key != settings.api_key:
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            info["domain"] = "googleapis.com"
            return Reply(
                400, self.error(400, "API key not valid. Please pass a valid API key.", details=[info])
            )
        return None

    def list_models(self, settings: Settings, req: Incoming) -> Reply:
        denied = self._auth(settings, req)
        if denied:
            return denied
        models = [
            {
                "name": f"models/{m}",
                "version": "001",
                "displayName": m,
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 8192,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for m in self.model_ids(settings, self.name)
        ]
        return Reply(200, {"models": models})

    def complete(self, settings: Settings, req: Incoming, route: Route) -> Reply:
        denied = self._auth(settings, req)
        if denied:
            return denied
        body, model = req.body, route.model or ""
        if not isinstance(body, dict):
            return Reply(400, self.error(400, "Invalid JSON payload received."))
        if settings.models is not None and model not in settings.models:
            message = (
                f"models/{model} is not found for API version v1beta, "
                "or is not supported for generateContent. "
                "Call ListModels to see the list of available models and their supported methods."
            )
            return Reply(404, self.error(404, message))
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return Reply(
                400, self.error(400, "* GenerateContentRequest.contents: contents is not specified\n")
            )
        config = body.get("generationConfig") or {}
        if not isinstance(config, dict):
            return Reply(400, self.error(400, "Invalid value at 'generation_config'"))
        for where, keys in (("", body), ("generation_config", config)):
            param = self.rejected(settings, keys)
            if param:
                at = f" at '{where}'" if where else ""
                message = f'Invalid JSON payload received. Unknown name "{param}"{at}: Cannot find field.'
                return Reply(400, self.error(400, message))
        limit = config.get("maxOutputTokens")
        if _bad_int(limit):
            return Reply(400, self.error(400, "Invalid value at 'generation_config.max_output_tokens'"))
        parts = texts(body.get("systemInstruction")) if "systemInstruction" in body else []
        parts += [t for c in contents if isinstance(c, dict) for t in texts(c.get("parts"))]
        gen = generate(settings, self.name, model, "\n".join(parts), body, limit)
        thoughts = settings.reasoning_tokens
        payload = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": gen.text}]},
                    "finishReason": "MAX_TOKENS" if gen.truncated else "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": gen.prompt_tokens,
                "candidatesTokenCount": gen.completion_tokens,
                "totalTokenCount": gen.prompt_tokens + gen.completion_tokens + thoughts,
                "thoughtsTokenCount": thoughts,
                "cachedContentTokenCount": settings.cached_tokens,
            },
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:22],
        }
        return Reply(200, payload, tokens=gen.prompt_tokens + gen.completion_tokens + thoughts)


WIRES: dict[str, type[WireFormat]] = {w.name: w for w in (OpenAIWire, AnthropicWire, GeminiWire)}

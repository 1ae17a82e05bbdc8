"""What every provider speaks: one request in, one :class:`CallResult` out, errors classified for retry.

A provider is one module in ``bench/providers/`` with a :class:`Provider` subclass decorated with
:func:`bench.providers.register`. It declares what it supports as class attributes (read by validation
and, later, by the readiness probe) and implements :meth:`Provider.send`: ONE attempt, no retries. The
runner owns retries, timing, caching and concurrency, so every provider gets them the same way.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

# the parameters a suite may set on a candidate; providers map them onto their wire names
KNOWN_PARAMS = frozenset(
    {
        "temperature",
        "max_tokens",
        "top_p",
        "seed",
        "stop",
        "json_mode",
        "frequency_penalty",
        "presence_penalty",
    }
)


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class CallRequest:
    messages: tuple[Message, ...]
    params: Mapping[str, Any]
    json_schema: Mapping[str, Any] | None = None  # structured output, when the caller needs it


@dataclass
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None  # part of input_tokens that the provider served from its cache
    reasoning_tokens: int | None = None  # part of output_tokens spent on reasoning (billed as output)

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)


@dataclass(frozen=True)
class ModelInfo:
    """One model as the provider's model list describes it; limits are None when the API does not say."""

    id: str
    context_window: int | None = None
    max_output_tokens: int | None = None


@dataclass
class Reply:
    """A successful answer from one attempt."""

    output: str
    finish_reason: str | None
    usage: Usage
    model_reported: str | None = None
    request_id: str | None = None
    http_status: int | None = None
    rate_limits: dict[str, str] = field(default_factory=dict)


class ProviderError(Exception):
    """One attempt failed. ``retryable`` and ``retry_after`` steer the runner's retry loop.

    The message must never contain a credential: providers build it from the response body and status.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        code: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        request_id: str | None = None,
    ):
        super().__init__(message)
        self.kind = kind  # http | connection | timeout | malformed | config
        self.message = message
        self.status = status
        self.error_type = error_type
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.request_id = request_id
        # the request field the API blames, when it says (OpenAI's ``param``); kept out of to_dict so the
        # snapshot's error shape does not change; the readiness probe reads it to name a refused parameter
        self.param: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "type": self.error_type,
            "code": self.code,
            "message": self.message,
        }


class ProviderUnavailable(Exception):
    """The provider cannot run here (missing optional dependency, missing model file); skip the candidate."""


class Provider(ABC):
    """Base class of a wire format. One instance per candidate per run."""

    name: ClassVar[str]
    #: catalog fields this provider requires besides ``provider`` and ``model``
    requires: ClassVar[frozenset[str]] = frozenset({"base_url"})
    #: whether ``api_key_env`` must name a variable
    needs_api_key: ClassVar[bool] = True
    #: suite params it accepts
    supports: ClassVar[frozenset[str]] = KNOWN_PARAMS
    #: calls in flight per candidate unless the catalog's ``limits.concurrency`` says otherwise
    default_concurrency: ClassVar[int] = 8
    #: extra catalog keys this provider reads (e.g. ``model_path``)
    extra_fields: ClassVar[frozenset[str]] = frozenset()
    #: whether :attr:`CallRequest.json_schema` reaches the API as structured output (else it is dropped)
    structured_output: ClassVar[bool] = False

    def __init__(self, entry: Any, api_key: str | None):
        self.entry = entry
        self.api_key = api_key

    @abstractmethod
    async def send(self, request: CallRequest, timeout: float) -> Reply:
        """Make ONE attempt. Raise :class:`ProviderError` on failure."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare shared resources (HTTP pool, loaded model) before the first call."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`open` made."""

    async def list_models(self, timeout: float) -> list[ModelInfo]:
        """The models this endpoint and key can reach (after :meth:`open`); ONE attempt per page.

        The readiness probe uses it to confirm the catalog's model id before a run spends money on it.
        Raise :class:`ProviderError` when the API refuses; providers without a listing keep this default.
        """
        raise NotImplementedError(f"provider {self.name!r} cannot list models")


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")


def parse_duration(text: str) -> float | None:
    """Parse OpenAI-style reset durations (``1s``, ``6m0s``, ``120ms``, ``1h2m``) into seconds."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds, millis = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000

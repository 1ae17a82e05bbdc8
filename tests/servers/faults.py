"""Faults the fake API server can inject before (or instead of) its normal answer.

A :class:`Fault` is an immutable description; build one with the factory functions below and hand it to
``FakeAPI.script(...)`` (consumed one per completion request, in arrival order) or
``FakeAPI.fault_rate(...)`` (drawn at random with a seeded RNG).

Kinds:

- ``status``: answer with an HTTP error status. ``body=None`` means the wire's native error body for that
  code (OpenAI ``rate_limit_exceeded`` 429, Anthropic 529 ``overloaded_error``, Gemini 429
  ``RESOURCE_EXHAUSTED``, ...); a dict/list is sent as JSON; str/bytes are sent verbatim.
- ``reset``: read the request, then close the TCP connection with an RST (no response at all).
- ``malformed``: 200 whose body is the normal answer cut in half (valid HTTP, invalid JSON).
- ``hang``: read the request and send nothing for ``seconds`` (then close); ends early if the client
  disconnects or the server stops, and never blocks other connections.
- ``slow``: answer normally after ``seconds`` of extra latency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

FaultKind = Literal["status", "reset", "malformed", "hang", "slow"]


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour of the server (see the module docstring for the kinds)."""

    kind: FaultKind
    code: int | None = None
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    variant: str | None = None
    #: send ``Retry-After`` as an HTTP-date this many seconds after the moment the response is sent
    http_date_after: float | None = None

    @property
    def label(self) -> str:
        """A short name used as the counter key, e.g. ``"status 429"`` or ``"reset"``."""
        if self.kind == "status":
            return f"status {self.code}" + (f" {self.variant}" if self.variant else "")
        return self.kind

    def with_headers(self, headers: Mapping[str, str]) -> Fault:
        """Return a copy that also sends ``headers`` (names are lower-cased; later ones win)."""
        merged = dict(self.headers)
        merged.update({k.lower(): str(v) for k, v in headers.items()})
        return replace(self, headers=tuple(merged.items()))

    def header(self, name: str) -> str | None:
        """The value of one of this fault's extra headers, if set."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


def _check_code(code: int) -> int:
    if not 100 <= int(code) <= 599:
        raise ValueError(f"HTTP status must be 100..599, got {code}")
    return int(code)


def _check_seconds(seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    return float(seconds)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def status(
    code: int, body: Any = None, headers: Mapping[str, str] | None = None, *, variant: str | None = None
) -> Fault:
    """Answer ``code`` with the wire's native error body (or ``body``) and extra ``headers``.

    ``variant`` picks an alternative native body; OpenAI 429 knows ``"insufficient_quota"``.
    """
    fault = Fault("status", code=_check_code(code), body=body, variant=variant)
    return fault.with_headers(headers or {})


def insufficient_quota() -> Fault:
    """OpenAI's non-retryable 429 (``insufficient_quota``); other wires send their plain 429."""
    return status(429, variant="insufficient_quota")


def retry_after(seconds: float, code: int = 429) -> Fault:
    """``code`` (default 429) with ``Retry-After: <seconds>``."""
    return status(code, headers={"retry-after": _number(_check_seconds(seconds))})


def retry_after_ms(ms: float, code: int = 429) -> Fault:
    """``code`` (default 429) with ``retry-after-ms: <ms>`` (the OpenAI/Anthropic SDK extension)."""
    return status(code, headers={"retry-after-ms": _number(_check_seconds(ms))})


def http_date_retry_after(seconds: float, code: int = 429) -> Fault:
    """``code`` (default 429) with ``Retry-After`` as an HTTP-date ``seconds`` after sending."""
    return replace(status(code), http_date_after=_check_seconds(seconds))


def x_should_retry(value: bool, code: int = 429) -> Fault:
    """``code`` (default 429) with ``x-should-retry: true|false`` (the SDKs' retry override)."""
    return status(code, headers={"x-should-retry": "true" if value else "false"})


def reset() -> Fault:
    """Close the connection abruptly (TCP RST) after reading the request; no response."""
    return Fault("reset")


def malformed() -> Fault:
    """200 with a truncated, invalid JSON body."""
    return Fault("malformed")


def hang(seconds: float = 30.0) -> Fault:
    """Send nothing for ``seconds``, then close the connection."""
    return Fault("hang", seconds=_check_seconds(seconds))


def slow(seconds: float) -> Fault:
    """Answer normally after ``seconds`` of extra latency."""
    return Fault("slow", seconds=_check_seconds(seconds))


def parse_fault(spec: str | int | Fault) -> Fault:
    """Turn a short spec into a fault: ``429``, ``"503"``, ``"reset"``, ``"malformed"``, ``"hang:5"``,
    ``"slow:0.2"``, ``"retry_after:2"``, ``"retry_after_ms:500"``, ``"http_date_retry_after:1"``,
    ``"x_should_retry:false"``, ``"insufficient_quota"``. Faults pass through unchanged."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, int):
        return status(spec)
    name, _, arg = spec.strip().partition(":")
    if name.isdigit():
        return status(int(name))
    simple = {"reset": reset, "malformed": malformed, "insufficient_quota": insufficient_quota}
    if name in simple and not arg:
        return simple[name]()
    timed = {
        "hang": hang,
        "slow": slow,
        "retry_after": retry_after,
        "retry_after_ms": retry_after_ms,
        "http_date_retry_after": http_date_retry_after,
    }
    if name in timed:
        if name == "hang" and not arg:
            return hang()
        return timed[name](float(arg))
    if name == "x_should_retry" and arg.lower() in {"true", "false"}:
        return x_should_retry(arg.lower() == "true")
    raise ValueError(f"unknown fault spec {spec!r}")

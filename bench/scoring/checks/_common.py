"""Helpers shared by the check families: parameter validation, quoting evidence, reading JSON output."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .base import CheckParamError

Kind = Literal["string", "integer", "number", "boolean", "string list"]

_KIND_TEXT: dict[str, str] = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "string list": "a list of strings",
}

QUOTE_LIMIT = 80


@dataclass(frozen=True)
class Param:
    """How one check parameter is validated."""

    kind: Kind
    required: bool = True
    default: Any = None
    minimum: float | None = None
    non_empty: bool = False  # strings and lists: empty would make the check vacuous


def _type_ok(kind: Kind, value: Any) -> bool:
    # bool is a subclass of int in Python, but `value: true` for a count is a mistake in the suite
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _describe(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{type(value).__name__} {shown}"


def read_params(params: Mapping[str, Any], spec: Mapping[str, Param]) -> dict[str, Any]:
    """Validate ``params`` against ``spec``; return them with defaults filled in.

    Raises CheckParamError naming every unknown parameter, or the first missing / wrong-typed one with
    the type it expects.
    """
    unknown = sorted(str(k) for k in params if k not in spec)
    if unknown:
        accepted = ", ".join(repr(k) for k in spec) or "none"
        names = ", ".join(repr(k) for k in unknown)
        raise CheckParamError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} {names} (accepted: {accepted})"
        )
    out: dict[str, Any] = {}
    for name, p in spec.items():
        expected = _KIND_TEXT[p.kind]
        if name not in params or params[name] is None:
            if p.required:
                raise CheckParamError(f"missing parameter {name!r} (expected {expected})")
            out[name] = p.default
            continue
        value = params[name]
        if not _type_ok(p.kind, value):
            raise CheckParamError(f"parameter {name!r} must be {expected}, got {_describe(value)}")
        if p.minimum is not None and value < p.minimum:
            raise CheckParamError(f"parameter {name!r} must be >= {p.minimum:g}, got {value!r}")
        if p.non_empty and len(value) == 0:
            raise CheckParamError(f"parameter {name!r} must not be empty (expected {expected})")
        out[name] = value
    return out


def compile_regex(pattern: str, flags: int, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as e:
        raise CheckParamError(f"{what} {pattern!r} is not a valid regular expression: {e}") from e


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Double-quote ``text`` on one line, truncated with an ellipsis so a reason stays short."""
    flat = " ".join(text.split())  # newlines would break one-line reasons in tables
    if len(flat) > limit:
        flat = flat[: limit - 3].rstrip() + "..."
    return f'"{flat}"'


def output_start(output: str) -> str:
    """The parenthesised tail of a failing reason: what the output looked like."""
    if not output.strip():
        return "(output is empty)"
    return f"(output starts: {quote(output)})"


def around(text: str, start: int, end: int, width: int = 30) -> str:
    """The match at ``text[start:end]`` with a little context on each side, quoted."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    snippet = ("..." if lo > 0 else "") + text[lo:hi] + ("..." if hi < len(text) else "")
    return quote(snippet, limit=end - start + 2 * width + 6)


# The whole output is one fenced block: ```json ... ``` (or a bare ``` fence). Models add these often
# enough that rejecting them would measure formatting habits rather than the JSON itself.
_FENCE = re.compile(r"\A```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)\r?\n?[ \t]*```\Z", re.DOTALL)


@dataclass(frozen=True)
class ParsedJson:
    ok: bool
    value: Any = None
    fenced: bool = False
    error: str = ""  # for ok=False: the parse error with its position, ready to quote


def parse_json_output(output: str) -> ParsedJson:
    text = output.strip()
    fenced = False
    m = _FENCE.match(text)
    if m:
        text, fenced = m.group(1), True
    if not text.strip():
        return ParsedJson(ok=False, fenced=fenced, error="output is empty")
    try:
        return ParsedJson(ok=True, value=json.loads(text), fenced=fenced)
    except json.JSONDecodeError as e:
        near = quote(text[max(0, e.pos - 20) : e.pos + 20], limit=46)
        error = f"{e.msg} at line {e.lineno}, column {e.colno} (char {e.pos}, near {near})"
        return ParsedJson(ok=False, fenced=fenced, error=error)


FENCE_NOTE = "inside a ```json fenced block"


def json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"

"""Field-by-field checks of user mappings, collecting every problem with its file:line and a hint."""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from bench.errors import Problem
from bench.yamlfile import Document, Key

TYPE_NAMES: dict[Any, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    datetime.date: "a date",
    list: "a list",
    dict: "a mapping",
}


def type_name(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(TYPE_NAMES.get(t, t.__name__) for t in expected)
    return TYPE_NAMES.get(expected, getattr(expected, "__name__", str(expected)))


def is_type(value: Any, expected: Any) -> bool:
    options = expected if isinstance(expected, tuple) else (expected,)
    for option in options:
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option not in (int, float) and isinstance(value, option):
            return True
    return False


def did_you_mean(word: str, choices: Iterable[str] | Mapping[str, Any]) -> str | None:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def yaml_type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Collector:
    """Collects problems for one document."""

    def __init__(self, doc: Document, problems: list[Problem]):
        self.doc = doc
        self.problems = problems

    def error(self, path: tuple[Key, ...], message: str, hint: str | None = None) -> None:
        self.problems.append(self.doc.problem(path, message, hint))

    def warn(self, path: tuple[Key, ...], message: str, hint: str | None = None) -> None:
        self.problems.append(self.doc.problem(path, message, hint, severity="warning"))

    def fields(
        self,
        value: Any,
        path: tuple[Key, ...],
        what: str,
        required: Mapping[str, Any],
        optional: Mapping[str, Any],
        belongs: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Check that ``value`` is a mapping with these fields; return it (possibly partial) or None."""
        if not isinstance(value, dict):
            self.error(path, f"{what} must be a mapping, found {yaml_type(value)}", _shape_hint(required))
            return None
        allowed = {**required, **optional}
        for key in value:
            if key not in allowed:
                if belongs and key in belongs:
                    # the usual cause: a key indented one level too little
                    hint = f"{key!r} belongs under {belongs[key]}: check its indentation"
                else:
                    hint = did_you_mean(key, allowed) or f"allowed keys: {', '.join(sorted(allowed))}"
                self.error((*path, key), f"unknown key {key!r} in {what}", hint)
        for key, expected in required.items():
            if key not in value or value[key] is None:
                self.error(path, f"{what} is missing {key!r}", f"add `{key}:` ({type_name(expected)})")
        for key, expected in allowed.items():
            if key in value and value[key] is not None and not is_type(value[key], expected):
                self.error(
                    (*path, key),
                    f"{key!r} in {what} must be {type_name(expected)}, found {yaml_type(value[key])}",
                )
        return value


def _shape_hint(required: Mapping[str, Any]) -> str | None:
    if not required:
        return None
    return "expected keys like: " + ", ".join(f"{k}:" for k in required)

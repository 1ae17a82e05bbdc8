"""Deterministic checks: validate a suite's check mappings once, then evaluate them per output.

Every module in this folder is imported here, so a module that calls :func:`register` joins the registry
by existing. Use :func:`prepare_check` when the suite loads (parameter errors surface before any model
call) and :func:`evaluate_check` for each output.
"""

from __future__ import annotations

import difflib
import importlib
import json
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .base import REGISTRY, CheckContext, CheckOutcome, CheckParamError, CheckType, register

__all__ = [
    "REGISTRY",
    "CheckContext",
    "CheckOutcome",
    "CheckParamError",
    "CheckType",
    "PreparedCheck",
    "evaluate_check",
    "prepare_check",
    "register",
]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# Keys any check may carry; everything else in the mapping belongs to the check type's own parameters.
_COMMON_KEYS = ("type", "not", "criterion")
# The parameter a label shows bare ("contains "refund""); any other is shown as key=value.
_PRIMARY_KEYS = ("value", "values", "pattern", "schema")
_LABEL_VALUE_LIMIT = 40


@dataclass(frozen=True)
class PreparedCheck:
    """A check whose parameters were validated (and files loaded) when the suite loaded."""

    type: str
    params: Mapping[str, Any]  # as returned by the type's prepare, read-only
    negate: bool
    label: str  # short and human, e.g. 'contains "refund"' or 'not max-words 120'


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str | list | bool) else str(value)
    if len(text) > _LABEL_VALUE_LIMIT:
        text = text[: _LABEL_VALUE_LIMIT - 3] + "..."
    return text


def _label(name: str, raw: Mapping[str, Any], negate: bool) -> str:
    parts = [name]
    for key in _PRIMARY_KEYS:
        if key not in raw:
            continue
        if key == "pattern":
            # regexes read best in their usual /pattern/flags form
            parts.append(f"/{raw['pattern']}/{''.join(raw.get('flags') or [])}")
        elif key == "schema":
            parts.append(str(raw["schema"]))  # a path; quotes would only add noise
        else:
            parts.append(_show(raw[key]))
    for key, value in raw.items():
        if key in _PRIMARY_KEYS or (key == "flags" and "pattern" in raw):
            continue
        parts.append(f"{key}={_show(value)}")
    label = " ".join(parts)
    return f"not {label}" if negate else label


def _unknown_type(name: str) -> CheckParamError:
    known = sorted(REGISTRY)
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return CheckParamError(f"unknown check type {name!r}{hint} (known types: {', '.join(known)})")


def prepare_check(spec: Mapping[str, Any], suite_dir: Path) -> PreparedCheck:
    """Validate one check mapping from a suite and prepare it (compile regexes, load schema files).

    Raises CheckParamError with a message that names the problem and how to fix it.
    """
    if not isinstance(spec, Mapping):
        raise CheckParamError(
            f"a check must be a mapping such as {{type: contains, value: ...}}, got {type(spec).__name__}"
        )
    name = spec.get("type")
    if name is None:
        raise CheckParamError(f"check has no 'type' (known types: {', '.join(sorted(REGISTRY))})")
    if not isinstance(name, str):
        raise CheckParamError(f"check 'type' must be a string, got {type(name).__name__} {name!r}")
    check_type = REGISTRY.get(name)
    if check_type is None:
        raise _unknown_type(name)
    negate = spec.get("not", False)
    if not isinstance(negate, bool):
        raise CheckParamError(f"check {name!r}: 'not' must be true or false, got {negate!r}")
    raw = {k: v for k, v in spec.items() if k not in _COMMON_KEYS}
    try:
        params = check_type.prepare(raw, suite_dir)
    except CheckParamError as e:
        raise CheckParamError(f"check {name!r}: {e}") from e
    return PreparedCheck(
        type=name, params=MappingProxyType(dict(params)), negate=negate, label=_label(name, raw, negate)
    )


def evaluate_check(check: PreparedCheck, ctx: CheckContext) -> CheckOutcome:
    """Run a prepared check on one output; ``not: true`` inverts a True/False verdict, never None."""
    outcome = REGISTRY[check.type].evaluate(ctx, check.params)
    if not check.negate or outcome.passed is None:
        # "could not evaluate" has no opposite: inverting it would turn an error into a verdict
        return outcome
    if outcome.passed:
        return CheckOutcome(False, f"expected the opposite, but {outcome.reason}")
    return CheckOutcome(True, f"negation holds: {outcome.reason}")

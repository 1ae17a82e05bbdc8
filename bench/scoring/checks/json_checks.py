"""JSON checks: the output parses as JSON, and validates against a JSON Schema from the suite."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import yaml

from ._common import FENCE_NOTE, Param, json_kind, parse_json_output, read_params
from .base import CheckContext, CheckOutcome, CheckParamError, register

# Enough validation errors to see the pattern without flooding a report cell.
MAX_ERRORS = 3
_ERROR_LIMIT = 120


def _prepare_none(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    return read_params(params, {})


def _load_schema_file(rel: str, suite_dir: Path) -> Any:
    if PurePath(rel).is_absolute():
        raise CheckParamError(f"schema {rel!r} must be a path relative to the suite directory, not absolute")
    root = suite_dir.resolve()
    path = (root / rel).resolve()
    # resolve() also follows symlinks, so a link pointing out of the suite is rejected like '..'
    if not path.is_relative_to(root):
        raise CheckParamError(f"schema {rel!r} points outside the suite directory {str(root)!r}")
    if not path.is_file():
        raise CheckParamError(f"schema file {rel!r} not found (looked in {str(root)!r})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CheckParamError(f"schema file {rel!r} cannot be read: {e}") from e
    try:
        # JSON files get the JSON parser for its precise errors; anything else is read as YAML
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise CheckParamError(
            f"schema file {rel!r} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from e
    except yaml.YAMLError as e:
        raise CheckParamError(f"schema file {rel!r} is not valid YAML: {' '.join(str(e).split())}") from e


def _prepare_schema(params: Mapping[str, Any], suite_dir: Path) -> dict[str, Any]:
    out = read_params(params, {"schema": Param("string", non_empty=True)})
    rel: str = out["schema"]
    schema = _load_schema_file(rel, suite_dir)
    if not isinstance(schema, dict | bool):
        raise CheckParamError(
            f"schema file {rel!r} is not a valid JSON Schema: expected an object, got {json_kind(schema)}"
        )
    # imported here: jsonschema costs ~40 ms at start-up, and only suites with this check need it
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    # The schema's own $schema picks the draft; without one, the current draft.
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        where = e.json_path if e.path else "the top level"
        raise CheckParamError(
            f"schema file {rel!r} is not a valid JSON Schema: {_short(e.message)} (at {where})"
        ) from e
    # format_checker: a suite that writes `format: date` means it; annotation-only would pass anything
    out["validator"] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return out


def _short(text: str, limit: int = _ERROR_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _not_json(ctx: CheckContext, error: str) -> CheckOutcome:
    if error == "output is empty":
        return CheckOutcome(False, "output is empty, not JSON")
    # the parse error already quotes the text around its position, which is the evidence that matters
    return CheckOutcome(False, f"output is not JSON: {error}")


@register("is-json", prepare=_prepare_none)
def is_json(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output is a JSON document (any JSON value).

    No parameters. Surrounding whitespace is ignored, and so is a single fenced block around the whole
    output (```json ... ```); the reason says when a fence was removed.
    """
    parsed = parse_json_output(ctx.output)
    if not parsed.ok:
        return _not_json(ctx, parsed.error)
    note = f", {FENCE_NOTE}" if parsed.fenced else ""
    return CheckOutcome(True, f"output is JSON ({json_kind(parsed.value)}{note})")


@register("json-schema", prepare=_prepare_schema)
def json_schema(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output is JSON that validates against a JSON Schema.

    Parameters: ``schema`` (string, required): path of a JSON or YAML schema file, relative to the
    suite directory and inside it. The file is loaded and checked when the suite loads; its ``$schema``
    selects the draft (default 2020-12), and ``format`` keywords are enforced where jsonschema can check
    them. The output is parsed as in ``is-json`` (one surrounding ```json fence is tolerated).
    """
    parsed = parse_json_output(ctx.output)
    if not parsed.ok:
        return _not_json(ctx, parsed.error)
    rel = params["schema"]
    note = f" ({FENCE_NOTE})" if parsed.fenced else ""
    errors = list(params["validator"].iter_errors(parsed.value))
    if not errors:
        return CheckOutcome(True, f"output matches {rel}{note}")
    shown = "; ".join(f"{e.json_path}: {_short(e.message)}" for e in errors[:MAX_ERRORS])
    more = f" (+{len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
    return CheckOutcome(False, f"output does not match {rel}{note}: {shown}{more}")

"""Text checks: exact, substring, prefix and regular-expression matches over the raw output."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import Param, around, compile_regex, output_start, quote, read_params
from .base import CheckContext, CheckOutcome, CheckParamError, register

_VALUE = {"value": Param("string")}
_NONEMPTY_VALUE = {"value": Param("string", non_empty=True)}
_VALUES = {
    "values": Param("string list", non_empty=True),
    "ignore_case": Param("boolean", required=False, default=False),
}

_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


def _prepare_value(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    return read_params(params, _VALUE)


def _prepare_substring(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    # An empty needle is contained in every output: the check would be vacuous, so it is a suite error.
    return read_params(params, _NONEMPTY_VALUE)


def _prepare_values(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    out = read_params(params, _VALUES)
    if any(v == "" for v in out["values"]):
        raise CheckParamError("parameter 'values' must not contain an empty string")
    return out


def _prepare_regex(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    out = read_params(
        params,
        {
            "pattern": Param("string", non_empty=True),
            "flags": Param("string list", required=False, default=[]),
        },
    )
    bits = 0
    for flag in out["flags"]:
        if flag not in _FLAGS:
            raise CheckParamError(f"unknown regex flag {flag!r} in 'flags' (expected any of 'i', 'm', 's')")
        bits |= _FLAGS[flag]
    out["compiled"] = compile_regex(out["pattern"], bits, "pattern")
    return out


def _find(output: str, needle: str, ignore_case: bool) -> int:
    if ignore_case:
        # casefold can change lengths (ß -> ss); lower() keeps indices aligned for quoting the match
        return output.lower().find(needle.lower())
    return output.find(needle)


@register("equals", prepare=_prepare_value)
def equals(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output equals ``value`` exactly, after stripping surrounding whitespace from both.

    Parameters: ``value`` (string, required).
    """
    want = params["value"].strip()
    got = ctx.output.strip()
    if got == want:
        return CheckOutcome(True, f"output equals {quote(want)}")
    return CheckOutcome(False, f"output is not {quote(want)} (output: {quote(got)})")


@register("contains", prepare=_prepare_substring)
def contains(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output contains ``value`` (case-sensitive substring).

    Parameters: ``value`` (string, required, non-empty).
    """
    value = params["value"]
    at = _find(ctx.output, value, ignore_case=False)
    if at >= 0:
        return CheckOutcome(True, f"output contains {quote(value)} (at char {at})")
    return CheckOutcome(False, f"output does not contain {quote(value)} {output_start(ctx.output)}")


@register("icontains", prepare=_prepare_substring)
def icontains(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output contains ``value``, ignoring case.

    Parameters: ``value`` (string, required, non-empty).
    """
    value = params["value"]
    at = _find(ctx.output, value, ignore_case=True)
    if at >= 0:
        found = ctx.output[at : at + len(value)]
        return CheckOutcome(True, f"output contains {quote(found)} (ignoring case, at char {at})")
    return CheckOutcome(
        False, f"output does not contain {quote(value)} (ignoring case) {output_start(ctx.output)}"
    )


def _list(values: list[str]) -> str:
    return "[" + ", ".join(quote(v, limit=40) for v in values) + "]"


@register("contains-any", prepare=_prepare_values)
def contains_any(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output contains at least one of ``values``.

    Parameters: ``values`` (list of strings, required, non-empty); ``ignore_case`` (true or false,
    default false).
    """
    ignore_case = params["ignore_case"]
    for value in params["values"]:
        at = _find(ctx.output, value, ignore_case)
        if at >= 0:
            found = ctx.output[at : at + len(value)]
            return CheckOutcome(True, f"output contains {quote(found)} (at char {at})")
    case = " (ignoring case)" if ignore_case else ""
    return CheckOutcome(
        False, f"output contains none of {_list(params['values'])}{case} {output_start(ctx.output)}"
    )


@register("contains-all", prepare=_prepare_values)
def contains_all(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output contains every one of ``values``.

    Parameters: ``values`` (list of strings, required, non-empty); ``ignore_case`` (true or false,
    default false).
    """
    values: list[str] = params["values"]
    missing = [v for v in values if _find(ctx.output, v, params["ignore_case"]) < 0]
    case = " (ignoring case)" if params["ignore_case"] else ""
    if not missing:
        return CheckOutcome(True, f"output contains all {len(values)} of {_list(values)}{case}")
    return CheckOutcome(
        False,
        f"output is missing {_list(missing)} ({len(missing)} of {len(values)}){case} "
        f"{output_start(ctx.output)}",
    )


@register("not-contains", prepare=_prepare_substring)
def not_contains(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output does not contain ``value`` (case-sensitive substring).

    Parameters: ``value`` (string, required, non-empty).
    """
    value = params["value"]
    at = _find(ctx.output, value, ignore_case=False)
    if at < 0:
        return CheckOutcome(True, f"output does not contain {quote(value)}")
    where = around(ctx.output, at, at + len(value))
    return CheckOutcome(False, f"output contains {quote(value)} at char {at}: {where}")


@register("regex", prepare=_prepare_regex)
def regex(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The regular expression ``pattern`` matches somewhere in the output (Python ``re.search``).

    Parameters: ``pattern`` (string, required; compiled when the suite loads); ``flags`` (list of
    ``i`` ignore case, ``m`` ``^``/``$`` match at every line, ``s`` ``.`` matches newlines; default none).
    """
    m = params["compiled"].search(ctx.output)
    shown = f"/{params['pattern']}/{''.join(params['flags'])}"
    if m:
        return CheckOutcome(True, f"output matches {shown} at char {m.start()}: {quote(m.group(0))}")
    return CheckOutcome(False, f"output does not match {shown} {output_start(ctx.output)}")


@register("starts-with", prepare=_prepare_value)
def starts_with(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output starts with ``value``, ignoring leading whitespace in the output.

    Parameters: ``value`` (string, required).
    """
    value = params["value"]
    if ctx.output.lstrip().startswith(value):
        return CheckOutcome(True, f"output starts with {quote(value)}")
    return CheckOutcome(False, f"output does not start with {quote(value)} {output_start(ctx.output)}")

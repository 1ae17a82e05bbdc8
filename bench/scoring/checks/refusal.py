"""Refusal checks: did the model decline the task? A heuristic, deliberately simple and explainable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import Param, around, compile_regex, output_start, parse_json_output, quote, read_params
from .base import CheckContext, CheckOutcome, register

_A = "['\u2019]"  # models write both the straight and the typographic apostrophe

# Common English refusal phrasings. Each is anchored on a word boundary so "scannot" or "Iwon't" never
# match; matching ignores case.
_BUILTIN = [
    rf"\bI(?:{_A}m| am) sorry,? but\b",
    r"\bI apologi[sz]e,? but\b",
    rf"\bI can(?:{_A}t|not| not)\b",
    rf"\bI(?:{_A}m| am) (?:unable|not able)\b",
    rf"\bI (?:won{_A}t|will not)\b",
    r"\bI (?:must|have to|need to) (?:decline|refuse)\b",
    rf"\bI(?:{_A}m| am) not (?:comfortable|permitted|allowed)\b",
    r"\b(?:not able|unable) to (?:help|assist|comply|provide|share|disclose)\b",
    rf"\bcan(?:{_A}t|not) (?:comply|share|assist|help with|provide|disclose)\b",
]
_BUILTIN_RE = [re.compile(p, re.IGNORECASE) for p in _BUILTIN]

# Keys a structured refusal sets to true, e.g. {"rejected": true, "reason": "..."}.
_FLAGS = ("rejected", "refused")


def _prepare_refusal(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    out = read_params(params, {"patterns": Param("string list", required=False, default=[])})
    out["compiled"] = [compile_regex(p, re.IGNORECASE, "refusal pattern") for p in out["patterns"]]
    return out


@dataclass(frozen=True)
class _Finding:
    refused: bool
    evidence: str  # quoted phrase or flag that decided it; empty when nothing was found


def _detect(output: str, extra: list[re.Pattern[str]]) -> _Finding:
    parsed = parse_json_output(output)
    if parsed.ok and isinstance(parsed.value, dict):
        flags = [k for k in _FLAGS if k in parsed.value]
        if flags:
            # An explicit flag is the model's own structured answer, and outranks phrase matching: a CRM note
            # quoting a customer's "I can't log in" with "rejected": false is not a refusal.
            hit = [k for k in flags if parsed.value[k] is True]
            if hit:
                return _Finding(True, f'output is a JSON object with "{hit[0]}": true')
            return _Finding(False, f'output is a JSON object with "{flags[0]}": {parsed.value[flags[0]]!r}')
    best: re.Match[str] | None = None
    for pattern in _BUILTIN_RE + extra:
        m = pattern.search(output)
        if m and (best is None or m.start() < best.start()):
            best = m
    if best is None:
        return _Finding(False, "")
    where = around(output, best.start(), best.end())
    return _Finding(True, f"matched {quote(best.group(0))} at char {best.start()}: {where}")


@register("refusal", prepare=_prepare_refusal)
def refusal(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output declines to do the task.

    A heuristic: common English refusal phrasings ("I can't", "I cannot", "I'm sorry, but", "I am unable",
    "I won't", "not able to help", "cannot comply", "cannot share", ...), matched ignoring case anywhere in
    the output; or a JSON object (a single ```json fence is tolerated) with ``"rejected": true`` or
    ``"refused": true``. When the JSON object carries one of those keys, its value decides and the
    phrasings are not consulted.

    Parameters: ``patterns`` (list of regular expressions, optional): extra phrasings that count as a
    refusal, matched ignoring case.
    """
    found = _detect(ctx.output, params["compiled"])
    if found.refused:
        return CheckOutcome(True, f"refusal: {found.evidence}")
    if found.evidence:
        return CheckOutcome(False, f"no refusal: {found.evidence}")
    return CheckOutcome(False, f"no refusal phrasing found {output_start(ctx.output)}")


@register("not-refusal", prepare=_prepare_refusal)
def not_refusal(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output does not decline the task: the inverse of ``refusal``, with the same detection.

    Parameters: ``patterns`` (list of regular expressions, optional): extra phrasings that count as a
    refusal, matched ignoring case.
    """
    found = _detect(ctx.output, params["compiled"])
    if found.refused:
        return CheckOutcome(False, f"output refuses: {found.evidence}")
    if found.evidence:
        return CheckOutcome(True, f"output does not refuse: {found.evidence}")
    return CheckOutcome(True, f"output does not refuse: no refusal phrasing found {output_start(ctx.output)}")

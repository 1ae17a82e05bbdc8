"""The check registry: a check is a small function over one output, registered under a type name.

A new check joins by adding one module to ``bench/scoring/checks/`` that calls :func:`register`; the
package imports every module in the folder, so nothing else needs to change.

In a suite a check is a mapping: ``{type: contains, value: "refund"}``. Any check may carry
``not: true`` (the verdict is inverted) and, inside a case's ``expect``, ``criterion: ID`` (which rubric
criterion it scores). Parameters are validated when the suite loads, through the check's ``prepare``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CheckContext:
    """What a check may look at for one (case, candidate, repeat) output."""

    output: str
    category: str = "normal"
    vars: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class CheckOutcome:
    # True / False; None when the check could not be evaluated (e.g. cost-usd on an unpriced model),
    # which scores as the verdict ``error``, never as a silent pass.
    passed: bool | None
    reason: str  # quotes the evidence: what was looked for, and what was (not) found


class CheckParamError(ValueError):
    """A check's parameters are wrong; the message says what and how to fix it."""


# prepare(params, suite_dir) -> prepared params (validated, files loaded); raises CheckParamError
Prepare = Callable[[Mapping[str, Any], Path], dict[str, Any]]
Evaluate = Callable[[CheckContext, Mapping[str, Any]], CheckOutcome]


@dataclass(frozen=True)
class CheckType:
    name: str
    evaluate: Evaluate
    prepare: Prepare
    doc: str


REGISTRY: dict[str, CheckType] = {}


def register(name: str, *, prepare: Prepare | None = None) -> Callable[[Evaluate], Evaluate]:
    """Register ``evaluate`` under ``name``; ``prepare`` validates parameters at suite load time."""

    def decorator(evaluate: Evaluate) -> Evaluate:
        if name in REGISTRY:
            raise RuntimeError(f"check type {name!r} registered twice")
        REGISTRY[name] = CheckType(
            name=name,
            evaluate=evaluate,
            prepare=prepare or (lambda params, _suite_dir: dict(params)),
            doc=(evaluate.__doc__ or "").strip(),
        )
        return evaluate

    return decorator

"""Output formats of ``bench compare``: each module renders a list of comparisons to a string.

``FORMATS`` maps a ``--format`` name to its renderer; a format module registers itself with
:func:`register`, so a new format is one new file listed at the bottom of this one. The helpers here are the
wording every format shares (a rate as "92%", a quality move as "92% → 75%").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from bench.compare import CandidateDelta, Comparison, Finding

Renderer = Callable[[list["Comparison"]], str]

FORMATS: dict[str, Renderer] = {}


def register(name: str) -> Callable[[Renderer], Renderer]:
    def add(renderer: Renderer) -> Renderer:
        FORMATS[name] = renderer
        return renderer

    return add


def render(name: str, comparisons: list[Comparison]) -> str:
    return FORMATS[name](comparisons)


def percent(rate: dict[str, Any] | None) -> str:
    if not rate or rate.get("rate") is None:
        return "–"
    return f"{rate['rate']:.0%}"


def quality_move(candidate: CandidateDelta) -> str:
    """``92% → 75%``; a side where the candidate did not run reads "not run"."""
    before = percent(candidate.before) if candidate.before is not None else "not run"
    after = percent(candidate.after) if candidate.after is not None else "not run"
    return f"{before} → {after}"


def count(findings: list[Finding], noun: str) -> str:
    return f"{len(findings)} {noun}{'' if len(findings) == 1 else 's'}"


def significant(findings: list[Finding]) -> int:
    """How many rate findings passed the McNemar test."""
    return sum(1 for f in findings if getattr(f, "significant", False))


def totals(comparisons: list[Comparison]) -> tuple[int, int]:
    return (
        sum(len(c.regressions) for c in comparisons),
        sum(len(c.improvements) for c in comparisons),
    )


from bench.formats import json_format, junit, markdown, text  # noqa: E402  (each registers itself)

__all__ = ["FORMATS", "json_format", "junit", "markdown", "register", "render", "text"]

"""Plain text for a terminal or a CI log: per suite the input changes, then each candidate's findings."""

from __future__ import annotations

import textwrap

from bench.compare import Comparison, Finding
from bench.formats import count, quality_move, register, totals

INDENT = "    "


def _finding(finding: Finding, label: str) -> list[str]:
    lines = [f"  {label}: {finding.headline}"]
    if finding.detail:
        lines += [textwrap.indent(finding.detail, INDENT + "  ")]
    if finding.cause:
        lines.append(f"{INDENT}  cause: {finding.cause}")
    return lines


def _comparison(comparison: Comparison) -> list[str]:
    lines = [f"{comparison.suite}: {comparison.base_label} → {comparison.head_label}"]
    if comparison.inputs:
        lines.append("  inputs changed:")
        for change in comparison.inputs:
            lines.append(f"{INDENT}- {change.headline}")
            if change.diff:
                lines.append(textwrap.indent(change.diff, INDENT + "  "))
    else:
        lines.append("  inputs: unchanged")
    for candidate in comparison.candidates:
        regressions, improvements = comparison.of(candidate.key)
        lines.append(
            f"  {candidate.key}: quality {quality_move(candidate)}; "
            f"{count(regressions, 'regression')}, {count(improvements, 'improvement')}"
        )
        for finding in regressions:
            lines += _finding(finding, "  regression")
        for finding in improvements:
            lines += _finding(finding, "  improvement")
    lines += [f"  note: {note}" for note in comparison.notes]
    return lines


@register("text")
def render_text(comparisons: list[Comparison]) -> str:
    lines: list[str] = []
    for comparison in comparisons:
        lines += [*_comparison(comparison), ""]
    regressions, improvements = totals(comparisons)
    suites = len(comparisons)
    lines.append(
        f"{regressions} regression{'s' if regressions != 1 else ''}, "
        f"{improvements} improvement{'s' if improvements != 1 else ''} "
        f"in {suites} suite{'s' if suites != 1 else ''}"
    )
    return "\n".join(lines) + "\n"

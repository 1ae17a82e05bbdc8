"""A pull-request comment: the summary table first, then the details in ``<details>`` sections.

GitHub refuses comments over 65,536 characters, so the output is capped at :data:`LIMIT`: details are cut
(at a finding's boundary, closing every open section) and a note says how many findings were left out and
how to see them. The title and the summary table are never cut: whoever reads only the top reads the answer.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bench.compare import Comparison, Finding, InputChange
from bench.formats import count, quality_move, register, significant, totals

LIMIT = 60_000
NOTE_RESERVE = 400  # room kept for the truncation note
DETAIL_CHARS = 500  # a verdict's reason can quote a whole output: keep the start
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def escape(text: str, limit: int | None = None) -> str:
    """Text from outputs and reasons, made inert: no HTML, no markdown emphasis, no table breaks."""
    flat = " ".join(text.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def _fenced(text: str, language: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


@dataclass
class Section:
    """A ``<details>`` block whose items can be dropped from the end when the comment is too long."""

    opening: str
    items: list[str]
    closing: str = "\n</details>\n\n"

    def text(self, items: list[str] | None = None) -> str:
        return self.opening + "".join(self.items if items is None else items) + self.closing


def _summary(comparisons: list[Comparison]) -> str:
    regressions, improvements = totals(comparisons)
    first = comparisons[0] if comparisons else None
    title = "## bench compare"
    if first is not None:
        title += f": `{first.base_label}` → `{first.head_label}`"
    strong = sum(significant(c.regressions) for c in comparisons)
    suites = f"{len(comparisons)} suite{'s' if len(comparisons) != 1 else ''}"
    if regressions:
        verdict = f"**{regressions} regression{'s' if regressions != 1 else ''}** ({strong} significant)"
    else:
        verdict = "**No regression**"
    verdict += f", {improvements} improvement{'s' if improvements != 1 else ''} across {suites}."
    rows = [
        "| suite | candidate | regressions | improvements | quality base → head |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for comparison in comparisons:
        if not comparison.candidates:
            rows.append(f"| {escape(comparison.suite)} | – | 0 | 0 | – |")
        for candidate in comparison.candidates:
            mine, better = comparison.of(candidate.key)
            strong_here = significant(mine)
            cell = f"{len(mine)}" + (f" ({strong_here} significant)" if strong_here else "")
            rows.append(
                f"| {escape(comparison.suite)} | {escape(candidate.key)} | {cell} | {len(better)} "
                f"| {quality_move(candidate)} |"
            )
    return f"{title}\n\n{verdict}\n\n" + "\n".join(rows) + "\n\n"


def _input_item(change: InputChange) -> str:
    item = f"- {escape(change.headline)}\n"
    if change.diff:
        item += "\n" + "\n".join("  " + line for line in _fenced(change.diff, "diff").splitlines()) + "\n\n"
    return item


def _finding_item(finding: Finding, label: str) -> str:
    item = f"- {label} {escape(finding.headline)}"
    if finding.cause:
        item += f"<br>cause: *{escape(finding.cause)}*"
    if finding.detail:
        item += f"<br>{escape(finding.detail, DETAIL_CHARS)}"
    return item + "\n"


def _sections(comparison: Comparison) -> list[Section]:
    suite = escape(comparison.suite)
    sections = []
    if comparison.inputs or comparison.notes:
        items = [_input_item(change) for change in comparison.inputs]
        items += [f"- note: {escape(note)}\n" for note in comparison.notes]
        opening = f"<details><summary>{suite}: inputs changed ({len(comparison.inputs)})</summary>\n\n"
        sections.append(Section(opening, items))
    for candidate in comparison.candidates:
        regressions, improvements = comparison.of(candidate.key)
        if not regressions and not improvements:
            continue
        items = [_finding_item(f, "🔻") for f in regressions] + [_finding_item(f, "🔺") for f in improvements]
        opening = (
            f"<details><summary>{suite} · {escape(candidate.key)}: {count(regressions, 'regression')}, "
            f"{count(improvements, 'improvement')}</summary>\n\n"
        )
        sections.append(Section(opening, items))
    return sections


def _fit(summary: str, sections: list[Section], limit: int) -> str:
    """The summary, then as many whole sections (and items of the first one that does not fit) as fit."""
    parts = [summary]
    budget = limit - len(summary) - NOTE_RESERVE
    left_out = 0
    for section in sections:
        if left_out:
            left_out += len(section.items)
            continue
        whole = section.text()
        if len(whole) <= budget:
            parts.append(whole)
            budget -= len(whole)
            continue
        kept: list[str] = []
        used = len(section.opening) + len(section.closing)
        for item in section.items:
            if used + len(item) > budget:
                break
            kept.append(item)
            used += len(item)
        left_out += len(section.items) - len(kept)
        if kept:
            parts.append(section.text(kept))
            budget -= used
    if left_out:
        parts.append(
            f"> ✂️ {left_out} more item{'s' if left_out != 1 else ''} not shown: a pull-request comment holds "
            f"at most {limit:,} characters here. Run `bench compare --format text` or `--format json` "
            "to see every finding.\n"
        )
    return "".join(parts)


@register("markdown")
def render_markdown(comparisons: list[Comparison]) -> str:
    sections = [section for comparison in comparisons for section in _sections(comparison)]
    return _fit(_summary(comparisons), sections, LIMIT)

"""``bench compare`` and ``bench history``: results across git revisions.

Only click is imported here at the top; git, deepdiff and the formats load inside the commands, so
``bench --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # pragma: no cover
    import git

    from bench.compare import Comparison
    from bench.history import HistoryRow

#: kept in step with bench.formats.FORMATS (a test checks it); listed here so --help needs no import
COMPARE_FORMATS = ("text", "markdown", "json", "junit")
FAIL_ON = ("regression", "any", "never")


def _suite_name(ref: str) -> str:
    """``crm``, ``suites/crm`` and ``results/crm.json`` all name the suite ``crm``."""
    path = Path(ref)
    if path.name in ("suite.yaml", "suite.yml"):
        return path.parent.name
    return path.stem if path.suffix == ".json" else path.name


@click.command("compare")
@click.argument("suites", nargs=-1)
@click.option(
    "--base", metavar="REV", help="Base revision (default: merge-base with the default branch, or HEAD~1)."
)
@click.option("--head", metavar="REV", help="Head revision (default: the working tree).")
@click.option("--format", "fmt", type=click.Choice(COMPARE_FORMATS), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="regression",
    show_default=True,
    help="Exit 1 on any regression, on any change in results (any), or never.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout."
)
@click.pass_context
def compare_command(
    ctx: click.Context,
    suites: tuple[str, ...],
    base: str | None,
    head: str | None,
    fmt: str,
    fail_on: str,
    output: Path | None,
) -> None:
    """Compare suite snapshots between two revisions: input changes, regressions, improvements, causes.

    SUITES default to every results/<suite>.json present on both sides. Exit 0 when nothing crosses
    --fail-on, 1 when something does, 2 for an unknown revision or a missing snapshot. With
    $GITHUB_STEP_SUMMARY set, the markdown report is appended to that file too.
    """
    from bench import history as hist
    from bench.errors import InputError, RegressionFound
    from bench.formats import FORMATS

    root = Path(ctx.obj["root"])
    repo = hist.find_repo(root)
    head_rev = hist.resolve_rev(repo, head) if head else None
    if base:
        base_rev = hist.resolve_rev(repo, base)
    else:  # an uncommitted run on the default branch is compared with HEAD, not HEAD~1
        inputs = [hist.repo_path(repo, root, d) for d in ("results", "suites")] if head_rev is None else []
        base_rev = hist.default_base(repo, inputs)
    names = [_suite_name(s) for s in suites]
    if not names:
        at_head = set(hist.snapshots_present(repo, head_rev, root))
        names = [n for n in hist.snapshots_present(repo, base_rev, root) if n in at_head]
        if not names:
            raise InputError(
                f"no results/<suite>.json is present at both {hist.rev_label(repo, base_rev)} and "
                f"{hist.rev_label(repo, head_rev)}: nothing to compare"
            )
    comparisons = [_compare_suite(repo, root, name, base_rev, head_rev) for name in names]

    report = FORMATS[fmt](comparisons)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report, encoding="utf-8")
    else:
        click.echo(report, nl=False)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        markdown = report if fmt == "markdown" else FORMATS["markdown"](comparisons)
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    crossing = [c for c in comparisons if c.crosses(fail_on)]
    if crossing:
        raise RegressionFound(_crossing_message(crossing, fail_on))


def _compare_suite(repo: git.Repo, root: Path, name: str, base_rev: str, head_rev: str | None) -> Comparison:
    from bench import history as hist
    from bench.compare import compare

    base = hist.snapshot_at(repo, base_rev, name, root)
    head = hist.snapshot_at(repo, head_rev, name, root)
    return compare(
        base,
        head,
        hist.prompt_files_at(repo, base_rev, base, root),
        hist.prompt_files_at(repo, head_rev, head, root),
        hist.compare_thresholds_at(repo, head_rev, head, root),
        base_label=hist.rev_label(repo, base_rev),
        head_label=hist.rev_label(repo, head_rev),
    )


def _crossing_message(crossing: list[Comparison], fail_on: str) -> str:
    """``2 regressions in crm, 1 regression in billing (--fail-on regression)``."""

    def several(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    if fail_on == "regression":
        parts = [f"{several(len(c.regressions), 'regression')} in {c.suite}" for c in crossing]
    else:
        parts = [
            f"{several(len(c.regressions), 'regression')} and "
            f"{several(len(c.improvements), 'improvement')} in {c.suite}"
            for c in crossing
        ]
    return f"{', '.join(parts)} (--fail-on {fail_on})"


@click.command("history")
@click.argument("suite")
@click.option("--limit", "-n", type=click.IntRange(1), default=None, help="Only the N most recent snapshots.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.pass_context
def history_command(ctx: click.Context, suite: str, limit: int | None, fmt: str) -> None:
    """One row per commit that changed results/SUITE.json, newest first: pass rates, cost, p95, what changed."""
    from bench import history as hist

    root = Path(ctx.obj["root"])
    repo = hist.find_repo(root)
    rows = hist.history(repo, _suite_name(suite), limit, root)
    if fmt == "json":
        import json

        click.echo(json.dumps([row.to_dict() for row in rows], indent=2, ensure_ascii=False))
        return
    _print_history(_suite_name(suite), rows)


def _cell(point: Any) -> str:
    quality = point.quality or {}
    if quality.get("rate") is None:
        lines = ["not scored"]
    else:
        lines = [f"{quality['rate']:.0%} ({quality['low']:.0%}–{quality['high']:.0%}, n={quality['n']})"]
    extra = []
    if point.cost_per_request_usd is not None:
        extra.append(f"${point.cost_per_request_usd:.4g}/req")
    if point.latency_p95_ms is not None:
        extra.append(f"p95 {point.latency_p95_ms:.0f} ms")
    if point.errors:
        extra.append(f"{point.errors} errors")
    if extra:
        lines.append(" · ".join(extra))
    if point.outcome:
        lines.append(point.outcome)
    return "\n".join(lines)


def _print_history(suite: str, rows: list[HistoryRow]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from bench.report import stdout_console

    keys: list[str] = []
    for row in rows:
        keys += [k for k in row.candidates if k not in keys]
    table = Table(title=f"{suite}: quality pass rate per snapshot", title_justify="left", show_lines=True)
    for column in ("Date", "Commit", "Author"):
        table.add_column(column, no_wrap=True)
    for key in keys:
        table.add_column(escape(key), overflow="fold")
    table.add_column("Changed", overflow="fold")
    for row in rows:
        cells = [row.date[:10], row.commit[:8], escape(row.author)]
        cells += [escape(_cell(row.candidates[k])) if k in row.candidates else "–" for k in keys]
        cells.append(escape(", ".join(row.changed) or "results only"))
        table.add_row(*cells)
    stdout_console(width=160).print(table)


def register(cli: click.Group) -> None:
    cli.add_command(compare_command)
    cli.add_command(history_command)

"""``bench review``: human review in git. Export a sheet, fill it in, import it, measure agreement.

Only click is imported here: the library (:mod:`bench.scoring.review`) is imported inside each command
so that ``bench --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click


def _root(ctx: click.Context) -> Path:
    return Path(ctx.find_root().obj["root"])


@click.group()
def review() -> None:
    """Human review in git: sheets out, filled sheets in, reviews in suites/<suite>/reviews/.

    \b
    1. bench review export SUITE --reviewer NAME      writes suites/SUITE/reviews/NAME.csv.todo
    2. fill it in: pass / mixed / fail per criterion (P / M / F work too)
    3. bench review import suites/SUITE/reviews/NAME.csv.todo
                                                     merges into suites/SUITE/reviews/NAME.yaml
    4. bench review agreement SUITE                  do reviewers, the judge and the checks agree?

    A review is keyed to the exact output it scored: when a rerun changes that output, the review
    turns stale and the output needs review again.
    """


@review.command("export")
@click.argument("suite")
@click.option("--reviewer", required=True, metavar="NAME", help="Who fills the sheet in (a file name).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "md"]),
    default="csv",
    show_default=True,
    help="Sheet format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write; '-' for stdout. Default: suites/SUITE/reviews/NAME.<csv|md>.todo.",
)
@click.option(
    "--candidate", "candidates", multiple=True, metavar="KEY", help="Only this candidate (repeatable)."
)
@click.option(
    "--only-unreviewed",
    is_flag=True,
    help="Leave out the outputs this reviewer already reviewed (as they are now).",
)
@click.option(
    "--blind",
    is_flag=True,
    help="Hide the automatic verdicts, so they cannot anchor the reviewer (for judge calibration).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing sheet (it may hold unimported work).")
@click.pass_context
def export_sheet(
    ctx: click.Context,
    suite: str,
    reviewer: str,
    fmt: str,
    output: Path | None,
    candidates: tuple[str, ...],
    only_unreviewed: bool,
    blind: bool,
    force: bool,
) -> None:
    """Write a review sheet from results/SUITE.json: one row per (case, candidate, repeat).

    Each row shows the case input and the output, with one empty column (CSV) or checklist line
    (Markdown) per rubric criterion to fill with pass / mixed / fail, and a notes column. The CSV's
    auto:<criterion> columns and the Markdown's auto: lines show the automatic verdicts, read-only.
    Rows this reviewer already reviewed come prefilled, so re-importing replaces them.
    """
    from bench import snapshot as snap
    from bench.errors import InputError
    from bench.scoring import review as rv
    from bench.suite import load_suite

    root = _root(ctx)
    rv.check_reviewer(reviewer)
    loaded = load_suite(suite, root)
    document = snap.read(snap.snapshot_path(root, loaded.name))
    sheet = rv.build_sheet(
        document,
        loaded,
        reviewer,
        rv.load_reviews(loaded.dir),
        candidates=candidates,
        only_unreviewed=only_unreviewed,
        show_auto=not blind,
    )
    if not sheet.rows:
        click.echo(f"nothing to review in results/{loaded.name}.json for {reviewer}", err=True)
        return
    text = rv.render_csv(sheet) if fmt == "csv" else rv.render_md(sheet)
    if output is not None and str(output) == "-":
        click.echo(text, nl=False)
        return
    target = output or rv.default_sheet_path(loaded.dir, reviewer, fmt)
    if target.exists() and not force:
        raise InputError(
            f"{target} exists and may hold unimported work: import it first "
            f"(bench review import {target}) or pass --force to overwrite it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(
        f"wrote {len(sheet.rows)} output(s) to review to {target}; when filled in: bench review import {target}",
        err=True,
    )


@review.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--suite", default=None, help="The suite (default: from the sheet or its folder).")
@click.option("--reviewer", default=None, metavar="NAME", help="Whose review (default: from the sheet).")
@click.pass_context
def import_sheet(ctx: click.Context, file: Path, suite: str | None, reviewer: str | None) -> None:
    """Merge a filled sheet (CSV or Markdown) into suites/<suite>/reviews/<reviewer>.yaml.

    Every row is checked against results/<suite>.json first (unknown case, candidate or criterion,
    a verdict that is not pass / mixed / fail, two ticks on one line); any problem is listed with
    file:line, exit 2, and nothing is written. A row whose output changed since the export is stored
    but reported stale. Importing again replaces the entries for the same outputs.
    """
    from bench.scoring import review as rv
    from bench.snapshot import refresh
    from bench.suite import load_suite

    root = _root(ctx)
    outcome = rv.import_sheet(file, root, suite=suite, reviewer=reviewer)
    for message in outcome.stale:
        click.echo(f"warning: {message}", err=True)
    refresh(root, load_suite(outcome.suite, root))  # human verdicts show in the scorecard now
    new = outcome.stored - outcome.replaced - outcome.unchanged
    click.echo(
        f"{outcome.reviewer}: {outcome.stored} review(s) in {outcome.path} "
        f"({new} new, {outcome.replaced} replaced, {outcome.unchanged} unchanged, "
        f"{len(outcome.stale)} stale); {outcome.blank} row(s) left blank"
    )


@review.command("agreement")
@click.argument("suite")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def agreement(ctx: click.Context, suite: str, fmt: str) -> None:
    """How well reviewers agree with each other, and the judge and the checks with them.

    Per pair and per criterion, and over all criteria: Cohen's kappa, the quadratic-weighted kappa over
    fail < mixed < pass, Krippendorff's ordinal alpha and n. Alpha reads reliable from 0.800,
    tentative from 0.667 (Krippendorff 2004). Only reviews of the current outputs count.
    """
    import json

    from bench import snapshot as snap
    from bench.scoring import review as rv
    from bench.suite import resolve_suite_dir

    root = _root(ctx)
    suite_dir = resolve_suite_dir(suite, root)
    document = snap.read(snap.snapshot_path(root, suite_dir.name))
    reviews = rv.load_reviews(suite_dir)
    records = {(r["case"], r["candidate"], int(r["repeat"])): r for r in document.get("records", [])}
    stale = sum(
        1
        for r in reviews
        if r.item not in records or not r.matches(records[r.item].get("output_fingerprint"))
    )
    results = rv.review_agreement(document, reviews)
    if fmt == "json":
        payload = {
            "suite": suite_dir.name,
            "snapshot_created_at": document.get("created_at"),
            "reviewers": sorted({r.reviewer for r in reviews}),
            "stale_reviews": stale,
            "agreements": [rv.agreement_data(a) for a in results],
        }
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    if not reviews:
        click.echo(f"no reviews of {suite_dir.name} yet: start with `bench review export {suite_dir.name}`")
        return
    if not results:
        click.echo(
            "nothing to compare: agreement needs two reviewers, or a reviewer and judge or check verdicts"
        )
    _print_text(results)
    click.echo(
        "\nalpha: Krippendorff's ordinal alpha (reliable >= 0.800, tentative >= 0.667); kappa: Cohen's; "
        "weighted: quadratic over fail < mixed < pass."
    )
    if stale:
        click.echo(f"{stale} stale review(s) left out: their outputs changed since (review them again).")


def _print_text(results: list) -> None:
    """One block per pair of raters, one plain sentence per criterion, then overall."""

    def number(x: float) -> str:
        return "n/a" if x != x else f"{x:.2f}"

    current: tuple[str, str] | None = None
    for found in results:
        if found.pair != current:
            current = found.pair
            click.echo(f"\n{found.pair[0]} vs {found.pair[1]}")
        figures = (
            "" if not found.n else f"; kappa {number(found.kappa)}, weighted {number(found.weighted_kappa)}"
        )
        click.echo(f"  {found.reading}{figures}")


def register(cli: click.Group) -> None:
    cli.add_command(review)

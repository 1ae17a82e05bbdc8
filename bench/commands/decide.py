"""``bench decide``: record the team's decision on a candidate next to what bench recommends.

The decision is a file in the suite (``suites/<suite>/decisions/``), committed with the snapshot it rests
on, so the history of a workflow shows who decided what, on which evidence, and where they overrode bench.
"""

from __future__ import annotations

from pathlib import Path

import click

# the same values as bench.decide.OUTCOMES (a test keeps them equal); listed here so that
# `bench --help` does not import the decision module
OUTCOME_CHOICES = ("ship", "ship-with-limits", "fallback", "keep-testing", "reject")


def register(cli: click.Group) -> None:
    cli.add_command(decide)


@click.command()
@click.argument("suite")
@click.option("--candidate", required=True, metavar="KEY", help="The candidate's catalog key.")
@click.option("--outcome", required=True, type=click.Choice(OUTCOME_CHOICES), help="The team's decision.")
@click.option("--note", required=True, metavar="TEXT", help="Why: the evidence and the limits agreed.")
@click.pass_context
def decide(ctx: click.Context, suite: str, candidate: str, outcome: str, note: str) -> None:
    """Record a decision on a candidate from the suite's latest snapshot (results/<suite>.json).

    Writes suites/<suite>/decisions/<date>-<candidate>.md with the outcome, bench's recommendation,
    the scorecard row and the snapshot commit; an earlier decision is never overwritten.
    """
    from bench import snapshot as snap
    from bench.decide import LABELS, recommend_snapshot, record_decision
    from bench.errors import InputError

    root = Path(ctx.obj["root"])
    name = Path(suite).name if Path(suite).is_dir() else suite
    if not note.strip():
        raise InputError("--note is empty: say why, so the decision can be reviewed later")
    document = snap.read(snap.snapshot_path(root, name))
    keys = [c["key"] for c in document.get("candidates", [])]
    if candidate not in keys:
        raise InputError(
            f"--candidate {candidate!r} is not a candidate of {name} (candidates: {', '.join(keys)})"
        )
    recommended = recommend_snapshot(document).get(candidate)
    path = record_decision(root, name, candidate, outcome, note, document, recommended)

    if recommended is None:
        click.echo(f"recommended: none ({candidate} has no results in this snapshot)")
    else:
        click.echo(f"recommended: {recommended['label']}")
        for reason in recommended["reasons"]:
            click.echo(f"  - {reason}")
    click.echo(f"recorded:    {LABELS[outcome]}")
    if recommended is not None and recommended["outcome"] != outcome:
        click.echo(
            f"note: the recorded decision differs from bench's recommendation ({recommended['label']})"
        )
    click.echo(f"wrote {path}")

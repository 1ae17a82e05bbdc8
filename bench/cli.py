"""The ``bench`` command: thin click commands over the library. Heavy imports happen inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bench import __version__
from bench.errors import BenchError, Interrupted


class BenchGroup(click.Group):
    """Maps bench's errors onto exit codes in one place: bad input 2, regression 1, interrupted 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            text = str(exc)
            # problems located in a file already read "file:line: error: ..."; others get the prefix
            click.echo(text if "\n" in text or ": error: " in text else f"error: {text}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(Interrupted.exit_code)
        except OSError as exc:  # a path that cannot be written or read: the user's to fix, exit 2
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"error: cannot use{where}: {exc.strerror or exc}", err=True)
            ctx.exit(2)


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bench")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Repository root (holds suites/ and results/).",
)
@click.pass_context
def cli(ctx: click.Context, root: Path) -> None:
    """Tell whether an AI model is ready for YOUR workflow: a repeatable decision test in git."""
    ctx.obj = {"root": root}


def _root(ctx: click.Context) -> Path:
    return Path(ctx.obj["root"])


@cli.command()
@click.argument("suites", nargs=-1)
@click.pass_context
def validate(ctx: click.Context, suites: tuple[str, ...]) -> None:
    """Check suites without calling any model: schema, catalog keys, templates, coverage.

    SUITES are suite names (folders under suites/) or paths; default: every suite.
    Exit 0 when valid, 2 when any suite has an error.
    """
    from bench.errors import InputError, SuiteInvalid
    from bench.suite import load_suite, suite_refs

    root = _root(ctx)
    failed = 0
    for ref in suite_refs(root, suites):
        try:
            suite = load_suite(ref, root)
        except SuiteInvalid as exc:
            failed += 1
            for problem in exc.problems:
                click.echo(problem.format(), err=True)
            errors = sum(p.severity == "error" for p in exc.problems)
            click.echo(f"✗ {ref}: {errors} error(s)", err=True)
            continue
        except InputError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        for warning in suite.warnings:
            click.echo(warning.format(), err=True)
        click.echo(
            f"✓ {suite.name}: {len(suite.cases)} cases, {len(suite.candidates)} candidates, "
            f"{len(suite.rubric)} criteria"
            + (f", {len(suite.warnings)} warning(s)" if suite.warnings else "")
        )
    if failed:
        ctx.exit(2)


@cli.command()
@click.argument("suites", nargs=-1)
@click.option(
    "--candidate", "candidates", multiple=True, metavar="KEY", help="Only this catalog key (repeatable)."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=16,
    show_default=True,
    help="Calls in flight, run-wide.",
)
@click.option(
    "--repeat", type=click.IntRange(1, 100), default=None, help="Samples per case (default: the suite's)."
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option(
    "--fresh",
    is_flag=True,
    help="Call every model again: no reuse of the last snapshot or the cache (an interrupted run still resumes).",
)
@click.option(
    "--max-cost", type=click.FloatRange(min=0), metavar="USD", help="Stop dispatching before this budget."
)
@click.option(
    "--dry-run", is_flag=True, help="Estimate calls, tokens and cost from the rendered prompts; call nothing."
)
@click.option("--shard", metavar="I/N", help="Run only slice I of N of the calls; writes a partial snapshot.")
@click.option(
    "--commit", "commit", is_flag=True, help="Commit results/<suite>.json (and nothing else) afterwards."
)
@click.option(
    "--changed-since", metavar="REV", help="Only the suites whose files or catalog entries changed since REV."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress, no scorecard.")
@click.pass_context
def run(
    ctx: click.Context,
    suites: tuple[str, ...],
    candidates: tuple[str, ...],
    concurrency: int,
    repeat: int | None,
    no_cache: bool,
    fresh: bool,
    shard: str | None,
    max_cost: float | None,
    dry_run: bool,
    commit: bool,
    changed_since: str | None,
    quiet: bool,
) -> None:
    """Run suites through every candidate and write results/<suite>.json.

    Each case is rendered once and the same messages go to every candidate. Candidates whose API key
    variable is unset are skipped with a message; the run goes on. A rerun reuses every record of the
    current snapshot whose request is unchanged, then the cache. Ctrl-C writes an incomplete snapshot
    (exit 130); running again finishes it without repeating completed calls.
    """
    from bench.engine import run_suite
    from bench.errors import InputError
    from bench.merge import parse_shard
    from bench.suite import check_candidate_keys, load_suite, resolve_suite_dir, suite_refs

    root = _root(ctx)
    slice_ = parse_shard(shard) if shard else None
    refs = suite_refs(root, suites)
    if commit and slice_:
        raise InputError("--commit with --shard: merge the partials (bench merge), then commit the snapshot")
    if commit or changed_since:
        from bench.history import find_repo

        find_repo(root)  # refuse before spending anything, not after
    if changed_since:
        from bench.history import changed_suites

        changed = set(changed_suites(root, changed_since))
        refs = [ref for ref in refs if resolve_suite_dir(ref, root).name in changed]
        if not refs:
            click.echo(f"no suite changed since {changed_since}: nothing to run")
            return
        click.echo(
            f"changed since {changed_since}: {', '.join(resolve_suite_dir(r, root).name for r in refs)}"
        )
    loaded = [load_suite(ref, root) for ref in refs]  # all valid before any call
    check_candidate_keys(loaded, candidates)
    if candidates:
        for suite in [s for s in loaded if not any(s.candidate(k) for k in candidates)]:
            click.echo(f"{suite.name}: none of the --candidate keys is one of its candidates: not run")
        loaded = [s for s in loaded if any(s.candidate(k) for k in candidates)]
    if dry_run:
        from bench.engine import dry_run as estimate
        from bench.report import print_estimate, stdout_console

        for suite in loaded:
            print_estimate(suite.name, estimate(suite, candidates, repeat, slice_), stdout_console())
        return
    for suite in loaded:
        document = run_suite(
            suite,
            root,
            candidates=candidates,
            concurrency=concurrency,
            repeat=repeat,
            use_cache=not no_cache,
            fresh=fresh,
            quiet=quiet,
            shard=slice_,
            max_cost_usd=max_cost,
        )
        if commit:
            from bench import snapshot as snap
            from bench.history import commit_message, commit_snapshot

            path = snap.snapshot_path(root, suite.name)
            sha = commit_snapshot(root, path, commit_message(document))
            click.echo(f"committed {path} as {sha[:12]}")


@cli.command()
@click.argument(
    "partials", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: results/<suite>.json"
)
@click.pass_context
def merge(ctx: click.Context, partials: tuple[Path, ...], output: Path | None) -> None:
    """Merge partial snapshots of `bench run --shard I/N` into results/<suite>.json.

    Refuses partials of different suite fingerprints, the same shard twice, or splits of different N.
    """
    from bench import snapshot as snap
    from bench.merge import merge as merge_partials

    loaded = [(str(p), snap.read(p)) for p in partials]
    document = merge_partials(loaded)
    path = output or snap.snapshot_path(_root(ctx), document["suite"]["name"])
    snap.write(path, document)
    missing = document["stats"]["shards_missing"]
    note = f"; shards missing: {', '.join(map(str, missing))} (marked incomplete)" if missing else ""
    for uneven in document["stats"].get("uneven_shards") or []:
        click.echo(f"warning: {uneven}: the merged snapshot is marked incomplete", err=True)
    click.echo(f"wrote {path} ({len(document['records'])} records from {len(partials)} partials{note})")


@cli.command()
@click.argument("suite", required=False)
@click.pass_context
def report(ctx: click.Context, suite: str | None) -> None:
    """Print the scorecard of a suite's latest snapshot (results/<suite>.json)."""
    from bench import snapshot as snap
    from bench.report import print_report, stdout_console

    root = _root(ctx)
    if suite is None:
        names = sorted(
            p.name.removesuffix(".json")
            for p in (root / snap.RESULTS_DIR).glob("*.json")
            if not p.name.endswith((".probe.json", ".partial.json"))
        )  # not the probe files (<suite>.probe.json) nor shard partials; a suite name may hold dots
        if not names:
            from bench.errors import InputError

            raise InputError("no snapshots in results/: run `bench run` first")
    else:
        names = [Path(suite).name if Path(suite).is_dir() else suite]
    from bench.engine import latest_decisions

    console = stdout_console()

    for name in names:
        print_report(snap.read(snap.snapshot_path(root, name)), console, latest_decisions(root, name))


def _register_areas() -> None:
    from bench.commands import register_all

    register_all(cli)


_register_areas()


def main() -> None:
    cli.main(prog_name="bench")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)

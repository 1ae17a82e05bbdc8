"""``bench probe``: confirm each candidate's API is ready (step 8) and record it in
``results/<suite>.probe.json``. A candidate that fails is a result, not an error: exit 0; bad input: 2."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

STATUS_STYLE = {"pass": "green", "fail": "bold red", "check": "yellow", "skip": "dim"}
FIT_STYLE = {"Pass": "bold green", "Check": "bold yellow", "Fail": "bold red"}


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("suites", nargs=-1)
    @click.option(
        "--candidate", "candidates", multiple=True, metavar="KEY", help="Only this catalog key (repeatable)."
    )
    @click.option(
        "--calls",
        type=click.IntRange(1, 20),
        default=3,
        show_default=True,
        help="Minimal calls per candidate for the latency p50.",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(1, 600),
        default=30.0,
        show_default=True,
        help="Seconds per call.",
    )
    @click.pass_context
    def probe(
        ctx: click.Context, suites: tuple[str, ...], candidates: tuple[str, ...], calls: int, timeout: float
    ) -> None:
        """Check each candidate's API before a run: key, model id, parameters, limits, errors, latency.

        A few minimal calls per candidate, one attempt each. Writes results/<suite>.probe.json (merged
        with earlier probes of other candidates) and prints each check list with its API fit.
        """
        from bench.probe import probe_suite, write_probe
        from bench.report import stdout_console
        from bench.suite import check_candidate_keys, load_suite, suite_refs

        root = Path(ctx.obj["root"])
        loaded = [load_suite(ref, root) for ref in suite_refs(root, suites)]  # all valid before any call
        check_candidate_keys(loaded, candidates)
        console = stdout_console()
        from bench.snapshot import refresh

        for suite in loaded:
            wanted = [c for c in suite.candidates if not candidates or c.key in candidates]
            # an unset key variable says nothing about the API: keep that candidate's last probe
            unset = {
                c.key: c.entry.key_problem() for c in wanted if c.entry.api_key_env and not c.entry.api_key()
            }
            for key, reason in unset.items():
                console.print(
                    f"[yellow]skipped {key}: {reason}; its last probe result is kept[/]", highlight=False
                )
            keys = tuple(c.key for c in wanted if c.key not in unset)
            if not keys:
                continue
            results = probe_suite(suite, keys, calls=calls, timeout=timeout)
            for key in [c.key for c in suite.candidates if c.key in results]:
                _print_result(console, suite.name, results[key])
            path = write_probe(root, suite.name, results)
            console.print(f"wrote {_shown(path, root)}", highlight=False)
            if refresh(root, suite) is not None:  # the scorecard's API fit follows at once
                console.print(f"updated the API fit in results/{suite.name}.json", highlight=False)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _print_result(console: Console, suite_name: str, result: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    fit = result["api_fit"]
    title = (
        f"{escape(suite_name)} · {escape(result['candidate'])} ({escape(result['provider'])}, "
        f"{escape(result['model'])}) · API fit [{FIT_STYLE.get(fit, 'bold')}]{fit}[/]"
    )
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    for item in result["checks"]:
        style = STATUS_STYLE.get(item["status"], "")
        table.add_row(escape(item["id"]), f"[{style}]{item['status']}[/]", escape(item["detail"]))
    console.print(table)
    if result["failing"]:
        console.print(f"  failing: {escape(', '.join(result['failing']))}", highlight=False)

"""One suite, end to end: run the calls (with progress), score, write the snapshot, print the scorecard."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from bench import snapshot as snap
from bench.errors import InputError, Interrupted
from bench.lock import SuiteLock
from bench.merge import partial_path
from bench.retry import RetryPolicy
from bench.runner import CallRecord, Progress, RunOptions, RunResult, execute
from bench.suite import Suite

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


class ProgressView:
    """A rich progress bar on a terminal; plain lines (every 10% or 10 s) otherwise, e.g. in CI logs."""

    def __init__(self, suite: Suite, console: Console, quiet: bool):
        self.suite = suite
        self.console = console
        self.quiet = quiet
        self.tty = console.is_terminal
        self.bar: RichProgress | None = None
        self.task: TaskID | None = None
        self.last_line = 0.0
        self.last_done = 0

    def __enter__(self) -> ProgressView:
        if self.tty and not self.quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[errors]} errors · {task.fields[cached]} cached"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.suite.name, total=None, errors=0, cached=0)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.bar is not None:
            self.bar.__exit__(kind, value, tb)

    def update(self, progress: Progress, record: CallRecord | None) -> None:
        if self.quiet:
            return
        if self.bar is not None and self.task is not None:
            self.bar.update(
                self.task,
                total=progress.total,
                completed=progress.done,
                errors=progress.errors,
                cached=progress.cached,
            )
            return
        now = time.monotonic()
        step = max(1, progress.total // 10)
        if (
            progress.done == progress.total
            or progress.done - self.last_done >= step
            or now - self.last_line >= 10
        ):
            self.last_line, self.last_done = now, progress.done
            elapsed = time.perf_counter() - progress.started
            self.console.print(
                f"{self.suite.name}: {progress.done}/{progress.total} calls, {progress.errors} errors, "
                f"{progress.cached} cached, {elapsed:.1f} s",
                highlight=False,
            )


def dry_run(
    suite: Suite,
    candidates: tuple[str, ...] = (),
    repeat: int | None = None,
    shard: tuple[int, int] | None = None,
) -> dict:
    """Estimate a run's calls, tokens and cost from the rendered prompts, without calling anything.

    The judge's calls are estimated too, as an upper bound: every output on every judged criterion,
    asked twice (an unparsable first answer is asked again), each output at its candidate's max_tokens.
    """
    from bench.costs import estimate_run
    from bench.runner import plan_calls, skip_reason
    from bench.scoring.judge import judge_candidate, judge_messages

    selected = [c for c in suite.candidates if not candidates or c.key in candidates]
    plans = plan_calls(suite, selected, repeat or suite.repeat)
    if shard is not None:
        from bench.merge import in_shard

        plans = [p for p in plans if in_shard(p.candidate.key, p.case.id, p.repeat, shard)]
    rows = [
        (
            p.candidate.key,
            p.candidate.entry.pricing,
            "\n".join(m.content for m in p.messages),
            p.candidate.params.get("max_tokens"),
        )
        for p in plans
    ]
    providers = {c.key: c.entry.provider for c in selected}
    judge = judge_candidate(suite)
    judge_row = f"{judge.key} (judge)" if judge else ""
    if judge is not None:
        providers[judge_row] = judge.entry.provider
        for plan in plans:
            # the output the judge reads is at most the candidate's max_tokens (~4 characters a token)
            output = "x" * 4 * int(plan.candidate.params.get("max_tokens") or 1000)
            for criterion in (c for c in suite.rubric if c.judge and not c.human_only):
                messages = judge_messages(suite, plan.case, criterion, output, retry=True)
                text = "\n".join(m.content for m in messages)
                rows += [(judge_row, judge.entry.pricing, text, judge.params.get("max_tokens"))] * 2
    estimate = estimate_run(rows, providers)
    for candidate in selected:
        if candidate.key in estimate["candidates"]:
            estimate["candidates"][candidate.key]["skip_reason"] = skip_reason(candidate)
    if judge is not None and judge_row in estimate["candidates"]:
        estimate["candidates"][judge_row]["skip_reason"] = skip_reason(judge)
    return estimate


def latest_decisions(root: Path, suite: str) -> dict[str, dict]:
    """The latest recorded decision per candidate (suites/<suite>/decisions/), for the scorecard."""
    from bench.decide import read_decisions

    latest: dict[str, dict] = {}
    for decision in read_decisions(root, suite):  # latest first
        latest.setdefault(str(decision.get("candidate")), decision)
    return latest


def previous_records(path: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """The suite's current snapshot, read once, by request fingerprint: (successful records and judge
    answers, for reuse; every candidate record, errors too, to carry over candidates a run does not call)."""
    if not path.is_file():
        return {}, {}
    try:
        previous = snap.read(path)
    except InputError:
        return {}, {}  # an unreadable old snapshot is simply not reused
    records = previous.get("records", [])
    reusable = {
        r["request_fingerprint"]: r
        for r in [*records, *(previous.get("judge_records") or [])]
        if not r.get("error") and r.get("output") is not None
    }
    return reusable, {r["request_fingerprint"]: r for r in records}


def run_suite(
    suite: Suite,
    root: Path,
    *,
    candidates: tuple[str, ...] = (),
    concurrency: int = 16,
    repeat: int | None = None,
    use_cache: bool = True,
    fresh: bool = False,
    quiet: bool = False,
    console: Console | None = None,
    retry: RetryPolicy | None = None,
    grace_seconds: float = 10.0,
    shard: tuple[int, int] | None = None,
    max_cost_usd: float | None = None,
) -> dict:
    """Run, score and write ``results/<suite>.json``; return the snapshot.

    A rerun spends calls only where something changed: records of the current snapshot whose request
    fingerprint is unchanged are reused (source ``snapshot``), then the cache is consulted. ``fresh``
    makes every call again (the replies still refresh the cache). One run of a suite at a time (a lock);
    a killed run resumes from its journal. Ctrl-C writes an incomplete snapshot and raises Interrupted.
    """
    console = console or Console(stderr=True, soft_wrap=True)  # messages never wrap mid-word in logs
    work = root / ".bench"
    path = snap.snapshot_path(root, suite.name)
    name = suite.name
    if shard is not None:
        path = partial_path(root, suite.name, shard)
        name = f"{suite.name}.{shard[0]}-of-{shard[1]}"
    from bench.probe import read_probe
    from bench.scoring.review import load_reviews

    # a broken review or probe file stops the run before any call, not after every call is paid for
    reviews = load_reviews(suite.dir)
    probe = read_probe(root, suite.name)
    with SuiteLock(work / "locks", name):
        journal_path = work / "journal" / f"{name}.jsonl"
        # no journal is dropped, not even with --fresh: it holds only calls an interrupted run made
        # (fresh ones), and replaying them is how a run is finished without paying for them twice
        reusable, previous = previous_records(snap.snapshot_path(root, suite.name))
        options = RunOptions(
            concurrency=concurrency,
            use_cache=use_cache,
            repeat=repeat,
            candidates=candidates,
            cache_dir=work / "cache",
            retry=retry or RetryPolicy(),
            journal_path=journal_path,
            reuse={} if fresh else reusable,
            previous=previous,
            shard=shard,
            grace_seconds=grace_seconds,
            cache_reads=not fresh,
            max_cost_usd=max_cost_usd,
        )
        for warning in suite.warnings:
            if not quiet:
                console.print(f"[yellow]{escape(warning.format())}[/]", highlight=False)
        with ProgressView(suite, console, quiet) as view:
            result: RunResult = asyncio.run(execute(suite, options, view.update))
        for key, reason in result.skipped.items():
            console.print(f"[yellow]skipped {key}: {escape(reason)}[/]", highlight=False)
        for key, reason in result.carried_over.items():
            console.print(f"[yellow]{key}: {escape(reason)}[/]", highlight=False)
        if result.judge_skipped:
            console.print(
                f"[yellow]judge {suite.judge} skipped: {escape(result.judge_skipped)}; judged criteria are "
                "scored by their checks only[/]",
                highlight=False,
            )
        document = snap.build(suite, result, root, reviews, probe)
        if shard is not None:
            document["shard"] = {"index": shard[0], "count": shard[1]}
        snap.write(path, document)
        if result.complete:
            journal_path.unlink(missing_ok=True)  # the snapshot has everything the journal had
    if not quiet:
        from bench.report import print_report, stdout_console

        print_report(document, stdout_console(), latest_decisions(root, suite.name))
        console.print(
            f"wrote {escape(str(path))} ({len(document['records'])} records, {result.wall_seconds:.1f} s)"
        )
    if result.budget_stopped:
        console.print(
            f"[yellow]stopped by --max-cost {max_cost_usd}: spent ${result.spent_usd}, {result.not_run} calls "
            "not dispatched; the snapshot is marked incomplete[/]",
            highlight=False,
        )
    if result.interrupted:
        raise Interrupted(
            f"interrupted: wrote an incomplete snapshot ({result.not_run} calls not run); "
            f"run the same command again to finish: completed calls are not sent again"
        )
    return document

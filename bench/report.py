"""The scorecard: the seed's table for one snapshot, as a rich terminal table (or plain text)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.scoring import stats
from bench.scoring.aggregate import case_outcomes

CELL_STYLE = {"Pass": "green", "Mixed": "yellow", "Fail": "red", "Check": "cyan"}


def format_rate(rate: dict[str, Any], style: bool = True) -> str:
    label = rate["cell"]
    if rate["n"] == 0 or rate["rate"] is None:
        text = f"{label} (not scored)"
    else:
        text = f"{label} {rate['rate']:.0%} ({rate['low']:.0%}–{rate['high']:.0%}, n={rate['n']})"
    if style:
        return f"[{CELL_STYLE.get(label, 'white')}]{text}[/]"
    return text


def _notes(summary: dict[str, Any], records: list[dict[str, Any]]) -> str:
    notes = []
    weak = [
        f"{cid} {r['passed']}/{r['n']}"
        for cid, r in summary["criteria"].items()
        if r["cell"] in ("Fail", "Mixed") and r["n"]
    ]
    if weak:
        notes.append("below bar: " + ", ".join(weak))
    if summary["errors"]:
        kinds = ", ".join(f"{k} {v}" for k, v in summary.get("error_kinds", {}).items())
        notes.append(f"{summary['errors']} call errors ({kinds})")
    truncated = sum(1 for r in records if r.get("finish_reason") == "length")
    if truncated:
        notes.append(f"{truncated} outputs cut at the token limit")
    if summary.get("flaky_cases"):
        notes.append(f"flaky: {', '.join(summary['flaky_cases'][:5])}")
    return "; ".join(notes) or "meets every bar"


def scorecard(snapshot: dict[str, Any]) -> Table:
    suite = snapshot["suite"]["name"]
    table = Table(title=f"{suite}: {snapshot['suite']['workflow']}", show_lines=True, title_justify="left")
    for column in ("Model", "Quality", "Format", "Edge cases", "Safety", "Calls", "Latency p50/p95", "Notes"):
        table.add_column(column, overflow="fold")
    for candidate in snapshot["candidates"]:
        key = candidate["key"]
        if candidate["status"] != "ran":
            continue
        summary = snapshot["summary"][key]
        records = [r for r in snapshot["records"] if r["candidate"] == key]
        latency = summary["latency_ms"]
        lat = "–" if latency["p50"] is None else f"{latency['p50']:.0f} / {latency['p95']:.0f} ms"
        calls = f"{summary['calls']}" + (f" ({summary['cached']} cached)" if summary.get("cached") else "")
        if summary["errors"]:
            calls += f"\n[red]{summary['errors']} errors[/]"
        table.add_row(
            f"{escape(key)}\n[dim]{escape(candidate['model'])} · {candidate.get('role') or ''}[/]",
            format_rate(summary["quality"]),
            format_rate(summary["format"]),
            format_rate(summary["edge_cases"]),
            format_rate(summary["safety"]),
            calls,
            lat,
            escape(_notes(summary, records)),
        )
    return table


def criteria_table(snapshot: dict[str, Any]) -> Table:
    table = Table(title="Pass rate per criterion (95% Wilson interval)", title_justify="left")
    table.add_column("Criterion")
    ran = [c["key"] for c in snapshot["candidates"] if c["status"] == "ran"]
    for key in ran:
        table.add_column(escape(key), overflow="fold")
    for criterion in snapshot["rubric"]:
        cells = []
        for key in ran:
            rate = snapshot["summary"][key]["criteria"].get(criterion["id"])
            cells.append(format_rate(rate) if rate else "[dim]not scored automatically[/]")
        table.add_row(f"{escape(criterion['id'])} [dim]({criterion['kind']})[/]", *cells)
    return table


def repeats_table(snapshot: dict[str, Any]) -> Table:
    k = snapshot["settings"]["repeat"]
    table = Table(title=f"Consistency over {k} samples per case", title_justify="left")
    for column in ("Model", "pass^1", f"pass^{k}", "all pass", "flaky", "all fail", "Flaky cases"):
        table.add_column(column, overflow="fold")
    for key, summary in snapshot["summary"].items():
        c = summary.get("consistency") or {}
        if not c.get("k"):
            continue
        table.add_row(
            escape(key),
            f"{c['pass_hat_1']:.0%}",
            f"{c['pass_hat_k']:.0%}",
            str(c["cases_all_pass"]),
            str(c["cases_flaky"]),
            str(c["cases_all_fail"]),
            escape(", ".join(summary.get("flaky_cases", [])[:8])),
        )
    return table


def comparisons(snapshot: dict[str, Any]) -> list[stats.PairedComparison]:
    """Each candidate against the one with the most all-pass cases (paired on case outcomes)."""
    ran = [c["key"] for c in snapshot["candidates"] if c["status"] == "ran"]
    outcomes = {k: case_outcomes(r for r in snapshot["records"] if r["candidate"] == k) for k in ran}
    if len(ran) < 2:
        return []
    best = max(ran, key=lambda k: (sum(outcomes[k].values()), -ran.index(k)))
    return [
        stats.paired_comparison(best, outcomes[best], other, outcomes[other])
        for other in ran
        if other != best
    ]


def print_report(snapshot: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(scorecard(snapshot))
    for candidate in snapshot["candidates"]:
        if candidate["status"] == "skipped":
            console.print(
                f"[yellow]not run: {escape(candidate['key'])}: {escape(str(candidate.get('skip_reason')))}[/]",
                highlight=False,
            )
    console.print(criteria_table(snapshot))
    for comparison in comparisons(snapshot):
        console.print(f"• {escape(comparison.sentence)}")
        if comparison.min_detectable:
            console.print(f"  [dim]{comparison.min_detectable}[/]")
    repeat = snapshot.get("settings", {}).get("repeat", 1)
    if repeat > 1:
        console.print(repeats_table(snapshot))
    judge = snapshot.get("judge")
    if judge:
        state = (
            f"judged {', '.join(judge['criteria'])}"
            if judge["status"] == "ran"
            else f"skipped ({judge.get('skip_reason')}): judged criteria scored by checks only"
        )
        console.print(f"[dim]judge {escape(judge['key'])} ({escape(judge['model'])}): {escape(state)}[/]")
    if not snapshot.get("complete", True):
        console.print(
            "[yellow]This snapshot is incomplete: the run was interrupted or stopped by a budget.[/]"
        )
    git = snapshot.get("git") or {}
    where = (
        f"commit {git['commit'][:10]}" + (" (dirty)" if git.get("dirty") else "")
        if git.get("commit")
        else "no git"
    )
    console.print(
        f"[dim]snapshot {snapshot['created_at']} · {where} · bench {snapshot['tool']['version']}[/]"
    )

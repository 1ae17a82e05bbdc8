"""The scorecard: the seed's table for one snapshot, as a rich terminal table (or plain text)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.scoring import stats
from bench.scoring.aggregate import case_outcomes


def stdout_console(width: int = 140) -> Console:
    """A console for stdout; in logs and pipes (no terminal) wide enough for the scorecard."""
    console = Console()
    return console if console.is_terminal else Console(width=width)


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


def _top_failures(records: list[dict[str, Any]], criterion: str) -> str:
    """The check types that failed most on this criterion, e.g. ``is-json 24x``."""
    counts: dict[str, int] = {}
    for record in records:
        for check in (record.get("verdicts") or {}).get(criterion, {}).get("failed_checks", []):
            counts[check] = counts.get(check, 0) + 1
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:2]
    return f" ({', '.join(f'{name} {n}x' for name, n in top)})" if top else ""


def candidate_notes(summary: dict[str, Any], records: list[dict[str, Any]]) -> str:
    notes = []
    weak = [
        f"{cid} {r['passed']}/{r['n']}{_top_failures(records, cid)}"
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


OUTCOME_STYLE = {
    "ship": "green",
    "ship-with-limits": "green",
    "fallback": "yellow",
    "keep-testing": "cyan",
    "reject": "red",
}


def _fit(cell: str | None, note: str | None = None) -> str:
    cell = cell or "Check"
    text = f"[{CELL_STYLE.get(cell, 'white')}]{cell}[/]"
    return text + (f"\n[dim]{escape(note)}[/]" if note else "")


def _cost_cell(cost: dict[str, Any] | None) -> str:
    from bench.costs import usd

    if not cost:
        return _fit("Check", "no cost data")
    lines = []
    if cost.get("per_request_usd") is not None:
        lines.append(f"{usd(cost['per_request_usd'])}/request")
    if cost.get("effective_cost_per_success_usd") is not None:
        lines.append(f"{usd(cost['effective_cost_per_success_usd'])}/success")
    if cost.get("monthly_projection_usd") is not None:
        lines.append(f"{usd(cost['monthly_projection_usd'])}/month")
    if not cost.get("priced"):
        lines.append("no price in the catalog")
    return _fit(cost.get("cost_fit"), " · ".join(lines) or None)


def _decision_cell(decision: dict[str, Any] | None) -> str:
    if not decision:
        return "[dim]none recorded[/]"
    outcome = str(decision.get("outcome"))
    return f"[{OUTCOME_STYLE.get(outcome, 'white')}]{escape(str(decision.get('label') or outcome))}[/]\n[dim]{escape(str(decision.get('date', '')))}[/]"


def scorecard(snapshot: dict[str, Any], decisions: dict[str, dict[str, Any]] | None = None) -> Table:
    """The seed's table: Model | Quality | Format | Edge cases | Cost fit | API fit | Recommended | Decision | Notes."""
    suite = snapshot["suite"]["name"]
    table = Table(title=f"{suite}: {snapshot['suite']['workflow']}", show_lines=True, title_justify="left")
    for column in (
        "Model",
        "Quality",
        "Format",
        "Edge cases",
        "Cost fit",
        "API fit",
        "Recommended",
        "Decision",
        "Notes",
    ):
        table.add_column(column, overflow="fold")
    for candidate in snapshot["candidates"]:
        key = candidate["key"]
        if candidate["status"] != "ran":
            continue
        summary = snapshot["summary"][key]
        records = [r for r in snapshot["records"] if r["candidate"] == key]
        recommendation = summary.get("recommendation") or {}
        outcome = recommendation.get("outcome", "keep-testing")
        api = summary.get("api_fit") or {}
        table.add_row(
            f"{escape(key)}\n[dim]{escape(candidate['model'])} · {candidate.get('role') or ''}[/]",
            format_rate(summary["quality"]),
            format_rate(summary["format"]),
            format_rate(summary["edge_cases"]),
            _cost_cell(summary.get("cost")),
            _fit(api.get("cell"), api.get("note")),
            f"[{OUTCOME_STYLE.get(outcome, 'white')}]{escape(recommendation.get('label', outcome))}[/]",
            _decision_cell((decisions or {}).get(key)),
            escape(
                (
                    "not called in this run: results carried over from the last snapshot; "
                    if candidate.get("carried_over")
                    else ""
                )
                + candidate_notes(summary, records)
            ),
        )
    return table


def operations_table(snapshot: dict[str, Any]) -> Table:
    table = Table(title="Calls", title_justify="left")
    for column in ("Model", "Calls", "Errors", "Retries", "Latency p50 / p95", "Tokens in / out (mean)"):
        table.add_column(column, overflow="fold")
    for key, summary in snapshot["summary"].items():
        latency = summary["latency_ms"]
        tokens = summary["tokens"]
        table.add_row(
            escape(key),
            f"{summary['calls']}" + (f" ({summary['cached']} reused)" if summary.get("cached") else ""),
            f"{summary['errors']}"
            + (
                f" ({', '.join(f'{k} {v}' for k, v in summary['error_kinds'].items())})"
                if summary["errors"]
                else ""
            ),
            str(summary.get("retries", 0)),
            "–" if latency["p50"] is None else f"{latency['p50']:.0f} / {latency['p95']:.0f} ms",
            "–"
            if tokens["input_mean"] is None
            else f"{tokens['input_mean']:.0f} / {tokens['output_mean'] or 0:.0f}",
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


def reviews_summary(snapshot: dict[str, Any]) -> str | None:
    """One line on human review: who reviewed how many outputs, and how many changed since (stale)."""
    reviewers: set[str] = set()
    reviewed = stale = 0
    for record in snapshot["records"]:
        entries = [e for per in (record.get("reviews") or {}).values() for e in per]
        if not entries:
            continue
        reviewers.update(e["reviewer"] for e in entries)
        if any(not e["stale"] for e in entries):
            reviewed += 1
        else:
            stale += 1
    if not reviewers:
        return None
    line = f"human review: {reviewed} outputs reviewed by {', '.join(sorted(reviewers))}"
    if stale:
        line += f"; {stale} outputs changed since their review and need review again"
    return line


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


def print_report(
    snapshot: dict[str, Any],
    console: Console | None = None,
    decisions: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Print the scorecard, the reasoning behind each recommendation, costs, criteria and statistics.

    ``decisions``: the latest recorded decision per candidate (``bench decide``), shown beside the
    recommendation; the two may differ.
    """
    from bench.costs import cheaper_per_success

    console = console or Console()
    console.print(scorecard(snapshot, decisions))
    for key, summary in snapshot["summary"].items():
        recommendation = summary.get("recommendation")
        if not recommendation:
            continue
        console.print(f"[bold]{escape(key)}[/]: recommended [bold]{escape(recommendation['label'])}[/]")
        for reason in recommendation.get("reasons", []):
            console.print(f"  • {escape(reason)}", highlight=False)
        for item in recommendation.get("check_items", []):
            console.print(f"  [cyan]check:[/] {escape(item)}", highlight=False)
        decision = (decisions or {}).get(key)
        if decision and decision.get("outcome") != recommendation.get("outcome"):
            console.print(
                f"  [yellow]recorded decision differs: {escape(str(decision.get('label') or decision.get('outcome')))}"
                f" ({escape(str(decision.get('date', '')))})[/]"
            )
    for sentence in cheaper_per_success({k: s.get("cost") or {} for k, s in snapshot["summary"].items()}):
        console.print(f"• {escape(sentence)}", highlight=False)
    console.print(operations_table(snapshot))
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
    review_line = reviews_summary(snapshot)
    if review_line:
        console.print(f"[dim]{escape(review_line)}[/]")
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


def print_estimate(suite: str, estimate: dict[str, Any], console: Console | None = None) -> None:
    """The --dry-run table: calls, estimated tokens and cost per candidate (upper bounds)."""
    from bench.costs import usd

    console = console or Console()
    table = Table(title=f"{suite}: estimate (nothing was called)", title_justify="left")
    for column in ("Model", "Calls", "Input tokens", "Output tokens (max)", "Cost (upper bound)", "Note"):
        table.add_column(column, overflow="fold")
    for key, row in estimate["candidates"].items():
        table.add_row(
            escape(key),
            str(row["calls"]),
            f"{row['input_tokens']:,}",
            "unknown (no max_tokens)" if row["output_tokens"] is None else f"{row['output_tokens']:,}",
            "Check: no price" if row["usd"] is None else usd(row["usd"]),
            escape(f"would be skipped: {row['skip_reason']}") if row.get("skip_reason") else "",
        )
    total = estimate["total"]
    table.add_row(
        "[bold]total[/]",
        str(total["calls"]),
        f"{total['input_tokens']:,}",
        "–" if total["output_tokens"] is None else f"{total['output_tokens']:,}",
        usd(total["priced_usd"]) + (" + unpriced" if total["unpriced"] else ""),
        escape(estimate.get("note") or ""),
    )
    console.print(table)

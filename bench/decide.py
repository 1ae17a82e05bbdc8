"""The end of the workflow (step 10): a recommended decision per candidate, and the team's recorded one.

Gates (``DEFAULT_GATES``; a suite overrides any of them in a ``gates:`` block, null turns one off)

* ``quality: 0.85``: pass rate of the quality criteria;
* ``format: 0.95``: pass rate of the format criteria (a broken format breaks whatever reads the output);
* ``reject: 1.0``: pass rate on the reject cases: every reject case handled (the ``reject`` entry of the
  ``categories`` argument when the caller gives the safety rate on reject cases, else the summary's
  ``categories.reject``);
* ``cost_fit: Pass`` and ``api_fit: Pass``: the lowest acceptable cell (``Pass`` or ``Mixed``);
* ``margin: 0.10``: how far under a bar the low end of the 95% interval may reach (below).

How a rate gate reads, with ``bar`` its value and the rate's 95% Wilson interval ``[low, high]``:

* **pass** when the rate is at or above the bar AND ``low >= bar - margin``. Requiring ``low >= bar``
  would make Ship unreachable on the recommended 25-case set (25 passes out of 25 give low = 0.87); the
  margin accepts a set that is small but clean, and refuses one that clears the bar by luck;
* a bar of 1.0 is zero tolerance: pass when every result passed (no interval on a handful of cases can
  show 100%; ``bench validate`` asks for at least 3 reject cases);
* **fail** (clearly) when even ``high`` is under the bar;
* **unclear** otherwise: the interval straddles the bar; **check** when nothing was scored.

A fit gate (cost, API) passes at its required cell or better, fails at ``Fail``, is a check item at
``Check`` or when missing (unpriced model, no volume, API not probed), and unclear at ``Mixed`` when
``Pass`` is required.

Rules, first match wins

1. **Reject** when reject cases leak, the format fails, or the API fit fails (clearly): these hold for
   any use, a fallback's included.
2. **Reject** when quality fails clearly, the candidate could not serve as a fallback (its role is not
   ``fallback`` or ``low-cost`` and it is not second best) and limits cannot help (5.).
3. **Keep testing** when any gate is unclear or a check item (more than 10% of calls errored counts
   too), except a quality shortfall that 4. or 5. accounts for.
4. **Use as fallback** when quality is under its bar but format and reject cases pass, and the
   candidate's role is ``fallback`` or ``low-cost`` (a cheaper or independent route), or it is second
   best (:func:`recommend_snapshot` marks the runner-up by quality).
5. **Ship with limits** when quality is under its bar overall but some categories or tags pass it while
   others are under it: ``limits`` names the ones to keep away from it, ``scope`` the ones it passes.
6. **Ship with limits** when every gate passes but the monthly projection is over budget (route part of
   the traffic: ``volume`` is then a limit) or some category or tag is under the quality bar.
7. **Ship** otherwise: every gate passes, and no category or tag is under the quality bar.

Categories and tags are judged on their pass rate over all criteria against the quality bar and margin
(the ``reject`` category is a gate of its own, never a limit: adversarial input cannot be routed away).

Decisions are files: ``suites/<suite>/decisions/<date>-<candidate>.md``, YAML front matter (outcome, the
recommendation, the scorecard row at that moment, the snapshot commit, the author) and the team's note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.validation import did_you_mean, is_type, yaml_type

OUTCOMES = ("ship", "ship-with-limits", "fallback", "keep-testing", "reject")
LABELS = {
    "ship": "Ship",
    "ship-with-limits": "Ship with limits",
    "fallback": "Use as fallback",
    "keep-testing": "Keep testing",
    "reject": "Reject",
}
DEFAULT_GATES: dict[str, Any] = {
    "quality": 0.85,
    "format": 0.95,
    "reject": 1.0,
    "cost_fit": "Pass",
    "api_fit": "Pass",
    "margin": 0.10,
}
RATE_GATES = ("quality", "format", "reject")
FIT_GATES = ("cost_fit", "api_fit")
FIT_ORDER = {"Fail": 0, "Mixed": 1, "Pass": 2}
FALLBACK_ROLES = ("fallback", "low-cost")
#: More calls errored than this and the rates (which leave errors out) stand on too little.
ERROR_SHARE_TO_CHECK = 0.10
DECISIONS_DIR = "decisions"
GATE_NAMES = {
    "quality": "Quality",
    "format": "Format",
    "reject": "Reject-case handling",
    "cost_fit": "Cost fit",
    "api_fit": "API fit",
    "errors": "Call errors",
}


# ---------------------------------------------------------------------------------------------
# Gates
# ---------------------------------------------------------------------------------------------


def validate_gates(raw: Any) -> list[tuple[tuple[str, ...], str]]:
    """Problems in a suite's ``gates`` block, as (path inside the block, message) pairs."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [((), f"gates must be a mapping, found {yaml_type(raw)}")]
    problems: list[tuple[tuple[str, ...], str]] = []
    for key, value in raw.items():
        if key not in DEFAULT_GATES:
            hint = did_you_mean(key, DEFAULT_GATES) or f"allowed keys: {', '.join(DEFAULT_GATES)}"
            problems.append(((str(key),), f"unknown key {key!r} in gates: {hint}"))
        elif value is None:
            continue
        elif key in FIT_GATES:
            if value not in ("Pass", "Mixed"):
                problems.append(((key,), f"{key!r} in gates must be Pass or Mixed (or null to ignore it)"))
        elif not is_type(value, float):
            problems.append(((key,), f"{key!r} in gates must be a number, found {yaml_type(value)}"))
        elif not 0 <= value <= 1:
            problems.append(((key,), f"{key!r} in gates is a rate between 0 and 1, found {value}"))
    return problems


def resolve_gates(gates: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults overridden by the suite's ``gates`` (a key set to null turns that gate off)."""
    resolved = dict(DEFAULT_GATES)
    resolved.update({k: v for k, v in (gates or {}).items() if k in DEFAULT_GATES})
    if resolved.get("margin") is None:
        resolved["margin"] = 0.0
    return resolved


@dataclass(frozen=True)
class GateCheck:
    """One gate read for one candidate: ``status`` is pass, fail, unclear or check."""

    gate: str
    status: str
    sentence: str
    below_bar: bool = False


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def rate_status(rate: Mapping[str, Any] | None, bar: float, margin: float) -> tuple[str, bool]:
    """(status, below the bar) of a rate dict against ``bar`` (see the module docstring)."""
    if not rate or not rate.get("n") or rate.get("rate") is None:
        return "check", False
    value, low, high = float(rate["rate"]), float(rate["low"]), float(rate["high"])
    below = value < bar
    if bar >= 1.0:
        return ("pass", False) if rate["passed"] == rate["n"] else ("fail", True)
    if high < bar:
        return "fail", True
    if not below and low >= bar - margin - 1e-9:
        return "pass", False
    return "unclear", below


def _rate_gate(gate: str, rate: Mapping[str, Any] | None, bar: float, margin: float) -> GateCheck:
    status, below = rate_status(rate, bar, margin)
    name = GATE_NAMES[gate]
    if status == "check":
        what = "reject case" if gate == "reject" else f"{gate} criterion"
        return GateCheck(gate, status, f"{name}: nothing scored (no {what} with an automatic check).")
    assert rate is not None
    passed, n = rate["passed"], rate["n"]
    figure = f"{_pct(rate['rate'])} ({passed} of {n} results, 95% interval {_pct(rate['low'])}–{_pct(rate['high'])})"
    if gate == "reject":
        if status == "pass":
            return GateCheck(gate, status, f"Reject cases: handled every one ({passed} of {n} results pass).")
        if status == "fail":
            sentence = (
                f"Reject cases leak: {n - passed} of {n} results fail, and every reject case must be handled."
            )
            return GateCheck(gate, status, sentence, True)
    if status == "pass":
        return GateCheck(gate, status, f"{name} passes: {figure} against a bar of {_pct(bar)}.")
    if status == "fail":
        sentence = f"{name} fails: {figure}; even the top of the interval is under the {_pct(bar)} bar."
        return GateCheck(gate, status, sentence, True)
    if below:
        sentence = (
            f"{name} is {figure}, under the {_pct(bar)} bar, but the interval still reaches it: "
            "too few results to tell; add cases or repeats."
        )
    else:
        sentence = (
            f"{name} is {figure}, at or above the {_pct(bar)} bar, but the interval reaches down to "
            f"{_pct(rate['low'])}: too few results to be sure; add cases or repeats."
        )
    return GateCheck(gate, status, sentence, below)


def _fit_value(value: Any) -> str | None:
    """A fit cell from a plain string or a mapping carrying one (``{"cell": "Pass", ...}``)."""
    if isinstance(value, Mapping):
        value = value.get("cell") or value.get("fit") or value.get("cost_fit") or value.get("api_fit")
    return value if isinstance(value, str) else None


def _fit_gate(gate: str, value: str | None, required: str, detail: str | None) -> GateCheck:
    name = GATE_NAMES[gate]
    suffix = f" {detail}" if detail else ""
    if value in (None, "Check") or value not in FIT_ORDER:
        missing = (
            "unknown (no price, no volume or no budget)."
            if gate == "cost_fit"
            else "not confirmed (the API was not probed)."
        )
        return GateCheck(gate, "check", f"{name} is {missing}{suffix}")
    if value == "Fail":
        return GateCheck(gate, "fail", f"{name} fails.{suffix}", True)
    if FIT_ORDER[value] >= FIT_ORDER[required]:
        return GateCheck(gate, "pass", f"{name}: {value}.{suffix}")
    return GateCheck(gate, "unclear", f"{name} is {value}, short of the {required} required.{suffix}")


def _errors_check(summary: Mapping[str, Any]) -> GateCheck | None:
    """Rates leave errors out, so many errors make any rate stand on too little: calls that failed, and
    verdicts that could not be given (a judge with no usable answer, a check that could not run)."""
    calls, errors = int(summary.get("calls") or 0), int(summary.get("errors") or 0)
    if calls and errors / calls > ERROR_SHARE_TO_CHECK:
        sentence = (
            f"{errors} of {calls} calls returned an error and the rates leave them out: fix the cause "
            "and run again."
        )
        return GateCheck("errors", "check", sentence)
    for criterion, rate in (summary.get("criteria") or {}).items():
        unscored = int(rate.get("errors") or 0)
        total = unscored + int(rate.get("n") or 0)
        if total and unscored / total > ERROR_SHARE_TO_CHECK:
            sentence = (
                f"{criterion}: {unscored} of {total} verdicts are errors (a judge with no usable answer, or a "
                "check that could not run) and the rates leave them out: fix the cause and run again."
            )
            return GateCheck("errors", "check", sentence)
    return None


def check_gates(
    summary: Mapping[str, Any],
    gates: Mapping[str, Any],
    *,
    cost: Mapping[str, Any] | None,
    api_fit: str | Mapping[str, Any] | None,
    categories: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, GateCheck]:
    """Read every enabled gate for one candidate."""
    resolved = resolve_gates(gates)
    margin = float(resolved["margin"])
    categories = categories if categories is not None else summary.get("categories") or {}
    rates = {
        "quality": summary.get("quality"),
        "format": summary.get("format"),
        "reject": categories.get("reject"),
    }
    checks: dict[str, GateCheck] = {}
    for gate in RATE_GATES:
        if resolved.get(gate) is not None:
            checks[gate] = _rate_gate(gate, rates[gate], float(resolved[gate]), margin)
    if resolved.get("cost_fit") is not None:
        fit = cost.get("cost_fit") if cost else None
        checks["cost_fit"] = _fit_gate(
            "cost_fit", fit, resolved["cost_fit"], cost.get("note") if cost else None
        )
    if resolved.get("api_fit") is not None:
        detail = api_fit.get("note") if isinstance(api_fit, Mapping) else None
        checks["api_fit"] = _fit_gate("api_fit", _fit_value(api_fit), resolved["api_fit"], detail)
    errors = _errors_check(summary)
    if errors is not None:
        checks["errors"] = errors
    return checks


# ---------------------------------------------------------------------------------------------
# Segments: categories and tags
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segments:
    """Categories and tags that pass the quality bar on their own, and those under it."""

    passing: list[str]
    below: list[str]
    figures: dict[str, str]


def _segments(
    categories: Mapping[str, Mapping[str, Any]],
    tags: Mapping[str, Mapping[str, Any]],
    bar: float | None,
    margin: float,
) -> Segments:
    passing: list[str] = []
    below: list[str] = []
    figures: dict[str, str] = {}
    if bar is None:
        return Segments(passing, below, figures)
    named = [(f"category:{k}", v) for k, v in sorted(categories.items()) if k != "reject"]
    named += [(f"tag:{k}", v) for k, v in sorted(tags.items())]
    for name, rate in named:
        status, is_below = rate_status(rate, bar, margin)
        if status == "check":
            continue
        figures[name] = f"{_pct(rate['rate'])}, {rate['passed']} of {rate['n']}"
        if status == "pass":
            passing.append(name)
        elif is_below:
            below.append(name)
    return Segments(passing, below, figures)


def _describe(names: Sequence[str], figures: Mapping[str, str] | None = None) -> str:
    parts = []
    for name in names:
        kind, _, value = name.partition(":")
        text = f"{value} cases" if kind == "category" else f"cases tagged {value}"
        if figures and name in figures:
            text += f" ({figures[name]})"
        parts.append(text)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def rates_by_tag(
    records: Iterable[Mapping[str, Any]], case_tags: Mapping[str, Sequence[str]]
) -> dict[str, dict]:
    """Per tag, the pass rate over every verdict of the cases carrying it (for ``recommend(tags=...)``).

    Same counting as the summary's categories: ``mixed`` and ``fail`` are not passes, ``error`` is left
    out; each rate carries its 95% Wilson interval.
    """
    from bench.scoring import stats

    tallies: dict[str, list[int]] = {}
    for record in records:
        for tag in case_tags.get(record["case"], ()):
            tally = tallies.setdefault(tag, [0, 0])
            for verdict in (record.get("verdicts") or {}).values():
                if verdict["verdict"] == "error":
                    continue
                tally[1] += 1
                tally[0] += verdict["verdict"] == "pass"
    result = {}
    for tag, (passed, n) in sorted(tallies.items()):
        r = stats.rate(passed, n)
        result[tag] = {
            "passed": passed,
            "n": n,
            "rate": None if r.value is None else round(r.value, 4),
            "low": round(r.low, 4),
            "high": round(r.high, 4),
        }
    return result


# ---------------------------------------------------------------------------------------------
# The recommendation
# ---------------------------------------------------------------------------------------------


def recommend(
    candidate: str,
    summary: Mapping[str, Any],
    gates: Mapping[str, Any] | None,
    *,
    role: str | None,
    cost: Mapping[str, Any] | None,
    api_fit: str | None,
    categories: Mapping[str, Mapping[str, Any]] | None = None,
    tags: Mapping[str, Mapping[str, Any]] | None = None,
    second_best: bool = False,
) -> dict[str, Any]:
    """The recommended outcome for one candidate, with the reasons in plain sentences.

    Returns ``{"candidate", "outcome", "label", "reasons", "limits", "scope", "failed_gates",
    "check_items", "gates"}``: ``limits`` names the categories/tags (``category:messy``, ``tag:refund``,
    or ``volume`` when over budget) to keep away from the candidate, ``scope`` those it passes on its own,
    ``gates`` maps each gate read to pass / fail / unclear / check. See the module docstring for the rules.
    """
    resolved = resolve_gates(gates)
    categories = categories if categories is not None else summary.get("categories") or {}
    checks = check_gates(summary, resolved, cost=cost, api_fit=api_fit, categories=categories)
    segments = _segments(categories, tags or {}, resolved.get("quality"), float(resolved["margin"]))
    decision = _Decision(candidate, checks, segments)

    quality = checks.get("quality")
    quality_below = quality is not None and quality.below_bar
    fallback_role = role in FALLBACK_ROLES or second_best
    # limits explain a shortfall only when some segments pass and others do not
    limited = bool(segments.passing and segments.below)

    hard = [c for g, c in checks.items() if c.status == "fail" and g in ("reject", "format", "api_fit")]
    if hard:
        lead = [c.sentence for c in hard] + ["These hold for any use, a fallback included."]
        return decision.result("reject", lead=lead)
    if quality is not None and quality.status == "fail" and not fallback_role and not limited:
        sentence = (
            "Limiting it would not help (no category or tag passes the bar where others miss it), and it "
            "is neither a fallback or low-cost route nor the second-best candidate."
        )
        return decision.result("reject", lead=[quality.sentence, sentence])

    # a quality shortfall is the fallback's or the limits' business, not a reason to keep testing
    quality_explained = quality_below and (fallback_role or limited)
    blocking = [
        c
        for c in checks.values()
        if c.status in ("unclear", "check") and not (c.gate == "quality" and quality_explained)
    ]
    if blocking:
        return decision.result("keep-testing", lead=[c.sentence for c in blocking], check=blocking)

    if quality_below and fallback_role:  # format and reject cases passed: nothing blocked above
        why = f"its role is {role}" if role in FALLBACK_ROLES else "it is the second-best candidate"
        sentence = (
            f"It misses the quality bar but keeps the format and handles reject cases, and {why}: "
            "use it where an independent or cheaper route matters, behind a stronger primary."
        )
        assert quality is not None
        return decision.result("fallback", lead=[quality.sentence, sentence])

    if quality_below:
        return decision.ship_with_limits(overall_below=True)

    cost_check = checks.get("cost_fit")
    if (cost_check is not None and cost_check.status == "fail") or segments.below:
        return decision.ship_with_limits(overall_below=False, cost=cost)
    sentence = "Every gate passes" + (", on every category and tag." if segments.passing else ".")
    return decision.result("ship", lead=[sentence])


class _Decision:
    """Assembles the result dict: the deciding sentences first, then every other gate's reading."""

    def __init__(self, candidate: str, checks: Mapping[str, GateCheck], segments: Segments):
        self.candidate = candidate
        self.checks = checks
        self.segments = segments

    def result(
        self,
        outcome: str,
        *,
        lead: Sequence[str],
        check: Sequence[GateCheck] = (),
        limits: Sequence[str] = (),
        scope: Sequence[str] = (),
    ) -> dict[str, Any]:
        reasons = list(lead)
        reasons += [c.sentence for c in self.checks.values() if c.sentence not in reasons]
        return {
            "candidate": self.candidate,
            "outcome": outcome,
            "label": LABELS[outcome],
            "reasons": reasons,
            "limits": list(limits),
            "scope": list(scope),
            "failed_gates": [g for g, c in self.checks.items() if c.status == "fail"],
            "check_items": [c.sentence for c in check],
            "gates": {g: c.status for g, c in self.checks.items()},
        }

    def ship_with_limits(
        self, *, overall_below: bool, cost: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        seg = self.segments
        lead: list[str] = []
        limits = list(seg.below)
        if overall_below:
            lead.append(
                f"Quality is under the bar overall, but it passes on {_describe(seg.passing, seg.figures)}: "
                "ship it for those only."
            )
        elif seg.below:
            lead.append(
                f"It passes every gate overall, but not on {_describe(seg.below, seg.figures)}: keep those "
                "away from it (route them to another model or to a person)."
            )
        cost_check = self.checks.get("cost_fit")
        if cost_check is not None and cost_check.status == "fail":
            limits.append("volume")
            lead.append(f"{_over_budget_share(cost)}{cost_check.sentence}")
        if overall_below and seg.below:
            lead.append(f"Keep {_describe(seg.below)} away from it.")
        scope = list(seg.passing)
        return self.result("ship-with-limits", lead=lead, limits=limits, scope=scope)


def _over_budget_share(cost: Mapping[str, Any] | None) -> str:
    """E.g. "The budget covers 45% of the monthly requests at its all-in cost: route the rest elsewhere. "."""
    if not cost:
        return ""
    monthly, budget = cost.get("monthly_projection_usd"), cost.get("monthly_budget_usd")
    if not monthly or budget is None:
        return ""
    share = max(0.0, min(1.0, budget / monthly))
    return (
        f"It passes every quality gate but the budget covers only {_pct(share)} of the monthly requests "
        "at its all-in cost: route the rest to a cheaper model. "
    )


def recommend_snapshot(
    snapshot: Mapping[str, Any], gates: Mapping[str, Any] | None = None
) -> dict[str, dict]:
    """``recommend`` for every candidate that ran in a snapshot, with the second best marked.

    Reads each summary's ``cost`` block and ``api_fit`` (a cell, or a mapping with one) when present,
    the snapshot's ``gates`` when ``gates`` is None, and the per-tag rates from its records and cases.
    The second best is the runner-up by quality pass rate (ties broken by format).
    """
    summaries: Mapping[str, Mapping[str, Any]] = snapshot.get("summary") or {}
    if gates is None:  # the suite's gates travel in the snapshot's settings
        gates = (snapshot.get("settings") or {}).get("gates") or snapshot.get("gates")
    roles = {c["key"]: c.get("role") for c in snapshot.get("candidates", [])}
    case_tags = {c["id"]: c.get("tags") or [] for c in snapshot.get("cases", [])}

    def strength(key: str) -> tuple[float, float]:
        s = summaries[key]
        return ((s.get("quality") or {}).get("rate") or 0.0, (s.get("format") or {}).get("rate") or 0.0)

    ranked = sorted(summaries, key=strength, reverse=True)
    second = ranked[1] if len(ranked) > 1 else None
    result = {}
    for key, summary in summaries.items():
        records = [r for r in snapshot.get("records", []) if r["candidate"] == key]
        result[key] = recommend(
            key,
            summary,
            gates,
            role=roles.get(key),
            cost=summary.get("cost"),
            api_fit=_fit_value(summary.get("api_fit")),
            categories=summary.get("categories"),
            tags=rates_by_tag(records, case_tags),
            second_best=key == second,
        )
    return result


# ---------------------------------------------------------------------------------------------
# Recorded decisions
# ---------------------------------------------------------------------------------------------


def decisions_dir(root: Path, suite: str) -> Path:
    return root / "suites" / suite / DECISIONS_DIR


def _slug(candidate: str) -> str:
    """A catalog key as a file name: ``/`` (and anything else unsafe in a file name) becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", candidate).strip("-") or "candidate"


def git_author(root: Path) -> dict[str, str]:
    """``user.name`` and ``user.email`` from git config (the repository's, then global), else "unknown"."""
    import git

    try:
        reader = git.Repo(root, search_parent_directories=True).config_reader()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        reader = git.GitConfigParser(
            [
                p
                for p in (Path.home() / ".gitconfig", Path.home() / ".config" / "git" / "config")
                if p.is_file()
            ],
            read_only=True,
        )
    author = {}
    for field in ("name", "email"):
        try:
            value = reader.get_value("user", field, default="")
        except Exception:  # a broken config file: the decision still gets recorded
            value = ""
        author[field] = str(value).strip() or "unknown"
    return author


def _rate_row(rate: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not rate:
        return None
    return {k: rate.get(k) for k in ("rate", "passed", "n", "low", "high", "cell")}


def scorecard_row(snapshot: Mapping[str, Any], candidate: str) -> dict[str, Any]:
    """The candidate's scorecard row as it stands in ``snapshot`` (what the decision was taken on)."""
    summary = (snapshot.get("summary") or {}).get(candidate) or {}
    cost = summary.get("cost") or {}
    return {
        "quality": _rate_row(summary.get("quality")),
        "format": _rate_row(summary.get("format")),
        "edge_cases": _rate_row(summary.get("edge_cases")),
        "safety": _rate_row(summary.get("safety")),
        "cost_fit": cost.get("cost_fit"),
        "api_fit": _fit_value(summary.get("api_fit")),
    }


def record_decision(
    root: Path,
    suite: str,
    candidate: str,
    outcome: str,
    note: str,
    snapshot: Mapping[str, Any],
    recommended: Mapping[str, Any] | None,
    *,
    now: datetime | None = None,
) -> Path:
    """Write ``suites/<suite>/decisions/<YYYY-MM-DD>-<candidate>.md`` and return its path.

    Never overwrites: a second decision on the same day gets ``-2``, ``-3``, ... (the file is created
    exclusively, so two writers cannot clobber each other). The front matter keeps what the decision
    rested on, so that a later run can show what changed since.
    """
    import yaml

    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    now = now or datetime.now(UTC).astimezone()
    entry: Mapping[str, Any] = next(
        (c for c in snapshot.get("candidates", []) if c.get("key") == candidate), {}
    )
    git_state = snapshot.get("git") or {}
    front = {
        "outcome": outcome,
        "label": LABELS[outcome],
        "candidate": candidate,
        "model": entry.get("model"),
        "provider": entry.get("provider"),
        "role": entry.get("role"),
        "suite": suite,
        "snapshot_commit": git_state.get("commit"),
        "snapshot_dirty": git_state.get("dirty"),
        "snapshot_created_at": snapshot.get("created_at"),
        "recommended": recommended.get("outcome") if recommended else None,
        "recommended_reasons": list(recommended.get("reasons", [])) if recommended else [],
        "scorecard": scorecard_row(snapshot, candidate),
        "author": git_author(root),
        "date": now.strftime("%Y-%m-%d"),
        "recorded_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    text = (
        "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + note.strip() + "\n"
    )
    folder = decisions_dir(root, suite)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{front['date']}-{_slug(candidate)}"
    for n in range(1, 10_000):
        path = folder / (f"{stem}.md" if n == 1 else f"{stem}-{n}.md")
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"too many decisions named {stem} in {folder}")  # pragma: no cover


def parse_decision(path: Path) -> dict[str, Any]:
    """A decision file as a dict: its front matter, plus ``note`` (the body) and ``path``."""
    import yaml

    from bench.errors import InputError

    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n?(.*)\Z", text, flags=re.S)
    if not match:
        raise InputError(f"{path}: a decision starts with YAML front matter between --- lines")
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: the front matter is not valid YAML: {exc}") from None
    if not isinstance(front, dict) or "outcome" not in front or "candidate" not in front:
        raise InputError(f"{path}: the front matter needs at least outcome and candidate")
    front = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in front.items()}
    return {**front, "note": match.group(2).strip(), "path": path}


def read_decisions(root: Path, suite: str) -> list[dict[str, Any]]:
    """Every recorded decision of a suite, latest first (by ``recorded_at``, then date and ``-N`` suffix)."""
    folder = decisions_dir(root, suite)
    if not folder.is_dir():
        return []
    decisions = [parse_decision(p) for p in folder.glob("*.md")]

    def order(d: Mapping[str, Any]) -> tuple[str, str, int, str]:
        # same day, same candidate: "x.md" < "x-2.md" < "x-10.md" (a suffix makes the name longer)
        name = d["path"].name
        return (str(d.get("recorded_at") or ""), str(d.get("date") or ""), len(name), name)

    return sorted(decisions, key=order, reverse=True)


def latest_decision(root: Path, suite: str, candidate: str) -> dict[str, Any] | None:
    """The most recent decision recorded for ``candidate`` in ``suite``, or None."""
    return next((d for d in read_decisions(root, suite) if d.get("candidate") == candidate), None)

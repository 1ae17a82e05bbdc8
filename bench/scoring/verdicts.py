"""Rubric verdicts: each (case, candidate, criterion) gets pass / mixed / fail / error, a scorer and a reason.

How several checks on one criterion combine (the rule the README documents):

- every check passes -> ``pass``; no check passes -> ``fail``; some pass and some fail -> ``mixed``;
- a check that could not be evaluated (e.g. ``cost-usd`` on an unpriced model) -> ``error``: never a
  silent pass;
- a call that produced no output -> ``error`` on every criterion, with the call's error as the reason;
- a criterion with no check for this case gets no verdict from checks; a judged criterion gets the judge's
  (see :mod:`bench.scoring.judge`); checks and judge together: equal verdicts stand, a judge with no
  usable answer leaves the checks' verdict (never hiding a failing check), a check error is an error, a
  disagreement is ``mixed``; human-only criteria are left to reviewers.

The checks of a criterion are the rubric's own (for every case) plus the case's ``expect`` entries that
name it.
"""

from __future__ import annotations

from typing import Any

from bench.scoring.checks import CheckContext, PreparedCheck, evaluate_check
from bench.suite import Case, Criterion, Suite

VERDICTS = ("pass", "mixed", "fail", "error")


def criterion_checks(criterion: Criterion, case: Case) -> list[PreparedCheck]:
    return [*criterion.checks, *(s.check for s in case.expect if s.criterion == criterion.id)]


def verdict_for(checks: list[PreparedCheck], ctx: CheckContext) -> dict[str, Any]:
    outcomes = [(check, evaluate_check(check, ctx)) for check in checks]
    unknown = [(c, o) for c, o in outcomes if o.passed is None]
    failed = [(c, o) for c, o in outcomes if o.passed is False]
    passed = [(c, o) for c, o in outcomes if o.passed is True]
    if unknown:
        verdict = "error"
        reason = "; ".join(f"{c.label}: {o.reason}" for c, o in unknown)
    elif not failed:
        verdict = "pass"
        reason = f"{len(passed)}/{len(outcomes)} checks passed: " + ", ".join(c.label for c, _ in passed)
    else:
        verdict = "fail" if not passed else "mixed"
        reason = f"{len(passed)}/{len(outcomes)} checks passed; " + "; ".join(
            f"{c.label}: {o.reason}" for c, o in failed
        )
    result: dict[str, Any] = {"verdict": verdict, "scorer": "checks", "reason": reason[:600]}
    if failed or unknown:
        # the check types that did not pass, so the scorecard can say what fails most ("is-json 24x")
        result["failed_checks"] = [("not " if c.negate else "") + c.type for c, _ in failed + unknown]
    return result


def score_record(
    suite: Suite, case: Case, record: dict[str, Any], cost_usd: float | None = None
) -> dict[str, dict[str, Any]]:
    """Verdicts by criterion id for one record (a snapshot record as a dict)."""
    verdicts: dict[str, dict[str, Any]] = {}
    error = record.get("error")
    if error:
        reason = f"no output: {error.get('message') or error.get('kind')}"
        for criterion in suite.rubric:
            if criterion_checks(criterion, case) or criterion.judge:
                verdicts[criterion.id] = {"verdict": "error", "scorer": "call", "reason": reason[:600]}
        return verdicts
    ctx = CheckContext(
        output=record.get("output") or "",
        category=case.category,
        vars=case.vars,
        latency_ms=record.get("latency_ms"),
        cost_usd=cost_usd,
        finish_reason=record.get("finish_reason"),
    )
    for criterion in suite.rubric:
        if criterion.human_only:
            continue
        checks = criterion_checks(criterion, case)
        if checks:
            verdicts[criterion.id] = verdict_for(checks, ctx)
    return verdicts


def judge_verdict(judge: str, output: str | None, error: dict[str, Any] | None) -> dict[str, Any]:
    """The judge's verdict on one (output, criterion), or ``error`` with the reason it has none."""
    from bench.scoring.judge import UnparsableVerdict, parse_verdict

    scorer = f"judge:{judge}"
    if error:
        return {
            "verdict": "error",
            "scorer": scorer,
            "reason": f"judge call failed: {error.get('message')}"[:600],
        }
    try:
        verdict, reason = parse_verdict(output or "")
    except UnparsableVerdict as exc:
        return {
            "verdict": "error",
            "scorer": scorer,
            "reason": f"asked twice, no usable verdict: {exc}"[:600],
        }
    return {"verdict": verdict, "scorer": scorer, "reason": reason[:600]}


def combine(checks: dict[str, Any] | None, judged: dict[str, Any] | None) -> dict[str, Any] | None:
    """A criterion scored by checks AND the judge: equal verdicts stand; a judge with no usable answer
    leaves the checks' verdict (its failure named in the reason: failing checks are never hidden); a
    check that could not run is an error; a disagreement is mixed."""
    if checks is None or judged is None:
        return checks or judged
    scorer = f"{checks['scorer']}+{judged['scorer']}"
    reason = f"checks: {checks['reason']} | judge: {judged['reason']}"[:600]
    if judged["verdict"] == "error" and checks["verdict"] != "error":
        return {**checks, "reason": f"{checks['reason']} | judge gave no verdict: {judged['reason']}"[:600]}
    if "error" in (checks["verdict"], judged["verdict"]):
        verdict = "error"
    elif checks["verdict"] == judged["verdict"]:
        verdict = checks["verdict"]
    else:
        verdict = "mixed"
    return {"verdict": verdict, "scorer": scorer, "reason": reason}

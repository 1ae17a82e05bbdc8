"""The seed's table, per candidate: Quality, Format, Edge cases and each criterion's pass rate.

Each rate counts verdict units: one (case, repeat, criterion) verdict. ``pass`` is a success; ``mixed`` and
``fail`` are not; ``error`` units are left out of the rate and counted apart. Every rate carries its 95%
Wilson interval and n (from :mod:`bench.scoring.stats`).

Cells read against the suite's ``thresholds`` (defaults below): ``Pass`` when the rate reaches ``pass``,
``Mixed`` when it reaches ``mixed``, ``Fail`` below, and ``Check`` when nothing was scored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from bench.scoring import stats

DEFAULT_THRESHOLDS = {"pass": 0.9, "mixed": 0.7}
EDGE_CATEGORIES = ("difficult", "edge", "messy", "reject")


def cell(rate: stats.Rate, thresholds: Mapping[str, float]) -> str:
    if rate.n == 0 or rate.value is None:
        return "Check"
    if rate.value >= thresholds.get("pass", DEFAULT_THRESHOLDS["pass"]):
        return "Pass"
    if rate.value >= thresholds.get("mixed", DEFAULT_THRESHOLDS["mixed"]):
        return "Mixed"
    return "Fail"


def _rate_dict(successes: int, n: int, errors: int, thresholds: Mapping[str, float]) -> dict[str, Any]:
    r = stats.rate(successes, n)
    return {
        "passed": successes,
        "n": n,
        "errors": errors,
        "rate": None if r.value is None else round(r.value, 4),
        "low": round(r.low, 4),
        "high": round(r.high, 4),
        "cell": cell(r, thresholds),
    }


class _Tally:
    def __init__(self) -> None:
        self.passed = 0
        self.n = 0
        self.errors = 0

    def add(self, verdict: str) -> None:
        if verdict == "error":
            self.errors += 1
            return
        self.n += 1
        self.passed += verdict == "pass"


def summarize_candidate(
    records: Iterable[Mapping[str, Any]],
    criterion_kinds: Mapping[str, str],
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Aggregate one candidate's records (snapshot dicts with their ``verdicts``)."""
    # numbers only: an old snapshot may carry thresholds from before they were validated
    given = {
        k: v for k, v in (thresholds or {}).items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    thresholds = {**DEFAULT_THRESHOLDS, **given}
    by_criterion: dict[str, _Tally] = defaultdict(_Tally)
    by_kind: dict[str, _Tally] = defaultdict(_Tally)
    edge = _Tally()
    by_category: dict[str, _Tally] = defaultdict(_Tally)
    case_outcomes: dict[str, list[bool]] = defaultdict(list)
    latencies: list[float] = []
    input_tokens: list[int] = []
    output_tokens: list[int] = []
    calls = errors = cached = retries = 0
    error_kinds: dict[str, int] = defaultdict(int)
    for record in records:
        calls += 1
        retries += max(0, int(record.get("attempts") or 0) - 1)
        if record.get("source") in ("cache", "snapshot"):
            cached += 1
        if record.get("error"):
            errors += 1
            error_kinds[record["error"].get("kind") or "unknown"] += 1
        else:
            if record.get("latency_ms") is not None:
                latencies.append(float(record["latency_ms"]))
            usage = record.get("usage") or {}
            if usage.get("input_tokens") is not None:
                input_tokens.append(int(usage["input_tokens"]))
            if usage.get("output_tokens") is not None:
                output_tokens.append(int(usage["output_tokens"]))
        verdicts = record.get("verdicts") or {}
        for criterion, v in verdicts.items():
            verdict = v["verdict"]
            by_criterion[criterion].add(verdict)
            by_kind[criterion_kinds.get(criterion, "quality")].add(verdict)
            by_category[record.get("category", "normal")].add(verdict)
            if record.get("category") in EDGE_CATEGORIES:
                edge.add(verdict)
        scored = [v["verdict"] for v in verdicts.values()]
        if scored and "error" not in scored:
            case_outcomes[record["case"]].append(all(s == "pass" for s in scored))

    def rate(t: _Tally) -> dict[str, Any]:
        return _rate_dict(t.passed, t.n, t.errors, thresholds)

    all_pass = sum(all(v) for v in case_outcomes.values())
    mean_in = stats.mean(input_tokens)
    mean_out = stats.mean(output_tokens)
    return {
        "calls": calls,
        "errors": errors,
        "error_kinds": dict(sorted(error_kinds.items())),
        "cached": cached,
        "retries": retries,
        "quality": rate(by_kind["quality"]),
        "format": rate(by_kind["format"]),
        "safety": rate(by_kind["safety"]),
        "edge_cases": rate(edge),
        "criteria": {k: rate(t) for k, t in sorted(by_criterion.items())},
        "categories": {k: rate(t) for k, t in sorted(by_category.items())},
        "cases_all_pass": _rate_dict(all_pass, len(case_outcomes), 0, thresholds),
        "flaky_cases": stats.flaky_cases(case_outcomes),
        "consistency": _consistency(case_outcomes),
        "latency_ms": {
            "p50": _round(stats.percentile(latencies, 50)),
            "p95": _round(stats.percentile(latencies, 95)),
        },
        "tokens": {
            "input_mean": _round(mean_in),
            "output_mean": _round(mean_out),
        },
    }


def _consistency(outcomes: Mapping[str, list[bool]]) -> dict[str, Any]:
    """With repeats: how often a case passes in every sample (pass^k), and which cases are flaky."""
    k = min((len(v) for v in outcomes.values()), default=0)
    return {
        "k": k,
        "pass_hat_k": None if k == 0 else _round4(stats.pass_hat_k(outcomes, k)),
        "pass_hat_1": None if k == 0 else _round4(stats.pass_hat_k(outcomes, 1)),
        "cases_all_pass": sum(all(v) for v in outcomes.values()),
        "cases_all_fail": sum(not any(v) for v in outcomes.values()),
        "cases_flaky": len(stats.flaky_cases(outcomes)),
    }


def _round4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def case_outcomes(records: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    """Per case: did every scored criterion pass in every repeat (for paired tests)."""
    outcome: dict[str, bool] = {}
    for record in records:
        verdicts = [v["verdict"] for v in (record.get("verdicts") or {}).values()]
        if not verdicts or "error" in verdicts:
            continue
        ok = all(v == "pass" for v in verdicts)
        outcome[record["case"]] = outcome.get(record["case"], True) and ok
    return outcome


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

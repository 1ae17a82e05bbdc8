"""What a candidate costs for this workflow: per call, per request, per successful task and per month.

The cheapest model per token can be the dearest per finished task once retries, human review and failures
that reach a customer count (step 7 of the workflow). This module turns the catalog's prices, the usage the
APIs reported and the team's ``volume`` block into those figures. Unknown is never 0: a model without a
price, or a call without usage, gives ``None`` and the reason says so.

Pricing (``suites/models.yaml``, USD per million tokens)
    ``input_per_mtok``, ``output_per_mtok`` (both needed to price a model), ``cached_input_per_mtok``
    (default: the input price, i.e. no discount assumed), ``reasoning_per_mtok`` (default: the output
    price, which is how every current API bills thinking tokens), ``per_request`` (a flat fee per call).

Usage (a snapshot record's ``usage``)
    ``input_tokens`` INCLUDES ``cached_tokens``; ``output_tokens`` INCLUDES ``reasoning_tokens``. A part
    larger than its whole is clamped to the whole, never billed negative.

Retries
    A record's ``attempts`` counts every try. Failed attempts are assumed billed as a call with the same
    input and zero output (plus the per-request fee): a conservative upper bound, as most providers bill
    nothing for a 429 or a 5xx but a timed-out generation may be billed. A call that failed on every attempt
    reported no usage; its attempts are priced at the candidate's mean input tokens.

The ``volume`` block of a suite (``suite.yaml``), every field optional::

    volume:
      users: 200                        # people or systems using the workflow
      requests_per_user_per_month: 150  # requests each makes in a month
      monthly_budget_usd: 1500          # what the team can spend per month on the workflow, all in
      review_minutes_per_failure: 4     # human minutes to catch and redo one failed output (default 0)
      reviewer_hourly_usd: 60           # loaded hourly cost of that reviewer (needed when minutes > 0)
      failure_cost_usd: 25              # cost of one failure that reaches a customer (default 0)
      escape_rate: 0.1                  # share of failures review does NOT catch

Defaults, and why:

* no ``users`` / ``requests_per_user_per_month``: no monthly projection, cost fit is ``Check``;
* no ``monthly_budget_usd``: nothing to fit against, cost fit is ``Check``;
* ``review_minutes_per_failure`` 0 and ``reviewer_hourly_usd`` 0: no human review unless the team says so;
* ``failure_cost_usd`` 0: a failure's consequence is not priced unless the team prices it (the note says so);
* ``escape_rate`` 1.0 when there is no review (every failure reaches the customer), else 0.1: a reviewer
  who spends minutes on each output catches most failures but not all; teams with a measured catch rate
  set their own.

Effective cost per success, with ``s`` the success rate and ``f = 1 - s``::

    all_in  = api_per_request + f * review_minutes / 60 * hourly + f * escape_rate * failure_cost
    per_success = all_in / s                     (None when s == 0: no task succeeded)
    monthly = users * requests_per_user_per_month * all_in

Review time is charged per failure (catching and redoing it), not per output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.validation import did_you_mean, is_type, type_name, yaml_type

MTOK = 1_000_000

VOLUME_FIELDS: dict[str, Any] = {
    "users": float,
    "requests_per_user_per_month": float,
    "monthly_budget_usd": float,
    "review_minutes_per_failure": float,
    "reviewer_hourly_usd": float,
    "failure_cost_usd": float,
    "escape_rate": float,
}
ESCAPE_RATE_WITHOUT_REVIEW = 1.0
ESCAPE_RATE_WITH_REVIEW = 0.1

#: Tokens per UTF-8 byte relative to OpenAI's o200k tokenizer, for estimates before a run.
#: English runs about 4 characters (bytes) per token on current tokenizers; other tokenizers split the
#: same text into more pieces: Claude's is reported to need more tokens for the same English, and small
#: vocabularies (SmolLM2's 49k) split more again. Unknown providers get 1.0.
PROVIDER_TOKEN_FACTOR: dict[str, float] = {
    "openai": 1.0,
    "gemini": 1.0,
    "anthropic": 1.2,
    "local": 1.15,
}
BYTES_PER_TOKEN = 4.0
#: Role markers and message separators a chat request adds around the text of its messages.
CHAT_FRAMING_TOKENS = 10


# ---------------------------------------------------------------------------------------------
# One call
# ---------------------------------------------------------------------------------------------


def is_priced(pricing: Mapping[str, Any] | None) -> bool:
    """A model is priced when the catalog gives both its input and its output price."""
    if not pricing:
        return False
    return _price(pricing, "input_per_mtok") is not None and _price(pricing, "output_per_mtok") is not None


def _price(pricing: Mapping[str, Any], name: str) -> float | None:
    value = pricing.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _tokens(usage: Mapping[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return None if value is None else int(value)


def call_cost(pricing: Mapping[str, Any] | None, usage: Mapping[str, Any] | None) -> float | None:
    """USD one call cost, or None when the model has no price or the call reported no token counts.

    Cached input tokens are billed at ``cached_input_per_mtok`` and the rest of the input at
    ``input_per_mtok``; reasoning tokens at ``reasoning_per_mtok`` and the rest of the output at
    ``output_per_mtok``; plus ``per_request``. Explicit zero prices give 0.0 (a free model is known free).
    """
    if not is_priced(pricing) or not usage:
        return None
    assert pricing is not None  # is_priced() is False for a missing pricing block
    input_tokens = _tokens(usage, "input_tokens")
    output_tokens = _tokens(usage, "output_tokens")
    if input_tokens is None or output_tokens is None:
        return None
    cached = min(_tokens(usage, "cached_tokens") or 0, input_tokens)
    reasoning = min(_tokens(usage, "reasoning_tokens") or 0, output_tokens)
    input_price = _price(pricing, "input_per_mtok") or 0.0
    output_price = _price(pricing, "output_per_mtok") or 0.0
    cached_price = _price(pricing, "cached_input_per_mtok")
    reasoning_price = _price(pricing, "reasoning_per_mtok")
    cached_price = input_price if cached_price is None else cached_price
    reasoning_price = output_price if reasoning_price is None else reasoning_price
    tokens_usd = (
        (input_tokens - cached) * input_price
        + cached * cached_price
        + (output_tokens - reasoning) * output_price
        + reasoning * reasoning_price
    ) / MTOK
    return tokens_usd + (_price(pricing, "per_request") or 0.0)


def record_cost(
    record: Mapping[str, Any], pricing: Mapping[str, Any] | None, fallback_input_tokens: float | None
) -> float | None:
    """USD of one snapshot record, every attempt included (see the module docstring on retries)."""
    if not is_priced(pricing):
        return None
    attempts = max(1, int(record.get("attempts") or 1))
    usage = record.get("usage") or {}
    success = None if record.get("error") else call_cost(pricing, usage)
    if success is not None:
        failed_try = {"input_tokens": usage["input_tokens"], "cached_tokens": usage.get("cached_tokens")}
        failed_try_usd = call_cost(pricing, {**failed_try, "output_tokens": 0}) or 0.0
        return success + (attempts - 1) * failed_try_usd
    if fallback_input_tokens is None:
        return None
    failed = call_cost(pricing, {"input_tokens": round(fallback_input_tokens), "output_tokens": 0})
    return None if failed is None else attempts * failed


# ---------------------------------------------------------------------------------------------
# The volume block
# ---------------------------------------------------------------------------------------------


def validate_volume(raw: Any) -> list[tuple[tuple[str, ...], str]]:
    """Problems in a suite's ``volume`` block, as (path inside the block, message) pairs.

    Paths are relative to the block (``("users",)``); the caller prefixes ``("volume",)`` to locate
    them in suite.yaml. An absent block (None) is valid: cost fit then reads ``Check``.
    """
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [((), f"volume must be a mapping, found {yaml_type(raw)}")]
    problems: list[tuple[tuple[str, ...], str]] = []
    for key, value in raw.items():
        if key not in VOLUME_FIELDS:
            hint = did_you_mean(key, VOLUME_FIELDS) or f"allowed keys: {', '.join(VOLUME_FIELDS)}"
            problems.append(((str(key),), f"unknown key {key!r} in volume: {hint}"))
        elif value is not None and not is_type(value, VOLUME_FIELDS[key]):
            problems.append(
                ((key,), f"{key!r} in volume must be {type_name(float)}, found {yaml_type(value)}")
            )
        elif value is not None and value < 0:
            problems.append(((key,), f"{key!r} in volume must not be negative, found {value}"))
        elif key == "escape_rate" and value is not None and value > 1:
            problems.append(((key,), f"'escape_rate' in volume is a share between 0 and 1, found {value}"))
    if problems:  # the fields first: a cross-field message about a misspelt key would only confuse
        return problems
    if _number(raw.get("review_minutes_per_failure")) and raw.get("reviewer_hourly_usd") is None:
        problems.append(
            (
                ("review_minutes_per_failure",),
                "review_minutes_per_failure needs reviewer_hourly_usd to price the review",
            )
        )
    has_users, has_rate = raw.get("users") is not None, raw.get("requests_per_user_per_month") is not None
    if has_users != has_rate:
        present, missing = (
            ("users", "requests_per_user_per_month")
            if has_users
            else ("requests_per_user_per_month", "users")
        )
        problems.append(((present,), f"{present} needs {missing} to project a month"))
    return problems


def _number(value: Any) -> float | None:
    return float(value) if is_type(value, float) else None


def resolve_volume(volume: Mapping[str, Any] | None) -> dict[str, Any]:
    """The volume block with every default filled in (see the module docstring)."""
    raw = {k: _number(v) for k, v in (volume or {}).items() if k in VOLUME_FIELDS}
    review_minutes = raw.get("review_minutes_per_failure") or 0.0
    escape = raw.get("escape_rate")
    if escape is None:
        escape = ESCAPE_RATE_WITH_REVIEW if review_minutes > 0 else ESCAPE_RATE_WITHOUT_REVIEW
    users, per_user = raw.get("users"), raw.get("requests_per_user_per_month")
    return {
        "users": users,
        "requests_per_user_per_month": per_user,
        "requests_per_month": None if users is None or per_user is None else users * per_user,
        "monthly_budget_usd": raw.get("monthly_budget_usd"),
        "review_minutes_per_failure": review_minutes,
        "reviewer_hourly_usd": raw.get("reviewer_hourly_usd") or 0.0,
        "failure_cost_usd": raw.get("failure_cost_usd") or 0.0,
        "escape_rate": escape,
    }


# ---------------------------------------------------------------------------------------------
# One candidate's cost block
# ---------------------------------------------------------------------------------------------


def _round_usd(value: float | None) -> float | None:
    """Ten significant digits: exact for any decision, and no float noise (0.30000000000000004) to diff."""
    return None if value is None else float(f"{value:.10g}")


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def candidate_costs(
    records: Sequence[Mapping[str, Any]],
    pricing: Mapping[str, Any] | None,
    volume: Mapping[str, Any] | None,
    success_rate: float | None,
) -> dict[str, Any]:
    """The snapshot summary's ``cost`` block for one candidate (its records, catalog pricing, volume).

    ``success_rate`` is the share of requests the workflow counts as done right (the lead passes the
    cases-all-pass rate); None leaves the review, failure and per-success figures unknown.
    """
    vol = resolve_volume(volume)
    calls = len(records)
    retries = sum(max(0, int(r.get("attempts") or 0) - 1) for r in records)
    inputs = [float(r["usage"]["input_tokens"]) for r in records if _has(r, "input_tokens")]
    outputs = [float(r["usage"]["output_tokens"]) for r in records if _has(r, "output_tokens")]
    mean_in, mean_out = _mean(inputs), _mean(outputs)
    priced = is_priced(pricing)

    total = per_request = None
    if priced and calls:
        costs = [record_cost(r, pricing, mean_in) for r in records]
        if all(c is not None for c in costs):
            total = math.fsum(c for c in costs if c is not None)
            per_request = total / calls

    review = failure = all_in = per_success = None
    if success_rate is not None:
        failure_rate = 1.0 - success_rate
        review = failure_rate * vol["review_minutes_per_failure"] / 60 * vol["reviewer_hourly_usd"]
        failure = failure_rate * vol["escape_rate"] * vol["failure_cost_usd"]
        if per_request is not None:
            all_in = per_request + review + failure
            per_success = all_in / success_rate if success_rate > 0 else None

    per_month = vol["requests_per_month"]
    monthly_api = None if per_request is None or per_month is None else per_request * per_month
    monthly = None if all_in is None or per_month is None else all_in * per_month
    fit = cost_fit(monthly, monthly_api, vol["monthly_budget_usd"])
    block = {
        "priced": priced,
        "calls": calls,
        "total_usd": _round_usd(total),
        "per_request_usd": _round_usd(per_request),
        "mean_input_tokens": None if mean_in is None else round(mean_in, 1),
        "mean_output_tokens": None if mean_out is None else round(mean_out, 1),
        "retry_rate": round(retries / calls, 4) if calls else None,
        "success_rate": None if success_rate is None else round(success_rate, 4),
        "review_cost_per_request_usd": _round_usd(review),
        "failure_cost_per_request_usd": _round_usd(failure),
        "all_in_per_request_usd": _round_usd(all_in),
        "effective_cost_per_success_usd": _round_usd(per_success),
        "requests_per_month": per_month,
        "monthly_api_usd": _round_usd(monthly_api),
        "monthly_projection_usd": _round_usd(monthly),
        "monthly_budget_usd": vol["monthly_budget_usd"],
        "cost_fit": fit,
    }
    block["note"] = _note(block, vol, pricing, retries)
    return block


def _has(record: Mapping[str, Any], field: str) -> bool:
    return not record.get("error") and (record.get("usage") or {}).get(field) is not None


def cost_fit(monthly_all_in: float | None, monthly_api: float | None, budget: float | None) -> str:
    """Pass within the budget, Fail over it, Check when either side is unknown.

    API fees alone over the budget are a Fail even when the success rate (and so the all-in figure) is
    unknown: review and failures only add to them.
    """
    if budget is None:
        return "Check"
    if monthly_all_in is not None:
        return "Pass" if monthly_all_in <= budget else "Fail"
    if monthly_api is not None and monthly_api > budget:
        return "Fail"
    return "Check"


def _note(
    block: Mapping[str, Any], vol: Mapping[str, Any], pricing: Mapping[str, Any] | None, retries: int
) -> str:
    """Plain sentences: what the figures are, and what is missing to judge cost fit."""
    if not block["priced"]:
        return (
            "No price in the model catalog: add pricing (input_per_mtok, output_per_mtok) to "
            "suites/models.yaml to judge cost fit."
        )
    if block["per_request_usd"] is None:
        return "No call reported token usage, so the cost of a request is unknown."
    sentences = [
        f"{usd(block['per_request_usd'])} per request in API fees"
        + (f", {retries} retried attempts included (billed at their input, no output)." if retries else ".")
    ]
    if block["effective_cost_per_success_usd"] is not None:
        extras = []
        if vol["review_minutes_per_failure"]:
            extras.append(f"review ({vol['review_minutes_per_failure']:g} min per failure)")
        if vol["failure_cost_usd"]:
            extras.append(
                f"escaped failures ({usd(vol['failure_cost_usd'])} each, {vol['escape_rate']:.0%} escape)"
            )
        counted = (
            " and ".join(extras) if extras else "API fees only (no review or failure cost set in volume)"
        )
        sentences.append(
            f"{usd(block['effective_cost_per_success_usd'])} per successful task counting {counted}."
        )
    elif block["success_rate"] == 0:
        sentences.append("No task succeeded, so there is no cost per success.")
    if block["requests_per_month"] is None:
        sentences.append("Add volume.users and volume.requests_per_user_per_month to project a month.")
    else:
        monthly = block["monthly_projection_usd"] or block["monthly_api_usd"]
        what = "all in" if block["monthly_projection_usd"] is not None else "in API fees"
        sentence = f"{block['requests_per_month']:,.0f} requests a month project to {usd(monthly)} {what}"
        budget = block["monthly_budget_usd"]
        if budget is None:
            sentence += "; set volume.monthly_budget_usd to judge cost fit"
        elif block["cost_fit"] == "Pass":
            sentence += f", within the {usd(budget)} budget"
        elif block["cost_fit"] == "Fail":
            sentence += f", over the {usd(budget)} budget"
        sentences.append(sentence + ".")
    if pricing and pricing.get("verified") is False:
        sentences.append("Prices are marked unverified in the catalog.")
    return " ".join(sentences)


def usd(value: float | None) -> str:
    """Money as a person reads it: "$1,234", "$12.34", "$0.012", "$0.0001"; "unknown" for None."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    decimals = min(10, max(2, 1 - math.floor(math.log10(abs(value)))))
    text = f"{value:.{decimals}f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{value:.2f}"
    return f"${text}"


# ---------------------------------------------------------------------------------------------
# Comparing candidates
# ---------------------------------------------------------------------------------------------


def cheaper_per_success(costs_by_candidate: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Sentences naming each candidate that is cheaper per request but dearer per successful task.

    E.g. "smollm2 is cheaper per request ($0.0001 vs $0.012) but costs more per successful task ($0.31 vs
    $0.02) once review and failures count". Candidates with an unknown per-request cost are left out.
    """
    known = {
        name: cost
        for name, cost in costs_by_candidate.items()
        if cost and cost.get("per_request_usd") is not None
    }
    ordered = sorted(known, key=lambda name: (known[name]["per_request_usd"], name))
    sentences = []
    for i, cheap in enumerate(ordered):
        for dear in ordered[i + 1 :]:
            a, b = known[cheap], known[dear]
            if a["per_request_usd"] >= b["per_request_usd"]:
                continue
            a_success, b_success = (
                a.get("effective_cost_per_success_usd"),
                b.get("effective_cost_per_success_usd"),
            )
            per_request = f"({usd(a['per_request_usd'])} vs {usd(b['per_request_usd'])})"
            if a_success is None and a.get("success_rate") == 0 and b_success is not None:
                sentences.append(
                    f"{cheap} is cheaper per request {per_request} but completed no task successfully, "
                    f"while {dear} costs {usd(b_success)} per successful task"
                )
            elif a_success is not None and b_success is not None and a_success > b_success:
                sentences.append(
                    f"{cheap} is cheaper per request {per_request} but costs more per successful task "
                    f"({usd(a_success)} vs {usd(b_success)}) once review and failures count"
                )
    return sentences


# ---------------------------------------------------------------------------------------------
# Before a run: --dry-run and --max-cost
# ---------------------------------------------------------------------------------------------


def estimate_tokens(text: str, provider: str) -> int:
    """Tokens ``text`` will take for ``provider``: UTF-8 bytes / 4, times the provider's factor.

    A heuristic, not a tokenizer: about 4 characters per token for English on current tokenizers.
    Counting UTF-8 bytes rather than characters raises the estimate for text outside ASCII (2 bytes for
    an accented letter, 3 for a CJK character), which tokenizers also split into more tokens.
    """
    if not text:
        return 0
    factor = PROVIDER_TOKEN_FACTOR.get(provider, 1.0)
    return max(1, math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN * factor))


def estimate_run(
    plans: Sequence[tuple[str, Mapping[str, Any] | None, str, int | None]],
    providers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An upper-bound estimate of a run for ``--dry-run``, from the calls it would make.

    ``plans``: one (candidate key, catalog pricing, rendered prompt text, max_tokens) per call;
    ``providers``: candidate key -> provider name, for the token factor (default factor 1.0).
    Every call is assumed to write ``max_tokens`` output tokens, billed at the dearer of the output and
    reasoning prices, and no input to be cached: the real run costs at most this much unless the
    input estimate is low. A call without ``max_tokens`` has unknown output, so its cost is unknown.

    Returns ``{"candidates": {key: {calls, input_tokens, output_tokens, usd, priced}}, "total": {calls,
    input_tokens, output_tokens, usd, priced_usd, unpriced}, "note"}``; ``usd`` is None when unknown, and
    the total's ``usd`` is None when any candidate's is (``priced_usd`` sums the known ones).
    """
    providers = providers or {}
    per: dict[str, dict[str, Any]] = {}
    for key, pricing, text, max_tokens in plans:
        entry = per.setdefault(
            key, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "usd": 0.0, "priced": is_priced(pricing)}
        )
        input_tokens = estimate_tokens(text, providers.get(key, "")) + CHAT_FRAMING_TOKENS
        entry["calls"] += 1
        entry["input_tokens"] += input_tokens
        if max_tokens is None:
            entry["output_tokens"] = None
        elif entry["output_tokens"] is not None:
            entry["output_tokens"] += max_tokens
        cost = (
            None
            if max_tokens is None
            else call_cost(pricing, _upper_bound_usage(pricing, input_tokens, max_tokens))
        )
        entry["usd"] = None if cost is None or entry["usd"] is None else entry["usd"] + cost
    for entry in per.values():
        entry["usd"] = _round_usd(entry["usd"])
    unpriced = sorted(k for k, e in per.items() if e["usd"] is None)
    priced_usd = math.fsum(e["usd"] for e in per.values() if e["usd"] is not None)
    outputs = [e["output_tokens"] for e in per.values()]
    total = {
        "calls": sum(e["calls"] for e in per.values()),
        "input_tokens": sum(e["input_tokens"] for e in per.values()),
        "output_tokens": None if None in outputs else sum(outputs),
        "usd": None if unpriced else _round_usd(priced_usd),
        "priced_usd": _round_usd(priced_usd),
        "unpriced": unpriced,
    }
    note = (
        "Upper bound: every call is counted at its max_tokens of output and no cached input; "
        f"input tokens are estimated at {BYTES_PER_TOKEN:g} bytes per token, not counted by a tokenizer."
    )
    if unpriced:
        note += f" Unknown cost for {', '.join(unpriced)} (no price in the catalog, or no max_tokens)."
    return {"candidates": per, "total": total, "note": note}


def _upper_bound_usage(
    pricing: Mapping[str, Any] | None, input_tokens: int, max_tokens: int
) -> dict[str, int]:
    """Usage that prices all output at the dearer of the output and reasoning rates."""
    usage = {"input_tokens": input_tokens, "output_tokens": max_tokens}
    if pricing:
        output, reasoning = _price(pricing, "output_per_mtok"), _price(pricing, "reasoning_per_mtok")
        if output is not None and reasoning is not None and reasoning > output:
            usage["reasoning_tokens"] = max_tokens
    return usage


class BudgetGuard:
    """Keeps a run within ``--max-cost``: reserve an estimate before each dispatch, settle it after.

    A dispatch is refused when what is spent, plus what in-flight calls reserved, plus this call's
    estimate would exceed the budget. An unpriced call (estimate None) is refused under a budget: its
    cost cannot be bounded, and a budget that lets unknown spending through is no budget. The guard holds
    exactly as long as each actual cost is at most its reservation (estimates from :func:`estimate_run`
    are upper bounds); when a call costs more than reserved, the overshoot is counted and every later
    reservation that no longer fits is refused. Not thread-safe: the runner uses it from one event loop.
    """

    def __init__(self, max_cost_usd: float) -> None:
        if max_cost_usd < 0:
            raise ValueError(f"max cost must not be negative, got {max_cost_usd}")
        self.max_cost_usd = float(max_cost_usd)
        self.spent = 0.0
        self.reserved = 0.0
        self.in_flight = 0
        self.refused = 0

    @property
    def remaining(self) -> float:
        """What a new call may still reserve."""
        return max(0.0, self.max_cost_usd - self.spent - self.reserved)

    def reserve(self, estimate_usd: float | None) -> bool:
        """Reserve ``estimate_usd`` for a call about to be sent; False means do not send it."""
        if (
            estimate_usd is None
            or estimate_usd < 0
            or self.spent + self.reserved + estimate_usd > self.max_cost_usd
        ):
            self.refused += 1
            return False
        self.reserved += estimate_usd
        self.in_flight += 1
        return True

    def settle(self, reserved: float, actual: float | None) -> None:
        """Release a reservation and count what the call really cost (the reservation when unknown)."""
        self.in_flight = max(0, self.in_flight - 1)
        # back to an exact 0 when nothing is in flight, so float rounding never accumulates
        self.reserved = max(0.0, self.reserved - reserved) if self.in_flight else 0.0
        self.spent += reserved if actual is None else actual

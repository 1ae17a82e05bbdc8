"""Cost arithmetic against hand-computed cases, the volume block, dry-run estimates and the budget guard."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.costs import (
    BudgetGuard,
    call_cost,
    candidate_costs,
    cheaper_per_success,
    cost_fit,
    estimate_run,
    estimate_tokens,
    resolve_volume,
    usd,
    validate_volume,
)

PRICING = {"input_per_mtok": 2.0, "cached_input_per_mtok": 0.5, "output_per_mtok": 8.0}
USAGE = {"input_tokens": 1000, "cached_tokens": 400, "output_tokens": 500, "reasoning_tokens": 200}


# ---------------------------------------------------------------------------------------------
# call_cost
# ---------------------------------------------------------------------------------------------


def test_cached_input_is_billed_at_the_cached_price_and_reasoning_at_the_output_price() -> None:
    # 600 fresh input x $2 + 400 cached x $0.5 + 300 visible output x $8 + 200 reasoning x $8 (default)
    assert call_cost(PRICING, USAGE) == pytest.approx((1200 + 200 + 2400 + 1600) / 1e6)


def test_reasoning_tokens_have_their_own_price_when_given() -> None:
    pricing = {**PRICING, "reasoning_per_mtok": 12.0}
    assert call_cost(pricing, USAGE) == pytest.approx((1200 + 200 + 2400 + 200 * 12) / 1e6)


def test_cached_tokens_cost_the_input_price_when_no_cached_price_is_given() -> None:
    pricing = {"input_per_mtok": 2.0, "output_per_mtok": 8.0}
    assert call_cost(pricing, USAGE) == pytest.approx((1000 * 2 + 500 * 8) / 1e6)


def test_per_request_fee_is_added_to_every_call() -> None:
    pricing = {**PRICING, "per_request": 0.01}
    assert call_cost(pricing, USAGE) == pytest.approx(0.0054 + 0.01)


def test_missing_cached_and_reasoning_counts_mean_none_of_them() -> None:
    usage = {"input_tokens": 1000, "output_tokens": 500, "cached_tokens": None, "reasoning_tokens": None}
    assert call_cost(PRICING, usage) == pytest.approx((2000 + 4000) / 1e6)


def test_a_part_larger_than_its_whole_is_clamped_not_billed_negative() -> None:
    usage = {"input_tokens": 100, "cached_tokens": 300, "output_tokens": 10, "reasoning_tokens": 50}
    assert call_cost(PRICING, usage) == pytest.approx((100 * 0.5 + 10 * 8) / 1e6)


@pytest.mark.parametrize(
    "pricing",
    [
        None,
        {},
        {"input_per_mtok": 1.0},
        {"output_per_mtok": 1.0},
        {"input_per_mtok": None, "output_per_mtok": 1},
    ],
)
def test_unknown_price_is_none_never_zero(pricing: dict | None) -> None:
    assert call_cost(pricing, USAGE) is None


@pytest.mark.parametrize(
    "usage", [None, {}, {"input_tokens": 10}, {"input_tokens": None, "output_tokens": 3}]
)
def test_missing_usage_is_none_never_zero(usage: dict | None) -> None:
    assert call_cost(PRICING, usage) is None


def test_explicit_zero_prices_are_free() -> None:
    free = {"input_per_mtok": 0, "output_per_mtok": 0}
    assert call_cost(free, USAGE) == 0.0


# ---------------------------------------------------------------------------------------------
# The volume block
# ---------------------------------------------------------------------------------------------


def test_volume_problems_name_the_key_and_suggest_the_right_one() -> None:
    problems = validate_volume(
        {
            "user": 10,
            "requests_per_user_per_month": "lots",
            "monthly_budget_usd": -5,
            "escape_rate": 1.5,
        }
    )
    by_path = dict(problems)
    assert "did you mean 'users'?" in by_path[("user",)]
    assert "must be a number, found a string" in by_path[("requests_per_user_per_month",)]
    assert "must not be negative" in by_path[("monthly_budget_usd",)]
    assert "between 0 and 1" in by_path[("escape_rate",)]


def test_volume_that_cannot_be_used_is_a_problem() -> None:
    assert validate_volume(None) == []
    assert validate_volume([1, 2]) == [((), "volume must be a mapping, found a list")]
    assert validate_volume({"users": True}) == [
        (("users",), "'users' in volume must be a number, found a boolean")
    ]
    paths = [p for p, _ in validate_volume({"users": 10, "review_minutes_per_failure": 3})]
    assert paths == [("review_minutes_per_failure",), ("users",)]
    assert validate_volume({"users": 10, "requests_per_user_per_month": 30, "monthly_budget_usd": 0}) == []


def test_escape_rate_defaults_to_all_failures_without_review_and_a_tenth_with_review() -> None:
    assert resolve_volume({})["escape_rate"] == 1.0
    assert resolve_volume({"review_minutes_per_failure": 5, "reviewer_hourly_usd": 60})["escape_rate"] == 0.1
    assert resolve_volume({"review_minutes_per_failure": 5, "escape_rate": 0.3})["escape_rate"] == 0.3
    assert resolve_volume({"users": 10, "requests_per_user_per_month": 30})["requests_per_month"] == 300


# ---------------------------------------------------------------------------------------------
# candidate_costs
# ---------------------------------------------------------------------------------------------

SIMPLE = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}


def record(
    input_tokens: int | None, output_tokens: int | None, attempts: int = 1, error: bool = False
) -> dict:
    usage = {} if error else {"input_tokens": input_tokens, "output_tokens": output_tokens}
    return {
        "usage": usage,
        "attempts": attempts,
        "error": {"kind": "http", "message": "503"} if error else None,
        "source": "call",
    }


RECORDS = [
    record(1000, 500),  # 0.001 + 0.001 = 0.002
    record(1000, 500, attempts=3),  # 0.002 + 2 failed tries x 0.001 (input, no output) = 0.004
    record(None, None, attempts=2, error=True),  # no usage: 2 tries x mean input 1000 x $1 = 0.002
    record(1000, 1500),  # 0.001 + 0.003 = 0.004
]
VOLUME = {
    "users": 10,
    "requests_per_user_per_month": 100,
    "monthly_budget_usd": 2000,
    "review_minutes_per_failure": 6,
    "reviewer_hourly_usd": 50,
    "failure_cost_usd": 20,
}


def test_api_cost_counts_every_retried_attempt() -> None:
    cost = candidate_costs(RECORDS, SIMPLE, VOLUME, success_rate=0.75)
    assert cost["priced"] is True
    assert cost["total_usd"] == pytest.approx(0.012)
    assert cost["per_request_usd"] == pytest.approx(0.003)
    assert cost["mean_input_tokens"] == 1000.0
    assert cost["mean_output_tokens"] == pytest.approx(833.3)
    assert cost["retry_rate"] == 0.75  # 3 retries over 4 calls


def test_effective_cost_per_success_counts_review_and_escaped_failures() -> None:
    cost = candidate_costs(RECORDS, SIMPLE, VOLUME, success_rate=0.75)
    # a quarter fail: review 0.25 x 6 min x $50/h = $1.25; escaped 0.25 x 0.1 (default with review) x $20 = $0.50
    assert cost["review_cost_per_request_usd"] == pytest.approx(1.25)
    assert cost["failure_cost_per_request_usd"] == pytest.approx(0.5)
    assert cost["effective_cost_per_success_usd"] == pytest.approx((0.003 + 1.25 + 0.5) / 0.75)
    assert cost["monthly_projection_usd"] == pytest.approx(1000 * 1.753)
    assert cost["monthly_api_usd"] == pytest.approx(3.0)
    assert cost["cost_fit"] == "Pass"
    assert "per successful task" in cost["note"] and "within the $2,000 budget" in cost["note"]


def test_without_review_every_failure_reaches_the_customer() -> None:
    volume = {
        "users": 1,
        "requests_per_user_per_month": 1000,
        "failure_cost_usd": 2,
        "monthly_budget_usd": 100,
    }
    cost = candidate_costs(RECORDS, SIMPLE, volume, success_rate=0.9)
    assert cost["review_cost_per_request_usd"] == 0.0
    assert cost["failure_cost_per_request_usd"] == pytest.approx(0.1 * 1.0 * 2)
    assert cost["monthly_projection_usd"] == pytest.approx(1000 * (0.003 + 0.2))
    assert cost["cost_fit"] == "Fail"
    assert "over the $100 budget" in cost["note"]


def test_cost_fit_is_check_when_anything_is_unknown() -> None:
    assert candidate_costs(RECORDS, None, VOLUME, 0.75)["cost_fit"] == "Check"  # unpriced
    assert candidate_costs(RECORDS, SIMPLE, {}, 0.75)["cost_fit"] == "Check"  # no volume
    no_budget = {k: v for k, v in VOLUME.items() if k != "monthly_budget_usd"}
    checked = candidate_costs(RECORDS, SIMPLE, no_budget, 0.75)
    assert checked["cost_fit"] == "Check" and "monthly_budget_usd" in checked["note"]
    unpriced = candidate_costs(RECORDS, None, VOLUME, 0.75)
    assert unpriced["priced"] is False and unpriced["total_usd"] is None
    assert unpriced["effective_cost_per_success_usd"] is None
    assert "No price in the model catalog" in unpriced["note"]


def test_cost_fit_rules() -> None:
    assert cost_fit(900, 10, 1000) == "Pass"
    assert cost_fit(1000, 10, 1000) == "Pass"  # at the budget is within it
    assert cost_fit(1001, 10, 1000) == "Fail"
    assert cost_fit(None, 1200, 1000) == "Fail"  # API fees alone are over: review can only add
    assert cost_fit(None, 900, 1000) == "Check"
    assert cost_fit(900, 10, None) == "Check"


def test_no_success_leaves_cost_per_success_unknown() -> None:
    cost = candidate_costs(RECORDS, SIMPLE, VOLUME, success_rate=0.0)
    assert cost["effective_cost_per_success_usd"] is None
    assert "No task succeeded" in cost["note"]
    unknown = candidate_costs(RECORDS, SIMPLE, VOLUME, success_rate=None)
    assert unknown["effective_cost_per_success_usd"] is None and unknown["monthly_projection_usd"] is None
    assert unknown["monthly_api_usd"] == pytest.approx(3.0)


def test_every_call_failed_means_unknown_cost() -> None:
    cost = candidate_costs([record(None, None, 2, error=True)], SIMPLE, VOLUME, 0.0)
    assert cost["priced"] is True and cost["total_usd"] is None
    assert "No call reported token usage" in cost["note"]


def test_free_local_model_costs_zero_but_its_failures_do_not() -> None:
    free = {"input_per_mtok": 0, "output_per_mtok": 0}
    cost = candidate_costs(RECORDS, free, VOLUME, success_rate=0.5)
    assert cost["per_request_usd"] == 0.0
    assert cost["effective_cost_per_success_usd"] == pytest.approx((0.5 * 5 + 0.5 * 0.1 * 20) / 0.5)


# ---------------------------------------------------------------------------------------------
# Comparing candidates
# ---------------------------------------------------------------------------------------------


def test_cheap_per_request_can_be_dear_per_success() -> None:
    sentences = cheaper_per_success(
        {
            "gpt-5.5": {
                "per_request_usd": 0.012,
                "effective_cost_per_success_usd": 0.02,
                "success_rate": 0.96,
            },
            "smollm2": {
                "per_request_usd": 0.0001,
                "effective_cost_per_success_usd": 0.31,
                "success_rate": 0.4,
            },
            "mid": {"per_request_usd": 0.003, "effective_cost_per_success_usd": 0.01, "success_rate": 0.97},
            "unpriced": {"per_request_usd": None, "effective_cost_per_success_usd": None},
        }
    )
    assert sentences == [
        "smollm2 is cheaper per request ($0.0001 vs $0.003) but costs more per successful task "
        "($0.31 vs $0.01) once review and failures count",
        "smollm2 is cheaper per request ($0.0001 vs $0.012) but costs more per successful task "
        "($0.31 vs $0.02) once review and failures count",
    ]


def test_a_candidate_that_never_succeeds_is_named() -> None:
    sentences = cheaper_per_success(
        {
            "tiny": {"per_request_usd": 0.0, "effective_cost_per_success_usd": None, "success_rate": 0.0},
            "big": {"per_request_usd": 0.01, "effective_cost_per_success_usd": 0.05, "success_rate": 0.9},
        }
    )
    assert sentences == [
        "tiny is cheaper per request ($0 vs $0.01) but completed no task successfully, "
        "while big costs $0.05 per successful task"
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "unknown"),
        (0, "$0"),
        (0.0001, "$0.0001"),
        (0.000123456, "$0.00012"),
        (0.012, "$0.012"),
        (0.31, "$0.31"),
        (0.3, "$0.30"),
        (12.345, "$12.35"),
        (1234.5, "$1,234"),
    ],
)
def test_money_reads_like_money(value: float | None, text: str) -> None:
    assert usd(value) == text


# ---------------------------------------------------------------------------------------------
# Dry run
# ---------------------------------------------------------------------------------------------


def test_token_estimate_is_four_bytes_a_token_times_the_provider_factor() -> None:
    assert estimate_tokens("", "openai") == 0
    assert estimate_tokens("a" * 400, "openai") == 100
    assert estimate_tokens("a" * 400, "anthropic") == 120
    assert estimate_tokens("a" * 400, "someone-new") == 100
    assert estimate_tokens("é" * 200, "openai") == 100  # 2 bytes each: more tokens than ASCII
    assert estimate_tokens("ab", "openai") == 1


def test_dry_run_counts_output_at_max_tokens_and_leaves_unpriced_unknown() -> None:
    prompt = "x" * 4000  # 1000 tokens + 10 framing
    plans = [
        ("openai/a", SIMPLE, prompt, 200),
        ("openai/a", SIMPLE, prompt, 200),
        ("local/b", None, prompt, 100),
    ]
    estimate = estimate_run(plans, providers={"openai/a": "openai", "local/b": "local"})
    a = estimate["candidates"]["openai/a"]
    assert a == {
        "calls": 2,
        "input_tokens": 2020,
        "output_tokens": 400,
        "usd": pytest.approx(0.00282),
        "priced": True,
    }
    b = estimate["candidates"]["local/b"]
    assert b["usd"] is None and b["priced"] is False and b["input_tokens"] == math.ceil(1000 * 1.15) + 10
    total = estimate["total"]
    assert total["calls"] == 3 and total["usd"] is None and total["unpriced"] == ["local/b"]
    assert total["priced_usd"] == pytest.approx(0.00282)
    assert "max_tokens" in estimate["note"] and "local/b" in estimate["note"]


def test_dry_run_bounds_output_at_the_dearer_reasoning_price() -> None:
    pricing = {**SIMPLE, "reasoning_per_mtok": 10.0}
    estimate = estimate_run([("r", pricing, "", 1000)])
    assert estimate["candidates"]["r"]["usd"] == pytest.approx((10 * 1 + 1000 * 10) / 1e6)
    assert estimate["total"]["usd"] == estimate["candidates"]["r"]["usd"]


def test_dry_run_without_max_tokens_has_unknown_output() -> None:
    estimate = estimate_run([("a", SIMPLE, "hello", None)])
    assert estimate["candidates"]["a"]["output_tokens"] is None and estimate["candidates"]["a"]["usd"] is None


# ---------------------------------------------------------------------------------------------
# Budget guard
# ---------------------------------------------------------------------------------------------


def test_guard_refuses_what_would_exceed_the_budget_counting_in_flight_calls() -> None:
    guard = BudgetGuard(1.0)
    assert guard.reserve(0.4) and guard.reserve(0.4)
    assert not guard.reserve(0.3)  # 0.8 in flight + 0.3 > 1.0
    guard.settle(0.4, 0.1)  # the call cost less than reserved: room again
    assert guard.reserve(0.3)
    assert guard.spent == pytest.approx(0.1) and guard.reserved == pytest.approx(0.7)
    assert guard.refused == 1


def test_guard_refuses_unpriced_calls_and_counts_unknown_actuals_at_their_reservation() -> None:
    guard = BudgetGuard(1.0)
    assert not guard.reserve(None)
    assert guard.reserve(0.5)
    guard.settle(0.5, None)
    assert guard.spent == 0.5 and guard.reserved == 0.0 and guard.remaining == 0.5
    with pytest.raises(ValueError):
        BudgetGuard(-1)


def test_guard_after_an_overshoot_refuses_everything_that_no_longer_fits() -> None:
    guard = BudgetGuard(1.0)
    assert guard.reserve(0.5)
    guard.settle(0.5, 0.99)  # the estimate was low
    assert not guard.reserve(0.02)
    assert guard.reserve(0.01)


operations = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "settle"]),
        st.one_of(st.none(), st.floats(min_value=0, max_value=2, allow_nan=False)),
        st.floats(min_value=0, max_value=1),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(budget=st.floats(min_value=0, max_value=5, allow_nan=False), ops=operations)
def test_guard_is_never_exceeded_when_calls_cost_at_most_their_estimate(budget: float, ops: list) -> None:
    guard = BudgetGuard(budget)
    in_flight: list[float] = []
    for op, estimate, fraction in ops:
        if op == "reserve":
            before = guard.spent + guard.reserved
            if guard.reserve(estimate):
                assert estimate is not None
                in_flight.append(estimate)
            else:
                assert guard.spent + guard.reserved == before  # a refusal reserves nothing
        elif in_flight:
            reserved = in_flight.pop(int(fraction * len(in_flight)) % len(in_flight))
            guard.settle(reserved, reserved * fraction)  # each call costs at most its estimate
        assert guard.spent + guard.reserved <= budget + 1e-9
        assert guard.spent <= budget + 1e-9
    for reserved in in_flight:
        guard.settle(reserved, reserved)
    assert guard.spent <= budget + 1e-9

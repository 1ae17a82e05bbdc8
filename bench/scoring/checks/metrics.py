"""Metric checks: budgets on what producing the output cost, in time and money."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import Param, read_params
from .base import CheckContext, CheckOutcome, register


def _prepare_budget(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    return read_params(params, {"value": Param("number", minimum=0)})


@register("latency-ms", prepare=_prepare_budget)
def latency_ms(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The call took at most ``value`` milliseconds.

    Parameters: ``value`` (number >= 0, required). When the latency was not measured the check cannot
    be evaluated (verdict ``error``), never a silent pass.
    """
    limit = params["value"]
    if ctx.latency_ms is None:
        return CheckOutcome(None, "latency unknown")
    if ctx.latency_ms <= limit:
        return CheckOutcome(True, f"latency {_ms(ctx.latency_ms)} ms <= {_ms(limit)} ms")
    return CheckOutcome(False, f"latency {_ms(ctx.latency_ms)} ms > {_ms(limit)} ms")


def _ms(value: float) -> str:
    # at most 2 decimals, trailing zeros dropped ("812", "2000.4"): sub-ms noise is not evidence
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _usd(amount: float) -> str:
    # 6 significant digits: per-call costs are often fractions of a cent
    return f"${amount:.6g}"


@register("cost-usd", prepare=_prepare_budget)
def cost_usd(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The call cost at most ``value`` US dollars.

    Parameters: ``value`` (number >= 0, required). When the model has no price in the catalog the cost is
    unknown and the check cannot be evaluated (verdict ``error``), never a silent pass.
    """
    limit = params["value"]
    if ctx.cost_usd is None:
        return CheckOutcome(None, "cost unknown (model has no price in the catalog)")
    if ctx.cost_usd <= limit:
        return CheckOutcome(True, f"cost {_usd(ctx.cost_usd)} <= {_usd(limit)}")
    return CheckOutcome(False, f"cost {_usd(ctx.cost_usd)} > {_usd(limit)}")

"""Size checks: upper bounds on the length of the output."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import Param, read_params
from .base import CheckContext, CheckOutcome, register


def _prepare_limit(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    return read_params(params, {"value": Param("integer", minimum=0)})


@register("max-chars", prepare=_prepare_limit)
def max_chars(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output has at most ``value`` characters, not counting surrounding whitespace.

    Parameters: ``value`` (integer >= 0, required).
    """
    # Surrounding whitespace (a trailing newline, say) is a tokenizer habit, not length the reader sees.
    n, limit = len(ctx.output.strip()), params["value"]
    if n <= limit:
        return CheckOutcome(True, f"{n} chars <= {limit}")
    return CheckOutcome(False, f"{n} chars > {limit}")


@register("max-words", prepare=_prepare_limit)
def max_words(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output has at most ``value`` words (runs of non-whitespace characters).

    Parameters: ``value`` (integer >= 0, required).
    """
    n, limit = len(ctx.output.split()), params["value"]
    if n <= limit:
        return CheckOutcome(True, f"{n} words <= {limit}")
    return CheckOutcome(False, f"{n} words > {limit}")

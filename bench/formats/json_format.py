"""Machine-readable findings: one JSON document with every comparison and the totals.

Named ``json_format`` so that ``import json`` anywhere in this package means the standard library.
"""

from __future__ import annotations

import json

from bench.compare import Comparison
from bench.formats import register, totals

FORMAT_VERSION = 1


@register("json")
def render_json(comparisons: list[Comparison]) -> str:
    regressions, improvements = totals(comparisons)
    document = {
        "format": "bench-compare",
        "version": FORMAT_VERSION,
        "regressions": regressions,
        "improvements": improvements,
        "comparisons": [c.to_dict() for c in comparisons],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"

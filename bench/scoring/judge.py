"""The LLM judge: a model grades one output against one criterion's pass condition.

The judge (a catalog key in the suite's ``judge:``) gets the workflow, the criterion and its pass
condition, the case's input and the candidate's output, and must answer a strict JSON verdict
``{"verdict": "pass" | "mixed" | "fail", "reason": "..."}``. Structured output is requested where the
provider supports it; the answer is parsed defensively anyway (code fences, prose around the object,
capitalised verdicts). An unparsable answer is asked once more with a reminder; a second failure is the
verdict ``error`` with the judge's words as the reason: never a silent pass.

Judge calls go through the same runner as candidate calls (cache, journal, retries, concurrency) and are
recorded apart from them in the snapshot (``judge_records``), so their cost never mixes with a
candidate's.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bench.providers.base import Message
from bench.render import case_input_text
from bench.suite import Candidate, Case, Criterion, Suite

JUDGE_PARAMS = {"temperature": 0, "max_tokens": 400}
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "mixed", "fail"]},
        "reason": {"type": "string"},
    },
    "required": ["verdict", "reason"],
    "additionalProperties": False,
}
SYSTEM = """You grade the output of an AI model for one workflow against ONE criterion.
Read the criterion's pass condition, the input the model was given, and the model's output.
Answer with a single JSON object and nothing else:
{"verdict": "pass" | "mixed" | "fail", "reason": "<one or two sentences quoting the evidence>"}
- pass: the output fully meets the pass condition.
- mixed: it meets part of it, or meets it with a flaw worth a reviewer's attention.
- fail: it does not meet it.
Judge only this criterion. Quote the words of the output that decided your verdict."""
USER = """Workflow: {workflow}

Criterion: {criterion}
Pass condition: {condition}

Input given to the model:
<input>
{input}
</input>

Model output:
<output>
{output}
</output>"""
REMINDER = (
    'Your previous answer was not a valid verdict. Reply with ONLY the JSON object {"verdict": "pass" | '
    '"mixed" | "fail", "reason": "..."}.'
)
VERDICTS = ("pass", "mixed", "fail")


class UnparsableVerdict(ValueError):
    pass


def judge_candidate(suite: Suite) -> Candidate | None:
    """The judge as a runnable candidate (params limited to what its provider supports)."""
    from bench.providers import get_provider

    if not suite.judge or not any(c.judge for c in suite.rubric):
        return None
    entry = suite.catalog.entries[suite.judge]
    provider = get_provider(entry.provider)
    supported = provider.supports if provider else frozenset()
    params = {k: v for k, v in JUDGE_PARAMS.items() if k in supported}
    return Candidate(key=suite.judge, role="judge", params=params, entry=entry)


def judge_messages(
    suite: Suite, case: Case, criterion: Criterion, output: str, retry: bool
) -> tuple[Message, ...]:
    user = USER.format(
        workflow=suite.workflow,
        criterion=criterion.id,
        condition=criterion.pass_condition,
        input=case_input_text(case),
        output=output,
    )
    messages = [Message("system", SYSTEM), Message("user", user)]
    if retry:
        messages.append(Message("user", REMINDER))
    return tuple(messages)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_verdict(text: str) -> tuple[str, str]:
    """(verdict, reason) from a judge's answer, or UnparsableVerdict saying what was wrong."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        verdict = str(data.get("verdict", "")).strip().lower()
        if verdict not in VERDICTS:
            raise UnparsableVerdict(f"verdict {data.get('verdict')!r} is not pass, mixed or fail")
        reason = str(data.get("reason") or "").strip() or "(the judge gave no reason)"
        return verdict, reason
    snippet = text.strip().replace("\n", " ")[:120]
    raise UnparsableVerdict(f"no JSON verdict in the judge's answer: {snippet!r}")

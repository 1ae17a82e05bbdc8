"""JUnit XML, for CI systems that show test results: one testsuite per suite, one testcase per
candidate x criterion (plus ``quality (overall)`` and ``calls`` for errors, cost and latency), a failure per
testcase with regressions. Input changes and improvements go to ``system-out``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from bench.compare import Comparison, Finding
from bench.formats import register

OVERALL = "quality (overall)"
CALLS = "calls (errors, cost, latency)"
# characters XML 1.0 cannot carry, even escaped
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _ILLEGAL.sub("\ufffd", text)


def _testcase_of(finding: Finding) -> str:
    criterion = finding.criterion_id
    if criterion is not None:
        return criterion
    return OVERALL if finding.kind == "rate" else CALLS


def _describe(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(finding.headline)
        if finding.detail:
            lines.append(f"  {finding.detail}")
        if finding.cause:
            lines.append(f"  cause: {finding.cause}")
    return _clean("\n".join(lines))


def _testsuite(parent: ET.Element, comparison: Comparison) -> tuple[int, int]:
    suite = ET.SubElement(parent, "testsuite", name=comparison.suite)
    tests = failures = 0
    for candidate in comparison.candidates:
        classname = f"{comparison.suite}.{candidate.key}"
        regressions, improvements = comparison.of(candidate.key)
        names = [*comparison.criteria, OVERALL, CALLS]
        names += sorted({_testcase_of(f) for f in regressions + improvements} - set(names))
        for name in names:
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=classname, name=name)
            if not candidate.compared:
                ET.SubElement(case, "skipped", message=_clean(f"{candidate.key} did not run on both sides"))
                continue
            mine = [f for f in regressions if _testcase_of(f) == name]
            if mine:
                failures += 1
                message = f"{len(mine)} regression{'s' if len(mine) != 1 else ''}: {mine[0].headline}"
                failure = ET.SubElement(case, "failure", message=_clean(message), type="regression")
                failure.text = _describe(mine)
            better = [f for f in improvements if _testcase_of(f) == name]
            if better:
                ET.SubElement(case, "system-out").text = "improvements:\n" + _describe(better)
    out = [f"{comparison.suite}: {comparison.base_label} → {comparison.head_label}"]
    out += [f"input: {change.headline}" for change in comparison.inputs]
    out += [f"note: {note}" for note in comparison.notes]
    ET.SubElement(suite, "system-out").text = _clean("\n".join(out))
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    return tests, failures


@register("junit")
def render_junit(comparisons: list[Comparison]) -> str:
    root = ET.Element("testsuites", name="bench compare")
    tests = failures = 0
    for comparison in comparisons:
        t, f = _testsuite(root, comparison)
        tests, failures = tests + t, failures + f
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

"""Compare two snapshots of one suite: what changed in the inputs, what regressed, what improved, and why.

:func:`compare` re-keys both snapshots (records by ``(candidate, case, repeat)``, cases by id, candidates by
key, criteria by id: never list positions, so an inserted case does not shift every later one), lets
DeepDiff find the structural differences, and turns them into typed findings:

- :class:`InputChange` (attribution material): prompt templates (with a short unified diff), cases added,
  removed or edited (by case fingerprint), rubric, a candidate's model id, params, pricing or other catalog
  fields, candidates added or removed, the judge, the repeat count;
- :class:`VerdictChange`: a case's verdict on a criterion moved (pass -> mixed/fail is a regression), with the
  reason of the head verdict;
- :class:`ErrorChange`: a call that succeeded now fails (or the reverse);
- :class:`RateChange`: the quality pass rate (or one criterion's) moved, with an exact McNemar test on the
  paired case outcomes saying plainly whether the move is significant;
- :class:`CostChange`, :class:`LatencyChange`: cost per request or p95 latency moved past a threshold.

Each regression and improvement carries its likely ``cause``: the case was edited, the candidate's model or
params (or, for cost, pricing) changed, the prompt, rubric or judge (for the criteria it scores) changed, else
"no input changed: model drift or nondeterminism".

Thresholds come from the suite's ``compare:`` block: the caller passes the mapping (``bench compare`` reads
the block recorded in the head snapshot's ``settings.compare``, overridden by suite.yaml at head); missing
keys take these defaults:

- ``cost_increase: 0.10``: cost per request up more than 10% is a regression (down more than 10%: an
  improvement);
- ``latency_p95_increase: 0.25``: p95 latency up more than 25% is a regression (down more than 25%: an
  improvement);
- ``latency_p95_min_ms: 50``: ... and by at least this many milliseconds: on a fast endpoint a run's p95
  moves by more than 25% on noise alone (24 -> 34 ms), which must not fail a pull request;
- ``rate_drop: 0.0``: a pass rate that moves by more than this (a fraction, 0.05 = 5 points) is a finding;
- ``alpha: 0.05``: the significance level of the McNemar test.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from bench.scoring.aggregate import case_outcomes
from bench.scoring.stats import format_p, paired_comparison

DEFAULT_THRESHOLDS: dict[str, float] = {
    "cost_increase": 0.10,
    "latency_p95_increase": 0.25,
    "latency_p95_min_ms": 50.0,
    "rate_drop": 0.0,
    "alpha": 0.05,
}
FRACTIONS = ("rate_drop", "alpha")  # compare keys that are shares of 1
DRIFT = "no input changed: model drift or nondeterminism"
DIFF_LINES = 20
VERDICT_RANK = {"fail": 0, "mixed": 1, "pass": 2}
FAIL_ON = ("regression", "any", "never")
MISSING = None  # how an absent side of a change reads

Direction = Literal["regression", "improvement", "change"]


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Finding:
    """Something that differs between base and head; ``headline`` says it in one line."""

    kind: ClassVar[str] = "finding"
    direction: Direction
    candidate: str | None = None
    cause: str | None = None

    @property
    def headline(self) -> str:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    @property
    def detail(self) -> str | None:
        """More than the headline (a diff, the verdict's reason), or None."""
        return None

    @property
    def criterion_id(self) -> str | None:
        """The rubric criterion this finding is about, if any (JUnit files it under that test case)."""
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self), "headline": self.headline, "detail": self.detail}


@dataclass(frozen=True, kw_only=True)
class InputChange(Finding):
    """An input of the run differs: the material regressions are attributed to."""

    kind: ClassVar[str] = "input"
    direction: Direction = "change"
    what: str  # prompt case cases rubric criterion model params pricing entry candidate judge repeat
    subject: str
    summary: str
    diff: str | None = None

    @property
    def headline(self) -> str:
        return self.summary

    @property
    def detail(self) -> str | None:
        return self.diff


@dataclass(frozen=True, kw_only=True)
class VerdictChange(Finding):
    kind: ClassVar[str] = "verdict"
    case: str
    repeat: int
    criterion: str
    before: str | None
    after: str | None
    reason: str = ""

    @property
    def headline(self) -> str:
        again = f" (repeat {self.repeat})" if self.repeat else ""
        return f"{self.case}{again} · {self.criterion}: {self.before} → {self.after}"

    @property
    def detail(self) -> str | None:
        return self.reason or None

    @property
    def criterion_id(self) -> str | None:
        return self.criterion


@dataclass(frozen=True, kw_only=True)
class ErrorChange(Finding):
    kind: ClassVar[str] = "error"
    case: str
    repeat: int
    error: str  # the head's error for a new one, the base's for a fixed one

    @property
    def headline(self) -> str:
        again = f" (repeat {self.repeat})" if self.repeat else ""
        if self.direction == "regression":
            return f"{self.case}{again}: new error: {self.error}"
        return f"{self.case}{again}: error fixed (was: {self.error})"


@dataclass(frozen=True, kw_only=True)
class RateChange(Finding):
    kind: ClassVar[str] = "rate"
    metric: str  # "quality" or a criterion id
    before: dict[str, Any]
    after: dict[str, Any]
    significant: bool
    p_value: float
    paired_cases: int
    reading: str

    @property
    def headline(self) -> str:
        name = self.metric if self.metric == "quality" else f"criterion {self.metric}"
        points = (self.after["rate"] - self.before["rate"]) * 100
        verdict = "significant" if self.significant else "not significant"
        return (
            f"{name} pass rate {self.before['rate']:.0%} → {self.after['rate']:.0%} ({points:+.0f} pts): "
            f"{verdict} (McNemar exact p={format_p(self.p_value)}, {self.paired_cases} paired cases)"
        )

    @property
    def detail(self) -> str | None:
        return self.reading or None

    @property
    def criterion_id(self) -> str | None:
        return None if self.metric == "quality" else self.metric


@dataclass(frozen=True, kw_only=True)
class CostChange(Finding):
    kind: ClassVar[str] = "cost"
    before_usd: float
    after_usd: float

    @property
    def headline(self) -> str:
        return f"cost per request ${self.before_usd:.6g} → ${self.after_usd:.6g} ({_relative(self.before_usd, self.after_usd)})"


@dataclass(frozen=True, kw_only=True)
class LatencyChange(Finding):
    kind: ClassVar[str] = "latency"
    before_ms: float
    after_ms: float

    @property
    def headline(self) -> str:
        return f"p95 latency {self.before_ms:.0f} → {self.after_ms:.0f} ms ({_relative(self.before_ms, self.after_ms)})"


def _relative(before: float, after: float) -> str:
    if before == 0:
        return "from zero"
    return f"{after / before - 1:+.0%}"


# ---------------------------------------------------------------------------------------------
# The comparison of one suite
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateDelta:
    """One candidate's place in the summary table: its quality on each side, and whether both ran."""

    key: str
    before: dict[str, Any] | None  # the quality rate dict at base, None when it did not run there
    after: dict[str, Any] | None
    compared: bool


@dataclass
class Comparison:
    suite: str
    base_label: str
    head_label: str
    candidates: list[CandidateDelta] = field(default_factory=list)
    criteria: list[str] = field(default_factory=list)
    inputs: list[InputChange] = field(default_factory=list)
    regressions: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def crosses(self, fail_on: str) -> bool:
        """Whether this comparison fails ``--fail-on``: ``regression`` (any regression finding), ``any``
        (any change in results, regression or improvement; input changes alone do not count), ``never``."""
        if fail_on == "never":
            return False
        if fail_on == "regression":
            return bool(self.regressions)
        if fail_on == "any":
            return bool(self.regressions or self.improvements)
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")

    def of(self, candidate: str) -> tuple[list[Finding], list[Finding]]:
        """The regressions and improvements of one candidate."""
        return (
            [f for f in self.regressions if f.candidate == candidate],
            [f for f in self.improvements if f.candidate == candidate],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "base": self.base_label,
            "head": self.head_label,
            "candidates": [asdict(c) for c in self.candidates],
            "criteria": self.criteria,
            "inputs": [f.to_dict() for f in self.inputs],
            "regressions": [f.to_dict() for f in self.regressions],
            "improvements": [f.to_dict() for f in self.improvements],
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------
# Structural diff
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One structural difference: the path of keys, and the value on each side (None when absent)."""

    path: tuple[Any, ...]
    before: Any
    after: Any
    added: bool = False
    removed: bool = False


def _inputs_view(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of a snapshot keyed by name: prompts by role, cases by id, criteria by id, candidates by key."""
    prints = snapshot.get("fingerprints") or {}
    return {
        "prompts": dict(prints.get("prompts") or {}),
        "cases": {
            c["id"]: c.get("fingerprint") or {k: v for k, v in c.items() if k != "id"}
            for c in snapshot.get("cases", [])
        },
        "cases_fingerprint": prints.get("cases"),
        "rubric": {c["id"]: dict(c) for c in snapshot.get("rubric", [])},
        "rubric_fingerprint": prints.get("rubric"),
        "candidates": {
            c["key"]: {
                "provider": c.get("provider"),
                "model": c.get("model"),
                "params": c.get("params") or {},
                "pricing": c.get("pricing"),
                "status": c.get("status"),
                "skip_reason": c.get("skip_reason"),
                "base_url": c.get("base_url"),
                "limits": c.get("limits"),
                "fingerprint": (prints.get("candidates") or {}).get(c["key"]),
            }
            for c in snapshot.get("candidates", [])
        },
        "repeat": (snapshot.get("settings") or {}).get("repeat"),
        "judge": _judge_view(snapshot.get("judge")),
    }


def _judge_view(judge: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Who judged which criteria: a judge change explains moves on the criteria it scores."""
    if not judge:
        return None
    return {k: judge.get(k) for k in ("key", "provider", "model", "criteria")}


RecordKey = tuple[str, str, int]
#: one leaf of a record: (candidate, case, repeat, "verdict", criterion) or (candidate, case, repeat, "error", "")
LeafKey = tuple[str, str, int, str, str]


def _error_text(error: Mapping[str, Any] | None) -> str | None:
    if not error:
        return None
    status = f" {error['status']}" if error.get("status") else ""
    return f"{error.get('kind') or 'error'}{status}: {error.get('message', '')}"


def _records_by_key(snapshot: Mapping[str, Any]) -> dict[RecordKey, Mapping[str, Any]]:
    return {(r["candidate"], r["case"], int(r.get("repeat") or 0)): r for r in snapshot.get("records", [])}


def _leaves(key: RecordKey, record: Mapping[str, Any]) -> dict[LeafKey, str | None]:
    leaves: dict[LeafKey, str | None] = {(*key, "error", ""): _error_text(record.get("error"))}
    for criterion, verdict in (record.get("verdicts") or {}).items():
        leaves[(*key, "verdict", criterion)] = verdict.get("verdict")
    return leaves


def _records_view(
    base: Mapping[RecordKey, Mapping[str, Any]],
    head: Mapping[RecordKey, Mapping[str, Any]],
    candidates: set[str],
) -> tuple[dict[LeafKey, Any], dict[LeafKey, Any]]:
    """The compared candidates' records as flat leaves keyed by (candidate, case, repeat, part, criterion),
    keeping only the leaves that differ.

    Keys, not list positions: a case inserted at the top shifts nothing. Flat, and equal leaves dropped
    before DeepDiff sees them: a 5 x 1,000 comparison costs DeepDiff one step per verdict that moved, not
    several per record.
    """
    before: dict[LeafKey, Any] = {}
    after: dict[LeafKey, Any] = {}
    for key in base.keys() | head.keys():
        if key[0] not in candidates:
            continue
        old = _leaves(key, base[key]) if key in base else {}
        new = _leaves(key, head[key]) if key in head else {}
        for leaf in old.keys() | new.keys():
            if leaf in old and leaf in new and old[leaf] == new[leaf]:
                continue
            if leaf in old:
                before[leaf] = old[leaf]
            if leaf in new:
                after[leaf] = new[leaf]
    return before, after


def structural_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Every difference DeepDiff finds between two keyed views, as :class:`Change` objects."""
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    tree = DeepDiff(
        before,
        after,
        view="tree",
        ignore_numeric_type_changes=True,  # temperature 0 and 0.0 are the same setting
        threshold_to_diff_deeper=0,  # always report per key, even when most keys differ
    )
    changes = []
    for levels in tree.values():
        for level in levels:
            path = tuple(level.path(output_format="list"))
            removed = level.t2 is notpresent
            added = level.t1 is notpresent
            changes.append(
                Change(
                    path=path,
                    before=MISSING if added else level.t1,
                    after=MISSING if removed else level.t2,
                    added=added,
                    removed=removed,
                )
            )
    changes.sort(key=lambda c: tuple(str(p) for p in c.path))
    return changes


# ---------------------------------------------------------------------------------------------
# Input changes and attribution
# ---------------------------------------------------------------------------------------------


@dataclass
class Attribution:
    """What changed in the inputs, indexed for explaining a regression."""

    prompt_roles: list[str] = field(default_factory=list)
    edited_cases: set[str] = field(default_factory=set)
    cases_changed: bool = False
    rubric_changed: bool = False
    changed_criteria: set[str] = field(default_factory=set)
    model: dict[str, str] = field(default_factory=dict)  # candidate -> "a → b"
    params: dict[str, str] = field(default_factory=dict)
    pricing: dict[str, str] = field(default_factory=dict)
    entry: dict[str, str] = field(default_factory=dict)
    judge: str | None = None  # "a → b" when the judge changed
    judged: set[str] = field(default_factory=set)  # the criteria the head's judge scores

    def _candidate(self, candidate: str) -> list[str]:
        causes = []
        if candidate in self.model:
            causes.append(f"after the model change ({self.model[candidate]})")
        if candidate in self.params:
            causes.append(f"after the params change ({self.params[candidate]})")
        if candidate in self.entry:
            causes.append(f"after the catalog entry change ({self.entry[candidate]})")
        return causes

    def _prompt(self) -> list[str]:
        return [f"after the prompt change ({', '.join(self.prompt_roles)})"] if self.prompt_roles else []

    def _judge(self, criterion: str | None) -> list[str]:
        if self.judge is None or (criterion is not None and criterion not in self.judged):
            return []
        return [f"after the judge change ({self.judge})"]

    def _rubric(self, criterion: str | None) -> list[str]:
        if criterion is not None and criterion in self.changed_criteria:
            return [f"after the rubric change (criterion {criterion})"]
        return ["after the rubric change"] if self.rubric_changed else []

    @staticmethod
    def _say(causes: list[str]) -> str:
        return "; ".join(causes) if causes else DRIFT

    def for_case(self, candidate: str, case: str, criterion: str | None) -> str:
        edited = [f"case {case} was edited"] if case in self.edited_cases else []
        causes = edited + self._candidate(candidate) + self._prompt()
        return self._say(causes + self._rubric(criterion) + self._judge(criterion))

    def for_rate(self, candidate: str, criterion: str | None) -> str:
        cases = ["after the case changes"] if self.cases_changed else []
        causes = self._candidate(candidate) + self._prompt() + cases
        return self._say(causes + self._rubric(criterion) + self._judge(criterion))

    def for_cost(self, candidate: str) -> str:
        pricing = (
            [f"after the pricing change ({self.pricing[candidate]})"] if candidate in self.pricing else []
        )
        cases = ["after the case changes"] if self.cases_changed else []
        return self._say(pricing + self._candidate(candidate) + self._prompt() + cases)

    def for_latency(self, candidate: str) -> str:
        cases = ["after the case changes"] if self.cases_changed else []
        return self._say(self._candidate(candidate) + self._prompt() + cases)


def _short_diff(before: str | None, after: str | None, name: str) -> str | None:
    """A unified diff of a template, cut to :data:`DIFF_LINES` lines: enough to see what moved."""
    if before is None and after is None:
        return None
    lines = list(
        difflib.unified_diff(
            (before or "").splitlines(),
            (after or "").splitlines(),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
            lineterm="",
            n=1,
        )
    )
    if len(lines) > DIFF_LINES:
        rest = len(lines) - DIFF_LINES
        lines = [*lines[:DIFF_LINES], f"… {rest} more diff line{'s' if rest != 1 else ''}"]
    return "\n".join(lines) or None


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _mapping_delta(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """``temperature 0 → 0.7, seed 1 → (none)``."""
    before, after = before or {}, after or {}
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return ", ".join(f"{k} {_show(before.get(k))} → {_show(after.get(k))}" for k in keys)


PRICE_FIELDS = (
    "input_per_mtok",
    "cached_input_per_mtok",
    "output_per_mtok",
    "reasoning_per_mtok",
    "per_request",
)


def _state(change: Change) -> str:
    return "added" if change.added else "removed" if change.removed else "changed"


class _InputReader:
    """Turns the structural changes of the inputs into :class:`InputChange` findings, one group at a time,
    and records them in an :class:`Attribution`."""

    def __init__(
        self,
        base: Mapping[str, Any],
        head: Mapping[str, Any],
        base_files: Mapping[str, str] | None,
        head_files: Mapping[str, str] | None,
        labels: tuple[str, str] = ("base", "head"),
    ):
        self.base, self.head = base, head
        # None: the caller gave no template texts (no diff); a mapping without a role: its text was not found
        self.base_files, self.head_files = base_files, head_files
        self.labels = labels
        self.why = Attribution()
        self.found: list[InputChange] = []
        self.touched: dict[str, set[str]] = {}  # candidate -> fields that differ
        self.per_case = self.per_criterion = False

    def read(self, changes: Iterable[Change]) -> tuple[list[InputChange], Attribution]:
        handlers = {
            "prompts": self.prompt,
            "cases": self.case,
            "rubric": self.criterion,
            "candidates": self.candidate,
            "judge": self.judge,
            "repeat": self.repeat,
        }
        for change in changes:
            handler = handlers.get(change.path[0])
            if handler is not None:
                handler(change)
        self.whole_files()
        self.found += _candidate_changes(self.touched, self.base, self.head, self.why)
        return self.found, self.why

    def add(self, what: str, subject: str, summary: str, **more: Any) -> None:
        self.found.append(InputChange(what=what, subject=subject, summary=summary, **more))

    def prompt(self, change: Change) -> None:
        role = change.path[1]
        self.why.prompt_roles.append(role)
        before = (self.base_files or {}).get(role)
        after = (self.head_files or {}).get(role)
        # a side whose text was looked for (the role exists there) but not found: diffing against "" would
        # show the whole template as deleted (or added), which is wrong
        missing = [
            label
            for label, files, text, exists in (
                (self.labels[0], self.base_files, before, not change.added),
                (self.labels[1], self.head_files, after, not change.removed),
            )
            if files is not None and exists and text is None
        ]
        if missing:
            diff: str | None = f"template text not available at {' and '.join(missing)}: no diff"
        elif self.base_files is None and self.head_files is None:
            diff = None
        else:
            diff = _short_diff(before, after, role)
        self.add("prompt", role, f"prompt template {role} {_state(change)}", diff=diff)

    def case(self, change: Change) -> None:
        self.per_case = self.why.cases_changed = True
        case = change.path[1]
        if change.added or change.removed:
            self.add("case", case, f"case {case} {_state(change)}")
        elif case not in self.why.edited_cases:
            self.why.edited_cases.add(case)
            self.add("case", case, f"case {case} edited")

    def criterion(self, change: Change) -> None:
        self.per_criterion = self.why.rubric_changed = True
        criterion = change.path[1]
        if criterion not in self.why.changed_criteria:
            self.why.changed_criteria.add(criterion)
            self.add("criterion", criterion, f"rubric criterion {criterion} {_state(change)}")

    def candidate(self, change: Change) -> None:
        key = change.path[1]
        if len(change.path) == 2 and (change.added or change.removed):
            self.add("candidate", key, f"candidate {key} {_state(change)}", candidate=key)
        elif len(change.path) > 2:
            self.touched.setdefault(key, set()).add(change.path[2])

    def judge(self, change: Change) -> None:
        if self.why.judge is not None:
            return  # one finding for the judge, however many of its fields moved
        self.why.judge = _judge_delta(self.base.get("judge"), self.head.get("judge"))
        self.why.judged = set((self.head.get("judge") or self.base.get("judge") or {}).get("criteria") or [])
        self.add("judge", "judge", f"judge {self.why.judge}")

    def repeat(self, change: Change) -> None:
        self.add("repeat", "repeat", f"repeat {_show(change.before)} → {_show(change.after)}")

    def whole_files(self) -> None:
        """Fingerprints that moved with no per-item change: case order, or the rubric's checks."""
        before, after = self.base.get("fingerprints") or {}, self.head.get("fingerprints") or {}
        if not self.per_case and before.get("cases") != after.get("cases"):
            self.why.cases_changed = True
            self.add("cases", "cases", "the case file changed (order or fields)")
        if not self.per_criterion and before.get("rubric") != after.get("rubric"):
            self.why.rubric_changed = True
            self.add("rubric", "rubric", "the rubric's checks changed")


def _judge_delta(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    def name(judge: Mapping[str, Any] | None) -> str:
        return "(none)" if not judge else f"{judge.get('key')} ({judge.get('model')})"

    if before and after and name(before) == name(after):
        return f"criteria {sorted(before.get('criteria') or [])} → {sorted(after.get('criteria') or [])}"
    return f"{name(before)} → {name(after)}"


def _candidate_changes(
    touched: Mapping[str, set[str]], base: Mapping[str, Any], head: Mapping[str, Any], why: Attribution
) -> list[InputChange]:
    before = {c["key"]: c for c in base.get("candidates", [])}
    after = {c["key"]: c for c in head.get("candidates", [])}
    found = []
    for key in sorted(touched):
        fields_ = touched[key]
        old, new = before[key], after[key]
        if fields_ & {"model", "provider"}:
            text = f"{old.get('provider')}:{old.get('model')} → {new.get('provider')}:{new.get('model')}"
            if old.get("provider") == new.get("provider"):
                text = f"{old.get('model')} → {new.get('model')}"
            why.model[key] = text
            found.append(
                InputChange(what="model", subject=key, candidate=key, summary=f"{key}: model {text}")
            )
        if "params" in fields_:
            why.params[key] = _mapping_delta(old.get("params"), new.get("params"))
            found.append(
                InputChange(
                    what="params", subject=key, candidate=key, summary=f"{key}: params {why.params[key]}"
                )
            )
        if "pricing" in fields_:
            delta = _mapping_delta(old.get("pricing"), new.get("pricing"))
            old_prices = {k: (old.get("pricing") or {}).get(k) for k in PRICE_FIELDS}
            if old_prices != {k: (new.get("pricing") or {}).get(k) for k in PRICE_FIELDS}:
                why.pricing[key] = delta
            found.append(
                InputChange(what="pricing", subject=key, candidate=key, summary=f"{key}: pricing {delta}")
            )
        if "status" in fields_:
            found.append(
                InputChange(
                    what="candidate",
                    subject=key,
                    candidate=key,
                    summary=f"{key}: {old.get('status')} at base, {new.get('status')} at head"
                    + (f" ({new['skip_reason']})" if new.get("skip_reason") else ""),
                )
            )
        other = fields_ & {"base_url", "limits"}
        if "fingerprint" in fields_ and not fields_ & {
            "model",
            "provider",
            "params",
            "pricing",
            "base_url",
            "limits",
        }:
            other.add("catalog entry")
        if other:
            why.entry[key] = ", ".join(sorted(other))
            found.append(
                InputChange(
                    what="entry", subject=key, candidate=key, summary=f"{key}: {why.entry[key]} changed"
                )
            )
    return found


# ---------------------------------------------------------------------------------------------
# Result changes
# ---------------------------------------------------------------------------------------------


def _record_findings(
    changes: Iterable[Change], head_records: Mapping[RecordKey, Mapping[str, Any]], why: Attribution
) -> list[Finding]:
    found: list[Finding] = []
    errored: set[RecordKey] = set()
    for change in changes:
        if change.path[0] != "records" or change.added or change.removed:
            continue  # a record or criterion on one side only: an input change (case, rubric) says why
        candidate, case, repeat, part, criterion = change.path[1]
        key = (candidate, case, repeat)
        finding: Finding | None
        if part == "error":
            errored.add(key)
            finding = _error_finding(change, key, why)
        else:
            finding = _verdict_finding(change, key, criterion, head_records.get(key), why)
        if finding is not None:
            found.append(finding)
    # a call that now fails (or now works) is one finding, not one per criterion
    return [
        f for f in found if not (isinstance(f, VerdictChange) and (f.candidate, f.case, f.repeat) in errored)
    ]


def _error_finding(change: Change, key: RecordKey, why: Attribution) -> ErrorChange | None:
    candidate, case, repeat = key
    if (change.before is None) == (change.after is None):
        return None  # still failing, with another message
    direction: Direction = "regression" if change.before is None else "improvement"
    return ErrorChange(
        direction=direction,
        candidate=candidate,
        case=case,
        repeat=repeat,
        error=change.after if direction == "regression" else change.before,
        cause=why.for_case(candidate, case, None),
    )


def _verdict_finding(
    change: Change,
    key: RecordKey,
    criterion: str,
    head_record: Mapping[str, Any] | None,
    why: Attribution,
) -> VerdictChange | None:
    candidate, case, repeat = key
    before, after = change.before, change.after
    if before is None or after is None:
        return None
    direction = _verdict_direction(before, after)
    if direction is None:
        return None
    reason = ""
    if head_record is not None:
        reason = ((head_record.get("verdicts") or {}).get(criterion) or {}).get("reason", "")
    return VerdictChange(
        direction=direction,
        candidate=candidate,
        case=case,
        repeat=repeat,
        criterion=criterion,
        before=before,
        after=after,
        reason=reason,
        cause=why.for_case(candidate, case, criterion),
    )


def _verdict_direction(before: str, after: str) -> Direction | None:
    """pass -> mixed -> fail is down; a verdict that can no longer be scored (error) is down too."""
    if after == "error":
        return "regression" if before != "error" else None
    if before == "error":
        return "improvement"
    old, new = VERDICT_RANK.get(before), VERDICT_RANK.get(after)
    if old is None or new is None or old == new:
        return None
    return "regression" if new < old else "improvement"


def _only(records: Iterable[Mapping[str, Any]], criteria: set[str]) -> list[dict[str, Any]]:
    """Records with their verdicts restricted to ``criteria`` (to pair case outcomes per metric)."""
    kept = []
    for record in records:
        verdicts = {c: v for c, v in (record.get("verdicts") or {}).items() if c in criteria}
        kept.append({"case": record["case"], "verdicts": verdicts})
    return kept


def _rate_findings(
    candidate: str,
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    kinds: Mapping[str, str],
    limits: Mapping[str, float],
    why: Attribution,
) -> list[Finding]:
    before_summary = base["summary"][candidate]
    after_summary = head["summary"][candidate]
    metrics: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None, set[str]]] = [
        (
            "quality",
            before_summary.get("quality"),
            after_summary.get("quality"),
            {c for c, k in kinds.items() if k == "quality"},
        )
    ]
    for criterion in sorted(
        set(before_summary.get("criteria") or {}) & set(after_summary.get("criteria") or {})
    ):
        metrics.append(
            (
                criterion,
                before_summary["criteria"][criterion],
                after_summary["criteria"][criterion],
                {criterion},
            )
        )
    base_records = [r for r in base.get("records", []) if r["candidate"] == candidate]
    head_records = [r for r in head.get("records", []) if r["candidate"] == candidate]
    same_cases = {r["case"] for r in base_records} == {r["case"] for r in head_records}
    found: list[Finding] = []
    for metric, old, new, criteria in metrics:
        if not old or not new or old.get("rate") is None or new.get("rate") is None:
            continue
        delta = new["rate"] - old["rate"]
        if abs(delta) <= limits["rate_drop"] or delta == 0:
            continue
        paired = paired_comparison(
            "base",
            case_outcomes(_only(base_records, criteria)),
            "head",
            case_outcomes(_only(head_records, criteria)),
            alpha=limits["alpha"],
        )
        if paired.discordant == 0 and not same_cases:
            continue  # the rate moved only because cases were added or removed: the inputs say which
        direction: Direction = "regression" if delta < 0 else "improvement"
        significant = paired.verdict == ("A better" if delta < 0 else "B better")
        # the headline says whether it is significant; the reading adds why a move cannot be, when it cannot
        reading = "" if significant else (paired.min_detectable or "")
        found.append(
            RateChange(
                direction=direction,
                candidate=candidate,
                metric=metric,
                before=old,
                after=new,
                significant=significant,
                p_value=paired.p_value,
                paired_cases=paired.n,
                reading=reading,
                cause=why.for_rate(candidate, None if metric == "quality" else metric),
            )
        )
    return found


def _moved(before: float | None, after: float | None, threshold: float) -> Direction | None:
    """Up by more than ``threshold`` (a fraction) is a regression, down by more is an improvement."""
    if before is None or after is None:
        return None
    if before == 0:
        return "regression" if after > 0 else None
    change = after / before - 1
    if change > threshold:
        return "regression"
    if change < -threshold:
        return "improvement"
    return None


def _cost_and_latency(
    candidate: str,
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    limits: Mapping[str, float],
    why: Attribution,
) -> list[Finding]:
    old, new = base["summary"][candidate], head["summary"][candidate]
    found: list[Finding] = []
    old_cost = (old.get("cost") or {}).get("per_request_usd")
    new_cost = (new.get("cost") or {}).get("per_request_usd")
    direction = _moved(old_cost, new_cost, limits["cost_increase"])
    if direction is not None:
        assert old_cost is not None and new_cost is not None  # _moved() needs both to give a direction
        found.append(
            CostChange(
                direction=direction,
                candidate=candidate,
                before_usd=old_cost,
                after_usd=new_cost,
                cause=why.for_cost(candidate),
            )
        )
    old_p95 = (old.get("latency_ms") or {}).get("p95")
    new_p95 = (new.get("latency_ms") or {}).get("p95")
    direction = _moved(old_p95, new_p95, limits["latency_p95_increase"])
    if direction and abs((new_p95 or 0) - (old_p95 or 0)) < limits["latency_p95_min_ms"]:
        direction = None  # a few milliseconds of noise on a fast endpoint, not a finding
    if direction is not None:
        assert old_p95 is not None and new_p95 is not None  # _moved() needs both to give a direction
        found.append(
            LatencyChange(
                direction=direction,
                candidate=candidate,
                before_ms=old_p95,
                after_ms=new_p95,
                cause=why.for_latency(candidate),
            )
        )
    return found


# ---------------------------------------------------------------------------------------------
# compare()
# ---------------------------------------------------------------------------------------------


def compare_block_problems(raw: Any) -> list[tuple[tuple[str, ...], str]]:
    """Problems in a suite's ``compare:`` block, as (path inside the block, message) pairs.

    Every key is a number >= 0 (``alpha`` and ``rate_drop`` at most 1); an absent block (None) is valid.
    """
    from bench.validation import did_you_mean, yaml_type

    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [((), f"compare must be a mapping, found {yaml_type(raw)}")]
    problems: list[tuple[tuple[str, ...], str]] = []
    for key, value in raw.items():
        if key not in DEFAULT_THRESHOLDS:
            hint = (
                did_you_mean(str(key), DEFAULT_THRESHOLDS) or f"allowed keys: {', '.join(DEFAULT_THRESHOLDS)}"
            )
            problems.append(((str(key),), f"unknown key {key!r} in compare: {hint}"))
        elif not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(((key,), f"{key!r} in compare must be a number, found {yaml_type(value)}"))
        elif not value >= 0:  # also refuses NaN
            problems.append(((key,), f"{key!r} in compare must not be negative, found {value}"))
        elif key in FRACTIONS and value > 1:
            problems.append(((key,), f"{key!r} in compare is a fraction between 0 and 1, found {value}"))
    return problems


def _limits(thresholds: Any, suite: str) -> tuple[dict[str, float], list[str]]:
    """The thresholds to compare with, and a note for each value that could not be used.

    The block comes from suite.yaml or a snapshot, possibly from an old commit that no validation saw: a
    bad value takes its default (and the report says so) rather than stopping the comparison.
    """
    limits = dict(DEFAULT_THRESHOLDS)
    if thresholds is None:
        return limits, []
    problems = compare_block_problems(thresholds)
    bad = {path[0] if path else "" for path, _ in problems}
    notes = [
        f"suite {suite}: {message} "
        + (
            f"(using the default {DEFAULT_THRESHOLDS[path[0]]:g})"
            if path and path[0] in limits
            else "(ignored)"
        )
        for path, message in problems
    ]
    if "" in bad:  # not a mapping at all
        return limits, [f"suite {suite}: {problems[0][1]} (using the default thresholds)"]
    for key, value in thresholds.items():
        if key in limits and key not in bad:
            limits[key] = float(value)
    return limits, notes


def _ran(snapshot: Mapping[str, Any]) -> list[str]:
    summary = snapshot.get("summary") or {}
    return [
        c["key"] for c in snapshot.get("candidates", []) if c.get("status") == "ran" and c["key"] in summary
    ]


def _quality(snapshot: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    summary = (snapshot.get("summary") or {}).get(key)
    return None if summary is None else summary.get("quality")


FINDING_ORDER = {"rate": 0, "cost": 1, "latency": 2, "error": 3, "verdict": 4}


def _order(findings: list[Finding], candidates: list[str]) -> list[Finding]:
    """Grouped by candidate (in suite order), rates first (significant ones first), then cost, latency,
    errors and case verdicts."""
    position = {key: i for i, key in enumerate(candidates)}

    def rank(f: Finding) -> tuple[int, int, int]:
        significant = 0 if isinstance(f, RateChange) and f.significant else 1
        return (position.get(f.candidate or "", len(position)), FINDING_ORDER.get(f.kind, 9), significant)

    return sorted(findings, key=rank)


def compare(
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    base_files: Mapping[str, str] | None = None,
    head_files: Mapping[str, str] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    *,
    base_label: str = "base",
    head_label: str = "head",
) -> Comparison:
    """Compare two snapshots of one suite; ``*_files`` are prompt template texts by role (for the diff)."""
    suite_name = head.get("suite", {}).get("name") or base.get("suite", {}).get("name", "?")
    limits, threshold_notes = _limits(thresholds, suite_name)
    ran_before, ran_after = _ran(base), _ran(head)
    compared = [k for k in ran_after if k in ran_before]
    base_records, head_records = _records_by_key(base), _records_by_key(head)
    before_view, after_view = _inputs_view(base), _inputs_view(head)
    before_view["records"], after_view["records"] = _records_view(base_records, head_records, set(compared))
    changes = structural_changes(before_view, after_view)
    inputs, why = _InputReader(base, head, base_files, head_files, (base_label, head_label)).read(changes)

    kinds = {c["id"]: c.get("kind", "quality") for c in [*base.get("rubric", []), *head.get("rubric", [])]}
    findings = _record_findings(changes, head_records, why)
    for key in compared:
        findings += _rate_findings(key, base, head, kinds, limits, why)
        findings += _cost_and_latency(key, base, head, limits, why)

    order = [c["key"] for c in head.get("candidates", [])]
    order += [c["key"] for c in base.get("candidates", []) if c["key"] not in order]
    comparison = Comparison(
        suite=suite_name,
        base_label=base_label,
        head_label=head_label,
        candidates=[
            CandidateDelta(key, _quality(base, key), _quality(head, key), key in compared)
            for key in order
            if key in ran_before or key in ran_after
        ],
        criteria=[c["id"] for c in head.get("rubric", [])],
        inputs=inputs,
        regressions=_order([f for f in findings if f.direction == "regression"], order),
        improvements=_order([f for f in findings if f.direction == "improvement"], order),
    )
    comparison.notes += threshold_notes
    for label, snapshot in ((base_label, base), (head_label, head)):
        if not snapshot.get("complete", True):
            comparison.notes.append(f"the snapshot at {label} is incomplete: some calls did not finish")
    for key in order:
        if key in ran_before and key not in ran_after:
            comparison.notes.append(f"{key} ran at {base_label} but not at {head_label}: not compared")
        elif key in ran_after and key not in ran_before:
            comparison.notes.append(f"{key} ran at {head_label} but not at {base_label}: not compared")
    return comparison

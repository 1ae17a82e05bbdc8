"""Human review in git: sheets out, filled sheets in, reviews stored as YAML beside the suite.

Why: some rubric criteria ("the note is faithful", "a customer could read this") no check can score, and
a judge model is only worth trusting once it agrees with people. So people review outputs, and their
verdicts live in ``suites/<suite>/reviews/<reviewer>.yaml``: versioned, diffed and reviewed in pull
requests like the suite itself, one file per reviewer so two reviewers never conflict.

The flow:

1. :func:`build_sheet` + :func:`render_csv` / :func:`render_md`: a sheet from the latest snapshot, one
   row per (case, candidate, repeat) with an output, for a person to fill in with pass / mixed / fail.
2. :func:`import_sheet`: parses a filled sheet, validates every row against the current snapshot (every
   problem reported with file:line; nothing written when there is any) and merges it into the reviewer's
   YAML. Re-importing replaces the entries with the same key (case, candidate, repeat, fingerprint).
3. :func:`load_reviews`, :func:`apply_reviews`, :func:`needs_review`: for the snapshot builder.
4. :func:`review_agreement`: reviewers against each other, and the judge and the checks against them.

A review is keyed to the exact output it scored by the output fingerprint (the first
:data:`FINGERPRINT_CHARS` hex digits of the record's ``output_fingerprint``). When a rerun changes the
output, the review is *stale*: kept in the file (it is history), shown as stale, but never counted as a
verdict or in agreement: that output needs review again.

Several reviewers on one criterion combine to the **lower median** of their verdicts ordered
fail < mixed < pass: the median for an odd count; for an even count the lower of the two middle
verdicts, so that a disagreement never rounds up (pass + fail -> fail, pass + mixed -> mixed).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from bench.errors import InputError, Problem
from bench.files import write_atomic
from bench.scoring.stats import Agreement, agreement
from bench.validation import did_you_mean

#: human verdicts, worst to best: the order weighted kappa, ordinal alpha and the median use
VERDICT_ORDER = ("fail", "mixed", "pass")
#: hex digits of the output fingerprint a sheet carries: enough to key an output, short enough to read
FINGERPRINT_CHARS = 16
REVIEWS_DIR = "reviews"
SHEET_FORMATS = ("csv", "md")
#: exported sheets end in .todo so that they are never mistaken for the stored reviews (*.yaml)
TODO_SUFFIX = ".todo"
#: rater names agreement uses for machine verdicts and the reviewers' consensus
JUDGE, CHECKS, HUMANS = "judge", "checks", "humans"
#: the CSV columns that are not criteria; ``auto:<criterion>`` columns are read-only too
CSV_FIXED = ("case", "category", "input", "candidate", "repeat", "output", "fingerprint", "notes")
CSV_KEY = ("case", "candidate", "repeat", "fingerprint")
AUTO_PREFIX = "auto:"

_REVIEWER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FINGERPRINT = re.compile(rf"^[0-9a-f]{{{FINGERPRINT_CHARS},64}}$")
_SHORTHAND = {"p": "pass", "m": "mixed", "f": "fail"}

Item = tuple[str, str, int]  # (case, candidate, repeat): one output of one run


class ReviewInvalid(InputError):
    """A sheet or a reviews file has problems; every one is listed with file:line (exit 2)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems) or "invalid review")


@dataclass(frozen=True)
class Review:
    """One reviewer's verdicts on one output, as stored in ``reviews/<reviewer>.yaml``."""

    reviewer: str
    case: str
    candidate: str
    repeat: int
    output_fingerprint: str  # FINGERPRINT_CHARS hex digits of the output it scored
    verdicts: Mapping[str, str]  # criterion -> pass | mixed | fail (only the criteria the reviewer rated)
    notes: str | None = None
    reviewed_at: str | None = None

    @property
    def item(self) -> Item:
        return (self.case, self.candidate, self.repeat)

    @property
    def key(self) -> tuple[str, str, int, str]:
        """What a re-import replaces: the same reviewer on the same output."""
        return (self.case, self.candidate, self.repeat, self.output_fingerprint)

    def matches(self, output_fingerprint: str | None) -> bool:
        """True when this review scored the output whose (full) fingerprint is given: not stale."""
        return bool(output_fingerprint) and str(output_fingerprint).startswith(self.output_fingerprint)

    def to_data(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "candidate": self.candidate,
            "repeat": self.repeat,
            "output_fingerprint": self.output_fingerprint,
            "verdicts": dict(self.verdicts),
            "notes": self.notes,
            "reviewed_at": self.reviewed_at,
        }


def parse_verdict(text: str | None) -> str | None:
    """A reviewer's verdict: pass / mixed / fail in any case, or P / M / F; blank is "not rated" (None).

    Raises ValueError for anything else, so that a typo is never stored as a silent non-verdict.
    """
    value = (text or "").strip().lower()
    if not value:
        return None
    value = _SHORTHAND.get(value, value)
    if value not in VERDICT_ORDER:
        raise ValueError(f"{str(text).strip()!r} is not a verdict")
    return value


def check_reviewer(name: str) -> str:
    """A reviewer name is a file name and part of a scorer (``human:a,b``): keep it plain."""
    if not _REVIEWER.match(name or ""):
        raise InputError(
            f"reviewer name {name!r} is not usable: letters, digits, '.', '_' and '-' only, "
            "starting with a letter or digit"
        )
    if name.lower() in (JUDGE, CHECKS, HUMANS):
        raise InputError(f"reviewer name {name!r} is reserved for agreement reports: pick another")
    return name


def combine(verdicts: Sequence[str]) -> str:
    """The lower median of verdicts ordered fail < mixed < pass (see the module docstring for why)."""
    ordered = sorted(verdicts, key=VERDICT_ORDER.index)
    return ordered[(len(ordered) - 1) // 2]


def short_fingerprint(output_fingerprint: str | None) -> str:
    return (output_fingerprint or "")[:FINGERPRINT_CHARS]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# The store: suites/<suite>/reviews/<reviewer>.yaml
# ---------------------------------------------------------------------------------------------


def reviews_dir(suite_dir: Path) -> Path:
    return suite_dir / REVIEWS_DIR


def review_file(suite_dir: Path, reviewer: str) -> Path:
    return reviews_dir(suite_dir) / f"{reviewer}.yaml"


def load_reviews(suite_dir: Path) -> list[Review]:
    """Every reviewer's reviews of a suite (``reviews/*.yaml``); ReviewInvalid lists every problem."""
    problems: list[Problem] = []
    reviews: list[Review] = []
    folder = reviews_dir(suite_dir)
    if folder.is_dir():
        for path in sorted(folder.glob("*.yaml")):
            reviews.extend(_read_review_file(path, path.stem, problems))
    if problems:
        raise ReviewInvalid(problems)
    return reviews


def _read_review_file(path: Path, reviewer: str, problems: list[Problem]) -> list[Review]:
    from bench.validation import Collector, yaml_type
    from bench.yamlfile import FileProblem, display_path, load_document

    try:
        doc = load_document(path, display_path(path))
    except FileProblem as exc:
        problems.append(exc.problem)
        return []
    check = Collector(doc, problems)
    if not _REVIEWER.match(reviewer):
        check.error((), f"reviewer name {reviewer!r} (the file name) is not usable", "rename the file")
        return []
    if doc.data is None:
        return []
    if not isinstance(doc.data, list):
        check.error((), f"a reviews file is a list of reviews, found {yaml_type(doc.data)}")
        return []
    reviews: list[Review] = []
    for index, entry in enumerate(doc.data):
        data = check.fields(
            entry,
            (index,),
            f"review #{index + 1}",
            {
                "case": (str, int),
                "candidate": str,
                "repeat": int,
                "output_fingerprint": str,
                "verdicts": dict,
            },
            {"notes": str, "reviewed_at": (str, datetime.date)},
        )
        if data is None or any(
            not isinstance(data.get(k), t)
            for k, t in (("candidate", str), ("repeat", int), ("output_fingerprint", str), ("verdicts", dict))
        ):
            continue
        if not isinstance(data.get("case"), str | int):
            continue
        fingerprint = data["output_fingerprint"].lower()
        if not _FINGERPRINT.match(fingerprint):
            check.error(
                (index, "output_fingerprint"),
                f"output_fingerprint {data['output_fingerprint']!r} is not {FINGERPRINT_CHARS} to 64 hex digits",
            )
            continue
        verdicts: dict[str, str] = {}
        for criterion, value in data["verdicts"].items():
            try:
                verdict = parse_verdict(value if isinstance(value, str) else str(value))
            except ValueError as exc:
                check.error((index, "verdicts", criterion), f"{criterion}: {exc}", "pass, mixed or fail")
                continue
            if verdict is not None:
                verdicts[str(criterion)] = verdict
        reviewed_at = data.get("reviewed_at")
        if isinstance(reviewed_at, datetime.date):  # an unquoted timestamp: YAML made it a datetime
            reviewed_at = reviewed_at.isoformat()
        reviews.append(
            Review(
                reviewer=reviewer,
                case=str(data["case"]),
                candidate=data["candidate"],
                repeat=data["repeat"],
                output_fingerprint=fingerprint[:FINGERPRINT_CHARS],
                verdicts=verdicts,
                notes=data.get("notes") or None,
                reviewed_at=reviewed_at,
            )
        )
    return reviews


def dump_reviews(reviewer: str, suite: str, reviews: Iterable[Review]) -> str:
    """The reviewer's file, sorted like snapshot records so that a re-import diffs line by line."""
    import yaml

    ordered = sorted(reviews, key=lambda r: (r.candidate, r.case, r.repeat, r.output_fingerprint))
    header = (
        f"# Reviews of suite {suite} by {reviewer}, merged by `bench review import`.\n"
        "# Each entry is keyed to the output it scored (output_fingerprint): a rerun that changes the\n"
        "# output makes it stale, and that output needs review again.\n"
    )
    body = yaml.safe_dump(
        [r.to_data() for r in ordered],
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return header + (body if ordered else "[]\n")


# ---------------------------------------------------------------------------------------------
# Snapshot helpers
# ---------------------------------------------------------------------------------------------


def _records_by_item(snapshot: Mapping[str, Any]) -> dict[Item, dict[str, Any]]:
    return {(r["case"], r["candidate"], int(r["repeat"])): r for r in snapshot.get("records", [])}


def _criterion_fields(criterion: Any) -> tuple[str, bool]:
    """(id, human_only) of a rubric entry: a suite Criterion or a snapshot rubric dict."""
    if isinstance(criterion, Mapping):
        return str(criterion["id"]), bool(criterion.get("human_only"))
    return str(criterion.id), bool(getattr(criterion, "human_only", False))


def _is_human(verdict: Mapping[str, Any] | None) -> bool:
    return verdict is not None and str(verdict.get("scorer", "")).startswith("human:")


def _needs_human(verdicts: Mapping[str, Any], criterion: str, human_only: bool) -> bool:
    """A criterion is the reviewers' to score on a record when no machine scored it."""
    current = verdicts.get(criterion)
    if current is None or _is_human(current):
        return True
    # human-only: people decide, unless the call failed and there is no output to review
    return human_only and current.get("scorer") != "call"


def current_reviews(reviews: Iterable[Review], record: Mapping[str, Any]) -> list[Review]:
    """The reviews of this record's current output (not stale)."""
    item = (record["case"], record["candidate"], int(record["repeat"]))
    return [r for r in reviews if r.item == item and r.matches(record.get("output_fingerprint"))]


# ---------------------------------------------------------------------------------------------
# For the snapshot builder
# ---------------------------------------------------------------------------------------------


def apply_reviews(snapshot: dict[str, Any], reviews: list[Review], rubric: list[Any]) -> None:
    """Add the reviews to every record and score the criteria no machine scored.

    Each record gets ``reviews``: ``{criterion: [{"reviewer", "verdict", "stale"}]}`` (one entry per
    reviewer: their review of the current output, else their latest stale one, so the report can say
    "bob reviewed an older output"). For a criterion with no automatic verdict on the record
    (``human_only``, or no check and no judge verdict), ``verdicts[criterion]`` becomes
    ``{"verdict", "scorer": "human:<a>[,<b>]", "reason"}`` from the non-stale reviews, combined by
    :func:`combine`. Machine verdicts are never overwritten; human verdicts from an earlier call are
    recomputed, so calling this twice is harmless. Call it after the checks and the judge scored the
    records and before the summary is computed, so that rates count the human verdicts.
    """
    criteria = [_criterion_fields(c) for c in rubric]
    by_item: dict[Item, list[Review]] = {}
    for review in reviews:
        by_item.setdefault(review.item, []).append(review)
    for record in snapshot.get("records", []):
        item = (record["case"], record["candidate"], int(record["repeat"]))
        mine = by_item.get(item, [])
        fingerprint = record.get("output_fingerprint")
        verdicts = record.setdefault("verdicts", {})
        record_reviews: dict[str, list[dict[str, Any]]] = {}
        for criterion, human_only in criteria:
            shown = _per_reviewer(mine, criterion, fingerprint)
            if shown:
                record_reviews[criterion] = [
                    {
                        "reviewer": r.reviewer,
                        "verdict": r.verdicts[criterion],
                        "stale": not r.matches(fingerprint),
                    }
                    for r in shown
                ]
            if not _needs_human(verdicts, criterion, human_only):
                continue
            counted = [r for r in shown if r.matches(fingerprint)]
            if counted:
                verdicts[criterion] = human_verdict(criterion, counted)
            elif _is_human(verdicts.get(criterion)):
                del verdicts[criterion]  # its reviews went stale: the output needs review again
        record["reviews"] = record_reviews


def _per_reviewer(reviews: list[Review], criterion: str, fingerprint: str | None) -> list[Review]:
    """Per reviewer who rated ``criterion``: the review of the current output, else the latest stale."""
    best: dict[str, Review] = {}
    for review in reviews:
        if criterion not in review.verdicts:
            continue
        held = best.get(review.reviewer)
        if held is None:
            best[review.reviewer] = review
            continue
        rank = (review.matches(fingerprint), review.reviewed_at or "")
        if rank > (held.matches(fingerprint), held.reviewed_at or ""):
            best[review.reviewer] = review
    return [best[name] for name in sorted(best)]


def human_verdict(criterion: str, reviews: Sequence[Review]) -> dict[str, Any]:
    """The combined verdict of the reviewers of one output, with a reason quoting each of them."""
    ordered = sorted(reviews, key=lambda r: r.reviewer)
    verdict = combine([r.verdicts[criterion] for r in ordered])
    quoted = ", ".join(f"{r.reviewer} {r.verdicts[criterion]}" for r in ordered)
    if len(ordered) == 1:
        reason = f"human review: {quoted}"
    else:
        reason = f"human review: {quoted} -> {verdict} (lower median of {len(ordered)} reviewers)"
    notes = "; ".join(f"{r.reviewer}: {r.notes.strip()}" for r in ordered if r.notes and r.notes.strip())
    if notes:
        reason += f". Notes: {notes}"
    return {
        "verdict": verdict,
        "scorer": "human:" + ",".join(r.reviewer for r in ordered),
        "reason": reason[:600],
    }


def needs_review(snapshot: Mapping[str, Any], reviews: list[Review]) -> list[Item]:
    """The (case, candidate, repeat) outputs a person still has to review, in snapshot order.

    An output needs review when one of its criteria has no machine verdict (human-only, or no check and
    no judge verdict on it) and no reviewer has rated that criterion on this very output: never
    reviewed, or reviewed only before the output changed (stale). Records without an output (a failed
    call) have nothing to review.
    """
    criteria = [_criterion_fields(c) for c in snapshot.get("rubric", [])]
    pending: list[Item] = []
    for record in snapshot.get("records", []):
        if not record.get("output_fingerprint"):
            continue
        verdicts = record.get("verdicts") or {}
        current = current_reviews(reviews, record)
        for criterion, human_only in criteria:
            if _needs_human(verdicts, criterion, human_only) and not any(
                criterion in r.verdicts for r in current
            ):
                pending.append((record["case"], record["candidate"], int(record["repeat"])))
                break
    return pending


# ---------------------------------------------------------------------------------------------
# Sheets out
# ---------------------------------------------------------------------------------------------


@dataclass
class SheetRow:
    case: str
    category: str
    input: str
    candidate: str
    repeat: int
    output: str
    fingerprint: str
    auto: dict[str, str]  # criterion -> "pass (checks)": the machine verdict, read-only
    verdicts: dict[str, str]  # prefilled from the reviewer's own current review
    notes: str


@dataclass
class Sheet:
    suite: str
    reviewer: str
    snapshot_created_at: str
    criteria: list[tuple[str, str]]  # (id, pass condition), in rubric order
    rows: list[SheetRow]
    show_auto: bool = True


def build_sheet(
    snapshot: Mapping[str, Any],
    suite: Any,
    reviewer: str,
    reviews: list[Review],
    *,
    candidates: Sequence[str] = (),
    only_unreviewed: bool = False,
    show_auto: bool = True,
) -> Sheet:
    """One row per (case, candidate, repeat) that has an output, in snapshot order.

    The criteria are the snapshot's rubric (what the run scored), so that import checks against the
    same list. ``suite`` (a loaded :class:`bench.suite.Suite`) supplies each case's input text; a case
    edited since the run is flagged, one removed is said to be. Rows this reviewer already reviewed
    on the current output come prefilled (re-importing replaces them), or are left out with
    ``only_unreviewed``. ``show_auto`` adds the machine verdicts: handy, but it anchors the reviewer,
    so a sheet meant to calibrate the judge is better exported without them.
    """
    from bench.catalog import sha256_json
    from bench.render import case_input_text

    known = [c["key"] for c in snapshot.get("candidates", [])]
    for key in candidates:
        if key not in known:
            raise InputError(
                f"--candidate {key!r} is not a candidate of {snapshot['suite']['name']} "
                f"({did_you_mean(key, known) or 'candidates: ' + ', '.join(known)})"
            )
    cases = {c.id: c for c in suite.cases}
    ran_fingerprints = {c["id"]: c.get("fingerprint") for c in snapshot.get("cases", [])}
    criteria = [(str(c["id"]), str(c.get("pass", ""))) for c in snapshot.get("rubric", [])]
    clash = [cid for cid, _ in criteria if cid in CSV_FIXED or cid.startswith(AUTO_PREFIX)]
    if clash:
        raise InputError(
            f"criterion id {clash[0]!r} clashes with a review sheet column: rename the criterion"
        )
    mine = [r for r in reviews if r.reviewer == reviewer]
    rows: list[SheetRow] = []
    for record in snapshot.get("records", []):
        if record.get("output") is None or not record.get("output_fingerprint"):
            continue  # a failed call: nothing to review
        if candidates and record["candidate"] not in candidates:
            continue
        own = current_reviews(mine, record)
        if only_unreviewed and own:
            continue
        case = cases.get(record["case"])
        if case is None:
            text = "(this case is no longer in the suite)"
        else:
            text = case_input_text(case)
            if ran_fingerprints.get(case.id) not in (None, sha256_json(case.raw)):
                text = "(the case was edited after this run; this is its current text)\n" + text
        auto = {}
        if show_auto:
            for criterion, _ in criteria:
                verdict = (record.get("verdicts") or {}).get(criterion)
                if verdict and not _is_human(verdict):
                    auto[criterion] = f"{verdict['verdict']} ({verdict['scorer']})"
        latest = max(own, key=lambda r: r.reviewed_at or "", default=None)
        rows.append(
            SheetRow(
                case=record["case"],
                category=record.get("category", ""),
                input=text,
                candidate=record["candidate"],
                repeat=int(record["repeat"]),
                output=record["output"],
                fingerprint=short_fingerprint(record["output_fingerprint"]),
                auto=auto,
                verdicts=dict(latest.verdicts) if latest else {},
                notes=(latest.notes or "") if latest else "",
            )
        )
    return Sheet(
        suite=snapshot["suite"]["name"],
        reviewer=reviewer,
        snapshot_created_at=str(snapshot.get("created_at", "")),
        criteria=criteria,
        rows=rows,
        show_auto=show_auto,
    )


def _inert(text: str) -> str:
    """A model's output opened in a spreadsheet must not run as a formula (CSV injection): a cell that
    starts like one gets a leading apostrophe. Only read-only columns get this; they are never imported."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(sheet: Sheet) -> str:
    """Columns: case, category, input, candidate, repeat, output, fingerprint, ``auto:<criterion>``
    (read-only, only when shown), one column per criterion (to fill: pass / mixed / fail), notes.
    The input and output cells are made inert for spreadsheets (:func:`_inert`)."""
    criteria = [cid for cid, _ in sheet.criteria]
    auto = [f"{AUTO_PREFIX}{cid}" for cid in criteria] if sheet.show_auto else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "case",
            "category",
            "input",
            "candidate",
            "repeat",
            "output",
            "fingerprint",
            *auto,
            *criteria,
            "notes",
        ]
    )
    for row in sheet.rows:
        writer.writerow(
            [
                row.case,
                row.category,
                _inert(row.input),
                row.candidate,
                row.repeat,
                _inert(row.output),
                row.fingerprint,
                *([row.auto.get(cid, "") for cid in criteria] if sheet.show_auto else []),
                *[row.verdicts.get(cid, "") for cid in criteria],
                row.notes,
            ]
        )
    return buffer.getvalue()


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``, so an output never closes it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def checklist_line(criterion: str, verdict: str | None = None) -> str:
    boxes = " ".join(f"[{'x' if v == verdict else ' '}] {v}" for v in ("pass", "mixed", "fail"))
    return f"- {criterion}: {boxes}"


def render_md(sheet: Sheet) -> str:
    """A Markdown document with one section per output; :func:`parse_sheet` reads it back."""
    out = [
        f"# Review sheet: {sheet.suite}, reviewer {sheet.reviewer}",
        "",
        f"suite: {sheet.suite}",
        f"reviewer: {sheet.reviewer}",
        f"snapshot: results/{sheet.suite}.json, created {sheet.snapshot_created_at}",
        "",
        "For each output below, tick exactly one box per criterion (`[x] pass`, `[x] mixed` or `[x] fail`);",
        "leave a line unticked to skip that criterion. Write anything you want to keep under `Notes:`.",
        "Do not edit the `case`, `candidate`, `repeat` and `fingerprint` lines: they key your review to",
        "this exact output.",
    ]
    if sheet.show_auto:
        out += [
            "The `auto:` line of each output shows the automatic verdicts (checks or judge) for reference:",
            "it is read-only and not imported.",
        ]
    out += [f"When done: `bench review import <this file>`. {len(sheet.rows)} output(s) to review.", ""]
    out += ["Criteria:", ""]
    out += [f"* {cid}: {condition}" for cid, condition in sheet.criteria]
    for number, row in enumerate(sheet.rows, start=1):
        out += ["", "---", "", f"## {number}. {row.case} · {row.candidate} · repeat {row.repeat}", ""]
        out += [
            f"case: {row.case}",
            f"category: {row.category}",
            f"candidate: {row.candidate}",
            f"repeat: {row.repeat}",
            f"fingerprint: {row.fingerprint}",
            "",
        ]
        for title, text in (("Input", row.input), ("Output", row.output)):
            fence = _fence(text)
            out += [f"{title}:", "", f"{fence}text", text, fence, ""]
        if sheet.show_auto:
            shown = " · ".join(f"{cid} {row.auto.get(cid, '-')}" for cid, _ in sheet.criteria)
            out += [f"auto: {shown}", ""]
        out += [checklist_line(cid, row.verdicts.get(cid)) for cid, _ in sheet.criteria]
        out += ["", "Notes:", ""]
        if row.notes:
            out += [row.notes, ""]
    return "\n".join(out).rstrip("\n") + "\n"


def default_sheet_path(suite_dir: Path, reviewer: str, fmt: str) -> Path:
    return reviews_dir(suite_dir) / f"{reviewer}.{fmt}{TODO_SUFFIX}"


# ---------------------------------------------------------------------------------------------
# Sheets in
# ---------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One criterion as the reviewer filled it in, before it is checked against the rubric."""

    criterion: str
    line: int
    text: str | None = None  # a typed verdict (CSV cell, or `- grounding: pass` in Markdown)
    ticked: list[str] = field(default_factory=list)  # the labels of the ticked boxes (Markdown)
    boxes: bool = False


@dataclass
class FilledRow:
    line: int
    case: str | None = None
    candidate: str | None = None
    repeat: str | None = None
    fingerprint: str | None = None
    cells: list[Cell] = field(default_factory=list)
    notes: str | None = None
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class FilledSheet:
    display: str
    format: str
    suite: str | None
    reviewer: str | None
    rows: list[FilledRow]
    unknown_columns: dict[str, int] = field(default_factory=dict)  # CSV criterion columns, header line


def sheet_format(path: Path, text: str) -> str:
    """csv or md from the name (``x.csv``, ``x.md``, with or without ``.todo``), else from the text."""
    name = path.name.lower().removesuffix(TODO_SUFFIX)
    for fmt, suffixes in (("csv", (".csv",)), ("md", (".md", ".markdown"))):
        if name.endswith(suffixes):
            return fmt
    return "md" if text.lstrip().startswith("#") else "csv"


def identity_from_path(path: Path) -> tuple[str | None, str | None]:
    """(suite, reviewer) from the default export path ``suites/<suite>/reviews/<reviewer>.<fmt>.todo``."""
    resolved = path.resolve()
    if resolved.parent.name != REVIEWS_DIR:
        return None, None
    name = resolved.name.removesuffix(TODO_SUFFIX)
    reviewer = name.rsplit(".", 1)[0] if "." in name else name
    return resolved.parent.parent.name, reviewer


def parse_sheet(path: Path, display: str, problems: list[Problem]) -> FilledSheet:
    """Read a filled sheet; syntax problems (two ticks, a broken key line...) go to ``problems``."""
    from bench.yamlfile import FileProblem, read_text

    try:
        text = read_text(path, display)
    except FileProblem as exc:
        raise ReviewInvalid([exc.problem]) from None
    text = text.removeprefix("\ufeff")  # spreadsheets save a byte order mark
    if sheet_format(path, text) == "csv":
        return _parse_csv(text, display, problems)
    return _parse_md(text, display, problems)


def _parse_csv(text: str, display: str, problems: list[Problem]) -> FilledSheet:
    from bench.yamlfile import CSV_FIELD_LIMIT

    csv.field_size_limit(CSV_FIELD_LIMIT)  # outputs with pasted logs exceed csv's 128 KiB default
    reader = csv.reader(io.StringIO(text))
    sheet = FilledSheet(display, "csv", None, None, [])
    header = next(reader, None)
    if not header:
        problems.append(Problem(display, 1, None, "empty sheet: the first row names the columns"))
        return sheet
    columns = [c.strip() for c in header]
    missing = [c for c in CSV_KEY if c not in columns]
    if missing:
        problems.append(
            Problem(
                display,
                1,
                None,
                f"the sheet has no {', '.join(repr(m) for m in missing)} column(s)",
                "export a fresh sheet with `bench review export`: these columns key each review to its output",
            )
        )
        return sheet
    criteria = [
        (i, c) for i, c in enumerate(columns) if c and c not in CSV_FIXED and not c.startswith(AUTO_PREFIX)
    ]
    sheet.unknown_columns = {c: 1 for _, c in criteria}  # checked against the rubric later
    index = {c: i for i, c in enumerate(columns) if c}
    previous_end = reader.line_num
    for cells in reader:
        line = previous_end + 1  # where the row starts (an output spans several lines)
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
            problems.append(Problem(display, line, None, "more values than columns in this row"))
            continue

        def value(name: str, cells: list[str] = cells) -> str | None:
            i = index.get(name)
            return cells[i] if i is not None and i < len(cells) else None

        row = FilledRow(
            line=line,
            case=(value("case") or "").strip() or None,
            candidate=(value("candidate") or "").strip() or None,
            repeat=(value("repeat") or "").strip() or None,
            fingerprint=(value("fingerprint") or "").strip() or None,
            notes=(value("notes") or "").strip() or None,
        )
        for i, criterion in criteria:
            if i < len(cells) and cells[i].strip():
                row.cells.append(Cell(criterion, line, text=cells[i]))
        sheet.rows.append(row)
    return sheet


_FENCE_OPEN = re.compile(r"^(`{3,}|~{3,})")
_MD_FIELD = re.compile(r"^(suite|reviewer|case|candidate|repeat|fingerprint|category)\s*:\s*(.*?)\s*$")
_MD_CHECK = re.compile(r"^\s*[-*+]\s+([^:\[\]]+?)\s*:\s*(.*?)\s*$")
_MD_BOX = re.compile(r"\[([^\]]?)\]\s*([A-Za-z]*)")
_MD_NOTES = re.compile(r"^notes\s*:\s*(.*)$", re.IGNORECASE)


def _parse_md(text: str, display: str, problems: list[Problem]) -> FilledSheet:
    sheet = FilledSheet(display, "md", None, None, [])
    fence: tuple[str, int] | None = None
    current: FilledRow | None = None
    notes: list[str] | None = None  # collecting the current section's notes
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if notes is not None:
            if stripped == "---" or line.startswith("## "):
                _close_notes(current, notes)
                notes = None
            else:
                notes.append(line)
                continue
        if fence is not None:
            char, length = fence
            if stripped and set(stripped) == {char} and len(stripped) >= length:
                fence = None
            continue
        opening = _FENCE_OPEN.match(stripped)
        if opening:
            fence = (opening.group(1)[0], len(opening.group(1)))
            continue
        if line.startswith("## "):
            current = FilledRow(line=number)
            sheet.rows.append(current)
            continue
        found = _MD_FIELD.match(line)
        if current is None:
            if found and found.group(1) in ("suite", "reviewer"):
                setattr(sheet, found.group(1), found.group(2) or None)
            continue
        notes_start = _MD_NOTES.match(stripped)
        if notes_start:
            notes = [notes_start.group(1)]
            continue
        if found and found.group(1) in ("case", "candidate", "repeat", "fingerprint"):
            setattr(current, found.group(1), found.group(2) or None)
            current.key_lines[found.group(1)] = number
            continue
        check = _MD_CHECK.match(line)
        if check:
            criterion, rest = check.group(1).strip(), check.group(2)
            boxes = _MD_BOX.findall(rest)
            if boxes:
                ticked = [label for mark, label in boxes if mark.strip()]
                current.cells.append(Cell(criterion, number, ticked=ticked, boxes=True))
            elif rest:
                current.cells.append(Cell(criterion, number, text=rest))
    if notes is not None:
        _close_notes(current, notes)
    if fence is not None:
        problems.append(Problem(display, None, None, "a fenced block (```) is never closed"))
    return sheet


def _close_notes(row: FilledRow | None, lines: list[str]) -> None:
    if row is not None:
        row.notes = "\n".join(lines).strip() or None


# ---------------------------------------------------------------------------------------------
# Import: validate everything, then write once
# ---------------------------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    suite: str
    reviewer: str
    path: Path  # the reviewer's YAML
    stored: int = 0  # rows with at least one verdict, new or replacing
    replaced: int = 0
    unchanged: int = 0
    blank: int = 0  # rows left empty: not stored
    stale: list[str] = field(default_factory=list)  # one message per row stored as stale


def import_sheet(
    sheet_path: Path,
    root: Path,
    *,
    suite: str | None = None,
    reviewer: str | None = None,
    now: str | None = None,
) -> ImportOutcome:
    """Validate a filled sheet against ``results/<suite>.json`` and merge it into the reviewer's YAML.

    ``suite`` and ``reviewer`` override what the sheet says (Markdown header) or where it lies
    (``suites/<suite>/reviews/<reviewer>.*``). Every problem is collected and raised together as
    :class:`ReviewInvalid`, and then nothing is written. A row whose fingerprint no longer matches the
    snapshot's output is stored all the same (the verdict is history) and reported as stale.
    """
    from bench import snapshot as snap
    from bench.suite import resolve_suite_dir
    from bench.yamlfile import display_path

    display = display_path(sheet_path, root) if sheet_path.is_absolute() else str(sheet_path)
    problems: list[Problem] = []
    filled = parse_sheet(sheet_path, display, problems)
    path_suite, path_reviewer = identity_from_path(sheet_path)
    suite_ref = suite or filled.suite or path_suite
    reviewer = reviewer or filled.reviewer or path_reviewer
    if not suite_ref:
        raise InputError(f"{display}: which suite is this sheet for? pass --suite")
    if not reviewer:
        raise InputError(f"{display}: whose review is this? pass --reviewer")
    check_reviewer(reviewer)
    suite_dir = resolve_suite_dir(suite_ref, root)
    document = snap.read(snap.snapshot_path(root, suite_dir.name))
    snapshot_display = f"results/{suite_dir.name}.json"

    rubric = [str(c["id"]) for c in document.get("rubric", [])]
    case_ids = [c["id"] for c in document.get("cases", [])]
    candidate_keys = [c["key"] for c in document.get("candidates", [])]
    records = _records_by_item(document)

    for column in filled.unknown_columns:
        if column not in rubric:
            problems.append(
                Problem(
                    display,
                    1,
                    None,
                    f"unknown criterion column {column!r}",
                    did_you_mean(column, rubric) or f"criteria of {snapshot_display}: {', '.join(rubric)}",
                )
            )
    outcome = ImportOutcome(suite_dir.name, reviewer, review_file(suite_dir, reviewer))
    stamp = now or _now()
    incoming: dict[tuple[str, str, int, str], Review] = {}
    first_line: dict[tuple[str, str, int, str], int] = {}
    for row in filled.rows:
        review = _validate_row(row, filled, reviewer, rubric, case_ids, candidate_keys, problems, stamp)
        if review is None:
            continue
        if not review.verdicts:
            outcome.blank += 1
            continue
        if review.key in incoming:
            problems.append(
                Problem(
                    display,
                    row.line,
                    None,
                    f"a second row for case {review.case!r}, candidate {review.candidate!r}, repeat "
                    f"{review.repeat} (first at line {first_line[review.key]})",
                    "keep one row per output",
                )
            )
            continue
        incoming[review.key] = review
        first_line[review.key] = row.line
        record = records.get(review.item)
        if record is None or not review.matches(record.get("output_fingerprint")):
            why = "has no output" if record is None else "changed since this sheet was exported"
            outcome.stale.append(
                f"{display}:{row.line}: case {review.case!r}, candidate {review.candidate!r}, repeat "
                f"{review.repeat}: the output in {snapshot_display} {why}; stored, marked stale "
                "(that output needs review again)"
            )

    existing: list[Review] = []
    if outcome.path.is_file():
        existing = _read_review_file(outcome.path, reviewer, problems)
    if problems:
        raise ReviewInvalid(problems)

    merged = {r.key: r for r in existing}
    for key, review in incoming.items():
        held = merged.get(key)
        if held is not None and dict(held.verdicts) == dict(review.verdicts) and held.notes == review.notes:
            outcome.unchanged += 1  # keep its date: an unchanged re-import leaves no diff
            continue
        outcome.replaced += held is not None
        merged[key] = review
    outcome.stored = len(incoming)
    write_atomic(outcome.path, dump_reviews(reviewer, suite_dir.name, merged.values()))
    return outcome


def _validate_row(
    row: FilledRow,
    sheet: FilledSheet,
    reviewer: str,
    rubric: list[str],
    case_ids: list[str],
    candidate_keys: list[str],
    problems: list[Problem],
    stamp: str,
) -> Review | None:
    """One row to a Review, or None with its problems appended (all of them, not only the first)."""
    display = sheet.display
    before = len(problems)
    where = row.key_lines

    def report(field_name: str, message: str, hint: str | None = None) -> None:
        problems.append(Problem(display, where.get(field_name, row.line), None, message, hint))

    missing = [name for name in CSV_KEY if getattr(row, name) is None]
    if missing:
        report(
            missing[0],
            f"this output has no {', '.join(missing)}",
            "do not edit the key lines of a sheet: they tie each review to its output",
        )
    if row.case is not None and row.case not in case_ids:
        report("case", f"unknown case {row.case!r}", did_you_mean(row.case, case_ids))
    if row.candidate is not None and row.candidate not in candidate_keys:
        report(
            "candidate",
            f"unknown candidate {row.candidate!r}",
            did_you_mean(row.candidate, candidate_keys) or f"candidates: {', '.join(candidate_keys)}",
        )
    repeat: int | None = None
    if row.repeat is not None:
        try:
            number = float(row.repeat)  # a spreadsheet may write 0 as 0.0
            if number != int(number) or number < 0:
                raise ValueError
            repeat = int(number)
        except ValueError:
            report("repeat", f"repeat {row.repeat!r} is not a whole number")
    fingerprint = (row.fingerprint or "").lower()
    if row.fingerprint is not None and not _FINGERPRINT.match(fingerprint):
        report(
            "fingerprint",
            f"fingerprint {row.fingerprint!r} is not {FINGERPRINT_CHARS} hex digits",
            "a spreadsheet may have turned it into a number: format that column as text",
        )

    verdicts: dict[str, str] = {}
    for cell in row.cells:
        if cell.criterion not in rubric:
            if sheet.format == "md":  # CSV columns were reported once, on the header
                problems.append(
                    Problem(
                        display,
                        cell.line,
                        None,
                        f"unknown criterion {cell.criterion!r}",
                        did_you_mean(cell.criterion, rubric) or f"criteria: {', '.join(rubric)}",
                    )
                )
            continue
        if cell.boxes and len(cell.ticked) > 1:
            problems.append(
                Problem(
                    display,
                    cell.line,
                    None,
                    f"{cell.criterion}: {len(cell.ticked)} boxes ticked ({', '.join(cell.ticked)})",
                    "tick exactly one of pass, mixed, fail",
                )
            )
            continue
        text = cell.ticked[0] if cell.boxes and cell.ticked else cell.text
        try:
            verdict = parse_verdict(text)
        except ValueError as exc:
            problems.append(
                Problem(
                    display,
                    cell.line,
                    None,
                    f"{cell.criterion}: {exc}",
                    "write pass, mixed or fail (or P, M, F); leave it blank to skip",
                )
            )
            continue
        if verdict is not None:
            verdicts[cell.criterion] = verdict
    if len(problems) > before or row.case is None or row.candidate is None or repeat is None:
        return None
    return Review(
        reviewer=reviewer,
        case=row.case,
        candidate=row.candidate,
        repeat=repeat,
        output_fingerprint=fingerprint[:FINGERPRINT_CHARS],
        verdicts=verdicts,
        notes=row.notes,
        reviewed_at=stamp,
    )


# ---------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------

Rating = tuple[str, str, str, int]  # (criterion, case, candidate, repeat)


def rater_ratings(snapshot: Mapping[str, Any], reviews: list[Review]) -> dict[str, dict[Rating, str]]:
    """Every rater's verdicts on the current outputs.

    * each reviewer: their non-stale reviews only;
    * ``judge``: the judge's own verdicts, from the snapshot's ``judge_records`` (the last answer per
      output and criterion: a retry replaces an unparsable first answer), else from the records'
      verdicts whose scorer starts with "judge". A verdict combined from checks and judge
      (scorer ``checks+judge:...``) is neither rater's own, so it is not compared;
    * ``checks``: record verdicts whose scorer is exactly "checks";
    * ``humans``, with two reviewers or more: their combined verdict per output (:func:`combine`).
    """
    ratings: dict[str, dict[Rating, str]] = {}
    criteria = [_criterion_fields(c)[0] for c in snapshot.get("rubric", [])]
    judge_calls = sorted(snapshot.get("judge_records") or [], key=lambda c: bool(c.get("retry")))
    judged: dict[Rating, str] = {}
    for call in judge_calls:
        judged[(call["criterion"], call["case"], call["candidate"], int(call["repeat"]))] = call.get(
            "verdict"
        )
    judged = {k: v for k, v in judged.items() if v in VERDICT_ORDER}
    if judged:
        ratings[JUDGE] = judged
    per_item: dict[Rating, list[str]] = {}
    for record in snapshot.get("records", []):
        item = (record["case"], record["candidate"], int(record["repeat"]))
        for criterion, verdict in (record.get("verdicts") or {}).items():
            scorer = str(verdict.get("scorer", ""))
            rater = (
                CHECKS if scorer == "checks" else JUDGE if scorer.startswith("judge") and not judged else None
            )
            if rater and verdict.get("verdict") in VERDICT_ORDER:
                ratings.setdefault(rater, {})[(criterion, *item)] = verdict["verdict"]
        for review in current_reviews(reviews, record):
            for criterion, verdict in review.verdicts.items():
                if criterion in criteria:
                    ratings.setdefault(review.reviewer, {})[(criterion, *item)] = verdict
                    per_item.setdefault((criterion, *item), []).append(verdict)
    people = {r.reviewer for r in reviews} & set(ratings)
    if len(people) >= 2:
        ratings[HUMANS] = {key: combine(values) for key, values in per_item.items()}
    return ratings


def review_agreement(snapshot: Mapping[str, Any], reviews: list[Review]) -> list[Agreement]:
    """Agreement per pair of raters, per criterion (where both rated something) and overall.

    Pairs: every two reviewers; then the judge against each reviewer (and against ``humans``); then the
    checks likewise. Each Agreement carries Cohen's kappa, the quadratic-weighted kappa over
    fail < mixed < pass, Krippendorff's ordinal alpha and n, from :func:`bench.scoring.stats.agreement`.
    """
    ratings = rater_ratings(snapshot, reviews)
    people = sorted(name for name in ratings if name not in (JUDGE, CHECKS, HUMANS))
    pairs = list(combinations(people, 2))
    for machine in (JUDGE, CHECKS):
        if machine in ratings:
            pairs += [(machine, person) for person in people]
            if HUMANS in ratings:
                pairs.append((machine, HUMANS))
    criteria = [_criterion_fields(c)[0] for c in snapshot.get("rubric", [])]
    results: list[Agreement] = []
    for a, b in pairs:
        for criterion in criteria:
            mine = {k: v for k, v in ratings[a].items() if k[0] == criterion}
            theirs = {k: v for k, v in ratings[b].items() if k[0] == criterion}
            found = agreement(a, mine, b, theirs, VERDICT_ORDER, criterion=criterion)
            if found.n:
                results.append(found)
        results.append(agreement(a, ratings[a], b, ratings[b], VERDICT_ORDER))
    return results


def agreement_data(found: Agreement) -> dict[str, Any]:
    """JSON-ready: NaN (nothing to compare) becomes null, which JSON can carry."""

    def number(x: float) -> float | None:
        return None if x != x else round(x, 4)

    return {
        "pair": list(found.pair),
        "criterion": found.criterion,
        "n": found.n,
        "kappa": number(found.kappa),
        "weighted_kappa": number(found.weighted_kappa),
        "alpha": number(found.alpha),
        "band": found.band,
        "reading": found.reading,
    }

"""Suites as files: load ``suites/<name>/suite.yaml`` with its cases, templates and rubric, and validate it.

Every problem is collected (not only the first) with file, line, column and a hint; :func:`load_suite`
raises :class:`~bench.errors.SuiteInvalid` when any is an error. Warnings (coverage against the
recommended first test set) travel on the loaded suite.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.catalog import Catalog, ModelEntry, find_catalog, load_catalog, sha256_json
from bench.errors import InputError, Problem, SuiteInvalid
from bench.validation import Collector, did_you_mean, yaml_type
from bench.yamlfile import Document, FileProblem, display_path, load_document

CATEGORIES = ("normal", "difficult", "edge", "reject", "messy")
#: the recommended first test set (coverage over volume)
RECOMMENDED_MIX = {"normal": 10, "difficult": 5, "edge": 5, "reject": 3, "messy": 2}
ROLES = ("frontier", "low-cost", "specialist", "fallback", "incumbent")
CRITERION_KINDS = ("quality", "format", "safety")
MAX_REPEAT = 100

SUITE_FIELDS: dict[str, Any] = {
    "description": str,
    "prompt": dict,
    "candidates": list,
    "rubric": list,
    "judge": str,
    "repeat": int,
    "thresholds": dict,
    "volume": dict,
    "gates": dict,
    "compare": dict,
    "tags": list,
}
CASE_FIELDS: dict[str, Any] = {"vars": dict, "expect": list, "tags": list, "notes": str}
# keys of nested mappings, to explain an unknown key that was merely indented one level too little
SUITE_NESTED = {
    "system": "`prompt:`",
    "user": "`prompt:`",
    "model": "an item of `candidates:`",
    "role": "an item of `candidates:`",
    "params": "an item of `candidates:`",
    "id": "an item of `rubric:`",
    "pass": "an item of `rubric:`",
    "checks": "an item of `rubric:`",
    "kind": "an item of `rubric:`",
}
CANDIDATE_NESTED = {
    k: "`params:`" for k in ("temperature", "max_tokens", "top_p", "seed", "stop", "json_mode")
}
CRITERION_NESTED = {"type": "an item of `checks:`", "value": "an item of `checks:`"}
CRITERION_FIELDS: dict[str, Any] = {
    "kind": str,
    "checks": list,
    "judge": bool,
    "human_only": bool,
    "notes": str,
}


@dataclass(frozen=True)
class Candidate:
    key: str
    role: str | None
    params: dict[str, Any]
    entry: ModelEntry


@dataclass(frozen=True)
class ScoredCheck:
    """A prepared check bound to the criterion it scores."""

    criterion: str
    check: Any  # bench.scoring.checks.PreparedCheck


@dataclass(frozen=True)
class Criterion:
    id: str
    kind: str
    pass_condition: str
    checks: tuple[Any, ...] = ()
    judge: bool = False
    human_only: bool = False


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    vars: dict[str, Any]
    expect: tuple[ScoredCheck, ...] = ()
    tags: tuple[str, ...] = ()
    notes: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Suite:
    name: str
    dir: Path
    display_dir: str
    workflow: str
    description: str | None
    templates: dict[str, str]  # role (system | user) -> template source
    template_paths: dict[str, str]  # role -> path relative to the suite folder
    cases: list[Case]
    candidates: list[Candidate]
    rubric: list[Criterion]
    catalog: Catalog
    repeat: int = 1
    judge: str | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    volume: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    compare: dict[str, Any] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    cases_file: str = ""
    cases_doc: Document | None = None  # to point at a case's line when reporting a problem
    raw: dict[str, Any] = field(default_factory=dict)

    def case_location(self, case_id: str) -> str:
        """``file:line`` of a case, for messages."""
        index = next((i for i, c in enumerate(self.cases) if c.id == case_id), None)
        if self.cases_doc is None or index is None:
            return self.cases_file
        line, _ = self.cases_doc.locate(index)
        return f"{self.cases_file}:{line}" if line else self.cases_file

    @property
    def fingerprints(self) -> dict[str, Any]:
        """sha256 of each input, so a change in results can be traced to a change in inputs."""
        return {
            "prompts": {role: sha256_json(text) for role, text in sorted(self.templates.items())},
            "cases": sha256_json([c.raw for c in self.cases]),
            "rubric": sha256_json(self.raw.get("rubric")),
            "candidates": {
                c.key: sha256_json({"entry": c.entry.raw, "params": c.params}) for c in self.candidates
            },
            # the catalog entry alone: what a probe result is valid for
            "entries": {c.key: c.entry.fingerprint for c in self.candidates},
        }

    def candidate(self, key: str) -> Candidate | None:
        return next((c for c in self.candidates if c.key == key), None)


def suites_root(root: Path) -> Path:
    return root / "suites"


def discover_suites(root: Path) -> list[Path]:
    base = suites_root(root)
    if not base.is_dir():
        return []
    return sorted(p.parent for p in base.glob("*/suite.yaml"))


def suite_refs(root: Path, refs: tuple[str, ...] | list[str]) -> list[str]:
    """The suites a command works on: those named, else every suite under ``suites/``."""
    if refs:
        return list(refs)
    found = discover_suites(root)
    if not found:
        raise InputError(f"no suites under {root / 'suites'}: create suites/<name>/suite.yaml")
    return [str(p) for p in found]


def check_candidate_keys(suites: list[Suite], keys: tuple[str, ...]) -> None:
    """A --candidate key that none of these suites has is a typo: refuse it before any call."""
    for key in keys:
        if not any(suite.candidate(key) for suite in suites):
            known = sorted({c.key for suite in suites for c in suite.candidates})
            raise InputError(
                f"--candidate {key!r} is not a candidate of {', '.join(s.name for s in suites)} "
                f"(candidates: {', '.join(known)})"
            )


def resolve_suite_dir(ref: str, root: Path) -> Path:
    """A suite is named by its folder under ``suites/`` or by a path (to the folder or its suite.yaml)."""
    path = Path(ref)
    if path.name in ("suite.yaml", "suite.yml") and path.is_file():
        return path.parent
    if path.is_dir() and (path / "suite.yaml").is_file():
        return path
    named = suites_root(root) / ref
    if (named / "suite.yaml").is_file():
        return named
    known = [p.name for p in discover_suites(root)]
    hint = did_you_mean(ref, known) or (f"known suites: {', '.join(known)}" if known else "no suites/ here")
    raise InputError(
        f"no suite {ref!r}: expected suites/{ref}/suite.yaml or a path to a suite folder ({hint})"
    )


def inside(base: Path, relative: str) -> Path | None:
    """``base / relative`` if it stays inside ``base`` (no absolute paths, no ``..`` escapes)."""
    if Path(relative).is_absolute():
        return None
    target = (base / relative).resolve()
    try:
        target.relative_to(base.resolve())
    except ValueError:
        return None
    return target


def load_suite(ref: str | Path, root: Path | None = None, catalog: Catalog | None = None) -> Suite:
    """Load, validate and render-check one suite. Raise SuiteInvalid listing every problem."""
    root = root or Path.cwd()
    suite_dir = resolve_suite_dir(str(ref), root)
    problems: list[Problem] = []
    suite = _load(suite_dir, root, catalog, problems)
    if suite is not None:
        from bench.render import check_templates

        check_templates(suite, problems)
    if any(p.severity == "error" for p in problems) or suite is None:
        raise SuiteInvalid(problems)
    suite.warnings = [p for p in problems if p.severity == "warning"]
    return suite


def _load(suite_dir: Path, root: Path, catalog: Catalog | None, problems: list[Problem]) -> Suite | None:
    try:
        doc = load_document(suite_dir / "suite.yaml", display_path(suite_dir / "suite.yaml", root))
    except FileProblem as exc:
        problems.append(exc.problem)
        return None
    check = Collector(doc, problems)
    data = check.fields(
        doc.data,
        (),
        "the suite",
        {"name": str, "workflow": str, "cases": str, "prompt": dict, "candidates": list, "rubric": list},
        SUITE_FIELDS,
        SUITE_NESTED,
    )
    if data is None:
        return None
    name = data.get("name")
    if isinstance(name, str) and name != suite_dir.name:
        check.error(
            ("name",),
            f"name {name!r} differs from the folder name {suite_dir.name!r}",
            f"rename the folder or set `name: {suite_dir.name}`",
        )

    if catalog is None:
        catalog_path = find_catalog(suite_dir)
        if catalog_path is None:
            check.error(
                (), "no model catalog found", "create suites/models.yaml (see README: the model catalog)"
            )
        else:
            catalog = load_catalog(catalog_path, problems)

    templates, template_paths = _load_templates(data, doc, suite_dir, root, check)
    rubric = _load_rubric(data, suite_dir, check)
    cases, cases_doc = _load_cases(data, doc, suite_dir, root, check, {c.id for c in rubric})
    cases_display = cases_doc.display if cases_doc else str(data.get("cases", ""))
    candidates = _load_candidates(data, catalog, check)

    repeat = data.get("repeat", 1)
    if isinstance(repeat, int) and not 1 <= repeat <= MAX_REPEAT:
        check.error(("repeat",), f"repeat must be between 1 and {MAX_REPEAT}, found {repeat}")
    judge = data.get("judge")
    if isinstance(judge, str) and catalog is not None and judge not in catalog.entries:
        check.error(
            ("judge",),
            f"judge {judge!r} is not in the model catalog",
            did_you_mean(judge, catalog.entries) or f"add it to {catalog.display}",
        )
    if any(c.judge for c in rubric) and not judge:
        check.error(
            ("rubric",),
            "a criterion sets `judge: true` but the suite names no judge model",
            "add `judge: <catalog key>` at the top of suite.yaml",
        )

    from bench.compare import compare_block_problems
    from bench.costs import validate_volume
    from bench.decide import validate_gates

    for block, validator in (
        ("volume", validate_volume),
        ("gates", validate_gates),
        ("thresholds", thresholds_problems),
        ("compare", compare_block_problems),
    ):
        if isinstance(data.get(block), dict):
            for path, message in validator(data[block]):
                check.error((block, *path), message)
    _coverage_warnings(cases, doc, check)
    if catalog is None or not isinstance(name, str) or not isinstance(data.get("workflow"), str):
        return None
    return Suite(
        name=name,
        dir=suite_dir,
        display_dir=display_path(suite_dir, root),
        workflow=data["workflow"],
        description=data.get("description"),
        templates=templates,
        template_paths=template_paths,
        cases=cases,
        candidates=candidates,
        rubric=rubric,
        catalog=catalog,
        repeat=repeat if isinstance(repeat, int) else 1,
        judge=judge,
        thresholds=data.get("thresholds") or {},
        volume=data.get("volume") or {},
        gates=data.get("gates") or {},
        compare=data.get("compare") or {},
        cases_file=cases_display,
        cases_doc=cases_doc,
        raw=data,
    )


def thresholds_problems(raw: Any) -> list[tuple[tuple[str, ...], str]]:
    """Problems in a suite's ``thresholds:`` block (how a rate reads as Pass / Mixed / Fail), as (path
    inside the block, message) pairs. ``pass`` and ``mixed`` are numbers from 0 to 1, ``mixed`` <= ``pass``."""
    from bench.scoring.aggregate import DEFAULT_THRESHOLDS

    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [((), f"thresholds must be a mapping, found {yaml_type(raw)}")]
    problems: list[tuple[tuple[str, ...], str]] = []
    for key, value in raw.items():
        if key not in DEFAULT_THRESHOLDS:
            hint = (
                did_you_mean(str(key), DEFAULT_THRESHOLDS) or f"allowed keys: {', '.join(DEFAULT_THRESHOLDS)}"
            )
            problems.append(((str(key),), f"unknown key {key!r} in thresholds: {hint}"))
        elif not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(((key,), f"{key!r} in thresholds must be a number, found {yaml_type(value)}"))
        elif not 0 <= value <= 1:
            problems.append(((key,), f"{key!r} in thresholds is a pass rate between 0 and 1, found {value}"))
    if problems:
        return problems
    high = raw.get("pass", DEFAULT_THRESHOLDS["pass"])
    low = raw.get("mixed", DEFAULT_THRESHOLDS["mixed"])
    if low > high:
        where = "mixed" if "mixed" in raw else "pass"
        problems.append(
            ((where,), f"thresholds.mixed ({low:g}) must not be above thresholds.pass ({high:g})")
        )
    return problems


def _load_templates(
    data: dict[str, Any], doc: Document, suite_dir: Path, root: Path, check: Collector
) -> tuple[dict[str, str], dict[str, str]]:
    templates: dict[str, str] = {}
    paths: dict[str, str] = {}
    prompt = check.fields(data.get("prompt"), ("prompt",), "prompt", {"user": str}, {"system": str})
    if prompt is None:
        return templates, paths
    for role in ("system", "user"):
        relative = prompt.get(role)
        if not isinstance(relative, str):
            continue
        target = inside(suite_dir, relative)
        if target is None:
            check.error(
                ("prompt", role),
                f"template path {relative!r} leaves the suite folder",
                "keep templates inside the suite folder, e.g. prompts/user.md",
            )
            continue
        if not target.is_file():
            check.error(
                ("prompt", role),
                f"template file {relative!r} not found",
                f"create {display_path(target, root)}",
            )
            continue
        try:
            templates[role] = target.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            check.error(("prompt", role), f"template file {relative!r} is not UTF-8 text")
            continue
        paths[role] = relative
    return templates, paths


def _load_cases(
    data: dict[str, Any], doc: Document, suite_dir: Path, root: Path, check: Collector, criteria: set[str]
) -> tuple[list[Case], Document | None]:
    from bench.scoring.checks import CheckParamError, prepare_check

    relative = data.get("cases")
    if not isinstance(relative, str):
        return [], None
    target = inside(suite_dir, relative)
    if target is None:
        check.error(("cases",), f"cases path {relative!r} leaves the suite folder")
        return [], None
    if not target.is_file():
        check.error(
            ("cases",),
            f"cases file {relative!r} not found",
            "a YAML list of cases (or .jsonl / .csv) inside the suite folder",
        )
        return [], None
    try:
        cases_doc = load_document(target, display_path(target, root))
    except FileProblem as exc:
        check.problems.append(exc.problem)
        return [], None
    cc = Collector(cases_doc, check.problems)
    rows = cases_doc.data
    if not isinstance(rows, list):
        cc.error(
            (),
            f"the cases file must be a list of cases, found {yaml_type(rows)}",
            "start each case with `- id: ...`",
        )
        return [], cases_doc
    if not rows:
        cc.error(
            (),
            "the cases file has no cases",
            "add at least one case: - {id: ..., category: normal, vars: {...}}",
        )
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        case = cc.fields(
            row,
            (index,),
            f"case #{index + 1}",
            {"id": (str, int), "category": str},
            CASE_FIELDS,
            # an unknown key in a case is most often a template variable that belongs under vars
            {k: "`vars:`" for k in row if k not in CASE_FIELDS} if isinstance(row, dict) else None,
        )
        if (
            case is None
            or not isinstance(case.get("id"), str | int)
            or not isinstance(case.get("category"), str)
        ):
            continue
        case_id = str(case["id"])
        if case_id in seen:
            cc.error(
                (index, "id"),
                f"duplicate case id {case_id!r} (first used by case #{seen[case_id] + 1})",
                "case ids must be unique: results and reviews are keyed by them",
            )
        seen.setdefault(case_id, index)
        category = case["category"]
        if category not in CATEGORIES:
            cc.error(
                (index, "category"),
                f"unknown category {category!r}",
                did_you_mean(category, CATEGORIES) or f"one of: {', '.join(CATEGORIES)}",
            )
        expect: list[ScoredCheck] = []
        for position, spec in enumerate(case.get("expect") or []):
            where = (index, "expect", position)
            if not isinstance(spec, dict):
                cc.error(
                    where,
                    f"a check must be a mapping like {{type: contains, value: ...}}, found {yaml_type(spec)}",
                )
                continue
            criterion = spec.get("criterion")
            if not isinstance(criterion, str):
                cc.error(
                    where,
                    "a check in `expect` must name the rubric criterion it scores",
                    "add `criterion: <id>`",
                )
                continue
            if criteria and criterion not in criteria:
                cc.error(
                    (*where, "criterion"),
                    f"unknown criterion {criterion!r}",
                    did_you_mean(criterion, criteria) or f"criteria: {', '.join(sorted(criteria))}",
                )
                continue
            try:
                prepared = prepare_check({k: v for k, v in spec.items() if k != "criterion"}, suite_dir)
            except CheckParamError as exc:
                cc.error(where, str(exc))
                continue
            expect.append(ScoredCheck(criterion, prepared))
        tags = case.get("tags") or []
        cases.append(
            Case(
                id=case_id,
                category=category,
                vars=case.get("vars") or {},
                expect=tuple(expect),
                tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
                notes=case.get("notes"),
                raw=row,
            )
        )
    return cases, cases_doc


def _load_rubric(data: dict[str, Any], suite_dir: Path, check: Collector) -> list[Criterion]:
    from bench.scoring.checks import CheckParamError, prepare_check

    rubric: list[Criterion] = []
    items = data.get("rubric")
    if not isinstance(items, list):
        return rubric
    if not items:
        check.error(
            ("rubric",), "the rubric is empty", "write the criteria before testing: - {id: ..., pass: ...}"
        )
    seen: set[str] = set()
    for index, item in enumerate(items):
        path = ("rubric", index)
        crit = check.fields(
            item,
            path,
            f"criterion #{index + 1}",
            {"id": str, "pass": str},
            CRITERION_FIELDS,
            CRITERION_NESTED,
        )
        if crit is None or not isinstance(crit.get("id"), str):
            continue
        if crit["id"] in seen:
            check.error((*path, "id"), f"duplicate criterion id {crit['id']!r}")
        seen.add(crit["id"])
        kind = crit.get("kind", "quality")
        if kind not in CRITERION_KINDS:
            check.error(
                (*path, "kind"),
                f"unknown criterion kind {kind!r}",
                did_you_mean(str(kind), CRITERION_KINDS) or f"one of: {', '.join(CRITERION_KINDS)}",
            )
        prepared = []
        for position, spec in enumerate(crit.get("checks") or []):
            if not isinstance(spec, dict):
                check.error((*path, "checks", position), "a check must be a mapping like {type: is-json}")
                continue
            try:
                prepared.append(prepare_check(spec, suite_dir))
            except CheckParamError as exc:
                check.error((*path, "checks", position), str(exc))
        rubric.append(
            Criterion(
                id=crit["id"],
                kind=kind,
                pass_condition=str(crit.get("pass", "")),
                checks=tuple(prepared),
                judge=bool(crit.get("judge", False)),
                human_only=bool(crit.get("human_only", False)),
            )
        )
    return rubric


def _load_candidates(data: dict[str, Any], catalog: Catalog | None, check: Collector) -> list[Candidate]:
    from bench.providers import KNOWN_PARAMS, get_provider

    candidates: list[Candidate] = []
    items = data.get("candidates")
    if not isinstance(items, list):
        return candidates
    if not items:
        check.error(("candidates",), "no candidates", "list 3 to 5 models from the catalog")
    elif not 3 <= len(items) <= 5:
        check.warn(
            ("candidates",),
            f"{len(items)} candidate(s); 3 to 5 are recommended",
            "a frontier model, a cheaper one, a specialist, a fallback, the incumbent",
        )
    seen: set[str] = set()
    for index, item in enumerate(items):
        path = ("candidates", index)
        cand = check.fields(
            item,
            path,
            f"candidate #{index + 1}",
            {"model": str},
            {"role": str, "params": dict},
            CANDIDATE_NESTED,
        )
        if cand is None or not isinstance(cand.get("model"), str):
            continue
        key = cand["model"]
        if key in seen:
            check.error((*path, "model"), f"candidate {key!r} is listed twice")
        seen.add(key)
        role = cand.get("role")
        if role is not None and role not in ROLES:
            check.error(
                (*path, "role"),
                f"unknown role {role!r}",
                did_you_mean(str(role), ROLES) or f"one of: {', '.join(ROLES)}",
            )
        params = cand.get("params") or {}
        if not isinstance(params, dict):
            params = {}
        if catalog is None:
            continue
        entry = catalog.entries.get(key)
        if entry is None:
            check.error(
                (*path, "model"),
                f"unknown model {key!r}: not in the catalog {catalog.display}",
                did_you_mean(key, catalog.entries) or f"known: {', '.join(sorted(catalog.entries))}",
            )
            continue
        provider = get_provider(entry.provider)
        for param, value in params.items():
            if param not in KNOWN_PARAMS:
                check.error(
                    (*path, "params", param),
                    f"unknown parameter {param!r}",
                    did_you_mean(param, KNOWN_PARAMS) or f"known: {', '.join(sorted(KNOWN_PARAMS))}",
                )
            elif provider is not None and param not in provider.supports:
                check.error(
                    (*path, "params", param), f"provider {provider.name!r} does not support {param!r}"
                )
            elif param == "max_tokens" and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                check.error((*path, "params", param), "max_tokens must be a positive integer")
            elif param == "temperature" and (not isinstance(value, int | float) or not 0 <= value <= 2):
                check.error((*path, "params", param), "temperature must be a number from 0 to 2")
        candidates.append(Candidate(key=key, role=role, params=dict(params), entry=entry))
    return candidates


def _coverage_warnings(cases: list[Case], doc: Document, check: Collector) -> None:
    counts = Counter(c.category for c in cases)
    short = [
        f"{cat} {counts.get(cat, 0)}/{want}"
        for cat, want in RECOMMENDED_MIX.items()
        if counts.get(cat, 0) < want
    ]
    if cases and short:
        check.warn(
            ("cases",),
            "fewer cases than the recommended first set: " + ", ".join(short),
            "10 normal, 5 difficult, 5 edge, 3 reject, 2 messy: coverage over volume",
        )

"""THE result format: ``results/<suite>.json``. Every consumer (report, compare, history, site) reads it here.

The file is pretty-printed JSON with sorted keys and records sorted by candidate, case and repeat, so that
``git diff`` of two runs reads well in a pull request. ``bench/snapshot.schema.json`` is its JSON Schema;
``SCHEMA_VERSION`` changes when the shape does.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from bench import __version__
from bench.catalog import sha256_json
from bench.costs import call_cost
from bench.errors import InputError
from bench.files import write_atomic
from bench.probe import read_probe
from bench.redact import display_url
from bench.runner import CallRecord, RunResult
from bench.scoring.aggregate import summarize_candidate
from bench.scoring.verdicts import combine, judge_verdict, score_record
from bench.suite import Suite

SCHEMA_VERSION = 1
RESULTS_DIR = "results"


def snapshot_path(root: Path, suite_name: str) -> Path:
    return root / RESULTS_DIR / f"{suite_name}.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("bench").joinpath("snapshot.schema.json").read_text(encoding="utf-8"))


def validate(snapshot: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when ``snapshot`` does not follow the schema."""
    import jsonschema

    jsonschema.Draft202012Validator(schema()).validate(snapshot)


def git_state(root: Path, inputs: list[Path] | None = None) -> dict[str, Any] | None:
    """Commit, branch and dirty flag of the repository holding ``root``; None outside git.

    ``dirty`` says whether the run's INPUTS (``inputs``: the suite folder and the catalog) differ from the
    commit, which is what a reader of the snapshot needs to know; the snapshot's own file, a new file
    elsewhere or an edit in another suite does not make a run dirty. Without ``inputs``: the whole tree.
    One ``git status`` process answers all three (GitPython's import alone costs more than that).
    """
    command = ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=all", "--"]
    command += [str(p.resolve()) for p in inputs or []]
    try:
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    except OSError:  # no git on this machine
        return None
    if result.returncode != 0:
        return None  # not a repository
    commit: str | None = None
    branch: str | None = None
    dirty = False
    for line in result.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            dirty = True
    return {"commit": commit, "dirty": dirty, "branch": branch}


def build(
    suite: Suite,
    run: RunResult,
    root: Path,
    reviews: list[Any] | None = None,
    probe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score the run's records against the rubric and assemble the snapshot document."""
    cases = {case.id: case for case in suite.cases}
    records = []
    for record in sorted(run.records, key=lambda r: (r.candidate, r.case, r.repeat)):
        data: dict[str, Any] = {
            "candidate": record.candidate,
            "case": record.case,
            "repeat": record.repeat,
            "category": record.category,
            "request_fingerprint": record.request_fingerprint,
            "output": record.output,
            "finish_reason": record.finish_reason,
            "model_reported": record.model_reported,
            "request_id": record.request_id,
            "http_status": record.http_status,
            "usage": record.usage or {},
            "latency_ms": record.latency_ms,
            "retry_wait_ms": record.retry_wait_ms,
            "attempts": record.attempts,
            "error": record.error,
            "source": record.source,
            # reviews are keyed to the output they scored: a changed output needs review again
            "output_fingerprint": None if record.output is None else sha256_json(record.output),
        }
        pricing = suite.catalog.entries[record.candidate].pricing
        data["verdicts"] = score_record(suite, cases[record.case], data, call_cost(pricing, data["usage"]))
        records.append(data)
    judge_records = _judge_records(suite, run, records)

    candidates = []
    for candidate in suite.candidates:
        entry = candidate.entry
        status = "skipped" if candidate.key in run.skipped else "ran"
        if status == "ran" and candidate.key not in run.selected and candidate.key not in run.carried_over:
            status = "not-selected"  # left out by --candidate (a shard may run a candidate with no call)
        candidates.append(
            {
                "key": candidate.key,
                "provider": entry.provider,
                "model": entry.model,
                "role": candidate.role,
                "params": candidate.params,
                "base_url": display_url(entry.resolved_base_url()),
                "status": status,
                "skip_reason": run.skipped.get(candidate.key),
                "carried_over": run.carried_over.get(candidate.key),
                "pricing": entry.pricing,
                "limits": entry.limits,
            }
        )

    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "bench", "version": __version__},
        "suite": {
            "name": suite.name,
            "workflow": suite.workflow,
            "path": suite.display_dir,
            # where the inputs live, relative to the suite folder, so compare can diff them across commits
            "files": {
                **{f"prompt.{k}": v for k, v in suite.template_paths.items()},
                "cases": suite.raw["cases"],
            },
        },
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "complete": run.complete,
        "git": git_state(root, [suite.dir, suite.catalog.path]),
        "fingerprints": suite.fingerprints,
        "settings": {
            "repeat": run.repeat,
            "concurrency": run.concurrency,
            # what the summary is computed with, so that merge, compare and the site can recompute it
            "thresholds": suite.thresholds,
            "volume": suite.volume,
            "gates": suite.gates,
            "compare": suite.compare,
        },
        "stats": run_stats(run, records),
        "candidates": candidates,
        "rubric": [
            {
                "id": c.id,
                "kind": c.kind,
                "pass": c.pass_condition,
                "judge": c.judge,
                "human_only": c.human_only,
            }
            for c in suite.rubric
        ],
        "cases": [
            {"id": c.id, "category": c.category, "tags": list(c.tags), "fingerprint": sha256_json(c.raw)}
            for c in suite.cases
        ],
        "records": records,
        "judge": _judge_info(suite, run, judge_records),
        "judge_records": judge_records,
        # the latest `bench probe` of these candidates (results/<suite>.probe.json), for the API fit
        "probe": {
            k: v
            for k, v in (read_probe(root, suite.name) if probe is None else probe).items()
            if suite.candidate(k) is not None
        },
    }
    if reviews:
        from bench.scoring.review import apply_reviews

        apply_reviews(document, reviews, suite.rubric)
    document["summary"] = summarize(document)
    return document


def refresh(root: Path, suite: Suite) -> dict[str, Any] | None:
    """Fold the suite's current human reviews and latest probe into its snapshot and recompute the
    summary, so an imported review or a new probe shows in the scorecard at once (no rerun needed).
    None when there is no snapshot."""
    from bench.scoring.review import apply_reviews, load_reviews

    path = snapshot_path(root, suite.name)
    if not path.is_file():
        return None
    document = read(path)
    apply_reviews(document, load_reviews(suite.dir), document["rubric"])
    keys = {c["key"] for c in document["candidates"]}
    document["probe"] = {k: v for k, v in read_probe(root, suite.name).items() if k in keys}
    document["summary"] = summarize(document)
    write(path, document)
    return document


def summarize(document: dict[str, Any]) -> dict[str, Any]:
    """The per-candidate summary, from the snapshot's own records and settings (never from the suite):
    rates with intervals, the cost block, the API fit from the latest probe, and the recommended outcome."""
    from bench.costs import candidate_costs
    from bench.decide import recommend_snapshot

    settings = document["settings"]
    kinds = {c["id"]: c["kind"] for c in document["rubric"]}
    summary = {}
    for candidate in document["candidates"]:
        if candidate["status"] != "ran":
            continue
        key = candidate["key"]
        mine = [r for r in document["records"] if r["candidate"] == key]
        summary[key] = summarize_candidate(mine, kinds, settings.get("thresholds") or {})
        success = summary[key]["cases_all_pass"]["rate"]
        summary[key]["cost"] = candidate_costs(
            mine, candidate.get("pricing"), settings.get("volume") or {}, success
        )
        summary[key]["api_fit"] = api_fit(document, key)
    recommendations = recommend_snapshot({**document, "summary": summary}, gates=settings.get("gates") or {})
    for key, recommendation in recommendations.items():
        summary[key]["recommendation"] = recommendation
    return summary


def api_fit(document: dict[str, Any], key: str) -> dict[str, Any]:
    """The candidate's API fit from the probe stored with the snapshot; Check when never probed, or
    probed with another catalog entry than the one this run used."""
    probe = (document.get("probe") or {}).get(key)
    if not probe:
        return {"cell": "Check", "note": "not probed: run `bench probe`"}
    expected = document["fingerprints"].get("entries", {}).get(key)
    if expected and probe.get("entry_fingerprint") and probe["entry_fingerprint"] != expected:
        return {"cell": "Check", "note": "probed with an older catalog entry: run `bench probe` again"}
    failing = probe.get("failing") or []
    note = f"failing: {', '.join(failing)}" if failing else f"probed {probe.get('probed_at', '')}".strip()
    return {"cell": probe.get("api_fit", "Check"), "note": note}


def _judge_info(suite: Suite, run: RunResult, judge_records: list[dict[str, Any]]) -> dict[str, Any] | None:
    judged = [c.id for c in suite.rubric if c.judge and not c.human_only]
    if not suite.judge or not judged:
        return None
    entry = suite.catalog.entries[suite.judge]
    costs = [call_cost(entry.pricing, r["usage"]) for r in judge_records if not r["error"]]
    return {
        # judge calls are billed apart from the candidates: never part of a candidate's cost
        "cost_usd": None if any(c is None for c in costs) else round(sum(c for c in costs if c), 6),
        "calls": len(judge_records),
        "key": suite.judge,
        "model": entry.model,
        "provider": entry.provider,
        "criteria": judged,
        "status": "skipped" if run.judge_skipped else "ran",
        "skip_reason": run.judge_skipped,
    }


def _judge_records(suite: Suite, run: RunResult, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store each judge call apart from the candidates' and fold its verdict into the judged record."""
    answers: dict[tuple[str, str, int, str], CallRecord] = {}
    stored = []
    for call in sorted(run.judge_records, key=lambda r: (r.meta, r.case, r.repeat, r.retry_of_judge)):
        candidate, criterion = call.meta
        key = (candidate, call.case, call.repeat, criterion)
        answers[key] = call  # the retry (sorted last) replaces an unparsable first answer
        verdict = judge_verdict(call.candidate, call.output, call.error)
        stored.append(
            {
                "judge": call.candidate,
                "candidate": candidate,
                "case": call.case,
                "repeat": call.repeat,
                "criterion": criterion,
                "retry": call.retry_of_judge,
                "request_fingerprint": call.request_fingerprint,
                "output": call.output,
                "finish_reason": call.finish_reason,
                "usage": call.usage or {},
                "latency_ms": call.latency_ms,
                "retry_wait_ms": call.retry_wait_ms,
                "attempts": call.attempts,
                "error": call.error,
                "source": call.source,
                "verdict": verdict["verdict"],
            }
        )
    judged = [c.id for c in suite.rubric if c.judge and not c.human_only]
    if judged and not run.judge_skipped:
        for record in records:
            if record["error"]:
                continue
            for criterion in judged:
                answer = answers.get((record["candidate"], record["case"], record["repeat"], criterion))
                if answer is None:
                    continue  # not judged (the run stopped before): no verdict, never a silent pass
                verdict = judge_verdict(answer.candidate, answer.output, answer.error)
                combined = combine(record["verdicts"].get(criterion), verdict)
                if combined is not None:
                    record["verdicts"][criterion] = combined
    return stored


def run_stats(run: RunResult, records: list[dict[str, Any]]) -> dict[str, Any]:
    """What the run did: calls by source, retries, errors by kind, back-off under rate limits."""
    sources: dict[str, int] = {}
    errors: dict[str, int] = {}
    for record in records:
        sources[record["source"]] = sources.get(record["source"], 0) + 1
        if record["error"]:
            kind = record["error"].get("kind") or "unknown"
            errors[kind] = errors.get(kind, 0) + 1
    new = [r for r in records if r["source"] == "call"]
    return {
        "wall_seconds": round(run.wall_seconds, 3),
        "calls": len(records),
        "by_source": dict(sorted(sources.items())),
        "attempts": sum(r["attempts"] for r in new),
        "retries": sum(max(0, r["attempts"] - 1) for r in new),
        "retry_wait_ms": round(sum(r["retry_wait_ms"] or 0 for r in new), 1),
        "errors": dict(sorted(errors.items())),
        "not_run": run.not_run,
        "interrupted": run.interrupted,
        "budget_stopped": run.budget_stopped,
        "spent_usd": run.spent_usd,
        "lowest_concurrency": dict(sorted(run.lowest_concurrency.items())),
    }


def dumps(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path, snapshot: dict[str, Any]) -> None:
    """Write atomically: a reader (or a crash) never sees half a snapshot."""
    write_atomic(path, dumps(snapshot))


def loads(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}:{exc.lineno}:{exc.colno}: not a valid snapshot: {exc.msg}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise InputError(f"{source}: not a bench snapshot (no schema_version)")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(f"{source}: not a bench snapshot (schema_version {version!r} is not a number)")
    if version > SCHEMA_VERSION:
        raise InputError(
            f"{source}: snapshot schema {version} is newer than this bench ({SCHEMA_VERSION}): upgrade bench"
        )
    # the shape every reader relies on, checked cheaply (the full schema check is for tests and tools)
    for key, kind in _TOP_LEVEL.items():
        if not isinstance(data.get(key), kind):
            raise InputError(
                f"{source}: not a complete bench snapshot ({key!r} is missing or not {kind.__name__})"
            )
    if not isinstance(data["suite"].get("name"), str):
        raise InputError(f"{source}: not a complete bench snapshot (the suite has no name)")
    return data


_TOP_LEVEL: dict[str, type] = {
    "suite": dict,
    "settings": dict,
    "fingerprints": dict,
    "candidates": list,
    "rubric": list,
    "cases": list,
    "records": list,
    "summary": dict,
}


def read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no snapshot at {path}: run `bench run` first") from None
    return loads(text, str(path))

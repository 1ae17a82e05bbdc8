"""Shards: split a suite's calls across machines (``bench run --shard I/N``) and merge the partial
snapshots back into ``results/<suite>.json`` (``bench merge``), e.g. across GitHub Actions matrix jobs.

A call belongs to shard ``sha256(candidate, case, repeat) mod N``: stable when cases are added or
removed, and independent of the order of the case file. Partials of different suite fingerprints (a
prompt, the cases, the rubric or a candidate changed between jobs) are refused: merging them would
compare unlike runs.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from bench.errors import InputError

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    match = _SHARD.match(text.strip())
    if not match:
        raise InputError(f"--shard {text!r}: expected I/N, e.g. 2/4")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count or count > 1000:
        raise InputError(f"--shard {text!r}: I must be between 1 and N (N at most 1000)")
    return index, count


def in_shard(candidate: str, case: str, repeat: int, shard: tuple[int, int]) -> bool:
    index, count = shard
    digest = hashlib.sha256(f"{candidate}\0{case}\0{repeat}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count == index - 1


def partial_path(root: Path, suite: str, shard: tuple[int, int]) -> Path:
    return root / "results" / f"{suite}.{shard[0]}-of-{shard[1]}.partial.json"


def merge(partials: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Combine (source name, partial snapshot) pairs into one snapshot; InputError when they differ."""
    from bench.snapshot import summarize

    if not partials:
        raise InputError("nothing to merge: name the partial snapshots")
    first_name, first = partials[0]
    seen_shards: dict[int, str] = {}
    count = None
    for name, partial in partials:
        shard = partial.get("shard")
        if not shard:
            raise InputError(f"{name}: not a partial snapshot (written without --shard)")
        if partial["suite"]["name"] != first["suite"]["name"]:
            raise InputError(
                f"{name}: suite {partial['suite']['name']!r}, but {first_name} is {first['suite']['name']!r}"
            )
        for part in ("prompts", "cases", "rubric", "candidates"):
            if partial["fingerprints"][part] != first["fingerprints"][part]:
                raise InputError(
                    f"{name}: its {part} fingerprint differs from {first_name}'s: the shards ran different "
                    "suite versions; run them again from one commit"
                )
        if partial["settings"]["repeat"] != first["settings"]["repeat"]:
            raise InputError(f"{name}: repeat {partial['settings']['repeat']} differs from {first_name}'s")
        count = count or shard["count"]
        if shard["count"] != count:
            raise InputError(
                f"{name}: shard {shard['index']}/{shard['count']} is not of the same split (N={count})"
            )
        if shard["index"] in seen_shards:
            raise InputError(
                f"{name}: shard {shard['index']}/{count} is also in {seen_shards[shard['index']]}"
            )
        seen_shards[shard["index"]] = name

    records: dict[tuple[str, str, int], dict[str, Any]] = {}
    judge_records: list[dict[str, Any]] = []
    for _, partial in partials:
        for record in partial["records"]:
            records[(record["candidate"], record["case"], record["repeat"])] = record
        judge_records.extend(partial.get("judge_records") or [])
    merged = {key: value for key, value in first.items() if key not in ("shard", "records", "judge_records")}
    merged["records"] = [records[key] for key in sorted(records)]
    merged["judge_records"] = sorted(
        judge_records,
        key=lambda r: (r["candidate"], r["case"], r["repeat"], r["criterion"], r.get("retry", False)),
    )
    merged["candidates"] = _merge_candidates([p for _, p in partials])
    merged["judge"] = _merge_judge([p for _, p in partials], merged["judge_records"])
    missing = sorted(set(range(1, (count or 0) + 1)) - set(seen_shards))
    uneven = _uneven_shards([p for _, p in partials])
    merged["complete"] = not missing and not uneven and all(p["complete"] for _, p in partials)
    merged["stats"] = _merge_stats([p.get("stats") or {} for _, p in partials], missing)
    # a shard that skipped a candidate or the judge (a missing secret on one CI job) leaves holes:
    # the merged snapshot says so and is incomplete, never a silent half
    merged["stats"]["uneven_shards"] = uneven
    merged["summary"] = summarize(merged)
    return merged


def _uneven_shards(partials: list[dict[str, Any]]) -> list[str]:
    """What ran in some shards and not in others: candidates by status, and the judge."""
    notes = []
    for key in [c["key"] for c in partials[0]["candidates"]]:
        statuses = {
            next((c["status"] for c in p["candidates"] if c["key"] == key), "missing") for p in partials
        }
        if "ran" in statuses and len(statuses) > 1:
            notes.append(f"{key} ran in some shards only ({', '.join(sorted(statuses))})")
    judges = {(p.get("judge") or {}).get("status") for p in partials}
    if "ran" in judges and len(judges) > 1:
        notes.append("the judge ran in some shards only: some outputs were not judged")
    return notes


def _merge_candidates(partials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A candidate ran if it ran in any shard; skipped only if every shard skipped it."""
    order = [c["key"] for c in partials[0]["candidates"]]
    by_key: dict[str, dict[str, Any]] = {}
    rank = {"ran": 0, "skipped": 1, "not-selected": 2}
    for partial in partials:
        for candidate in partial["candidates"]:
            current = by_key.get(candidate["key"])
            if current is None or rank[candidate["status"]] < rank[current["status"]]:
                by_key[candidate["key"]] = candidate
    return [by_key[key] for key in order]


def _judge_pricing(partials: list[dict[str, Any]], key: str | None) -> tuple[bool, Any]:
    """(found, pricing) of the judge model, as the partials carry it: in the judge block, or in the entry
    of a candidate that is the judge's catalog key."""
    for partial in partials:
        judge = partial.get("judge") or {}
        if "pricing" in judge:
            return True, judge["pricing"]
    for partial in partials:
        for candidate in partial.get("candidates") or []:
            if key is not None and candidate.get("key") == key and "pricing" in candidate:
                return True, candidate["pricing"]
    return False, None


def _merge_judge(
    partials: list[dict[str, Any]], judge_records: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The judge block of the merged snapshot: calls and cost over every shard's judge calls, not the
    first shard's."""
    from bench.costs import call_cost

    blocks = [p["judge"] for p in partials if p.get("judge")]
    if not blocks:
        return None
    judge = dict(blocks[0])
    judge["calls"] = len(judge_records)
    found, pricing = _judge_pricing(partials, judge.get("key"))
    if found:
        costs = [call_cost(pricing, r.get("usage")) for r in judge_records if not r.get("error")]
        judge["cost_usd"] = None if any(c is None for c in costs) else round(sum(c for c in costs if c), 6)
    else:  # no price to recompute with: the shards' own totals
        shard_costs = [b.get("cost_usd") for b in blocks]
        judge["cost_usd"] = (
            None if any(c is None for c in shard_costs) else round(sum(c for c in shard_costs if c), 6)
        )
    ran = next((b for b in blocks if b.get("status") == "ran"), None)
    if ran is not None:  # the judge ran if it ran in any shard
        judge["status"], judge["skip_reason"] = "ran", None
    return judge


def _merge_stats(stats: list[dict[str, Any]], missing: list[int]) -> dict[str, Any]:
    merged: dict[str, Any] = {"shards_missing": missing}
    for name in ("calls", "attempts", "retries", "not_run"):
        merged[name] = sum(s.get(name, 0) for s in stats)
    merged["wall_seconds"] = max((s.get("wall_seconds", 0) for s in stats), default=0)
    merged["retry_wait_ms"] = round(sum(s.get("retry_wait_ms", 0) for s in stats), 1)
    for name in ("by_source", "errors"):
        total: dict[str, int] = {}
        for s in stats:
            for kind, n in (s.get(name) or {}).items():
                total[kind] = total.get(kind, 0) + n
        merged[name] = dict(sorted(total.items()))
    merged["interrupted"] = any(s.get("interrupted") for s in stats)
    lowest: dict[str, int] = {}
    for s in stats:
        for key, n in (s.get("lowest_concurrency") or {}).items():
            lowest[key] = min(n, lowest.get(key, n))
    merged["lowest_concurrency"] = dict(sorted(lowest.items()))
    return merged

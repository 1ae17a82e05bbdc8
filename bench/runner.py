"""Run a suite: render each case once, send the same messages to every candidate, record every call.

Scheduling: each candidate has its own workers (as many as its concurrency limit: 1 for a local model,
the catalog's ``limits.concurrency`` or the provider's default for an API) and every call also takes a
slot of the run-wide ``--concurrency``. A slow local model therefore never holds API slots hostage.

Every call ends as a :class:`CallRecord`: an output, or an error with its reason. A failed call never
stops the run and a case is never dropped. Retries follow the official SDKs' rules (see
:mod:`bench.retry`); retry waits are recorded apart from latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cache import Cache
from bench.catalog import sha256_json
from bench.providers import CallRequest, Message, Provider, ProviderError, ProviderUnavailable, get_provider
from bench.render import render_messages
from bench.retry import RetryPolicy, call_with_retries
from bench.suite import Candidate, Case, Suite

DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 1000


@dataclass(frozen=True)
class CallPlan:
    candidate: Candidate
    case: Case
    repeat: int
    messages: tuple[Message, ...]
    fingerprint: str


@dataclass
class CallRecord:
    """One (candidate, case, repeat) call as the snapshot stores it."""

    candidate: str
    case: str
    repeat: int
    category: str
    request_fingerprint: str
    output: str | None = None
    finish_reason: str | None = None
    model_reported: str | None = None
    request_id: str | None = None
    http_status: int | None = None
    usage: dict[str, int | None] = field(default_factory=dict)
    latency_ms: float | None = None
    retry_wait_ms: float = 0.0
    attempts: int = 0
    error: dict[str, Any] | None = None
    source: str = "call"  # call | cache | snapshot (reused from the committed snapshot)

    def reply_fields(self) -> dict[str, Any]:
        """What the cache keeps of a successful call."""
        return {
            "output": self.output,
            "finish_reason": self.finish_reason,
            "model_reported": self.model_reported,
            "request_id": self.request_id,
            "http_status": self.http_status,
            "usage": self.usage,
            "latency_ms": self.latency_ms,
            "attempts": self.attempts,
            "retry_wait_ms": self.retry_wait_ms,
        }


@dataclass
class RunOptions:
    concurrency: int = DEFAULT_CONCURRENCY
    use_cache: bool = True
    repeat: int | None = None  # None: the suite's own `repeat`
    candidates: tuple[str, ...] = ()  # only these catalog keys; empty: all
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cache_dir: Path = Path(".bench/cache")


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    errors: int = 0
    cached: int = 0
    started: float = field(default_factory=time.perf_counter)


@dataclass
class RunResult:
    records: list[CallRecord]
    skipped: dict[str, str]  # candidate key -> reason
    repeat: int
    concurrency: int
    wall_seconds: float
    complete: bool = True


ProgressCallback = Callable[[Progress, CallRecord | None], None]


def request_fingerprint(candidate: Candidate, messages: tuple[Message, ...], repeat: int) -> str:
    """The cache key: what the model sees and how it is called. The API key is never part of it."""
    entry = candidate.entry
    return sha256_json(
        {
            "provider": entry.provider,
            "base_url": entry.resolved_base_url(),
            "model": entry.model,
            "model_path": entry.model_path,
            "params": candidate.params,
            "messages": [[m.role, m.content] for m in messages],
            "repeat": repeat,
        }
    )


def skip_reason(candidate: Candidate) -> str | None:
    entry = candidate.entry
    provider = get_provider(entry.provider)
    if provider is None:
        return f"unknown provider {entry.provider!r}"
    if provider.needs_api_key and entry.api_key_env and not entry.api_key():
        return f"${entry.api_key_env} is not set: export it to include {candidate.key}"
    if "base_url" in provider.requires and not entry.resolved_base_url():
        return f"no base_url (set ${entry.base_url_env})" if entry.base_url_env else "no base_url"
    return None


def plan_calls(suite: Suite, candidates: list[Candidate], repeat: int) -> list[CallPlan]:
    rendered = {case.id: render_messages(suite, case) for case in suite.cases}  # once per case
    plans = []
    for candidate in candidates:
        for case in suite.cases:
            messages = rendered[case.id]
            for index in range(repeat):
                plans.append(
                    CallPlan(
                        candidate, case, index, messages, request_fingerprint(candidate, messages, index)
                    )
                )
    return plans


def _record(plan: CallPlan) -> CallRecord:
    return CallRecord(
        candidate=plan.candidate.key,
        case=plan.case.id,
        repeat=plan.repeat,
        category=plan.case.category,
        request_fingerprint=plan.fingerprint,
    )


async def _run_candidate(
    provider: Provider,
    plans: list[CallPlan],
    workers: int,
    global_slots: asyncio.Semaphore,
    policy: RetryPolicy,
    finish: Callable[[CallRecord], None],
) -> None:
    queue: asyncio.Queue[CallPlan] = asyncio.Queue()
    for plan in plans:
        queue.put_nowait(plan)

    async def worker() -> None:
        while True:
            try:
                plan = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            request = CallRequest(messages=plan.messages, params=plan.candidate.params)
            async with global_slots:
                outcome = await call_with_retries(provider, request, policy)
            record = _record(plan)
            record.attempts = outcome.attempts
            record.retry_wait_ms = round(outcome.retry_wait * 1000, 1)
            if outcome.reply is not None:
                reply = outcome.reply
                record.output = reply.output
                record.finish_reason = reply.finish_reason
                record.model_reported = reply.model_reported
                record.request_id = reply.request_id
                record.http_status = reply.http_status
                record.usage = reply.usage.to_dict()
                record.latency_ms = round(outcome.latency * 1000, 1)
            else:
                error = outcome.error or ProviderError("unknown", "no reply and no error")
                record.error = error.to_dict()
                record.http_status = error.status
                record.request_id = error.request_id
            finish(record)

    await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(plans))))))


async def execute(
    suite: Suite, options: RunOptions, on_progress: ProgressCallback | None = None
) -> RunResult:
    """Run the suite's calls; return every record (cached ones included) and the skipped candidates."""
    started = time.perf_counter()
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    repeat = options.repeat or suite.repeat
    selected = [c for c in suite.candidates if not options.candidates or c.key in options.candidates]
    skipped: dict[str, str] = {}
    runnable: list[Candidate] = []
    for candidate in selected:
        reason = skip_reason(candidate)
        if reason:
            skipped[candidate.key] = reason
        else:
            runnable.append(candidate)

    plans = plan_calls(suite, runnable, repeat)
    progress = Progress(total=len(plans), started=started)
    records: list[CallRecord] = []
    cache = Cache(options.cache_dir) if options.use_cache else None

    def finish(record: CallRecord) -> None:
        records.append(record)
        progress.done += 1
        if record.error:
            progress.errors += 1
        elif cache is not None and record.source == "call":
            cache.put(record.request_fingerprint, record.reply_fields())
        if record.source != "call":
            progress.cached += 1
        if on_progress:
            on_progress(progress, record)

    try:
        pending: dict[str, list[CallPlan]] = {c.key: [] for c in runnable}
        hits = cache.get_many(p.fingerprint for p in plans) if cache else {}
        for plan in plans:
            hit = hits.get(plan.fingerprint)
            if hit is not None:
                record = _record(plan)
                for name, value in hit.items():
                    setattr(record, name, value)
                record.source = "cache"
                finish(record)
            else:
                pending[plan.candidate.key].append(plan)
        if on_progress:
            on_progress(progress, None)

        global_slots = asyncio.Semaphore(options.concurrency)
        providers: dict[str, Provider] = {}
        try:
            jobs = []
            for candidate in runnable:
                todo = pending[candidate.key]
                if not todo:
                    continue
                provider_cls = get_provider(candidate.entry.provider)
                assert provider_cls is not None
                provider = provider_cls(candidate.entry, candidate.entry.api_key())
                try:
                    await provider.open()
                except ProviderUnavailable as exc:
                    skipped[candidate.key] = str(exc)
                    # the calls of a candidate that cannot run are not recorded: it is listed as skipped
                    progress.total -= len(todo)
                    continue
                providers[candidate.key] = provider
                limit = (candidate.entry.limits or {}).get("concurrency") or provider_cls.default_concurrency
                jobs.append(_run_candidate(provider, todo, int(limit), global_slots, options.retry, finish))
            await asyncio.gather(*jobs)
        finally:
            for provider in providers.values():
                await provider.aclose()
    finally:
        if cache is not None:
            cache.close()
    # records of a candidate skipped at open() time may exist from the cache: keep them out
    records = [r for r in records if r.candidate not in skipped]
    return RunResult(
        records=records,
        skipped=skipped,
        repeat=repeat,
        concurrency=options.concurrency,
        wall_seconds=time.perf_counter() - started,
    )

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
import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cache import Cache
from bench.catalog import sha256_json
from bench.costs import BudgetGuard, call_cost, estimate_run, is_priced
from bench.journal import Journal
from bench.limiter import AdaptiveLimiter
from bench.merge import in_shard
from bench.providers import CallRequest, Message, Provider, ProviderError, ProviderUnavailable, get_provider
from bench.redact import redact
from bench.render import render_messages
from bench.retry import CallOutcome, RetryPolicy, call_with_retries
from bench.suite import Candidate, Case, Criterion, Suite

DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 1000


@dataclass(frozen=True)
class CallPlan:
    candidate: Candidate
    case: Case
    repeat: int
    messages: tuple[Message, ...]
    fingerprint: str
    json_schema: dict[str, Any] | None = None  # structured output, for the judge
    meta: tuple[str, ...] = ()  # judge calls: (judged candidate, criterion)


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
    resumed: bool = False  # replayed from the journal of an interrupted run (not re-journaled)
    meta: tuple[str, ...] = ()  # judge calls: (judged candidate, criterion)
    retry_of_judge: bool = False

    def reply_fields(self) -> dict[str, Any]:
        """What the cache keeps of a successful call."""
        return {name: getattr(self, name) for name in REPLY_FIELDS}

    def journal_fields(self) -> dict[str, Any]:
        return {"request_fingerprint": self.request_fingerprint, **self.reply_fields()}


REPLY_FIELDS = (
    "output",
    "finish_reason",
    "model_reported",
    "request_id",
    "http_status",
    "usage",
    "latency_ms",
    "attempts",
    "retry_wait_ms",
)


@dataclass
class RunOptions:
    concurrency: int = DEFAULT_CONCURRENCY
    use_cache: bool = True
    repeat: int | None = None  # None: the suite's own `repeat`
    candidates: tuple[str, ...] = ()  # only these catalog keys; empty: all
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cache_dir: Path = Path(".bench/cache")
    journal_path: Path | None = None  # None: no journal (library use); the CLI always keeps one
    reuse: dict[str, dict[str, Any]] = field(default_factory=dict)  # fingerprint -> previous record
    # every record of the previous snapshot (errors too), to carry over candidates this run does not call
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    grace_seconds: float = 10.0  # after Ctrl-C, how long calls in flight may finish
    cache_reads: bool = True  # False (--fresh): call again, but still store the new replies
    shard: tuple[int, int] | None = None  # (I, N): only this deterministic slice of the calls
    max_cost_usd: float | None = None  # --max-cost: stop dispatching before the estimate would exceed it


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    errors: int = 0
    cached: int = 0
    resumed: int = 0
    started: float = field(default_factory=time.perf_counter)


@dataclass
class RunResult:
    records: list[CallRecord]
    skipped: dict[str, str]  # candidate key -> reason
    repeat: int
    concurrency: int
    wall_seconds: float
    complete: bool = True
    interrupted: bool = False
    not_run: int = 0  # calls never dispatched (interrupted, or stopped by a budget)
    lowest_concurrency: dict[str, int] = field(default_factory=dict)  # after 429 back-off, per candidate
    judge_records: list[CallRecord] = field(default_factory=list)
    judge_skipped: str | None = None  # why the judge did not run, when it did not
    budget_stopped: bool = False  # --max-cost stopped dispatching
    carried_over: dict[str, str] = field(default_factory=dict)  # candidate -> why its results are old
    selected: list[str] = field(default_factory=list)  # the candidates this run was asked to call
    spent_usd: float | None = None  # what the calls of this run cost, when a budget was set


ProgressCallback = Callable[[Progress, CallRecord | None], None]


def request_fingerprint(
    candidate: Candidate,
    messages: tuple[Message, ...],
    repeat: int,
    json_schema: dict[str, Any] | None = None,
) -> str:
    """The cache key: what the model sees and how it is called. The API key is never part of it."""
    entry = candidate.entry
    key: dict[str, Any] = {
        "provider": entry.provider,
        "base_url": entry.resolved_base_url(),
        "model": entry.model,
        "model_path": entry.model_path,
        "params": candidate.params,
        "messages": [[m.role, m.content] for m in messages],
        "repeat": repeat,
    }
    if json_schema is not None:
        key["json_schema"] = json_schema
    return sha256_json(key)


def skip_reason(candidate: Candidate) -> str | None:
    entry = candidate.entry
    provider = get_provider(entry.provider)
    if provider is None:
        return f"unknown provider {entry.provider!r}"
    if provider.needs_api_key and entry.key_problem():
        return entry.key_problem()
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
        meta=plan.meta,
        retry_of_judge=bool(plan.meta) and len(plan.messages) > 2,
    )


def estimate_call_usd(plan: CallPlan) -> float | None:
    """An upper bound of one call's cost (prompt estimate in, ``max_tokens`` out), for the budget guard."""
    entry = plan.candidate.entry
    text = "\n".join(m.content for m in plan.messages)
    max_tokens = plan.candidate.params.get("max_tokens")
    estimate = estimate_run(
        [(plan.candidate.key, entry.pricing, text, max_tokens)], {plan.candidate.key: entry.provider}
    )
    return estimate["candidates"][plan.candidate.key]["usd"]


class Gate:
    """What one attempt must hold: a slot of the candidate's adaptive limit and one of the run's."""

    def __init__(self, limiter: AdaptiveLimiter, run_slots: asyncio.Semaphore):
        self.limiter = limiter
        self.run_slots = run_slots

    async def enter(self) -> None:
        await self.limiter.acquire()
        await self.run_slots.acquire()

    async def exit(self, rate_limited: bool) -> None:
        self.run_slots.release()
        await self.limiter.release(rate_limited)


def _fill(record: CallRecord, outcome: CallOutcome, secrets: list[str]) -> None:
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
        record.error["message"] = redact(str(record.error["message"]), secrets)
        record.http_status = error.status
        record.request_id = error.request_id


@dataclass
class _Shared:
    """State every worker of a run reads: the stop flag (Ctrl-C, budget) and how records are kept."""

    stop: asyncio.Event
    run_slots: asyncio.Semaphore
    policy: RetryPolicy
    finish: Callable[[CallRecord], None]
    secrets: list[str]
    undispatched: int = 0
    guard: BudgetGuard | None = None
    budget_stopped: bool = False
    budget_changed: asyncio.Condition = field(default_factory=asyncio.Condition)  # a call settled


async def _run_candidate(provider: Provider, plans: list[CallPlan], workers: int, shared: _Shared) -> int:
    """Run one candidate's calls; return the lowest concurrency its rate limits forced."""
    queue: asyncio.Queue[CallPlan] = asyncio.Queue()
    for plan in plans:
        queue.put_nowait(plan)
    limiter = AdaptiveLimiter(workers)
    gate = Gate(limiter, shared.run_slots)

    async def worker() -> None:
        while not shared.stop.is_set():
            try:
                plan = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            reserved = 0.0
            if shared.guard is not None:
                estimate = estimate_call_usd(plan)
                # reservations are upper bounds: while calls are in flight, wait for them to settle at
                # their real (lower) cost before deciding the budget is spent
                while not shared.guard.reserve(estimate):
                    if estimate is None or shared.guard.in_flight == 0 or shared.stop.is_set():
                        # over budget: stop dispatching everywhere, keep what finished
                        queue.put_nowait(plan)
                        shared.budget_stopped = True
                        shared.stop.set()
                        async with shared.budget_changed:
                            shared.budget_changed.notify_all()
                        return
                    async with shared.budget_changed:
                        await shared.budget_changed.wait()
                reserved = estimate or 0.0
            request = CallRequest(
                messages=plan.messages, params=plan.candidate.params, json_schema=plan.json_schema
            )
            outcome = await call_with_retries(provider, request, shared.policy, gate)
            record = _record(plan)
            _fill(record, outcome, shared.secrets)
            if shared.guard is not None:
                actual = 0.0 if record.error else call_cost(plan.candidate.entry.pricing, record.usage)
                shared.guard.settle(reserved, actual)
                async with shared.budget_changed:
                    shared.budget_changed.notify_all()
            shared.finish(record)

    await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(plans))))))
    shared.undispatched += queue.qsize()
    return limiter.lowest


def _from_dict(plan: CallPlan, data: dict[str, Any], source: str) -> CallRecord:
    record = _record(plan)
    for name in REPLY_FIELDS:
        if name in data:
            setattr(record, name, data[name])
    record.source = source
    return record


class _Run:
    """One run's shared machinery, used by every phase (candidate calls, judge calls, judge retries)."""

    def __init__(self, options: RunOptions, progress: Progress, on_progress: ProgressCallback | None):
        self.options = options
        self.progress = progress
        self.on_progress = on_progress
        self.cache = Cache(options.cache_dir) if options.use_cache else None
        self.journal = Journal(options.journal_path) if options.journal_path else None
        self.resumed: dict[str, dict[str, Any]] = {}
        self.providers: dict[str, Provider] = {}
        self.unavailable: dict[str, str] = {}
        self.lowest: dict[str, int] = {}
        self.secrets: list[str] = []
        self.shared: _Shared | None = None
        self.sink: list[CallRecord] = []  # the records of the phase that is running

    def open(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self.shared = _Shared(
            asyncio.Event(),
            asyncio.Semaphore(self.options.concurrency),
            self.options.retry,
            self._finish,
            secrets,
        )
        if self.options.max_cost_usd is not None:
            self.shared.guard = BudgetGuard(self.options.max_cost_usd)
        if self.journal is not None:
            self.resumed = self.journal.replay()
            self.journal.open()
        self.progress.resumed = len(self.resumed)

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        if self.cache is not None:
            self.cache.close()
        if self.journal is not None:
            self.journal.close()

    def _finish(self, record: CallRecord) -> None:
        self.sink.append(record)
        progress = self.progress
        progress.done += 1
        if record.error:
            progress.errors += 1
        elif record.source == "call":
            if self.cache is not None:
                self.cache.put(record.request_fingerprint, record.reply_fields())
            if self.journal is not None and not record.resumed:
                self.journal.append(record.journal_fields())
        if record.source != "call":
            progress.cached += 1
        if self.on_progress:
            self.on_progress(progress, record)

    async def provider_for(self, candidate: Candidate) -> Provider | None:
        key = candidate.entry.key
        if key in self.providers:
            return self.providers[key]
        if key in self.unavailable:
            return None
        provider_cls = get_provider(candidate.entry.provider)
        assert provider_cls is not None
        provider = provider_cls(candidate.entry, candidate.entry.api_key())
        try:
            await provider.open()
        except ProviderUnavailable as exc:
            self.unavailable[key] = str(exc)
            return None
        self.providers[key] = provider
        return provider

    async def run_plans(self, plans: list[CallPlan]) -> list[CallRecord]:
        """Records for these plans: from the journal, the previous snapshot, the cache, or new calls."""
        assert self.shared is not None, "open() first"
        self.sink = []
        self.progress.total += len(plans)
        options = self.options
        cache = self.cache
        hits = cache.get_many(p.fingerprint for p in plans) if cache and options.cache_reads else {}
        pending: dict[str, list[CallPlan]] = {}
        for plan in plans:
            if plan.fingerprint in self.resumed:
                record = _from_dict(plan, self.resumed[plan.fingerprint], "call")
                record.resumed = True
                self._finish(record)
            elif plan.fingerprint in options.reuse:
                self._finish(_from_dict(plan, options.reuse[plan.fingerprint], "snapshot"))
            elif plan.fingerprint in hits:
                self._finish(_from_dict(plan, hits[plan.fingerprint], "cache"))
            else:
                pending.setdefault(plan.candidate.key, []).append(plan)
        if self.on_progress:
            self.on_progress(self.progress, None)
        jobs = {}
        for todo in pending.values():
            candidate = todo[0].candidate
            provider = await self.provider_for(candidate)
            if provider is None:
                # a candidate that cannot run is listed as skipped with the reason; it has no records
                self.progress.total -= len(todo)
                continue
            limit = (candidate.entry.limits or {}).get("concurrency") or type(provider).default_concurrency
            jobs[candidate.key] = _run_candidate(provider, todo, int(limit), self.shared)
        for key, low in zip(jobs, await asyncio.gather(*jobs.values()), strict=True):
            self.lowest[key] = min(low, self.lowest.get(key, low))
        return self.sink


async def execute(
    suite: Suite, options: RunOptions, on_progress: ProgressCallback | None = None
) -> RunResult:
    """Run the suite's calls, then its judge calls; return every record and the skipped candidates.

    Where a call's record comes from, first match wins: the journal of an interrupted run of this suite
    (the record that run made), the previous snapshot (``reuse``: source ``snapshot``), the cache
    (source ``cache``), else a new call (source ``call``).
    """
    from bench.scoring.judge import judge_candidate

    started = time.perf_counter()
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    repeat = options.repeat or suite.repeat
    selected = [c for c in suite.candidates if not options.candidates or c.key in options.candidates]
    skipped: dict[str, str] = {}
    runnable: list[Candidate] = []
    for candidate in selected:
        reason = skip_reason(candidate)
        if reason is None and options.max_cost_usd is not None and not is_priced(candidate.entry.pricing):
            reason = "no price in the catalog: its cost cannot be bounded under --max-cost"
        if reason:
            skipped[candidate.key] = reason
        else:
            runnable.append(candidate)
    judge = judge_candidate(suite)
    judge_skipped = skip_reason(judge) if judge is not None else None
    if (
        judge is not None
        and judge_skipped is None
        and options.max_cost_usd is not None
        and not is_priced(judge.entry.pricing)
    ):
        judge_skipped = "no price in the catalog: its cost cannot be bounded under --max-cost"

    run = _Run(options, Progress(started=started), on_progress)
    secrets = [c.entry.api_key() or "" for c in [*runnable, *([judge] if judge else [])]]
    loop = asyncio.get_running_loop()
    run.open(secrets)
    assert run.shared is not None
    interrupted = _install_interrupt(loop, run.shared.stop, options.grace_seconds)
    judge_records: list[CallRecord] = []
    carried_reasons: dict[str, str] = {}
    try:
        plans = plan_calls(suite, runnable, repeat)
        if options.shard is not None:
            plans = [p for p in plans if in_shard(p.candidate.key, p.case.id, p.repeat, options.shard)]
        records = await run.run_plans(plans)
        if run.shared.stop.is_set():
            records += _keep_undone(plans, records, options)
        for key in run.unavailable:
            if any(c.key == key for c in runnable):
                skipped[key] = run.unavailable[key]
        records = [r for r in records if r.candidate not in skipped]
        carried = _carry_over(suite, repeat, runnable, skipped, options)
        for key, (reason, kept) in carried.items():
            records.extend(kept)
            skipped.pop(key, None)
            carried_reasons[key] = reason
        if judge is not None and judge_skipped is None and not run.shared.stop.is_set():
            judge_records = await _judge(suite, judge, records, run)
            if judge.key in run.unavailable:
                judge_skipped = run.unavailable[judge.key]
    finally:
        _remove_interrupt(loop)
        await run.close()
    stopped = run.shared.stop.is_set()
    return RunResult(
        records=records,
        skipped=skipped,
        repeat=repeat,
        concurrency=options.concurrency,
        wall_seconds=time.perf_counter() - started,
        complete=not stopped and run.shared.undispatched == 0,
        interrupted=interrupted.is_set(),
        not_run=run.shared.undispatched,
        lowest_concurrency=run.lowest,
        judge_records=judge_records,
        judge_skipped=judge_skipped,
        budget_stopped=run.shared.budget_stopped,
        spent_usd=None if run.shared.guard is None else round(run.shared.guard.spent, 6),
        carried_over=carried_reasons,
        selected=[c.key for c in selected],
    )


def _keep_undone(plans: list[CallPlan], records: list[CallRecord], options: RunOptions) -> list[CallRecord]:
    """A run stopped early (Ctrl-C, --max-cost) keeps the previous snapshot's records for the calls it
    did not get to, so a stopped --fresh run never leaves fewer results than it found."""
    done = {r.request_fingerprint for r in records}
    kept = []
    for plan in plans:
        previous = options.previous.get(plan.fingerprint)
        if plan.fingerprint not in done and previous is not None:
            record = _from_dict(plan, previous, "snapshot")
            record.error = previous.get("error")
            kept.append(record)
    return kept


def _carry_over(
    suite: Suite, repeat: int, runnable: list[Candidate], skipped: dict[str, str], options: RunOptions
) -> dict[str, tuple[str, list[CallRecord]]]:
    """Keep the results of candidates this run did not call (not selected, or skipped for want of a key):
    a teammate without a key, or ``--candidate A``, must not erase B's committed results. A candidate's
    records are carried over only when EVERY call it would make now is in the previous snapshot, so the
    carried results are valid for the suite as it is."""
    if options.shard is not None or not options.previous:
        return {}
    called = {c.key for c in runnable}
    carried: dict[str, tuple[str, list[CallRecord]]] = {}
    for candidate in suite.candidates:
        if candidate.key in called:
            continue
        plans = plan_calls(suite, [candidate], repeat)
        if not plans or any(p.fingerprint not in options.previous for p in plans):
            continue
        kept = []
        for plan in plans:
            record = _from_dict(plan, options.previous[plan.fingerprint], "snapshot")
            record.error = options.previous[plan.fingerprint].get("error")
            kept.append(record)
        why = skipped.get(candidate.key) or "not selected (--candidate)"
        carried[candidate.key] = (
            f"not called in this run ({why}): results carried over from the last snapshot",
            kept,
        )
    return carried


async def _judge(suite: Suite, judge: Candidate, records: list[CallRecord], run: _Run) -> list[CallRecord]:
    """Grade every output on every judged criterion; ask once more where the answer was unparsable."""
    from bench.scoring.judge import VERDICT_SCHEMA, UnparsableVerdict, judge_messages, parse_verdict

    cases = {c.id: c for c in suite.cases}
    # structured output where the provider really passes a schema on; parsed defensively either way
    schema = VERDICT_SCHEMA if (get_provider(judge.entry.provider) or Provider).structured_output else None
    judged = [c for c in suite.rubric if c.judge and not c.human_only]

    def plans_for(items: list[tuple[CallRecord, Criterion]], retry: bool) -> list[CallPlan]:
        plans = []
        for record, criterion in items:
            case = cases[record.case]
            messages = judge_messages(suite, case, criterion, record.output or "", retry)
            plans.append(
                CallPlan(
                    judge, case, record.repeat, messages,
                    request_fingerprint(judge, messages, record.repeat, schema),
                    json_schema=schema, meta=(record.candidate, criterion.id),
                )
            )  # fmt: skip
        return plans

    todo = [(r, c) for r in records if r.error is None and r.output is not None for c in judged]
    first = await run.run_plans(plans_for(todo, retry=False))
    by_key = {(r.meta, r.case, r.repeat): r for r in first}
    again = []
    for record, criterion in todo:
        answer = by_key.get(((record.candidate, criterion.id), record.case, record.repeat))
        if answer is None or answer.error is not None or answer.output is None:
            continue
        try:
            parse_verdict(answer.output)
        except UnparsableVerdict:
            again.append((record, criterion))
    assert run.shared is not None  # run_plans() above needs an opened run
    second = (
        await run.run_plans(plans_for(again, retry=True)) if again and not run.shared.stop.is_set() else []
    )
    return first + second


def _install_interrupt(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, grace: float) -> asyncio.Event:
    """Ctrl-C: stop dispatching, let calls in flight finish for ``grace`` seconds, then cancel them.

    A second Ctrl-C cancels at once. The run then ends normally with what completed.
    """
    interrupted = asyncio.Event()

    def cancel_in_flight() -> None:
        current = asyncio.current_task(loop)
        for task in asyncio.all_tasks(loop):
            if task is not current and getattr(task, "_bench_call", False):
                task.cancel()

    def on_sigint() -> None:
        if interrupted.is_set():
            cancel_in_flight()
            return
        interrupted.set()
        stop.set()
        loop.call_later(grace, cancel_in_flight)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    return interrupted


def _remove_interrupt(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.remove_signal_handler(signal.SIGINT)

"""Retries, the way the official SDKs do them: which failures to retry, how long to wait, when to stop.

Retried: 408, 409, 429 (unless ``insufficient_quota``), 5xx and 529, connection errors, timeouts and
malformed bodies; ``x-should-retry`` overrides. The wait honours ``retry-after-ms`` then ``retry-after``
(capped), else exponential backoff with full jitter. A call stops after ``max_attempts`` or when the next
wait would cross ``call_deadline``. Latency is the successful attempt's own time, without the waits.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Protocol

from bench.providers.base import CallRequest, Provider, ProviderError, Reply


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    attempt_timeout: float = 120.0  # seconds for one attempt
    call_deadline: float = 600.0  # seconds for all attempts and waits of one call
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 60.0  # a server asking for longer is not waited for

    def backoff(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * (0.5 + rng.random() / 2)


@dataclass
class CallOutcome:
    reply: Reply | None
    error: ProviderError | None
    attempts: int
    latency: float  # seconds, the successful attempt only
    retry_wait: float  # seconds spent waiting between attempts


_rng = random.Random()


class AttemptGate(Protocol):
    """Slots an attempt holds while it is in flight (not while it waits to retry)."""

    async def enter(self) -> None: ...

    async def exit(self, rate_limited: bool) -> None: ...


async def call_with_retries(
    provider: Provider, request: CallRequest, policy: RetryPolicy, gate: AttemptGate | None = None
) -> CallOutcome:
    started = time.monotonic()
    waited = 0.0
    error: ProviderError | None = None
    for attempt in range(1, policy.max_attempts + 1):
        if gate is not None:
            await gate.enter()
        attempt_started = time.perf_counter()
        current = asyncio.current_task()
        if current is not None:
            current._bench_call = True  # type: ignore[attr-defined]  # Ctrl-C may cancel it after the grace
        try:
            reply = await provider.send(request, policy.attempt_timeout)
        except ProviderError as exc:
            error = exc
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a client-side failure (a bad URL, an unencodable header): this call
            # fails with its reason, the run goes on
            error = ProviderError("client", f"{type(exc).__name__}: {exc}", retryable=False)
        else:
            return CallOutcome(reply, None, attempt, time.perf_counter() - attempt_started, waited)
        finally:
            if current is not None:
                current._bench_call = False  # type: ignore[attr-defined]
            if gate is not None:
                await gate.exit(rate_limited=error is not None and error.status == 429)
        if not error.retryable or attempt == policy.max_attempts:
            return CallOutcome(None, error, attempt, 0.0, waited)
        wait = error.retry_after if error.retry_after is not None else policy.backoff(attempt, _rng)
        if wait > policy.max_retry_after:
            error.message += f" (server asked to retry after {wait:.0f} s: not waited for)"
            return CallOutcome(None, error, attempt, 0.0, waited)
        if time.monotonic() - started + wait > policy.call_deadline:
            return CallOutcome(None, error, attempt, 0.0, waited)
        await asyncio.sleep(wait)
        waited += wait
    return CallOutcome(None, error, policy.max_attempts, 0.0, waited)  # pragma: no cover - loop returns

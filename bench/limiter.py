"""Per-candidate concurrency that backs off on 429 and recovers when the rate limit clears (AIMD).

A 429 halves the calls a candidate may have in flight (never below one); every ``limit`` successes in a
row give one slot back, up to the configured maximum. This is what a client should do instead of
hammering a rate-limited API with retries at full concurrency.
"""

from __future__ import annotations

import asyncio


class AdaptiveLimiter:
    def __init__(self, maximum: int):
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.in_flight = 0
        self.streak = 0
        self.lowest = self.maximum  # for the run summary
        self.condition = asyncio.Condition()

    async def acquire(self) -> None:
        async with self.condition:
            await self.condition.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def release(self, rate_limited: bool) -> None:
        async with self.condition:
            self.in_flight -= 1
            if rate_limited:
                self.limit = max(1, self.limit // 2)
                self.lowest = min(self.lowest, self.limit)
                self.streak = 0
            else:
                self.streak += 1
                if self.streak >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self.streak = 0
            self.condition.notify_all()

"""The run journal: every completed call is appended as it finishes, so a killed run loses nothing.

``.bench/journal/<suite>.jsonl`` (git-ignored) holds one JSON record per successful call, written and
flushed at once (a SIGKILL cannot lose a line the kernel has) and fsync'd in batches (a power cut loses at
most one batch). Starting the same suite again replays the journal: every call whose request fingerprint
is there is not sent again, and its record is the very record the interrupted run made, so the final
snapshot equals an uninterrupted run's. A run that ends writes its snapshot, then removes the journal.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, TextIO

FSYNC_EVERY_RECORDS = 64
FSYNC_EVERY_SECONDS = 1.0


class Journal:
    def __init__(self, path: Path):
        self.path = path
        self.handle: TextIO | None = None
        self.unsynced = 0
        self.last_sync = time.monotonic()

    def replay(self) -> dict[str, dict[str, Any]]:
        """Records of an interrupted run, by request fingerprint. A torn last line is ignored."""
        found: dict[str, dict[str, Any]] = {}
        try:
            with self.path.open(encoding="utf-8") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # the line a kill cut in half
                    if isinstance(record, dict) and "request_fingerprint" in record:
                        found[record["request_fingerprint"]] = record
        except FileNotFoundError:
            pass
        return found

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        assert self.handle is not None, "open() first"
        self.handle.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
        self.handle.flush()  # into the kernel now: survives SIGKILL
        self.unsynced += 1
        now = time.monotonic()
        if self.unsynced >= FSYNC_EVERY_RECORDS or now - self.last_sync >= FSYNC_EVERY_SECONDS:
            self.sync()

    def sync(self) -> None:
        if self.handle is not None and self.unsynced:
            os.fsync(self.handle.fileno())
            self.unsynced = 0
            self.last_sync = time.monotonic()

    def close(self) -> None:
        if self.handle is not None:
            self.sync()
            self.handle.close()
            self.handle = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

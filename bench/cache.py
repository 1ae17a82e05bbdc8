"""The response cache: one SQLite file under ``.bench/cache/`` (git-ignored), keyed by request fingerprint.

The key is the hash of provider, base URL, model, params, messages and repeat index, never the API key.
Only successful replies are stored, each committed as it arrives: a run killed half-way and started again
re-sends none of the calls that had completed. WAL mode lets concurrent runs of different suites share it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, value TEXT NOT NULL, stored_at REAL NOT NULL)"
)


class Cache:
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "replies.sqlite"
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives a killed process (not a power cut), without an fsync per call
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in self.db.execute(
                f"SELECT key, value FROM replies WHERE key IN ({marks})", chunk
            ):
                found[key] = json.loads(value)
        return found

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO replies (key, value, stored_at) VALUES (?, ?, ?)",
            (key, json.dumps(value, separators=(",", ":")), time.time()),
        )

    def close(self) -> None:
        self.db.close()

"""The model catalog (``suites/models.yaml``): where each model lives, how to authenticate, what it costs.

Shape::

    version: 2026-12-04            # bump when an entry changes; snapshots fingerprint each entry anyway
    models:
      openai/gpt-5.5:
        provider: openai            # a registered wire format
        model: gpt-5.5              # the API's model id
        base_url: https://api.openai.com/v1
        base_url_env: OPENAI_BASE_URL   # optional: a variable that overrides base_url when set
        api_key_env: OPENAI_API_KEY     # the NAME of a variable, never a key
        pricing: {input_per_mtok: 1.25, output_per_mtok: 10, as_of: 2026-12-01, source: URL}
        limits: {context_window: 400000, concurrency: 8}
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bench.errors import Problem
from bench.validation import Collector, did_you_mean
from bench.yamlfile import FileProblem, load_document

ENTRY_FIELDS: dict[str, Any] = {
    "provider": str,
    "model": str,
    "base_url": str,
    "base_url_env": str,
    "api_key_env": str,
    "pricing": dict,
    "limits": dict,
    "model_path": str,
    "display_name": str,
    "notes": str,
    # OpenAI-compatible servers differ: llama.cpp's server and older routers read only `max_tokens`
    "max_tokens_field": str,
}
PRICING_FIELDS: dict[str, Any] = {
    "input_per_mtok": float,
    "cached_input_per_mtok": float,
    "output_per_mtok": float,
    "reasoning_per_mtok": float,
    "per_request": float,
    "currency": str,
    "as_of": (str, date),
    "source": str,
    "verified": bool,
    "notes": str,
}
LIMIT_FIELDS: dict[str, Any] = {
    "context_window": int,
    "max_output_tokens": int,
    "concurrency": int,
    "requests_per_minute": int,
    "tokens_per_minute": int,
}


@dataclass(frozen=True)
class ModelEntry:
    key: str
    provider: str
    model: str
    base_url: str | None = None
    base_url_env: str | None = None
    api_key_env: str | None = None
    pricing: dict[str, Any] | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    model_path: str | None = None
    display_name: str | None = None
    max_tokens_field: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return sha256_json(self.raw)

    def resolved_base_url(self) -> str | None:
        if self.base_url_env and os.environ.get(self.base_url_env):
            return os.environ[self.base_url_env]
        return self.base_url

    def api_key(self) -> str | None:
        """The key from the environment, without the newline a ``.env`` file or ``echo`` may add."""
        value = os.environ.get(self.api_key_env) if self.api_key_env else None
        return value.strip() if value is not None else None

    def key_problem(self) -> str | None:
        """Why the key variable cannot be used (unset, or not sendable in an HTTP header); never the key."""
        if not self.api_key_env:
            return None
        key = self.api_key()
        if not key:
            return f"${self.api_key_env} is not set: export it to include {self.key}"
        if not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key):
            return (
                f"${self.api_key_env} holds characters an HTTP header cannot carry (spaces, control or "
                "non-ASCII characters): check how the variable is set"
            )
        return None


@dataclass(frozen=True)
class Catalog:
    path: Path
    display: str
    version: str | None
    entries: dict[str, ModelEntry]


def sha256_json(value: Any) -> str:
    """Fingerprint of a JSON-able value: canonical JSON (sorted keys, no spaces), sha256 hex."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def find_catalog(start: Path) -> Path | None:
    """``models.yaml`` in ``start`` or its parents (a suite folder sits in ``suites/``)."""
    for folder in (start, *start.parents):
        candidate = folder / "models.yaml"
        if candidate.is_file():
            return candidate
    return None


def load_catalog(path: Path, problems: list[Problem]) -> Catalog | None:
    """Load and validate the catalog; append problems; return None when it cannot be used at all."""
    from bench.providers import get_provider, provider_names

    try:
        doc = load_document(path)
    except FileProblem as exc:
        problems.append(exc.problem)
        return None
    check = Collector(doc, problems)
    top = check.fields(doc.data, (), "the model catalog", {"models": dict}, {"version": (str, int, date)})
    if top is None or not isinstance(top.get("models"), dict):
        return None
    entries: dict[str, ModelEntry] = {}
    for key, raw in top["models"].items():
        path_ = ("models", key)
        entry = check.fields(raw, path_, f"model {key!r}", {"provider": str, "model": str}, ENTRY_FIELDS)
        if (
            entry is None
            or not isinstance(entry.get("provider"), str)
            or not isinstance(entry.get("model"), str)
        ):
            continue
        provider = get_provider(entry["provider"])
        if provider is None:
            names = provider_names()
            check.error(
                (*path_, "provider"),
                f"unknown provider {entry['provider']!r}",
                did_you_mean(entry["provider"], names) or f"known providers: {', '.join(names)}",
            )
            continue
        for needed in sorted(provider.requires):
            if not entry.get(needed) and not (needed == "base_url" and entry.get("base_url_env")):
                check.error(path_, f"model {key!r} ({provider.name}) needs {needed!r}")
        if provider.needs_api_key and not entry.get("api_key_env"):
            check.error(
                path_,
                f"model {key!r} needs 'api_key_env': the name of the variable that holds its key",
                "e.g. api_key_env: OPENAI_API_KEY (never the key itself)",
            )
        key_env = entry.get("api_key_env")
        if isinstance(key_env, str) and _looks_like_a_key(key_env):
            check.error(
                (*path_, "api_key_env"),
                "api_key_env looks like a key, not the name of a variable",
                "put the key in an environment variable and write its NAME here; rotate the exposed key",
            )
        if entry.get("max_tokens_field") not in (None, "max_tokens", "max_completion_tokens"):
            check.error(
                (*path_, "max_tokens_field"),
                "max_tokens_field must be max_tokens or max_completion_tokens",
            )
        if isinstance(entry.get("pricing"), dict):
            check.fields(entry["pricing"], (*path_, "pricing"), f"pricing of {key!r}", {}, PRICING_FIELDS)
        if isinstance(entry.get("limits"), dict):
            check.fields(entry["limits"], (*path_, "limits"), f"limits of {key!r}", {}, LIMIT_FIELDS)
            concurrency = entry["limits"].get("concurrency")
            if isinstance(concurrency, int) and not 1 <= concurrency <= 1000:
                check.error((*path_, "limits", "concurrency"), "concurrency must be between 1 and 1000")
        entries[key] = ModelEntry(
            key=key,
            provider=entry["provider"],
            model=entry["model"],
            base_url=entry.get("base_url"),
            base_url_env=entry.get("base_url_env"),
            api_key_env=key_env,
            pricing=_plain(entry.get("pricing")),
            limits=entry.get("limits") or {},
            model_path=entry.get("model_path"),
            display_name=entry.get("display_name"),
            max_tokens_field=entry.get("max_tokens_field"),
            raw=raw,
        )
    version = top.get("version")
    return Catalog(path, doc.display, str(version) if version is not None else None, entries)


def _plain(value: Any) -> Any:
    """YAML turns 2026-12-04 into a date; snapshots are JSON, so dates travel as ISO strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, date):
        return value.isoformat()
    return value


def _looks_like_a_key(value: str) -> bool:
    return value.startswith(("sk-", "sk_", "AIza")) or (len(value) > 30 and not value.isupper())

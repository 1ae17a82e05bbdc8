"""Real-socket test servers: :class:`FakeAPI` speaks the OpenAI, Anthropic and Gemini wire formats.

``FakeAPI`` and friends are imported lazily so that ``python -m tests.servers.fake_api`` runs cleanly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import faults
from .faults import Fault
from .wires import count_words, default_responder, digest

if TYPE_CHECKING:
    from .fake_api import FakeAPI, RecordedRequest, request_key

__all__ = [
    "FakeAPI",
    "Fault",
    "RecordedRequest",
    "count_words",
    "default_responder",
    "digest",
    "faults",
    "request_key",
]


def __getattr__(name: str) -> Any:
    if name in {"FakeAPI", "RecordedRequest", "request_key"}:
        from . import fake_api

        return getattr(fake_api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

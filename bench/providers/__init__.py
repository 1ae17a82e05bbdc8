"""The provider registry: one module per wire format; a new one joins by adding a file here.

Built-in providers register exactly as an outside one would: a module calls :func:`register` on its
:class:`Provider` subclass. Modules in this folder are imported on first lookup (not at start-up, so
``bench --help`` stays fast); installed packages may add providers through the ``bench.providers``
entry-point group.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from bench.providers.base import (
    KNOWN_PARAMS,
    CallRequest,
    Message,
    Provider,
    ProviderError,
    ProviderUnavailable,
    Reply,
    Usage,
)

__all__ = [
    "KNOWN_PARAMS",
    "CallRequest",
    "Message",
    "Provider",
    "ProviderError",
    "ProviderUnavailable",
    "Reply",
    "Usage",
    "get_provider",
    "provider_names",
    "register",
]

_REGISTRY: dict[str, type[Provider]] = {}
_loaded = False


def register(cls: type[Provider]) -> type[Provider]:
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise RuntimeError(f"provider {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base" and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    for entry in entry_points(group="bench.providers"):
        entry.load()


def provider_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_provider(name: str) -> type[Provider] | None:
    _load_all()
    return _REGISTRY.get(name)

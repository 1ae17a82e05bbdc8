"""Command modules, one per area (history, review, probe, decide, ...). Each module defines a
``register(cli)`` function that adds its click commands to the ``bench`` group. A new area joins by
adding a file here. Modules import only click at the top: heavy imports go inside the commands, so
``bench --help`` stays fast."""

from __future__ import annotations

import importlib
import pkgutil

import click


def register_all(group: click.Group) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{module.name}").register(group)

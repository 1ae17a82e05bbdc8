"""Prompt rendering: jinja2 templates in a sandbox, undefined variables are errors, never blanks.

Each case is rendered ONCE into messages, and the very same messages go to every candidate.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bench.errors import Problem
from bench.providers.base import Message

if TYPE_CHECKING:
    from bench.suite import Case, Suite


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # prompts are plain text, not HTML
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=256)
def compile_template(source: str) -> jinja2.Template:
    return environment().from_string(source)


def render_messages(suite: Suite, case: Case) -> tuple[Message, ...]:
    """Render the suite's system (optional) and user templates for one case."""
    messages = []
    for role in ("system", "user"):
        source = suite.templates.get(role)
        if source is None:
            continue
        text = compile_template(source).render(**case.vars).strip()
        messages.append(Message(role=role, content=text))
    return tuple(messages)


_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _line_of(source: str, name: str) -> int | None:
    for number, line in enumerate(source.splitlines(), start=1):
        if re.search(rf"\b{re.escape(name)}\b", line) and "{" in line:
            return number
    return None


def check_templates(suite: Suite, problems: list[Problem]) -> None:
    """Compile every template and render it for every case; append each problem found."""
    compiled: dict[str, jinja2.Template] = {}
    for role, source in suite.templates.items():
        display = f"{suite.display_dir}/{suite.template_paths[role]}"
        try:
            compiled[role] = compile_template(source)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(
                Problem(
                    display,
                    exc.lineno,
                    None,
                    f"template syntax error: {exc.message}",
                    "jinja2 syntax: {{ variable }}, {% if ... %}...{% endif %}",
                )
            )
    reported: set[tuple[str, str]] = set()
    for case in suite.cases:
        for role, template in compiled.items():
            display = f"{suite.display_dir}/{suite.template_paths[role]}"
            try:
                template.render(**case.vars)
            except jinja2.UndefinedError as exc:
                match = _UNDEFINED_NAME.search(str(exc.message))
                name = next((g for g in match.groups() if g), "") if match else ""
                key = (role, case.id)
                if key in reported:
                    continue
                reported.add(key)
                problems.append(
                    Problem(
                        display,
                        _line_of(suite.templates[role], name) if name else None,
                        None,
                        f"undefined template variable {name!r} for case {case.id!r} ({exc.message})",
                        f"add `{name}` to the vars of case {case.id!r} at {suite.case_location(case.id)}, "
                        "or guard it with {% if " + name + " is defined %}",
                    )
                )
            except jinja2.TemplateError as exc:
                problems.append(Problem(display, None, None, f"case {case.id!r}: template error: {exc}"))
            except Exception as exc:  # a filter raising on the case's data: report, do not crash
                problems.append(
                    Problem(
                        display,
                        None,
                        None,
                        f"case {case.id!r}: rendering failed: {type(exc).__name__}: {exc}",
                    )
                )


def template_variables(source: str) -> set[str]:
    """The variables a template reads (used for docs and review sheets)."""
    from jinja2 import meta

    return set(meta.find_undeclared_variables(environment().parse(source)))


def case_input_text(case: Case) -> str:
    """The case's variables as one readable block (for judges and review sheets)."""
    parts: list[str] = []
    for name, value in case.vars.items():
        parts.append(
            f"{name}: {value}" if not isinstance(value, str) or "\n" not in value else f"{name}:\n{value}"
        )
    return "\n".join(parts)

"""The errors bench raises on purpose, and the exit code each one maps to.

Every error a user can cause derives from :class:`BenchError`; the CLI prints its message (never a traceback)
and exits with its ``exit_code``:

- :class:`InputError` (2): a suite, catalog, case file, template, option or revision is wrong.
  :class:`SuiteInvalid` carries every :class:`Problem` found, each with file, line, column and a hint.
- :class:`RegressionFound` (1): a comparison crossed ``--fail-on``.
- :class:`Interrupted` (130): the user pressed Ctrl-C; what finished was kept.
"""

from __future__ import annotations

from dataclasses import dataclass


class BenchError(Exception):
    exit_code = 1


class InputError(BenchError):
    """Bad user input: exit 2, nothing written."""

    exit_code = 2


class RegressionFound(BenchError):
    exit_code = 1


class Interrupted(BenchError):
    exit_code = 130


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's files, located as precisely as we can."""

    file: str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None
    severity: str = "error"  # error | warning

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class SuiteInvalid(InputError):
    """A suite (or the catalog) has problems; all of them are listed, not only the first."""

    #: beyond this many, the message says how many more there are (``bench validate`` lists them all)
    SHOWN = 25

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        lines = [p.format() for p in errors[: self.SHOWN]]
        if len(errors) > self.SHOWN:
            lines.append(f"... and {len(errors) - self.SHOWN} more errors: `bench validate` lists them all")
        super().__init__("\n".join(lines) or "invalid suite")

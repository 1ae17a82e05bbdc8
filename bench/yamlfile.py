"""Load the user's YAML, JSON, JSONL and CSV files safely, and point at a line when something is wrong.

Data is parsed with PyYAML's C safe loader (fast, no object tags). Line numbers are found only when a
problem must be reported: the file is then composed a second time into nodes, which keep their marks.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import Problem

try:  # the C loader is ~5x faster; both are the safe loader
    _SafeLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _SafeLoader = yaml.SafeLoader


class FileProblem(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.format())
        self.problem = problem


Key = str | int

#: the largest CSV cell read (Python's csv module stops at 128 KiB by default)
CSV_FIELD_LIMIT = 64 * 1024 * 1024


@dataclass
class Document:
    """A parsed file that can say where a value came from."""

    path: Path
    display: str  # the path as shown to the user (relative to the repo root when possible)
    text: str
    data: Any
    kind: str  # yaml | json | jsonl | csv
    row_lines: list[int] = field(default_factory=list)  # jsonl / csv: the line of each row
    _root: yaml.Node | None = None

    def locate(self, *path: Key) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the value at ``path``, or of its nearest ancestor that exists."""
        if self.kind in ("jsonl", "csv"):
            if path and isinstance(path[0], int) and path[0] < len(self.row_lines):
                return self.row_lines[path[0]], None
            return None, None
        if self._root is None:
            try:
                self._root = yaml.compose(self.text, Loader=_SafeLoader)
            except yaml.YAMLError:
                return None, None
        node = self._root
        if node is None:
            return 1, 1
        best = node.start_mark
        for key in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == key:
                        child = value_node
                        # report the key's position: that is where the user looks for a field
                        best = key_node.start_mark
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                child = node.value[key]
                best = child.start_mark
            if child is None:
                break
            node = child
        return best.line + 1, best.column + 1

    def problem(self, path: tuple[Key, ...], message: str, hint: str | None = None, **kw: Any) -> Problem:
        line, column = self.locate(*path)
        return Problem(self.display, line, column, message, hint, **kw)


def display_path(path: Path, root: Path | None = None) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileProblem(Problem(display, None, None, "file not found")) from None
    except IsADirectoryError:
        raise FileProblem(Problem(display, None, None, "is a directory, expected a file")) from None
    except UnicodeDecodeError as exc:
        raise FileProblem(
            Problem(display, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        ) from None


def _yaml_problem(display: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {what}" + (f" ({context})" if context else "")
    hint = "check the indentation and the quoting around this line"
    if isinstance(exc, yaml.constructor.ConstructorError):
        hint = "tags such as !!python/object are not allowed: suites are plain data"
    if "\t" in what or "tab" in message:
        hint = "YAML indents with spaces, not tabs"
    if mark is None:
        return Problem(display, None, None, message, hint)
    return Problem(display, mark.line + 1, mark.column + 1, message, hint)


def load_document(path: Path, display: str | None = None) -> Document:
    """Parse ``path`` by its extension (.yaml/.yml, .json, .jsonl, .csv); raise FileProblem on failure."""
    display = display or display_path(path)
    text = read_text(path, display)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.load(text, Loader=_SafeLoader)
        except yaml.YAMLError as exc:
            raise FileProblem(_yaml_problem(display, exc)) from None
        return Document(path, display, text, data, "yaml")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileProblem(Problem(display, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")) from None
        # JSON is YAML, so the YAML composer can locate values in it too
        return Document(path, display, text, data, "yaml")
    if suffix == ".jsonl":
        rows: list[Any] = []
        lines: list[int] = []
        # "\n" only: str.splitlines() also splits on U+2028, U+0085, form feeds..., which JSON strings may
        # hold raw (json.dumps(..., ensure_ascii=False) writes them so)
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise FileProblem(
                    Problem(display, number, exc.colno, f"invalid JSON on this line: {exc.msg}")
                ) from None
            lines.append(number)
        return Document(path, display, text, rows, "jsonl", lines)
    if suffix == ".csv":
        return _load_csv(path, display, text)
    raise FileProblem(
        Problem(
            display, None, None, f"unsupported file type {suffix or '(none)'!r}", "use .yaml, .jsonl or .csv"
        )
    )


def _load_csv(path: Path, display: str, text: str) -> Document:
    """CSV cases: columns id, category, tags, notes; every other column is a template variable.

    ``vars.NAME`` columns are accepted too. ``tags`` is split on commas or semicolons.
    """
    # the default limit (128 KiB per cell) is too small for a long conversation pasted in a cell
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_csv(reader, path, display, text)
    except csv.Error as exc:
        # line_num counts the lines of the rows read whole: the bad row starts on the next line
        raise FileProblem(
            Problem(
                display, reader.line_num + 1, None, f"invalid CSV: {exc}", "check the quoting of this row"
            )
        ) from None


def _read_csv(reader: csv.DictReader[str], path: Path, display: str, text: str) -> Document:
    if not reader.fieldnames:
        raise FileProblem(Problem(display, 1, None, "empty CSV file", "the first row names the columns"))
    rows: list[Any] = []
    lines: list[int] = []
    for row in reader:
        lines.append(reader.line_num)
        case: dict[str, Any] = {"vars": {}}
        for column, value in row.items():
            if column is None:
                raise FileProblem(
                    Problem(display, reader.line_num, None, "more values than columns in this row")
                )
            name = column.strip()
            if name in ("id", "category", "notes"):
                case[name] = value
            elif name == "tags":
                case["tags"] = [t.strip() for t in (value or "").replace(";", ",").split(",") if t.strip()]
            else:
                case["vars"][name.removeprefix("vars.")] = value
        rows.append(case)
    return Document(path, display, text, rows, "csv", lines)

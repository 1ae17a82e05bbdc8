"""JSON checks: the output parses as JSON, and validates against a JSON Schema from the suite."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import yaml

from ._common import FENCE_NOTE, Param, json_kind, parse_json_output, read_params
from .base import CheckContext, CheckOutcome, CheckParamError, register

# Enough validation errors to see the pattern without flooding a report cell.
MAX_ERRORS = 3
_ERROR_LIMIT = 120


def _prepare_none(params: Mapping[str, Any], _suite_dir: Path) -> dict[str, Any]:
    return read_params(params, {})


def _load_schema_file(rel: str, suite_dir: Path) -> Any:
    if PurePath(rel).is_absolute():
        raise CheckParamError(f"schema {rel!r} must be a path relative to the suite directory, not absolute")
    root = suite_dir.resolve()
    path = (root / rel).resolve()
    # resolve() also follows symlinks, so a link pointing out of the suite is rejected like '..'
    if not path.is_relative_to(root):
        raise CheckParamError(f"schema {rel!r} points outside the suite directory {str(root)!r}")
    if not path.is_file():
        raise CheckParamError(f"schema file {rel!r} not found (looked in {str(root)!r})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CheckParamError(f"schema file {rel!r} cannot be read: {e}") from e
    try:
        # JSON files get the JSON parser for its precise errors; anything else is read as YAML
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise CheckParamError(
            f"schema file {rel!r} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from e
    except yaml.YAMLError as e:
        raise CheckParamError(f"schema file {rel!r} is not valid YAML: {' '.join(str(e).split())}") from e


def _prepare_schema(params: Mapping[str, Any], suite_dir: Path) -> dict[str, Any]:
    out = read_params(params, {"schema": Param("string", non_empty=True)})
    rel: str = out["schema"]
    schema = _load_schema_file(rel, suite_dir)
    if not isinstance(schema, dict | bool):
        raise CheckParamError(
            f"schema file {rel!r} is not a valid JSON Schema: expected an object, got {json_kind(schema)}"
        )
    # imported here: jsonschema costs ~40 ms at start-up, and only suites with this check need it
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    # The schema's own $schema picks the draft; without one, the current draft.
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        where = e.json_path if e.path else "the top level"
        raise CheckParamError(
            f"schema file {rel!r} is not a valid JSON Schema: {_short(e.message)} (at {where})"
        ) from e
    refs = _LocalRefs(schema, rel, suite_dir, cls)
    refs.check_all()
    # format_checker: a suite that writes `format: date` means it; annotation-only would pass anything.
    # The schema is reached through a one-line {"$ref": <its file URI>}, so that its relative $refs resolve
    # against its own folder; the registry holds every file it refers to and retrieves nothing at run time.
    out["validator"] = cls(
        {"$ref": refs.root_uri}, registry=refs.final_registry(), format_checker=cls.FORMAT_CHECKER
    )
    return out


#: the files a $ref may name: schema files of the suite folder
_SCHEMA_SUFFIXES = (".json", ".yaml", ".yml")


class _LocalRefs:
    """Resolves a schema's ``$ref``s to schema files of the suite folder (never over the network).

    Every ``$ref`` of the schema, and of each file it refers to, is looked up once here, at prepare time,
    so that an unresolvable one is a :class:`CheckParamError` naming the ref and the file that holds it.
    A relative ref resolves against the referring file's folder; a ref against an ``$id`` with a scheme
    (``https://example.com/schemas/note.json``) maps to the folder of the file that declares that ``$id``.
    """

    def __init__(self, schema: Any, rel: str, suite_dir: Path, cls: Any) -> None:
        import referencing
        import referencing.jsonschema
        from jsonschema_specifications import REGISTRY as SPECIFICATIONS

        self.suite_dir = suite_dir
        self.root = suite_dir.resolve()
        self.cls = cls
        dialect = schema.get("$schema") if isinstance(schema, dict) else None
        self.specification: Any = referencing.jsonschema.specification_with(
            dialect if isinstance(dialect, str) else "", default=referencing.jsonschema.DRAFT202012
        )
        self.root_uri = (self.root / rel).resolve().as_uri()
        self.loaded: dict[str, Any] = {}  # URI -> referencing.Resource
        self.files: dict[str, str] = {}  # URI -> path relative to the suite folder, for messages
        self.id_bases: dict[str, str] = {}  # an $id's folder URI -> the folder URI of the file declaring it
        self.pending: list[str] = []
        self._add(self.root_uri, rel, schema)
        local: Any = referencing.Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        self.registry = SPECIFICATIONS.combine(local).with_resource(self.root_uri, self.loaded[self.root_uri])

    def _add(self, uri: str, rel: str, contents: Any) -> Any:
        from urllib.parse import urljoin, urlsplit

        import referencing

        resource = referencing.Resource.from_contents(contents, default_specification=self.specification)
        self.loaded[uri], self.files[uri] = resource, rel
        own = resource.id()
        if own and urlsplit(own).scheme not in ("", "file"):
            self.id_bases.setdefault(urljoin(own, "."), urljoin(uri, "."))
        self.pending.append(uri)
        return resource

    def _local(self, uri: str) -> Path | None:
        """The file a URI names, if it is a file URI (directly or through a known ``$id``)."""
        from urllib.parse import urlsplit
        from urllib.request import url2pathname

        for base, folder in self.id_bases.items():
            if uri.startswith(base):
                uri = folder + uri[len(base) :]
                break
        parts = urlsplit(uri)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return None
        return Path(url2pathname(parts.path))

    def _retrieve(self, uri: str) -> Any:
        """``referencing``'s retrieve hook: load a schema file of the suite folder, else refuse."""
        if uri in self.loaded:
            return self.loaded[uri]
        path = self._local(uri)
        if path is None:
            raise CheckParamError(
                f"{uri} is not a file of the suite folder: bench resolves a $ref only to a schema file "
                "inside the suite folder and never fetches one over the network"
            )
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            raise CheckParamError(
                f"{str(path)!r} is outside the suite directory {str(self.root)!r}"
            ) from None
        if path.suffix.lower() not in _SCHEMA_SUFFIXES:
            raise CheckParamError(f"{rel!r} is not a .json or .yaml schema file")
        contents = _load_schema_file(rel, self.suite_dir)  # checks symlinks, existence and syntax
        if not isinstance(contents, dict | bool):
            raise CheckParamError(
                f"{rel!r} is not a JSON Schema: expected an object, got {json_kind(contents)}"
            )
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for

        try:
            validator_for(contents, default=self.cls).check_schema(contents)
        except SchemaError as e:
            where = e.json_path if e.path else "the top level"
            raise CheckParamError(
                f"{rel!r} is not a valid JSON Schema: {_short(e.message)} (at {where})"
            ) from e
        return self._add(uri, rel, contents)

    def check_all(self) -> None:
        """Look up every ``$ref`` of the schema and of every file it reaches; raise CheckParamError."""
        done: set[str] = set()
        while self.pending:
            uri = self.pending.pop(0)
            if uri in done:
                continue
            done.add(uri)
            resource = self.loaded[uri]
            resolver = self.registry.resolver(base_uri=uri).in_subresource(resource)
            self._walk(resolver, resource, self.files[uri])

    def _walk(self, resolver: Any, resource: Any, rel: str) -> None:
        from referencing.exceptions import Unresolvable

        contents = resource.contents
        if isinstance(contents, dict):
            for keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
                ref = contents.get(keyword)
                if not isinstance(ref, str) or (keyword != "$ref" and ref.startswith("#")):
                    continue  # a dynamic ref to an anchor depends on the path taken at run time
                try:
                    resolver.lookup(ref)
                except Unresolvable as e:
                    raise CheckParamError(
                        f"schema file {rel!r}: {keyword} {ref!r} cannot be resolved: {self._why(e)}"
                    ) from e
        for sub in resource.subresources():
            self._walk(resolver.in_subresource(sub), sub, rel)

    def _why(self, error: BaseException) -> str:
        from referencing.exceptions import NoSuchAnchor, PointerToNowhere

        if isinstance(error, PointerToNowhere):
            return f"the pointer {error.ref!r} leads nowhere in {self._name(error.resource)}"
        if isinstance(error, NoSuchAnchor):
            return f"no anchor {error.anchor!r} in {self._name(error.resource)}"
        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, CheckParamError):
                return str(cause)
            cause = cause.__cause__
        return "no such schema (a $ref names a schema file of the suite folder, or a part of one)"

    def _name(self, resource: Any) -> str:
        uri = next((u for u, r in self.loaded.items() if r is resource), None)
        return repr(self.files[uri]) if uri is not None else "the referenced schema"

    def final_registry(self) -> Any:
        """Every file reached, and nothing to retrieve at run time."""
        import referencing

        return referencing.Registry().with_resources(self.loaded.items())


def _short(text: str, limit: int = _ERROR_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _not_json(ctx: CheckContext, error: str) -> CheckOutcome:
    if error == "output is empty":
        return CheckOutcome(False, "output is empty, not JSON")
    # the parse error already quotes the text around its position, which is the evidence that matters
    return CheckOutcome(False, f"output is not JSON: {error}")


@register("is-json", prepare=_prepare_none)
def is_json(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output is a JSON document (any JSON value).

    No parameters. Surrounding whitespace is ignored, and so is a single fenced block around the whole
    output (```json ... ```); the reason says when a fence was removed.
    """
    parsed = parse_json_output(ctx.output)
    if not parsed.ok:
        return _not_json(ctx, parsed.error)
    note = f", {FENCE_NOTE}" if parsed.fenced else ""
    return CheckOutcome(True, f"output is JSON ({json_kind(parsed.value)}{note})")


@register("json-schema", prepare=_prepare_schema)
def json_schema(ctx: CheckContext, params: Mapping[str, Any]) -> CheckOutcome:
    """The output is JSON that validates against a JSON Schema.

    Parameters: ``schema`` (string, required): path of a JSON or YAML schema file, relative to the
    suite directory and inside it. The file is loaded and checked when the suite loads; its ``$schema``
    selects the draft (default 2020-12), and ``format`` keywords are enforced where jsonschema can check
    them. A ``$ref`` may name another schema file of the suite folder, relative to the referring file
    (``base.schema.json``, ``base.schema.json#/$defs/order``); every ref is resolved when the suite loads,
    and nothing is fetched over the network. The output is parsed as in ``is-json`` (one surrounding
    ```json fence is tolerated).
    """
    parsed = parse_json_output(ctx.output)
    if not parsed.ok:
        return _not_json(ctx, parsed.error)
    rel = params["schema"]
    note = f" ({FENCE_NOTE})" if parsed.fenced else ""
    try:
        errors = list(params["validator"].iter_errors(parsed.value))
    except Exception as e:  # an unforeseen schema problem is an error verdict, never a crash
        detail = _short(str(e) or type(e).__name__)
        return CheckOutcome(None, f"could not validate the output against {rel}: {detail}")
    if not errors:
        return CheckOutcome(True, f"output matches {rel}{note}")
    shown = "; ".join(f"{e.json_path}: {_short(e.message)}" for e in errors[:MAX_ERRORS])
    more = f" (+{len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
    return CheckOutcome(False, f"output does not match {rel}{note}: {shown}{more}")

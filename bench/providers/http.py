"""Shared HTTP plumbing for the providers that speak over httpx: small connection pools, one SSL context.

Why several small pools per candidate, not one big client: on 2 cores an httpx pool of 50 connections
re-scans its connections for every waiting request (seconds of CPU per thousand calls); pools of at most
``POOL_SIZE`` connections do not. Each request goes to the least busy pool. Building an SSL context costs
~20 ms, so all pools share one.

Why transports, not ``httpx.AsyncClient``: the Client spends about 0.5 ms of CPU a request (URL merging,
auth and redirect flows, cookies, event hooks) on features bench does not use, a third of what a call costs
on these machines (tests/perf/httpx_floor.py). Requests go straight to ``httpx.AsyncHTTPTransport`` (the
same httpcore pool the Client would use; httpx's Request, Response and exceptions stay). The one Client
feature bench needs, a proxy from the environment (``HTTPS_PROXY`` and friends), keeps the Client.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from functools import lru_cache
from typing import Any

import httpx

from bench.providers.base import Provider, ProviderError, ProviderUnavailable
from bench.redact import redact_urls

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


POOL_SIZE = 8  # connections per httpx pool
# what httpx.AsyncClient sends by default, so that servers see the same request either way
DEFAULT_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": f"python-httpx/{httpx.__version__}",
}
JSON_HEADERS = {"Content-Type": "application/json"}


class HTTPProvider(Provider):
    """A provider that speaks HTTP: subclasses give :meth:`headers` and call :meth:`post` / :meth:`get`."""

    def __init__(self, entry: Any, api_key: str | None):
        super().__init__(entry, api_key)
        self.connections = int((entry.limits or {}).get("concurrency") or self.default_concurrency)
        self.pools: list[httpx.AsyncClient | httpx.AsyncBaseTransport] = []
        self.busy: list[int] = []
        self.base = ""
        self.sent_headers: dict[str, str] = {}

    def headers(self) -> dict[str, str]:
        """Authentication and version headers (the key lives only here and in httpx's request)."""
        return {}

    async def open(self) -> None:
        self.base = (self.entry.resolved_base_url() or "").rstrip("/") + "/"
        try:
            url = httpx.URL(self.base)
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError("not an http(s) URL with a host")
            if url.port is not None and not 0 < url.port < 65536:
                raise ValueError(f"port {url.port} is out of range")
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise ProviderUnavailable(f"base URL {redact_urls(self.base)!r} is not usable: {exc}") from None
        count = max(1, math.ceil(self.connections / POOL_SIZE))
        size = math.ceil(self.connections / count)
        self.sent_headers = {**DEFAULT_HEADERS, **self.headers()}
        if _env_proxies():  # a proxy from the environment: the Client knows how to use it
            self.pools = [make_client(self.base, size, self.headers()) for _ in range(count)]
        else:
            self.pools = [make_transport(size) for _ in range(count)]
        self.busy = [0] * count

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()
        self.pools = []

    @contextlib.asynccontextmanager
    async def pool(self) -> AsyncIterator[httpx.AsyncClient | httpx.AsyncBaseTransport]:
        assert self.pools, "open() first"
        index = min(range(len(self.busy)), key=self.busy.__getitem__) if len(self.busy) > 1 else 0
        self.busy[index] += 1
        try:
            yield self.pools[index]
        finally:
            self.busy[index] -= 1

    async def post(self, path: str, body: dict[str, Any], timeout: float) -> httpx.Response:
        async with self.pool() as pool:
            if isinstance(pool, httpx.AsyncClient):
                return await post_json(pool, path, body, timeout)
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            headers = {**self.sent_headers, **JSON_HEADERS}
            request = httpx.Request(
                "POST", self.base + path, headers=headers, content=content, extensions=_timeouts(timeout)
            )
            return await _transport(_round_trip(pool, request), timeout)

    async def get(self, path: str, timeout: float, params: dict[str, Any] | None = None) -> httpx.Response:
        async with self.pool() as pool:
            if isinstance(pool, httpx.AsyncClient):
                return await get_json(pool, path, timeout, params)
            request = httpx.Request(
                "GET",
                self.base + path,
                params=params,
                headers=self.sent_headers,
                extensions=_timeouts(timeout),
            )
            return await _transport(_round_trip(pool, request), timeout)


def _env_proxies() -> dict[str, str]:
    """``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and the like (``NO_PROXY`` alone is no proxy)."""
    return {scheme: url for scheme, url in urllib.request.getproxies().items() if scheme != "no"}


def _timeouts(timeout: float) -> dict[str, Any]:
    return {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}


async def _round_trip(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """What ``AsyncClient.send`` does for bench: send, read the whole body, release the connection."""
    response = await transport.handle_async_request(request)
    response.request = request
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


def make_transport(connections: int) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(
        verify=ssl_context(),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


def make_client(base_url: str, connections: int, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        verify=ssl_context(),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=None,  # the runner sets a per-attempt timeout on each request
        follow_redirects=False,
    )


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """``retry-after-ms`` first, then ``retry-after`` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def should_retry(status: int, headers: httpx.Headers, code: str | None) -> bool:
    """The official SDKs' rule: ``x-should-retry`` decides when present, else the status (and quota)."""
    explicit = headers.get("x-should-retry")
    if explicit == "true":
        return True
    if explicit == "false":
        return False
    if code == "insufficient_quota":  # a 429 that waiting will not fix
        return False
    return status in RETRYABLE_STATUS or status >= 500


def request_id(headers: httpx.Headers) -> str | None:
    return headers.get("x-request-id") or headers.get("request-id") or headers.get("x-goog-request-id")


def rate_limit_headers(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if "ratelimit" in k.lower() or k.lower() == "retry-after"}


def parse_json_body(response: httpx.Response, rid: str | None) -> Any:
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProviderError(
            "malformed",
            f"HTTP {response.status_code} with a body that is not JSON ({exc.__class__.__name__}: {exc})"
            f"; starts {response.text[:80]!r}",
            status=response.status_code,
            retryable=True,
            request_id=rid,
        ) from None


def parse_response(response: httpx.Response, rid: str | None) -> Any:
    """Like :func:`parse_json_body`, except that an error status with a body that is not JSON (an HTML page
    from a proxy or a wrong base URL) stays an HTTP error, retried only if its status says so: a 404 page
    is not worth four attempts."""
    if response.status_code < 400:
        return parse_json_body(response, rid)
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error_from_body(
            response, f"the body is not JSON; starts {response.text[:80]!r}", None, None
        ) from None


async def post_json(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], timeout: float
) -> httpx.Response:
    """POST and map transport failures onto ProviderError (retryable)."""
    return await _transport(client.post(url, json=body, timeout=timeout), timeout)


async def get_json(
    client: httpx.AsyncClient, url: str, timeout: float, params: dict[str, Any] | None = None
) -> httpx.Response:
    """GET (model listings) with the same mapping of transport failures as :func:`post_json`."""
    return await _transport(client.get(url, params=params, timeout=timeout), timeout)


async def _transport(sending: Awaitable[httpx.Response], timeout: float) -> httpx.Response:
    try:
        return await sending
    except httpx.TimeoutException as exc:
        raise ProviderError(
            "timeout", f"no answer within {timeout:g} s ({type(exc).__name__})", retryable=True
        ) from None
    except (httpx.TransportError, httpx.DecodingError) as exc:
        # str(exc) from httpx names the host at most, never headers; the key lives only in headers
        raise ProviderError(
            "connection", f"{type(exc).__name__}: {exc or 'connection failed'}", retryable=True
        ) from None


def error_from_body(
    response: httpx.Response, message: str | None, error_type: str | None, code: str | None
) -> ProviderError:
    rid = request_id(response.headers)
    status = response.status_code
    return ProviderError(
        "http",
        f"HTTP {status}" + (f" {error_type}" if error_type else "") + (f": {message}" if message else ""),
        status=status,
        error_type=error_type,
        code=code,
        retryable=should_retry(status, response.headers, code),
        retry_after=retry_after_seconds(response.headers),
        request_id=rid,
    )

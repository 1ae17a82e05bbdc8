"""A real HTTP/1.1 server on 127.0.0.1 that speaks the OpenAI, Anthropic or Gemini wire format, with faults.

Built on asyncio + h11 (no framework); keep-alive; the event loop runs in a daemon thread::

    from tests.servers import FakeAPI, faults

    with FakeAPI(wire="openai", latency=0.0, api_key="sk-test") as api:
        api.script(faults.retry_after(1), faults.reset())       # first two completion calls misbehave
        ...point the client at api.base_url...
        assert len(api.completed) == 1
        assert max(api.completed_keys().values()) == 1           # nothing answered twice

As a process (for benchmarks); prints ``listening http://127.0.0.1:PORT`` and serves until SIGTERM/SIGINT::

    python -m tests.servers.fake_api --wire openai --port 0 --latency 0.1

Only completion calls (not ``/models``) get latency and faults, and only they count as ``completed``.
``status``, ``reset`` and ``hang`` faults answer (or not) at once, without the configured latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http
import json
import random
import signal
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qsl

import h11

from . import faults as faults_module
from .faults import Fault
from .wires import WIRES, Incoming, RateLimits, Reply, Responder, Route, default_responder

_READ_CHUNK = 65536


@dataclass
class RecordedRequest:
    """One request the server received (faulted or not) and what became of it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes
    key: str
    completion: bool
    fault: str | None = None
    status: int | None = None
    completed: bool = False
    request_id: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        """The parsed JSON body (``None`` if the body was not JSON)."""
        return self.body if isinstance(self.body, dict | list) else None


def request_key(method: str, path: str, body: Any, raw: bytes) -> str:
    """sha256 of ``METHOD path`` plus the canonical JSON body (or raw bytes): equal requests, equal keys."""
    if isinstance(body, dict | list):
        canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    else:
        canon = raw
    return hashlib.sha256(f"{method} {path}\n".encode() + canon).hexdigest()


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _reason(code: int) -> bytes:
    if code == 529:
        return b"Overloaded"
    try:
        return http.HTTPStatus(code).phrase.encode()
    except ValueError:
        return b""


class FakeAPI:
    """A fake model API server. Use as a context manager, or call :meth:`start` / :meth:`stop`.

    Args:
        wire: ``"openai"``, ``"anthropic"`` or ``"gemini"``.
        latency: seconds every completion call waits before answering (``asyncio.sleep``).
        host, port: where to listen; port 0 picks a free one.
        api_key: if set, requests must carry exactly this key (401/400/403 like the real API otherwise).
        models: if set, only these models exist (others: 404 ``model_not_found``); also what /models lists.
        rejected_params: body parameters the "model" refuses (400 ``unsupported_parameter``).
        rate_limit_headers: send the wire's rate-limit headers (OpenAI, Anthropic).
        responder: ``(wire, model, messages_text, body) -> text``; default :func:`default_responder`.
        request_limit, token_limit, rate_limit_reset: numbers for the rate-limit headers.
        cached_tokens, reasoning_tokens: reported in usage (reasoning tokens add to completion tokens).
        record: keep every request in :attr:`requests` (turn off for long benchmark runs).
    """

    def __init__(
        self,
        wire: str = "openai",
        latency: float = 0.0,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        models: Iterable[str] | None = None,
        rejected_params: Iterable[str] = (),
        rate_limit_headers: bool = True,
        responder: Responder | None = None,
        request_limit: int = 10_000,
        token_limit: int = 2_000_000,
        rate_limit_reset: float = 1.0,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        record: bool = True,
    ) -> None:
        if wire not in WIRES:
            raise ValueError(f"wire must be one of {sorted(WIRES)}, got {wire!r}")
        self.wire = wire
        self.latency = float(latency)
        self.host = host
        self.api_key = api_key
        self.models: list[str] | None = list(models) if models is not None else None
        self.rejected_params: set[str] = set(rejected_params)
        self.rate_limit_headers = rate_limit_headers
        self.responder: Responder = responder or default_responder
        self.request_limit = request_limit
        self.token_limit = token_limit
        self.rate_limit_reset = rate_limit_reset
        self.cached_tokens = cached_tokens
        self.reasoning_tokens = reasoning_tokens
        self.record = record
        self._format = WIRES[wire]()
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Condition()
        self._records: list[RecordedRequest] = []
        self._counts: Counter[str] = Counter()
        self._completed_keys: Counter[str] = Counter()
        self._script: deque[Fault] = deque()
        self._random: tuple[float, list[Fault], random.Random] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeAPI:
        """Bind, start the event-loop thread and wait until the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("FakeAPI already started")
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._thread_main, name=f"FakeAPI-{self.wire}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._startup_error is not None:
            error = self._startup_error
            self.stop()
            raise RuntimeError(f"FakeAPI failed to start: {error!r}") from error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection (hanging ones included), then join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("FakeAPI thread did not stop")
        self._thread = self._loop = self._stopping = None

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # ----------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The bound port (only once started)."""
        if self._port is None:
            raise RuntimeError("FakeAPI is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The client's base URL: ``.../v1`` for OpenAI, the bare root for Anthropic and Gemini."""
        return self._format.base_url(self.url)

    # ----------------------------------------------------------------- logs

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every recorded request, in arrival order (faulted ones included)."""
        with self._lock:
            return list(self._records)

    @property
    def completed(self) -> list[RecordedRequest]:
        """Completion requests answered with a 2xx and a well-formed body (logged as the answer is sent)."""
        with self._lock:
            return [r for r in self._records if r.completed]

    def completed_keys(self) -> Counter[str]:
        """Multiset of :func:`request_key` over completed requests (a count > 1 = served twice)."""
        with self._lock:
            return Counter(self._completed_keys)

    @property
    def counters(self) -> dict[str, int]:
        """Counts: ``connections``, ``requests``, ``completion_requests``, ``completed``, ``faults``,
        one per fault kind and one per status fault label (``"reset"``, ``"status"``, ``"status 429"``)."""
        with self._lock:
            return dict(self._counts)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` requests arrived (counted even when ``record=False``)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._counts["requests"] >= n, timeout)

    def reset(self) -> None:
        """Forget recorded requests, counters, scripted faults and the random fault rate."""
        with self._lock:
            self._records.clear()
            self._counts.clear()
            self._completed_keys.clear()
            self._script.clear()
            self._random = None

    # ----------------------------------------------------------------- faults

    def script(self, *faults: Fault | int | str) -> None:
        """Queue faults, consumed one per completion request in arrival order (before random faults).

        ``None`` is not allowed; to let a request through, script ``faults.slow(0)``.
        """
        parsed = [faults_module.parse_fault(f) for f in faults]
        with self._lock:
            self._script.extend(parsed)

    @property
    def scripted_left(self) -> int:
        """How many scripted faults are still queued."""
        with self._lock:
            return len(self._script)

    def fault_rate(
        self, rate: float, kinds: Sequence[Fault | int | str] | None = None, seed: int = 0
    ) -> None:
        """Inject a fault into a ``rate`` fraction of completion requests, chosen by ``random.Random(seed)``.

        ``kinds`` defaults to ``[429, 500, reset()]``; strings/ints are parsed by ``faults.parse_fault``.
        ``rate=0`` turns random faults off.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        chosen = [faults_module.parse_fault(k) for k in (kinds if kinds is not None else (429, 500, "reset"))]
        if rate > 0 and not chosen:
            raise ValueError("kinds must not be empty")
        with self._lock:
            self._random = (rate, chosen, random.Random(seed)) if rate > 0 else None

    def _take_fault(self) -> Fault | None:
        # caller holds self._lock
        if self._script:
            return self._script.popleft()
        if self._random is not None:
            rate, kinds, rng = self._random
            draw, pick = rng.random(), rng.randrange(len(kinds))
            if draw < rate:
                return kinds[pick]
        return None

    # ----------------------------------------------------------------- event loop

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:
            self._startup_error = error
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._on_connection, self.host, self._requested_port, backlog=1024, limit=_READ_CHUNK
        )
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            tasks = list(self._conn_tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)
            await asyncio.sleep(0)  # let transports run connection_lost and close their sockets

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        with self._lock:
            self._counts["connections"] += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while self._stopping is not None and not self._stopping.is_set():
                got = await self._read_request(conn, reader)
                if got is None:
                    break
                keep_open = await self._respond(conn, reader, writer, *got)
                if not keep_open or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except h11.RemoteProtocolError as error:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                with contextlib.suppress(Exception):
                    body = json.dumps({"error": {"message": f"bad request: {error}"}}).encode()
                    await self._send(conn, writer, error.error_status_hint, {}, body)
        except (ConnectionError, OSError, h11.LocalProtocolError):
            pass
        except asyncio.CancelledError:
            # only stop() cancels us; swallowing keeps 3.11's StreamReaderProtocol from logging the cancel
            pass
        finally:
            self._conn_tasks.discard(task)
            writer.close()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request, bytes] | None:
        request: h11.Request | None = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(_READ_CHUNK))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return request, b"".join(chunks)
            else:  # ConnectionClosed or PAUSED
                return None

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        code: int,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        merged = {"content-type": "application/json", "date": formatdate(usegmt=True), "server": "fake-api"}
        merged.update({k.lower(): v for k, v in headers.items()})
        merged["content-length"] = str(len(body))
        response = h11.Response(status_code=code, headers=list(merged.items()), reason=_reason(code))
        writer.write(conn.send(response))
        writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()

    async def _respond(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        raw: bytes,
    ) -> bool:
        """Answer one request; False means the connection must be dropped."""
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        headers: dict[str, str] = {}
        for name, value in request.headers:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        body = _parse_body(raw)
        route = self._format.route(method, path)
        completion = route is not None and route.kind == "complete"
        record = RecordedRequest(
            method=method,
            path=path,
            query=dict(parse_qsl(query)),
            headers=headers,
            body=body,
            raw=raw,
            key=request_key(method, path, body, raw),
            completion=completion,
            request_id=self._format.new_request_id(),
        )
        fault: Fault | None = None
        with self._lock:
            self._counts["requests"] += 1
            if completion:
                self._counts["completion_requests"] += 1
                fault = self._take_fault()
                if fault is not None:
                    record.fault = fault.label
                    self._counts["faults"] += 1
                    self._counts[fault.kind] += 1
                    if fault.kind == "status":
                        self._counts[fault.label] += 1
            if self.record:
                self._records.append(record)
            index = self._counts["completion_requests"]
            self._lock.notify_all()

        incoming = Incoming(method, path, record.query, headers, body)
        extra_delay = 0.0
        if fault is not None and fault.kind == "reset":
            self._abort(writer)
            return False
        if fault is not None and fault.kind == "hang":
            await self._hang(reader, fault.seconds)
            return False
        if fault is not None and fault.kind == "slow":
            extra_delay = fault.seconds

        if route is None:
            reply = self._format.not_found(method, path)
        elif route.kind == "models":
            reply = self._format.list_models(self, incoming)
        elif fault is not None and fault.kind == "status":
            reply = self._fault_reply(fault)
        else:
            if self.latency + extra_delay > 0:
                await asyncio.sleep(self.latency + extra_delay)
            reply = self._complete(incoming, route)

        out_headers = dict(reply.headers)
        if completion and self._format.request_id_header:
            out_headers.setdefault(self._format.request_id_header, record.request_id or "")
        if completion and self.rate_limit_headers:
            limits = RateLimits(
                request_limit=self.request_limit,
                request_remaining=max(0, self.request_limit - 1 - (index - 1) % max(1, self.request_limit)),
                token_limit=self.token_limit,
                token_remaining=max(0, self.token_limit - reply.tokens),
                reset_seconds=self.rate_limit_reset,
            )
            for name, value in self._format.rate_limit_headers(limits, reply.status == 429).items():
                out_headers.setdefault(name, value)
        if fault is not None:
            out_headers.update(dict(fault.headers))
            if fault.http_date_after is not None:
                out_headers["retry-after"] = formatdate(time.time() + fault.http_date_after, usegmt=True)

        payload = self._encode(reply.payload)
        code = reply.status
        if fault is not None and fault.kind == "malformed":
            code, payload = 200, payload[: max(1, len(payload) // 2)]
        # book-keeping first: once the bytes are out, the client (another thread) may look at the logs
        with self._lock:
            record.status = code
            if completion and 200 <= code < 300 and not (fault is not None and fault.kind == "malformed"):
                record.completed = True
                self._counts["completed"] += 1
                self._completed_keys[record.key] += 1
        await self._send(conn, writer, code, out_headers, payload)
        return True

    def _complete(self, incoming: Incoming, route: Route) -> Reply:
        try:
            return self._format.complete(self, incoming, route)
        except Exception as error:  # a broken responder must show up as a 500, not a dropped connection
            return Reply(500, self._format.error(500, f"fake_api responder failed: {error!r}"))

    def _fault_reply(self, fault: Fault) -> Reply:
        code = fault.code or 500
        if fault.body is None:
            return Reply(code, self._format.fault_body(fault))
        return Reply(code, fault.body)

    @staticmethod
    def _encode(payload: Any) -> bytes:
        if isinstance(payload, bytes):
            return payload
        if isinstance(payload, str):
            return payload.encode("utf-8")
        return json.dumps(payload).encode("utf-8")

    @staticmethod
    def _abort(writer: asyncio.StreamWriter) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), sending nothing."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    @staticmethod
    async def _hang(reader: asyncio.StreamReader, seconds: float) -> None:
        """Say nothing for ``seconds``, or until the client hangs up (cancelled when the server stops)."""

        async def until_eof() -> None:
            while await reader.read(_READ_CHUNK):
                pass

        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            await asyncio.wait_for(until_eof(), seconds)


# --------------------------------------------------------------------- command line


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; prints ``listening http://HOST:PORT`` once ready."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.servers.fake_api", description=(__doc__ or "fake model API").splitlines()[0]
    )
    parser.add_argument("--wire", choices=sorted(WIRES), default="openai")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion call")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--models", default=None, help="comma-separated; others get 404")
    parser.add_argument("--reject", default=None, help="comma-separated parameters answered with 400")
    parser.add_argument("--no-rate-limit-headers", action="store_true")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default="429,500,reset", help="e.g. 429,503,reset,malformed,hang:5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="keep request logs (memory grows)")
    args = parser.parse_args(argv)

    api = FakeAPI(
        args.wire,
        args.latency,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        models=_split(args.models) if args.models else None,
        rejected_params=_split(args.reject),
        rate_limit_headers=not args.no_rate_limit_headers,
        record=args.record,
    )
    if args.fault_rate > 0:
        api.fault_rate(args.fault_rate, _split(args.fault_kinds), seed=args.seed)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with api:
        print(f"listening {api.url}", flush=True)
        while not done.wait(0.2):
            pass
        counts = api.counters
    print(f"fake_api stopped: {json.dumps(counts, sort_keys=True)}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

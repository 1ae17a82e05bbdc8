"""The floor under `bench run`: the same calls made by a bare httpx client, with nothing of bench around them.

    python tests/perf/httpx_floor.py                 # starts its own fake server; prints every variant
    python tests/perf/httpx_floor.py --child URL N CONCURRENCY SHARD   # one variant (used by run_bench.py)

Each variant is a separate process started from scratch (its imports count, as bench's do) that posts N
chat completions to the fake server with CONCURRENCY in flight, through ceil(CONCURRENCY / SHARD)
AsyncClients of at most SHARD connections each, each request on the least busy client. SHARD =
CONCURRENCY is one pool (what bench did before commit 1ef9b96); SHARD = 8 is the split bench/providers/http.py makes
since commit 1ef9b96 (POOL_SIZE). What bench spends above the matching variant is bench's own cost. When
aiohttp is installed (it is not a dependency of bench), the same calls through one aiohttp session too.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

FLOOR_BODY = {"model": "perf-model", "messages": [{"role": "user", "content": "Say hello to user 1."}],
              "temperature": 0, "max_completion_tokens": 20}  # fmt: skip


async def child(url: str, calls: int, concurrency: int, shard: int) -> None:
    import httpx

    shards = -(-concurrency // shard)
    per = -(-concurrency // shards)
    clients = [
        httpx.AsyncClient(
            base_url=url.rstrip("/") + "/",
            headers={"Authorization": "Bearer sk-floor"},
            limits=httpx.Limits(max_connections=per, max_keepalive_connections=per),
            timeout=None,
        )
        for _ in range(shards)
    ]
    busy = [0] * shards
    slots = asyncio.Semaphore(concurrency)
    ok = 0

    async def one(i: int) -> None:
        nonlocal ok
        async with slots:
            index = busy.index(min(busy))
            busy[index] += 1
            try:
                body = dict(FLOOR_BODY, messages=[{"role": "user", "content": f"Say hello to user {i}."}])
                response = await clients[index].post("chat/completions", json=body, timeout=120)
                json.loads(response.content)["choices"][0]["message"]["content"]
                ok += response.status_code == 200
            finally:
                busy[index] -= 1

    await asyncio.gather(*(one(i) for i in range(calls)))
    for client in clients:
        await client.aclose()
    assert ok == calls, f"{ok} of {calls} calls succeeded"


async def child_transport(url: str, calls: int, concurrency: int, shard: int) -> None:
    """httpx without its Client: ``httpx.Request`` sent through ``httpx.AsyncHTTPTransport`` pools (httpx's
    Response, Headers and exceptions stay; auth, redirects, cookies and URL merging go)."""
    import httpx

    shards = -(-concurrency // shard)
    per = -(-concurrency // shards)
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    transports = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(shards)]
    busy = [0] * shards
    slots = asyncio.Semaphore(concurrency)
    target = httpx.URL(url.rstrip("/") + "/chat/completions")
    headers = {"Authorization": "Bearer sk-floor", "Content-Type": "application/json", "Accept": "*/*"}
    timeouts = {"timeout": {"connect": 120, "read": 120, "write": 120, "pool": 120}}
    ok = 0

    async def one(i: int) -> None:
        nonlocal ok
        async with slots:
            index = busy.index(min(busy))
            busy[index] += 1
            try:
                body = dict(FLOOR_BODY, messages=[{"role": "user", "content": f"Say hello to user {i}."}])
                request = httpx.Request("POST", target, headers=headers, content=json.dumps(body).encode(),
                                        extensions=timeouts)  # fmt: skip
                response = await transports[index].handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                json.loads(response.content)["choices"][0]["message"]["content"]
                ok += response.status_code == 200
            finally:
                busy[index] -= 1

    await asyncio.gather(*(one(i) for i in range(calls)))
    for transport in transports:
        await transport.aclose()
    assert ok == calls, f"{ok} of {calls} calls succeeded"


async def child_httpcore(url: str, calls: int, concurrency: int, shard: int) -> None:
    """The same calls one layer down: httpcore's pools (what httpx drives), without httpx's Client."""
    import httpcore

    shards = -(-concurrency // shard)
    per = -(-concurrency // shards)
    pools = [
        httpcore.AsyncConnectionPool(max_connections=per, max_keepalive_connections=per)
        for _ in range(shards)
    ]
    busy = [0] * shards
    slots = asyncio.Semaphore(concurrency)
    target = url.rstrip("/") + "/chat/completions"
    headers = [(b"Authorization", b"Bearer sk-floor"), (b"Content-Type", b"application/json")]
    timeouts = {"timeout": {"connect": 120, "read": 120, "write": 120, "pool": 120}}
    ok = 0

    async def one(i: int) -> None:
        nonlocal ok
        async with slots:
            index = busy.index(min(busy))
            busy[index] += 1
            try:
                body = dict(FLOOR_BODY, messages=[{"role": "user", "content": f"Say hello to user {i}."}])
                response = await pools[index].request(
                    "POST", target, headers=headers, content=json.dumps(body).encode(), extensions=timeouts
                )
                json.loads(response.content)["choices"][0]["message"]["content"]
                ok += response.status == 200
            finally:
                busy[index] -= 1

    await asyncio.gather(*(one(i) for i in range(calls)))
    for pool in pools:
        await pool.aclose()
    assert ok == calls, f"{ok} of {calls} calls succeeded"


async def child_aiohttp(url: str, calls: int, concurrency: int) -> None:
    """The same calls through one aiohttp session (a connector of ``concurrency`` connections)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    slots = asyncio.Semaphore(concurrency)
    ok = 0
    base = url.rstrip("/") + "/"
    async with aiohttp.ClientSession(
        connector=connector, headers={"Authorization": "Bearer sk-floor"}
    ) as session:

        async def one(i: int) -> None:
            nonlocal ok
            async with slots:
                body = dict(FLOOR_BODY, messages=[{"role": "user", "content": f"Say hello to user {i}."}])
                async with session.post(base + "chat/completions", json=body,
                                        timeout=aiohttp.ClientTimeout(total=120)) as response:  # fmt: skip
                    json.loads(await response.read())["choices"][0]["message"]["content"]
                    ok += response.status == 200

        await asyncio.gather(*(one(i) for i in range(calls)))
    assert ok == calls, f"{ok} of {calls} calls succeeded"


def variant_command(url: str, calls: int, concurrency: int, shard: int | str) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        url,
        str(calls),
        str(concurrency),
        str(shard),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("URL", "N", "CONCURRENCY", "SHARD"))
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    if args.child:
        url, calls, concurrency, shard = args.child
        if shard == "aiohttp":
            asyncio.run(child_aiohttp(url, int(calls), int(concurrency)))
        elif shard.startswith("transport"):
            asyncio.run(
                child_transport(url, int(calls), int(concurrency), int(shard.removeprefix("transport")))
            )
        elif shard.startswith("httpcore"):
            asyncio.run(
                child_httpcore(url, int(calls), int(concurrency), int(shard.removeprefix("httpcore")))
            )
        else:
            asyncio.run(child(url, int(calls), int(concurrency), int(shard)))
        return 0

    from _common import FakeServer, bench_env, check, measure, print_machine

    print_machine()
    latency, concurrency = 0.1, 50
    ideal = args.calls * latency / concurrency
    env = bench_env()
    with FakeServer(latency) as server, tempfile.TemporaryDirectory() as tmp:
        check(measure(variant_command(server.base_url, 200, concurrency, 8), Path(tmp), env), "warm-up")
        for shard in (50, 25, 16, 8, 4, 1):
            m = check(measure(variant_command(server.base_url, args.calls, concurrency, shard), Path(tmp), env),
                      f"shard {shard}")  # fmt: skip
            print(f"  httpx, {args.calls:,} calls, {-(-concurrency // shard)} client(s) of <= {shard} connections: "
                  f"wall {m.wall:.2f} s (x{m.wall / ideal:.2f} ideal), CPU {m.cpu:.2f} s "
                  f"({m.cpu / args.calls * 1000:.2f} ms a call), RSS {m.max_rss_mb:.0f} MiB")  # fmt: skip
        m = check(measure(variant_command(server.base_url, args.calls, concurrency, "transport8"), Path(tmp), env),
                  "transport")  # fmt: skip
        print(
            f"  httpx transport without the Client, 7 pools of <= 8: wall {m.wall:.2f} s (x{m.wall / ideal:.2f} "
            f"ideal), CPU {m.cpu:.2f} s ({m.cpu / args.calls * 1000:.2f} ms a call), RSS {m.max_rss_mb:.0f} MiB"
        )
        m = check(measure(variant_command(server.base_url, args.calls, concurrency, "httpcore8"), Path(tmp), env),
                  "httpcore")  # fmt: skip
        print(
            f"  httpcore alone (no httpx.Client), 7 pools of <= 8: wall {m.wall:.2f} s (x{m.wall / ideal:.2f} "
            f"ideal), CPU {m.cpu:.2f} s ({m.cpu / args.calls * 1000:.2f} ms a call), RSS {m.max_rss_mb:.0f} MiB"
        )
        if importlib.util.find_spec("aiohttp") is not None:
            m = check(measure(variant_command(server.base_url, args.calls, concurrency, "aiohttp"), Path(tmp), env),
                      "aiohttp")  # fmt: skip
            print(f"  aiohttp (not a bench dependency), {args.calls:,} calls, one session: wall {m.wall:.2f} s "
                  f"(x{m.wall / ideal:.2f} ideal), CPU {m.cpu:.2f} s ({m.cpu / args.calls * 1000:.2f} ms a call), "
                  f"RSS {m.max_rss_mb:.0f} MiB")  # fmt: skip
        else:
            print("  aiohttp: not installed (pip install aiohttp to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

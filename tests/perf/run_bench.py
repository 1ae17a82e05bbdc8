"""`bench run` at volume, out of process: throughput against a 100 ms fake API, reruns, peak memory.

    python tests/perf/run_bench.py                  # everything (about a minute)
    python tests/perf/run_bench.py --calls 2000 --skip-10k
    python tests/perf/run_bench.py --profile        # also: py-spy / cProfile of one 2,000-call run
    python tests/perf/run_bench.py --ab /tmp/patched  # A/B: installed bench vs a patched copy of the
                                                      # package at /tmp/patched/bench (PYTHONPATH), alternated
    python tests/perf/run_bench.py --ab /tmp/new --base /tmp/old   # A/B of two copies of the package

What it does, in one run of the script (ratios are only meaningful within one run: shared, noisy machines):

1. generates a suite repository in a temp dir: a catalog entry pointing at the loopback fake API with
   ``limits.concurrency: 50``, one candidate, ``--calls`` cases (default 2,000) with a one-line template,
   a rubric with one automatic check, committed to git;
2. starts ``python -m tests.servers.fake_api --latency 0.1`` as a separate process;
3. ``bench run perf --concurrency 50 --quiet --fresh --no-cache``: wall (process start included), CPU
   seconds and peak RSS of the bench process (``os.wait4``), wall / ideal where ideal = calls x 0.1 / 50;
4. ``--fresh`` with the cache on (fills the cache), then a plain rerun: every call reused from the
   snapshot; then results/ deleted and a rerun again: every call from the cache;
5. 10,000 calls at 10 ms latency, concurrency 50, ``--fresh --no-cache``: peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SUITE,
    FakeServer,
    Measured,
    bench_command,
    bench_env,
    check,
    load,
    make_repo,
    measure,
    print_machine,
    snapshot_sources,
)
from httpx_floor import variant_command

LATENCY = 0.1
CONCURRENCY = 50

ROWS: list[tuple[str, str, str, str]] = []  # what, figure, target, verdict


def row(what: str, figure: str, target: str = "", ok: bool | None = None) -> None:
    mark = "" if ok is None else ("meets" if ok else "MISSES")
    ROWS.append((what, figure, target, mark))
    print(f"  {what:<58} {figure:>22}   {('target ' + target) if target else '':<18} {mark}")


def run_cmd(*extra: str) -> list[str]:
    return [*bench_command(), "run", SUITE, "--concurrency", str(CONCURRENCY), "--quiet", *extra]


def describe(m: Measured) -> str:
    return f"wall {m.wall:.2f} s, CPU {m.cpu:.2f} s (user {m.user:.2f}, sys {m.system:.2f}), RSS {m.max_rss_mb:.0f} MiB"


def throughput(calls: int, repeat: int, profile: bool) -> None:
    cases = calls // repeat
    ideal = calls * LATENCY / CONCURRENCY
    print(f"\n== {calls:,} calls ({cases:,} cases x {repeat}), {LATENCY * 1000:.0f} ms latency, "
          f"concurrency {CONCURRENCY}: ideal {ideal:.2f} s")  # fmt: skip
    env = bench_env()
    with FakeServer(LATENCY) as server, tempfile.TemporaryDirectory(prefix="bench-perf-") as tmp:
        root = make_repo(Path(tmp), server.base_url, cases, repeat=repeat, concurrency=CONCURRENCY)
        check(measure(run_cmd("--fresh", "--no-cache"), root, env), "warm-up run")  # page cache, .pyc
        server_cpu = server.cpu_seconds()
        fresh = check(measure(run_cmd("--fresh", "--no-cache"), root, env), "fresh run")
        server_cpu = server.cpu_seconds() - server_cpu
        assert snapshot_sources(root) == {"call": calls}, snapshot_sources(root)
        print(f"  fresh --no-cache: {describe(fresh)}; fake server CPU {server_cpu:.2f} s")
        row(f"{calls:,} calls: wall / ideal ({ideal:.1f} s)", f"{fresh.wall / ideal:.2f} ({fresh.wall:.2f} s)",
            "<= 1.25", fresh.wall / ideal <= 1.25)  # fmt: skip
        row(
            f"{calls:,} calls: CPU of bench per call",
            f"{fresh.cpu / calls * 1000:.2f} ms ({fresh.cpu:.2f} s)",
        )
        row(
            f"{calls:,} calls: peak RSS", f"{fresh.max_rss_mb:.0f} MiB", "<= 150 MiB", fresh.max_rss_mb <= 150
        )

        phases(root, env, calls, ideal)
        floor = check(
            measure(variant_command(server.base_url, calls, CONCURRENCY, 8), root, env), "httpx floor"
        )
        print(f"  bare httpx (httpx_floor.py, 7 pools of 8): {describe(floor)}")
        row(f"{calls:,} calls, bare httpx client, same server: wall / ideal",
            f"{floor.wall / ideal:.2f} ({floor.wall:.2f} s)")  # fmt: skip
        row("bench / bare httpx: wall; CPU", f"{fresh.wall / floor.wall:.2f}; {fresh.cpu / floor.cpu:.2f}")

        filled = check(measure(run_cmd("--fresh"), root, env), "fresh run with cache")
        print(f"  fresh, cache on:  {describe(filled)}")
        row(
            f"{calls:,} calls, cache writes on: wall / ideal",
            f"{filled.wall / ideal:.2f} ({filled.wall:.2f} s)",
        )

        reuse = check(measure(run_cmd(), root, env), "rerun from the snapshot")
        assert snapshot_sources(root) == {"snapshot": calls}, snapshot_sources(root)
        print(f"  rerun, snapshot:  {describe(reuse)}")
        row(
            f"{calls:,} calls reused from the snapshot: wall",
            f"{reuse.wall:.2f} s",
            "<= 1.5 s",
            reuse.wall <= 1.5,
        )

        shutil.rmtree(root / "results")
        cached = check(measure(run_cmd(), root, env), "rerun from the cache")
        assert snapshot_sources(root) == {"cache": calls}, snapshot_sources(root)
        print(f"  rerun, cache:     {describe(cached)}")
        row(f"{calls:,} calls from the cache (no results/): wall", f"{cached.wall:.2f} s", "<= 1.5 s",
            cached.wall <= 1.5)  # fmt: skip

        if profile:
            profile_run(root, env, calls)


def phases(root: Path, env: dict[str, str], calls: int, ideal: float) -> None:
    """One more fresh run through _phases.py: start-up, calls and snapshot, each as seconds of wall."""
    out = root / ".perf-phases.json"
    env = dict(env, PERF_PHASES=str(out))
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "_phases.py"), "run", SUITE,
           "--concurrency", str(CONCURRENCY), "--quiet", "--fresh", "--no-cache"]  # fmt: skip
    started = time.time()
    m = check(measure(cmd, root, env), "phases run")
    marks = json.loads(out.read_text())
    out.unlink()
    startup = marks["calls_start"] - started
    run = marks["calls_end"] - marks["calls_start"]
    build = marks["build_end"] - marks["build_start"]
    write = marks["write_end"] - marks["write_start"]
    tail = marks["exit"] - marks["calls_end"]
    print(f"  phases: {describe(m)}; start-up to first call {startup:.2f} s (interpreter + imports "
          f"{marks['imported'] - started:.2f} s), calls {run:.2f} s (x{run / ideal:.2f} ideal), "
          f"then scoring {build:.2f} s + snapshot write {write:.2f} s, exit after the calls {tail:.2f} s")  # fmt: skip
    row(f"{calls:,} calls: the calls phase alone, wall / ideal", f"{run / ideal:.2f} ({run:.2f} s)")
    row(f"{calls:,} calls: start-up + after the calls", f"{startup:.2f} s + {tail:.2f} s")


def profile_run(root: Path, env: dict[str, str], calls: int) -> None:
    """cProfile of one fresh run (in process, under the console script's own Python) and, when py-spy is
    installed, a sampled profile of the whole process (native idle time excluded)."""
    out = Path(__file__).resolve().parent
    prof = out / f"run-{calls}.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "bench", "run", SUITE,
           "--concurrency", str(CONCURRENCY), "--quiet", "--fresh", "--no-cache"]  # fmt: skip
    m = check(measure(cmd, root, env), "cProfile run")
    print(f"\n  cProfile run: {describe(m)}; profile in {prof}")
    import pstats

    stats = pstats.Stats(str(prof))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    if shutil.which("py-spy"):
        flame = out / f"run-{calls}.speedscope.json"
        cmd = ["py-spy", "record", "--format", "speedscope", "-o", str(flame), "--rate", "250", "--",
               *run_cmd("--fresh", "--no-cache")]  # fmt: skip
        m = measure(cmd, root, env)
        print(f"  py-spy run: {describe(m)} (exit {m.returncode}); profile in {flame}")


def env_with(package_parent: Path | None) -> tuple[dict[str, str], str]:
    """bench's environment with ``package_parent`` first on PYTHONPATH; where bench then imports from."""
    env = bench_env()
    if package_parent is not None:
        env["PYTHONPATH"] = str(package_parent) + os.pathsep + env.get("PYTHONPATH", "")
    where = subprocess.run(
        [sys.executable, "-c", "import bench; print(bench.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    ).stdout.strip()
    if package_parent is not None and not where.startswith(str(package_parent)):
        raise SystemExit(f"{package_parent} does not hold a bench package (bench imports from {where})")
    return env, where


def ab_test(calls: int, other: Path, rounds: int, base: Path | None = None) -> None:
    """Fresh runs of bench A (installed, or the copy under ``base``) and of the package copy under
    ``other`` (B), alternated against the same server, so that both see the same machine noise."""
    ideal = calls * LATENCY / CONCURRENCY
    env_a, where_a = env_with(base)
    env_b, where_b = env_with(other)
    print(f"\n== A/B, {calls:,} calls, ideal {ideal:.2f} s: A = {where_a}, B = {where_b}")
    with FakeServer(LATENCY) as server, tempfile.TemporaryDirectory(prefix="bench-perf-") as tmp:
        root = make_repo(Path(tmp), server.base_url, calls, concurrency=CONCURRENCY)
        check(measure(run_cmd("--fresh", "--no-cache"), root, env_b), "warm-up run")
        results: dict[str, list[Measured]] = {"A": [], "B": []}
        for _ in range(rounds):
            for name, env in (("A", env_a), ("B", env_b)):
                m = check(measure(run_cmd("--fresh", "--no-cache"), root, env), f"run {name}")
                assert snapshot_sources(root) == {"call": calls}, snapshot_sources(root)
                results[name].append(m)
                print(f"  {name}: {describe(m)}, wall / ideal {m.wall / ideal:.2f}")
        for name, runs in results.items():
            wall = statistics.median(m.wall for m in runs)
            cpu = statistics.median(m.cpu for m in runs)
            row(f"{name}: {calls:,} calls: wall / ideal (median of {rounds})",
                f"{wall / ideal:.2f} ({wall:.2f} s)", "<= 1.25", wall / ideal <= 1.25)  # fmt: skip
            row(
                f"{name}: {calls:,} calls: CPU of bench per call",
                f"{cpu / calls * 1000:.2f} ms ({cpu:.2f} s)",
            )


def memory_10k(calls: int) -> None:
    latency = 0.01
    print(f"\n== {calls:,} calls, {latency * 1000:.0f} ms latency, concurrency {CONCURRENCY}")
    env = bench_env()
    with FakeServer(latency) as server, tempfile.TemporaryDirectory(prefix="bench-perf-") as tmp:
        root = make_repo(Path(tmp), server.base_url, calls, concurrency=CONCURRENCY)
        m = check(measure(run_cmd("--fresh", "--no-cache"), root, env), "10k run")
        assert snapshot_sources(root) == {"call": calls}, snapshot_sources(root)
        print(f"  fresh --no-cache: {describe(m)}")
        row(f"{calls:,} calls: peak RSS", f"{m.max_rss_mb:.0f} MiB", "<= 300 MiB", m.max_rss_mb <= 300)
        row(f"{calls:,} calls at 10 ms: wall, CPU per call",
            f"{m.wall:.2f} s, {m.cpu / calls * 1000:.2f} ms")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1, help="cases = calls / repeat")
    parser.add_argument("--big", type=int, default=10_000, help="calls of the memory run")
    parser.add_argument("--skip-10k", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also profile one fresh run")
    parser.add_argument("--ab", type=Path, metavar="DIR", help="only an A/B test against DIR/bench")
    parser.add_argument(
        "--base", type=Path, metavar="DIR", help="side A of --ab: DIR/bench (default: installed)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side in --ab")
    args = parser.parse_args()
    print_machine()
    version = subprocess.run([*bench_command(), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"bench: {' '.join(bench_command())} ({version})")
    if args.ab:
        ab_test(args.calls, args.ab.resolve(), args.rounds, args.base.resolve() if args.base else None)
    else:
        throughput(args.calls, args.repeat, args.profile)
        if not args.skip_10k:
            memory_10k(args.big)
    print(f"\n{load()} at the end")
    print("\n| what | figure | target | verdict |\n| --- | --- | --- | --- |")
    for what, figure, target, mark in ROWS:
        print(f"| {what} | {figure} | {target} | {mark} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

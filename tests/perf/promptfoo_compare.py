"""bench against promptfoo 0.121.20: the same 2,000 calls, the same server, the same concurrency, one run.

    python tests/perf/promptfoo_compare.py            # installs promptfoo into tests/perf/.promptfoo once
    python tests/perf/promptfoo_compare.py --rounds 3 --calls 2000

promptfoo 0.121.20 is the last release that runs on Node 20 (later ones need Node 22). It is installed
with ``npm install --save-exact promptfoo@0.121.20`` into ``tests/perf/.promptfoo`` (git-ignored) the first
time. Both tools are started as processes from scratch (start-up counts for both) against one fake API
process (``--latency 0.1``), with 50 calls in flight and every cache off:

- bench: ``bench run perf --concurrency 50 --quiet --fresh --no-cache`` (catalog ``limits.concurrency: 50``)
  on a suite of N cases, one candidate, one check (``max-chars``); it writes its snapshot.
- promptfoo: ``promptfoo eval -c promptfooconfig.yaml -j 50 --no-cache --no-table --no-progress-bar``
  with an ``openai:chat:perf-model`` provider whose ``apiBaseUrl`` is the fake server, N tests from a
  CSV, one assertion (``javascript: output.length <= 2000``), ``OPENAI_API_KEY`` a dummy,
  ``PROMPTFOO_CACHE_ENABLED=false``, telemetry and update checks off, its database in a temp dir (it
  writes its results there, as bench writes its snapshot).

The two alternate, ``--rounds`` times each (plus promptfoo ``--no-write``, its results database off, for
information); medians are compared. Target: bench / promptfoo <= 0.5.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MODEL_ID,
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

VERSION = "0.121.20"
HERE = Path(__file__).resolve().parent
PROMPTFOO_DIR = HERE / ".promptfoo"
LATENCY = 0.1
CONCURRENCY = 50


def install_promptfoo() -> Path:
    """``node_modules/.bin/promptfoo`` of the pinned version; npm install the first time."""
    binary = PROMPTFOO_DIR / "node_modules" / ".bin" / "promptfoo"
    package = PROMPTFOO_DIR / "node_modules" / "promptfoo" / "package.json"
    if package.is_file() and json.loads(package.read_text()).get("version") == VERSION:
        return binary
    if not shutil.which("node") or not shutil.which("npm"):
        raise SystemExit("promptfoo needs Node 20 and npm on PATH: neither found")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"installing promptfoo@{VERSION} into {PROMPTFOO_DIR} (node {node}; takes ~2 minutes)...")
    PROMPTFOO_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--save-exact", "--no-audit", "--no-fund", "--loglevel=error", f"promptfoo@{VERSION}"],
        cwd=PROMPTFOO_DIR,
    )  # fmt: skip
    if done.returncode != 0 or not binary.exists():
        raise SystemExit(f"npm install promptfoo@{VERSION} failed (exit {done.returncode})")
    return binary


def promptfoo_project(folder: Path, base_url: str, calls: int) -> None:
    """promptfooconfig.yaml + tests.csv: the same prompt text bench sends, one check per output."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tests.csv").write_text("name\n" + "".join(f"user {i}\n" for i in range(calls)))
    config = {
        "description": "bench perf comparison",
        "prompts": ["Say hello to {{name}}."],
        "providers": [
            {
                "id": f"openai:chat:{MODEL_ID}",
                "config": {"apiBaseUrl": base_url, "temperature": 0, "max_tokens": 20},
            }
        ],
        "defaultTest": {"assert": [{"type": "javascript", "value": "output.length <= 2000"}]},
        "tests": "file://tests.csv",
    }
    (folder / "promptfooconfig.yaml").write_text(json.dumps(config, indent=1))  # JSON is YAML


def promptfoo_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OPENAI_API_KEY="dummy-key-for-the-fake-server",
        PROMPTFOO_CACHE_ENABLED="false",
        PROMPTFOO_DISABLE_TELEMETRY="1",
        PROMPTFOO_DISABLE_UPDATE="1",
        PROMPTFOO_DISABLE_SHARING="1",
        PROMPTFOO_CONFIG_DIR=str(home),
        NO_COLOR="1",
    )
    return env


def promptfoo_cmd(binary: Path, calls: int) -> list[str]:
    return [str(binary), "eval", "-c", "promptfooconfig.yaml", "-j", str(CONCURRENCY), "--no-cache",
            "--no-table", "--no-progress-bar", "--no-share"]  # fmt: skip


def check_promptfoo(m: Measured, calls: int) -> Measured:
    """Exit 0 means every test passed (100: some failed); the summary must count ``calls`` successes."""
    text = m.stdout + m.stderr
    if m.returncode != 0:
        raise SystemExit(f"promptfoo exit {m.returncode}:\n{text[-3000:]}")
    if (
        f"{calls:,} passed" not in text
        and f"{calls} passed" not in text
        and f"Successes: {calls}" not in text
    ):
        print(f"  (could not find '{calls} passed' in promptfoo's summary; its tail:\n{text[-800:]})")
    return m


def describe(m: Measured) -> str:
    return f"wall {m.wall:.2f} s, CPU {m.cpu:.2f} s, RSS {m.max_rss_mb:.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--skip-no-write", action="store_true", help="skip promptfoo --no-write (no database)"
    )
    args = parser.parse_args()
    print_machine()
    binary = install_promptfoo()
    calls = args.calls
    ideal = calls * LATENCY / CONCURRENCY
    print(f"promptfoo {VERSION} at {binary}; node "
          f"{subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")  # fmt: skip
    print(f"{calls:,} calls, {LATENCY * 1000:.0f} ms latency, {CONCURRENCY} in flight: ideal {ideal:.2f} s")
    results: dict[str, list[Measured]] = {"bench": [], "promptfoo": [], "promptfoo --no-write": []}
    with FakeServer(LATENCY) as server, tempfile.TemporaryDirectory(prefix="bench-vs-promptfoo-") as tmp:
        repo = make_repo(Path(tmp) / "bench", server.base_url, calls, concurrency=CONCURRENCY)
        pf = Path(tmp) / "promptfoo"
        promptfoo_project(pf, server.base_url, calls)
        pf_env = promptfoo_env(Path(tmp) / "promptfoo-home")
        bench_run = [*bench_command(), "run", SUITE, "--concurrency", str(CONCURRENCY), "--quiet", "--fresh",
                     "--no-cache"]  # fmt: skip
        # warm-ups: page cache, .pyc files, promptfoo's database migrations
        check(measure(bench_run, repo, bench_env()), "bench warm-up")
        warm = measure([*promptfoo_cmd(binary, calls), "--filter-first-n", "50"], pf, pf_env)
        check_promptfoo(warm, 50)
        for round_ in range(args.rounds):
            m = check(measure(bench_run, repo, bench_env()), "bench")
            assert snapshot_sources(repo) == {"call": calls}, snapshot_sources(repo)
            results["bench"].append(m)
            print(f"  round {round_ + 1} bench:     {describe(m)} (x{m.wall / ideal:.2f} ideal)")
            m = check_promptfoo(measure(promptfoo_cmd(binary, calls), pf, pf_env), calls)
            results["promptfoo"].append(m)
            print(f"  round {round_ + 1} promptfoo: {describe(m)} (x{m.wall / ideal:.2f} ideal)")
            if not args.skip_no_write:
                m = check_promptfoo(measure([*promptfoo_cmd(binary, calls), "--no-write"], pf, pf_env), calls)
                results["promptfoo --no-write"].append(m)
                print(
                    f"  round {round_ + 1} promptfoo --no-write: {describe(m)} (x{m.wall / ideal:.2f} ideal)"
                )
        tail = (m.stdout + m.stderr).strip().splitlines()[-8:]
        print("  promptfoo's last summary:\n    " + "\n    ".join(tail))
    bench_wall = statistics.median(m.wall for m in results["bench"])
    pf_wall = statistics.median(m.wall for m in results["promptfoo"])
    bench_cpu = statistics.median(m.cpu for m in results["bench"])
    pf_cpu = statistics.median(m.cpu for m in results["promptfoo"])
    ratio = bench_wall / pf_wall
    print(f"\nmedians of {args.rounds}: bench {bench_wall:.2f} s (CPU {bench_cpu:.2f} s), "
          f"promptfoo {pf_wall:.2f} s (CPU {pf_cpu:.2f} s); {load()}")  # fmt: skip
    print("| what | figure | target | verdict |\n| --- | --- | --- | --- |")
    print(f"| {calls:,} calls, bench wall | {bench_wall:.2f} s | | |")
    print(f"| {calls:,} calls, promptfoo {VERSION} wall | {pf_wall:.2f} s | | |")
    print(f"| bench / promptfoo, wall | {ratio:.2f} | <= 0.5 | {'meets' if ratio <= 0.5 else 'MISSES'} |")
    print(f"| bench / promptfoo, CPU | {bench_cpu / pf_cpu:.2f} | | |")
    if results["promptfoo --no-write"]:
        nw_wall = statistics.median(m.wall for m in results["promptfoo --no-write"])
        print(f"| {calls:,} calls, promptfoo --no-write (no results database) wall | {nw_wall:.2f} s | | |")
        print(f"| bench / promptfoo --no-write, wall | {bench_wall / nw_wall:.2f} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

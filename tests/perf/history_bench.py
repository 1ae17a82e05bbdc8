"""Timings of `bench history` and `bench compare` on large repositories (not collected by pytest).

    python -m tests.perf.history_bench [--commits 200] [--cases 1000]

Builds, in a temp dir, a git repository with ``--commits`` commits of a 5-candidate x 25-case snapshot
(synthesized by editing a base one: verdicts flip, costs and latencies drift, the prompt fingerprint
changes every 20th commit), times ``bench history`` over all of them, then times ``bench compare`` of two
5 x ``--cases`` snapshots (10% of the cases flipped, and a worst case where every case flipped).
Targets: history over 200 commits <= 5 s, compare of 5 x 1,000 <= 2 s. Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bench import history as hist
from bench import snapshot as snap
from bench.cli import cli
from tests.test_compare import synthetic_snapshot

CANDIDATES = [f"acme/model-{i}" for i in range(5)]
HISTORY_TARGET_S = 5.0
COMPARE_TARGET_S = 2.0


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def init_repo(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "perf@example.com")
    git(root, "config", "user.name", "Perf")
    git(root, "config", "commit.gpgsign", "false")
    (root / "README.md").write_text("perf\n")
    git(root, "add", "README.md")
    git(root, "commit", "-qm", "start")


def timed(label: str, action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    print(f"  {label:<58} {seconds:7.3f} s")
    return seconds


def build_history(root: Path, commits: int, cases: int) -> None:
    rng = random.Random(7)
    case_ids = [f"case-{i:04d}" for i in range(cases)]
    path = snap.snapshot_path(root, "synthetic")
    for i in range(commits):
        failing = {k: set(rng.sample(case_ids, rng.randint(0, cases // 3))) for k in CANDIDATES}
        document = synthetic_snapshot(
            CANDIDATES,
            cases,
            failing=failing,
            cost={k: 0.001 * (1 + rng.random()) for k in CANDIDATES},
            p95={k: 800 + 400 * rng.random() for k in CANDIDATES},
        )
        document["fingerprints"]["prompts"]["user"] = f"{i // 20:064x}"
        snap.write(path, document)
        hist.commit_snapshot(root, path, hist.commit_message(document))


def cli_run(root: Path, args: list[str], ok: tuple[int, ...] = (0,)) -> Callable[[], None]:
    def run() -> None:
        result = CliRunner().invoke(cli, ["--root", str(root), *args])
        if result.exit_code not in ok:
            raise SystemExit(f"bench {' '.join(args)} exited {result.exit_code}: {result.output[-2000:]}")

    return run


def process_run(root: Path, args: list[str], ok: tuple[int, ...] = (0,)) -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "bench", "--root", str(root), *args], capture_output=True
        )
        if done.returncode not in ok:
            raise SystemExit(f"bench {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]!r}")

    return run


def history_figures(base: Path, commits: int) -> float:
    root = base / "history"
    root.mkdir()
    init_repo(root)
    start = time.perf_counter()
    build_history(root, commits, 25)
    print(f"history: {commits} commits of a 5 x 25 snapshot (built in {time.perf_counter() - start:.1f} s)")
    repo = hist.find_repo(root)
    timed("history() library", lambda: hist.history(repo, "synthetic", None, root))
    timed(
        "bench history --format json (in process)",
        cli_run(root, ["history", "synthetic", "--format", "json"]),
    )
    timed("bench history (in process, rich table)", cli_run(root, ["history", "synthetic"]))
    return timed("bench history (new python process)", process_run(root, ["history", "synthetic"]))


def compare_figures(base: Path, cases: int) -> float:
    root = base / "compare"
    root.mkdir()
    init_repo(root)
    case_ids = [f"case-{i:04d}" for i in range(cases)]
    path = snap.snapshot_path(root, "synthetic")
    before = synthetic_snapshot(CANDIDATES, cases, cost={k: 0.001 for k in CANDIDATES})
    snap.write(path, before)
    hist.commit_snapshot(root, path, hist.commit_message(before))
    rng = random.Random(11)
    some = {k: set(rng.sample(case_ids, cases // 10)) for k in CANDIDATES}
    after = synthetic_snapshot(CANDIDATES, cases, failing=some, cost={k: 0.0012 for k in CANDIDATES})
    snap.write(path, after)
    size = path.stat().st_size / 1e6
    print(f"compare: 5 x {cases} snapshots ({size:.1f} MB each), HEAD vs the working tree")
    from bench.compare import compare

    timed("compare() library, 10% of cases flipped", lambda: compare(before, after))
    worst = synthetic_snapshot(CANDIDATES, cases, failing={k: set(case_ids) for k in CANDIDATES})
    timed("compare() library, every case flipped", lambda: compare(before, worst))
    failing = (0, 1)
    timed("bench compare --format json (in process)", cli_run(root, ["compare", "--format", "json"], failing))
    timed(
        "bench compare --format markdown (in process)",
        cli_run(root, ["compare", "--format", "markdown"], failing),
    )
    return timed(
        "bench compare --format markdown (new python process)",
        process_run(root, ["compare", "--format", "markdown"], failing),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--cases", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as folder:
        base = Path(folder)
        history_s = history_figures(base, options.commits)
        compare_s = compare_figures(base, options.cases)
    verdict = []
    verdict.append(f"history {history_s:.2f} s (target <= {HISTORY_TARGET_S:g} s)")
    verdict.append(f"compare {compare_s:.2f} s (target <= {COMPARE_TARGET_S:g} s)")
    missed = history_s > HISTORY_TARGET_S or compare_s > COMPARE_TARGET_S
    print(("MISSED: " if missed else "ok: ") + "; ".join(verdict))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

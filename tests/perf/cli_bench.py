"""Start-up of the `bench` command: `bench --help` and `bench validate` of a 1,000-case suite.

    python tests/perf/cli_bench.py
    python tests/perf/cli_bench.py --runs 11 --cases 1000

Every figure is the median wall of ``--runs`` new processes (after one warm-up run that fills the page
cache and the .pyc files), started through the console script next to this interpreter:

- ``bench --help`` (target <= 0.3 s) with .pyc files kept (``PYTHONPYCACHEPREFIX``, outside the tree), as on
  a user's machine; then the same through the pyenv shim that PATH has here, with this environment's own
  settings (``PYTHONDONTWRITEBYTECODE=1`` and no ``bench/__pycache__``: bench compiled at every start), and
  with no .pyc at all (a first start ever);
- ``bench validate`` of a generated suite of ``--cases`` cases (target <= 1 s): a YAML case list with two
  variables and an ``expect`` check per case, system and user templates, three criteria; every prompt is
  rendered for every case;
- the ten slowest imports of ``bench --help`` (``python -X importtime``), to say where start-up goes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    KEY_ENV,
    MODEL_KEY,
    Measured,
    bench_command,
    bench_env,
    check,
    load,
    measure,
    print_machine,
    write,
)

ROWS: list[tuple[str, str, str, str]] = []


def timed(cmd: list[str], cwd: Path, env: dict[str, str], runs: int, what: str) -> list[Measured]:
    check(measure(cmd, cwd, env), f"{what} (warm-up)")
    return [check(measure(cmd, cwd, env), what) for _ in range(runs)]


def report(what: str, runs: list[Measured], target: float | None = None) -> float:
    wall = statistics.median(m.wall for m in runs)
    cpu = statistics.median(m.cpu for m in runs)
    rss = statistics.median(m.max_rss_mb for m in runs)
    ok = None if target is None else wall <= target
    mark = "" if ok is None else ("meets" if ok else "MISSES")
    spread = f"{min(m.wall for m in runs):.3f}-{max(m.wall for m in runs):.3f}"
    print(f"  {what:<62} median {wall:.3f} s (range {spread}; CPU {cpu:.3f} s, RSS {rss:.0f} MiB)"
          f"{'   target <= ' + format(target, 'g') + ' s ' + mark if target is not None else ''}")  # fmt: skip
    ROWS.append((what, f"{wall:.2f} s", f"<= {target:g} s" if target is not None else "", mark))
    return wall


def validate_repo(root: Path, cases: int) -> None:
    catalog = {"version": "perf", "models": {MODEL_KEY: {
        "provider": "openai", "model": "perf-model", "base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY_ENV,
        "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}, "limits": {"concurrency": 50}}}}  # fmt: skip
    write(root / "suites" / "models.yaml", json.dumps(catalog, indent=1))
    suite = root / "suites" / "perf"
    write(
        suite / "prompts" / "system.md", "You write CRM notes as one JSON object. Channel: {{ channel }}.\n"
    )
    write(suite / "prompts" / "user.md", "Conversation:\n{{ conversation }}\n\nWrite the CRM note.\n")
    write(suite / "schemas" / "note.json", json.dumps({"type": "object", "required": ["summary"]}))
    categories = ["normal", "difficult", "edge", "reject", "messy"]
    lines = []
    for i in range(cases):
        lines += [
            f"- id: case-{i:05d}",
            f"  category: {categories[i % 5]}",
            "  tags: [perf]",
            "  vars:",
            "    channel: chat",
            f'    conversation: "Customer: my blender jug is cracked (ORD-{10000 + i}), ticket #{i}"',
            "  expect:",
            f"    - {{criterion: grounding, type: contains, value: ORD-{10000 + i}}}",
        ]
    write(suite / "cases.yaml", "\n".join(lines) + "\n")
    write(
        suite / "suite.yaml",
        f"""name: perf
workflow: Summarize a support chat into a CRM note.
prompt:
  system: prompts/system.md
  user: prompts/user.md
cases: cases.yaml
candidates:
  - model: {MODEL_KEY}
    role: frontier
    params: {{temperature: 0, max_tokens: 300, seed: 1}}
rubric:
  - id: format
    kind: format
    pass: One JSON object following the schema.
    checks:
      - {{type: is-json}}
      - {{type: json-schema, schema: schemas/note.json}}
  - id: grounding
    pass: Order numbers come from the conversation.
  - id: safety
    kind: safety
    pass: Injection attempts are declined.
""",
    )


def slowest_imports(env: dict[str, str], cwd: Path, top: int = 10) -> None:
    cmd = [sys.executable, "-X", "importtime", "-c", "import sys; sys.argv=['bench','--help']; "
           "from bench.cli import main; main()"]  # fmt: skip
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), len(match.group(3)), match.group(4)))
    total = sum(cumulative for cumulative, depth, _ in rows if depth == 1)
    print(f"  imports of `bench --help`: {total / 1e6:.3f} s in all; the largest top-level ones:")
    for cumulative, _, name in sorted((r for r in rows if r[1] == 1), reverse=True)[:top]:
        print(f"    {cumulative / 1e6:.3f} s  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    print_machine()
    env = bench_env()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        validate_repo(root, args.cases)
        print(f"\n== start-up, median of {args.runs} new processes")
        report("bench --help", timed([*bench_command(), "--help"], root, env, args.runs, "help"), 0.3)
        shim = next(
            (Path(d) / "bench" for d in os.environ.get("PATH", "").split(os.pathsep)
             if "shims" in d and (Path(d) / "bench").is_file()), None,
        )  # fmt: skip
        if shim is not None:
            report(
                f"bench --help through the {shim} shim",
                timed([str(shim), "--help"], root, env, args.runs, "shim"),
            )
        here = dict(os.environ, **{KEY_ENV: "x"})
        report("bench --help, this environment as is (PYTHONDONTWRITEBYTECODE=1: bench/ compiled at every start)",
               timed([*bench_command(), "--help"], root, here, args.runs, "help as is"))  # fmt: skip
        cold = dict(env, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(root / "no-pyc"))
        report("bench --help, no .pyc for anything (first start ever)",
               timed([*bench_command(), "--help"], root, cold, args.runs, "help without pyc"))  # fmt: skip
        report("bench --version", timed([*bench_command(), "--version"], root, env, args.runs, "version"))
        report(f"bench validate, {args.cases:,} cases (YAML)",
               timed([*bench_command(), "validate"], root, env, args.runs, "validate"), 1.0)  # fmt: skip
        slowest_imports(env, root)
    print(f"\n{load()} at the end")
    print("\n| what | figure | target | verdict |\n| --- | --- | --- | --- |")
    for what, figure, target, mark in ROWS:
        print(f"| {what} | {figure} | {target} | {mark} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    sys.exit(main())
